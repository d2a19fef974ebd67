//! TCP 2.2 (Práctica TCP), the client: TCP 2.1's client plus `LOCK <file>` and `PUT <file>`,
//! to modify a file of the server: lock it, get it, edit the local copy, put it back.
//!
//! Dialogue (see the server's docs for the bytes): one connection; each command is one frame
//! and gets one answer. `GET` saves the file in `--dir` (through a temporary file, renamed
//! once complete and verified); `PUT` sends the file of that name from `--dir`, after the
//! server's `OK`. The session always ends with `BYE`: typed, or sent for you at the end of
//! the commands (or of stdin), which also releases the locks.
//!
//! Run the server first, then in another terminal:
//!
//! ```text
//! cargo run -p tcp22-lock --bin client
//! Connected to 127.0.0.1:6780
//! Command: LOCK data.txt
//! SUCCESS: File has been associated with your address
//! Command: GET data.txt
//! Saved data.txt (23 bytes)
//! (edit data.txt in another window)
//! Command: PUT data.txt
//! File has been modified
//! ```
//!
//! Caveat: a lock lasts while the connection does; a second client asking for it meanwhile
//! gets `ERROR: File is blocked` and must try again later.

use anyhow::{bail, Context};
use clap::Parser;
use sockcore::cli::input;
use sockcore::files::{AtomicFile, Overwrite, Root};
use sockcore::frame::{recv_file, recv_text, send_file, send_text, MAX_FRAME_LEN};
use sockcore::net;
use sockcore::progress::Progress;
use std::cell::RefCell;
use std::fs::File;
use std::io::{self, BufReader, BufWriter};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

/// TCP 2.2 (Práctica TCP), client: send each COMMAND ("LOCK <file>", "GET <file>",
/// "PUT <file>", "TIME", "BYE", ...) to the server over one connection and print the answers;
/// GET saves into --dir, PUT sends the file of that name from --dir. Without COMMANDs, asks
/// for them on stdin. Always ends the session with BYE.
#[derive(Parser, Debug)]
#[command(version)]
struct Args {
    /// Server address.
    #[arg(long, default_value = net::DEFAULT_HOST)]
    host: String,
    /// Server port.
    #[arg(long, default_value_t = 6780)]
    port: u16,
    /// Directory where GET saves files and PUT takes them from.
    #[arg(long, default_value = ".")]
    dir: PathBuf,
    /// Largest file accepted by GET, in bytes.
    #[arg(long, default_value_t = MAX_DOWNLOAD)]
    max_size: u64,
    /// Commands to send, in order; asked on stdin ("Command: ") if none is given.
    commands: Vec<String>,
}

/// Default limit on a download: 64 GiB, far above any course file, far below a disk.
const MAX_DOWNLOAD: u64 = 64 << 30;

/// How long to wait for the server between two bytes of an answer.
const REPLY_TIMEOUT: Duration = Duration::from_secs(10);

const BYE: &str = "BYE";
/// The server's go-ahead before a file's body, both ways.
const OK: &str = "OK";

fn main() -> ExitCode {
    sockcore::cli::report(run(Args::parse()))
}

fn run(args: Args) -> anyhow::Result<()> {
    let dir = Root::new(&args.dir).context("opening the --dir directory")?;
    let stream = net::connect_tcp(&args.host, args.port, true)?;
    stream.set_read_timeout(Some(REPLY_TIMEOUT))?;
    let mut session = Session::new(stream, dir, args.max_size)?;
    println!("Connected to {}", session.server);
    if args.commands.is_empty() {
        loop {
            let command = match input("Command: ") {
                Ok(command) => command,
                Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => {
                    println!("(end of input: {BYE})");
                    BYE.to_string()
                }
                Err(e) => return Err(e).context("reading a command"),
            };
            if session.command(&command)? {
                return Ok(());
            }
        }
    }
    for command in &args.commands {
        if session.command(command)? {
            return Ok(());
        }
    }
    session.command(BYE)?;
    Ok(())
}

/// One connection to the server, and the local directory.
struct Session {
    rx: BufReader<TcpStream>,
    tx: BufWriter<TcpStream>,
    server: SocketAddr,
    dir: Root,
    max_size: u64,
}

impl Session {
    fn new(stream: TcpStream, dir: Root, max_size: u64) -> anyhow::Result<Session> {
        Ok(Session {
            server: stream.peer_addr()?,
            rx: BufReader::new(stream.try_clone()?),
            tx: BufWriter::new(stream),
            dir,
            max_size,
        })
    }

    /// Sends one command and prints its answer (saving or sending a file after `OK`).
    /// Returns true when the session is over (the command was BYE).
    fn command(&mut self, command: &str) -> anyhow::Result<bool> {
        // PUT sends a local file: open it first, and send nothing if it cannot be read.
        let put = match command.strip_prefix("PUT ") {
            Some(name) => match self.local_file(name) {
                Ok(file) => Some((name, file)),
                Err(e) => {
                    eprintln!("client: {e:#}; nothing sent");
                    return Ok(false);
                }
            },
            None => None,
        };
        send_text(&mut self.tx, command)
            .with_context(|| format!("sending {command:?} to {}", self.server))?;
        let answer = self.answer(command)?;
        match (command.strip_prefix("GET "), put) {
            (Some(name), _) if answer == OK => self.save_file(name)?,
            (_, Some((name, file))) if answer == OK => {
                self.send_new_version(name, file)?;
                println!("{}", self.answer(command)?);
            }
            _ => println!("{answer}"),
        }
        if command != BYE {
            return Ok(false);
        }
        // After Bye the server closes: wait for it, so that both sides have finished.
        if let Some(extra) = recv_text(&mut self.rx, MAX_FRAME_LEN)? {
            bail!("unexpected message after Bye: {extra:?}");
        }
        Ok(true)
    }

    /// The server's next answer to `command`.
    fn answer(&mut self, command: &str) -> anyhow::Result<String> {
        let answer = recv_text(&mut self.rx, MAX_FRAME_LEN)
            .map_err(|e| net::timeout_as_timed_out(e, "waiting for the server's answer"))
            .with_context(|| format!("reading the answer to {command:?}"))?;
        match answer {
            Some(answer) => Ok(answer),
            None => bail!("the server closed the connection without answering {command:?}"),
        }
    }

    /// The local file that `PUT name` sends: `--dir` / the last part of `name`.
    fn local_file(&self, name: &str) -> anyhow::Result<File> {
        let local = name.rsplit('/').next().unwrap_or(name);
        let path = self.dir.path_of(local)?;
        File::open(&path).with_context(|| format!("cannot open {}", path.display()))
    }

    /// Streams the new version of `name` (after the server's `OK`).
    fn send_new_version(&mut self, name: &str, file: File) -> anyhow::Result<()> {
        let size = file.metadata()?.len();
        let mut bar = Progress::new(size, format!("sending {name}"));
        send_file(&mut self.tx, &mut BufReader::new(file), size, |n| {
            bar.update(n)
        })
        .with_context(|| format!("sending the new {name}"))?;
        bar.finish();
        Ok(())
    }

    /// Receives the file the server sends for `GET name` into `--dir`, under the last part of
    /// `name`.
    fn save_file(&mut self, name: &str) -> anyhow::Result<()> {
        let local = name.rsplit('/').next().unwrap_or(name);
        let dest = self
            .dir
            .path_of(local)
            .with_context(|| format!("saving {name:?} locally"))?;
        let mut file = AtomicFile::create(&dest)?;
        let bar = RefCell::new(None);
        let body = recv_file(
            &mut self.rx,
            &mut file,
            self.max_size,
            |size| {
                *bar.borrow_mut() = Some(Progress::new(size, format!("receiving {local}")));
                Ok(())
            },
            |done| {
                if let Some(bar) = bar.borrow_mut().as_mut() {
                    bar.update(done);
                }
            },
        )
        .map_err(|e| net::timeout_as_timed_out(e, "waiting for the file's bytes"))
        .with_context(|| format!("receiving {name}"))?;
        drop(bar);
        // Only a complete, verified file replaces what --dir had under that name.
        file.commit(body.size, Overwrite::Yes)
            .with_context(|| format!("saving {local}"))?;
        println!("Saved {local} ({} bytes)", body.size);
        Ok(())
    }
}
