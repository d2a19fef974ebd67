//! Ej. 4, the client: talks to the help desk. Greets the server, prints its welcome, then
//! sends each line typed at "> " (first the name, then questions) and prints each answer,
//! until `exit`.
//!
//! Every message is a request of `sockcore::udp`: sent again (with growing pauses) until its
//! answer arrives, and answered once however many copies the server gets.
//!
//! Run the server first, then in another terminal:
//!
//! ```text
//! cargo run -p ej4-helpdesk-udp --bin client
//! ¡Bienvenido! ¿Cuál es su nombre para que pueda dirigirme a usted?
//! > ale
//! ale, ¿en qué puedo ayudarte?
//! > ¿Cuándo empiezan las clases este curso?
//! Debe ponerse en contacto con el servicio de atención de dudas cuya dirección es dudas@ejemplo.com
//! > exit
//! ¡Hasta pronto, ale!
//! ```
//!
//! Caveat: with no server running, nothing answers the greeting: the client retries for
//! about 10 s and then says so (`error: ... no answer from 127.0.0.1:5004 ...`). End of
//! input (Ctrl-D) sends `exit`.

use anyhow::Context;
use clap::Parser;
use sockcore::cli::input;
use sockcore::net;
use sockcore::udp::{self, wire::MAX_MESSAGE_LEN, Config};
use std::io;
use std::process::ExitCode;
use std::time::Duration;

/// Ej. 4 (Práctica 2), UDP client: the help desk. Prints the server's welcome, then sends
/// each line typed at "> " (your name, then your questions) and prints the answer; "exit"
/// ends the conversation.
#[derive(Parser, Debug)]
#[command(version)]
struct Args {
    /// Server address.
    #[arg(long, default_value = net::DEFAULT_HOST)]
    host: String,
    /// Server port.
    #[arg(long, default_value_t = 5004)]
    port: u16,
    /// Seconds of silence after which the server is taken for gone.
    #[arg(long, default_value_t = udp::PEER_TIMEOUT.as_secs(),
          value_parser = clap::value_parser!(u64).range(1..=3600))]
    timeout: u64,
}

/// The greeting that opens the session (see the server's docs).
const SALUDO: &str = "HOLA";

/// The message that ends the conversation.
const EXIT: &str = "exit";

fn main() -> ExitCode {
    sockcore::cli::report(run(Args::parse()))
}

fn run(args: Args) -> anyhow::Result<()> {
    let config = Config {
        peer_timeout: Duration::from_secs(args.timeout),
        ..Config::default()
    };
    let mut conn = udp::Client::connect(&args.host, args.port, config)?;
    let server = conn.peer();
    // "El programa cliente establecerá la conexión y el programa servidor automáticamente le
    // enviará el mensaje": over UDP the server learns of us from our first datagram.
    let bienvenida = request(&mut conn, SALUDO)
        .with_context(|| format!("greeting the help desk at {server}"))?;
    println!("{bienvenida}");

    loop {
        let line = match input("> ") {
            Ok(line) => line,
            // Ctrl-D, or the end of a script: say goodbye as `exit` does.
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => EXIT.to_string(),
            Err(e) => return Err(e).context("reading a message"),
        };
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        if line.len() > MAX_MESSAGE_LEN {
            eprintln!(
                "client: message is {} bytes long, limit {MAX_MESSAGE_LEN}",
                line.len()
            );
            continue;
        }
        match request(&mut conn, line) {
            Ok(answer) => println!("{answer}"),
            Err(e) if e.is::<Refused>() => eprintln!("client: {e}"),
            Err(e) => return Err(e),
        }
        if line == EXIT {
            return Ok(());
        }
    }
}

/// The server's `ERROR <why>` for one message: reported, and the conversation goes on.
#[derive(Debug)]
struct Refused(String);

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "the server says: {}", self.0)
    }
}

impl std::error::Error for Refused {}

/// Sends one message and returns the answer as text; `ERROR <why>` becomes [`Refused`].
///
/// Python: `udp.sendto(msg, addr); data, addr = udp.recvfrom(1024)`  -- one lost datagram
/// and the client waits forever. `request` repeats the message until the answer comes, and
/// gives up with an error after about 10 s of silence.
fn request(conn: &mut udp::Client, message: &str) -> anyhow::Result<String> {
    let reply = conn.request(message.as_bytes())?;
    let reply = String::from_utf8(reply).context("the server's answer is not UTF-8 text")?;
    match reply.strip_prefix("ERROR ") {
        Some(why) => Err(Refused(why.to_string()).into()),
        None => Ok(reply),
    }
}
