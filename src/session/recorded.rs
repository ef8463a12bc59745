//! Captured connections into sessions: the one path by which replay, check and convert reach
//! the engines.
//!
//! A capture holds one or several connections (by connection id), of one or several venues
//! (by group: a replay of several files). Each (group, connection) gets its own [`Session`],
//! so connection-scoped state (channel ids, connection-wide sequences) never mixes, except
//! where the venue's books span connections ([`Protocol::books_span_connections`]: Binance
//! sequences per symbol and its REST snapshots are recorded outside any WebSocket connection),
//! where a group shares one session. Every session takes its instrument ids from one
//! [`IdAllocator`]: running out is an error, never a wrap.
//!
//! A recorded answer of the venue's instrument endpoint (written by `record`, or kept by the
//! recorder that made the capture) feeds the group's instrument table as the venue's
//! reference data, for every instrument not yet seen; it is not a book message.

use super::ids::{IdAllocator, DEFAULT_BLOCK};
use super::{HttpResponse, Session, SessionError};
use crate::book::{InstrumentRegistry, Ladder, Venue};
use crate::capture::RecordKind;
use crate::engine::Sink;
use crate::refdata::{self, RefTable};
use crate::venue::{Parser, Protocol, VenueError};

/// How recorded sessions are made.
#[derive(Debug, Clone)]
pub struct RecordedOptions {
    /// Ticks and lots (configuration, reference data, built-ins).
    pub registry: InstrumentRegistry,
    /// The largest array window a book grows to, in ticks per side.
    pub window_ticks: usize,
    /// Stamps parse times (`Some(|| 0)`: a deterministic stream); `None`, the process clock.
    pub clock: Option<fn() -> u64>,
    /// Instrument ids per session.
    pub ids_per_session: usize,
    /// Levels per side of the top N each book publishes (0: none).
    pub depth_levels: usize,
    /// Which parser reads the frames.
    pub parser: Parser,
}

impl Default for RecordedOptions {
    fn default() -> Self {
        RecordedOptions {
            registry: InstrumentRegistry::with_builtins(),
            window_ticks: Ladder::DEFAULT_WINDOW_TICKS,
            clock: None,
            ids_per_session: DEFAULT_BLOCK,
            depth_levels: 0,
            parser: Parser::Scan,
        }
    }
}

/// One recorded connection's session.
#[derive(Debug)]
pub struct RecordedSession {
    /// The group (file set) it belongs to.
    pub group: u16,
    /// The connection id it stands for (0 for a venue whose books span connections).
    pub conn: u32,
    /// The session.
    pub session: Session,
    /// Connections seen connecting and not yet gone (a second connect on one is a reconnect).
    connected: Vec<u32>,
}

/// What one record did.
#[derive(Debug)]
pub struct Handled {
    /// The index of the session it went to ([`Recorded::sessions`]).
    pub session: usize,
    /// A connect on a connection already open: the books were dropped first (a reconnect
    /// whose disconnect was not recorded).
    pub reconnect: bool,
    /// What the adapter made of the payload.
    pub result: Result<(), VenueError>,
}

/// The sessions of a capture. See the [module docs](self).
#[derive(Debug)]
pub struct Recorded {
    venues: Vec<Venue>,
    opts: RecordedOptions,
    ids: IdAllocator,
    sessions: Vec<RecordedSession>,
    /// Each group's reference data, from the answers recorded so far.
    reference: Vec<Option<RefTable>>,
    /// Redundant lines, from their connect records ([`super::arbiter::line_tag`]): (group,
    /// connection, lines, line, the session's first connection).
    lines_of: Vec<(u16, u32, usize, usize, u32)>,
}

impl Recorded {
    /// Sessions for captures of `venues` (one per group, in group order).
    pub fn new(venues: Vec<Venue>, opts: RecordedOptions) -> Self {
        Recorded {
            venues,
            opts,
            ids: IdAllocator::new(),
            sessions: Vec::new(),
            reference: Vec::new(),
            lines_of: Vec::new(),
        }
    }

    /// The reference data group `group`'s recorded instrument answers gave, if any.
    pub fn reference(&self, group: u16) -> Option<&RefTable> {
        self.reference.get(usize::from(group)).and_then(Option::as_ref)
    }

    /// A recorded answer of the venue's instrument endpoint: its rows go into the group's
    /// table and into the registry of the group's sessions (those made later, and those made
    /// already, for the symbols they have not met yet).
    fn take_reference(&mut self, group: u16, url: &str, body: &[u8]) -> Result<(), VenueError> {
        let venue = self.venue(group);
        let g = usize::from(group);
        if self.reference.len() <= g {
            self.reference.resize(g + 1, None);
        }
        let table = self.reference[g].get_or_insert_with(|| RefTable::new(venue, url));
        let parsed = refdata::parse_body(table, url, body);
        if let Some(t) = &self.reference[g] {
            t.apply(&mut self.opts.registry);
            for s in self.sessions.iter_mut().filter(|s| s.group == group) {
                t.apply(s.session.registry_mut());
            }
        }
        parsed.map_err(|e| {
            tracing::warn!("{venue}: recorded instrument answer skipped: {e}");
            VenueError::Shape("an instrument answer that cannot be read")
        })
    }

    /// The sessions made so far, in order of their first record.
    pub fn sessions(&self) -> &[RecordedSession] {
        &self.sessions
    }

    /// The sessions, taken out.
    pub fn into_sessions(self) -> Vec<RecordedSession> {
        self.sessions
    }

    /// The index of the session for `conn` of `group`, made on its first record.
    pub fn session_for(&mut self, group: u16, conn: u32) -> Result<usize, SessionError> {
        self.slot_for(group, conn).map(|(i, _)| i)
    }

    /// The session for `conn` of `group` and the line `conn` is in it (0 but for redundant
    /// lines).
    fn slot_for(&mut self, group: u16, conn: u32) -> Result<(usize, usize), SessionError> {
        let venue = self.venue(group);
        let tagged = self.lines_of.iter().find(|(g, c, ..)| *g == group && *c == conn).copied();
        let (lines, line, key) = match tagged {
            Some((_, _, lines, line, first)) => (lines, line, first),
            None => (1, 0, conn),
        };
        let key = if Protocol::of(venue).books_span_connections { 0 } else { key };
        if let Some(i) = self.sessions.iter().position(|s| s.group == group && s.conn == key) {
            return Ok((i, line));
        }
        let ids = self.ids.reserve(self.opts.ids_per_session)?;
        let mut session =
            Session::recorded_lines(venue, self.opts.registry.clone(), None, ids, lines)?
                .with_window_ticks(self.opts.window_ticks)
                .with_depth(self.opts.depth_levels)
                .with_parser(self.opts.parser);
        if let Some(clock) = self.opts.clock {
            session = session.with_clock(clock);
        }
        self.sessions.push(RecordedSession { group, conn: key, session, connected: Vec::new() });
        Ok((self.sessions.len() - 1, line))
    }

    fn venue(&self, group: u16) -> Venue {
        self.venues
            .get(usize::from(group))
            .or(self.venues.first())
            .copied()
            .unwrap_or(Venue::Binance)
    }

    /// Hands one record to its session, with `now` as its time: a frame is parsed and
    /// applied, a REST body applied, a connect opens (a second connect on an open connection
    /// is a reconnect: its books go stale first), a disconnect closes; a sent frame changes
    /// nothing.
    #[allow(clippy::too_many_arguments)]
    pub fn handle(
        &mut self,
        group: u16,
        conn: u32,
        kind: RecordKind,
        url: &str,
        payload: &[u8],
        now: u64,
        sink: &mut impl Sink,
    ) -> Result<Handled, SessionError> {
        if kind == RecordKind::Http && refdata::is_reference_url(self.venue(group), url) {
            let result = self.take_reference(group, url, payload);
            let session = self.session_for(group, conn)?;
            return Ok(Handled { session, reconnect: false, result });
        }
        if kind == RecordKind::Connect {
            if let Some((lines, line, first)) = super::arbiter::parse_line_tag(payload) {
                if !self.lines_of.iter().any(|(g, c, ..)| *g == group && *c == conn) {
                    self.lines_of.push((group, conn, lines, line, first));
                }
            }
        }
        let (i, line) = self.slot_for(group, conn)?;
        let slot = &mut self.sessions[i];
        let mut reconnect = false;
        let result = match kind {
            RecordKind::Recv => slot.session.handle_frame_on(line, payload, now, sink),
            RecordKind::Http => {
                let response = HttpResponse { status: 200, retry_after: None, body: payload };
                slot.session.handle_http(url, response, now, sink)
            }
            RecordKind::Connect => {
                if slot.connected.contains(&conn) {
                    reconnect = true;
                    slot.session.handle_disconnected_on(line, "", now, sink);
                } else {
                    slot.connected.push(conn);
                }
                slot.session.handle_connected_on(line, now);
                Ok(())
            }
            RecordKind::Disconnect => {
                slot.connected.retain(|&c| c != conn);
                slot.session.handle_disconnected_on(line, "", now, sink);
                Ok(())
            }
            RecordKind::Sent => Ok(()),
        };
        Ok(Handled { session: i, reconnect, result })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::Event;

    #[test]
    fn binance_connections_share_one_session_and_others_do_not() {
        let mut r = Recorded::new(vec![Venue::Binance, Venue::Okx], RecordedOptions::default());
        let mut ev: Vec<Event> = Vec::new();
        let a = r.handle(0, 1, RecordKind::Connect, "", b"", 1, &mut ev).unwrap();
        let b = r.handle(0, 2, RecordKind::Connect, "", b"", 2, &mut ev).unwrap();
        assert_eq!(a.session, b.session);
        let c = r.handle(1, 1, RecordKind::Connect, "", b"", 3, &mut ev).unwrap();
        let d = r.handle(1, 2, RecordKind::Connect, "", b"", 4, &mut ev).unwrap();
        assert_ne!(c.session, d.session);
        assert_eq!(r.sessions().len(), 3);
        // Each has its own block of ids.
        let bases: Vec<u16> = r.sessions().iter().map(|s| s.session.base()).collect();
        assert_eq!(bases, [0, 1024, 2048]);
        // A second connect on an open connection is a reconnect.
        let e = r.handle(1, 2, RecordKind::Connect, "", b"", 5, &mut ev).unwrap();
        assert!(e.reconnect);
        assert!(!r.handle(1, 2, RecordKind::Recv, "", b"{}", 6, &mut ev).unwrap().reconnect);
    }

    #[test]
    fn the_65th_connection_is_an_error_not_a_wrap() {
        let mut r = Recorded::new(vec![Venue::Okx], RecordedOptions::default());
        let mut ev: Vec<Event> = Vec::new();
        for conn in 0..64 {
            r.handle(0, conn, RecordKind::Connect, "", b"", 1, &mut ev).unwrap();
        }
        let err = r.handle(0, 64, RecordKind::Connect, "", b"", 1, &mut ev).unwrap_err();
        assert!(matches!(err, SessionError::Ids(_)), "{err}");
        assert!(err.to_string().contains("instrument ids spent"), "{err}");
        assert_eq!(r.sessions().len(), 64);
    }
}
