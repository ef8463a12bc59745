//! The venue's instrument endpoint (reference data): the answer the capture itself recorded
//! for the same request when it holds one (Coinbase's products, Gemini's symbol details),
//! else the venue's real answer bundled in the reference folder (`fixtures/refdata` by
//! default, provenance in `fixtures/SOURCES.md`). Bitfinex, for which no recorded answer was
//! found, gets its `conf` lists in the documented shape, built from the pairs the capture
//! carries (the reference log marks them `synthesized`). Bybit (linear) and Binance COIN-M,
//! for which no recorded answer was found either, get hand-written answers in their
//! documented formats listing the instruments of the bundled captures
//! (`bybit/instruments_linear.json`, `binance/exchangeInfo_coinm.json`; marked `synthesized`
//! too); Bybit's other categories answer an empty list. Hyperliquid's `POST /info` answers
//! `{"type":"meta"}` and `{"type":"spotMeta"}` from hand-written answers in the documented
//! formats (`hyperliquid/meta.json`, `hyperliquid/spotMeta.json`; `synthesized`), cut to the
//! coins the capture carries; `{"type":"meta","dex":"xyz"}` (a HIP-3 dex) from
//! `hyperliquid/meta_xyz.json` whole, or `null` (the venue's answer) for a dex with no file; any
//! other body type gets the venue's 422.

use std::path::{Path, PathBuf};

use ladderfeed::book::Venue;
use serde_json::Value;

use crate::shared::Shared;

/// The default reference folder: the repository's `fixtures/refdata`.
pub(crate) fn default_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/refdata")
}

/// An answer: its status, body and whether it was built here rather than recorded.
pub(crate) struct Answer {
    pub status: &'static str,
    pub body: Vec<u8>,
    pub synthesized: bool,
}

fn ok(body: Vec<u8>) -> Option<Answer> {
    Some(Answer { status: "200 OK", body, synthesized: false })
}

/// A hand-written answer (not recorded from the venue).
fn hand_written(body: Vec<u8>) -> Option<Answer> {
    Some(Answer { status: "200 OK", body, synthesized: true })
}

fn query<'a>(q: &'a str, key: &str) -> Option<&'a str> {
    q.split('&').find_map(|kv| kv.strip_prefix(key)?.strip_prefix('='))
}

/// The answer to `route?query` (a POST's body in `post`) when it is the venue's instrument
/// endpoint; `None` otherwise.
pub(crate) fn answer(sh: &Shared, route: &str, q: &str, post: Option<&[u8]>) -> Option<Answer> {
    let venue = sh.config.venue;
    if !ladderfeed::refdata::is_reference_url(venue, route) {
        return None;
    }
    if venue == Venue::Hyperliquid {
        return hyperliquid(sh, post?);
    }
    if post.is_some() {
        return None;
    }
    let wanted = if q.is_empty() { route.to_owned() } else { format!("{route}?{q}") };
    if let Some(body) = sh.capture.http_answer(&wanted) {
        return ok(body.to_vec());
    }
    let dir = sh.config.reference_dir.clone().unwrap_or_else(default_dir);
    let read = |rel: &str| std::fs::read(dir.join(rel)).ok();
    match (venue, route) {
        (Venue::Binance, "/api/v3/exchangeInfo") => ok(read("binance/exchangeInfo_spot.json")?),
        (Venue::BinanceFutures, "/fapi/v1/exchangeInfo") => {
            ok(read("binance/exchangeInfo_usdm.json")?)
        }
        (Venue::BinanceCoinM, "/dapi/v1/exchangeInfo") => {
            hand_written(read("binance/exchangeInfo_coinm.json")?)
        }
        (
            Venue::BybitSpot | Venue::BybitLinear | Venue::BybitInverse,
            "/v5/market/instruments-info",
        ) => {
            let category = query(q, "category").unwrap_or("").to_ascii_lowercase();
            let body = read(&format!("bybit/instruments_{category}.json")).unwrap_or_else(|| {
                format!(
                    r#"{{"retCode":0,"retMsg":"OK","result":{{"category":"{category}","list":[],"nextPageCursor":""}},"retExtInfo":{{}},"time":0}}"#
                )
                .into_bytes()
            });
            hand_written(body)
        }
        (Venue::Coinbase, "/api/v3/brokerage/market/products") => {
            ok(read("coinbase/products.json")?)
        }
        (Venue::CoinbaseExchange, "/products") => ok(read("coinbase-exchange/products.json")?),
        (Venue::Kraken | Venue::KrakenV1, "/0/public/AssetPairs") => {
            ok(read("kraken/AssetPairs.json")?)
        }
        (Venue::Okx, "/api/v5/public/instruments") => {
            let kind = query(q, "instType").unwrap_or("").to_ascii_lowercase();
            let body = read(&format!("okx/instruments_{kind}.json"))
                .unwrap_or_else(|| br#"{"code":"0","msg":"","data":[]}"#.to_vec());
            let Some(family) = query(q, "instFamily") else { return ok(body) };
            // Only the family asked for.
            let mut doc: Value = serde_json::from_slice(&body).ok()?;
            if let Some(data) = doc.get_mut("data").and_then(Value::as_array_mut) {
                data.retain(|i| i.get("instFamily").and_then(Value::as_str) == Some(family));
            }
            ok(serde_json::to_vec(&doc).ok()?)
        }
        (Venue::Gemini | Venue::GeminiV1, "/v1/symbols") => ok(read("gemini/symbols.json")?),
        (Venue::Gemini | Venue::GeminiV1, r) if r.starts_with("/v1/symbols/details/") => {
            let sym = r.rsplit('/').next().unwrap_or_default().to_ascii_lowercase();
            let details = read("gemini/details.jsonl")?;
            let line = details.split(|&b| b == b'\n').find(|l| {
                serde_json::from_slice::<Value>(l).ok().is_some_and(|v| {
                    v.get("symbol").and_then(Value::as_str).map(str::to_ascii_lowercase)
                        == Some(sym.clone())
                })
            });
            Some(match line {
                Some(l) => Answer { status: "200 OK", body: l.to_vec(), synthesized: false },
                None => Answer {
                    status: "400 Bad Request",
                    body: br#"{"result":"error","reason":"InvalidSymbol","message":"Supplied value is not a valid symbol"}"#.to_vec(),
                    synthesized: false,
                },
            })
        }
        (Venue::Bitfinex, r) if r.ends_with("/conf/pub:list:pair:exchange") => {
            let pairs: Vec<Value> = bitfinex_pairs(sh).into_iter().map(Value::String).collect();
            let body = serde_json::to_vec(&Value::Array(vec![Value::Array(pairs)])).ok()?;
            Some(Answer { status: "200 OK", body, synthesized: true })
        }
        (Venue::Bitfinex, r) if r.ends_with("/conf/pub:info:pair") => {
            // [[[PAIR, [null, null, null, MIN, MAX, …]], …]]; the sizes are unknown here.
            let rows: Vec<Value> = bitfinex_pairs(sh)
                .into_iter()
                .map(|p| serde_json::json!([p, [null, null, null, "0.00001", "2000.0"]]))
                .collect();
            let body = serde_json::to_vec(&Value::Array(vec![Value::Array(rows)])).ok()?;
            Some(Answer { status: "200 OK", body, synthesized: true })
        }
        _ => None,
    }
}

/// Hyperliquid's `POST /info`: `meta` (perpetuals) or `spotMeta`, from the hand-written
/// answers in the reference folder, listing only the coins the capture carries; a HIP-3 dex's
/// `meta` from its own file, or `null`.
fn hyperliquid(sh: &Shared, post: &[u8]) -> Option<Answer> {
    let asked: Value = serde_json::from_slice(post).unwrap_or(Value::Null);
    let dir = sh.config.reference_dir.clone().unwrap_or_else(default_dir);
    if let Some(dex) = asked.get("dex").and_then(Value::as_str).filter(|d| !d.is_empty()) {
        // A HIP-3 dex's `meta`: `hyperliquid/meta_DEX.json` served whole (a capture of the main
        // dex carries none of its coins), or the venue's `null` for a dex it does not know.
        let named = dex.bytes().all(|b| b.is_ascii_alphanumeric());
        if asked.get("type").and_then(Value::as_str) == Some("meta") && named {
            let body = std::fs::read(dir.join(format!("hyperliquid/meta_{dex}.json")));
            return hand_written(body.unwrap_or_else(|_| b"null".to_vec()));
        }
    }
    let file = match asked.get("type").and_then(Value::as_str) {
        Some("meta") => "hyperliquid/meta.json",
        Some("spotMeta") => "hyperliquid/spotMeta.json",
        _ => {
            return Some(Answer {
                status: "422 Unprocessable Entity",
                body: b"Failed to deserialize the JSON body into the target type".to_vec(),
                synthesized: true,
            })
        }
    };
    let body = std::fs::read(dir.join(file)).ok()?;
    let Ok(mut doc) = serde_json::from_slice::<Value>(&body) else {
        // Served as it is: a test's deliberately broken answer.
        return hand_written(body);
    };
    let coins = hyperliquid_coins(sh);
    if let Some(universe) = doc.get_mut("universe").and_then(Value::as_array_mut) {
        universe.retain(|u| {
            u.get("name").and_then(Value::as_str).is_some_and(|n| coins.iter().any(|c| c == n))
        });
    }
    hand_written(serde_json::to_vec(&doc).ok()?)
}

/// The coins of the capture's `l2Book` and `trades` messages (`BTC`, `@107`, `PURR/USDC`).
fn hyperliquid_coins(sh: &Shared) -> Vec<String> {
    let mut coins: Vec<String> = Vec::new();
    for f in sh.capture.frames().take(10_000) {
        let Ok(v) = serde_json::from_slice::<Value>(f) else { continue };
        let data = v.get("data");
        let one = data.and_then(|d| d.get("coin")).into_iter();
        let many =
            data.and_then(Value::as_array).into_iter().flatten().filter_map(|t| t.get("coin"));
        for c in one.chain(many).filter_map(Value::as_str) {
            if !coins.iter().any(|k| k == c) {
                coins.push(c.to_owned());
            }
        }
    }
    coins
}

/// The trading pairs the capture's Bitfinex subscriptions name (`tBTCUSD` → `BTCUSD`).
fn bitfinex_pairs(sh: &Shared) -> Vec<String> {
    let mut pairs: Vec<String> = Vec::new();
    for f in sh.capture.frames() {
        let Ok(v) = serde_json::from_slice::<Value>(f) else { continue };
        let sym = v.get("symbol").and_then(Value::as_str).and_then(|s| s.strip_prefix('t'));
        if let Some(p) = sym {
            if !pairs.iter().any(|q| q == p) {
                pairs.push(p.to_owned());
            }
        }
    }
    pairs
}
