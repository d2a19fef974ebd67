//! Reliability tests of TCP 2.1 (docs/reliability.md): the one table of hostile names,
//! seeded garbage at run time, clients and servers killed in the middle of a download, and a
//! property test of the command parser (`tcp21_get::parse_command`).

use testkit::chaos as support;

use sockcore::files::Root;
use sockcore::frame::{recv_text, send_text, MAX_FRAME_LEN};
use std::fs;
use std::net::TcpStream;
use support::{hostile_inputs, partial_files, tree, Dir, Gate, DIR_NAME};
use testkit::{dir_names, random_file, Pair, Proc};

fn setup() -> Pair {
    testkit::pair!(&["--dir", "."])
}

/// Sends `command` on `c` and returns the server's one text answer.
fn ask(c: &mut TcpStream, command: &str) -> String {
    send_text(c, command).expect("sending a command");
    recv_text(c, MAX_FRAME_LEN)
        .expect("reading the answer")
        .expect("an answer")
}

/// What the server must answer to `GET name`: the reason `Root::resolve` refuses it, the
/// directory refused as not a regular file, or not found (a harmless name inside the root).
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

/// `GET` of every hostile name, of the symlinks leading out and of a directory, on one
/// session, each gets its own answer and never a file; nothing inside or outside the root
/// changes, and the session goes on to BYE.
#[test]
fn hostile_names_are_refused_and_nothing_changes() {
    let s = setup();
    let outside = testkit::tempdir().unwrap();
    fs::write(s.srv("keep.txt"), "keep").unwrap();
    let inputs = hostile_inputs(s.srv_dir.path(), outside.path());
    let root = Root::new(s.srv_dir.path()).unwrap();
    let (root_before, outside_before) = (tree(s.srv_dir.path()), tree(outside.path()));
    let mut c = s.raw_tcp();
    let mut refused = 0;
    for (name, _) in &inputs {
        let want = expected_answer(&root, name);
        let got = ask(&mut c, &format!("GET {name}"));
        assert_eq!(got, want, "{}", testkit::hostile::show(name));
        refused += usize::from(got.starts_with("ERROR "));
    }
    assert_eq!(ask(&mut c, "GET keep.txt"), "OK", "the session went on");
    drop(c);
    // Every name that leads out, or is not a bare safe name, is refused with a reason.
    assert!(refused >= inputs.len() - 3, "only {refused} refused");
    assert_eq!(tree(s.srv_dir.path()), root_before);
    assert_eq!(tree(outside.path()), outside_before);
    assert!(inputs.iter().any(|(n, _)| n == DIR_NAME));
    assert!(inputs.len() > testkit::hostile::names().len());
    let err = s.server.stderr();
    assert!(!err.contains("panicked"), "{err}");
}

/// Seeded garbage (random bytes, cut frames, headers up to 4 GiB, the protocol's commands
/// with random arguments) on 200 connections never stops the server, never makes it panic,
/// and changes nothing in its directory; a real client is served after it.
#[test]
fn garbage_never_stops_the_server() {
    let s = setup();
    fs::write(s.srv("data.txt"), "the data\n").unwrap();
    let before = tree(s.srv_dir.path());
    let mut rng = support::seeded("tcp21-get garbage_never_stops_the_server");
    let sent = support::tcp_garbage(
        s.server.addr(),
        &mut rng,
        200,
        &["GET", "TIME", "BYE", "GET data.txt", "HELLO"],
        &[],
    );
    assert_eq!(sent.total(), 200);
    assert!(sent.oversized > 0 && sent.truncated > 0 && sent.commands > 0);
    let a = s.client(&["GET data.txt", "TIME"], "").success();
    assert!(testkit::stdout(&a).contains("Saved data.txt (9 bytes)"));
    assert_eq!(fs::read(s.cli("data.txt")).unwrap(), b"the data\n");
    let err = s.server.stderr();
    assert!(!err.contains("panicked"), "{err}");
    assert!(err.contains("exceeds limit 65536"), "{err}");
    assert_eq!(tree(s.srv_dir.path()), before);
}

/// Size of the file of the fault tests, in bytes: far more than the socket buffers of both
/// ends and the gate, so a transfer held at the gate cannot complete.
const BIG: u64 = 32 << 20;

/// Bytes the gate lets through to the client before it holds the download: 1 MiB.
const HOLD_AT: u64 = 1 << 20;

/// The client killed (SIGKILL) while its download is held at 1 MiB: the server logs the
/// broken transfer, its directory is unchanged, and the next client gets the whole file.
#[test]
fn client_killed_mid_download_server_goes_on() {
    let s = setup();
    let data = fs::read(random_file(&s.srv("big.bin"), BIG, 21)).unwrap();
    let before = tree(s.srv_dir.path());
    let gate = Gate::start(s.server.addr(), Dir::ToClient, HOLD_AT);
    let mut c = Proc::spawn(
        &s.client_bin,
        &["--port", &gate.port(), "GET big.bin"],
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
    // A fresh directory: the killed client could not clean up its own temporary file.
    let next = testkit::tempdir().unwrap();
    testkit::client(&s.client_bin, next.path())
        .args(["--port", &s.server.port(), "GET big.bin"])
        .assert()
        .success();
    assert!(fs::read(next.path().join("big.bin")).unwrap() == data);
    assert!(!s.server.stderr().contains("panicked"));
}

/// The server killed (SIGKILL) while a download is held at 1 MiB: the client exits 1 with
/// an error, keeps its older copy of the file intact and leaves no temporary file.
#[test]
fn server_killed_mid_download_client_keeps_old_copy_and_exits_1() {
    let mut s = setup();
    random_file(&s.srv("big.bin"), BIG, 22);
    fs::write(s.cli("big.bin"), "old copy").unwrap();
    let gate = Gate::start(s.server.addr(), Dir::ToClient, HOLD_AT);
    let mut c = Proc::spawn(
        &s.client_bin,
        &["--port", &gate.port(), "GET big.bin"],
        s.cli_dir.path(),
    );
    gate.wait_held();
    s.server.kill();
    gate.open();
    let status = c.wait_exit();
    assert_eq!(status.code(), Some(1), "{}", c.stderr());
    let err = c.stderr();
    assert!(err.contains("error: "), "{err}");
    assert!(err.contains("receiving big.bin"), "{err}");
    assert_eq!(fs::read(s.cli("big.bin")).unwrap(), b"old copy");
    assert_eq!(partial_files(s.cli_dir.path()), Vec::<String>::new());
    assert_eq!(dir_names(s.cli_dir.path()), ["big.bin"]);
}

mod parser {
    use proptest::prelude::*;
    use tcp21_get::{parse_command, Command};

    proptest! {
        #![proptest_config(ProptestConfig { cases: 512, failure_persistence: None, ..ProptestConfig::default() })]

        /// `parse_command` never panics on any frame; `GET <name>` gives back the name exactly,
        /// `TIME` and `BYE` only as sent, and everything else is the unknown command.
        #[test]
        fn parse_command_reads_exactly_the_protocol(data in prop_oneof![
            any::<String>(),
            "(GET|TIME|BYE)",
            "[ \t]?(GET|TIME|BYE|get|time|bye|GE|TIM|BY)[ \t]?.{0,12}",
            "GET [a-z./\\\\]{0,16}",
        ]) {
            match parse_command(&data) {
                Command::Get(name) => prop_assert!(
                    data == "GET" && name.is_empty() || data == format!("GET {name}"),
                    "{:?} -> {:?}", data, name
                ),
                Command::Time => prop_assert_eq!(data.as_str(), "TIME"),
                Command::Bye => prop_assert_eq!(data.as_str(), "BYE"),
                Command::Unknown => prop_assert!(
                    !data.starts_with("GET ") && !["GET", "TIME", "BYE"].contains(&data.as_str()),
                    "{:?}", data
                ),
            }
        }
    }
}
