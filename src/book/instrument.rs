//! Instruments: venue, symbol, tick size and lot size.
