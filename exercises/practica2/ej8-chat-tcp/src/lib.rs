//! Ej. 8 / Programa 2 (TCP): the one-to-one chat's turns, shared by `client` and `server`.
//!
//! The report's two programs repeat the same two steps in opposite order: the client speaks
//! then listens, the server listens then speaks. Here each step is written once:
//! [`hablar`] (our turn) and [`escuchar`] (the other's turn).
//!
//! Every message is one line of UTF-8 text ending in `\n` ([`sockcore::lines`]), at most
//! [`MAX_LINE_LEN`] bytes, so `nc 127.0.0.1 2085` can play the client:
//!
//! ```text
//! client                         server
//!                      ◀──────   bea            (the server's name)
//!   ana                ──────▶                  (the client's name)
//!   hola               ──────▶                  (the client speaks first)
//!                      ◀──────   hola ana       (then they take turns)
//!   desconectar        ──────▶                  (either side, on its turn; both end)
//! ```

use anyhow::{bail, Context};
use sockcore::cli::input;
use sockcore::lines::{send_line, LineError, LineReader};
use std::io;
use std::net::{Shutdown, TcpStream};
use std::time::Duration;

/// The command that ends the chat on both sides (Ej. 8: "desconectar").
pub const DESCONECTAR: &str = "desconectar";

/// The report's program ends the chat with `exit`; accepted as well.
pub const EXIT: &str = "exit";

/// The prompt for one's name, as the report's programs ask it.
pub const PROMPT_NOMBRE: &str = "Introduce tu nombre: ";

/// Longest name, in characters: it prefixes every message shown.
pub const MAX_NAME_CHARS: usize = 32;

/// Longest message, in bytes ([`sockcore::lines::MAX_LINE_LEN`], the report's `recv(1024)`).
pub const MAX_LINE_LEN: usize = sockcore::lines::MAX_LINE_LEN;

/// After sending `desconectar`, how long to wait for the other side to close the
/// connection (so both programs have finished when we exit) before leaving anyway.
pub const CLOSE_TIMEOUT: Duration = Duration::from_secs(10);

/// Lines the other side may still send after our `desconectar` before we stop listening:
/// a bound on a peer that keeps talking instead of closing.
const MAX_LINES_AFTER_BYE: usize = 100;

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
/// is valid (Python: `nombre = raw_input("Introduce tu nombre: ")`).
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

/// One side of a chat: the connection, both names, and which program we are (`"server"` or
/// `"client"`, the prefix of our diagnostics on stderr).
#[derive(Debug)]
pub struct Chat {
    s: TcpStream,
    rx: LineReader<TcpStream>,
    /// Our name.
    pub yo: String,
    /// The other side's name, once received ([`Chat::recibir_nombre`]).
    pub otro: String,
    role: &'static str,
}

impl Chat {
    /// A chat over `s` where we are called `yo`.
    ///
    /// # Errors
    /// The OS error of cloning the socket handle.
    pub fn new(s: TcpStream, yo: String, role: &'static str) -> io::Result<Chat> {
        let rx = LineReader::new(s.try_clone()?, MAX_LINE_LEN);
        Ok(Chat {
            s,
            rx,
            yo,
            otro: String::new(),
            role,
        })
    }

    /// The connection (to set a timeout, or to see the other side's address).
    pub fn socket(&self) -> &TcpStream {
        &self.s
    }

    /// Sends our name (Python: `socket_cliente.send(nombre)`).
    ///
    /// # Errors
    /// The connection failed.
    pub fn enviar_nombre(&mut self) -> anyhow::Result<()> {
        send_line(&mut &self.s, &self.yo).context("sending our name")
    }

    /// Receives the other side's name, the first line it sends (Python:
    /// `nombre_cliente = socket_cliente.recv(1024)`), and returns it.
    ///
    /// # Errors
    /// The connection failed or closed first, the line was refused, or it is not a valid
    /// name.
    pub fn recibir_nombre(&mut self) -> anyhow::Result<&str> {
        let name = self
            .rx
            .recv_line()
            .context("receiving the other side's name")?
            .context("the other side closed the connection before saying its name")?;
        if !nombre_valido(&name) {
            bail!("the other side's name {name:?} is not valid");
        }
        self.otro = name;
        Ok(&self.otro)
    }

    /// Our turn: asks for a line with the prompt `"<yo>: "` (again if it is empty) and sends
    /// it. `desconectar`
    /// (or `exit`, or the end of standard input) is sent too; then we wait for the other
    /// side to close its end, and say `chat finalizado`.
    ///
    /// # Errors
    /// The connection failed (the other side has gone), or standard input failed.
    pub fn hablar(&mut self) -> anyhow::Result<Turno> {
        let message = loop {
            let line = match input(&format!("{}: ", self.yo)) {
                Ok(line) => line,
                // The end of standard input (Ctrl-D, or a script's last line): leave politely.
                Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => DESCONECTAR.to_string(),
                Err(e) => return Err(e).context("reading the keyboard"),
            };
            if line.is_empty() {
                // Python: s.send("") sends no bytes, and both sides wait for ever. An empty
                // line would be a line here, but it says nothing: ask again.
                continue;
            }
            if line.len() <= MAX_LINE_LEN {
                break line;
            }
            println!("Mensaje de más de {MAX_LINE_LEN} bytes: no se ha enviado; escribe otro");
        };
        let bye = message == DESCONECTAR || message == EXIT;
        // Python: s.send(nombre+" ha salido del chat") -- but the other side compares with
        // "exit", so it never noticed. Both sides here send and test one word.
        let sent = if bye { DESCONECTAR } else { &message };
        send_line(&mut &self.s, sent).with_context(|| format!("sending to {}", self.otro))?;
        if !bye {
            return Ok(Turno::Sigue);
        }
        self.s.set_read_timeout(Some(CLOSE_TIMEOUT))?;
        for _ in 0..MAX_LINES_AFTER_BYE {
            match self.rx.recv_line() {
                Ok(Some(_)) => continue,
                Err(e) if LineError::of(&e).is_some() => continue,
                _ => break, // closed, reset or timed out: either way we are done
            }
        }
        println!("chat finalizado");
        Ok(Turno::Fin)
    }

    /// The other side's turn: waits for its line and prints it as `"<otro>: <line>"`. Its
    /// `desconectar` ends the chat: we say it left, close, and say `chat finalizado`.
    ///
    /// # Errors
    /// The connection closed or failed without `desconectar` (the other program was
    /// killed, or the network failed).
    pub fn escuchar(&mut self) -> anyhow::Result<Turno> {
        let otro = &self.otro;
        // Python: mensaje = socket_cliente.recv(1024) -- one recv is not one message (and
        // b'' at a close was printed as an empty message, forever); a line is.
        match self.rx.recv_line() {
            Ok(Some(line)) if line == DESCONECTAR || line == EXIT => {
                println!("{otro} ha salido del chat");
                let _ = self.s.shutdown(Shutdown::Both);
                println!("chat finalizado");
                Ok(Turno::Fin)
            }
            Ok(Some(line)) => {
                println!("{otro}: {line}");
                Ok(Turno::Sigue)
            }
            Ok(None) => {
                bail!("{otro} left without saying {DESCONECTAR} (the connection was closed)")
            }
            Err(e) if LineError::of(&e).is_some() => {
                // A message we cannot show was still the other's turn.
                eprintln!("{}: refused a line from {otro}: {e}", self.role);
                Ok(Turno::Sigue)
            }
            Err(e) => Err(e).with_context(|| format!("{otro} left without saying {DESCONECTAR}")),
        }
    }
}
