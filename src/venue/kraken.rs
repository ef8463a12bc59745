//! Kraken WebSocket v2 and v1.
//!
//! Not written yet.
