//! TCP 1.2 (Práctica TCP), the server: receives each client's message 20 bytes at most per
//! read, prints every chunk, and answers with a long message of its own; `EXIT` ends it.
//!
//! Dialogue, one message per connection (plain text; the end of a message is the sender
//! closing its sending side):
//!
//! ```text
//! client                          server
//!   Hola servidor, esto es...  ──▶  reads at most 20 bytes at a time until the client's FIN,
//!   [FIN]                           prints "Client> Hola servidor, esto ", "Client> es un..."
//!                              ◀──  Hello Client, this is a long message..., FIN
//!   EXIT, [FIN]                ──▶  prints "Received EXIT command from client"
//!                              ◀──  Bye, FIN, and the server ends
//! ```
//!
//! Run it in one terminal, then the client in another:
//!
//! ```text
//! cargo run -p tcp12-chunks --bin server
//! cargo run -p tcp12-chunks --bin client -- "Hola servidor, esto es un mensaje muy pero que muy largo"
//! ```
//!
//! The server prints `listening on 127.0.0.1:6780 (tcp)` on stderr, then the handout's
//! transcript: `Waiting for clients...`, `Connection received from client ('127.0.0.1',
//! 50001)`, one `Client> ` line per chunk, `Waiting for clients...`.
//!
//! Caveat: a client must close its sending side after its message (ours does). One that
//! keeps it open and waits for the answer, as the handout's rule expects, is never answered:
//! it is dropped after [`IDLE_TIMEOUT`].

use anyhow::Context;
use clap::Parser;
use sockcore::lobby::{addr_tuple, Lobby};
use sockcore::net::{self, Transport};
use std::io::{self, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::process::ExitCode;
use std::sync::{mpsc, Arc};
use std::thread;
use std::time::Duration;
use tcp12_chunks::{recv_in_chunks, ChunkText, MAX_MESSAGE};

/// TCP 1.2 (Práctica TCP), server: receive each client's message at most 20 bytes per read,
/// print each chunk ("Client> ..."), and answer a long message that the client receives 20
/// bytes at a time too; "EXIT" makes it answer "Bye" and end.
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

/// The command that ends the server, as the handout spells it.
const EXIT: &[u8] = b"EXIT";
/// The handout's answer to EXIT.
const EXIT_REPLY: &str = "Bye";
/// The handout's answer to any other message ("you will received" corrected): 80 bytes,
/// exactly 4 chunks of 20, which the handout's "short read ends it" rule would wait on forever.
const MSG: &str =
    "Hello Client, this is a long message that you will receive in chunks of 20 bytes";

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
            Ok(Said::Exit) => {
                let _ = done.send(Ok(()));
            }
            Ok(Said::Message) => {}
            Err(e) => eprintln!("server: client {peer}: {e:#}"),
        });
    }
}

/// What a client's message was.
enum Said {
    Message,
    Exit,
}

/// Receives one client's message in chunks and answers it. `seat` is the client's place in
/// the lobby; dropping it prints "Waiting for clients..." if nobody else is connected.
fn serve_client(
    stream: TcpStream,
    seat: sockcore::lobby::Seat,
    lobby: &Lobby,
) -> anyhow::Result<Said> {
    stream.set_read_timeout(Some(IDLE_TIMEOUT))?;
    let mut chunks = Vec::new();
    let received = recv_in_chunks(&mut &stream, MAX_MESSAGE, |chunk| {
        chunks.push(chunk.to_vec())
    });
    let message = match received {
        Ok(message) => message,
        Err(e) => {
            // Python: except ConnectionResetError: print("Lost connection") -- and ends the
            // whole server; we drop only this client (and say why on stderr).
            println!("Lost connection");
            let e = net::timeout_as_timed_out(e, "waiting for the end of the client's message");
            return Err(e).context("receiving the message");
        }
    };

    let mut conn = &stream;
    // Python: if(str(data) == "EXIT"), checked before a chunk is printed, so EXIT never shows
    // as "Client> EXIT"; that is why the chunks are printed once the message is complete.
    if message == EXIT {
        println!("Received EXIT command from client");
        lobby.close();
        drop(seat);
        // Python: conn.sendall("Bye".encode()); flag = 1 ... conn.close(); break
        conn.write_all(EXIT_REPLY.as_bytes())?;
        stream.shutdown(Shutdown::Write)?;
        return Ok(Said::Exit);
    }
    // Python: print("Client> " + str(data)), once per recv(MTU)
    let mut text = ChunkText::default();
    let mut pieces: Vec<String> = chunks.iter().map(|chunk| text.push(chunk)).collect();
    pieces.extend(text.finish());
    for piece in pieces.iter().filter(|p| !p.is_empty()) {
        println!("Client> {piece}");
    }
    // This client's transcript is complete before it gets its answer (tests rely on it).
    drop(seat);
    // Python: conn.sendall(msg.encode()); break  -- and the connection stays open until the
    // next accept(); we close it, which is how the client knows the answer is complete.
    conn.write_all(MSG.as_bytes())
        .context("sending the answer")?;
    stream.shutdown(Shutdown::Write)?;
    Ok(Said::Message)
}
