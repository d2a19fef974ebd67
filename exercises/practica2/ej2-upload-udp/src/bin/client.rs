//! Ej. 2 (UDP), the client: uploads a file, and deletes its own copy only once the server has
//! confirmed that it holds an identical one. The same dialogue as the TCP version, over
//! `sockcore::udp`, which repeats what the network loses and ignores what it duplicates.
//!
//! Dialogue (every line is one request and its reply; see the server's docs):
//! open the session (`HELLO`); ask to send `<name>`; if the server already has that name, ask
//! the user "¿Desea sobrescribir el fichero? (s/n)"; "n" cancels and both files stay as they
//! were; otherwise upload the bytes in numbered chunks, wait for the server's
//! `RECEIVED <size> <crc32>`, compare it with our own size and CRC-32, and only then delete
//! the local file.
//!
//! Run the server first, then in another terminal:
//!
//! ```text
//! cargo run -p ej2-upload-udp --bin client -- informe.pdf
//! Conectado a 127.0.0.1:5002
//! Solicitando enviar informe.pdf (12345 bytes)
//! El servidor acepta el fichero
//! Enviando informe.pdf...
//! El servidor confirma la recepción de informe.pdf: 12345 bytes, crc32 1a2b3c4d
//! Fichero local informe.pdf eliminado
//! ```
//!
//! Caveat: UDP has no connection, so "Conectado a" means that the server answered our first
//! request. With no server running nothing answers at all: the client retries for about 10 s
//! and then says so (`error: ... no answer from 127.0.0.1:5002 ...: is the server running?`).

use anyhow::{bail, Context};
use clap::{Parser, ValueEnum};
use ej2_upload_udp::parse_received;
use sockcore::cli::{ask_yes_no, input};
use sockcore::files::local_file_name;
use sockcore::net;
use sockcore::progress::Progress;
use sockcore::udp::{self, Config};
use std::fs::{self, File};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

/// Ej. 2 (Práctica 2), UDP client: send FILE to the server, which asks before overwriting a
/// file of the same name; the local FILE is deleted only after the server confirms it
/// received an identical copy (same size and CRC-32). Lost, duplicated and reordered
/// datagrams are repaired by numbered chunks, acknowledgements and retransmission.
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
    /// Bytes of the file per datagram (1 to 65000; the default fits any network's MTU).
    #[arg(long, default_value_t = udp::DEFAULT_CHUNK as u16,
          value_parser = clap::value_parser!(u16).range(1..=udp::wire::MAX_PAYLOAD_LEN as i64))]
    chunk: u16,
    /// Most chunks sent ahead of the server's acknowledgements (1 to 8192).
    #[arg(long, default_value_t = udp::DEFAULT_WINDOW as u16,
          value_parser = clap::value_parser!(u16).range(1..=udp::MAX_WINDOW as i64))]
    window: u16,
    /// Seconds of silence after which the server is taken for gone.
    #[arg(long, default_value_t = udp::PEER_TIMEOUT.as_secs(),
          value_parser = clap::value_parser!(u64).range(1..=3600))]
    timeout: u64,
    /// After the upload, print on stderr what it cost: datagrams, retransmissions, round trip.
    #[arg(short, long)]
    verbose: bool,
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

    let config = Config {
        chunk: usize::from(args.chunk),
        window: usize::from(args.window),
        peer_timeout: Duration::from_secs(args.timeout),
        ..Config::default()
    };
    let mut conn = udp::Client::connect(&args.host, args.port, config)?;
    let server = conn.peer();
    // Python: s.connect((host, port)) -- TCP's handshake. UDP has none: the session exists
    // once the server has answered a first request.
    let hello = conn
        .request(b"HELLO")
        .with_context(|| format!("opening a session with {server}"))?;
    if hello != b"HELLO" {
        bail!(
            "unexpected answer from {server}: {:?}",
            String::from_utf8_lossy(&hello)
        );
    }
    println!("Conectado a {server}");

    println!("Solicitando enviar {name} ({size} bytes)");
    let mut reply = request(&mut conn, &format!("SEND {name}"))?;
    if reply == "EXISTS" {
        println!("El fichero {name} ya existe en el servidor");
        let yes = match args.overwrite {
            Some(answer) => matches!(answer, YesNo::Yes),
            None => ask_yes_no("¿Desea sobrescribir el fichero? (s/n) ")?,
        };
        if !yes {
            let bye = request(&mut conn, "OVERWRITE no")?;
            if bye != "CANCELLED" {
                bail!("unexpected reply after cancelling: {bye:?}");
            }
            println!("Transferencia cancelada: no se sobrescribe {name}");
            return Ok(());
        }
        reply = request(&mut conn, "OVERWRITE yes")?;
    }
    if reply != "OK" {
        bail!("unexpected reply from the server: {reply:?}");
    }
    println!("El servidor acepta el fichero");

    println!("Enviando {name}...");
    let mut bar = Progress::new(size, format!("enviando {name}"));
    // Python: s.sendto(f.read(), addr)  -- one datagram, the whole file in memory, and no
    // way to know what arrived. This streams numbered chunks through a window and repeats
    // what is not acknowledged.
    let (sent, reply) = conn
        .send_bulk(&mut file, size, |n| bar.update(n))
        .with_context(|| format!("sending {name} to {server}"))?;
    bar.finish();
    if let (true, Some(st)) = (args.verbose, conn.last_upload()) {
        eprintln!(
            "client: {} datagrams, {} sent again ({} losses, {} timeouts), {} ACKs, round trip {:.2?}",
            st.datagrams,
            st.retransmitted,
            st.loss_events,
            st.timeouts,
            st.acks,
            conn.srtt().unwrap_or_default()
        );
    }

    let reply = text(reply)?;
    if let Some(why) = reply.strip_prefix("ERROR ") {
        bail!("the server refused the file: {why}");
    }
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

/// Sends one request and returns the reply as text; `ERROR <why>` becomes an error.
fn request(conn: &mut udp::Client, message: &str) -> anyhow::Result<String> {
    let reply = conn
        .request(message.as_bytes())
        .with_context(|| format!("waiting for the server's answer to {message:?}"))?;
    let reply = text(reply)?;
    match reply.strip_prefix("ERROR ") {
        Some(why) => bail!("the server refused the file: {why}"),
        None => Ok(reply),
    }
}

fn text(bytes: Vec<u8>) -> anyhow::Result<String> {
    String::from_utf8(bytes).context("the server's reply is not UTF-8 text")
}
