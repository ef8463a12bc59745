//! The `ladderfeed` command line: `replay` (the main job), `convert`, `check`.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod cmd;

/// Low-latency crypto market-data feed handler: exact L2 books, gap detection, checksums.
#[derive(Debug, Parser)]
#[command(name = "ladderfeed", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    /// Logs on stderr as human text (the default) or JSON lines; `RUST_LOG` filters them
    /// (`RUST_LOG=debug`, `RUST_LOG=info,rustls=debug`; default `info,zenoh=error`).
    #[arg(long, global = true, value_enum, default_value = "text")]
    log_format: LogFormat,
}

/// How logs are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum LogFormat {
    /// Human text (colours on a terminal).
    Text,
    /// One JSON object per line.
    Json,
}

/// Sends the library's `tracing` events and rustls' `log` records to stderr.
fn init_logs(format: LogFormat) {
    use std::io::IsTerminal;
    use tracing_subscriber::EnvFilter;
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info,zenoh=error"));
    let logs = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    // With the `tracing-log` feature, `try_init` also routes `log` records (rustls') here.
    let _ = match format {
        LogFormat::Json => logs.json().try_init(),
        LogFormat::Text => logs.with_ansi(std::io::stderr().is_terminal()).try_init(),
    };
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Replay captures through the real engine → ring → consumer pipeline and report.
    Replay(Box<cmd::replay::Args>),
    /// Convert a capture in any supported format to ours (`.lfc`), or ours to tardis raw.
    Convert(cmd::convert::Args),
    /// A data-quality report on captures; exits non-zero when it finds a problem.
    Check(cmd::check::Args),
    /// Live feeds: a pinned busy-poll loop over TLS and WebSocket into the same pipeline.
    Live(Box<cmd::live::Args>),
    /// `live`, recording everything into our capture format (`-o FILE.lfc`) from a writer
    /// thread; `replay` of the file reproduces the run.
    Record(Box<cmd::live::RecordArgs>),
    /// A venue's instruments (tick, lot, minimum size, kind, contract value, expiry, status)
    /// from its public REST API, as CSV or JSON.
    Instruments(cmd::instruments::Args),
    /// Read the event stream another ladderfeed publishes (`--publish`) over iceoryx2 or
    /// Zenoh, into the same output files as `replay`.
    Subscribe(cmd::publish::SubscribeArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logs(cli.log_format);
    let result = match cli.command {
        // No subcommand: replay the bundled capture, as the README's first command does.
        None => match Cli::parse_from(["ladderfeed", "replay"]).command {
            Some(Command::Replay(args)) => cmd::replay::run(*args),
            _ => unreachable!("`replay` parses as the replay command"),
        },
        Some(Command::Replay(args)) => cmd::replay::run(*args),
        Some(Command::Convert(args)) => cmd::convert::run(args),
        Some(Command::Check(args)) => cmd::check::run(args),
        Some(Command::Live(args)) => cmd::live::run(*args),
        Some(Command::Record(args)) => cmd::live::record(*args),
        Some(Command::Instruments(args)) => cmd::instruments::run(args),
        Some(Command::Subscribe(args)) => cmd::publish::run(args),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
