//! Text messages with no boundary on the wire, as the handouts' Python sends them.
//!
//! The handouts' programs send a bare string (`conn.sendall("TIME".encode())`) and take one
//! `recv(1024)` as one message. Nothing on the wire says where a message ends: a `recv` may
//! return half of it, or two messages glued together. Programs that must speak those exact
//! bytes (the `python_compat` crates) cannot add a length prefix (that is [`crate::frame`]'s
//! job everywhere else), so they decide where a message ends from what the bytes *are*. The
//! caller passes a judge that looks at the bytes received so far and returns a [`Verdict`]:
//!
//! | bytes so far                      | verdict                      | example               |
//! |-----------------------------------|------------------------------|-----------------------|
//! | start with a whole known message  | [`Verdict::Whole`]`(len)`    | `TIME`, `Hi TCP Client` |
//! | could be complete, or could grow  | [`Verdict::WholeUnlessMore`] | free text, `12:00:00` |
//! | the beginning of a message        | [`Verdict::Partial`]         | `TI`                  |
//! | cannot begin any valid message    | [`Verdict::Invalid`]         | `HELLO` for a TIME server |
//!
//! Receiving rules ([`UnframedReader::recv`]):
//! 1. Bytes left over after a [`Verdict::Whole`] message stay buffered for the next call
//!    (two commands glued in one segment are two commands).
//! 2. A message that is whole "unless more follows" ends when the peer closes its sending side
//!    (our clients do, with `shutdown(Write)`), or when nothing more arrives for the reader's
//!    *quiet period* (a peer that keeps the connection open and waits for the reply, as the
//!    handouts' clients do). Each byte that does arrive restarts the quiet period.
//! 3. End of stream with nothing buffered is a clean close: `Ok(None)`. End of stream after
//!    [`Verdict::Partial`] bytes means the peer left mid-message:
//!    [`io::ErrorKind::UnexpectedEof`].
//! 4. More than the reader's limit of bytes without a whole message is
//!    [`io::ErrorKind::InvalidData`]; so are [`Verdict::Invalid`] bytes (there is no way to
//!    find the start of the next message in a stream without boundaries, so the caller drops
//!    the connection).
//! 5. Waiting for the first byte of a message obeys the socket's read timeout, if the caller
//!    set one (`set_read_timeout`); the error is then `WouldBlock` or `TimedOut` by OS
//!    (see [`crate::net::is_timeout`]).
//!
//! Caveat: the quiet period is a guess, the only one left when the protocol has no boundary;
//! it costs every such message that long. New protocols should frame their messages.

use std::io::{self, Read};
use std::net::TcpStream;
use std::time::Duration;

/// Bytes asked of the socket per `read`: more than any handout message, so one message
/// normally takes one `read` (the same as Python's `recv(1024)` would, and no more calls).
const READ_CHUNK: usize = 4096;

/// Default quiet period ([`UnframedReader::quiet`]): longer than a delayed ACK (40 ms on
/// Linux, up to 200 ms on Windows) holding back the rest of a message, short enough not to be
/// felt by a person waiting for an answer.
pub const DEFAULT_QUIET: Duration = Duration::from_millis(300);

/// What the bytes received so far amount to; returned by the caller's judge.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// The first `len` bytes are a whole message; any bytes after them begin the next one.
    Whole(usize),
    /// All the bytes so far are a whole message unless more follow within the quiet period
    /// (free text, or Python's `str(datetime)` of a time whose microseconds are 0).
    WholeUnlessMore,
    /// A message has begun but is not complete: keep reading.
    Partial,
    /// These bytes cannot begin any valid message.
    Invalid,
}

/// A judge for a fixed set of messages (commands such as `TIME` and `EXIT`, or the replies
/// `Hi TCP Client` and `Bye Client`): [`Verdict::Whole`] as soon as the bytes start with one
/// of them, [`Verdict::Partial`] while they are the beginning of one, otherwise
/// [`Verdict::Invalid`]. When one message is a prefix of another, the shorter one wins.
pub fn one_of<'a>(messages: &'a [&'a str]) -> impl Fn(&[u8]) -> Verdict + 'a {
    move |bytes| {
        if let Some(m) = messages.iter().find(|m| bytes.starts_with(m.as_bytes())) {
            Verdict::Whole(m.len())
        } else if messages.iter().any(|m| m.as_bytes().starts_with(bytes)) {
            Verdict::Partial
        } else {
            Verdict::Invalid
        }
    }
}

/// A judge for free text: any bytes may be a whole message, so it ends when the peer
/// closes its sending side or goes quiet ([`Verdict::WholeUnlessMore`]).
pub fn free_text(_bytes: &[u8]) -> Verdict {
    Verdict::WholeUnlessMore
}

/// Reads boundary-less messages from a TCP stream (see the module docs for the rules).
#[derive(Debug)]
pub struct UnframedReader {
    stream: TcpStream,
    buf: Vec<u8>,
    max_len: usize,
    quiet: Duration,
}

impl UnframedReader {
    /// Reads from `stream` messages of at most `max_len` bytes; a message that may go on ends
    /// after [`DEFAULT_QUIET`] without a new byte (see [`UnframedReader::quiet`]).
    ///
    /// The reader restores the stream's read timeout after each quiet wait, so a read timeout
    /// set before (an idle limit for the peer) keeps applying to the first byte of a message.
    pub fn new(stream: TcpStream, max_len: usize) -> UnframedReader {
        UnframedReader {
            stream,
            buf: Vec::with_capacity(READ_CHUNK),
            max_len,
            quiet: DEFAULT_QUIET,
        }
    }

    /// Sets the quiet period: how long a message that may go on ([`Verdict::WholeUnlessMore`])
    /// waits for another byte before it is taken as complete.
    ///
    /// # Panics
    /// When `quiet` is zero (a zero read timeout is rejected by `set_read_timeout`).
    pub fn quiet(mut self, quiet: Duration) -> UnframedReader {
        assert!(
            !quiet.is_zero(),
            "the quiet period must be longer than zero"
        );
        self.quiet = quiet;
        self
    }

    /// The stream, for writing replies (`&TcpStream` implements `Write`).
    pub fn get_ref(&self) -> &TcpStream {
        &self.stream
    }

    /// Receives the next message, as `judge` delimits it; `Ok(None)` when the peer closed
    /// the connection between messages.
    ///
    /// # Errors
    /// - [`io::ErrorKind::UnexpectedEof`]: the peer closed in the middle of a message;
    /// - [`io::ErrorKind::InvalidData`]: bytes that `judge` calls [`Verdict::Invalid`], or
    ///   more than the limit without a whole message (the message shows the first bytes);
    /// - the socket's errors, e.g. `WouldBlock`/`TimedOut` after its read timeout.
    pub fn recv(&mut self, judge: impl Fn(&[u8]) -> Verdict) -> io::Result<Option<Vec<u8>>> {
        loop {
            if !self.buf.is_empty() {
                match judge(&self.buf) {
                    // The reader reads up to one byte past its limit to notice that the limit
                    // was passed; a message that long is still too long (rule 4).
                    Verdict::Whole(len) if len > self.max_len => return Err(self.too_long()),
                    Verdict::Whole(len) => return Ok(Some(self.buf.drain(..len).collect())),
                    Verdict::Invalid => {
                        return Err(io::Error::new(
                            io::ErrorKind::InvalidData,
                            format!("unexpected bytes {}", shown(&self.buf)),
                        ))
                    }
                    Verdict::WholeUnlessMore if self.buf.len() > self.max_len => {
                        return Err(self.too_long())
                    }
                    Verdict::WholeUnlessMore => {
                        if !self.more_within_quiet()? {
                            return Ok(Some(std::mem::take(&mut self.buf)));
                        }
                        continue;
                    }
                    Verdict::Partial => {}
                }
            }
            if self.buf.len() > self.max_len {
                return Err(self.too_long());
            }
            if self.fill()? == 0 {
                return match self.buf.is_empty() {
                    true => Ok(None),
                    false if judge(&self.buf) == Verdict::WholeUnlessMore => {
                        Ok(Some(std::mem::take(&mut self.buf)))
                    }
                    false => Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        format!(
                            "peer closed in the middle of a message, after {}",
                            shown(&self.buf)
                        ),
                    )),
                };
            }
        }
    }

    /// One `read` into the buffer; returns the bytes read (0: end of stream).
    fn fill(&mut self) -> io::Result<usize> {
        let start = self.buf.len();
        // One byte past the limit is enough to know the limit was passed.
        let room = READ_CHUNK.min(self.max_len + 1 - start.min(self.max_len));
        self.buf.resize(start + room, 0);
        let result = loop {
            match self.stream.read(&mut self.buf[start..]) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                other => break other,
            }
        };
        self.buf.truncate(start + *result.as_ref().unwrap_or(&0));
        result
    }

    /// Waits up to the quiet period for more bytes: true if some arrived, false if the
    /// peer stayed quiet or closed its sending side.
    fn more_within_quiet(&mut self) -> io::Result<bool> {
        if self.buf.len() > self.max_len {
            return Err(self.too_long());
        }
        let idle = self.stream.read_timeout()?;
        self.stream.set_read_timeout(Some(self.quiet))?;
        let result = self.fill();
        self.stream.set_read_timeout(idle)?;
        match result {
            Ok(n) => Ok(n > 0),
            Err(e) if crate::net::is_timeout(&e) => Ok(false),
            Err(e) => Err(e),
        }
    }

    fn too_long(&self) -> io::Error {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!(
                "message longer than the limit of {} bytes, starting {}",
                self.max_len,
                shown(&self.buf)
            ),
        )
    }
}

/// Longest excerpt of unexpected bytes quoted in an error message.
const SHOWN_MAX: usize = 40;

/// `"HELLO"` or `"HELLO WORLD, THIS IS..." (70 bytes)`: bytes quoted for an error message.
fn shown(bytes: &[u8]) -> String {
    let head = String::from_utf8_lossy(&bytes[..bytes.len().min(SHOWN_MAX)]).into_owned();
    if bytes.len() > SHOWN_MAX {
        format!("{head:?}... ({} bytes)", bytes.len())
    } else {
        format!("{head:?}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::net::{Shutdown, TcpListener};
    use std::time::Duration;

    /// A connected pair on loopback: (our side, the peer's side).
    fn pair() -> (TcpStream, TcpStream) {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let peer = TcpStream::connect(l.local_addr().unwrap()).unwrap();
        let (ours, _) = l.accept().unwrap();
        ours.set_read_timeout(Some(Duration::from_secs(20)))
            .unwrap();
        (ours, peer)
    }

    const QUIET: Duration = Duration::from_millis(100);

    /// Two known commands glued in one segment, then one split over two writes, are three
    /// commands; then a clean close is `None`.
    #[test]
    fn commands_glued_and_split_are_separated() {
        let (ours, mut peer) = pair();
        let mut r = UnframedReader::new(ours, 64).quiet(QUIET);
        let judge = one_of(&["TIME", "EXIT"]);
        peer.write_all(b"TIMETI").unwrap();
        assert_eq!(r.recv(&judge).unwrap().as_deref(), Some(&b"TIME"[..]));
        let writer = std::thread::spawn(move || {
            peer.write_all(b"ME").unwrap();
            peer.write_all(b"EXIT").unwrap();
            peer
        });
        assert_eq!(r.recv(&judge).unwrap().as_deref(), Some(&b"TIME"[..]));
        assert_eq!(r.recv(&judge).unwrap().as_deref(), Some(&b"EXIT"[..]));
        drop(writer.join().unwrap());
        assert_eq!(r.recv(&judge).unwrap(), None);
    }

    /// A known message one byte longer than the limit is refused (the reader holds one byte
    /// past its limit to notice, but never returns it as a message).
    #[test]
    fn message_one_byte_over_the_limit_is_refused() {
        let (ours, mut peer) = pair();
        let mut r = UnframedReader::new(ours, 3).quiet(QUIET);
        peer.write_all(b"TIME").unwrap();
        peer.shutdown(Shutdown::Write).unwrap();
        let e = r.recv(one_of(&["TIME"])).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::InvalidData);
        let (ours, mut peer) = pair();
        let mut r = UnframedReader::new(ours, 3).quiet(QUIET);
        peer.write_all(b"abcd").unwrap();
        peer.shutdown(Shutdown::Write).unwrap();
        assert_eq!(
            r.recv(free_text).unwrap_err().kind(),
            io::ErrorKind::InvalidData
        );
    }

    /// Bytes that cannot begin a known command are `InvalidData`, quoted in the message.
    #[test]
    fn unknown_command_is_invalid_data() {
        let (ours, mut peer) = pair();
        let mut r = UnframedReader::new(ours, 64).quiet(QUIET);
        peer.write_all(b"HELLO").unwrap();
        let e = r.recv(one_of(&["TIME", "EXIT"])).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::InvalidData);
        assert_eq!(e.to_string(), "unexpected bytes \"HELLO\"");
    }

    /// Free text ends at the peer's half-close, at once, with the peer still reading.
    #[test]
    fn free_text_ends_at_half_close() {
        let (ours, mut peer) = pair();
        // A quiet period far longer than the test: only the half-close can end the message.
        let mut r = UnframedReader::new(ours, 64).quiet(Duration::from_secs(3600));
        peer.write_all(b"Hola servidor").unwrap();
        peer.shutdown(Shutdown::Write).unwrap();
        assert_eq!(
            r.recv(free_text).unwrap().as_deref(),
            Some(&b"Hola servidor"[..])
        );
        assert_eq!(r.recv(free_text).unwrap(), None);
    }

    /// Free text from a peer that keeps the connection open ends after the quiet period, and
    /// the read timeout set before is back in force afterwards.
    #[test]
    fn free_text_ends_when_peer_goes_quiet() {
        let (ours, mut peer) = pair();
        let idle = ours.read_timeout().unwrap();
        let mut r = UnframedReader::new(ours, 64).quiet(QUIET);
        peer.write_all(b"Hola").unwrap();
        assert_eq!(r.recv(free_text).unwrap().as_deref(), Some(&b"Hola"[..]));
        assert_eq!(r.get_ref().read_timeout().unwrap(), idle);
    }

    /// The peer leaving after the beginning of a command is `UnexpectedEof`.
    #[test]
    fn eof_mid_command_is_unexpected() {
        let (ours, mut peer) = pair();
        let mut r = UnframedReader::new(ours, 64).quiet(QUIET);
        peer.write_all(b"TI").unwrap();
        drop(peer);
        let e = r.recv(one_of(&["TIME"])).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::UnexpectedEof);
        assert_eq!(
            e.to_string(),
            "peer closed in the middle of a message, after \"TI\""
        );
    }

    /// Text longer than the limit is refused once the limit is passed, without reading on.
    #[test]
    fn text_over_limit_is_refused() {
        let (ours, mut peer) = pair();
        let mut r = UnframedReader::new(ours, 8).quiet(QUIET);
        peer.write_all(&[b'a'; 100]).unwrap();
        let e = r
            .recv(one_of(&["aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"]))
            .unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::InvalidData);
        assert_eq!(
            e.to_string(),
            "message longer than the limit of 8 bytes, starting \"aaaaaaaaa\""
        );
    }

    /// `one_of` takes the shorter message when one is a prefix of another.
    #[test]
    fn one_of_verdicts() {
        let j = one_of(&["Bye", "Bye Client"]);
        assert_eq!(j(b"By"), Verdict::Partial);
        assert_eq!(j(b"Bye Client"), Verdict::Whole(3));
        assert_eq!(j(b"Hi"), Verdict::Invalid);
    }
}
