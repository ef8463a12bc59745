//! One type for every adapter, chosen at run time by venue (replay, the command line, fuzzing).

use super::binance::Binance;
use super::bitfinex::Bitfinex;
use super::bitmex::Bitmex;
use super::bybit::Bybit;
use super::coinbase::{CoinbaseAdvanced, CoinbaseExchange};
use super::deribit::Deribit;
use super::gemini::{GeminiV1, GeminiV2};
use super::hyperliquid::Hyperliquid;
use super::kraken::{KrakenV1, KrakenV2};
use super::krakenfutures::KrakenFutures;
use super::okx::Okx;
use super::scan::{Kernel, ScanControls};
use super::{Adapter, Parsed, SymbolIdx, Symbols, VenueError};
use crate::book::{InstrumentRegistry, Venue};

/// Any venue adapter. Dispatch is a `match`, not a virtual call.
#[derive(Debug)]
pub enum AnyAdapter {
    /// Binance spot or USD-M futures.
    Binance(Binance),
    /// Coinbase Advanced Trade.
    CoinbaseAdvanced(CoinbaseAdvanced),
    /// Coinbase Exchange.
    CoinbaseExchange(CoinbaseExchange),
    /// Bitfinex v2.
    Bitfinex(Bitfinex),
    /// Kraken v2.
    KrakenV2(KrakenV2),
    /// Kraken v1.
    KrakenV1(KrakenV1),
    /// OKX v5.
    Okx(Okx),
    /// Gemini v2.
    GeminiV2(GeminiV2),
    /// Gemini v1 (one symbol per connection).
    GeminiV1(GeminiV1),
    /// Bybit v5 (spot, linear, inverse).
    Bybit(Bybit),
    /// Deribit v2.
    Deribit(Deribit),
    /// Hyperliquid.
    Hyperliquid(Hyperliquid),
    /// Kraken Futures.
    KrakenFutures(KrakenFutures),
    /// BitMEX.
    Bitmex(Bitmex),
}

impl AnyAdapter {
    /// The adapter for `venue`. Gemini v1 needs the connection's symbol (`symbol`); the
    /// others ignore it. Kraken v2 books are subscribed at depth 10 (the venue's default).
    pub fn new(
        venue: Venue,
        registry: InstrumentRegistry,
        symbol: Option<&str>,
    ) -> Result<AnyAdapter, VenueError> {
        Ok(match venue {
            Venue::Binance => AnyAdapter::Binance(Binance::spot(registry)),
            Venue::BinanceFutures => AnyAdapter::Binance(Binance::futures(registry)),
            Venue::BinanceCoinM => AnyAdapter::Binance(Binance::coinm(registry)),
            Venue::Coinbase => AnyAdapter::CoinbaseAdvanced(CoinbaseAdvanced::new(registry)),
            Venue::CoinbaseExchange => {
                AnyAdapter::CoinbaseExchange(CoinbaseExchange::new(registry))
            }
            Venue::Bitfinex => AnyAdapter::Bitfinex(Bitfinex::new(registry)),
            Venue::Kraken => {
                AnyAdapter::KrakenV2(KrakenV2::new(registry, super::kraken::V2_DEFAULT_DEPTH))
            }
            Venue::KrakenV1 => AnyAdapter::KrakenV1(KrakenV1::new(registry)),
            Venue::Okx => AnyAdapter::Okx(Okx::new(registry)),
            Venue::Gemini => AnyAdapter::GeminiV2(GeminiV2::new(registry)),
            Venue::GeminiV1 => {
                let symbol = symbol.ok_or(VenueError::UnknownSymbol)?;
                AnyAdapter::GeminiV1(GeminiV1::new(registry, symbol)?)
            }
            Venue::Deribit => AnyAdapter::Deribit(Deribit::new(registry)),
            Venue::Hyperliquid => AnyAdapter::Hyperliquid(Hyperliquid::new(registry)),
            Venue::KrakenFutures => AnyAdapter::KrakenFutures(KrakenFutures::new(registry)),
            Venue::Bitmex => AnyAdapter::Bitmex(Bitmex::new(registry)),
            Venue::BybitSpot | Venue::BybitLinear | Venue::BybitInverse => {
                AnyAdapter::Bybit(Bybit::new(venue, registry, super::bybit::DEFAULT_DEPTH))
            }
        })
    }
}

impl AnyAdapter {
    /// Subscribes the venue's derivatives channels with its books, where it has them
    /// (Binance USD-M and COIN-M, OKX swaps and futures, Bybit linear and inverse, Kraken
    /// Futures, BitMEX; Deribit's tickers, which carry them, are always subscribed); other venues
    /// ignore it.
    pub fn set_derivatives(&mut self, on: bool) {
        match self {
            AnyAdapter::Binance(a) => a.derivatives = on,
            AnyAdapter::Okx(a) => a.derivatives = on,
            AnyAdapter::Bybit(a) => a.derivatives = on,
            AnyAdapter::KrakenFutures(a) => a.derivatives = on,
            AnyAdapter::Bitmex(a) => a.derivatives = on,
            _ => {}
        }
    }

    /// Frames of several connections arrive merged (redundant lines,
    /// [`crate::session::arbiter`]): a venue whose sequence numbers count a connection's
    /// messages (Coinbase Advanced Trade, Gemini v1, Bitfinex) leaves checking them to the
    /// arbiter, per line.
    pub fn set_merged_lines(&mut self, on: bool) {
        match self {
            AnyAdapter::CoinbaseAdvanced(a) => a.merged = on,
            AnyAdapter::GeminiV1(a) => a.merged = on,
            AnyAdapter::Bitfinex(a) => a.merged = on,
            AnyAdapter::Bitmex(a) => a.merged = on,
            _ => {}
        }
    }

    /// Whether the frames now coming are applied once more, after a message the line in
    /// front lost was put back in its place (redundant lines arbitrated by content): BitMEX
    /// then expects rows that contradict its book; the others ignore it.
    pub fn set_repeating(&mut self, on: bool) {
        if let AnyAdapter::Bitmex(a) = self {
            a.set_repeating(on);
        }
    }

    /// The line (redundant connections) the next frames come from, for a venue whose
    /// messages name a connection's own channel ids (Bitfinex); the others ignore it.
    pub fn set_line(&mut self, line: usize) {
        if let AnyAdapter::Bitfinex(a) = self {
            a.set_line(line);
        }
    }
}

/// `$e` on the adapter `$a` of a venue with a scanner, `$otherwise` for the others (Deribit,
/// Gemini v1, Kraken v2), which always read with simd-json.
macro_rules! scanning {
    ($self:expr, $a:ident => $e:expr, _ => $otherwise:expr) => {
        match $self {
            AnyAdapter::Binance($a) => $e,
            AnyAdapter::Bitfinex($a) => $e,
            AnyAdapter::Bitmex($a) => $e,
            AnyAdapter::Bybit($a) => $e,
            AnyAdapter::CoinbaseAdvanced($a) => $e,
            AnyAdapter::CoinbaseExchange($a) => $e,
            AnyAdapter::GeminiV2($a) => $e,
            AnyAdapter::Hyperliquid($a) => $e,
            AnyAdapter::KrakenFutures($a) => $e,
            AnyAdapter::KrakenV1($a) => $e,
            AnyAdapter::Okx($a) => $e,
            AnyAdapter::Deribit(_) | AnyAdapter::GeminiV1(_) | AnyAdapter::KrakenV2(_) => {
                $otherwise
            }
        }
    };
}

/// The controls of the venue's scanner where it has one (Binance, Bitfinex, BitMEX, Bybit,
/// Coinbase Advanced and Exchange, Gemini v2, Hyperliquid, Kraken Futures, Kraken v1, OKX).
/// The other venues always read with simd-json: `set_parser` and `set_scan_kernel` leave
/// them unchanged and `parser` answers [`Parser::SimdJson`](super::Parser::SimdJson).
impl ScanControls for AnyAdapter {
    fn set_parser(&mut self, parser: super::Parser) {
        scanning!(self, a => a.set_parser(parser), _ => {})
    }

    fn parser(&self) -> super::Parser {
        scanning!(self, a => a.parser(), _ => super::Parser::SimdJson)
    }

    fn set_scan_kernel(&mut self, kernel: Kernel) {
        scanning!(self, a => a.set_scan_kernel(kernel), _ => {})
    }
}

macro_rules! each {
    ($self:expr, $a:ident => $e:expr) => {
        match $self {
            AnyAdapter::Binance($a) => $e,
            AnyAdapter::CoinbaseAdvanced($a) => $e,
            AnyAdapter::CoinbaseExchange($a) => $e,
            AnyAdapter::Bitfinex($a) => $e,
            AnyAdapter::KrakenV2($a) => $e,
            AnyAdapter::KrakenV1($a) => $e,
            AnyAdapter::Okx($a) => $e,
            AnyAdapter::GeminiV2($a) => $e,
            AnyAdapter::GeminiV1($a) => $e,
            AnyAdapter::Bybit($a) => $e,
            AnyAdapter::Deribit($a) => $e,
            AnyAdapter::Hyperliquid($a) => $e,
            AnyAdapter::KrakenFutures($a) => $e,
            AnyAdapter::Bitmex($a) => $e,
        }
    };
}

impl Adapter for AnyAdapter {
    fn venue(&self) -> Venue {
        each!(self, a => a.venue())
    }

    #[inline]
    fn handle_frame(
        &mut self,
        frame: &[u8],
        local_ts: u64,
        out: &mut Parsed,
    ) -> Result<(), VenueError> {
        each!(self, a => a.handle_frame(frame, local_ts, out))
    }

    fn handle_http(
        &mut self,
        url: &str,
        body: &[u8],
        local_ts: u64,
        out: &mut Parsed,
    ) -> Result<(), VenueError> {
        each!(self, a => a.handle_http(url, body, local_ts, out))
    }

    fn resync(&mut self, symbol: SymbolIdx) {
        each!(self, a => a.resync(symbol))
    }

    fn reset_connection(&mut self) {
        each!(self, a => a.reset_connection())
    }

    fn symbols(&self) -> &Symbols {
        each!(self, a => a.symbols())
    }

    fn symbols_mut(&mut self) -> &mut Symbols {
        each!(self, a => a.symbols_mut())
    }

    fn subscribe_messages(&self, symbols: &[&str]) -> Vec<String> {
        each!(self, a => a.subscribe_messages(symbols))
    }

    fn unsubscribe_messages(&self, symbols: &[&str]) -> Vec<String> {
        each!(self, a => a.unsubscribe_messages(symbols))
    }

    fn resubscribe_book_messages(&self, symbol: &str) -> Option<Vec<String>> {
        each!(self, a => a.resubscribe_book_messages(symbol))
    }

    fn subscription_budget(&self) -> Option<(usize, std::time::Duration)> {
        each!(self, a => a.subscription_budget())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::venue::scan::KernelKind;
    use crate::venue::Parser;

    /// Every venue's adapter reports the parser it reads with: the scanner by default where
    /// the venue has one (and simd-json once asked for it), simd-json always elsewhere.
    #[test]
    fn the_parser_choice_reaches_every_scanning_venue() {
        let without = [Venue::Kraken, Venue::GeminiV1, Venue::Deribit];
        for venue in Venue::ALL {
            let mut a = AnyAdapter::new(venue, InstrumentRegistry::with_builtins(), Some("BTCUSD"))
                .expect("every venue has an adapter");
            let scans = !without.contains(&venue);
            let default = if scans { Parser::Scan } else { Parser::SimdJson };
            assert_eq!(a.parser(), default, "{venue:?}");
            if let Some(k) = Kernel::forced(KernelKind::Portable) {
                a.set_scan_kernel(k);
            }
            a.set_parser(Parser::SimdJson);
            assert_eq!(a.parser(), Parser::SimdJson, "{venue:?}");
            a.set_parser(Parser::Scan);
            assert_eq!(a.parser(), default, "{venue:?}");
        }
    }
}
