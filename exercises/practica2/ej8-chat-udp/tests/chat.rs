//! End-to-end tests of the one-to-one UDP chat (Ej. 8 / Programa 2): this package's real
//! `server` and `client` binaries on `--port 0`, through testkit's seeded lossy proxy where
//! the network should misbehave, plus a `sockcore::udp_channel` endpoint for a peer that
//! sends what the client never does.

use sockcore::udp_channel::{ChannelConfig, Closed, Endpoint, Event};
use std::net::UdpSocket;
use std::path::PathBuf;
use testkit::proxy::{Faults, Proxy};
use testkit::{bin, Proc, Server, TempDir, WAIT};

/// A chat server called "bea" in a temporary directory.
struct Setup {
    server: Server,
    dir: TempDir,
    client: PathBuf,
}

fn setup() -> Setup {
    let dir = testkit::tempdir().expect("temp dir");
    let server = Server::start(&bin!("server"), &["--name", "bea"], dir.path());
    Setup {
        server,
        dir,
        client: bin!("client"),
    }
}

impl Setup {
    /// Starts the real client towards `port` with `stdin` already typed.
    fn client_to(&self, port: u16, stdin: &str) -> Proc {
        let mut p = Proc::spawn(
            &self.client,
            &["--port", &port.to_string()],
            self.dir.path(),
        );
        p.write_stdin(stdin);
        p
    }

    fn client(&self, stdin: &str) -> Proc {
        self.client_to(self.server.addr().port(), stdin)
    }
}

/// The next event of `ep` within `WAIT`.
fn event(ep: &Endpoint) -> Event {
    ep.recv_event(WAIT)
        .expect("the endpoint is running")
        .expect("an event in time")
}

/// Names are exchanged, the client speaks first, they take turns, and the client's
/// "desconectar" ends both programs with status 0; both transcripts are exactly the TCP
/// version's.
#[test]
fn names_exchanged_turns_alternate_and_desconectar_ends_both() {
    let mut s = setup();
    s.server.write_stdin("hola ana\nbien, ¿y tú?\n");
    let mut c = s.client("ana\nhola\n¿qué tal?\ndesconectar\n");
    assert!(c.wait_exit().success(), "client: {}", c.stderr());
    assert!(
        s.server.wait_exit().success(),
        "server: {}",
        s.server.stderr()
    );
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
        s.server.stdout(),
        "-----ana se ha unido-----\n\
         ana: hola\n\
         bea: hola ana\n\
         ana: ¿qué tal?\n\
         bea: bien, ¿y tú?\n\
         ana ha salido del chat\n\
         chat finalizado\n"
    );
}

/// Through a proxy that drops 10% of the datagrams (and duplicates and reorders 5%), a
/// long chat arrives whole: every message shown once, in order, on both sides.
#[test]
fn lossy_network_loses_no_message_and_shows_none_twice() {
    let mut s = setup();
    let proxy = Proxy::start(s.server.addr(), Faults::lossy(0.1), 2502);
    const TURNS: usize = 30;
    let server_lines: String = (0..TURNS).map(|i| format!("respuesta {i}\n")).collect();
    s.server.write_stdin(&server_lines);
    let mut client_lines = String::from("ana\n");
    for i in 0..TURNS {
        client_lines.push_str(&format!("pregunta {i}\n"));
    }
    client_lines.push_str("desconectar\n");
    let mut c = s.client_to(proxy.addr().port(), &client_lines);
    assert!(c.wait_exit().success(), "client: {}", c.stderr());
    assert!(
        s.server.wait_exit().success(),
        "server: {}",
        s.server.stderr()
    );
    let mut want_client = String::from("Introduce tu nombre: ana\n-----bea se ha unido-----\n");
    let mut want_server = String::from("-----ana se ha unido-----\n");
    for i in 0..TURNS {
        let turn = format!("ana: pregunta {i}\nbea: respuesta {i}\n");
        want_client.push_str(&turn);
        want_server.push_str(&turn);
    }
    want_client.push_str("ana: desconectar\nchat finalizado\n");
    want_server.push_str("ana ha salido del chat\nchat finalizado\n");
    assert_eq!(c.stdout(), want_client, "seed {}", proxy.seed());
    assert_eq!(s.server.stdout(), want_server, "seed {}", proxy.seed());
    assert!(proxy.stats().dropped > 0, "the proxy dropped nothing");
}

/// The server's "desconectar" (or the report's "exit") ends the chat on both sides too.
#[test]
fn server_desconectar_or_exit_ends_both() {
    for word in ["desconectar", "exit"] {
        let mut s = setup();
        s.server.write_stdin(&format!("{word}\n"));
        let mut c = s.client("ana\nhola\n");
        assert!(c.wait_exit().success(), "client: {}", c.stderr());
        assert!(s.server.wait_exit().success());
        assert!(
            c.stdout()
                .ends_with("bea ha salido del chat\nchat finalizado\n"),
            "{}",
            c.stdout()
        );
        assert!(s
            .server
            .stdout()
            .ends_with(&format!("bea: {word}\nchat finalizado\n")));
    }
}

/// The end of the client's input says "desconectar" for it.
#[test]
fn end_of_input_says_desconectar() {
    let mut s = setup();
    let mut c = s.client("ana\n");
    assert!(c.wait_exit().success(), "client: {}", c.stderr());
    assert!(s.server.wait_exit().success());
    s.server.wait_stdout("ana ha salido del chat");
}

/// A client killed while the server waits for it is reported once its heartbeats stop;
/// the server exits 1, no hang.
#[test]
fn killed_client_is_reported_by_the_server() {
    let mut s = setup();
    let mut c = s.client("ana\n");
    c.wait_stdout("-----bea se ha unido-----");
    s.server.wait_stdout("-----ana se ha unido-----");
    c.kill();
    assert_eq!(s.server.wait_exit().code(), Some(1));
    let err = s.server.stderr();
    assert!(
        err.contains("error: ana left without saying desconectar (no answer for 5."),
        "{err}"
    );
}

/// A server killed while the client waits for its answer is reported; the client exits 1.
#[test]
fn killed_server_is_reported_by_the_client() {
    let mut s = setup();
    let mut c = s.client("ana\nhola\n");
    s.server.wait_stdout("ana: hola");
    s.server.kill();
    assert_eq!(c.wait_exit().code(), Some(1));
    let err = c.stderr();
    assert!(
        err.contains("error: bea left without saying desconectar (no answer for 5."),
        "{err}"
    );
}

/// With no server, the client gives up after the peer timeout, says so, and exits 1.
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
        err.starts_with(&format!(
            "error: waiting for the server's name: no answer from 127.0.0.1:{port} for 5."
        )),
        "{err}"
    );
    assert!(err.contains("is the server running?"), "{err}");
}

/// A second client while the chat is on is told the chat is taken; the chat goes on.
#[test]
fn second_client_is_told_the_chat_is_taken() {
    let mut s = setup();
    let mut c = s.client("ana\n");
    s.server.wait_stdout("-----ana se ha unido-----");
    let mut other = s.client("carlos\n");
    assert_eq!(other.wait_exit().code(), Some(1));
    assert!(
        other.stderr().contains("el chat está ocupado"),
        "{}",
        other.stderr()
    );
    c.write_stdin("sigo aquí\n");
    s.server.wait_stdout("ana: sigo aquí");
    s.server.write_stdin("desconectar\n");
    assert!(c.wait_exit().success());
    assert!(s.server.wait_exit().success());
}

/// A peer whose first message is not a valid name is closed with the reason; the server
/// keeps waiting, and a real client then chats.
#[test]
fn invalid_name_is_refused_and_the_server_waits_for_another() {
    let mut s = setup();
    let (ep, ch) = Endpoint::connect(s.server.addr(), ChannelConfig::default()).expect("endpoint");
    ep.send(ch, b"\xff\xfe").expect("sending");
    assert_eq!(
        event(&ep),
        Event::Closed(ch, Closed::ByPeer("nombre no válido".into()))
    );
    s.server
        .wait_stderr("not a valid name; waiting for another client");
    let mut c = s.client("ana\ndesconectar\n");
    assert!(c.wait_exit().success(), "client: {}", c.stderr());
    assert!(s.server.wait_exit().success());
}

/// A message that is not UTF-8, or over the limit, is refused with a message on stderr;
/// the chat goes on.
#[test]
fn invalid_message_is_refused_not_a_crash() {
    let mut s = setup();
    let (ep, ch) = Endpoint::connect(s.server.addr(), ChannelConfig::default()).expect("endpoint");
    ep.send(ch, b"raw").expect("sending the name");
    assert_eq!(event(&ep), Event::Message(ch, b"bea".to_vec()));
    ep.send(ch, b"\xff\xfe hola").expect("sending");
    s.server
        .wait_stderr("refused a message from raw: not UTF-8 text (bad byte at offset 0)");
    s.server.write_stdin("sigo\n");
    assert_eq!(event(&ep), Event::Message(ch, b"sigo".to_vec()));
    ep.send(ch, &[b'x'; 1300]).expect("sending");
    s.server
        .wait_stderr("refused a message from raw: 1300 bytes, over the limit of 1024");
    s.server.write_stdin("desconectar\n");
    assert_eq!(event(&ep), Event::Message(ch, b"desconectar".to_vec()));
    drop(ep); // as our client does: it closes on the other's desconectar
    assert!(s.server.wait_exit().success());
}

/// The server asks its user's name before it listens, as the report's server does.
#[test]
fn server_asks_its_name_before_listening() {
    let dir = testkit::tempdir().expect("temp dir");
    let mut p = Proc::spawn(&bin!("server"), &["--port", "0"], dir.path());
    p.write_stdin("bea\n");
    p.wait_stderr("listening on 127.0.0.1:");
    assert_eq!(p.stdout(), "Introduce tu nombre: bea\n");
}
