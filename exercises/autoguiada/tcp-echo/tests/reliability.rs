//! Reliability tests of tcp-echo (docs/reliability.md): the one table of hostile names for
//! the image of 2.5.4 (`--image-dir`), properties of the receipt parser, and seeded garbage
//! at run time in both modes.

use testkit::chaos as support;

use proptest::prelude::*;
use sockcore::frame::{recv_text, send_text, BodySummary, EXAMPLE_BODY, MAX_FRAME_LEN};
use std::fs;
use std::io::Write;
use support::{hostile_inputs, tree, DIR_NAME};
use tcp_echo::{parse_receipt, receipt};
use testkit::{bin, Server};

/// Every hostile image name, the symlinks leading out and a name that is a directory each
/// get their own error receipt; nothing changes inside or outside the image directory.
#[test]
fn hostile_image_names_are_refused_and_nothing_changes() {
    let dir = testkit::tempdir().unwrap();
    let outside = testkit::tempdir().unwrap();
    fs::write(dir.path().join("keep.png"), "png").unwrap();
    let inputs = hostile_inputs(dir.path(), outside.path());
    let (root_before, outside_before) = (tree(dir.path()), tree(outside.path()));
    let server = Server::start(&bin!("server"), &["--image-dir", "."], dir.path());
    for (name, why) in &inputs {
        let mut c = std::net::TcpStream::connect(server.addr()).unwrap();
        c.set_read_timeout(Some(testkit::WAIT)).unwrap();
        send_text(&mut c, "hola").unwrap();
        send_text(&mut c, name).unwrap();
        // The server may refuse the name before reading the image: then this write may fail.
        let _ = c.write_all(&EXAMPLE_BODY);
        let reply = recv_text(&mut c, MAX_FRAME_LEN)
            .unwrap()
            .expect("a receipt");
        let shown = testkit::hostile::show(name);
        match why {
            Some(why) => assert_eq!(reply, format!("ERROR {why}"), "{shown}"),
            None => assert!(reply.starts_with("ERROR saving sub: "), "{shown}: {reply}"),
        }
        assert_eq!(recv_text(&mut c, MAX_FRAME_LEN).unwrap(), None, "{shown}");
    }
    assert_eq!(tree(dir.path()), root_before);
    assert_eq!(tree(outside.path()), outside_before);
    assert!(inputs.iter().any(|(n, w)| n == DIR_NAME && w.is_none()));
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, failure_persistence: None, ..ProptestConfig::default() })]

    /// `parse_receipt` never panics on any text, and reads back every receipt the server
    /// writes.
    #[test]
    fn parse_receipt_reads_what_the_server_writes(
        size in any::<u64>(),
        crc32 in any::<u32>(),
        junk in any::<String>(),
        mangled in "RECEIVED[0-9a-f +-]{0,30}",
    ) {
        let body = BodySummary { size, crc32 };
        prop_assert_eq!(parse_receipt(&receipt(body)), Some(body));
        let _ = parse_receipt(&junk);
        let _ = parse_receipt(&mangled);
    }
}

/// Seeded garbage (random bytes, cut frames, headers up to 4 GiB, frames of text) on 200
/// connections never stops the plain echo server or makes it panic; a real client gets its
/// echo after it.
#[test]
fn garbage_never_stops_the_echo_server() {
    let dir = testkit::tempdir().unwrap();
    let server = Server::start(&bin!("server"), &[], dir.path());
    let mut rng = support::seeded("tcp-echo garbage_never_stops_the_echo_server");
    let sent = support::tcp_garbage(server.addr(), &mut rng, 200, &["Hola", "RECEIVED"], &[]);
    assert_eq!(sent.total(), 200);
    let a = testkit::client(&bin!("client"), dir.path())
        .args(["--port", &server.port()])
        .assert()
        .success();
    assert_eq!(testkit::stdout(&a), "Recibido:  Hola Mundo!\n");
    assert!(!server.stderr().contains("panicked"), "{}", server.stderr());
}

/// The same garbage against the text-and-image server (2.5.4) never stops it, leaves no
/// file, and a real client's image is stored after it.
#[test]
fn garbage_never_stops_the_image_server() {
    let dir = testkit::tempdir().unwrap();
    let cli = testkit::tempdir().unwrap();
    let server = Server::start(&bin!("server"), &["--image-dir", "."], dir.path());
    let mut rng = support::seeded("tcp-echo garbage_never_stops_the_image_server");
    let sent = support::tcp_garbage(server.addr(), &mut rng, 200, &["hola", "x.jpg"], &[]);
    assert!(sent.oversized > 0 && sent.truncated > 0 && sent.commands > 0);
    // Garbage frames may have been taken as a text and a name, and the next bytes as an
    // image that failed its checks: none may be left behind.
    assert_eq!(support::partial_files(dir.path()), Vec::<String>::new());
    fs::write(cli.path().join("b.png"), b"png").unwrap();
    testkit::client(&bin!("client"), cli.path())
        .args(["--port", &server.port(), "--image", "b.png"])
        .assert()
        .success();
    assert_eq!(fs::read(dir.path().join("b.png")).unwrap(), b"png");
    let err = server.stderr();
    assert!(!err.contains("panicked"), "{err}");
    assert!(err.contains("exceeds limit 65536"), "{err}");
}
