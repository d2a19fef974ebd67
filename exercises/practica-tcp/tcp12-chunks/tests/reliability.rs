//! Reliability tests of TCP 1.2 (docs/reliability.md): seeded garbage at run time (EXIT,
//! which ends the server by design, is never sent), and a property test of the chunk reader
//! and its printable text (`recv_in_chunks`, `ChunkText`). The server takes no file names.

use testkit::chaos as support;

use testkit::{bin, Server};

/// Seeded garbage (random bytes, cut frames, 4-byte headers up to 4 GiB, protocol-looking
/// words with random arguments) on 200 connections never stops the server or makes it
/// panic; a real client is served after it.
#[test]
fn garbage_never_stops_the_server() {
    let dir = testkit::tempdir().unwrap();
    let server = Server::start(&bin!("server"), &[], dir.path());
    let mut rng = support::seeded("tcp12-chunks garbage_never_stops_the_server");
    let sent = support::tcp_garbage(
        server.addr(),
        &mut rng,
        200,
        &["Hola servidor", "EXITO", "exit"],
        &[],
    );
    eprintln!("sent: {sent:?}");
    assert_eq!(sent.total(), 200);
    assert!(sent.random > 0 && sent.oversized > 0 && sent.truncated > 0 && sent.commands > 0);
    let a = testkit::client(&bin!("client"), dir.path())
        .args(["--port", &server.port(), "hola"])
        .assert()
        .success();
    let out = testkit::stdout(&a);
    assert!(out.contains("Hello Client"), "{out}");
    let err = server.stderr();
    assert!(!err.contains("panicked"), "{err}");
}

mod parser {
    use proptest::prelude::*;
    use std::io::{self, Read};
    use tcp12_chunks::{recv_in_chunks, ChunkText, MTU};

    /// A reader that brings at most `step` bytes per read, as TCP may.
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

    proptest! {
        #![proptest_config(ProptestConfig { cases: 512, failure_persistence: None, ..ProptestConfig::default() })]

        /// Any bytes, arriving in reads of any size, come back whole when they fit the limit
        /// and as `InvalidData` when they do not; no chunk is longer than `MTU`; and the
        /// printable text of the chunks is exactly the message's text when it is UTF-8,
        /// wherever the chunk boundaries cut its characters.
        #[test]
        fn recv_in_chunks_and_chunk_text_read_any_split(
            data in prop_oneof![
                prop::collection::vec(any::<u8>(), 0..200),
                "[a-zñé€😀 ]{0,60}".prop_map(String::into_bytes),
            ],
            step in 1usize..=25,
            max_len in 0usize..220,
        ) {
            let mut chunks: Vec<Vec<u8>> = Vec::new();
            let got = recv_in_chunks(&mut Trickle { data: &data, step }, max_len, |c| {
                chunks.push(c.to_vec())
            });
            if data.len() <= max_len {
                prop_assert_eq!(got.expect("fits the limit"), data.clone());
            } else {
                prop_assert_eq!(got.expect_err("over the limit").kind(), io::ErrorKind::InvalidData);
            }
            prop_assert!(chunks.iter().all(|c| !c.is_empty() && c.len() <= MTU));
            let seen: Vec<u8> = chunks.concat();
            prop_assert_eq!(&data[..seen.len()], seen.as_slice());

            let mut text = ChunkText::default();
            let mut printed: String = chunks.iter().map(|c| text.push(c)).collect();
            printed.extend(text.finish());
            if let Ok(whole) = std::str::from_utf8(&seen) {
                prop_assert_eq!(printed, whole);
            }
        }
    }
}
