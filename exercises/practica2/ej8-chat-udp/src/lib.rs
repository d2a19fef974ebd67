//! Ej. 8 / Programa 2 (UDP): the one-to-one chat's turns over a reliable UDP channel,
//! shared by `client` and `server`.
//!
//! The same chat as `ej8-chat-tcp`, with the same names ([`Chat::hablar`], [`Chat::escuchar`]),
//! so a diff of the two crates shows only what UDP changes. Each message is one datagram of a
//! channel of [`sockcore::udp_channel`]: numbered, acknowledged, sent again until
//! acknowledged, delivered once and in order; while nobody speaks, heartbeats say both
//! programs are still there.
//!
//! ```text
//! client                         server
//!   ana                ──────▶                  (the client's name; it opens the channel)
//!                      ◀──────   bea            (the server's name)
//!   hola               ──────▶                  (the client speaks first)
//!                      ◀──────   hola ana       (then they take turns)
//!   desconectar        ──────▶                  (either side, on its turn; then it closes
//!                                                the channel and both programs end)
//! ```
//!
//! Unlike TCP, the client speaks first: a UDP server cannot send anything to a client whose
//! address it has not seen yet (the report's UDP programs do the same).

use anyhow::{bail, Context};
use sockcore::cli::input;
use sockcore::udp_channel::{ChannelId, Closed, Endpoint, Event, Stats};
use std::io;
use std::time::{Duration, Instant};

/// The command that ends the chat on both sides (Ej. 8: "desconectar").
pub const DESCONECTAR: &str = "desconectar";

/// The report's programs end the chat with `exit`; accepted as well.
pub const EXIT: &str = "exit";

/// The prompt for one's name, as the report's programs ask it.
pub const PROMPT_NOMBRE: &str = "Introduce tu nombre: ";

/// Longest name, in characters: it prefixes every message shown.
pub const MAX_NAME_CHARS: usize = 32;

/// Longest message, in bytes: the same limit as the TCP version (a channel could carry up
/// to 1,400).
pub const MAX_LINE_LEN: usize = sockcore::lines::MAX_LINE_LEN;

/// After sending `desconectar`, how long to wait for the channel's close to be acknowledged
/// before leaving anyway.
pub const CLOSE_TIMEOUT: Duration = Duration::from_secs(10);

/// How long one wait for the channel's next event lasts before looking again; the wait as a
/// whole ends when a message arrives or the channel closes (silence is detected by the
/// channel's heartbeats, [`sockcore::udp_channel::PEER_TIMEOUT`]).
const POLL: Duration = Duration::from_secs(1);

/// What a server answers to a second client while it chats with the first.
pub const OCUPADO: &str = "el chat está ocupado";

/// Whether the chat goes on after a turn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Turno {
    /// The other one's turn now.
    Sigue,
    /// Somebody said `desconectar`: the chat is over, both sides close.
    Fin,
}

/// True when `name` can be a name in the chat: 1 to [`MAX_NAME_CHARS`] characters, no
/// control characters, no spaces at either end.
pub fn nombre_valido(name: &str) -> bool {
    let n = name.chars().count();
    n > 0 && n <= MAX_NAME_CHARS && name.trim() == name && !name.chars().any(char::is_control)
}

/// The user's name: `given` (from `--name`) or asked with "Introduce tu nombre: " until it
/// is valid (Python: `nombre = raw_input("Introduce tu Nombre: ")`).
///
/// # Errors
/// An invalid `--name`, or the end of standard input.
pub fn pedir_nombre(given: Option<String>) -> anyhow::Result<String> {
    if let Some(name) = given {
        if !nombre_valido(&name) {
            bail!("--name {name:?} is not valid: 1 to {MAX_NAME_CHARS} characters, no spaces at either end");
        }
        return Ok(name);
    }
    loop {
        let name = input(PROMPT_NOMBRE)?;
        if nombre_valido(&name) {
            return Ok(name);
        }
        println!("Nombre no válido: de 1 a {MAX_NAME_CHARS} caracteres, sin espacios al principio ni al final");
    }
}

/// What the other side did next.
#[derive(Debug)]
enum Recibido {
    Mensaje(Vec<u8>),
    Cerrado(Closed),
}

/// One side of a chat: the endpoint, the channel, both names, and which program we are
/// (`"server"` or `"client"`, the prefix of our diagnostics on stderr).
#[derive(Debug)]
pub struct Chat {
    ep: Endpoint,
    ch: ChannelId,
    /// Our name.
    pub yo: String,
    /// The other side's name (set by [`Chat::recibir_nombre`], or by the server when it
    /// accepted the channel).
    pub otro: String,
    role: &'static str,
}

impl Chat {
    /// A chat on channel `ch` of `ep`, where we are called `yo`.
    pub fn new(ep: Endpoint, ch: ChannelId, yo: String, role: &'static str) -> Chat {
        Chat {
            ep,
            ch,
            yo,
            otro: String::new(),
            role,
        }
    }

    /// The endpoint's counters (messages sent, sent again, duplicates dropped...).
    pub fn stats(&self) -> Stats {
        self.ep.stats()
    }

    /// Sends our name (Python: `udp.sendto(nombre, addr)`).
    ///
    /// # Errors
    /// The channel is closed.
    pub fn enviar_nombre(&mut self) -> anyhow::Result<()> {
        self.ep
            .send(self.ch, self.yo.as_bytes())
            .context("sending our name")
    }

    /// Receives the other side's name, its first message (Python:
    /// `nombre_server, addr = udp.recvfrom(1024)`), and returns it.
    ///
    /// # Errors
    /// The channel closed first (for a client: nobody answered, "is the server running?"),
    /// or the name is not valid text.
    pub fn recibir_nombre(&mut self) -> anyhow::Result<&str> {
        let name = match self.siguiente()? {
            Recibido::Mensaje(m) => String::from_utf8(m).ok().filter(|n| nombre_valido(n)),
            Recibido::Cerrado(Closed::Silent(t)) => bail!(
                "no answer from {} for {:.1} s: is the {} running?",
                self.ch.peer,
                t.as_secs_f64(),
                if self.role == "client" {
                    "server"
                } else {
                    "client"
                }
            ),
            Recibido::Cerrado(why) => bail!("the other side ended the chat: {why}"),
        };
        self.otro = name.context("the other side's name is not valid")?;
        Ok(&self.otro)
    }

    /// Our turn: asks for a line with the prompt `"<yo>: "` (again if it is empty or too
    /// long) and sends it. `desconectar` (or `exit`, or the end of standard input) is sent
    /// too; then we close the channel, wait for the other side to acknowledge it, and say
    /// `chat finalizado`.
    ///
    /// # Errors
    /// The channel closed (the other side has gone), or standard input failed.
    pub fn hablar(&mut self) -> anyhow::Result<Turno> {
        let message = loop {
            let line = match input(&format!("{}: ", self.yo)) {
                Ok(line) => line,
                // The end of standard input (Ctrl-D, or a script's last line): leave politely.
                Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => DESCONECTAR.to_string(),
                Err(e) => return Err(e).context("reading the keyboard"),
            };
            if line.is_empty() {
                // Python: udp.sendto("") is an empty datagram, shown as an empty message. A
                // channel message is never empty; and an empty message says nothing.
                continue;
            }
            if line.len() <= MAX_LINE_LEN {
                break line;
            }
            println!("Mensaje de más de {MAX_LINE_LEN} bytes: no se ha enviado; escribe otro");
        };
        let bye = message == DESCONECTAR || message == EXIT;
        let sent = if bye { DESCONECTAR } else { &message };
        if let Err(e) = self.ep.send(self.ch, sent.as_bytes()) {
            // The channel closed while we were typing: say why.
            let why = self.motivo_cierre().unwrap_or_else(|| e.to_string());
            bail!("{} left without saying {DESCONECTAR} ({why})", self.otro);
        }
        if !bye {
            return Ok(Turno::Sigue);
        }
        // Python: udp.close() right after sendto("exit"): if that one datagram was lost, the
        // other side waited for ever. Here the close waits for the acknowledgement.
        self.ep.close(self.ch, DESCONECTAR);
        let deadline = Instant::now() + CLOSE_TIMEOUT;
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            match self.ep.recv_event(left)? {
                Some(Event::Closed(c, _)) if c == self.ch => break,
                Some(_) => continue,
                None => break,
            }
        }
        println!("chat finalizado");
        Ok(Turno::Fin)
    }

    /// The other side's turn: waits for its message and prints it as `"<otro>: <message>"`.
    /// Its `desconectar` ends the chat: we say it left, and say `chat finalizado`.
    ///
    /// # Errors
    /// The channel closed without `desconectar`: the other side's program was killed (its
    /// heartbeats stopped), or its machine or the network went away.
    pub fn escuchar(&mut self) -> anyhow::Result<Turno> {
        // Python: data, addr = udp.recvfrom(1024) -- blocks for ever if the datagram was
        // lost or the other program died; the channel repeats what was lost and notices a
        // silent peer.
        match self.siguiente()? {
            Recibido::Mensaje(m) => match String::from_utf8(m) {
                Ok(text) if text == DESCONECTAR || text == EXIT => {
                    println!("{} ha salido del chat", self.otro);
                    println!("chat finalizado");
                    Ok(Turno::Fin)
                }
                Ok(text) if text.len() <= MAX_LINE_LEN => {
                    println!("{}: {text}", self.otro);
                    Ok(Turno::Sigue)
                }
                Ok(text) => {
                    eprintln!(
                        "{}: refused a message from {}: {} bytes, over the limit of {MAX_LINE_LEN}",
                        self.role,
                        self.otro,
                        text.len()
                    );
                    Ok(Turno::Sigue)
                }
                Err(e) => {
                    // A message we cannot show was still the other's turn.
                    eprintln!(
                        "{}: refused a message from {}: not UTF-8 text (bad byte at offset {})",
                        self.role,
                        self.otro,
                        e.utf8_error().valid_up_to()
                    );
                    Ok(Turno::Sigue)
                }
            },
            Recibido::Cerrado(why) => {
                bail!("{} left without saying {DESCONECTAR} ({why})", self.otro)
            }
        }
    }

    /// Waits for the next message of our channel, or its end. Another client trying to
    /// join meanwhile is told the chat is taken.
    fn siguiente(&mut self) -> anyhow::Result<Recibido> {
        loop {
            match self.ep.recv_event(POLL)? {
                Some(Event::Message(c, m)) if c == self.ch => return Ok(Recibido::Mensaje(m)),
                Some(Event::Closed(c, why)) if c == self.ch => return Ok(Recibido::Cerrado(why)),
                Some(Event::Opened(other)) => {
                    eprintln!("{}: {other} tried to join: {OCUPADO}", self.role);
                    self.ep.close(other, OCUPADO);
                }
                Some(_) | None => {}
            }
        }
    }

    /// Why our channel closed, if the event is waiting.
    fn motivo_cierre(&mut self) -> Option<String> {
        for _ in 0..100 {
            match self.ep.recv_event(Duration::from_millis(10)).ok()?? {
                Event::Closed(c, why) if c == self.ch => return Some(why.to_string()),
                _ => continue,
            }
        }
        None
    }
}
