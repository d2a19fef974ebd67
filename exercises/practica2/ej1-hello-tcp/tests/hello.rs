//! End-to-end tests of Ej. 1 over TCP: the real `server` and `client` binaries of this package
//! on `--port 0`, plus raw sockets for what the client never sends (oversized lengths, invalid
//! UTF-8, garbage, clients that vanish) and fake servers for what ours never does.

use sockcore::frame::{recv_text, send_frame, send_text, MAX_FRAME_LEN};
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::time::Instant;
use testkit::{bin, Server, TempDir};
use testkit::{stderr as stderr_of, stdout as stdout_of};

struct Setup {
    server: Server,
    dir: TempDir,
    client: PathBuf,
}

fn setup() -> Setup {
    let dir = testkit::tempdir().expect("temp dir");
    let server = Server::start(&bin!("server"), &[], dir.path());
    Setup {
        server,
        dir,
        client: bin!("client"),
    }
}

impl Setup {
    /// Runs the client with `args` and `stdin` against the server.
    fn client(&self, args: &[&str], stdin: &str) -> assert_cmd::assert::Assert {
        testkit::client(&self.client, self.dir.path())
            .args(["--port", &self.server.port()])
            .args(args)
            .write_stdin(stdin)
            .assert()
    }

    /// A raw TCP connection to the server, with a read timeout.
    fn raw(&self) -> TcpStream {
        let s = TcpStream::connect(self.server.addr()).expect("connecting");
        s.set_read_timeout(Some(testkit::WAIT))
            .expect("read timeout");
        s
    }
}

/// A port on which nothing listens (bound, then released; the OS does not hand it out again
/// at once).
fn closed_port() -> String {
    TcpListener::bind("127.0.0.1:0")
        .expect("binding")
        .local_addr()
        .expect("local addr")
        .port()
        .to_string()
}

/// The message given as an argument is printed by the server and answered with its size.
#[test]
fn message_argument_is_printed_and_answered() {
    let s = setup();
    let a = s.client(&["Hola mundo!"], "").success();
    assert_eq!(
        stdout_of(&a),
        "Mensaje enviado\nMensaje recibido (11 bytes)\n"
    );
    s.server.wait_stdout("Hola mundo!");
    let out = s.server.stdout();
    assert!(out.starts_with("Conexión desde 127.0.0.1:"), "{out}");
    assert!(out.ends_with("\nHola mundo!\n"), "{out}");
}

/// Without an argument the client asks "Envia mensaje: " and sends the typed line.
#[test]
fn message_is_asked_at_the_prompt() {
    let s = setup();
    let a = s.client(&[], "¿Qué tal?\n").success();
    assert_eq!(
        stdout_of(&a),
        "Envia mensaje: ¿Qué tal?\nMensaje enviado\nMensaje recibido (11 bytes)\n"
    );
    s.server.wait_stdout("¿Qué tal?");
}

/// An empty message is still a message: the frame says "0 bytes" and the server answers.
#[test]
fn empty_message_is_answered() {
    let s = setup();
    let a = s.client(&[], "\n").success();
    assert!(
        stdout_of(&a).ends_with("Mensaje enviado\nMensaje recibido (0 bytes)\n"),
        "{}",
        stdout_of(&a)
    );
}

/// With no server, the client fails at once with "connection refused" and a hint, exit 1.
#[test]
fn no_server_is_refused_at_once() {
    let dir = testkit::tempdir().unwrap();
    let port = closed_port();
    let started = Instant::now();
    let a = testkit::client(&bin!("client"), dir.path())
        .args(["--port", &port, "Hola mundo!"])
        .assert()
        .code(1);
    assert!(
        started.elapsed() < std::time::Duration::from_secs(5),
        "refusal took {:?}",
        started.elapsed()
    );
    assert_eq!(
        stderr_of(&a),
        format!("error: connection refused: is the server running on 127.0.0.1:{port}? (start it first, or check --host and --port)\n")
    );
    assert_eq!(stdout_of(&a), "");
}

/// A message over 1024 bytes is refused by the client before it connects.
#[test]
fn overlong_message_is_refused_before_connecting() {
    let s = setup();
    let long = "x".repeat(1025);
    let a = s.client(&[&long], "").code(1);
    assert_eq!(
        stderr_of(&a),
        "error: message is 1025 bytes long, limit 1024\n"
    );
    // The server saw no connection: the next client is its first.
    s.client(&["ok"], "").success();
    s.server.wait_stdout("ok");
    assert_eq!(s.server.stdout().matches("Conexión desde").count(), 1);
}

/// A frame announcing more than 1024 bytes gets an error reply from the header alone.
#[test]
fn oversized_frame_gets_error_reply() {
    let s = setup();
    let mut c = s.raw();
    c.write_all(&2000u32.to_be_bytes()).unwrap();
    let reply = recv_text(&mut c, MAX_FRAME_LEN).unwrap().expect("a reply");
    assert_eq!(reply, "ERROR frame length 2000 exceeds limit 1024");
    assert_eq!(recv_text(&mut c, MAX_FRAME_LEN).unwrap(), None);
}

/// A message that is not UTF-8 text gets an error reply, not a panic.
#[test]
fn invalid_utf8_gets_error_reply() {
    let s = setup();
    let mut c = s.raw();
    send_frame(&mut c, b"Hola \xff").unwrap();
    let reply = recv_text(&mut c, MAX_FRAME_LEN).unwrap().expect("a reply");
    assert_eq!(
        reply,
        "ERROR frame is not valid UTF-8 text (bad byte at offset 5)"
    );
    s.server
        .wait_stderr("frame is not valid UTF-8 text (bad byte at offset 5)");
}

/// Garbage, half frames and silent clients never stop the server: a real client is served after.
#[test]
fn garbage_and_vanishing_clients_never_stop_the_server() {
    let s = setup();
    // Connects and leaves without a word.
    drop(s.raw());
    s.server
        .wait_stderr("connected and left without sending a message");
    // Leaves in the middle of the header, then in the middle of the payload.
    for cut in [&[0u8, 0][..], &[0, 0, 0, 10, b'H', b'o'][..]] {
        let mut c = s.raw();
        c.write_all(cut).unwrap();
        drop(c);
    }
    s.server
        .wait_stderr("peer closed in the middle of the frame header");
    s.server
        .wait_stderr("peer closed in the middle of the frame payload");
    // Random bytes.
    for seed in 0..10usize {
        let mut c = s.raw();
        let junk: Vec<u8> = (0..64).map(|i| (seed * 37 + i * 11) as u8).collect();
        let _ = c.write_all(&junk);
        let _ = c.read_to_end(&mut Vec::new());
    }
    let a = s.client(&["sigo aquí"], "").success();
    assert!(stdout_of(&a).ends_with("Mensaje recibido (10 bytes)\n"));
    assert!(
        !s.server.stderr().contains("panicked"),
        "{}",
        s.server.stderr()
    );
}

/// A client that connects and says nothing does not block the others: each has its thread.
#[test]
fn silent_client_does_not_block_others() {
    let s = setup();
    let _silent = s.raw();
    s.server.wait_stdout("Conexión desde");
    let a = s.client(&["Hola"], "").success();
    assert!(stdout_of(&a).ends_with("Mensaje recibido (4 bytes)\n"));
}

/// A server that closes without answering (as the report's does) is an error, not a blank line.
#[test]
fn server_closing_without_answer_is_an_error() {
    let dir = testkit::tempdir().unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port().to_string();
    let fake = std::thread::spawn(move || {
        let (mut c, _) = listener.accept().unwrap();
        c.set_read_timeout(Some(testkit::WAIT)).unwrap();
        let got = recv_text(&mut c, MAX_FRAME_LEN).unwrap();
        assert_eq!(got.as_deref(), Some("Hola mundo!"));
        // Python: socket_cliente.close() without a send.
    });
    let a = testkit::client(&bin!("client"), dir.path())
        .args(["--port", &port, "Hola mundo!"])
        .assert()
        .code(1);
    fake.join().unwrap();
    assert_eq!(stdout_of(&a), "Mensaje enviado\n");
    assert_eq!(
        stderr_of(&a),
        "error: the server closed the connection without answering\n"
    );
}

/// An `ERROR <why>` answer is shown as the client's error, exit 1.
#[test]
fn error_answer_is_reported() {
    let dir = testkit::tempdir().unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port().to_string();
    let fake = std::thread::spawn(move || {
        let (mut c, _) = listener.accept().unwrap();
        c.set_read_timeout(Some(testkit::WAIT)).unwrap();
        recv_text(&mut c, MAX_FRAME_LEN).unwrap();
        send_text(&mut c, "ERROR no thanks").unwrap();
    });
    let a = testkit::client(&bin!("client"), dir.path())
        .args(["--port", &port, "x"])
        .assert()
        .code(1);
    fake.join().unwrap();
    assert_eq!(
        stderr_of(&a),
        "error: the server refused the message: no thanks\n"
    );
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
        assert!(stdout_of(&a).contains("Ej. 1 (Práctica 2)"));
        testkit::client(&b, dir.path())
            .arg("--bogus")
            .assert()
            .code(2);
    }
}
