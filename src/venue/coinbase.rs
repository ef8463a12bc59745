//! Coinbase Advanced Trade and Coinbase Exchange.
//!
//! Not written yet.
