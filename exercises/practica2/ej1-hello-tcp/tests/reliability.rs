//! Reliability tests of Ej. 1 over TCP (docs/reliability.md): seeded garbage at run time.
//! (Its only parser is the frame decoder, whose properties are in sockcore's tests.)

use testkit::chaos as support;

/// Seeded garbage (random bytes, cut frames, headers up to 4 GiB, frames of text) on 200
/// connections never stops the server or makes it panic; a real client is answered after.
#[test]
fn garbage_never_stops_the_server() {
    let s = testkit::pair!(&[]);
    let mut rng = support::seeded("ej1-hello-tcp garbage_never_stops_the_server");
    let sent = support::tcp_garbage(s.server.addr(), &mut rng, 200, &["Hola", "mundo!"], &[]);
    assert_eq!(sent.total(), 200);
    assert!(sent.oversized > 0 && sent.truncated > 0);
    let a = s.client(&["Hola mundo!"], "").success();
    assert_eq!(
        testkit::stdout(&a),
        "Mensaje enviado\nMensaje recibido (11 bytes)\n"
    );
    let err = s.server.stderr();
    assert!(!err.contains("panicked"), "{err}");
    assert!(err.contains("exceeds limit 1024"), "{err}");
}
