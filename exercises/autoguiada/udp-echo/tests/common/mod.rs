//! Shared by the udp-echo tests: raw UDP sockets, waiting for a server to finish a datagram,
//! and starting the handout's Python programs.

// Each test file uses a different subset of these helpers.
#![allow(dead_code)]

use std::net::{SocketAddr, UdpSocket};
use std::path::Path;
use testkit::Proc;

/// A UDP socket on 127.0.0.1 with a read timeout, for sending what the client never sends.
pub fn raw_socket() -> UdpSocket {
    let s = UdpSocket::bind("127.0.0.1:0").expect("binding a raw socket");
    s.set_read_timeout(Some(testkit::WAIT))
        .expect("read timeout");
    s
}

/// Waits until the server `proc` on `addr` has dealt with every datagram sent before: it
/// handles datagrams in order, so once it prints `Conexion desde: ...` for a probe sent now,
/// it has finished the earlier ones. Returns its stdout before that line.
pub fn stdout_before_probe(proc: &Proc, addr: SocketAddr) -> String {
    let probe = raw_socket();
    probe.send_to(b"", addr).expect("sending the probe");
    let port = probe.local_addr().expect("probe address").port();
    let line = proc.wait_stdout(&format!("Conexion desde: 127.0.0.1:{port}"));
    let out = proc.stdout();
    let end = out.find(&line).expect("the line waited for is in stdout");
    out[..end].to_string()
}

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

/// Starts the handout's Python UDP server on 127.0.0.1 port 0 and returns it with its
/// address (from the readiness line added to the handout's program).
pub fn start_python_server(cwd: &Path) -> (Proc, SocketAddr) {
    let script = python_program("udp_echo_server.py");
    let proc = Proc::spawn(&python(), &["-u", &script, "127.0.0.1", "0"], cwd);
    let line = proc.wait_stderr("listening on ");
    let addr = testkit::parse_readiness(&line).expect("the readiness line");
    (proc, addr)
}
