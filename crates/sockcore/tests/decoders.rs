//! Property tests of every sockcore decoder: arbitrary bytes, and mutations of the documented
//! hex examples, never make a decoder panic, and a length above the stated limit is refused
//! from the header alone, before a buffer of that length could be allocated.
//!
//! "Before allocation" is checked with [`HeaderOnly`], a reader that fails the test when
//! asked for a single byte past the header: the decoders allocate a payload buffer only to
//! read into it, so a decoder that trusted the length would ask for the payload. (A counting
//! global allocator would need `unsafe`, which the workspace forbids.)
//!
//! Each property runs [`CASES`] generated cases (proptest shrinks a failure to a minimal
//! input and prints it). The loopback ones (`unframed`, `datagram`) run [`NET_CASES`].

use proptest::prelude::*;
use proptest::test_runner::Config;
use sockcore::frame::{self, recv_file, recv_frame, recv_text, send_file, HEADER_LEN};
use sockcore::lines::{LineError, LineReader, CR, LF};
use sockcore::udp::wire::{self, decode, encode, Kind};
use std::io::{self, Cursor, Read, Write};

/// Generated inputs per in-memory property.
const CASES: u32 = 512;

/// Generated inputs per property that needs a loopback socket per case.
const NET_CASES: u32 = 64;

fn config(cases: u32) -> Config {
    Config {
        cases,
        // No proptest-regressions files in the source tree: the failing input is printed.
        failure_persistence: None,
        ..Config::default()
    }
}

/// A reader over `data` that fails the test if it is asked for anything past the first
/// `limit` bytes: a decoder that reads a payload after an over-limit header has allocated it.
struct HeaderOnly {
    data: Vec<u8>,
    pos: usize,
    limit: usize,
}

impl Read for HeaderOnly {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        assert!(
            self.pos + buf.len() <= self.limit,
            "asked for bytes {}..{} past the {}-byte header: the length was trusted",
            self.pos,
            self.pos + buf.len(),
            self.limit
        );
        let n = buf.len().min(self.data.len() - self.pos);
        buf[..n].copy_from_slice(&self.data[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

/// A reader that hands out at most `step` bytes per `read`, as TCP may.
struct Trickle {
    data: Vec<u8>,
    pos: usize,
    step: usize,
}

impl Read for Trickle {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.step.min(buf.len()).min(self.data.len() - self.pos);
        buf[..n].copy_from_slice(&self.data[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

/// One edit of a byte string.
#[derive(Debug, Clone)]
enum Edit {
    /// Replace the byte at (index modulo length).
    Set(usize, u8),
    /// Flip one bit of the byte at (index modulo length).
    Flip(usize, u8),
    /// Cut the bytes from (index modulo length + 1) on.
    Truncate(usize),
    /// Insert bytes at (index modulo length + 1).
    Insert(usize, Vec<u8>),
}

/// `base` with 1 to 4 random edits applied: the documented examples, slightly wrong.
fn mutated(base: &'static [u8]) -> impl Strategy<Value = Vec<u8>> {
    let edit = prop_oneof![
        (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Edit::Set(i, b)),
        (any::<usize>(), 0u8..8).prop_map(|(i, b)| Edit::Flip(i, b)),
        any::<usize>().prop_map(Edit::Truncate),
        (any::<usize>(), prop::collection::vec(any::<u8>(), 1..16))
            .prop_map(|(i, v)| Edit::Insert(i, v)),
    ];
    prop::collection::vec(edit, 1..=4).prop_map(move |edits| {
        let mut d = base.to_vec();
        for e in edits {
            match e {
                Edit::Set(i, b) if !d.is_empty() => {
                    let at = i % d.len();
                    d[at] = b;
                }
                Edit::Flip(i, bit) if !d.is_empty() => {
                    let at = i % d.len();
                    d[at] ^= 1 << bit;
                }
                Edit::Truncate(i) => d.truncate(i % (d.len() + 1)),
                Edit::Insert(i, v) => {
                    let at = i % (d.len() + 1);
                    d.splice(at..at, v);
                }
                _ => {}
            }
        }
        d
    })
}

/// What `recv_frame` must return for a stream, frame by frame, computed independently:
/// payloads, then the outcome that ends the stream (`None` clean, or the error kind).
fn frames_model(data: &[u8], max: usize) -> (Vec<Vec<u8>>, Option<io::ErrorKind>) {
    let mut out = Vec::new();
    let mut rest = data;
    loop {
        if rest.is_empty() {
            return (out, None);
        }
        if rest.len() < HEADER_LEN {
            return (out, Some(io::ErrorKind::UnexpectedEof));
        }
        let len = u32::from_be_bytes([rest[0], rest[1], rest[2], rest[3]]) as usize;
        if len > max {
            return (out, Some(io::ErrorKind::InvalidData));
        }
        if rest.len() < HEADER_LEN + len {
            return (out, Some(io::ErrorKind::UnexpectedEof));
        }
        out.push(rest[HEADER_LEN..HEADER_LEN + len].to_vec());
        rest = &rest[HEADER_LEN + len..];
    }
}

/// Reads frames from `data` until the stream ends or fails; checks them against the model.
fn check_frames(data: &[u8], max: usize, step: usize) -> Result<(), TestCaseError> {
    let (want, end) = frames_model(data, max);
    let mut r = Trickle {
        data: data.to_vec(),
        pos: 0,
        step,
    };
    let mut got = Vec::new();
    // Each frame takes at least HEADER_LEN bytes: the loop is bounded by the input.
    for _ in 0..=data.len() / HEADER_LEN + 1 {
        match recv_frame(&mut r, max) {
            Ok(Some(p)) => {
                prop_assert!(p.len() <= max, "payload of {} over limit {max}", p.len());
                got.push(p);
            }
            Ok(None) => {
                prop_assert_eq!(&got, &want);
                prop_assert_eq!(end, None);
                return Ok(());
            }
            Err(e) => {
                prop_assert_eq!(&got, &want);
                prop_assert_eq!(Some(e.kind()), end, "{}", e);
                return Ok(());
            }
        }
    }
    Err(TestCaseError::fail(
        "recv_frame did not reach the end of a finite stream",
    ))
}

proptest! {
    #![proptest_config(config(CASES))]

    /// Arbitrary bytes, read in arbitrary pieces, give exactly the frames a reference parser
    /// finds, then a clean close or the right error; never a panic.
    #[test]
    fn recv_frame_matches_model_on_arbitrary_bytes(
        data in prop::collection::vec(any::<u8>(), 0..300),
        max in 0usize..64,
        step in 1usize..9,
    ) {
        check_frames(&data, max, step)?;
    }

    /// Streams of well-formed frames with random lengths (some over the limit) and cuts.
    #[test]
    fn recv_frame_matches_model_on_framed_streams(
        payloads in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..40), 0..6),
        cut in any::<prop::sample::Index>(),
        max in 0usize..48,
        step in 1usize..9,
    ) {
        let mut wire = Vec::new();
        for p in &payloads {
            frame::send_frame(&mut wire, p).expect("writing to a Vec");
        }
        let cut = cut.index(wire.len() + 1);
        check_frames(&wire[..cut], max, step)?;
    }

    /// Mutations of the documented example frame decode as the model says.
    #[test]
    fn recv_frame_survives_mutated_doc_example(
        data in mutated(&frame::EXAMPLE_FRAME),
        step in 1usize..9,
    ) {
        check_frames(&data, frame::MAX_FRAME_LEN, step)?;
    }

    /// Any length above the limit is `InvalidData` naming both numbers, and nothing past the
    /// 4-byte header is read (so nothing of that length was allocated).
    #[test]
    fn recv_frame_refuses_length_over_limit_from_header_alone(
        max in 0usize..=frame::MAX_FRAME_LEN,
        extra in 1u64..=u64::from(u32::MAX),
    ) {
        let len = (max as u64 + extra).min(u64::from(u32::MAX));
        prop_assume!(len > max as u64);
        let mut data = (len as u32).to_be_bytes().to_vec();
        data.extend_from_slice(&[0xAA; 64]);
        let mut r = HeaderOnly { data, pos: 0, limit: HEADER_LEN };
        let err = recv_frame(&mut r, max).expect_err("over-limit length accepted");
        prop_assert_eq!(err.kind(), io::ErrorKind::InvalidData);
        prop_assert_eq!(err.to_string(), format!("frame length {len} exceeds limit {max}"));
        prop_assert_eq!(r.pos, HEADER_LEN);
    }

    /// A text frame is accepted exactly when its payload is UTF-8, and then unchanged.
    #[test]
    fn recv_text_accepts_exactly_utf8(
        payload in prop_oneof![
            prop::collection::vec(any::<u8>(), 0..40),
            ".{0,20}".prop_map(String::into_bytes),
        ],
    ) {
        let mut wire = Vec::new();
        frame::send_frame(&mut wire, &payload).expect("writing to a Vec");
        let got = recv_text(&mut Cursor::new(wire), frame::MAX_FRAME_LEN);
        match std::str::from_utf8(&payload) {
            Ok(text) => prop_assert_eq!(got.expect("valid UTF-8 refused"), Some(text.to_string())),
            Err(_) => prop_assert_eq!(
                got.expect_err("invalid UTF-8 accepted").kind(),
                io::ErrorKind::InvalidData
            ),
        }
    }

    /// Arbitrary bytes and mutations of the example body never panic `recv_file`; whatever it
    /// accepts is exactly the announced bytes, within the limit, with the right CRC-32.
    #[test]
    fn recv_file_never_panics_and_accepts_only_whole_bodies(
        data in prop_oneof![
            prop::collection::vec(any::<u8>(), 0..64),
            mutated(&frame::EXAMPLE_BODY),
        ],
        max in 0u64..32,
        step in 1usize..9,
    ) {
        let mut r = Trickle { data: data.clone(), pos: 0, step };
        let mut dst = Vec::new();
        let mut started = None;
        let result = recv_file(&mut r, &mut dst, max, |n| { started = Some(n); Ok(()) }, |_| {});
        if let Ok(summary) = result {
            prop_assert!(summary.size <= max);
            prop_assert_eq!(started, Some(summary.size));
            let size = summary.size as usize;
            prop_assert_eq!(&dst[..], &data[8..8 + size]);
            prop_assert_eq!(summary.crc32, crc32fast::hash(&dst));
            let trailer = &data[8 + size..12 + size];
            prop_assert_eq!(u32::from_be_bytes(trailer.try_into().expect("4 bytes")), summary.crc32);
        } else if data.len() >= 8 {
            let size = u64::from_be_bytes(data[..8].try_into().expect("8 bytes"));
            if size > max {
                prop_assert!(dst.is_empty(), "bytes written for an over-limit body");
                prop_assert_eq!(started, None);
            }
        }
    }

    /// A body size above the limit is refused from its 8-byte header: no byte after it is
    /// read, `on_start` does not run, nothing is written.
    #[test]
    fn recv_file_refuses_size_over_limit_from_header_alone(
        max in any::<u64>().prop_map(|m| m / 2),
        extra in 1u64..=u64::MAX / 2,
    ) {
        let size = max + extra;
        let mut data = size.to_be_bytes().to_vec();
        data.extend_from_slice(&[0x55; 64]);
        let mut r = HeaderOnly { data, pos: 0, limit: frame::BODY_HEADER_LEN };
        let mut dst = Vec::new();
        let err = recv_file(&mut r, &mut dst, max, |_| panic!("on_start ran"), |_| {})
            .expect_err("over-limit size accepted");
        prop_assert_eq!(err.kind(), io::ErrorKind::InvalidData);
        prop_assert_eq!(err.to_string(), format!("file size {size} exceeds limit {max}"));
        prop_assert!(dst.is_empty());
    }

    /// Whatever `send_file` writes, `recv_file` reads back identical through any read sizes.
    #[test]
    fn send_file_and_recv_file_round_trip(
        body in prop::collection::vec(any::<u8>(), 0..2000),
        step in 1usize..600,
    ) {
        let mut wire = Vec::new();
        let sent = send_file(&mut wire, &mut &body[..], body.len() as u64, |_| {})
            .expect("writing to a Vec");
        let mut r = Trickle { data: wire, pos: 0, step };
        let mut got = Vec::new();
        let recv = recv_file(&mut r, &mut got, body.len() as u64, |_| Ok(()), |_| {})
            .expect("a well-formed body");
        prop_assert_eq!(sent, recv);
        prop_assert_eq!(got, body);
    }
}

/// The datagram size limits of each kind, as the module docs state them.
fn payload_limits(kind: Kind) -> (usize, usize) {
    match kind {
        Kind::Request | Kind::Reply | Kind::Abort => (0, wire::MAX_MESSAGE_LEN),
        Kind::Data => (1, wire::MAX_PAYLOAD_LEN),
        Kind::End => (wire::END_PAYLOAD_LEN, wire::END_PAYLOAD_LEN),
        Kind::Ack => (0, wire::MAX_SACK_LEN),
    }
}

/// `decode` never panics, and what it accepts is well-formed: it re-encodes to the same bytes,
/// with a payload length the kind allows and non-zero ids.
fn check_decode(d: &[u8]) -> Result<(), TestCaseError> {
    match decode(d) {
        Ok((h, payload)) => {
            let (min, max) = payload_limits(h.kind);
            prop_assert!((min..=max).contains(&payload.len()));
            prop_assert!(h.session != 0 && h.exchange != 0);
            prop_assert_eq!(encode(&h, payload), d.to_vec());
            if h.kind == Kind::End {
                let (size, crc) = wire::parse_end(payload);
                prop_assert_eq!(&wire::end_payload(size, crc)[..], payload);
            }
        }
        Err(e) => prop_assert_eq!(e.kind(), io::ErrorKind::InvalidData),
    }
    Ok(())
}

/// Bytes that look like ours at first sight (magic, version, a valid kind), then anything.
fn plausible_datagram() -> impl Strategy<Value = Vec<u8>> {
    (1u8..=6, prop::collection::vec(any::<u8>(), 20..60)).prop_map(|(kind, rest)| {
        let mut d = vec![b'S', b'K', wire::VERSION, kind];
        d.extend(rest);
        d
    })
}

proptest! {
    #![proptest_config(config(CASES))]

    /// Arbitrary bytes, and bytes with a plausible header, never panic `wire::decode`.
    #[test]
    fn wire_decode_never_panics_on_arbitrary_bytes(
        d in prop_oneof![prop::collection::vec(any::<u8>(), 0..80), plausible_datagram()],
    ) {
        check_decode(&d)?;
    }

    /// Mutations of the documented REQUEST and ACK examples (and the channel's DATA and ACK)
    /// are decoded or refused, never a panic; what is accepted re-encodes identically.
    #[test]
    fn wire_decode_survives_mutated_doc_examples(
        d in prop_oneof![
            mutated(&wire::EXAMPLE_REQUEST),
            mutated(&wire::EXAMPLE_ACK),
            mutated(&sockcore::udp_channel::EXAMPLE_DATA),
            mutated(&sockcore::udp_channel::EXAMPLE_ACK),
        ],
    ) {
        check_decode(&d)?;
    }

    /// A well-formed header with a payload of any length is accepted exactly when the
    /// length is within the kind's limits, up to and beyond the largest datagram.
    #[test]
    fn wire_decode_checks_payload_length_per_kind(
        kind in prop::sample::select(vec![
            Kind::Request, Kind::Reply, Kind::Data, Kind::End, Kind::Ack, Kind::Abort,
        ]),
        len in prop_oneof![
            0usize..32,
            wire::MAX_MESSAGE_LEN - 2..wire::MAX_MESSAGE_LEN + 3,
            wire::MAX_SACK_LEN - 2..wire::MAX_SACK_LEN + 3,
            wire::MAX_PAYLOAD_LEN - 2..wire::MAX_PAYLOAD_LEN + 40,
        ],
    ) {
        let header = wire::Header::new(kind, 7, 1);
        let mut d = vec![0u8; wire::HEADER_LEN + len];
        header.write_to(&mut d);
        let (min, max) = payload_limits(kind);
        let got = decode(&d);
        prop_assert_eq!(got.is_ok(), (min..=max).contains(&len), "{} with {} bytes", kind, len);
        if d.len() > wire::MAX_DATAGRAM_LEN {
            prop_assert!(got.expect_err("accepted").to_string().contains("exceeds limit"));
        }
    }
}

/// One outcome of `recv_line`, comparable with the model.
#[derive(Debug, Clone, PartialEq, Eq)]
enum LineOutcome {
    Line(String),
    TooLong,
    NotUtf8,
    Eof,
}

/// What `LineReader::recv_line` must return for `data`, from the module docs' rules,
/// computed independently: one outcome per line, then `Eof` for a stream cut mid-line.
fn lines_model(data: &[u8], max: usize) -> Vec<LineOutcome> {
    let mut out = Vec::new();
    let mut rest = data;
    while let Some(at) = rest.iter().position(|&b| b == LF) {
        let mut line = &rest[..at];
        if line.last() == Some(&CR) {
            line = &line[..line.len() - 1];
        }
        out.push(if line.len() > max {
            LineOutcome::TooLong
        } else {
            match std::str::from_utf8(line) {
                Ok(s) => LineOutcome::Line(s.to_string()),
                Err(_) => LineOutcome::NotUtf8,
            }
        });
        rest = &rest[at + 1..];
    }
    // A last line without LF: longer than `max` plus a possible CR is refused as too long
    // (and then the stream ends cleanly); otherwise the peer left mid-line.
    if rest.len() > max + 1 {
        out.push(LineOutcome::TooLong);
    } else if !rest.is_empty() {
        out.push(LineOutcome::Eof);
    }
    out
}

/// Bytes rich in LF and CR, so lines are short and many.
fn line_bytes() -> impl Strategy<Value = Vec<u8>> {
    let byte = prop_oneof![
        3 => any::<u8>(),
        2 => Just(LF),
        1 => Just(CR),
        3 => b'a'..=b'z',
    ];
    prop::collection::vec(byte, 0..300)
}

proptest! {
    #![proptest_config(config(CASES))]

    /// Arbitrary bytes in arbitrary pieces give, line by line, what the documented rules
    /// say: each line within the limit, an overlong or non-UTF-8 line refused once and the
    /// next line read, a cut line `UnexpectedEof`; never a panic.
    #[test]
    fn recv_line_matches_model(
        data in prop_oneof![line_bytes(), mutated(&sockcore::lines::EXAMPLE_LINE)],
        max in 0usize..24,
        step in 1usize..40,
    ) {
        let want = lines_model(&data, max);
        let mut r = LineReader::new(Trickle { data: data.clone(), pos: 0, step }, max);
        let mut got = Vec::new();
        // At most one outcome per input byte, plus the end.
        for _ in 0..=data.len() + 1 {
            match r.recv_line() {
                Ok(Some(line)) => {
                    prop_assert!(line.len() <= max);
                    prop_assert!(!line.contains('\n'));
                    got.push(LineOutcome::Line(line));
                }
                Ok(None) => break,
                Err(e) => match (e.kind(), LineError::of(&e)) {
                    (io::ErrorKind::InvalidData, Some(LineError::TooLong { max: m })) => {
                        prop_assert_eq!(m, max);
                        got.push(LineOutcome::TooLong);
                    }
                    (io::ErrorKind::InvalidData, Some(LineError::NotUtf8 { .. })) => {
                        got.push(LineOutcome::NotUtf8);
                    }
                    (io::ErrorKind::UnexpectedEof, None) => {
                        got.push(LineOutcome::Eof);
                        break;
                    }
                    other => return Err(TestCaseError::fail(format!("unexpected {other:?}: {e}"))),
                },
            }
        }
        prop_assert_eq!(got, want);
    }
}

mod loopback {
    //! The decoders that read a real socket: `unframed` (a `TcpStream`) and `datagram` (a
    //! `UdpSocket`), on 127.0.0.1, one connection or datagram per case.

    use super::*;
    use sockcore::datagram::recv_datagram;
    use sockcore::unframed::{one_of, UnframedReader};
    use std::net::{Shutdown, TcpListener, TcpStream, UdpSocket};
    use std::time::Duration;

    /// Read timeout of every test socket: a bug fails the case instead of hanging it.
    const TIMEOUT: Duration = Duration::from_secs(10);

    /// The commands of the handouts' time server, as `unframed`'s examples use them.
    const COMMANDS: &[&str] = &["TIME", "EXIT", "TI"];

    /// A connected pair on loopback: (our side, the peer's side).
    fn tcp_pair(l: &TcpListener) -> (TcpStream, TcpStream) {
        let peer = TcpStream::connect(l.local_addr().expect("listener address"))
            .expect("connecting on loopback");
        let (ours, _) = l.accept().expect("accepting on loopback");
        ours.set_read_timeout(Some(TIMEOUT)).expect("read timeout");
        (ours, peer)
    }

    proptest! {
        #![proptest_config(config(NET_CASES))]

        /// Arbitrary bytes (many of them commands glued together) from a peer that then
        /// closes give only known commands, in order, then a clean close or an error; no
        /// message is longer than the reader's limit, and it never panics.
        #[test]
        fn unframed_one_of_gives_only_known_messages(
            pieces in prop::collection::vec(prop_oneof![
                prop::sample::select(COMMANDS.to_vec()).prop_map(|c| c.as_bytes().to_vec()),
                prop::collection::vec(any::<u8>(), 1..6),
            ], 0..12),
            max in 1usize..40,
        ) {
            let data: Vec<u8> = pieces.concat();
            let l = TcpListener::bind("127.0.0.1:0").expect("binding on loopback");
            let (ours, mut peer) = tcp_pair(&l);
            peer.write_all(&data).expect("writing on loopback");
            peer.shutdown(Shutdown::Write).expect("shutdown");
            let mut r = UnframedReader::new(ours, max).quiet(Duration::from_millis(50));
            let judge = one_of(COMMANDS);
            let mut taken = 0;
            for _ in 0..=data.len() {
                match r.recv(&judge) {
                    Ok(Some(m)) => {
                        prop_assert!(COMMANDS.iter().any(|c| c.as_bytes() == m.as_slice()));
                        prop_assert!(m.len() <= max, "{} bytes over a limit of {}", m.len(), max);
                        prop_assert_eq!(&data[taken..taken + m.len()], m.as_slice());
                        taken += m.len();
                    }
                    Ok(None) => {
                        prop_assert_eq!(taken, data.len());
                        return Ok(());
                    }
                    Err(e) => {
                        prop_assert!(matches!(
                            e.kind(),
                            io::ErrorKind::InvalidData | io::ErrorKind::UnexpectedEof
                        ), "{}", e);
                        return Ok(());
                    }
                }
            }
            prop_assert!(false, "recv did not end");
        }

        /// A datagram of any size is returned cut to the limit, with `truncated` set exactly
        /// when it was longer; an empty datagram is a datagram.
        #[test]
        fn recv_datagram_reports_truncation_exactly(
            data in prop::collection::vec(any::<u8>(), 0..3000),
            limit in 0usize..2000,
        ) {
            let rx = UdpSocket::bind("127.0.0.1:0").expect("binding on loopback");
            rx.set_read_timeout(Some(TIMEOUT)).expect("read timeout");
            let tx = UdpSocket::bind("127.0.0.1:0").expect("binding on loopback");
            tx.send_to(&data, rx.local_addr().expect("address")).expect("sending on loopback");
            let d = recv_datagram(&rx, limit).expect("a datagram");
            prop_assert_eq!(d.from, tx.local_addr().expect("address"));
            prop_assert_eq!(d.truncated, data.len() > limit);
            prop_assert_eq!(&d.data[..], &data[..data.len().min(limit)]);
        }
    }
}

/// The brief's case: a frame header claiming 4 GiB is refused with `InvalidData`, having
/// asked the reader for nothing past the header.
#[test]
fn recv_frame_refuses_4_gib_header_without_reading_payload() {
    let mut r = HeaderOnly {
        data: vec![0xff, 0xff, 0xff, 0xff, 1, 2, 3],
        pos: 0,
        limit: HEADER_LEN,
    };
    let err = recv_frame(&mut r, frame::MAX_FRAME_LEN).expect_err("4 GiB accepted");
    assert_eq!(err.kind(), io::ErrorKind::InvalidData);
    assert_eq!(
        err.to_string(),
        "frame length 4294967295 exceeds limit 65536"
    );
}

/// A file body claiming 2^64-1 bytes against a 64 GiB limit is refused from its header.
#[test]
fn recv_file_refuses_huge_size_without_reading_payload() {
    let mut r = HeaderOnly {
        data: vec![0xff; 20],
        pos: 0,
        limit: frame::BODY_HEADER_LEN,
    };
    let err = recv_file(&mut r, &mut io::sink(), 64 << 30, |_| Ok(()), |_| {})
        .expect_err("huge size accepted");
    assert_eq!(err.kind(), io::ErrorKind::InvalidData);
    assert_eq!(
        err.to_string(),
        format!("file size {} exceeds limit {}", u64::MAX, 64u64 << 30)
    );
}
