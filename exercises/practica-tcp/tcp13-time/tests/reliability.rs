//! Reliability tests of TCP 1.3 (docs/reliability.md): seeded garbage at run time. (The
//! server takes no file names and parses no commands beyond its own bin, so there is neither
//! a hostile-name test nor a property test here; EXIT, which ends the server by design, is
//! never sent.)

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
