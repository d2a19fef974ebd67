//! End-to-end tests of the UDP chat room (Programa 2.1 over UDP): this package's real
//! `server` and `client` binaries on `--port 0`, through testkit's seeded lossy proxy where
//! the network should misbehave, plus `sockcore::udp_channel` endpoints and raw sockets for
//! members that do what the client never does (stop answering, send invalid text).

use ej8_chatroom_udp::{joined, left, said, ASK_NICK, JOINED, MAX_LINE_LEN};
use sockcore::udp::wire::{self, Header, Kind};
use sockcore::udp_channel::{ChannelConfig, ChannelId, Endpoint, Event, EXCHANGE};
use std::net::{SocketAddr, UdpSocket};
use std::path::PathBuf;
use std::time::Instant;
use testkit::proxy::{Faults, Proxy};
use testkit::{bin, Proc, Server, TempDir, WAIT};

/// A room server in a temporary directory.
struct Room {
    server: Server,
    dir: TempDir,
    client: PathBuf,
}

fn room() -> Room {
    let dir = testkit::tempdir().expect("temp dir");
    let server = Server::start(&bin!("server"), &[], dir.path());
    Room {
        server,
        dir,
        client: bin!("client"),
    }
}

impl Room {
    /// Starts the real client towards `port`, answers "Introduce tu nombre: " with `nick`
    /// and waits until it has joined.
    fn join_via(&self, port: u16, nick: &str) -> Proc {
        let mut p = Proc::spawn(
            &self.client,
            &["--port", &port.to_string()],
            self.dir.path(),
        );
        p.write_stdin(&format!("{nick}\n"));
        p.wait_stdout(JOINED);
        p
    }

    fn join(&self, nick: &str) -> Proc {
        self.join_via(self.server.addr().port(), nick)
    }

    fn addr(&self) -> SocketAddr {
        self.server.addr()
    }
}

/// A member played by the test with its own channel endpoint.
struct Raw {
    ep: Endpoint,
    ch: ChannelId,
    /// Every message received so far.
    seen: Vec<String>,
    /// Messages before this index have been matched by `expect` already.
    cursor: usize,
}

impl Raw {
    /// Opens a channel by sending `first` (the nickname).
    fn connect(addr: SocketAddr, first: &[u8]) -> Raw {
        let (ep, ch) = Endpoint::connect(addr, ChannelConfig::default()).expect("endpoint");
        ep.send(ch, first).expect("sending");
        Raw {
            ep,
            ch,
            seen: Vec::new(),
            cursor: 0,
        }
    }

    fn join(addr: SocketAddr, nick: &str) -> Raw {
        let mut r = Raw::connect(addr, nick.as_bytes());
        r.expect(JOINED);
        r
    }

    fn send(&self, bytes: &[u8]) {
        self.ep.send(self.ch, bytes).expect("sending");
    }

    /// Waits (at most `WAIT`) for the next message `want` after the last one expected.
    fn expect(&mut self, want: &str) {
        let deadline = Instant::now() + WAIT;
        loop {
            if let Some(i) = self.seen[self.cursor..].iter().position(|l| l == want) {
                self.cursor += i + 1;
                return;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            match self.ep.recv_event(left).expect("endpoint running") {
                Some(Event::Message(_, m)) => {
                    self.seen.push(String::from_utf8_lossy(&m).into_owned())
                }
                Some(other) => panic!("waiting for {want:?}: {other:?}"),
                None => panic!(
                    "never received {want:?}; last: {:?}",
                    &self.seen[self.seen.len().saturating_sub(5)..]
                ),
            }
        }
    }
}

/// The messages of `nick` in `out`.
fn from<'a>(out: &'a str, nick: &str) -> Vec<&'a str> {
    let prefix = format!("{nick}: ");
    out.lines().filter(|l| l.starts_with(&prefix)).collect()
}

/// Three real clients behind a proxy that drops 10% of the datagrams (and duplicates and
/// reorders 5%) write at once; each sees every message of every member exactly once, in
/// the order it was written.
#[test]
fn three_clients_through_lossy_proxy_every_message_once_in_order() {
    let r = room();
    let proxy = Proxy::start(r.addr(), Faults::lossy(0.1), 1045);
    let port = proxy.addr().port();
    let nicks = ["ana", "bea", "carlos"];
    let mut procs: Vec<Proc> = nicks.iter().map(|n| r.join_via(port, n)).collect();
    procs[0].wait_stdout(&joined("carlos"));
    const N: usize = 20;
    for (p, nick) in procs.iter_mut().zip(nicks) {
        let text: String = (0..N).map(|i| format!("{nick} {i}\n")).collect();
        p.write_stdin(&text);
    }
    for p in &procs {
        for nick in nicks {
            p.wait_stdout(&said(nick, &format!("{nick} {}", N - 1)));
        }
    }
    for p in &procs {
        let out = p.stdout();
        for nick in nicks {
            let want: Vec<String> = (0..N).map(|i| said(nick, &format!("{nick} {i}"))).collect();
            assert_eq!(
                from(&out, nick),
                want,
                "{nick}'s messages (seed {}), in:\n{out}",
                proxy.seed()
            );
        }
    }
    assert!(proxy.stats().dropped > 0, "the proxy dropped nothing");
}

/// The client's transcript is the TCP room's: prompt, joins, the typed line echoed, the
/// room's copy of it, the goodbye; `salir` exits with status 0 and the rest are told.
#[test]
fn salir_leaves_with_status_0_and_the_rest_are_told() {
    let r = room();
    let mut ana = r.join("ana");
    let mut bea = r.join("bea");
    ana.wait_stdout(&joined("bea"));
    bea.write_stdin("hola que tal?\n");
    ana.wait_stdout(&said("bea", "hola que tal?"));
    bea.wait_stdout(&said("bea", "hola que tal?"));
    bea.write_stdin("salir\n");
    assert!(bea.wait_exit().success(), "stderr: {}", bea.stderr());
    assert_eq!(
        bea.stdout(),
        "Introduce tu nombre: bea\n\
         bea se ha unido al chat\n\
         Te has unido al chat\n\
         hola que tal?\n\
         bea: hola que tal?\n\
         salir\n\
         ~ Has salido del chat ~\n"
    );
    ana.wait_stdout(&left("bea"));
    r.server.wait_stdout("~ bea ha salido del chat ~");
    ana.write_stdin("salir\n");
    assert!(ana.wait_exit().success());
}

/// The end of standard input leaves the room as `salir` does.
#[test]
fn end_of_input_leaves_cleanly() {
    let r = room();
    let ana = r.join("ana");
    let mut bea = r.join("bea");
    bea.close_stdin();
    assert!(bea.wait_exit().success(), "stderr: {}", bea.stderr());
    assert!(bea.stdout().ends_with("~ Has salido del chat ~\n"));
    ana.wait_stdout(&left("bea"));
}

/// A member whose process is killed stops sending heartbeats, and is announced as left.
#[test]
fn killed_client_is_announced_as_left() {
    let r = room();
    let ana = r.join("ana");
    let mut bea = r.join("bea");
    ana.wait_stdout(&joined("bea"));
    bea.kill();
    ana.wait_stdout(&left("bea"));
    r.server.wait_stdout("~ bea ha salido del chat ~");
    r.server.wait_stderr("(bea): no answer for");
}

/// A taken nickname is refused with a clear message, and the client asks for another.
#[test]
fn taken_nickname_is_refused_and_asked_again() {
    let r = room();
    let _ana = r.join("ana");
    let mut p = Proc::spawn(&r.client, &["--port", &r.server.port()], r.dir.path());
    p.write_stdin("ana\nana2\n");
    p.wait_stdout(JOINED);
    assert_eq!(
        p.stdout(),
        "Introduce tu nombre: ana\n\
         ERROR: el apodo ana ya está en uso\n\
         Introduce tu nombre: ana2\n\
         ana2 se ha unido al chat\n\
         Te has unido al chat\n"
    );
}

/// Nicknames that are not UTF-8, padded, hold ':' or are too long are refused; the channel
/// stays, and the next answer is taken.
#[test]
fn invalid_nicknames_are_refused() {
    let r = room();
    let mut raw = Raw::connect(r.addr(), b"\xff");
    raw.expect(ASK_NICK);
    for bad in [" ana", "a:b", &"x".repeat(33)] {
        let before = raw.seen.len();
        raw.send(bad.as_bytes());
        raw.expect(ASK_NICK);
        assert!(
            raw.seen[before..]
                .iter()
                .any(|l| l.starts_with("ERROR: apodo no válido")),
            "{bad:?}: {:?}",
            &raw.seen[before..]
        );
    }
    raw.send(b"ana");
    raw.expect(JOINED);
}

/// A message that is not UTF-8, or over the line limit, gets an error back; the member
/// stays, and its next message is relayed.
#[test]
fn invalid_utf8_and_overlong_messages_get_an_error_not_a_crash() {
    let r = room();
    let mut raw = Raw::join(r.addr(), "raw");
    let mut other = Raw::join(r.addr(), "otro");
    raw.send(b"\xff\xfe hola");
    raw.expect("ERROR: la línea no es texto UTF-8; no se ha enviado");
    raw.send(&vec![b'x'; MAX_LINE_LEN + 100]);
    raw.expect("ERROR: línea de más de 1024 bytes; no se ha enviado");
    raw.send("sigo aquí".as_bytes());
    raw.expect(&said("raw", "sigo aquí"));
    other.expect(&said("raw", "sigo aquí"));
    assert!(
        !other.seen.iter().any(|l| l.starts_with("ERROR")),
        "errors go to the sender only: {:?}",
        other.seen
    );
    r.server
        .wait_stderr("refused a message: longer than 1024 bytes");
}

/// A member that stops acknowledging (a bare socket that joined and never reads) does not
/// hold anybody up: the others receive every message while it is still a member, and it
/// is announced as left once its silence is noticed.
#[test]
fn frozen_member_does_not_delay_the_others_and_is_removed() {
    let r = room();
    let mut ana = Raw::join(r.addr(), "ana");
    let mut bea = Raw::join(r.addr(), "bea");
    let frozen = UdpSocket::bind("127.0.0.1:0").expect("binding");
    let hello = wire::encode(&Header::new(Kind::Data, 0xf0f0, EXCHANGE), b"congelado");
    frozen.send_to(&hello, r.addr()).expect("sending");
    bea.expect(&joined("congelado"));
    const N: usize = 200;
    for i in 0..N {
        ana.send(format!("{i}").as_bytes());
    }
    let last = said("ana", &format!("{}", N - 1));
    bea.expect(&last);
    ana.expect(&last);
    let gone = left("congelado");
    assert!(
        !bea.seen.contains(&gone),
        "every message arrived while the frozen member was still in the room"
    );
    bea.expect(&gone);
    let got: Vec<&String> = bea.seen.iter().filter(|l| l.starts_with("ana: ")).collect();
    let want: Vec<String> = (0..N).map(|i| said("ana", &i.to_string())).collect();
    assert_eq!(got, want.iter().collect::<Vec<_>>());
    r.server.wait_stdout("~ congelado ha salido del chat ~");
}

/// A member that pastes a thousand lines (the real client) gets them all relayed, in order,
/// and is not disconnected.
#[test]
fn fast_talker_gets_every_line_relayed() {
    let r = room();
    let mut bea = Raw::join(r.addr(), "bea");
    let mut p = Proc::spawn(&r.client, &["--port", &r.server.port()], r.dir.path());
    const N: usize = 1000;
    let pad = "x".repeat(200);
    let mut text = String::from("flood\n");
    for i in 0..N {
        text.push_str(&format!("{i} {pad}\n"));
    }
    text.push_str("salir\n");
    p.write_stdin(&text);
    bea.expect(&left("flood"));
    assert!(p.wait_exit().success(), "stderr: {}", p.stderr());
    let got: Vec<&String> = bea
        .seen
        .iter()
        .filter(|l| l.starts_with("flood: "))
        .collect();
    assert_eq!(got.len(), N);
    for (i, l) in got.iter().enumerate() {
        assert!(
            l.starts_with(&format!("flood: {i} ")),
            "line {i} out of order"
        );
    }
}

/// When the server goes away, the client notices the silence, says it is no longer in the
/// chat, and exits 1.
#[test]
fn server_gone_client_reports_not_in_chat() {
    let mut r = room();
    let mut ana = r.join("ana");
    r.server.kill();
    // Before `wait_exit`, which closes the client's stdin (and the end of input is `salir`).
    ana.wait_stdout("IMPORTANTE: NO estas en el chat");
    assert_eq!(ana.wait_exit().code(), Some(1));
    assert!(
        ana.stderr()
            .contains("error: the server closed the channel: no answer for"),
        "{}",
        ana.stderr()
    );
}

/// With no server, the client waits for an answer, gives up with a hint, and exits 1.
#[test]
fn no_server_client_gives_up_with_hint() {
    let dir = testkit::tempdir().expect("temp dir");
    let port = UdpSocket::bind("127.0.0.1:0")
        .and_then(|s| s.local_addr())
        .expect("a free port")
        .port();
    let a = testkit::client(&bin!("client"), dir.path())
        .args(["--port", &port.to_string(), "--name", "ana"])
        .assert()
        .code(1);
    let err = String::from_utf8_lossy(&a.get_output().stderr).into_owned();
    assert!(
        err.starts_with(&format!("error: no answer from 127.0.0.1:{port} for 5.")),
        "{err}"
    );
}
