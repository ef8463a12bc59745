//! One WebSocket connection: the subscription handshake, the capture's frames paced and
//! faulted, server pings and keep-alives, and books unsubscribed and resubscribed while
//! streaming. Whatever differs by venue is asked of the venue's protocol (`sh.proto`).

use std::io::{self, Write};
use std::net::TcpStream;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use serde_json::{json, Value};
use tungstenite::protocol::frame::coding::CloseCode;
use tungstenite::protocol::{CloseFrame, Role, WebSocketConfig};
use tungstenite::{Bytes, Message, WebSocket};

use crate::capture::{bytes_of, message};
use crate::config::Pace;
use crate::faults::{Kind, Rng, Trigger};
use crate::http::{http_response, Conn, Request};
use crate::protocol::{SimProtocol, Streams};
use crate::reference::VenueBooks;
use crate::shared::Shared;
use crate::venue;

/// What a client poll found.
#[derive(PartialEq, Eq)]
enum Poll {
    Open,
    Closed,
}

/// A WebSocket session on one accepted connection.
pub(crate) struct Session<'a> {
    sh: &'a Arc<Shared>,
    /// The venue's protocol.
    proto: &'static dyn SimProtocol,
    ws: WebSocket<Conn>,
    sock: TcpStream,
    conn: u64,
    rng: Rng,
    no_read_until: Option<Instant>,
    ping_every: Option<Duration>,
    next_ping: Instant,
    subscribed: bool,
    /// Venues that answer a resubscription with a snapshot: the venue's books on this
    /// connection, for that snapshot.
    books: Option<VenueBooks>,
    /// The streams as the venue numbers and names them on this connection.
    streams: Streams,
}

impl<'a> Session<'a> {
    /// Answers the upgrade request and starts the session.
    pub fn open(
        sh: &'a Arc<Shared>,
        mut stream: Conn,
        sock: TcpStream,
        conn: u64,
        req: &Request,
        leftover: Vec<u8>,
    ) -> Result<Session<'a>> {
        let Some(key) = req.header("sec-websocket-key") else {
            stream.write_all(&http_response("400 Bad Request", "", b"{}"))?;
            bail!("upgrade without Sec-WebSocket-Key");
        };
        let accept = tungstenite::handshake::derive_accept_key(key.as_bytes());
        let head = format!(
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {accept}\r\n\r\n"
        );
        stream.write_all(head.as_bytes())?;
        stream.flush()?;
        sock.set_nonblocking(true)?;
        let config = WebSocketConfig::default()
            .max_message_size(Some(1 << 20))
            .max_frame_size(Some(1 << 20));
        let ws = WebSocket::from_partially_read(stream, leftover, Role::Server, Some(config));
        let ping_every = sh
            .config
            .ping_secs
            .or_else(|| sh.proto.server_ping_secs())
            .map(Duration::from_secs_f64);
        sh.log.push(conn, "connect", json!({ "path": req.path, "tls": sh.pki.is_some() }));
        let subscribed = !sh.proto.subscribes_by_message(&req.path);
        Ok(Session {
            sh,
            proto: sh.proto,
            ws,
            sock,
            conn,
            rng: Rng::new(sh.config.seed.wrapping_add(conn.wrapping_mul(0x9E37_79B9))),
            no_read_until: None,
            ping_every,
            next_ping: Instant::now() + ping_every.unwrap_or(Duration::from_secs(3600)),
            subscribed,
            books: sh
                .proto
                .resubscribes()
                .then(|| VenueBooks::new(sh.config.venue, Arc::clone(&sh.capture))),
            streams: Streams { conn, channel_base: sh.config.channel_base, ..Streams::default() },
        })
    }

    fn flush_all(&mut self) -> Result<()> {
        let start = Instant::now();
        loop {
            match self.ws.flush() {
                Ok(()) => return Ok(()),
                Err(tungstenite::Error::Io(e)) if e.kind() == io::ErrorKind::WouldBlock => {
                    if start.elapsed() > self.sh.config.write_timeout {
                        bail!("the client took nothing for {:?}", self.sh.config.write_timeout);
                    }
                    std::thread::sleep(Duration::from_micros(50));
                }
                Err(e) => return Err(e.into()),
            }
        }
    }

    fn send(&mut self, msg: Message) -> Result<()> {
        match self.ws.send(msg) {
            Ok(()) => Ok(()),
            Err(tungstenite::Error::Io(e)) if e.kind() == io::ErrorKind::WouldBlock => {
                self.flush_all()
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Writes `bytes` on the TCP socket itself, under the TLS layer (a forged record).
    fn write_raw(&mut self, mut bytes: &[u8]) -> Result<()> {
        let start = Instant::now();
        while !bytes.is_empty() {
            match (&self.sock).write(bytes) {
                Ok(0) => bail!("the client's socket took nothing"),
                Ok(n) => bytes = &bytes[n..],
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    if start.elapsed() > self.sh.config.write_timeout {
                        bail!("the client took nothing for {:?}", self.sh.config.write_timeout);
                    }
                    std::thread::sleep(Duration::from_micros(50));
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(())
    }

    /// Sends frame `i` (possibly altered) and logs it.
    fn send_frame(&mut self, i: usize, msg: Message) -> Result<()> {
        let msg = self.renumber(msg);
        let bytes = bytes_of(&msg);
        let seq = self.proto.seq_identity(bytes);
        self.sh.log.push(
            self.conn,
            "send",
            json!({ "frame": i, "seq": seq, "bytes": bytes.len() }),
        );
        self.send(msg)
    }

    /// A capture frame as this connection numbers it (see [`Streams::renumber`]).
    fn renumber(&mut self, msg: Message) -> Message {
        self.streams.renumber(self.proto, bytes_of(&msg)).map_or(msg, message)
    }

    /// Sends a frame made here (an acknowledgement, a snapshot) and logs it with `detail`.
    fn send_made(&mut self, frame: String, mut detail: Value) -> Result<()> {
        detail["synthetic"] = json!(true);
        detail["bytes"] = json!(frame.len());
        self.sh.log.push(self.conn, "send", detail);
        self.send(Message::Text(frame.into()))
    }

    fn fault(&self, kind: Kind, i: usize, detail: Value) {
        let seq =
            self.sh.capture.frames.get(i).and_then(|f| self.proto.seq_identity(bytes_of(&f.msg)));
        self.sh.log.push(
            self.conn,
            "fault",
            json!({ "fault": kind.name(), "frame": i, "seq": seq, "detail": detail }),
        );
    }

    /// Venues that resubscribe ([`SimProtocol::resubscribes`]), once streaming: an
    /// `unsubscribe` of a book holds that instrument's book frames back (as the venue's
    /// protocol tells them, [`SimProtocol::is_muted`]); a later `subscribe` of it is
    /// acknowledged as the venue does and answered with a fresh snapshot from the venue's
    /// books (under a new channel id, numbered on the connection's sequence, where the venue
    /// does so), and its frames flow again.
    /// Returns whether `text` was such a request (other subscriptions are the capture's to
    /// answer).
    fn resubscription(&mut self, text: &str) -> Result<bool> {
        let Ok(v) = serde_json::from_str::<Value>(text) else { return Ok(false) };
        let proto = self.proto;
        let requests = proto.book_requests(&v, &self.sh.capture, &self.streams);
        let handled = requests
            .iter()
            .any(|r| r.book.is_some() && (!r.subscribe || self.streams.muted.contains(&r.symbol)));
        if !handled {
            return Ok(false);
        }
        // Muted or not, as the message asks (an answer to the whole message lists what stays
        // subscribed).
        for r in requests.iter().filter(|r| r.book.is_some()) {
            self.streams.muted.retain(|m| *m != r.symbol);
            if !r.subscribe {
                self.streams.muted.push(r.symbol.clone());
            }
        }
        let subscribed: Vec<String> = self
            .books
            .as_ref()
            .map(VenueBooks::symbols)
            .unwrap_or_default()
            .into_iter()
            .filter(|s| !self.streams.muted.contains(s))
            .collect();
        if let Some(ack) = proto.subscriptions_answer(&requests, &subscribed, &mut self.streams) {
            self.send_made(ack.clone(), json!({ "text": ack }))?;
        }
        for r in requests {
            if let Some(ack) = &r.ack {
                self.send_made(ack.clone(), json!({ "text": ack }))?;
            }
            let Some(channel) = &r.book else { continue };
            if !r.subscribe {
                if let Some(ack) = proto.unsubscribed(&r, &mut self.streams) {
                    self.send_made(ack.clone(), json!({ "text": ack }))?;
                }
                continue;
            }
            let (ack, new_channel) = proto.resubscribed(&r, &mut self.streams);
            if let Some(ack) = ack {
                self.send_made(ack.clone(), json!({ "text": ack }))?;
            }
            let seq = proto.numbers_snapshots(&self.streams).then(|| self.streams.next_seq());
            let Some(books) = self.books.as_mut() else { continue };
            let Some(snapshot) = proto.snapshot(books, &r, channel, seq, new_channel) else {
                if seq.is_some() {
                    // Nothing went out under that number.
                    self.streams.unuse_seq();
                }
                continue;
            };
            // `venue_frame`: the last capture frame the snapshot's book includes.
            let detail = json!({
                "snapshot": r.symbol,
                "venue_frame": books.applied().checked_sub(1),
            });
            let text = String::from_utf8(snapshot).context("a made snapshot")?;
            self.send_made(text, detail)?;
        }
        Ok(true)
    }

    /// Reads whatever the client sent, answers it; sends a server ping when one is due.
    fn poll(&mut self) -> Result<Poll> {
        if let Some(every) = self.ping_every {
            if Instant::now() >= self.next_ping {
                self.next_ping = Instant::now() + every;
                self.sh.log.push(self.conn, "ping", json!({}));
                self.send(Message::Ping(Bytes::from_static(b"sim")))?;
            }
        }
        if let Some(until) = self.no_read_until {
            if Instant::now() < until {
                return Ok(Poll::Open);
            }
            self.no_read_until = None;
        }
        loop {
            match self.ws.read() {
                Ok(Message::Text(t)) => {
                    let text = t.as_str().to_owned();
                    self.sh.log.push(self.conn, "recv", json!({ "text": text }));
                    if let Some(pong) = self.proto.text_pong(&text) {
                        if self.proto.pong_is_data() {
                            // A client keeps this answer as a message: logged as sent.
                            self.send_made(pong.to_owned(), json!({ "text": pong }))?;
                        } else {
                            self.send(Message::Text(pong.into()))?;
                        }
                    } else if self.subscribed
                        && self.books.is_some()
                        && self.resubscription(&text)?
                    {
                        // A book resubscribed, answered.
                    } else if venue::is_subscribe(&text) {
                        self.subscribed = true;
                        if !self.sh.capture.has_acks {
                            if let Some(acks) = self.proto.synth_ack(&text) {
                                for ack in acks.lines() {
                                    self.sh.log.push(
                                        self.conn,
                                        "send",
                                        json!({ "synthetic": true, "bytes": ack.len(), "text": ack }),
                                    );
                                    self.send(Message::Text(ack.to_owned().into()))?;
                                }
                            }
                        }
                    }
                }
                Ok(Message::Ping(_)) => {
                    // tungstenite queued the pong; send it now.
                    self.sh.log.push(self.conn, "recv", json!({ "ping": true }));
                    self.flush_all()?;
                }
                Ok(Message::Pong(_)) => {
                    self.sh.log.push(self.conn, "recv", json!({ "pong": true }));
                }
                Ok(Message::Close(c)) => {
                    self.sh.log.push(
                        self.conn,
                        "close",
                        json!({ "why": "client closed", "code": c.map(|c| u16::from(c.code)) }),
                    );
                    let _ = self.flush_all();
                    return Ok(Poll::Closed);
                }
                Ok(_) => {}
                Err(tungstenite::Error::Io(e)) if e.kind() == io::ErrorKind::WouldBlock => {
                    return Ok(Poll::Open)
                }
                Err(tungstenite::Error::ConnectionClosed | tungstenite::Error::AlreadyClosed) => {
                    self.sh.log.push(self.conn, "close", json!({ "why": "connection closed" }));
                    return Ok(Poll::Closed);
                }
                Err(e) => return Err(e).context("reading the client"),
            }
        }
    }

    /// Waits until `due`, serving the client meanwhile; `Closed` when it went away.
    fn wait_until(&mut self, due: Instant) -> Result<Poll> {
        loop {
            if self.poll()? == Poll::Closed {
                return Ok(Poll::Closed);
            }
            let now = Instant::now();
            if now >= due || self.sh.stopping() {
                return Ok(Poll::Open);
            }
            std::thread::sleep((due - now).min(Duration::from_millis(1)));
        }
    }

    fn going_away(&mut self, code: CloseCode, why: &str) -> Result<()> {
        self.sh.log.push(self.conn, "close", json!({ "why": why, "code": u16::from(code) }));
        let _ = self.ws.close(Some(CloseFrame { code, reason: why.to_owned().into() }));
        let _ = self.flush_all();
        // Let the client answer the close (bounded).
        let until = Instant::now() + Duration::from_millis(500);
        while Instant::now() < until {
            match self.ws.read() {
                Err(tungstenite::Error::Io(e)) if e.kind() == io::ErrorKind::WouldBlock => {
                    std::thread::sleep(Duration::from_millis(1));
                }
                Ok(_) => {}
                Err(_) => break,
            }
        }
        Ok(())
    }

    /// Serves the capture to the client until it leaves or the run ends.
    pub fn run(mut self) -> Result<()> {
        let cap = Arc::clone(&self.sh.capture);
        let frames = &cap.frames;
        // Greetings go out on connect.
        let greet = frames.iter().take_while(|f| venue::is_greeting(bytes_of(&f.msg))).count();
        for (i, f) in frames.iter().enumerate().take(greet) {
            self.send_frame(i, f.msg.clone())?;
        }
        // Then nothing until the client subscribes (bounded).
        let sub_deadline = Instant::now() + Duration::from_secs(10);
        while !self.subscribed {
            if self.sh.stopping() || Instant::now() > sub_deadline {
                return self.going_away(CloseCode::Policy, "no subscription");
            }
            if self.wait_until(Instant::now() + Duration::from_millis(1))? == Poll::Closed {
                return Ok(());
            }
        }
        let track = self.proto.serves_rest();
        if track {
            // The newest connection's stream is the venue's state REST snapshots come from.
            let mut books = VenueBooks::new(self.sh.config.venue, Arc::clone(&cap));
            if let Some(last) = greet.checked_sub(1) {
                books.advance_to(last);
            }
            *self.sh.venue_books.lock().unwrap_or_else(|e| e.into_inner()) =
                Some((self.conn, books));
        }
        let first = !self.sh.arrived.swap(true, Ordering::AcqRel);
        if let Some(gate) = self.sh.config.start_together.clone().filter(|_| first) {
            gate.arrive();
            let (began, deadline) = (Instant::now(), Instant::now() + Duration::from_secs(10));
            while !gate.open() && !self.sh.stopping() && Instant::now() < deadline {
                if self.wait_until(Instant::now() + Duration::from_millis(1))? == Poll::Closed {
                    return Ok(());
                }
            }
            let waited = began.elapsed().as_secs_f64();
            self.sh.log.push(
                self.conn,
                "together",
                json!({ "open": gate.open(), "waited_s": waited }),
            );
        }
        let start = Instant::now();
        let ts0 = frames[greet..].iter().map(|f| f.ts).find(|&t| t != 0).unwrap_or(0);
        let mut pending_corrupt = false;
        let mut pending_crossed = false;
        let mut held: Option<(usize, Message)> = None;
        let mut i = greet;
        while i < frames.len() {
            if self.sh.stopping() {
                return self.going_away(CloseCode::Away, "simulator stopping");
            }
            let due = match self.sh.config.pace {
                Pace::Max => None,
                Pace::Recorded if frames[i].ts >= ts0 && ts0 != 0 => {
                    Some(start + Duration::from_nanos(frames[i].ts - ts0))
                }
                Pace::Recorded => None,
                Pace::Rate(r) => Some(start + Duration::from_secs_f64((i - greet) as f64 / r)),
            };
            match due {
                Some(d) => {
                    if self.wait_until(d)? == Poll::Closed {
                        return Ok(());
                    }
                }
                None => {
                    if i % 64 == 0 && self.poll()? == Poll::Closed {
                        return Ok(());
                    }
                }
            }
            let mut faults = self.sh.due(i as u64, false, self.conn);
            for f in &self.sh.config.faults {
                if let Trigger::Chance(p) = f.trigger {
                    if f.conn.is_none_or(|c| c == self.conn) && self.rng.next_f64() < p {
                        faults.push(*f);
                    }
                }
            }
            let mut msg = frames[i].msg.clone();
            let mut skip = false;
            let mut dup = false;
            for f in &faults {
                match f.kind {
                    Kind::Stall => {
                        self.fault(f.kind, i, json!({ "seconds": f.arg }));
                        let until = Instant::now() + Duration::from_secs_f64(f.arg);
                        while Instant::now() < until && !self.sh.stopping() {
                            std::thread::sleep(Duration::from_millis(2));
                        }
                    }
                    Kind::SlowRead => {
                        self.fault(f.kind, i, json!({ "seconds": f.arg }));
                        self.no_read_until = Some(Instant::now() + Duration::from_secs_f64(f.arg));
                    }
                    Kind::Oversize => {
                        let n = f.arg as usize;
                        self.fault(f.kind, i, json!({ "bytes": n }));
                        let mut big = String::with_capacity(n);
                        big.push_str("{\"oversize\":\"");
                        while big.len() + 2 < n {
                            big.push('x');
                        }
                        big.push_str("\"}");
                        self.send(Message::Text(big.into()))?;
                    }
                    Kind::Close => {
                        self.fault(f.kind, i, json!({}));
                        return self.going_away(CloseCode::Normal, "simulated close");
                    }
                    Kind::TlsGarbage => {
                        // Everything before it leaves whole, then a record that does not
                        // authenticate goes out under rustls, and the connection ends.
                        self.flush_all()?;
                        let mut forged = vec![23u8, 3, 3, 0, 40];
                        forged.extend_from_slice(&[7u8; 40]);
                        let tls = self.sh.pki.is_some();
                        self.fault(f.kind, i, json!({ "bytes": forged.len(), "tls": tls }));
                        self.write_raw(&forged)?;
                        return Ok(());
                    }
                    Kind::Reset => {
                        self.fault(f.kind, i, json!({}));
                        socket2::SockRef::from(&self.sock).set_linger(Some(Duration::ZERO))?;
                        return Ok(());
                    }
                    Kind::Drop => {
                        self.fault(f.kind, i, json!({}));
                        skip = true;
                    }
                    Kind::Dup => {
                        self.fault(f.kind, i, json!({}));
                        dup = true;
                    }
                    Kind::Reorder if i + 1 < frames.len() && held.is_none() => {
                        self.fault(f.kind, i, json!({ "swapped_with": i + 1 }));
                        held = Some((i, msg.clone()));
                        skip = true;
                    }
                    Kind::Malformed => {
                        let b = bytes_of(&msg);
                        let half = b[..b.len() / 2].to_vec();
                        self.fault(f.kind, i, json!({ "bytes": half.len() }));
                        msg = Message::Binary(Bytes::from(half));
                        if let Ok(s) = std::str::from_utf8(bytes_of(&msg)) {
                            msg = Message::Text(s.to_owned().into());
                        }
                    }
                    Kind::Corrupt => pending_corrupt = true,
                    Kind::Crossed => pending_crossed = true,
                    _ => {}
                }
            }
            if pending_corrupt {
                if let Some(c) = self.proto.corrupt_level(bytes_of(&msg)) {
                    self.fault(Kind::Corrupt, i, json!({}));
                    msg = message(c);
                    pending_corrupt = false;
                }
            }
            if pending_crossed {
                if let Some(c) = self.proto.cross_book(bytes_of(&msg)) {
                    self.fault(Kind::Crossed, i, json!({}));
                    msg = message(c);
                    pending_crossed = false;
                }
            }
            if track {
                // The venue's book moves on whatever the client gets of it.
                let mut guard = self.sh.venue_books.lock().unwrap_or_else(|e| e.into_inner());
                if let Some((_, books)) = guard.as_mut().filter(|(c, _)| *c == self.conn) {
                    books.advance_to(i);
                }
            }
            if let Some(books) = self.books.as_mut() {
                books.advance_to(i);
            }
            if !skip
                && !self.streams.muted.is_empty()
                && self.proto.is_muted(bytes_of(&msg), &self.streams)
            {
                // The client unsubscribed this book: the venue sends nothing of it.
                self.sh.log.push(self.conn, "withheld", json!({ "frame": i }));
                if self.proto.conn_seq(bytes_of(&msg)).is_some() {
                    // Not sent, so not numbered: the frames after it move down by one.
                    self.streams.seq_shift -= 1;
                }
                skip = true;
            }
            if !skip {
                self.send_frame(i, msg.clone())?;
                if dup {
                    self.send_frame(i, msg)?;
                }
                if let Some((j, m)) = held.take_if(|(j, _)| *j != i) {
                    self.send_frame(j, m)?;
                }
            }
            i += 1;
        }
        if let Some((j, m)) = held.take() {
            self.send_frame(j, m)?;
        }
        self.flush_all()?;
        self.sh.log.push(self.conn, "served", json!({ "frames": frames.len() }));
        // The capture is over: stay connected (pings, keep-alives) until the client leaves or
        // the run ends.
        loop {
            if self.sh.stopping() {
                return self.going_away(CloseCode::Away, "simulator stopping");
            }
            if self.wait_until(Instant::now() + Duration::from_millis(5))? == Poll::Closed {
                return Ok(());
            }
        }
    }
}
