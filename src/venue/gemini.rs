//! Gemini market data v2 and v1.
//!
//! Not written yet.
