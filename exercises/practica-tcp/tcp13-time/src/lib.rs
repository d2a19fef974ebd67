//! What the TCP 1.3 server reads from a client: commands with no boundary on the wire,
//! delimited and parsed by pure functions (so the tests can feed them anything,
//! `tests/reliability.rs`). Reading the bytes, within the server's limit, is
//! `sockcore::unframed`'s job.

use sockcore::unframed::{one_of, Verdict};

/// The two commands, as the handout spells them; each is complete as soon as its 4 bytes
/// are in (neither is the beginning of the other).
pub const TIME: &str = "TIME";
/// See [`TIME`].
pub const EXIT: &str = "EXIT";
const COMMANDS: [&str; 2] = [TIME, EXIT];

/// One command of the dialogue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command {
    /// `TIME`: the server answers its local time.
    Time,
    /// `EXIT`: the server answers `Bye` and ends.
    Exit,
}

/// The reader's judge: whether the bytes received so far start with a whole command
/// (`Whole(4)`), are the beginning of one (`Partial`), or cannot be one (`Invalid`).
pub fn judge_command(bytes: &[u8]) -> Verdict {
    one_of(&COMMANDS)(bytes)
}

/// The command that a whole message is, as [`judge_command`] delimited it; `None` for
/// anything else.
pub fn parse_command(message: &[u8]) -> Option<Command> {
    match message {
        b"TIME" => Some(Command::Time),
        b"EXIT" => Some(Command::Exit),
        _ => None,
    }
}
