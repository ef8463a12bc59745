//! A strategy on ladderfeed's public API: a capture (or, with `--live`, a venue) through the
//! same sessions, engine and ring as the `ladderfeed` binary; instruments learned in-band; it
//! reacts to every valid BBO and prints the last one of each book.
//!
//! ```sh
//! cargo run --release --example strategy                      # the bundled capture
//! cargo run --release --example strategy -- --live            # Binance BTCUSDT for 10 s
//! ```
use std::collections::BTreeMap;
use std::error::Error;
use std::time::{Duration, Instant};

use ladderfeed::net::tls;
use ladderfeed::venue::Protocol;
use ladderfeed::{capture, feed, Consumer, Event, Feed, Instruments, Live, LiveOptions, Venue};
use ladderfeed::{Recorded, RecordedOptions};

const BUNDLED: &str = "fixtures/binance/hftbacktest_spot_btcusdt_20240808.gz";

fn main() -> Result<(), Box<dyn Error>> {
    let (mut publisher, subscription) = feed(1 << 16, 1 << 16);
    let mut consumer = Consumer::new(subscription);
    let mut instruments = Instruments::default();
    let mut last_bbo: BTreeMap<String, (String, String)> = BTreeMap::new();
    // The strategy: called for every event, on this thread.
    let mut on_event = |ev: &Event| {
        if instruments.observe(ev) {
            return; // an instrument definition: now known by its id
        }
        let (Some(bbo), Some(inst)) = (ev.as_bbo(), instruments.get(ev.instrument())) else {
            return;
        };
        if ev.state().is_valid() {
            let (bid, ask) = (inst.format_price(bbo.bid_tick), inst.format_price(bbo.ask_tick));
            last_bbo.insert(format!("{}:{}", inst.venue, inst.symbol), (bid, ask));
        }
    };
    if std::env::args().any(|a| a == "--live") {
        let venue = Venue::Binance;
        let symbols = vec!["BTCUSDT".to_owned()];
        let url = Protocol::of(venue).url(Protocol::of(venue).endpoint, &symbols);
        let feed = Feed { venue, url, symbols, rest_base: None, backup_urls: Vec::new() };
        let mut live = Live::new(vec![feed], LiveOptions::new(tls::client_config(None)?))?;
        let until = Instant::now() + Duration::from_secs(10);
        while Instant::now() < until {
            live.poll_once(&mut publisher)?;
            consumer.drain(usize::MAX, &mut on_event);
        }
    } else {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(BUNDLED);
        let venue = capture::guess_venue(&path)?.ok_or("cannot tell the capture's venue")?;
        let mut sessions = Recorded::new(vec![venue], RecordedOptions::default());
        for rec in capture::open(&path)? {
            let r = rec?;
            sessions.handle(0, r.conn, r.kind, &r.url, &r.payload, r.local_ts, &mut publisher)?;
            consumer.drain(usize::MAX, &mut on_event);
        }
    }
    for (book, (bid, ask)) in &last_bbo {
        println!("{book} bid {bid} ask {ask}");
    }
    Ok(())
}
