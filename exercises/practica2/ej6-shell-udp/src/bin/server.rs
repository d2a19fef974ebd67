//! Ej. 6, the server: a small remote shell over UDP. Each client runs `ls`, `rm`, `write`,
//! `cd` and `mv` on the server's directory; `exit` ends the client and the server.
//!
//! Dialogue, per client (each arrow pair is a REQUEST and its REPLY of `sockcore::udp`: lost
//! datagrams are sent again, and a repeated request is answered from a cache, never run
//! twice, so a retransmitted `rm` or `write` happens once):
//!
//! ```text
//! client                               server
//!   HELLO                     ──────▶    opens the session (its current directory: the root)
//!                             ◀──────    HELLO
//!   ls                        ──────▶
//!                             ◀──────    LS\n<name>\n<dir>/...      (fits one datagram)
//!                             ◀──────    LS-BULK <bytes>, then the listing as a bulk transfer
//!   rm <f> | write <f> '<m>' | cd <dir> | mv <f> <dir>
//!                             ◀──────    OK <what was done> | ERROR <why>
//!   exit                      ──────▶
//!                             ◀──────    OK the server ends      (then the server exits)
//! ```
//!
//! Run it in one terminal, then the client in another:
//!
//! ```text
//! cargo run -p ej6-shell-udp --bin server -- --dir compartido
//! cargo run -p ej6-shell-udp --bin client
//! ```
//!
//! The server prints `listening on 127.0.0.1:5006 (udp)` on stderr, then one line per command
//! run on stdout (`Comando de 127.0.0.1:50001: rm a.txt`).
//!
//! Caveat: every client has its own current directory, and none can leave `--dir`: `cd ..` at
//! the top, absolute paths and symlinks leading out are errors. Files are handled with
//! `std::fs` only; no command ever reaches a shell.

use anyhow::Context;
use clap::Parser;
use ej6_shell_udp::{parse_command, Command};
use sockcore::files::{check_name, is_partial, AtomicFile, Overwrite, Root};
use sockcore::net::{self, Transport};
use sockcore::udp::{self, wire::MAX_MESSAGE_LEN, Config, Session, StopHandle};
use std::fs;
use std::io::{self, Write};
use std::net::UdpSocket;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

/// Ej. 6 (Práctica 2), UDP server: run ls, rm, write, cd and mv for each client on --dir,
/// each client with its own current directory inside it; "exit" ends the client and the
/// server. Commands are run at most once, however often the network repeats them.
#[derive(Parser, Debug)]
#[command(version)]
struct Args {
    /// Address to listen on (0.0.0.0 to accept other machines).
    #[arg(long, default_value = net::DEFAULT_HOST)]
    host: String,
    /// Port to listen on (0: let the OS choose; the readiness line says which).
    #[arg(long, default_value_t = 5006)]
    port: u16,
    /// The directory clients work in (their `cd` cannot leave it).
    #[arg(long, default_value = ".")]
    dir: PathBuf,
    /// Seconds a session waits for the client's next command before it is closed.
    #[arg(long, default_value_t = udp::IDLE_TIMEOUT.as_secs(),
          value_parser = clap::value_parser!(u64).range(1..=86_400))]
    idle_timeout: u64,
}

/// The first request of a session, and its reply: UDP has no connection, so this exchange
/// is how client and server learn of each other.
const HELLO: &str = "HELLO";

/// Prefix of a listing that fits in one reply: `LS\n` and the names, one per line.
const LS_INLINE: &str = "LS\n";

/// Prefix of the reply announcing a listing too large for one datagram: `LS-BULK <bytes>`,
/// followed by the listing as a bulk transfer (the next exchange).
const LS_BULK: &str = "LS-BULK ";

fn main() -> ExitCode {
    sockcore::cli::report(run(Args::parse()))
}

fn run(args: Args) -> anyhow::Result<()> {
    let root = Root::new(&args.dir).context("opening the --dir directory")?;
    let socket = net::bind_udp(&args.host, args.port)?;
    net::announce(socket.local_addr()?, Transport::Udp);
    let config = Config {
        idle_timeout: Duration::from_secs(args.idle_timeout),
        ..Config::default()
    };
    serve(socket, root, config)
}

/// Serves sessions until a client sends `exit` ("ambos programas finalizarán"), or the socket
/// fails. After `exit` the server goes on answering repeats of its last replies for
/// `udp::server::STOP_LINGER` (a client whose answer to `exit` was lost asks again within the
/// longest retransmission timeout), then returns.
///
/// # Errors
/// When the socket fails in a way that is not one client's doing.
fn serve(socket: UdpSocket, root: Root, config: Config) -> anyhow::Result<()> {
    let stop = StopHandle::new();
    let exit = stop.clone();
    // Python: while True: data, addr = s.recvfrom(1024)  -- one loop and one current
    // directory for everybody. udp::serve_until gives each client a session and a thread.
    udp::serve_until(
        socket,
        config,
        move |session| {
            let peer = session.peer();
            if let Err(e) = shell(session, &root, &exit) {
                eprintln!("server: client {peer}: {e:#}");
            }
        },
        stop,
    )
    .context("receiving datagrams")
}

/// What a command produced.
enum Outcome {
    /// One reply: `OK ...` or `ERROR ...`.
    Reply(String),
    /// A listing, sent inline or as a bulk transfer.
    Listing(String),
    /// `exit`: answer, then stop the server.
    Exit,
}

/// One client's session: HELLO, then commands until `exit` (or the client goes silent).
fn shell(mut session: Session, root: &Root, stop: &StopHandle) -> anyhow::Result<()> {
    let peer = session.peer();
    let hello = session.recv_request()?;
    if hello != HELLO.as_bytes() {
        session.reply(format!("ERROR expected {HELLO}").as_bytes())?;
        anyhow::bail!(
            "expected {HELLO}, got {:?}",
            String::from_utf8_lossy(&hello)
        );
    }
    session.reply(HELLO.as_bytes())?;
    println!("Conexión desde {peer}");

    // The client's current directory, as components below the root ([] is the root).
    let mut cwd: Vec<String> = Vec::new();
    loop {
        let request = session.recv_request()?;
        let outcome = match String::from_utf8(request) {
            Ok(line) => {
                println!("Comando de {peer}: {}", printable(&line));
                execute(&line, root, &mut cwd)
            }
            Err(e) => Outcome::Reply(format!(
                "ERROR the command is not UTF-8 text (bad byte at offset {})",
                e.utf8_error().valid_up_to()
            )),
        };
        match outcome {
            Outcome::Reply(text) => session.reply(text.as_bytes())?,
            Outcome::Listing(text) => send_listing(&mut session, &text)?,
            Outcome::Exit => {
                session.reply(b"OK the server ends")?;
                println!("exit de {peer}: el servidor termina");
                stop.stop();
                return Ok(());
            }
        }
    }
}

/// A listing in the reply if it fits in one datagram; otherwise `LS-BULK <bytes>` and a bulk
/// transfer, whose chunks are numbered, acknowledged and checked like an upload's.
fn send_listing(session: &mut Session, listing: &str) -> anyhow::Result<()> {
    if LS_INLINE.len() + listing.len() <= MAX_MESSAGE_LEN {
        session.reply(format!("{LS_INLINE}{listing}").as_bytes())?;
        return Ok(());
    }
    let len = listing.len() as u64;
    session.reply(format!("{LS_BULK}{len}").as_bytes())?;
    session
        .send_bulk(&mut listing.as_bytes(), len, |_| {})
        .context("sending a listing")?;
    Ok(())
}

/// Runs one command line on the client's current directory.
fn execute(line: &str, root: &Root, cwd: &mut Vec<String>) -> Outcome {
    let result = match parse_command(line) {
        Ok(Command::Ls) => return listing(root, cwd).map_or_else(error, Outcome::Listing),
        Ok(Command::Exit) => return Outcome::Exit,
        Ok(Command::Rm(name)) => rm(root, cwd, name),
        Ok(Command::Write { name, mensaje }) => write(root, cwd, name, mensaje),
        Ok(Command::Cd(dir)) => cd(root, cwd, dir),
        Ok(Command::Mv { file, dir }) => mv(root, cwd, file, dir),
        Err(why) => Err(why),
    };
    match result {
        Ok(done) => Outcome::Reply(format!("OK {done}")),
        Err(why) => error(why),
    }
}

fn error(why: String) -> Outcome {
    Outcome::Reply(format!("ERROR {why}"))
}

/// The client-visible name of a directory: `/` for the root, `/a/b` below it.
fn shown(parts: &[String]) -> String {
    format!("/{}", parts.join("/"))
}

/// Resolves `arg` (relative to `cwd`; `..` and `.` allowed as whole components) to its
/// components below the root and its path. Refuses absolute paths, `..` above the root, unsafe
/// components, and symlinks that lead out of the root.
fn locate(root: &Root, cwd: &[String], arg: &str) -> Result<(Vec<String>, PathBuf), String> {
    if arg.starts_with('/') || arg.starts_with('\\') {
        return Err(format!(
            "{arg:?} is an absolute path; paths are relative to the current directory"
        ));
    }
    let arg = arg.strip_suffix('/').unwrap_or(arg);
    let mut parts = cwd.to_vec();
    for component in arg.split('/') {
        match component {
            "." => {}
            ".." => {
                if parts.pop().is_none() {
                    return Err(format!("{arg:?} leaves the server's directory"));
                }
            }
            name => {
                check_name(name).map_err(|e| e.to_string())?;
                parts.push(name.to_string());
            }
        }
    }
    if parts.is_empty() {
        return Ok((parts, root.dir().to_path_buf()));
    }
    let path = root.resolve(&parts.join("/")).map_err(|e| e.to_string())?;
    Ok((parts, path))
}

/// `ls`: the current directory's entries, sorted, directories marked with `/`.
fn listing(root: &Root, cwd: &[String]) -> Result<String, String> {
    let (_, dir) = locate(root, cwd, ".")?;
    let entries = fs::read_dir(&dir).map_err(|e| format!("cannot list {}: {e}", shown(cwd)))?;
    let mut names = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| format!("cannot list {}: {e}", shown(cwd)))?;
        if is_partial(&entry.file_name()) {
            continue; // a write in progress
        }
        let mut name = printable(&entry.file_name().to_string_lossy());
        if entry.file_type().is_ok_and(|t| t.is_dir()) {
            name.push('/');
        }
        names.push(name);
    }
    names.sort();
    Ok(names.iter().map(|n| format!("{n}\n")).collect())
}

/// `rm <fichero>`: deletes a file (not a directory).
fn rm(root: &Root, cwd: &[String], name: &str) -> Result<String, String> {
    let (_, path) = locate(root, cwd, name)?;
    let meta = match fs::symlink_metadata(&path) {
        Ok(m) => m,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            return Err(format!("no such file {name}"))
        }
        Err(e) => return Err(format!("cannot remove {name}: {e}")),
    };
    if meta.is_dir() {
        return Err(format!("{name} is a directory; rm removes files"));
    }
    fs::remove_file(&path).map_err(|e| format!("cannot remove {name}: {e}"))?;
    Ok(format!("removed {name}"))
}

/// `write <fichero> '<mensaje>'`: creates the file with the text (not over an existing one).
fn write(root: &Root, cwd: &[String], name: &str, mensaje: &str) -> Result<String, String> {
    let (_, path) = locate(root, cwd, name)?;
    if fs::symlink_metadata(&path).is_ok() {
        return Err(format!("{name} already exists (rm it first)"));
    }
    // "el servidor creará un fichero": whole or not at all, and never over a file that
    // appeared meanwhile (Overwrite::No).
    let mut file = AtomicFile::create(&path).map_err(|e| format!("cannot write {name}: {e}"))?;
    file.write_all(mensaje.as_bytes())
        .map_err(|e| format!("cannot write {name}: {e}"))?;
    file.commit(mensaje.len() as u64, Overwrite::No)
        .map_err(|e| format!("cannot write {name}: {e}"))?;
    Ok(format!("wrote {name} ({} bytes)", mensaje.len()))
}

/// `cd <directorio>`: changes this client's current directory.
fn cd(root: &Root, cwd: &mut Vec<String>, dir: &str) -> Result<String, String> {
    let (parts, path) = locate(root, cwd, dir)?;
    if !path.is_dir() {
        return Err(format!("no such directory {dir}"));
    }
    *cwd = parts;
    Ok(format!("current directory {}", shown(cwd)))
}

/// `mv <fichero> <directorio>`: moves a file to another directory ("los directorios deben
/// ser distintos").
fn mv(root: &Root, cwd: &[String], name: &str, dir: &str) -> Result<String, String> {
    let (file_parts, file) = locate(root, cwd, name)?;
    let (dir_parts, target_dir) = locate(root, cwd, dir)?;
    match fs::symlink_metadata(&file) {
        Ok(m) if m.is_file() => {}
        Ok(_) => return Err(format!("{name} is not a file; mv moves files")),
        Err(_) => return Err(format!("no such file {name}")),
    }
    if !target_dir.is_dir() {
        return Err(format!("no such directory {dir}"));
    }
    let source_dir = &file_parts[..file_parts.len().saturating_sub(1)];
    // Compared by name and by real path (a symlink inside the root may alias a directory).
    let same_real_dir = match (
        file.parent().map(fs::canonicalize),
        fs::canonicalize(&target_dir),
    ) {
        (Some(Ok(a)), Ok(b)) => a == b,
        _ => false,
    };
    if source_dir == dir_parts.as_slice() || same_real_dir {
        return Err(format!(
            "{name} is already in {}: the directories must be different",
            shown(&dir_parts)
        ));
    }
    let base = file_parts.last().cloned().unwrap_or_default();
    let target = target_dir.join(&base);
    if fs::symlink_metadata(&target).is_ok() {
        return Err(format!(
            "{}/{base} already exists",
            shown(&dir_parts).trim_end_matches('/')
        ));
    }
    // Python: os.system("mv " + origen + " " + destino)  -- a shell, and mv overwrites.
    fs::rename(&file, &target).map_err(|e| format!("cannot move {name}: {e}"))?;
    Ok(format!("moved {name} to {}", shown(&dir_parts)))
}

/// `text` with control characters shown as `?`, for the log and listings (a file name or a
/// command may hold anything but `/` and NUL).
fn printable(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { '?' } else { c })
        .collect()
}
