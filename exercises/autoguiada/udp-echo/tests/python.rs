//! Interoperability with the handout's Python programs (tests/python/): their client against
//! our server and our client against their server, byte for byte.

mod common;

use common::{python, python_program, start_python_server, stdout_before_probe, without_ports};
use testkit::stdout as stdout_of;
use testkit::{bin, Server};

/// Runs the handout's Python client against `port`.
fn python_client(port: &str) -> assert_cmd::assert::Assert {
    let dir = testkit::tempdir().expect("temp dir");
    let script = python_program("udp_echo_client.py");
    testkit::client(&python(), dir.path())
        .args(["-u", &script, "127.0.0.1", port])
        .assert()
}

/// The handout's Python client against our server prints exactly what our client prints.
#[test]
fn python_client_against_our_server() {
    let dir = testkit::tempdir().expect("temp dir");
    let server = Server::start(&bin!("server"), &[], dir.path());
    let py = python_client(&server.port()).success();
    let ours = testkit::client(&bin!("client"), dir.path())
        .args(["--port", &server.port()])
        .assert()
        .success();
    assert_eq!(stdout_of(&py), "--> TyR: Echo sobre UDP\n");
    assert_eq!(stdout_of(&py), stdout_of(&ours));
}

/// Our client against the handout's Python server; and the Python server's stdout is our
/// server's, line for line (ports aside).
#[test]
fn our_client_against_python_server() {
    let dir = testkit::tempdir().expect("temp dir");
    let (py_server, py_addr) = start_python_server(dir.path());
    let a = testkit::client(&bin!("client"), dir.path())
        .args(["--port", &py_addr.port().to_string()])
        .assert()
        .success();
    assert_eq!(stdout_of(&a), "--> TyR: Echo sobre UDP\n");
    let py_out = stdout_before_probe(&py_server, py_addr);

    let server = Server::start(&bin!("server"), &[], dir.path());
    testkit::client(&bin!("client"), dir.path())
        .args(["--port", &server.port()])
        .assert()
        .success();
    let out = stdout_before_probe(&server, server.addr());
    assert_eq!(without_ports(&out), without_ports(&py_out));
}

/// 1.5.3 with the Python client: our server with an 8-byte buffer echoes 8 bytes, which the
/// Python client prints without knowing anything was lost.
#[test]
fn python_client_sees_the_truncated_echo() {
    let dir = testkit::tempdir().expect("temp dir");
    let server = Server::start(&bin!("server"), &["--buffer", "8"], dir.path());
    let py = python_client(&server.port()).success();
    assert_eq!(stdout_of(&py), "--> TyR: Ech\n");
    server.wait_stderr("truncated, the rest is lost");
}

/// 1.5.3 against the Python server: our client with an 8-byte buffer says the reply was
/// truncated.
#[test]
fn our_client_detects_truncation_from_python_server() {
    let dir = testkit::tempdir().expect("temp dir");
    let (_py_server, py_addr) = start_python_server(dir.path());
    let a = testkit::client(&bin!("client"), dir.path())
        .args(["--port", &py_addr.port().to_string(), "--buffer", "8"])
        .assert()
        .code(1);
    assert_eq!(stdout_of(&a), "--> TyR: Ech\n");
}

/// 1.5.4 with the Python client: the operator's answer reaches it as an ordinary reply.
#[test]
fn python_client_chats_with_our_server() {
    let dir = testkit::tempdir().expect("temp dir");
    let mut server = Server::start(&bin!("server"), &["--chat"], dir.path());
    let port = server.port();
    let script = python_program("udp_echo_client.py");
    let mut py = testkit::Proc::spawn(&python(), &["-u", &script, "127.0.0.1", &port], dir.path());
    server.wait_stdout("Recibi: TyR: Echo sobre UDP");
    server.write_stdin("hola, Python\n");
    assert!(py.wait_exit().success(), "{}", py.stderr());
    assert_eq!(py.stdout(), "--> hola, Python\n");
}
