//! Ej. 1 (UDP), the server: prints each datagram it receives and answers it.
//!
//! Dialogue, per datagram (one datagram is one whole message; no connection, no framing):
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
//! cargo run -p ej1-hello-udp --bin server
//! cargo run -p ej1-hello-udp --bin client -- Hola mundo!
//! ```
//!
//! The server prints `listening on 127.0.0.1:1207 (udp)` on stderr, then each message on
//! stdout.
//!
//! Caveat: plain UDP has no memory. A client that retransmits because our answer was lost
//! makes us print (and answer) the same message twice; Ej. 4 and Ej. 6 use `sockcore::udp`,
//! whose request ids and reply cache make a retransmission harmless.

use anyhow::Context;
use clap::Parser;
use ej1_hello_udp::{message, MAX_MESSAGE_LEN};
use sockcore::datagram::{is_unreachable, recv_datagram};
use sockcore::net::{self, Transport};
use std::io;
use std::net::UdpSocket;
use std::process::ExitCode;

/// Ej. 1 (Práctica 2) / Programa 1 of the report, UDP server: print the message in each
/// datagram and answer "Mensaje recibido (<n> bytes)" to its sender.
#[derive(Parser, Debug)]
#[command(version)]
struct Args {
    /// Address to listen on (0.0.0.0 to accept other machines).
    #[arg(long, default_value = net::DEFAULT_HOST)]
    host: String,
    /// Port to listen on (0: let the OS choose; the readiness line says which). The report's
    /// port is 1207.
    #[arg(long, default_value_t = 1207)]
    port: u16,
}

fn main() -> ExitCode {
    sockcore::cli::report(run(Args::parse()))
}

fn run(args: Args) -> anyhow::Result<()> {
    // Python: udp.bind(("localhost", 1207))
    let socket = net::bind_udp(&args.host, args.port)?;
    net::announce(socket.local_addr()?, Transport::Udp);
    serve(&socket)
}

/// Answers datagrams forever. There are no connections: each datagram carries its sender's
/// address, and the answer goes back there, so any number of clients interleave freely.
///
/// Python: `data, addr = udp.recvfrom(1024); print(data); udp.close()`: one datagram and the
/// server is gone. Here it is a loop.
///
/// # Errors
/// Only when the socket itself fails; a bad datagram is answered with an error and forgotten.
fn serve(socket: &UdpSocket) -> anyhow::Result<()> {
    loop {
        let datagram = match recv_datagram(socket, MAX_MESSAGE_LEN) {
            Ok(d) => d,
            // Windows reports an earlier answer's "port unreachable" (that client had gone)
            // on the next receive: news about an old client, not a broken socket.
            Err(e) if is_unreachable(&e) || e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e).context("receiving a datagram"),
        };
        let peer = datagram.from;
        let answer = match message(&datagram.data, datagram.truncated) {
            Ok(mensaje) => {
                // Python: print(data)
                println!("{mensaje}");
                format!("Mensaje recibido ({} bytes)", mensaje.len())
            }
            Err(why) => {
                eprintln!("server: datagram from {peer}: {why}");
                format!("ERROR {why}")
            }
        };
        // A failed answer concerns that client only (e.g. it has gone): log and go on.
        if let Err(e) = socket.send_to(answer.as_bytes(), peer) {
            eprintln!("server: answering {peer}: {e}");
        }
    }
}
