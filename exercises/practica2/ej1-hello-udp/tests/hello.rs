//! End-to-end tests of Ej. 1 over UDP: the real `server` and `client` binaries of this package
//! on `--port 0`, raw datagrams for what the client never sends (oversized, not UTF-8), and
//! fake servers that stay silent or drop the first datagram.

use std::net::UdpSocket;
use std::path::PathBuf;
use std::time::{Duration, Instant};
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

    /// Sends one raw datagram to the server and returns its answer as text.
    fn raw(&self, datagram: &[u8]) -> String {
        let s = test_socket();
        s.send_to(datagram, self.server.addr()).expect("sending");
        let mut buf = [0u8; 2048];
        let (n, from) = s.recv_from(&mut buf).expect("an answer");
        assert_eq!(from, self.server.addr());
        String::from_utf8_lossy(&buf[..n]).into_owned()
    }
}

/// A loopback UDP socket with a read timeout.
fn test_socket() -> UdpSocket {
    let s = UdpSocket::bind("127.0.0.1:0").expect("binding");
    s.set_read_timeout(Some(testkit::WAIT))
        .expect("read timeout");
    s
}

/// The message given as arguments is printed by the server and answered with its size.
#[test]
fn message_arguments_are_printed_and_answered() {
    let s = setup();
    let a = s.client(&["Hola", "mundo!"], "").success();
    assert_eq!(
        stdout_of(&a),
        "Mensaje enviado\nMensaje recibido (11 bytes)\n"
    );
    assert_eq!(stderr_of(&a), "");
    s.server.wait_stdout("Hola mundo!");
    assert_eq!(s.server.stdout(), "Hola mundo!\n");
}

/// Without arguments the client asks "Envia mensaje: " and sends the typed line.
#[test]
fn message_is_asked_at_the_prompt() {
    let s = setup();
    let a = s.client(&[], "¿Qué tal?\n").success();
    assert_eq!(
        stdout_of(&a),
        "Envia mensaje: ¿Qué tal?\nMensaje enviado\nMensaje recibido (11 bytes)\n"
    );
}

/// An empty datagram is a message too, answered with "0 bytes".
#[test]
fn empty_message_is_answered() {
    let s = setup();
    let a = s.client(&[], "\n").success();
    assert!(stdout_of(&a).ends_with("Mensaje recibido (0 bytes)\n"));
}

/// Where a socket is bound but nobody answers, the client tries 3 times, 1 s each, and gives up.
#[test]
fn silent_server_client_gives_up_after_three_attempts() {
    let dir = testkit::tempdir().unwrap();
    // Bound and kept open (so no ICMP refusal), but never read: a server that is not there.
    let silent = test_socket();
    let port = silent.local_addr().unwrap().port().to_string();
    let started = Instant::now();
    let a = testkit::client(&bin!("client"), dir.path())
        .args(["--port", &port, "Hola"])
        .assert()
        .code(1);
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(2900) && took < Duration::from_secs(10),
        "gave up after {took:?}"
    );
    assert_eq!(stdout_of(&a), "Mensaje enviado\n");
    let addr = format!("127.0.0.1:{port}");
    assert_eq!(
        stderr_of(&a),
        format!(
            "client: no answer from {addr} within 1 s (attempt 1 of 3)\n\
             client: no answer from {addr} within 1 s (attempt 2 of 3)\n\
             client: no answer from {addr} within 1 s (attempt 3 of 3)\n\
             error: no answer from {addr} after 3 attempts, 1 s each: is the server running, and are --host and --port right? (UDP cannot tell a missing server from a lost datagram)\n"
        )
    );
    // All three datagrams reached the socket: the same message, three times.
    let mut buf = [0u8; 64];
    for _ in 0..3 {
        let n = silent.recv(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"Hola");
    }
}

/// With nobody on the port, the OS passes the ICMP refusal on; the client still waits out
/// its attempts (a server may start meanwhile), then gives up.
#[cfg(target_os = "linux")]
#[test]
fn closed_port_is_reported_as_refused() {
    let dir = testkit::tempdir().unwrap();
    let port = test_socket().local_addr().unwrap().port().to_string();
    let a = testkit::client(&bin!("client"), dir.path())
        .args(["--port", &port, "Hola"])
        .assert()
        .code(1);
    let addr = format!("127.0.0.1:{port}");
    assert_eq!(
        stderr_of(&a),
        format!(
            "client: {addr} refused the datagram: nobody listens on that port (attempt 1 of 3)\n\
             client: {addr} refused the datagram: nobody listens on that port (attempt 2 of 3)\n\
             client: {addr} refused the datagram: nobody listens on that port (attempt 3 of 3)\n\
             error: no answer from {addr} after 3 attempts: nobody listens on that port (is the server running?)\n"
        )
    );
}

/// A lost first datagram is made good by the retransmission a timeout later.
#[test]
fn lost_datagram_is_retransmitted() {
    let dir = testkit::tempdir().unwrap();
    let fake = test_socket();
    let port = fake.local_addr().unwrap().port().to_string();
    let server = std::thread::spawn(move || {
        let mut buf = [0u8; 64];
        // The first datagram is "lost": read and ignored.
        let (n, _) = fake.recv_from(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"Hola");
        let (n, from) = fake.recv_from(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"Hola");
        fake.send_to(b"Mensaje recibido (4 bytes)", from).unwrap();
    });
    let a = testkit::client(&bin!("client"), dir.path())
        .args(["--port", &port, "Hola"])
        .assert()
        .success();
    server.join().unwrap();
    assert_eq!(
        stdout_of(&a),
        "Mensaje enviado\nMensaje recibido (4 bytes)\n"
    );
    assert_eq!(
        stderr_of(&a),
        format!("client: no answer from 127.0.0.1:{port} within 1 s (attempt 1 of 3)\n")
    );
}

/// Datagrams from anyone but the server are ignored by the client's connected socket.
#[test]
fn datagrams_from_strangers_are_ignored() {
    let dir = testkit::tempdir().unwrap();
    let fake = test_socket();
    let port = fake.local_addr().unwrap().port().to_string();
    let server = std::thread::spawn(move || {
        let mut buf = [0u8; 64];
        let (_, client) = fake.recv_from(&mut buf).unwrap();
        test_socket()
            .send_to(b"Mensaje recibido (999 bytes)", client)
            .unwrap();
        fake.send_to(b"Mensaje recibido (4 bytes)", client).unwrap();
    });
    let a = testkit::client(&bin!("client"), dir.path())
        .args(["--port", &port, "Hola"])
        .assert()
        .success();
    server.join().unwrap();
    assert_eq!(
        stdout_of(&a),
        "Mensaje enviado\nMensaje recibido (4 bytes)\n"
    );
}

/// A message over 1024 bytes is refused by the client before it sends anything.
#[test]
fn overlong_message_is_refused_by_client() {
    let s = setup();
    let long = "x".repeat(1025);
    let a = s.client(&[&long], "").code(1);
    assert_eq!(
        stderr_of(&a),
        "error: message is 1025 bytes long, limit 1024\n"
    );
    assert_eq!(stdout_of(&a), "");
}

/// An oversized datagram is refused whole (not cut at 1024 bytes as Python's would be).
#[test]
fn oversized_datagram_gets_error_answer() {
    let s = setup();
    assert_eq!(
        s.raw(&[b'x'; 5000]),
        "ERROR message is longer than 1024 bytes, the limit"
    );
    s.server
        .wait_stderr("message is longer than 1024 bytes, the limit");
    assert_eq!(s.server.stdout(), "");
}

/// A datagram that is not UTF-8 text gets an error answer, not a panic.
#[test]
fn invalid_utf8_gets_error_answer() {
    let s = setup();
    assert_eq!(
        s.raw(b"Hola \xff"),
        "ERROR message is not valid UTF-8 text (bad byte at offset 5)"
    );
}

/// Garbage datagrams and clients that vanish before the answer never stop the server.
#[test]
fn garbage_and_vanished_clients_never_stop_the_server() {
    let s = setup();
    for seed in 0..20usize {
        let junk: Vec<u8> = (0..(seed * 97) % 3000)
            .map(|i| (seed * 31 + i * 7) as u8)
            .collect();
        // Sent from a socket that is closed at once: the answer finds nobody.
        UdpSocket::bind("127.0.0.1:0")
            .unwrap()
            .send_to(&junk, s.server.addr())
            .unwrap();
    }
    let a = s.client(&["sigo aquí"], "").success();
    assert!(stdout_of(&a).ends_with("Mensaje recibido (10 bytes)\n"));
    assert!(!s.server.stderr().contains("panicked"));
}

/// Several clients at once are each answered: there is no connection to wait for.
#[test]
fn several_clients_are_answered() {
    let s = setup();
    let sockets: Vec<UdpSocket> = (0..5).map(|_| test_socket()).collect();
    for (i, c) in sockets.iter().enumerate() {
        c.send_to(format!("cliente {i}").as_bytes(), s.server.addr())
            .unwrap();
    }
    for c in &sockets {
        let mut buf = [0u8; 64];
        let n = c.recv(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"Mensaje recibido (9 bytes)");
    }
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
