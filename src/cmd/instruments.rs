//! `ladderfeed instruments`: a venue's instrument reference data (tick, lot, minimum size,
//! kind, contract value, settlement, expiry, status), fetched from its public REST API and
//! printed or written as CSV or JSON.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use ladderfeed::book::Venue;
use ladderfeed::net::tls;
use ladderfeed::refdata::fetch;

/// `ladderfeed instruments` options.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The venue: coinbase, coinbase-exchange, binance, binance-futures, binance-coinm, bitfinex,
    /// kraken, kraken-v1, kraken-futures, okx, gemini, gemini-v1, bybit, bybit-linear,
    /// bybit-inverse, deribit, hyperliquid, bitmex.
    #[arg(long)]
    pub venue: String,
    /// The REST base to ask (default: the venue's own; a simulator's for tests).
    #[arg(long, value_name = "URL")]
    pub rest_endpoint: Option<String>,
    /// Trust the certificates in this PEM file too (a simulator's CA). Certificates are
    /// always verified.
    #[arg(long, value_name = "PEM")]
    pub ca_file: Option<PathBuf>,
    /// Only these symbols, where the venue answers per symbol (Gemini's details, OKX option
    /// families); the table still lists what the venue's list endpoints return.
    #[arg(long, value_delimiter = ',')]
    pub symbols: Vec<String>,
    /// Write the table here: `.json` for JSON, anything else CSV (default: CSV on stdout).
    #[arg(short = 'o', long, value_name = "FILE")]
    pub output: Option<PathBuf>,
}

/// Runs `ladderfeed instruments`.
pub fn run(args: Args) -> Result<ExitCode> {
    let venue =
        Venue::from_name(&args.venue).with_context(|| format!("unknown venue {:?}", args.venue))?;
    let tls = tls::client_config(args.ca_file.as_deref())?;
    let fetched = fetch::fetch(venue, args.rest_endpoint.as_deref(), &args.symbols, &tls)?;
    for f in &fetched.failures {
        tracing::warn!("{venue}: {f}");
    }
    let t = &fetched.table;
    if t.instruments.is_empty() {
        bail!("{venue}: no instrument");
    }
    let json = args.output.as_ref().is_some_and(|p| p.extension().is_some_and(|e| e == "json"));
    let text = if json { t.to_json() } else { t.to_csv() };
    match &args.output {
        Some(path) => {
            std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))?
        }
        None => print!("{text}"),
    }
    eprintln!(
        "{venue}: {} instruments from {} ({} answers, {} rows skipped, {} requests failed)",
        t.instruments.len(),
        t.source,
        fetched.answers.len(),
        t.skipped,
        fetched.failures.len()
    );
    Ok(if fetched.failures.is_empty() { ExitCode::SUCCESS } else { ExitCode::from(3) })
}
