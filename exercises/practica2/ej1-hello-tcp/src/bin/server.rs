//! Ej. 1 (TCP), the server: receives one message per connection, prints it and answers.
//!
//! Dialogue, per client (every message is a length-prefixed frame, `sockcore::frame`):
//!
//! ```text
//! client                               server
//!   "Hola mundo!"             ──────▶    prints it
//!                             ◀──────    "Mensaje recibido (11 bytes)" | "ERROR <why>"
//! ```
//!
//! Run it in one terminal, then the client in another:
//!
//! ```text
//! cargo run -p ej1-hello-tcp --bin server
//! cargo run -p ej1-hello-tcp --bin client -- "Hola mundo!"
//! ```
//!
//! The server prints `listening on 127.0.0.1:2058 (tcp)` on stderr, then, per client,
//! `Conexión desde 127.0.0.1:50001` and the message on stdout.
//!
//! Caveat: the report's server (Programa 1, Figura 4) serves one client and exits, and never
//! answers; this one answers every client and keeps serving until you stop it (Ctrl-C).

use anyhow::{bail, Context};
use clap::Parser;
use sockcore::frame::{recv_text, send_text};
use sockcore::net::{self, Transport};
use std::io;
use std::net::{TcpListener, TcpStream};
use std::process::ExitCode;
use std::thread;
use std::time::Duration;

/// Ej. 1 (Práctica 2) / Programa 1 of the report, TCP server: print the message each client
/// sends and answer "Mensaje recibido (<n> bytes)". Serves several clients at once.
#[derive(Parser, Debug)]
#[command(version)]
struct Args {
    /// Address to listen on (0.0.0.0 to accept other machines).
    #[arg(long, default_value = net::DEFAULT_HOST)]
    host: String,
    /// Port to listen on (0: let the OS choose; the readiness line says which). The report's
    /// port is 2058.
    #[arg(long, default_value_t = 2058)]
    port: u16,
}

/// Longest message accepted, in bytes: the report's `recv(1024)`, but enforced. A longer
/// message is refused whole with an error reply instead of being silently cut at 1024 bytes.
const MAX_MESSAGE_LEN: usize = 1024;

/// A client that connects and sends nothing for this long is dropped, so a stuck peer cannot
/// hold a thread forever.
const IDLE_TIMEOUT: Duration = Duration::from_secs(30);

fn main() -> ExitCode {
    sockcore::cli::report(run(Args::parse()))
}

fn run(args: Args) -> anyhow::Result<()> {
    // Python: sock.bind(('localhost', 2058)); sock.listen(1)
    let listener = net::bind_tcp(&args.host, args.port)?;
    net::announce(listener.local_addr()?, Transport::Tcp);
    serve(listener)
}

/// Accepts clients forever, one thread each.
///
/// Python: `socket_cliente, addr = sock.accept()` once, then `sock.close()`: one client and
/// the server is gone. Here the accept is a loop, so the next client finds the server too.
///
/// # Errors
/// When `accept` fails in a way that affects the listener (not a single aborted connection).
fn serve(listener: TcpListener) -> anyhow::Result<()> {
    loop {
        let (stream, peer) = match listener.accept() {
            Ok(conn) => conn,
            // A connection reset before we accepted it is that client's problem, not ours.
            Err(e) if e.kind() == io::ErrorKind::ConnectionAborted => continue,
            Err(e) => return Err(e).context("accepting a connection"),
        };
        thread::spawn(move || {
            println!("Conexión desde {peer}");
            if let Err(e) = handle_client(stream) {
                eprintln!("server: client {peer}: {e:#}");
            }
        });
    }
}

/// Receives one message, prints it and answers; a failure is reported to the client as one
/// `ERROR <why>` frame (if it still listens) and returned for the server's log.
fn handle_client(mut stream: TcpStream) -> anyhow::Result<()> {
    stream.set_read_timeout(Some(IDLE_TIMEOUT))?;
    let result = exchange(&mut stream);
    if let Err(e) = &result {
        // The client may be gone (that may be the error itself): ignore a failed send.
        let _ = send_text(&mut stream, &format!("ERROR {e:#}"));
    }
    result
}

/// The handout's exchange: one message in, printed, one answer out.
fn exchange(stream: &mut TcpStream) -> anyhow::Result<()> {
    // Python: mensaje = socket_cliente.recv(1024)  -- one recv is not one message (it may hold
    // part of it, or be cut at 1024 bytes); a frame says its own length.
    let mensaje = match recv_text(stream, MAX_MESSAGE_LEN) {
        Ok(Some(m)) => m,
        Ok(None) => bail!("connected and left without sending a message"),
        Err(e) => return Err(net::timeout_as_timed_out(e, "waiting for the message").into()),
    };
    // Python: print(mensaje)
    println!("{mensaje}");
    // The report's server never answers (its client then prints the empty string that
    // `recv` returns when the server closes); the handout asks for a dialogue, so we answer.
    send_text(
        stream,
        &format!("Mensaje recibido ({} bytes)", mensaje.len()),
    )
    .context("sending the answer")?;
    Ok(())
}
