//! Reliability tests of TCP 1.1 (docs/reliability.md): seeded garbage at run time (EXIT,
//! which ends the server by design, is never sent) and a property test of the message parser
//! (`tcp11_greeting::parse_message`). The server takes no file names.

use testkit::chaos as support;

use testkit::{bin, Server};

/// Seeded garbage (random bytes, cut frames, 4-byte headers up to 4 GiB, protocol-looking
/// words with random arguments) on 200 connections never stops the server or makes it
/// panic; a real client is served after it.
#[test]
fn garbage_never_stops_the_server() {
    let dir = testkit::tempdir().unwrap();
    let server = Server::start(&bin!("server"), &[], dir.path());
    let mut rng = support::seeded("tcp11-greeting garbage_never_stops_the_server");
    let sent = support::tcp_garbage(
        server.addr(),
        &mut rng,
        200,
        &["Hola servidor", "EXITO", "exit", "Hi"],
        &[],
    );
    eprintln!("sent: {sent:?}");
    assert_eq!(sent.total(), 200);
    assert!(sent.random > 0 && sent.oversized > 0 && sent.truncated > 0 && sent.commands > 0);
    let a = testkit::client(&bin!("client"), dir.path())
        .args(["--port", &server.port(), "Hola servidor"])
        .assert()
        .success();
    let out = testkit::stdout(&a);
    assert!(
        out.contains("Received data from server: Hi TCP Client"),
        "{out}"
    );
    let err = server.stderr();
    assert!(!err.contains("panicked"), "{err}");
}

mod parser {
    use proptest::prelude::*;
    use tcp11_greeting::{parse_message, Message, EXIT};

    proptest! {
        #![proptest_config(ProptestConfig { cases: 512, failure_persistence: None, ..ProptestConfig::default() })]

        /// `parse_message` never panics on any bytes; exactly `EXIT` is the exit, any other
        /// UTF-8 text is a greeting given back unchanged, and anything else is refused as not
        /// UTF-8.
        #[test]
        fn parse_message_reads_exactly_the_protocol(bytes in prop_oneof![
            proptest::collection::vec(any::<u8>(), 0..64),
            any::<String>().prop_map(String::into_bytes),
            "[ \t]?(EXIT|exit|Exit|EXI|XIT|Hola servidor)[ \t\n]?".prop_map(String::into_bytes),
            (proptest::collection::vec(any::<u8>(), 0..2), proptest::collection::vec(any::<u8>(), 0..2))
                .prop_map(|(a, b)| [a, EXIT.as_bytes().to_vec(), b].concat()),
        ]) {
            match (parse_message(bytes.clone()), std::str::from_utf8(&bytes)) {
                (Ok(Message::Exit), text) => prop_assert_eq!(text, Ok(EXIT)),
                (Ok(Message::Greeting(data)), Ok(text)) => {
                    prop_assert_eq!(data.as_str(), text);
                    prop_assert_ne!(text, EXIT);
                }
                (Err(_), Err(_)) => {}
                (got, text) => prop_assert!(false, "{:?} for {:?}", got, text),
            }
        }
    }
}
