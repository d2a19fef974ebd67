//! Reliability tests of udp-echo (docs/reliability.md): properties of the message parsers
//! and seeded garbage datagrams at run time.

use testkit::chaos as support;

use proptest::prelude::*;
use std::net::UdpSocket;
use testkit::{bin, Server};
use udp_echo::{exec_words, parse_buffer, EXEC_PREFIX};

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, failure_persistence: None, ..ProptestConfig::default() })]

    /// `parse_buffer` never panics; it accepts exactly the decimal numbers from 1 to the
    /// largest UDP payload.
    #[test]
    fn parse_buffer_accepts_exactly_1_to_65507(s in prop_oneof![
        any::<String>(),
        "[+-]?[0-9]{1,7}",
        any::<u64>().prop_map(|n| n.to_string()),
    ]) {
        let want = s.parse::<usize>().ok().filter(|n| (1..=65_507).contains(n));
        match parse_buffer(&s) {
            Ok(n) => prop_assert_eq!(Some(n), want),
            Err(e) => {
                prop_assert_eq!(want, None);
                prop_assert_eq!(e, "expected a number of bytes from 1 to 65507");
            }
        }
    }

    /// `exec_words` never panics; it answers exactly the messages that start with `/exec `,
    /// with their words, none of them empty or holding whitespace.
    #[test]
    fn exec_words_splits_only_exec_messages(message in prop_oneof![
        any::<String>(),
        "/exec[ \t]{0,2}.{0,20}",
        "/exec ([a-z;$|]{0,4}[ \t\n]{1,3}){0,4}",
    ]) {
        match exec_words(&message) {
            Some(words) => {
                prop_assert!(message.starts_with(EXEC_PREFIX));
                prop_assert!(words.iter().all(|w| !w.is_empty() && !w.contains(char::is_whitespace)));
                let rest = &message[EXEC_PREFIX.len()..];
                prop_assert_eq!(words.join(" "), rest.split_whitespace().collect::<Vec<_>>().join(" "));
            }
            None => prop_assert!(!message.starts_with(EXEC_PREFIX)),
        }
    }
}

/// 1,000 seeded garbage datagrams (random bytes, cut and oversized ones, and datagrams with
/// a sockcore header, which mean nothing here) never stop the echo server or make it
/// panic; a real client gets its echo after them.
#[test]
fn garbage_datagrams_never_stop_the_server() {
    let dir = testkit::tempdir().unwrap();
    let server = Server::start(&bin!("server"), &[], dir.path());
    let probe = UdpSocket::bind("127.0.0.1:0").unwrap();
    let mut rng = support::seeded("udp-echo garbage_datagrams_never_stop_the_server");
    let sent = support::udp_garbage(server.addr(), &mut rng, 1000, || {
        // The server answers datagrams in order: the probe's answer means it read the burst.
        support::udp_probe(&probe, server.addr(), b"probe", b"probe");
    });
    assert_eq!(sent.total(), 1000);
    assert!(sent.oversized > 0);
    let a = testkit::client(&bin!("client"), dir.path())
        .args(["--port", &server.port()])
        .assert()
        .success();
    assert!(testkit::stdout(&a).contains("TyR: Echo sobre UDP"));
    let err = server.stderr();
    assert!(!err.contains("panicked"), "{err}");
    assert!(err.contains("truncated"), "{err}");
}
