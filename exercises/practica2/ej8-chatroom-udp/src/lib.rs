//! Programa 2.1 over UDP (the version the report "no la hemos podido realizar
//! correctamente"): the words of the room's protocol, shared by `client` and `server` (and
//! the tests). They are the TCP room's words; only the transport and who speaks first differ.
//!
//! Every message is one message of a `sockcore::udp_channel` channel (acknowledged, repeated
//! until acknowledged, delivered once and in order), UTF-8 text of at most [`MAX_LINE_LEN`]
//! bytes:
//!
//! ```text
//! client                                   server
//!   ana                     ──────▶                                  (the nickname; it opens
//!                                                                     the channel: a UDP
//!                                                                     server cannot speak first)
//!                           ◀──────  ERROR: <why>, then intr_apodo    (taken or invalid: the
//!   ana2                    ──────▶                                   client asks again)
//!                           ◀──────  ana2 se ha unido al chat         (to everyone, ana2 too)
//!                           ◀──────  Te has unido al chat             (to ana2)
//!   hola                    ──────▶
//!                           ◀──────  ana2: hola                       (to everyone, ana2 too)
//!   salir                   ──────▶                                  (the server closes ana2's
//!                                    ana2 ha salido del chat ──────▶   channel; tells the rest)
//! ```
//!
//! A member that stops answering (no heartbeat for 5 s) is removed and announced as left.

/// Server to client: "give me another nickname" (the report's `"intr_apodo"`).
pub const ASK_NICK: &str = "intr_apodo";

/// Server to newcomer, after the join announcement: the nickname was accepted.
pub const JOINED: &str = "Te has unido al chat";

/// Client to server: leave the room (the report's `"salir"`).
pub const SALIR: &str = "salir";

/// Start of every message the server sends about a refused message or nickname.
pub const ERROR_PREFIX: &str = "ERROR: ";

/// Longest message either side accepts, in bytes: the TCP room's line limit (a channel
/// could carry 1,400).
pub const MAX_LINE_LEN: usize = sockcore::lines::MAX_LINE_LEN;

/// Longest nickname, in characters: it is repeated before every message.
pub const MAX_NICK_CHARS: usize = 32;

/// The prompt for the nickname, as the report's client asks it.
pub const PROMPT_NOMBRE: &str = "Introduce tu nombre: ";

/// The announcement of a newcomer: `"ana se ha unido al chat"`.
pub fn joined(nick: &str) -> String {
    format!("{nick} se ha unido al chat")
}

/// The announcement of a member who left (by `salir`, went silent, or fell too far
/// behind): `"ana ha salido del chat"`.
pub fn left(nick: &str) -> String {
    format!("{nick} ha salido del chat")
}

/// A relayed message: `"ana: hola"`.
pub fn said(nick: &str, text: &str) -> String {
    format!("{nick}: {text}")
}

/// A newcomer's nickname if it can be one (1 to [`MAX_NICK_CHARS`] characters, no `:`, no
/// control characters, no spaces at either end), else the error line to send back. The same
/// rule as the TCP room's `parse_nick`.
///
/// # Errors
/// The line `ERROR: apodo no válido: ...` when the nickname cannot be used.
pub fn parse_nick(apodo: &str) -> Result<&str, String> {
    let n = apodo.chars().count();
    let ok = n > 0
        && n <= MAX_NICK_CHARS
        && apodo.trim() == apodo
        && !apodo.contains(':')
        && !apodo.chars().any(char::is_control);
    if ok {
        Ok(apodo)
    } else {
        Err(format!(
            "{ERROR_PREFIX}apodo no válido: de 1 a {MAX_NICK_CHARS} caracteres, sin ':' y sin espacios al principio ni al final"
        ))
    }
}
