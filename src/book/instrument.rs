//! Instruments: a venue, a symbol, a tick size and a lot size, held exactly.
//!
//! Where a tick and lot come from, in order of precedence:
//!
//! 1. **Configured** by the user ([`InstrumentRegistry::configure`]).
//! 2. **The venue's reference data**, fetched from its instrument endpoint
//!    ([`InstrumentRegistry::reference`], see `refdata`).
//! 3. **Built in** for well-known instruments and for every instrument in the bundled
//!    fixtures ([`BUILTIN`]).
//! 4. **Learned** from the data: the finest decimal places seen in the instrument's snapshot
//!    ([`StepLearner`]), so any capture replays without setup.
//!
//! ```
//! use ladderfeed::book::{InstrumentRegistry, Step, StepSource, Venue};
//!
//! let mut reg = InstrumentRegistry::with_builtins();
//! let btc = reg.lookup(Venue::Binance, "BTCUSDT").unwrap();
//! assert_eq!(btc.tick, Step::parse("0.01").unwrap());
//! assert_eq!(btc.source, StepSource::Builtin);
//!
//! reg.configure(Venue::Okx, "DOGE-USDT", Step::parse("0.00001").unwrap(), Step::parse("0.000001").unwrap());
//! assert_eq!(reg.lookup(Venue::Okx, "DOGE-USDT").unwrap().source, StepSource::Configured);
//! ```

use std::collections::HashMap;
use std::fmt;

use super::num::{NumError, Step};

/// A venue (and protocol version) ladderfeed speaks. Names are the ones used on the command line
/// and in summaries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Venue {
    /// Coinbase Advanced Trade (`advanced-trade-ws.coinbase.com`).
    Coinbase,
    /// Coinbase Exchange, the legacy feed (`ws-feed.exchange.coinbase.com`).
    CoinbaseExchange,
    /// Binance spot.
    Binance,
    /// Binance USD-M futures.
    BinanceFutures,
    /// Bitfinex WebSocket v2.
    Bitfinex,
    /// Kraken WebSocket v2.
    Kraken,
    /// Kraken WebSocket v1.
    KrakenV1,
    /// OKX v5.
    Okx,
    /// Gemini market data v2.
    Gemini,
    /// Gemini market data v1.
    GeminiV1,
    /// Bybit v5 spot.
    BybitSpot,
    /// Bybit v5 linear (USDT and USDC perpetuals and futures).
    BybitLinear,
    /// Bybit v5 inverse perpetuals and futures.
    BybitInverse,
    /// Binance COIN-M futures (`dapi`, `dstream`).
    BinanceCoinM,
    /// Deribit v2 (options, futures, perpetuals).
    Deribit,
    /// Hyperliquid (perpetuals).
    Hyperliquid,
    /// Kraken Futures (WebSocket v1).
    KrakenFutures,
    /// BitMEX (`realtime` WebSocket).
    Bitmex,
}

impl Venue {
    /// Every venue, in a stable order.
    pub const ALL: [Venue; 18] = [
        Venue::Coinbase,
        Venue::CoinbaseExchange,
        Venue::Binance,
        Venue::BinanceFutures,
        Venue::Bitfinex,
        Venue::Kraken,
        Venue::KrakenV1,
        Venue::Okx,
        Venue::Gemini,
        Venue::GeminiV1,
        Venue::BybitSpot,
        Venue::BybitLinear,
        Venue::BybitInverse,
        Venue::BinanceCoinM,
        Venue::Deribit,
        Venue::Hyperliquid,
        Venue::KrakenFutures,
        Venue::Bitmex,
    ];

    /// The venue's name as written on the command line and in summaries (`binance-futures`).
    pub const fn name(self) -> &'static str {
        match self {
            Venue::Coinbase => "coinbase",
            Venue::CoinbaseExchange => "coinbase-exchange",
            Venue::Binance => "binance",
            Venue::BinanceFutures => "binance-futures",
            Venue::Bitfinex => "bitfinex",
            Venue::Kraken => "kraken",
            Venue::KrakenV1 => "kraken-v1",
            Venue::Okx => "okx",
            Venue::Gemini => "gemini",
            Venue::GeminiV1 => "gemini-v1",
            Venue::BybitSpot => "bybit",
            Venue::BybitLinear => "bybit-linear",
            Venue::BybitInverse => "bybit-inverse",
            Venue::BinanceCoinM => "binance-coinm",
            Venue::Deribit => "deribit",
            Venue::Hyperliquid => "hyperliquid",
            Venue::KrakenFutures => "kraken-futures",
            Venue::Bitmex => "bitmex",
        }
    }

    /// A stable one-byte code (its place in [`Venue::ALL`], from 1), as instrument
    /// definitions carry it on the wire.
    pub fn code(self) -> u8 {
        Venue::ALL.iter().position(|v| *v == self).map_or(0, |i| i as u8 + 1)
    }

    /// The venue with this [`Venue::code`], if any.
    pub fn from_code(code: u8) -> Option<Venue> {
        Venue::ALL.get(usize::from(code).checked_sub(1)?).copied()
    }

    /// The venue with this name, if any (the inverse of [`Venue::name`]).
    pub fn from_name(name: &str) -> Option<Venue> {
        Venue::ALL.into_iter().find(|v| v.name() == name)
    }

    /// Whether the venue's symbols are case-insensitive (Binance writes `btcusdt` in stream
    /// names and `BTCUSDT` in payloads).
    pub(crate) const fn case_insensitive_symbols(self) -> bool {
        matches!(self, Venue::Binance | Venue::BinanceFutures | Venue::BinanceCoinM)
    }
}

impl fmt::Display for Venue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Where an instrument's tick and lot came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StepSource {
    /// Set by the user.
    Configured,
    /// From the venue's own reference data (its instrument endpoint).
    Venue,
    /// From the built-in table.
    Builtin,
    /// Learned from the decimal places in the data (see [`StepLearner`]).
    Learned,
}

impl StepSource {
    /// A short name (`configured`, `venue`, `builtin`, `learned`).
    pub const fn name(self) -> &'static str {
        match self {
            StepSource::Configured => "configured",
            StepSource::Venue => "venue",
            StepSource::Builtin => "builtin",
            StepSource::Learned => "learned",
        }
    }
}

/// An instrument on a venue: prices count ticks, sizes count lots.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Instrument {
    /// The venue.
    pub venue: Venue,
    /// The symbol as the venue writes it (`BTCUSDT`, `BTC-USD`, `XBT/USD`, `tBTCUSD`).
    pub symbol: String,
    /// The tick size: one unit of price.
    pub tick: Step,
    /// The lot size: one unit of size.
    pub lot: Step,
    /// Where the tick and lot came from.
    pub source: StepSource,
    /// The unit of trade prices when it is not the tick: `Some(10^-k)` where trades print
    /// finer prices than the book (Bitfinex: books quote five significant digits, trades up to
    /// eight decimals), so the book's tick can follow the book. `None`: trade prices count
    /// ticks, as on every other venue.
    pub trade_tick: Option<Step>,
}

impl Instrument {
    /// For a venue whose trades print finer than its books: the tick becomes the trades' own
    /// step and the book's tick starts at 1, to be refined by the book's prices. Nothing
    /// happens (`false`) when the trades already have a step or the tick is not a power of
    /// ten.
    pub fn split_trade_step(&mut self) -> bool {
        if self.trade_tick.is_some() || self.tick.mantissa() != 1 {
            return false;
        }
        self.trade_tick = Some(self.tick);
        self.tick = Step::ONE;
        true
    }

    /// A price in ticks from its plain decimal text (no exponent: the venues that print one,
    /// such as Bitfinex, call [`Step::units`] on [`Instrument::tick`] themselves). Prices are
    /// never negative.
    #[inline]
    pub fn price_ticks(&self, text: &[u8]) -> Result<i64, NumError> {
        self.tick.units_plain(text)
    }

    /// A size in lots from its plain decimal text (no exponent). Sizes are never negative.
    #[inline]
    pub fn qty_lots(&self, text: &[u8]) -> Result<i64, NumError> {
        self.lot.units_plain(text)
    }

    /// The exact decimal text of a price in ticks.
    pub fn format_price(&self, px_tick: i64) -> String {
        self.tick.format(px_tick)
    }

    /// Whether a book price finer than the tick refines it (see
    /// [`Parsed::book_price`](crate::venue::Parsed::book_price)): a learned tick, or a book
    /// tick the adapter follows apart from the trades' step ([`Instrument::trade_tick`]).
    #[inline]
    pub fn book_tick_refinable(&self) -> bool {
        self.source == StepSource::Learned || self.trade_tick.is_some()
    }

    /// The unit of trade prices: [`Instrument::trade_tick`], else the tick.
    #[inline]
    pub fn trade_step(&self) -> Step {
        self.trade_tick.unwrap_or(self.tick)
    }

    /// The exact decimal text of a trade price (in [`Instrument::trade_step`] units).
    pub fn format_trade_price(&self, px: i64) -> String {
        self.trade_step().format(px)
    }

    /// The exact decimal text of a size in lots.
    pub fn format_qty(&self, qty_lots: i64) -> String {
        self.lot.format(qty_lots)
    }
}

/// Built-in `(venue, symbol, tick, lot)` defaults.
///
/// Official exchange values where they are published and stable (Coinbase Exchange values are
/// from the REST `/products` answer recorded beside the capture in `fixtures/coinbase/`);
/// for the other instruments of the bundled fixtures, the finest decimal places their captured
/// snapshots and updates use (checked with every price and size in the fixtures). Bitfinex
/// quotes five significant digits, so its tick is the finest the price range in use needs.
pub const BUILTIN: &[(Venue, &str, &str, &str)] = &[
    // Coinbase Advanced Trade.
    (Venue::Coinbase, "BTC-USD", "0.01", "0.00000001"),
    (Venue::Coinbase, "ETH-USD", "0.01", "0.00000001"),
    // Coinbase Exchange (REST /products, recorded with the capture).
    (Venue::CoinbaseExchange, "BTC-USD", "0.01", "0.00000001"),
    (Venue::CoinbaseExchange, "ETH-USD", "0.01", "0.00000001"),
    (Venue::CoinbaseExchange, "BAND-BTC", "0.00000001", "0.01"),
    (Venue::CoinbaseExchange, "BAND-GBP", "0.0001", "0.01"),
    (Venue::CoinbaseExchange, "CRV-EUR", "0.0001", "0.01"),
    (Venue::CoinbaseExchange, "DASH-BTC", "0.00000001", "0.001"),
    (Venue::CoinbaseExchange, "NMR-EUR", "0.0001", "0.001"),
    (Venue::CoinbaseExchange, "NU-GBP", "0.0001", "0.000001"),
    (Venue::CoinbaseExchange, "SKL-BTC", "0.00000001", "0.1"),
    (Venue::CoinbaseExchange, "SKL-GBP", "0.0001", "0.1"),
    (Venue::CoinbaseExchange, "SKL-USD", "0.0001", "0.1"),
    (Venue::CoinbaseExchange, "YFI-BTC", "0.00001", "0.000001"),
    // Binance spot.
    (Venue::Binance, "BTCUSDT", "0.01", "0.00000001"),
    (Venue::Binance, "ETHUSDT", "0.01", "0.00000001"),
    (Venue::Binance, "BLZETH", "0.00000001", "1"),
    (Venue::Binance, "LRCBTC", "0.00000001", "1"),
    (Venue::Binance, "NKNUSDT", "0.00001", "0.1"),
    (Venue::Binance, "RUNEEUR", "0.001", "0.1"),
    // Binance USD-M futures.
    (Venue::BinanceFutures, "BTCUSDT", "0.1", "0.001"),
    (Venue::BinanceFutures, "ETHUSDT", "0.01", "0.001"),
    (Venue::BinanceFutures, "AKROUSDT", "0.00001", "1"),
    (Venue::BinanceFutures, "CTKUSDT", "0.00001", "1"),
    (Venue::BinanceFutures, "KEEPUSDT", "0.0001", "1"),
    (Venue::BinanceFutures, "SUSHIUSDT", "0.001", "1"),
    // Bitfinex: books quote five significant digits, but trades print up to 8 decimals
    // (6443.06516425 in the 2018 capture): 1e-8 is the trades' step; the adapter learns the
    // book's tick from the book (`Instrument::trade_tick`).
    (Venue::Bitfinex, "tBTCUSD", "0.00000001", "0.00000001"),
    // Kraken v2 and v1.
    (Venue::Kraken, "BTC/USD", "0.1", "0.00000001"),
    (Venue::Kraken, "ETH/USD", "0.01", "0.00000001"),
    (Venue::KrakenV1, "XBT/USD", "0.1", "0.00000001"),
    (Venue::KrakenV1, "ETH/USD", "0.01", "0.00000001"),
    (Venue::KrakenV1, "ADA/XBT", "0.00000001", "0.00000001"),
    (Venue::KrakenV1, "ETH/CHF", "0.01", "0.00000001"),
    (Venue::KrakenV1, "GRT/ETH", "0.0000001", "0.00000001"),
    (Venue::KrakenV1, "KSM/XBT", "0.000001", "0.00000001"),
    (Venue::KrakenV1, "OCEAN/XBT", "0.00000001", "0.00000001"),
    (Venue::KrakenV1, "OMG/USD", "0.000001", "0.00000001"),
    (Venue::KrakenV1, "SC/EUR", "0.00001", "0.00000001"),
    (Venue::KrakenV1, "WAVES/EUR", "0.0001", "0.00000001"),
    (Venue::KrakenV1, "XBT/CHF", "0.1", "0.00000001"),
    (Venue::KrakenV1, "XMR/USD", "0.01", "0.00000001"),
    // OKX.
    (Venue::Okx, "BTC-USDT", "0.1", "0.00000001"),
    (Venue::Okx, "ETH-USDT", "0.01", "0.000001"),
    (Venue::Okx, "BTC-USD-220527", "0.1", "1"),
    (Venue::Okx, "UNI-USD-SWAP", "0.001", "1"),
    // Gemini.
    (Venue::Gemini, "BTCUSD", "0.01", "0.00000001"),
    (Venue::Gemini, "ETHUSD", "0.01", "0.000001"),
    (Venue::Gemini, "SOLUSD", "0.001", "0.000001"),
    (Venue::Gemini, "BTCEUR", "0.01", "0.00000001"),
    (Venue::Gemini, "BTCGBP", "0.01", "0.00000001"),
    (Venue::Gemini, "BTCUSDT", "0.01", "0.00000001"),
    (Venue::Gemini, "ETHEUR", "0.01", "0.000001"),
    (Venue::Gemini, "ETHUSDT", "0.01", "0.000001"),
    (Venue::GeminiV1, "BTCUSD", "0.01", "0.00000001"),
    (Venue::GeminiV1, "ETHUSD", "0.01", "0.000001"),
];

/// Looks up and learns instruments. Cheap to query; not on the per-message path (the engine
/// resolves an instrument once per symbol and keeps it).
#[derive(Debug, Clone, Default)]
pub struct InstrumentRegistry {
    known: HashMap<(Venue, String), (Step, Step, StepSource)>,
}

impl InstrumentRegistry {
    /// An empty registry: nothing built in, nothing configured.
    pub fn new() -> Self {
        Self::default()
    }

    /// A registry holding the [`BUILTIN`] defaults.
    pub fn with_builtins() -> Self {
        let mut reg = Self::new();
        for &(venue, symbol, tick, lot) in BUILTIN {
            // The table is checked by a unit test; a bad row is skipped, never a panic.
            if let (Ok(tick), Ok(lot)) = (Step::parse(tick), Step::parse(lot)) {
                reg.insert(venue, symbol, tick, lot, StepSource::Builtin);
            }
        }
        reg
    }

    /// Sets the tick and lot of an instrument, replacing any built-in or learned value.
    pub fn configure(&mut self, venue: Venue, symbol: &str, tick: Step, lot: Step) {
        self.insert(venue, symbol, tick, lot, StepSource::Configured);
    }

    /// Sets the tick and lot the venue's reference data gives, replacing a built-in or
    /// learned value but never the user's configuration. Returns whether it was taken.
    pub fn reference(&mut self, venue: Venue, symbol: &str, tick: Step, lot: Step) -> bool {
        if self.lookup(venue, symbol).is_some_and(|k| k.source == StepSource::Configured) {
            return false;
        }
        self.insert(venue, symbol, tick, lot, StepSource::Venue);
        true
    }

    /// Records a tick and lot learned from the data (see [`StepLearner`]). A configured or
    /// built-in value wins: learning never overrides it.
    pub fn learn(&mut self, venue: Venue, symbol: &str, tick: Step, lot: Step) -> Instrument {
        if let Some(known) = self.lookup(venue, symbol) {
            if known.source != StepSource::Learned {
                return known;
            }
        }
        self.insert(venue, symbol, tick, lot, StepSource::Learned);
        Instrument {
            venue,
            symbol: symbol.to_owned(),
            tick,
            lot,
            source: StepSource::Learned,
            trade_tick: None,
        }
    }

    fn key(venue: Venue, symbol: &str) -> (Venue, String) {
        if venue.case_insensitive_symbols() {
            (venue, symbol.to_ascii_uppercase())
        } else {
            (venue, symbol.to_owned())
        }
    }

    fn insert(&mut self, venue: Venue, symbol: &str, tick: Step, lot: Step, src: StepSource) {
        self.known.insert(Self::key(venue, symbol), (tick, lot, src));
    }

    /// The instrument, if its tick and lot are configured, built in or already learned.
    pub fn lookup(&self, venue: Venue, symbol: &str) -> Option<Instrument> {
        let &(tick, lot, source) = self.known.get(&Self::key(venue, symbol))?;
        Some(Instrument { venue, symbol: symbol.to_owned(), tick, lot, source, trade_tick: None })
    }

    /// Parses a configuration line `venue:symbol tick lot`
    /// (`binance:DOGEUSDT 0.00001 1`), as a command line or a config file gives it.
    pub fn configure_line(&mut self, line: &str) -> Result<Instrument, ConfigError> {
        let mut parts = line.split_whitespace();
        let (Some(name), Some(tick), Some(lot), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(ConfigError::Shape(line.to_owned()));
        };
        let (venue, symbol) = name.split_once(':').ok_or(ConfigError::Shape(line.to_owned()))?;
        let venue = Venue::from_name(venue).ok_or(ConfigError::Venue(venue.to_owned()))?;
        if symbol.is_empty() {
            return Err(ConfigError::Shape(line.to_owned()));
        }
        let tick = Step::parse(tick).map_err(|e| ConfigError::Step(tick.to_owned(), e))?;
        let lot = Step::parse(lot).map_err(|e| ConfigError::Step(lot.to_owned(), e))?;
        self.configure(venue, symbol, tick, lot);
        Ok(Instrument {
            venue,
            symbol: symbol.to_owned(),
            tick,
            lot,
            source: StepSource::Configured,
            trade_tick: None,
        })
    }
}

/// A rejected instrument configuration.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// The line is not `venue:symbol tick lot`.
    #[error("expected `venue:symbol tick lot`, got {0:?}")]
    Shape(String),
    /// The venue name is not one ladderfeed knows.
    #[error("unknown venue {0:?}")]
    Venue(String),
    /// A tick or lot that is not a positive decimal.
    #[error("bad step {0:?}: {1}")]
    Step(String, NumError),
}

/// Learns a tick and a lot from the numbers of an instrument's snapshot: the finest decimal
/// places seen among its prices and among its sizes.
///
/// The result is a power of ten no coarser than any number seen, so every number in the
/// snapshot is a whole number of steps. A later message with a finer number is rejected by the
/// parser ([`NumError::NotMultiple`]) and counted upstream: configure the instrument when a
/// venue's snapshot does not show its finest tick.
///
/// ```
/// use ladderfeed::book::{Step, StepLearner};
///
/// let mut l = StepLearner::default();
/// l.price(b"61837.63000000").unwrap();
/// l.price(b"61837.5").unwrap();
/// l.qty(b"3.78826000").unwrap();
/// let (tick, lot) = l.finish();
/// assert_eq!(tick, Step::parse("0.01").unwrap());
/// assert_eq!(lot, Step::parse("0.00001").unwrap());
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct StepLearner {
    tick: Option<Step>,
    lot: Option<Step>,
}

impl StepLearner {
    /// Observes one price's text.
    pub fn price(&mut self, text: &[u8]) -> Result<(), NumError> {
        let s = Step::finest_for(text)?;
        self.tick = Some(self.tick.map_or(s, |t| t.finer(s)));
        Ok(())
    }

    /// Observes one size's text.
    pub fn qty(&mut self, text: &[u8]) -> Result<(), NumError> {
        let s = Step::finest_for(text)?;
        self.lot = Some(self.lot.map_or(s, |t| t.finer(s)));
        Ok(())
    }

    /// The learned tick and lot (`1` for a side that saw no number).
    pub fn finish(self) -> (Step, Step) {
        (self.tick.unwrap_or(Step::ONE), self.lot.unwrap_or(Step::ONE))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_table_is_valid_and_unique() {
        let mut seen = std::collections::HashSet::new();
        for &(venue, symbol, tick, lot) in BUILTIN {
            assert!(Step::parse(tick).is_ok(), "{venue}:{symbol} tick {tick}");
            assert!(Step::parse(lot).is_ok(), "{venue}:{symbol} lot {lot}");
            assert!(seen.insert((venue, symbol)), "duplicate {venue}:{symbol}");
        }
        assert_eq!(InstrumentRegistry::with_builtins().known.len(), BUILTIN.len());
    }

    #[test]
    fn venue_names_round_trip() {
        for v in Venue::ALL {
            assert_eq!(Venue::from_name(v.name()), Some(v));
        }
        assert_eq!(Venue::from_name("nasdaq"), None);
    }

    #[test]
    fn binance_symbols_are_case_insensitive() {
        let reg = InstrumentRegistry::with_builtins();
        assert!(reg.lookup(Venue::Binance, "btcusdt").is_some());
        assert!(reg.lookup(Venue::Coinbase, "btc-usd").is_none());
    }

    #[test]
    fn precedence_configured_over_builtin_over_learned() {
        let mut reg = InstrumentRegistry::with_builtins();
        let fine = Step::parse("0.001").unwrap();
        // Learning does not override a built-in value.
        let got = reg.learn(Venue::Binance, "BTCUSDT", fine, fine);
        assert_eq!(got.source, StepSource::Builtin);
        assert_eq!(got.tick, Step::parse("0.01").unwrap());
        // Configuration does.
        reg.configure(Venue::Binance, "BTCUSDT", fine, fine);
        assert_eq!(reg.lookup(Venue::Binance, "BTCUSDT").unwrap().tick, fine);
        // An unknown instrument is learned, and a second learning replaces the first.
        let l = reg.learn(Venue::Okx, "NEW-USDT", fine, fine);
        assert_eq!(l.source, StepSource::Learned);
        let finer = Step::parse("0.0001").unwrap();
        assert_eq!(reg.learn(Venue::Okx, "NEW-USDT", finer, fine).tick, finer);
    }

    #[test]
    fn configure_line() {
        let mut reg = InstrumentRegistry::new();
        let i = reg.configure_line("binance:DOGEUSDT 0.00001 1").unwrap();
        assert_eq!(i.tick, Step::parse("0.00001").unwrap());
        assert_eq!(i.price_ticks(b"0.12345"), Ok(12_345));
        assert_eq!(i.format_price(12_345), "0.12345");
        assert!(matches!(reg.configure_line("binance DOGEUSDT 1 1"), Err(ConfigError::Shape(_))));
        assert!(matches!(reg.configure_line("nyse:IBM 0.01 1"), Err(ConfigError::Venue(_))));
        assert!(matches!(reg.configure_line("okx:X 0 1"), Err(ConfigError::Step(..))));
        assert!(matches!(reg.configure_line("okx:X 1"), Err(ConfigError::Shape(_))));
        assert!(matches!(reg.configure_line("okx: 1 1"), Err(ConfigError::Shape(_))));
    }

    #[test]
    fn learner_takes_finest_places() {
        let mut l = StepLearner::default();
        for p in [&b"0.35130000"[..], b"0.3475", b"1"] {
            l.price(p).unwrap();
        }
        l.qty(b"6195.00000000").unwrap();
        let (tick, lot) = l.finish();
        assert_eq!(tick, Step::parse("0.0001").unwrap());
        assert_eq!(lot, Step::parse("1").unwrap());
        assert!(l.price(b"abc").is_err());
        let (t, q) = StepLearner::default().finish();
        assert_eq!((t, q), (Step::parse("1").unwrap(), Step::parse("1").unwrap()));
    }
}
