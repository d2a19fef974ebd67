//! What the Ej. 6 server reads from a client: a command line, parsed by a pure function (so
//! the tests can feed it anything, `tests/reliability.rs`). Running a command, with its file
//! names confined to the root, is the server's job.

/// One command line of the shell, its words checked but its names not yet resolved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command<'a> {
    /// `ls`: the current directory's entries.
    Ls,
    /// `exit`: the client and the server end.
    Exit,
    /// `rm <fichero>`.
    Rm(&'a str),
    /// `write <fichero> '<mensaje>'` (or `"<mensaje>"`).
    Write {
        /// The file to create.
        name: &'a str,
        /// The text between the quotes.
        mensaje: &'a str,
    },
    /// `cd <directorio>`.
    Cd(&'a str),
    /// `mv <fichero> <directorio>`.
    Mv {
        /// The file to move.
        file: &'a str,
        /// Where to.
        dir: &'a str,
    },
}

/// The usage of `write`, in its errors.
const WRITE_USAGE: &str = "usage: write <fichero> '<mensaje>'";

/// The usage of `mv`, in its errors.
const MV_USAGE: &str = "usage: mv <fichero> <directorio>";

/// Parses one command line (surrounding spaces ignored).
///
/// # Errors
/// The text of the `ERROR` reply: an unknown command (listing the known ones), or the
/// usage of `write` or `mv` when their arguments do not fit.
pub fn parse_command(line: &str) -> Result<Command<'_>, String> {
    let line = line.trim();
    let (verb, rest) = match line.split_once(' ') {
        Some((v, r)) => (v, r.trim()),
        None => (line, ""),
    };
    match (verb, rest) {
        ("ls", "") => Ok(Command::Ls),
        ("exit", "") => Ok(Command::Exit),
        ("rm", name) if !name.is_empty() => Ok(Command::Rm(name)),
        ("write", args) if !args.is_empty() => parse_write(args),
        ("cd", dir) if !dir.is_empty() => Ok(Command::Cd(dir)),
        ("mv", args) if !args.is_empty() => {
            let mut words = args.split_whitespace();
            match (words.next(), words.next(), words.next()) {
                (Some(file), Some(dir), None) => Ok(Command::Mv { file, dir }),
                _ => Err(MV_USAGE.to_string()),
            }
        }
        _ => Err(format!(
            "unknown command {line:?} (ls, rm <fichero>, write <fichero> '<mensaje>', cd <directorio>, mv <fichero> <directorio>, exit)"
        )),
    }
}

/// The arguments of `write`: a name, then a message between single or double quotes.
fn parse_write(args: &str) -> Result<Command<'_>, String> {
    let Some((name, quoted)) = args.split_once(' ') else {
        return Err(WRITE_USAGE.to_string());
    };
    let quoted = quoted.trim();
    let mensaje = ['\'', '"']
        .iter()
        .find_map(|q| {
            quoted
                .strip_prefix(*q)
                .and_then(|r| r.strip_suffix(*q))
                .filter(|_| quoted.len() >= 2)
        })
        .ok_or_else(|| format!("{WRITE_USAGE} (the message goes between quotes)"))?;
    Ok(Command::Write { name, mensaje })
}
