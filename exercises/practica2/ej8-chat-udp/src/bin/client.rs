//! Ej. 8 / Programa 2 (UDP), the client: chats with the server, taking turns: the client
//! speaks first, then waits for the answer, until one says `desconectar`. No message is lost
//! or shown twice, whatever the network does.
//!
//! Dialogue (see the crate docs): send our name (it opens the channel), receive the server's,
//! then speak, listen, speak, listen...
//!
//! Run the server first, then in another terminal:
//!
//! ```text
//! cargo run -p ej8-chat-udp --bin client
//! Introduce tu nombre: ana
//! -----bea se ha unido-----
//! ana: hola
//! bea: hola ana
//! ana: desconectar
//! chat finalizado
//! ```
//!
//! Caveat: UDP cannot say "nobody is listening" the way TCP's "connection refused" does:
//! without a server, the client waits 5 s for an answer, then gives up.

use anyhow::Context;
use clap::Parser;
use ej8_chat_udp::{pedir_nombre, Chat, Turno};
use sockcore::net;
use sockcore::udp_channel::{ChannelConfig, Endpoint};
use std::process::ExitCode;

/// Ej. 8 / Programa 2 (Práctica 2), UDP one-to-one chat, the side that starts: asks your
/// name, sends it to the server, then you take turns (you first) until either types
/// "desconectar" (or "exit"); then both programs end. Messages are acknowledged and sent
/// again until they arrive. Start the server first.
#[derive(Parser, Debug)]
#[command(version)]
struct Args {
    /// Server address.
    #[arg(long, default_value = net::DEFAULT_HOST)]
    host: String,
    /// Server port.
    #[arg(long, default_value_t = 2502)]
    port: u16,
    /// Your name, for scripts; asked on stdin ("Introduce tu nombre: ") if absent.
    #[arg(long)]
    name: Option<String>,
    /// At the end, print on stderr how many messages were sent, sent again, and dropped as
    /// duplicates.
    #[arg(long)]
    stats: bool,
}

fn main() -> ExitCode {
    sockcore::cli::report(run(Args::parse()))
}

fn run(args: Args) -> anyhow::Result<()> {
    // Python: nombre = raw_input("Introduce tu Nombre: ")
    let nombre = pedir_nombre(args.name)?;
    let server = net::resolve(&args.host, args.port)?[0];
    let (ep, ch) = Endpoint::connect(server, ChannelConfig::default())?;
    let mut chat = Chat::new(ep, ch, nombre, "client");
    // Python: udp.sendto(nombre, ("localhost", 2502)); nombre_server, addr = udp.recvfrom(1024)
    chat.enviar_nombre()?;
    chat.recibir_nombre()
        .context("waiting for the server's name")?;
    println!("-----{} se ha unido-----", chat.otro);
    let result = conversar(&mut chat);
    if args.stats {
        eprintln!("client: {}", chat.stats());
    }
    result
}

/// The handout's turns: speak, then listen, until one says `desconectar`.
fn conversar(chat: &mut Chat) -> anyhow::Result<()> {
    loop {
        if chat.hablar()? == Turno::Fin || chat.escuchar()? == Turno::Fin {
            return Ok(());
        }
    }
}
