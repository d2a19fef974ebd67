//! TCP 1.1 (Práctica TCP), the server: greets every client that introduces itself, until one
//! of them says `EXIT`.
//!
//! Dialogue, one message per connection, in the handout's bytes (plain text, no length, no
//! terminator), so the handout's kind of Python client works with it unchanged:
//!
//! ```text
//! client                          server
//!   Hola servidor        ──────▶    prints "Received data from client: Hola servidor"
//!   [closes its sending side, or waits]
//!                        ◀──────    Hi TCP Client, and closes
//!   EXIT                 ──────▶    prints "Received EXIT Command from client", "Bye"
//!                        ◀──────    Bye Client, closes, and the server ends
//! ```
//!
//! Run it in one terminal, then the client in another:
//!
//! ```text
//! cargo run -p tcp11-greeting --bin server
//! cargo run -p tcp11-greeting --bin client -- "Hola servidor" EXIT
//! ```
//!
//! The server prints `listening on 127.0.0.1:6780 (tcp)` on stderr, then the handout's
//! transcript on stdout: `Waiting for clients...`, `Received data from client: Hola
//! servidor`, `Waiting for clients...`, `Received EXIT Command from client`, `Bye`.
//!
//! Caveat: nothing on the wire marks the end of a message. Our client closes its sending side
//! after the message, so the server answers at once; a client that keeps the connection open
//! and waits (the handout's kind) is answered after 300 ms without a new byte
//! ([`sockcore::unframed::DEFAULT_QUIET`]).

use anyhow::Context;
use clap::Parser;
use sockcore::lobby::Lobby;
use sockcore::net::{self, Transport};
use sockcore::unframed::{self, UnframedReader};
use std::io::{self, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::process::ExitCode;
use std::sync::{mpsc, Arc};
use std::thread;
use std::time::Duration;
use tcp11_greeting::{parse_message, Message};

/// TCP 1.1 (Práctica TCP), server: answer "Hi TCP Client" to every client's greeting and stay
/// listening for more clients, until one sends "EXIT": then answer "Bye Client" and end.
/// Speaks the handout's bytes, so the handout's Python client works with it.
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

/// The handout's answer to a greeting.
const GREETING_REPLY: &str = "Hi TCP Client";
/// The handout's answer to EXIT.
const EXIT_REPLY: &str = "Bye Client";

/// Longest message accepted, in bytes: the handout's `recv(1024)`. Python silently cuts a
/// longer one there; we refuse it.
const MAX_MESSAGE: usize = 1024;

/// A client that sends nothing for this long is dropped, so it cannot hold a thread forever.
const IDLE_TIMEOUT: Duration = Duration::from_secs(60);

fn main() -> ExitCode {
    sockcore::cli::report(run(Args::parse()))
}

fn run(args: Args) -> anyhow::Result<()> {
    // Python: sock.bind(("127.0.0.1",6780)); sock.listen(1)
    let listener = net::bind_tcp(&args.host, args.port)?;
    net::announce(listener.local_addr()?, Transport::Tcp);
    serve(listener)
}

/// Serves clients, a thread each, until one of them says EXIT (`Ok`) or the listening socket
/// fails (`Err`).
fn serve(listener: TcpListener) -> anyhow::Result<()> {
    // Python: while True: print("Waiting for clients...") -- printed here whenever no client
    // is connected, which for one client at a time is the handout's transcript line for line.
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
        let lobby = Arc::clone(lobby);
        let done = done.clone();
        thread::spawn(move || match greet(stream, &lobby) {
            Ok(Said::Exit) => {
                let _ = done.send(Ok(()));
            }
            Ok(Said::Greeting) => {}
            Err(e) => eprintln!("server: client {peer}: {e:#}"),
        });
    }
}

/// What a client's message was.
enum Said {
    Greeting,
    Exit,
}

/// Receives one client's message and answers it, as the handout's loop body does.
fn greet(stream: TcpStream, lobby: &Arc<Lobby>) -> anyhow::Result<Said> {
    let seat = lobby.enter(|| {});
    stream.set_read_timeout(Some(IDLE_TIMEOUT))?;
    let peer: SocketAddr = stream.peer_addr()?;
    // Python: data = conn.recv(1024).decode()  -- one recv is whatever has arrived so far,
    // maybe half a message. Here the message ends where the client closes its sending side
    // (or goes quiet, for clients that do not), and must be UTF-8 (Python's decode() would
    // raise UnicodeDecodeError and stop the whole server).
    let mut rx = UnframedReader::new(stream.try_clone()?, MAX_MESSAGE);
    let bytes = rx
        .recv(unframed::free_text)
        .map_err(|e| net::timeout_as_timed_out(e, "waiting for the client's message"))
        .context("receiving the message")?;
    let Some(bytes) = bytes else {
        anyhow::bail!("connected and left without a message");
    };
    let message = parse_message(bytes).context("the message is not UTF-8 text")?;

    let mut conn = &stream;
    let data = match message {
        Message::Exit => {
            println!("Received EXIT Command from client");
            println!("Bye");
            // The server is ending: no "Waiting for clients..." after this.
            lobby.close();
            drop(seat);
            // Python: conn.sendall("Bye Client".encode()); conn.close(); break
            conn.write_all(EXIT_REPLY.as_bytes())
                .with_context(|| format!("answering EXIT to {peer}"))?;
            stream.shutdown(Shutdown::Write)?;
            return Ok(Said::Exit);
        }
        Message::Greeting(data) => data,
    };
    println!("Received data from client: {data}");
    // This client's transcript is complete before it gets its answer: once a client has its
    // reply, the server has printed everything about it (the tests and transcripts rely on it).
    drop(seat);
    // Python: conn.sendall("Hi TCP Client".encode())  -- and Python leaves the connection open
    // until the next accept() replaces `conn`; we close it, which also tells the client that
    // the answer is complete.
    conn.write_all(GREETING_REPLY.as_bytes())
        .with_context(|| format!("answering {peer}"))?;
    stream.shutdown(Shutdown::Write)?;
    Ok(Said::Greeting)
}
