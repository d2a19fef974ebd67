//! Ej. 7 / Programa 3, the server: a simple FTP. A client says its name, gets the listing of
//! the server's directory, then lists, downloads and uploads files until it says `exit`.
//!
//! Dialogue, per client (every message is a length-prefixed frame, `sockcore::frame`; files
//! travel as streamed bodies: size, bytes, CRC-32):
//!
//! ```text
//! client                               server
//!   USER <nombre>             ──────▶    "-----<nombre> se ha conectado-----"
//!                             ◀──────    LIST <n>, then n frames, one file name each
//!   LIST                      ──────▶
//!                             ◀──────    LIST <n>, then n names
//!   GET <name>                ──────▶
//!                             ◀──────    OK <size> + body | ERROR el archivo solicitado no existe: <name>
//!   SEND <name>               ──────▶    (the upload of Ej. 2)
//!                             ◀──────    OK | EXISTS | ERROR <why>
//!   OVERWRITE yes|no          ──────▶    (only after EXISTS; after "no" nothing more)
//!                             ◀──────    OK                              (after "yes")
//!   <size><bytes><crc32>      ──────▶    temporary file, size and CRC checked, renamed
//!                             ◀──────    RECEIVED <size> <crc32> | ERROR <why>
//!   EXIT                      ──────▶
//!                             ◀──────    "Sesion finalizada", and the server closes
//! ```
//!
//! An `ERROR` for a command (unknown, bad name, missing file) leaves the session open; an
//! error in the middle of a file body, or a frame that cannot be read, ends it.
//!
//! Run it in one terminal, then the client in another:
//!
//! ```text
//! cargo run -p ej7-ftp-tcp --bin server -- --dir compartido
//! cargo run -p ej7-ftp-tcp --bin client
//! ```
//!
//! The server prints `listening on 127.0.0.1:1055 (tcp)` on stderr, then, on stdout, the
//! report's lines: `-----ale se ha conectado-----` and `El usuario ale ha realizado el
//! siguiente comando: list`, and one line per file sent or received.
//!
//! Caveat: the listing shows regular files only (not directories, not partial uploads), and
//! every name is confined to `--dir`: no `../`, no subdirectories, no symlinks leading out.
//! At most `--max-connections` sessions run at once (a client over the limit gets
//! `ERROR server busy: ...` and is closed), and a session silent for `--idle-timeout`
//! seconds is closed (`sockcore::limits`).

use anyhow::{bail, Context};
use clap::builder::RangedU64ValueParser;
use clap::Parser;
use ej7_ftp_tcp::{check_user, parse_command, Command};
use sockcore::files::{AtomicFile, Overwrite, Root};
use sockcore::frame::{recv_file, recv_text, send_file, send_text, MAX_FRAME_LEN};
use sockcore::limits::{self, ConnLimit, DEFAULT_IDLE_TIMEOUT, DEFAULT_MAX_CONNECTIONS};
use sockcore::net::{self, Transport};
use std::fmt;
use std::fs::File;
use std::io::{self, BufReader, BufWriter, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::ExitCode;
use std::thread;
use std::time::Duration;

/// Ej. 7 (Práctica 2) / Programa 3 of the report, TCP server: a simple FTP. Sends the listing
/// of --dir when a client connects, then serves list, get, put (with the overwrite question
/// of Ej. 2) and exit. Serves several clients at once.
#[derive(Parser, Debug)]
#[command(version)]
struct Args {
    /// Address to listen on (0.0.0.0 to accept other machines).
    #[arg(long, default_value = net::DEFAULT_HOST)]
    host: String,
    /// Port to listen on (0: let the OS choose; the readiness line says which). The report's
    /// port is 1055.
    #[arg(long, default_value_t = 1055)]
    port: u16,
    /// Directory that is listed, served and written to.
    #[arg(long, default_value = ".")]
    dir: PathBuf,
    /// Largest upload accepted, in bytes.
    #[arg(long, default_value_t = MAX_UPLOAD)]
    max_size: u64,
    /// Sessions served at once; a client over the limit gets "ERROR server busy: ..." and
    /// is closed.
    #[arg(long, value_name = "N", default_value_t = DEFAULT_MAX_CONNECTIONS,
          value_parser = RangedU64ValueParser::<usize>::new().range(1..))]
    max_connections: usize,
    /// Seconds a session may stay silent (no command, no file bytes) before the server
    /// closes it, telling the client why.
    #[arg(long, value_name = "SECS", default_value_t = DEFAULT_IDLE_TIMEOUT.as_secs(),
          value_parser = clap::value_parser!(u64).range(1..))]
    idle_timeout: u64,
}

/// Default limit on an upload's size: 64 GiB, far above any course file, far below a disk.
const MAX_UPLOAD: u64 = 64 << 30;

/// The report's error text for a file that is not there: "Si no se encuentra en la lista
/// devolverá “el archivo solicitado no existe”".
const NOT_FOUND: &str = "el archivo solicitado no existe";

/// The report's answer to `exit`.
const GOODBYE: &str = "Sesion finalizada";

fn main() -> ExitCode {
    sockcore::cli::report(run(Args::parse()))
}

fn run(args: Args) -> anyhow::Result<()> {
    let root = Root::new(&args.dir).context("opening the --dir directory")?;
    // Python: sock.bind(('localhost', 1055)); sock.listen(1)
    let listener = net::bind_tcp(&args.host, args.port)?;
    net::announce(listener.local_addr()?, Transport::Tcp);
    let bounds = Bounds {
        max_size: args.max_size,
        idle: Duration::from_secs(args.idle_timeout),
    };
    serve(listener, root, bounds, ConnLimit::new(args.max_connections))
}

/// What one session may use: the largest upload, and how long it may stay silent.
#[derive(Debug, Clone, Copy)]
struct Bounds {
    max_size: u64,
    idle: Duration,
}

/// Accepts clients forever, one thread each, at most `limit.max()` at once. Only an error
/// of the listening socket itself ends it; a client's error ends that client alone.
///
/// Python: `socket_cliente, addr = sock.accept()` once: one client, and the server ends
/// with it. Here every client gets its own session, at the same time.
///
/// # Errors
/// When `accept` fails in a way that affects the listener (not a single aborted connection,
/// not a momentary lack of file descriptors).
fn serve(
    listener: TcpListener,
    root: Root,
    bounds: Bounds,
    limit: ConnLimit,
) -> anyhow::Result<()> {
    loop {
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
        // Every session costs a thread and a socket: past the limit, a client is told so
        // and closed, instead of the server running out of either for everyone.
        let Some(slot) = limit.try_acquire() else {
            let why = limit.busy_reason();
            eprintln!("server: client {peer}: refused: {why}");
            limits::refuse_connection(stream, &error_frame(&why));
            continue;
        };
        let root = root.clone();
        let spawned = limits::spawn_connection(move || {
            if let Err(e) = handle_client(&stream, peer, &root, bounds) {
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

/// One client's session, for the log.
struct Who {
    peer: SocketAddr,
    nombre: String,
}

impl fmt::Display for Who {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.peer, self.nombre)
    }
}

/// Runs one session; a failure that ends it is reported to the client as one `ERROR <why>`
/// frame (if it still listens) and returned for the server's log. The caller closes the
/// stream.
fn handle_client(
    stream: &TcpStream,
    peer: SocketAddr,
    root: &Root,
    bounds: Bounds,
) -> anyhow::Result<()> {
    // A client that sends nothing, or stops reading what we send, for this long is gone.
    stream.set_read_timeout(Some(bounds.idle))?;
    stream.set_write_timeout(Some(bounds.idle))?;
    let mut rx = BufReader::new(stream);
    let mut tx = BufWriter::new(stream);
    let result = session(&mut rx, &mut tx, peer, root, bounds);
    if let Err(e) = &result {
        // The client may be gone (that may be the error itself): ignore a failed send.
        let _ = send_text(&mut tx, &format!("ERROR {e:#}"));
        // The client may still be sending an upload: closing with its bytes unread would
        // reset the connection and lose our ERROR (see sockcore::net::lingering_close).
        if let Ok(stream) = stream.try_clone() {
            net::lingering_close(stream, net::LINGER_TIME);
        }
    }
    result
}

/// The report's session: the name, the listing, then commands until `exit`.
fn session(
    rx: &mut impl Read,
    tx: &mut impl Write,
    peer: SocketAddr,
    root: &Root,
    bounds: Bounds,
) -> anyhow::Result<()> {
    // Python: nombre_cliente = socket_cliente.recv(1024)
    let Some(hello) = recv_command(rx, bounds.idle)? else {
        return Ok(()); // connected and left without a word
    };
    let Some(nombre) = hello.strip_prefix("USER ") else {
        bail!("expected USER <nombre>, got {hello:?}");
    };
    check_user(nombre).map_err(anyhow::Error::msg)?;
    let who = Who {
        peer,
        nombre: nombre.to_string(),
    };
    println!("-----{nombre} se ha conectado-----");
    // Python: os.system("ls > list.txt"); socket_cliente.send(file.read(1024))  -- a shell,
    // a file left in the directory, and a listing cut at 1024 bytes. Here: read_dir, one
    // frame per name.
    send_listing(tx, root)?;

    loop {
        // Python: mensaje = socket_cliente.recv(1024)
        let Some(command) = recv_command(rx, bounds.idle)? else {
            println!("-----{nombre} se ha desconectado-----");
            return Ok(()); // the client closed without EXIT
        };
        println!("El usuario {nombre} ha realizado el siguiente comando: {command}");
        match parse_command(&command) {
            Command::List => send_listing(tx, root)?,
            Command::Get(name) => get(tx, root, &who, name)?,
            Command::Send(name) => put(rx, tx, root, &who, name, bounds)?,
            Command::Exit => {
                send_text(tx, GOODBYE)?;
                println!("-----{nombre} se ha desconectado-----");
                return Ok(());
            }
            Command::Unknown => refuse(
                tx,
                &who,
                &format!("unknown command {command:?} (LIST, GET <name>, SEND <name>, EXIT)"),
            )?,
        }
    }
}

/// Reads the next command frame; silence for `idle` becomes `TimedOut` with a message.
fn recv_command(rx: &mut impl Read, idle: Duration) -> anyhow::Result<Option<String>> {
    recv_text(rx, MAX_FRAME_LEN)
        .map_err(|e| limits::idle_error(e, idle, "waiting for the next command").into())
}

/// Answers a command with `ERROR <why>` and logs it; the session goes on.
fn refuse(tx: &mut impl Write, who: &Who, why: &str) -> anyhow::Result<()> {
    eprintln!("server: client {who}: {why}");
    send_text(tx, &format!("ERROR {why}")).context("sending an error reply")
}

/// `LIST <n>` and then one frame per regular file of the root, sorted.
fn send_listing(tx: &mut impl Write, root: &Root) -> anyhow::Result<()> {
    let names = root.list().context("listing the directory")?;
    send_text(tx, &format!("LIST {}", names.len()))?;
    for name in &names {
        send_text(tx, name)?;
    }
    Ok(())
}

/// `GET <name>`: the file, or the report's "el archivo solicitado no existe".
fn get(tx: &mut impl Write, root: &Root, who: &Who, name: &str) -> anyhow::Result<()> {
    // Python: compares the name with the lines of list.txt, then open(mensaje, 'rb').
    let path = match root.path_of(name) {
        Ok(p) => p,
        Err(e) => return refuse(tx, who, &e.to_string()),
    };
    // Opened first, then examined through the open handle: what we check is what we send.
    let file = match File::open(&path) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            return refuse(tx, who, &format!("{NOT_FOUND}: {name}"))
        }
        Err(e) => return refuse(tx, who, &format!("cannot open {name}: {e}")),
    };
    let meta = file.metadata()?;
    if !meta.is_file() {
        return refuse(tx, who, &format!("{name} is not a regular file"));
    }
    let size = meta.len();
    send_text(tx, &format!("OK {size}"))?;
    // Python: file.read(1024)  -- only the first 1024 bytes of any file were ever sent.
    let sent = send_file(tx, &mut BufReader::new(file), size, |_| {})
        .with_context(|| format!("sending {name}"))?;
    tx.flush()?;
    println!(
        "Enviado {name} a {}: {} bytes, crc32 {:08x}",
        who.nombre, sent.size, sent.crc32
    );
    Ok(())
}

/// `SEND <name>`: the upload of Ej. 2 (ask before overwriting), inside the session.
fn put(
    rx: &mut impl Read,
    tx: &mut impl Write,
    root: &Root,
    who: &Who,
    name: &str,
    bounds: Bounds,
) -> anyhow::Result<()> {
    // Python: os.system("touch " + mensaje)  -- a shell command built from the client's
    // text: "x; rm -rf ~" runs. Here the name is checked and never reaches a shell.
    let dest = match root.path_of(name) {
        Ok(p) => p,
        Err(e) => return refuse(tx, who, &e.to_string()),
    };
    if dest.is_dir() {
        return refuse(tx, who, &format!("{name} is a directory on the server"));
    }
    let overwrite = if dest.exists() {
        println!("El fichero {name} ya existe; se pregunta al cliente");
        send_text(tx, "EXISTS")?;
        match recv_command(rx, bounds.idle)?.as_deref() {
            Some("OVERWRITE yes") => Overwrite::Yes,
            Some("OVERWRITE no") => {
                println!("El cliente cancela: {name} no se sobrescribe");
                return Ok(());
            }
            None => bail!("left while asked whether to overwrite {name}"),
            Some(other) => bail!("expected OVERWRITE yes|no, got {other:?}"),
        }
    } else {
        // Another client may create the same name meanwhile; the commit below then
        // refuses to replace it (Overwrite::No) instead of silently clobbering it.
        Overwrite::No
    };
    send_text(tx, "OK")?;

    // Python: cliente_message = socket_cliente.recv(1024); file.write(cliente_message)  --
    // a file over 1024 bytes was cut, and a client that died halfway left half a file.
    // An error inside the body ends the session (the stream is no longer at a frame).
    let mut file = AtomicFile::create(&dest).context("creating the temporary file")?;
    let body = recv_file(rx, &mut file, bounds.max_size, |_| Ok(()), |_| {})
        .map_err(|e| limits::idle_error(e, bounds.idle, "waiting for the file's bytes"))
        .with_context(|| format!("receiving {name}"))?;
    // The whole body has been read: a failed commit leaves the stream in step, so it is
    // an error reply and the session goes on.
    if let Err(e) = file.commit(body.size, overwrite) {
        return refuse(tx, who, &format!("saving {name}: {e}"));
    }
    println!(
        "Recibido {name} de {}: {} bytes, crc32 {:08x}",
        who.nombre, body.size, body.crc32
    );
    send_text(tx, &format!("RECEIVED {} {:08x}", body.size, body.crc32))?;
    Ok(())
}
