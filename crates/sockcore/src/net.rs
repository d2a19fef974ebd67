//! Binding, connecting and timeouts, with errors that tell a student what to do next.
//!
//! Every server prints one readiness line on **stderr** right after binding:
//!
//! ```text
//! listening on 127.0.0.1:5002 (tcp)
//! ```
//!
//! Tests and scripts start servers with `--port 0` (the OS picks a free port) and read the
//! real port from this line, so nobody has to guess a free port or sleep "long enough".

use std::fmt;
use std::io::{self, Read};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream, ToSocketAddrs, UdpSocket};
use std::time::{Duration, Instant};

/// Default host for every client and server: loopback, so nothing leaves the machine unless
/// the student asks for it with `--host`.
pub const DEFAULT_HOST: &str = "127.0.0.1";

/// How long a client waits for a TCP connection to be accepted before giving up.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Default time [`lingering_close`] waits for a client to stop sending: what Apache httpd's
/// lingering close waits per read (`SECONDS_TO_LINGER`). Bytes already in flight on a
/// loopback or LAN arrive within milliseconds; a client that still sends after 2 s is
/// streaming a file it will not stop for us.
pub const LINGER_TIME: Duration = Duration::from_secs(2);

/// Most bytes [`lingering_close`] reads and discards, whatever the time: 16 MiB, more than a
/// blocked client can have in flight (its send buffer and our receive buffer, which Linux
/// grows to 4 and 6 MiB by default), so a client in the middle of one write can finish it
/// and read our reply; not so much that a client streaming a huge file keeps a server
/// thread busy copying it to nowhere.
pub const LINGER_MAX_BYTES: u64 = 16 * 1024 * 1024;

/// Size of the buffer [`lingering_close`] discards into, in bytes: one read takes what a
/// loopback segment burst delivers (64 KiB), without a large allocation per close.
const LINGER_READ_LEN: usize = 64 * 1024;

/// The transport named in the readiness line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// A TCP listener.
    Tcp,
    /// A UDP socket.
    Udp,
}

impl fmt::Display for Transport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Transport::Tcp => "tcp",
            Transport::Udp => "udp",
        })
    }
}

/// The readiness line for `addr`, without a newline: `listening on 127.0.0.1:5002 (tcp)`.
pub fn readiness_line(addr: SocketAddr, transport: Transport) -> String {
    format!("listening on {addr} ({transport})")
}

/// Prints the readiness line on stderr. Call it right after binding, before serving.
pub fn announce(addr: SocketAddr, transport: Transport) {
    eprintln!("{}", readiness_line(addr, transport));
}

/// Resolves `host:port` (a name such as `localhost` may give several addresses).
///
/// # Errors
/// [`io::ErrorKind::InvalidInput`] with the host in the message when it cannot be resolved.
pub fn resolve(host: &str, port: u16) -> io::Result<Vec<SocketAddr>> {
    let addrs: Vec<SocketAddr> = (host, port)
        .to_socket_addrs()
        .map_err(|e| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("cannot resolve host {host:?}: {e}"),
            )
        })?
        .collect();
    if addrs.is_empty() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("host {host:?} has no address"),
        ));
    }
    Ok(addrs)
}

/// Binds a TCP listener on `host:port` (port 0: the OS chooses).
///
/// # Errors
/// The OS error, same kind, with a hint: "address in use" suggests another `--port`.
pub fn bind_tcp(host: &str, port: u16) -> io::Result<TcpListener> {
    let addrs = resolve(host, port)?;
    TcpListener::bind(&addrs[..]).map_err(|e| bind_error(e, host, port, Transport::Tcp))
}

/// Binds a UDP socket on `host:port` (port 0: the OS chooses).
///
/// # Errors
/// As [`bind_tcp`].
pub fn bind_udp(host: &str, port: u16) -> io::Result<UdpSocket> {
    let addrs = resolve(host, port)?;
    UdpSocket::bind(&addrs[..]).map_err(|e| bind_error(e, host, port, Transport::Udp))
}

/// A UDP socket for a client of `server`: bound to an OS-chosen port of the same address
/// family (IPv4 or IPv6) as the server.
///
/// # Errors
/// Any error of `bind`.
pub fn bind_udp_client(server: SocketAddr) -> io::Result<UdpSocket> {
    let local: SocketAddr = if server.is_ipv4() {
        ([0, 0, 0, 0], 0).into()
    } else {
        (std::net::Ipv6Addr::UNSPECIFIED, 0).into()
    };
    UdpSocket::bind(local)
}

fn bind_error(e: io::Error, host: &str, port: u16, t: Transport) -> io::Error {
    let hint = match e.kind() {
        io::ErrorKind::AddrInUse => {
            " (another program, maybe an earlier server, already uses that port: stop it or choose another --port)"
        }
        io::ErrorKind::PermissionDenied => " (ports below 1024 need privileges: choose another --port)",
        io::ErrorKind::AddrNotAvailable => " (that address is not one of this machine's: check --host)",
        _ => "",
    };
    io::Error::new(
        e.kind(),
        format!("cannot listen on {host}:{port} ({t}): {e}{hint}"),
    )
}

/// Connects to a TCP server, trying every address `host` resolves to, and sets `TCP_NODELAY`
/// when `nodelay` is true (request/response dialogues: see [`set_nodelay`]).
///
/// # Errors
/// The last address's error, same kind, with what to check: "connection refused: is the
/// server running on 127.0.0.1:5002?". A connection not accepted within [`CONNECT_TIMEOUT`]
/// is [`io::ErrorKind::TimedOut`].
pub fn connect_tcp(host: &str, port: u16, nodelay: bool) -> io::Result<TcpStream> {
    let mut last = None;
    for addr in resolve(host, port)? {
        match TcpStream::connect_timeout(&addr, CONNECT_TIMEOUT) {
            Ok(stream) => {
                if nodelay {
                    stream.set_nodelay(true)?;
                }
                return Ok(stream);
            }
            Err(e) => last = Some(connect_error(e, addr)),
        }
    }
    // `resolve` returns at least one address, so the loop ran and set `last`.
    Err(last.unwrap_or_else(|| io::Error::other("no address to connect to")))
}

fn connect_error(e: io::Error, addr: SocketAddr) -> io::Error {
    let msg = match e.kind() {
        io::ErrorKind::ConnectionRefused => {
            format!("connection refused: is the server running on {addr}? (start it first, or check --host and --port)")
        }
        io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock => {
            format!(
                "no answer from {addr} within {}s: is the host reachable and the port open?",
                CONNECT_TIMEOUT.as_secs()
            )
        }
        _ => format!("cannot connect to {addr}: {e}"),
    };
    let kind = if e.kind() == io::ErrorKind::WouldBlock {
        io::ErrorKind::TimedOut
    } else {
        e.kind()
    };
    io::Error::new(kind, msg)
}

/// Turns off Nagle's algorithm on `stream`.
///
/// In a request/response dialogue with small messages, Nagle's algorithm (hold a small
/// segment until the previous one is acknowledged) meets the peer's delayed ACK (wait up to
/// ~40 ms hoping to piggyback): each exchange can stall for that long. Bulk transfers do not
/// need this.
///
/// # Errors
/// The OS error of `setsockopt`.
pub fn set_nodelay(stream: &TcpStream) -> io::Result<()> {
    stream.set_nodelay(true)
}

/// Closes a TCP connection after a final reply (an `ERROR ...` sent to a client that may
/// still be sending) so that the client can read that reply; returns how many bytes the
/// client sent meanwhile, read and discarded.
///
/// Why not just drop the stream: closing a socket whose receive buffer still holds unread
/// data makes the kernel abort the connection with a reset (RST) instead of the orderly FIN
/// (RFC 1122, section 4.2.2.13), and so does data arriving after the close. A client still
/// writing its request body then fails with `ConnectionReset` or `BrokenPipe` before it
/// gets to read the reply; on Windows the reset also discards the reply if it sits unread in
/// the client's buffer. Either way the client learns "connection reset", not why.
///
/// So, like Apache httpd's and nginx's lingering close:
/// 1. `shutdown(Write)`: a FIN follows the reply, so a client that reads sees the reply,
///    then end of stream;
/// 2. read and discard what the client still sends, until it closes (end of stream), for
///    at most `linger` ([`LINGER_TIME`] is a good default) and [`LINGER_MAX_BYTES`] bytes;
/// 3. drop the stream. If the client was still sending at the limit, it gets the reset
///    after all: the bounds keep a client from holding the server's thread forever.
///
/// Flush any buffered writer before: the reply must be sent before the FIN. Other clones
/// of the stream (a `try_clone` kept for reading) keep the socket open until they are
/// dropped too, but no more data is read after this returns.
///
/// Errors are not returned: the connection is being closed either way, and a reset or
/// timeout during the drain only means the client is gone or still talking.
pub fn lingering_close(stream: TcpStream, linger: Duration) -> u64 {
    if stream.shutdown(Shutdown::Write).is_err() {
        return 0; // already reset by the client: nothing left to protect
    }
    let deadline = Instant::now() + linger;
    let mut buf = vec![0u8; LINGER_READ_LEN];
    let mut discarded = 0u64;
    while discarded < LINGER_MAX_BYTES {
        let left = deadline.saturating_duration_since(Instant::now());
        // A zero timeout means "block forever" to the OS: check it is not zero.
        if left.is_zero() || stream.set_read_timeout(Some(left)).is_err() {
            break;
        }
        match (&stream).read(&mut buf) {
            Ok(0) => break, // the client closed: every byte it sent was read, no reset
            Ok(n) => discarded += n as u64,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => break, // timed out, or the client reset the connection itself
        }
    }
    discarded
}

/// True when `e` is what a socket read returns after its read timeout expired.
///
/// Unix reports `WouldBlock` (EAGAIN) and Windows `TimedOut` (WSAETIMEDOUT) for the same
/// event; code that matches only one of them hangs or fails on the other OS.
pub fn is_timeout(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    )
}

/// Maps a read-timeout error of either spelling (see [`is_timeout`]) to
/// [`io::ErrorKind::TimedOut`] with `what` in the message; other errors pass unchanged.
pub fn timeout_as_timed_out(e: io::Error, what: &str) -> io::Error {
    if is_timeout(&e) {
        io::Error::new(io::ErrorKind::TimedOut, format!("timed out {what}"))
    } else {
        e
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frame::{recv_text, send_text, MAX_FRAME_LEN};
    use std::io::Write;
    use std::sync::mpsc;
    use std::thread;

    /// Every test wait is bounded by this.
    const WAIT: Duration = Duration::from_secs(10);

    /// The body the client tries to send after its 4-byte header: more than the socket
    /// buffers between the two ends hold while nobody reads (so a closed server resets the
    /// connection before the client is done), less than [`LINGER_MAX_BYTES`].
    const BODY_LEN: usize = 8 * 1024 * 1024;

    /// A server that reads a 4-byte header, answers `ERROR file too big` without reading the
    /// body, and closes with `close`; returns its address and what `close` returned.
    fn refusing_server(
        close: impl FnOnce(TcpStream) -> u64 + Send + 'static,
    ) -> (SocketAddr, mpsc::Receiver<u64>) {
        let listener = bind_tcp("127.0.0.1", 0).unwrap();
        let addr = listener.local_addr().unwrap();
        let (tx, rx) = mpsc::channel();
        thread::spawn(move || {
            let (mut stream, _) = listener.accept().unwrap();
            stream.set_read_timeout(Some(WAIT)).unwrap();
            let mut header = [0u8; 4];
            stream.read_exact(&mut header).unwrap();
            send_text(&mut stream, "ERROR file too big").unwrap();
            let _ = tx.send(close(stream));
        });
        (addr, rx)
    }

    /// Connects, sends the header and up to `body` bytes (stopping at the first error), then
    /// reads the server's reply; returns both outcomes.
    fn upload(addr: SocketAddr, body: usize) -> (io::Result<()>, io::Result<Option<String>>) {
        let mut c = TcpStream::connect_timeout(&addr, WAIT).unwrap();
        c.set_read_timeout(Some(WAIT)).unwrap();
        c.set_write_timeout(Some(WAIT)).unwrap();
        c.write_all(b"SIZE").unwrap();
        let chunk = vec![0x5a; 64 * 1024];
        let mut sent = Ok(());
        for _ in 0..body / chunk.len() {
            if let Err(e) = c.write_all(&chunk) {
                sent = Err(e);
                break;
            }
        }
        let reply = recv_text(&mut c, MAX_FRAME_LEN);
        (sent, reply)
    }

    /// The lost reply: a server that answers ERROR and closes while the client is still
    /// sending resets the connection, and the client's upload fails with a reset instead of
    /// reporting the server's reason.
    #[test]
    fn plain_close_while_client_sends_resets_the_connection() {
        let (addr, _closed) = refusing_server(|stream| {
            drop(stream);
            0
        });
        let (sent, _reply) = upload(addr, BODY_LEN);
        let e = sent.expect_err("the whole body was accepted by a closed server");
        assert!(
            matches!(
                e.kind(),
                io::ErrorKind::ConnectionReset | io::ErrorKind::BrokenPipe
            ),
            "{e:?}"
        );
        // (Linux still hands the reply to a client that reads after the reset; Windows
        // discards it. A client that stops at the failed write, as most do, never sees it.)
    }

    /// With `lingering_close` the same client finishes sending, reads the ERROR reply and
    /// then end of stream; the server read and discarded exactly the body.
    #[test]
    fn lingering_close_lets_the_client_read_the_reply() {
        let (addr, closed) = refusing_server(|stream| lingering_close(stream, WAIT));
        let (sent, reply) = upload(addr, BODY_LEN);
        sent.unwrap();
        assert_eq!(reply.unwrap().as_deref(), Some("ERROR file too big"));
        // The client closes when `upload` returns: the drain ends at that end of stream.
        assert_eq!(closed.recv_timeout(WAIT).unwrap(), BODY_LEN as u64);
    }

    /// A client that never stops sending is cut off after `LINGER_MAX_BYTES`.
    #[test]
    fn lingering_close_is_bounded_in_bytes() {
        let (addr, closed) = refusing_server(|stream| lingering_close(stream, WAIT));
        let (sent, _) = upload(addr, 4 * LINGER_MAX_BYTES as usize);
        assert!(sent.is_err(), "the server read everything");
        let discarded = closed.recv_timeout(WAIT).unwrap();
        assert!(
            (LINGER_MAX_BYTES..LINGER_MAX_BYTES + LINGER_READ_LEN as u64).contains(&discarded),
            "{discarded}"
        );
    }

    /// A client that neither sends nor closes is given up after `linger`.
    #[test]
    fn lingering_close_is_bounded_in_time() {
        let linger = Duration::from_millis(200);
        let (addr, closed) = refusing_server(move |stream| {
            let start = Instant::now();
            let discarded = lingering_close(stream, linger);
            assert!(start.elapsed() >= linger);
            discarded
        });
        let mut c = TcpStream::connect_timeout(&addr, WAIT).unwrap();
        c.set_read_timeout(Some(WAIT)).unwrap();
        c.write_all(b"SIZE").unwrap();
        assert_eq!(
            recv_text(&mut c, MAX_FRAME_LEN).unwrap().as_deref(),
            Some("ERROR file too big")
        );
        assert_eq!(closed.recv_timeout(WAIT).unwrap(), 0);
        // The server's FIN followed the reply: a clean end of stream, no reset.
        assert_eq!(recv_text(&mut c, MAX_FRAME_LEN).unwrap(), None);
    }

    /// The readiness line has the exact shape tests and scripts parse.
    #[test]
    fn readiness_line_shape() {
        let addr: SocketAddr = "127.0.0.1:5002".parse().unwrap();
        assert_eq!(
            readiness_line(addr, Transport::Tcp),
            "listening on 127.0.0.1:5002 (tcp)"
        );
        let v6: SocketAddr = "[::1]:7".parse().unwrap();
        assert_eq!(
            readiness_line(v6, Transport::Udp),
            "listening on [::1]:7 (udp)"
        );
    }

    /// Connecting where nobody listens says "connection refused" and what to check.
    #[test]
    fn connect_refused_names_the_address() {
        // Bind then drop: the port is closed (nobody else binds it within this instant on
        // loopback in practice; if they did, the connect would succeed and we skip the check).
        let port = bind_tcp("127.0.0.1", 0)
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        match connect_tcp("127.0.0.1", port, true) {
            Err(e) => {
                assert_eq!(e.kind(), io::ErrorKind::ConnectionRefused);
                assert_eq!(
                    e.to_string(),
                    format!("connection refused: is the server running on 127.0.0.1:{port}? (start it first, or check --host and --port)")
                );
            }
            Ok(_) => eprintln!("port {port} was taken again; refusal not observable"),
        }
    }

    /// Binding a port that is in use fails with `AddrInUse` and a hint.
    #[test]
    fn bind_in_use_gives_hint() {
        let l = bind_tcp("127.0.0.1", 0).unwrap();
        let port = l.local_addr().unwrap().port();
        let e = bind_tcp("127.0.0.1", port).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::AddrInUse);
        assert!(e.to_string().contains("choose another --port"), "{e}");
    }

    /// A read timeout is recognised whichever kind the OS used.
    #[test]
    fn read_timeout_is_recognised() {
        let s = bind_udp("127.0.0.1", 0).unwrap();
        s.set_read_timeout(Some(Duration::from_millis(20))).unwrap();
        let e = s.recv(&mut [0u8; 8]).unwrap_err();
        assert!(is_timeout(&e), "{e:?}");
        assert_eq!(
            timeout_as_timed_out(e, "waiting").kind(),
            io::ErrorKind::TimedOut
        );
    }
}
