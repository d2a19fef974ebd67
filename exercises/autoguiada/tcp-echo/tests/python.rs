//! Interoperability with the handout's Python programs (tests/python/): their client against
//! our server and our client against their server, byte for byte.

mod common;

use common::{python, python_program, start_python_server, without_ports};
use testkit::{bin, Server};
use testkit::{stderr as stderr_of, stdout as stdout_of};

/// Runs the handout's Python client against `port`.
fn python_client(port: &str) -> assert_cmd::assert::Assert {
    let dir = testkit::tempdir().expect("temp dir");
    let script = python_program("tcp_echo_client.py");
    testkit::client(&python(), dir.path())
        .args(["-u", &script, "127.0.0.1", port])
        .assert()
}

/// The handout's Python client against our server prints exactly what our client prints,
/// two spaces after "Recibido:" included.
#[test]
fn python_client_against_our_server() {
    let dir = testkit::tempdir().expect("temp dir");
    let server = Server::start(&bin!("server"), &[], dir.path());
    let py = python_client(&server.port()).success();
    let ours = testkit::client(&bin!("client"), dir.path())
        .args(["--port", &server.port()])
        .assert()
        .success();
    assert_eq!(stdout_of(&py), "Recibido:  Hola Mundo!\n");
    assert_eq!(stdout_of(&py), stdout_of(&ours));
}

/// Our client against the handout's Python server; both servers print the same lines.
#[test]
fn our_client_against_python_server() {
    let dir = testkit::tempdir().expect("temp dir");
    let (py_server, py_addr) = start_python_server(dir.path());
    let a = testkit::client(&bin!("client"), dir.path())
        .args(["--port", &py_addr.port().to_string()])
        .assert()
        .success();
    assert_eq!(stdout_of(&a), "Recibido:  Hola Mundo!\n");
    assert_eq!(stderr_of(&a), "");
    py_server.wait_stdout("Conexion desde: 127.0.0.1:");

    let server = Server::start(&bin!("server"), &[], dir.path());
    testkit::client(&bin!("client"), dir.path())
        .args(["--port", &server.port()])
        .assert()
        .success();
    server.wait_stdout("Conexion desde: 127.0.0.1:");
    assert_eq!(
        without_ports(&server.stdout()),
        without_ports(&py_server.stdout())
    );
}

/// 2.5.3 with the handout's client: our server reads 4 bytes at a time and echoes each
/// piece, and the Python client's single `recv` takes whatever has arrived: a non-empty
/// beginning of the message, maybe not all of it. The server carries on.
#[test]
fn python_single_recv_may_miss_the_end_of_the_echo() {
    let dir = testkit::tempdir().expect("temp dir");
    let server = Server::start(&bin!("server"), &["--recv-size", "4"], dir.path());
    let py = python_client(&server.port()).success();
    let out = stdout_of(&py);
    let echo = out
        .strip_prefix("Recibido:  ")
        .and_then(|s| s.strip_suffix('\n'))
        .expect("the Python client's line");
    assert!(!echo.is_empty() && "Hola Mundo!".starts_with(echo), "{out}");
    let a = testkit::client(&bin!("client"), dir.path())
        .args(["--port", &server.port()])
        .assert()
        .success();
    assert_eq!(stdout_of(&a), "Recibido:  Hola Mundo!\n");
}

/// 2.5.3 the other way round (Linux): the handout's server reads once (1024 bytes), echoes
/// them and closes with the rest unread, so its kernel resets the connection; our client
/// prints the 1024 bytes it got and says what happened.
#[cfg(target_os = "linux")]
#[test]
fn python_server_reads_once_and_our_client_says_so() {
    let dir = testkit::tempdir().expect("temp dir");
    let (_py_server, py_addr) = start_python_server(dir.path());
    let message = "x".repeat(3000);
    let a = testkit::client(&bin!("client"), dir.path())
        .args(["--port", &py_addr.port().to_string(), &message])
        .assert()
        .success();
    assert_eq!(stdout_of(&a), format!("Recibido:  {}\n", "x".repeat(1024)));
    assert!(
        stderr_of(&a).ends_with("client: the echo has 1024 of the message's 3000 bytes\n"),
        "{}",
        stderr_of(&a)
    );
}
