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
//! symbolic links that lead out get `ERROR <why>`, not the file.

use anyhow::Context;
use clap::Parser;
use sockcore::clock;
use sockcore::files::Root;
use sockcore::frame::{recv_text, send_file, send_text, MAX_FRAME_LEN};
use sockcore::lobby::{addr_tuple, Lobby, Seat};
use sockcore::net::{self, Transport};
use std::fs::File;
use std::io::{self, BufReader, BufWriter, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::ExitCode;
use std::thread;
use std::time::Duration;

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
}

/// The handout's answers.
const FILE_NOT_FOUND: &str = "File not found";
const COMMAND_NOT_FOUND: &str = "Command not found";
const BYE_REPLY: &str = "Bye";
/// Our go-ahead before a file's body (the handout sends the contents bare).
const OK: &str = "OK";

/// A client that sends nothing for this long is dropped, so it cannot hold a thread forever.
const IDLE_TIMEOUT: Duration = Duration::from_secs(60);

fn main() -> ExitCode {
    sockcore::cli::report(run(Args::parse()))
}

fn run(args: Args) -> anyhow::Result<()> {
    let root = Root::new(&args.dir).context("opening the --dir directory")?;
    // Python: sock.bind(("127.0.0.1",6780)); sock.listen(1)
    let listener = net::bind_tcp(&args.host, args.port)?;
    net::announce(listener.local_addr()?, Transport::Tcp);
    serve(listener, root)
}

/// Accepts clients forever, one thread each. Only an error of the listening socket itself
/// ends it; a client's error ends that client alone.
fn serve(listener: TcpListener, root: Root) -> anyhow::Result<()> {
    // Python: while True: print("Waiting for clients...") -- printed whenever no client is
    // connected, which for one client at a time is the handout's transcript line for line.
    let lobby = Lobby::open("Waiting for clients...");
    loop {
        // Python: conn, client_address = sock.accept()
        let (stream, peer) = match listener.accept() {
            Ok(conn) => conn,
            // A connection reset before we accepted it is that client's problem, not ours.
            Err(e) if e.kind() == io::ErrorKind::ConnectionAborted => continue,
            Err(e) => return Err(e).context("accepting a connection"),
        };
        // Python: print("Connection received from client " + str(client_address))
        let seat = lobby.enter(|| println!("Connection received from client {}", addr_tuple(peer)));
        let root = root.clone();
        thread::spawn(move || {
            if let Err(e) = serve_client(stream, seat, &root) {
                eprintln!("server: client {peer}: {e:#}");
            }
        });
    }
}

/// Answers one client's commands until it says BYE or goes. `seat` is the client's place in
/// the lobby; dropping it prints "Waiting for clients..." if nobody else is connected.
fn serve_client(stream: TcpStream, seat: Seat, root: &Root) -> anyhow::Result<()> {
    stream.set_read_timeout(Some(IDLE_TIMEOUT))?;
    net::set_nodelay(&stream)?;
    let mut rx = BufReader::new(stream.try_clone()?);
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
                if e.kind() == io::ErrorKind::InvalidData {
                    // A bad frame: tell the client why (if it still listens) before closing.
                    let _ = send_text(&mut tx, &format!("ERROR {e}"));
                }
                let e = net::timeout_as_timed_out(e, "waiting for a command");
                return Err(e).context("receiving a command");
            }
        };
        // Python: if (data[0:3] == "GET"): ... filename = data[4:]
        if let Some(name) = data.strip_prefix("GET ").or((data == "GET").then_some("")) {
            println!("Received GET command from client");
            send_requested_file(&mut tx, root, name)?;
        } else if data == "BYE" {
            println!("Received BYE command from client");
            // Python prints it after conn.close(); printed first here, so that once the client
            // has its "Bye", the server's transcript about it is complete.
            println!("Closing connection");
            drop(seat);
            send_text(&mut tx, BYE_REPLY)?;
            return Ok(());
        } else if data == "TIME" {
            println!("Received TIME command from client");
            send_text(&mut tx, &clock::now().to_string())?;
        } else {
            println!("Client issued an unknown command");
            send_text(&mut tx, COMMAND_NOT_FOUND)?;
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
