//! Ej. 8 / Programa 2 (TCP), the client: connects to the server and chats with it, taking
//! turns: the client speaks first, then waits for the answer, until one says `desconectar`.
//!
//! Dialogue (see the crate docs for the lines): receive the server's name, send ours, then
//! speak, listen, speak, listen...
//!
//! Run the server first, then in another terminal:
//!
//! ```text
//! cargo run -p ej8-chat-tcp --bin client
//! Introduce tu nombre: ana
//! -----bea se ha unido-----
//! ana: hola
//! bea: hola ana
//! ana: desconectar
//! chat finalizado
//! ```
//!
//! Caveat: the chat is synchronous, as the handout asks: after you send a line you cannot
//! type until the other answers.

use anyhow::Context;
use clap::Parser;
use ej8_chat_tcp::{pedir_nombre, Chat, Turno};
use sockcore::net;
use std::process::ExitCode;

/// Ej. 8 / Programa 2 (Práctica 2), TCP one-to-one chat, the connecting side: asks your
/// name, connects to the server, then you take turns (you first) until either types
/// "desconectar" (or "exit"); then both programs end. Start the server first.
#[derive(Parser, Debug)]
#[command(version)]
struct Args {
    /// Server address.
    #[arg(long, default_value = net::DEFAULT_HOST)]
    host: String,
    /// Server port.
    #[arg(long, default_value_t = 2085)]
    port: u16,
    /// Your name, for scripts; asked on stdin ("Introduce tu nombre: ") if absent.
    #[arg(long)]
    name: Option<String>,
}

fn main() -> ExitCode {
    sockcore::cli::report(run(Args::parse()))
}

fn run(args: Args) -> anyhow::Result<()> {
    // Python: nombre = raw_input("Introduce tu nombre: "), then connect.
    let nombre = pedir_nombre(args.name)?;
    let s = net::connect_tcp(&args.host, args.port, true)?;
    // Python: time.sleep(1) before recv, hoping the name has arrived by then; a line
    // reader waits exactly as long as it takes.
    let mut chat = Chat::new(s, nombre, "client")?;
    chat.recibir_nombre()
        .context("waiting for the server's name")?;
    chat.enviar_nombre()?;
    println!("-----{} se ha unido-----", chat.otro);
    loop {
        if chat.hablar()? == Turno::Fin || chat.escuchar()? == Turno::Fin {
            return Ok(());
        }
    }
}
