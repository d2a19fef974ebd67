//! Ej. 4, the server: a help desk over UDP. It welcomes each client, asks its name, and
//! answers every question with the help-desk address, until the client says `exit`.
//!
//! Dialogue, per client (each arrow pair is a REQUEST and its REPLY of `sockcore::udp`, which
//! repeats lost datagrams and answers a repeated request from its cache, never twice):
//!
//! ```text
//! client                               server
//!   HOLA                      ──────▶    opens the session
//!                             ◀──────    ¡Bienvenido! ¿Cuál es su nombre para que pueda dirigirme a usted?
//!   <nombre>                  ──────▶
//!                             ◀──────    <nombre>, ¿en qué puedo ayudarte?
//!   <pregunta>                ──────▶    (as many times as the client likes)
//!                             ◀──────    Debe ponerse en contacto con el servicio de atención de dudas cuya dirección es dudas@ejemplo.com
//!   exit                      ──────▶
//!                             ◀──────    ¡Hasta pronto, <nombre>!   and the session ends
//! ```
//!
//! Run it in one terminal, then the client in another:
//!
//! ```text
//! cargo run -p ej4-helpdesk-udp --bin server
//! cargo run -p ej4-helpdesk-udp --bin client
//! ```
//!
//! The server prints `listening on 127.0.0.1:5004 (udp)` on stderr, then one line per step on
//! stdout: `Conexión desde ...`, `Cliente 127.0.0.1:50001: ale`, `ale pregunta: ...`,
//! `ale se ha desconectado`.
//!
//! Caveat: UDP never says that a client has gone. A session with no request for
//! `--idle-timeout` seconds is closed; that client's next message is refused, and it must
//! start again.

use anyhow::{bail, Context};
use clap::Parser;
use ej4_helpdesk_udp::check_name;
use sockcore::net::{self, Transport};
use sockcore::udp::{self, Config, Session};
use std::net::UdpSocket;
use std::process::ExitCode;
use std::time::Duration;

/// Ej. 4 (Práctica 2), UDP server: a help desk. Welcome each client, ask its name, and answer
/// every question with the address of the help desk, until the client sends "exit". Serves
/// many clients at once on one socket, a session per client.
#[derive(Parser, Debug)]
#[command(version)]
struct Args {
    /// Address to listen on (0.0.0.0 to accept other machines).
    #[arg(long, default_value = net::DEFAULT_HOST)]
    host: String,
    /// Port to listen on (0: let the OS choose; the readiness line says which).
    #[arg(long, default_value_t = 5004)]
    port: u16,
    /// Seconds a session waits for the client's next message before it is closed.
    #[arg(long, default_value_t = udp::IDLE_TIMEOUT.as_secs(),
          value_parser = clap::value_parser!(u64).range(1..=86_400))]
    idle_timeout: u64,
}

/// The first request of a session: the client "establecerá la conexión". Over UDP there is no
/// connection to notice, so the client's greeting is what opens the session.
const SALUDO: &str = "HOLA";

/// The handout's welcome.
const BIENVENIDA: &str = "¡Bienvenido! ¿Cuál es su nombre para que pueda dirigirme a usted?";

/// The handout's answer to every question.
const RESPUESTA: &str = "Debe ponerse en contacto con el servicio de atención de dudas cuya dirección es dudas@ejemplo.com";

/// The message that ends a session (the handout's "la cadena de texto exit").
const EXIT: &str = "exit";

fn main() -> ExitCode {
    sockcore::cli::report(run(Args::parse()))
}

fn run(args: Args) -> anyhow::Result<()> {
    let socket = net::bind_udp(&args.host, args.port)?;
    net::announce(socket.local_addr()?, Transport::Udp);
    let config = Config {
        idle_timeout: Duration::from_secs(args.idle_timeout),
        ..Config::default()
    };
    serve(socket, config)
}

/// Serves clients forever, a session (and a thread) each. Only an error of the socket itself
/// ends it; a client's error ends that client's session alone.
///
/// # Errors
/// When the socket fails in a way that is not one client's doing.
fn serve(socket: UdpSocket, config: Config) -> anyhow::Result<()> {
    // Python: while True: data, addr = udp.recvfrom(1024)  -- one loop and one "nombre"
    // variable for everybody: a second client's name overwrites the first's. udp::serve
    // sorts datagrams by client and gives each session its own thread and its own state.
    udp::serve(socket, config, |session| {
        let peer = session.peer();
        println!("Conexión desde {peer}");
        if let Err(e) = help_desk(session) {
            eprintln!("server: client {peer}: {e:#}");
        }
    })
    .context("receiving datagrams")
}

/// What the session waits for next.
enum Waiting {
    /// The client's name (after the welcome).
    Name,
    /// Questions, from the client called this.
    Questions(String),
}

/// The handout's dialogue with one client.
fn help_desk(mut session: Session) -> anyhow::Result<()> {
    let peer = session.peer();
    let greeting = session.recv_request()?;
    if greeting != SALUDO.as_bytes() {
        session.reply(format!("ERROR expected {SALUDO}").as_bytes())?;
        bail!(
            "expected {SALUDO}, got {:?}",
            String::from_utf8_lossy(&greeting)
        );
    }
    // "el programa servidor automáticamente le enviará el mensaje"
    session.reply(BIENVENIDA.as_bytes())?;

    let mut waiting = Waiting::Name;
    loop {
        let request = session.recv_request()?;
        // Each request is answered before the next is read; a bad one gets `ERROR <why>`
        // and the session goes on (the datagram layer is still in step).
        let text = match String::from_utf8(request) {
            Ok(t) => t,
            Err(e) => {
                let why = format!(
                    "the message is not UTF-8 text (bad byte at offset {})",
                    e.utf8_error().valid_up_to()
                );
                eprintln!("server: client {peer}: {why}");
                session.reply(format!("ERROR {why}").as_bytes())?;
                continue;
            }
        };
        if text == EXIT {
            let nombre = match &waiting {
                Waiting::Questions(n) => n.clone(),
                Waiting::Name => peer.to_string(),
            };
            println!("{nombre} se ha desconectado");
            session.reply(format!("¡Hasta pronto, {nombre}!").as_bytes())?;
            return Ok(());
        }
        let answer = match &waiting {
            Waiting::Name => match check_name(text.trim()) {
                Ok(nombre) => {
                    println!("Cliente {peer}: {nombre}");
                    let answer = format!("{nombre}, ¿en qué puedo ayudarte?");
                    waiting = Waiting::Questions(nombre.to_string());
                    answer
                }
                Err(why) => {
                    eprintln!("server: client {peer}: {why}");
                    format!("ERROR {why}")
                }
            },
            Waiting::Questions(nombre) => {
                println!("{nombre} pregunta: {text}");
                RESPUESTA.to_string()
            }
        };
        session.reply(answer.as_bytes())?;
    }
}
