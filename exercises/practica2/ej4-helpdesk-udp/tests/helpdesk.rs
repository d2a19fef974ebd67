//! End-to-end tests of Ej. 4: the real `server` and `client` binaries of this package on
//! `--port 0`; several interleaved clients; testkit's seeded lossy proxy for loss,
//! duplication and reordering; and hand-made datagrams (`sockcore::udp::wire`) for what the
//! client never sends.

use sockcore::udp::wire::{self, Header, Kind};
use std::net::{SocketAddr, UdpSocket};
use std::path::PathBuf;
use testkit::proxy::{Faults, Proxy};
use testkit::{bin, Proc, Server, TempDir};
use testkit::{stderr as stderr_of, stdout as stdout_of};

const BIENVENIDA: &str = "¡Bienvenido! ¿Cuál es su nombre para que pueda dirigirme a usted?";
const RESPUESTA: &str = "Debe ponerse en contacto con el servicio de atención de dudas cuya dirección es dudas@ejemplo.com";

struct Setup {
    server: Server,
    dir: TempDir,
    client: PathBuf,
}

fn setup_with(args: &[&str]) -> Setup {
    let dir = testkit::tempdir().expect("temp dir");
    let server = Server::start(&bin!("server"), args, dir.path());
    Setup {
        server,
        dir,
        client: bin!("client"),
    }
}

fn setup() -> Setup {
    setup_with(&[])
}

impl Setup {
    /// Runs the client against `to` with `stdin`.
    fn client_to(&self, to: SocketAddr, stdin: &str) -> assert_cmd::assert::Assert {
        testkit::client(&self.client, self.dir.path())
            .args([
                "--host",
                &to.ip().to_string(),
                "--port",
                &to.port().to_string(),
            ])
            .write_stdin(stdin)
            .assert()
    }

    /// Runs the client against the server with `stdin`.
    fn client(&self, stdin: &str) -> assert_cmd::assert::Assert {
        self.client_to(self.server.addr(), stdin)
    }

    /// An interactive client.
    fn spawn_client(&self) -> Proc {
        Proc::spawn(
            &self.client,
            &["--port", &self.server.port()],
            self.dir.path(),
        )
    }
}

/// A session driven by hand over a raw socket: for what the real client never sends. On
/// loopback, at this pace, nothing is lost, so there are no retries here.
struct Raw {
    sock: UdpSocket,
    to: SocketAddr,
    session: u32,
    exchange: u32,
}

impl Raw {
    fn new(to: SocketAddr, session: u32) -> Raw {
        let sock = UdpSocket::bind("127.0.0.1:0").expect("binding a raw socket");
        sock.set_read_timeout(Some(testkit::WAIT))
            .expect("read timeout");
        Raw {
            sock,
            to,
            session,
            exchange: 0,
        }
    }

    /// Sends the request of exchange `exchange` (which may repeat an earlier one).
    fn send(&self, exchange: u32, msg: &[u8]) {
        let h = Header::new(Kind::Request, self.session, exchange);
        self.sock
            .send_to(&wire::encode(&h, msg), self.to)
            .expect("sending a datagram");
    }

    /// The reply to `exchange` (an ABORT's reason as "ABORT ...").
    fn reply(&self, exchange: u32) -> String {
        let mut buf = vec![0u8; wire::MAX_DATAGRAM_LEN + 1];
        loop {
            let n = self.sock.recv(&mut buf).expect("an answer in time");
            let Ok((h, p)) = wire::decode(&buf[..n]) else {
                continue;
            };
            match h.kind {
                Kind::Reply if h.exchange == exchange => {
                    return String::from_utf8_lossy(p).into_owned()
                }
                Kind::Abort => return format!("ABORT {}", String::from_utf8_lossy(p)),
                _ => {}
            }
        }
    }

    /// Sends the next request and returns its reply.
    fn request(&mut self, msg: &[u8]) -> String {
        self.exchange += 1;
        self.send(self.exchange, msg);
        self.reply(self.exchange)
    }
}

/// The handout's conversation, word for word, on both sides.
#[test]
fn conversation_follows_the_handout() {
    let s = setup();
    let a = s
        .client("ale\n¿Cuándo empiezan las clases este curso?\n¿Y los exámenes?\nexit\n")
        .success();
    assert_eq!(
        stdout_of(&a),
        format!(
            "{BIENVENIDA}\n\
             > ale\n\
             ale, ¿en qué puedo ayudarte?\n\
             > ¿Cuándo empiezan las clases este curso?\n\
             {RESPUESTA}\n\
             > ¿Y los exámenes?\n\
             {RESPUESTA}\n\
             > exit\n\
             ¡Hasta pronto, ale!\n"
        )
    );
    assert_eq!(stderr_of(&a), "");
    s.server.wait_stdout("ale se ha desconectado");
    let out = s.server.stdout();
    let addr = out
        .strip_prefix("Conexión desde ")
        .and_then(|r| r.lines().next())
        .expect("a connection line")
        .to_string();
    assert_eq!(
        out,
        format!(
            "Conexión desde {addr}\n\
             Cliente {addr}: ale\n\
             ale pregunta: ¿Cuándo empiezan las clases este curso?\n\
             ale pregunta: ¿Y los exámenes?\n\
             ale se ha desconectado\n"
        )
    );
}

/// Two clients talking at the same time each keep their own name: one session per client.
#[test]
fn interleaved_clients_keep_their_own_sessions() {
    let s = setup();
    let mut ana = s.spawn_client();
    let mut luis = s.spawn_client();
    ana.wait_stdout(BIENVENIDA);
    luis.wait_stdout(BIENVENIDA);
    ana.write_stdin("ana\n");
    ana.wait_stdout("ana, ¿en qué puedo ayudarte?");
    luis.write_stdin("luis\n");
    luis.wait_stdout("luis, ¿en qué puedo ayudarte?");
    ana.write_stdin("¿Dónde está el aula?\n");
    luis.write_stdin("¿Hay tutorías?\n");
    ana.write_stdin("exit\n");
    luis.write_stdin("exit\n");
    assert!(ana.wait_exit().success());
    assert!(luis.wait_exit().success());
    assert!(ana.stdout().ends_with("> exit\n¡Hasta pronto, ana!\n"));
    assert!(luis.stdout().ends_with("> exit\n¡Hasta pronto, luis!\n"));
    s.server.wait_stdout("luis se ha desconectado");
    s.server.wait_stdout("ana se ha desconectado");
    let out = s.server.stdout();
    assert!(
        out.contains("ana pregunta: ¿Dónde está el aula?\n"),
        "{out}"
    );
    assert!(out.contains("luis pregunta: ¿Hay tutorías?\n"), "{out}");
    assert_eq!(out.matches("Conexión desde").count(), 2);
}

/// Through a proxy that drops 10%, duplicates 5% and reorders 5% of the datagrams each way,
/// the conversation completes and the server hears each question exactly once.
#[test]
fn lossy_network_conversation_completes_each_question_once() {
    let s = setup();
    let seed = 2;
    let proxy = Proxy::start(s.server.addr(), Faults::lossy(0.1), seed);
    let questions: Vec<String> = (1..=30).map(|i| format!("pregunta {i}")).collect();
    let stdin = format!("eva\n{}\nexit\n", questions.join("\n"));
    let a = s.client_to(proxy.addr(), &stdin).success();
    let out = stdout_of(&a);
    assert_eq!(
        out.matches(RESPUESTA).count(),
        30,
        "seed {}: {out}",
        proxy.seed()
    );
    assert!(out.ends_with("¡Hasta pronto, eva!\n"));
    s.server.wait_stdout("eva se ha desconectado");
    let log = s.server.stdout();
    for q in &questions {
        assert_eq!(
            log.matches(&format!("eva pregunta: {q}\n")).count(),
            1,
            "seed {}: {log}",
            proxy.seed()
        );
    }
    let stats = proxy.stats();
    assert!(stats.dropped > 0, "seed {}: {stats:?}", proxy.seed());
}

/// A repeated request (same exchange) gets the cached reply and is not run again.
#[test]
fn repeated_request_is_answered_from_cache() {
    let s = setup();
    let mut raw = Raw::new(s.server.addr(), 0x0e04_0001);
    assert_eq!(raw.request(b"HOLA"), BIENVENIDA);
    assert_eq!(raw.request(b"rosa"), "rosa, ¿en qué puedo ayudarte?");
    assert_eq!(raw.request(b"primera"), RESPUESTA);
    for _ in 0..3 {
        raw.send(raw.exchange, b"primera");
        assert_eq!(raw.reply(raw.exchange), RESPUESTA);
    }
    assert_eq!(raw.request(b"exit"), "¡Hasta pronto, rosa!");
    s.server.wait_stdout("rosa se ha desconectado");
    assert_eq!(
        s.server.stdout().matches("rosa pregunta: primera").count(),
        1
    );
}

/// A session that stays idle past --idle-timeout is closed; the client's next message is
/// refused and it exits 1 saying so.
#[test]
fn idle_session_expires() {
    let s = setup_with(&["--idle-timeout", "1"]);
    let mut c = s.spawn_client();
    c.wait_stdout(BIENVENIDA);
    s.server.wait_stderr("session closed");
    c.write_stdin("tarde\n");
    let status = c.wait_exit();
    assert_eq!(status.code(), Some(1), "{}", c.stderr());
    assert!(c.stderr().contains("aborted the session"), "{}", c.stderr());
}

/// Bad names get an error and the question is asked again; the session goes on.
#[test]
fn bad_names_are_refused_and_asked_again() {
    let s = setup();
    let mut raw = Raw::new(s.server.addr(), 0x0e04_0002);
    assert_eq!(raw.request(b"HOLA"), BIENVENIDA);
    assert_eq!(raw.request(b"   "), "ERROR the name is empty");
    assert_eq!(
        raw.request("x".repeat(65).as_bytes()),
        "ERROR the name is 65 bytes long, limit 64"
    );
    assert_eq!(
        raw.request(b"a\x1b[2Jb"),
        "ERROR the name \"a\\u{1b}[2Jb\" contains a control character"
    );
    assert_eq!(
        raw.request(b"ana \xff"),
        "ERROR the message is not UTF-8 text (bad byte at offset 4)"
    );
    assert_eq!(raw.request(b"ana"), "ana, ¿en qué puedo ayudarte?");
    assert_eq!(
        raw.request(b"\xc3("),
        "ERROR the message is not UTF-8 text (bad byte at offset 0)"
    );
    assert_eq!(raw.request(b"bien"), RESPUESTA);
}

/// A session must start with the greeting; anything else is refused.
#[test]
fn session_must_start_with_greeting() {
    let s = setup();
    let mut raw = Raw::new(s.server.addr(), 0x0e04_0003);
    assert_eq!(raw.request(b"hola?"), "ERROR expected HOLA");
    s.server.wait_stderr("expected HOLA, got \"hola?\"");
}

/// Garbage datagrams (not the protocol, truncated, oversized) never stop the server.
#[test]
fn garbage_never_stops_the_server() {
    let s = setup();
    let junk = UdpSocket::bind("127.0.0.1:0").unwrap();
    for i in 0..40usize {
        let len = (i * 37) % 200;
        let mut d: Vec<u8> = (0..len).map(|j| (i * 13 + j * 7) as u8).collect();
        if i % 4 == 0 && len >= wire::HEADER_LEN {
            d[..2].copy_from_slice(&wire::MAGIC);
        }
        junk.send_to(&d, s.server.addr()).unwrap();
    }
    junk.send_to(&vec![b'S'; wire::MAX_DATAGRAM_LEN + 100], s.server.addr())
        .unwrap();
    s.server.wait_stderr("server: ");
    let a = s.client("ana\nexit\n").success();
    assert!(stdout_of(&a).ends_with("¡Hasta pronto, ana!\n"));
    assert!(!s.server.stderr().contains("panicked"));
}

/// End of input counts as exit: the client says goodbye and ends with status 0.
#[test]
fn end_of_input_says_goodbye() {
    let s = setup();
    let a = s.client("ana\n").success();
    assert!(
        stdout_of(&a).ends_with("> \n¡Hasta pronto, ana!\n"),
        "{}",
        stdout_of(&a)
    );
    s.server.wait_stdout("ana se ha desconectado");
}

/// With nobody on the port the client gives up after its retries, with a hint, exit 1.
#[test]
fn no_server_gives_up_with_hint() {
    let dir = testkit::tempdir().unwrap();
    let port = UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
        .to_string();
    let a = testkit::client(&bin!("client"), dir.path())
        .args(["--port", &port, "--timeout", "1"])
        .assert()
        .code(1);
    let err = stderr_of(&a);
    assert!(
        err.starts_with(&format!(
            "error: greeting the help desk at 127.0.0.1:{port}: no answer from 127.0.0.1:{port} after 6 tries over"
        )),
        "{err}"
    );
    assert!(err.ends_with("is the server running?\n"), "{err}");
    assert_eq!(stdout_of(&a), "");
}

/// `--help` names the handout exercise; a bad flag is a usage error (exit 2).
#[test]
fn help_and_usage_errors() {
    let dir = testkit::tempdir().unwrap();
    for b in [bin!("client"), bin!("server")] {
        let a = testkit::client(&b, dir.path())
            .arg("--help")
            .assert()
            .success();
        assert!(stdout_of(&a).contains("Ej. 4 (Práctica 2)"));
        testkit::client(&b, dir.path())
            .arg("--bogus")
            .assert()
            .code(2);
    }
}
