//! Instrument reference data: what each venue's public REST API says about its instruments
//! (tick size, lot size, minimum size, kind, contract value, settlement, expiry, status),
//! parsed off the hot thread into the table the engines use.
//!
//! Precedence, highest first: the user's configuration, then the venue's reference data
//! ([`StepSource::Venue`](crate::book::StepSource::Venue)), then the built-in table, then ticks learned from the data.
//!
//! The module is sans-IO: a [`Plan`] says which URLs to ask for, takes the answers' bodies
//! and builds a [`RefTable`]; whoever holds a socket carries the requests out (the `live`
//! feature's `refdata::fetch` does it over TLS; a recorded capture replays the
//! answers it holds). The parsers follow each venue's published field names:
//!
//! | venue | endpoint | tick | lot |
//! |---|---|---|---|
//! | Binance spot | `GET /api/v3/exchangeInfo` | `PRICE_FILTER.tickSize` | `LOT_SIZE.stepSize` |
//! | Binance USD-M | `GET /fapi/v1/exchangeInfo` | `PRICE_FILTER.tickSize` | `LOT_SIZE.stepSize` |
//! | Binance COIN-M | `GET /dapi/v1/exchangeInfo` | `PRICE_FILTER.tickSize` | `LOT_SIZE.stepSize` (contracts) |
//! | Coinbase Advanced | `GET /api/v3/brokerage/market/products` | `price_increment` | `base_increment` |
//! | Coinbase Exchange | `GET /products` | `quote_increment` | `base_increment` |
//! | Kraken (v1 and v2) | `GET /0/public/AssetPairs` | `tick_size`, else `10^-pair_decimals` | `10^-lot_decimals` |
//! | OKX | `GET /api/v5/public/instruments?instType=…` (SPOT, SWAP, FUTURES, OPTION by family) | `tickSz` | `lotSz` |
//! | Bitfinex | `GET /v2/conf/pub:list:pair:exchange`, `pub:info:pair` | 10^-8 (see below) | 10^-8 |
//! | Gemini (v1 and v2) | `GET /v1/symbols`, then `/v1/symbols/details/SYMBOL` | `quote_increment` | `tick_size` |
//! | Deribit | `GET /api/v2/public/get_instruments?currency=…` (BTC, ETH, USDC, or the symbols') | `tick_size` | options, linear: `min_trade_amount`; inverse: `contract_size` |
//! | Kraken Futures | `GET /derivatives/api/v3/instruments` | `tickSize` | `10^-contractValueTradePrecision` (1 where absent) |
//! | BitMEX | `GET /api/v1/instrument/active` | `tickSize` | `lotSize` (contracts) |
//! | Bybit v5 | `GET /v5/market/instruments-info?category=…` (pages by `cursor`) | `priceFilter.tickSize` | `lotSizeFilter.qtyStep` (spot: `basePrecision`) |
//! | Hyperliquid | `POST /info` with `{"type":"meta"}` (perpetuals), `{"type":"spotMeta"}`, and `{"type":"meta","dex":…}` for each HIP-3 dex a symbol names (`xyz:XYZ100`) | `10^-(6 - szDecimals)` (spot: `8 -` the base token's) | `10^-szDecimals` |
//!
//! Bitfinex publishes no tick: its prices carry five significant digits and at most eight
//! decimals, so the tick depends on the price. The table holds the finest tick that rule
//! allows (10^-8), on which every valid price is a whole number of ticks; the adapter keeps it
//! as the trades' step and learns each book's tick from the book. Hyperliquid publishes no tick
//! either, only `szDecimals`: a price has at most five significant figures (an integer price is
//! always valid) and at most `MAX_DECIMALS - szDecimals` decimals (`MAX_DECIMALS` 6 for
//! perpetuals, 8 for spot), and a size `szDecimals` decimals. The table holds the finest tick
//! the decimal rule allows, on which every valid price is a whole number of ticks; the adapter
//! keeps it as the trades' step and the book's tick follows the five significant figures of
//! the book's prices (refined exactly when a price crosses a power of ten downwards). Both
//! answers come from the same URL: the parser tells them apart by their shape (`tokens` is
//! spotMeta's), so a recording's answers replay without the request bodies. Kraken's v2 feed
//! names assets as ISO codes where `AssetPairs` keeps Kraken's own (`XBT` is `BTC`, `XDG` is
//! `DOGE` on v2); the v2 table renames them.

#[cfg(feature = "live")]
pub mod fetch;
mod parse;

use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::Path;

use crate::book::{InstrumentRegistry, Step, Venue};

pub use parse::{is_reference_url, parse_body};

/// One request of a [`Plan`]: a GET of `url`, or, with `body`, a POST of that JSON to it
/// (Hyperliquid's `/info`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// The URL.
    pub url: String,
    /// The JSON body of a POST; `None` for a GET.
    pub body: Option<String>,
}

impl Request {
    /// `GET` or `POST`.
    pub fn method(&self) -> &'static str {
        if self.body.is_some() {
            "POST"
        } else {
            "GET"
        }
    }
}

/// What kind of instrument a row is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum InstrumentKind {
    /// A spot pair.
    Spot,
    /// A perpetual swap.
    Perpetual,
    /// A dated future.
    Future,
    /// An option.
    Option,
}

impl InstrumentKind {
    /// The name used in tables (`spot`, `perpetual`, `future`, `option`).
    pub const fn name(self) -> &'static str {
        match self {
            InstrumentKind::Spot => "spot",
            InstrumentKind::Perpetual => "perpetual",
            InstrumentKind::Future => "future",
            InstrumentKind::Option => "option",
        }
    }

    /// The kind with this [`InstrumentKind::name`].
    pub fn from_name(name: &str) -> Option<InstrumentKind> {
        [Self::Spot, Self::Perpetual, Self::Future, Self::Option]
            .into_iter()
            .find(|k| k.name() == name)
    }
}

/// One instrument as its venue describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefInstrument {
    /// The symbol as the venue's WebSocket feed writes it (`BTCUSDT`, `BTC-USD`, `XBT/USD`,
    /// `tBTCUSD`).
    pub symbol: String,
    /// Spot, perpetual, future or option.
    pub kind: InstrumentKind,
    /// The price increment.
    pub tick: Step,
    /// The size increment.
    pub lot: Step,
    /// The smallest order size, as the venue writes it (decimal text), when it says.
    pub min_size: Option<String>,
    /// A derivative's contract value or multiplier (decimal text), when it says.
    pub contract_value: Option<String>,
    /// A derivative's settlement currency, when it says.
    pub settle: Option<String>,
    /// A dated instrument's expiry, epoch milliseconds.
    pub expiry_ms: Option<u64>,
    /// The venue's own status word (`TRADING`, `online`, `live`, `open`, …).
    pub status: String,
    /// Whether the status means the instrument trades now.
    pub trading: bool,
}

/// Every instrument of one venue, with when and where it was fetched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefTable {
    /// The venue.
    pub venue: Venue,
    /// When the answers were fetched, epoch milliseconds (0: unknown).
    pub fetched_unix_ms: u64,
    /// The REST base the answers came from.
    pub source: String,
    /// The instruments, in the venue's order.
    pub instruments: Vec<RefInstrument>,
    /// Rows the parser could not read (a bad or missing tick or lot), skipped and counted.
    pub skipped: usize,
}

/// Reference data that could not be read or fetched.
#[derive(Debug, thiserror::Error)]
pub enum RefError {
    /// The body is not the JSON the endpoint returns.
    #[error("{url}: not the venue's instrument list: {why}")]
    Shape {
        /// The URL answered.
        url: String,
        /// What was wrong.
        why: String,
    },
    /// The venue has no instrument endpoint for this URL.
    #[error("{0}: not an instrument endpoint of this venue")]
    NotReference(String),
    /// A request failed.
    #[error("{method} {url}: {why}")]
    Fetch {
        /// `GET` or `POST`.
        method: &'static str,
        /// The URL asked for.
        url: String,
        /// What failed.
        why: String,
    },
    /// Reading or writing a cached table.
    #[error("instrument cache {path}: {why}")]
    Cache {
        /// The file.
        path: String,
        /// What failed.
        why: String,
    },
    /// Every answer parsed but no instrument came out.
    #[error("{0}: the venue listed no instrument")]
    Empty(Venue),
}

impl RefTable {
    /// An empty table for `venue`, fetched from `source`.
    pub fn new(venue: Venue, source: &str) -> RefTable {
        RefTable {
            venue,
            fetched_unix_ms: 0,
            source: source.to_owned(),
            instruments: Vec::new(),
            skipped: 0,
        }
    }

    /// Adds or replaces a row (by symbol); a row with fields a later answer fills in (Bitfinex
    /// minimum sizes) is merged.
    pub fn upsert(&mut self, row: RefInstrument) {
        match self.instruments.iter_mut().find(|r| r.symbol == row.symbol) {
            Some(old) => *old = row,
            None => self.instruments.push(row),
        }
    }

    /// The row for `symbol`.
    pub fn get(&self, symbol: &str) -> Option<&RefInstrument> {
        self.instruments.iter().find(|r| r.symbol.eq_ignore_ascii_case(symbol))
    }

    /// Puts every row's tick and lot into `registry` as the venue's reference data (a user's
    /// configuration still wins). Returns how many rows were taken.
    pub fn apply(&self, registry: &mut InstrumentRegistry) -> usize {
        let mut n = 0;
        for r in &self.instruments {
            if registry.reference(self.venue, &r.symbol, r.tick, r.lot) {
                n += 1;
            }
        }
        n
    }

    /// The table as CSV: a header, then one row per instrument (`venue, symbol, kind, tick,
    /// lot, min_size, contract_value, settle, expiry, status`; expiry in UTC ISO 8601).
    pub fn to_csv(&self) -> String {
        let mut out = String::from(
            "venue,symbol,kind,tick,lot,min_size,contract_value,settle,expiry,status\n",
        );
        for r in &self.instruments {
            let _ = writeln!(
                out,
                "{},{},{},{},{},{},{},{},{},{}",
                self.venue,
                csv_field(&r.symbol),
                r.kind.name(),
                r.tick,
                r.lot,
                csv_field(r.min_size.as_deref().unwrap_or("")),
                csv_field(r.contract_value.as_deref().unwrap_or("")),
                csv_field(r.settle.as_deref().unwrap_or("")),
                r.expiry_ms.map(iso_utc).unwrap_or_default(),
                csv_field(&r.status),
            );
        }
        out
    }

    /// The table as one JSON document (also the cache's format, read back by
    /// [`RefTable::from_json`]).
    pub fn to_json(&self) -> String {
        let mut out = String::with_capacity(self.instruments.len() * 200 + 128);
        let _ = write!(
            out,
            "{{\"venue\":{},\"fetched_unix_ms\":{},\"source\":{},\"skipped\":{},\"instruments\":[",
            json_str(self.venue.name()),
            self.fetched_unix_ms,
            json_str(&self.source),
            self.skipped
        );
        for (i, r) in self.instruments.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            let opt = |v: &Option<String>| v.as_deref().map_or("null".to_owned(), json_str);
            let _ = write!(
                out,
                "\n{{\"symbol\":{},\"kind\":\"{}\",\"tick\":\"{}\",\"lot\":\"{}\",\"min_size\":{},\"contract_value\":{},\"settle\":{},\"expiry_ms\":{},\"expiry\":{},\"status\":{},\"trading\":{}}}",
                json_str(&r.symbol),
                r.kind.name(),
                r.tick,
                r.lot,
                opt(&r.min_size),
                opt(&r.contract_value),
                opt(&r.settle),
                r.expiry_ms.map_or("null".to_owned(), |e| e.to_string()),
                r.expiry_ms.map_or("null".to_owned(), |e| json_str(&iso_utc(e))),
                json_str(&r.status),
                r.trading
            );
        }
        out.push_str("\n]}\n");
        out
    }

    /// Reads a table written by [`RefTable::to_json`].
    pub fn from_json(text: &str) -> Result<RefTable, String> {
        parse::table_from_json(text)
    }

    /// Writes the table to `path` as JSON (written beside it first, then renamed: a reader
    /// never sees half a file).
    pub fn save(&self, path: &Path) -> Result<(), RefError> {
        let err = |e: std::io::Error| RefError::Cache {
            path: path.display().to_string(),
            why: e.to_string(),
        };
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(err)?;
        }
        let tmp = path.with_extension("json.tmp");
        std::fs::write(&tmp, self.to_json()).map_err(err)?;
        std::fs::rename(&tmp, path).map_err(err)
    }

    /// Reads a table saved by [`RefTable::save`].
    pub fn load(path: &Path) -> Result<RefTable, RefError> {
        let cache = |why: String| RefError::Cache { path: path.display().to_string(), why };
        let text = std::fs::read_to_string(path).map_err(|e| cache(e.to_string()))?;
        RefTable::from_json(&text).map_err(cache)
    }

    /// The rows whose tick or lot differ from `older`'s, and the rows `older` lacks:
    /// `(changed, added)`.
    pub fn changes_from(&self, older: &RefTable) -> (usize, usize) {
        let old: HashMap<&str, &RefInstrument> =
            older.instruments.iter().map(|r| (r.symbol.as_str(), r)).collect();
        let mut changed = 0;
        let mut added = 0;
        for r in &self.instruments {
            match old.get(r.symbol.as_str()) {
                Some(o) if o.tick != r.tick || o.lot != r.lot => changed += 1,
                Some(_) => {}
                None => added += 1,
            }
        }
        (changed, added)
    }
}

/// The cache file of `venue`'s table in `dir` (`instruments-<venue>.json`).
pub fn cache_path(dir: &Path, venue: Venue) -> std::path::PathBuf {
    dir.join(format!("instruments-{}.json", venue.name()))
}

/// The default cache directory: `$XDG_CACHE_HOME/ladderfeed`, else `$HOME/.cache/ladderfeed`,
/// else the system's temporary directory.
pub fn default_cache_dir() -> std::path::PathBuf {
    if let Some(x) = std::env::var_os("XDG_CACHE_HOME").filter(|x| !x.is_empty()) {
        return Path::new(&x).join("ladderfeed");
    }
    if let Some(h) = std::env::var_os("HOME").filter(|x| !x.is_empty()) {
        return Path::new(&h).join(".cache").join("ladderfeed");
    }
    std::env::temp_dir().join("ladderfeed")
}

/// The venue's own REST base for its instrument endpoints.
pub const fn default_base(venue: Venue) -> &'static str {
    match venue {
        Venue::Binance => "https://api.binance.com",
        Venue::BinanceFutures => "https://fapi.binance.com",
        Venue::BinanceCoinM => "https://dapi.binance.com",
        Venue::Coinbase => "https://api.coinbase.com",
        Venue::CoinbaseExchange => "https://api.exchange.coinbase.com",
        Venue::Kraken | Venue::KrakenV1 => "https://api.kraken.com",
        Venue::Okx => "https://www.okx.com",
        Venue::Bitfinex => "https://api-pub.bitfinex.com",
        Venue::Gemini | Venue::GeminiV1 => "https://api.gemini.com",
        Venue::BybitSpot | Venue::BybitLinear | Venue::BybitInverse => "https://api.bybit.com",
        Venue::Deribit => "https://www.deribit.com",
        Venue::Hyperliquid => "https://api.hyperliquid.xyz",
        Venue::KrakenFutures => "https://futures.kraken.com",
        Venue::Bitmex => "https://www.bitmex.com",
    }
}

/// The least time between two requests to the venue's own host, from its published public
/// rate limit (Gemini: 120 requests a minute; the others answer in one or a few requests).
pub const fn min_interval_ms(venue: Venue) -> u64 {
    match venue {
        Venue::Gemini | Venue::GeminiV1 => 500,
        _ => 0,
    }
}

/// The requests that build one venue's table, in order, and the table they build.
///
/// ```
/// use ladderfeed::book::Venue;
/// use ladderfeed::refdata::Plan;
///
/// let mut plan = Plan::new(Venue::Binance, "http://127.0.0.1:9", &[]);
/// let request = plan.next_request().unwrap();
/// assert_eq!(request.url, "http://127.0.0.1:9/api/v3/exchangeInfo");
/// assert_eq!(request.method(), "GET");
/// let url = request.url;
/// let body = br#"{"symbols":[{"symbol":"BTCUSDT","status":"TRADING","filters":[
///     {"filterType":"PRICE_FILTER","tickSize":"0.01000000"},
///     {"filterType":"LOT_SIZE","minQty":"0.00001000","stepSize":"0.00001000"}]}]}"#;
/// plan.answer(&url, body).unwrap();
/// assert!(plan.next_request().is_none());
/// let table = plan.finish(0).unwrap();
/// assert_eq!(table.get("BTCUSDT").unwrap().tick.to_string(), "0.01");
/// ```
#[derive(Debug, Clone)]
pub struct Plan {
    base: String,
    pending: std::collections::VecDeque<Request>,
    table: RefTable,
    /// Symbols a follow-up request is limited to (Gemini details), when given.
    symbols: Vec<String>,
}

impl Plan {
    /// The plan for `venue` against `base` (a venue's or a simulator's REST base). With
    /// `symbols`, venues that answer per symbol (Gemini) are asked only for those, and OKX
    /// options only for those symbols' families; without, for all (OKX options: `BTC-USD`
    /// and `ETH-USD`).
    pub fn new(venue: Venue, base: &str, symbols: &[String]) -> Plan {
        let base = base.trim_end_matches('/').to_owned();
        let pending = parse::first_requests(venue, symbols)
            .into_iter()
            .map(|(p, body)| Request { url: format!("{base}{p}"), body })
            .collect();
        Plan { table: RefTable::new(venue, &base), base, pending, symbols: symbols.to_vec() }
    }

    /// The next request to make, if any.
    pub fn next_request(&mut self) -> Option<Request> {
        self.pending.pop_front()
    }

    /// The body answering `url` (status 200): its rows go into the table, and any follow-up
    /// requests it calls for (Gemini's per-symbol details) join the plan.
    pub fn answer(&mut self, url: &str, body: &[u8]) -> Result<(), RefError> {
        let follow = parse::parse_into(&mut self.table, url, body, &self.symbols)?;
        let base = &self.base;
        self.pending
            .extend(follow.into_iter().map(|p| Request { url: format!("{base}{p}"), body: None }));
        Ok(())
    }

    /// The table, stamped `fetched_unix_ms`; an error when no instrument came out.
    pub fn finish(mut self, fetched_unix_ms: u64) -> Result<RefTable, RefError> {
        if self.table.instruments.is_empty() {
            return Err(RefError::Empty(self.table.venue));
        }
        self.table.fetched_unix_ms = fetched_unix_ms;
        Ok(self.table)
    }
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_owned()
    }
}

fn json_str(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Epoch milliseconds as `YYYY-MM-DDTHH:MM:SSZ` (UTC).
pub fn iso_utc(ms: u64) -> String {
    let secs = ms / 1000;
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    // Civil from days (proleptic Gregorian), after H. Hinnant's algorithm.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z", rem / 3600, rem / 60 % 60, rem % 60)
}

#[cfg(test)]
mod tests;
