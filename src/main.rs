//! The `ladderfeed` command line.
//!
//! Until `replay` lands (the capture and venue issues), the main job rebuilds the Binance
//! BTCUSDT book of the bundled hftbacktest capture into the fixed-tick [`Ladder`] with Binance's
//! documented snapshot-bridging rule, checks it against the venue's own last `bookTicker`, and
//! reports how fast the ladder took the updates.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use ladderfeed::book::{Instrument, InstrumentRegistry, Ladder, Side, Venue};
use simd_json::prelude::*;
use simd_json::BorrowedValue;

/// The bundled capture: Binance spot BTCUSDT diffs, trades and bookTicker plus one REST snapshot.
const BUNDLED: &str = "fixtures/binance/hftbacktest_spot_btcusdt_20240808.gz";

/// One depth diff kept as integer ticks and lots.
struct Diff {
    first_id: u64,
    last_id: u64,
    levels: Vec<(Side, i64, i64)>,
}

fn main() -> Result<()> {
    let mut args = std::env::args().skip(1);
    let path = match args.next().as_deref() {
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(BUNDLED),
        Some("-h" | "--help") => {
            println!(
                "usage: ladderfeed [FILE]\n\nRebuilds the Binance spot book of an hftbacktest \
                 collector capture (`<ns> <json>` lines, gzip) into the fixed-tick ladder.\n\
                 Without FILE: the bundled {BUNDLED}."
            );
            return Ok(());
        }
        Some(p) => PathBuf::from(p),
    };
    run(&path)
}

/// Appends the `[price, size]` string pairs of `v[key]` to `out` as ticks and lots.
fn levels(
    v: &BorrowedValue<'_>,
    key: &str,
    side: Side,
    inst: &Instrument,
    out: &mut Vec<(Side, i64, i64)>,
) -> Result<()> {
    let arr = v.get_array(key).with_context(|| format!("no `{key}` array"))?;
    for lv in arr {
        let px = lv.get_idx(0).and_then(|x| x.as_str()).context("level price is not a string")?;
        let qty = lv.get_idx(1).and_then(|x| x.as_str()).context("level size is not a string")?;
        let px_tick = inst.price_ticks(px.as_bytes()).with_context(|| format!("price {px:?}"))?;
        let qty_lots = inst.qty_lots(qty.as_bytes()).with_context(|| format!("size {qty:?}"))?;
        out.push((side, px_tick, qty_lots));
    }
    Ok(())
}

fn run(path: &std::path::Path) -> Result<()> {
    let file = std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let reader = BufReader::new(flate2::read::GzDecoder::new(file));
    let inst = InstrumentRegistry::with_builtins()
        .lookup(Venue::Binance, "BTCUSDT")
        .context("BTCUSDT is built in")?;

    let mut ladder = Ladder::new();
    let mut buffered: Vec<Diff> = Vec::new();
    let mut book_id: Option<u64> = None; // Some once a snapshot is loaded
    let mut bridged = false;
    let (mut applied, mut stale, mut gaps, mut crossed, mut trades) =
        (0u64, 0u64, 0u64, 0u64, 0u64);
    let mut level_updates = 0u64;
    let mut ladder_ns = 0u128;
    let mut last_ticker: Option<(String, String)> = None;

    let mut apply = |d: &Diff,
                     ladder: &mut Ladder,
                     book_id: &mut Option<u64>,
                     bridged: &mut bool| {
        let Some(id) = *book_id else { return };
        if d.last_id <= id {
            stale += 1;
            return;
        }
        let in_sequence =
            if *bridged { d.first_id == id + 1 } else { d.first_id <= id + 1 && id < d.last_id };
        if !in_sequence {
            // A gap: the book cannot be trusted until the next snapshot.
            gaps += 1;
            *book_id = None;
            *bridged = false;
            ladder.clear();
            return;
        }
        let t = Instant::now();
        for &(side, px, qty) in &d.levels {
            ladder.set(side, px, qty);
        }
        ladder_ns += t.elapsed().as_nanos();
        level_updates += d.levels.len() as u64;
        if ladder.is_crossed() {
            crossed += 1;
        }
        applied += 1;
        *book_id = Some(d.last_id);
        *bridged = true;
    };

    let mut line = String::new();
    let mut reader = reader;
    let mut lineno = 0u64;
    loop {
        line.clear();
        if reader.read_line(&mut line).with_context(|| format!("reading {}", path.display()))? == 0
        {
            break;
        }
        lineno += 1;
        let Some((_ts, json)) = line.trim_end().split_once(' ') else { continue };
        let mut bytes = json.as_bytes().to_vec();
        let v: BorrowedValue<'_> = simd_json::to_borrowed_value(&mut bytes)
            .with_context(|| format!("{}:{lineno}: not JSON", path.display()))?;
        let data = v.get("data").unwrap_or(&v);
        if let Some(lid) = data.get_u64("lastUpdateId") {
            // The REST snapshot.
            ladder.clear();
            let mut lv = Vec::new();
            levels(data, "bids", Side::Bid, &inst, &mut lv)?;
            levels(data, "asks", Side::Ask, &inst, &mut lv)?;
            for (side, px, qty) in lv {
                ladder.set(side, px, qty);
            }
            book_id = Some(lid);
            bridged = false;
            for d in std::mem::take(&mut buffered) {
                apply(&d, &mut ladder, &mut book_id, &mut bridged);
            }
            continue;
        }
        match data.get_str("e") {
            Some("depthUpdate") => {
                let mut d = Diff {
                    first_id: data.get_u64("U").context("depthUpdate without U")?,
                    last_id: data.get_u64("u").context("depthUpdate without u")?,
                    levels: Vec::new(),
                };
                levels(data, "b", Side::Bid, &inst, &mut d.levels)?;
                levels(data, "a", Side::Ask, &inst, &mut d.levels)?;
                if book_id.is_none() {
                    buffered.push(d);
                } else {
                    apply(&d, &mut ladder, &mut book_id, &mut bridged);
                }
            }
            Some("trade") => trades += 1,
            _ if data.contains_key("b") && data.contains_key("a") && data.contains_key("u") => {
                // bookTicker (spot has no `e`).
                let b = data.get_str("b").unwrap_or_default().to_owned();
                let a = data.get_str("a").unwrap_or_default().to_owned();
                last_ticker = Some((b, a));
            }
            _ => {}
        }
    }
    if book_id.is_none() && applied == 0 {
        bail!("{}: no snapshot found: not a Binance hftbacktest capture?", path.display());
    }
    let fmt = |side: Side| {
        ladder
            .best(side)
            .map(|l| format!("{} x {}", inst.format_price(l.px_tick), inst.format_qty(l.qty_lots)))
            .unwrap_or_else(|| "-".into())
    };
    println!("capture      {}", path.display());
    println!("instrument   binance:BTCUSDT tick {} lot {}", inst.tick, inst.lot);
    println!("diffs        {applied} applied, {stale} stale skipped, {gaps} gaps");
    println!("trades       {trades}");
    println!("levels       {} bids, {} asks", ladder.len(Side::Bid), ladder.len(Side::Ask));
    println!("best bid     {}", fmt(Side::Bid));
    println!("best ask     {}", fmt(Side::Ask));
    println!("crossed      {crossed} times after a complete diff");
    if let Some((b, a)) = &last_ticker {
        let want = (inst.price_ticks(b.as_bytes())?, inst.price_ticks(a.as_bytes())?);
        let got =
            (ladder.best(Side::Bid).map(|l| l.px_tick), ladder.best(Side::Ask).map(|l| l.px_tick));
        let ok = got == (Some(want.0), Some(want.1));
        println!("bookTicker   {b} / {a}: {}", if ok { "matches the ladder" } else { "DIFFERS" });
        if !ok {
            bail!("final BBO differs from the venue's last bookTicker");
        }
    }
    if level_updates > 0 {
        println!(
            "ladder       {level_updates} level updates, {:.1} ns each (timed around the ladder only)",
            ladder_ns as f64 / level_updates as f64
        );
    }
    Ok(())
}
