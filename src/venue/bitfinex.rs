//! Bitfinex v2 books and trades.
//!
//! Not written yet.
