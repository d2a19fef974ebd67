//! What the TCP 1.1 server reads from a client: one message, parsed by a pure function (so
//! the tests can feed it anything, `tests/reliability.rs`). Delimiting the message on the
//! wire, within its limit of bytes, is `sockcore::unframed`'s job.

use std::string::FromUtf8Error;

/// The command that ends the server, as the handout spells it.
pub const EXIT: &str = "EXIT";

/// One message of a client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    /// Exactly `EXIT`: the server answers and ends.
    Exit,
    /// Any other text: a greeting, printed and answered.
    Greeting(String),
}

/// Parses one whole message, exactly as received (no trimming, case-sensitive).
///
/// # Errors
/// The bytes are not UTF-8 text.
pub fn parse_message(bytes: Vec<u8>) -> Result<Message, FromUtf8Error> {
    let data = String::from_utf8(bytes)?;
    Ok(if data == EXIT {
        Message::Exit
    } else {
        Message::Greeting(data)
    })
}
