//! Reliability tests of the UDP chat room (docs/reliability.md): seeded garbage datagrams at
//! run time, and a property test of the nickname check (`ej8_chatroom_udp::parse_nick`). The
//! room takes no file names; a member killed mid-dialogue is
//! `killed_client_is_announced_as_left` in tests/room.rs.

use testkit::chaos as support;

use ej8_chatroom_udp::{joined, said, JOINED};
use sockcore::udp_channel::{ChannelConfig, ChannelId, Endpoint, Event};
use std::net::SocketAddr;
use std::path::Path;
use std::time::Instant;
use testkit::{bin, Proc, Server, WAIT};

/// A member played by the test with its own channel endpoint, to probe the room.
struct Probe {
    ep: Endpoint,
    ch: ChannelId,
    sent: usize,
}

impl Probe {
    /// Joins the room at `addr` as `nick` and waits until it is in.
    fn join(addr: SocketAddr, nick: &str) -> Probe {
        let (ep, ch) = Endpoint::connect(addr, ChannelConfig::default()).expect("endpoint");
        ep.send(ch, nick.as_bytes()).expect("sending the nickname");
        let p = Probe { ep, ch, sent: 0 };
        p.expect(JOINED);
        p
    }

    /// Waits (at most [`WAIT`]) for the message `want`, skipping the others.
    fn expect(&self, want: &str) {
        let deadline = Instant::now() + WAIT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.ep.recv_event(left).expect("endpoint running") {
                Some(Event::Message(_, m)) if m == want.as_bytes() => return,
                Some(Event::Message(..)) => {}
                Some(other) => panic!("waiting for {want:?}: {other:?}"),
                None => panic!("never received {want:?}"),
            }
        }
    }

    /// Says a new line in the room and waits for the room's copy of it: the server has
    /// read every datagram sent before.
    fn ping(&mut self) {
        self.sent += 1;
        let text = format!("ping {}", self.sent);
        self.ep.send(self.ch, text.as_bytes()).expect("sending");
        self.expect(&said("sonda", &text));
    }
}

/// Starts the real client and joins as `nick`.
fn join(server: &Server, dir: &Path, nick: &str) -> Proc {
    let mut p = Proc::spawn(&bin!("client"), &["--port", &server.port()], dir);
    p.write_stdin(&format!("{nick}\n"));
    p.wait_stdout(JOINED);
    p
}

/// 1,000 seeded garbage datagrams (random bytes, cut datagrams, oversized ones, valid
/// headers with nonsense fields) never stop the room or make it panic: a probing member
/// is answered after every burst, a member who joined before is still served, and a
/// newcomer after them joins and chats.
#[test]
fn garbage_datagrams_never_stop_the_room() {
    let dir = testkit::tempdir().unwrap();
    let server = Server::start(&bin!("server"), &[], dir.path());
    let mut ana = join(&server, dir.path(), "ana");
    let mut probe = Probe::join(server.addr(), "sonda");
    let mut rng = support::seeded("ej8-chatroom-udp garbage_datagrams_never_stop_the_room");
    let sent = support::udp_garbage(server.addr(), &mut rng, 1000, || probe.ping());
    eprintln!("sent: {sent:?}; {} probes", probe.sent);
    assert_eq!(sent.total(), 1000);
    assert!(sent.oversized > 0 && sent.truncated > 0 && sent.nonsense > 0);
    ana.wait_stdout(&said("sonda", &format!("ping {}", probe.sent)));
    ana.write_stdin("sigo aquí\n");
    ana.wait_stdout(&said("ana", "sigo aquí"));
    let mut bea = join(&server, dir.path(), "bea");
    ana.wait_stdout(&joined("bea"));
    bea.write_stdin("hola ana\n");
    ana.wait_stdout(&said("bea", "hola ana"));
    bea.write_stdin("salir\n");
    assert!(bea.wait_exit().success());
    ana.write_stdin("salir\n");
    assert!(ana.wait_exit().success());
    let err = server.stderr();
    assert!(!err.contains("panicked"), "{err}");
}

mod parser {
    use ej8_chatroom_udp::{parse_nick, ERROR_PREFIX, MAX_NICK_CHARS};
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig { cases: 512, failure_persistence: None, ..ProptestConfig::default() })]

        /// `parse_nick` never panics on any text; a nickname is accepted exactly when it has 1
        /// to `MAX_NICK_CHARS` characters, no `:`, no control characters and no spaces at
        /// either end, and refused with the one error line otherwise.
        #[test]
        fn parse_nick_reads_exactly_the_rule(nick in prop_oneof![
            any::<String>(),
            "[ \t]?(salir|ana|ana:|hola)[ \t\n]?",
            "[ \t]{0,3}",
            "[a-zñ ]{30,34}",
            "[a-z:\u{7f}\u{1}]{1,4}",
        ]) {
            let n = nick.chars().count();
            let valid = (1..=MAX_NICK_CHARS).contains(&n)
                && nick.trim() == nick
                && !nick.contains(':')
                && !nick.chars().any(char::is_control);
            match parse_nick(&nick) {
                Ok(ok) => {
                    prop_assert!(valid, "{:?}", nick);
                    prop_assert_eq!(ok, nick.as_str());
                }
                Err(why) => {
                    prop_assert!(!valid, "{:?}", nick);
                    prop_assert!(why.starts_with(ERROR_PREFIX), "{}", why);
                }
            }
        }
    }
}
