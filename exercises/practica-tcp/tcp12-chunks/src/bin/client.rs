//! TCP 1.2 (Práctica TCP), the client: sends a message and receives the server's long
//! answer at most 20 bytes per read, printing each chunk.
//!
//! Dialogue (see the server's docs): connect, send the message, close our sending side (the
//! end of the message), then read the answer 20 bytes at a time until the server closes.
//!
//! Run the server first, then in another terminal:
//!
//! ```text
//! cargo run -p tcp12-chunks --bin client -- "Hola servidor, esto es un mensaje muy pero que muy largo"
//! Server> Hello Client, this i
//! Server> s a long message tha
//! Server> t you will receive i
//! Server> n chunks of 20 bytes
//! ```
//!
//! Caveat: the answer is 80 bytes, four full chunks and no short one; a client that used
//! the handout's rule ("a read shorter than 20 bytes ends the message") would wait forever
//! for a fifth.

use anyhow::{bail, Context};
use clap::Parser;
use sockcore::cli::input;
use sockcore::net;
use std::io::Write;
use std::net::Shutdown;
use std::process::ExitCode;
use std::time::Duration;
use tcp12_chunks::{recv_in_chunks, ChunkText, MAX_MESSAGE};

/// TCP 1.2 (Práctica TCP), client: send each MESSAGE to the server on a connection of its
/// own and print the answer as it arrives, at most 20 bytes per read ("Server> ..."); "EXIT"
/// ends the server.
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

/// How long to wait for the answer before giving up.
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
        exchange(&args.host, args.port, message)?;
    }
    Ok(())
}

/// One connection: send `message`, print the answer chunk by chunk.
fn exchange(host: &str, port: u16, message: &str) -> anyhow::Result<()> {
    let stream = net::connect_tcp(host, port, true)?;
    let server = stream.peer_addr()?;
    stream.set_read_timeout(Some(REPLY_TIMEOUT))?;
    (&stream)
        .write_all(message.as_bytes())
        .with_context(|| format!("sending the message to {server}"))?;
    // The end of our message: the server's loop ends when its read brings 0 bytes.
    stream.shutdown(Shutdown::Write)?;

    let mut text = ChunkText::default();
    let answer = recv_in_chunks(&mut &stream, MAX_MESSAGE, |chunk| {
        let piece = text.push(chunk);
        if !piece.is_empty() {
            println!("Server> {piece}");
        }
    })
    .map_err(|e| net::timeout_as_timed_out(e, "waiting for the server's answer"))
    .with_context(|| format!("receiving the answer from {server}"))?;
    if let Some(rest) = text.finish() {
        println!("Server> {rest}");
    }
    if answer.is_empty() {
        bail!("the server at {server} closed the connection without answering");
    }
    Ok(())
}
