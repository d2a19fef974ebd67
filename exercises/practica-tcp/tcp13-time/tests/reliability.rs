//! Reliability tests of TCP 1.3 (docs/reliability.md): seeded garbage at run time (EXIT,
//! which ends the server by design, is never sent) and a property test of the command judge
//! and parser (`tcp13_time::judge_command`, `parse_command`). The server takes no file names.

use testkit::chaos as support;

use testkit::{bin, Server};

/// Seeded garbage (random bytes, cut frames, 4-byte headers up to 4 GiB, protocol-looking
/// words with random arguments) on 200 connections never stops the server or makes it
/// panic; a real client is served after it.
#[test]
fn garbage_never_stops_the_server() {
    let dir = testkit::tempdir().unwrap();
    let server = Server::start(&bin!("server"), &[], dir.path());
    let mut rng = support::seeded("tcp13-time garbage_never_stops_the_server");
    let sent = support::tcp_garbage(
        server.addr(),
        &mut rng,
        200,
        &["TIME", "TIM", "EXITO", "time"],
        &[],
    );
    eprintln!("sent: {sent:?}");
    assert_eq!(sent.total(), 200);
    assert!(sent.random > 0 && sent.oversized > 0 && sent.truncated > 0 && sent.commands > 0);
    let a = testkit::client(&bin!("client"), dir.path())
        .args(["--port", &server.port(), "--queries", "5"])
        .assert()
        .success();
    let out = testkit::stdout(&a);
    assert!(out.contains("5 TIME queries in "), "{out}");
    let err = server.stderr();
    assert!(!err.contains("panicked"), "{err}");
}

mod parser {
    use proptest::prelude::*;
    use sockcore::unframed::Verdict;
    use tcp13_time::{judge_command, parse_command, Command, EXIT, TIME};

    /// Arbitrary bytes, and the commands cut, glued, miscased or with a byte around them.
    fn bytes() -> impl Strategy<Value = Vec<u8>> {
        let command = prop_oneof![
            Just(TIME),
            Just(EXIT),
            Just("time"),
            Just("EXI"),
            Just("TIM")
        ];
        prop_oneof![
            proptest::collection::vec(any::<u8>(), 0..32),
            (
                proptest::collection::vec(any::<u8>(), 0..2),
                command.clone(),
                0..=4usize,
                command
            )
                .prop_map(|(pre, a, cut, b)| [
                    &pre,
                    &a.as_bytes()[..cut.min(a.len())],
                    b.as_bytes()
                ]
                .concat()),
            (
                proptest::collection::vec(command_bytes(), 1..4),
                proptest::collection::vec(any::<u8>(), 0..2)
            )
                .prop_map(|(cmds, tail)| [cmds.concat(), tail].concat()),
        ]
    }

    fn command_bytes() -> impl Strategy<Value = Vec<u8>> {
        prop_oneof![
            Just(TIME.as_bytes().to_vec()),
            Just(EXIT.as_bytes().to_vec())
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 512, failure_persistence: None, ..ProptestConfig::default() })]

        /// `judge_command` and `parse_command` never panic on any bytes; a whole command is
        /// exactly `TIME` or `EXIT` at the start (and parses to it), a partial one is a
        /// proper beginning of one, and anything else is invalid; only the two commands parse.
        #[test]
        fn judge_and_parse_command_read_exactly_the_protocol(bytes in bytes()) {
            let starts = |c: &str| bytes.starts_with(c.as_bytes());
            match judge_command(&bytes) {
                Verdict::Whole(len) => {
                    prop_assert!(len == 4 && (starts(TIME) || starts(EXIT)), "{:?}", bytes);
                    let expected = if starts(TIME) { Command::Time } else { Command::Exit };
                    prop_assert_eq!(parse_command(&bytes[..len]), Some(expected));
                }
                Verdict::Partial => prop_assert!(
                    bytes.len() < 4 && [TIME, EXIT].iter().any(|c| c.as_bytes().starts_with(&bytes)),
                    "{:?}", bytes
                ),
                Verdict::Invalid => prop_assert!(
                    [TIME, EXIT].iter().all(|c| !bytes.starts_with(c.as_bytes()) && !c.as_bytes().starts_with(&bytes)),
                    "{:?}", bytes
                ),
                Verdict::WholeUnlessMore => prop_assert!(false, "{:?}", bytes),
            }
            let parsed = parse_command(&bytes);
            prop_assert_eq!(parsed == Some(Command::Time), bytes == TIME.as_bytes());
            prop_assert_eq!(parsed == Some(Command::Exit), bytes == EXIT.as_bytes());
        }
    }
}
