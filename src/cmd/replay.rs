//! `ladderfeed replay`: the main job.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Result};

/// `ladderfeed replay` options.
#[derive(Debug, Default, clap::Args)]
pub struct Args {
    /// Capture files; without any, the bundled Binance capture.
    pub files: Vec<PathBuf>,
}

/// Runs the replay.
pub fn run(args: Args) -> Result<ExitCode> {
    bail!("replay is not built yet ({} files)", args.files.len())
}
