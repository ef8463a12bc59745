//! The output options `replay` and `live` share; the sinks themselves are the library's
//! ([`ladderfeed::consumer::sinks`]).

use std::path::PathBuf;

use anyhow::Result;
pub use ladderfeed::consumer::sinks::{
    state_name, Seen, SinkOptions, SinkWriter, Sinks, SpreadFilter, MAX_DEPTH,
};

/// The output options `replay` and `live` share.
#[derive(Debug, Clone, clap::Args)]
pub struct OutputArgs {
    /// Write the summary as JSON to this file.
    #[arg(long, value_name = "FILE")]
    pub summary_json: Option<PathBuf>,
    /// Write a row per BBO change (`.csv` or `.jsonl`).
    #[arg(long, value_name = "FILE")]
    pub bbo_out: Option<PathBuf>,
    /// BBO file: keep rows whose spread is at least this price (e.g. 5 for 5 USD).
    #[arg(long, value_name = "PRICE")]
    pub min_spread: Option<String>,
    /// BBO file: keep rows whose spread is at least this many basis points of the ask
    /// (10 = 0.1%).
    #[arg(long, value_name = "BPS")]
    pub min_spread_bps: Option<f64>,
    /// Write the top `--depth` levels per side each time they change (`.csv` or `.jsonl`).
    #[arg(long, value_name = "FILE")]
    pub depth_out: Option<PathBuf>,
    /// Levels per side for `--depth-out` (1 to 50).
    #[arg(long, default_value_t = 10)]
    pub depth: usize,
    /// Write every trade (`.csv` or `.jsonl`).
    #[arg(long, value_name = "FILE")]
    pub trades_out: Option<PathBuf>,
    /// Write a derivatives ticker row (mark, index, funding rate, next funding time, open
    /// interest: the latest of each) whenever one of them arrives (`.csv` or `.jsonl`). Live
    /// subscribes the venue's derivatives channels when this or `--liquidations-out` is given.
    #[arg(long, value_name = "FILE")]
    pub funding_out: Option<PathBuf>,
    /// Write every liquidation order the venue publishes (`.csv` or `.jsonl`).
    #[arg(long, value_name = "FILE")]
    pub liquidations_out: Option<PathBuf>,
    /// Write one `.hgrm` file per latency stage and a PNG chart into this directory.
    #[arg(long, value_name = "DIR")]
    pub latency_out: Option<PathBuf>,
}

impl OutputArgs {
    /// Checks the options and opens the sink files.
    pub fn sinks(&self) -> Result<Sinks> {
        if self.depth == 0 || self.depth > MAX_DEPTH {
            anyhow::bail!("--depth must be between 1 and {MAX_DEPTH}");
        }
        Ok(Sinks::create(SinkOptions {
            bbo: self.bbo_out.clone(),
            depth: self.depth_out.clone(),
            depth_levels: self.depth,
            trades: self.trades_out.clone(),
            funding: self.funding_out.clone(),
            liquidations: self.liquidations_out.clone(),
            filter: SpreadFilter {
                min_spread: self.min_spread.clone(),
                min_spread_bps: self.min_spread_bps,
            },
        })?)
    }

    /// A derivatives file was asked for: live subscribes the venues' derivatives channels.
    pub fn wants_derivatives(&self) -> bool {
        self.funding_out.is_some() || self.liquidations_out.is_some()
    }

    /// Writes the latency histograms (`.hgrm`) and chart into `--latency-out`, if given.
    pub fn write_latency(
        &self,
        latency: &ladderfeed::consumer::Latency,
        title: &str,
    ) -> Result<()> {
        use anyhow::Context;
        let Some(dir) = &self.latency_out else { return Ok(()) };
        let files = latency
            .write_hgrm_files(dir)
            .with_context(|| format!("writing latency files into {}", dir.display()))?;
        let png = dir.join("latency.png");
        ladderfeed::consumer::chart::write_png(latency, title, &png, (1200, 700))
            .with_context(|| format!("drawing {}", png.display()))?;
        eprintln!("latency: {} .hgrm files and {} written", files.len(), png.display());
        Ok(())
    }
}
