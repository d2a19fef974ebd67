//! Length-prefixed frames and streamed file bodies over a byte stream (TCP).
//!
//! TCP delivers a stream of bytes, not messages: one `send` of 100 bytes may arrive as one
//! `recv` of 100, two of 50, or be glued to the next message. The handouts' Python takes one
//! `recv(1024)` as one message; that works on loopback with small messages and breaks on a real
//! network or a bigger file. A frame says its own length first, so the receiver knows exactly
//! where each message ends.
//!
//! # Wire format: a frame
//!
//! All integers in sockets-rs are big-endian ("network order"); the matching Python `struct`
//! format is given with each field.
//!
//! | offset | size | type   | byte order | meaning                                   | Python   |
//! |--------|------|--------|------------|-------------------------------------------|----------|
//! | 0      | 4    | u32    | big-endian | `len`: number of payload bytes that follow | `"!I"`   |
//! | 4      | len  | bytes  | -          | payload (text frames hold UTF-8)          |          |
//!
//! Example: the frame carrying the 4-byte text `"OK 5"` ([`EXAMPLE_FRAME`]):
//!
//! ```text
//! 00 00 00 04 4f 4b 20 35
//! \__ len=4 / O  K  ␠  5
//! ```
//!
//! Receiving rules ([`recv_frame`]):
//! 1. Read exactly 4 header bytes; `read` may return fewer, so loop (`read_exact`).
//! 2. End of stream *before the first header byte* is a clean close: `Ok(None)`.
//! 3. End of stream anywhere after that (inside the header or the payload) means the peer left
//!    mid-message: [`io::ErrorKind::UnexpectedEof`].
//! 4. A `len` above the caller's limit is rejected with [`io::ErrorKind::InvalidData`]
//!    *before* any buffer is allocated, so a hostile 4 GiB length costs nothing.
//! 5. Otherwise read exactly `len` payload bytes.
//!
//! # Wire format: a streamed file body
//!
//! A file is never put in one frame (that would mean holding it whole in memory). It is
//! streamed through a fixed buffer of [`STREAM_BUF_LEN`] bytes, between a length and a checksum:
//!
//! | offset  | size | type  | byte order | meaning                                 | Python |
//! |---------|------|-------|------------|-----------------------------------------|--------|
//! | 0       | 8    | u64   | big-endian | `size`: number of file bytes that follow | `"!Q"` |
//! | 8       | size | bytes | -          | the file's bytes, unchanged             |        |
//! | 8+size  | 4    | u32   | big-endian | CRC-32 of those bytes (`zlib.crc32`)    | `"!I"` |
//!
//! Example: the 3-byte file `"abc"` ([`EXAMPLE_BODY`]):
//!
//! ```text
//! 00 00 00 00 00 00 00 03 61 62 63 35 24 41 c2
//! \_______ size=3 _____/  a  b  c  \_ crc32 _/
//! ```
//!
//! Receiving rules ([`recv_file`]):
//! 1. A `size` above the caller's limit is rejected ([`io::ErrorKind::InvalidData`]) before
//!    anything is written.
//! 2. The bytes are copied to the destination as they arrive, at most [`STREAM_BUF_LEN`] at a
//!    time: memory use does not depend on the file's size.
//! 3. End of stream before `size` bytes and the checksum have arrived is
//!    [`io::ErrorKind::UnexpectedEof`]; the caller discards what it wrote (see
//!    [`crate::files::AtomicFile`]).
//! 4. A checksum that does not match the bytes received is [`io::ErrorKind::InvalidData`].

use std::io::{self, Read, Write};

/// Bytes in a frame header: one u32 length.
pub const HEADER_LEN: usize = 4;

/// Default limit on a frame's payload, in bytes: commands and replies are short, and a
/// server must not let a client make it allocate more than this per message.
pub const MAX_FRAME_LEN: usize = 64 * 1024;

/// Size of the buffer a file body is streamed through, in bytes: large enough to keep loopback
/// transfers near memory speed, small enough that memory use stays flat for any file size.
pub const STREAM_BUF_LEN: usize = 256 * 1024;

/// Bytes in a file body's header (u64 size) and trailer (u32 CRC-32).
pub const BODY_HEADER_LEN: usize = 8;
/// See [`BODY_HEADER_LEN`].
pub const BODY_TRAILER_LEN: usize = 4;

/// The example frame of the module docs: text `"OK 5"`.
pub const EXAMPLE_FRAME: [u8; 8] = [0x00, 0x00, 0x00, 0x04, b'O', b'K', b' ', b'5'];

/// The example file body of the module docs: the 3 bytes `"abc"`.
pub const EXAMPLE_BODY: [u8; 15] = [
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x03, b'a', b'b', b'c', 0x35, 0x24, 0x41, 0xc2,
];

/// Writes one frame: the payload's length as a big-endian u32, then the payload.
///
/// # Errors
/// [`io::ErrorKind::InvalidInput`] when the payload is longer than `u32::MAX` bytes, or any
/// error of the underlying writer (e.g. `BrokenPipe` when the peer has gone).
pub fn send_frame<W: Write + ?Sized>(w: &mut W, payload: &[u8]) -> io::Result<()> {
    let len = u32::try_from(payload.len()).map_err(|_| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("frame length {} exceeds limit {}", payload.len(), u32::MAX),
        )
    })?;
    // One write for header and payload: a small frame then leaves in one segment instead of
    // two (which, with Nagle's algorithm and delayed ACKs, could stall ~40 ms).
    let mut buf = Vec::with_capacity(HEADER_LEN + payload.len());
    buf.extend_from_slice(&len.to_be_bytes());
    buf.extend_from_slice(payload);
    w.write_all(&buf)?;
    w.flush()
}

/// Reads one frame whose payload may be at most `max_len` bytes.
///
/// Returns `Ok(None)` when the stream ends cleanly between frames (the peer closed).
///
/// # Errors
/// - [`io::ErrorKind::UnexpectedEof`]: the stream ended inside a frame.
/// - [`io::ErrorKind::InvalidData`]: the announced length exceeds `max_len` (nothing was
///   allocated or read beyond the header).
/// - any error of the underlying reader, e.g. `WouldBlock`/`TimedOut` after a read timeout.
pub fn recv_frame<R: Read + ?Sized>(r: &mut R, max_len: usize) -> io::Result<Option<Vec<u8>>> {
    let mut header = [0u8; HEADER_LEN];
    // The first byte decides between "clean close" and "a frame has started".
    let first = loop {
        match r.read(&mut header[..1]) {
            Ok(0) => return Ok(None),
            Ok(_) => break header[0],
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    };
    header[0] = first;
    read_exact_or_eof(r, &mut header[1..], "frame header")?;
    let len = u32::from_be_bytes(header) as usize;
    if len > max_len {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("frame length {len} exceeds limit {max_len}"),
        ));
    }
    let mut payload = vec![0u8; len];
    read_exact_or_eof(r, &mut payload, "frame payload")?;
    Ok(Some(payload))
}

/// Sends a UTF-8 text frame.
///
/// # Errors
/// As [`send_frame`].
pub fn send_text<W: Write + ?Sized>(w: &mut W, text: &str) -> io::Result<()> {
    send_frame(w, text.as_bytes())
}

/// Receives a frame that must hold UTF-8 text of at most `max_len` bytes.
///
/// # Errors
/// As [`recv_frame`], plus [`io::ErrorKind::InvalidData`] when the payload is not UTF-8.
pub fn recv_text<R: Read + ?Sized>(r: &mut R, max_len: usize) -> io::Result<Option<String>> {
    match recv_frame(r, max_len)? {
        None => Ok(None),
        Some(bytes) => String::from_utf8(bytes).map(Some).map_err(|e| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!(
                    "frame is not valid UTF-8 text (bad byte at offset {})",
                    e.utf8_error().valid_up_to()
                ),
            )
        }),
    }
}

/// What was sent or received in a file body: its size and CRC-32.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BodySummary {
    /// Number of file bytes.
    pub size: u64,
    /// CRC-32 (IEEE, as Python's `zlib.crc32`) of those bytes.
    pub crc32: u32,
}

/// Streams `size` bytes from `src` as a file body: size, bytes, CRC-32.
///
/// `on_progress` is called with the number of bytes sent so far (for a progress bar).
///
/// # Errors
/// [`io::ErrorKind::UnexpectedEof`] if `src` ends before `size` bytes (the file shrank while
/// being sent; the receiver then sees the stream end early and discards it), or any error of
/// the reader or writer.
pub fn send_file<R, W>(
    w: &mut W,
    src: &mut R,
    size: u64,
    mut on_progress: impl FnMut(u64),
) -> io::Result<BodySummary>
where
    R: Read + ?Sized,
    W: Write + ?Sized,
{
    w.write_all(&size.to_be_bytes())?;
    let mut hasher = crc32fast::Hasher::new();
    let mut buf = vec![0u8; STREAM_BUF_LEN];
    let mut sent: u64 = 0;
    while sent < size {
        let want = usize::try_from(size - sent).map_or(buf.len(), |left| left.min(buf.len()));
        let n = match src.read(&mut buf[..want]) {
            Ok(0) => {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    format!(
                        "source ended after {sent} of {size} bytes (file changed while sending?)"
                    ),
                ))
            }
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        hasher.update(&buf[..n]);
        w.write_all(&buf[..n])?;
        sent += n as u64;
        on_progress(sent);
    }
    let crc32 = hasher.finalize();
    w.write_all(&crc32.to_be_bytes())?;
    w.flush()?;
    Ok(BodySummary { size, crc32 })
}

/// Receives a file body of at most `max_size` bytes into `dst`, checking its CRC-32.
///
/// `on_start` is called once with the announced size, before any byte is written (a caller
/// can refuse it there); `on_progress` with the bytes received so far.
///
/// # Errors
/// - [`io::ErrorKind::InvalidData`]: size over `max_size`, or checksum mismatch.
/// - [`io::ErrorKind::UnexpectedEof`]: the stream ended before the whole body arrived.
/// - any error returned by `on_start`, the reader or the writer.
pub fn recv_file<R, W>(
    r: &mut R,
    dst: &mut W,
    max_size: u64,
    on_start: impl FnOnce(u64) -> io::Result<()>,
    mut on_progress: impl FnMut(u64),
) -> io::Result<BodySummary>
where
    R: Read + ?Sized,
    W: Write + ?Sized,
{
    let mut header = [0u8; BODY_HEADER_LEN];
    read_exact_or_eof(r, &mut header, "file size")?;
    let size = u64::from_be_bytes(header);
    if size > max_size {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("file size {size} exceeds limit {max_size}"),
        ));
    }
    on_start(size)?;
    let mut hasher = crc32fast::Hasher::new();
    let mut buf = vec![0u8; STREAM_BUF_LEN];
    let mut got: u64 = 0;
    while got < size {
        let want = usize::try_from(size - got).map_or(buf.len(), |left| left.min(buf.len()));
        let n = match r.read(&mut buf[..want]) {
            Ok(0) => {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    format!("peer closed after {got} of {size} file bytes"),
                ))
            }
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        hasher.update(&buf[..n]);
        dst.write_all(&buf[..n])?;
        got += n as u64;
        on_progress(got);
    }
    let mut trailer = [0u8; BODY_TRAILER_LEN];
    read_exact_or_eof(r, &mut trailer, "file checksum")?;
    let sent_crc = u32::from_be_bytes(trailer);
    let crc32 = hasher.finalize();
    if sent_crc != crc32 {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!(
                "checksum mismatch: sender says {sent_crc:08x}, received bytes give {crc32:08x}"
            ),
        ));
    }
    dst.flush()?;
    Ok(BodySummary { size, crc32 })
}

/// `read_exact` whose end-of-stream error names what was being read.
fn read_exact_or_eof<R: Read + ?Sized>(r: &mut R, buf: &mut [u8], what: &str) -> io::Result<()> {
    r.read_exact(buf).map_err(|e| {
        if e.kind() == io::ErrorKind::UnexpectedEof {
            io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!("peer closed in the middle of the {what}"),
            )
        } else {
            e
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    /// A reader that hands out at most `step` bytes per `read`, as TCP may.
    struct Trickle<'a> {
        data: &'a [u8],
        step: usize,
    }

    impl Read for Trickle<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let n = self.step.min(buf.len()).min(self.data.len());
            buf[..n].copy_from_slice(&self.data[..n]);
            self.data = &self.data[n..];
            Ok(n)
        }
    }

    /// The doc's example frame is exactly what `send_text("OK 5")` writes.
    #[test]
    fn send_frame_matches_doc_example() {
        let mut out = Vec::new();
        send_text(&mut out, "OK 5").unwrap();
        assert_eq!(out, EXAMPLE_FRAME);
    }

    /// The doc's example frame decodes to its text, and then the stream is cleanly closed.
    #[test]
    fn recv_frame_reads_doc_example_then_clean_eof() {
        let mut r = Cursor::new(EXAMPLE_FRAME.to_vec());
        assert_eq!(
            recv_text(&mut r, MAX_FRAME_LEN).unwrap().as_deref(),
            Some("OK 5")
        );
        assert_eq!(recv_frame(&mut r, MAX_FRAME_LEN).unwrap(), None);
    }

    /// Frames arriving one byte per read are reassembled whole.
    #[test]
    fn recv_frame_reassembles_one_byte_reads() {
        let mut wire = Vec::new();
        send_text(&mut wire, "hello").unwrap();
        send_text(&mut wire, "").unwrap();
        send_text(&mut wire, "world").unwrap();
        let mut r = Trickle {
            data: &wire,
            step: 1,
        };
        assert_eq!(recv_text(&mut r, 16).unwrap().as_deref(), Some("hello"));
        assert_eq!(recv_text(&mut r, 16).unwrap().as_deref(), Some(""));
        assert_eq!(recv_text(&mut r, 16).unwrap().as_deref(), Some("world"));
        assert_eq!(recv_text(&mut r, 16).unwrap(), None);
    }

    /// A length over the limit is refused from the header alone: no payload byte is needed.
    #[test]
    fn recv_frame_rejects_length_over_limit() {
        let mut r = Cursor::new(vec![0xff, 0xff, 0xff, 0xff]);
        let err = recv_frame(&mut r, MAX_FRAME_LEN).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidData);
        assert_eq!(
            err.to_string(),
            "frame length 4294967295 exceeds limit 65536"
        );
    }

    /// End of stream inside the header or the payload is `UnexpectedEof`, not a clean close.
    #[test]
    fn recv_frame_eof_inside_frame_is_unexpected() {
        for cut in 1..EXAMPLE_FRAME.len() {
            let mut r = Cursor::new(EXAMPLE_FRAME[..cut].to_vec());
            let err = recv_frame(&mut r, MAX_FRAME_LEN).unwrap_err();
            assert_eq!(err.kind(), io::ErrorKind::UnexpectedEof, "cut at {cut}");
        }
    }

    /// Invalid UTF-8 in a text frame is `InvalidData`.
    #[test]
    fn recv_text_rejects_invalid_utf8() {
        let mut wire = Vec::new();
        send_frame(&mut wire, &[b'a', 0xff]).unwrap();
        let err = recv_text(&mut Cursor::new(wire), 16).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidData);
    }

    /// The doc's example body is what `send_file` writes for "abc", and the CRC is zlib's.
    #[test]
    fn send_file_matches_doc_example() {
        let mut out = Vec::new();
        let s = send_file(&mut out, &mut &b"abc"[..], 3, |_| {}).unwrap();
        assert_eq!(out, EXAMPLE_BODY);
        // Python: zlib.crc32(b"abc") == 0x352441c2
        assert_eq!(s.crc32, 0x3524_41c2);
    }

    /// A body streamed in odd-sized reads arrives byte-identical with its summary.
    #[test]
    fn recv_file_roundtrip_through_small_reads() {
        let data: Vec<u8> = (0..1_000_003u32).map(|i| (i * 7 + i / 251) as u8).collect();
        let mut wire = Vec::new();
        let sent = send_file(&mut wire, &mut &data[..], data.len() as u64, |_| {}).unwrap();
        let mut r = Trickle {
            data: &wire,
            step: 4093,
        };
        let mut got = Vec::new();
        let recv = recv_file(&mut r, &mut got, u64::MAX, |_| Ok(()), |_| {}).unwrap();
        assert_eq!(sent, recv);
        assert_eq!(got, data);
    }

    /// A flipped byte in transit is caught by the checksum.
    #[test]
    fn recv_file_detects_corruption() {
        let mut wire = EXAMPLE_BODY.to_vec();
        wire[9] ^= 0x01;
        let err = recv_file(
            &mut Cursor::new(wire),
            &mut Vec::new(),
            10,
            |_| Ok(()),
            |_| {},
        )
        .unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidData);
        assert!(err.to_string().starts_with("checksum mismatch"), "{err}");
    }

    /// A body cut short (sender died) is `UnexpectedEof` wherever the cut falls.
    #[test]
    fn recv_file_eof_mid_body_is_unexpected() {
        for cut in 0..EXAMPLE_BODY.len() {
            let mut r = Cursor::new(EXAMPLE_BODY[..cut].to_vec());
            let err = recv_file(&mut r, &mut Vec::new(), 10, |_| Ok(()), |_| {}).unwrap_err();
            assert_eq!(err.kind(), io::ErrorKind::UnexpectedEof, "cut at {cut}");
        }
    }

    /// A size over the limit is refused before `on_start` runs or anything is written.
    #[test]
    fn recv_file_rejects_size_over_limit() {
        let mut sink = Vec::new();
        let err = recv_file(
            &mut Cursor::new(EXAMPLE_BODY.to_vec()),
            &mut sink,
            2,
            |_| panic!("on_start must not run"),
            |_| {},
        )
        .unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidData);
        assert_eq!(err.to_string(), "file size 3 exceeds limit 2");
        assert!(sink.is_empty());
    }

    /// A source that ends early makes `send_file` fail instead of sending a short body.
    #[test]
    fn send_file_fails_when_source_shrinks() {
        let err = send_file(&mut Vec::new(), &mut &b"ab"[..], 3, |_| {}).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::UnexpectedEof);
    }
}
