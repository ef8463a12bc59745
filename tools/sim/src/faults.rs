//! Faults: what the simulator does wrong, where, reproducibly.
//!
//! A spec is a comma-separated list of `KIND@N` (at frame N of the capture, 0-based; for the
//! REST faults, the N-th REST request), `KIND@N#C` (the same, on connection C only, counted
//! from 1), `KIND~P` (each data frame with probability P, drawn from the run's seed) or `KIND`
//! (= `KIND@0`), each optionally followed by `=ARG`:
//!
//! | kind | effect | ARG |
//! |---|---|---|
//! | `drop` | the frame is not sent (a gap) | |
//! | `dup` | the frame is sent twice | |
//! | `reorder` | the frame and the next are sent swapped | |
//! | `corrupt` | a level's size in the frame is changed (a checksum mismatch) | |
//! | `crossed` | a bid in the frame is priced above every ask | |
//! | `close` | a clean WebSocket close (1000) instead of the frame | |
//! | `reset` | an abrupt TCP reset instead of the frame | |
//! | `stall` | nothing is sent for ARG seconds before the frame | seconds, default 2 |
//! | `slow-read` | the client's frames are not read for ARG seconds | seconds, default 2 |
//! | `oversize` | an extra frame of ARG bytes before the frame | bytes, default 64 MiB |
//! | `malformed` | the frame cut in half (not JSON) instead of the frame | |
//! | `tls-garbage` | instead of the frame, a forged TLS record (right framing, bytes that do not authenticate) written on the socket under the TLS layer, then the connection ends (on `ws://`, bytes that are no WebSocket frame) | |
//! | `rest-slow` | the REST answer waits ARG seconds | seconds, default 2 |
//! | `rest-stale` | the REST snapshot's `lastUpdateId` lowered by ARG | default 1000000 |
//! | `rest-429` | the REST answer is 429 with `Retry-After: ARG` | seconds, default 1 |
//! | `rest-418` | the REST answer is 418 with `Retry-After: ARG` | seconds, default 2 |
//!
//! `KIND@N` faults fire once per run (on the first connection to reach frame N, or on
//! connection C with `#C`), so a client that reconnects after a `close` is not closed again at
//! the same place. `corrupt` and
//! `crossed` move to the next frame they can change when frame N holds no book level.

use anyhow::{bail, Context, Result};

/// What goes wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Skip the frame.
    Drop,
    /// Send the frame twice.
    Dup,
    /// Swap the frame with the next.
    Reorder,
    /// Change a level's size.
    Corrupt,
    /// Price a bid above the asks.
    Crossed,
    /// Clean close.
    Close,
    /// TCP reset.
    Reset,
    /// Pause sending.
    Stall,
    /// Stop reading the client.
    SlowRead,
    /// An oversized frame.
    Oversize,
    /// A frame that is not JSON.
    Malformed,
    /// A forged TLS record under the TLS layer, then the end of the connection.
    TlsGarbage,
    /// A slow REST answer.
    RestSlow,
    /// A REST snapshot older than the stream.
    RestStale,
    /// REST 429 Too Many Requests.
    Rest429,
    /// REST 418 (Binance: banned for ignoring 429).
    Rest418,
}

impl Kind {
    const ALL: [(Kind, &'static str); 16] = [
        (Kind::Drop, "drop"),
        (Kind::Dup, "dup"),
        (Kind::Reorder, "reorder"),
        (Kind::Corrupt, "corrupt"),
        (Kind::Crossed, "crossed"),
        (Kind::Close, "close"),
        (Kind::Reset, "reset"),
        (Kind::Stall, "stall"),
        (Kind::SlowRead, "slow-read"),
        (Kind::Oversize, "oversize"),
        (Kind::Malformed, "malformed"),
        (Kind::TlsGarbage, "tls-garbage"),
        (Kind::RestSlow, "rest-slow"),
        (Kind::RestStale, "rest-stale"),
        (Kind::Rest429, "rest-429"),
        (Kind::Rest418, "rest-418"),
    ];

    /// The spec name.
    pub fn name(self) -> &'static str {
        Kind::ALL.iter().find(|(k, _)| *k == self).map_or("?", |(_, n)| n)
    }

    /// Whether the fault is about the REST endpoint.
    pub fn is_rest(self) -> bool {
        matches!(self, Kind::RestSlow | Kind::RestStale | Kind::Rest429 | Kind::Rest418)
    }

    fn default_arg(self) -> f64 {
        match self {
            Kind::Stall | Kind::SlowRead | Kind::RestSlow | Kind::Rest418 => 2.0,
            Kind::Rest429 => 1.0,
            Kind::Oversize => (64 << 20) as f64,
            Kind::RestStale => 1_000_000.0,
            _ => 0.0,
        }
    }
}

/// Where a fault fires.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Trigger {
    /// At this data frame (or REST request) index, once per run.
    At(u64),
    /// On each data frame with this probability.
    Chance(f64),
}

/// One fault of a spec.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Fault {
    /// What.
    pub kind: Kind,
    /// Where.
    pub trigger: Trigger,
    /// Its argument (seconds, bytes, …; the kind's default when not given).
    pub arg: f64,
    /// Only on this connection (from 1), when given.
    pub conn: Option<u64>,
}

/// Parses a fault spec (see the module docs).
pub fn parse(spec: &str) -> Result<Vec<Fault>> {
    let mut out = Vec::new();
    for item in spec.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let (head, arg) = match item.split_once('=') {
            Some((h, a)) => (h, Some(a)),
            None => (item, None),
        };
        let (head, conn) = match head.split_once('#') {
            Some((h, c)) => {
                let c: u64 =
                    c.parse().with_context(|| format!("fault {item:?}: bad connection"))?;
                (h, Some(c))
            }
            None => (head, None),
        };
        let (name, trigger) = if let Some((n, at)) = head.split_once('@') {
            let at: u64 = at.parse().with_context(|| format!("fault {item:?}: bad index"))?;
            (n, Trigger::At(at))
        } else if let Some((n, p)) = head.split_once('~') {
            let p: f64 = p.parse().with_context(|| format!("fault {item:?}: bad probability"))?;
            if !(0.0..=1.0).contains(&p) {
                bail!("fault {item:?}: probability must be within 0..1");
            }
            (n, Trigger::Chance(p))
        } else {
            (head, Trigger::At(0))
        };
        let Some(&(kind, _)) = Kind::ALL.iter().find(|(_, n)| *n == name) else {
            let names: Vec<&str> = Kind::ALL.iter().map(|(_, n)| *n).collect();
            bail!("unknown fault {name:?}; known: {}", names.join(", "));
        };
        if kind.is_rest() && matches!(trigger, Trigger::Chance(_)) {
            bail!("fault {item:?}: REST faults take @N (the N-th request)");
        }
        let arg = match arg {
            Some(a) => {
                let v: f64 = a.parse().with_context(|| format!("fault {item:?}: bad argument"))?;
                if !(v.is_finite() && v >= 0.0) {
                    bail!("fault {item:?}: the argument must be a non-negative number");
                }
                v
            }
            None => kind.default_arg(),
        };
        out.push(Fault { kind, trigger, arg, conn });
    }
    Ok(out)
}

/// A small seeded generator (xorshift64*): the same seed gives the same faults.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator for `seed` (any value, 0 included): the seed is mixed (splitmix64) so
    /// that seeds one apart give unrelated sequences.
    pub fn new(seed: u64) -> Rng {
        let mut z = seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        Rng(if z == 0 { 1 } else { z })
    }

    /// The next value in `[0, 1)`.
    pub fn next_f64(&mut self) -> f64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        (x.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 11) as f64 / (1u64 << 53) as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_form() {
        let f = parse("drop@5, dup~0.25,stall@7=1.5,rest-429@0,close").unwrap();
        assert_eq!(f.len(), 5);
        assert_eq!(f[0], Fault { kind: Kind::Drop, trigger: Trigger::At(5), arg: 0.0, conn: None });
        assert_eq!(parse("close@9#3").unwrap()[0].conn, Some(3));
        assert_eq!(f[1].trigger, Trigger::Chance(0.25));
        assert_eq!(f[2].arg, 1.5);
        assert_eq!(f[3].arg, 1.0);
        assert_eq!(f[4].trigger, Trigger::At(0));
        assert!(parse("nope@1").unwrap_err().to_string().contains("unknown fault"));
        assert!(parse("drop~2").is_err());
        assert!(parse("rest-418~0.5").is_err());
        assert!(parse("stall@1=-3").is_err());
    }

    #[test]
    fn the_generator_is_reproducible() {
        let a: Vec<f64> = (0..5).scan(Rng::new(7), |r, _| Some(r.next_f64())).collect();
        let b: Vec<f64> = (0..5).scan(Rng::new(7), |r, _| Some(r.next_f64())).collect();
        assert_eq!(a, b);
        assert!(a.iter().all(|x| (0.0..1.0).contains(x)));
        assert_ne!(a, (0..5).scan(Rng::new(8), |r, _| Some(r.next_f64())).collect::<Vec<_>>());
        // Seeds that differ in their lowest bit only are unrelated too.
        let first = |s: u64| Rng::new(s).next_f64();
        assert_ne!(first(0x9E37_79C0), first(0x9E37_79C1));
    }
}
