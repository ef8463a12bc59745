//! One recorded event of a connection: a frame received or sent, a connect, a disconnect, an
//! HTTP answer. The live shell hands them to a recorder and the capture readers yield them;
//! this module has no dependency, so the live path builds without the capture readers.

/// What a record is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum RecordKind {
    /// A WebSocket message received.
    #[default]
    Recv,
    /// A WebSocket message sent (subscriptions).
    Sent,
    /// A connection opened.
    Connect,
    /// A connection closed.
    Disconnect,
    /// An HTTP response body (a REST snapshot, product metadata).
    Http,
}

impl RecordKind {
    /// Every kind, in the order of [`RecordKind::index`].
    pub const ALL: [RecordKind; 5] = [
        RecordKind::Recv,
        RecordKind::Sent,
        RecordKind::Connect,
        RecordKind::Disconnect,
        RecordKind::Http,
    ];

    /// A dense index `0..5` (for per-kind counters).
    pub const fn index(self) -> usize {
        match self {
            RecordKind::Recv => 0,
            RecordKind::Sent => 1,
            RecordKind::Connect => 2,
            RecordKind::Disconnect => 3,
            RecordKind::Http => 4,
        }
    }

    /// A short lower-case name (`recv`, `sent`, `connect`, `disconnect`, `http`).
    pub const fn name(self) -> &'static str {
        match self {
            RecordKind::Recv => "recv",
            RecordKind::Sent => "sent",
            RecordKind::Connect => "connect",
            RecordKind::Disconnect => "disconnect",
            RecordKind::Http => "http",
        }
    }
}

/// One captured event.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Record {
    /// Local receive time, epoch ns (0 when the format has none).
    pub local_ts: u64,
    /// Connection id (from the file, or 0).
    pub conn: u32,
    /// What happened.
    pub kind: RecordKind,
    /// The URL of a connect, a sent frame or an HTTP response, when the format says.
    pub url: String,
    /// The exact bytes of the frame or body.
    pub payload: Vec<u8>,
}

impl Record {
    /// An empty received-frame record (buffers to be filled by [`Record::assign`]).
    pub fn empty() -> Record {
        Record {
            local_ts: 0,
            conn: 0,
            kind: RecordKind::Recv,
            url: String::new(),
            payload: Vec::new(),
        }
    }

    /// Overwrites every field, reusing the record's buffers (no allocation once they have
    /// grown).
    #[inline]
    pub fn assign(
        &mut self,
        local_ts: u64,
        conn: u32,
        kind: RecordKind,
        url: &str,
        payload: &[u8],
    ) {
        self.local_ts = local_ts;
        self.conn = conn;
        self.kind = kind;
        self.url.clear();
        self.url.push_str(url);
        self.payload.clear();
        self.payload.extend_from_slice(payload);
    }
}
