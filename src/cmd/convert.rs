//! `ladderfeed convert IN… OUT`: any supported capture into ours (`.lfc`), or ours (or any
//! other) into tardis raw.
//!
//! The conversion reads the input twice: a first pass learns what the `.lfc` header says (the
//! venue, the symbols the venue adapter finds, the endpoints the records name); the second
//! streams the records byte for byte into the output. A damaged input is converted up to the
//! damage, the output is finished properly, and the command fails naming the file and the
//! position.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use ladderfeed::book::{InstrumentRegistry, Venue};
use ladderfeed::capture::convert::{self, Converted, Target};
use ladderfeed::capture::{self, lfc, Record, RecordKind};
use ladderfeed::event::Event;
use ladderfeed::session::recorded::{Recorded, RecordedOptions};

use super::config::{self, InstrumentArgs};

/// `ladderfeed convert` options.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The capture files to read (any supported format, merged by receive time; a cryptofeed
    /// `NAME.ws.N.0` brings its `NAME.http.*` REST snapshots along), then the file to write.
    /// An output ending in `.lfc` is ours; anything else is tardis raw, gzip-compressed when
    /// it ends in `.gz`.
    #[arg(required = true, num_args = 2.., value_name = "IN… OUT")]
    pub files: Vec<PathBuf>,
    /// The output format, overriding the output's extension.
    #[arg(long, value_enum)]
    pub to: Option<To>,
    /// The venue written in the `.lfc` header (guessed from the input when omitted).
    #[arg(long)]
    pub venue: Option<String>,
    /// Settings from a TOML file (the `live` one): its `[[instrument]]` tables are used.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Instruments' ticks and lots (the header's symbols are learned with them).
    #[command(flatten)]
    pub instruments: InstrumentArgs,
}

/// An output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum To {
    /// ladderfeed capture (`.lfc`).
    Lfc,
    /// tardis.dev raw (`<timestamp> <message>` lines).
    Tardis,
}

/// Most endpoints kept in a header (a capture that names more is unusual).
const MAX_ENDPOINTS: usize = 64;

/// Runs the conversion.
pub fn run(args: Args) -> Result<ExitCode> {
    let Some((output, inputs)) = args.files.split_last() else {
        bail!("convert needs an input and an output");
    };
    let mut paths: Vec<PathBuf> = Vec::new();
    for input in inputs {
        if same_file(input, output) {
            bail!("{}: the output would overwrite the input", output.display());
        }
        paths.extend(capture::companions(input));
        paths.push(input.clone());
    }
    paths.sort();
    paths.dedup();
    let target = match args.to {
        Some(To::Lfc) => Target::Lfc,
        Some(To::Tardis) => Target::TardisRaw,
        None => Target::from_path(output),
    };
    let done = match target {
        Target::Lfc => {
            let venue = match &args.venue {
                Some(name) => Some(
                    Venue::from_name(name).with_context(|| format!("unknown venue {name:?}"))?,
                ),
                None => capture::guess_venue(&inputs[0])?,
            };
            let file_config = config::load_optional(args.config.as_deref())?;
            let registry = args.instruments.registry(file_config.as_ref())?;
            let header = learn_header(&paths, venue, registry)?;
            let mut reader = capture::open_merged(&paths)?;
            convert::to_lfc(&mut reader, output, &header)?
        }
        Target::TardisRaw => {
            let mut reader = capture::open_merged(&paths)?;
            convert::to_tardis(&mut reader, output)?
        }
    };
    report(&done, output, target);
    match done.error {
        Some(e) => {
            eprintln!(
                "error: {e}\n{}: holds the {} records before the damage",
                output.display(),
                done.written
            );
            Ok(ExitCode::FAILURE)
        }
        None => Ok(ExitCode::SUCCESS),
    }
}

fn same_file(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}

fn report(done: &Converted, output: &Path, target: Target) {
    let what = match target {
        Target::Lfc => "lfc",
        Target::TardisRaw => "tardis raw",
    };
    eprint!("{}: {} of {} records written as {what}", output.display(), done.written, done.read);
    if done.skipped_total() > 0 {
        eprint!(" (the format cannot hold {})", done.skipped_text());
    }
    eprintln!();
}

/// The `.lfc` header for `paths`: a first pass collects the endpoints the records name and
/// runs the venue adapter to learn the symbols.
fn learn_header(
    paths: &[PathBuf],
    venue: Option<Venue>,
    registry: InstrumentRegistry,
) -> Result<lfc::Header> {
    let mut header = lfc::Header::new(venue.map_or("", Venue::name));
    header.clock = format!(
        "converted from {}: receive times as recorded there",
        capture::detect(&paths[paths.len() - 1]).map_or("an unknown format", |f| f.name())
    );
    let mut endpoints = BTreeSet::new();
    let mut symbols = BTreeSet::new();
    // The sessions a replay would make (Binance: one for all connections, its REST
    // snapshots live apart); Gemini v1 names its symbol only in the URL: no symbols for it.
    let opts = RecordedOptions { registry, clock: Some(|| 0), ..RecordedOptions::default() };
    let mut sessions = venue.map(|v| Recorded::new(vec![v], opts));
    let mut events: Vec<Event> = Vec::new();
    let mut reader = capture::open_merged(paths)?;
    let mut rec = Record::default();
    // A damaged input is reported by the conversion pass; the header holds what came before.
    while let Ok(true) = reader.next_into(&mut rec) {
        if !rec.url.is_empty() && endpoints.len() < MAX_ENDPOINTS {
            endpoints.insert(rec.url.clone());
        }
        let Some(s) = sessions.as_mut() else { continue };
        if !matches!(rec.kind, RecordKind::Recv | RecordKind::Http) {
            continue;
        }
        events.clear();
        // Rejected frames (and a venue that cannot be replayed without its connection's
        // symbol) are the check command's business; here only symbols are learned.
        let _ = s.handle(0, rec.conn, rec.kind, &rec.url, &rec.payload, rec.local_ts, &mut events);
    }
    for s in sessions.iter().flat_map(Recorded::sessions) {
        for info in s.session.engine().symbols().list() {
            symbols.insert(info.key.clone());
        }
    }
    header.endpoints = endpoints.into_iter().collect();
    header.symbols = symbols.into_iter().collect();
    Ok(header)
}
