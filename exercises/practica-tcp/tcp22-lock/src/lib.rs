//! What the TCP 2.2 server reads from a client: a command (one frame), parsed by a pure
//! function (so the tests can feed it anything, `tests/reliability.rs`). Resolving the name
//! inside the root, locking and replacing files are the server's job.

/// One command of the dialogue: its verb is the text up to the first space, its name
/// everything after that space (possibly empty).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command<'a> {
    /// `GET <file>`: the file's name.
    Get(&'a str),
    /// `LOCK <file>`: the file's name.
    Lock(&'a str),
    /// `PUT <file>`: the file's name.
    Put(&'a str),
    /// `TIME` (nothing after the space): the server's local time.
    Time,
    /// `BYE` (nothing after the space): the server says `Bye` and closes.
    Bye,
    /// Anything else: `Command not found`.
    Unknown,
}

/// Parses one command frame, exactly as sent (no trimming, case-sensitive).
pub fn parse_command(data: &str) -> Command<'_> {
    let (command, name) = data.split_once(' ').unwrap_or((data, ""));
    match command {
        "BYE" if name.is_empty() => Command::Bye,
        "GET" => Command::Get(name),
        "LOCK" => Command::Lock(name),
        "PUT" => Command::Put(name),
        "TIME" if name.is_empty() => Command::Time,
        _ => Command::Unknown,
    }
}
