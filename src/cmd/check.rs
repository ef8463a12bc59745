//! `ladderfeed check`: a data-quality report on captures.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Result};

/// `ladderfeed check` options.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Capture files.
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
}

/// Runs the check.
pub fn run(args: Args) -> Result<ExitCode> {
    bail!("check is not built yet ({} files given)", args.files.len())
}
