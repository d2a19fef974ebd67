//! Reliability tests of Ej. 1 over UDP (docs/reliability.md): properties of the datagram
//! check, and seeded garbage datagrams at run time.

use testkit::chaos as support;

use ej1_hello_udp::{message, MAX_MESSAGE_LEN};
use proptest::prelude::*;
use std::net::UdpSocket;

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, failure_persistence: None, ..ProptestConfig::default() })]

    /// `message` never panics; it accepts exactly the whole (not truncated) UTF-8 datagrams,
    /// unchanged, and says why it refuses the others.
    #[test]
    fn message_accepts_exactly_whole_utf8_datagrams(
        data in prop_oneof![
            prop::collection::vec(any::<u8>(), 0..=MAX_MESSAGE_LEN),
            ".{0,30}".prop_map(String::into_bytes),
        ],
        truncated in any::<bool>(),
    ) {
        match message(&data, truncated) {
            Ok(text) => {
                prop_assert!(!truncated);
                prop_assert_eq!(text.as_bytes(), &data[..]);
            }
            Err(why) => {
                prop_assert!(truncated || std::str::from_utf8(&data).is_err());
                prop_assert!(why.starts_with("message is "), "{}", why);
            }
        }
    }
}

/// 1,000 seeded garbage datagrams (random bytes, cut and oversized ones, and datagrams with
/// a sockcore header, which mean nothing here) never stop the server or make it panic; a
/// real client is answered after them.
#[test]
fn garbage_datagrams_never_stop_the_server() {
    let s = testkit::pair!(&[]);
    let probe = UdpSocket::bind("127.0.0.1:0").unwrap();
    let mut rng = support::seeded("ej1-hello-udp garbage_datagrams_never_stop_the_server");
    let sent = support::udp_garbage(s.server.addr(), &mut rng, 1000, || {
        // The server answers datagrams in order: the probe's answer means it read the burst.
        support::udp_probe(
            &probe,
            s.server.addr(),
            b"probe",
            b"Mensaje recibido (5 bytes)",
        );
    });
    assert_eq!(sent.total(), 1000);
    assert!(sent.oversized > 0);
    let a = s.client(&["Hola", "mundo!"], "").success();
    assert!(testkit::stdout(&a).contains("Mensaje recibido (11 bytes)"));
    let err = s.server.stderr();
    assert!(!err.contains("panicked"), "{err}");
    assert!(err.contains("longer than 1024 bytes"), "{err}");
}
