//! TCP 1.2's lesson, shared by the client and the server: receive a whole message when every
//! read may bring at most [`MTU`] (20) bytes.
//!
//! The handout loops on `conn.recv(20)` and decides that the message is over when a read
//! brings *fewer* than 20 bytes. A read brings whatever has arrived, up to 20 bytes, so that
//! rule is wrong both ways: a message of exactly 20, 40, 60... bytes never has a short read,
//! and the loop waits forever for a 3rd, 4th... read that has nothing to bring; and on a slow
//! network, a message can arrive in pieces, so a short read may come in the middle.
//!
//! Here the end is explicit: the sender closes its sending side when the message is complete
//! (`shutdown(Write)`), and the receiver loops until a read brings 0 bytes. One message per
//! connection, as in the handout's dialogue.

use std::io::{self, Read};

/// Most bytes one read may bring: the handout's `MTU = 20` (`socket.recv(20)`).
pub const MTU: usize = 20;

/// Longest message accepted, in bytes, so a client cannot make the receiver buffer without
/// end.
pub const MAX_MESSAGE: usize = 64 * 1024;

/// Receives a whole message, at most [`MTU`] bytes per read, until the peer closes its
/// sending side; `on_chunk` gets each read's bytes as they arrive.
///
/// # Errors
/// [`io::ErrorKind::InvalidData`] when the message exceeds `max_len` bytes; the reader's
/// errors (a read timeout: `WouldBlock` or `TimedOut`, see `sockcore::net::is_timeout`).
pub fn recv_in_chunks(
    r: &mut impl Read,
    max_len: usize,
    mut on_chunk: impl FnMut(&[u8]),
) -> io::Result<Vec<u8>> {
    let mut message = Vec::new();
    let mut chunk = [0u8; MTU];
    loop {
        // Python: data = conn.recv(MTU)
        let n = match r.read(&mut chunk) {
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        // Python: elif (len(data) == MTU): ... else: <message over>  -- a short read only
        // means that is all that had arrived. The message is over when a read brings
        // nothing: the peer closed its sending side.
        if n == 0 {
            return Ok(message);
        }
        if message.len() + n > max_len {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("message longer than the limit of {max_len} bytes"),
            ));
        }
        message.extend_from_slice(&chunk[..n]);
        on_chunk(&chunk[..n]);
    }
}

/// Turns chunks into printable text without cutting a character in two: a UTF-8 sequence
/// split by a chunk boundary is held back and printed with the next chunk. (Python decodes
/// each 20-byte chunk on its own, and a split `ñ` raises `UnicodeDecodeError`.)
#[derive(Debug, Default)]
pub struct ChunkText {
    pending: Vec<u8>,
}

impl ChunkText {
    /// The text of `chunk`, after what was held back from the previous one; bytes that are
    /// not UTF-8 show as U+FFFD.
    pub fn push(&mut self, chunk: &[u8]) -> String {
        self.pending.extend_from_slice(chunk);
        let whole = match std::str::from_utf8(&self.pending) {
            Ok(_) => self.pending.len(),
            // An incomplete sequence at the end: hold it for the next chunk.
            Err(e) if e.error_len().is_none() => e.valid_up_to(),
            Err(_) => self.pending.len(),
        };
        let text = String::from_utf8_lossy(&self.pending[..whole]).into_owned();
        self.pending.drain(..whole);
        text
    }

    /// What is still held back when the message ends (an incomplete character), if anything.
    pub fn finish(&mut self) -> Option<String> {
        (!self.pending.is_empty())
            .then(|| String::from_utf8_lossy(&std::mem::take(&mut self.pending)).into_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A reader that brings at most `step` bytes per read.
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

    /// Messages of 0, 19, 20, 21, 40 bytes arrive whole in reads of at most 20 bytes, also
    /// when the network brings 7 bytes at a time.
    #[test]
    fn messages_arrive_whole_in_reads_of_at_most_20() {
        for len in [0, 19, 20, 21, 40, 10_000] {
            let data: Vec<u8> = (0..len).map(|i| b'a' + (i % 26) as u8).collect();
            for step in [usize::MAX, 7] {
                let mut sizes = Vec::new();
                let got = recv_in_chunks(&mut Trickle { data: &data, step }, MAX_MESSAGE, |c| {
                    sizes.push(c.len())
                })
                .unwrap();
                assert_eq!(got, data, "len {len} step {step}");
                assert!(sizes.iter().all(|&n| (1..=MTU).contains(&n)), "{sizes:?}");
            }
        }
    }

    /// A message over the limit is refused.
    #[test]
    fn message_over_limit_is_invalid_data() {
        let data = [b'x'; 41];
        let e = recv_in_chunks(
            &mut Trickle {
                data: &data,
                step: 20,
            },
            40,
            |_| {},
        )
        .unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::InvalidData);
        assert_eq!(e.to_string(), "message longer than the limit of 40 bytes");
    }

    /// A character split between two chunks is printed whole, with the second chunk.
    #[test]
    fn split_character_is_held_for_the_next_chunk() {
        let msg = "Hola señor, esto es España".as_bytes();
        let mut t = ChunkText::default();
        let first = t.push(&msg[..8]); // "Hola se" + the first byte of "ñ"
        let second = t.push(&msg[8..]);
        assert_eq!(first, "Hola se");
        assert_eq!(second, "ñor, esto es España");
        assert_eq!(t.finish(), None);
        assert_eq!(t.push(&[0xc3]), "");
        assert_eq!(t.finish().as_deref(), Some("\u{fffd}"));
    }
}
