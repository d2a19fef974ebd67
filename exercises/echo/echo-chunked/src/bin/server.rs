//! Echo Client/Server (handout "Echo Client/Server"), the server: sends back every byte it
//! receives, reading 16 bytes at a time.
//!
//! Dialogue, per client (plain bytes, no header: the handout's Python client works against it):
//!
//! ```text
//! client                               server
//!   "This is the message.  It will..." ──▶  read 16 bytes ─▶ write them back, repeat
//!                                      ◀──  "This is the mess" "age.  It will be" " repeated."
//!   close                              ──▶  read returns 0: "no more data from ..."
//! ```
//!
//! Run it in one terminal, then the client in another:
//!
//! ```text
//! cargo run -p echo-chunked --bin server
//! cargo run -p echo-chunked --bin client
//! ```
//!
//! The server prints `listening on 127.0.0.1:10000 (tcp)` on stderr, then on stdout the
//! handout's lines: `starting up on localhost port 10000`, `waiting for a connection`,
//! `connection from ('127.0.0.1', 52186)`, `received "This is the mess"`, `sending data back
//! to the client`, ... `no more data from ('127.0.0.1', 52186)`, `waiting for a connection`.
//!
//! Caveat: clients are served one at a time, as in the handout; a second client waits in
//! the listen queue until the first closes (or is dropped after [`IDLE_TIMEOUT`]).

use anyhow::Context;
use clap::Parser;
use echo_chunked::{python_addr, python_host, received_line, RECV_LEN};
use sockcore::net::{self, Transport};
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::ExitCode;
use std::time::Duration;

/// Echo Client/Server (handout "Echo Client/Server"), server: receives each client's bytes 16
/// at a time and sends every piece straight back, until the client closes; then waits for the
/// next client. Prints the handout's transcript on stdout.
#[derive(Parser, Debug)]
#[command(version)]
struct Args {
    /// Address to listen on (0.0.0.0 to accept other machines).
    #[arg(long, default_value = net::DEFAULT_HOST)]
    host: String,
    /// Port to listen on (0: let the OS choose; the readiness line says which).
    #[arg(long, default_value_t = 10000)]
    port: u16,
}

/// A client that sends nothing for this long is dropped. The server is sequential, as in the
/// handout, so a silent client would otherwise keep every other client waiting forever.
const IDLE_TIMEOUT: Duration = Duration::from_secs(30);

fn main() -> ExitCode {
    sockcore::cli::report(run(Args::parse()))
}

fn run(args: Args) -> anyhow::Result<()> {
    // Python: sock.bind(server_address); sock.listen(1)  -- std listens with a backlog of 128;
    // the handout does not depend on it (waiting clients queue either way).
    let sock = net::bind_tcp(&args.host, args.port)?;
    let server_address = sock.local_addr()?;
    net::announce(server_address, Transport::Tcp);
    // Python prints this line before bind(); we print it after, so that with --port 0 it
    // shows the port the OS chose.
    println!(
        "starting up on {} port {}",
        python_host(&server_address.ip().to_string()),
        server_address.port()
    );
    serve(sock)
}

/// Serves clients one after another, forever. Only an error of the listening socket itself
/// ends it; a client's error ends that client alone.
///
/// # Errors
/// When `accept` fails in a way that affects the listener (not a single aborted connection).
fn serve(sock: TcpListener) -> anyhow::Result<()> {
    loop {
        println!("waiting for a connection");
        let (connection, client_address) = match sock.accept() {
            Ok(conn) => conn,
            // A connection reset before we accepted it is that client's problem, not ours.
            Err(e) if e.kind() == io::ErrorKind::ConnectionAborted => continue,
            Err(e) => return Err(e).context("accepting a connection"),
        };
        println!("connection from {}", python_addr(client_address));
        if let Err(e) = echo(connection, client_address) {
            // Python's server would stop here with a traceback (e.g. ConnectionResetError).
            eprintln!("server: client {client_address}: {e}");
        }
        // Python: finally: connection.close()  -- dropping the stream closes it.
    }
}

/// The handout's inner loop: read up to 16 bytes, print them, send them back; a read of 0
/// bytes means the client closed its side.
fn echo(mut connection: TcpStream, client_address: SocketAddr) -> io::Result<()> {
    connection.set_read_timeout(Some(IDLE_TIMEOUT))?;
    let mut data = [0u8; RECV_LEN];
    loop {
        let n = match connection.read(&mut data) {
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => {
                return Err(net::timeout_as_timed_out(
                    e,
                    &format!("after {}s without data", IDLE_TIMEOUT.as_secs()),
                ))
            }
        };
        println!("{}", received_line(&data[..n]));
        if n > 0 {
            println!("sending data back to the client");
            // Python: connection.sendall(data)  -- write_all is sendall: it loops until every
            // byte is in the kernel's send buffer.
            connection.write_all(&data[..n])?;
        } else {
            println!("no more data from {}", python_addr(client_address));
            return Ok(());
        }
    }
}
