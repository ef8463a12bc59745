//! Shared helpers for the peer benchmarks: loading update streams from the fixtures.
