//! Interoperability with the handout's Python programs (tests/python/): their client against
//! our server and our client against their server, with identical output on both sides.

mod common;

use common::{
    comparable_lines, handout_lines, python, python_program, start_python_server,
    stdout_after_session, HANDOUT_CLIENT, HANDOUT_SERVER,
};
use testkit::stdout as stdout_of;
use testkit::{bin, Server};

/// The handout's Python client against our server prints exactly what our client prints,
/// and our server prints the handout's transcript.
#[test]
fn python_client_against_our_server() {
    let dir = testkit::tempdir().expect("temp dir");
    let server = Server::start(&bin!("server"), &[], dir.path());
    let script = python_program("socket_echo_client.py");
    let py = testkit::client(&python(), dir.path())
        .args(["-u", script.to_str().expect("UTF-8 path")])
        .args(["localhost", &server.port()])
        .assert()
        .success();
    let ours = testkit::client(&bin!("client"), dir.path())
        .args(["--port", &server.port()])
        .assert()
        .success();
    assert_eq!(stdout_of(&py), stdout_of(&ours));
    assert_eq!(
        comparable_lines(&stdout_of(&py)),
        handout_lines(HANDOUT_CLIENT)
    );

    // Both sessions are over once the server takes a third connection.
    let served = stdout_after_session(&server, server.addr());
    let lines = comparable_lines(&served);
    let handout = handout_lines(HANDOUT_SERVER);
    // starting up, then the handout's session once per client.
    assert_eq!(lines[..handout.len()], handout[..]);
    assert_eq!(lines[handout.len()..], handout[2..]);
}

/// Our client against the handout's Python server: both sides print the handout's
/// transcript, and our server prints the same lines as the Python one.
#[test]
fn our_client_against_python_server() {
    let dir = testkit::tempdir().expect("temp dir");
    let (py_server, addr) = start_python_server(dir.path());
    let a = testkit::client(&bin!("client"), dir.path())
        .args(["--port", &addr.port().to_string()])
        .assert()
        .success();
    assert_eq!(
        comparable_lines(&stdout_of(&a)),
        handout_lines(HANDOUT_CLIENT)
    );
    let py_served = stdout_after_session(&py_server, addr);
    assert_eq!(comparable_lines(&py_served), handout_lines(HANDOUT_SERVER));

    // Our server, same client: the same lines, but for the port numbers.
    let server = Server::start(&bin!("server"), &[], dir.path());
    testkit::client(&bin!("client"), dir.path())
        .args(["--port", &server.port()])
        .assert()
        .success();
    let served = stdout_after_session(&server, server.addr());
    assert_eq!(comparable_lines(&served), comparable_lines(&py_served));
}
