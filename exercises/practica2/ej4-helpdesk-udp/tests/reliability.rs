//! Reliability tests of Ej. 4 (docs/reliability.md): properties of the name check, seeded
//! garbage datagrams at run time, and clients and servers killed in the middle of a
//! conversation. (The help desk takes no file names: there is no hostile-name test.)

use testkit::chaos as support;

use ej4_helpdesk_udp::{check_name, MAX_NAME_LEN};
use proptest::prelude::*;
use sockcore::udp::wire::{self, Header, Kind};
use std::net::{SocketAddr, UdpSocket};
use testkit::Pair;

/// The handout's welcome, the first answer of every session.
const BIENVENIDA: &str = "¡Bienvenido! ¿Cuál es su nombre para que pueda dirigirme a usted?";

/// A server that closes a silent session after 1 s, so a killed client's session ends
/// within the test.
fn setup() -> Pair {
    testkit::pair!(&["--idle-timeout", "1"])
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, failure_persistence: None, ..ProptestConfig::default() })]

    /// `check_name` never panics; it accepts exactly the names of 1 to 64 bytes without
    /// control characters, unchanged, and says why it refuses the others.
    #[test]
    fn check_name_accepts_exactly_short_printable_names(nombre in prop_oneof![
        any::<String>(),
        ".{0,70}",
        "[a-zñ \t\r\n\u{7f}]{0,80}",
    ]) {
        let fine = !nombre.is_empty()
            && nombre.len() <= MAX_NAME_LEN
            && !nombre.chars().any(char::is_control);
        match check_name(&nombre) {
            Ok(n) => {
                prop_assert!(fine);
                prop_assert_eq!(n, nombre.as_str());
            }
            Err(why) => {
                prop_assert!(!fine);
                prop_assert!(why.starts_with("the name "), "{}", why);
            }
        }
    }
}

/// 1,000 seeded garbage datagrams (random bytes, cut datagrams, oversized ones, valid
/// headers with nonsense fields) never stop the server or make it panic; a session opened
/// before them and a new client are both served after them.
#[test]
fn garbage_datagrams_never_stop_the_server() {
    let s = testkit::pair!(&[]);
    let mut rng = support::seeded("ej4-helpdesk-udp garbage_datagrams_never_stop_the_server");
    let probe = UdpSocket::bind("127.0.0.1:0").unwrap();
    probe.set_read_timeout(Some(testkit::WAIT)).unwrap();
    // The greeting, repeated as the same exchange, is answered from the session's cache.
    let greet = || {
        let h = Header::new(Kind::Request, 0x0e04_1001, 1);
        probe
            .send_to(&wire::encode(&h, b"HOLA"), s.server.addr())
            .unwrap();
        let mut buf = vec![0u8; wire::MAX_DATAGRAM_LEN + 1];
        loop {
            let n = probe.recv(&mut buf).expect("the welcome in time");
            if let Ok((h, p)) = wire::decode(&buf[..n]) {
                if h.kind == Kind::Reply && h.exchange == 1 {
                    assert_eq!(p, BIENVENIDA.as_bytes());
                    return;
                }
            }
        }
    };
    greet();
    let sent = support::udp_garbage(s.server.addr(), &mut rng, 1000, greet);
    assert_eq!(sent.total(), 1000);
    assert!(sent.oversized > 0 && sent.truncated > 0 && sent.nonsense > 0);
    let a = s.client(&[], "ana\n¿hola?\nexit\n").success();
    assert!(testkit::stdout(&a).contains("ana, ¿en qué puedo ayudarte?"));
    let err = s.server.stderr();
    assert!(!err.contains("panicked"), "{err}");
    assert!(err.contains("server: ignored a datagram of "), "{err}");
}

/// The port of the client whose session the server logged as `Cliente <addr>: <nombre>`.
fn client_addr(s: &Pair, nombre: &str) -> SocketAddr {
    let line = s.server.wait_stdout(&format!(": {nombre}"));
    line.trim_start_matches("Cliente ")
        .trim_end_matches(&format!(": {nombre}"))
        .parse()
        .unwrap_or_else(|_| panic!("no address in {line:?}"))
}

/// The client killed (SIGKILL) in the middle of a conversation: the server closes that
/// session after its idle timeout, never announces a goodbye it did not get, and serves
/// another client meanwhile and after.
#[test]
fn client_killed_mid_conversation_session_closes_and_others_are_served() {
    let s = setup();
    let mut c = s.spawn_client(&[]);
    c.wait_stdout(BIENVENIDA);
    c.write_stdin("luis\n");
    c.wait_stdout("luis, ¿en qué puedo ayudarte?");
    let addr = client_addr(&s, "luis");
    c.kill();
    let a = s.client(&[], "eva\n¿abrís?\nexit\n").success();
    assert!(testkit::stdout(&a).contains("¡Hasta pronto, eva!"));
    s.server.wait_stderr(&format!("server: client {addr}: "));
    assert!(!s.server.stdout().contains("luis se ha desconectado"));
    let a = s.client(&[], "leo\nexit\n").success();
    assert!(testkit::stdout(&a).contains("¡Hasta pronto, leo!"));
    assert!(!s.server.stderr().contains("panicked"));
}

/// The server killed (SIGKILL) in the middle of a conversation: the client's next question
/// is sent again until its --timeout of silence, then it exits 1 with an error.
#[test]
fn server_killed_mid_conversation_client_exits_1_with_error() {
    let mut s = setup();
    let mut c = s.spawn_client(&["--timeout", "1"]);
    c.wait_stdout(BIENVENIDA);
    c.write_stdin("rosa\n");
    c.wait_stdout("rosa, ¿en qué puedo ayudarte?");
    s.server.kill();
    c.write_stdin("¿sigues ahí?\n");
    assert_eq!(c.wait_exit().code(), Some(1), "{}", c.stderr());
    assert!(c.stderr().starts_with("error: "), "{}", c.stderr());
}
