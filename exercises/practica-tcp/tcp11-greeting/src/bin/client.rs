//! TCP 1.1 (Práctica TCP), the client: introduces itself to the greeting server, one
//! connection per message, and prints the server's answer.
//!
//! Dialogue (see the server's docs): connect, send the message's bytes, close our sending
//! side (the end of the message), read the answer, `Hi TCP Client` or, after `EXIT`,
//! `Bye Client`.
//!
//! Run the server first, then in another terminal:
//!
//! ```text
//! cargo run -p tcp11-greeting --bin client -- "Hola servidor" EXIT
//! Received data from server: Hi TCP Client
//! Received data from server: Bye Client
//! ```
//!
//! Caveat: the handout's server serves one client at a time and keeps each connection open
//! until the next client arrives, so its answer ends nowhere on the wire; this client knows
//! the handout's two answers and stops reading as soon as one of them is complete.

use anyhow::{bail, Context};
use clap::Parser;
use sockcore::cli::input;
use sockcore::net;
use sockcore::unframed::{one_of, UnframedReader};
use std::io::Write;
use std::net::Shutdown;
use std::process::ExitCode;
use std::time::Duration;

/// TCP 1.1 (Práctica TCP), client: send each MESSAGE to the greeting server on a connection
/// of its own and print the answer ("Hi TCP Client"; "Bye Client" after "EXIT", which ends
/// the server). Works with the handout's Python server too.
#[derive(Parser, Debug)]
#[command(version)]
struct Args {
    /// Server address.
    #[arg(long, default_value = net::DEFAULT_HOST)]
    host: String,
    /// Server port.
    #[arg(long, default_value_t = 6780)]
    port: u16,
    /// Messages to send, one connection each ("EXIT" ends the server); asked on stdin
    /// ("Message: ") if none is given.
    messages: Vec<String>,
}

/// The handout server's two answers: to a greeting, and to EXIT.
const REPLIES: [&str; 2] = ["Hi TCP Client", "Bye Client"];

/// Longest answer read, in bytes: the handout's `recv(1024)`.
const MAX_REPLY: usize = 1024;

/// How long to wait for the answer: the handout's server, busy with another client, would
/// otherwise leave us waiting forever.
const REPLY_TIMEOUT: Duration = Duration::from_secs(10);

fn main() -> ExitCode {
    sockcore::cli::report(run(Args::parse()))
}

fn run(args: Args) -> anyhow::Result<()> {
    let messages = match args.messages.is_empty() {
        true => vec![input("Message: ")?],
        false => args.messages,
    };
    for message in &messages {
        let reply = exchange(&args.host, args.port, message)?;
        println!("Received data from server: {reply}");
    }
    Ok(())
}

/// One connection: send `message`, return the server's answer.
fn exchange(host: &str, port: u16, message: &str) -> anyhow::Result<String> {
    let stream = net::connect_tcp(host, port, true)?;
    let server = stream.peer_addr()?;
    stream.set_read_timeout(Some(REPLY_TIMEOUT))?;
    // Python: sock.sendall(msg.encode())
    (&stream)
        .write_all(message.as_bytes())
        .with_context(|| format!("sending the message to {server}"))?;
    // Not in the handout: closing our sending side marks the end of the message, so the
    // server need not guess it (the bytes are the same; the handout's server ignores it).
    stream.shutdown(Shutdown::Write)?;
    // Python: data = sock.recv(1024).decode()  -- one recv may hold part of the answer.
    let mut rx = UnframedReader::new(stream, MAX_REPLY);
    let reply = rx
        .recv(one_of(&REPLIES))
        .map_err(|e| net::timeout_as_timed_out(e, "waiting for the server's answer"))
        .with_context(|| format!("reading the answer from {server}"))?;
    match reply {
        None => bail!("the server at {server} closed the connection without answering"),
        Some(bytes) => Ok(String::from_utf8(bytes).expect("REPLIES are UTF-8 text")),
    }
}
