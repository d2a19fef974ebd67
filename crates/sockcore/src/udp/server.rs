//! The server end: one socket, a demultiplexer that sorts datagrams into sessions, and one
//! thread per session running the exercise's dialogue with a blocking API.

use super::bulk::{self, truncate_utf8, Link};
use super::rtt::Rtt;
use super::wire::{self, Header, Kind, MAX_DATAGRAM_LEN, MAX_MESSAGE_LEN};
use super::{aborted, is_message_too_long, tune_socket, Config, Incoming};
use crate::frame::BodySummary;
use crate::net;
use std::collections::HashMap;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread;
use std::time::{Duration, Instant};

/// Sessions served at once; a new client beyond this gets an ABORT ("server busy"). Each
/// session is a thread and some buffers: a bound keeps a flood of fake clients from
/// exhausting the machine. (A production server would also limit sessions per address.)
pub const MAX_SESSIONS: usize = 64;

/// Bytes of datagrams queued for one session before more are dropped: the session's share of
/// buffering, like a socket's receive buffer. Windows are advertised to fit in it.
pub const QUEUE_LIMIT: usize = 8 * 1024 * 1024;

/// How long a finished session is remembered, as a multiple of the peer timeout: a client
/// that lost the last reply repeats its request for up to that long before giving up, and
/// must get the same reply, not be taken for a new session (TCP's TIME_WAIT, for the same
/// reason).
pub const LINGER_FACTOR: u32 = 3;

/// Finished sessions remembered at most; the oldest are forgotten first.
pub const MAX_LINGERING: usize = 4096;

/// A session receiving an upload checks its queue this often when it is empty...
const NAP: Duration = Duration::from_micros(50);

/// ...for this long, before it blocks until the demultiplexer wakes it.
const NAP_FOR: Duration = Duration::from_millis(2);

/// How often the demultiplexer forgets expired sessions.
const SWEEP_EVERY: Duration = Duration::from_millis(500);

/// How often the demultiplexer, and each session waiting for a request, look whether the
/// server was asked to stop: `recv_from` and a channel's `recv` cannot be interrupted from
/// another thread, so they wait at most this long at a time. Short enough that a stop feels
/// immediate, long enough that an idle server costs nothing. (A production server would wait
/// on the socket and a wake-up event together: `poll`, or an async runtime.)
const STOP_POLL: Duration = Duration::from_millis(100);

/// Default grace of [`StopHandle`]: how long a stopping server lets sessions in the middle of
/// an exchange (a slow request, a transfer) finish it before aborting them. As long as the
/// default [`super::PEER_TIMEOUT`]: a peer silent for that long is given up anyway.
pub const STOP_GRACE: Duration = Duration::from_secs(10);

/// Default linger of [`StopHandle`]: how long a stopped server keeps answering repeats of
/// its last replies after every session has finished. A client whose last reply was lost
/// asks again after its retransmission timeout, at most [`super::rtt::MAX_RTO`] (3 s); half a
/// second more lets that repeat arrive and be answered. (A second loss in a row is not
/// covered: lingering for the client's whole patience, 10 s or more, would make `exit` slow.)
pub const STOP_LINGER: Duration = Duration::from_millis(3_500);

/// At most this many log lines per second about bad datagrams; the rest are counted.
const LOG_BURST: u32 = 10;

/// ABORTs answering datagrams for closed or unknown sessions: at most one per this
/// interval per session (and per interval overall for unknown ones), so junk cannot make the
/// server a traffic amplifier.
const ABORT_INTERVAL: Duration = Duration::from_millis(100);

/// What the demultiplexer and a session's thread share.
#[derive(Debug, Default)]
struct SessionState {
    exchange: Mutex<ExchangeState>,
    /// Bytes waiting in the session's queue.
    queued: AtomicUsize,
}

#[derive(Debug, Default)]
struct ExchangeState {
    /// An exchange the handler has taken and not answered yet, and what to send if the
    /// client repeats it: an ACK meaning "received, working on it".
    in_progress: Option<(u32, Vec<u8>)>,
    /// The last reply sent, to send again if the client repeats its request.
    answered: Option<(u32, Vec<u8>)>,
    /// When the handler let go of the session.
    finished_at: Option<Instant>,
}

impl SessionState {
    fn lock(&self) -> MutexGuard<'_, ExchangeState> {
        // A handler that panicked while holding the lock leaves consistent data (every
        // update is a single assignment), so a poisoned lock is still usable.
        self.exchange
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// What every session of one server shares.
#[derive(Debug)]
struct ServerInfo {
    /// The socket's receive buffer, as the OS reports it.
    rcvbuf: usize,
    /// Sessions receiving a bulk transfer right now; they share the socket's buffer.
    receivers: AtomicUsize,
    /// Set when the server is asked to stop: sessions take no new request.
    stop: StopHandle,
}

/// Asks a server started with [`serve_until`] to stop: no new session or request is taken,
/// sessions in the middle of an exchange get a grace period to finish it, then the server
/// keeps answering repeats of its last replies for a while (lingers) and returns.
///
/// Clones share one flag, so a clone moved into the handler lets a client's request stop
/// the server (ej6's `exit`), and a clone kept by the caller stops it from outside (a test,
/// a signal handler).
///
/// ```no_run
/// use sockcore::udp::{serve_until, Config, StopHandle};
/// let socket = sockcore::net::bind_udp("127.0.0.1", 5006)?;
/// let stop = StopHandle::new();
/// let in_handler = stop.clone();
/// serve_until(socket, Config::default(), move |mut s| {
///     while let Ok(req) = s.recv_request() {
///         if s.reply(b"OK").is_err() {
///             break;
///         }
///         if req == b"exit" {
///             in_handler.stop(); // serve_until returns once the reply had time to arrive
///             break;
///         }
///     }
/// }, stop)?;
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct StopHandle {
    inner: Arc<StopInner>,
}

#[derive(Debug)]
struct StopInner {
    stopping: AtomicBool,
    grace: Duration,
    linger: Duration,
}

impl Default for StopHandle {
    fn default() -> Self {
        StopHandle::new()
    }
}

impl StopHandle {
    /// A handle with the default grace ([`STOP_GRACE`]) and linger ([`STOP_LINGER`]).
    pub fn new() -> StopHandle {
        StopHandle::with_timing(STOP_GRACE, STOP_LINGER)
    }

    /// A handle that gives exchanges in progress `grace` to finish, and then answers repeats
    /// of the last replies for `linger` before [`serve_until`] returns.
    pub fn with_timing(grace: Duration, linger: Duration) -> StopHandle {
        StopHandle {
            inner: Arc::new(StopInner {
                stopping: AtomicBool::new(false),
                grace,
                linger,
            }),
        }
    }

    /// Asks the server to stop, and returns at once (a handler may call it, then return).
    /// Calling it again changes nothing.
    pub fn stop(&self) {
        self.inner.stopping.store(true, Ordering::SeqCst);
    }

    /// True once [`StopHandle::stop`] was called on this handle or a clone.
    pub fn is_stopping(&self) -> bool {
        self.inner.stopping.load(Ordering::SeqCst)
    }
}

/// Where a server is in stopping: serving, letting exchanges finish, or lingering.
#[derive(Debug, Clone, Copy)]
enum Phase {
    Serving,
    /// Until every session has finished, or the grace ends.
    Draining {
        grace_until: Instant,
    },
    /// Answering repeats from the caches until then.
    Lingering {
        until: Instant,
    },
}

struct Entry {
    state: Arc<SessionState>,
    /// The session's queue; `None` once the session was aborted because the server stopped.
    inbox: Option<mpsc::Sender<Incoming>>,
    last_abort: Option<Instant>,
    /// When a cached answer was last replayed for a stray DATA chunk (rate limit).
    last_replay: Option<Instant>,
}

/// Serves sessions on `socket` forever: each new client (a REQUEST with exchange 1 from an
/// unknown address and session id) gets a thread running `handler` with its [`Session`].
///
/// Datagrams that do not decode, are truncated, or belong to no session are dropped and
/// logged on stderr (`server: ...`, at most a few lines per second); a handler that fails
/// or panics ends its own session only. To be able to stop the server, use [`serve_until`].
///
/// # Errors
/// `InvalidInput` when `config` is out of range; otherwise only an error of the socket
/// itself (not one caused by a client) ends the loop.
pub fn serve<F>(socket: UdpSocket, config: Config, handler: F) -> io::Result<()>
where
    F: Fn(Session) + Send + Sync + 'static,
{
    // Nobody else holds this handle, so the server never stops.
    serve_until(socket, config, handler, StopHandle::new())
}

/// Serves sessions on `socket` as [`serve`] does, until `stop` (or a clone of it) is
/// stopped; then returns `Ok(())` after these steps:
///
/// 1. **No new work.** A new session is refused with an ABORT ("the server is stopping"),
///    and so is any new request in an existing one: [`Session::recv_request`] fails with
///    [`io::ErrorKind::NotConnected`] within 0.1 s, also when it was already waiting, so a
///    handler's `while let Ok(req) = session.recv_request()` loop ends.
/// 2. **Grace.** A session in the middle of an exchange (its handler has taken a request and
///    not replied yet, or is running a bulk transfer) may finish it, for up to the handle's
///    grace ([`STOP_GRACE`] by default). One still running then is aborted: its client gets
///    an ABORT ("the server stopped before answering"), and the session's calls fail with
///    [`io::ErrorKind::NotConnected`].
/// 3. **Linger.** When every session has finished (or the grace ended), the server keeps
///    answering repeats of each session's last reply from its cache, for the handle's linger
///    ([`STOP_LINGER`] by default), so a client whose last reply was lost still gets it.
///
/// A handler thread that ignores the errors and keeps running is not waited for.
///
/// # Errors
/// As [`serve`].
pub fn serve_until<F>(
    socket: UdpSocket,
    config: Config,
    handler: F,
    stop: StopHandle,
) -> io::Result<()>
where
    F: Fn(Session) + Send + Sync + 'static,
{
    config.validate()?;
    let rcvbuf = tune_socket(&socket, config.socket_buffer);
    socket.set_read_timeout(Some(STOP_POLL))?;
    let mut demux = Demux {
        socket: Arc::new(socket),
        handler: Arc::new(handler),
        info: Arc::new(ServerInfo {
            rcvbuf,
            receivers: AtomicUsize::new(0),
            stop,
        }),
        linger: config.peer_timeout * LINGER_FACTOR,
        config,
        sessions: HashMap::new(),
        log: LogLimit::default(),
        last_unknown_abort: None,
        next_sweep: Instant::now() + SWEEP_EVERY,
        phase: Phase::Serving,
        next_stop_check: Instant::now(),
    };
    let mut buf = vec![0u8; MAX_DATAGRAM_LEN + 1];
    loop {
        match demux.socket.recv_from(&mut buf) {
            Ok((n, from)) => demux.on_datagram(&buf[..n], from),
            Err(e) if net::is_timeout(&e) => {}
            // A previous reply hit a closed port and Windows reports it here: that client is
            // gone, which is no reason to stop serving the others.
            Err(e) if super::client::is_transient(&e) => {}
            Err(e) if is_message_too_long(&e) => {
                demux.log.line(format_args!(
                    "dropped a datagram longer than {MAX_DATAGRAM_LEN} bytes (truncated)"
                ));
            }
            Err(e) => return Err(e),
        }
        if Instant::now() >= demux.next_sweep {
            demux.sweep();
        }
        if Instant::now() >= demux.next_stop_check && demux.stopped() {
            demux.log.flush();
            return Ok(());
        }
    }
}

type Handler = dyn Fn(Session) + Send + Sync;

struct Demux {
    socket: Arc<UdpSocket>,
    handler: Arc<Handler>,
    info: Arc<ServerInfo>,
    config: Config,
    linger: Duration,
    sessions: HashMap<(SocketAddr, u32), Entry>,
    log: LogLimit,
    last_unknown_abort: Option<Instant>,
    next_sweep: Instant,
    phase: Phase,
    /// Stopping is looked at once per [`STOP_POLL`], not once per datagram.
    next_stop_check: Instant,
}

impl Demux {
    /// Moves the stop through its phases (see [`serve_until`]); true when it is complete.
    fn stopped(&mut self) -> bool {
        let now = Instant::now();
        self.next_stop_check = now + STOP_POLL;
        let stop = Arc::clone(&self.info.stop.inner);
        match self.phase {
            Phase::Serving if stop.stopping.load(Ordering::SeqCst) => {
                self.phase = Phase::Draining {
                    grace_until: now + stop.grace,
                };
                false
            }
            Phase::Serving => false,
            Phase::Draining { grace_until } => {
                let unfinished = self.unfinished();
                if unfinished.is_empty() || now >= grace_until {
                    for key in unfinished {
                        self.abort_unfinished(key);
                    }
                    self.phase = Phase::Lingering {
                        until: now + stop.linger,
                    };
                }
                false
            }
            Phase::Lingering { until } => now >= until,
        }
    }

    /// True from the moment [`StopHandle::stop`] was called: from then on nothing new is
    /// started, even before the next look at the phases.
    fn stopping(&self) -> bool {
        self.info.stop.is_stopping()
    }

    /// Sessions whose handler has not let go yet.
    fn unfinished(&self) -> Vec<(SocketAddr, u32)> {
        self.sessions
            .iter()
            .filter(|(_, e)| e.state.lock().finished_at.is_none())
            .map(|(k, _)| *k)
            .collect()
    }

    /// The grace is over and this session is still busy: tell its client, and cut its queue
    /// so that its handler's next call fails.
    fn abort_unfinished(&mut self, key: (SocketAddr, u32)) {
        let Some(entry) = self.sessions.get_mut(&key) else {
            return;
        };
        let exchange = {
            let mut st = entry.state.lock();
            // No more "working" ACKs for the request being aborted: its repeats get an ABORT.
            st.in_progress
                .take()
                .map(|(e, _)| e)
                .or(st.answered.as_ref().map(|(e, _)| e.wrapping_add(1).max(1)))
                .unwrap_or(1)
        };
        entry.inbox = None;
        entry.last_abort = Some(Instant::now());
        let about = Header::new(Kind::Abort, key.1, exchange);
        send_abort(
            &self.socket,
            key.0,
            about,
            "the server stopped before answering",
        );
    }

    fn on_datagram(&mut self, d: &[u8], from: SocketAddr) {
        // Rule 1: the buffer is one byte longer than any legal datagram.
        if d.len() > MAX_DATAGRAM_LEN {
            self.log.line(format_args!(
                "dropped a datagram from {from} longer than {MAX_DATAGRAM_LEN} bytes (truncated)"
            ));
            return;
        }
        let header = match wire::decode(d) {
            Ok((h, _)) => h,
            Err(e) => {
                self.log.line(format_args!(
                    "ignored a datagram of {} bytes from {from}: {e}",
                    d.len()
                ));
                return;
            }
        };
        let key = (from, header.session);
        let stopping = self.stopping();
        let Some(entry) = self.sessions.get_mut(&key) else {
            self.unknown_session(d, from, header);
            return;
        };
        {
            let st = entry.state.lock();
            if matches!(header.kind, Kind::Request | Kind::End | Kind::Data) {
                // At-most-once: a repeat of the last exchange gets the same answer, from
                // here, without involving the handler. A DATA chunk of an upload that is
                // already complete means the sender missed our ACKs (lost on the way): the
                // cached final ACK or REPLY tells it the transfer is done. A window of such
                // retransmissions gets one answer per ABORT_INTERVAL, not one each.
                for cached in [&st.answered, &st.in_progress].into_iter().flatten() {
                    if cached.0 == header.exchange {
                        if header.kind == Kind::Data {
                            if entry
                                .last_replay
                                .is_some_and(|t| t.elapsed() < ABORT_INTERVAL)
                            {
                                return;
                            }
                            entry.last_replay = Some(Instant::now());
                        }
                        if cached.1[wire::field::KIND] == Kind::Reply as u8 {
                            // The REPLY answers this copy now: echo its number, so the
                            // client times this copy (a chunk or END has none).
                            let mut reply = cached.1.clone();
                            let echo = match header.kind {
                                Kind::Request => header.flags,
                                _ => wire::UNKNOWN_COPY,
                            };
                            wire::set_flags(&mut reply, echo);
                            let _ = self.socket.send_to(&reply, from);
                        } else {
                            let _ = self.socket.send_to(&cached.1, from);
                        }
                        return;
                    }
                }
            }
            if st.finished_at.is_some() {
                drop(st);
                if matches!(header.kind, Kind::Request | Kind::End | Kind::Data) {
                    let due = entry
                        .last_abort
                        .is_none_or(|t| t.elapsed() >= ABORT_INTERVAL);
                    if due {
                        entry.last_abort = Some(Instant::now());
                        let reason = if stopping {
                            "the server is stopping"
                        } else {
                            "the session is closed"
                        };
                        send_abort(&self.socket, from, header, reason);
                    }
                }
                return;
            }
        }
        let Some(inbox) = &entry.inbox else {
            // Aborted when the server stopped; its client was told, remind it now and then.
            let due = entry
                .last_abort
                .is_none_or(|t| t.elapsed() >= ABORT_INTERVAL);
            if due && header.kind != Kind::Abort {
                entry.last_abort = Some(Instant::now());
                send_abort(&self.socket, from, header, "the server is stopping");
            }
            return;
        };
        let queued = entry.state.queued.load(Ordering::Relaxed);
        if queued + d.len() > QUEUE_LIMIT {
            return; // the session is not keeping up: drop, as a full socket buffer would
        }
        entry.state.queued.fetch_add(d.len(), Ordering::Relaxed);
        let _ = inbox.send(Incoming {
            header,
            datagram: d.to_vec(),
        });
    }

    fn unknown_session(&mut self, d: &[u8], from: SocketAddr, header: Header) {
        if header.kind == Kind::Request && header.exchange == 1 && self.stopping() {
            send_abort(&self.socket, from, header, "the server is stopping");
            return;
        }
        if header.kind == Kind::Request && header.exchange == 1 {
            let active = self
                .sessions
                .values()
                .filter(|e| e.state.lock().finished_at.is_none())
                .count();
            if active >= MAX_SESSIONS {
                self.log.line(format_args!(
                    "refused a session from {from}: {MAX_SESSIONS} sessions already"
                ));
                send_abort(
                    &self.socket,
                    from,
                    header,
                    &format!("server busy: {MAX_SESSIONS} sessions already, try later"),
                );
                return;
            }
            self.start_session(d, from, header);
            return;
        }
        // A datagram for a session we do not know: expired, from before a restart, or from
        // a stranger. Say so (rarely), never answer an ABORT with an ABORT.
        if header.kind != Kind::Abort
            && self
                .last_unknown_abort
                .is_none_or(|t| t.elapsed() >= ABORT_INTERVAL)
        {
            self.last_unknown_abort = Some(Instant::now());
            send_abort(
                &self.socket,
                from,
                header,
                "unknown session (expired, or the server was restarted)",
            );
        }
    }

    fn start_session(&mut self, d: &[u8], from: SocketAddr, header: Header) {
        let state = Arc::new(SessionState::default());
        let (tx, rx) = mpsc::channel();
        let session = Session {
            socket: Arc::clone(&self.socket),
            peer: from,
            id: header.session,
            inbox: rx,
            state: Arc::clone(&state),
            info: Arc::clone(&self.info),
            config: self.config.clone(),
            rtt: Rtt::new(),
            expected: 1,
            echo: wire::UNKNOWN_COPY,
            closed: false,
            receiving: false,
        };
        state.queued.fetch_add(d.len(), Ordering::Relaxed);
        let _ = tx.send(Incoming {
            header,
            datagram: d.to_vec(),
        });
        self.sessions.insert(
            (from, header.session),
            Entry {
                state,
                inbox: Some(tx),
                last_abort: None,
                last_replay: None,
            },
        );
        let handler = Arc::clone(&self.handler);
        let spawned = thread::Builder::new()
            .name(format!("session {from}"))
            .spawn(move || handler(session));
        if let Err(e) = spawned {
            // The closure (and the session in it) is dropped: the session is finished.
            self.log
                .line(format_args!("cannot start a thread for {from}: {e}"));
        }
    }

    /// Forgets sessions finished more than the linger time ago.
    fn sweep(&mut self) {
        let now = Instant::now();
        self.next_sweep = now + SWEEP_EVERY;
        let linger = self.linger;
        self.sessions.retain(|_, e| {
            e.state
                .lock()
                .finished_at
                .is_none_or(|t| now.duration_since(t) < linger)
        });
        let finished: Vec<(Instant, (SocketAddr, u32))> = self
            .sessions
            .iter()
            .filter_map(|(k, e)| e.state.lock().finished_at.map(|t| (t, *k)))
            .collect();
        if finished.len() > MAX_LINGERING {
            let mut finished = finished;
            finished.sort();
            for (_, k) in &finished[..finished.len() - MAX_LINGERING] {
                self.sessions.remove(k);
            }
        }
        self.log.flush();
    }
}

fn send_abort(socket: &UdpSocket, to: SocketAddr, about: Header, reason: &str) {
    let h = Header::new(Kind::Abort, about.session, about.exchange);
    let _ = socket.send_to(
        &wire::encode(&h, truncate_utf8(reason, MAX_MESSAGE_LEN).as_bytes()),
        to,
    );
}

/// Logs on stderr with the `server: ` prefix, at most [`LOG_BURST`] lines per second.
#[derive(Debug)]
struct LogLimit {
    since: Instant,
    lines: u32,
    suppressed: u64,
}

impl Default for LogLimit {
    fn default() -> Self {
        LogLimit {
            since: Instant::now(),
            lines: 0,
            suppressed: 0,
        }
    }
}

impl LogLimit {
    fn line(&mut self, msg: std::fmt::Arguments<'_>) {
        if self.since.elapsed() >= Duration::from_secs(1) {
            self.flush();
        }
        if self.lines < LOG_BURST {
            self.lines += 1;
            eprintln!("server: {msg}");
        } else {
            self.suppressed += 1;
        }
    }

    fn flush(&mut self) {
        if self.since.elapsed() < Duration::from_secs(1) {
            return;
        }
        if self.suppressed > 0 {
            eprintln!("server: ({} more bad datagrams not shown)", self.suppressed);
        }
        self.since = Instant::now();
        self.lines = 0;
        self.suppressed = 0;
    }
}

/// One client's session, as its handler thread sees it: a blocking API that reads like the
/// TCP version's dialogue.
///
/// ```no_run
/// use sockcore::udp::{serve, Config, Session};
/// let socket = sockcore::net::bind_udp("127.0.0.1", 5004)?;
/// serve(socket, Config::default(), |mut s: Session| {
///     while let Ok(req) = s.recv_request() {
///         let text = String::from_utf8_lossy(&req).into_owned();
///         if s.reply(text.to_uppercase().as_bytes()).is_err() || text == "exit" {
///             break;
///         }
///     }
/// })?;
/// # Ok::<(), std::io::Error>(())
/// ```
///
/// Dropping the session (the handler returns or panics) ends it. If a request was taken
/// and not answered, the client is sent an ABORT; repeats of the last reply are still
/// answered for a while ([`LINGER_FACTOR`]).
#[derive(Debug)]
pub struct Session {
    socket: Arc<UdpSocket>,
    peer: SocketAddr,
    id: u32,
    inbox: mpsc::Receiver<Incoming>,
    state: Arc<SessionState>,
    info: Arc<ServerInfo>,
    config: Config,
    rtt: Rtt,
    expected: u32,
    /// The copy number the next reply echoes: that of the REQUEST taken last, or
    /// [`wire::UNKNOWN_COPY`] after an upload.
    echo: u16,
    closed: bool,
    receiving: bool,
}

impl Session {
    /// The client's address.
    pub fn peer(&self) -> SocketAddr {
        self.peer
    }

    /// The client's random session id.
    pub fn session_id(&self) -> u32 {
        self.id
    }

    fn check_open(&self) -> io::Result<()> {
        if self.closed {
            return Err(io::Error::new(
                io::ErrorKind::NotConnected,
                "the session was aborted",
            ));
        }
        if let Some((e, _)) = &self.state.lock().in_progress {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("exchange {e} has not been answered yet: call reply first"),
            ));
        }
        Ok(())
    }

    /// Waits for the client's next request and returns its message. The first call returns
    /// the request that opened the session. Answer it with [`Session::reply`].
    ///
    /// # Errors
    /// - [`io::ErrorKind::TimedOut`] after `idle_timeout` without a request (the client
    ///   left, or its user is away);
    /// - [`io::ErrorKind::ConnectionAborted`] when the client aborted;
    /// - [`io::ErrorKind::NotConnected`] when the server is stopping ([`serve_until`]);
    /// - [`io::ErrorKind::InvalidInput`] when the previous request was not answered.
    pub fn recv_request(&mut self) -> io::Result<Vec<u8>> {
        self.check_open()?;
        let exchange = self.expected;
        let idle = self.config.idle_timeout;
        let start = Instant::now();
        loop {
            if self.info.stop.is_stopping() {
                return Err(io::Error::new(
                    io::ErrorKind::NotConnected,
                    "the server is stopping: no new requests",
                ));
            }
            let left = idle.saturating_sub(start.elapsed());
            if left.is_zero() {
                return Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!(
                        "no request from {} for {:.1} s: session closed",
                        self.peer,
                        idle.as_secs_f64()
                    ),
                ));
            }
            let Some(p) = self.recv(left.min(STOP_POLL))? else {
                continue;
            };
            match p.header.kind {
                Kind::Request if p.header.exchange == exchange => {
                    let working = wire::encode(&Header::new(Kind::Ack, self.id, exchange), &[]);
                    self.state.lock().in_progress = Some((exchange, working));
                    self.expected = exchange.wrapping_add(1).max(1);
                    // The copy the handler works on: the reply's round trip, as the client
                    // measures it, then includes the handler's time, as it should.
                    self.echo = p.header.flags;
                    return Ok(p.payload().to_vec());
                }
                Kind::Abort => {
                    self.closed = true;
                    return Err(aborted("client", p.payload()));
                }
                _ => {} // stale: an old transfer's chunk, an old request
            }
        }
    }

    /// Answers the request (or upload) taken last. The reply is kept and sent again if the
    /// client repeats its request, without running the request again.
    ///
    /// # Errors
    /// - [`io::ErrorKind::InvalidInput`] when there is nothing to answer, or `message` is
    ///   longer than [`MAX_MESSAGE_LEN`];
    /// - [`io::ErrorKind::NotConnected`] when the server stopped and its grace ran out before
    ///   this reply ([`serve_until`]);
    /// - the OS error of sending.
    pub fn reply(&mut self, message: &[u8]) -> io::Result<()> {
        if message.len() > MAX_MESSAGE_LEN {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "reply of {} bytes exceeds limit {MAX_MESSAGE_LEN}",
                    message.len()
                ),
            ));
        }
        let d = {
            let mut st = self.state.lock();
            let Some((exchange, _)) = st.in_progress.take() else {
                if self.info.stop.is_stopping() {
                    // The grace ran out: the demultiplexer aborted this exchange.
                    return Err(server_stopped());
                }
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    "no request to reply to",
                ));
            };
            let h = Header {
                flags: self.echo,
                ..Header::new(Kind::Reply, self.id, exchange)
            };
            let d = wire::encode(&h, message);
            // Cached before it leaves, so a repeat arriving meanwhile finds it.
            st.answered = Some((exchange, d.clone()));
            d
        };
        self.send(&d)
    }

    /// Receives the client's upload (the next exchange) into `dst`, at most `max_size`
    /// bytes; the size and CRC-32 announced in its END are checked. Then answer it with
    /// [`Session::reply`] (the client waits for that reply).
    ///
    /// # Errors
    /// - [`io::ErrorKind::InvalidData`]: over `max_size`, or size/CRC-32 mismatch (the
    ///   client is told with an ABORT);
    /// - [`io::ErrorKind::TimedOut`]: nothing from the client for `peer_timeout`;
    /// - [`io::ErrorKind::ConnectionAborted`]: the client aborted;
    /// - any error writing `dst` (the client is told with an ABORT).
    pub fn recv_bulk<W: Write + ?Sized>(
        &mut self,
        dst: &mut W,
        max_size: u64,
        mut on_progress: impl FnMut(u64),
    ) -> io::Result<BodySummary> {
        self.check_open()?;
        let exchange = self.expected;
        self.info.receivers.fetch_add(1, Ordering::Relaxed);
        self.receiving = true;
        let result = bulk::recv_bulk(self, exchange, dst, max_size, &mut on_progress);
        self.receiving = false;
        self.info.receivers.fetch_sub(1, Ordering::Relaxed);
        match result {
            Ok((summary, final_ack)) => {
                self.state.lock().in_progress = Some((exchange, final_ack));
                self.expected = exchange.wrapping_add(1).max(1);
                self.echo = wire::UNKNOWN_COPY;
                Ok(summary)
            }
            Err(e) => {
                self.closed = true;
                Err(e)
            }
        }
    }

    /// Sends `size` bytes from `src` to the client as the next exchange (a download, which
    /// the client receives with [`super::Client::recv_bulk`]); returns when the client has
    /// acknowledged everything, verified.
    ///
    /// # Errors
    /// - [`io::ErrorKind::TimedOut`]: the client stopped answering;
    /// - [`io::ErrorKind::ConnectionAborted`]: the client aborted (e.g. over its limit);
    /// - [`io::ErrorKind::UnexpectedEof`]: `src` ended before `size` bytes;
    /// - any error reading `src`.
    pub fn send_bulk<R: Read + ?Sized>(
        &mut self,
        src: &mut R,
        size: u64,
        mut on_progress: impl FnMut(u64),
    ) -> io::Result<BodySummary> {
        self.check_open()?;
        let exchange = self.expected;
        self.expected = exchange.wrapping_add(1).max(1);
        match bulk::send_bulk(self, exchange, src, size, &mut on_progress) {
            Ok(sent) => Ok(sent.summary),
            Err(e) => {
                self.closed = true;
                Err(e)
            }
        }
    }

    /// Ends the session telling the client why: its pending call fails with
    /// [`io::ErrorKind::ConnectionAborted`] and `reason`.
    pub fn abort(mut self, reason: &str) {
        let h = Header::new(Kind::Abort, self.id, self.expected.saturating_sub(1).max(1));
        let d = wire::encode(&h, truncate_utf8(reason, MAX_MESSAGE_LEN).as_bytes());
        let _ = self.send(&d);
        self.closed = true;
        self.state.lock().in_progress = None;
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        let mut st = self.state.lock();
        if let Some((exchange, _)) = st.in_progress.take() {
            if !self.closed {
                let h = Header::new(Kind::Abort, self.id, exchange);
                let d = wire::encode(&h, b"the server ended the session without answering");
                let _ = self.socket.send_to(&d, self.peer);
            }
        }
        st.finished_at = Some(Instant::now());
    }
}

impl Session {
    /// Accounts for a datagram taken from the queue.
    fn took(&self, p: Incoming) -> Incoming {
        self.state
            .queued
            .fetch_sub(p.datagram.len(), Ordering::Relaxed);
        p
    }
}

fn server_stopped() -> io::Error {
    io::Error::new(io::ErrorKind::NotConnected, "the server stopped")
}

impl Link for Session {
    fn peer(&self) -> SocketAddr {
        self.peer
    }

    fn peer_role(&self) -> &'static str {
        "client"
    }

    fn session(&self) -> u32 {
        self.id
    }

    fn config(&self) -> &Config {
        &self.config
    }

    fn rtt(&mut self) -> &mut Rtt {
        &mut self.rtt
    }

    fn send(&mut self, datagram: &[u8]) -> io::Result<()> {
        match self.socket.send_to(datagram, self.peer) {
            Ok(_) => Ok(()),
            Err(e) if super::client::is_transient(&e) => Ok(()),
            Err(e) => Err(io::Error::new(
                e.kind(),
                format!("sending to {}: {e}", self.peer),
            )),
        }
    }

    fn recv(&mut self, timeout: Duration) -> io::Result<Option<Incoming>> {
        let deadline = Instant::now() + timeout;
        if self.receiving {
            // A busy upload brings a datagram every few microseconds. Being woken for each
            // one (a futex call and a context switch per datagram, on both threads) costs
            // more than handling it; so a receiving session naps and takes what queued up
            // meanwhile, and blocks only when nothing has come for a while (interrupt
            // coalescing, as network cards and kernels do).
            let nap_until = deadline.min(Instant::now() + NAP_FOR);
            loop {
                match self.inbox.try_recv() {
                    Ok(p) => return Ok(Some(self.took(p))),
                    Err(mpsc::TryRecvError::Disconnected) => return Err(server_stopped()),
                    Err(mpsc::TryRecvError::Empty) if Instant::now() < nap_until => {
                        thread::sleep(NAP);
                    }
                    Err(mpsc::TryRecvError::Empty) => break,
                }
            }
        }
        let left = deadline.saturating_duration_since(Instant::now());
        match self.inbox.recv_timeout(left) {
            Ok(p) => Ok(Some(self.took(p))),
            Err(RecvTimeoutError::Timeout) => Ok(None),
            Err(RecvTimeoutError::Disconnected) => Err(server_stopped()),
        }
    }

    fn receive_capacity(&self, len: usize) -> usize {
        let sharing = self.info.receivers.load(Ordering::Relaxed).max(1);
        let socket = self.info.rcvbuf / super::buffer_cost(len) / sharing;
        socket.min(QUEUE_LIMIT / len.max(1))
    }
}
