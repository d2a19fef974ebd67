//! Reliability tests of Ej. 5 (docs/reliability.md): the one table of hostile names,
//! properties of the message parsers, seeded garbage at run time, and clients and servers
//! killed in the middle of a download.

use testkit::chaos as support;

use ej5_image_tcp::{parse_get, parse_ok};
use proptest::prelude::*;
use sockcore::frame::{recv_text, send_text, MAX_FRAME_LEN};
use std::fs;
use support::{hostile_inputs, partial_files, tree, Dir, Gate, DIR_NAME};
use testkit::{dir_names, random_file, Pair, Proc};

fn setup() -> Pair {
    testkit::pair!(&["--dir", "."])
}

/// Sends `GET <name>` on a raw connection; returns the reply, after checking that the
/// server closes after an error.
fn raw_get(s: &Pair, name: &str) -> String {
    let mut c = s.raw_tcp();
    send_text(&mut c, &format!("GET {name}")).expect("sending the request");
    let reply = recv_text(&mut c, MAX_FRAME_LEN)
        .expect("reading the reply")
        .expect("a reply");
    if reply.starts_with("ERROR ") {
        let after = recv_text(&mut c, MAX_FRAME_LEN).expect("reading after the error");
        assert_eq!(after, None, "{name:?}");
    }
    reply
}

/// Every hostile name, the symlinks leading out (and one named `*.jpg`, so the extension
/// check is not what stops it) and a name that is a directory each get their own error;
/// no byte of a file outside the root is sent, and nothing changes inside or outside it.
#[test]
fn hostile_names_are_refused_and_nothing_changes() {
    let s = setup();
    let outside = testkit::tempdir().unwrap();
    fs::write(s.srv("gato.jpg"), "miau").unwrap();
    let mut inputs = hostile_inputs(s.srv_dir.path(), outside.path());
    #[cfg(unix)]
    {
        std::os::unix::fs::symlink(outside.path().join("secret"), s.srv("fuera.jpg")).unwrap();
        let root = sockcore::files::Root::new(s.srv_dir.path()).unwrap();
        let why = root.path_of("fuera.jpg").unwrap_err().to_string();
        inputs.push(("fuera.jpg".to_string(), Some(why)));
    }
    let (root_before, outside_before) = (tree(s.srv_dir.path()), tree(outside.path()));
    for (name, why) in &inputs {
        let want = match why {
            Some(why) => format!("ERROR {why}"),
            None => format!("ERROR {name} is not a .jpg file"),
        };
        assert_eq!(raw_get(&s, name), want, "{}", testkit::hostile::show(name));
    }
    assert_eq!(tree(s.srv_dir.path()), root_before);
    assert_eq!(tree(outside.path()), outside_before);
    assert!(inputs.iter().any(|(n, w)| n == DIR_NAME && w.is_none()));
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, failure_persistence: None, ..ProptestConfig::default() })]

    /// `parse_get` never panics; it takes exactly the requests that start with `GET `, and
    /// gives back the rest; anything else is refused naming the request.
    #[test]
    fn parse_get_takes_exactly_get_requests(request in prop_oneof![
        any::<String>(),
        "GET .{0,30}",
        "(GET|GE|get|PUT)[ \t]?.{0,10}",
    ]) {
        match parse_get(&request) {
            Ok(name) => prop_assert_eq!(format!("GET {name}"), request),
            Err(e) => {
                prop_assert!(!request.starts_with("GET "));
                prop_assert_eq!(e, format!("expected GET <name>, got {request:?}"));
            }
        }
    }

    /// `parse_ok` never panics on any text, and reads back every size the server announces.
    #[test]
    fn parse_ok_reads_what_the_server_writes(
        size in any::<u64>(),
        junk in any::<String>(),
        mangled in "OK [0-9+ -]{0,25}",
    ) {
        prop_assert_eq!(parse_ok(&format!("OK {size}")), Some(size));
        let _ = parse_ok(&junk);
        let _ = parse_ok(&mangled);
    }
}

/// Seeded garbage (random bytes, cut frames, headers up to 4 GiB, GET with random
/// arguments) on 200 connections never stops the server or makes it panic; a real client
/// is served after it.
#[test]
fn garbage_never_stops_the_server() {
    let s = setup();
    fs::write(s.srv("x.jpg"), "imagen").unwrap();
    let mut rng = support::seeded("ej5-image-tcp garbage_never_stops_the_server");
    let sent = support::tcp_garbage(s.server.addr(), &mut rng, 200, &["GET"], &[]);
    assert_eq!(sent.total(), 200);
    assert!(sent.oversized > 0 && sent.truncated > 0 && sent.commands > 0);
    s.client(&["x.jpg"], "").success();
    assert_eq!(fs::read(s.cli("x.jpg")).unwrap(), b"imagen");
    let err = s.server.stderr();
    assert!(!err.contains("panicked"), "{err}");
    assert!(err.contains("exceeds limit 65536"), "{err}");
}

/// Size of the image of the fault tests, in bytes: far more than the socket buffers of both
/// ends and the gate, so a download held at the gate cannot complete.
const BIG: u64 = 32 << 20;

/// Bytes the gate lets through to the client before it holds the download.
const HOLD_AT: u64 = 1 << 20;

/// The client killed (SIGKILL) while its download is held at 1 MiB: the server notices,
/// its directory is unchanged, and it serves the next client.
#[test]
fn client_killed_mid_download_leaves_server_unchanged() {
    let s = setup();
    random_file(&s.srv("big.jpg"), BIG, 5);
    let before = tree(s.srv_dir.path());
    let gate = Gate::start(s.server.addr(), Dir::ToClient, HOLD_AT);
    let mut c = Proc::spawn(
        &s.client_bin,
        &["--port", &gate.port(), "big.jpg"],
        s.cli_dir.path(),
    );
    gate.wait_held();
    c.wait_stdout("Recibiendo big.jpg");
    c.kill();
    gate.open();
    s.server.wait_stderr("sending big.jpg: ");
    assert_eq!(tree(s.srv_dir.path()), before);
    // SIGKILL leaves the client no chance to remove its temporary file; no final one.
    assert!(!s.cli("big.jpg").exists());
    fs::write(s.srv("next.jpg"), "next").unwrap();
    s.client(&["next.jpg"], "").success();
    assert_eq!(fs::read(s.cli("next.jpg")).unwrap(), b"next");
    assert!(!s.server.stderr().contains("panicked"));
}

/// The server killed (SIGKILL) while a download is held at 1 MiB, with and without an older
/// copy in the client's directory: the client exits 1 with an error, leaves no partial file,
/// and the older copy is intact.
#[test]
fn server_killed_mid_download_client_exits_1_and_keeps_old_file() {
    for old in [None, Some("older copy")] {
        let mut s = setup();
        random_file(&s.srv("big.jpg"), BIG, 6);
        if let Some(old) = old {
            fs::write(s.cli("big.jpg"), old).unwrap();
        }
        let gate = Gate::start(s.server.addr(), Dir::ToClient, HOLD_AT);
        let mut c = Proc::spawn(
            &s.client_bin,
            &["--port", &gate.port(), "--overwrite", "yes", "big.jpg"],
            s.cli_dir.path(),
        );
        gate.wait_held();
        c.wait_stdout("Recibiendo big.jpg");
        s.server.kill();
        gate.open();
        assert_eq!(c.wait_exit().code(), Some(1), "{}", c.stderr());
        let err = c.stderr();
        assert!(err.starts_with("error: receiving big.jpg from "), "{err}");
        assert!(err.contains("peer closed after "), "{err}");
        assert_eq!(partial_files(s.cli_dir.path()), Vec::<String>::new());
        match old {
            Some(old) => assert_eq!(fs::read_to_string(s.cli("big.jpg")).unwrap(), old),
            None => assert_eq!(dir_names(s.cli_dir.path()), Vec::<String>::new()),
        }
    }
}
