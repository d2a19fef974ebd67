//! What the Ej. 4 server checks in what a client sends: the name, by a pure function (so the
//! tests can feed it anything, `tests/reliability.rs`).

/// Longest name, in bytes: it is echoed in a reply and printed in the log.
pub const MAX_NAME_LEN: usize = 64;

/// A name: 1 to [`MAX_NAME_LEN`] bytes, no control characters (it is printed).
///
/// # Errors
/// The text of the `ERROR` reply: the name is empty, too long, or holds a control character.
pub fn check_name(nombre: &str) -> Result<&str, String> {
    if nombre.is_empty() {
        return Err("the name is empty".to_string());
    }
    if nombre.len() > MAX_NAME_LEN {
        return Err(format!(
            "the name is {} bytes long, limit {MAX_NAME_LEN}",
            nombre.len()
        ));
    }
    if nombre.chars().any(char::is_control) {
        return Err(format!("the name {nombre:?} contains a control character"));
    }
    Ok(nombre)
}
