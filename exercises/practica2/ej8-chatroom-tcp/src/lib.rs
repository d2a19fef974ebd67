//! Programa 2.1 (TCP chat room): the words of the room's protocol, shared by `client` and
//! `server` (and the tests), so both sides spell them the same way.
//!
//! Every message is one line of UTF-8 text ending in `\n` ([`sockcore::lines`]), at most
//! [`MAX_LINE_LEN`] bytes: a plain `nc 127.0.0.1 1045` can join the room.
//!
//! ```text
//! client                                   server
//!                           ◀──────  intr_apodo                      (asks for a nickname)
//!   ana                     ──────▶                                  (taken or invalid:
//!                           ◀──────  ERROR: <why>, then intr_apodo    ask again)
//!                           ◀──────  ana se ha unido al chat          (to everyone, ana too)
//!                           ◀──────  Te has unido al chat             (to ana)
//!   hola                    ──────▶
//!                           ◀──────  ana: hola                        (to everyone, ana too)
//!   salir                   ──────▶                                  (server closes ana's
//!                                    ana ha salido del chat  ──────▶   connection; tells the rest)
//! ```

/// Server to newcomer: "give me your nickname" (the report's `"intr_apodo"`).
pub const ASK_NICK: &str = "intr_apodo";

/// Server to newcomer, after the join announcement: the nickname was accepted.
pub const JOINED: &str = "Te has unido al chat";

/// Client to server: leave the room (the report's `"salir"`).
pub const SALIR: &str = "salir";

/// Start of every line the server sends about a refused line or nickname.
pub const ERROR_PREFIX: &str = "ERROR: ";

/// Longest line either side accepts, in bytes ([`sockcore::lines::MAX_LINE_LEN`], the
/// report's `recv(1024)`).
pub const MAX_LINE_LEN: usize = sockcore::lines::MAX_LINE_LEN;

/// Longest nickname, in characters: it is repeated before every message.
pub const MAX_NICK_CHARS: usize = 32;

/// The prompt for the nickname, as the report's client asks it.
pub const PROMPT_NOMBRE: &str = "Introduce tu nombre: ";

/// The announcement of a newcomer: `"ana se ha unido al chat"`.
pub fn joined(nick: &str) -> String {
    format!("{nick} se ha unido al chat")
}

/// The announcement of a member who left (by `salir`, vanished, or was disconnected):
/// `"ana ha salido del chat"`.
pub fn left(nick: &str) -> String {
    format!("{nick} ha salido del chat")
}

/// A relayed message: `"ana: hola"`.
pub fn said(nick: &str, text: &str) -> String {
    format!("{nick}: {text}")
}

/// Checks a nickname line, as received: the nickname itself, or the `ERROR: ...` line to
/// send back (1 to [`MAX_NICK_CHARS`] characters, no `:`, no control characters, no spaces at
/// either end).
///
/// # Errors
/// The line to send back when `line` cannot be a nickname.
pub fn parse_nick(line: &str) -> Result<&str, String> {
    let n = line.chars().count();
    let ok = n > 0
        && n <= MAX_NICK_CHARS
        && line.trim() == line
        && !line.contains(':')
        && !line.chars().any(char::is_control);
    if ok {
        Ok(line)
    } else {
        Err(format!(
            "{ERROR_PREFIX}apodo no válido: de 1 a {MAX_NICK_CHARS} caracteres, sin ':' y sin espacios al principio ni al final"
        ))
    }
}

/// What a member's line means once in the room.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Line<'a> {
    /// Exactly [`SALIR`]: the member leaves.
    Salir,
    /// Empty or only spaces (Enter alone): says nothing, relayed to nobody.
    Empty,
    /// Anything else: relayed to everyone as it came.
    Message(&'a str),
}

/// Parses a member's line, as received (no trimming for [`SALIR`]).
pub fn parse_line(line: &str) -> Line<'_> {
    if line == SALIR {
        Line::Salir
    } else if line.trim().is_empty() {
        Line::Empty
    } else {
        Line::Message(line)
    }
}
