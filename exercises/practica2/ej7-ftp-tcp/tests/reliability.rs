//! Reliability tests of Ej. 7 (docs/reliability.md): the one table of hostile names for GET
//! and SEND, a model-checked fuzz of the session's commands over the wire, property tests of
//! the command parser and the user-name check (`ej7_ftp_tcp::parse_command`, `check_user`),
//! seeded garbage at run time, and clients and servers killed in the middle of a get or a put.

use testkit::chaos as support;

use proptest::prelude::Rng;
use sockcore::frame::{recv_file, recv_text, send_text, MAX_FRAME_LEN};
use std::fs;
use std::net::TcpStream;
use support::{hostile_inputs, partial_files, random_command, tree, wait_until, Dir, Gate};
use testkit::{dir_names, random_file, Pair, Proc};

fn setup() -> Pair {
    testkit::pair!(&["--dir", "."])
}

/// The next frame as text; a close is a test failure.
fn recv(s: &mut TcpStream) -> String {
    recv_text(s, MAX_FRAME_LEN)
        .expect("reading a frame")
        .expect("a frame, not a close")
}

/// Reads the n names after `LIST <n>`.
fn recv_names(s: &mut TcpStream, header: &str) -> Vec<String> {
    let n: usize = header
        .strip_prefix("LIST ")
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("not a listing: {header:?}"));
    (0..n).map(|_| recv(s)).collect()
}

/// A raw session: connected, `USER prueba` sent, the listing on connect read.
fn raw_session(p: &Pair) -> (TcpStream, Vec<String>) {
    let mut c = p.raw_tcp();
    send_text(&mut c, "USER prueba").expect("sending the name");
    let header = recv(&mut c);
    let names = recv_names(&mut c, &header);
    (c, names)
}

/// Every hostile name, the symlinks leading out and a name that is a directory each get
/// their own error for GET and for SEND, on one session that stays open; the listing never
/// shows them, no byte from outside the root is sent, nothing changes inside or outside.
#[test]
fn hostile_names_are_refused_for_get_and_send_and_nothing_changes() {
    let s = setup();
    let outside = testkit::tempdir().unwrap();
    fs::write(s.srv("keep.txt"), "keep").unwrap();
    let inputs = hostile_inputs(s.srv_dir.path(), outside.path());
    let (root_before, outside_before) = (tree(s.srv_dir.path()), tree(outside.path()));
    let (mut c, listing) = raw_session(&s);
    assert_eq!(listing, ["keep.txt"]);
    for (name, why) in &inputs {
        for verb in ["GET", "SEND"] {
            let want = match (why, verb) {
                (Some(why), _) => format!("ERROR {why}"),
                (None, "GET") => format!("ERROR {name} is not a regular file"),
                (None, _) => format!("ERROR {name} is a directory on the server"),
            };
            send_text(&mut c, &format!("{verb} {name}")).unwrap();
            assert_eq!(
                recv(&mut c),
                want,
                "{verb} {}",
                testkit::hostile::show(name)
            );
        }
    }
    send_text(&mut c, "LIST").unwrap();
    let header = recv(&mut c);
    assert_eq!(recv_names(&mut c, &header), ["keep.txt"]);
    assert_eq!(tree(s.srv_dir.path()), root_before);
    assert_eq!(tree(outside.path()), outside_before);
}

/// Commands made of the protocol's verbs with random arguments, and arbitrary text, each get
/// exactly one well-formed answer and leave the session in step (a listing, a file, an
/// upload taken, or `ERROR`), over 400 commands; the server never panics.
#[test]
fn random_commands_get_one_answer_each_and_session_stays_in_step() {
    let s = setup();
    fs::write(s.srv("a.txt"), "aaa").unwrap();
    let mut rng = support::seeded("ej7-ftp-tcp random_commands_get_one_answer_each");
    let verbs = [
        "LIST",
        "GET",
        "SEND",
        "EXIT",
        "USER",
        "OVERWRITE",
        "get",
        "a.txt",
    ];
    let (mut c, _) = raw_session(&s);
    let mut sessions = 1;
    for _ in 0..400 {
        let command = match rng.gen_range(0..4) {
            0 => String::from_utf8_lossy(&support::random_bytes(&mut rng, 12)).into_owned(),
            1 => "GET a.txt".to_string(),
            _ => String::from_utf8_lossy(&random_command(&mut rng, &verbs)).into_owned(),
        };
        send_text(&mut c, &command).unwrap();
        let reply = recv(&mut c);
        if reply.starts_with("LIST ") {
            recv_names(&mut c, &reply);
        } else if let Some(size) = reply.strip_prefix("OK ") {
            let size: u64 = size.parse().expect("OK <size>");
            recv_file(&mut c, &mut Vec::new(), size, |_| Ok(()), |_| {}).unwrap();
        } else if reply == "OK" || reply == "EXISTS" {
            // SEND with a fine name: cancel it, or send an empty file.
            if reply == "EXISTS" {
                send_text(&mut c, "OVERWRITE no").unwrap();
                continue;
            }
            sockcore::frame::send_file(&mut c, &mut &b""[..], 0, |_| {}).unwrap();
            assert_eq!(recv(&mut c), "RECEIVED 0 00000000", "{command:?}");
        } else if reply == "Sesion finalizada" {
            assert_eq!(command, "EXIT");
            (c, _) = raw_session(&s);
            sessions += 1;
        } else {
            assert!(reply.starts_with("ERROR "), "{command:?}: {reply:?}");
        }
    }
    assert!(sessions > 1, "EXIT was never drawn");
    assert!(!s.server.stderr().contains("panicked"));
    assert_eq!(fs::read(s.srv("a.txt")).unwrap(), b"aaa");
}

/// Seeded garbage (random bytes, cut frames, headers up to 4 GiB, protocol words with random
/// arguments, half of it after a valid `USER`) on 200 connections never stops the server or
/// makes it panic; a real client is served after it.
#[test]
fn garbage_never_stops_the_server() {
    let s = setup();
    let mut rng = support::seeded("ej7-ftp-tcp garbage_never_stops_the_server");
    let sent = support::tcp_garbage(
        s.server.addr(),
        &mut rng,
        200,
        &["USER", "LIST", "GET", "SEND", "EXIT", "OVERWRITE"],
        &["USER fuzz"],
    );
    assert_eq!(sent.total(), 200);
    assert!(sent.oversized > 0 && sent.truncated > 0 && sent.commands > 0);
    assert_eq!(partial_files(s.srv_dir.path()), Vec::<String>::new());
    fs::write(s.cli("after.txt"), "still here").unwrap();
    s.client(&["--name", "ana"], "put after.txt\nexit\n")
        .success();
    assert_eq!(fs::read(s.srv("after.txt")).unwrap(), b"still here");
    let err = s.server.stderr();
    assert!(!err.contains("panicked"), "{err}");
    assert!(err.contains("exceeds limit 65536"), "{err}");
}

/// Size of the file of the fault tests, in bytes: far more than the socket buffers of both
/// ends and the gate, so a transfer held at the gate cannot complete.
const BIG: u64 = 32 << 20;

/// Bytes the gate lets through before it holds a transfer.
const HOLD_AT: u64 = 1 << 20;

/// Starts the real client through `gate` as user `ana`, typing `command`.
fn client_through(s: &Pair, gate: &Gate, command: &str) -> Proc {
    let mut c = Proc::spawn(
        &s.client_bin,
        &[
            "--port",
            &gate.port(),
            "--name",
            "ana",
            "--overwrite",
            "yes",
        ],
        s.cli_dir.path(),
    );
    c.write_stdin(command);
    c
}

/// The client killed (SIGKILL) while a put is held at 1 MiB, for a new file and over an old
/// one: no partial file stays on the server, the old file is intact, and the next client is
/// served.
#[test]
fn client_killed_mid_put_leaves_no_partial_file() {
    let s = setup();
    fs::write(s.srv("old.bin"), "original").unwrap();
    for name in ["new.bin", "old.bin"] {
        random_file(&s.cli(name), BIG, 11);
        let gate = Gate::start(s.server.addr(), Dir::ToServer, HOLD_AT);
        let mut c = client_through(&s, &gate, &format!("put {name}\n"));
        gate.wait_held();
        wait_until("the server's temporary file", || {
            !partial_files(s.srv_dir.path()).is_empty()
        });
        c.kill();
        gate.open();
        s.server.wait_stderr(&format!("receiving {name}: "));
        wait_until("the temporary file to go", || {
            partial_files(s.srv_dir.path()).is_empty()
        });
        assert_eq!(dir_names(s.srv_dir.path()), ["old.bin"]);
        assert_eq!(fs::read(s.srv("old.bin")).unwrap(), b"original");
    }
    s.client(&["--name", "eva"], "list\nexit\n").success();
    assert!(!s.server.stderr().contains("panicked"));
}

/// The client killed while a get is held at 1 MiB: the server notices, its directory is
/// unchanged, and the next client is served.
#[test]
fn client_killed_mid_get_leaves_server_unchanged() {
    let s = setup();
    random_file(&s.srv("big.bin"), BIG, 12);
    let before = tree(s.srv_dir.path());
    let gate = Gate::start(s.server.addr(), Dir::ToClient, HOLD_AT);
    let mut c = client_through(&s, &gate, "get big.bin\n");
    gate.wait_held();
    c.kill();
    gate.open();
    s.server.wait_stderr("sending big.bin: ");
    assert_eq!(tree(s.srv_dir.path()), before);
    assert!(!s.cli("big.bin").exists());
    s.client(&["--name", "eva"], "list\nexit\n").success();
}

/// The server killed (SIGKILL) while a put is held at 1 MiB: the client exits 1 with an
/// error and keeps its file.
#[test]
fn server_killed_mid_put_client_exits_1_and_keeps_file() {
    let mut s = setup();
    let data = fs::read(random_file(&s.cli("big.bin"), BIG, 13)).unwrap();
    let gate = Gate::start(s.server.addr(), Dir::ToServer, HOLD_AT);
    let mut c = client_through(&s, &gate, "put big.bin\n");
    gate.wait_held();
    s.server.kill();
    gate.open();
    assert_eq!(c.wait_exit().code(), Some(1), "{}", c.stderr());
    assert!(c.stderr().starts_with("error: "), "{}", c.stderr());
    assert!(fs::read(s.cli("big.bin")).unwrap() == data);
}

/// The server killed while a get is held at 1 MiB, over an older local copy: the client
/// exits 1 with an error, leaves no partial file, and the older copy is intact.
#[test]
fn server_killed_mid_get_client_exits_1_and_keeps_old_file() {
    let mut s = setup();
    random_file(&s.srv("big.bin"), BIG, 14);
    fs::write(s.cli("big.bin"), "older copy").unwrap();
    let gate = Gate::start(s.server.addr(), Dir::ToClient, HOLD_AT);
    let mut c = client_through(&s, &gate, "get big.bin\n");
    gate.wait_held();
    s.server.kill();
    gate.open();
    assert_eq!(c.wait_exit().code(), Some(1), "{}", c.stderr());
    let err = c.stderr();
    assert!(err.starts_with("error: receiving big.bin: "), "{err}");
    assert!(err.contains("peer closed after "), "{err}");
    assert_eq!(dir_names(s.cli_dir.path()), ["big.bin"]);
    assert_eq!(fs::read(s.cli("big.bin")).unwrap(), b"older copy");
}

mod parser {
    use ej7_ftp_tcp::{check_user, parse_command, Command, MAX_USER_LEN};
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig { cases: 512, failure_persistence: None, ..ProptestConfig::default() })]

        /// `parse_command` never panics on any text and reads exactly the protocol: `LIST`
        /// and `EXIT` alone (or with one trailing space), `GET`/`SEND` with whatever follows
        /// the first space, and anything else (wrong case, glued, cut) is unknown.
        #[test]
        fn parse_command_reads_exactly_the_protocol(command in prop_oneof![
            any::<String>(),
            "(LIST|EXIT|GET|SEND|list|Get|LISTA|EXI)( |  )?[a-z./ ]{0,8}",
        ]) {
            let (verb, arg) = command.split_once(' ').unwrap_or((command.as_str(), ""));
            let want = match (verb, arg) {
                ("LIST", "") => Command::List,
                ("EXIT", "") => Command::Exit,
                ("GET", name) => Command::Get(name),
                ("SEND", name) => Command::Send(name),
                _ => Command::Unknown,
            };
            prop_assert_eq!(parse_command(&command), want);
        }

        /// `check_user` never panics and accepts exactly 1 to `MAX_USER_LEN` bytes without
        /// control characters.
        #[test]
        fn check_user_reads_exactly_the_rule(name in prop_oneof![
            any::<String>(),
            "[a-zñ]{60,70}",
            "[a-z\u{1}\u{7f}]{0,3}",
        ]) {
            let valid = (1..=MAX_USER_LEN).contains(&name.len()) && !name.chars().any(char::is_control);
            prop_assert_eq!(check_user(&name).is_ok(), valid, "{:?}", name);
        }
    }
}
