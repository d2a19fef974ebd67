//! Ej. 8 / Programa 2 (TCP), the server: waits for one client and chats with it, taking
//! turns: the client speaks first, the server answers, and so on, until one says
//! `desconectar`.
//!
//! Dialogue (one line of text per message, see the crate docs):
//!
//! ```text
//! server → client   bea                  (the server's name)
//! client → server   ana                  (the client's name)
//! client → server   hola                 server prints "ana: hola", asks "bea: "
//! server → client   hola ana             ...
//! either            desconectar          both print that the chat is over and exit 0
//! ```
//!
//! Run it in one terminal, then the client in another:
//!
//! ```text
//! cargo run -p ej8-chat-tcp --bin server
//! Introduce tu nombre: bea
//! -----ana se ha unido-----
//! ana: hola
//! bea: hola ana
//! ana ha salido del chat
//! chat finalizado
//! ```
//!
//! The server asks its user's name first, then prints `listening on 127.0.0.1:2085 (tcp)` on
//! stderr, as the report's server asks before it binds.
//!
//! Caveat: the chat is synchronous, as the handout asks: while it is the other's turn you
//! cannot type, and if the other side vanishes while it is your turn, you learn it when you
//! send.

use anyhow::Context;
use clap::Parser;
use ej8_chat_tcp::{pedir_nombre, Chat, Turno};
use sockcore::net::{self, Transport};
use std::io;
use std::net::TcpListener;
use std::process::ExitCode;
use std::time::Duration;

/// Ej. 8 / Programa 2 (Práctica 2), TCP one-to-one chat, the listening side: asks your
/// name, waits for one client, then you take turns (the client first) until either types
/// "desconectar" (or "exit"); then both programs end. The server is the side that listens.
#[derive(Parser, Debug)]
#[command(version)]
struct Args {
    /// Address to listen on (0.0.0.0 to accept other machines).
    #[arg(long, default_value = net::DEFAULT_HOST)]
    host: String,
    /// Port to listen on (0: let the OS choose; the readiness line says which).
    #[arg(long, default_value_t = 2085)]
    port: u16,
    /// Your name, for scripts; asked on stdin ("Introduce tu nombre: ") if absent.
    #[arg(long)]
    name: Option<String>,
}

/// How long a new connection has to say its name; one that does not is dropped and the
/// server waits for the next (a port scanner must not take the chat's only seat).
const NAME_TIMEOUT: Duration = Duration::from_secs(30);

fn main() -> ExitCode {
    sockcore::cli::report(run(Args::parse()))
}

fn run(args: Args) -> anyhow::Result<()> {
    // Python: nombre = raw_input("Introduce tu nombre: "), then bind and listen(1).
    let nombre = pedir_nombre(args.name)?;
    let sock = net::bind_tcp(&args.host, args.port)?;
    net::announce(sock.local_addr()?, Transport::Tcp);
    let mut chat = aceptar(&sock, nombre)?;
    println!("-----{} se ha unido-----", chat.otro);
    loop {
        if chat.escuchar()? == Turno::Fin || chat.hablar()? == Turno::Fin {
            return Ok(());
        }
    }
}

/// Accepts connections until one exchanges names (Python: `sock.accept()`,
/// `socket_cliente.send(nombre)`, `nombre_cliente = socket_cliente.recv(1024)`).
fn aceptar(sock: &TcpListener, nombre: String) -> anyhow::Result<Chat> {
    loop {
        let (socket_cliente, addr) = match sock.accept() {
            Ok(conn) => conn,
            Err(e) if e.kind() == io::ErrorKind::ConnectionAborted => continue,
            Err(e) => return Err(e).context("accepting a connection"),
        };
        let mut chat = Chat::new(socket_cliente, nombre.clone(), "server")?;
        let hello = chat
            .socket()
            .set_read_timeout(Some(NAME_TIMEOUT))
            .map_err(anyhow::Error::from)
            .and_then(|()| chat.enviar_nombre())
            .and_then(|()| chat.recibir_nombre().map(|_| ()))
            .map_err(|e| e.context("exchanging names"));
        match hello {
            Ok(()) => {
                // The other's turn may last as long as its user thinks.
                chat.socket().set_read_timeout(None)?;
                return Ok(chat);
            }
            Err(e) => eprintln!("server: {addr}: {e:#}; waiting for another client"),
        }
    }
}
