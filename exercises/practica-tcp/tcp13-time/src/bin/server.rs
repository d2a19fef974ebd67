//! TCP 1.3 (Práctica TCP), the server: answers `TIME` with its local time, as many times as
//! a client asks on one connection; `EXIT` ends it.
//!
//! Dialogue, in the handout's bytes (plain text commands, no length, no terminator), so the
//! handout's Python clients and servers work with ours:
//!
//! ```text
//! client                          server
//!   TIME                 ──────▶
//!                        ◀──────    2026-11-22 10:15:42.123456   (26 bytes, local time)
//!   TIME ...             ──────▶    (as many times as the client likes)
//!   EXIT                 ──────▶    prints "Received EXIT command from client"
//!                        ◀──────    Bye, closes, and the server ends
//! ```
//!
//! Run it in one terminal, then the client in another:
//!
//! ```text
//! cargo run -p tcp13-time --bin server
//! cargo run --release -p tcp13-time --bin client            # 100,000 queries
//! ```
//!
//! The server prints `listening on 127.0.0.1:6780 (tcp)` on stderr, then the handout's
//! transcript: `Waiting for clients...`, `Connection received from client ('127.0.0.1',
//! 50001)`, and `Waiting for clients...` again when the client leaves.
//!
//! Caveat: the time is the machine's local time, with the zone found where C's
//! `localtime()` finds it (`TZ`, else `/etc/localtime`); when there is none (Windows without
//! `TZ`), it is UTC and the server says so on stderr (see `sockcore::clock`).

use anyhow::Context;
use clap::Parser;
use sockcore::clock::{self, Zone};
use sockcore::lobby::{addr_tuple, Lobby, Seat};
use sockcore::net::{self, Transport};
use sockcore::unframed::UnframedReader;
use std::io::{self, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::process::ExitCode;
use std::sync::{mpsc, Arc};
use std::thread;
use std::time::Duration;
use tcp13_time::{judge_command, parse_command, Command};

/// TCP 1.3 (Práctica TCP), server: answer every "TIME" with the local time
/// ("YYYY-MM-DD HH:MM:SS.ffffff", as Python's datetime.now() prints it), on one connection
/// for as long as the client likes; "EXIT" makes it answer "Bye" and end. Speaks the
/// handout's bytes, so the handout's Python client works with it.
#[derive(Parser, Debug)]
#[command(version)]
struct Args {
    /// Address to listen on (0.0.0.0 to accept other machines).
    #[arg(long, default_value = net::DEFAULT_HOST)]
    host: String,
    /// Port to listen on (0: let the OS choose; the readiness line says which).
    #[arg(long, default_value_t = 6780)]
    port: u16,
}

/// The handout's answer to EXIT.
const EXIT_REPLY: &str = "Bye";

/// Most bytes buffered while looking for a command: the handout's `MTU = 1024`.
const MAX_COMMAND: usize = 1024;

/// A client that sends nothing for this long is dropped, so it cannot hold a thread forever.
const IDLE_TIMEOUT: Duration = Duration::from_secs(60);

fn main() -> ExitCode {
    sockcore::cli::report(run(Args::parse()))
}

fn run(args: Args) -> anyhow::Result<()> {
    // Python: sock.bind(("127.0.0.1",6780)); sock.listen(1)
    let listener = net::bind_tcp(&args.host, args.port)?;
    net::announce(listener.local_addr()?, Transport::Tcp);
    let zone = Zone::local();
    if zone.source().starts_with("UTC (") {
        eprintln!(
            "server: no local time zone found, TIME answers in UTC: {}",
            zone.source()
        );
    }
    serve(listener)
}

/// Serves clients, a thread each, until one of them says EXIT (`Ok`) or the listening socket
/// fails (`Err`).
fn serve(listener: TcpListener) -> anyhow::Result<()> {
    // Python: while True: print("Waiting for clients...") -- printed whenever no client is
    // connected, which for one client at a time is the handout's transcript line for line.
    let lobby = Lobby::open("Waiting for clients...");
    let (done, finished) = mpsc::channel();
    let acceptor_done = done.clone();
    thread::spawn(move || {
        let failure = accept_clients(&listener, &lobby, &done);
        let _ = acceptor_done.send(failure);
    });
    // Whichever comes first: a client's EXIT, or an accept error.
    finished
        .recv()
        .context("the accepting thread ended without a word")?
}

/// Accepts clients forever, one thread each; returns only when `accept` itself fails.
fn accept_clients(
    listener: &TcpListener,
    lobby: &Arc<Lobby>,
    done: &mpsc::Sender<anyhow::Result<()>>,
) -> anyhow::Result<()> {
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
        let lobby = Arc::clone(lobby);
        let done = done.clone();
        thread::spawn(move || match serve_client(stream, seat, &lobby) {
            Ok(Ending::Exit) => {
                let _ = done.send(Ok(()));
            }
            Ok(Ending::Left) => {}
            Err(e) => eprintln!("server: client {peer}: {e:#}"),
        });
    }
}

/// How a client's session ended.
enum Ending {
    /// The client closed the connection between commands.
    Left,
    /// The client sent EXIT: the server ends.
    Exit,
}

/// Answers one client's commands until it leaves or says EXIT. `seat` is the client's place
/// in the lobby; dropping it prints "Waiting for clients..." if nobody else is connected.
fn serve_client(stream: TcpStream, seat: Seat, lobby: &Lobby) -> anyhow::Result<Ending> {
    stream.set_read_timeout(Some(IDLE_TIMEOUT))?;
    // One small answer per small request: without this, Nagle's algorithm and the client's
    // delayed ACK can hold each answer back ~40 ms.
    net::set_nodelay(&stream)?;
    let mut rx = UnframedReader::new(stream, MAX_COMMAND);
    loop {
        // Python: data = conn.recv(MTU).decode()  -- one recv is whatever has arrived: half a
        // command, or two. Here each command is complete when its 4 bytes are in.
        let command = match rx.recv(judge_command) {
            Ok(Some(command)) => command,
            // The client closed between commands: its session is over. (The handout's server
            // takes the b'' for an unknown command and calls recv() again, forever, at 100% CPU.)
            Ok(None) => {
                drop(seat);
                return Ok(Ending::Left);
            }
            Err(e) => {
                // Python: except ConnectionResetError: print("Lost connection") -- and ends the
                // whole server; we drop only this client (and say why on stderr).
                println!("Lost connection");
                let e = net::timeout_as_timed_out(e, "waiting for a command");
                return Err(e).context("receiving a command");
            }
        };
        let mut conn = rx.get_ref();
        // The judge lets through whole commands only: anything but EXIT is TIME.
        if parse_command(&command) == Some(Command::Exit) {
            println!("Received EXIT command from client");
            lobby.close();
            drop(seat);
            // Python: conn.sendall("Bye".encode()); flag = 1 ... conn.close(); break
            conn.write_all(EXIT_REPLY.as_bytes())?;
            conn.shutdown(Shutdown::Write)?;
            return Ok(Ending::Exit);
        }
        // Python: time = datetime.datetime.now(); conn.sendall(str(time).encode())
        // -- str(datetime) drops the fraction when the microseconds are 0; ours never does.
        let time = clock::now().to_string();
        conn.write_all(time.as_bytes())
            .context("sending the time")?;
    }
}
