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
}

fn main() -> ExitCode {
    let cli = Cli::parse();
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
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
