//! Programa 2.1 over UDP, the client: joins the chat room with a nickname, then prints what
//! the room says while sending what you type, both at the same time (two threads).
//!
//! Dialogue (see the crate docs): asks "Introduce tu nombre: ", sends the name (asking
//! again if the server answers `intr_apodo`), then every line typed goes to the room and
//! every message of the room is printed; `salir` leaves.
//!
//! Run the server first, then in each of several terminals:
//!
//! ```text
//! cargo run -p ej8-chatroom-udp --bin client
//! Introduce tu nombre: ana
//! ana se ha unido al chat
//! Te has unido al chat
//! hola
//! ana: hola
//! salir
//! ~ Has salido del chat ~
//! ```
//!
//! Caveat: without a server nothing says "connection refused": the client waits 5 s for an
//! answer, then gives up.

use anyhow::{bail, Context};
use clap::Parser;
use ej8_chatroom_udp::{ASK_NICK, ERROR_PREFIX, JOINED, MAX_LINE_LEN, PROMPT_NOMBRE, SALIR};
use sockcore::cli::input;
use sockcore::net;
use sockcore::udp_channel::{ChannelConfig, ChannelId, Closed, Endpoint, Event};
use std::io::{self, BufRead, IsTerminal};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

/// Programa 2.1 (report on Práctica 2) over UDP, chat room client: asks for a name, joins
/// the room, and sends every line you type while printing every message of the room;
/// "salir" leaves. Standard input may be a terminal, a pipe or a file; its end also leaves.
#[derive(Parser, Debug)]
#[command(version)]
struct Args {
    /// Server address.
    #[arg(long, default_value = net::DEFAULT_HOST)]
    host: String,
    /// Server port.
    #[arg(long, default_value_t = 1045)]
    port: u16,
    /// Nickname, for scripts; asked on stdin ("Introduce tu nombre: ") if absent.
    #[arg(long)]
    name: Option<String>,
    /// At the end, print on stderr how many messages were sent again and dropped as
    /// duplicates.
    #[arg(long)]
    stats: bool,
}

/// How long one wait for the room's next event lasts before waiting again; the room's
/// silence is noticed by the channel (no heartbeat for 5 s).
const POLL: Duration = Duration::from_secs(1);

fn main() -> ExitCode {
    sockcore::cli::report(run(Args::parse()))
}

fn run(args: Args) -> anyhow::Result<()> {
    // Python: nombre = raw_input("Introduce tu nombre: "), as the TCP room.
    let nombre = match args.name {
        Some(n) => n,
        None => input(PROMPT_NOMBRE)?,
    };
    let server = net::resolve(&args.host, args.port)?[0];
    let (ep, ch) = Endpoint::connect(server, ChannelConfig::default())?;
    let ep = Arc::new(ep);
    unirse(&ep, ch, nombre)?;

    // As in the TCP room: the keyboard gets a thread, `recibir` runs on this one, so the
    // program ends when the channel does, even while the keyboard thread waits for a line.
    let salido = Arc::new(AtomicBool::new(false));
    let escribir_thread = {
        let (ep, salido) = (Arc::clone(&ep), Arc::clone(&salido));
        thread::spawn(move || mostrar(&ep, ch, &salido))
    };
    let result = recibir(&ep, &salido);
    if salido.load(Ordering::SeqCst) {
        let _ = escribir_thread.join();
    }
    if args.stats {
        eprintln!("client: {}", ep.stats());
    }
    result
}

/// Sends the name (the first message opens the channel: over UDP the client speaks first),
/// and again with a new name after each `intr_apodo`, until the server accepts one.
fn unirse(ep: &Endpoint, ch: ChannelId, mut nombre: String) -> anyhow::Result<()> {
    ep.send(ch, nombre.as_bytes())
        .context("sending the nickname")?;
    loop {
        match ep.recv_event(POLL)? {
            Some(Event::Message(_, m)) => {
                let linea = String::from_utf8_lossy(&m);
                if linea == ASK_NICK {
                    ep.send(ch, nombre.as_bytes())
                        .context("sending the nickname")?;
                } else if linea.starts_with(ERROR_PREFIX) {
                    println!("{linea}");
                    nombre = input(PROMPT_NOMBRE)?;
                } else {
                    println!("{linea}");
                    if linea == JOINED {
                        return Ok(());
                    }
                }
            }
            Some(Event::Closed(_, Closed::Silent(t))) => bail!(
                "no answer from {} for {:.1} s: is the server running?",
                ch.peer,
                t.as_secs_f64()
            ),
            Some(Event::Closed(_, why)) => bail!("the server closed the channel: {why}"),
            Some(Event::Opened(_)) | None => {}
        }
    }
}

/// Prints every message of the room until the channel closes (Python: `recibir()`).
fn recibir(ep: &Endpoint, salido: &AtomicBool) -> anyhow::Result<()> {
    loop {
        match ep.recv_event(POLL)? {
            Some(Event::Message(_, m)) => println!("{}", String::from_utf8_lossy(&m)),
            Some(Event::Closed(..)) if salido.load(Ordering::SeqCst) => return Ok(()),
            Some(Event::Closed(_, why)) => {
                println!("IMPORTANTE: NO estas en el chat");
                bail!("the server closed the channel: {why}");
            }
            Some(Event::Opened(_)) | None => {}
        }
    }
}

/// Sends every line typed to the room until `salir` or the end of standard input (Python:
/// `mostrar()`, which despite its name is the one that writes).
fn mostrar(ep: &Endpoint, ch: ChannelId, salido: &AtomicBool) {
    loop {
        let data = match leer_teclado() {
            Ok(Some(line)) => line,
            Ok(None) => SALIR.to_string(), // end of input: leave politely
            Err(e) => {
                eprintln!("client: {e}; not sent");
                continue;
            }
        };
        if data == SALIR {
            salido.store(true, Ordering::SeqCst);
            if ep.send(ch, SALIR.as_bytes()).is_ok() {
                println!("~ Has salido del chat ~");
                // The server closes our channel once it has read `salir`; closing ours too
                // bounds the wait if it never does (the close ends once `salir` and the
                // goodbye are acknowledged, or the server has been silent for 5 s).
                ep.close(ch, SALIR);
            }
            return;
        }
        if data.trim().is_empty() {
            continue;
        }
        if data.len() > MAX_LINE_LEN {
            println!("{ERROR_PREFIX}línea de más de {MAX_LINE_LEN} bytes; no se ha enviado");
            continue;
        }
        if ep.send(ch, data.as_bytes()).is_err() {
            return; // the channel is closed; `recibir` says so
        }
    }
}

/// Python's `raw_input()` with no prompt: one line of the keyboard, `None` at its end; the
/// line is echoed when standard input is not a terminal, so a scripted run reads like a
/// typed one. Not `sockcore::cli::input`, which holds the lock on standard output while it
/// waits for the keyboard: here the other thread must be able to print meanwhile.
fn leer_teclado() -> io::Result<Option<String>> {
    let mut line = Vec::new();
    if io::stdin().lock().read_until(b'\n', &mut line)? == 0 {
        return Ok(None);
    }
    while matches!(line.last(), Some(b'\n' | b'\r')) {
        line.pop();
    }
    let line = String::from_utf8(line).map_err(|_| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            "the line typed is not UTF-8 text",
        )
    })?;
    if !io::stdin().is_terminal() {
        println!("{line}");
    }
    Ok(Some(line))
}
