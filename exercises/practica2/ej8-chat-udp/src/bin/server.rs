//! Ej. 8 / Programa 2 (UDP), the server: waits for one client and chats with it, taking
//! turns: the client speaks first, the server answers, and so on, until one says
//! `desconectar`. No message is lost or shown twice, whatever the network does.
//!
//! Dialogue (one message per datagram of a `sockcore::udp_channel` channel):
//!
//! ```text
//! client → server   ana                  (the client's name: it opens the channel)
//! server → client   bea                  (the server's name)
//! client → server   hola                 server prints "ana: hola", asks "bea: "
//! server → client   hola ana             ...
//! either            desconectar          both print that the chat is over and exit 0
//! ```
//!
//! Run it in one terminal, then the client in another:
//!
//! ```text
//! cargo run -p ej8-chat-udp --bin server
//! Introduce tu nombre: bea
//! -----ana se ha unido-----
//! ana: hola
//! bea: hola ana
//! ana ha salido del chat
//! chat finalizado
//! ```
//!
//! The server asks its user's name first, then prints `listening on 127.0.0.1:2502 (udp)` on
//! stderr.
//!
//! Caveat: UDP has no connection to break, so a client whose program dies is noticed only
//! when its heartbeats stop: 5 s later (`sockcore::udp_channel::PEER_TIMEOUT`).

use clap::Parser;
use ej8_chat_udp::{nombre_valido, pedir_nombre, Chat, Turno};
use sockcore::net::{self, Transport};
use sockcore::udp_channel::{ChannelConfig, ChannelId, Endpoint, Event};
use std::process::ExitCode;
use std::time::Duration;

/// Ej. 8 / Programa 2 (Práctica 2), UDP one-to-one chat, the side that waits: asks your
/// name, waits for one client, then you take turns (the client first) until either types
/// "desconectar" (or "exit"); then both programs end. Messages are acknowledged and sent
/// again until they arrive; a client that vanishes is noticed by its missing heartbeats.
#[derive(Parser, Debug)]
#[command(version)]
struct Args {
    /// Address to listen on (0.0.0.0 to accept other machines).
    #[arg(long, default_value = net::DEFAULT_HOST)]
    host: String,
    /// Port to listen on (0: let the OS choose; the readiness line says which).
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

/// How long one wait for a client lasts before looking again (a server waits for ever).
const POLL: Duration = Duration::from_secs(1);

fn main() -> ExitCode {
    sockcore::cli::report(run(Args::parse()))
}

fn run(args: Args) -> anyhow::Result<()> {
    // Python: nombre = raw_input("Introduce tu Nombre: "); udp.bind(("localhost", 2502))
    let nombre = pedir_nombre(args.name)?;
    let udp = net::bind_udp(&args.host, args.port)?;
    net::announce(udp.local_addr()?, Transport::Udp);
    let ep = Endpoint::listen(udp, ChannelConfig::default())?;
    let (ch, nombre_cliente) = aceptar(&ep)?;
    let mut chat = Chat::new(ep, ch, nombre, "server");
    chat.otro = nombre_cliente;
    // Python: udp.sendto(nombre, addr)
    chat.enviar_nombre()?;
    println!("-----{} se ha unido-----", chat.otro);
    let result = conversar(&mut chat);
    if args.stats {
        eprintln!("server: {}", chat.stats());
    }
    result
}

/// The handout's turns: listen, then speak, until one says `desconectar`.
fn conversar(chat: &mut Chat) -> anyhow::Result<()> {
    loop {
        if chat.escuchar()? == Turno::Fin || chat.hablar()? == Turno::Fin {
            return Ok(());
        }
    }
}

/// Waits for a client's first message, its name (Python: `nombre_cliente, addr =
/// udp.recvfrom(1024)`). A channel whose name is not valid is closed with the reason, and
/// the server waits for the next.
fn aceptar(ep: &Endpoint) -> anyhow::Result<(ChannelId, String)> {
    loop {
        let Some(event) = ep.recv_event(POLL)? else {
            continue;
        };
        match event {
            Event::Message(ch, m) => match String::from_utf8(m) {
                Ok(name) if nombre_valido(&name) => return Ok((ch, name)),
                _ => {
                    eprintln!("server: {ch}: the first message is not a valid name; waiting for another client");
                    ep.close(ch, "nombre no válido");
                }
            },
            Event::Opened(_) | Event::Closed(..) => {}
        }
    }
}
