//! Práctica Autoguiada 2.2 and 2.5, the TCP echo server: accepts one client at a time and
//! sends back everything it receives, with the handout's consignas as options.
//!
//! Dialogue, per connection (plain bytes, no header: the handout's Python client works
//! against it):
//!
//! ```text
//! client                        server
//!   connect             ──▶     accept
//!   "Hola Mundo!"       ──▶     read ─▶ Conexion desde: 127.0.0.1:50001 ─▶ write it back
//!   shutdown / close    ──▶     read returns 0: close
//!                       ◀──     "Hola Mundo!", then end of stream
//! ```
//!
//! Run it in one terminal, then the client in another:
//!
//! ```text
//! cargo run -p tcp-echo --bin server
//! cargo run -p tcp-echo --bin client
//! ```
//!
//! The server prints `listening on 127.0.0.1:3500 (tcp)` on stderr, then on stdout
//! `Socket creado, escuchando en 127.0.0.1:3500` and `Conexion desde: 127.0.0.1:50001` for
//! each client.
//!
//! Caveat: clients are served one at a time, as in the handout; the others wait in the
//! listen queue (`--backlog`, 2.5.1), so a silent client is dropped after [`IDLE_TIMEOUT`].

use anyhow::{bail, Context};
use clap::builder::TypedValueParser;
use clap::Parser;
use sockcore::files::{AtomicFile, Overwrite, Root};
use sockcore::frame::{recv_file, recv_text, send_text, MAX_FRAME_LEN};
use sockcore::net::{self, Transport};
use socket2::{Domain, Protocol, Socket, Type};
use std::io::{self, BufReader, BufWriter, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::ExitCode;
use std::thread;
use std::time::Duration;
use tcp_echo::{receipt, LONG_MENSAJE, MAX_IMAGE};

/// Práctica Autoguiada 2.2 (TCP echo server), with the consignas of 2.5: serves one client
/// at a time, echoing everything it sends until it closes its side.
#[derive(Parser, Debug)]
#[command(version)]
struct Args {
    /// Address to listen on (the handout's HOST; 0.0.0.0 to accept other machines).
    #[arg(long, default_value = net::DEFAULT_HOST)]
    host: String,
    /// Port to listen on (the handout's PORT; 0: let the OS choose).
    #[arg(long, default_value_t = 3500)]
    port: u16,
    /// 2.5.1: the listen queue, `s.listen(n)` (the handout's maxpedidos): connections the
    /// kernel completes and holds while the server is busy with another client.
    #[arg(long, value_name = "N", default_value_t = MAXPEDIDOS,
          value_parser = clap::value_parser!(i32).range(0..=65_535))]
    backlog: i32,
    /// 2.5.3: bytes asked of each read (the handout's LONG_MENSAJE); with fewer than the
    /// message, the server reads several times until the client has sent everything.
    #[arg(long, value_name = "BYTES", default_value_t = LONG_MENSAJE,
          value_parser = clap::value_parser!(u32).range(1..=(1 << 20)).map(|n| n as usize))]
    recv_size: usize,
    /// Print what each read returned (`Recibi: ...`): the handout's commented-out line.
    #[arg(long)]
    print_received: bool,
    /// 2.4 and 2.5.1: pause this many milliseconds after accepting each client (the
    /// handout's time.sleep()), to watch other clients wait in the listen queue.
    #[arg(long, value_name = "MS", default_value_t = 0)]
    pause_ms: u64,
    /// 2.5.4: expect a text and an image on each connection, framed (sockcore::frame), and
    /// store the image in DIR; reply with a receipt and the text.
    #[arg(long, value_name = "DIR")]
    image_dir: Option<PathBuf>,
}

/// The handout's `maxpedidos`: the default listen backlog.
const MAXPEDIDOS: i32 = 5;

/// A client that sends nothing for this long is dropped. The server is sequential, as in the
/// handout, so a silent client would otherwise keep every other client waiting forever.
const IDLE_TIMEOUT: Duration = Duration::from_secs(30);

fn main() -> ExitCode {
    sockcore::cli::report(run(Args::parse()))
}

fn run(args: Args) -> anyhow::Result<()> {
    let root = match &args.image_dir {
        Some(dir) => Some(Root::new(dir).context("opening the --image-dir directory")?),
        None => None,
    };
    let s = listen(&args.host, args.port, args.backlog)?;
    let local = s.local_addr()?;
    net::announce(local, Transport::Tcp);
    // Python prints its PORT constant; we print the bound port (the OS's choice for --port 0).
    println!(
        "Socket creado, escuchando en {}:{}",
        args.host,
        local.port()
    );
    serve(&s, &args, root.as_ref())
}

/// The handout's socket setup, call by call, through socket2: std's `TcpListener::bind`
/// offers neither the backlog (2.5.1) nor a choice about SO_REUSEADDR.
fn listen(host: &str, port: u16, backlog: i32) -> anyhow::Result<TcpListener> {
    // The first address: `resolve` fails rather than return none.
    let addr = net::resolve(host, port)?[0];
    // Python: s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    let s = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))
        .context("creating the socket")?;
    // Python: s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    // On Unix it lets a restarted server bind its port while connections of the previous
    // run linger in TIME_WAIT (std's TcpListener::bind sets it too). On Windows SO_REUSEADDR
    // would let *another* program bind the same port and steal connections, so it is not set.
    #[cfg(unix)]
    s.set_reuse_address(true).context("setting SO_REUSEADDR")?;
    // Python: s.bind((HOST, PORT))
    s.bind(&addr.into()).map_err(|e| {
        let hint = if e.kind() == io::ErrorKind::AddrInUse {
            " (another program, maybe an earlier server, already uses that port: stop it or choose another --port)"
        } else {
            ""
        };
        anyhow::anyhow!("cannot listen on {addr} (tcp): {e}{hint}")
    })?;
    // Python: s.listen(maxpedidos)
    s.listen(backlog).context("listen")?;
    Ok(s.into())
}

/// The handout's `while True` loop: one client at a time, to the end. Only an error of the
/// listening socket ends it; a client's error ends that client alone.
///
/// # Errors
/// When `accept` fails in a way that affects the listener (not a single aborted connection).
fn serve(s: &TcpListener, args: &Args, root: Option<&Root>) -> anyhow::Result<()> {
    loop {
        // Python: client, address = s.accept()
        let (client, address) = match s.accept() {
            Ok(conn) => conn,
            // A connection reset before we accepted it is that client's problem, not ours.
            Err(e) if e.kind() == io::ErrorKind::ConnectionAborted => continue,
            Err(e) => return Err(e).context("accepting a connection"),
        };
        if args.pause_ms > 0 {
            eprintln!(
                "server: pausing {} ms before serving {address}",
                args.pause_ms
            );
            thread::sleep(Duration::from_millis(args.pause_ms));
        }
        let result = match root {
            Some(root) => text_and_image(client, address, root),
            None => echo(client, address, args),
        };
        if let Err(e) = result {
            eprintln!("server: client {address}: {e:#}");
        }
        // Python: client.close()  -- dropping the stream closes it.
    }
}

/// 2.2 and 2.5.3: echoes every read until the client closes its sending side.
fn echo(mut client: TcpStream, address: SocketAddr, args: &Args) -> anyhow::Result<()> {
    client.set_read_timeout(Some(IDLE_TIMEOUT))?;
    let mut data = vec![0u8; args.recv_size];
    // Python: data = client.recv(LONG_MENSAJE)  -- then one send and close: a message longer
    // than one read, or split by the network, lost its end. Here the reads go on until the
    // client's side is closed (a read of 0 bytes), echoing each piece as it arrives.
    let mut n = read(&mut client, &mut data)?;
    println!("Conexion desde: {}:{}", address.ip(), address.port());
    while n > 0 {
        if args.print_received {
            println!("Recibi: {}", String::from_utf8_lossy(&data[..n]));
        }
        // Python: client.send(data)  -- send may take only part of it; write_all is sendall.
        client.write_all(&data[..n]).context("sending the echo")?;
        n = read(&mut client, &mut data)?;
    }
    Ok(())
}

/// One `read`, retried when interrupted; a read timeout becomes a `TimedOut` error.
fn read(client: &mut TcpStream, data: &mut [u8]) -> anyhow::Result<usize> {
    loop {
        match client.read(data) {
            Ok(n) => return Ok(n),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => {
                let what = format!(
                    "waiting for data ({} s without any)",
                    IDLE_TIMEOUT.as_secs()
                );
                return Err(net::timeout_as_timed_out(e, &what).into());
            }
        }
    }
}

/// 2.5.4: a text and an image on one connection, each framed so the server knows where it
/// ends; the image is stored in the root, and the client gets a receipt and the text back.
fn text_and_image(client: TcpStream, address: SocketAddr, root: &Root) -> anyhow::Result<()> {
    client.set_read_timeout(Some(IDLE_TIMEOUT))?;
    let mut rx = BufReader::new(client.try_clone()?);
    let mut tx = BufWriter::new(client);
    match receive_text_and_image(&mut rx, address, root) {
        Ok((text, reply)) => {
            send_text(&mut tx, &reply)?;
            send_text(&mut tx, &text)?;
            Ok(())
        }
        Err(e) => {
            // The client may be gone (that may be the error itself): ignore a failed send.
            let _ = send_text(&mut tx, &format!("ERROR {e:#}"));
            Err(e)
        }
    }
}

/// Reads the text frame, the name frame and the image body; returns the text and the receipt.
fn receive_text_and_image(
    rx: &mut impl Read,
    address: SocketAddr,
    root: &Root,
) -> anyhow::Result<(String, String)> {
    let Some(text) = recv_text(rx, MAX_FRAME_LEN).context("reading the text")? else {
        bail!("the client closed the connection without sending anything");
    };
    println!("Conexion desde: {}:{}", address.ip(), address.port());
    println!("Recibi: {text}");
    let Some(name) = recv_text(rx, MAX_FRAME_LEN).context("reading the image's name")? else {
        bail!("the client closed the connection after the text, without an image");
    };
    let dest = root.path_of(&name)?;
    let mut file = AtomicFile::create(&dest).context("creating the temporary file")?;
    let body = recv_file(rx, &mut file, MAX_IMAGE, |_| Ok(()), |_| {})
        .map_err(|e| net::timeout_as_timed_out(e, "waiting for the image's bytes"))
        .with_context(|| format!("receiving {name}"))?;
    // A second image with the same name replaces the first, whole or not at all.
    file.commit(body.size, Overwrite::Yes)
        .with_context(|| format!("saving {name}"))?;
    println!(
        "Imagen recibida: {name} ({} bytes, crc32 {:08x})",
        body.size, body.crc32
    );
    Ok((text, receipt(body)))
}
