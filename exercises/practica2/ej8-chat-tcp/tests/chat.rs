//! End-to-end tests of the one-to-one TCP chat (Ej. 8 / Programa 2): this package's real
//! `server` and `client` binaries on `--port 0`, plus raw sockets for a peer that talks
//! like `nc`, sends garbage, or vanishes.

use sockcore::lines::{send_line, LineReader};
use std::io::Write;
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
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
    /// Starts the real client with `stdin` already typed.
    fn client(&self, stdin: &str) -> Proc {
        let mut p = Proc::spawn(
            &self.client,
            &["--port", &self.server.port()],
            self.dir.path(),
        );
        p.write_stdin(stdin);
        p
    }

    /// A raw connection with a line reader, as `nc` would be.
    fn raw(&self) -> (TcpStream, LineReader<TcpStream>) {
        let s = TcpStream::connect(self.server.addr()).expect("connecting");
        s.set_read_timeout(Some(WAIT)).expect("read timeout");
        let r = LineReader::new(s.try_clone().expect("clone"), 4096);
        (s, r)
    }
}

fn next_line(r: &mut LineReader<TcpStream>) -> String {
    r.recv_line()
        .expect("reading a line")
        .expect("a line, not the end of the connection")
}

/// Names are exchanged, the client speaks first, they take turns, and the client's
/// "desconectar" ends both programs with status 0; both transcripts are exact.
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

/// The end of the client's input says "desconectar" for it: a script ends the chat cleanly.
#[test]
fn end_of_input_says_desconectar() {
    let mut s = setup();
    let mut c = s.client("ana\n");
    assert!(c.wait_exit().success(), "client: {}", c.stderr());
    assert!(s.server.wait_exit().success());
    s.server.wait_stdout("ana ha salido del chat");
}

/// A client killed while the server waits for it is reported; the server exits 1, no hang.
#[test]
fn killed_client_is_reported_by_the_server() {
    let mut s = setup();
    let mut c = s.client("ana\n");
    s.server.wait_stdout("-----ana se ha unido-----");
    c.wait_stdout("-----bea se ha unido-----");
    c.kill();
    assert_eq!(s.server.wait_exit().code(), Some(1));
    let err = s.server.stderr();
    assert!(
        err.contains("error: ana left without saying desconectar"),
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
        err.contains("error: bea left without saying desconectar"),
        "{err}"
    );
}

/// A client that talks like `nc` (CR LF line ends) can chat with the server.
#[test]
fn nc_style_client_can_chat() {
    let mut s = setup();
    let (mut tx, mut rx) = s.raw();
    assert_eq!(next_line(&mut rx), "bea");
    tx.write_all(b"nc\r\nhola\r\n").expect("sending");
    s.server.wait_stdout("nc: hola");
    s.server.write_stdin("hola nc\n");
    assert_eq!(next_line(&mut rx), "hola nc");
    send_line(&mut tx, "desconectar").expect("sending");
    assert!(s.server.wait_exit().success());
    assert!(s
        .server
        .stdout()
        .ends_with("nc ha salido del chat\nchat finalizado\n"));
}

/// A line the server cannot read (not UTF-8, or too long) is refused with a message on
/// stderr; the chat goes on.
#[test]
fn invalid_line_from_the_peer_is_refused_not_a_crash() {
    let mut s = setup();
    let (mut tx, mut rx) = s.raw();
    next_line(&mut rx);
    tx.write_all(b"raw\n\xff\xfe\n").expect("sending");
    s.server
        .wait_stderr("refused a line from raw: line is not valid UTF-8");
    s.server.write_stdin("sigo\n");
    assert_eq!(next_line(&mut rx), "sigo");
    let mut long = vec![b'x'; 3000];
    long.push(b'\n');
    tx.write_all(&long).expect("sending");
    s.server
        .wait_stderr("refused a line from raw: line longer than 1024 bytes");
    s.server.write_stdin("desconectar\n");
    assert_eq!(next_line(&mut rx), "desconectar");
    drop((tx, rx)); // as our client does: close on the other's desconectar
    assert!(s.server.wait_exit().success());
}

/// Connections that leave or send garbage before a valid name do not end the server: it
/// waits for the next client.
#[test]
fn bad_handshakes_do_not_take_the_seat() {
    let mut s = setup();
    drop(TcpStream::connect(s.server.addr()).expect("connecting"));
    let (mut tx, mut rx) = s.raw();
    next_line(&mut rx);
    tx.write_all(b"\xff\n").expect("sending");
    s.server.wait_stderr("waiting for another client");
    let mut c = s.client("ana\ndesconectar\n");
    assert!(c.wait_exit().success(), "client: {}", c.stderr());
    assert!(s.server.wait_exit().success());
}

/// An invalid name (spaces only) is asked again; an overlong message is not sent and the
/// prompt comes back.
#[test]
fn invalid_name_and_overlong_message_are_asked_again() {
    let mut s = setup();
    let long = "x".repeat(2000);
    let mut c = s.client(&format!("   \nana\n{long}\ncorto\ndesconectar\n"));
    s.server.wait_stdout("ana: corto");
    s.server.write_stdin("vale\n");
    assert!(c.wait_exit().success(), "client: {}", c.stderr());
    assert!(s.server.wait_exit().success());
    let out = c.stdout();
    assert!(
        out.starts_with(
            "Introduce tu nombre:    \n\
             Nombre no válido: de 1 a 32 caracteres, sin espacios al principio ni al final\n\
             Introduce tu nombre: ana\n"
        ),
        "{out}"
    );
    assert!(out
        .contains("\nMensaje de más de 1024 bytes: no se ha enviado; escribe otro\nana: corto\n"));
    assert_eq!(s.server.stdout().matches("ana: ").count(), 1);
}

/// An empty line is not sent (the report's `send("")` sends nothing and both sides wait
/// for ever): the prompt comes back.
#[test]
fn empty_line_is_asked_again() {
    let mut s = setup();
    let mut c = s.client("ana\n\nhola\ndesconectar\n");
    s.server.wait_stdout("ana: hola");
    s.server.write_stdin("adiós\n");
    assert!(c.wait_exit().success(), "client: {}", c.stderr());
    assert!(s.server.wait_exit().success());
    assert!(
        c.stdout().contains("\nana: \nana: hola\n"),
        "{}",
        c.stdout()
    );
    assert_eq!(s.server.stdout().matches("ana: ").count(), 1);
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

/// With no server, the client says connection refused and how to fix it, and exits 1.
#[test]
fn no_server_refused_with_hint() {
    let dir = testkit::tempdir().expect("temp dir");
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let a = testkit::client(&bin!("client"), dir.path())
        .args(["--port", &port.to_string(), "--name", "ana"])
        .assert()
        .code(1);
    let err = String::from_utf8_lossy(&a.get_output().stderr).into_owned();
    assert!(
        err.starts_with("error: connection refused: is the server running on 127.0.0.1:"),
        "{err}"
    );
}
