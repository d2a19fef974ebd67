//! What the FTP server's session parses, kept here so it can be tested on its own: the
//! commands of the session and the user name of its greeting.

/// Longest user name, in bytes: a name is for the log, not a document.
pub const MAX_USER_LEN: usize = 64;

/// A session command, as the client sends it in one frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command<'a> {
    /// `LIST`: the listing again.
    List,
    /// `GET <name>`: download a file (the name may be empty or unsafe; the server checks it).
    Get(&'a str),
    /// `SEND <name>`: upload a file, with Ej. 2's overwrite rule.
    Send(&'a str),
    /// `EXIT`: end the session.
    Exit,
    /// Anything else: answered with an error, and the session goes on.
    Unknown,
}

/// Reads one command: the verb is what comes before the first space, exact and
/// case-sensitive; `LIST` and `EXIT` take no argument (a lone trailing space is tolerated).
pub fn parse_command(command: &str) -> Command<'_> {
    let (verb, arg) = command.split_once(' ').unwrap_or((command, ""));
    match (verb, arg) {
        ("LIST", "") => Command::List,
        ("GET", name) => Command::Get(name),
        ("SEND", name) => Command::Send(name),
        ("EXIT", "") => Command::Exit,
        _ => Command::Unknown,
    }
}

/// Checks a user name: 1 to [`MAX_USER_LEN`] bytes, no control characters (it is printed).
///
/// # Errors
/// Why the name cannot be used, as the server reports it.
pub fn check_user(nombre: &str) -> Result<(), String> {
    if nombre.is_empty() || nombre.len() > MAX_USER_LEN {
        return Err(format!(
            "user name of {} bytes is outside 1 to {MAX_USER_LEN}",
            nombre.len()
        ));
    }
    if nombre.chars().any(char::is_control) {
        return Err(format!("user name {nombre:?} contains a control character"));
    }
    Ok(())
}
