//! Reliable messages in both directions over UDP: channels with acknowledgements,
//! retransmission, duplicate suppression, per-sender order, heartbeats and a clean close.
//!
//! [`crate::udp`] serves dialogues in which the client asks and the server answers. A chat is
//! not like that: either side may speak at any moment, a server pushes lines to many members,
//! and a member that falls silent must be noticed. A *channel* carries numbered messages each
//! way between two [`Endpoint`]s; each side acknowledges what it received, repeats what the
//! other did not acknowledge, delivers every message once and in the order it was sent, and
//! says "still here" when it has nothing to say. One endpoint (one socket and one thread)
//! serves any number of channels, told apart by the peer's address and a session id: the
//! per-address sessions of a UDP server.
//!
//! Channels speak the datagram header of [`crate::udp`] (built and read with
//! [`crate::udp::wire`]) and time their retransmissions with its round-trip estimator
//! ([`crate::udp::rtt::Rtt`]).
//!
//! # Wire format
//!
//! Every datagram is the 24-byte header of [`crate::udp`], big-endian, then a payload. In
//! Python: `struct.pack("!2sBBIIQHH", b"SK", 1, kind, session, 1, seq, 0, window) + payload`.
//!
//! | offset | size | type  | field      | in a channel                                                   |
//! |--------|------|-------|------------|----------------------------------------------------------------|
//! | 0      | 2    | bytes | `magic`    | `b"SK"`                                                        |
//! | 2      | 1    | u8    | `version`  | 1                                                              |
//! | 3      | 1    | u8    | `kind`     | 3 DATA, 5 ACK or 6 ABORT (the other kinds are not used here)   |
//! | 4      | 4    | u32   | `session`  | random id picked by the side that opened the channel (not 0)  |
//! | 8      | 4    | u32   | `exchange` | always [`EXCHANGE`] (1): a channel is one long exchange        |
//! | 12     | 8    | u64   | `seq`      | DATA: number of this message in its direction, 0, 1, 2, ...; ACK: next message expected; ABORT: 0 |
//! | 20     | 2    | u16   | `flags`    | 0                                                              |
//! | 22     | 2    | u16   | `window`   | ACK: messages the receiver buffers from `seq` on ([`RECV_WINDOW`]); else 0 |
//! | 24     | ...  | bytes | payload    | DATA: the message, 1 to [`MAX_MESSAGE_LEN`] bytes; ACK: bitmap, bit *i* (byte *i*/8, least significant bit first) set = message `seq + 1 + i` arrived, trailing zero bytes left out; ABORT: why, UTF-8 |
//!
//! Each direction numbers its own messages: a DATA from the opener is acknowledged by an ACK
//! from the other side, and the other way round.
//!
//! Example: the first message of session `0x1234abcd`, text `"hola"` ([`EXAMPLE_DATA`]):
//!
//! ```text
//! 53 4b 01 03 12 34 ab cd 00 00 00 01 00 00 00 00 00 00 00 00 00 00 00 00 68 6f 6c 61
//! S  K  v1 DATA \_session_/ \exchange=1/ \________ seq = 0 ________/ flags window h  o  l  a
//! ```
//!
//! and the answer: message 0 arrived, 1 is expected next, 256 may come ([`EXAMPLE_ACK`]):
//!
//! ```text
//! 53 4b 01 05 12 34 ab cd 00 00 00 01 00 00 00 00 00 00 00 01 00 00 01 00
//! S  K  v1 ACK \_session_/ \exchange=1/ \____ seq = 1: next expected ____/ flags win=256
//! ```
//!
//! Receiving rules, in this order:
//! 1. Receive into a buffer one byte longer than the largest legal datagram; a datagram that
//!    fills it was cut short (truncated) and is dropped ([`crate::datagram::recv_datagram`]).
//! 2. A datagram that [`crate::udp::wire::decode`] refuses, of another kind than DATA, ACK
//!    or ABORT, with an exchange other than 1, or a DATA over [`MAX_MESSAGE_LEN`]: dropped.
//! 3. The channel is (sender's address, session). Unknown to an endpoint that accepts
//!    channels: a DATA with `seq` 0 opens one ([`Event::Opened`]); anything else but an
//!    ABORT is answered with ABORT "unknown channel", at most once per [`ABORT_INTERVAL`].
//!    Recently closed: answered with ABORT "closed" the same way. Unknown to an endpoint that
//!    does not accept channels (a client): ignored, whoever sent it.
//! 4. DATA below the next message expected is a duplicate: dropped, and acknowledged again
//!    (its ACK may have been lost). DATA beyond the window is dropped. Otherwise it is kept,
//!    and every message from the next expected on that has arrived is delivered, in order
//!    ([`Event::Message`]). Every DATA is answered with an ACK at once.
//! 5. An ACK releases every message below its `seq` and marks those its bitmap names; an
//!    ACK older than one already seen only adds what its bitmap names.
//! 6. An ABORT ends the channel ([`Event::Closed`]) and is answered with one ABORT, so a
//!    peer that is closing knows it was heard.
//! 7. Any datagram of the channel proves the peer alive.
//!
//! # Sending: window, retransmission, backlog
//!
//! [`Endpoint::send`] queues the message and sends it at once if fewer than
//! [`SEND_WINDOW`] (and the peer's window) are unacknowledged. Until the peer has
//! acknowledged message 0, only message 0 is in flight, so the channel is opened by its
//! first message and never by a later one that overtook it. A message not acknowledged
//! within the retransmission timeout (from [`crate::udp::rtt::Rtt`]: 300 ms before any
//! round trip is measured, then smoothed RTT + 4 × deviation, at least 20 ms; doubled after
//! each timeout, at most 3 s) is sent again, with every other unacknowledged one the peer's
//! bitmap does not name. A message is also sent again at once when [`DUP_THRESH`] messages
//! sent after it are named by the bitmap (it was lost, not delayed). A channel with more than [`ChannelConfig::max_backlog`] messages
//! waiting to be acknowledged is closed ([`Closed::Backlog`]): the peer has stopped
//! taking them.
//!
//! # Liveness: heartbeats and silence
//!
//! A side that has sent nothing to its peer for [`ChannelConfig::heartbeat`] (1 s) sends an
//! ACK of its current state: it says "still here", and repeats the last acknowledgement in
//! case it was lost. A channel whose peer has sent nothing for
//! [`ChannelConfig::peer_timeout`] (5 s, five heartbeats) is closed as
//! [`Closed::Silent`]: the peer's program died, its machine went away, or the path between
//! them broke; UDP cannot tell which. Time during which the endpoint's own thread did not
//! run (the process was suspended: [`STALL`]) does not count.
//!
//! # Closing
//!
//! [`Endpoint::close`] sends what is queued, waits until the peer has acknowledged all of
//! it, then sends ABORT with the reason, repeated (with the retransmission timeout) until the
//! peer answers with its own ABORT or [`CLOSE_TRIES`] have gone unanswered; then
//! [`Closed::Done`]. The peer, receiving it, reports [`Closed::ByPeer`] with the reason.
//! Dropping the [`Endpoint`] sends one ABORT "closed" on every open channel, without
//! waiting. A closed channel is remembered for [`LINGER`] to answer stragglers.
//!
//! # Python to Rust
//!
//! `s.sendto(data, addr)` → [`Endpoint::send`] (numbered, acknowledged, repeated until
//! acknowledged); `data, addr = s.recvfrom(1024)` → [`Endpoint::recv_event`] (one message,
//! once, in order, or a channel opening or closing); `s.settimeout(t)` → its `timeout`
//! argument.

use crate::datagram;
use crate::net;
use crate::udp::random_session_id;
use crate::udp::rtt::Rtt;
use crate::udp::wire::{self, Header, Kind};
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::fmt;
use std::io;
use std::net::{SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

/// The `exchange` field of every channel datagram: a channel is one long exchange, and the
/// header does not allow 0.
pub const EXCHANGE: u32 = 1;

/// Largest message, in bytes: one message is one datagram, and 1,400 + 24 + 28 bytes of
/// headers cross any Ethernet path unfragmented ([`wire::MAX_MESSAGE_LEN`]).
pub const MAX_MESSAGE_LEN: usize = wire::MAX_MESSAGE_LEN;

/// Messages a receiver keeps ahead of the next one expected (arrived out of order); also
/// the window it advertises. 256 bits of bitmap are 32 bytes.
pub const RECV_WINDOW: usize = 256;

/// Unacknowledged messages in flight per channel, at most (and never more than the peer's
/// window): enough for a chat's bursts on a fast path. A bulk sender would grow it with a
/// congestion window (see [`crate::udp::bulk`]); a chat does not need to.
pub const SEND_WINDOW: usize = 64;

/// Default [`ChannelConfig::max_backlog`]: messages waiting for one peer's acknowledgement
/// (in flight or queued) before the channel is closed as [`Closed::Backlog`]. A thousand
/// chat lines is far behind any reader that is still reading.
pub const MAX_BACKLOG: usize = 1024;

/// Default [`ChannelConfig::heartbeat`]: a side that has sent nothing for this long sends an
/// ACK anyway.
pub const HEARTBEAT: Duration = Duration::from_secs(1);

/// Default [`ChannelConfig::peer_timeout`]: five heartbeats missed in a row. At 10% loss the
/// chance that five in a row are lost by accident is 1 in 100,000.
pub const PEER_TIMEOUT: Duration = Duration::from_secs(5);

/// How often the endpoint's thread looks at its timers, at least (its socket's read
/// timeout); below [`crate::udp::rtt::MIN_RTO`].
pub const TICK: Duration = Duration::from_millis(10);

/// A pass of the endpoint's thread that took this long means the thread was not running
/// (a pass normally takes at most [`TICK`]): that time is not counted as the peers' silence.
pub const STALL: Duration = Duration::from_secs(1);

/// How long a closed channel is remembered, so that its stragglers are answered with
/// ABORT "closed" instead of being taken for a new channel.
pub const LINGER: Duration = Duration::from_secs(15);

/// ABORTs sent when closing, before giving up on the peer's answer.
pub const CLOSE_TRIES: u32 = 4;

/// ABORTs answering one unknown or closed channel: at most one per this interval, so
/// junk cannot turn the endpoint into a traffic amplifier.
pub const ABORT_INTERVAL: Duration = Duration::from_millis(100);

/// Channels an accepting endpoint keeps open at once; a new one beyond gets ABORT "busy".
/// (A production server would also limit channels per address.)
pub const MAX_CHANNELS: usize = 1024;

/// Messages delivered to the application and not yet taken by [`Endpoint::recv_event`], at
/// most: beyond it, arriving DATA is not acknowledged, so the senders wait and repeat
/// instead of the endpoint holding an unbounded queue.
pub const MAX_PENDING: usize = 4096;

/// A message counts as lost, and is sent again at once, when this many messages sent after
/// it have arrived (named by the peer's bitmap): TCP's "three duplicate ACKs", which lets
/// mild reordering pass. Without it every loss would cost a whole retransmission timeout.
pub const DUP_THRESH: usize = 3;

/// Closed channels remembered at most ([`LINGER`]); the oldest are forgotten first.
const MAX_LINGERING: usize = 4096;

/// Bytes asked for the socket's receive and send buffers: a room's bursts (one line to
/// every member) must not overflow them. Systems cap it; refusals are not errors.
const SOCKET_BUFFER: usize = 1 << 20;

/// Largest datagram a channel sends: header plus the longest message (ACK and ABORT
/// payloads are shorter).
const MAX_DATAGRAM_LEN: usize = wire::HEADER_LEN + MAX_MESSAGE_LEN;

/// The example DATA of the module docs: session `0x1234abcd`, message 0, text `"hola"`.
pub const EXAMPLE_DATA: [u8; 28] = [
    b'S', b'K', 0x01, 0x03, // magic, version 1, kind 3 = DATA
    0x12, 0x34, 0xab, 0xcd, // session
    0x00, 0x00, 0x00, 0x01, // exchange 1
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // seq 0: the first message
    0x00, 0x00, 0x00, 0x00, // flags 0, window 0
    b'h', b'o', b'l', b'a',
];

/// The example ACK of the module docs: message 0 arrived, 1 expected, window 256.
pub const EXAMPLE_ACK: [u8; 24] = [
    b'S', b'K', 0x01, 0x05, // magic, version 1, kind 5 = ACK
    0x12, 0x34, 0xab, 0xcd, // session
    0x00, 0x00, 0x00, 0x01, // exchange 1
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, // seq 1: next message expected
    0x00, 0x00, 0x01, 0x00, // flags 0, window 256
];

/// Settings of an endpoint. `ChannelConfig::default()` suits a chat on a real network.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChannelConfig {
    /// Send an ACK as a heartbeat after this long without sending anything.
    pub heartbeat: Duration,
    /// Close a channel whose peer has sent nothing for this long.
    pub peer_timeout: Duration,
    /// Close a channel with more than this many messages waiting for acknowledgement.
    pub max_backlog: usize,
}

impl Default for ChannelConfig {
    fn default() -> Self {
        ChannelConfig {
            heartbeat: HEARTBEAT,
            peer_timeout: PEER_TIMEOUT,
            max_backlog: MAX_BACKLOG,
        }
    }
}

/// A channel: the peer's address and the session id its opener picked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ChannelId {
    /// The peer's address (as this endpoint sees it).
    pub peer: SocketAddr,
    /// The session id.
    pub session: u32,
}

impl fmt::Display for ChannelId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.peer)
    }
}

/// Why a channel ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Closed {
    /// The peer closed it (its ABORT), with its reason.
    ByPeer(String),
    /// Our [`Endpoint::close`] finished: the peer acknowledged every message.
    Done,
    /// The peer sent nothing for this long ([`ChannelConfig::peer_timeout`]).
    Silent(Duration),
    /// This many messages were waiting for the peer's acknowledgement
    /// ([`ChannelConfig::max_backlog`]).
    Backlog(usize),
}

impl fmt::Display for Closed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Closed::ByPeer(why) => write!(f, "closed by the peer ({why})"),
            Closed::Done => f.write_str("closed"),
            Closed::Silent(t) => write!(f, "no answer for {:.1} s", t.as_secs_f64()),
            Closed::Backlog(n) => write!(f, "{n} messages left unacknowledged"),
        }
    }
}

/// What [`Endpoint::recv_event`] returns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A peer opened a channel (endpoints from [`Endpoint::listen`] only); its first
    /// message follows.
    Opened(ChannelId),
    /// The next message of a channel: each message once, in the order its sender sent it.
    Message(ChannelId, Vec<u8>),
    /// The channel is over; sending on it fails from now on.
    Closed(ChannelId, Closed),
}

/// Counters of an endpoint, over all its channels.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    /// Messages sent (first transmissions).
    pub sent: u64,
    /// Messages sent again because no acknowledgement came in time.
    pub retransmitted: u64,
    /// Messages delivered to the application.
    pub delivered: u64,
    /// DATA datagrams dropped because their message had already arrived.
    pub duplicates: u64,
    /// Heartbeats sent.
    pub heartbeats: u64,
}

impl fmt::Display for Stats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} messages sent, {} sent again, {} delivered, {} duplicates dropped, {} heartbeats",
            self.sent, self.retransmitted, self.delivered, self.duplicates, self.heartbeats
        )
    }
}

#[derive(Debug, Default)]
struct Counters {
    sent: AtomicU64,
    retransmitted: AtomicU64,
    delivered: AtomicU64,
    duplicates: AtomicU64,
    heartbeats: AtomicU64,
}

/// One message on its way: sent or waiting for the window.
#[derive(Debug)]
struct Out {
    datagram: Vec<u8>,
    /// When it was last sent, if ever.
    sent_at: Option<Instant>,
    /// How many times it has been sent.
    sends: u32,
    /// Named by the peer's bitmap: arrived, waiting for the ones before it.
    sacked: bool,
    /// Already sent again early since its last send (see [`DUP_THRESH`]).
    fast: bool,
}

/// The state of one channel.
#[derive(Debug)]
struct Chan {
    // Sending.
    /// Number of the next message queued.
    next_seq: u64,
    /// Every message from `acked` on, in order.
    unacked: VecDeque<Out>,
    /// All messages below this one are acknowledged.
    acked: u64,
    /// The peer's advertised window.
    peer_window: usize,
    /// False until the peer acknowledged message 0 (opened by us): one message in flight.
    opened: bool,
    rtt: Rtt,
    /// When the oldest unacknowledged message is due again.
    rto_at: Option<Instant>,
    // Receiving.
    /// Number of the next message expected from the peer.
    expected: u64,
    /// Messages that arrived ahead of `expected`.
    ahead: BTreeMap<u64, Vec<u8>>,
    // Liveness.
    last_heard: Instant,
    last_sent: Instant,
    /// True once we have sent or received anything: heartbeats and silence count from then.
    started: bool,
    // Closing.
    closing: Option<Closing>,
}

#[derive(Debug)]
struct Closing {
    reason: String,
    tries: u32,
    next_at: Instant,
}

impl Chan {
    fn new(now: Instant, opened: bool, started: bool) -> Chan {
        Chan {
            next_seq: 0,
            unacked: VecDeque::new(),
            acked: 0,
            peer_window: SEND_WINDOW,
            opened,
            rtt: Rtt::new(),
            rto_at: None,
            expected: 0,
            ahead: BTreeMap::new(),
            last_heard: now,
            last_sent: now,
            started,
            closing: None,
        }
    }

    /// How many of the first unacknowledged messages may be in flight.
    fn window(&self) -> usize {
        if self.opened {
            SEND_WINDOW.min(self.peer_window).max(1)
        } else {
            1
        }
    }
}

/// Datagrams to send and events to deliver, gathered under the lock and acted on after it.
#[derive(Debug, Default)]
struct Effects {
    out: Vec<(Vec<u8>, SocketAddr)>,
    events: Vec<Event>,
}

#[derive(Debug)]
struct State {
    chans: HashMap<ChannelId, Chan>,
    /// Recently closed channels: when, and when we last answered one of their stragglers.
    lingering: HashMap<ChannelId, (Instant, Option<Instant>)>,
    /// Unknown channels answered recently (rate limit of rule 3).
    answered_unknown: HashMap<ChannelId, Instant>,
}

#[derive(Debug)]
struct Inner {
    socket: UdpSocket,
    config: ChannelConfig,
    /// True for [`Endpoint::listen`]: unknown peers may open channels.
    accept: bool,
    state: Mutex<State>,
    stop: AtomicBool,
    /// Messages handed to `events` and not yet taken by the application.
    pending: AtomicUsize,
    events_tx: Mutex<Sender<Event>>,
    counters: Counters,
}

/// One UDP socket carrying any number of channels, with a thread that receives, acknowledges,
/// retransmits and sends heartbeats. Dropping it stops the thread and tells every open
/// channel's peer ("closed").
#[derive(Debug)]
pub struct Endpoint {
    inner: Arc<Inner>,
    events: Mutex<Receiver<Event>>,
    driver: Option<JoinHandle<()>>,
}

impl Endpoint {
    /// An endpoint on `socket` (already bound) that accepts channels opened by peers, as a
    /// server does.
    ///
    /// # Errors
    /// The OS error of setting the socket's read timeout, or [`io::ErrorKind::InvalidInput`]
    /// for a configuration with a zero duration or backlog.
    pub fn listen(socket: UdpSocket, config: ChannelConfig) -> io::Result<Endpoint> {
        Endpoint::start(socket, config, true)
    }

    /// A client's endpoint, on a fresh socket (OS-chosen port), with one channel to `server`.
    /// Nothing is sent until the first [`Endpoint::send`]: UDP has no connection, and the
    /// server learns about the channel from its first message. It accepts no channels.
    ///
    /// # Errors
    /// As [`Endpoint::listen`], and the OS error of binding the socket.
    pub fn connect(server: SocketAddr, config: ChannelConfig) -> io::Result<(Endpoint, ChannelId)> {
        let socket = net::bind_udp_client(server)?;
        let ep = Endpoint::start(socket, config, false)?;
        let id = ChannelId {
            peer: server,
            session: random_session_id(),
        };
        ep.inner
            .lock()
            .chans
            .insert(id, Chan::new(Instant::now(), false, false));
        Ok((ep, id))
    }

    fn start(socket: UdpSocket, config: ChannelConfig, accept: bool) -> io::Result<Endpoint> {
        if config.heartbeat.is_zero() || config.peer_timeout.is_zero() || config.max_backlog == 0 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "heartbeat, peer timeout and backlog must be greater than zero",
            ));
        }
        socket.set_read_timeout(Some(TICK))?;
        let s = socket2::SockRef::from(&socket);
        // Refusals are not errors: the system keeps its default.
        let _ = s.set_recv_buffer_size(SOCKET_BUFFER);
        let _ = s.set_send_buffer_size(SOCKET_BUFFER);
        let (events_tx, events) = mpsc::channel();
        let inner = Arc::new(Inner {
            socket,
            config,
            accept,
            state: Mutex::new(State {
                chans: HashMap::new(),
                lingering: HashMap::new(),
                answered_unknown: HashMap::new(),
            }),
            stop: AtomicBool::new(false),
            pending: AtomicUsize::new(0),
            events_tx: Mutex::new(events_tx),
            counters: Counters::default(),
        });
        let driver = {
            let inner = Arc::clone(&inner);
            thread::spawn(move || inner.drive())
        };
        Ok(Endpoint {
            inner,
            events: Mutex::new(events),
            driver: Some(driver),
        })
    }

    /// The local address of the endpoint's socket.
    ///
    /// # Errors
    /// The OS error of `getsockname`.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.inner.socket.local_addr()
    }

    /// Queues `message` on channel `ch`; it is sent at once if the window allows, and
    /// repeated until the peer acknowledges it.
    ///
    /// # Errors
    /// - [`io::ErrorKind::InvalidInput`]: empty, or longer than [`MAX_MESSAGE_LEN`];
    /// - [`io::ErrorKind::NotConnected`]: the channel is closed, closing, or unknown;
    /// - [`io::ErrorKind::ConnectionAborted`]: the backlog was full; the channel is now
    ///   closed ([`Closed::Backlog`] is also reported as an event).
    pub fn send(&self, ch: ChannelId, message: &[u8]) -> io::Result<()> {
        if message.is_empty() || message.len() > MAX_MESSAGE_LEN {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "message of {} bytes is out of range 1 to {MAX_MESSAGE_LEN}",
                    message.len()
                ),
            ));
        }
        let mut fx = Effects::default();
        let max_backlog = self.inner.config.max_backlog;
        let result = {
            let mut st = self.inner.lock();
            let now = Instant::now();
            let backlog = match st.chans.get_mut(&ch) {
                Some(c) if c.closing.is_none() => {
                    if c.unacked.len() >= max_backlog {
                        Some(c.unacked.len())
                    } else {
                        let header = Header {
                            seq: c.next_seq,
                            ..Header::new(Kind::Data, ch.session, EXCHANGE)
                        };
                        c.next_seq += 1;
                        c.unacked.push_back(Out {
                            datagram: wire::encode(&header, message),
                            sent_at: None,
                            sends: 0,
                            sacked: false,
                            fast: false,
                        });
                        if !c.started {
                            c.started = true;
                            c.last_heard = now;
                        }
                        self.inner.pump(ch, c, now, &mut fx);
                        None
                    }
                }
                _ => {
                    return Err(io::Error::new(
                        io::ErrorKind::NotConnected,
                        format!("channel to {ch} is closed"),
                    ))
                }
            };
            match backlog {
                None => Ok(()),
                Some(n) => {
                    self.inner
                        .end(&mut st, ch, Closed::Backlog(n), Some("backlog"), &mut fx);
                    Err(io::Error::new(
                        io::ErrorKind::ConnectionAborted,
                        format!("channel to {ch} closed: {n} messages left unacknowledged"),
                    ))
                }
            }
        };
        self.inner.apply(fx);
        result
    }

    /// Closes channel `ch` once the peer has acknowledged everything queued; `reason` goes
    /// to the peer. [`Event::Closed`] with [`Closed::Done`] (or why it ended otherwise)
    /// follows. Closing an unknown or closed channel does nothing.
    pub fn close(&self, ch: ChannelId, reason: &str) {
        let mut fx = Effects::default();
        {
            let mut st = self.inner.lock();
            let now = Instant::now();
            let never_started = match st.chans.get_mut(&ch) {
                Some(c) if c.closing.is_none() => {
                    c.closing = Some(Closing {
                        reason: truncate_utf8(reason, MAX_MESSAGE_LEN).to_string(),
                        tries: 0,
                        next_at: now,
                    });
                    if c.started {
                        self.inner.step_close(ch, c, now, &mut fx);
                    }
                    !c.started
                }
                _ => false,
            };
            if never_started {
                // Nothing was ever sent: the peer does not know the channel.
                self.inner.end(&mut st, ch, Closed::Done, None, &mut fx);
            }
        }
        self.inner.apply(fx);
    }

    /// Waits at most `timeout` for the next event.
    ///
    /// # Errors
    /// [`io::ErrorKind::BrokenPipe`] if the endpoint's thread has stopped (it stops only
    /// when the endpoint is dropped, so this is a bug).
    pub fn recv_event(&self, timeout: Duration) -> io::Result<Option<Event>> {
        let rx = self
            .events
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        match rx.recv_timeout(timeout) {
            Ok(ev) => {
                if matches!(ev, Event::Message(..)) {
                    self.inner.pending.fetch_sub(1, Ordering::Relaxed);
                }
                Ok(Some(ev))
            }
            Err(RecvTimeoutError::Timeout) => Ok(None),
            Err(RecvTimeoutError::Disconnected) => Err(io::Error::new(
                io::ErrorKind::BrokenPipe,
                "the channel endpoint has stopped",
            )),
        }
    }

    /// True while channel `ch` is open (not closed, and not being closed).
    pub fn is_open(&self, ch: ChannelId) -> bool {
        self.inner
            .lock()
            .chans
            .get(&ch)
            .is_some_and(|c| c.closing.is_none())
    }

    /// The endpoint's counters so far.
    pub fn stats(&self) -> Stats {
        let c = &self.inner.counters;
        Stats {
            sent: c.sent.load(Ordering::Relaxed),
            retransmitted: c.retransmitted.load(Ordering::Relaxed),
            delivered: c.delivered.load(Ordering::Relaxed),
            duplicates: c.duplicates.load(Ordering::Relaxed),
            heartbeats: c.heartbeats.load(Ordering::Relaxed),
        }
    }
}

impl Drop for Endpoint {
    fn drop(&mut self) {
        self.inner.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.driver.take() {
            let _ = t.join();
        }
        let st = self.inner.lock();
        for (id, c) in &st.chans {
            if c.started {
                let d = wire::encode(&Header::new(Kind::Abort, id.session, EXCHANGE), b"closed");
                let _ = self.inner.socket.send_to(&d, id.peer);
            }
        }
    }
}

impl Inner {
    fn lock(&self) -> MutexGuard<'_, State> {
        // Every update under the lock leaves the maps consistent, so a poisoned lock (a panic
        // elsewhere) is still usable.
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Sends the datagrams and hands over the events gathered under the lock.
    fn apply(&self, fx: Effects) {
        for (d, to) in fx.out {
            // A failed send is a lost datagram: retransmission or the peer timeout deal with it.
            let _ = self.socket.send_to(&d, to);
        }
        if fx.events.is_empty() {
            return;
        }
        let tx = self
            .events_tx
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        for ev in fx.events {
            if matches!(ev, Event::Message(..)) {
                self.pending.fetch_add(1, Ordering::Relaxed);
            }
            // The receiver lives as long as the endpoint, which outlives this thread.
            let _ = tx.send(ev);
        }
    }

    /// The endpoint's thread: receive, then look at the timers, until stopped.
    fn drive(&self) {
        let mut next_scan = Instant::now() + TICK;
        let mut last_pass = Instant::now();
        while !self.stop.load(Ordering::Relaxed) {
            match datagram::recv_datagram(&self.socket, MAX_DATAGRAM_LEN) {
                Ok(d) if !d.truncated => self.on_datagram(&d.data, d.from),
                Ok(_) => {} // rule 1: cut short, dropped
                Err(e) if net::is_timeout(&e) || datagram::is_unreachable(&e) => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                // Anything else is unexpected from a bound UDP socket; do not spin on it.
                Err(_) => thread::sleep(TICK),
            }
            let now = Instant::now();
            let gap = now.duration_since(last_pass);
            last_pass = now;
            if gap >= STALL {
                // We were not running (the process was suspended, the machine slept): the
                // peers' datagrams are waiting in the socket, unread. Our absence is not
                // their silence.
                for c in self.lock().chans.values_mut() {
                    c.last_heard += gap;
                }
            }
            if now >= next_scan {
                self.on_tick(now);
                next_scan = now + TICK;
            }
        }
    }

    fn on_datagram(&self, d: &[u8], from: SocketAddr) {
        // Rule 2.
        let Ok((h, payload)) = wire::decode(d) else {
            return;
        };
        if h.exchange != EXCHANGE
            || !matches!(h.kind, Kind::Data | Kind::Ack | Kind::Abort)
            || (h.kind == Kind::Data && payload.len() > MAX_MESSAGE_LEN)
        {
            return;
        }
        let id = ChannelId {
            peer: from,
            session: h.session,
        };
        let now = Instant::now();
        let mut fx = Effects::default();
        {
            let mut st = self.lock();
            if !st.chans.contains_key(&id) {
                self.unknown(&mut st, id, &h, now, &mut fx);
            }
            let mut end_with = None;
            if let Some(c) = st.chans.get_mut(&id) {
                c.last_heard = now; // rule 7
                c.started = true;
                match h.kind {
                    Kind::Data => self.on_data(id, c, h.seq, payload, now, &mut fx),
                    Kind::Ack => self.on_ack(id, c, &h, payload, now, &mut fx),
                    _ => {
                        // Rule 6: the peer ends the channel. If it answers our own ABORT,
                        // our close is done; otherwise answer it once.
                        let done = c.closing.as_ref().is_some_and(|cl| cl.tries > 0)
                            && c.unacked.is_empty();
                        end_with = Some(if done {
                            (Closed::Done, None)
                        } else {
                            let why = String::from_utf8_lossy(payload).into_owned();
                            (Closed::ByPeer(why), Some("closed"))
                        });
                    }
                }
            }
            if let Some((why, answer)) = end_with {
                self.end(&mut st, id, why, answer, &mut fx);
            }
        }
        self.apply(fx);
    }

    /// Rule 3: a datagram of a channel we do not have open.
    fn unknown(&self, st: &mut State, id: ChannelId, h: &Header, now: Instant, fx: &mut Effects) {
        if h.kind == Kind::Abort {
            return;
        }
        let why = if let Some(l) = st.lingering.get_mut(&id) {
            if l.1.is_some_and(|t| now.duration_since(t) < ABORT_INTERVAL) {
                return;
            }
            l.1 = Some(now);
            "closed"
        } else if !self.accept {
            return;
        } else if h.kind == Kind::Data && h.seq == 0 && st.chans.len() < MAX_CHANNELS {
            st.chans.insert(id, Chan::new(now, true, true));
            fx.events.push(Event::Opened(id));
            return;
        } else {
            if st
                .answered_unknown
                .get(&id)
                .is_some_and(|t| now.duration_since(*t) < ABORT_INTERVAL)
            {
                return;
            }
            st.answered_unknown.insert(id, now);
            if h.kind == Kind::Data && h.seq == 0 {
                "busy"
            } else {
                "unknown channel"
            }
        };
        let d = wire::encode(
            &Header::new(Kind::Abort, id.session, EXCHANGE),
            why.as_bytes(),
        );
        fx.out.push((d, id.peer));
    }

    /// Rule 4.
    fn on_data(
        &self,
        id: ChannelId,
        c: &mut Chan,
        seq: u64,
        payload: &[u8],
        now: Instant,
        fx: &mut Effects,
    ) {
        if seq < c.expected || c.ahead.contains_key(&seq) {
            self.counters.duplicates.fetch_add(1, Ordering::Relaxed);
        } else if seq < c.expected + RECV_WINDOW as u64
            && self.pending.load(Ordering::Relaxed) < MAX_PENDING
        {
            c.ahead.insert(seq, payload.to_vec());
            while let Some(m) = c.ahead.remove(&c.expected) {
                c.expected += 1;
                self.counters.delivered.fetch_add(1, Ordering::Relaxed);
                fx.events.push(Event::Message(id, m));
            }
        }
        // Beyond the window, or the application is behind: not kept, and the ACK says so.
        self.send_ack(id, c, now, fx);
    }

    /// Rule 5.
    fn on_ack(
        &self,
        id: ChannelId,
        c: &mut Chan,
        h: &Header,
        bitmap: &[u8],
        now: Instant,
        fx: &mut Effects,
    ) {
        c.peer_window = usize::from(h.window);
        // Never beyond what we have sent: a confused or hostile peer cannot release more.
        let cum = h.seq.min(c.next_seq);
        if cum > c.acked {
            let mut sample = None;
            while c.acked < cum {
                if let Some(m) = c.unacked.pop_front() {
                    if m.sends == 1 {
                        sample = m.sent_at.map(|t| now.duration_since(t));
                    }
                }
                c.acked += 1;
            }
            if let Some(r) = sample {
                c.rtt.sample(r); // Karn: only messages sent once
            }
            c.opened = true;
            c.rto_at = None;
        }
        for (byte_i, byte) in bitmap.iter().enumerate() {
            for bit in 0..8 {
                if byte & (1 << bit) != 0 {
                    let seq = cum + 1 + (byte_i * 8 + bit) as u64;
                    if let Some(m) = seq
                        .checked_sub(c.acked)
                        .and_then(|i| c.unacked.get_mut(i as usize))
                    {
                        m.sacked = true;
                    }
                }
            }
        }
        // Fast retransmission: a hole with DUP_THRESH arrivals after it is a loss.
        let mut after = 0;
        for m in c.unacked.iter_mut().rev() {
            if m.sacked {
                after += 1;
            } else if m.sent_at.is_some() && !m.fast && after >= DUP_THRESH {
                m.fast = true;
                m.sent_at = Some(now);
                m.sends += 1;
                self.counters.retransmitted.fetch_add(1, Ordering::Relaxed);
                fx.out.push((m.datagram.clone(), id.peer));
                c.last_sent = now;
            }
        }
        self.pump(id, c, now, fx);
        if c.closing.is_some() {
            self.step_close(id, c, now, fx);
        }
    }

    /// Sends the messages the window now allows that were never sent, and arms the
    /// retransmission timer.
    fn pump(&self, id: ChannelId, c: &mut Chan, now: Instant, fx: &mut Effects) {
        let window = c.window();
        for m in c.unacked.iter_mut().take(window) {
            if m.sent_at.is_none() {
                m.sent_at = Some(now);
                m.sends = 1;
                self.counters.sent.fetch_add(1, Ordering::Relaxed);
                fx.out.push((m.datagram.clone(), id.peer));
                c.last_sent = now;
            }
        }
        if c.rto_at.is_none() && c.unacked.iter().any(|m| m.sent_at.is_some() && !m.sacked) {
            c.rto_at = Some(now + c.rtt.rto());
        }
    }

    fn send_ack(&self, id: ChannelId, c: &mut Chan, now: Instant, fx: &mut Effects) {
        let mut bitmap = [0u8; RECV_WINDOW / 8];
        let mut len = 0;
        for &seq in c.ahead.keys() {
            let i = (seq - c.expected - 1) as usize;
            if i < RECV_WINDOW {
                bitmap[i / 8] |= 1 << (i % 8);
                len = len.max(i / 8 + 1);
            }
        }
        let header = Header {
            seq: c.expected,
            window: RECV_WINDOW as u16,
            ..Header::new(Kind::Ack, id.session, EXCHANGE)
        };
        fx.out
            .push((wire::encode(&header, &bitmap[..len]), id.peer));
        c.last_sent = now;
    }

    /// A closing channel: once everything is acknowledged, send ABORT (again, with backoff)
    /// until the peer answers or [`CLOSE_TRIES`] are spent.
    fn step_close(&self, id: ChannelId, c: &mut Chan, now: Instant, fx: &mut Effects) {
        let Some(cl) = c.closing.as_mut() else {
            return;
        };
        if !c.unacked.is_empty() || now < cl.next_at {
            return;
        }
        if cl.tries >= CLOSE_TRIES {
            // Everything was acknowledged; only the goodbye went unanswered.
            cl.tries = u32::MAX;
            return;
        }
        cl.tries += 1;
        cl.next_at = now + c.rtt.rto() * cl.tries;
        let d = wire::encode(
            &Header::new(Kind::Abort, id.session, EXCHANGE),
            cl.reason.as_bytes(),
        );
        fx.out.push((d, id.peer));
        c.last_sent = now;
    }

    /// Ends channel `id`: removes it, remembers it for [`LINGER`], reports `why`, and sends
    /// ABORT `answer` if given.
    fn end(
        &self,
        st: &mut State,
        id: ChannelId,
        why: Closed,
        answer: Option<&str>,
        fx: &mut Effects,
    ) {
        if st.chans.remove(&id).is_none() {
            return;
        }
        if st.lingering.len() >= MAX_LINGERING {
            if let Some(oldest) = st
                .lingering
                .iter()
                .min_by_key(|(_, v)| v.0)
                .map(|(k, _)| *k)
            {
                st.lingering.remove(&oldest);
            }
        }
        st.lingering.insert(id, (Instant::now(), None));
        if let Some(a) = answer {
            let d = wire::encode(
                &Header::new(Kind::Abort, id.session, EXCHANGE),
                a.as_bytes(),
            );
            fx.out.push((d, id.peer));
        }
        fx.events.push(Event::Closed(id, why));
    }

    /// The timers of every channel: retransmission, heartbeat, silence, closing.
    fn on_tick(&self, now: Instant) {
        let mut fx = Effects::default();
        {
            let mut st = self.lock();
            let mut ended = Vec::new();
            for (&id, c) in st.chans.iter_mut() {
                if !c.started {
                    continue;
                }
                let silent = now.duration_since(c.last_heard);
                if silent >= self.config.peer_timeout {
                    ended.push((id, Closed::Silent(silent)));
                    continue;
                }
                if c.closing.as_ref().is_some_and(|cl| cl.tries == u32::MAX) {
                    ended.push((id, Closed::Done));
                    continue;
                }
                if c.rto_at.is_some_and(|t| now >= t) {
                    self.retransmit(id, c, now, &mut fx);
                }
                if c.closing.is_some() {
                    self.step_close(id, c, now, &mut fx);
                }
                if now.duration_since(c.last_sent) >= self.config.heartbeat {
                    self.counters.heartbeats.fetch_add(1, Ordering::Relaxed);
                    self.send_ack(id, c, now, &mut fx);
                }
            }
            for (id, why) in ended {
                let answer = matches!(why, Closed::Silent(_)).then_some("no answer");
                self.end(&mut st, id, why, answer, &mut fx);
            }
            st.lingering
                .retain(|_, (at, _)| now.duration_since(*at) < LINGER);
            st.answered_unknown
                .retain(|_, at| now.duration_since(*at) < ABORT_INTERVAL);
        }
        self.apply(fx);
    }

    /// The retransmission timer went off: send again every message in the window that was
    /// sent and not named by the peer's bitmap, and double the timeout.
    fn retransmit(&self, id: ChannelId, c: &mut Chan, now: Instant, fx: &mut Effects) {
        c.rtt.back_off();
        let window = c.window();
        for m in c.unacked.iter_mut().take(window) {
            if m.sent_at.is_some() && !m.sacked {
                m.sent_at = Some(now);
                m.sends += 1;
                m.fast = false;
                self.counters.retransmitted.fetch_add(1, Ordering::Relaxed);
                fx.out.push((m.datagram.clone(), id.peer));
                c.last_sent = now;
            }
        }
        c.rto_at = c
            .unacked
            .iter()
            .any(|m| m.sent_at.is_some() && !m.sacked)
            .then(|| now + c.rtt.rto());
    }
}

/// The longest prefix of `s` of at most `max` bytes that ends on a character boundary.
fn truncate_utf8(s: &str, max: usize) -> &str {
    let mut end = s.len().min(max);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

#[cfg(test)]
mod tests {
    use super::*;
    use testkit::proxy::{Faults, Proxy};

    /// A bound UDP socket on loopback with a read timeout: the "raw peer" of a test.
    fn raw() -> UdpSocket {
        let s = UdpSocket::bind("127.0.0.1:0").unwrap();
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        s
    }

    fn listen(config: ChannelConfig) -> Endpoint {
        Endpoint::listen(UdpSocket::bind("127.0.0.1:0").unwrap(), config).unwrap()
    }

    /// The next event within 10 s, or a panic.
    fn event(ep: &Endpoint) -> Event {
        ep.recv_event(Duration::from_secs(10))
            .unwrap()
            .expect("an event within 10 s")
    }

    /// The next datagram from `s` that is not a heartbeat-only ACK for `expected`... any kind.
    fn recv(s: &UdpSocket) -> Vec<u8> {
        let mut buf = [0u8; 2048];
        let (n, _) = s.recv_from(&mut buf).unwrap();
        buf[..n].to_vec()
    }

    /// The doc's examples are what `wire::encode` writes for a first message and its ACK.
    #[test]
    fn doc_examples_match_encode() {
        let data = Header::new(Kind::Data, 0x1234_abcd, EXCHANGE);
        assert_eq!(wire::encode(&data, b"hola"), EXAMPLE_DATA);
        let ack = Header {
            seq: 1,
            window: RECV_WINDOW as u16,
            ..Header::new(Kind::Ack, 0x1234_abcd, EXCHANGE)
        };
        assert_eq!(wire::encode(&ack, b""), EXAMPLE_ACK);
    }

    /// A listening endpoint answers the doc's DATA with exactly the doc's ACK, delivers the
    /// message once, and answers a repeat with the same ACK without delivering it again.
    #[test]
    fn first_message_opens_channel_and_is_acked_byte_exact() {
        let ep = listen(ChannelConfig::default());
        let peer = raw();
        let to = ep.local_addr().unwrap();
        peer.send_to(&EXAMPLE_DATA, to).unwrap();
        assert_eq!(recv(&peer), EXAMPLE_ACK);
        let id = ChannelId {
            peer: peer.local_addr().unwrap(),
            session: 0x1234_abcd,
        };
        assert_eq!(event(&ep), Event::Opened(id));
        assert_eq!(event(&ep), Event::Message(id, b"hola".to_vec()));
        peer.send_to(&EXAMPLE_DATA, to).unwrap();
        assert_eq!(recv(&peer), EXAMPLE_ACK);
        assert_eq!(ep.recv_event(Duration::from_millis(200)).unwrap(), None);
        assert_eq!(ep.stats().duplicates, 1);
    }

    /// Messages that arrive out of order are delivered in order; the ACK's bitmap names
    /// the ones held ahead of a gap.
    #[test]
    fn out_of_order_messages_are_delivered_in_order_with_sack() {
        let ep = listen(ChannelConfig::default());
        let peer = raw();
        let to = ep.local_addr().unwrap();
        let data = |seq: u64, text: &[u8]| {
            wire::encode(
                &Header {
                    seq,
                    ..Header::new(Kind::Data, 7, EXCHANGE)
                },
                text,
            )
        };
        peer.send_to(&data(0, b"a"), to).unwrap();
        recv(&peer);
        peer.send_to(&data(2, b"c"), to).unwrap();
        let ack = recv(&peer);
        let (h, bitmap) = wire::decode(&ack).unwrap();
        assert_eq!((h.kind, h.seq), (Kind::Ack, 1));
        assert_eq!(
            bitmap,
            [0b0000_0001],
            "message 2 held ahead of the gap at 1"
        );
        peer.send_to(&data(1, b"b"), to).unwrap();
        let (h, bitmap) = wire::decode(&recv(&peer))
            .map(|(h, b)| (h, b.to_vec()))
            .unwrap();
        assert_eq!((h.seq, bitmap.len()), (3, 0));
        let id = ChannelId {
            peer: peer.local_addr().unwrap(),
            session: 7,
        };
        assert_eq!(event(&ep), Event::Opened(id));
        for text in [b"a", b"b", b"c"] {
            assert_eq!(event(&ep), Event::Message(id, text.to_vec()));
        }
    }

    /// A datagram for a channel that was never opened gets ABORT "unknown channel".
    #[test]
    fn unknown_channel_gets_abort() {
        let ep = listen(ChannelConfig::default());
        let peer = raw();
        let d = wire::encode(
            &Header {
                seq: 5,
                ..Header::new(Kind::Data, 9, EXCHANGE)
            },
            b"late",
        );
        peer.send_to(&d, ep.local_addr().unwrap()).unwrap();
        let (h, why) = wire::decode(&recv(&peer))
            .map(|(h, w)| (h, w.to_vec()))
            .unwrap();
        assert_eq!(h.kind, Kind::Abort);
        assert_eq!(why, b"unknown channel");
    }

    /// Two endpoints through a proxy that drops 10% and duplicates and reorders 5% of the
    /// datagrams: every message arrives once, in order, both ways; then a clean close.
    #[test]
    fn both_directions_exactly_once_in_order_through_lossy_proxy() {
        let server = listen(ChannelConfig::default());
        let proxy = Proxy::start(server.local_addr().unwrap(), Faults::lossy(0.1), 8);
        let (client, ch) = Endpoint::connect(proxy.addr(), ChannelConfig::default()).unwrap();
        const N: usize = 300;
        for i in 0..N {
            client.send(ch, format!("c{i}").as_bytes()).unwrap();
        }
        let Event::Opened(sch) = event(&server) else {
            panic!("expected Opened")
        };
        for i in 0..N {
            assert_eq!(
                event(&server),
                Event::Message(sch, format!("c{i}").into_bytes())
            );
            server.send(sch, format!("s{i}").as_bytes()).unwrap();
        }
        for i in 0..N {
            assert_eq!(
                event(&client),
                Event::Message(ch, format!("s{i}").into_bytes())
            );
        }
        client.close(ch, "adiós");
        assert_eq!(
            event(&server),
            Event::Closed(sch, Closed::ByPeer("adiós".into()))
        );
        assert_eq!(event(&client), Event::Closed(ch, Closed::Done));
        let (c, s) = (client.stats(), server.stats());
        assert!(
            c.retransmitted + s.retransmitted > 0,
            "the proxy lost nothing?"
        );
        assert_eq!((c.delivered, s.delivered), (N as u64, N as u64));
        assert!(proxy.stats().dropped > 0);
    }

    /// A peer that stops answering is reported silent after the peer timeout, by both the
    /// side that sends and the side that only listens.
    #[test]
    fn silent_peer_is_closed_after_the_peer_timeout() {
        let quick = ChannelConfig {
            heartbeat: Duration::from_millis(50),
            peer_timeout: Duration::from_millis(300),
            ..ChannelConfig::default()
        };
        // A client whose server never answers.
        let nobody = raw();
        let (client, ch) = Endpoint::connect(nobody.local_addr().unwrap(), quick.clone()).unwrap();
        client.send(ch, b"hola").unwrap();
        match event(&client) {
            Event::Closed(id, Closed::Silent(t)) => {
                assert_eq!(id, ch);
                assert!(t >= quick.peer_timeout);
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(
            client.send(ch, b"otra").unwrap_err().kind(),
            io::ErrorKind::NotConnected
        );
        // A server whose client sent one message and vanished.
        let server = listen(quick);
        nobody
            .send_to(&EXAMPLE_DATA, server.local_addr().unwrap())
            .unwrap();
        assert!(matches!(event(&server), Event::Opened(_)));
        assert!(matches!(event(&server), Event::Message(..)));
        assert!(matches!(
            event(&server),
            Event::Closed(_, Closed::Silent(_))
        ));
    }

    /// Heartbeats keep an idle channel open far beyond the peer timeout.
    #[test]
    fn heartbeats_keep_an_idle_channel_open() {
        let quick = ChannelConfig {
            heartbeat: Duration::from_millis(50),
            peer_timeout: Duration::from_millis(300),
            ..ChannelConfig::default()
        };
        let server = listen(quick.clone());
        let (client, ch) = Endpoint::connect(server.local_addr().unwrap(), quick).unwrap();
        client.send(ch, b"hola").unwrap();
        assert!(matches!(event(&server), Event::Opened(_)));
        assert!(matches!(event(&server), Event::Message(..)));
        // Idle for five peer timeouts: nothing happens on either side.
        assert_eq!(
            server.recv_event(Duration::from_millis(1500)).unwrap(),
            None
        );
        assert_eq!(client.recv_event(Duration::from_millis(10)).unwrap(), None);
        assert!(client.is_open(ch));
        assert!(client.stats().heartbeats > 0 && server.stats().heartbeats > 0);
    }

    /// A peer that never acknowledges fills the backlog: the channel is closed, the send
    /// fails with `ConnectionAborted`, and the event says why.
    #[test]
    fn full_backlog_closes_the_channel() {
        let deaf = raw();
        let config = ChannelConfig {
            max_backlog: 10,
            ..ChannelConfig::default()
        };
        let (client, ch) = Endpoint::connect(deaf.local_addr().unwrap(), config).unwrap();
        for i in 0..10 {
            client.send(ch, format!("{i}").as_bytes()).unwrap();
        }
        let e = client.send(ch, b"one too many").unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::ConnectionAborted);
        assert_eq!(event(&client), Event::Closed(ch, Closed::Backlog(10)));
    }

    /// Messages over the limit or empty are refused before anything is sent.
    #[test]
    fn message_size_is_checked() {
        let (client, ch) =
            Endpoint::connect("127.0.0.1:9".parse().unwrap(), ChannelConfig::default()).unwrap();
        for bad in [vec![], vec![b'x'; MAX_MESSAGE_LEN + 1]] {
            let e = client.send(ch, &bad).unwrap_err();
            assert_eq!(e.kind(), io::ErrorKind::InvalidInput);
        }
        client.send(ch, &[b'x'; MAX_MESSAGE_LEN]).unwrap();
    }

    /// A client endpoint ignores datagrams from addresses it has no channel with.
    #[test]
    fn client_ignores_strangers() {
        let server = raw();
        let (client, _ch) =
            Endpoint::connect(server.local_addr().unwrap(), ChannelConfig::default()).unwrap();
        let stranger = raw();
        stranger
            .send_to(&EXAMPLE_DATA, client.local_addr().unwrap())
            .unwrap();
        assert_eq!(client.recv_event(Duration::from_millis(200)).unwrap(), None);
        stranger
            .set_read_timeout(Some(Duration::from_millis(200)))
            .unwrap();
        assert!(
            stranger.recv_from(&mut [0u8; 64]).is_err(),
            "no answer to strangers"
        );
    }

    /// Dropping an endpoint tells its peers at once (ABORT "closed").
    #[test]
    fn dropping_an_endpoint_tells_the_peer() {
        let server = listen(ChannelConfig::default());
        let (client, ch) =
            Endpoint::connect(server.local_addr().unwrap(), ChannelConfig::default()).unwrap();
        client.send(ch, b"hola").unwrap();
        let Event::Opened(sch) = event(&server) else {
            panic!("expected Opened")
        };
        event(&server);
        drop(client);
        assert_eq!(
            event(&server),
            Event::Closed(sch, Closed::ByPeer("closed".into()))
        );
    }
}
