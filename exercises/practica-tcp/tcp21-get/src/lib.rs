//! What the TCP 2.1 server reads from a client: a command (one frame), parsed by a pure
//! function (so the tests can feed it anything, `tests/reliability.rs`). Sending the file,
//! with its name confined to the root, is the server's job.

/// One command of the dialogue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command<'a> {
    /// `GET <file>` (or a bare `GET`, whose empty name the root refuses): the file's name.
    Get(&'a str),
    /// `TIME`: the server's local time.
    Time,
    /// `BYE`: the server says `Bye` and closes.
    Bye,
    /// Anything else: `Command not found`.
    Unknown,
}

/// Parses one command frame, exactly as sent (no trimming, case-sensitive).
pub fn parse_command(data: &str) -> Command<'_> {
    // Python: if (data[0:3] == "GET"): ... filename = data[4:]
    if let Some(name) = data.strip_prefix("GET ").or((data == "GET").then_some("")) {
        Command::Get(name)
    } else if data == "BYE" {
        Command::Bye
    } else if data == "TIME" {
        Command::Time
    } else {
        Command::Unknown
    }
}
