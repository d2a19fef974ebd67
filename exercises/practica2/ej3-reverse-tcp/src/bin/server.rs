//! Ej. 3, the server: receives a text file, reverses it, and sends it back with its size.
//!
//! Dialogue, per client (messages are length-prefixed frames, `sockcore::frame`; the files
//! travel as streamed bodies: size, bytes, CRC-32):
//!
//! ```text
//! client                               server
//!   REVERSE <size> <name>     ──────▶    checks the size against --max-size
//!                             ◀──────    OK | ERROR <why>
//!   <size><bytes><crc32>      ──────▶    checks size and CRC, checks it is UTF-8, reverses it
//!                             ◀──────    REVERSED <size> | ERROR <why>
//!                             ◀──────    <size><reversed bytes><crc32>   (after REVERSED)
//! ```
//!
//! Run it in one terminal, then the client in another:
//!
//! ```text
//! cargo run -p ej3-reverse-tcp --bin server
//! cargo run -p ej3-reverse-tcp --bin client -- Hello.txt
//! ```
//!
//! The server prints `listening on 127.0.0.1:5003 (tcp)` on stderr, then per client
//! `Conexión desde ...`, `Recibido Hello.txt: 12 bytes` and `Enviado Hello.txt invertido:
//! 12 bytes` on stdout.
//!
//! Caveat: the text is reversed by Unicode scalar value (Rust's `char`), as Python's
//! `texto[::-1]` does: "añoño" stays readable, but a line ending `\r\n` becomes `\n\r`, and
//! a letter built from two scalars (`e` + a combining accent) gets its accent moved.

use anyhow::{bail, Context};
use clap::Parser;
use ej3_reverse_tcp::parse_request;
use sockcore::frame::{recv_file, recv_text, send_file, send_text, MAX_FRAME_LEN};
use sockcore::net::{self, Transport};
use std::io::{self, BufReader, BufWriter, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::ExitCode;
use std::thread;
use std::time::Duration;

/// Ej. 3 (Práctica 2), TCP server: receive a text file, reverse its text and send it back
/// with its size in bytes. Serves several clients at once.
#[derive(Parser, Debug)]
#[command(version)]
struct Args {
    /// Address to listen on (0.0.0.0 to accept other machines).
    #[arg(long, default_value = net::DEFAULT_HOST)]
    host: String,
    /// Port to listen on (0: let the OS choose; the readiness line says which).
    #[arg(long, default_value_t = 5003)]
    port: u16,
    /// Largest text accepted, in bytes.
    #[arg(long, default_value_t = MAX_TEXT_LEN)]
    max_size: u64,
}

/// Default limit on a text, in bytes: 16 MiB, far above any text file of the course.
/// Reversing needs the whole text, so the server holds it in memory (twice: as received and
/// reversed); the limit bounds that per client. (A teaching shortcut: a server for huge files
/// would spool to disk and read it back from the end in chunks.)
const MAX_TEXT_LEN: u64 = 16 << 20;

/// A client that sends nothing for this long is dropped, so a stuck peer cannot hold a
/// thread (and its text in memory) forever.
const IDLE_TIMEOUT: Duration = Duration::from_secs(60);

fn main() -> ExitCode {
    sockcore::cli::report(run(Args::parse()))
}

fn run(args: Args) -> anyhow::Result<()> {
    let listener = net::bind_tcp(&args.host, args.port)?;
    net::announce(listener.local_addr()?, Transport::Tcp);
    serve(listener, args.max_size)
}

/// Accepts clients forever, one thread each. Only an error of the listening socket itself
/// ends it; a client's error ends that client alone.
///
/// # Errors
/// When `accept` fails in a way that affects the listener (not a single aborted connection).
fn serve(listener: TcpListener, max_size: u64) -> anyhow::Result<()> {
    loop {
        let (stream, peer) = match listener.accept() {
            Ok(conn) => conn,
            // A connection reset before we accepted it is that client's problem, not ours.
            Err(e) if e.kind() == io::ErrorKind::ConnectionAborted => continue,
            Err(e) => return Err(e).context("accepting a connection"),
        };
        thread::spawn(move || {
            println!("Conexión desde {peer}");
            if let Err(e) = handle_client(stream, max_size) {
                eprintln!("server: client {peer}: {e:#}");
            }
        });
    }
}

/// Runs the dialogue with one client; any failure is reported to the client as one
/// `ERROR <why>` frame (if it still listens) and returned for the server's log.
fn handle_client(stream: TcpStream, max_size: u64) -> anyhow::Result<()> {
    stream.set_read_timeout(Some(IDLE_TIMEOUT))?;
    let mut rx = BufReader::new(stream.try_clone()?);
    let mut tx = BufWriter::new(stream);
    let result = dialogue(&mut rx, &mut tx, max_size);
    if let Err(e) = &result {
        // The client may be gone (that may be the error itself): ignore a failed send.
        let _ = send_text(&mut tx, &format!("ERROR {e:#}"));
        // The client may still be sending the file: closing with its bytes unread would
        // reset the connection and lose our ERROR (see sockcore::net::lingering_close).
        if let Ok(stream) = tx.into_inner() {
            net::lingering_close(stream, net::LINGER_TIME);
        }
    }
    result
}

/// The handout's dialogue: the file in, reversed, back out with its size.
fn dialogue(rx: &mut impl Read, tx: &mut impl Write, max_size: u64) -> anyhow::Result<()> {
    // Python: data = conn.recv(1024)  -- one recv is not the whole file; a frame announces
    // the size, then the body streams exactly that many bytes.
    let Some(request) = recv_text(rx, MAX_FRAME_LEN)? else {
        return Ok(()); // connected and left without a word
    };
    let (size, name) = parse_request(&request)?;
    if size > max_size {
        bail!("file of {size} bytes exceeds limit {max_size}");
    }
    send_text(tx, "OK")?;

    let mut text = Vec::new();
    let body = recv_file(rx, &mut text, size, |_| Ok(()), |_| {})
        .map_err(|e| net::timeout_as_timed_out(e, "waiting for the file's bytes"))
        .with_context(|| format!("receiving {name}"))?;
    if body.size != size {
        bail!(
            "{name} was announced with {size} bytes but {} arrived",
            body.size
        );
    }
    println!("Recibido {name}: {size} bytes");

    // Python: invertido = texto[::-1]  -- on a str that reverses code points, as `chars()`
    // does; on bytes it would tear every multi-byte character apart. Invalid UTF-8 is an
    // error reply (`bail!` below), never a panic.
    let text = String::from_utf8(text).map_err(|e| {
        anyhow::anyhow!(
            "{name} is not valid UTF-8 text (bad byte at offset {})",
            e.utf8_error().valid_up_to()
        )
    })?;
    let invertido: String = text.chars().rev().collect();
    // Reversing characters keeps every byte: the size is the received size.
    let len = invertido.len() as u64;
    send_text(tx, &format!("REVERSED {len}"))?;
    send_file(tx, &mut invertido.as_bytes(), len, |_| {}).context("sending the reversed text")?;
    tx.flush()?;
    println!("Enviado {name} invertido: {len} bytes");
    Ok(())
}
