//! End-to-end tests of TCP 1.1: this package's `server` and `client` binaries on `--port 0`,
//! the handout's Python server and a handout-style Python client against ours (python3 -u),
//! and raw sockets for what our client never sends (half messages, garbage, silence).

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use testkit::{bin, Proc, Server, WAIT};

/// The handout's server transcript for a greeting and then EXIT.
const HANDOUT_TRANSCRIPT: &str = "Waiting for clients...\n\
                                  Received data from client: Hola servidor\n\
                                  Waiting for clients...\n\
                                  Received EXIT Command from client\n\
                                  Bye\n";

fn python_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/python")
}

fn start_server() -> Server {
    let dir = python_dir();
    Server::start(&bin!("server"), &[], &dir)
}

/// Runs our client with `args` against `port`.
fn client(port: u16, args: &[&str]) -> assert_cmd::assert::Assert {
    testkit::client(&bin!("client"), &python_dir())
        .args(["--port", &port.to_string()])
        .args(args)
        .assert()
}

fn stdout_of(a: &assert_cmd::assert::Assert) -> String {
    String::from_utf8_lossy(&a.get_output().stdout).into_owned()
}

fn stderr_of(a: &assert_cmd::assert::Assert) -> String {
    String::from_utf8_lossy(&a.get_output().stderr).into_owned()
}

/// Starts the handout's Python server (python3 -u server.py 127.0.0.1 0); returns it and
/// its address.
fn start_python_server() -> (Proc, SocketAddr) {
    let py = Proc::spawn(
        Path::new("python3"),
        &["-u", "server.py", "127.0.0.1", "0"],
        &python_dir(),
    );
    let line = py.wait_stderr("listening on ");
    let addr = testkit::parse_readiness(&line).expect("the Python server's readiness line");
    (py, addr)
}

/// A raw connection with read timeouts.
fn raw(addr: SocketAddr) -> TcpStream {
    let s = TcpStream::connect(addr).expect("connecting");
    s.set_read_timeout(Some(WAIT)).expect("read timeout");
    s
}

/// Everything the server sends until it closes.
fn read_all(s: &mut TcpStream) -> Vec<u8> {
    let mut got = Vec::new();
    s.read_to_end(&mut got)
        .expect("reading until the server closes");
    got
}

/// A greeting then EXIT: the client prints both answers, and the server prints the handout's
/// transcript line for line and ends with status 0.
#[test]
fn greeting_then_exit_prints_the_handouts_transcript() {
    let mut server = start_server();
    let a = client(server.addr().port(), &["Hola servidor", "EXIT"]).success();
    assert_eq!(
        stdout_of(&a),
        "Received data from server: Hi TCP Client\n\
         Received data from server: Bye Client\n"
    );
    assert!(server.wait_exit().success(), "{}", server.stderr());
    assert_eq!(server.stdout(), HANDOUT_TRANSCRIPT);
}

/// The server stays listening: many clients are greeted one after another before EXIT.
#[test]
fn server_greets_every_client_until_exit() {
    let mut server = start_server();
    let port = server.addr().port();
    for name in ["Ana", "Luis", "María"] {
        let a = client(port, &[name]).success();
        assert_eq!(stdout_of(&a), "Received data from server: Hi TCP Client\n");
    }
    client(port, &["EXIT"]).success();
    assert!(server.wait_exit().success());
    assert_eq!(
        server.stdout(),
        "Waiting for clients...\n\
         Received data from client: Ana\n\
         Waiting for clients...\n\
         Received data from client: Luis\n\
         Waiting for clients...\n\
         Received data from client: María\n\
         Waiting for clients...\n\
         Received EXIT Command from client\n\
         Bye\n"
    );
}

/// The wire is the handout's: the message's bytes in, exactly `Hi TCP Client` out, then the
/// server closes; `EXIT` in, exactly `Bye Client` out.
#[test]
fn wire_bytes_are_the_handouts() {
    let mut server = start_server();
    let mut c = raw(server.addr());
    c.write_all(b"Hola servidor").unwrap();
    c.shutdown(Shutdown::Write).unwrap();
    assert_eq!(read_all(&mut c), b"Hi TCP Client");
    let mut c = raw(server.addr());
    c.write_all(b"EXIT").unwrap();
    c.shutdown(Shutdown::Write).unwrap();
    assert_eq!(read_all(&mut c), b"Bye Client");
    assert!(server.wait_exit().success());
}

/// A client that does not close its sending side (the handout's kind) is answered once it
/// goes quiet, and the connection is closed after the answer.
#[test]
fn client_that_keeps_the_connection_open_is_answered() {
    let server = start_server();
    let mut c = raw(server.addr());
    c.write_all(b"Hola").unwrap();
    assert_eq!(read_all(&mut c), b"Hi TCP Client");
    server.wait_stdout("Received data from client: Hola");
}

/// A message written in several pieces is one greeting, not one greeting per piece.
#[test]
fn message_in_pieces_is_one_greeting() {
    let server = start_server();
    let mut c = raw(server.addr());
    c.set_nodelay(true).unwrap();
    for piece in ["Hola ", "ser", "vidor"] {
        c.write_all(piece.as_bytes()).unwrap();
    }
    c.shutdown(Shutdown::Write).unwrap();
    assert_eq!(read_all(&mut c), b"Hi TCP Client");
    server.wait_stdout("Received data from client: Hola servidor");
    assert_eq!(server.stdout().matches("Received data").count(), 1);
}

/// Only the exact message `EXIT` ends the server, as in the handout's `str(data) == "EXIT"`.
#[test]
fn only_exact_exit_ends_the_server() {
    let server = start_server();
    let port = server.addr().port();
    for almost in ["exit", "EXIT ", " EXIT", "EXITO"] {
        let a = client(port, &[almost]).success();
        assert_eq!(stdout_of(&a), "Received data from server: Hi TCP Client\n");
    }
    server.wait_stdout("Received data from client: EXITO");
    assert!(!server.stdout().contains("Bye"));
}

/// Misbehaving clients never stop the server: one that leaves without a word, one that
/// sends bytes that are not UTF-8, one whose message is over 1,024 bytes, and one that stays
/// silent while another client is greeted.
#[test]
fn misbehaving_clients_never_stop_the_server() {
    let server = start_server();
    let addr = server.addr();
    drop(raw(addr));
    server.wait_stderr("connected and left without a message");

    let mut c = raw(addr);
    c.write_all(&[0x48, 0x6f, 0xff, 0xfe]).unwrap();
    c.shutdown(Shutdown::Write).unwrap();
    assert_eq!(read_all(&mut c), b"");
    server.wait_stderr("the message is not UTF-8 text");

    let mut c = raw(addr);
    let _ = c.write_all(&[b'a'; 2000]);
    let _ = c.shutdown(Shutdown::Write);
    let mut rest = Vec::new();
    let _ = c.read_to_end(&mut rest); // closed (or reset) without an answer
    assert_eq!(rest, b"");
    server.wait_stderr("message longer than the limit of 1024 bytes");

    let _silent = raw(addr);
    let a = client(addr.port(), &["Hola servidor"]).success();
    assert_eq!(stdout_of(&a), "Received data from server: Hi TCP Client\n");
    assert!(!server.stderr().contains("panicked"), "{}", server.stderr());
}

/// The handout's kind of Python client works with our server, byte for byte.
#[test]
fn python_client_against_our_server() {
    let mut server = start_server();
    let port = server.addr().port().to_string();
    let mut py = Proc::spawn(
        Path::new("python3"),
        &[
            "-u",
            "client.py",
            "127.0.0.1",
            &port,
            "Hola servidor",
            "EXIT",
        ],
        &python_dir(),
    );
    assert!(py.wait_exit().success(), "{}", py.stderr());
    assert_eq!(
        py.stdout(),
        "Received data from server: Hi TCP Client\n\
         Received data from server: Bye Client\n"
    );
    assert!(server.wait_exit().success());
    assert_eq!(server.stdout(), HANDOUT_TRANSCRIPT);
}

/// Our client works with the handout's Python server, which then prints its own transcript
/// exactly as the handout shows it, and ends.
#[test]
fn our_client_against_python_server() {
    let (mut py, addr) = start_python_server();
    let a = client(addr.port(), &["Hola servidor", "EXIT"]).success();
    assert_eq!(
        stdout_of(&a),
        "Received data from server: Hi TCP Client\n\
         Received data from server: Bye Client\n"
    );
    assert!(py.wait_exit().success(), "{}", py.stderr());
    assert_eq!(py.stdout(), HANDOUT_TRANSCRIPT);
}

/// With no MESSAGE argument the client asks for one on stdin, as Python's `input()` would.
#[test]
fn message_is_asked_when_absent() {
    let server = start_server();
    let a = testkit::client(&bin!("client"), &python_dir())
        .args(["--port", &server.addr().port().to_string()])
        .write_stdin("Hola servidor\n")
        .assert()
        .success();
    assert_eq!(
        stdout_of(&a),
        "Message: Hola servidor\nReceived data from server: Hi TCP Client\n"
    );
}

/// With no server the client says connection refused and what to check, and exits 1.
#[test]
fn no_server_is_connection_refused_with_hint() {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let a = client(port, &["Hola"]).code(1);
    assert!(
        stderr_of(&a).contains(&format!(
            "error: connection refused: is the server running on 127.0.0.1:{port}?"
        )),
        "{}",
        stderr_of(&a)
    );
}

/// An answer that is neither of the handout's two is an error that quotes it (exit 1).
#[test]
fn unknown_answer_is_an_error() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let fake = std::thread::spawn(move || {
        let (mut c, _) = listener.accept().unwrap();
        c.set_read_timeout(Some(WAIT)).unwrap();
        let mut msg = Vec::new();
        c.read_to_end(&mut msg).unwrap(); // our client closes its sending side
        c.write_all(b"Hello stranger").unwrap();
        msg
    });
    let a = client(port, &["Hola"]).code(1);
    assert_eq!(fake.join().unwrap(), b"Hola");
    assert!(
        stderr_of(&a).contains("unexpected bytes \"Hello stranger\""),
        "{}",
        stderr_of(&a)
    );
}

/// `--help` names the handout section; a bad flag is a usage error (exit 2).
#[test]
fn help_names_the_handout_and_bad_flags_exit_2() {
    for b in [bin!("client"), bin!("server")] {
        let a = testkit::client(&b, &python_dir())
            .arg("--help")
            .assert()
            .success();
        assert!(stdout_of(&a).contains("TCP 1.1 (Práctica TCP)"));
        testkit::client(&b, &python_dir())
            .arg("--bogus")
            .assert()
            .code(2);
    }
}
