//! TCP 2.1 (Práctica TCP), the server: sends clients the files they ask for, from its
//! directory, and answers TIME and BYE.
//!
//! Dialogue, any number of commands per connection; every message is a length-prefixed frame
//! (`sockcore::frame`), and a file travels as a streamed body (size, bytes, CRC-32):
//!
//! ```text
//! client                          server
//!   GET data.txt         ──────▶    prints "Received GET command from client"
//!                        ◀──────    OK, then <size><bytes><crc32>
//!                                   | File not found | ERROR <why>
//!   TIME                 ──────▶    prints "Received TIME command from client"
//!                        ◀──────    2026-11-22 10:15:42.123456
//!   HELLO                ──────▶    prints "Client issued an unknown command"
//!                        ◀──────    Command not found
//!   BYE                  ──────▶    prints "Received BYE command from client", "Closing connection"
//!                        ◀──────    Bye, and closes (the server goes on)
//! ```
//!
//! Run it in one terminal, then the client in another:
//!
//! ```text
//! cargo run -p tcp21-get --bin server -- --dir /tmp/ficheros
//! cargo run -p tcp21-get --bin client -- "GET data.txt" TIME BYE
//! ```
//!
//! The server prints `listening on 127.0.0.1:6780 (tcp)` on stderr, then the handout's
//! transcript: `Waiting for clients...`, `Connection received from client ('127.0.0.1',
//! 50001)`, one line per command, `Closing connection`, `Waiting for clients...`.
//!
//! Caveat: names are confined to `--dir` (subdirectories allowed); `../x`, absolute paths and
//! symbolic links that lead out get `ERROR <why>`, not the file. At most `--max-connections`
//! clients are served at once (the next one gets `ERROR server busy: ...` and is closed), and
//! a client silent for `--idle-timeout` seconds is told why and closed (`sockcore::limits`).

use anyhow::Context;
use clap::builder::RangedU64ValueParser;
use clap::Parser;
use sockcore::clock;
use sockcore::files::Root;
use sockcore::frame::{recv_text, send_file, send_text, MAX_FRAME_LEN};
use sockcore::limits::{self, ConnLimit, DEFAULT_MAX_CONNECTIONS};
use sockcore::lobby::{addr_tuple, Lobby, Seat};
use sockcore::net::{self, Transport};
use std::fs::File;
use std::io::{self, BufReader, BufWriter, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::ExitCode;
use std::thread;
use std::time::Duration;
use tcp21_get::{parse_command, Command};

/// TCP 2.1 (Práctica TCP), server: send clients the files they ask for ("GET <file>"), from
/// --dir, any size, binary or text; answer "TIME" with the local time and "BYE" with "Bye";
/// anything else gets "Command not found". Serves several clients at once.
#[derive(Parser, Debug)]
#[command(version)]
struct Args {
    /// Address to listen on (0.0.0.0 to accept other machines).
    #[arg(long, default_value = net::DEFAULT_HOST)]
    host: String,
    /// Port to listen on (0: let the OS choose; the readiness line says which).
    #[arg(long, default_value_t = 6780)]
    port: u16,
    /// Directory whose files clients may GET (and nothing outside it).
    #[arg(long, default_value = ".")]
    dir: PathBuf,
    /// Clients served at once; the next one gets "ERROR server busy: ..." and is closed.
    #[arg(long, value_name = "N", default_value_t = DEFAULT_MAX_CONNECTIONS,
          value_parser = RangedU64ValueParser::<usize>::new().range(1..))]
    max_connections: usize,
    /// Seconds a client may send nothing before the server closes its connection, telling
    /// it why.
    #[arg(long, value_name = "SECS", default_value_t = IDLE_TIMEOUT.as_secs(),
          value_parser = clap::value_parser!(u64).range(1..))]
    idle_timeout: u64,
}

/// The handout's answers.
const FILE_NOT_FOUND: &str = "File not found";
const COMMAND_NOT_FOUND: &str = "Command not found";
const BYE_REPLY: &str = "Bye";
/// Our go-ahead before a file's body (the handout sends the contents bare).
const OK: &str = "OK";

/// A client that sends nothing for this long is dropped, so it cannot hold a thread forever
/// (the default of `--idle-timeout`). A client sends its commands at once, so a minute is
/// generous; an interactive session (Ej. 7) gets `limits::DEFAULT_IDLE_TIMEOUT`.
const IDLE_TIMEOUT: Duration = Duration::from_secs(60);

fn main() -> ExitCode {
    sockcore::cli::report(run(Args::parse()))
}

fn run(args: Args) -> anyhow::Result<()> {
    let root = Root::new(&args.dir).context("opening the --dir directory")?;
    // Python: sock.bind(("127.0.0.1",6780)); sock.listen(1)
    let listener = net::bind_tcp(&args.host, args.port)?;
    net::announce(listener.local_addr()?, Transport::Tcp);
    let idle = Duration::from_secs(args.idle_timeout);
    serve(listener, root, idle, ConnLimit::new(args.max_connections))
}

/// Accepts clients forever, one thread each, at most `limit.max()` at once. Only an error
/// of the listening socket itself ends it; a client's error ends that client alone.
fn serve(
    listener: TcpListener,
    root: Root,
    idle: Duration,
    limit: ConnLimit,
) -> anyhow::Result<()> {
    // Python: while True: print("Waiting for clients...") -- printed whenever no client is
    // connected, which for one client at a time is the handout's transcript line for line.
    let lobby = Lobby::open("Waiting for clients...");
    loop {
        // Python: conn, client_address = sock.accept()
        let (stream, peer) = match listener.accept() {
            Ok(conn) => conn,
            Err(e) => match limits::accept_retry_after(&e) {
                Some(wait) => {
                    // Out of file descriptors or memory: the client waits in the listen
                    // queue; retrying at once would spin.
                    if !wait.is_zero() {
                        eprintln!("server: accepting a connection: {e}; retrying in {wait:?}");
                        thread::sleep(wait);
                    }
                    continue;
                }
                None => return Err(e).context("accepting a connection"),
            },
        };
        // Every client costs a thread and a socket: past the limit, a client is told so and
        // closed, instead of the server running out of either for everyone.
        let Some(slot) = limit.try_acquire() else {
            let why = limit.busy_reason();
            eprintln!("server: client {peer}: refused: {why}");
            limits::refuse_connection(stream, &error_frame(&why));
            continue;
        };
        // Python: print("Connection received from client " + str(client_address))
        let seat = lobby.enter(|| println!("Connection received from client {}", addr_tuple(peer)));
        let root = root.clone();
        let spawned = limits::spawn_connection(move || {
            if let Err(e) = serve_client(&stream, seat, &root, idle) {
                eprintln!("server: client {peer}: {e:#}");
            }
            // The slot is free before the client sees the close, so a client that has seen
            // it can connect again at once.
            drop(slot);
            drop(stream);
        });
        if let Err(e) = spawned {
            eprintln!("server: client {peer}: cannot start a thread for it: {e}");
        }
    }
}

/// `ERROR <why>` as a whole frame, ready to write.
fn error_frame(why: &str) -> Vec<u8> {
    let mut frame = Vec::new();
    // Writing to a Vec cannot fail, and the busy reason is far below MAX_FRAME_LEN.
    send_text(&mut frame, &format!("ERROR {why}")).expect("a short frame into a Vec");
    frame
}

/// Answers one client's commands until it says BYE or goes. `seat` is the client's place in
/// the lobby; dropping it prints "Waiting for clients..." if nobody else is connected. The
/// caller closes the stream.
fn serve_client(stream: &TcpStream, seat: Seat, root: &Root, idle: Duration) -> anyhow::Result<()> {
    stream.set_read_timeout(Some(idle))?;
    net::set_nodelay(stream)?;
    let mut rx = BufReader::new(stream);
    let mut tx = BufWriter::new(stream);
    loop {
        // Python: data = str(conn.recv(MTU).decode())  -- one recv is not one command; one
        // frame is exactly one.
        let data = match recv_text(&mut rx, MAX_FRAME_LEN) {
            Ok(Some(data)) => data,
            Ok(None) => {
                // Python: except ConnectionResetError: print("Lost connection"); break
                // -- which ends the whole server; here only this client's session ends.
                println!("Lost connection");
                anyhow::bail!("left without BYE");
            }
            Err(e) => {
                println!("Lost connection");
                let e = limits::idle_error(e, idle, "waiting for a command");
                if matches!(
                    e.kind(),
                    io::ErrorKind::InvalidData | io::ErrorKind::TimedOut
                ) {
                    // A bad frame, or silence: tell the client why (if it still listens)
                    // before closing.
                    let _ = send_text(&mut tx, &format!("ERROR {e}"));
                }
                return Err(e).context("receiving a command");
            }
        };
        match parse_command(&data) {
            Command::Get(name) => {
                println!("Received GET command from client");
                send_requested_file(&mut tx, root, name)?;
            }
            Command::Bye => {
                println!("Received BYE command from client");
                // Python prints it after conn.close(); printed first here, so that once the
                // client has its "Bye", the server's transcript about it is complete.
                println!("Closing connection");
                drop(seat);
                send_text(&mut tx, BYE_REPLY)?;
                return Ok(());
            }
            Command::Time => {
                println!("Received TIME command from client");
                send_text(&mut tx, &clock::now().to_string())?;
            }
            Command::Unknown => {
                println!("Client issued an unknown command");
                send_text(&mut tx, COMMAND_NOT_FOUND)?;
            }
        }
    }
}

/// Answers `GET name`: `OK` and the file's body, `File not found`, or `ERROR <why>`.
fn send_requested_file(tx: &mut impl Write, root: &Root, name: &str) -> anyhow::Result<()> {
    // Python: with open(filename) as f: contents = f.read(); conn.sendall(contents.encode())
    // -- any path on the machine, text files only, the whole file in memory, and nothing
    // that tells the client where the contents end.
    let path = match root.resolve(name) {
        Ok(path) => path,
        Err(e) => return Ok(send_text(tx, &format!("ERROR {e}"))?),
    };
    let file = match File::open(&path) {
        Ok(file) => file,
        // Python: except FileNotFoundError: ... conn.sendall("File not found".encode())
        // -- and `continue`s to the next accept(), abandoning this client; we go on with it.
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            println!("File requested by client not found");
            return Ok(send_text(tx, FILE_NOT_FOUND)?);
        }
        Err(e) => return Ok(send_text(tx, &format!("ERROR cannot read {name}: {e}"))?),
    };
    let meta = file.metadata()?;
    if !meta.is_file() {
        return Ok(send_text(
            tx,
            &format!("ERROR {name} is not a regular file"),
        )?);
    }
    send_text(tx, OK)?;
    // The length goes first, so the client knows where the file ends; the bytes are streamed
    // through a fixed buffer, whatever the file's size; a CRC-32 closes the body.
    send_file(tx, &mut BufReader::new(file), meta.len(), |_| {})
        .with_context(|| format!("sending {name}"))?;
    Ok(())
}
