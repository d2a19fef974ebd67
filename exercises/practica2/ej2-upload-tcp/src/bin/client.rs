//! Ej. 2 (TCP), the client: uploads a file, and deletes its own copy only once the server has
//! confirmed that it holds an identical one.
//!
//! Dialogue (see the server's docs for the bytes): ask to send `<name>`; if the server
//! already has that name, ask the user "¿Desea sobrescribir el fichero? (s/n)"; "n" cancels
//! and both files stay as they were; otherwise send the bytes, wait for the server's
//! `RECEIVED <size> <crc32>`, compare it with our own size and CRC-32, and only then delete
//! the local file.
//!
//! Run the server first, then in another terminal:
//!
//! ```text
//! cargo run -p ej2-upload-tcp --bin client -- informe.pdf
//! Conectado a 127.0.0.1:5002
//! Solicitando enviar informe.pdf (12345 bytes)
//! El servidor acepta el fichero
//! Enviando informe.pdf...
//! El servidor confirma la recepción de informe.pdf: 12345 bytes, crc32 1a2b3c4d
//! Fichero local informe.pdf eliminado
//! ```
//!
//! Caveat: the handout says the client deletes the file after the server's notification; a
//! notification that does not match what we sent (size or checksum) is an error, and the
//! file is kept.

use anyhow::{bail, Context};
use clap::{Parser, ValueEnum};
use ej2_upload_tcp::parse_received;
use sockcore::cli::{ask_yes_no, input};
use sockcore::files::local_file_name;
use sockcore::frame::{recv_text, send_file, send_text, MAX_FRAME_LEN};
use sockcore::net;
use sockcore::progress::Progress;
use std::fs::{self, File};
use std::io::{BufReader, BufWriter, Write};
use std::path::PathBuf;
use std::process::ExitCode;

/// Ej. 2 (Práctica 2), TCP client: send FILE to the server, which asks before overwriting a
/// file of the same name; the local FILE is deleted only after the server confirms it
/// received an identical copy (same size and CRC-32).
#[derive(Parser, Debug)]
#[command(version)]
struct Args {
    /// Server address.
    #[arg(long, default_value = net::DEFAULT_HOST)]
    host: String,
    /// Server port.
    #[arg(long, default_value_t = 5002)]
    port: u16,
    /// Answer to "¿Desea sobrescribir el fichero? (s/n)" for scripts; asked on stdin if absent.
    #[arg(long, value_enum)]
    overwrite: Option<YesNo>,
    /// File to send; asked on stdin ("Fichero a enviar: ") if absent.
    file: Option<PathBuf>,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum YesNo {
    Yes,
    No,
}

fn main() -> ExitCode {
    sockcore::cli::report(run(Args::parse()))
}

fn run(args: Args) -> anyhow::Result<()> {
    let path = match args.file {
        Some(p) => p,
        None => PathBuf::from(input("Fichero a enviar: ")?.trim()),
    };
    // Refuse a missing or unreadable file before touching the network.
    let mut file = File::open(&path).with_context(|| format!("opening {}", path.display()))?;
    let size = file.metadata()?.len();
    if !file.metadata()?.is_file() {
        bail!("{} is not a regular file", path.display());
    }
    let name = local_file_name(&path)?;

    let stream = net::connect_tcp(&args.host, args.port, true)?;
    let server = stream.peer_addr()?;
    println!("Conectado a {server}");
    let mut rx = BufReader::new(stream.try_clone()?);
    let mut tx = BufWriter::new(stream);

    println!("Solicitando enviar {name} ({size} bytes)");
    send_text(&mut tx, &format!("SEND {name}")).context("sending the request")?;
    let mut reply = recv_reply(&mut rx)?;
    if reply == "EXISTS" {
        println!("El fichero {name} ya existe en el servidor");
        let yes = match args.overwrite {
            Some(answer) => matches!(answer, YesNo::Yes),
            None => ask_yes_no("¿Desea sobrescribir el fichero? (s/n) ")?,
        };
        send_text(&mut tx, if yes { "OVERWRITE yes" } else { "OVERWRITE no" })?;
        if !yes {
            // Wait for the server to close its side, so both programs have finished the
            // dialogue when we exit (a clean close, not a reset).
            if let Some(extra) = recv_text(&mut rx, MAX_FRAME_LEN)? {
                bail!("unexpected reply after cancelling: {extra:?}");
            }
            println!("Transferencia cancelada: no se sobrescribe {name}");
            return Ok(());
        }
        reply = recv_reply(&mut rx)?;
    }
    if reply != "OK" {
        bail!("unexpected reply from the server: {reply:?}");
    }
    println!("El servidor acepta el fichero");

    println!("Enviando {name}...");
    let mut bar = Progress::new(size, format!("enviando {name}"));
    // Python: conn.sendall(f.read())  -- reads the whole file into memory; this streams it.
    let sent = send_file(&mut tx, &mut BufReader::new(&mut file), size, |n| {
        bar.update(n)
    })
    .with_context(|| format!("sending {name} to {server}"))?;
    tx.flush()?;
    bar.finish();

    let reply = recv_reply(&mut rx).context("waiting for the server's confirmation")?;
    let confirmed = parse_received(&reply)
        .with_context(|| format!("unexpected confirmation from the server: {reply:?}"))?;
    if confirmed != sent {
        bail!(
            "the server's copy differs: it has {} bytes, crc32 {:08x}; we sent {} bytes, crc32 {:08x}; {} kept",
            confirmed.size, confirmed.crc32, sent.size, sent.crc32, path.display()
        );
    }
    println!(
        "El servidor confirma la recepción de {name}: {} bytes, crc32 {:08x}",
        sent.size, sent.crc32
    );
    drop(file);
    fs::remove_file(&path).with_context(|| format!("deleting {}", path.display()))?;
    println!("Fichero local {name} eliminado");
    Ok(())
}

/// Reads the server's next reply; `ERROR <why>` and a closed connection become errors.
fn recv_reply(rx: &mut impl std::io::Read) -> anyhow::Result<String> {
    match recv_text(rx, MAX_FRAME_LEN).context("reading the server's reply")? {
        None => bail!("the server closed the connection before answering"),
        Some(reply) => match reply.strip_prefix("ERROR ") {
            Some(why) => bail!("the server refused the file: {why}"),
            None => Ok(reply),
        },
    }
}
