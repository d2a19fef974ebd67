//! Ej. 6, the client: a small remote shell over UDP. Sends each command typed at "> " to the
//! server and prints its answer, until `exit` (which ends the server too).
//!
//! Commands (the handout's):
//!
//! ```text
//! ls                           the files of the current directory (directories end in /)
//! rm <fichero>                 delete a file
//! write <fichero> '<mensaje>'  create a file holding the text between the quotes
//! cd <directorio>              change this client's current directory on the server
//! mv <fichero> <directorio>    move a file to another directory
//! exit                         end this client and the server
//! ```
//!
//! Every command but `ls` gets `OK <what was done>` or `ERROR <why>`, printed as it comes.
//! Commands travel as requests of `sockcore::udp`: sent again until answered, run once.
//!
//! Run the server first, then in another terminal:
//!
//! ```text
//! cargo run -p ej6-shell-udp --bin client
//! Conectado a 127.0.0.1:5006
//! > write hola.txt 'Hola mundo'
//! OK wrote hola.txt (10 bytes)
//! > ls
//! hola.txt
//! > exit
//! OK the server ends
//! ```
//!
//! Caveat: `exit` stops the server for every client, as the handout says ("ambos programas
//! finalizarán"). To leave without stopping it, end the input (Ctrl-D).

use anyhow::{bail, Context};
use clap::Parser;
use sockcore::cli::input;
use sockcore::net;
use sockcore::udp::{self, wire::MAX_MESSAGE_LEN, Config};
use std::io;
use std::process::ExitCode;
use std::time::Duration;

/// Ej. 6 (Práctica 2), UDP client: a remote shell. Sends each command typed at "> " (ls,
/// rm <fichero>, write <fichero> '<mensaje>', cd <directorio>, mv <fichero> <directorio>,
/// exit) and prints the server's answer. "exit" ends the server too.
#[derive(Parser, Debug)]
#[command(version)]
struct Args {
    /// Server address.
    #[arg(long, default_value = net::DEFAULT_HOST)]
    host: String,
    /// Server port.
    #[arg(long, default_value_t = 5006)]
    port: u16,
    /// Seconds of silence after which the server is taken for gone.
    #[arg(long, default_value_t = udp::PEER_TIMEOUT.as_secs(),
          value_parser = clap::value_parser!(u64).range(1..=3600))]
    timeout: u64,
}

/// The request that opens the session (see the server's docs).
const HELLO: &str = "HELLO";

/// Largest listing accepted, in bytes: tens of thousands of names.
const MAX_LISTING: u64 = 16 << 20;

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
    let hello =
        request(&mut conn, HELLO).with_context(|| format!("opening a session with {server}"))?;
    if hello != HELLO {
        bail!("unexpected answer from {server}: {hello:?}");
    }
    println!("Conectado a {server}");

    loop {
        let line = match input("> ") {
            Ok(line) => line,
            // Ctrl-D: leave without `exit`, so the server goes on serving the others.
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(()),
            Err(e) => return Err(e).context("reading a command"),
        };
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        if line.len() > MAX_MESSAGE_LEN {
            eprintln!(
                "client: command is {} bytes long, limit {MAX_MESSAGE_LEN}",
                line.len()
            );
            continue;
        }
        // Python: s.sendto(comando, addr); print(s.recvfrom(1024))  -- no retry, and an
        // `rm` whose answer was lost, sent again, ran twice. `request` retries, and the
        // server answers a repeat from its cache.
        let answer = request(&mut conn, line)?;
        if let Some(names) = answer.strip_prefix("LS\n") {
            print_listing(names);
        } else if let Some(size) = answer.strip_prefix("LS-BULK ") {
            let size: u64 = size
                .parse()
                .with_context(|| format!("unexpected answer from {server}: {answer:?}"))?;
            if size > MAX_LISTING {
                bail!("listing of {size} bytes exceeds limit {MAX_LISTING}");
            }
            // A listing too large for one datagram arrives in numbered chunks.
            let mut names = Vec::new();
            conn.recv_bulk(&mut names, size, |_| {})
                .context("receiving the listing")?;
            print_listing(&String::from_utf8_lossy(&names));
        } else {
            println!("{answer}");
        }
        if line == "exit" {
            return Ok(());
        }
    }
}

/// Prints a listing, one name per line.
fn print_listing(names: &str) {
    if names.is_empty() {
        println!("(directorio vacío)");
    }
    print!("{names}");
}

/// Sends one request and returns the answer as text.
fn request(conn: &mut udp::Client, message: &str) -> anyhow::Result<String> {
    let reply = conn.request(message.as_bytes())?;
    String::from_utf8(reply).context("the server's answer is not UTF-8 text")
}
