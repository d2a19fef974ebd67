//! The bytes of a datagram: the 24-byte header every datagram starts with, and the payload
//! rules of each kind. The layout is documented, with examples, in the [module docs](super).
//!
//! Code reads and writes fields only through the offsets in [`field`], the same offsets as
//! the table in the docs.

use std::fmt;
use std::io;

/// First two bytes of every datagram: `b"SK"` (sockcore). A datagram that does not start
/// with them is not ours (a stray packet, another program, garbage) and is dropped.
pub const MAGIC: [u8; 2] = *b"SK";

/// Protocol version carried in byte 2. A peer speaking another version is dropped rather than
/// misread.
pub const VERSION: u8 = 1;

/// Bytes in the header of every datagram.
pub const HEADER_LEN: usize = 24;

/// Largest payload of any datagram, in bytes: chunks up to this size are accepted (the
/// sender's `--chunk` may be anything from 1 to this). It stays below the IPv4 limit for a
/// UDP payload (65,507 bytes) minus our header, so a longer datagram can exist on the wire
/// and is detected as truncated instead of silently cut.
pub const MAX_PAYLOAD_LEN: usize = 65_000;

/// Largest legal datagram: header plus the largest payload. Receive buffers are one byte
/// longer, so a datagram that fills the buffer is known to be too long (truncated).
pub const MAX_DATAGRAM_LEN: usize = HEADER_LEN + MAX_PAYLOAD_LEN;

/// Largest REQUEST, REPLY or ABORT payload, in bytes: one message always fits in one datagram
/// of a size that crosses any network unfragmented (1,400 + 24 + 28 bytes of IP and UDP
/// headers < 1,500, Ethernet's MTU). Longer data goes as a bulk transfer.
pub const MAX_MESSAGE_LEN: usize = 1400;

/// Largest ACK payload (the selective-ack bitmap), in bytes: 8 chunks per byte, so a window
/// of up to 8,192 chunks can be described.
pub const MAX_SACK_LEN: usize = 1024;

/// Bytes of an END payload: the total size (u64) and the CRC-32 (u32) of the data.
pub const END_PAYLOAD_LEN: usize = 12;

/// DATA/END flag: "acknowledge this one at once". The sender sets it when it cannot send
/// more until an ACK arrives, so the receiver need not ack every chunk.
pub const FLAG_ACK_NOW: u16 = 0x0001;

/// The `flags` of a REQUEST carry its copy number (1 for the first transmission, 2 for the
/// first retransmission, ...) and a REPLY echoes the number of the copy it answers, so the
/// client can time that copy even after retransmissions (TCP's timestamp option does the
/// same, RFC 7323 section 4). 0 means "unknown copy": what a peer older than the echo sends,
/// what a REPLY to an upload carries (an upload has no copy number), and what a REQUEST
/// carries from its 65,536th copy on, rather than wrap around and be mistaken for an early
/// one (at one copy per 3 s, after 54 hours of a server saying "working"). The client then
/// falls back to Karn's rule ([`super::rtt`]).
pub const UNKNOWN_COPY: u16 = 0;

/// Byte offsets of the header fields (the table in the module docs).
pub mod field {
    use std::ops::Range;
    /// `b"SK"`.
    pub const MAGIC: Range<usize> = 0..2;
    /// Protocol version, 1.
    pub const VERSION: usize = 2;
    /// Datagram kind ([`super::Kind`]).
    pub const KIND: usize = 3;
    /// Session id, u32 big-endian.
    pub const SESSION: Range<usize> = 4..8;
    /// Exchange number, u32 big-endian.
    pub const EXCHANGE: Range<usize> = 8..12;
    /// Chunk number (DATA, END) or next chunk expected (ACK), u64 big-endian.
    pub const SEQ: Range<usize> = 12..20;
    /// Flags, u16 big-endian.
    pub const FLAGS: Range<usize> = 20..22;
    /// Receive window in chunks (ACK), u16 big-endian.
    pub const WINDOW: Range<usize> = 22..24;
    /// First payload byte.
    pub const PAYLOAD: usize = 24;
}

/// What a datagram is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Kind {
    /// Client to server: a message that expects a REPLY (opens the session when exchange = 1).
    Request = 1,
    /// Server to client: the answer to the REQUEST (or upload) with the same exchange number.
    Reply = 2,
    /// One chunk of a bulk transfer.
    Data = 3,
    /// The end of a bulk transfer: total size and CRC-32.
    End = 4,
    /// Receiver to sender: what has arrived, and how much more may be sent.
    Ack = 5,
    /// Either side: "I give up this session", with the reason as text.
    Abort = 6,
}

impl Kind {
    fn from_u8(b: u8) -> Option<Kind> {
        Some(match b {
            1 => Kind::Request,
            2 => Kind::Reply,
            3 => Kind::Data,
            4 => Kind::End,
            5 => Kind::Ack,
            6 => Kind::Abort,
            _ => return None,
        })
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Kind::Request => "REQUEST",
            Kind::Reply => "REPLY",
            Kind::Data => "DATA",
            Kind::End => "END",
            Kind::Ack => "ACK",
            Kind::Abort => "ABORT",
        })
    }
}

/// The decoded header of a datagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    /// What the datagram is.
    pub kind: Kind,
    /// The client's random session id (never 0).
    pub session: u32,
    /// Which exchange of the session (1, 2, 3, ...).
    pub exchange: u32,
    /// DATA/END: chunk number; ACK: next chunk expected; otherwise 0.
    pub seq: u64,
    /// REQUEST: copy number (1, 2, 3, ...); REPLY: the copy number of the REQUEST it answers,
    /// or [`UNKNOWN_COPY`]; DATA/END: [`FLAG_ACK_NOW`]; otherwise 0.
    pub flags: u16,
    /// ACK: chunks the receiver accepts from `seq` on; otherwise 0.
    pub window: u16,
}

impl Header {
    /// A header of `kind` with the other fields zero except session and exchange.
    pub fn new(kind: Kind, session: u32, exchange: u32) -> Header {
        Header {
            kind,
            session,
            exchange,
            seq: 0,
            flags: 0,
            window: 0,
        }
    }

    /// Writes the header into the first [`HEADER_LEN`] bytes of `buf`.
    ///
    /// # Panics
    /// When `buf` is shorter than [`HEADER_LEN`] (a bug in the caller).
    pub fn write_to(&self, buf: &mut [u8]) {
        buf[field::MAGIC].copy_from_slice(&MAGIC);
        buf[field::VERSION] = VERSION;
        buf[field::KIND] = self.kind as u8;
        buf[field::SESSION].copy_from_slice(&self.session.to_be_bytes());
        buf[field::EXCHANGE].copy_from_slice(&self.exchange.to_be_bytes());
        buf[field::SEQ].copy_from_slice(&self.seq.to_be_bytes());
        buf[field::FLAGS].copy_from_slice(&self.flags.to_be_bytes());
        buf[field::WINDOW].copy_from_slice(&self.window.to_be_bytes());
    }
}

/// Builds a whole datagram: header then payload.
///
/// # Panics
/// When the payload is longer than [`MAX_PAYLOAD_LEN`] (callers check lengths first).
pub fn encode(header: &Header, payload: &[u8]) -> Vec<u8> {
    assert!(
        payload.len() <= MAX_PAYLOAD_LEN,
        "payload of {} bytes exceeds limit {MAX_PAYLOAD_LEN}",
        payload.len()
    );
    let mut d = vec![0u8; HEADER_LEN + payload.len()];
    header.write_to(&mut d);
    d[field::PAYLOAD..].copy_from_slice(payload);
    d
}

/// Sets the flags field of an encoded datagram in place (a retransmitted chunk may ask for an
/// ACK when its first copy did not; each copy of a REQUEST carries its own number, and a
/// cached REPLY echoes the number of the copy it answers).
pub fn set_flags(datagram: &mut [u8], flags: u16) {
    datagram[field::FLAGS].copy_from_slice(&flags.to_be_bytes());
}

fn bad(msg: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg)
}

fn be_u32(d: &[u8], r: std::ops::Range<usize>) -> u32 {
    let mut b = [0u8; 4];
    b.copy_from_slice(&d[r]);
    u32::from_be_bytes(b)
}

fn be_u16(d: &[u8], r: std::ops::Range<usize>) -> u16 {
    let mut b = [0u8; 2];
    b.copy_from_slice(&d[r]);
    u16::from_be_bytes(b)
}

fn be_u64(d: &[u8], r: std::ops::Range<usize>) -> u64 {
    let mut b = [0u8; 8];
    b.copy_from_slice(&d[r]);
    u64::from_be_bytes(b)
}

/// Decodes and checks a received datagram (receive rules 2 to 4 of the module docs); returns
/// the header and the payload.
///
/// # Errors
/// [`io::ErrorKind::InvalidData`] naming the problem: shorter than the header, wrong magic or
/// version, unknown kind, session 0, exchange 0, or a payload length the kind does not allow.
/// Never panics, whatever the bytes.
pub fn decode(d: &[u8]) -> io::Result<(Header, &[u8])> {
    if d.len() < HEADER_LEN {
        return Err(bad(format!(
            "datagram of {} bytes is shorter than the {HEADER_LEN}-byte header",
            d.len()
        )));
    }
    if d.len() > MAX_DATAGRAM_LEN {
        return Err(bad(format!(
            "datagram of {} bytes exceeds limit {MAX_DATAGRAM_LEN}",
            d.len()
        )));
    }
    if d[field::MAGIC] != MAGIC {
        return Err(bad(format!(
            "bad magic {:02x} {:02x} (expected 53 4b, \"SK\")",
            d[0], d[1]
        )));
    }
    if d[field::VERSION] != VERSION {
        return Err(bad(format!(
            "protocol version {} (this program speaks {VERSION})",
            d[field::VERSION]
        )));
    }
    let kind = Kind::from_u8(d[field::KIND])
        .ok_or_else(|| bad(format!("unknown kind {}", d[field::KIND])))?;
    let header = Header {
        kind,
        session: be_u32(d, field::SESSION),
        exchange: be_u32(d, field::EXCHANGE),
        seq: be_u64(d, field::SEQ),
        flags: be_u16(d, field::FLAGS),
        window: be_u16(d, field::WINDOW),
    };
    if header.session == 0 {
        return Err(bad("session id 0 is reserved".to_string()));
    }
    if header.exchange == 0 {
        return Err(bad("exchange number 0 is reserved".to_string()));
    }
    let payload = &d[field::PAYLOAD..];
    let (min, max) = match kind {
        Kind::Request | Kind::Reply | Kind::Abort => (0, MAX_MESSAGE_LEN),
        Kind::Data => (1, MAX_PAYLOAD_LEN),
        Kind::End => (END_PAYLOAD_LEN, END_PAYLOAD_LEN),
        Kind::Ack => (0, MAX_SACK_LEN),
    };
    if payload.len() < min || payload.len() > max {
        return Err(bad(format!(
            "{kind} payload of {} bytes (allowed {min} to {max})",
            payload.len()
        )));
    }
    Ok((header, payload))
}

/// The END payload: total size then CRC-32.
pub fn end_payload(size: u64, crc32: u32) -> [u8; END_PAYLOAD_LEN] {
    let mut p = [0u8; END_PAYLOAD_LEN];
    p[..8].copy_from_slice(&size.to_be_bytes());
    p[8..].copy_from_slice(&crc32.to_be_bytes());
    p
}

/// Reads an END payload (its length was checked by [`decode`]).
pub fn parse_end(payload: &[u8]) -> (u64, u32) {
    (be_u64(payload, 0..8), be_u32(payload, 8..12))
}

/// The example REQUEST of the module docs: session `0x1234abcd`, exchange 1, first copy,
/// text `"hola"`.
pub const EXAMPLE_REQUEST: [u8; 28] = [
    b'S', b'K', 0x01, 0x01, // magic, version 1, kind 1 = REQUEST
    0x12, 0x34, 0xab, 0xcd, // session
    0x00, 0x00, 0x00, 0x01, // exchange 1
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // seq 0
    0x00, 0x01, 0x00, 0x00, // flags: copy 1, window 0
    b'h', b'o', b'l', b'a',
];

/// The example REPLY of the module docs: the answer `"HOLA"` to exchange 1, sent for the
/// second copy of the request (the first was lost), so the client times that copy.
pub const EXAMPLE_REPLY: [u8; 28] = [
    b'S', b'K', 0x01, 0x02, // magic, version 1, kind 2 = REPLY
    0x12, 0x34, 0xab, 0xcd, // session
    0x00, 0x00, 0x00, 0x01, // exchange 1
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // seq 0
    0x00, 0x02, 0x00, 0x00, // flags: answers copy 2, window 0
    b'H', b'O', b'L', b'A',
];

/// The example ACK of the module docs: exchange 2, chunks 0 to 4 received (next expected 5),
/// window 64, and of the chunks after 5, numbers 6 and 8 received (bitmap `0b0000_0101`).
pub const EXAMPLE_ACK: [u8; 25] = [
    b'S', b'K', 0x01, 0x05, // magic, version 1, kind 5 = ACK
    0x12, 0x34, 0xab, 0xcd, // session
    0x00, 0x00, 0x00, 0x02, // exchange 2
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x05, // seq 5: next chunk expected
    0x00, 0x00, 0x00, 0x40, // flags 0, window 64
    0x05, // bit 0: chunk 6, bit 2: chunk 8
];

#[cfg(test)]
mod tests {
    use super::*;

    /// The doc's REQUEST example is exactly what `encode` writes, and decodes back.
    #[test]
    fn encode_request_matches_doc_example() {
        let h = Header {
            flags: 1,
            ..Header::new(Kind::Request, 0x1234_abcd, 1)
        };
        assert_eq!(encode(&h, b"hola"), EXAMPLE_REQUEST);
        let (got, payload) = decode(&EXAMPLE_REQUEST).unwrap();
        assert_eq!(got, h);
        assert_eq!(payload, b"hola");
    }

    /// The doc's REPLY example echoes copy 2 in `flags`, and decodes back.
    #[test]
    fn encode_reply_matches_doc_example() {
        let h = Header {
            flags: 2,
            ..Header::new(Kind::Reply, 0x1234_abcd, 1)
        };
        assert_eq!(encode(&h, b"HOLA"), EXAMPLE_REPLY);
        let (got, payload) = decode(&EXAMPLE_REPLY).unwrap();
        assert_eq!(got, h);
        assert_eq!(payload, b"HOLA");
    }

    /// The doc's ACK example is what `encode` writes for cumulative 5, window 64, chunks 6, 8.
    #[test]
    fn encode_ack_matches_doc_example() {
        let h = Header {
            seq: 5,
            window: 64,
            ..Header::new(Kind::Ack, 0x1234_abcd, 2)
        };
        assert_eq!(encode(&h, &[0b0000_0101]), EXAMPLE_ACK);
        let (got, payload) = decode(&EXAMPLE_ACK).unwrap();
        assert_eq!(got, h);
        assert_eq!(payload, [0x05]);
    }

    /// The END payload is size then CRC-32, big-endian, as Python's `struct.pack("!QI")`.
    #[test]
    fn end_payload_layout() {
        let p = end_payload(3, 0x3524_41c2);
        assert_eq!(p, [0, 0, 0, 0, 0, 0, 0, 3, 0x35, 0x24, 0x41, 0xc2]);
        assert_eq!(parse_end(&p), (3, 0x3524_41c2));
    }

    /// Every prefix of a valid datagram shorter than the header is refused, without panic.
    #[test]
    fn decode_rejects_short_datagrams() {
        for cut in 0..HEADER_LEN {
            let err = decode(&EXAMPLE_REQUEST[..cut]).unwrap_err();
            assert_eq!(err.kind(), io::ErrorKind::InvalidData);
            assert!(err.to_string().contains("shorter than"), "{err}");
        }
    }

    /// Wrong magic, version, kind, reserved ids and bad payload lengths are each refused.
    #[test]
    fn decode_rejects_bad_fields() {
        let cases: &[(usize, u8, &str)] = &[
            (0, b'X', "bad magic"),
            (2, 9, "protocol version 9"),
            (3, 0, "unknown kind 0"),
            (3, 7, "unknown kind 7"),
        ];
        for &(at, value, msg) in cases {
            let mut d = EXAMPLE_REQUEST;
            d[at] = value;
            let err = decode(&d).unwrap_err();
            assert!(err.to_string().contains(msg), "{at}={value}: {err}");
        }
        let zero_session = encode(&Header::new(Kind::Request, 0, 1), b"");
        assert!(decode(&zero_session).is_err());
        let zero_exchange = encode(&Header::new(Kind::Request, 1, 0), b"");
        assert!(decode(&zero_exchange).is_err());
        let short_end = encode(&Header::new(Kind::End, 1, 1), &[0; 11]);
        assert!(decode(&short_end)
            .unwrap_err()
            .to_string()
            .contains("END payload of 11 bytes"));
        let empty_data = encode(&Header::new(Kind::Data, 1, 1), b"");
        assert!(decode(&empty_data).is_err());
        let long_request = encode(
            &Header::new(Kind::Request, 1, 1),
            &[b'x'; MAX_MESSAGE_LEN + 1],
        );
        assert!(decode(&long_request).is_err());
    }

    /// Random bytes never panic the decoder, and (with the magic) are almost always refused.
    #[test]
    fn decode_survives_garbage() {
        // A small xorshift generator: deterministic, no dependency.
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let mut accepted = 0;
        for _ in 0..20_000 {
            let len = (next() % 80) as usize;
            let mut d: Vec<u8> = (0..len).map(|_| next() as u8).collect();
            if len >= 3 && next() % 2 == 0 {
                // Half of them look like ours at first sight, to reach the later checks.
                d[..2].copy_from_slice(&MAGIC);
                d[2] = VERSION;
            }
            if decode(&d).is_ok() {
                accepted += 1;
            }
        }
        // Well-formed by chance: magic+version forced, a valid kind and length. Only those.
        assert!(accepted < 2_000, "{accepted} random datagrams accepted");
    }
}
