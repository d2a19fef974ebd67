//! What every binary's `main` shares: turning a run's result into the exit status.
//!
//! Exit status, the same in every exercise: 0 done; 1 failed at run time (one line
//! `error: ...` on stderr with the chain of causes); 2 bad usage (clap prints the usage).

use std::fmt::Display;
use std::process::ExitCode;

/// Prints `error: <message>` (with the `anyhow` context chain, via `{:#}`) and returns exit
/// status 1, or returns 0 on success.
///
/// ```
/// fn run() -> Result<(), String> { Err("connection refused".into()) }
/// let code = sockcore::cli::report(run()); // prints "error: connection refused"
/// # let _ = code;
/// ```
pub fn report<E: Display>(result: Result<(), E>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(1)
        }
    }
}

/// Python's `input(prompt)`: prints `prompt` on stdout (no newline), reads one line from stdin
/// and returns it without the line ending. Works the same whether stdin is a terminal, a pipe
/// or a file; when it is not a terminal, the answer is echoed after the prompt, so a scripted
/// run's transcript reads like a typed one (`¿Desea sobrescribir el fichero? (s/n) n`).
///
/// # Errors
/// [`std::io::ErrorKind::UnexpectedEof`] when stdin is closed before a line arrives (the user
/// pressed Ctrl-D, or a script gave fewer answers than asked), or the error of reading stdin.
pub fn input(prompt: &str) -> std::io::Result<String> {
    use std::io::{BufRead, IsTerminal, Write};
    {
        let mut out = std::io::stdout().lock();
        out.write_all(prompt.as_bytes())?;
        out.flush()?;
    }
    // stdout is not held while waiting for the user: another thread (a chat's receiver)
    // may print meanwhile.
    let mut out = std::io::stdout();
    let mut line = String::new();
    if std::io::stdin().lock().read_line(&mut line)? == 0 {
        // Python's input() ends its prompt line with the user's Enter; end it ourselves.
        writeln!(out)?;
        return Err(std::io::Error::new(
            std::io::ErrorKind::UnexpectedEof,
            format!("no answer on standard input to {:?}", prompt.trim_end()),
        ));
    }
    let trimmed = line.trim_end_matches(['\n', '\r']).len();
    line.truncate(trimmed);
    if !std::io::stdin().is_terminal() {
        writeln!(out, "{line}")?;
    }
    Ok(line)
}

/// Asks `question` (via [`input`]) until the answer is yes (`s`, `si`, `sí`, `y`, `yes`) or no
/// (`n`, `no`), in any case; anything else prints `Responda s o n` and asks again.
///
/// # Errors
/// As [`input`]: stdin closed before an answer, or a read error.
pub fn ask_yes_no(question: &str) -> std::io::Result<bool> {
    loop {
        match input(question)?.trim().to_lowercase().as_str() {
            "s" | "si" | "sí" | "y" | "yes" => return Ok(true),
            "n" | "no" => return Ok(false),
            _ => println!("Responda s o n"),
        }
    }
}
