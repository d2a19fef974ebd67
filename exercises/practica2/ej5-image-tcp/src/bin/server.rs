//! Ej. 5, the server: sends a .jpg image from its directory to the client that names it.
//!
//! Dialogue, per client (messages are length-prefixed frames, `sockcore::frame`; the image
//! travels as a streamed body: size, bytes, CRC-32):
//!
//! ```text
//! client                               server
//!   GET <name>                ──────▶    checks the name, the .jpg extension, that it exists
//!                             ◀──────    OK <size> | ERROR <why>    (after ERROR: closes)
//!                             ◀──────    <size><bytes><crc32>       (after OK)
//! ```
//!
//! Run it in one terminal, then the client in another:
//!
//! ```text
//! cargo run -p ej5-image-tcp --bin server -- --dir fotos
//! cargo run -p ej5-image-tcp --bin client -- gato.jpg
//! ```
//!
//! The server prints `listening on 127.0.0.1:5005 (tcp)` on stderr, then per client
//! `Conexión desde ...`, `Petición de gato.jpg` and `Enviado gato.jpg: <size> bytes, crc32
//! <crc>` on stdout; a refused request is logged on stderr.
//!
//! Caveat: only regular files named `*.jpg` (any case) directly inside `--dir` are served;
//! `../`, subdirectories and symlinks that lead out of `--dir` are refused.

use anyhow::{bail, Context};
use clap::Parser;
use ej5_image_tcp::parse_get;
use sockcore::files::Root;
use sockcore::frame::{recv_text, send_file, send_text, MAX_FRAME_LEN};
use sockcore::net::{self, Transport};
use std::fs::File;
use std::io::{self, BufReader, BufWriter, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::thread;
use std::time::Duration;

/// Ej. 5 (Práctica 2), TCP server: send the .jpg image a client asks for by name, from
/// --dir; reply an error when it does not exist. Serves several clients at once.
#[derive(Parser, Debug)]
#[command(version)]
struct Args {
    /// Address to listen on (0.0.0.0 to accept other machines).
    #[arg(long, default_value = net::DEFAULT_HOST)]
    host: String,
    /// Port to listen on (0: let the OS choose; the readiness line says which).
    #[arg(long, default_value_t = 5005)]
    port: u16,
    /// Directory the images are served from.
    #[arg(long, default_value = ".")]
    dir: PathBuf,
}

/// The only extension served, compared without regard to case (`.jpg`, `.JPG`): the handout
/// asks for "un fichero con extensión .jpg".
const EXTENSION: &str = "jpg";

/// A client that sends nothing for this long is dropped, so a stuck peer cannot hold a
/// thread forever.
const IDLE_TIMEOUT: Duration = Duration::from_secs(60);

fn main() -> ExitCode {
    sockcore::cli::report(run(Args::parse()))
}

fn run(args: Args) -> anyhow::Result<()> {
    let root = Root::new(&args.dir).context("opening the --dir directory")?;
    let listener = net::bind_tcp(&args.host, args.port)?;
    net::announce(listener.local_addr()?, Transport::Tcp);
    serve(listener, root)
}

/// Accepts clients forever, one thread each. Only an error of the listening socket itself
/// ends it; a client's error ends that client alone.
///
/// # Errors
/// When `accept` fails in a way that affects the listener (not a single aborted connection).
fn serve(listener: TcpListener, root: Root) -> anyhow::Result<()> {
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
            if let Err(e) = handle_client(stream, &root) {
                eprintln!("server: client {peer}: {e:#}");
            }
        });
    }
}

/// Runs the dialogue with one client; any failure is reported to the client as one
/// `ERROR <why>` frame (if it still listens) and returned for the server's log. Either way
/// the connection then closes: the handout's "devolver un mensaje de error al cliente y
/// finalizar".
fn handle_client(stream: TcpStream, root: &Root) -> anyhow::Result<()> {
    stream.set_read_timeout(Some(IDLE_TIMEOUT))?;
    let mut rx = BufReader::new(stream.try_clone()?);
    let mut tx = BufWriter::new(stream);
    let result = dialogue(&mut rx, &mut tx, root);
    if let Err(e) = &result {
        // The client may be gone (that may be the error itself): ignore a failed send.
        let _ = send_text(&mut tx, &format!("ERROR {e:#}"));
    }
    result
}

/// The handout's dialogue: a name in; an error, or the image, out.
fn dialogue(rx: &mut impl Read, tx: &mut impl Write, root: &Root) -> anyhow::Result<()> {
    // Python: nombre = conn.recv(1024).decode()  -- a frame holds exactly the name.
    let Some(request) = recv_text(rx, MAX_FRAME_LEN)? else {
        return Ok(()); // connected and left without a word
    };
    let name = parse_get(&request).map_err(anyhow::Error::msg)?;
    println!("Petición de {name}");
    // Python: if os.path.exists(nombre)  -- any path at all, "../../etc/passwd" included.
    let path = root.path_of(name)?;
    if !has_extension(&path) {
        bail!("{name} is not a .{EXTENSION} file");
    }
    // Opened first, then examined through the open handle: what we check is what we send.
    let file = match File::open(&path) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            bail!("{name} does not exist in the server's directory")
        }
        Err(e) => return Err(e).with_context(|| format!("opening {name}")),
    };
    let meta = file.metadata()?;
    if !meta.is_file() {
        bail!("{name} is not a regular file");
    }
    let size = meta.len();
    send_text(tx, &format!("OK {size}"))?;
    // Python: conn.sendall(open(nombre, "rb").read())  -- the whole image in memory; this
    // streams it through a fixed buffer, with its size before and its CRC-32 after.
    let sent = send_file(tx, &mut BufReader::new(file), size, |_| {})
        .with_context(|| format!("sending {name}"))?;
    tx.flush()?;
    println!(
        "Enviado {name}: {} bytes, crc32 {:08x}",
        sent.size, sent.crc32
    );
    Ok(())
}

/// True when `path` ends in `.jpg`, in any case.
fn has_extension(path: &Path) -> bool {
    path.extension()
        .is_some_and(|e| e.eq_ignore_ascii_case(EXTENSION))
}
