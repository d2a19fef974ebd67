//! What the echo-chunked client and server share: the 16-byte receive size and the way the
//! handout's Python prints hosts and addresses, so our stdout diffs cleanly against it.

use std::net::{IpAddr, SocketAddr};

/// Bytes asked of each `read`, on both sides: the handout's `recv(16)`. Small on purpose, so
/// the 42-byte message travels back in three pieces (16 + 16 + 10) and the loops show.
pub const RECV_LEN: usize = 16;

/// The host as the handout prints it in `starting up on localhost port 10000` and
/// `connecting to localhost port 10000`.
///
/// The Python programs bind and connect to the *name* `'localhost'` and print that name. Ours
/// default to the number `127.0.0.1` (one address, no IPv4/IPv6 guessing); a loopback
/// address is printed as `localhost`, so the line reads as the handout's. Any other host is
/// printed as given.
pub fn python_host(host: &str) -> String {
    match host.parse::<IpAddr>() {
        Ok(ip) if ip.is_loopback() => "localhost".to_string(),
        _ => host.to_string(),
    }
}

/// An address as Python prints its address tuple: `('127.0.0.1', 52186)`, or for IPv6 the
/// 4-tuple `('::1', 52186, 0, 0)` (host, port, flow info, scope id).
pub fn python_addr(addr: SocketAddr) -> String {
    match addr {
        SocketAddr::V4(a) => format!("('{}', {})", a.ip(), a.port()),
        SocketAddr::V6(a) => format!(
            "('{}', {}, {}, {})",
            a.ip(),
            a.port(),
            a.flowinfo(),
            a.scope_id()
        ),
    }
}

/// A received piece as the handout prints it: `received "age.  It will be"`.
///
/// Python 2 printed the raw bytes. A piece is cut every 16 bytes, so it may end in the middle
/// of a multi-byte UTF-8 character; such bytes are shown as U+FFFD instead of failing.
pub fn received_line(piece: &[u8]) -> String {
    format!("received \"{}\"", String::from_utf8_lossy(piece))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Loopback prints as the handout's `localhost`; other hosts as given.
    #[test]
    fn python_host_names_loopback_localhost() {
        assert_eq!(python_host("127.0.0.1"), "localhost");
        assert_eq!(python_host("::1"), "localhost");
        assert_eq!(python_host("localhost"), "localhost");
        assert_eq!(python_host("0.0.0.0"), "0.0.0.0");
        assert_eq!(python_host("192.168.1.5"), "192.168.1.5");
    }

    /// Addresses print as Python's tuples.
    #[test]
    fn python_addr_matches_python_tuples() {
        let v4: SocketAddr = "127.0.0.1:52186".parse().expect("literal");
        assert_eq!(python_addr(v4), "('127.0.0.1', 52186)");
        let v6: SocketAddr = "[::1]:52186".parse().expect("literal");
        assert_eq!(python_addr(v6), "('::1', 52186, 0, 0)");
    }

    /// A piece cut inside a UTF-8 character is shown, not an error.
    #[test]
    fn received_line_tolerates_cut_characters() {
        assert_eq!(
            received_line(b"This is the mess"),
            "received \"This is the mess\""
        );
        assert_eq!(received_line(&"ñ".as_bytes()[..1]), "received \"\u{fffd}\"");
    }
}
