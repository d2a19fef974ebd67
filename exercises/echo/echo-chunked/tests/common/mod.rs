//! Shared by the echo-chunked tests: the handout's transcript, the normalisation used to
//! compare against it, and helpers to start the handout's Python programs.

// Each test file uses a different subset of these helpers.
#![allow(dead_code)]

use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use testkit::Proc;

/// The handout's "Salida del servidor", verbatim (its page puts a blank line between lines).
pub const HANDOUT_SERVER: &str = r#"$ python ./socket_echo_server.py

starting up on localhost port 10000

waiting for a connection

connection from ('127.0.0.1', 52186)

received "This is the mess"

sending data back to the client

received "age. It will be"

sending data back to the client

received " repeated."

sending data back to the client

received ""

no more data from ('127.0.0.1', 52186)

waiting for a connection
"#;

/// The handout's "Salida del cliente", verbatim.
pub const HANDOUT_CLIENT: &str = r#"$ python socket_echo_client.py

connecting to localhost port 10000
sending "This is the message. It will be repeated."
received "This is the mess"
received "age. It will be"
received " repeated."
closing socket
"#;

/// The lines a program printed in the handout: without the `$ python ...` command line and
/// without the blank lines the handout's page inserts.
pub fn handout_lines(text: &str) -> Vec<String> {
    text.lines()
        .skip(1)
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect()
}

/// Our output made comparable with the handout's: every number after `port ` becomes 10000
/// and every port in a `('127.0.0.1', N)` tuple becomes 52186, as in the handout; and two
/// spaces become one, because the handout's page collapsed the message's double space
/// ("message.  It") into one (its 16-byte pieces only add up with the 42-byte message).
pub fn comparable_lines(text: &str) -> Vec<String> {
    let text = replace_number_after(text, "port ", "10000");
    let text = replace_number_after(&text, "('127.0.0.1', ", "52186");
    text.replace("  ", " ")
        .lines()
        .map(str::to_string)
        .collect()
}

/// Replaces the decimal number that follows each occurrence of `prefix` with `with`.
pub fn replace_number_after(text: &str, prefix: &str, with: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find(prefix) {
        out.push_str(&rest[..i + prefix.len()]);
        rest = &rest[i + prefix.len()..];
        let digits = rest.len() - rest.trim_start_matches(|c: char| c.is_ascii_digit()).len();
        if digits > 0 {
            out.push_str(with);
            rest = &rest[digits..];
        }
    }
    out.push_str(rest);
    out
}

/// Waits until a sequential server `proc` listening on `addr` has finished its previous
/// client: it prints `connection from (..., <port>)` for a new connection only after it
/// printed `waiting for a connection` again. Returns the server's stdout before that line.
pub fn stdout_after_session(proc: &Proc, addr: SocketAddr) -> String {
    let probe = TcpStream::connect(addr).expect("connecting the probe");
    let port = probe.local_addr().expect("probe address").port();
    let line = proc.wait_stdout(&format!("connection from ('127.0.0.1', {port})"));
    let out = proc.stdout();
    let end = out.find(&line).expect("the line waited for is in stdout");
    out[..end].to_string()
}

pub use testkit::python;

/// The path of one of the handout's Python programs in tests/python/.
pub fn python_program(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join("python")
        .join(name)
}

/// Starts the handout's Python server on `localhost` port 0 and returns it with the address
/// it printed on stderr (the one line added to the handout's program).
pub fn start_python_server(cwd: &Path) -> (Proc, SocketAddr) {
    let script = python_program("socket_echo_server.py");
    let script = script.to_str().expect("UTF-8 path");
    let proc = Proc::spawn(&python(), &["-u", script, "localhost", "0"], cwd);
    let line = proc.wait_stderr("listening on ");
    let addr = testkit::parse_readiness(&line).expect("the readiness line");
    (proc, addr)
}
