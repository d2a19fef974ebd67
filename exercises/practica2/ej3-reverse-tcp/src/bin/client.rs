//! Ej. 3, the client: sends a text file to the server and saves the reversed text it gets back.
//!
//! Dialogue (see the server's docs for the bytes): ask for the file name ("Nombre del
//! archivo: "), refuse a missing file before connecting, send the file, print "Archivo
//! enviado", receive the reversed text and its size, print "Recibido archivo invertido" and
//! the size, and save the text beside the original as `<name>_invertido.<ext>`, never
//! overwriting anything.
//!
//! Run the server first, then in another terminal:
//!
//! ```text
//! cargo run -p ej3-reverse-tcp --bin client
//! Nombre del archivo: Hello.txt
//! Archivo enviado
//! Recibido archivo invertido
//! Tamaño: 12 bytes
//! Guardado en Hello_invertido.txt
//! ```
//!
//! Caveat: `Hello_invertido.txt` holds `!dlroW olleH`; if that name is taken, the next free
//! one is used (`Hello_invertido_2.txt`, ...), so running twice never destroys a result.

use anyhow::{bail, Context};
use clap::Parser;
use ej3_reverse_tcp::parse_reversed;
use sockcore::cli::input;
use sockcore::files::{local_file_name, AtomicFile, Overwrite};
use sockcore::frame::{recv_file, recv_text, send_file, send_text, MAX_FRAME_LEN};
use sockcore::net;
use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

/// Ej. 3 (Práctica 2), TCP client: send the text file FILE (asked with "Nombre del archivo: "
/// if absent) to the server, and save the reversed text it returns beside FILE as
/// <name>_invertido.<ext>, without overwriting any file.
#[derive(Parser, Debug)]
#[command(version)]
struct Args {
    /// Server address.
    #[arg(long, default_value = net::DEFAULT_HOST)]
    host: String,
    /// Server port.
    #[arg(long, default_value_t = 5003)]
    port: u16,
    /// Text file to send; asked on stdin ("Nombre del archivo: ") if absent.
    file: Option<PathBuf>,
}

/// Suffix added to the file's stem for the reversed copy: `Hello.txt` → `Hello_invertido.txt`.
const SUFFIX: &str = "_invertido";

/// Names tried for the reversed copy (`_invertido`, `_invertido_2`, ...) before giving up:
/// plenty for repeated runs, and a bound on the search.
const MAX_NAME_TRIES: u32 = 100;

/// How long to wait for each reply: the server reverses a text of a few MiB in milliseconds,
/// so a minute of silence means it is stuck.
const REPLY_TIMEOUT: Duration = Duration::from_secs(60);

fn main() -> ExitCode {
    sockcore::cli::report(run(Args::parse()))
}

fn run(args: Args) -> anyhow::Result<()> {
    // "El programa cliente solicitará al usuario que introduzca el nombre del archivo."
    let path = match args.file {
        Some(p) => p,
        None => PathBuf::from(input("Nombre del archivo: ")?.trim()),
    };
    // "El cliente enviará el archivo (que debe existir)": refuse it before touching the network.
    let mut file = File::open(&path).with_context(|| format!("opening {}", path.display()))?;
    let meta = file.metadata()?;
    if !meta.is_file() {
        bail!("{} is not a regular file", path.display());
    }
    let size = meta.len();
    let name = local_file_name(&path)?;
    let dest = free_reversed_path(&path)?;

    let stream = net::connect_tcp(&args.host, args.port, true)?;
    let server = stream.peer_addr()?;
    stream.set_read_timeout(Some(REPLY_TIMEOUT))?;
    let mut rx = BufReader::new(stream.try_clone()?);
    let mut tx = BufWriter::new(stream);

    send_text(&mut tx, &format!("REVERSE {size} {name}")).context("sending the request")?;
    let reply = recv_reply(&mut rx)?;
    if reply != "OK" {
        bail!("unexpected reply from the server: {reply:?}");
    }
    // Python: s.sendall(f.read())  -- the whole file in memory; this streams it.
    send_file(&mut tx, &mut BufReader::new(&mut file), size, |_| {})
        .with_context(|| format!("sending {name} to {server}"))?;
    tx.flush()?;
    println!("Archivo enviado");

    let reply = recv_reply(&mut rx).context("waiting for the reversed file")?;
    let announced: u64 = parse_reversed(&reply)
        .with_context(|| format!("unexpected reply from the server: {reply:?}"))?;
    // The reversed text is written under a temporary name and appears only complete and
    // verified (size and CRC-32); a server that vanishes halfway leaves nothing behind.
    let mut out = AtomicFile::create(&dest).context("creating the reversed file")?;
    let body = recv_file(&mut rx, &mut out, announced, |_| Ok(()), |_| {})
        .map_err(|e| net::timeout_as_timed_out(e, "waiting for the reversed text"))
        .context("receiving the reversed text")?;
    if body.size != announced || body.size != size {
        bail!(
            "the server announced {announced} bytes and sent {}, for a file of {size} bytes",
            body.size
        );
    }
    out.commit(body.size, Overwrite::No)
        .with_context(|| format!("saving {}", dest.display()))?;
    println!("Recibido archivo invertido");
    println!("Tamaño: {} bytes", body.size);
    println!("Guardado en {}", dest.display());
    Ok(())
}

/// Reads the server's next reply; `ERROR <why>` and a closed connection become errors.
fn recv_reply(rx: &mut impl Read) -> anyhow::Result<String> {
    let reply = recv_text(rx, MAX_FRAME_LEN)
        .map_err(|e| net::timeout_as_timed_out(e, "waiting for the server's reply"))
        .context("reading the server's reply")?;
    match reply {
        None => bail!("the server closed the connection before answering"),
        Some(reply) => match reply.strip_prefix("ERROR ") {
            Some(why) => bail!("the server refused the file: {why}"),
            None => Ok(reply),
        },
    }
}

/// The first of `<stem>_invertido<.ext>`, `<stem>_invertido_2<.ext>`, ... beside `original`
/// that does not exist. (Another program could create it before we save: the final commit
/// refuses to overwrite it then.)
fn free_reversed_path(original: &Path) -> anyhow::Result<PathBuf> {
    let stem = original
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let ext = original
        .extension()
        .map(|e| format!(".{}", e.to_string_lossy()))
        .unwrap_or_default();
    for n in 1..=MAX_NAME_TRIES {
        let number = if n == 1 {
            String::new()
        } else {
            format!("_{n}")
        };
        let candidate = original.with_file_name(format!("{stem}{SUFFIX}{number}{ext}"));
        if !candidate.exists() {
            return Ok(candidate);
        }
    }
    bail!(
        "{MAX_NAME_TRIES} names for the reversed copy of {} are taken; delete some",
        original.display()
    )
}
