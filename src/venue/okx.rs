//! OKX v5 order books and trades.
//!
//! Not written yet.
