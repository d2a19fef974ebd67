//! Reliability tests of Ej. 2 over TCP (docs/reliability.md): the one table of hostile names,
//! properties of the message parsers, seeded garbage at run time, and clients and servers
//! killed in the middle of an upload.

use testkit::chaos as support;

use ej2_upload_tcp::{parse_received, parse_send};
use proptest::prelude::*;
use sockcore::frame::{recv_text, send_text, BodySummary, MAX_FRAME_LEN};
use std::fs;
use support::{hostile_inputs, partial_files, tree, wait_until, Dir, Gate, DIR_NAME};
use testkit::{dir_names, random_file, Pair, Proc};

fn setup() -> Pair {
    testkit::pair!(&["--dir", "."])
}

/// Asks the server to take `name` over a raw connection; returns its one reply, after
/// checking that the server closes after an error.
fn raw_send_request(s: &Pair, name: &str) -> String {
    let mut c = s.raw_tcp();
    send_text(&mut c, &format!("SEND {name}")).expect("sending the request");
    let reply = recv_text(&mut c, MAX_FRAME_LEN)
        .expect("reading the reply")
        .expect("a reply");
    if reply.starts_with("ERROR ") {
        let after = recv_text(&mut c, MAX_FRAME_LEN).expect("reading after the error");
        assert_eq!(after, None, "{name:?}");
    }
    reply
}

/// Every hostile name, the symlinks leading out and a name that is a directory each get
/// their own error; nothing inside or outside the root changes.
#[test]
fn hostile_names_are_refused_and_nothing_changes() {
    let s = setup();
    let outside = testkit::tempdir().unwrap();
    fs::write(s.srv("keep.txt"), "keep").unwrap();
    let inputs = hostile_inputs(s.srv_dir.path(), outside.path());
    let (root_before, outside_before) = (tree(s.srv_dir.path()), tree(outside.path()));
    for (name, why) in &inputs {
        let want = match why {
            Some(why) => format!("ERROR {why}"),
            None => format!("ERROR {name} is a directory on the server"),
        };
        assert_eq!(
            raw_send_request(&s, name),
            want,
            "{}",
            testkit::hostile::show(name)
        );
    }
    assert_eq!(tree(s.srv_dir.path()), root_before);
    assert_eq!(tree(outside.path()), outside_before);
    assert!(inputs.iter().any(|(n, w)| n == DIR_NAME && w.is_none()));
    assert!(inputs.len() > testkit::hostile::names().len());
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, failure_persistence: None, ..ProptestConfig::default() })]

    /// `parse_send` never panics; it takes exactly the requests that start with `SEND `, and
    /// gives back the rest; anything else is refused naming the request.
    #[test]
    fn parse_send_takes_exactly_send_requests(request in prop_oneof![
        any::<String>(),
        "SEND .{0,30}",
        "(SEND|SEN|send|OVERWRITE)[ \t]?.{0,10}",
    ]) {
        match parse_send(&request) {
            Ok(name) => prop_assert_eq!(format!("SEND {name}"), request),
            Err(e) => {
                prop_assert!(!request.starts_with("SEND "));
                prop_assert_eq!(e, format!("expected SEND <name>, got {request:?}"));
            }
        }
    }

    /// `parse_received` never panics on any text, and reads back every confirmation the
    /// server writes.
    #[test]
    fn parse_received_reads_what_the_server_writes(
        size in any::<u64>(),
        crc32 in any::<u32>(),
        junk in any::<String>(),
        mangled in "RECEIVED [0-9a-f +-]{0,30}",
    ) {
        let reply = format!("RECEIVED {size} {crc32:08x}");
        prop_assert_eq!(parse_received(&reply), Some(BodySummary { size, crc32 }));
        let _ = parse_received(&junk);
        let _ = parse_received(&mangled);
    }
}

/// Seeded garbage (random bytes, cut frames, headers up to 4 GiB, protocol words with
/// random arguments) on 200 connections never stops the server, never makes it panic, and
/// leaves no file; a real client is served after it.
#[test]
fn garbage_never_stops_the_server() {
    let s = setup();
    let mut rng = support::seeded("ej2-upload-tcp garbage_never_stops_the_server");
    let sent = support::tcp_garbage(
        s.server.addr(),
        &mut rng,
        200,
        &["SEND", "OVERWRITE", "yes", "no"],
        &[],
    );
    assert_eq!(sent.total(), 200);
    assert!(sent.oversized > 0 && sent.truncated > 0 && sent.commands > 0);
    fs::write(s.cli("after.txt"), "still here").unwrap();
    s.client(&["after.txt"], "").success();
    assert_eq!(fs::read(s.srv("after.txt")).unwrap(), b"still here");
    let err = s.server.stderr();
    assert!(!err.contains("panicked"), "{err}");
    assert!(err.contains("exceeds limit 65536"), "{err}");
    assert_eq!(partial_files(s.srv_dir.path()), Vec::<String>::new());
}

/// Size of the file of the fault tests, in bytes: far more than the socket buffers of both
/// ends and the gate, so a transfer held at the gate cannot complete.
const BIG: u64 = 32 << 20;

/// Bytes the gate lets through before it holds the upload: the request and 1 MiB of file.
const HOLD_AT: u64 = 1 << 20;

/// The client killed (SIGKILL) while its upload is held at 1 MiB, once for a new file and
/// once overwriting an old one: no partial file stays, the old file is intact, and the
/// server serves the next client.
#[test]
fn client_killed_mid_upload_leaves_no_partial_file() {
    let s = setup();
    fs::write(s.srv("old.bin"), "original").unwrap();
    for name in ["new.bin", "old.bin"] {
        let data = fs::read(random_file(&s.cli(name), BIG, 7)).unwrap();
        let gate = Gate::start(s.server.addr(), Dir::ToServer, HOLD_AT);
        let mut c = Proc::spawn(
            &s.client_bin,
            &["--port", &gate.port(), "--overwrite", "yes", name],
            s.cli_dir.path(),
        );
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
        assert!(
            fs::read(s.cli(name)).unwrap() == data,
            "client's file changed"
        );
    }
    fs::write(s.cli("next.txt"), "next").unwrap();
    s.client(&["next.txt"], "").success();
    assert_eq!(fs::read(s.srv("next.txt")).unwrap(), b"next");
    assert!(!s.server.stderr().contains("panicked"));
}

/// The client killed while its user is asked whether to overwrite: the server takes it as
/// "no", the old file stays, nothing else is written, and the next client is served.
#[test]
fn client_killed_at_overwrite_question_keeps_old_file() {
    let s = setup();
    fs::write(s.srv("doc.pdf"), "old").unwrap();
    fs::write(s.cli("doc.pdf"), "new").unwrap();
    let mut c = s.spawn_client(&["doc.pdf"]);
    c.wait_stdout("El fichero doc.pdf ya existe en el servidor");
    c.kill();
    s.server
        .wait_stdout("El cliente cancela: doc.pdf no se sobrescribe");
    assert_eq!(dir_names(s.srv_dir.path()), ["doc.pdf"]);
    assert_eq!(fs::read(s.srv("doc.pdf")).unwrap(), b"old");
    fs::write(s.cli("x.txt"), "x").unwrap();
    s.client(&["x.txt"], "").success();
    assert_eq!(fs::read(s.srv("x.txt")).unwrap(), b"x");
}

/// The server killed (SIGKILL) while an upload is held at 1 MiB: the client exits 1 with an
/// error and keeps its file, byte for byte.
#[test]
fn server_killed_mid_upload_client_keeps_file_and_exits_1() {
    let mut s = setup();
    let data = fs::read(random_file(&s.cli("big.bin"), BIG, 8)).unwrap();
    let gate = Gate::start(s.server.addr(), Dir::ToServer, HOLD_AT);
    let mut c = Proc::spawn(
        &s.client_bin,
        &["--port", &gate.port(), "big.bin"],
        s.cli_dir.path(),
    );
    gate.wait_held();
    s.server.kill();
    gate.open();
    let status = c.wait_exit();
    assert_eq!(status.code(), Some(1), "{}", c.stderr());
    let err = c.stderr();
    assert!(err.starts_with("error: "), "{err}");
    assert!(!c.stdout().contains("eliminado"), "{}", c.stdout());
    assert!(
        fs::read(s.cli("big.bin")).unwrap() == data,
        "client's file changed"
    );
}
