//! How many clients a threaded server holds at once, and for how long a silent one keeps its
//! place.
//!
//! A thread-per-client server (the handouts' `while True: accept(); Thread(...)`) spends a
//! thread and a socket on every connection, including the ones that say nothing. Without a
//! limit, a few hundred idle connections (a laptop closed mid-session, a port scan, a
//! script that forgot to close) exhaust threads or file descriptors, and then `accept` or
//! `spawn` fails for everyone. Three pieces keep that bounded:
//!
//! 1. [`ConnLimit`]: at most [`DEFAULT_MAX_CONNECTIONS`] connections are served at once. The
//!    accept loop asks for a slot ([`ConnLimit::try_acquire`]) before it starts a thread; the
//!    [`ConnGuard`] it gets travels into that thread and frees the slot when dropped, however
//!    the thread ends (return, error or panic).
//! 2. [`refuse_connection`]: a client over the limit gets one message in the exercise's own
//!    protocol (an `ERROR server busy: ...` frame, or a text line) and is closed, without
//!    ever blocking the accept loop. Build the message's text with [`ConnLimit::busy_reason`].
//! 3. An idle timeout: every blocking read of a connection has a read timeout
//!    ([`DEFAULT_IDLE_TIMEOUT`] unless the server's `--idle-timeout` says otherwise), and
//!    [`idle_error`] turns its expiry into a message for the log and the client.
//!
//! [`accept_retry_after`] tells an accept loop which errors of `accept` end it and which
//! (running out of file descriptors) only call for a pause.
//!
//! [`spawn_connection`] starts a connection's thread with a small stack
//! ([`CONN_STACK_SIZE`]), so 500 idle clients reserve 500 × 256 KiB of address space instead
//! of 500 × 2 MiB.
//!
//! The accept loop itself stays in each exercise's `server.rs`: it is the lesson.
//!
//! ```no_run
//! use sockcore::limits::{self, ConnLimit, DEFAULT_MAX_CONNECTIONS};
//! use std::net::TcpListener;
//!
//! # fn main() -> std::io::Result<()> {
//! let listener = TcpListener::bind("127.0.0.1:0")?;
//! let limit = ConnLimit::new(DEFAULT_MAX_CONNECTIONS);
//! loop {
//!     let (stream, peer) = listener.accept()?;
//!     let Some(slot) = limit.try_acquire() else {
//!         let line = format!("ERROR {}\n", limit.busy_reason());
//!         limits::refuse_connection(stream, line.as_bytes());
//!         continue;
//!     };
//!     limits::spawn_connection(move || {
//!         // ... serve `stream` ...
//!         drop(slot); // the slot is free before the client sees the close
//!         drop(stream);
//!     })?;
//! }
//! # }
//! ```

use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::Duration;

/// Connections served at once, by default. Above the 500 idle clients a server must survive
/// with room to spare, and far below what one process may hold: each connection costs a
/// thread (two in the chat room) with a [`CONN_STACK_SIZE`] stack, of which a few pages are
/// touched, and a socket (one file descriptor; Linux's usual soft limit is 1,024 per process,
/// often raised, and this limit keeps the server from reaching a lower one by surprise).
pub const DEFAULT_MAX_CONNECTIONS: usize = 1024;

/// How long a connection may stay silent before the server closes it, by default: 10
/// minutes. A person at the keyboard pauses for minutes, not tens of minutes; a client that
/// vanished without a FIN (a closed laptop, a pulled cable) is never noticed by TCP itself,
/// so without this it would hold its slot and its thread forever.
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(10 * 60);

/// Stack size of a connection's thread, in bytes: 256 KiB. The standard library's default
/// is 2 MiB; a connection's deepest call path (a frame or a line read, a file streamed
/// through a heap buffer, an error formatted with its chain) uses a few tens of KiB, so this
/// leaves ample margin. Only touched pages count in the resident set, so what this saves is
/// mostly address space; it also makes runaway recursion fail early.
pub const CONN_STACK_SIZE: usize = 256 * 1024;

/// A cap on the connections a server serves at once, shared by its accept loop and its
/// connection threads. Cloning it gives another handle on the same count.
#[derive(Debug, Clone)]
pub struct ConnLimit {
    shared: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    max: usize,
    active: AtomicUsize,
}

/// One connection's place under a [`ConnLimit`]; dropping it frees the place.
///
/// Move it into the connection's thread and drop it just before closing the socket, so a
/// client that has seen the close can connect again at once.
#[derive(Debug)]
#[must_use = "the slot is freed as soon as the guard is dropped"]
pub struct ConnGuard {
    shared: Arc<Shared>,
}

impl ConnLimit {
    /// A limit of `max` connections at once, none in use.
    ///
    /// # Panics
    /// When `max` is 0: a server that refuses every client is a configuration mistake (the
    /// servers' `--max-connections` accepts 1 and up).
    pub fn new(max: usize) -> ConnLimit {
        assert!(max > 0, "connection limit must be at least 1");
        ConnLimit {
            shared: Arc::new(Shared {
                max,
                active: AtomicUsize::new(0),
            }),
        }
    }

    /// Takes a place for a new connection, or `None` when all `max` are in use (refuse the
    /// client, see [`refuse_connection`]).
    pub fn try_acquire(&self) -> Option<ConnGuard> {
        let max = self.shared.max;
        self.shared
            .active
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < max).then_some(n + 1)
            })
            .ok()
            .map(|_| ConnGuard {
                shared: Arc::clone(&self.shared),
            })
    }

    /// Connections holding a place now.
    pub fn active(&self) -> usize {
        self.shared.active.load(Ordering::Acquire)
    }

    /// The most connections served at once.
    pub fn max(&self) -> usize {
        self.shared.max
    }

    /// Why a client is refused, for its message and the server's log:
    /// `server busy: 1024 connections open, limit 1024; try again later`.
    pub fn busy_reason(&self) -> String {
        format!(
            "server busy: {} connections open, limit {}; try again later",
            self.active(),
            self.shared.max
        )
    }
}

impl Drop for ConnGuard {
    fn drop(&mut self) {
        self.shared.active.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Most bytes [`refuse_connection`] reads and throws away from a refused client: enough for
/// a greeting that arrived with the connection, not a way to keep the accept loop busy.
const REFUSE_DRAIN_LEN: usize = 4096;

/// Turns away a client over the limit: sends `message` (already encoded in the exercise's
/// protocol: a frame, or a line with its `\n`), half-closes, and closes.
///
/// It never blocks, because it runs on the accept loop: the socket is made non-blocking,
/// and a message that does not fit at once (it always fits in a fresh connection's send
/// buffer) is cut short rather than waited for. Whatever the client already sent (at most
/// [`REFUSE_DRAIN_LEN`] bytes) is read and discarded first: closing a socket with unread
/// data makes the kernel send a reset, and on some systems (Windows) a reset makes the
/// client discard the message it had not read yet.
///
/// Errors are ignored: the client is being turned away, and there is nothing more to tell it.
pub fn refuse_connection(stream: TcpStream, message: &[u8]) {
    if stream.set_nonblocking(true).is_err() {
        return; // a blocking write could stall the accept loop: close without a word
    }
    let mut drain = [0u8; REFUSE_DRAIN_LEN];
    let _ = (&stream).read(&mut drain);
    let _ = (&stream).write_all(message);
    // The FIN goes after the message, so the client reads the message, then end of stream.
    let _ = stream.shutdown(Shutdown::Write);
}

/// Starts a connection's thread with a [`CONN_STACK_SIZE`] stack.
///
/// # Errors
/// The operating system refused a new thread (out of memory, or a limit on threads such
/// as Linux's `ulimit -u` or `kernel.threads-max`); `f` is dropped, and so is any socket
/// it owned. The accept loop logs this and goes on: the next client may find a thread.
pub fn spawn_connection<F, T>(f: F) -> io::Result<JoinHandle<T>>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    thread::Builder::new().stack_size(CONN_STACK_SIZE).spawn(f)
}

/// How long an accept loop pauses after `accept` failed for lack of resources before it
/// tries again: 100 ms. The pending client stays in the listen queue meanwhile; retrying at
/// once would spin a core on the same error, and a connection closing frees a descriptor
/// within milliseconds.
pub const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// What an accept loop should do after `accept` returned `e`: `Some(wait)` to go on after
/// pausing `wait`, or `None` when the listener itself is unusable and the loop must end.
///
/// - A connection aborted or reset before it was accepted, or an interrupted call, concerns
///   that one client: go on at once (`Some(Duration::ZERO)`).
/// - An invalid listener (`InvalidInput`: not listening) or an unsupported operation will
///   fail the same way forever: `None`.
/// - Anything else, notably running out of file descriptors (`EMFILE`, `ENFILE`: "too many
///   open files"), buffers or memory, passes when connections close: [`ACCEPT_BACKOFF`].
///   With the default limit of [`DEFAULT_MAX_CONNECTIONS`] and a per-process open-file limit
///   of 1,024 (`ulimit -n`), the last few clients wait here instead of being refused: raise
///   the open-file limit or lower the server's `--max-connections`.
pub fn accept_retry_after(e: &io::Error) -> Option<Duration> {
    match e.kind() {
        io::ErrorKind::ConnectionAborted
        | io::ErrorKind::ConnectionReset
        | io::ErrorKind::Interrupted => Some(Duration::ZERO),
        io::ErrorKind::InvalidInput | io::ErrorKind::Unsupported => None,
        _ => Some(ACCEPT_BACKOFF),
    }
}

/// Turns a read timeout of either spelling (`WouldBlock` on Unix, `TimedOut` on Windows:
/// see [`crate::net::is_timeout`]) into [`io::ErrorKind::TimedOut`] saying the connection
/// was idle for `idle` while `what`: `idle for 600s waiting for the next command; closing
/// the connection`. Other errors pass unchanged.
pub fn idle_error(e: io::Error, idle: Duration, what: &str) -> io::Error {
    if crate::net::is_timeout(&e) {
        io::Error::new(
            io::ErrorKind::TimedOut,
            format!("idle for {idle:?} {what}; closing the connection"),
        )
    } else {
        e
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;
    use std::sync::Barrier;

    /// Places are handed out up to the limit, refused beyond it, and freed by dropping.
    #[test]
    fn acquire_up_to_limit_then_refuse_then_release() {
        let limit = ConnLimit::new(2);
        let a = limit.try_acquire().expect("first place");
        let b = limit.try_acquire().expect("second place");
        assert_eq!(limit.active(), 2);
        assert!(
            limit.try_acquire().is_none(),
            "a third place over a limit of 2"
        );
        drop(a);
        assert_eq!(limit.active(), 1);
        let c = limit.try_acquire().expect("the freed place");
        assert_eq!(limit.active(), 2);
        drop((b, c));
        assert_eq!(limit.active(), 0);
        assert_eq!(limit.max(), 2);
    }

    /// Clones share one count: a place taken through one handle is seen by the other.
    #[test]
    fn clones_share_the_count() {
        let limit = ConnLimit::new(1);
        let other = limit.clone();
        let g = other.try_acquire().expect("the only place");
        assert_eq!(limit.active(), 1);
        assert!(limit.try_acquire().is_none());
        drop(g);
        assert!(limit.try_acquire().is_some());
    }

    /// Many threads racing for places never get more than the limit, and all are returned.
    #[test]
    fn concurrent_acquires_never_exceed_the_limit() {
        const THREADS: usize = 16;
        let limit = ConnLimit::new(5);
        let start = Arc::new(Barrier::new(THREADS));
        let handles: Vec<_> = (0..THREADS)
            .map(|_| {
                let (limit, start) = (limit.clone(), Arc::clone(&start));
                thread::spawn(move || {
                    start.wait();
                    let mut got = 0;
                    for _ in 0..1000 {
                        if let Some(g) = limit.try_acquire() {
                            assert!(limit.active() <= 5, "{} over 5", limit.active());
                            got += 1;
                            drop(g);
                        }
                    }
                    got
                })
            })
            .collect();
        let total: usize = handles.into_iter().map(|h| h.join().unwrap()).sum();
        assert!(total > 0);
        assert_eq!(limit.active(), 0);
    }

    /// A guard dropped by a panicking thread still frees its place.
    #[test]
    fn panic_in_connection_thread_frees_the_place() {
        let limit = ConnLimit::new(1);
        let g = limit.try_acquire().unwrap();
        let r = spawn_connection(move || {
            let _g = g;
            panic!("a bug in one connection");
        })
        .unwrap()
        .join();
        assert!(r.is_err());
        assert_eq!(limit.active(), 0);
    }

    /// The reason names the count and the limit, lowercase, no final period.
    #[test]
    fn busy_reason_gives_count_and_limit() {
        let limit = ConnLimit::new(1);
        let _g = limit.try_acquire().unwrap();
        assert_eq!(
            limit.busy_reason(),
            "server busy: 1 connections open, limit 1; try again later"
        );
    }

    /// A zero limit is refused at construction.
    #[test]
    #[should_panic(expected = "connection limit must be at least 1")]
    fn zero_limit_panics() {
        let _ = ConnLimit::new(0);
    }

    /// A refused client reads the whole message and then end of stream, even when it had
    /// sent a greeting the server never read.
    #[test]
    fn refused_client_reads_message_then_eof() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let mut client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        client
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        client.write_all(b"USER ana").unwrap();
        let (stream, _) = listener.accept().unwrap();
        refuse_connection(stream, b"ERROR server busy\n");
        let mut got = Vec::new();
        // Read until end of stream; a reset after the message would also end it, so the
        // message itself is what must be complete.
        let mut buf = [0u8; 64];
        loop {
            match client.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => got.extend_from_slice(&buf[..n]),
                Err(e) if e.kind() == io::ErrorKind::ConnectionReset => break,
                Err(e) => panic!("reading the refusal: {e}"),
            }
        }
        assert_eq!(got, b"ERROR server busy\n");
    }

    /// A connection thread runs with the small stack and returns its value.
    #[test]
    fn spawn_connection_runs_the_closure() {
        let h = spawn_connection(|| 6 * 7).unwrap();
        assert_eq!(h.join().unwrap(), 42);
    }

    /// One client's failure goes on at once, a lack of descriptors after a pause, and a
    /// broken listener ends the loop.
    #[test]
    fn accept_errors_classified() {
        let kind = |k| accept_retry_after(&io::Error::from(k));
        assert_eq!(kind(io::ErrorKind::ConnectionAborted), Some(Duration::ZERO));
        assert_eq!(kind(io::ErrorKind::InvalidInput), None);
        // EMFILE has no ErrorKind of its own; whatever kind it maps to, it is retried.
        let emfile = io::Error::other("too many open files");
        assert_eq!(accept_retry_after(&emfile), Some(ACCEPT_BACKOFF));
        assert_eq!(kind(io::ErrorKind::OutOfMemory), Some(ACCEPT_BACKOFF));
    }

    /// A read timeout becomes `TimedOut` with the idle time; other errors are unchanged.
    #[test]
    fn idle_error_names_the_timeout() {
        let e = idle_error(
            io::Error::from(io::ErrorKind::WouldBlock),
            Duration::from_secs(600),
            "waiting for the next command",
        );
        assert_eq!(e.kind(), io::ErrorKind::TimedOut);
        assert_eq!(
            e.to_string(),
            "idle for 600s waiting for the next command; closing the connection"
        );
        let other = idle_error(
            io::Error::from(io::ErrorKind::ConnectionReset),
            Duration::from_secs(1),
            "x",
        );
        assert_eq!(other.kind(), io::ErrorKind::ConnectionReset);
    }
}
