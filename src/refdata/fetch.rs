//! Carrying a [`Plan`] out over HTTPS (certificates verified), on the calling thread: for
//! start-up and side threads, never the network thread.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use rustls::ClientConfig;

use super::{cache_path, default_base, min_interval_ms, Plan, RefError, RefTable, Request};
use crate::book::{InstrumentRegistry, Venue};
use crate::net::http::HttpCall;
use crate::net::stream::AddrCache;
use crate::net::NetError;

/// How long one request may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(15);

/// One answer as it came (for a recording to keep).
#[derive(Debug, Clone)]
pub struct Answer {
    /// The URL asked for (a POST's body is not kept: the answers of the one venue that posts,
    /// Hyperliquid, say by their shape what they answer).
    pub url: String,
    /// Receive time, epoch nanoseconds.
    pub local_ts: u64,
    /// The body.
    pub body: Vec<u8>,
}

/// A fetched table, the answers it was built from, and the requests that failed (a partial
/// table is kept: one failed OKX option family does not cost the spot list).
#[derive(Debug)]
pub struct Fetched {
    /// The table.
    pub table: RefTable,
    /// Every 200 answer, in order.
    pub answers: Vec<Answer>,
    /// Requests that failed, with why.
    pub failures: Vec<RefError>,
}

fn now_ns() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos() as u64)
}

/// One request (a GET, or a POST of its JSON body), driven to its end on this thread.
fn call(req: &Request, tls: &Arc<ClientConfig>) -> Result<(u16, Vec<u8>), RefError> {
    let url = req.url.as_str();
    let fail = |e: NetError| RefError::Fetch {
        method: req.method(),
        url: url.to_owned(),
        why: e.to_string(),
    };
    let mut addrs = AddrCache::default();
    let started = Instant::now();
    let mut call = loop {
        let started_call = match &req.body {
            None => HttpCall::get(url, &mut addrs, tls, REQUEST_TIMEOUT),
            Some(body) => {
                HttpCall::post_json(url, body.as_bytes(), &mut addrs, tls, REQUEST_TIMEOUT)
            }
        };
        match started_call {
            Ok(c) => break c,
            Err(NetError::Resolving) if started.elapsed() < REQUEST_TIMEOUT => {
                std::thread::sleep(Duration::from_millis(2));
            }
            Err(e) => return Err(fail(e)),
        }
    };
    loop {
        match call.drive() {
            Some(Ok(r)) => return Ok((r.status, r.body)),
            Some(Err(e)) => return Err(fail(e)),
            None => std::thread::sleep(Duration::from_micros(200)),
        }
    }
}

/// Fetches `venue`'s table from `base` (the venue's own when `None`; its published rate limit
/// is kept there), limited to `symbols` where the venue answers per symbol. Fails only when
/// no instrument came out; failed requests are listed in [`Fetched::failures`].
pub fn fetch(
    venue: Venue,
    base: Option<&str>,
    symbols: &[String],
    tls: &Arc<ClientConfig>,
) -> Result<Fetched, RefError> {
    let (table, answers, failures) = run(venue, base, symbols, tls);
    match table {
        Ok(table) => Ok(Fetched { table, answers, failures }),
        Err(e) => Err(failures.into_iter().next().unwrap_or(e)),
    }
}

/// [`fetch`]'s work: the table (or why none), the answers, and every failed request.
fn run(
    venue: Venue,
    base: Option<&str>,
    symbols: &[String],
    tls: &Arc<ClientConfig>,
) -> (Result<RefTable, RefError>, Vec<Answer>, Vec<RefError>) {
    let own = base.is_none();
    let base = base.unwrap_or(default_base(venue));
    let mut plan = Plan::new(venue, base, symbols);
    let pace = Duration::from_millis(if own { min_interval_ms(venue) } else { 0 });
    let mut answers = Vec::new();
    let mut failures = Vec::new();
    let mut last: Option<Instant> = None;
    while let Some(req) = plan.next_request() {
        if let Some(at) = last {
            let wait = pace.saturating_sub(at.elapsed());
            if !wait.is_zero() {
                std::thread::sleep(wait);
            }
        }
        last = Some(Instant::now());
        match call(&req, tls) {
            Ok((200, body)) => match plan.answer(&req.url, &body) {
                Ok(()) => answers.push(Answer { url: req.url, local_ts: now_ns(), body }),
                Err(e) => failures.push(e),
            },
            Ok((status, body)) => {
                let head = String::from_utf8_lossy(&body[..body.len().min(200)]).into_owned();
                failures.push(RefError::Fetch {
                    method: req.method(),
                    url: req.url,
                    why: format!("status {status}: {head}"),
                });
            }
            Err(e) => failures.push(e),
        }
    }
    (plan.finish(now_ns() / 1_000_000), answers, failures)
}

/// Where a venue's table came from at start-up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// Fetched now.
    Fetched,
    /// The fetch failed; the cached table was used.
    Cache,
    /// The fetch failed and no cache was readable: built-ins and learning only.
    None,
}

/// What [`load`] did for one venue.
#[derive(Debug)]
pub struct Loaded {
    /// The venue.
    pub venue: Venue,
    /// Where its table came from.
    pub origin: Origin,
    /// The table, when there is one.
    pub table: Option<RefTable>,
    /// The answers fetched (empty unless fetched now).
    pub answers: Vec<Answer>,
    /// What went wrong on the way, as warnings (never fatal).
    pub warnings: Vec<String>,
    /// Requests that failed or whose answer could not be read.
    pub failed_requests: u64,
}

/// Loads `venue`'s table at start-up: fetched from `base` and written to the cache in
/// `cache_dir`; when the fetch fails, the cache (with its age in the warning); when that
/// fails too, nothing (built-ins and learning). Never an error: a venue's REST outage must
/// not stop a feed.
pub fn load(
    venue: Venue,
    base: Option<&str>,
    symbols: &[String],
    tls: &Arc<ClientConfig>,
    cache_dir: Option<&std::path::Path>,
) -> Loaded {
    let mut warnings = Vec::new();
    let (table, answers, failures) = run(venue, base, symbols, tls);
    let failed_requests = failures.len() as u64;
    warnings.extend(failures.iter().map(|e| format!("{venue}: instruments: {e}")));
    match table {
        Ok(table) => {
            if let Some(dir) = cache_dir {
                if let Err(e) = table.save(&cache_path(dir, venue)) {
                    warnings.push(format!("{venue}: {e}"));
                }
            }
            Loaded {
                venue,
                origin: Origin::Fetched,
                table: Some(table),
                answers,
                warnings,
                failed_requests,
            }
        }
        Err(e) => {
            warnings.push(if failed_requests > 0 {
                format!("{venue}: fetching instruments failed ({failed_requests} requests)")
            } else {
                format!("{venue}: fetching instruments failed: {e}")
            });
            let cached = cache_dir.map(|d| RefTable::load(&cache_path(d, venue)));
            match cached {
                Some(Ok(t)) => {
                    let age_s = (now_ns() / 1_000_000).saturating_sub(t.fetched_unix_ms) / 1000;
                    warnings.push(format!(
                        "{venue}: using the cached instruments fetched {age_s} s ago ({} rows)",
                        t.instruments.len()
                    ));
                    Loaded {
                        venue,
                        origin: Origin::Cache,
                        table: Some(t),
                        answers: vec![],
                        warnings,
                        failed_requests,
                    }
                }
                other => {
                    if let Some(Err(e)) = other {
                        warnings.push(format!("{venue}: {e}"));
                    }
                    warnings.push(format!(
                        "{venue}: no reference data: built-in and learned ticks only"
                    ));
                    Loaded {
                        venue,
                        origin: Origin::None,
                        table: None,
                        answers: vec![],
                        warnings,
                        failed_requests,
                    }
                }
            }
        }
    }
}

impl Loaded {
    /// Puts the table (if any) into `registry`; returns the rows taken.
    pub fn apply(&self, registry: &mut InstrumentRegistry) -> usize {
        self.table.as_ref().map_or(0, |t| t.apply(registry))
    }
}
