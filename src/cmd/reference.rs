//! The venues' instrument lists for `live` and `record`: fetched before the first connection
//! (else the cached table, else the built-ins, with a warning: never a failed start), put
//! under the user's configuration into the instrument table, written into a recording, and
//! fetched again on a schedule and after reconnects by a side thread.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::{bail, Result};
use crossbeam_channel::{Receiver, Sender};
use ladderfeed::book::{InstrumentRegistry, Venue};
use ladderfeed::capture::{Record, RecordKind};
use ladderfeed::net::live::{Feed, Live};
use ladderfeed::refdata::fetch::{self, Answer, Loaded, Origin};
use ladderfeed::refdata::{self, RefTable};
use rustls::ClientConfig;

use super::live::ReferenceArgs;

/// Reconnects fetch the lists again at most this often (a reconnect storm must not become a
/// REST storm).
const RECONNECT_REFRESH_MIN: Duration = Duration::from_secs(10);

/// One venue and REST base to ask, with the symbols subscribed there.
#[derive(Debug, Clone)]
struct Target {
    venue: Venue,
    rest: Option<String>,
    symbols: Vec<String>,
}

/// The run's reference-data settings.
#[derive(Debug)]
pub struct Reference {
    targets: Vec<Target>,
    tls: Arc<ClientConfig>,
    cache: PathBuf,
    enabled: bool,
    refresh: Option<Duration>,
}

impl Reference {
    /// The settings for `feeds` (one target per venue and REST base).
    pub fn new(args: &ReferenceArgs, feeds: &[Feed], tls: &Arc<ClientConfig>) -> Result<Self> {
        let r = args.instruments_refresh;
        if !(r.is_finite() && r >= 0.0) {
            bail!("--instruments-refresh must be a number of seconds (0: never)");
        }
        let mut targets: Vec<Target> = Vec::new();
        for f in feeds {
            match targets.iter_mut().find(|t| t.venue == f.venue && t.rest == f.rest_base) {
                Some(t) => t.symbols.extend(f.symbols.iter().cloned()),
                None => targets.push(Target {
                    venue: f.venue,
                    rest: f.rest_base.clone(),
                    symbols: f.symbols.clone(),
                }),
            }
        }
        Ok(Reference {
            targets,
            tls: Arc::clone(tls),
            cache: args.instruments_cache.clone().unwrap_or_else(refdata::default_cache_dir),
            enabled: !args.no_venue_instruments,
            refresh: (r > 0.0).then(|| Duration::from_secs_f64(r)),
        })
    }

    /// Loads every venue's table into `registry` (the user's configuration still wins) and
    /// says where each came from.
    pub fn load_all(&self, registry: &mut InstrumentRegistry) -> Vec<Loaded> {
        if !self.enabled {
            return Vec::new();
        }
        let mut all = Vec::new();
        for t in &self.targets {
            let l =
                fetch::load(t.venue, t.rest.as_deref(), &t.symbols, &self.tls, Some(&self.cache));
            for w in &l.warnings {
                tracing::warn!("{w}");
            }
            let taken = l.apply(registry);
            let from = match (&l.origin, &l.table) {
                (Origin::Fetched, Some(table)) => format!("fetched from {}", table.source),
                (Origin::Cache, Some(table)) => {
                    format!(
                        "from the cache (fetched at {})",
                        refdata::iso_utc(table.fetched_unix_ms)
                    )
                }
                _ => "none: built-in and learned ticks only".to_owned(),
            };
            let missing: Vec<&str> = t
                .symbols
                .iter()
                .filter(|s| l.table.as_ref().is_none_or(|tb| tb.get(s).is_none()))
                .map(String::as_str)
                .collect();
            println!(
                "instruments  {}: {taken} from the venue's list, {from}{}",
                t.venue,
                if missing.is_empty() || l.table.is_none() {
                    String::new()
                } else {
                    format!("; not listed: {}", missing.join(", "))
                }
            );
            all.push(l);
        }
        all
    }

    /// Starts the side thread that fetches the lists again every `--instruments-refresh`
    /// seconds and after a reconnect (`connects` grows past one per connection), hands the
    /// tables to the network thread and writes the answers into the recording. `loaded` is
    /// what [`Reference::load_all`] gave: the tables fresh ones are compared with.
    pub fn spawn_refresher(
        &self,
        loaded: &[Loaded],
        run_stop: Arc<AtomicBool>,
        connects: Arc<AtomicU64>,
        recorder: Option<Sender<Record>>,
        live: &Live,
    ) -> Result<Option<Refresher>> {
        let Some(every) = self.refresh.filter(|_| self.enabled) else { return Ok(None) };
        let (tx, rx) = crossbeam_channel::unbounded();
        let stop = Arc::new(AtomicBool::new(false));
        let conn_of: Vec<(Venue, u32)> =
            live.links().iter().map(|l| (l.venue(), l.conn_id())).collect();
        let first_connects = live.links().len() as u64;
        let targets = self.targets.clone();
        let mut previous: Vec<Option<RefTable>> = loaded.iter().map(|l| l.table.clone()).collect();
        let tls = Arc::clone(&self.tls);
        let cache = self.cache.clone();
        let thread_stop = Arc::clone(&stop);
        let handle = std::thread::Builder::new().name("instruments".into()).spawn(move || {
            let mut stats = RefreshStats::default();
            let mut last = Instant::now();
            let mut last_reconnect: Option<Instant> = None;
            let mut seen = first_connects;
            while !thread_stop.load(Ordering::Relaxed) && !run_stop.load(Ordering::Relaxed) {
                std::thread::sleep(Duration::from_millis(50));
                let c = connects.load(Ordering::Relaxed);
                let reconnected = c > seen;
                let scheduled = last.elapsed() >= every;
                let after_reconnect = reconnected
                    && last_reconnect.is_none_or(|t| t.elapsed() >= RECONNECT_REFRESH_MIN);
                if !(scheduled || after_reconnect) {
                    continue;
                }
                seen = c.max(seen);
                last = Instant::now();
                if after_reconnect {
                    last_reconnect = Some(last);
                }
                stats.rounds += 1;
                stats.after_reconnect += u64::from(after_reconnect && !scheduled);
                for (t, prev) in targets.iter().zip(previous.iter_mut()) {
                    match fetch::fetch(t.venue, t.rest.as_deref(), &t.symbols, &tls) {
                        Ok(f) => {
                            stats.failed_requests += f.failures.len() as u64;
                            if let Some(p) = prev.as_ref() {
                                let (changed, added) = f.table.changes_from(p);
                                stats.changed += changed as u64;
                                stats.added += added as u64;
                                if changed > 0 {
                                    tracing::warn!(
                                        "{}: {changed} instruments changed their tick or lot (books already built keep theirs)",
                                        t.venue
                                    );
                                }
                            }
                            if let Err(e) = f.table.save(&refdata::cache_path(&cache, t.venue)) {
                                tracing::warn!("{}: {e}", t.venue);
                            }
                            if let Some(r) = &recorder {
                                let conn = conn_of.iter().find(|(v, _)| *v == t.venue).map_or(0, |c| c.1);
                                for a in &f.answers {
                                    let _ = r.try_send(record(conn, a));
                                }
                            }
                            let _ = tx.send(f.table.clone());
                            *prev = Some(f.table);
                        }
                        Err(e) => {
                            stats.failures += 1;
                            stats.failed_requests += 1;
                            tracing::warn!("{}: refreshing instruments failed: {e}", t.venue);
                        }
                    }
                }
            }
            stats
        })?;
        Ok(Some(Refresher { tables: rx, stop, handle }))
    }
}

/// What the refresher did.
#[derive(Debug, Default, Clone, Copy)]
pub struct RefreshStats {
    /// Rounds of fetching.
    pub rounds: u64,
    /// Of them, started by a reconnect.
    pub after_reconnect: u64,
    /// Fetches that gave no table.
    pub failures: u64,
    /// Requests that failed or whose answer could not be read (a fetch that gave no table
    /// counts its first failure only).
    pub failed_requests: u64,
    /// Instruments whose tick or lot changed.
    pub changed: u64,
    /// Instruments new to the list.
    pub added: u64,
}

impl RefreshStats {
    /// One line of the run's report.
    pub fn print(&self) {
        println!(
            "instruments  refreshed {} times ({} after a reconnect): {} changed, {} added, {} failed",
            self.rounds, self.after_reconnect, self.changed, self.added, self.failures
        );
    }
}

/// The side thread fetching fresh lists.
#[derive(Debug)]
pub struct Refresher {
    /// Fresh tables for the network thread.
    pub tables: Receiver<RefTable>,
    stop: Arc<AtomicBool>,
    handle: JoinHandle<RefreshStats>,
}

impl Refresher {
    /// Stops the thread (after the fetch under way, if any) and says what it did.
    pub fn stop(self) -> RefreshStats {
        self.stop.store(true, Ordering::Relaxed);
        self.handle.join().unwrap_or_default()
    }
}

fn record(conn: u32, a: &Answer) -> Record {
    Record {
        local_ts: a.local_ts,
        conn,
        kind: RecordKind::Http,
        url: a.url.clone(),
        payload: a.body.clone(),
    }
}

/// The recording's record of an instrument answer, on the first connection of its venue.
pub fn record_of(live: &Live, venue: Venue, a: &Answer) -> Record {
    let conn = live.links().iter().find(|l| l.venue() == venue).map_or(0, |l| l.conn_id());
    record(conn, a)
}
