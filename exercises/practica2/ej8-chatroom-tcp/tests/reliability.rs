//! Reliability tests of the TCP chat room (docs/reliability.md): seeded garbage lines at run
//! time and a property test of the nickname and line parsers (`ej8_chatroom_tcp::parse_nick`,
//! `parse_line`). The room takes no file names; a member killed mid-dialogue is
//! `killed_client_is_announced_as_left` in tests/room.rs.

use testkit::chaos as support;

use ej8_chatroom_tcp::{joined, said, JOINED, MAX_LINE_LEN};
use proptest::prelude::Rng;
use proptest::test_runner::TestRng;
use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use testkit::{bin, Proc, Server, WAIT};

/// How many garbage inputs of each kind [`line_garbage`] sent.
#[derive(Debug, Default)]
struct Sent {
    /// Connections that joined with a nickname before their garbage.
    joined: usize,
    /// Random bytes (newlines, NULs, invalid UTF-8 and all).
    random: usize,
    /// Lines longer than [`MAX_LINE_LEN`].
    overlong: usize,
    /// Lines that are not UTF-8.
    not_utf8: usize,
    /// Protocol-looking lines: `salir`, colons, `ERROR: `, CR LF ends, random words.
    commands: usize,
}

impl Sent {
    fn inputs(&self) -> usize {
        self.random + self.overlong + self.not_utf8 + self.commands
    }
}

/// Opens `rounds` connections to the room; on about half of them first joins as `g<i>`,
/// then sends 1 to 8 garbage inputs, closes its sending side and reads whatever the server
/// answers until it closes (each read bounded by [`WAIT`]).
fn line_garbage(addr: SocketAddr, rng: &mut TestRng, rounds: usize) -> Sent {
    let mut sent = Sent::default();
    for i in 0..rounds {
        let mut bytes = Vec::new();
        if rng.gen_bool(0.5) {
            sent.joined += 1;
            bytes.extend(format!("g{i}\n").into_bytes());
        }
        for _ in 0..rng.gen_range(1..9) {
            match rng.gen_range(0..4) {
                0 => {
                    sent.random += 1;
                    let len = rng.gen_range(1..3000);
                    bytes.extend(support::random_bytes(rng, len));
                }
                1 => {
                    sent.overlong += 1;
                    let len = rng.gen_range(MAX_LINE_LEN + 1..5 * MAX_LINE_LEN);
                    bytes.extend(std::iter::repeat_n(b'x', len));
                    bytes.push(b'\n');
                }
                2 => {
                    sent.not_utf8 += 1;
                    bytes.extend(b"\xff\xfe\xc3(");
                    let len = rng.gen_range(0..40);
                    bytes.extend(support::random_bytes(rng, len));
                    bytes.push(b'\n');
                }
                _ => {
                    sent.commands += 1;
                    let line = support::random_command(
                        rng,
                        &["salir", "hola", "a:b", "ERROR: ", "intr_apodo", " ", "\r"],
                    );
                    bytes.extend(line);
                    bytes.extend(if rng.gen_bool(0.5) {
                        &b"\r\n"[..]
                    } else {
                        b"\n"
                    });
                }
            }
        }
        let mut c = TcpStream::connect(addr).expect("the server stopped accepting connections");
        c.set_read_timeout(Some(WAIT)).expect("read timeout");
        c.set_write_timeout(Some(WAIT)).expect("write timeout");
        // The server may close first: then writes fail, which is fine.
        let _ = c.write_all(&bytes);
        let _ = c.shutdown(Shutdown::Write);
        let _ = c.read_to_end(&mut Vec::new());
    }
    sent
}

/// Starts the real client and joins as `nick`.
fn join(server: &Server, dir: &std::path::Path, nick: &str) -> Proc {
    let mut p = Proc::spawn(&bin!("client"), &["--port", &server.port()], dir);
    p.write_stdin(&format!("{nick}\n"));
    p.wait_stdout(JOINED);
    p
}

/// Seeded garbage on 200 connections (random bytes, overlong and non-UTF-8 lines,
/// protocol-looking lines, half of them from joined members) never stops the server or
/// makes it panic; a member who joined before it is still in the room and served, and a
/// newcomer after it joins and chats.
#[test]
fn garbage_lines_never_stop_the_room() {
    let dir = testkit::tempdir().unwrap();
    let server = Server::start(&bin!("server"), &[], dir.path());
    let mut ana = join(&server, dir.path(), "ana");
    let mut rng = support::seeded("ej8-chatroom-tcp garbage_lines_never_stop_the_room");
    let sent = line_garbage(server.addr(), &mut rng, 200);
    eprintln!("sent: {sent:?}, {} inputs", sent.inputs());
    assert!(sent.joined > 50 && sent.overlong > 0 && sent.not_utf8 > 0 && sent.commands > 0);
    assert!(sent.inputs() >= 200);
    ana.write_stdin("sigo aquí\n");
    ana.wait_stdout(&said("ana", "sigo aquí"));
    let mut bea = join(&server, dir.path(), "bea");
    ana.wait_stdout(&joined("bea"));
    bea.write_stdin("hola ana\n");
    ana.wait_stdout(&said("bea", "hola ana"));
    bea.write_stdin("salir\n");
    assert!(bea.wait_exit().success());
    ana.write_stdin("salir\n");
    assert!(ana.wait_exit().success());
    let err = server.stderr();
    assert!(!err.contains("panicked"), "{err}");
    assert!(err.contains("line longer than 1024 bytes"), "{err}");
}

mod parser {
    use ej8_chatroom_tcp::{parse_line, parse_nick, Line, ERROR_PREFIX, MAX_NICK_CHARS, SALIR};
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig { cases: 512, failure_persistence: None, ..ProptestConfig::default() })]

        /// `parse_nick` and `parse_line` never panic on any line; a nickname is accepted
        /// exactly when it has 1 to `MAX_NICK_CHARS` characters, no `:`, no control
        /// characters and no spaces at either end, and is refused with the one error line
        /// otherwise; exactly `salir` leaves, a blank line says nothing, and any other line
        /// is relayed unchanged.
        #[test]
        fn parse_nick_and_parse_line_read_exactly_the_protocol(line in prop_oneof![
            any::<String>(),
            "[ \t]?(salir|SALIR|sali|salirr|ana|ana:|hola)[ \t\n]?",
            "[ \t]{0,3}",
            "[a-zñ ]{30,34}",
            "[a-z:\u{7f}\u{1}]{1,4}",
        ]) {
            let n = line.chars().count();
            let valid = (1..=MAX_NICK_CHARS).contains(&n)
                && line.trim() == line
                && !line.contains(':')
                && !line.chars().any(char::is_control);
            match parse_nick(&line) {
                Ok(nick) => {
                    prop_assert!(valid, "{:?}", line);
                    prop_assert_eq!(nick, line.as_str());
                }
                Err(why) => {
                    prop_assert!(!valid, "{:?}", line);
                    prop_assert!(why.starts_with(ERROR_PREFIX), "{}", why);
                    prop_assert!(why.contains(&format!("de 1 a {MAX_NICK_CHARS} caracteres")), "{}", why);
                }
            }
            match parse_line(&line) {
                Line::Salir => prop_assert_eq!(line.as_str(), SALIR),
                Line::Empty => prop_assert!(line.trim().is_empty(), "{:?}", line),
                Line::Message(text) => {
                    prop_assert_eq!(text, line.as_str());
                    prop_assert!(line != SALIR && !line.trim().is_empty(), "{:?}", line);
                }
            }
        }
    }
}
