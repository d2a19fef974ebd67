//! Reliable exchanges over UDP: requests with retries and at-most-once replies, and bulk
//! transfers with a sliding window, for the handouts' UDP exercises.
//!
//! UDP delivers datagrams, not a stream: each one may be lost, duplicated, delayed behind a
//! later one, or come from somebody else. The handouts' Python does `sendto` then
//! `recvfrom` and hopes; one lost datagram and the client waits forever, one duplicate and
//! the server runs a command twice. Here every datagram carries a header saying which
//! session, which exchange and which chunk it belongs to, and both ends keep the state
//! needed to repeat what was lost and ignore what was repeated.
//!
//! # Wire format: the header
//!
//! Every datagram starts with the same 24 bytes; integers are big-endian ("network order").
//! In Python: `struct.pack("!2sBBIIQHH", b"SK", 1, kind, session, exchange, seq, flags,
//! window) + payload`.
//!
//! | offset | size | type   | byte order | field      | meaning                                             | Python |
//! |--------|------|--------|------------|------------|-----------------------------------------------------|--------|
//! | 0      | 2    | bytes  | -          | `magic`    | `b"SK"`: a datagram of this protocol                | `2s`   |
//! | 2      | 1    | u8     | -          | `version`  | 1                                                   | `B`    |
//! | 3      | 1    | u8     | -          | `kind`     | 1 REQUEST, 2 REPLY, 3 DATA, 4 END, 5 ACK, 6 ABORT   | `B`    |
//! | 4      | 4    | u32    | big-endian | `session`  | random id the client picked for this session (not 0) | `I`   |
//! | 8      | 4    | u32    | big-endian | `exchange` | which exchange of the session: 1, 2, 3, ...         | `I`    |
//! | 12     | 8    | u64    | big-endian | `seq`      | DATA/END: chunk number; ACK: next chunk expected; else 0 | `Q` |
//! | 20     | 2    | u16    | big-endian | `flags`    | REQUEST: copy number 1, 2, ...; REPLY: the copy it answers (0: unknown); DATA/END: bit 0 = "acknowledge now"; else 0 | `H` |
//! | 22     | 2    | u16    | big-endian | `window`   | ACK: chunks the receiver accepts from `seq` on; else 0 | `H` |
//! | 24     | ...  | bytes  | -          | payload    | depends on `kind` (below)                           |        |
//!
//! The code reads and writes these fields through the same offsets ([`wire::field`]).
//!
//! Example: the first request of a session, text `"hola"`, first copy
//! ([`wire::EXAMPLE_REQUEST`]):
//!
//! ```text
//! 53 4b 01 01 12 34 ab cd 00 00 00 01 00 00 00 00 00 00 00 00 00 01 00 00 68 6f 6c 61
//! S  K  v1 REQ \_session_/ \exchange=1/ \________ seq = 0 ________/ copy=1 win h  o  l  a
//! ```
//!
//! Its answer, `"HOLA"`, sent when the second copy arrived (the first was lost on the way), so
//! `flags` echoes copy 2 ([`wire::EXAMPLE_REPLY`]):
//!
//! ```text
//! 53 4b 01 02 12 34 ab cd 00 00 00 01 00 00 00 00 00 00 00 00 00 02 00 00 48 4f 4c 41
//! S  K  v1 REP \_session_/ \exchange=1/ \________ seq = 0 ________/ echo=2 win H  O  L  A
//! ```
//!
//! Payload of each kind:
//!
//! | kind    | sent by            | payload                                                       |
//! |---------|--------------------|---------------------------------------------------------------|
//! | REQUEST | client             | the message, 0 to [`wire::MAX_MESSAGE_LEN`] (1,400) bytes     |
//! | REPLY   | server             | the answer to the REQUEST (or upload) with the same `exchange`, 0 to 1,400 bytes |
//! | DATA    | the sending end    | chunk `seq` of the transfer, 1 to [`wire::MAX_PAYLOAD_LEN`] bytes (default 1,400) |
//! | END     | the sending end    | `size` u64 + `crc32` u32 of all the data (`"!QI"`, 12 bytes); its `seq` is the number of DATA chunks |
//! | ACK     | the receiving end  | selective-ack bitmap: bit *i* (byte *i*/8, least significant bit first) set = chunk `seq + 1 + i` arrived; 0 to 1,024 bytes |
//! | ABORT   | either             | why, as UTF-8 text; the session is over                       |
//!
//! Example ACK ([`wire::EXAMPLE_ACK`]): chunks 0 to 4 arrived, 5 is missing, 6 and 8 arrived
//! (bitmap `0b0000_0101`), and the receiver takes chunks up to 5 + 64:
//!
//! ```text
//! 53 4b 01 05 12 34 ab cd 00 00 00 02 00 00 00 00 00 00 00 05 00 00 00 40 05
//! S  K  v1 ACK \_session_/ \exchange=2/ \__ seq = 5: next expected __/ flags win=64 bitmap
//! ```
//!
//! Receiving rules, in this order (both ends):
//! 1. Receive into a buffer one byte longer than the largest legal datagram
//!    ([`wire::MAX_DATAGRAM_LEN`] + 1). A datagram that fills it was longer, hence cut
//!    (truncated): drop it; the server logs it. (Windows reports this as an error instead.)
//! 2. Shorter than the header, wrong magic or version, unknown kind, session or exchange 0,
//!    or a payload length the kind does not allow: drop it ([`wire::decode`]). Nothing is
//!    ever allocated from a length field: the datagram's own size is the only length.
//! 3. From an address other than the peer's, or with another session id: not ours, drop it.
//!    (A client compares the sender with the server's address, as unpv13e's
//!    `dgcliaddr.c` does; a server with several addresses must reply from the one the
//!    client used, which a server bound to one address does.)
//! 4. For an exchange other than the current one: a repeat of the last one is answered from
//!    the cache (below); anything else is stale and dropped.
//!
//! # Sessions and exchanges
//!
//! The client picks a random `session` id (from the standard library's hasher seeds, the
//! time and the process id) and numbers its exchanges 1, 2, 3, ... An exchange is one
//! request and its reply, or one bulk transfer (an upload, answered by a REPLY too, or a
//! download, which ends when the client acknowledges the END). Both ends count exchanges
//! the same way, so each knows which exchange a datagram belongs to. A REQUEST with
//! exchange 1 from an unknown (address, session) opens a session on the server; the same
//! address may run several sessions (a restarted client picks a new id).
//!
//! # Requests: timeouts, retries, at most once
//!
//! The client sends a REQUEST and waits for the REPLY with the same exchange number. If none
//! comes within the retransmission timeout (RTO), it sends the same REQUEST again and
//! doubles the timeout: 300 ms, 600 ms, 1.2 s, 2.4 s, then every 3 s ([`rtt::INITIAL_RTO`],
//! [`rtt::MAX_RTO`]). Once round trips have been measured the RTO comes from them
//! ([`rtt`]: Jacobson/Karels smoothing, floor [`rtt::MIN_RTO`]).
//!
//! Each copy of a REQUEST carries its copy number in `flags` (1, 2, 3, ...), and the REPLY
//! echoes the number of the copy it answers, also when it comes from the cache (below). The
//! client so knows which copy was answered, times that one (round trip = now - when that
//! copy left) and ends the backoff: the next request starts from the measured RTO again, not
//! from the doubled one. Without the echo only an answer to a request sent once could be
//! timed (Karn's rule), and on a lossy path the doubled RTO carried over from one exchange
//! to the next: 40 exchanges through a proxy dropping 30% each way took 8 to 34 s, against
//! 1.5 to 2 s with it (`requests_through_heavy_loss_keep_the_rto_low` in the module's
//! tests). A REPLY with `flags` 0 ("unknown copy": the answer to an
//! upload, or a server from before the echo) is timed by Karn's rule. Older peers stay
//! correct, so the version is still 1: they send 0 in a REQUEST's `flags` and ignore a
//! REPLY's.
//!
//! The server runs each request once ("at most once"): the demultiplexer remembers the last
//! reply of each session and answers a repeated REQUEST with it, without asking the
//! handler. A repeat that arrives while the handler is still working gets an ACK with that
//! exchange number ("received, working"): the client keeps waiting instead of giving up on a
//! slow server. A finished session is remembered for [`server::LINGER_FACTOR`] × the peer
//! timeout, so the repeat of a session's last request is answered too, and not taken for a
//! new session.
//!
//! The client gives up when it has sent [`MAX_TRIES`] copies without hearing anything *and*
//! the server has been silent for [`Config::peer_timeout`] (default [`PEER_TIMEOUT`], 10 s):
//! with no server at all that is after 0.3 + 0.6 + 1.2 + 2.4 + 3 + 3 = 10.5 s (a little more
//! in practice, timers being late), and the error is [`std::io::ErrorKind::TimedOut`], "no
//! answer from 127.0.0.1:5002 after 6 tries over 10.9 s: is the server running?".
//!
//! # Bulk transfer: window, acknowledgements, end, verification
//!
//! The sender cuts the data into chunks of [`Config::chunk`] bytes numbered 0, 1, 2, ...
//! (`seq` is 64 bits: no wrap-around, ever), and after the last chunk sends an END whose
//! `seq` is the number of chunks and whose payload is the total size and CRC-32. The END is
//! always sent, also for a 0-byte transfer (END with `seq` 0) and when the size is an exact
//! multiple of the chunk, so the receiver never guesses where the data ends.
//!
//! - **Window.** Up to *w* chunks may be unacknowledged; *w* is the smallest of this end's
//!   [`Config::window`], the receiver's advertised window (from its real socket buffer: on
//!   Linux the default 208 KiB buffer holds only 6 datagrams of 60,000 bytes) and the
//!   congestion window below. Nothing is held beyond the window: memory use does not depend
//!   on the size of the data.
//! - **Acknowledgements.** The receiver answers with an ACK: `seq` = next chunk expected (all
//!   before it arrived), the bitmap of chunks that arrived after a gap, and its window. It
//!   acks at once when a chunk asks for it ([`wire::FLAG_ACK_NOW`], which the sender sets
//!   when its window is full), when a chunk arrives out of order, or after
//!   [`bulk::ACK_EVERY`] chunks; otherwise after [`bulk::ACK_DELAY`] of quiet.
//! - **Loss.** A chunk is taken for lost when one sent [`bulk::DUP_THRESH`] transmissions
//!   after it has been acknowledged, and sent again at once. If nothing is acknowledged for
//!   a whole RTO, everything unacknowledged is sent again and the RTO doubles.
//! - **Congestion.** The congestion window starts at 16 KiB worth of chunks, grows by one
//!   chunk per chunk acknowledged (doubling every round trip) until the first loss, then by
//!   one chunk per round trip; a loss multiplies it by [`bulk::LOSS_BETA`], a timeout sets
//!   it to [`bulk::MIN_CWND`]. A fixed window, however it was chosen, either wastes a fast
//!   path or floods a slow one.
//! - **Duplicates and stale ACKs.** A chunk that arrives twice is written once; duplicates
//!   trigger at most one ACK per [`bulk::DUP_ACK_INTERVAL`], so a burst of duplicates cannot
//!   cause a burst of ACKs. An ACK older than one already seen only adds what it
//!   acknowledges; it never moves the window back.
//! - **End and verification.** When every chunk before the END has arrived, the receiver
//!   compares the END's size and CRC-32 (the same as Python's `zlib.crc32`) with what it
//!   wrote; if they match it acknowledges the END, otherwise it sends an ABORT and fails
//!   with `InvalidData`. After an upload the server's handler stores the file and answers
//!   with a REPLY; the client repeats the END (answered with the final ACK, "working") until
//!   that REPLY arrives.
//! - **Giving up.** A sender that hears nothing for [`Config::peer_timeout`] after
//!   [`MAX_TRIES`] timeouts fails with `TimedOut` ("no answer from ... after N tries over
//!   T s: is the server running?"); a receiver that hears nothing for as long fails with
//!   `TimedOut` ("no data from ..."). An ABORT from the peer fails the call at once with
//!   `ConnectionAborted` and the peer's reason.
//!
//! # The server: one socket, many sessions
//!
//! [`serve`] reads the one socket in a loop (the demultiplexer) and sorts each datagram by
//! (sender address, session id) into that session's queue; a REQUEST with exchange 1 from an
//! unknown pair starts a new session and a thread running the exercise's handler with a
//! [`Session`], whose blocking methods read like the TCP dialogue (`recv_request`, `reply`,
//! `recv_bulk`, `send_bulk`). Repeats are answered from the cache by the demultiplexer
//! itself. Bounds keep a misbehaving client from hurting the others: at most
//! [`server::MAX_SESSIONS`] sessions, [`server::QUEUE_LIMIT`] bytes queued per session, an
//! idle session closed after [`Config::idle_timeout`], bad datagrams logged (`server: ...`,
//! a few lines per second at most) and dropped, never answered with more than one small
//! ABORT.
//!
//! [`serve`] runs until its socket fails. [`serve_until`] also returns when its
//! [`StopHandle`] is stopped (by the caller, or by a handler: the shell's `exit`): it takes
//! no new session or request, lets exchanges in progress finish for a grace period
//! ([`server::STOP_GRACE`]) and aborts the rest, then keeps answering repeats of the last
//! replies for [`server::STOP_LINGER`] (3.5 s, longer than the longest RTO), so a client
//! whose last reply was lost still gets it, and returns.
//!
//! ```no_run
//! use sockcore::udp::{serve, Client, Config};
//! // Server: answer every request in capitals until "exit".
//! let socket = sockcore::net::bind_udp("127.0.0.1", 5004)?;
//! std::thread::spawn(move || {
//!     serve(socket, Config::default(), |mut session| {
//!         while let Ok(req) = session.recv_request() {
//!             let done = req == b"exit";
//!             if session.reply(&req.to_ascii_uppercase()).is_err() || done {
//!                 break;
//!             }
//!         }
//!     })
//! });
//! // Client: requests, then an upload answered like a request.
//! let mut c = Client::connect("127.0.0.1", 5004, Config::default())?;
//! assert_eq!(c.request(b"hola")?, b"HOLA");
//! # Ok::<(), std::io::Error>(())
//! ```
//!
//! # Limits
//!
//! Only the client starts exchanges: a server speaks only in replies (and in downloads the
//! client asked for). A message is at most [`wire::MAX_MESSAGE_LEN`] bytes; anything longer
//! (a directory listing, a file) goes as a bulk transfer after a reply announcing it. For a
//! chat, where either side may speak first, [`crate::udp_channel`] carries messages both
//! ways with this same header ([`wire`]) and round-trip estimator ([`rtt`]).
//!
//! # Python to Rust
//!
//! `s.sendto(data, addr)` → `socket.send_to(&data, addr)`; `data, addr = s.recvfrom(n)` →
//! `let (n, addr) = socket.recv_from(&mut buf)?` (a datagram longer than `buf` is cut, so
//! `buf` is one byte longer than anything legal); `s.settimeout(t)` →
//! `set_read_timeout(Some(t))`; `socket.timeout` → `WouldBlock` or `TimedOut` (by OS, see
//! [`crate::net::is_timeout`]); `struct.pack("!I", n)` → `n.to_be_bytes()`.

pub mod bulk;
mod client;
pub mod rtt;
pub mod server;
pub mod wire;

pub use crate::frame::BodySummary;
pub use bulk::{RequestStats, TransferStats};
pub use client::Client;
pub use server::{serve, serve_until, Session, StopHandle};

use std::io;
use std::net::{SocketAddr, UdpSocket};
use std::time::Duration;

/// Default chunk (DATA payload), in bytes: 1,400 + 24 + 28 bytes of IP and UDP headers fit
/// Ethernet's 1,500-byte MTU, so no datagram is fragmented on a real network.
pub const DEFAULT_CHUNK: usize = 1400;

/// Default window, in chunks: enough to keep a fast loopback path busy while the receiving
/// thread is not scheduled for a few milliseconds; the receiver and the congestion window
/// usually allow less.
pub const DEFAULT_WINDOW: usize = 1024;

/// Largest window, in chunks: what an ACK's bitmap ([`wire::MAX_SACK_LEN`] bytes) can
/// describe.
pub const MAX_WINDOW: usize = wire::MAX_SACK_LEN * 8;

/// Copies of a datagram sent without hearing anything before the peer may be declared gone
/// (see [`Config::peer_timeout`] for the other condition): with the backoff from 300 ms, six
/// tries span about 10 s.
pub const MAX_TRIES: u32 = 6;

/// Default [`Config::peer_timeout`]: 10 s of silence (after [`MAX_TRIES`] tries) means the
/// peer is gone; long enough for a busy machine, short enough for a person waiting.
pub const PEER_TIMEOUT: Duration = Duration::from_secs(10);

/// Default [`Config::idle_timeout`]: how long a server session waits for the client's next
/// request. The client's user may be thinking about a question ("¿Desea sobrescribir?"),
/// and UDP has no way to tell a thinking user from a vanished client.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(60);

/// Default [`Config::socket_buffer`]: 4 MiB asked for SO_RCVBUF and SO_SNDBUF. Systems cap
/// it (Linux at `net.core.rmem_max`, often 208 KiB); the window follows what was granted.
pub const SOCKET_BUFFER: usize = 4 * 1024 * 1024;

/// Settings of one end. `Config::default()` is safe on a real network.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// Bytes of data per DATA datagram this end sends (1 to [`wire::MAX_PAYLOAD_LEN`]).
    pub chunk: usize,
    /// Most chunks in flight when sending, and most chunks buffered when receiving
    /// (1 to [`MAX_WINDOW`]).
    pub window: usize,
    /// Silence after which the peer is declared gone mid-exchange.
    pub peer_timeout: Duration,
    /// Server: how long a session waits for the next request before it is closed.
    pub idle_timeout: Duration,
    /// Bytes asked for the socket's receive and send buffers.
    pub socket_buffer: usize,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            chunk: DEFAULT_CHUNK,
            window: DEFAULT_WINDOW,
            peer_timeout: PEER_TIMEOUT,
            idle_timeout: IDLE_TIMEOUT,
            socket_buffer: SOCKET_BUFFER,
        }
    }
}

impl Config {
    /// Checks every field's range.
    ///
    /// # Errors
    /// [`io::ErrorKind::InvalidInput`] naming the field, its value and its limits.
    pub fn validate(&self) -> io::Result<()> {
        let bad = |msg: String| Err(io::Error::new(io::ErrorKind::InvalidInput, msg));
        if self.chunk == 0 || self.chunk > wire::MAX_PAYLOAD_LEN {
            return bad(format!(
                "chunk of {} bytes is out of range 1 to {}",
                self.chunk,
                wire::MAX_PAYLOAD_LEN
            ));
        }
        if self.window == 0 || self.window > MAX_WINDOW {
            return bad(format!(
                "window of {} chunks is out of range 1 to {MAX_WINDOW}",
                self.window
            ));
        }
        if self.peer_timeout.is_zero() || self.idle_timeout.is_zero() {
            return bad("timeouts must be longer than zero".to_string());
        }
        Ok(())
    }
}

/// A datagram of our session from our peer, decoded.
#[derive(Debug)]
pub(crate) struct Incoming {
    pub header: wire::Header,
    pub datagram: Vec<u8>,
}

impl Incoming {
    pub fn payload(&self) -> &[u8] {
        &self.datagram[wire::HEADER_LEN..]
    }
}

/// The error for an ABORT received from the peer.
pub(crate) fn aborted(role: &str, reason: &[u8]) -> io::Error {
    io::Error::new(
        io::ErrorKind::ConnectionAborted,
        format!(
            "the {role} aborted the session: {}",
            String::from_utf8_lossy(reason)
        ),
    )
}

/// The error when the peer stays silent.
pub(crate) fn gave_up(peer: SocketAddr, role: &str, tries: u32, silent: Duration) -> io::Error {
    io::Error::new(
        io::ErrorKind::TimedOut,
        format!(
            "no answer from {peer} after {tries} tries over {:.1} s: is the {role} running?",
            silent.as_secs_f64()
        ),
    )
}

/// A random, non-zero session id from the standard library alone: `RandomState` seeds each
/// hasher randomly (from the OS), mixed with the time and the process id.
pub(crate) fn random_session_id() -> u32 {
    use std::hash::{BuildHasher, Hasher};
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    h.write_u128(now.as_nanos());
    h.write_u32(std::process::id());
    h.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
    let v = h.finish();
    ((v >> 32) as u32 ^ v as u32).max(1)
}

/// What one datagram of `len` bytes costs in a socket's receive buffer, in bytes, as Linux
/// counts it (the kernel's bookkeeping, rounded up to a power of two for small ones):
/// measured 2,304 bytes for a 1,424-byte datagram, 16,644 for 8,216, 61,231 for 60,024.
/// Other systems count less, so this is on the safe side.
pub(crate) fn buffer_cost(len: usize) -> usize {
    (len + 320).next_power_of_two() + 512
}

/// Asks for `bytes` of receive and send buffer; returns the receive buffer granted (what the
/// system reports, which on Linux is twice what it granted, to cover its bookkeeping).
pub(crate) fn tune_socket(socket: &UdpSocket, bytes: usize) -> usize {
    let s = socket2::SockRef::from(socket);
    // Refusals are not errors: the system keeps its default, and the window follows.
    let _ = s.set_recv_buffer_size(bytes);
    let _ = s.set_send_buffer_size(bytes);
    s.recv_buffer_size().unwrap_or(64 * 1024)
}

/// True for the error Windows returns instead of truncating a datagram too long for the
/// buffer (WSAEMSGSIZE); other systems truncate silently (receive rule 1).
pub(crate) fn is_message_too_long(e: &io::Error) -> bool {
    #[cfg(windows)]
    {
        e.raw_os_error() == Some(10040)
    }
    #[cfg(not(windows))]
    {
        let _ = e;
        false
    }
}

#[cfg(test)]
mod tests;
