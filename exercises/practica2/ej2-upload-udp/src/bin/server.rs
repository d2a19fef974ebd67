//! Ej. 2 (UDP), the server: receives files, asking before it overwrites one. The same
//! dialogue as the TCP version, over `sockcore::udp`: one socket for every client, a session
//! (and a thread) per client.
//!
//! Dialogue, per client (each arrow pair is a REQUEST and its REPLY, `sockcore::udp`; the
//! upload is a bulk transfer of numbered chunks, answered by a REPLY like a request):
//!
//! ```text
//! client                          server
//!   HELLO                ──────▶    opens the session
//!                        ◀──────    HELLO
//!   SEND <name>          ──────▶    checks the name, looks in --dir
//!                        ◀──────    OK | EXISTS | ERROR <why>
//!   OVERWRITE yes|no     ──────▶    (only after EXISTS)
//!                        ◀──────    OK | CANCELLED
//!   DATA 0, 1, ... END   ──────▶    writes a temporary file, checks size and CRC, renames it
//!                        ◀──────    ACKs, then RECEIVED <size> <crc32> | ERROR <why>
//! ```
//!
//! Run it in one terminal, then the client in another:
//!
//! ```text
//! cargo run -p ej2-upload-udp --bin server -- --dir /tmp/recibidos
//! cargo run -p ej2-upload-udp --bin client -- informe.pdf
//! ```
//!
//! The server prints `listening on 127.0.0.1:5002 (udp)` on stderr, then one line per step on
//! stdout (`Conexión desde ...`, `Petición de envío: informe.pdf`, `Recibido informe.pdf: ...`).
//!
//! Caveat: UDP tells no one when a client goes away. A client that vanishes mid-file is
//! noticed after `--timeout` seconds of silence (its temporary file is then removed); one
//! that vanishes while its user ponders the overwrite question, after 60 s.

use anyhow::{bail, Context};
use clap::Parser;
use ej2_upload_udp::parse_send;
use sockcore::files::{AtomicFile, Overwrite, Root};
use sockcore::net::{self, Transport};
use sockcore::udp::{self, Config, Session};
use std::net::UdpSocket;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

/// Ej. 2 (Práctica 2), UDP server: receive files from clients into --dir; if a file with the
/// same name exists, ask the client whether to overwrite it. Files land whole and verified
/// (size and CRC-32) or not at all. Serves several clients at once on one socket.
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
    /// Most chunks buffered per upload (1 to 8192); the socket's buffer may allow fewer.
    #[arg(long, default_value_t = udp::DEFAULT_WINDOW as u16,
          value_parser = clap::value_parser!(u16).range(1..=udp::MAX_WINDOW as i64))]
    window: u16,
    /// Seconds of silence after which a client is taken for gone mid-upload.
    #[arg(long, default_value_t = udp::PEER_TIMEOUT.as_secs(),
          value_parser = clap::value_parser!(u64).range(1..=3600))]
    timeout: u64,
}

/// Default limit on an upload's size: 64 GiB, far above any course file, far below a disk.
const MAX_UPLOAD: u64 = 64 << 30;

fn main() -> ExitCode {
    sockcore::cli::report(run(Args::parse()))
}

fn run(args: Args) -> anyhow::Result<()> {
    let root = Root::new(&args.dir).context("opening the --dir directory")?;
    let socket = net::bind_udp(&args.host, args.port)?;
    net::announce(socket.local_addr()?, Transport::Udp);
    let config = Config {
        window: usize::from(args.window),
        peer_timeout: Duration::from_secs(args.timeout),
        ..Config::default()
    };
    serve(socket, root, args.max_size, config)
}

/// Serves clients forever, a session (and a thread) each. Only an error of the socket itself
/// ends it; a client's error ends that client's session alone.
///
/// # Errors
/// When the socket fails in a way that is not one client's doing.
fn serve(socket: UdpSocket, root: Root, max_size: u64, config: Config) -> anyhow::Result<()> {
    // Python: while True: data, addr = s.recvfrom(1024)  -- one loop mixes every client's
    // datagrams. udp::serve sorts them by client and session, and calls this per session.
    udp::serve(socket, config, move |session| {
        let peer = session.peer();
        println!("Conexión desde {peer}");
        if let Err(e) = handle_client(session, &root, max_size) {
            eprintln!("server: client {peer}: {e:#}");
        }
    })
    .context("receiving datagrams")
}

/// Runs the dialogue with one client; a failure is answered with `ERROR <why>` (when the
/// client is waiting for a reply) and returned for the server's log.
fn handle_client(mut session: Session, root: &Root, max_size: u64) -> anyhow::Result<()> {
    let result = dialogue(&mut session, root, max_size);
    if let Err(e) = &result {
        // Fails harmlessly when no request is waiting (e.g. the client vanished mid-file).
        let _ = session.reply(format!("ERROR {e:#}").as_bytes());
    }
    result
}

/// The handout's dialogue: request, overwrite question, file, notification.
fn dialogue(session: &mut Session, root: &Root, max_size: u64) -> anyhow::Result<()> {
    let hello = recv_text(session)?;
    if hello != "HELLO" {
        bail!("expected HELLO, got {hello:?}");
    }
    session.reply(b"HELLO")?;

    let request = recv_text(session)?;
    let name = parse_send(&request).map_err(anyhow::Error::msg)?;
    println!("Petición de envío: {name}");
    let dest = root.path_of(name)?;
    if dest.is_dir() {
        bail!("{name} is a directory on the server");
    }

    let overwrite = if dest.exists() {
        println!("El fichero {name} ya existe; se pregunta al cliente");
        session.reply(b"EXISTS")?;
        match recv_text(session)?.as_str() {
            "OVERWRITE yes" => Overwrite::Yes,
            "OVERWRITE no" => {
                println!("El cliente cancela: {name} no se sobrescribe");
                session.reply(b"CANCELLED")?;
                return Ok(());
            }
            other => bail!("expected OVERWRITE yes|no, got {other:?}"),
        }
    } else {
        // Another client may create the same name meanwhile; the commit below then
        // refuses to replace it (Overwrite::No) instead of silently clobbering it.
        Overwrite::No
    };
    let mut file = AtomicFile::create(&dest).context("creating the temporary file")?;
    session.reply(b"OK")?;

    // Python: data, addr = s.recvfrom(1024) until an empty datagram  -- any lost, repeated
    // or reordered datagram corrupted the file silently. Here chunks are numbered and
    // acknowledged, and size and CRC-32 are checked before the file is renamed into place;
    // dropping `file` on any error removes the temporary copy.
    let body = session
        .recv_bulk(&mut file, max_size, |_| {})
        .with_context(|| format!("receiving {name}"))?;
    file.commit(body.size, overwrite)
        .with_context(|| format!("saving {name}"))?;
    println!(
        "Recibido {name}: {} bytes, crc32 {:08x}",
        body.size, body.crc32
    );
    session.reply(format!("RECEIVED {} {:08x}", body.size, body.crc32).as_bytes())?;
    Ok(())
}

/// The client's next request, as text.
fn recv_text(session: &mut Session) -> anyhow::Result<String> {
    let bytes = session.recv_request()?;
    String::from_utf8(bytes).context("the request is not UTF-8 text")
}
