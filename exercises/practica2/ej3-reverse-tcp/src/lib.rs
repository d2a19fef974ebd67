//! What the Ej. 3 client and server share: the dialogue's messages, parsed by pure functions
//! (so the tests can feed them anything, `tests/reliability.rs`).

use anyhow::{bail, Context};
use sockcore::files::check_name;

/// Parses `REVERSE <size> <name>`; the name is only shown in the log, but a name from the
/// network is checked all the same (no separators, control bytes or 300-byte names in the log).
///
/// # Errors
/// The text of the `ERROR` reply: not a REVERSE request, a size that is not a number, or an
/// unsafe name.
pub fn parse_request(request: &str) -> anyhow::Result<(u64, &str)> {
    let Some(rest) = request.strip_prefix("REVERSE ") else {
        bail!("expected REVERSE <size> <name>, got {request:?}");
    };
    let Some((size, name)) = rest.split_once(' ') else {
        bail!("expected REVERSE <size> <name>, got {request:?}");
    };
    let size: u64 = size
        .parse()
        .with_context(|| format!("bad size {size:?} in {request:?}"))?;
    check_name(name)?;
    if name.chars().any(char::is_control) {
        bail!("file name {name:?} contains a control character");
    }
    Ok((size, name))
}

/// The size in the server's answer `REVERSED <size>`; `None` for anything else.
pub fn parse_reversed(reply: &str) -> Option<u64> {
    reply.strip_prefix("REVERSED ").and_then(|n| n.parse().ok())
}
