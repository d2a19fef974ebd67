//! Plain UDP datagrams: receive one and know whether it fit the buffer, on every OS.
//!
//! A UDP datagram arrives whole or not at all, but `recv_from` copies only as many bytes as
//! the buffer holds and the kernel *discards the rest*. What the program is told differs by OS:
//!
//! | OS            | `recvfrom(buf)` with a datagram larger than `buf`                       |
//! |---------------|-------------------------------------------------------------------------|
//! | Linux, macOS  | returns `buf.len()` bytes; only the `MSG_TRUNC` flag of `recvmsg` says more were lost |
//! | Windows       | fails with `WSAEMSGSIZE` (10040); `buf` holds the first bytes; std's `recv_from` drops the sender's address |
//!
//! So Python's `s.recvfrom(1024)` silently truncates on Linux and raises `OSError: [WinError
//! 10040]` on Windows. [`recv_datagram`] behaves the same everywhere: it receives into a
//! buffer **one byte larger** than the caller's limit, so a datagram that fills it had more
//! than `limit` bytes and is reported as [`Datagram::truncated`]; on Windows it reads the
//! sender first (`socket2::Socket::peek_sender`) and treats `WSAEMSGSIZE` as "truncated".
//!
//! This is for protocols that send raw bytes in a datagram (the handouts' echo, Python
//! interoperability). Reliable transfers with headers, acks and retries are in `sockcore::udp`.
//!
//! Receiving rules ([`recv_datagram`]):
//! 1. At most `limit` bytes are returned; `truncated` is true when the datagram had more.
//!    The lost bytes are gone: UDP has no "rest of the datagram" to read later.
//! 2. An empty datagram is a datagram (0 bytes), not an end of stream: UDP has no connection
//!    to end.
//! 3. A read timeout is an error of kind `WouldBlock` or `TimedOut` (see
//!    [`crate::net::is_timeout`]).
//! 4. An ICMP "port unreachable" for an earlier datagram *we sent* may surface as an error
//!    of this receive (Windows always, Linux on connected sockets): see [`is_unreachable`].

use std::io;
use std::net::{SocketAddr, UdpSocket};

/// The largest payload of a UDP datagram over IPv4, in bytes: 65,535 (the IP length field)
/// minus 20 (IPv4 header) minus 8 (UDP header). A larger `send_to` fails ("message too long").
pub const MAX_DATAGRAM_LEN: usize = 65_507;

/// One received datagram.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Datagram {
    /// The bytes received: at most the limit given to [`recv_datagram`].
    pub data: Vec<u8>,
    /// Who sent it (as the OS reports it: an IPv4 sender on an IPv6 dual-stack socket
    /// appears as `::ffff:a.b.c.d`).
    pub from: SocketAddr,
    /// True when the datagram was larger than the limit and its end was discarded.
    pub truncated: bool,
}

/// Receives one datagram of at most `limit` bytes, saying whether it was truncated.
///
/// Blocks until a datagram arrives or the socket's read timeout expires. Use one reader per
/// socket: on Windows the sender is read just before the datagram itself.
///
/// ```no_run
/// let sock = std::net::UdpSocket::bind("127.0.0.1:3500")?;
/// let d = sockcore::datagram::recv_datagram(&sock, 1024)?;
/// if d.truncated {
///     eprintln!("datagram from {} truncated to {} bytes", d.from, d.data.len());
/// }
/// # Ok::<(), std::io::Error>(())
/// ```
///
/// # Errors
/// The socket's error: `WouldBlock`/`TimedOut` after a read timeout, `ConnectionReset` or
/// `ConnectionRefused` for an ICMP report (see [`is_unreachable`]), `Interrupted` by a
/// signal.
pub fn recv_datagram(sock: &UdpSocket, limit: usize) -> io::Result<Datagram> {
    // One spare byte: a datagram that fills it had more than `limit` bytes.
    let mut buf = vec![0u8; limit.saturating_add(1)];
    let (n, from, os_truncated) = recv_from(sock, &mut buf)?;
    let truncated = os_truncated || n > limit;
    buf.truncate(n.min(limit));
    Ok(Datagram {
        data: buf,
        from,
        truncated,
    })
}

/// `recv_from` that reports a datagram larger than `buf` instead of failing (Windows).
#[cfg(not(windows))]
fn recv_from(sock: &UdpSocket, buf: &mut [u8]) -> io::Result<(usize, SocketAddr, bool)> {
    // Linux and macOS fill `buf` and return its length; `recv_datagram`'s spare byte tells.
    let (n, from) = sock.recv_from(buf)?;
    Ok((n, from, false))
}

/// `recv_from` that reports a datagram larger than `buf` instead of failing (Windows).
#[cfg(windows)]
fn recv_from(sock: &UdpSocket, buf: &mut [u8]) -> io::Result<(usize, SocketAddr, bool)> {
    /// Winsock's "message too long": the datagram was larger than the buffer.
    const WSAEMSGSIZE: i32 = 10040;
    // std's recv_from returns no address with the WSAEMSGSIZE error, so ask for the sender
    // of the datagram at the head of the queue first (socket2 suppresses the error there).
    let sender = socket2::SockRef::from(sock).peek_sender()?;
    let from = sender.as_socket().ok_or_else(|| {
        io::Error::new(io::ErrorKind::InvalidData, "datagram from a non-IP address")
    })?;
    match sock.recv_from(buf) {
        Ok((n, from)) => Ok((n, from, false)),
        Err(e) if e.raw_os_error() == Some(WSAEMSGSIZE) => Ok((buf.len(), from, true)),
        Err(e) => Err(e),
    }
}

/// True when `e` is the OS relaying an ICMP "port unreachable" for a datagram sent earlier
/// from this socket: nothing listens at the address it went to.
///
/// Windows reports it on the next receive of *any* UDP socket as `ConnectionReset`
/// (WSAECONNRESET); Linux and macOS report it as `ConnectionRefused`, but only on a
/// connected socket. A server must not stop for it: it concerns one vanished client, not the
/// server's own socket.
pub fn is_unreachable(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionReset | io::ErrorKind::ConnectionRefused
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    /// A receiving socket and a sending socket on loopback, with a read timeout.
    fn pair() -> (UdpSocket, UdpSocket) {
        let rx = UdpSocket::bind("127.0.0.1:0").unwrap();
        rx.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let tx = UdpSocket::bind("127.0.0.1:0").unwrap();
        tx.connect(rx.local_addr().unwrap()).unwrap();
        (rx, tx)
    }

    /// Datagrams shorter than, equal to and one byte over the limit, and much larger.
    #[test]
    fn recv_datagram_reports_truncation_at_the_limit() {
        let (rx, tx) = pair();
        let msg = b"TyR: Echo sobre UDP"; // 19 bytes
        for (limit, data, truncated) in [
            (1024, &msg[..], false),
            (19, &msg[..], false),
            (18, &msg[..18], true),
            (8, &msg[..8], true),
            (0, &msg[..0], true),
        ] {
            tx.send(msg).unwrap();
            let d = recv_datagram(&rx, limit).unwrap();
            assert_eq!(d.data, data, "limit {limit}");
            assert_eq!(d.truncated, truncated, "limit {limit}");
            assert_eq!(d.from, tx.local_addr().unwrap());
        }
    }

    /// A datagram far larger than the buffer is truncated, and the next one is intact.
    #[test]
    fn recv_datagram_discards_the_rest_of_a_large_datagram() {
        let (rx, tx) = pair();
        tx.send(&[7u8; 5000]).unwrap();
        tx.send(b"next").unwrap();
        let d = recv_datagram(&rx, 1024).unwrap();
        assert_eq!((d.data.len(), d.truncated), (1024, true));
        let d = recv_datagram(&rx, 1024).unwrap();
        assert_eq!((d.data, d.truncated), (b"next".to_vec(), false));
    }

    /// An empty datagram is received as zero bytes, not truncated.
    #[test]
    fn recv_datagram_empty_datagram() {
        let (rx, tx) = pair();
        tx.send(b"").unwrap();
        let d = recv_datagram(&rx, 16).unwrap();
        assert_eq!((d.data.len(), d.truncated), (0, false));
    }

    /// A read timeout is an error recognised by `net::is_timeout`.
    #[test]
    fn recv_datagram_times_out() {
        let (rx, _tx) = pair();
        rx.set_read_timeout(Some(Duration::from_millis(20)))
            .unwrap();
        let e = recv_datagram(&rx, 16).unwrap_err();
        assert!(crate::net::is_timeout(&e), "{e:?}");
        assert!(!is_unreachable(&e));
    }

    /// Sending to a port where nothing listens is reported as unreachable on a connected
    /// socket (Linux, macOS) or on any socket (Windows).
    #[test]
    fn unreachable_port_is_recognised() {
        let closed = UdpSocket::bind("127.0.0.1:0").unwrap();
        let addr = closed.local_addr().unwrap();
        drop(closed);
        let s = UdpSocket::bind("127.0.0.1:0").unwrap();
        s.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
        s.connect(addr).unwrap();
        s.send(b"x").unwrap();
        match s.recv(&mut [0u8; 4]) {
            Err(e) if is_unreachable(&e) => {}
            // Some sandboxes drop ICMP; then only a timeout is observable.
            Err(e) if crate::net::is_timeout(&e) => eprintln!("no ICMP report here: {e}"),
            other => panic!("unexpected {other:?}"),
        }
    }
}
