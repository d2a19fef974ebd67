//! Programa 2.1 (TCP), the client: joins the chat room with a nickname, then prints what
//! the room says while sending what you type, both at the same time (two threads).
//!
//! Dialogue (see the crate docs for the lines): asks "Introduce tu nombre: ", connects,
//! answers the server's `intr_apodo` with the name (asking again if it is taken), then every
//! line typed goes to the room and every line of the room is printed; `salir` leaves.
//!
//! Run the server first, then in each of several terminals:
//!
//! ```text
//! cargo run -p ej8-chatroom-tcp --bin client
//! Introduce tu nombre: ana
//! ana se ha unido al chat
//! Te has unido al chat
//! hola
//! ana: hola
//! salir
//! ~ Has salido del chat ~
//! ```
//!
//! Caveat: your own line comes back from the server as `ana: hola`, as in the report: that
//! is the proof that the room got it, and the order everyone sees it in.

use anyhow::{bail, Context};
use clap::Parser;
use ej8_chatroom_tcp::{ASK_NICK, ERROR_PREFIX, JOINED, MAX_LINE_LEN, PROMPT_NOMBRE, SALIR};
use sockcore::cli::input;
use sockcore::lines::{send_line, LineError, LineReader};
use sockcore::net;
use std::io::{self, BufRead, IsTerminal};
use std::net::TcpStream;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

/// Programa 2.1 (report on Práctica 2), TCP chat room client: asks for a name, joins the
/// room, and sends every line you type while printing every line of the room; "salir"
/// leaves. Standard input may be a terminal, a pipe or a file; its end also leaves.
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
}

/// After `salir`, how long to wait for the server to close the connection before leaving
/// anyway: the room's last lines still arrive, and a dead server cannot keep us waiting.
const SALIR_TIMEOUT: Duration = Duration::from_secs(10);

fn main() -> ExitCode {
    sockcore::cli::report(run(Args::parse()))
}

fn run(args: Args) -> anyhow::Result<()> {
    // Python: nombre = raw_input("Introduce tu nombre: "), before connecting, as the report.
    let nombre = match args.name {
        Some(n) => n,
        None => input(PROMPT_NOMBRE)?,
    };
    let s = net::connect_tcp(&args.host, args.port, true)?;
    // Python: time.sleep(1) "to avoid some problems": the problem was taking one recv as
    // one message. Lines need no pause.
    let mut lector = LineReader::new(s.try_clone()?, MAX_LINE_LEN);
    unirse(&s, &mut lector, nombre)?;

    // Python: recibir_thread and escribir_thread. Here the keyboard gets the thread and
    // `recibir` runs on this one, so that the program ends when the connection does, even
    // while the keyboard thread still waits for a line.
    let salido = Arc::new(AtomicBool::new(false));
    let escribir_thread = {
        let (s, salido) = (s.try_clone()?, Arc::clone(&salido));
        thread::spawn(move || mostrar(s, &salido))
    };
    let result = recibir(&mut lector, &salido);
    if salido.load(Ordering::SeqCst) {
        // It has sent `salir` and is printing the goodbye: let it finish. (Otherwise it may
        // be waiting for the keyboard, and the program ends without it.)
        let _ = escribir_thread.join();
    }
    result
}

/// Answers `intr_apodo` with the name until the server accepts one (the report's
/// `recibir()` did this inside its loop); prints the lines that come meanwhile.
fn unirse(
    s: &TcpStream,
    lector: &mut LineReader<TcpStream>,
    mut nombre: String,
) -> anyhow::Result<()> {
    let mut tx = s;
    loop {
        let linea = lector
            .recv_line()
            .context("reading from the server")?
            .context("the server closed the connection before we joined")?;
        if linea == ASK_NICK {
            send_line(&mut tx, &nombre).context("sending the nickname")?;
        } else if let Some(why) = linea
            .strip_prefix(ERROR_PREFIX)
            .filter(|rest| rest.starts_with("server busy"))
        {
            // The room is full: the server closes; asking for another name would be useless.
            anyhow::bail!("the server refused the connection: {why}");
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
}

/// Prints every line of the room until the server closes the connection (Python:
/// `recibir()`).
fn recibir(lector: &mut LineReader<TcpStream>, salido: &AtomicBool) -> anyhow::Result<()> {
    loop {
        match lector.recv_line() {
            Ok(Some(data)) => println!("{data}"),
            Err(e) if LineError::of(&e).is_some() => {
                eprintln!("client: ignored a line from the server: {e}");
            }
            // After `salir` the end of the connection (or the wait for it) is the goodbye.
            _ if salido.load(Ordering::SeqCst) => return Ok(()),
            Ok(None) => {
                println!("IMPORTANTE: NO estas en el chat");
                bail!("the server closed the connection");
            }
            Err(e) => {
                println!("IMPORTANTE: NO estas en el chat");
                return Err(e).context("reading from the server");
            }
        }
    }
}

/// Sends every line typed to the room until `salir` or the end of standard input (Python:
/// `mostrar()`, which despite its name is the one that writes).
fn mostrar(s: TcpStream, salido: &AtomicBool) {
    let mut tx = &s;
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
            // The receiving thread waits for the server's close, at most this long.
            let _ = s.set_read_timeout(Some(SALIR_TIMEOUT));
            if send_line(&mut tx, SALIR).is_ok() {
                println!("~ Has salido del chat ~");
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
        // Python: s.send(nombre+": "+data). The server adds the nickname itself, so nobody
        // can write under someone else's name.
        if send_line(&mut tx, &data).is_err() {
            return; // the connection is gone; `recibir` says so
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
