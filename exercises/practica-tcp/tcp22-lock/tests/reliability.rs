//! Reliability tests of TCP 2.2 (docs/reliability.md): the one table of hostile names,
//! seeded garbage at run time, clients and servers killed in the middle of a download and of
//! a PUT, and a property test of the command parser (`tcp22_lock::parse_command`).

use testkit::chaos as support;

use sockcore::files::Root;
use sockcore::frame::{recv_text, send_text, MAX_FRAME_LEN};
use std::fs;
use std::net::{SocketAddr, TcpStream};
use support::{hostile_inputs, partial_files, tree, wait_until, Dir, Gate, DIR_NAME};
use testkit::{dir_names, random_file, Pair, Proc, WAIT};

/// The server's answers.
const LOCKED: &str = "SUCCESS: File has been associated with your address";
const MODIFIED: &str = "File has been modified";

fn setup() -> Pair {
    testkit::pair!(&["--dir", "."])
}

/// A raw connection to `addr`, with a read timeout.
fn raw(addr: SocketAddr) -> TcpStream {
    let c = TcpStream::connect(addr).expect("connecting");
    c.set_read_timeout(Some(WAIT)).expect("read timeout");
    c
}

/// Sends `command` on `c` and returns the server's one text answer.
fn ask(c: &mut TcpStream, command: &str) -> String {
    send_text(c, command).expect("sending a command");
    recv_text(c, MAX_FRAME_LEN)
        .expect("reading the answer")
        .expect("an answer")
}

/// Tries to take the lock of `name` on a new connection, then says BYE (releasing it).
fn try_lock(addr: SocketAddr, name: &str) -> String {
    let mut c = raw(addr);
    let answer = ask(&mut c, &format!("LOCK {name}"));
    assert_eq!(ask(&mut c, "BYE"), "Bye");
    answer
}

/// What the server must answer to `GET`, `LOCK` or `PUT` of `name`: the reason
/// `Root::resolve` refuses it, the directory refused as not a regular file, or not found.
fn expected_answer(root: &Root, name: &str) -> String {
    match root.resolve(name) {
        Err(e) => format!("ERROR {e}"),
        Ok(p) if p.is_dir() => format!("ERROR {name} is not a regular file"),
        Ok(p) => {
            assert!(
                !p.exists(),
                "{} exists in the root",
                testkit::hostile::show(name)
            );
            "File not found".to_string()
        }
    }
}

/// `GET`, `LOCK` and `PUT` of every hostile name, of the symlinks leading out and of a
/// directory, on one session, each get their own answer, never a file, a lock or a go-ahead;
/// nothing inside or outside the root changes, and the session goes on.
#[test]
fn hostile_names_are_refused_for_get_lock_put_and_nothing_changes() {
    let s = setup();
    let outside = testkit::tempdir().unwrap();
    fs::write(s.srv("keep.txt"), "keep").unwrap();
    let inputs = hostile_inputs(s.srv_dir.path(), outside.path());
    let root = Root::new(s.srv_dir.path()).unwrap();
    let (root_before, outside_before) = (tree(s.srv_dir.path()), tree(outside.path()));
    let mut c = raw(s.server.addr());
    let mut tried = 0;
    for (name, _) in &inputs {
        let want = expected_answer(&root, name);
        for command in ["GET", "LOCK", "PUT"] {
            let got = ask(&mut c, &format!("{command} {name}"));
            assert_eq!(got, want, "{command} {}", testkit::hostile::show(name));
            tried += 1;
        }
    }
    assert_eq!(tried, inputs.len() * 3);
    assert_eq!(ask(&mut c, "LOCK keep.txt"), LOCKED, "the session went on");
    assert_eq!(ask(&mut c, "BYE"), "Bye");
    assert_eq!(tree(s.srv_dir.path()), root_before);
    assert_eq!(tree(outside.path()), outside_before);
    assert!(inputs.iter().any(|(n, _)| n == DIR_NAME));
    assert!(inputs.len() > testkit::hostile::names().len());
    let err = s.server.stderr();
    assert!(!err.contains("panicked"), "{err}");
}

/// Seeded garbage on 200 connections, half of them holding the lock of data.txt first
/// (random bytes, cut frames, headers up to 4 GiB, the protocol's commands with random
/// arguments, PUTs with garbage bodies) never stops the server or makes it panic; data.txt
/// is unchanged, no temporary file stays, every lock is released, and a real client can
/// then lock and replace the file.
#[test]
fn garbage_never_stops_the_server_and_releases_every_lock() {
    let s = setup();
    fs::write(s.srv("data.txt"), "version 1\n").unwrap();
    let before = tree(s.srv_dir.path());
    let mut rng = support::seeded("tcp22-lock garbage_never_stops_the_server");
    let sent = support::tcp_garbage(
        s.server.addr(),
        &mut rng,
        200,
        &[
            "GET",
            "LOCK",
            "PUT",
            "TIME",
            "BYE",
            "PUT data.txt",
            "GET data.txt",
        ],
        &["LOCK data.txt"],
    );
    assert_eq!(sent.total(), 200);
    assert!(sent.oversized > 0 && sent.truncated > 0 && sent.commands > 0);
    // tcp_garbage read each connection until the server closed it, and the server releases
    // a connection's locks before it closes.
    assert_eq!(tree(s.srv_dir.path()), before);
    assert_eq!(partial_files(s.srv_dir.path()), Vec::<String>::new());
    fs::write(s.cli("data.txt"), "version 2\n").unwrap();
    let a = s.client(&["LOCK data.txt", "PUT data.txt"], "").success();
    let out = testkit::stdout(&a);
    assert!(out.contains(LOCKED) && out.contains(MODIFIED), "{out}");
    assert_eq!(fs::read(s.srv("data.txt")).unwrap(), b"version 2\n");
    let err = s.server.stderr();
    assert!(!err.contains("panicked"), "{err}");
    assert!(err.contains("exceeds limit 65536"), "{err}");
}

/// Size of the file of the fault tests, in bytes: far more than the socket buffers of both
/// ends and the gate, so a transfer held at the gate cannot complete.
const BIG: u64 = 32 << 20;

/// Bytes the gate lets through before it holds a transfer: 1 MiB.
const HOLD_AT: u64 = 1 << 20;

/// The lock holder killed (SIGKILL) while its download is held at 1 MiB: the server's
/// directory is unchanged, the lock is released, and the next client gets the whole file.
#[test]
fn lock_holder_killed_mid_download_releases_lock() {
    let s = setup();
    let data = fs::read(random_file(&s.srv("big.bin"), BIG, 221)).unwrap();
    let before = tree(s.srv_dir.path());
    let gate = Gate::start(s.server.addr(), Dir::ToClient, HOLD_AT);
    let mut c = Proc::spawn(
        &s.client_bin,
        &["--port", &gate.port(), "LOCK big.bin", "GET big.bin"],
        s.cli_dir.path(),
    );
    gate.wait_held();
    c.kill();
    gate.open();
    s.server.wait_stderr("sending big.bin");
    assert!(
        tree(s.srv_dir.path()) == before,
        "the server's directory changed"
    );
    assert_eq!(try_lock(s.server.addr(), "big.bin"), LOCKED);
    // A fresh directory: the killed client could not clean up its own temporary file.
    let next = testkit::tempdir().unwrap();
    testkit::client(&s.client_bin, next.path())
        .args(["--port", &s.server.port(), "GET big.bin"])
        .assert()
        .success();
    assert!(fs::read(next.path().join("big.bin")).unwrap() == data);
    assert!(!s.server.stderr().contains("panicked"));
}

/// The lock holder killed (SIGKILL) while its PUT is held at 1 MiB: no partial file stays,
/// the old file is intact, the lock is released, and the next client can lock and PUT.
#[test]
fn lock_holder_killed_mid_put_leaves_old_file_and_releases_lock() {
    let s = setup();
    fs::write(s.srv("big.bin"), "original").unwrap();
    random_file(&s.cli("big.bin"), BIG, 222);
    let gate = Gate::start(s.server.addr(), Dir::ToServer, HOLD_AT);
    let mut c = Proc::spawn(
        &s.client_bin,
        &["--port", &gate.port(), "LOCK big.bin", "PUT big.bin"],
        s.cli_dir.path(),
    );
    gate.wait_held();
    wait_until("the server's temporary file", || {
        !partial_files(s.srv_dir.path()).is_empty()
    });
    c.kill();
    gate.open();
    s.server.wait_stderr("receiving the new big.bin");
    wait_until("the temporary file to go", || {
        partial_files(s.srv_dir.path()).is_empty()
    });
    assert_eq!(dir_names(s.srv_dir.path()), ["big.bin"]);
    assert_eq!(fs::read(s.srv("big.bin")).unwrap(), b"original");
    assert_eq!(try_lock(s.server.addr(), "big.bin"), LOCKED);
    let next = testkit::tempdir().unwrap();
    fs::write(next.path().join("big.bin"), "next").unwrap();
    let a = testkit::client(&s.client_bin, next.path())
        .args(["--port", &s.server.port(), "LOCK big.bin", "PUT big.bin"])
        .assert()
        .success();
    assert!(testkit::stdout(&a).contains(MODIFIED));
    assert_eq!(fs::read(s.srv("big.bin")).unwrap(), b"next");
    assert!(!s.server.stderr().contains("panicked"));
}

/// The server killed (SIGKILL) while a PUT is held at 1 MiB: the client exits 1 with an
/// error and keeps its file, byte for byte.
#[test]
fn server_killed_mid_put_client_keeps_file_and_exits_1() {
    let mut s = setup();
    fs::write(s.srv("big.bin"), "original").unwrap();
    let data = fs::read(random_file(&s.cli("big.bin"), BIG, 223)).unwrap();
    let gate = Gate::start(s.server.addr(), Dir::ToServer, HOLD_AT);
    let mut c = Proc::spawn(
        &s.client_bin,
        &["--port", &gate.port(), "LOCK big.bin", "PUT big.bin"],
        s.cli_dir.path(),
    );
    gate.wait_held();
    s.server.kill();
    gate.open();
    assert_eq!(c.wait_exit().code(), Some(1), "{}", c.stderr());
    let err = c.stderr();
    assert!(err.contains("error: "), "{err}");
    assert!(
        fs::read(s.cli("big.bin")).unwrap() == data,
        "client's file changed"
    );
    assert_eq!(dir_names(s.cli_dir.path()), ["big.bin"]);
}

/// The server killed (SIGKILL) while a download is held at 1 MiB: the client exits 1 with
/// an error, keeps its older copy intact and leaves no temporary file.
#[test]
fn server_killed_mid_download_client_keeps_old_copy_and_exits_1() {
    let mut s = setup();
    random_file(&s.srv("big.bin"), BIG, 224);
    fs::write(s.cli("big.bin"), "old copy").unwrap();
    let gate = Gate::start(s.server.addr(), Dir::ToClient, HOLD_AT);
    let mut c = Proc::spawn(
        &s.client_bin,
        &["--port", &gate.port(), "LOCK big.bin", "GET big.bin"],
        s.cli_dir.path(),
    );
    gate.wait_held();
    s.server.kill();
    gate.open();
    assert_eq!(c.wait_exit().code(), Some(1), "{}", c.stderr());
    let err = c.stderr();
    assert!(
        err.contains("error: ") && err.contains("receiving big.bin"),
        "{err}"
    );
    assert_eq!(fs::read(s.cli("big.bin")).unwrap(), b"old copy");
    assert_eq!(dir_names(s.cli_dir.path()), ["big.bin"]);
}

mod parser {
    use proptest::prelude::*;
    use tcp22_lock::{parse_command, Command};

    proptest! {
        #![proptest_config(ProptestConfig { cases: 512, failure_persistence: None, ..ProptestConfig::default() })]

        /// `parse_command` never panics on any frame; `GET`, `LOCK` and `PUT` give back
        /// exactly what follows the first space, `TIME` and `BYE` take nothing after it, and
        /// everything else is the unknown command.
        #[test]
        fn parse_command_reads_exactly_the_protocol(data in prop_oneof![
            any::<String>(),
            "(GET|LOCK|PUT|TIME|BYE) ?",
            "[ \t]?(GET|LOCK|PUT|TIME|BYE|get|lock|put|time|bye|LOC|PU|BY)[ \t]?.{0,12}",
            "(GET|LOCK|PUT) [a-z./\\\\ ]{0,16}",
        ]) {
            let (verb, rest) = data.split_once(' ').unwrap_or((data.as_str(), ""));
            let named = |v: &str, name: &str| verb == v && rest == name;
            match parse_command(&data) {
                Command::Get(name) => prop_assert!(named("GET", name), "{:?}", data),
                Command::Lock(name) => prop_assert!(named("LOCK", name), "{:?}", data),
                Command::Put(name) => prop_assert!(named("PUT", name), "{:?}", data),
                Command::Time => prop_assert!(data == "TIME" || data == "TIME ", "{:?}", data),
                Command::Bye => prop_assert!(data == "BYE" || data == "BYE ", "{:?}", data),
                Command::Unknown => prop_assert!(
                    !(["GET", "LOCK", "PUT"].contains(&verb)
                        || ["TIME", "BYE"].contains(&verb) && rest.is_empty()),
                    "{:?}", data
                ),
            }
        }
    }
}
