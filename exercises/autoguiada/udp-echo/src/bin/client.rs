//! Práctica Autoguiada 1.1 and 1.5, the UDP echo client: sends one datagram and prints the
//! server's reply, with the handout's consignas as options.
//!
//! Dialogue: one datagram with the message, one datagram back, printed as `--> <reply>`.
//! Without a reply within 1 s the client sends again, at most 3 times in all, then gives up
//! with an error (1.5.1; the handout's client waits forever).
//!
//! Run the server first, then in another terminal:
//!
//! ```text
//! cargo run -p udp-echo --bin client
//! --> TyR: Echo sobre UDP
//! cargo run -p udp-echo --bin client -- "Hola Mundo"
//! --> Hola Mundo
//! ```
//!
//! Caveat: UDP does not tell you that nobody is listening (at most an ICMP error that some
//! systems report and others do not); the only portable sign is silence, hence the timeout.

use anyhow::{bail, Context};
use clap::builder::NonEmptyStringValueParser;
use clap::Parser;
use sockcore::cli::input;
use sockcore::datagram::{self, recv_datagram, Datagram};
use sockcore::net;
use std::io;
use std::net::{SocketAddr, UdpSocket};
use std::process::ExitCode;
use std::time::{Duration, Instant};
use udp_echo::{
    parse_buffer, EXEC_PREFIX, LONG_MENSAJE, MENSAJE, REFUSED_PREFIX, SHUTDOWN, SHUTDOWN_REPLY,
};

/// Práctica Autoguiada 1.1 (UDP echo client), with the consignas of 1.5: sends MESSAGE
/// (default 'TyR: Echo sobre UDP') and prints the reply as "--> <reply>". Without a reply it
/// retries, then fails with a clear error instead of waiting forever (1.5.1).
#[derive(Parser, Debug)]
#[command(version)]
struct Args {
    /// Server address (the handout's HOST).
    #[arg(long, default_value = net::DEFAULT_HOST)]
    host: String,
    /// Server port (the handout's PORT).
    #[arg(long, default_value_t = 3500)]
    port: u16,
    /// 1.5.3: the receive buffer in bytes (the handout's LONG_MENSAJE); a longer reply is
    /// truncated, and the client says so and exits 1.
    #[arg(long, value_name = "BYTES", default_value_t = LONG_MENSAJE, value_parser = parse_buffer)]
    buffer: usize,
    /// 1.5.4: chat: after each reply, type the next message ("Mensaje: "); an empty line or
    /// end of input ends the chat.
    #[arg(long)]
    chat: bool,
    /// 1.5.5: send the message that stops the server (`/shutdown`).
    #[arg(long, conflicts_with_all = ["message", "chat", "exec"])]
    shutdown: bool,
    /// 1.5.6: run PROGRAM with ARGs on the server (started with --allow-exec) and print its
    /// exit status. No shell: each word is one argument, and words cannot contain spaces.
    #[arg(long, num_args = 1.., value_name = "PROGRAM [ARG]", allow_hyphen_values = true,
          value_parser = parse_word, conflicts_with_all = ["message", "chat"])]
    exec: Option<Vec<String>>,
    /// Text to send (default: the handout's 'TyR: Echo sobre UDP'; with --chat, asked for).
    #[arg(value_parser = NonEmptyStringValueParser::new())]
    message: Option<String>,
}

/// 1.5.1: how long to wait for a reply before sending the message again. Loopback answers in
/// microseconds and a distant server in well under a second.
const REPLY_TIMEOUT: Duration = Duration::from_secs(1);

/// 1.5.1: how many times the message is sent before giving up. Resending is safe because an
/// echo is idempotent: a duplicate only produces a duplicate reply, which is ignored.
const MAX_ATTEMPTS: u32 = 3;

/// 1.5.4: how long a chat message waits for the operator's answer. Sent once: a resend
/// would show the operator the same message twice.
const CHAT_REPLY_TIMEOUT: Duration = Duration::from_secs(300);

/// 1.5.6: how long `/exec` waits for the exit status; longer than the server's default time
/// limit (10 s). Sent once: a resend would run the program twice.
const EXEC_REPLY_TIMEOUT: Duration = Duration::from_secs(60);

fn main() -> ExitCode {
    sockcore::cli::report(run(Args::parse()))
}

fn run(args: Args) -> anyhow::Result<()> {
    // The first address: `resolve` fails rather than return none.
    let server = net::resolve(&args.host, args.port)?[0];
    // Python: s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    let s = net::bind_udp_client(server).context("creating the UDP socket")?;
    if args.chat {
        return chat(&s, server, &args);
    }
    let (mensaje, wait) = if args.shutdown {
        (SHUTDOWN.to_string(), Wait::Retry)
    } else if let Some(words) = &args.exec {
        (
            format!("{EXEC_PREFIX}{}", words.join(" ")),
            Wait::Once(EXEC_REPLY_TIMEOUT),
        )
    } else {
        (
            args.message.clone().unwrap_or_else(|| MENSAJE.to_string()),
            Wait::Retry,
        )
    };
    // Python: s.sendto(mensaje.encode(), (HOST, PORT)); data = s.recvfrom(LONG_MENSAJE)
    let data = request(&s, server, mensaje.as_bytes(), args.buffer, wait)?;
    // Python: s.close()
    drop(s);
    // Python: print ('-->', data[0].decode())
    println!("--> {}", String::from_utf8_lossy(&data.data));
    check_reply(&data, args.buffer)?;
    if args.shutdown || args.exec.is_some() {
        if let Some(why) = String::from_utf8_lossy(&data.data).strip_prefix(REFUSED_PREFIX) {
            bail!("the server refused: {why}");
        }
    } else if data.data != mensaje.as_bytes() {
        eprintln!(
            "client: the echo differs from the message ({} of {} bytes came back)",
            data.data.len(),
            mensaje.len()
        );
    }
    Ok(())
}

/// 1.5.4: message, reply, message, reply... until an empty line or the end of input.
fn chat(s: &UdpSocket, server: SocketAddr, args: &Args) -> anyhow::Result<()> {
    let mut mensaje = match &args.message {
        Some(m) => m.clone(),
        None => next_message()?,
    };
    while !mensaje.is_empty() {
        let wait = Wait::Once(CHAT_REPLY_TIMEOUT);
        let data = request(s, server, mensaje.as_bytes(), args.buffer, wait)?;
        println!("--> {}", String::from_utf8_lossy(&data.data));
        check_reply(&data, args.buffer)?;
        if mensaje == SHUTDOWN && data.data == SHUTDOWN_REPLY.as_bytes() {
            break;
        }
        mensaje = next_message()?;
    }
    Ok(())
}

/// Python's `input('Mensaje: ')`; the end of input counts as the empty line that ends a chat.
fn next_message() -> anyhow::Result<String> {
    match input("Mensaje: ") {
        Ok(line) => Ok(line),
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => Ok(String::new()),
        Err(e) => Err(e).context("reading the next message"),
    }
}

/// 1.5.3: a truncated reply is printed (as Python would) and then reported as an error.
fn check_reply(data: &Datagram, buffer: usize) -> anyhow::Result<()> {
    if data.truncated {
        bail!("the reply was longer than --buffer {buffer} bytes: truncated, the rest is lost");
    }
    Ok(())
}

/// How a request waits for its reply.
#[derive(Debug, Clone, Copy)]
enum Wait {
    /// [`REPLY_TIMEOUT`] per attempt, [`MAX_ATTEMPTS`] attempts: for idempotent messages.
    Retry,
    /// One attempt with this timeout: for messages that must not arrive twice.
    Once(Duration),
}

/// Sends `msg` to `server` and returns the first datagram that comes back *from the server*,
/// resending on timeout as `wait` says (1.5.1).
fn request(
    s: &UdpSocket,
    server: SocketAddr,
    msg: &[u8],
    buffer: usize,
    wait: Wait,
) -> anyhow::Result<Datagram> {
    let (attempts, timeout) = match wait {
        Wait::Retry => (MAX_ATTEMPTS, REPLY_TIMEOUT),
        Wait::Once(timeout) => (1, timeout),
    };
    let mut unreachable = false;
    for attempt in 1..=attempts {
        s.send_to(msg, server)
            .with_context(|| format!("sending {} bytes to {server}", msg.len()))?;
        match wait_reply(s, server, buffer, timeout) {
            Ok(Some(d)) => return Ok(d),
            Ok(None) => {}
            // The OS relayed an ICMP "port unreachable" (Windows, or a connected socket).
            Err(e) if datagram::is_unreachable(&e) => unreachable = true,
            Err(e) => return Err(e).with_context(|| format!("waiting for a reply from {server}")),
        }
        if attempt < attempts {
            eprintln!(
                "client: no reply from {server} within {} s; sending again (attempt {} of {attempts})",
                timeout.as_secs(),
                attempt + 1
            );
        }
    }
    let hint = if unreachable {
        " (its machine answered that nothing listens on that port)"
    } else {
        ""
    };
    bail!(
        "no reply from {server} after {attempts} attempt(s), {} s each{hint}: is the server running? (start it first, or check --host and --port)",
        timeout.as_secs()
    )
}

/// Waits up to `timeout` for a datagram from `server`; datagrams from anyone else are
/// ignored (the handout's client would print whatever arrived first). `Ok(None)`: timeout.
fn wait_reply(
    s: &UdpSocket,
    server: SocketAddr,
    buffer: usize,
    timeout: Duration,
) -> io::Result<Option<Datagram>> {
    let deadline = Instant::now() + timeout;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Ok(None);
        }
        s.set_read_timeout(Some(left))?;
        match recv_datagram(s, buffer) {
            Ok(d) if same_peer(d.from, server) => return Ok(Some(d)),
            Ok(d) => eprintln!(
                "client: ignoring a datagram from {} (not the server)",
                d.from
            ),
            Err(e) if net::is_timeout(&e) => return Ok(None),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}

/// Same address and port, an IPv4 address matching its IPv4-mapped IPv6 form.
fn same_peer(a: SocketAddr, b: SocketAddr) -> bool {
    a.port() == b.port() && a.ip().to_canonical() == b.ip().to_canonical()
}

/// Parses one word of `--exec`: the message separates words with spaces, so a word cannot
/// contain whitespace.
fn parse_word(s: &str) -> Result<String, String> {
    if s.is_empty() || s.chars().any(char::is_whitespace) {
        Err("each word of --exec must be non-empty and without spaces (there is no shell to quote them)".into())
    } else {
        Ok(s.to_string())
    }
}
