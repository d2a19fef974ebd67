//! The udp-echo protocol, shared by client and server: one datagram of plain UTF-8 text each
//! way, no header, so the handout's Python client and server work against ours.
//!
//! | client → server                   | server → client                                   | handout |
//! |-----------------------------------|---------------------------------------------------|---------|
//! | any non-empty text                | the same bytes (with `--chat`: the operator's answer) | 1.2, 1.5.4 |
//! | an empty datagram                 | nothing (the handout's `if data:`)                | 1.2     |
//! | `/shutdown`                       | `shutting down`, then the server exits            | 1.5.5   |
//! | `/exec <program> [<arg>...]`      | `exit status 0`, `killed by signal 9`, `killed after the 10 s time limit`, `cannot run ...` | 1.5.6 |
//! | a control message it may not send | `refused: <why>`                                  | 1.5.5, 1.5.6 |
//! | anything, from an address not in `--allow` | nothing: ignored, logged on the server's stderr | 1.5.2 |
//!
//! The words after `/exec` are separated by spaces and become the program and its arguments
//! as they are: no shell, so no quotes, pipes, redirections or variables.

/// The handout's `mensaje`: what the client sends when given no message.
pub const MENSAJE: &str = "TyR: Echo sobre UDP";

/// The handout's `LONG_MENSAJE`: the receive buffer, in bytes, on both sides unless
/// `--buffer` says otherwise (1.5.3). A longer datagram is truncated to this size.
pub const LONG_MENSAJE: usize = 1024;

/// 1.5.5: the message that stops the server.
pub const SHUTDOWN: &str = "/shutdown";

/// 1.5.5: the server's reply to [`SHUTDOWN`], sent just before it exits.
pub const SHUTDOWN_REPLY: &str = "shutting down";

/// 1.5.6: the prefix of the message that runs a program on the server.
pub const EXEC_PREFIX: &str = "/exec ";

/// The start of the reply to a control message the server will not carry out.
pub const REFUSED_PREFIX: &str = "refused: ";

/// Parses `--buffer`: 1 to 65,507 bytes (the largest UDP payload over IPv4).
///
/// # Errors
/// A message for clap when the value is not a number in that range.
pub fn parse_buffer(s: &str) -> Result<usize, String> {
    let max = sockcore::datagram::MAX_DATAGRAM_LEN;
    match s.parse::<usize>() {
        Ok(n) if (1..=max).contains(&n) => Ok(n),
        _ => Err(format!("expected a number of bytes from 1 to {max}")),
    }
}

/// The words of an `/exec` message after the prefix: program first, then its arguments.
pub fn exec_words(message: &str) -> Option<Vec<&str>> {
    message
        .strip_prefix(EXEC_PREFIX)
        .map(|rest| rest.split_whitespace().collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `/exec` splits on whitespace and keeps shell characters as plain words.
    #[test]
    fn exec_words_are_program_and_arguments() {
        assert_eq!(
            exec_words("/exec ls -l /tmp"),
            Some(vec!["ls", "-l", "/tmp"])
        );
        assert_eq!(
            exec_words("/exec echo $HOME;rm  x"),
            Some(vec!["echo", "$HOME;rm", "x"])
        );
        assert_eq!(exec_words("/exec "), Some(vec![]));
        assert_eq!(exec_words("/execute ls"), None);
        assert_eq!(exec_words("hola"), None);
    }
}
