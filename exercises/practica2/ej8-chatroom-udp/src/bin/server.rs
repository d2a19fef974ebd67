//! Programa 2.1 over UDP, the server: the chat room the report could not make work over UDP.
//! Every message one member writes reaches every member, once and in order, whatever the
//! network loses, duplicates or reorders.
//!
//! Dialogue, per member (one message per datagram of a `sockcore::udp_channel` channel):
//!
//! ```text
//! newcomer → server   ana                        (refused if taken: "ERROR: ...", "intr_apodo")
//! server → everyone   ana se ha unido al chat
//! server → ana        Te has unido al chat
//! ana → server        hola
//! server → everyone   ana: hola
//! ana → server        salir                      (or ana's heartbeats stop for 5 s)
//! server → the rest   ana ha salido del chat
//! ```
//!
//! Run it in one terminal, then a client in each of several others:
//!
//! ```text
//! cargo run -p ej8-chatroom-udp --bin server
//! cargo run -p ej8-chatroom-udp --bin client
//! ```
//!
//! The server prints `listening on 127.0.0.1:1045 (udp)` on stderr, then one line per join
//! and leave on stdout, as the TCP room does: `~ ana se ha unido al chat ~`.
//!
//! Caveat: membership is by channel (the member's address and session id), and UDP says
//! nothing when a program dies: a member whose heartbeats stop is announced as left 5 s
//! later. A member more than 1,024 messages behind is disconnected the same way: the room is
//! one thread that never waits for anybody.

use anyhow::Context;
use clap::Parser;
use ej8_chatroom_udp::{
    joined, left, parse_nick, said, ASK_NICK, ERROR_PREFIX, JOINED, MAX_LINE_LEN, SALIR,
};
use sockcore::net::{self, Transport};
use sockcore::udp_channel::{ChannelConfig, ChannelId, Closed, Endpoint, Event};
use std::collections::BTreeMap;
use std::process::ExitCode;
use std::time::{Duration, Instant};

/// Programa 2.1 (report on Práctica 2) over UDP: a chat room. Members join with a unique
/// nickname, every message is relayed to all as "<nick>: <texto>", joins and leaves
/// ("salir", or silence) are announced. Messages are acknowledged and sent again until they
/// arrive, once each, in order.
#[derive(Parser, Debug)]
#[command(version)]
struct Args {
    /// Address to listen on (0.0.0.0 to accept other machines).
    #[arg(long, default_value = net::DEFAULT_HOST)]
    host: String,
    /// Port to listen on (0: let the OS choose; the readiness line says which).
    #[arg(long, default_value_t = 1045)]
    port: u16,
}

/// How long a newcomer's channel may stay open without an acceptable nickname.
const NICK_TIMEOUT: Duration = Duration::from_secs(60);

/// Members at once. The endpoint also bounds open channels
/// (`sockcore::udp_channel::MAX_CHANNELS`).
const MAX_MIEMBROS: usize = 512;

/// How long the room waits for an event before looking at its own timers (newcomers
/// without a nickname).
const POLL: Duration = Duration::from_millis(500);

fn main() -> ExitCode {
    sockcore::cli::report(run(Args::parse()))
}

fn run(args: Args) -> anyhow::Result<()> {
    let udp = net::bind_udp(&args.host, args.port)?;
    net::announce(udp.local_addr()?, Transport::Udp);
    let ep = Endpoint::listen(udp, ChannelConfig::default())?;
    servir(&ep)
}

/// The room: who is in it, and who has opened a channel without a nickname yet.
#[derive(Debug, Default)]
struct Sala {
    /// Members by channel (the report's `clientes` and `apodos` in one map).
    clientes: BTreeMap<ChannelId, String>,
    /// Channels that have not given an acceptable nickname, since when.
    nuevos: BTreeMap<ChannelId, Instant>,
}

/// Serves the room for ever, one event at a time (the TCP room's `aceptar_clientes` and
/// every member's `recibir`, as one loop). Sending never waits: each message goes into the
/// member's channel, which delivers it.
fn servir(ep: &Endpoint) -> anyhow::Result<()> {
    let mut sala = Sala::default();
    loop {
        match ep
            .recv_event(POLL)
            .context("waiting for the room's next event")?
        {
            Some(Event::Opened(ch)) => {
                sala.nuevos.insert(ch, Instant::now());
            }
            Some(Event::Message(ch, m)) => {
                if sala.clientes.contains_key(&ch) {
                    recibir(ep, &mut sala, ch, &m);
                } else if sala.nuevos.contains_key(&ch) {
                    unirse(ep, &mut sala, ch, &m);
                }
            }
            Some(Event::Closed(ch, why)) => {
                sala.nuevos.remove(&ch);
                if let Some(apodo) = eliminar_cliente(ep, &mut sala, ch) {
                    if why != Closed::Done {
                        eprintln!("server: {ch} ({apodo}): {why}; removed from the room");
                    }
                }
            }
            None => {}
        }
        let now = Instant::now();
        let tarde: Vec<ChannelId> = sala
            .nuevos
            .iter()
            .filter(|(_, since)| now.duration_since(**since) >= NICK_TIMEOUT)
            .map(|(ch, _)| *ch)
            .collect();
        for ch in tarde {
            sala.nuevos.remove(&ch);
            ep.close(ch, "sin apodo");
        }
    }
}

/// A newcomer's nickname: if free, the newcomer joins, announced to everyone (itself
/// included) and welcomed; if not, it is told why and asked again.
fn unirse(ep: &Endpoint, sala: &mut Sala, ch: ChannelId, m: &[u8]) {
    let apodo = std::str::from_utf8(m).unwrap_or("").to_string();
    let why = if let Err(why) = parse_nick(&apodo) {
        why // not UTF-8 counts as empty: not valid
    } else if sala.clientes.values().any(|a| *a == apodo) {
        format!("{ERROR_PREFIX}el apodo {apodo} ya está en uso")
    } else if sala.clientes.len() >= MAX_MIEMBROS {
        format!("{ERROR_PREFIX}la sala está llena ({MAX_MIEMBROS} personas)")
    } else {
        sala.nuevos.remove(&ch);
        sala.clientes.insert(ch, apodo.clone());
        enviar_a_todos(ep, sala, &joined(&apodo));
        enviar(ep, ch, JOINED);
        println!("~ {apodo} se ha unido al chat ~");
        return;
    };
    enviar(ep, ch, &why);
    enviar(ep, ch, ASK_NICK);
}

/// A member's message (Python: `recibir(cliente)`): `salir` leaves, anything else is relayed
/// to everyone. A message that is not UTF-8 or too long gets an error back; the member stays.
fn recibir(ep: &Endpoint, sala: &mut Sala, ch: ChannelId, m: &[u8]) {
    let Ok(data) = std::str::from_utf8(m) else {
        eprintln!("server: {ch}: refused a message: not UTF-8 text");
        enviar(
            ep,
            ch,
            &format!("{ERROR_PREFIX}la línea no es texto UTF-8; no se ha enviado"),
        );
        return;
    };
    if data.len() > MAX_LINE_LEN {
        eprintln!("server: {ch}: refused a message: longer than {MAX_LINE_LEN} bytes");
        enviar(
            ep,
            ch,
            &format!("{ERROR_PREFIX}línea de más de {MAX_LINE_LEN} bytes; no se ha enviado"),
        );
        return;
    }
    if data == SALIR {
        eliminar_cliente(ep, sala, ch);
        // Its last messages are delivered first: the channel closes after them.
        ep.close(ch, SALIR);
    } else if !data.trim().is_empty() {
        if let Some(apodo) = sala.clientes.get(&ch) {
            enviar_a_todos(ep, sala, &said(apodo, data));
        }
    }
}

/// Sends `mensaje` to every member (Python: `enviar_a_todos`).
fn enviar_a_todos(ep: &Endpoint, sala: &Sala, mensaje: &str) {
    for &ch in sala.clientes.keys() {
        enviar(ep, ch, mensaje);
    }
}

/// Sends to one member. A failure means its channel just closed (its backlog was full):
/// the endpoint reports that as an event, and the member is removed then.
fn enviar(ep: &Endpoint, ch: ChannelId, mensaje: &str) {
    let _ = ep.send(ch, mensaje.as_bytes());
}

/// Removes member `ch`, tells the rest it left, and returns its nickname (Python:
/// `eliminar_cliente(cliente)`); `None` if it was not a member.
fn eliminar_cliente(ep: &Endpoint, sala: &mut Sala, ch: ChannelId) -> Option<String> {
    let apodo = sala.clientes.remove(&ch)?;
    enviar_a_todos(ep, sala, &left(&apodo));
    println!("~ {apodo} ha salido del chat ~");
    Some(apodo)
}
