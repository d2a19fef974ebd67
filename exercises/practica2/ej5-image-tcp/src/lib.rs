//! What the Ej. 5 client and server share: the dialogue's messages, parsed by pure functions
//! (so the tests can feed them anything, `tests/reliability.rs`).

/// The name in the client's request `GET <name>` (checked later, by `sockcore::files`).
///
/// # Errors
/// `expected GET <name>, got "<request>"` for any other request.
pub fn parse_get(request: &str) -> Result<&str, String> {
    request
        .strip_prefix("GET ")
        .ok_or_else(|| format!("expected GET <name>, got {request:?}"))
}

/// The size in the server's answer `OK <size>`; `None` for anything else.
pub fn parse_ok(reply: &str) -> Option<u64> {
    reply.strip_prefix("OK ").and_then(|n| n.parse().ok())
}
