//! Ej. 1 (TCP), the client: sends one message to the server and prints its answer.
//!
//! Dialogue (see the server's docs for the bytes): connect, send the message typed at
//! "Envia mensaje: " (or given as an argument), print "Mensaje enviado", print the server's
//! answer, close.
//!
//! Run the server first, then in another terminal:
//!
//! ```text
//! cargo run -p ej1-hello-tcp --bin client
//! Envia mensaje: Hola mundo!
//! Mensaje enviado
//! Mensaje recibido (11 bytes)
//! ```
//!
//! Caveat: with no server running, TCP says so at once: `error: connection refused: is the
//! server running on 127.0.0.1:2058?`. Compare the UDP client, which can only wait.

use anyhow::{bail, Context};
use clap::Parser;
use sockcore::cli::input;
use sockcore::frame::{recv_text, send_text, MAX_FRAME_LEN};
use sockcore::net;
use std::process::ExitCode;
use std::time::Duration;

/// Ej. 1 (Práctica 2) / Programa 1 of the report, TCP client: send MENSAJE (asked with
/// "Envia mensaje: " if absent) to the server and print its answer.
#[derive(Parser, Debug)]
#[command(version)]
struct Args {
    /// Server address.
    #[arg(long, default_value = net::DEFAULT_HOST)]
    host: String,
    /// Server port (the report's is 2058).
    #[arg(long, default_value_t = 2058)]
    port: u16,
    /// The message to send (several words are joined with spaces); asked on stdin
    /// ("Envia mensaje: ") if absent.
    mensaje: Vec<String>,
}

/// Longest message sent, in bytes: the server's limit (the report's `recv(1024)`), checked
/// here first so a long line fails before connecting.
const MAX_MESSAGE_LEN: usize = 1024;

/// How long to wait for the server's answer: a connected server that says nothing for this
/// long is stuck, and the user deserves an error rather than a frozen terminal.
const REPLY_TIMEOUT: Duration = Duration::from_secs(10);

fn main() -> ExitCode {
    sockcore::cli::report(run(Args::parse()))
}

fn run(args: Args) -> anyhow::Result<()> {
    // Python (UDP client of the report): message = raw_input("Envia mensaje: ")
    let mensaje = if args.mensaje.is_empty() {
        input("Envia mensaje: ")?
    } else {
        args.mensaje.join(" ")
    };
    if mensaje.len() > MAX_MESSAGE_LEN {
        bail!(
            "message is {} bytes long, limit {MAX_MESSAGE_LEN}",
            mensaje.len()
        );
    }

    // Python: s.connect(('localhost', 2058))
    let mut stream = net::connect_tcp(&args.host, args.port, true)?;
    let server = stream.peer_addr()?;
    stream.set_read_timeout(Some(REPLY_TIMEOUT))?;

    // Python: s.send("Hola mundo!")  -- `send` may send only part; a frame goes whole
    // (`write_all`) and tells the server where the message ends.
    send_text(&mut stream, &mensaje).with_context(|| format!("sending the message to {server}"))?;
    println!("Mensaje enviado");

    // Python: mensaje = s.recv(1024); print(mensaje)
    let respuesta = recv_text(&mut stream, MAX_FRAME_LEN)
        .map_err(|e| net::timeout_as_timed_out(e, "waiting for the server's answer"))
        .with_context(|| format!("reading the answer from {server}"))?;
    match respuesta {
        None => bail!("the server closed the connection without answering"),
        Some(r) => match r.strip_prefix("ERROR ") {
            Some(why) => bail!("the server refused the message: {why}"),
            None => println!("{r}"),
        },
    }
    Ok(())
}
