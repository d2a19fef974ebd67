//! Lines of text over a byte stream (TCP), with a bound on their length.
//!
//! A chat message is what a person typed before pressing Enter, so the natural boundary on
//! the wire is the newline itself: `nc 127.0.0.1 1045` or `telnet` can then take part in a
//! conversation with no program of ours on their side. Python's `recv(1024)` takes whatever
//! bytes are there as one message: half a line, or two lines glued together. A
//! [`LineReader`] keeps the bytes after a newline for the next call, and refuses a line
//! longer than its limit without holding more than that limit in memory.
//!
//! # Wire format: a line
//!
//! | offset | size        | type  | meaning                                                        |
//! |--------|-------------|-------|----------------------------------------------------------------|
//! | 0      | 0 to `max`  | bytes | the text, UTF-8, without the byte `0x0a`                        |
//! | n      | 1           | u8    | `0x0a` (LF, `"\n"`): the end of the line; a `0x0d` (CR) just before it is dropped |
//!
//! There are no integers, so no byte order. In Python: `sock.sendall(text.encode() + b"\n")`
//! to send, and `sock.makefile("rb").readline(max + 2)` to receive, checking the length.
//!
//! Example: the line `"hola"` ([`EXAMPLE_LINE`]); `nc` on Windows or `telnet` would send
//! `68 6f 6c 61 0d 0a`, which reads as the same line:
//!
//! ```text
//! 68 6f 6c 61 0a
//! h  o  l  a  LF
//! ```
//!
//! Receiving rules ([`LineReader::recv_line`]):
//! 1. Bytes are read in chunks of [`READ_CHUNK`] into the reader's own buffer; a line ends at
//!    the first LF, and whatever follows it stays buffered for the next call (two lines that
//!    arrive in one segment are two lines; a line split over several segments is one).
//! 2. End of stream with nothing buffered is a clean close: `Ok(None)`.
//! 3. End of stream after part of a line means the peer left mid-line:
//!    [`io::ErrorKind::UnexpectedEof`].
//! 4. More than `max` bytes without an LF is [`io::ErrorKind::InvalidData`] ("line longer
//!    than 1024 bytes"), returned as soon as the limit is passed: memory stays bounded. The
//!    rest of that line, up to its LF, is read and thrown away by the next call, which then
//!    returns the line after it.
//! 5. A line that is not UTF-8 is [`io::ErrorKind::InvalidData`]; it has been consumed, and
//!    the next call returns the next line.
//! 6. A read timeout (set by the caller with `set_read_timeout`) is returned as the socket
//!    reports it (`WouldBlock` or `TimedOut` by OS, see [`crate::net::is_timeout`]); bytes of
//!    a partial line stay buffered, and calling again resumes the same line.
//!
//! So after an `InvalidData` error (its inner error is a [`LineError`]) the reader stands at
//! the start of the next line and the caller may keep the connection (answer "that line was
//! refused" and read on); any other error means the connection itself failed.

use std::io::{self, Read, Write};

/// Bytes asked of the stream per `read`: a few chat lines; fewer system calls than reading
/// byte by byte (`readline` on an unbuffered socket), and only this much beyond `max` is
/// ever held.
pub const READ_CHUNK: usize = 4096;

/// Default limit on a line, in bytes, without its LF: the 1,024 bytes the handouts' Python
/// reads per `recv(1024)`, far more than a chat line.
pub const MAX_LINE_LEN: usize = 1024;

/// The line terminator: LF.
pub const LF: u8 = b'\n';

/// Dropped when it comes just before the LF: Windows' `nc` and `telnet` end lines with CR LF.
pub const CR: u8 = b'\r';

/// The example line of the module docs: `"hola"`.
pub const EXAMPLE_LINE: [u8; 5] = [b'h', b'o', b'l', b'a', LF];

/// Writes `text` and an LF in one `write_all`, then flushes.
///
/// # Errors
/// [`io::ErrorKind::InvalidInput`] when `text` contains an LF (it would arrive as two
/// lines); otherwise the writer's error (e.g. `BrokenPipe` when the peer has gone).
pub fn send_line<W: Write + ?Sized>(w: &mut W, text: &str) -> io::Result<()> {
    // One write for text and terminator: a short line leaves in one segment.
    let mut buf = Vec::with_capacity(text.len() + 1);
    write_line(&mut buf, text)?;
    w.write_all(&buf)?;
    w.flush()
}

/// Writes `text` and an LF, without flushing: for a writer that gathers several lines in a
/// `BufWriter` and flushes once (one system call for a batch instead of one per line).
///
/// # Errors
/// As [`send_line`].
pub fn write_line<W: Write + ?Sized>(w: &mut W, text: &str) -> io::Result<()> {
    if let Some(at) = text.bytes().position(|b| b == LF) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("line contains a newline at byte {at}"),
        ));
    }
    w.write_all(text.as_bytes())?;
    w.write_all(&[LF])
}

/// Why [`LineReader::recv_line`] refused a line; the reader is then ready for the next line.
/// It is the inner error of the [`io::ErrorKind::InvalidData`] error ([`LineError::of`]
/// finds it), so a caller can answer each case in its own words.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LineError {
    /// More than `max` bytes before the LF (rule 4).
    TooLong {
        /// The reader's limit, in bytes.
        max: usize,
    },
    /// Not UTF-8 text (rule 5).
    NotUtf8 {
        /// Bytes of valid UTF-8 before the first bad byte.
        valid_up_to: usize,
    },
}

impl LineError {
    /// The `LineError` inside `e`, when `e` is a refused line (and not a failed connection).
    pub fn of(e: &io::Error) -> Option<LineError> {
        e.get_ref()?.downcast_ref::<LineError>().copied()
    }
}

impl std::fmt::Display for LineError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LineError::TooLong { max } => write!(f, "line longer than {max} bytes"),
            LineError::NotUtf8 { valid_up_to } => write!(
                f,
                "line is not valid UTF-8 text (bad byte at offset {valid_up_to})"
            ),
        }
    }
}

impl std::error::Error for LineError {}

impl From<LineError> for io::Error {
    fn from(e: LineError) -> io::Error {
        io::Error::new(io::ErrorKind::InvalidData, e)
    }
}

/// Reads LF-terminated lines of at most `max` bytes from a stream (see the module docs).
#[derive(Debug)]
pub struct LineReader<R> {
    inner: R,
    max: usize,
    /// Bytes read; those from `start` on are not returned yet. Never more than
    /// `max + READ_CHUNK` bytes pending, and the returned ones are dropped before each read.
    buf: Vec<u8>,
    start: usize,
    /// True while the rest of an overlong line is being thrown away (rule 4).
    discarding: bool,
}

impl<R: Read> LineReader<R> {
    /// A reader of lines of at most `max` bytes (without the LF, and without a CR before it).
    pub fn new(inner: R, max: usize) -> LineReader<R> {
        LineReader {
            inner,
            max,
            buf: Vec::new(),
            start: 0,
            discarding: false,
        }
    }

    /// The stream underneath (e.g. to set a read timeout).
    pub fn get_ref(&self) -> &R {
        &self.inner
    }

    /// Returns the next line without its LF (or CR LF), or `None` at a clean end of stream.
    ///
    /// # Errors
    /// - [`io::ErrorKind::InvalidData`]: the line was longer than `max` bytes, or is not
    ///   UTF-8; the reader is ready for the next line (module docs, rules 4 and 5).
    /// - [`io::ErrorKind::UnexpectedEof`]: the stream ended in the middle of a line.
    /// - the stream's error, e.g. `WouldBlock`/`TimedOut` after a read timeout (the partial
    ///   line is kept) or `ConnectionReset`.
    pub fn recv_line(&mut self) -> io::Result<Option<String>> {
        loop {
            if self.discarding {
                match self.buf[self.start..].iter().position(|&b| b == LF) {
                    Some(at) => {
                        self.start += at + 1;
                        self.discarding = false;
                    }
                    None => self.start = self.buf.len(),
                }
            }
            if !self.discarding {
                if let Some(at) = self.buf[self.start..].iter().position(|&b| b == LF) {
                    let mut line = self.buf[self.start..self.start + at].to_vec();
                    self.start += at + 1;
                    if line.last() == Some(&CR) {
                        line.pop();
                    }
                    if line.len() > self.max {
                        return Err(too_long(self.max));
                    }
                    return String::from_utf8(line).map(Some).map_err(|e| {
                        LineError::NotUtf8 {
                            valid_up_to: e.utf8_error().valid_up_to(),
                        }
                        .into()
                    });
                }
                // No LF yet. `max` bytes of text plus a CR may still end well.
                if self.buf.len() - self.start > self.max + 1 {
                    self.start = self.buf.len();
                    self.discarding = true;
                    return Err(too_long(self.max));
                }
            }
            // Lines already returned are dropped only now, once per read: moving the
            // partial line left after every line would copy the buffer once per line.
            self.buf.drain(..self.start);
            self.start = 0;
            let mut chunk = [0u8; READ_CHUNK];
            let n = match self.inner.read(&mut chunk) {
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            if n == 0 {
                if self.buf.is_empty() {
                    // Rule 2; also the end of a discarded overlong line with no LF.
                    self.discarding = false;
                    return Ok(None);
                }
                let pending = self.buf.len();
                self.buf.clear();
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    format!(
                        "peer closed in the middle of a line ({pending} bytes without a newline)"
                    ),
                ));
            }
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }
}

fn too_long(max: usize) -> io::Error {
    LineError::TooLong { max }.into()
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

    fn lines(data: &[u8], step: usize, max: usize) -> Vec<Result<String, io::ErrorKind>> {
        let mut r = LineReader::new(Trickle { data, step }, max);
        let mut out = Vec::new();
        for _ in 0..100 {
            match r.recv_line() {
                Ok(Some(l)) => out.push(Ok(l)),
                Ok(None) => return out,
                Err(e) => {
                    let fatal = e.kind() != io::ErrorKind::InvalidData;
                    out.push(Err(e.kind()));
                    if fatal {
                        return out;
                    }
                }
            }
        }
        panic!("reader did not end");
    }

    /// The doc's example is exactly what `send_line("hola")` writes, and reads back.
    #[test]
    fn send_line_matches_doc_example() {
        let mut out = Vec::new();
        send_line(&mut out, "hola").unwrap();
        assert_eq!(out, EXAMPLE_LINE);
        let mut r = LineReader::new(Cursor::new(EXAMPLE_LINE.to_vec()), MAX_LINE_LEN);
        assert_eq!(r.recv_line().unwrap().as_deref(), Some("hola"));
        assert_eq!(r.recv_line().unwrap(), None);
    }

    /// Lines glued in one read, or split over one-byte reads, come out the same; CR LF is
    /// one terminator.
    #[test]
    fn recv_line_reassembles_and_splits() {
        let wire = b"ana\r\n\nb\xc3\xa9\nlast\n";
        for step in [1, 2, 3, 4096] {
            assert_eq!(
                lines(wire, step, 16),
                [
                    Ok("ana".to_string()),
                    Ok(String::new()),
                    Ok("bé".to_string()),
                    Ok("last".to_string())
                ],
                "step {step}"
            );
        }
    }

    /// A line over the limit is refused, the rest of it skipped, and the next line read.
    #[test]
    fn recv_line_refuses_overlong_and_resyncs() {
        let mut wire = vec![b'x'; 10_000];
        wire.extend_from_slice(b"\nok\n");
        for step in [1, 7, 4096] {
            assert_eq!(
                lines(&wire, step, 8),
                [Err(io::ErrorKind::InvalidData), Ok("ok".to_string())],
                "step {step}"
            );
        }
        // Exactly `max` bytes (also with a CR) is fine; one more is not.
        assert_eq!(lines(b"12345678\r\n", 3, 8), [Ok("12345678".to_string())]);
        assert_eq!(
            lines(b"123456789\n", 3, 8),
            [Err(io::ErrorKind::InvalidData)]
        );
    }

    /// The overlong error says the limit; both refusals carry a `LineError` a caller can match.
    #[test]
    fn refused_lines_carry_a_line_error() {
        let mut r = LineReader::new(Cursor::new(vec![b'a'; 2000]), MAX_LINE_LEN);
        let e = r.recv_line().unwrap_err();
        assert_eq!(e.to_string(), "line longer than 1024 bytes");
        assert_eq!(LineError::of(&e), Some(LineError::TooLong { max: 1024 }));
        let mut r = LineReader::new(Cursor::new(b"a\xff\n".to_vec()), MAX_LINE_LEN);
        let e = r.recv_line().unwrap_err();
        assert_eq!(
            LineError::of(&e),
            Some(LineError::NotUtf8 { valid_up_to: 1 })
        );
        let other = io::Error::new(io::ErrorKind::InvalidData, "something else");
        assert_eq!(LineError::of(&other), None);
    }

    /// Invalid UTF-8 is refused for that line only.
    #[test]
    fn recv_line_refuses_invalid_utf8_then_continues() {
        assert_eq!(
            lines(b"\xff\xfe\nhola\n", 1, 16),
            [Err(io::ErrorKind::InvalidData), Ok("hola".to_string())]
        );
    }

    /// End of stream mid-line is `UnexpectedEof`; between lines it is a clean `None`.
    #[test]
    fn eof_mid_line_is_unexpected() {
        assert_eq!(
            lines(b"one\ntw", 1, 16),
            [Ok("one".to_string()), Err(io::ErrorKind::UnexpectedEof)]
        );
        assert_eq!(lines(b"", 1, 16), []);
    }

    /// A timeout in the middle of a line keeps what arrived; the next call completes it.
    #[test]
    fn timeout_mid_line_resumes() {
        struct Stutter(Vec<io::Result<Vec<u8>>>);
        impl Read for Stutter {
            fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
                if self.0.is_empty() {
                    return Ok(0);
                }
                let d = self.0.remove(0)?;
                buf[..d.len()].copy_from_slice(&d);
                Ok(d.len())
            }
        }
        let mut r = LineReader::new(
            Stutter(vec![
                Ok(b"ho".to_vec()),
                Err(io::ErrorKind::WouldBlock.into()),
                Ok(b"la\n".to_vec()),
            ]),
            16,
        );
        assert_eq!(r.recv_line().unwrap_err().kind(), io::ErrorKind::WouldBlock);
        assert_eq!(r.recv_line().unwrap().as_deref(), Some("hola"));
    }

    /// A text with a newline would arrive as two lines: refused.
    #[test]
    fn send_line_refuses_embedded_newline() {
        let e = send_line(&mut Vec::new(), "a\nb").unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::InvalidInput);
        let e = write_line(&mut Vec::new(), "a\nb").unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::InvalidInput);
    }

    /// Lines written in a batch read back one by one.
    #[test]
    fn write_line_batches_read_back() {
        let mut out = Vec::new();
        write_line(&mut out, "hola").unwrap();
        write_line(&mut out, "").unwrap();
        assert_eq!(out, b"hola\n\n");
        assert_eq!(lines(&out, 4096, 8), [Ok("hola".into()), Ok(String::new())]);
    }
}
