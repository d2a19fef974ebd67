//! Ej. 2 (TCP), the server: receives a file, asking before it overwrites one.
//!
//! Dialogue, per client (every message is a length-prefixed frame, `sockcore::frame`):
//!
//! ```text
//! client                          server
//!   SEND <name>          ──────▶    checks the name, looks in --dir
//!                        ◀──────    OK | EXISTS | ERROR <why>
//!   OVERWRITE yes|no     ──────▶    (only after EXISTS; "no" ends the dialogue)
//!                        ◀──────    OK                       (after "yes")
//!   <size><bytes><crc32> ──────▶    writes a temporary file, checks size and CRC, renames it
//!                        ◀──────    RECEIVED <size> <crc32> | ERROR <why>
//! ```
//!
//! Run it in one terminal, then the client in another:
//!
//! ```text
//! cargo run -p ej2-upload-tcp --bin server -- --dir /tmp/recibidos
//! cargo run -p ej2-upload-tcp --bin client -- informe.pdf
//! ```
//!
//! The server prints `listening on 127.0.0.1:5002 (tcp)` on stderr, then one line per step on
//! stdout (`Conexión desde ...`, `Petición de envío: informe.pdf`, `Recibido informe.pdf: ...`).
//!
//! Caveat: the file appears in `--dir` only when it is complete and verified; while it
//! arrives it is a hidden `.sockcore-part-*` file, removed if the client goes away.

use anyhow::{bail, Context};
use clap::Parser;
use ej2_upload_tcp::parse_send;
use sockcore::files::{AtomicFile, Overwrite, Root};
use sockcore::frame::{recv_file, recv_text, send_text, MAX_FRAME_LEN};
use sockcore::net::{self, Transport};
use std::io::{self, BufReader, BufWriter, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::ExitCode;
use std::thread;
use std::time::Duration;

/// Ej. 2 (Práctica 2), TCP server: receive files from clients into --dir; if a file with the
/// same name exists, ask the client whether to overwrite it. Files land whole and verified
/// (size and CRC-32) or not at all. Serves several clients at once.
#[derive(Parser, Debug)]
#[command(version)]
struct Args {
    /// Address to listen on (0.0.0.0 to accept other machines).
    #[arg(long, default_value = net::DEFAULT_HOST)]
    host: String,
    /// Port to listen on (0: let the OS choose; the readiness line says which).
    #[arg(long, default_value_t = 5002)]
    port: u16,
    /// Directory where received files are written (the handout's "directorio de trabajo").
    #[arg(long, default_value = ".")]
    dir: PathBuf,
    /// Largest file accepted, in bytes.
    #[arg(long, default_value_t = MAX_UPLOAD)]
    max_size: u64,
}

/// Default limit on an upload's size: 64 GiB, far above any course file, far below a disk.
const MAX_UPLOAD: u64 = 64 << 30;

/// A client that sends nothing for this long is dropped, so a stuck peer cannot hold a
/// thread (and a half-written temporary file) forever.
const IDLE_TIMEOUT: Duration = Duration::from_secs(60);

fn main() -> ExitCode {
    sockcore::cli::report(run(Args::parse()))
}

fn run(args: Args) -> anyhow::Result<()> {
    let root = Root::new(&args.dir).context("opening the --dir directory")?;
    let listener = net::bind_tcp(&args.host, args.port)?;
    net::announce(listener.local_addr()?, Transport::Tcp);
    serve(listener, root, args.max_size)
}

/// Accepts clients forever, one thread each. Only an error of the listening socket itself
/// ends it; a client's error ends that client alone.
///
/// # Errors
/// When `accept` fails in a way that affects the listener (not a single aborted connection).
fn serve(listener: TcpListener, root: Root, max_size: u64) -> anyhow::Result<()> {
    loop {
        let (stream, peer) = match listener.accept() {
            Ok(conn) => conn,
            // A connection reset before we accepted it is that client's problem, not ours.
            Err(e) if e.kind() == io::ErrorKind::ConnectionAborted => continue,
            Err(e) => return Err(e).context("accepting a connection"),
        };
        let root = root.clone();
        thread::spawn(move || {
            println!("Conexión desde {peer}");
            if let Err(e) = handle_client(stream, &root, max_size) {
                eprintln!("server: client {peer}: {e:#}");
            }
        });
    }
}

/// Runs the dialogue with one client; any failure is reported to the client as one
/// `ERROR <why>` frame (if it still listens) and returned for the server's log.
fn handle_client(stream: TcpStream, root: &Root, max_size: u64) -> anyhow::Result<()> {
    stream.set_read_timeout(Some(IDLE_TIMEOUT))?;
    let mut rx = BufReader::new(stream.try_clone()?);
    let mut tx = BufWriter::new(stream);
    let result = dialogue(&mut rx, &mut tx, root, max_size);
    if let Err(e) = &result {
        // The client may be gone (that may be the error itself): ignore a failed send.
        let _ = send_text(&mut tx, &format!("ERROR {e:#}"));
        // The client may still be sending the file we refused: closing with its bytes unread
        // would reset the connection, and the client would see "connection reset" instead
        // of our ERROR. Python's conn.close() has the same problem.
        if let Ok(stream) = tx.into_inner() {
            net::lingering_close(stream, net::LINGER_TIME);
        }
    }
    result
}

/// The handout's dialogue: request, overwrite question, file, notification.
fn dialogue(
    rx: &mut impl Read,
    tx: &mut impl Write,
    root: &Root,
    max_size: u64,
) -> anyhow::Result<()> {
    // Python: name = conn.recv(1024).decode()  -- one recv is not one message; a frame is.
    let Some(request) = recv_text(rx, MAX_FRAME_LEN)? else {
        return Ok(()); // connected and left without a word
    };
    let name = parse_send(&request).map_err(anyhow::Error::msg)?;
    println!("Petición de envío: {name}");
    let dest = root.path_of(name)?;
    if dest.is_dir() {
        bail!("{name} is a directory on the server");
    }

    let overwrite = if dest.exists() {
        println!("El fichero {name} ya existe; se pregunta al cliente");
        send_text(tx, "EXISTS")?;
        match recv_text(rx, MAX_FRAME_LEN)?.as_deref() {
            Some("OVERWRITE yes") => Overwrite::Yes,
            Some("OVERWRITE no") | None => {
                println!("El cliente cancela: {name} no se sobrescribe");
                return Ok(());
            }
            Some(other) => bail!("expected OVERWRITE yes|no, got {other:?}"),
        }
    } else {
        // Another client may create the same name meanwhile; the commit below then
        // refuses to replace it (Overwrite::No) instead of silently clobbering it.
        Overwrite::No
    };
    send_text(tx, "OK")?;

    // Python: data = conn.recv(...) until b''  -- an early close looked like a complete file.
    // Here the size comes first and a CRC-32 last; the file is renamed into place only after
    // both check out, and dropping `file` on any error removes the temporary copy.
    let mut file = AtomicFile::create(&dest).context("creating the temporary file")?;
    let body = recv_file(rx, &mut file, max_size, |_| Ok(()), |_| {})
        .map_err(|e| net::timeout_as_timed_out(e, "waiting for the file's bytes"))
        .with_context(|| format!("receiving {name}"))?;
    file.commit(body.size, overwrite)
        .with_context(|| format!("saving {name}"))?;
    println!(
        "Recibido {name}: {} bytes, crc32 {:08x}",
        body.size, body.crc32
    );
    send_text(tx, &format!("RECEIVED {} {:08x}", body.size, body.crc32))?;
    Ok(())
}
