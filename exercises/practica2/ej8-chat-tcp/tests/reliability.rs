//! Reliability tests of the one-to-one TCP chat (docs/reliability.md): seeded garbage
//! connections at run time, and a property test of its name check (`nombre_valido`; lines
//! are read by sockcore's line reader, property-tested there). The chat takes no file names;
//! a client killed mid-chat is `killed_client_is_reported_by_the_server` in tests/chat.rs.

use testkit::chaos as support;

use ej8_chat_tcp::{nombre_valido, MAX_LINE_LEN, MAX_NAME_CHARS};
use proptest::prelude::Rng;
use proptest::test_runner::TestRng;
use sockcore::lines::LineReader;
use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use testkit::{bin, Proc, Server, WAIT};

/// How many garbage inputs of each kind [`handshake_garbage`] sent.
#[derive(Debug, Default)]
struct Sent {
    /// Connections closed without sending a byte.
    silent: usize,
    /// Random bytes (newlines, NULs, invalid UTF-8 and all).
    random: usize,
    /// Lines longer than [`MAX_LINE_LEN`] (half of them without their newline).
    overlong: usize,
    /// Lines that are not UTF-8.
    not_utf8: usize,
    /// Protocol-looking lines: `desconectar`, `exit`, names with spaces at either end, control
    /// characters or one character too many, empty lines, CR LF ends, random words.
    commands: usize,
    /// Connections that end with a valid name but no newline (a name cut short).
    cut: usize,
    /// Connections whose first line happened to be a valid name: a space was put in front,
    /// since a valid name is a client by design (see the test's doc comment).
    defused: usize,
}

impl Sent {
    fn inputs(&self) -> usize {
        self.random + self.overlong + self.not_utf8 + self.commands + self.cut
    }
}

/// True when `bytes`, sent as a whole connection, would be taken as a client: their first
/// line, read by the same line reader the server uses, is a valid name.
fn says_a_valid_name(bytes: &[u8]) -> bool {
    matches!(
        LineReader::new(bytes, MAX_LINE_LEN).recv_line(),
        Ok(Some(name)) if nombre_valido(&name)
    )
}

/// Opens `rounds` connections to the server; on each sends 0 to 4 garbage inputs whose first
/// line is never a valid name, closes its sending side and reads whatever the server answers
/// (its name) until it closes (each read and write bounded by [`WAIT`]).
fn handshake_garbage(addr: SocketAddr, rng: &mut TestRng, rounds: usize) -> Sent {
    let too_long = "n".repeat(MAX_NAME_CHARS + 1);
    let verbs = [
        "desconectar",
        "exit",
        "hola",
        "bea",
        " ana",
        "ana ",
        "a\tb",
        "\u{7f}",
        "",
        "\r",
        &too_long,
    ];
    let mut sent = Sent::default();
    for _ in 0..rounds {
        let mut bytes = Vec::new();
        let pieces = rng.gen_range(0..5);
        if pieces == 0 {
            sent.silent += 1;
        }
        for _ in 0..pieces {
            match rng.gen_range(0..5) {
                0 => {
                    sent.random += 1;
                    let len = rng.gen_range(1..3000);
                    bytes.extend(support::random_bytes(rng, len));
                }
                1 => {
                    sent.overlong += 1;
                    let len = rng.gen_range(MAX_LINE_LEN + 1..5 * MAX_LINE_LEN);
                    bytes.extend(std::iter::repeat_n(b'x', len));
                    if rng.gen_bool(0.5) {
                        bytes.push(b'\n');
                    }
                }
                2 => {
                    sent.not_utf8 += 1;
                    bytes.extend(b"\xff\xfe\xc3(");
                    let len = rng.gen_range(0..40);
                    bytes.extend(support::random_bytes(rng, len));
                    bytes.push(b'\n');
                }
                3 => {
                    sent.commands += 1;
                    bytes.extend(support::random_command(rng, &verbs));
                    bytes.extend(if rng.gen_bool(0.5) {
                        &b"\r\n"[..]
                    } else {
                        b"\n"
                    });
                }
                _ => {
                    sent.cut += 1;
                    bytes.extend(b"ana");
                    break;
                }
            }
        }
        if says_a_valid_name(&bytes) {
            sent.defused += 1;
            bytes.insert(0, b' ');
            assert!(!says_a_valid_name(&bytes));
        }
        let mut c = TcpStream::connect(addr).expect("the server stopped accepting connections");
        c.set_read_timeout(Some(WAIT)).expect("read timeout");
        c.set_write_timeout(Some(WAIT)).expect("write timeout");
        // The server stops reading after the first line and closes: then writes fail, which
        // is fine.
        let _ = c.write_all(&bytes);
        let _ = c.shutdown(Shutdown::Write);
        let _ = c.read_to_end(&mut Vec::new());
    }
    sent
}

/// 200 seeded garbage connections (silent, random bytes, overlong and non-UTF-8 lines,
/// protocol-looking lines, a name cut short) never take the chat's only seat, stop the
/// server or make it panic: each is refused on stderr, and then a real client chats exactly
/// as in `names_exchanged_turns_alternate_and_desconectar_ends_both`. (A connection whose
/// first line is a valid name is a client by design, and its chat is the server's last; so
/// every garbage connection here fails the name exchange, the only garbage that reaches a
/// waiting server.)
#[test]
fn garbage_never_stops_the_server() {
    let dir = testkit::tempdir().unwrap();
    let mut server = Server::start(&bin!("server"), &["--name", "bea"], dir.path());
    let mut rng = support::seeded("ej8-chat-tcp garbage_never_stops_the_server");
    let sent = handshake_garbage(server.addr(), &mut rng, 200);
    eprintln!("sent: {sent:?}, {} inputs", sent.inputs());
    assert!(sent.silent > 0 && sent.overlong > 0 && sent.not_utf8 > 0 && sent.commands > 0);
    assert!(sent.cut > 0 && sent.inputs() >= 200);

    server.write_stdin("hola ana\nbien, ¿y tú?\n");
    let mut c = Proc::spawn(&bin!("client"), &["--port", &server.port()], dir.path());
    c.write_stdin("ana\nhola\n¿qué tal?\ndesconectar\n");
    assert!(c.wait_exit().success(), "client: {}", c.stderr());
    assert!(server.wait_exit().success(), "server: {}", server.stderr());
    assert_eq!(
        c.stdout(),
        "Introduce tu nombre: ana\n\
         -----bea se ha unido-----\n\
         ana: hola\n\
         bea: hola ana\n\
         ana: ¿qué tal?\n\
         bea: bien, ¿y tú?\n\
         ana: desconectar\n\
         chat finalizado\n"
    );
    assert_eq!(
        server.stdout(),
        "-----ana se ha unido-----\n\
         ana: hola\n\
         bea: hola ana\n\
         ana: ¿qué tal?\n\
         bea: bien, ¿y tú?\n\
         ana ha salido del chat\n\
         chat finalizado\n"
    );
    let err = server.stderr();
    assert!(!err.contains("panicked"), "{err}");
    assert_eq!(
        err.matches("waiting for another client").count(),
        200,
        "{err}"
    );
    for reason in [
        "closed the connection before saying its name",
        "line longer than 1024 bytes",
        "line is not valid UTF-8",
        "is not valid; waiting",
        "peer closed in the middle of a line",
    ] {
        assert!(err.contains(reason), "no {reason:?} in: {err}");
    }
}

mod parser {
    use ej8_chat_tcp::{nombre_valido, MAX_NAME_CHARS};
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig { cases: 512, failure_persistence: None, ..ProptestConfig::default() })]

        /// `nombre_valido` never panics on any text, and accepts a name exactly when it has
        /// 1 to `MAX_NAME_CHARS` characters, no control characters and no spaces at either end.
        #[test]
        fn nombre_valido_reads_exactly_the_rule(name in prop_oneof![
            any::<String>(),
            "[ \t]?(ana|bea|desconectar|exit)[ \t\n\r]?",
            "[ \t]{0,3}",
            "[a-zñ ]{30,34}",
            "[a-z\u{7f}\u{1}]{1,4}",
        ]) {
            let n = name.chars().count();
            let valid = (1..=MAX_NAME_CHARS).contains(&n)
                && name.trim() == name
                && !name.chars().any(char::is_control);
            prop_assert_eq!(nombre_valido(&name), valid, "{:?}", name);
        }
    }
}
