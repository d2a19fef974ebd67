//! Shared by the tcp-echo tests: comparing outputs and starting the handout's Python programs.

// Each test file uses a different subset of these helpers.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::path::Path;
use testkit::Proc;

/// `text` with every `127.0.0.1:<port>` written `127.0.0.1:PORT`, to compare two runs.
pub fn without_ports(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    let prefix = "127.0.0.1:";
    while let Some(i) = rest.find(prefix) {
        out.push_str(&rest[..i + prefix.len()]);
        rest = &rest[i + prefix.len()..];
        let digits = rest.len() - rest.trim_start_matches(|c: char| c.is_ascii_digit()).len();
        if digits > 0 {
            out.push_str("PORT");
            rest = &rest[digits..];
        }
    }
    out.push_str(rest);
    out
}

pub use testkit::python;

/// The path of one of the handout's Python programs in tests/python/.
pub fn python_program(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join("python")
        .join(name)
        .to_str()
        .expect("UTF-8 path")
        .to_string()
}

/// Starts the handout's Python TCP server on 127.0.0.1 port 0 and returns it with its
/// address (from the readiness line added to the handout's program).
pub fn start_python_server(cwd: &Path) -> (Proc, SocketAddr) {
    let script = python_program("tcp_echo_server.py");
    let proc = Proc::spawn(&python(), &["-u", &script, "127.0.0.1", "0"], cwd);
    let line = proc.wait_stderr("listening on ");
    let addr = testkit::parse_readiness(&line).expect("the readiness line");
    (proc, addr)
}
