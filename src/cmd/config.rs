//! Configuration every command shares: the TOML file (`--config`) and the instruments file
//! (`--instruments`), turned into the instrument table every session's engine uses.
//!
//! ```toml
//! window_ticks = 4096          # the largest array window a book grows to (replay and live)
//! parser = "scan"              # or "simd-json": the reference parser (replay and live)
//!
//! [[instrument]]               # tick and lot, over the built-in and learned ones
//! venue = "binance"
//! symbol = "BTCUSDT"
//! tick = "0.01"
//! lot = "0.00001"
//!
//! [[feed]]                     # live and record only
//! venue = "okx"
//! symbols = ["BTC-USDT"]
//! ```
//!
//! The instruments file has one `venue:symbol tick lot` line per instrument (`#` starts a
//! comment). Precedence: these (the file's lines after the TOML tables) > built-ins >
//! learned from the data.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use ladderfeed::book::{InstrumentRegistry, Ladder, Step, Venue};
use ladderfeed::venue::Parser;

/// `--config FILE`: several feeds, instruments and settings.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    /// Extra trust anchors (PEM).
    pub ca_file: Option<PathBuf>,
    /// Seconds of silence before a reconnect.
    pub stale_after: Option<f64>,
    /// The largest array window a book grows to, in ticks per side.
    pub window_ticks: Option<usize>,
    /// Which parser reads the frames (`--parser` wins when given).
    pub parser: Option<Parser>,
    /// The feeds (live and record).
    #[serde(default)]
    pub feed: Vec<FeedConfig>,
    /// Instruments' ticks and lots.
    #[serde(default)]
    pub instrument: Vec<InstrumentConfig>,
}

/// One `[[feed]]` table.
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FeedConfig {
    /// The venue's name.
    pub venue: String,
    /// The symbols, as the venue writes them.
    pub symbols: Vec<String>,
    /// The WebSocket endpoint (default: the venue's).
    pub endpoint: Option<String>,
    /// The REST base for snapshots (default: the venue's).
    pub rest_endpoint: Option<String>,
    /// Redundant connections: more endpoints, each a line of its own carrying the same
    /// subscriptions into the same books (with `endpoint`, or alone).
    #[serde(default)]
    pub endpoints: Vec<String>,
    /// Redundant connections: this many lines in all (default 1, or one per endpoint
    /// given); lines beyond the endpoints given connect to the last one again.
    pub redundancy: Option<usize>,
}

impl FeedConfig {
    /// The WebSocket endpoint of every line: `endpoint`, then `endpoints`, the venue's own
    /// when none is given, repeated up to `redundancy` lines.
    pub fn line_endpoints(&self, default: &str) -> Result<Vec<String>> {
        let mut all: Vec<String> =
            self.endpoint.iter().chain(self.endpoints.iter()).cloned().collect();
        if all.is_empty() {
            all.push(default.to_owned());
        }
        if let Some(n) = self.redundancy {
            if n == 0 || n < all.len() {
                anyhow::bail!(
                    "{}: redundancy = {n} but {} endpoints are given",
                    self.venue,
                    all.len()
                );
            }
            while all.len() < n {
                let last = all[all.len() - 1].clone();
                all.push(last);
            }
        }
        Ok(all)
    }
}

/// One `[[instrument]]` table.
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InstrumentConfig {
    /// The venue's name.
    pub venue: String,
    /// The symbol, as the venue writes it.
    pub symbol: String,
    /// The price step, as decimal text (`"0.01"`).
    pub tick: String,
    /// The size step, as decimal text.
    pub lot: String,
}

impl FileConfig {
    /// Reads and checks a TOML file.
    pub fn load(path: &Path) -> Result<FileConfig> {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        toml::from_str(&text).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))
    }
}

/// The options every command that builds books takes.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct InstrumentArgs {
    /// Ticks and lots, one `venue:symbol tick lot` line per instrument
    /// (`binance:DOGEUSDT 0.00001 1`; `#` starts a comment). They win over the built-in and
    /// learned ones.
    #[arg(long, value_name = "FILE")]
    pub instruments: Option<PathBuf>,
}

impl InstrumentArgs {
    /// The instrument table: built-ins, then `config`'s `[[instrument]]` tables, then the
    /// `--instruments` file.
    pub fn registry(&self, config: Option<&FileConfig>) -> Result<InstrumentRegistry> {
        let mut reg = InstrumentRegistry::with_builtins();
        for (i, ins) in config.map_or(&[][..], |c| &c.instrument[..]).iter().enumerate() {
            let ctx = || format!("[[instrument]] {} ({}:{})", i + 1, ins.venue, ins.symbol);
            let venue = Venue::from_name(&ins.venue)
                .with_context(|| format!("unknown venue {:?}", ins.venue))
                .with_context(ctx)?;
            let tick = Step::parse(&ins.tick).map_err(anyhow::Error::from).with_context(ctx)?;
            let lot = Step::parse(&ins.lot).map_err(anyhow::Error::from).with_context(ctx)?;
            reg.configure(venue, &ins.symbol, tick, lot);
        }
        if let Some(path) = &self.instruments {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading {}", path.display()))?;
            for (n, line) in text.lines().enumerate() {
                let line = line.split('#').next().unwrap_or("").trim();
                if line.is_empty() {
                    continue;
                }
                reg.configure_line(line)
                    .map_err(anyhow::Error::from)
                    .with_context(|| format!("{}:{}", path.display(), n + 1))?;
            }
        }
        Ok(reg)
    }
}

/// `--config FILE` when given.
pub fn load_optional(path: Option<&Path>) -> Result<Option<FileConfig>> {
    path.map(FileConfig::load).transpose()
}

/// The parser: the command line's when given, else the file's, else [`Parser::Scan`].
pub fn parser(arg: Option<Parser>, config: Option<&FileConfig>) -> Parser {
    arg.or_else(|| config.and_then(|c| c.parser)).unwrap_or_default()
}

/// The window: the command line's when it differs from the default, else the file's.
pub fn window_ticks(arg: usize, config: Option<&FileConfig>) -> usize {
    if arg != Ladder::DEFAULT_WINDOW_TICKS {
        return arg;
    }
    config.and_then(|c| c.window_ticks).unwrap_or(arg)
}
