//! TCP 2.1 (Práctica TCP), the client: asks the server for files (`GET <file>`), the time
//! (`TIME`) or anything else, and saves each file it receives as a new local file.
//!
//! Dialogue (see the server's docs for the bytes): one connection; each command is one frame
//! and gets one answer; after `OK` comes the file (size, bytes, CRC-32), written to a hidden
//! temporary file and renamed into `--dir` only once it is complete and verified. The session
//! always ends with `BYE`: typed, or sent for you at the end of the commands (or of stdin).
//!
//! Run the server first, then in another terminal:
//!
//! ```text
//! cargo run -p tcp21-get --bin client -- "GET data.txt" TIME BYE
//! Connected to 127.0.0.1:6780
//! Saved data.txt (1234 bytes)
//! 2026-11-22 10:15:42.123456
//! Bye
//! ```
//!
//! Without commands it asks for them (`Command: `), one per line.
//!
//! Caveat: a file with the same name in `--dir` is replaced (atomically: it stays intact if
//! the download fails).

use anyhow::{bail, Context};
use clap::Parser;
use sockcore::cli::input;
use sockcore::files::{AtomicFile, Overwrite, Root};
use sockcore::frame::{recv_file, recv_text, send_text, MAX_FRAME_LEN};
use sockcore::net;
use sockcore::progress::Progress;
use std::cell::RefCell;
use std::io::{self, BufReader, BufWriter};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

/// TCP 2.1 (Práctica TCP), client: send each COMMAND ("GET <file>", "TIME", "BYE", ...) to the
/// server over one connection and print the answers; a file received for GET is saved in
/// --dir. Without COMMANDs, asks for them on stdin. Always ends the session with BYE.
#[derive(Parser, Debug)]
#[command(version)]
struct Args {
    /// Server address.
    #[arg(long, default_value = net::DEFAULT_HOST)]
    host: String,
    /// Server port.
    #[arg(long, default_value_t = 6780)]
    port: u16,
    /// Directory where received files are saved.
    #[arg(long, default_value = ".")]
    dir: PathBuf,
    /// Largest file accepted, in bytes.
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
/// The server's go-ahead before a file's body.
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

/// One connection to the server, and where files are saved.
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

    /// Sends one command and prints its answer (saving a file after `OK`). Returns true when
    /// the session is over (the command was BYE).
    fn command(&mut self, command: &str) -> anyhow::Result<bool> {
        // Python: sock.sendall(command.encode()); data = sock.recv(1024)  -- one frame each way.
        send_text(&mut self.tx, command)
            .with_context(|| format!("sending {command:?} to {}", self.server))?;
        let answer = recv_text(&mut self.rx, MAX_FRAME_LEN)
            .map_err(|e| net::timeout_as_timed_out(e, "waiting for the server's answer"))
            .with_context(|| format!("reading the answer to {command:?}"))?;
        let Some(answer) = answer else {
            bail!("the server closed the connection without answering {command:?}");
        };
        match command.strip_prefix("GET ") {
            Some(name) if answer == OK => self.save_file(name)?,
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

    /// Receives the file the server sends for `GET name` into `--dir`, under the last part of
    /// `name`.
    fn save_file(&mut self, name: &str) -> anyhow::Result<()> {
        let local = name.rsplit('/').next().unwrap_or(name);
        let dest = self
            .dir
            .path_of(local)
            .with_context(|| format!("saving {name:?} locally"))?;
        // Python: contents = sock.recv(1024)  -- the first 1,024 bytes at most, and the rest
        // then reads as the answer to the next command. The size comes first here.
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
