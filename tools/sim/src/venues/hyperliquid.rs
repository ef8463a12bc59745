//! Hyperliquid: `{"method":"subscribe",…}` answered with a `subscriptionResponse`, the JSON
//! keep-alive (`{"method":"ping"}` → `{"channel":"pong"}`), and `l2Book` messages that are each
//! a whole book (no resubscription snapshot to make: the next message resyncs).

use serde_json::{json, Value};

use crate::protocol::SimProtocol;
use crate::scan;

/// Hyperliquid.
#[derive(Debug)]
pub(crate) struct Hyperliquid;

impl SimProtocol for Hyperliquid {
    fn is_ack(&self, frame: &[u8]) -> bool {
        scan::has(frame, b"\"channel\":\"subscriptionResponse\"")
    }

    fn text_pong(&self, msg: &str) -> Option<&'static str> {
        let v: Value = serde_json::from_str(msg).ok()?;
        (v["method"] == "ping").then_some(r#"{"channel":"pong"}"#)
    }

    fn synth_ack(&self, msg: &str) -> Option<String> {
        let v: Value = serde_json::from_str(msg).ok()?;
        Some(json!({ "channel": "subscriptionResponse", "data": v }).to_string())
    }

    fn seq_identity(&self, frame: &[u8]) -> Option<String> {
        scan::pick(frame, &[("time", b"\"time\":")])
    }

    fn is_book_frame(&self, frame: &[u8]) -> bool {
        scan::has(frame, b"\"channel\":\"l2Book\"")
    }
}
