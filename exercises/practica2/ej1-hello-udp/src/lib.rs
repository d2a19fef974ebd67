//! What the Ej. 1 (UDP) server checks in a datagram, as a pure function (so the tests can
//! feed it anything, `tests/reliability.rs`).

/// Longest message accepted, in bytes: the report's `recvfrom(1024)`, but enforced. Python
/// silently cuts a longer datagram to 1024 bytes (on Linux; Windows raises an error);
/// `recv_datagram` tells us it was cut, and we refuse it with an error reply.
pub const MAX_MESSAGE_LEN: usize = 1024;

/// The text of a datagram, or why it is refused.
///
/// # Errors
/// The text of the `ERROR` reply: the datagram was truncated (longer than
/// [`MAX_MESSAGE_LEN`]), or it is not UTF-8.
pub fn message(datagram: &[u8], truncated: bool) -> Result<&str, String> {
    if truncated {
        return Err(format!(
            "message is longer than {MAX_MESSAGE_LEN} bytes, the limit"
        ));
    }
    std::str::from_utf8(datagram).map_err(|e| {
        format!(
            "message is not valid UTF-8 text (bad byte at offset {})",
            e.valid_up_to()
        )
    })
}
