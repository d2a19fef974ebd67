//! What the Ej. 2 (UDP) client and server share: the dialogue's messages, parsed by pure
//! functions (so the tests can feed them anything, `tests/reliability.rs`).

use sockcore::frame::BodySummary;

/// The name in the client's request `SEND <name>` (checked later, by `sockcore::files`).
///
/// # Errors
/// `expected SEND <name>, got "<request>"` for any other request.
pub fn parse_send(request: &str) -> Result<&str, String> {
    request
        .strip_prefix("SEND ")
        .ok_or_else(|| format!("expected SEND <name>, got {request:?}"))
}

/// Parses the server's confirmation `RECEIVED <size> <crc32 hex>`; `None` for anything else.
pub fn parse_received(reply: &str) -> Option<BodySummary> {
    let mut words = reply.strip_prefix("RECEIVED ")?.split(' ');
    let size = words.next()?.parse().ok()?;
    let crc32 = u32::from_str_radix(words.next()?, 16).ok()?;
    words
        .next()
        .is_none()
        .then_some(BodySummary { size, crc32 })
}
