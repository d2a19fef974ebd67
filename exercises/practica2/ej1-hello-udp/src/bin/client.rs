//! Ej. 1 (UDP), the client: sends one datagram to the server and prints its answer, sending
//! it again a bounded number of times if no answer comes.
//!
//! Dialogue (see the server's docs): send the message typed at "Envia mensaje: " (or given as
//! arguments) in one datagram, print "Mensaje enviado", wait [`REPLY_TIMEOUT`] for the answer;
//! on silence send it again, at most [`MAX_ATTEMPTS`] times in all, then give up.
//!
//! Run the server first, then in another terminal:
//!
//! ```text
//! cargo run -p ej1-hello-udp --bin client
//! Envia mensaje: Hola mundo!
//! Mensaje enviado
//! Mensaje recibido (11 bytes)
//! ```
//!
//! Caveat: UDP cannot tell "no server" from "datagram lost". Without a server you see one
//! line per attempt on stderr and, after about `MAX_ATTEMPTS` seconds, `error: no answer`.
//! On a connected UDP socket the OS may pass on the ICMP "port unreachable" that came back
//! (Linux does, as `ECONNREFUSED`; Windows reports it as `WSAECONNRESET`); the client then
//! says the datagram was refused, but still waits out its attempts, since a server may start
//! meanwhile.

use anyhow::{bail, Context};
use clap::Parser;
use sockcore::cli::input;
use sockcore::datagram::{is_unreachable, recv_datagram};
use sockcore::net;
use std::io;
use std::net::{SocketAddr, UdpSocket};
use std::process::ExitCode;
use std::time::{Duration, Instant};

/// Ej. 1 (Práctica 2) / Programa 1 of the report, UDP client: send MENSAJE (asked with
/// "Envia mensaje: " if absent) in one datagram and print the server's answer; resend on
/// silence, a few times, then give up.
#[derive(Parser, Debug)]
#[command(version)]
struct Args {
    /// Server address.
    #[arg(long, default_value = net::DEFAULT_HOST)]
    host: String,
    /// Server port (the report's is 1207).
    #[arg(long, default_value_t = 1207)]
    port: u16,
    /// The message to send (several words are joined with spaces); asked on stdin
    /// ("Envia mensaje: ") if absent.
    mensaje: Vec<String>,
}

/// Longest message sent, in bytes: the server's limit (the report's `recvfrom(1024)`), and
/// well under the ~1,400 bytes that cross a real network without IP fragmentation.
const MAX_MESSAGE_LEN: usize = 1024;

/// How long one attempt waits for the answer: on a LAN an answer takes well under a
/// millisecond, so a second of silence means the datagram or its answer was lost (or nobody
/// listens).
const REPLY_TIMEOUT: Duration = Duration::from_secs(1);

/// Datagrams sent before giving up (the first and two retransmissions): enough to ride out
/// an occasional loss, few enough that a missing server is reported within seconds.
const MAX_ATTEMPTS: u32 = 3;

/// Longest answer accepted, in bytes: the server's answers are a few dozen bytes.
const MAX_ANSWER_LEN: usize = 1024;

fn main() -> ExitCode {
    sockcore::cli::report(run(Args::parse()))
}

fn run(args: Args) -> anyhow::Result<()> {
    // Python: message = raw_input("Envia mensaje: ")
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

    let server = net::resolve(&args.host, args.port)?[0];
    let socket = net::bind_udp_client(server).context("opening a UDP socket")?;
    // Python: udp.sendto(message, ("localhost", 1207)) on an unconnected socket. `connect`
    // on UDP sends nothing; it fixes the peer, so only the server's datagrams are received
    // and the OS can report an ICMP "port unreachable" to us as a refusal.
    socket
        .connect(server)
        .with_context(|| format!("setting {server} as the peer"))?;

    let mut refused = false;
    for attempt in 1..=MAX_ATTEMPTS {
        send_datagram(&socket, mensaje.as_bytes())
            .with_context(|| format!("sending the message to {server}"))?;
        if attempt == 1 {
            // Python: print("Mensaje enviado")  -- "sent" only means it left this machine.
            println!("Mensaje enviado");
        }
        match wait_answer(&socket, server, attempt)? {
            Answer::Datagram(answer) => return show_answer(&answer),
            Answer::Refused => refused = true,
            Answer::Silence => {}
        }
    }
    if refused {
        bail!(
            "no answer from {server} after {MAX_ATTEMPTS} attempts: nobody listens on that port (is the server running?)"
        );
    }
    bail!(
        "no answer from {server} after {MAX_ATTEMPTS} attempts, {} s each: is the server running, and are --host and --port right? (UDP cannot tell a missing server from a lost datagram)",
        REPLY_TIMEOUT.as_secs()
    )
}

/// How one attempt ended.
enum Answer {
    /// A datagram from the server.
    Datagram(Vec<u8>),
    /// The OS reported that nobody listens on the server's port (ICMP port unreachable).
    Refused,
    /// Nothing at all within [`REPLY_TIMEOUT`].
    Silence,
}

/// Sends one datagram. A refusal reported by `send` concerns an earlier datagram (the OS
/// hands a pending ICMP error to the next call on the socket), so this one is sent again.
fn send_datagram(socket: &UdpSocket, data: &[u8]) -> io::Result<()> {
    match socket.send(data) {
        Err(e) if is_unreachable(&e) => socket.send(data).map(drop),
        other => other.map(drop),
    }
}

/// Waits up to [`REPLY_TIMEOUT`] for the server's answer, reporting each outcome on stderr.
/// A refusal is reported at once, but the attempt still lasts its full time: the next
/// datagram then goes out a timeout later, when a server that was being started may be up.
fn wait_answer(socket: &UdpSocket, server: SocketAddr, attempt: u32) -> anyhow::Result<Answer> {
    let deadline = Instant::now() + REPLY_TIMEOUT;
    let mut outcome = Answer::Silence;
    // Each pass waits at most until the deadline, so the loop ends by then.
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            break;
        }
        socket.set_read_timeout(Some(left))?;
        // The socket is connected: only the server's datagrams get here.
        match recv_datagram(socket, MAX_ANSWER_LEN) {
            Ok(d) if d.truncated => {
                bail!("the server's answer is longer than {MAX_ANSWER_LEN} bytes")
            }
            Ok(d) => return Ok(Answer::Datagram(d.data)),
            Err(e) if net::is_timeout(&e) => break,
            Err(e) if is_unreachable(&e) => {
                eprintln!(
                    "client: {server} refused the datagram: nobody listens on that port (attempt {attempt} of {MAX_ATTEMPTS})"
                );
                outcome = Answer::Refused;
            }
            Err(e) => return Err(e).context("waiting for the answer"),
        }
    }
    if matches!(outcome, Answer::Silence) {
        eprintln!(
            "client: no answer from {server} within {} s (attempt {attempt} of {MAX_ATTEMPTS})",
            REPLY_TIMEOUT.as_secs()
        );
    }
    Ok(outcome)
}

/// Prints the server's answer; `ERROR <why>` and non-text answers are errors.
fn show_answer(datagram: &[u8]) -> anyhow::Result<()> {
    let text = std::str::from_utf8(datagram).context("the server's answer is not UTF-8 text")?;
    match text.strip_prefix("ERROR ") {
        Some(why) => bail!("the server refused the message: {why}"),
        None => {
            println!("{text}");
            Ok(())
        }
    }
}
