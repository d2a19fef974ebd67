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
use std::io;
use std::net::{SocketAddr, TcpListener, TcpStream, ToSocketAddrs, UdpSocket};
use std::time::Duration;

/// Default host for every client and server: loopback, so nothing leaves the machine unless
/// the student asks for it with `--host`.
pub const DEFAULT_HOST: &str = "127.0.0.1";

/// How long a client waits for a TCP connection to be accepted before giving up.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

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
