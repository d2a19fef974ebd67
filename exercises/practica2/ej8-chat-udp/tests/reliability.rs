//! Reliability tests of the one-to-one UDP chat (docs/reliability.md): seeded garbage
//! datagrams at run time, and a property test of its name check (`nombre_valido`). The chat
//! takes no file names; a client killed mid-chat is `killed_client_is_reported_by_the_server`
//! in tests/chat.rs.

use testkit::chaos as support;

use ej8_chat_udp::MAX_NAME_CHARS;
use sockcore::udp_channel::{ChannelConfig, Closed, Endpoint, Event};
use std::net::SocketAddr;
use testkit::{bin, Proc, Server, WAIT};

/// What the server says when it closes a channel whose first message is not a valid name.
const NOMBRE_NO_VALIDO: &str = "nombre no válido";

/// A would-be client that opens a channel with a name the server must refuse, to probe it.
struct Probe {
    server: SocketAddr,
    /// Probes sent so far.
    sent: usize,
}

impl Probe {
    /// Opens a new channel whose first message is a bad name (not UTF-8, spaces at either
    /// end, a control character, one character too many; in turn), and waits (at most
    /// [`WAIT`]) until the server closes it with [`NOMBRE_NO_VALIDO`]: the server has read
    /// every datagram sent before, and still waits for a client.
    fn refused(&mut self) {
        let too_long = "n".repeat(MAX_NAME_CHARS + 1);
        let bad: [&[u8]; 6] = [
            b"\xff\xfe",
            b" sonda",
            b"sonda ",
            b"a\tb",
            b"\r",
            too_long.as_bytes(),
        ];
        let name = bad[self.sent % bad.len()];
        self.sent += 1;
        let (ep, ch) = Endpoint::connect(self.server, ChannelConfig::default()).expect("endpoint");
        ep.send(ch, name).expect("sending the name");
        match ep.recv_event(WAIT).expect("endpoint running") {
            Some(Event::Closed(c, Closed::ByPeer(why))) if c == ch && why == NOMBRE_NO_VALIDO => {}
            other => panic!("probe {} ({name:?}): {other:?}", self.sent),
        }
    }
}

/// 1,000 seeded garbage datagrams (random bytes, cut datagrams, oversized ones, valid
/// headers with nonsense fields) never stop the waiting server or make it panic: a would-be
/// client with a bad name is refused after every burst, and then a real client chats
/// exactly as in `names_exchanged_turns_alternate_and_desconectar_ends_both`. (Only a
/// channel whose first message is a valid name takes the chat's only seat, by design; the
/// garbage never opens one, and the probes open only refused ones.)
#[test]
fn garbage_never_stops_the_server() {
    let dir = testkit::tempdir().unwrap();
    let mut server = Server::start(&bin!("server"), &["--name", "bea"], dir.path());
    let mut probe = Probe {
        server: server.addr(),
        sent: 0,
    };
    let mut rng = support::seeded("ej8-chat-udp garbage_never_stops_the_server");
    let sent = support::udp_garbage(server.addr(), &mut rng, 1000, || probe.refused());
    eprintln!("sent: {sent:?}; {} probes", probe.sent);
    assert_eq!(sent.total(), 1000);
    assert!(sent.oversized > 0 && sent.truncated > 0 && sent.nonsense > 0);

    server.write_stdin("hola ana\nbien, ¿y tú?\n");
    let mut c = Proc::spawn(&bin!("client"), &["--port", &server.port()], dir.path());
    c.write_stdin("ana\nhola\n¿qué tal?\ndesconectar\n");
    assert!(c.wait_exit().success(), "client: {}", c.stderr());
    assert!(server.wait_exit().success(), "server: {}", server.stderr());
    assert_eq!(
        c.stdout(),
        "Introduce tu nombre: ana\n\
         -----bea se ha unido-----\n\
         ana: hola\n\
         bea: hola ana\n\
         ana: ¿qué tal?\n\
         bea: bien, ¿y tú?\n\
         ana: desconectar\n\
         chat finalizado\n"
    );
    assert_eq!(
        server.stdout(),
        "-----ana se ha unido-----\n\
         ana: hola\n\
         bea: hola ana\n\
         ana: ¿qué tal?\n\
         bea: bien, ¿y tú?\n\
         ana ha salido del chat\n\
         chat finalizado\n"
    );
    let err = server.stderr();
    assert!(!err.contains("panicked"), "{err}");
    assert_eq!(
        err.matches("the first message is not a valid name; waiting for another client")
            .count(),
        probe.sent,
        "{err}"
    );
}

mod parser {
    use ej8_chat_udp::{nombre_valido, MAX_NAME_CHARS};
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig { cases: 512, failure_persistence: None, ..ProptestConfig::default() })]

        /// `nombre_valido` never panics on any text, and accepts a name exactly when it has
        /// 1 to `MAX_NAME_CHARS` characters, no control characters and no spaces at either end.
        #[test]
        fn nombre_valido_reads_exactly_the_rule(name in prop_oneof![
            any::<String>(),
            "[ \t]?(ana|bea|desconectar|exit)[ \t\n\r]?",
            "[ \t]{0,3}",
            "[a-zñ ]{30,34}",
            "[a-z\u{7f}\u{1}]{1,4}",
        ]) {
            let n = name.chars().count();
            let valid = (1..=MAX_NAME_CHARS).contains(&n)
                && name.trim() == name
                && !name.chars().any(char::is_control);
            prop_assert_eq!(nombre_valido(&name), valid, "{:?}", name);
        }
    }
}
