//! Reliability tests of echo-chunked (docs/reliability.md): properties of the transcript
//! formatter for received pieces, and seeded garbage at run time.

use testkit::chaos as support;

use echo_chunked::{received_line, RECV_LEN};
use proptest::prelude::*;
use testkit::{bin, Server};

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, failure_persistence: None, ..ProptestConfig::default() })]

    /// `received_line` never panics on any piece (one cut inside a UTF-8 character
    /// included), and shows a UTF-8 piece unchanged.
    #[test]
    fn received_line_shows_any_piece(
        piece in prop::collection::vec(any::<u8>(), 0..=RECV_LEN),
        text in ".{0,8}",
    ) {
        let line = received_line(&piece);
        prop_assert!(line.starts_with("received \"") && line.ends_with('"'));
        prop_assert_eq!(received_line(text.as_bytes()), format!("received \"{text}\""));
    }
}

/// Seeded garbage (random bytes, cut frames, headers up to 4 GiB, frames of text) on 200
/// connections never stops the sequential server or makes it panic; a real client gets the
/// handout's echo after it.
#[test]
fn garbage_never_stops_the_server() {
    let dir = testkit::tempdir().unwrap();
    let server = Server::start(&bin!("server"), &[], dir.path());
    let mut rng = support::seeded("echo-chunked garbage_never_stops_the_server");
    let sent = support::tcp_garbage(server.addr(), &mut rng, 200, &["This is the message."], &[]);
    assert_eq!(sent.total(), 200);
    let a = testkit::client(&bin!("client"), dir.path())
        .args(["--port", &server.port()])
        .assert()
        .success();
    assert!(testkit::stdout(&a).contains("closing socket"));
    assert!(!server.stderr().contains("panicked"), "{}", server.stderr());
}
