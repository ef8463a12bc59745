//! `ladderfeed convert IN OUT`.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Result};

/// `ladderfeed convert` options.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The capture to read (any supported format).
    pub input: PathBuf,
    /// The file to write.
    pub output: PathBuf,
}

/// Runs the conversion.
pub fn run(args: Args) -> Result<ExitCode> {
    bail!("convert is not built yet: {} → {}", args.input.display(), args.output.display())
}
