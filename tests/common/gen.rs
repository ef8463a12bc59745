//! Proptest generators shared by the scanner tests: JSON text with free key order and
//! whitespace, each part marked with whether it lies in the scanners' subset.

use proptest::prelude::*;

/// A generated frame or value: its text, and whether every part of it is in the scanner's
/// subset (then a frame must not fall back).
#[derive(Debug, Clone)]
pub struct Gen {
    /// The JSON text.
    pub text: String,
    /// Whether it is all in the scanner's subset.
    pub plain: bool,
}

impl Gen {
    /// As a member value for [`object`].
    pub fn member(self) -> (String, bool) {
        (self.text, self.plain)
    }
}

/// JSON whitespace, mostly none.
pub fn ws() -> impl Strategy<Value = String> {
    prop_oneof![6 => Just(String::new()), 1 => Just(" ".into()), 1 => Just("\n".into()),
        1 => Just("\t \r\n".into())]
}

/// A plain string value.
pub fn s(v: &str) -> (String, bool) {
    (format!("\"{v}\""), true)
}

/// An object from `(key, (value, plain))` members, shuffled, with whitespace.
pub fn object(members: Vec<(String, (String, bool))>) -> impl Strategy<Value = Gen> {
    let n = members.len();
    (Just(members).prop_shuffle(), proptest::collection::vec(ws(), 4 * n + 2)).prop_map(
        move |(members, w)| {
            let mut plain = true;
            let mut text = format!("{}{{", w[0]);
            for (i, (k, (v, p))) in members.iter().enumerate() {
                plain &= *p;
                if i > 0 {
                    text.push(',');
                }
                let (a, b, c, d) = (&w[4 * i + 1], &w[4 * i + 2], &w[4 * i + 3], &w[4 * i + 4]);
                text.push_str(&format!("{a}\"{k}\"{b}:{c}{v}{d}"));
            }
            text.push('}');
            text.push_str(&w[4 * n + 1]);
            Gen { text, plain }
        },
    )
}

/// An array of `(value, plain)` items in the given order, with whitespace.
pub fn array(items: Vec<(String, bool)>) -> impl Strategy<Value = Gen> {
    let n = items.len();
    proptest::collection::vec(ws(), 2 * n + 1).prop_map(move |w| {
        let mut plain = true;
        let mut text = String::from("[");
        for (i, (v, p)) in items.iter().enumerate() {
            plain &= *p;
            if i > 0 {
                text.push(',');
            }
            text.push_str(&format!("{}{v}{}", w[2 * i], w[2 * i + 1]));
        }
        text.push_str(&w[2 * n]);
        text.push(']');
        Gen { text, plain }
    })
}
