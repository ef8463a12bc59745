//! A loaded capture: the frames the venue sent, in order, as the server sends them, and the
//! REST bodies recorded with them.

use std::path::PathBuf;

use anyhow::{bail, Result};
use ladderfeed::capture::{self, RecordKind};
use tungstenite::{Bytes, Message, Utf8Bytes};

use crate::scan;
use crate::venue;

/// One frame the venue sent in the capture.
#[derive(Debug, Clone)]
pub(crate) struct Frame {
    /// When it was received (the capture's local timestamp, ns).
    pub ts: u64,
    /// The frame.
    pub msg: Message,
}

/// A message's payload (empty for control frames).
pub(crate) fn bytes_of(msg: &Message) -> &[u8] {
    match msg {
        Message::Text(t) => t.as_bytes(),
        Message::Binary(b) => b,
        _ => &[],
    }
}

/// A payload as a message: text when it is UTF-8, binary otherwise.
pub(crate) fn message(payload: Vec<u8>) -> Message {
    match String::from_utf8(payload) {
        Ok(s) => Message::Text(Utf8Bytes::from(s)),
        Err(e) => Message::Binary(Bytes::from(e.into_bytes())),
    }
}

/// A loaded capture: the frames the venue sent, in order, and the REST bodies.
#[derive(Debug)]
pub struct Capture {
    pub(crate) frames: Vec<Frame>,
    snapshots: Vec<(String, Vec<u8>)>,
    pub(crate) has_acks: bool,
}

impl Capture {
    /// Reads every received frame and HTTP body of `paths` (and their REST companions).
    pub fn load(paths: &[PathBuf]) -> Result<Capture> {
        let mut all = Vec::new();
        for p in paths {
            all.extend(capture::companions(p));
            all.push(p.clone());
        }
        all.sort();
        all.dedup();
        let mut frames = Vec::new();
        let mut snapshots = Vec::new();
        for rec in capture::open_merged(&all)? {
            let rec = rec?;
            match rec.kind {
                RecordKind::Recv => {
                    frames.push(Frame { ts: rec.local_ts, msg: message(rec.payload) })
                }
                RecordKind::Http => snapshots.push((rec.url, rec.payload)),
                _ => {}
            }
        }
        if frames.is_empty() {
            bail!("{}: no received frames to serve", all[0].display());
        }
        let has_acks = frames.iter().take(500).any(|f| venue::is_ack(bytes_of(&f.msg)));
        Ok(Capture { frames, snapshots, has_acks })
    }

    /// The frames, byte for byte, in the order they are served.
    pub fn frames(&self) -> impl Iterator<Item = &[u8]> {
        self.frames.iter().map(|f| bytes_of(&f.msg))
    }

    /// Frame `i`, byte for byte.
    pub fn frame(&self, i: usize) -> Option<&[u8]> {
        self.frames.get(i).map(|f| bytes_of(&f.msg))
    }

    /// How many frames.
    pub fn len(&self) -> usize {
        self.frames.len()
    }

    /// Whether there is no frame (never: [`Capture::load`] refuses that).
    pub fn is_empty(&self) -> bool {
        self.frames.is_empty()
    }

    /// The body the capture recorded for a request of `path_and_query` (matched without
    /// scheme and host), if any.
    pub(crate) fn http_answer(&self, path_and_query: &str) -> Option<&[u8]> {
        self.snapshots
            .iter()
            .find(|(url, _)| {
                let path = url
                    .split_once("://")
                    .map_or(url.as_str(), |(_, rest)| rest.find('/').map_or("/", |i| &rest[i..]));
                path == path_and_query
            })
            .map(|(_, b)| &b[..])
    }

    /// The first `"key":"…"` string value among the frames (the first such key in each) that
    /// `keep` accepts: the capture's own name of a book's channel.
    pub(crate) fn first_string(&self, key: &str, keep: impl Fn(&str) -> bool) -> Option<String> {
        let needle = format!("\"{key}\":\"");
        self.frames().take(10_000).find_map(|f| {
            let at = scan::find(f, needle.as_bytes())? + needle.len();
            let end = f[at..].iter().position(|&c| c == b'"')?;
            let v = std::str::from_utf8(&f[at..at + end]).ok()?;
            keep(v).then(|| v.to_owned())
        })
    }

    /// The REST body recorded for `symbol` (case-insensitive).
    pub(crate) fn snapshot(&self, symbol: &str) -> Option<&[u8]> {
        let want = format!("SYMBOL={}", symbol.to_ascii_uppercase());
        self.snapshots
            .iter()
            .find(|(url, _)| url.to_ascii_uppercase().contains(&want))
            .or_else(|| self.snapshots.iter().find(|(url, _)| url.is_empty()))
            .map(|(_, b)| &b[..])
    }
}
