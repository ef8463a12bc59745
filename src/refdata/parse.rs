//! The venues' instrument answers, field by field (names as each venue documents them).

use simd_json::prelude::{
    TypedScalarValue, ValueAsArray, ValueAsObject, ValueAsScalar, ValueObjectAccess,
};
use simd_json::BorrowedValue as Json;

use super::{InstrumentKind, RefError, RefInstrument, RefTable};
use crate::book::{Step, Venue};
use crate::venue::time::rfc3339_ns;

/// The option families OKX is asked for when no symbol names one.
const OKX_OPTION_FAMILIES: [&str; 2] = ["BTC-USD", "ETH-USD"];

/// The path and query of a URL (`/api/v3/exchangeInfo`), without scheme and host.
fn path_of(url: &str) -> &str {
    match url.split_once("://") {
        Some((_, rest)) => rest.find('/').map_or("/", |i| &rest[i..]),
        None => url,
    }
}

/// The first requests of `venue`'s plan: paths from the REST base, each with the JSON body of
/// a POST (`None`: a GET).
pub(super) fn first_requests(venue: Venue, symbols: &[String]) -> Vec<(String, Option<String>)> {
    if venue == Venue::Hyperliquid {
        let info = |body: String| ("/info".to_owned(), Some(body));
        let mut requests: Vec<_> =
            ["meta", "spotMeta"].iter().map(|t| info(format!(r#"{{"type":"{t}"}}"#))).collect();
        // A HIP-3 perpetual (`xyz:XYZ100`) is listed only in its own dex's `meta`.
        for dex in hyperliquid_dexes(symbols) {
            requests.push(info(format!(r#"{{"type":"meta","dex":"{dex}"}}"#)));
        }
        return requests;
    }
    first_paths(venue, symbols).into_iter().map(|p| (p, None)).collect()
}

/// The builder-deployed (HIP-3) perp dexes `symbols` name, each once, in order: the part before
/// the `:` of `dex:COIN`. Hyperliquid names a dex in ASCII letters and digits; a prefix that is
/// not such a name asks for nothing (that symbol's steps are then learned from its messages).
fn hyperliquid_dexes(symbols: &[String]) -> Vec<&str> {
    let mut dexes: Vec<&str> = Vec::new();
    for s in symbols {
        let Some((dex, coin)) = s.split_once(':') else { continue };
        let named = !dex.is_empty() && dex.bytes().all(|b| b.is_ascii_alphanumeric());
        if named && !coin.is_empty() && !dexes.contains(&dex) {
            dexes.push(dex);
        }
    }
    dexes
}

/// The first GETs of `venue`'s plan (paths from the REST base).
fn first_paths(venue: Venue, symbols: &[String]) -> Vec<String> {
    let one = |p: &str| vec![p.to_owned()];
    match venue {
        Venue::Binance => one("/api/v3/exchangeInfo"),
        Venue::BinanceFutures => one("/fapi/v1/exchangeInfo"),
        Venue::BinanceCoinM => one("/dapi/v1/exchangeInfo"),
        Venue::Coinbase => one("/api/v3/brokerage/market/products"),
        Venue::CoinbaseExchange => one("/products"),
        Venue::Kraken | Venue::KrakenV1 => one("/0/public/AssetPairs"),
        Venue::Bitfinex => {
            vec!["/v2/conf/pub:list:pair:exchange".into(), "/v2/conf/pub:info:pair".into()]
        }
        Venue::Gemini | Venue::GeminiV1 => one("/v1/symbols"),
        // POSTs: see `first_requests`.
        Venue::Hyperliquid => Vec::new(),
        Venue::KrakenFutures => one("/derivatives/api/v3/instruments"),
        Venue::Bitmex => one("/api/v1/instrument/active"),
        Venue::Deribit => {
            let mut currencies: Vec<String> = Vec::new();
            for s in symbols {
                // `BTC-PERPETUAL`, `ETH-30JUL21-2800-C`; linear `SOL_USDC-PERPETUAL` (USDC).
                let head = s.split('-').next().unwrap_or_default();
                let c = head.split_once('_').map_or(head, |(_, quote)| quote).to_owned();
                if !c.is_empty() && !currencies.contains(&c) {
                    currencies.push(c);
                }
            }
            if currencies.is_empty() {
                currencies = ["BTC", "ETH", "USDC"].iter().map(|c| (*c).to_owned()).collect();
            }
            currencies
                .iter()
                .map(|c| format!("/api/v2/public/get_instruments?currency={c}&expired=false"))
                .collect()
        }
        Venue::BybitSpot | Venue::BybitLinear | Venue::BybitInverse => {
            vec![format!(
                "/v5/market/instruments-info?category={}&limit=1000",
                bybit_category(venue)
            )]
        }
        Venue::Okx => {
            let mut paths: Vec<String> = ["SPOT", "SWAP", "FUTURES"]
                .iter()
                .map(|t| format!("/api/v5/public/instruments?instType={t}"))
                .collect();
            let mut families: Vec<String> = Vec::new();
            if symbols.is_empty() {
                families.extend(OKX_OPTION_FAMILIES.iter().map(|f| (*f).to_owned()));
            }
            for s in symbols {
                // `ETH-USD-220325-8800-P`: an option of the `ETH-USD` family.
                let parts: Vec<&str> = s.split('-').collect();
                if parts.len() == 5 && matches!(parts[4], "C" | "P") {
                    let family = format!("{}-{}", parts[0], parts[1]);
                    if !families.contains(&family) {
                        families.push(family);
                    }
                }
            }
            paths.extend(
                families
                    .iter()
                    .map(|f| format!("/api/v5/public/instruments?instType=OPTION&instFamily={f}")),
            );
            paths
        }
    }
}

/// Whether `url` is one of `venue`'s instrument endpoints (a recorded answer to feed the
/// table, not a book snapshot).
pub fn is_reference_url(venue: Venue, url: &str) -> bool {
    let path = path_of(url);
    let route = path.split_once('?').map_or(path, |(r, _)| r);
    match venue {
        Venue::Binance => route.ends_with("/api/v3/exchangeInfo"),
        Venue::BinanceFutures => route.ends_with("/fapi/v1/exchangeInfo"),
        Venue::BinanceCoinM => route.ends_with("/dapi/v1/exchangeInfo"),
        Venue::Coinbase => {
            route.ends_with("/api/v3/brokerage/market/products")
                || route.ends_with("/api/v3/brokerage/products")
        }
        Venue::CoinbaseExchange => route == "/products",
        Venue::Kraken | Venue::KrakenV1 => route.ends_with("/0/public/AssetPairs"),
        Venue::Okx => route.ends_with("/api/v5/public/instruments"),
        Venue::Bitfinex => {
            route.ends_with("/conf/pub:list:pair:exchange")
                || route.ends_with("/conf/pub:info:pair")
        }
        Venue::Gemini | Venue::GeminiV1 => {
            route.ends_with("/v1/symbols") || route.contains("/v1/symbols/details/")
        }
        Venue::BybitSpot | Venue::BybitLinear | Venue::BybitInverse => {
            route.ends_with("/v5/market/instruments-info")
        }
        Venue::Deribit => route.ends_with("/public/get_instruments"),
        // `POST /info` answers more than instruments, but only the instrument answers are
        // requested or recorded by this crate (the feed needs no REST snapshot).
        Venue::Hyperliquid => route.ends_with("/info"),
        Venue::KrakenFutures => route.ends_with("/derivatives/api/v3/instruments"),
        Venue::Bitmex => route.ends_with("/api/v1/instrument/active"),
    }
}

/// Bybit's `category` of a Bybit venue.
fn bybit_category(venue: Venue) -> &'static str {
    match venue {
        Venue::BybitSpot => "spot",
        Venue::BybitInverse => "inverse",
        _ => "linear",
    }
}

/// Parses one recorded answer into `table` (follow-up requests are not made: a recording
/// holds the answers it got).
pub fn parse_body(table: &mut RefTable, url: &str, body: &[u8]) -> Result<(), RefError> {
    parse_into(table, url, body, &[]).map(|_| ())
}

/// Parses the answer to `url` into `table`; returns the follow-up paths it calls for.
pub(super) fn parse_into(
    table: &mut RefTable,
    url: &str,
    body: &[u8],
    symbols: &[String],
) -> Result<Vec<String>, RefError> {
    let venue = table.venue;
    if !is_reference_url(venue, url) {
        return Err(RefError::NotReference(url.to_owned()));
    }
    let shape = |why: &str| RefError::Shape { url: url.to_owned(), why: why.to_owned() };
    let mut buf = body.to_vec();
    let doc = simd_json::to_borrowed_value(&mut buf).map_err(|e| shape(&e.to_string()))?;
    let path = path_of(url);
    let mut follow = Vec::new();
    match venue {
        Venue::Binance | Venue::BinanceFutures | Venue::BinanceCoinM => {
            binance(table, &doc).map_err(shape)?
        }
        Venue::Coinbase => coinbase_advanced(table, &doc).map_err(shape)?,
        Venue::CoinbaseExchange => coinbase_exchange(table, &doc).map_err(shape)?,
        Venue::Kraken | Venue::KrakenV1 => kraken(table, &doc).map_err(shape)?,
        Venue::Okx => okx(table, &doc).map_err(shape)?,
        Venue::Bitfinex => bitfinex(table, path, &doc).map_err(shape)?,
        Venue::Deribit => deribit(table, &doc).map_err(shape)?,
        Venue::Hyperliquid => hyperliquid(table, &doc).map_err(shape)?,
        Venue::KrakenFutures => kraken_futures(table, &doc).map_err(shape)?,
        Venue::Bitmex => bitmex(table, &doc).map_err(shape)?,
        Venue::BybitSpot | Venue::BybitLinear | Venue::BybitInverse => {
            if let Some(cursor) = bybit(table, &doc).map_err(shape)? {
                let first = path.split("&cursor=").next().unwrap_or(path);
                follow.push(format!("{first}&cursor={}", percent_encode(&cursor)));
            }
        }
        Venue::Gemini | Venue::GeminiV1 => {
            if path.contains("/details/") {
                gemini_details(table, &doc).map_err(shape)?;
            } else {
                let list = doc.as_array().ok_or_else(|| shape("expected a list of symbols"))?;
                for s in list.iter().filter_map(|s| s.as_str()) {
                    if symbols.is_empty() || symbols.iter().any(|w| w.eq_ignore_ascii_case(s)) {
                        follow.push(format!("/v1/symbols/details/{}", s.to_ascii_lowercase()));
                    }
                }
            }
        }
    }
    Ok(follow)
}

/// A decimal from a JSON string or number, as text (`0.000001` for the number 1e-6: a
/// float's shortest text is the one the venue wrote).
fn dec(v: Option<&Json>) -> Option<String> {
    let v = v?;
    if let Some(s) = v.as_str() {
        let s = s.trim();
        return (!s.is_empty()).then(|| s.to_owned());
    }
    if let Some(u) = v.as_u64() {
        return Some(u.to_string());
    }
    if let Some(i) = v.as_i64() {
        return Some(i.to_string());
    }
    v.as_f64().filter(|f| f.is_finite()).map(|f| format!("{f}"))
}

/// A decimal text without trailing zeros (`0.00001000` is `0.00001`).
fn trim_dec(s: String) -> String {
    if !s.contains('.') || s.contains(['e', 'E']) {
        return s;
    }
    s.trim_end_matches('0').trim_end_matches('.').to_owned()
}

fn step(v: Option<&Json>) -> Option<Step> {
    Step::parse(&dec(v)?).ok()
}

fn text(v: Option<&Json>) -> String {
    v.and_then(|v| v.as_str()).unwrap_or_default().to_owned()
}

fn int(v: Option<&Json>) -> Option<u64> {
    let v = v?;
    v.as_u64().or_else(|| v.as_str().and_then(|s| s.trim().parse().ok()))
}

fn row(symbol: String, kind: InstrumentKind, tick: Step, lot: Step) -> RefInstrument {
    RefInstrument {
        symbol,
        kind,
        tick,
        lot,
        min_size: None,
        contract_value: None,
        settle: None,
        expiry_ms: None,
        status: String::new(),
        trading: false,
    }
}

fn binance(table: &mut RefTable, doc: &Json) -> Result<(), &'static str> {
    let list = doc.get("symbols").and_then(|s| s.as_array()).ok_or("no `symbols` list")?;
    for s in list {
        let symbol = text(s.get("symbol"));
        let filters = s.get("filters").and_then(|f| f.as_array());
        let filter = |name: &str| {
            filters.and_then(|fs| {
                fs.iter().find(|f| f.get("filterType").and_then(|t| t.as_str()) == Some(name))
            })
        };
        let tick = filter("PRICE_FILTER").and_then(|f| step(f.get("tickSize")));
        let lot = filter("LOT_SIZE").and_then(|f| step(f.get("stepSize")));
        let (Some(tick), Some(lot)) = (tick, lot) else {
            table.skipped += 1;
            continue;
        };
        if symbol.is_empty() {
            table.skipped += 1;
            continue;
        }
        let contract = text(s.get("contractType"));
        let kind = match contract.as_str() {
            "" if table.venue == Venue::Binance => InstrumentKind::Spot,
            "PERPETUAL" | "TRADIFI_PERPETUAL" | "" => InstrumentKind::Perpetual,
            _ => InstrumentKind::Future,
        };
        let mut r = row(symbol, kind, tick, lot);
        r.min_size = filter("LOT_SIZE").and_then(|f| dec(f.get("minQty"))).map(trim_dec);
        r.status = text(s.get("status").or_else(|| s.get("contractStatus")));
        r.trading = r.status == "TRADING";
        if kind != InstrumentKind::Spot {
            r.settle = Some(text(s.get("marginAsset"))).filter(|m| !m.is_empty());
            r.contract_value = dec(s.get("contractSize")).map(trim_dec);
        }
        if kind == InstrumentKind::Future {
            r.expiry_ms = int(s.get("deliveryDate"));
        }
        table.upsert(r);
    }
    Ok(())
}

fn coinbase_advanced(table: &mut RefTable, doc: &Json) -> Result<(), &'static str> {
    let list = doc.get("products").and_then(|s| s.as_array()).ok_or("no `products` list")?;
    for p in list {
        let symbol = text(p.get("product_id"));
        // `price_increment` is the book's tick; `quote_increment` the quote currency's.
        let tick = step(p.get("price_increment")).or_else(|| step(p.get("quote_increment")));
        let (Some(tick), Some(lot)) = (tick, step(p.get("base_increment"))) else {
            table.skipped += 1;
            continue;
        };
        let future = p.get("future_product_details");
        let kind = match (text(p.get("product_type")).as_str(), future) {
            ("FUTURE", Some(f)) if text(f.get("contract_expiry_type")) == "PERPETUAL" => {
                InstrumentKind::Perpetual
            }
            ("FUTURE", _) => InstrumentKind::Future,
            _ => InstrumentKind::Spot,
        };
        let mut r = row(symbol, kind, tick, lot);
        r.min_size = dec(p.get("base_min_size")).map(trim_dec);
        r.status = text(p.get("status"));
        let disabled = p.get("trading_disabled").and_then(|d| d.as_bool()).unwrap_or(false)
            || p.get("is_disabled").and_then(|d| d.as_bool()).unwrap_or(false);
        r.trading = r.status == "online" && !disabled;
        if let Some(f) = future.filter(|f| !f.is_null()) {
            r.contract_value = dec(f.get("contract_size")).map(trim_dec);
            r.expiry_ms = f
                .get("contract_expiry")
                .and_then(|e| e.as_str())
                .and_then(|e| rfc3339_ns(e.as_bytes()))
                .map(|ns| ns / 1_000_000)
                .filter(|_| kind == InstrumentKind::Future);
        }
        table.upsert(r);
    }
    Ok(())
}

fn coinbase_exchange(table: &mut RefTable, doc: &Json) -> Result<(), &'static str> {
    let list = doc.as_array().ok_or("expected a list of products")?;
    for p in list {
        let symbol = text(p.get("id"));
        let (Some(tick), Some(lot)) =
            (step(p.get("quote_increment")), step(p.get("base_increment")))
        else {
            table.skipped += 1;
            continue;
        };
        let mut r = row(symbol, InstrumentKind::Spot, tick, lot);
        r.min_size = dec(p.get("base_min_size")).map(trim_dec);
        r.status = text(p.get("status"));
        let disabled = p.get("trading_disabled").and_then(|d| d.as_bool()).unwrap_or(false);
        r.trading = r.status == "online" && !disabled;
        table.upsert(r);
    }
    Ok(())
}

/// Kraken's own asset codes that its v2 feed writes as ISO codes.
const KRAKEN_V2_NAMES: [(&str, &str); 2] = [("XBT", "BTC"), ("XDG", "DOGE")];

fn kraken(table: &mut RefTable, doc: &Json) -> Result<(), &'static str> {
    if doc.get("error").and_then(|e| e.as_array()).is_some_and(|e| !e.is_empty()) {
        return Err("the venue answered with an error");
    }
    let pairs = doc.get("result").and_then(|r| r.as_object()).ok_or("no `result` object")?;
    for (_, p) in pairs.iter() {
        let Some(wsname) = p.get("wsname").and_then(|w| w.as_str()) else {
            // Dark-pool pairs have no WebSocket name.
            table.skipped += 1;
            continue;
        };
        let decimals = |k: &str| int(p.get(k)).and_then(|d| u8::try_from(d).ok());
        let tick = step(p.get("tick_size"))
            .or_else(|| decimals("pair_decimals").and_then(|d| Step::from_decimals(d).ok()));
        let lot = decimals("lot_decimals").and_then(|d| Step::from_decimals(d).ok());
        let (Some(tick), Some(lot)) = (tick, lot) else {
            table.skipped += 1;
            continue;
        };
        let symbol = if table.venue == Venue::Kraken {
            wsname
                .split('/')
                .map(|a| KRAKEN_V2_NAMES.iter().find(|(k, _)| *k == a).map_or(a, |(_, v)| *v))
                .collect::<Vec<_>>()
                .join("/")
        } else {
            wsname.to_owned()
        };
        let mut r = row(symbol, InstrumentKind::Spot, tick, lot);
        r.min_size = dec(p.get("ordermin")).map(trim_dec);
        // Old answers carry no status: the pair was listed, so it traded.
        r.status = p.get("status").and_then(|s| s.as_str()).unwrap_or("online").to_owned();
        r.trading = r.status == "online";
        table.upsert(r);
    }
    Ok(())
}

fn okx(table: &mut RefTable, doc: &Json) -> Result<(), &'static str> {
    if doc.get("code").and_then(|c| c.as_str()).is_some_and(|c| c != "0") {
        return Err("the venue answered with an error code");
    }
    let list = doc.get("data").and_then(|d| d.as_array()).ok_or("no `data` list")?;
    for i in list {
        let symbol = text(i.get("instId"));
        let (Some(tick), Some(lot)) = (step(i.get("tickSz")), step(i.get("lotSz"))) else {
            table.skipped += 1;
            continue;
        };
        let kind = match text(i.get("instType")).as_str() {
            "SWAP" => InstrumentKind::Perpetual,
            "FUTURES" => InstrumentKind::Future,
            "OPTION" => InstrumentKind::Option,
            _ => InstrumentKind::Spot,
        };
        let mut r = row(symbol, kind, tick, lot);
        r.min_size = dec(i.get("minSz")).map(trim_dec);
        if kind != InstrumentKind::Spot {
            // The contract's value is `ctVal × ctMult` (an option: 1 × 0.01 BTC).
            r.contract_value = match (step(i.get("ctVal")), step(i.get("ctMult"))) {
                (Some(v), Some(m)) => v.mantissa().checked_mul(m.mantissa()).and_then(|p| {
                    Step::new(p, v.scale().checked_add(m.scale())?).ok().map(|s| s.to_string())
                }),
                (Some(v), None) => Some(v.to_string()),
                _ => None,
            };
            r.settle = Some(text(i.get("settleCcy"))).filter(|s| !s.is_empty());
            r.expiry_ms = int(i.get("expTime"));
        }
        r.status = text(i.get("state"));
        r.trading = r.status == "live";
        table.upsert(r);
    }
    Ok(())
}

fn bitfinex(table: &mut RefTable, path: &str, doc: &Json) -> Result<(), &'static str> {
    let outer = doc.as_array().and_then(|a| a.first()).and_then(|a| a.as_array());
    let outer = outer.ok_or("expected [[…]]")?;
    // Five significant digits, at most eight decimals: 10^-8 holds every valid price.
    let fine = Step::from_decimals(8).map_err(|_| "step")?;
    if path.contains("pub:list:pair") {
        for p in outer.iter().filter_map(|p| p.as_str()) {
            let mut r = row(format!("t{p}"), InstrumentKind::Spot, fine, fine);
            if let Some(old) = table.get(&r.symbol) {
                r.min_size = old.min_size.clone();
            }
            r.status = "listed".into();
            r.trading = true;
            table.upsert(r);
        }
    } else {
        for e in outer {
            let Some(e) = e.as_array() else { continue };
            let (Some(name), Some(info)) =
                (e.first().and_then(|n| n.as_str()), e.get(1).and_then(|i| i.as_array()))
            else {
                table.skipped += 1;
                continue;
            };
            let symbol = format!("t{name}");
            let min = dec(info.get(3)).map(trim_dec);
            match table.instruments.iter_mut().find(|r| r.symbol == symbol) {
                Some(r) => r.min_size = min,
                None => {
                    // Listed in `info` but not among the exchange pairs: margin or delisted.
                    let mut r = row(symbol, InstrumentKind::Spot, fine, fine);
                    r.min_size = min;
                    r.status = "not listed".into();
                    table.upsert(r);
                }
            }
        }
    }
    Ok(())
}

/// Bybit v5 `instruments-info`; returns the next page's cursor, if any.
fn bybit(table: &mut RefTable, doc: &Json) -> Result<Option<String>, &'static str> {
    if doc.get("retCode").and_then(|c| c.as_i64()).is_some_and(|c| c != 0) {
        return Err("the venue answered with an error code");
    }
    let result = doc.get("result").ok_or("no `result`")?;
    let list = result.get("list").and_then(|l| l.as_array()).ok_or("no `result.list`")?;
    for i in list {
        let symbol = text(i.get("symbol"));
        let tick = i.get("priceFilter").and_then(|f| step(f.get("tickSize")));
        let lots = i.get("lotSizeFilter");
        // Derivatives step by `qtyStep`; spot by `basePrecision`.
        let lot =
            lots.and_then(|f| step(f.get("qtyStep")).or_else(|| step(f.get("basePrecision"))));
        let (Some(tick), Some(lot)) = (tick, lot) else {
            table.skipped += 1;
            continue;
        };
        let contract = text(i.get("contractType"));
        let kind = if table.venue == Venue::BybitSpot {
            InstrumentKind::Spot
        } else if contract.contains("Perpetual") {
            InstrumentKind::Perpetual
        } else {
            InstrumentKind::Future
        };
        let mut r = row(symbol, kind, tick, lot);
        r.min_size = lots.and_then(|f| dec(f.get("minOrderQty"))).map(trim_dec);
        if kind != InstrumentKind::Spot {
            r.settle = Some(text(i.get("settleCoin"))).filter(|s| !s.is_empty());
            r.expiry_ms = int(i.get("deliveryTime")).filter(|&t| t > 0);
        }
        r.status = text(i.get("status"));
        r.trading = r.status == "Trading";
        table.upsert(r);
    }
    let cursor = result.get("nextPageCursor").and_then(|c| c.as_str()).unwrap_or("");
    Ok((!cursor.is_empty() && !list.is_empty()).then(|| cursor.to_owned()))
}

/// Deribit `public/get_instruments`.
fn deribit(table: &mut RefTable, doc: &Json) -> Result<(), &'static str> {
    if doc.get("error").is_some() {
        return Err("the venue answered with an error");
    }
    let list = doc.get("result").and_then(|r| r.as_array()).ok_or("no `result` list")?;
    for i in list {
        let symbol = text(i.get("instrument_name"));
        let kind = match text(i.get("kind")).as_str() {
            "option" | "option_combo" => InstrumentKind::Option,
            "spot" => InstrumentKind::Spot,
            _ if text(i.get("settlement_period")) == "perpetual" => InstrumentKind::Perpetual,
            _ => InstrumentKind::Future,
        };
        // Amounts: options and linear instruments count the base coin (in steps of the
        // minimum trade amount); inverse futures count USD in contracts.
        let inverse = kind != InstrumentKind::Option
            && text(i.get("instrument_type")) != "linear"
            && i.get("contract_size").is_some();
        let lot =
            if inverse { step(i.get("contract_size")) } else { step(i.get("min_trade_amount")) };
        let (Some(tick), Some(lot)) = (step(i.get("tick_size")), lot) else {
            table.skipped += 1;
            continue;
        };
        let mut r = row(symbol, kind, tick, lot);
        r.min_size = dec(i.get("min_trade_amount")).map(trim_dec);
        r.contract_value = dec(i.get("contract_size")).map(trim_dec);
        r.settle = Some(text(i.get("settlement_currency")))
            .filter(|s| !s.is_empty())
            .or_else(|| Some(text(i.get("quote_currency"))).filter(|s| !s.is_empty()));
        if kind != InstrumentKind::Perpetual && kind != InstrumentKind::Spot {
            r.expiry_ms = int(i.get("expiration_timestamp"));
        }
        let active = i.get("is_active").and_then(|a| a.as_bool()).unwrap_or(false);
        r.status = if active { "active".into() } else { "inactive".into() };
        r.trading = active;
        table.upsert(r);
    }
    Ok(())
}

/// Kraken Futures `instruments`: WebSocket product ids are the symbols in upper case.
fn kraken_futures(table: &mut RefTable, doc: &Json) -> Result<(), &'static str> {
    if doc.get("result").and_then(|r| r.as_str()).is_some_and(|r| r != "success") {
        return Err("the venue answered with an error");
    }
    let list = doc.get("instruments").and_then(|l| l.as_array()).ok_or("no `instruments` list")?;
    for i in list {
        let symbol = text(i.get("symbol")).to_ascii_uppercase();
        let Some(tick) = step(i.get("tickSize")) else {
            // Indices (`in_`, `rr_`) have no tick: not tradeable.
            table.skipped += 1;
            continue;
        };
        let lot = match int(i.get("contractValueTradePrecision")) {
            Some(p) => u8::try_from(p).ok().and_then(|p| Step::from_decimals(p).ok()),
            None => Some(Step::ONE),
        };
        let Some(lot) = lot else {
            table.skipped += 1;
            continue;
        };
        let kind = if symbol.starts_with("PI_") || symbol.starts_with("PF_") {
            InstrumentKind::Perpetual
        } else {
            InstrumentKind::Future
        };
        let mut r = row(symbol, kind, tick, lot);
        r.contract_value = dec(i.get("contractSize")).map(trim_dec);
        if kind == InstrumentKind::Future {
            r.expiry_ms = i
                .get("lastTradingTime")
                .and_then(|t| t.as_str())
                .and_then(|t| rfc3339_ns(t.as_bytes()))
                .map(|ns| ns / 1_000_000);
        }
        let tradeable = i.get("tradeable").and_then(|t| t.as_bool()).unwrap_or(false);
        r.status = if tradeable { "tradeable".into() } else { "not tradeable".into() };
        r.trading = tradeable;
        table.upsert(r);
    }
    Ok(())
}

/// BitMEX `instrument/active`: ticks are `tickSize`; sizes count contracts, in lots of
/// `lotSize`; `multiplier` is the contract value. Indices (`typ` `MR…`) have no lot: skipped.
fn bitmex(table: &mut RefTable, doc: &Json) -> Result<(), &'static str> {
    if doc.get("error").is_some() {
        return Err("the venue answered with an error");
    }
    let list = doc.as_array().ok_or("expected a list of instruments")?;
    for i in list {
        let symbol = text(i.get("symbol"));
        let (Some(tick), Some(lot)) = (step(i.get("tickSize")), step(i.get("lotSize"))) else {
            table.skipped += 1;
            continue;
        };
        // `typ`: CFI-like codes (`FFWCSX` perpetual, `FFCCSX` future, `IFXXXP` spot,
        // `OCECCS`/`OPECCS` options).
        let typ = text(i.get("typ"));
        let kind = if typ.starts_with("FFW") {
            InstrumentKind::Perpetual
        } else if typ.starts_with("FF") {
            InstrumentKind::Future
        } else if typ.starts_with('O') {
            InstrumentKind::Option
        } else if typ.starts_with("IF") {
            InstrumentKind::Spot
        } else {
            table.skipped += 1;
            continue;
        };
        let mut r = row(symbol, kind, tick, lot);
        r.min_size = dec(i.get("lotSize")).map(trim_dec);
        r.contract_value = dec(i.get("multiplier")).map(trim_dec);
        r.settle = Some(text(i.get("settlCurrency"))).filter(|s| !s.is_empty());
        if kind == InstrumentKind::Future || kind == InstrumentKind::Option {
            r.expiry_ms = i
                .get("expiry")
                .and_then(|t| t.as_str())
                .and_then(|t| rfc3339_ns(t.as_bytes()))
                .map(|ns| ns / 1_000_000);
        }
        r.status = text(i.get("state"));
        r.trading = r.status == "Open";
        table.upsert(r);
    }
    Ok(())
}

/// Hyperliquid's most price decimals before `szDecimals` are taken off: perpetuals.
const HYPERLIQUID_PERP_DECIMALS: u8 = 6;
/// Hyperliquid's most price decimals before `szDecimals` are taken off: spot.
const HYPERLIQUID_SPOT_DECIMALS: u8 = 8;

/// Hyperliquid `POST /info`: a `meta` answer (`universe` of perpetuals; a HIP-3 dex's names its
/// perpetuals `dex:COIN`) or a `spotMeta` one (`tokens` and a `universe` of pairs naming their
/// `[base, quote]` token indices), told apart by `tokens`. Sizes have `szDecimals` decimals (a
/// pair's are its base token's); prices at most `MAX_DECIMALS - szDecimals` (see the
/// [module docs](super)), the tick given here; a HIP-3 perpetual follows the perpetuals' rule.
fn hyperliquid(table: &mut RefTable, doc: &Json) -> Result<(), &'static str> {
    if doc.is_null() {
        return Err("`null`, the answer for a perp dex the venue does not know");
    }
    let universe = doc.get("universe").and_then(|u| u.as_array());
    let sz_decimals = |v: &Json| int(v.get("szDecimals")).and_then(|d| u8::try_from(d).ok());
    let steps = |max: u8, sz: Option<u8>| {
        let sz = sz?;
        Some((Step::from_decimals(max.checked_sub(sz)?).ok()?, Step::from_decimals(sz).ok()?))
    };
    if let Some(tokens) = doc.get("tokens").and_then(|t| t.as_array()) {
        let universe = universe.ok_or("spotMeta without a `universe` list")?;
        // A token by its `index` (its position in the list when it has none).
        let token = |i: u64| {
            tokens.iter().find(|t| int(t.get("index")) == Some(i)).or_else(|| {
                tokens.get(usize::try_from(i).ok()?).filter(|t| t.get("index").is_none())
            })
        };
        for pair in universe {
            let symbol = text(pair.get("name"));
            let ids = pair.get("tokens").and_then(|t| t.as_array());
            let base = ids.and_then(|t| t.first()).and_then(|b| b.as_u64()).and_then(token);
            let quote = ids.and_then(|t| t.get(1)).and_then(|q| q.as_u64()).and_then(token);
            let steps = steps(HYPERLIQUID_SPOT_DECIMALS, base.and_then(sz_decimals));
            let (Some((tick, lot)), Some(_), false) = (steps, quote, symbol.is_empty()) else {
                table.skipped += 1;
                continue;
            };
            let mut r = row(symbol, InstrumentKind::Spot, tick, lot);
            r.status = "listed".into();
            r.trading = true;
            table.upsert(r);
        }
        return Ok(());
    }
    let universe = universe.ok_or("neither meta's `universe` nor spotMeta's `tokens`")?;
    for asset in universe {
        let symbol = text(asset.get("name"));
        let Some((tick, lot)) = steps(HYPERLIQUID_PERP_DECIMALS, sz_decimals(asset)) else {
            table.skipped += 1;
            continue;
        };
        if symbol.is_empty() {
            table.skipped += 1;
            continue;
        }
        let mut r = row(symbol, InstrumentKind::Perpetual, tick, lot);
        let delisted = asset.get("isDelisted").and_then(|d| d.as_bool()).unwrap_or(false);
        r.status = if delisted { "delisted".into() } else { "listed".into() };
        r.trading = !delisted;
        table.upsert(r);
    }
    Ok(())
}

/// A query value as it can travel: Bybit's cursor comes percent-encoded already
/// (`first%3DBTCUSDT%26last%3DBTCUSDT`) and is sent back as it is; any other character that
/// cannot appear in a query is encoded.
fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~' | b'%') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn gemini_details(table: &mut RefTable, doc: &Json) -> Result<(), &'static str> {
    let symbol = text(doc.get("symbol"));
    if symbol.is_empty() {
        return Err("no `symbol`");
    }
    // Gemini's `tick_size` is the quantity increment; `quote_increment` the price's.
    let (Some(tick), Some(lot)) = (step(doc.get("quote_increment")), step(doc.get("tick_size")))
    else {
        table.skipped += 1;
        return Ok(());
    };
    let kind = match text(doc.get("product_type")).as_str() {
        "swap" => InstrumentKind::Perpetual,
        "future" | "futures" => InstrumentKind::Future,
        _ => InstrumentKind::Spot,
    };
    let mut r = row(symbol.to_ascii_uppercase(), kind, tick, lot);
    r.min_size = dec(doc.get("min_order_size")).map(trim_dec);
    if kind != InstrumentKind::Spot {
        r.settle = Some(text(doc.get("contract_price_currency"))).filter(|s| !s.is_empty());
    }
    r.status = text(doc.get("status"));
    r.trading = r.status == "open";
    table.upsert(r);
    Ok(())
}

/// Reads a table written by [`RefTable::to_json`](super::RefTable::to_json).
pub(super) fn table_from_json(text_in: &str) -> Result<RefTable, String> {
    let mut buf = text_in.as_bytes().to_vec();
    let doc = simd_json::to_borrowed_value(&mut buf).map_err(|e| e.to_string())?;
    let venue = doc
        .get("venue")
        .and_then(|v| v.as_str())
        .and_then(Venue::from_name)
        .ok_or("no known `venue`")?;
    let mut table = RefTable::new(venue, &text(doc.get("source")));
    table.fetched_unix_ms = int(doc.get("fetched_unix_ms")).unwrap_or(0);
    table.skipped = int(doc.get("skipped")).unwrap_or(0) as usize;
    let list = doc.get("instruments").and_then(|l| l.as_array()).ok_or("no `instruments`")?;
    for i in list {
        let kind = InstrumentKind::from_name(&text(i.get("kind"))).ok_or("bad `kind`")?;
        let (Some(tick), Some(lot)) = (step(i.get("tick")), step(i.get("lot"))) else {
            return Err(format!("bad tick or lot for {:?}", text(i.get("symbol"))));
        };
        let opt = |k: &str| i.get(k).and_then(|v| v.as_str()).map(str::to_owned);
        table.instruments.push(RefInstrument {
            symbol: text(i.get("symbol")),
            kind,
            tick,
            lot,
            min_size: opt("min_size"),
            contract_value: opt("contract_value"),
            settle: opt("settle"),
            expiry_ms: int(i.get("expiry_ms")),
            status: text(i.get("status")),
            trading: i.get("trading").and_then(|t| t.as_bool()).unwrap_or(false),
        });
    }
    Ok(table)
}
