//! Bulk transfer: the sliding-window sender and the reordering receiver, shared by both ends
//! (a client's upload and a server's download run the same code), and the
//! retransmit-until-answered loop of requests.
//!
//! Both work over a `Link`: "send a datagram to the peer" and "the next datagram of this
//! session from the peer, or nothing within a timeout". The client's link is its own socket;
//! a server session's link is the queue its demultiplexer fills.

use super::rtt::Rtt;
use super::wire::{self, Header, Kind, FLAG_ACK_NOW, HEADER_LEN, MAX_SACK_LEN};
use super::{aborted, gave_up, Config, Incoming, MAX_TRIES};
use crate::frame::BodySummary;
use std::collections::VecDeque;
use std::io::{self, BufWriter, Read, Write};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// Congestion window a transfer starts with, in bytes (rounded to whole chunks, at least
/// [`MIN_CWND`]): about TCP's initial window (10 segments), so a first burst cannot flood a
/// path whose capacity is still unknown.
pub const INITIAL_WINDOW_BYTES: usize = 16 * 1024;

/// Smallest congestion window, in chunks: with 2 in flight an ACK is always on its way.
pub const MIN_CWND: f64 = 2.0;

/// Congestion window kept after a loss, as a fraction: 0.7, CUBIC's choice (RFC 8312):
/// random loss on a lossy link costs less than with TCP Reno's halving.
pub const LOSS_BETA: f64 = 0.7;

/// A chunk counts as lost once a chunk sent this many transmissions after it has been
/// acknowledged: TCP's "three duplicate ACKs", which tolerates mild reordering.
pub const DUP_THRESH: u64 = 3;

/// The receiver acknowledges at least every this many chunks even if the sender does not ask.
pub const ACK_EVERY: usize = 64;

/// A receiver holding unacknowledged chunks acknowledges them after this much quiet time.
pub const ACK_DELAY: Duration = Duration::from_millis(2);

/// Duplicates (chunks received twice) trigger at most one ACK per this interval: the sender
/// learns its ACK was lost, and a burst of duplicates does not cause a burst of ACKs.
pub const DUP_ACK_INTERVAL: Duration = Duration::from_millis(5);

/// What a bulk transfer cost the sender: for curiosity, and for experiments with loss.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TransferStats {
    /// DATA and END datagrams sent once (the chunks, plus 1).
    pub datagrams: u64,
    /// Copies sent again because they were taken for lost.
    pub retransmitted: u64,
    /// Loss events (each shrank the congestion window once).
    pub loss_events: u64,
    /// Retransmission timeouts (nothing acknowledged for a whole RTO).
    pub timeouts: u64,
    /// ACKs received.
    pub acks: u64,
}

/// What a bulk transfer needs from the socket underneath.
pub(crate) trait Link {
    /// The peer's address.
    fn peer(&self) -> SocketAddr;
    /// "server" or "client": what the peer is, for error messages.
    fn peer_role(&self) -> &'static str;
    /// The session id.
    fn session(&self) -> u32;
    /// The configuration of this end.
    fn config(&self) -> &Config;
    /// The round-trip estimator of this session.
    fn rtt(&mut self) -> &mut Rtt;
    /// Sends one datagram to the peer.
    fn send(&mut self, datagram: &[u8]) -> io::Result<()>;
    /// The next datagram of this session from the peer, or `None` after `timeout`.
    fn recv(&mut self, timeout: Duration) -> io::Result<Option<Incoming>>;
    /// A datagram the running operation has no use for (stale, or for an earlier exchange).
    fn stray(&mut self, _p: &Incoming) -> io::Result<()> {
        Ok(())
    }
    /// How many datagrams of `len` bytes the receiving path can buffer for one transfer.
    fn receive_capacity(&self, len: usize) -> usize;
}

/// What the requests of a client cost so far: for curiosity, and for experiments with loss.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RequestStats {
    /// Exchanges answered with a REPLY (requests, and uploads answered after their END).
    pub answered: u64,
    /// Copies sent: every REQUEST (first ones included), and the END repeated after an
    /// upload while its REPLY was awaited.
    pub copies: u64,
    /// Retransmission timeouts, each of which sent one more copy.
    pub timeouts: u64,
    /// The sum of the timeouts that expired: how long answers were awaited in vain, counted
    /// from the timers rather than measured, so it does not depend on how busy the machine
    /// is.
    pub timeout_wait: Duration,
    /// Answers timed (round-trip samples taken), by Karn's rule or by the copy they echo.
    pub samples: u64,
}

/// Sends `datagram` (or, when `send_first` is false, only waits first) until the peer's REPLY
/// for `exchange` arrives; returns the reply's payload.
///
/// A REQUEST is numbered: each copy carries its copy number in `flags`, and the REPLY's
/// `flags` say which copy it answers, so that copy is timed even after retransmissions and
/// the backoff ends ([`super::rtt`]). A REPLY echoing [`wire::UNKNOWN_COPY`] is timed only
/// when a single copy was sent (Karn's rule).
///
/// An ACK for the exchange means "received, still working": the peer is alive, so the
/// give-up clock restarts.
pub(crate) fn await_reply<L: Link + ?Sized>(
    link: &mut L,
    exchange: u32,
    datagram: &[u8],
    send_first: bool,
    stats: &mut RequestStats,
) -> io::Result<Vec<u8>> {
    let mut datagram = datagram.to_vec();
    let numbered = datagram.get(wire::field::KIND) == Some(&(Kind::Request as u8));
    // When copy n left, at index n - 1: one entry per timeout, at most 65,535 of them.
    let mut sent_at: Vec<Instant> = Vec::new();
    let mut last_heard = Instant::now();
    let mut tries_unheard: u32 = 0;
    if send_first {
        send_copy(link, &mut datagram, numbered, &mut sent_at, stats)?;
        tries_unheard = 1;
    }
    let mut rto = link.rtt().rto();
    let mut deadline = Instant::now() + rto;
    loop {
        let now = Instant::now();
        let p = if now < deadline {
            link.recv(deadline - now)?
        } else {
            None
        };
        match p {
            Some(p) if p.header.exchange == exchange && p.header.kind == Kind::Reply => {
                let answered = match p.header.flags {
                    // Karn's rule: with one copy sent, the answer is for that one.
                    wire::UNKNOWN_COPY => (send_first && sent_at.len() == 1).then(|| sent_at[0]),
                    copy if numbered => sent_at.get(usize::from(copy) - 1).copied(),
                    _ => None,
                };
                if let Some(at) = answered {
                    link.rtt().sample(at.elapsed());
                    stats.samples += 1;
                }
                stats.answered += 1;
                return Ok(p.payload().to_vec());
            }
            Some(p) if p.header.kind == Kind::Abort => {
                return Err(aborted(link.peer_role(), p.payload()))
            }
            Some(p) if p.header.exchange == exchange && p.header.kind == Kind::Ack => {
                last_heard = Instant::now();
                tries_unheard = 0;
            }
            Some(p) => link.stray(&p)?,
            None => {
                if Instant::now() < deadline {
                    continue;
                }
                let silent = last_heard.elapsed();
                if tries_unheard >= MAX_TRIES && silent >= link.config().peer_timeout {
                    return Err(gave_up(
                        link.peer(),
                        link.peer_role(),
                        tries_unheard,
                        silent,
                    ));
                }
                stats.timeouts += 1;
                stats.timeout_wait += rto;
                link.rtt().back_off();
                send_copy(link, &mut datagram, numbered, &mut sent_at, stats)?;
                tries_unheard += 1;
                rto = link.rtt().rto();
                deadline = Instant::now() + rto;
            }
        }
    }
}

/// Sends the next copy of `datagram`, numbered in `flags` when it is a REQUEST, and notes
/// when it left.
fn send_copy<L: Link + ?Sized>(
    link: &mut L,
    datagram: &mut [u8],
    numbered: bool,
    sent_at: &mut Vec<Instant>,
    stats: &mut RequestStats,
) -> io::Result<()> {
    // Past the 16-bit field's range a copy is unnumbered; it is then never timed.
    let copy = u16::try_from(sent_at.len() + 1).unwrap_or(wire::UNKNOWN_COPY);
    if numbered {
        wire::set_flags(datagram, copy);
    }
    link.send(datagram)?;
    stats.copies += 1;
    if copy != wire::UNKNOWN_COPY {
        sent_at.push(Instant::now());
    }
    Ok(())
}

/// One chunk (or the END) waiting for its acknowledgement.
struct Slot {
    datagram: Vec<u8>,
    sent_at: Instant,
    /// Transmission number of the latest copy: 1, 2, 3... across the transfer.
    tx: u64,
    retransmitted: bool,
    acked: bool,
    /// Deemed lost and not yet sent again.
    lost: bool,
}

/// The sending half of a bulk transfer.
struct Sender {
    exchange: u32,
    chunk: usize,
    max_window: usize,
    /// Lowest chunk number not yet acknowledged; `slots[0]` holds it.
    base: u64,
    slots: VecDeque<Slot>,
    next_seq: u64,
    end_seq: Option<u64>,
    in_flight: usize,
    lost: usize,
    cwnd: f64,
    ssthresh: f64,
    /// A loss while `base < recovery_until` belongs to a loss event already answered.
    recovery_until: u64,
    peer_window: usize,
    tx: u64,
    max_acked_tx: u64,
    since_ack_request: usize,
    timer: Option<Instant>,
    last_heard: Instant,
    tries_unheard: u32,
    free: Vec<Vec<u8>>,
    hasher: crc32fast::Hasher,
    read: u64,
    acked_bytes: u64,
    reply: Option<Vec<u8>>,
    end_datagram: Option<Vec<u8>>,
    stats: TransferStats,
}

/// The outcome of [`send_bulk`].
pub(crate) struct Sent {
    /// Size and CRC-32 of what was sent.
    pub summary: BodySummary,
    /// The END datagram, to repeat while waiting for a reply.
    pub end: Vec<u8>,
    /// The peer's REPLY, if it came before the ACK of the END.
    pub reply: Option<Vec<u8>>,
    /// What it cost.
    pub stats: TransferStats,
}

/// Sends `size` bytes from `src` as bulk exchange `exchange`; returns when the receiver has
/// acknowledged the END (all data, size and CRC-32 verified).
pub(crate) fn send_bulk<L: Link + ?Sized, R: Read + ?Sized>(
    link: &mut L,
    exchange: u32,
    src: &mut R,
    size: u64,
    on_progress: &mut dyn FnMut(u64),
) -> io::Result<Sent> {
    let cfg = link.config().clone();
    let chunk = cfg.chunk;
    let mut src = io::BufReader::with_capacity(crate::frame::STREAM_BUF_LEN, src);
    let initial = ((INITIAL_WINDOW_BYTES / chunk) as f64).max(MIN_CWND);
    let mut s = Sender {
        exchange,
        chunk,
        max_window: cfg.window,
        base: 0,
        slots: VecDeque::new(),
        next_seq: 0,
        end_seq: None,
        in_flight: 0,
        lost: 0,
        cwnd: initial.min(cfg.window as f64).max(1.0),
        ssthresh: f64::INFINITY,
        recovery_until: 0,
        peer_window: cfg.window,
        tx: 0,
        max_acked_tx: 0,
        since_ack_request: 0,
        timer: None,
        last_heard: Instant::now(),
        tries_unheard: 0,
        free: Vec::new(),
        hasher: crc32fast::Hasher::new(),
        read: 0,
        acked_bytes: 0,
        reply: None,
        end_datagram: None,
        stats: TransferStats::default(),
    };
    loop {
        s.send_what_we_may(link, &mut src, size)?;
        if s.end_seq.is_some_and(|end| s.base > end) {
            break;
        }
        let now = Instant::now();
        let wait = match s.timer {
            Some(t) if t > now => t - now,
            Some(_) => Duration::ZERO,
            None => link.rtt().rto(),
        };
        let got = if wait.is_zero() {
            None
        } else {
            link.recv(wait)?
        };
        match got {
            Some(p) if p.header.exchange == exchange && p.header.kind == Kind::Ack => {
                s.stats.acks += 1;
                s.on_ack(link, &p);
                on_progress(s.acked_bytes);
            }
            Some(p) if p.header.exchange == exchange && p.header.kind == Kind::Reply => {
                // The receiver has everything and has already answered: our ACK was lost.
                s.reply = Some(p.payload().to_vec());
                break;
            }
            Some(p) if p.header.kind == Kind::Abort => {
                return Err(aborted(link.peer_role(), p.payload()))
            }
            Some(p) => link.stray(&p)?,
            None => {
                if s.timer.is_some_and(|t| Instant::now() >= t) {
                    s.on_timeout(link)?;
                }
            }
        }
    }
    on_progress(size);
    let end = s
        .end_datagram
        .take()
        .expect("the loop ends only after the END was sent");
    let summary = BodySummary {
        size,
        crc32: s.hasher.clone().finalize(),
    };
    Ok(Sent {
        summary,
        end,
        reply: s.reply,
        stats: s.stats,
    })
}

impl Sender {
    /// Chunks that may be in flight now: the congestion window, this end's window and the
    /// receiver's, whichever is smallest.
    fn limit(&self) -> usize {
        (self.cwnd as usize)
            .max(1)
            .min(self.max_window)
            .min(self.peer_window.max(1))
    }

    /// Sends retransmissions first, then new chunks, then the END, while the windows allow.
    fn send_what_we_may<L: Link + ?Sized, R: Read + ?Sized>(
        &mut self,
        link: &mut L,
        src: &mut R,
        size: u64,
    ) -> io::Result<()> {
        loop {
            let limit = self.limit();
            if self.in_flight >= limit {
                return Ok(());
            }
            let ask =
                self.in_flight + 1 >= limit || self.since_ack_request + 1 >= (limit / 4).max(1);
            if self.lost > 0 {
                let i = self
                    .slots
                    .iter()
                    .position(|s| s.lost && !s.acked)
                    .expect("lost > 0 counts slots marked lost");
                self.tx += 1;
                let slot = &mut self.slots[i];
                wire::set_flags(&mut slot.datagram, FLAG_ACK_NOW);
                slot.lost = false;
                slot.retransmitted = true;
                slot.tx = self.tx;
                slot.sent_at = Instant::now();
                link.send(&slot.datagram)?;
                self.stats.retransmitted += 1;
                self.lost -= 1;
                self.in_flight += 1;
                self.since_ack_request = 0;
                self.arm_timer(link);
                continue;
            }
            if self.end_seq.is_some_and(|end| self.next_seq > end) {
                return Ok(()); // everything sent at least once
            }
            let receiver_room = self.base + self.peer_window.max(1).min(self.max_window) as u64;
            if self.next_seq >= receiver_room {
                return Ok(());
            }
            let last_of_window = self.next_seq + 1 >= receiver_room;
            let mut datagram = self.free.pop().unwrap_or_default();
            let is_end = self.read >= size;
            if is_end {
                self.end_seq = Some(self.next_seq);
                let h = Header {
                    seq: self.next_seq,
                    flags: FLAG_ACK_NOW,
                    ..Header::new(Kind::End, link.session(), self.exchange)
                };
                datagram.clear();
                datagram.resize(HEADER_LEN, 0);
                h.write_to(&mut datagram);
                datagram
                    .extend_from_slice(&wire::end_payload(size, self.hasher.clone().finalize()));
                self.end_datagram = Some(datagram.clone());
            } else {
                let len =
                    usize::try_from(size - self.read).map_or(self.chunk, |l| l.min(self.chunk));
                datagram.clear();
                datagram.resize(HEADER_LEN + len, 0);
                read_full(src, &mut datagram[HEADER_LEN..], self.read, size)?;
                self.hasher.update(&datagram[HEADER_LEN..]);
                self.read += len as u64;
                let h = Header {
                    seq: self.next_seq,
                    flags: if ask || last_of_window {
                        FLAG_ACK_NOW
                    } else {
                        0
                    },
                    ..Header::new(Kind::Data, link.session(), self.exchange)
                };
                h.write_to(&mut datagram);
            }
            self.tx += 1;
            self.stats.datagrams += 1;
            link.send(&datagram)?;
            if ask || last_of_window || is_end {
                self.since_ack_request = 0;
            } else {
                self.since_ack_request += 1;
            }
            self.slots.push_back(Slot {
                datagram,
                sent_at: Instant::now(),
                tx: self.tx,
                retransmitted: false,
                acked: false,
                lost: false,
            });
            self.next_seq += 1;
            self.in_flight += 1;
            self.arm_timer(link);
        }
    }

    /// Starts the retransmission timer if it is not running (RFC 6298, rule 5.1).
    fn arm_timer<L: Link + ?Sized>(&mut self, link: &mut L) {
        if self.timer.is_none() {
            self.timer = Some(Instant::now() + link.rtt().rto());
        }
    }

    /// Marks chunk `seq` acknowledged; returns its send time if it may give an RTT sample.
    fn mark_acked(&mut self, seq: u64) -> Option<(Instant, u64)> {
        let i = usize::try_from(seq.checked_sub(self.base)?).ok()?;
        let slot = self.slots.get_mut(i)?;
        if slot.acked {
            return None;
        }
        slot.acked = true;
        if slot.lost {
            slot.lost = false;
            self.lost -= 1;
        } else {
            self.in_flight -= 1;
        }
        self.max_acked_tx = self.max_acked_tx.max(slot.tx);
        (!slot.retransmitted).then_some((slot.sent_at, slot.tx))
    }

    fn on_ack<L: Link + ?Sized>(&mut self, link: &mut L, p: &Incoming) {
        let now = Instant::now();
        self.last_heard = now;
        self.tries_unheard = 0;
        let cum = p.header.seq;
        let newest = cum >= self.base;
        let mut newly = 0usize;
        let mut sample: Option<(Instant, u64)> = None;
        let mut note = |s: Option<(Instant, u64)>, newly: &mut usize| {
            *newly += 1;
            if let Some((at, tx)) = s {
                if sample.is_none_or(|(_, best)| tx > best) {
                    sample = Some((at, tx));
                }
            }
        };
        for seq in self.base..cum.min(self.next_seq) {
            let i = (seq - self.base) as usize;
            if self.slots.get(i).is_some_and(|s| !s.acked) {
                let s = self.mark_acked(seq);
                note(s, &mut newly);
            }
        }
        for (byte_i, byte) in p.payload().iter().enumerate() {
            if *byte == 0 {
                continue;
            }
            for bit in 0..8 {
                if byte & (1 << bit) != 0 {
                    let seq = cum + 1 + (byte_i * 8 + bit) as u64;
                    if seq >= self.base && seq < self.next_seq {
                        let i = (seq - self.base) as usize;
                        if !self.slots[i].acked {
                            let s = self.mark_acked(seq);
                            note(s, &mut newly);
                        }
                    }
                }
            }
        }
        let mut progressed = false;
        while self.slots.front().is_some_and(|s| s.acked) {
            let slot = self.slots.pop_front().expect("front exists");
            if slot.datagram.get(wire::field::KIND) == Some(&(Kind::Data as u8)) {
                self.acked_bytes += (slot.datagram.len() - HEADER_LEN) as u64;
            }
            self.free.push(slot.datagram);
            self.base += 1;
            progressed = true;
        }
        if newest {
            self.peer_window = usize::from(p.header.window).max(1);
        }
        if let Some((at, _)) = sample {
            link.rtt().sample(now - at);
        }
        // Loss detection: an unacknowledged chunk sent DUP_THRESH transmissions before one
        // that has been acknowledged.
        let mut loss = false;
        if self.max_acked_tx > DUP_THRESH {
            for slot in self.slots.iter_mut() {
                if !slot.acked && !slot.lost && slot.tx + DUP_THRESH <= self.max_acked_tx {
                    slot.lost = true;
                    self.lost += 1;
                    self.in_flight -= 1;
                    loss = true;
                }
            }
        }
        if loss && self.base >= self.recovery_until {
            self.stats.loss_events += 1;
            self.ssthresh = (self.cwnd * LOSS_BETA).max(MIN_CWND);
            self.cwnd = self.ssthresh;
            self.recovery_until = self.next_seq;
        } else if newly > 0 && self.base >= self.recovery_until {
            let n = newly as f64;
            if self.cwnd < self.ssthresh {
                self.cwnd += n; // slow start: doubles every round trip
            } else {
                self.cwnd += n / self.cwnd; // congestion avoidance: +1 chunk per round trip
            }
            self.cwnd = self.cwnd.min(self.max_window as f64);
        }
        if progressed || newly > 0 {
            self.timer = if self.in_flight > 0 || self.lost > 0 {
                Some(now + link.rtt().rto())
            } else {
                None
            };
        }
    }

    /// The oldest datagram went unanswered for a whole timeout: back off, shrink the window
    /// to the minimum, and send again everything not acknowledged (RFC 6298, 5.4 to 5.6).
    fn on_timeout<L: Link + ?Sized>(&mut self, link: &mut L) -> io::Result<()> {
        self.stats.timeouts += 1;
        let silent = self.last_heard.elapsed();
        self.tries_unheard += 1;
        if self.tries_unheard >= MAX_TRIES && silent >= link.config().peer_timeout {
            return Err(gave_up(
                link.peer(),
                link.peer_role(),
                self.tries_unheard,
                silent,
            ));
        }
        link.rtt().back_off();
        self.ssthresh = (self.in_flight as f64 / 2.0).max(MIN_CWND);
        self.cwnd = MIN_CWND;
        self.recovery_until = self.next_seq;
        for slot in self.slots.iter_mut() {
            if !slot.acked && !slot.lost {
                slot.lost = true;
                self.lost += 1;
            }
        }
        self.in_flight = 0;
        self.timer = None;
        Ok(())
    }
}

/// Reads exactly `buf.len()` bytes of the file being sent.
fn read_full<R: Read + ?Sized>(
    src: &mut R,
    buf: &mut [u8],
    done: u64,
    size: u64,
) -> io::Result<()> {
    let mut filled = 0;
    while filled < buf.len() {
        match src.read(&mut buf[filled..]) {
            Ok(0) => {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    format!(
                        "source ended after {} of {size} bytes (file changed while sending?)",
                        done + filled as u64
                    ),
                ))
            }
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// The receiving half of a bulk transfer.
struct Receiver {
    exchange: u32,
    session: u32,
    /// Next chunk expected: every chunk below it has been written.
    cum: u64,
    /// Chunks that arrived early, `held[i]` for chunk `cum + i` (`held[0]` is always empty).
    held: VecDeque<Option<Incoming>>,
    held_count: usize,
    window: usize,
    end: Option<(u64, u64, u32)>,
    hasher: crc32fast::Hasher,
    bytes: u64,
    unacked: usize,
    ack_owed: bool,
    last_ack: Option<Instant>,
}

/// Receives bulk exchange `exchange` into `dst`: reorders chunks, acknowledges them, writes
/// them in order, and checks the END's size and CRC-32. Returns the summary and the final
/// ACK (to repeat if the sender repeats its END).
pub(crate) fn recv_bulk<L: Link + ?Sized, W: Write + ?Sized>(
    link: &mut L,
    exchange: u32,
    dst: &mut W,
    max_size: u64,
    on_progress: &mut dyn FnMut(u64),
) -> io::Result<(BodySummary, Vec<u8>)> {
    let result = receive(link, exchange, dst, max_size, on_progress);
    if let Err(e) = &result {
        // Tell the sender at once when we give up for our own reasons (bad data, a failed
        // write); after a timeout it is gone, and after its ABORT it knows.
        if !matches!(
            e.kind(),
            io::ErrorKind::TimedOut | io::ErrorKind::ConnectionAborted
        ) {
            let h = Header::new(Kind::Abort, link.session(), exchange);
            let msg = e.to_string();
            let msg = truncate_utf8(&msg, wire::MAX_MESSAGE_LEN);
            let _ = link.send(&wire::encode(&h, msg.as_bytes()));
        }
    }
    result
}

fn receive<L: Link + ?Sized, W: Write + ?Sized>(
    link: &mut L,
    exchange: u32,
    dst: &mut W,
    max_size: u64,
    on_progress: &mut dyn FnMut(u64),
) -> io::Result<(BodySummary, Vec<u8>)> {
    let cfg = link.config().clone();
    let mut out = BufWriter::with_capacity(crate::frame::STREAM_BUF_LEN, dst);
    let mut r = Receiver {
        exchange,
        session: link.session(),
        cum: 0,
        held: VecDeque::new(),
        held_count: 0,
        window: 0,
        end: None,
        hasher: crc32fast::Hasher::new(),
        bytes: 0,
        unacked: 0,
        ack_owed: false,
        last_ack: None,
    };
    let mut last_heard = Instant::now();
    loop {
        let silent = last_heard.elapsed();
        let timeout = if r.ack_owed {
            ACK_DELAY
        } else {
            cfg.peer_timeout
                .saturating_sub(silent)
                .max(Duration::from_millis(1))
        };
        let Some(p) = link.recv(timeout)? else {
            if r.ack_owed {
                r.send_ack(link)?;
            } else if last_heard.elapsed() >= cfg.peer_timeout {
                return Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!(
                        "no data from {} for {:.1} s: the {} stopped sending",
                        link.peer(),
                        last_heard.elapsed().as_secs_f64(),
                        link.peer_role()
                    ),
                ));
            }
            continue;
        };
        if p.header.kind == Kind::Abort {
            return Err(aborted(link.peer_role(), p.payload()));
        }
        if p.header.exchange != exchange || !matches!(p.header.kind, Kind::Data | Kind::End) {
            link.stray(&p)?;
            continue;
        }
        last_heard = Instant::now();
        if r.window == 0 {
            // The first chunk tells how big the sender's datagrams are, hence how many of
            // them our buffers hold.
            r.window = link
                .receive_capacity(p.datagram.len())
                .clamp(1, cfg.window.min(super::MAX_WINDOW));
            r.held.resize_with(r.window, || None);
        }
        let ask = p.header.flags & FLAG_ACK_NOW != 0;
        let seq = p.header.seq;
        if p.header.kind == Kind::End && seq < r.cum && r.end.is_none() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("END says {seq} chunks, but {} have arrived", r.cum),
            ));
        }
        if let Some((end_seq, _, _)) = r.end {
            if seq > end_seq || (seq == end_seq && p.header.kind == Kind::Data) {
                continue; // beyond the announced end: a confused or hostile sender
            }
        }
        if seq < r.cum || seq >= r.cum + r.window as u64 {
            // A duplicate of something written, or beyond our buffer: tell the sender where
            // we are, but not more than once per DUP_ACK_INTERVAL.
            r.dup_ack(link)?;
            continue;
        }
        let i = (seq - r.cum) as usize;
        if r.held[i].is_some() {
            r.dup_ack(link)?;
            continue;
        }
        if p.header.kind == Kind::End {
            let (size, crc32) = wire::parse_end(p.payload());
            r.end = Some((seq, size, crc32));
        }
        r.held[i] = Some(p);
        r.held_count += 1;
        let before = r.cum;
        r.deliver(&mut out, max_size)?;
        if r.cum != before {
            on_progress(r.bytes);
        }
        if let Some((end_seq, size, crc32)) = r.end {
            if r.cum == end_seq {
                return r.finish(link, out, end_seq, size, crc32);
            }
        }
        if ask || r.held_count > 0 || r.unacked >= ACK_EVERY {
            r.send_ack(link)?;
        } else {
            r.ack_owed = true;
        }
    }
}

impl Receiver {
    /// Writes the chunks now in order; stops at a gap or at the END.
    fn deliver<W: Write>(&mut self, out: &mut W, max_size: u64) -> io::Result<()> {
        while let Some(Some(p)) = self.held.front() {
            if p.header.kind == Kind::End {
                return Ok(());
            }
            let data = p.payload();
            if self.bytes + data.len() as u64 > max_size {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!(
                        "transfer exceeds limit {max_size} bytes ({} received)",
                        self.bytes + data.len() as u64
                    ),
                ));
            }
            out.write_all(data)?;
            self.hasher.update(data);
            self.bytes += data.len() as u64;
            self.held.pop_front();
            self.held.push_back(None);
            self.held_count -= 1;
            self.cum += 1;
            self.unacked += 1;
        }
        Ok(())
    }

    /// All chunks before the END are written: check size and CRC-32, acknowledge the END.
    fn finish<L: Link + ?Sized, W: Write>(
        &mut self,
        link: &mut L,
        mut out: BufWriter<W>,
        end_seq: u64,
        size: u64,
        crc32: u32,
    ) -> io::Result<(BodySummary, Vec<u8>)> {
        out.flush()?;
        let got = self.hasher.clone().finalize();
        if self.bytes != size {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!(
                    "size mismatch: sender says {size} bytes, {} arrived",
                    self.bytes
                ),
            ));
        }
        if got != crc32 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!(
                    "checksum mismatch: sender says {crc32:08x}, received bytes give {got:08x}"
                ),
            ));
        }
        self.cum = end_seq + 1;
        self.held.clear();
        self.held_count = 0;
        let ack = self.ack_datagram();
        link.send(&ack)?;
        Ok((BodySummary { size, crc32 }, ack))
    }

    fn ack_datagram(&self) -> Vec<u8> {
        let mut sack = [0u8; MAX_SACK_LEN];
        let mut len = 0;
        for (i, slot) in self.held.iter().enumerate().skip(1) {
            if slot.is_some() {
                let bit = i - 1;
                if bit / 8 >= MAX_SACK_LEN {
                    break;
                }
                sack[bit / 8] |= 1 << (bit % 8);
                len = bit / 8 + 1;
            }
        }
        let h = Header {
            seq: self.cum,
            window: u16::try_from(self.window.max(1)).unwrap_or(u16::MAX),
            ..Header::new(Kind::Ack, self.session, self.exchange)
        };
        wire::encode(&h, &sack[..len])
    }

    fn send_ack<L: Link + ?Sized>(&mut self, link: &mut L) -> io::Result<()> {
        link.send(&self.ack_datagram())?;
        self.unacked = 0;
        self.ack_owed = false;
        self.last_ack = Some(Instant::now());
        Ok(())
    }

    fn dup_ack<L: Link + ?Sized>(&mut self, link: &mut L) -> io::Result<()> {
        if self
            .last_ack
            .is_none_or(|t| t.elapsed() >= DUP_ACK_INTERVAL)
        {
            self.send_ack(link)?;
        }
        Ok(())
    }
}

/// The longest prefix of `s` of at most `max` bytes that ends on a character boundary.
pub(crate) fn truncate_utf8(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}
