//! End-to-end tests of udp-echo (Práctica Autoguiada 1.1-1.5.6): this package's `server` and
//! `client` binaries on `--port 0`, raw UDP sockets for what the client never sends, and
//! fake servers for what ours never does.

mod common;

use common::{python, raw_socket, stdout_before_probe};
use std::io;
use std::net::UdpSocket;
use testkit::{bin, Proc, Server};
use testkit::{stderr as stderr_of, stdout as stdout_of};

/// Starts this package's server with `args` in a fresh temporary directory.
fn server(args: &[&str]) -> (Server, testkit::TempDir) {
    let dir = testkit::tempdir().expect("temp dir");
    let server = Server::start(&bin!("server"), args, dir.path());
    (server, dir)
}

/// Runs this package's client against `port` with `args`.
fn client(port: &str, args: &[&str]) -> assert_cmd::assert::Assert {
    let dir = testkit::tempdir().expect("temp dir");
    testkit::client(&bin!("client"), dir.path())
        .args(["--port", port])
        .args(args)
        .assert()
}

/// The Python interpreter's name, as the server will be asked to run it by `/exec`.
fn python_name() -> String {
    python().to_string_lossy().into_owned()
}

/// 1.1-1.3: the client prints `--> TyR: Echo sobre UDP`; the server prints the handout's
/// lines for the socket and for each datagram.
#[test]
fn echo_prints_the_handout_lines() {
    let (server, _dir) = server(&[]);
    let a = client(&server.port(), &[]).success();
    assert_eq!(stdout_of(&a), "--> TyR: Echo sobre UDP\n");
    assert_eq!(stderr_of(&a), "");
    let out = stdout_before_probe(&server, server.addr());
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 4, "{out}");
    assert_eq!(
        lines[0],
        format!("Socket creado, escuchando en 127.0.0.1:{}", server.port())
    );
    assert_eq!(lines[1], "Esperando clientes...");
    assert!(lines[2].starts_with("Conexion desde: 127.0.0.1:"), "{out}");
    assert_eq!(lines[3], "Esperando clientes...");
}

/// The message given on the command line is what comes back.
#[test]
fn message_argument_is_echoed() {
    let (server, _dir) = server(&[]);
    let a = client(&server.port(), &["Hola Mundo ñandú"]).success();
    assert_eq!(stdout_of(&a), "--> Hola Mundo ñandú\n");
}

/// An empty datagram gets no reply (the handout's `if data:`) and the server carries on.
#[test]
fn empty_datagram_gets_no_reply() {
    let (server, _dir) = server(&[]);
    let s = raw_socket();
    s.send_to(b"", server.addr()).expect("send");
    s.send_to(b"x", server.addr()).expect("send");
    let mut buf = [0u8; 16];
    let (n, _) = s.recv_from(&mut buf).expect("the reply to x");
    assert_eq!(&buf[..n], b"x");
}

/// 1.5.1: a server that never answers: two retries, then a clear error and exit 1, after
/// about 3 seconds instead of waiting forever.
#[test]
fn silent_server_retries_then_fails_with_a_clear_error() {
    let silent = UdpSocket::bind("127.0.0.1:0").expect("a socket that never answers");
    let addr = silent.local_addr().expect("address");
    let a = client(&addr.port().to_string(), &[]).code(1);
    assert_eq!(stdout_of(&a), "");
    assert_eq!(
        stderr_of(&a),
        format!(
            "client: no reply from {addr} within 1 s; sending again (attempt 2 of 3)\n\
             client: no reply from {addr} within 1 s; sending again (attempt 3 of 3)\n\
             error: no reply from {addr} after 3 attempt(s), 1 s each: is the server running? \
             (start it first, or check --host and --port)\n"
        )
    );
    // All three attempts reached the port.
    silent
        .set_read_timeout(Some(testkit::WAIT))
        .expect("timeout");
    for _ in 0..3 {
        let mut buf = [0u8; 64];
        let (n, _) = silent.recv_from(&mut buf).expect("an attempt");
        assert_eq!(&buf[..n], b"TyR: Echo sobre UDP");
    }
}

/// 1.5.1: with nothing bound to the port at all, the client also ends with the error.
#[test]
fn no_server_at_all_is_a_clear_error() {
    let port = UdpSocket::bind("127.0.0.1:0")
        .and_then(|s| s.local_addr())
        .expect("a free port")
        .port();
    let a = client(&port.to_string(), &[]).code(1);
    let err = stderr_of(&a);
    assert!(
        err.contains(&format!(
            "error: no reply from 127.0.0.1:{port} after 3 attempt(s)"
        )),
        "{err}"
    );
}

/// 1.5.1: a lost first datagram is resent, and the answer to the second attempt is printed.
#[test]
fn lost_datagram_is_resent_and_answered() {
    let fake = raw_socket();
    let port = fake.local_addr().expect("address").port().to_string();
    let t = std::thread::spawn(move || {
        let mut buf = [0u8; 64];
        fake.recv_from(&mut buf).expect("first attempt, dropped");
        let (n, from) = fake.recv_from(&mut buf).expect("second attempt");
        fake.send_to(&buf[..n], from).expect("reply");
    });
    let a = client(&port, &[]).success();
    t.join().expect("fake server");
    assert_eq!(stdout_of(&a), "--> TyR: Echo sobre UDP\n");
    assert!(
        stderr_of(&a).ends_with("sending again (attempt 2 of 3)\n"),
        "{}",
        stderr_of(&a)
    );
}

/// A datagram from another address is not taken for the server's reply.
#[test]
fn replies_from_other_addresses_are_ignored() {
    let fake = raw_socket();
    let port = fake.local_addr().expect("address").port().to_string();
    let t = std::thread::spawn(move || {
        let mut buf = [0u8; 64];
        let (n, from) = fake.recv_from(&mut buf).expect("the message");
        let impostor = raw_socket();
        impostor.send_to(b"impostor", from).expect("impostor");
        fake.send_to(&buf[..n], from).expect("reply");
    });
    let a = client(&port, &[]).success();
    t.join().expect("fake server");
    assert_eq!(stdout_of(&a), "--> TyR: Echo sobre UDP\n");
    assert!(
        stderr_of(&a).contains("client: ignoring a datagram from 127.0.0.1:"),
        "{}",
        stderr_of(&a)
    );
}

/// 1.5.2: datagrams from an address not in --allow are ignored (no reply) and logged.
#[test]
fn allow_list_ignores_other_addresses_and_logs_them() {
    let (server, _dir) = server(&["--allow", "192.0.2.1"]);
    let s = raw_socket();
    s.send_to(b"hola", server.addr()).expect("send");
    let me = s.local_addr().expect("address");
    server.wait_stderr(&format!(
        "server: ignoring 4 bytes from {me}: not in --allow"
    ));
    // Anything the server sent would already be here: loopback delivers before send returns.
    s.set_nonblocking(true).expect("nonblocking");
    let e = s.recv_from(&mut [0u8; 16]).expect_err("no reply");
    assert_eq!(e.kind(), io::ErrorKind::WouldBlock, "{e}");
    // "/shutdown" from there is ignored too: the server is still there to log the next one.
    s.send_to(b"/shutdown", server.addr()).expect("send");
    s.send_to(b"hola!", server.addr()).expect("send");
    server.wait_stderr(&format!("server: ignoring 9 bytes from {me}"));
    server.wait_stderr(&format!("server: ignoring 5 bytes from {me}"));
}

/// 1.5.2: an address in --allow (one of several) is served as before.
#[test]
fn allow_list_serves_listed_addresses() {
    let (server, _dir) = server(&["--allow", "192.0.2.1", "--allow", "127.0.0.1"]);
    let a = client(&server.port(), &[]).success();
    assert_eq!(stdout_of(&a), "--> TyR: Echo sobre UDP\n");
}

/// 1.5.2: on a dual-stack socket an IPv4 client arrives as ::ffff:127.0.0.1 and still
/// matches `--allow 127.0.0.1`. (Linux, where `::` accepts IPv4 by default.)
#[cfg(target_os = "linux")]
#[test]
fn ipv4_mapped_client_matches_its_ipv4_allow_entry() {
    if UdpSocket::bind("[::]:0").is_err() {
        eprintln!("no IPv6 here: skipped");
        return;
    }
    let dir = testkit::tempdir().expect("temp dir");
    let args = ["--host", "::", "--port", "0", "--allow", "127.0.0.1"];
    let server = Proc::spawn(&bin!("server"), &args, dir.path());
    let addr =
        testkit::parse_readiness(&server.wait_stderr("listening on ")).expect("readiness line");
    let a = client(&addr.port().to_string(), &[]).success();
    assert_eq!(stdout_of(&a), "--> TyR: Echo sobre UDP\n");
    server.wait_stdout("Conexion desde: ::ffff:127.0.0.1:");
}

/// 1.5.3: a server buffer smaller than the message truncates it, says so, and echoes what
/// it kept; the client notices the short echo.
#[test]
fn server_buffer_truncates_and_says_so() {
    let (server, _dir) = server(&["--buffer", "8"]);
    let a = client(&server.port(), &[]).success();
    assert_eq!(stdout_of(&a), "--> TyR: Ech\n");
    assert_eq!(
        stderr_of(&a),
        "client: the echo differs from the message (8 of 19 bytes came back)\n"
    );
    server.wait_stderr("was larger than --buffer 8 bytes: truncated, the rest is lost");
}

/// 1.5.3: a client buffer smaller than the reply: it prints what fit, then fails.
#[test]
fn client_buffer_truncates_and_fails() {
    let (server, _dir) = server(&[]);
    let a = client(&server.port(), &["--buffer", "8"]).code(1);
    assert_eq!(stdout_of(&a), "--> TyR: Ech\n");
    assert_eq!(
        stderr_of(&a),
        "error: the reply was longer than --buffer 8 bytes: truncated, the rest is lost\n"
    );
}

/// 1.5.3: a buffer exactly the size of the message is enough on both sides.
#[test]
fn buffer_of_exactly_the_message_size_is_enough() {
    let (server, _dir) = server(&["--buffer", "19"]);
    let a = client(&server.port(), &["--buffer", "19"]).success();
    assert_eq!(stdout_of(&a), "--> TyR: Echo sobre UDP\n");
    assert_eq!(stderr_of(&a), "");
}

/// 1.5.3: a message larger than a UDP datagram can carry is refused by the OS at send time.
#[test]
fn message_larger_than_a_datagram_is_refused() {
    let (server, _dir) = server(&[]);
    let big = "x".repeat(70_000);
    let a = client(&server.port(), &[&big]).code(1);
    assert!(
        stderr_of(&a).starts_with(&format!(
            "error: sending 70000 bytes to {}: ",
            server.addr()
        )),
        "{}",
        stderr_of(&a)
    );
}

/// 1.5.4: a chat, turn by turn: the client's messages appear on the server's terminal and
/// the operator's answers on the client's; an empty line ends the client.
#[test]
fn chat_turn_by_turn() {
    let dir = testkit::tempdir().expect("temp dir");
    let mut server = Server::start(&bin!("server"), &["--chat"], dir.path());
    let port = server.port();
    let mut client = Proc::spawn(&bin!("client"), &["--port", &port, "--chat"], dir.path());
    client.write_stdin("hola\n");
    server.wait_stdout("Recibi: hola");
    server.write_stdin("que tal\n");
    client.wait_stdout("--> que tal");
    client.write_stdin("bien, adios\n");
    server.wait_stdout("Recibi: bien, adios");
    server.write_stdin("chau\n");
    client.wait_stdout("--> chau");
    client.write_stdin("\n");
    assert!(client.wait_exit().success(), "{}", client.stderr());
    assert_eq!(
        client.stdout(),
        "Mensaje: hola\n--> que tal\nMensaje: bien, adios\n--> chau\nMensaje: \n"
    );
    let out = server.stdout();
    assert!(
        out.contains("Recibi: hola\nRespuesta: que tal\nEsperando clientes...\n"),
        "{out}"
    );
    assert!(
        out.contains("Recibi: bien, adios\nRespuesta: chau\n"),
        "{out}"
    );
}

/// 1.5.5: `/shutdown` stops the server cleanly (exit 0) after answering.
#[test]
fn shutdown_message_stops_the_server() {
    let (mut server, _dir) = server(&[]);
    let a = client(&server.port(), &["--shutdown"]).success();
    assert_eq!(stdout_of(&a), "--> shutting down\n");
    assert!(server.wait_exit().success(), "{}", server.stderr());
    assert!(server.stdout().ends_with("Servidor terminado\n"));
}

/// 1.5.6: without --allow-exec, `/exec` is refused and nothing runs.
#[test]
fn exec_is_refused_without_allow_exec() {
    let (server, _dir) = server(&[]);
    let a = client(&server.port(), &["--exec", &python_name(), "-c", "exit(3)"]).code(1);
    assert_eq!(
        stdout_of(&a),
        "--> refused: /exec is off (start the server with --allow-exec)\n"
    );
    assert_eq!(
        stderr_of(&a),
        "error: the server refused: /exec is off (start the server with --allow-exec)\n"
    );
    assert!(!stdout_before_probe(&server, server.addr()).contains("Ejecutando"));
}

/// 1.5.6: with --allow-exec, the client gets the program's exit status.
#[test]
fn exec_returns_the_exit_status() {
    let (server, _dir) = server(&["--allow-exec"]);
    let py = python_name();
    let a = client(&server.port(), &["--exec", &py, "-c", "exit(3)"]).success();
    assert_eq!(stdout_of(&a), "--> exit status 3\n");
    server.wait_stdout(&format!("Ejecutando: {py} -c exit(3)"));
    server.wait_stdout("Resultado: exit status 3");
}

/// 1.5.6: a program ended by a signal is reported as "killed by signal N" (Unix).
#[cfg(unix)]
#[test]
fn exec_reports_killed_by_signal() {
    let (server, _dir) = server(&["--allow-exec"]);
    let suicide = "__import__('os').kill(__import__('os').getpid(),9)";
    let a = client(&server.port(), &["--exec", &python_name(), "-c", suicide]).success();
    assert_eq!(stdout_of(&a), "--> killed by signal 9\n");
}

/// 1.5.6: a program still running at the time limit is killed, and the client told so.
#[test]
fn exec_kills_a_program_at_the_time_limit() {
    let (server, _dir) = server(&["--allow-exec", "--exec-time-limit", "1"]);
    let sleeper = "__import__('time').sleep(30)";
    let a = client(&server.port(), &["--exec", &python_name(), "-c", sleeper]).success();
    assert_eq!(stdout_of(&a), "--> killed after the 1 s time limit\n");
}

/// 1.5.6: a program that does not exist is reported, and the server keeps serving.
#[test]
fn exec_of_a_missing_program_is_reported() {
    let (server, _dir) = server(&["--allow-exec"]);
    let a = client(&server.port(), &["--exec", "no-such-program-here"]).success();
    assert!(
        stdout_of(&a).starts_with("--> cannot run no-such-program-here: "),
        "{}",
        stdout_of(&a)
    );
    client(&server.port(), &[]).success();
}

/// 1.5.6: no shell: `;`, `echo` and `pwned` reach the program as plain arguments.
#[test]
fn exec_does_not_use_a_shell() {
    let (server, _dir) = server(&["--allow-exec"]);
    let args = [
        "--exec",
        &python_name(),
        "-c",
        "exit(5)",
        ";",
        "echo",
        "pwned",
    ];
    let a = client(&server.port(), &args).success();
    assert_eq!(stdout_of(&a), "--> exit status 5\n");
    let out = stdout_before_probe(&server, server.addr());
    assert!(!out.lines().any(|l| l == "pwned"), "{out}");
}

/// 1.5.6: a word with a space cannot be sent (the message separates words with spaces).
#[test]
fn exec_word_with_a_space_is_a_usage_error() {
    let a = client("9", &["--exec", "echo", "a b"]).code(2);
    assert!(
        stderr_of(&a).contains("without spaces"),
        "{}",
        stderr_of(&a)
    );
}

/// Clients that vanish before their reply arrives never stop the server (on Windows the
/// ICMP "port unreachable" comes back as an error of the next receive).
#[test]
fn vanished_clients_never_stop_the_server() {
    let (server, _dir) = server(&[]);
    for _ in 0..5 {
        let s = raw_socket();
        s.send_to(b"bye", server.addr()).expect("send");
    }
    let a = client(&server.port(), &[]).success();
    assert_eq!(stdout_of(&a), "--> TyR: Echo sobre UDP\n");
}

/// `--help` names every consigna's section; a bad flag is a usage error (exit 2).
#[test]
fn help_names_the_sections_and_usage_errors_exit_2() {
    let dir = testkit::tempdir().expect("temp dir");
    for (b, sections) in [
        (
            bin!("client"),
            &["1.1", "1.5.1", "1.5.3", "1.5.4", "1.5.5", "1.5.6"][..],
        ),
        (
            bin!("server"),
            &["1.2", "1.5.2", "1.5.3", "1.5.4", "1.5.5", "1.5.6"][..],
        ),
    ] {
        let a = testkit::client(&b, dir.path())
            .arg("--help")
            .assert()
            .success();
        let help = stdout_of(&a);
        assert!(help.contains("Práctica Autoguiada"), "{help}");
        for s in sections {
            assert!(help.contains(s), "{s} missing from:\n{help}");
        }
        testkit::client(&b, dir.path())
            .arg("--bogus")
            .assert()
            .code(2);
        testkit::client(&b, dir.path())
            .args(["--buffer", "0"])
            .assert()
            .code(2);
    }
}
