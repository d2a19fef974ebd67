//! End-to-end tests of echo-chunked: this package's `server` and `client` binaries on
//! `--port 0`, compared line by line with the handout's transcript, plus raw sockets for what
//! the client never does (vanish mid-echo) and fake servers for what ours never does.

mod common;

use common::{
    comparable_lines, handout_lines, stdout_after_session, HANDOUT_CLIENT, HANDOUT_SERVER,
};
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use testkit::{bin, Server};
use testkit::{stderr as stderr_of, stdout as stdout_of};

/// Both programs print the handout's transcripts, line for line (ports normalised).
#[test]
fn stdout_matches_the_handout_transcript() {
    let dir = testkit::tempdir().expect("temp dir");
    let server = Server::start(&bin!("server"), &[], dir.path());
    let a = testkit::client(&bin!("client"), dir.path())
        .args(["--port", &server.port()])
        .assert()
        .success();
    assert_eq!(
        comparable_lines(&stdout_of(&a)),
        handout_lines(HANDOUT_CLIENT)
    );
    let served = stdout_after_session(&server, server.addr());
    assert_eq!(comparable_lines(&served), handout_lines(HANDOUT_SERVER));
}

/// The 42-byte message comes back in pieces of 16, 16 and 10 bytes, printed exactly.
#[test]
fn message_comes_back_in_16_byte_pieces() {
    let dir = testkit::tempdir().expect("temp dir");
    let server = Server::start(&bin!("server"), &[], dir.path());
    let port = server.port();
    let a = testkit::client(&bin!("client"), dir.path())
        .args(["--port", &port])
        .assert()
        .success();
    assert_eq!(
        stdout_of(&a),
        format!(
            "connecting to localhost port {port}\n\
             sending \"This is the message.  It will be repeated.\"\n\
             received \"This is the mess\"\n\
             received \"age.  It will be\"\n\
             received \" repeated.\"\n\
             closing socket\n"
        )
    );
    let served = stdout_after_session(&server, server.addr());
    assert!(
        served.contains(
            "received \"This is the mess\"\nsending data back to the client\n\
             received \"age.  It will be\"\nsending data back to the client\n\
             received \" repeated.\"\nsending data back to the client\n\
             received \"\"\nno more data from ('127.0.0.1', "
        ),
        "{served}"
    );
    assert!(server.stderr().starts_with("listening on 127.0.0.1:"));
}

/// A message given on the command line comes back whole, in as many pieces as it needs.
#[test]
fn any_message_comes_back_whole_in_pieces() {
    let dir = testkit::tempdir().expect("temp dir");
    let server = Server::start(&bin!("server"), &[], dir.path());
    let message = "0123456789abcdef".repeat(6) + "xyz";
    let a = testkit::client(&bin!("client"), dir.path())
        .args(["--port", &server.port(), &message])
        .assert()
        .success();
    let out = stdout_of(&a);
    assert_eq!(
        out.matches("received \"0123456789abcdef\"\n").count(),
        6,
        "{out}"
    );
    assert!(out.ends_with("received \"xyz\"\nclosing socket\n"), "{out}");
}

/// With no server, the client says connection refused, exits 1, and never claims to close.
#[test]
fn no_server_is_connection_refused() {
    let dir = testkit::tempdir().expect("temp dir");
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let a = testkit::client(&bin!("client"), dir.path())
        .args(["--port", &port.to_string()])
        .assert()
        .code(1);
    assert_eq!(
        stdout_of(&a),
        format!("connecting to localhost port {port}\n")
    );
    assert!(
        stderr_of(&a).starts_with(&format!(
            "error: connection refused: is the server running on 127.0.0.1:{port}?"
        )),
        "{}",
        stderr_of(&a)
    );
}

/// A server that closes before the whole echo is back ends the client with an error (the
/// Python client would loop forever on empty reads).
#[test]
fn server_closing_early_is_an_error_not_a_hang() {
    let dir = testkit::tempdir().expect("temp dir");
    let listener = TcpListener::bind("127.0.0.1:0").expect("fake server");
    let port = listener.local_addr().expect("address").port().to_string();
    let fake = std::thread::spawn(move || {
        let (mut c, _) = listener.accept().expect("accept");
        c.set_read_timeout(Some(testkit::WAIT)).expect("timeout");
        let mut message = [0u8; 42];
        c.read_exact(&mut message).expect("the message");
        c.write_all(&message[..16]).expect("first piece");
    });
    let a = testkit::client(&bin!("client"), dir.path())
        .args(["--port", &port])
        .assert()
        .code(1);
    fake.join().expect("fake server");
    assert!(
        stdout_of(&a).ends_with("received \"This is the mess\"\nclosing socket\n"),
        "{}",
        stdout_of(&a)
    );
    assert_eq!(
        stderr_of(&a),
        "error: the server closed the connection after 16 of 42 bytes of the echo\n"
    );
}

/// A server that echoes something else is reported, not printed as the echo.
#[test]
fn wrong_echo_is_an_error() {
    let dir = testkit::tempdir().expect("temp dir");
    let listener = TcpListener::bind("127.0.0.1:0").expect("fake server");
    let port = listener.local_addr().expect("address").port().to_string();
    let fake = std::thread::spawn(move || {
        let (mut c, _) = listener.accept().expect("accept");
        c.set_read_timeout(Some(testkit::WAIT)).expect("timeout");
        c.read_exact(&mut [0u8; 42]).expect("the message");
        c.write_all(b"THIS IS THE MESS").expect("a wrong piece");
    });
    let a = testkit::client(&bin!("client"), dir.path())
        .args(["--port", &port])
        .assert()
        .code(1);
    fake.join().expect("fake server");
    assert!(
        stderr_of(&a).starts_with("error: the echo differs from the message at byte 0"),
        "{}",
        stderr_of(&a)
    );
}

/// Clients that vanish mid-echo (leaving unread data, so the kernel resets the connection)
/// never stop the server: the next client gets the handout's dialogue.
#[test]
fn vanishing_clients_never_stop_the_server() {
    let dir = testkit::tempdir().expect("temp dir");
    let server = Server::start(&bin!("server"), &[], dir.path());
    for _ in 0..5 {
        let mut c = TcpStream::connect(server.addr()).expect("connect");
        c.write_all(&[b'x'; 4096]).expect("write");
        drop(c);
    }
    let a = testkit::client(&bin!("client"), dir.path())
        .args(["--port", &server.port()])
        .assert()
        .success();
    assert!(stdout_of(&a).ends_with("received \" repeated.\"\nclosing socket\n"));
    assert!(!server.stderr().contains("panicked"), "{}", server.stderr());
}

/// `--help` names the handout; a bad flag is a usage error (exit 2).
#[test]
fn help_and_usage_errors() {
    let dir = testkit::tempdir().expect("temp dir");
    for b in [bin!("client"), bin!("server")] {
        let a = testkit::client(&b, dir.path())
            .arg("--help")
            .assert()
            .success();
        assert!(
            stdout_of(&a).contains("Echo Client/Server"),
            "{}",
            stdout_of(&a)
        );
        testkit::client(&b, dir.path())
            .arg("--bogus")
            .assert()
            .code(2);
    }
}
