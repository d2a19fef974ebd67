//! Reliability tests of Ej. 3 (docs/reliability.md): properties of the message parsers,
//! seeded garbage at run time, and clients and servers killed in the middle of the upload
//! or the reply. (The name in a request is only logged; the parser checks it all the same.)

use testkit::chaos as support;

use ej3_reverse_tcp::{parse_request, parse_reversed};
use proptest::prelude::*;
use std::fs;
use support::{partial_files, Dir, Gate};
use testkit::{dir_names, Pair, Proc};

fn setup() -> Pair {
    testkit::pair!(&[])
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, failure_persistence: None, ..ProptestConfig::default() })]

    /// `parse_request` never panics; it accepts exactly `REVERSE <u64> <safe name>` and
    /// gives both back, and says why it refuses anything else.
    #[test]
    fn parse_request_accepts_only_size_and_safe_name(request in prop_oneof![
        any::<String>(),
        "REVERSE [0-9+-]{0,22} .{0,20}",
        "REVERSE [0-9]{1,5} [a-z./\\\\:\t]{0,12}",
    ]) {
        match parse_request(&request) {
            Ok((size, name)) => {
                let size_text = &request["REVERSE ".len()..request.len() - name.len() - 1];
                prop_assert_eq!(size_text.parse::<u64>().ok(), Some(size));
                prop_assert!(request.starts_with("REVERSE "));
                let tail = format!(" {name}");
                prop_assert!(request.ends_with(&tail));
                prop_assert!(sockcore::files::check_name(name).is_ok());
                prop_assert!(!name.chars().any(char::is_control));
            }
            Err(e) => prop_assert!(!e.to_string().is_empty()),
        }
    }

    /// `parse_reversed` never panics on any text, and reads back every size the server
    /// announces.
    #[test]
    fn parse_reversed_reads_what_the_server_writes(
        size in any::<u64>(),
        junk in any::<String>(),
    ) {
        prop_assert_eq!(parse_reversed(&format!("REVERSED {size}")), Some(size));
        let _ = parse_reversed(&junk);
    }
}

/// Seeded garbage (random bytes, cut frames, headers up to 4 GiB, REVERSE with random
/// arguments) on 200 connections never stops the server or makes it panic; a real client
/// is served after it.
#[test]
fn garbage_never_stops_the_server() {
    let s = setup();
    let mut rng = support::seeded("ej3-reverse-tcp garbage_never_stops_the_server");
    let sent = support::tcp_garbage(s.server.addr(), &mut rng, 200, &["REVERSE"], &[]);
    assert_eq!(sent.total(), 200);
    assert!(sent.oversized > 0 && sent.truncated > 0 && sent.commands > 0);
    fs::write(s.cli("Hello.txt"), "Hello World!").unwrap();
    s.client(&["Hello.txt"], "").success();
    let err = s.server.stderr();
    assert!(!err.contains("panicked"), "{err}");
    assert!(err.contains("exceeds limit 65536"), "{err}");
}

/// Bytes of the text of the fault tests: far more than the socket buffers of both ends and
/// the gate (and within the server's 16 MiB limit).
const BIG: usize = 12 << 20;

/// Bytes the gate lets through before it holds a transfer.
const HOLD_AT: u64 = 1 << 20;

/// Writes a text of [`BIG`] bytes to `path`; returns it.
fn big_text(path: &std::path::Path) -> Vec<u8> {
    let text = "Hola mundo, ñandú.\n".repeat(BIG / 20).into_bytes();
    fs::write(path, &text).expect("writing the text");
    text
}

/// The client killed (SIGKILL) while its upload is held at 1 MiB: the server drops that
/// client (it logs why) and serves the next one.
#[test]
fn client_killed_mid_upload_next_client_is_served() {
    let s = setup();
    big_text(&s.cli("big.txt"));
    let gate = Gate::start(s.server.addr(), Dir::ToServer, HOLD_AT);
    let mut c = Proc::spawn(
        &s.client_bin,
        &["--port", &gate.port(), "big.txt"],
        s.cli_dir.path(),
    );
    gate.wait_held();
    c.kill();
    gate.open();
    s.server.wait_stderr("receiving big.txt: ");
    fs::write(s.cli("Hello.txt"), "Hello World!").unwrap();
    s.client(&["Hello.txt"], "").success();
    assert!(!s.server.stderr().contains("panicked"));
}

/// The client killed while the reversed text coming back is held at 1 MiB: the server
/// drops that client (it logs why) and serves the next one.
#[test]
fn client_killed_mid_reply_next_client_is_served() {
    let s = setup();
    big_text(&s.cli("big.txt"));
    let gate = Gate::start(s.server.addr(), Dir::ToClient, HOLD_AT);
    let mut c = Proc::spawn(
        &s.client_bin,
        &["--port", &gate.port(), "big.txt"],
        s.cli_dir.path(),
    );
    gate.wait_held();
    c.wait_stdout("Archivo enviado");
    c.kill();
    gate.open();
    s.server.wait_stderr("sending the reversed text: ");
    fs::write(s.cli("Hello.txt"), "Hello World!").unwrap();
    s.client(&["Hello.txt"], "").success();
    assert!(!s.server.stderr().contains("panicked"));
}

/// The server killed (SIGKILL) while the reversed text is held at 1 MiB: the client exits 1
/// with an error, saves no reversed file (not even a partial one), and keeps its own file.
#[test]
fn server_killed_mid_reply_client_exits_1_and_saves_nothing() {
    let mut s = setup();
    let text = big_text(&s.cli("big.txt"));
    let gate = Gate::start(s.server.addr(), Dir::ToClient, HOLD_AT);
    let mut c = Proc::spawn(
        &s.client_bin,
        &["--port", &gate.port(), "big.txt"],
        s.cli_dir.path(),
    );
    gate.wait_held();
    c.wait_stdout("Archivo enviado");
    s.server.kill();
    gate.open();
    assert_eq!(c.wait_exit().code(), Some(1), "{}", c.stderr());
    let err = c.stderr();
    assert!(
        err.starts_with("error: receiving the reversed text: "),
        "{err}"
    );
    assert_eq!(partial_files(s.cli_dir.path()), Vec::<String>::new());
    assert_eq!(dir_names(s.cli_dir.path()), ["big.txt"]);
    assert!(fs::read(s.cli("big.txt")).unwrap() == text);
}
