//! Ej. 5, the client: asks the server for a .jpg image by name and saves it in the working
//! directory, complete and verified or not at all.
//!
//! Dialogue (see the server's docs for the bytes): ask for the name ("Nombre de la imagen
//! (.jpg): "); if a file with that name is already here, ask before overwriting it; send the
//! name; on `ERROR <why>` report it and exit 1; on `OK <size>` receive the bytes into a
//! temporary file, check size and CRC-32, and only then give it its name.
//!
//! Run the server first, then in another terminal:
//!
//! ```text
//! cargo run -p ej5-image-tcp --bin client -- gato.jpg
//! Solicitando gato.jpg
//! Recibiendo gato.jpg (48213 bytes)
//! Imagen guardada: gato.jpg (48213 bytes, crc32 5f1c09aa)
//! ```
//!
//! Caveat: a name the server does not have ends in `error: the server refused the request:
//! nada.jpg does not exist in the server's directory` and exit status 1; nothing is written.

use anyhow::{bail, Context};
use clap::{Parser, ValueEnum};
use ej5_image_tcp::parse_ok;
use sockcore::cli::{ask_yes_no, input};
use sockcore::files::{check_name, AtomicFile, Overwrite};
use sockcore::frame::{recv_file, recv_text, send_text, MAX_FRAME_LEN};
use sockcore::net;
use sockcore::progress::Progress;
use std::io::{BufReader, BufWriter, Read};
use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

/// Ej. 5 (Práctica 2), TCP client: ask the server for the .jpg image NAME (asked with
/// "Nombre de la imagen (.jpg): " if absent) and save it in the working directory, verified
/// (size and CRC-32); asks before overwriting a local file of the same name.
#[derive(Parser, Debug)]
#[command(version)]
struct Args {
    /// Server address.
    #[arg(long, default_value = net::DEFAULT_HOST)]
    host: String,
    /// Server port.
    #[arg(long, default_value_t = 5005)]
    port: u16,
    /// Answer to "¿Desea sobrescribir el fichero? (s/n)" for scripts; asked on stdin if absent.
    #[arg(long, value_enum)]
    overwrite: Option<YesNo>,
    /// Largest image accepted, in bytes.
    #[arg(long, default_value_t = MAX_IMAGE)]
    max_size: u64,
    /// Image to download; asked on stdin ("Nombre de la imagen (.jpg): ") if absent.
    name: Option<String>,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum YesNo {
    Yes,
    No,
}

/// Default limit on an image's size: 64 GiB, far above any photo, far below a disk.
const MAX_IMAGE: u64 = 64 << 30;

/// How long to wait for the server's answer and for each piece of the image: a server
/// silent for a minute is stuck.
const REPLY_TIMEOUT: Duration = Duration::from_secs(60);

fn main() -> ExitCode {
    sockcore::cli::report(run(Args::parse()))
}

fn run(args: Args) -> anyhow::Result<()> {
    let name = match args.name {
        Some(n) => n,
        None => input("Nombre de la imagen (.jpg): ")?.trim().to_string(),
    };
    // The image is saved under this name in the working directory: a bare name only.
    check_name(&name)?;
    let overwrite = if Path::new(&name).exists() {
        println!("El fichero {name} ya existe en este directorio");
        let yes = match args.overwrite {
            Some(answer) => matches!(answer, YesNo::Yes),
            None => ask_yes_no("¿Desea sobrescribir el fichero? (s/n) ")?,
        };
        if !yes {
            println!("Descarga cancelada: no se sobrescribe {name}");
            return Ok(());
        }
        Overwrite::Yes
    } else {
        // Should another program create it meanwhile, the final commit refuses to replace it.
        Overwrite::No
    };

    let stream = net::connect_tcp(&args.host, args.port, true)?;
    let server = stream.peer_addr()?;
    stream.set_read_timeout(Some(REPLY_TIMEOUT))?;
    let mut rx = BufReader::new(stream.try_clone()?);
    let mut tx = BufWriter::new(stream);

    // "El programa cliente enviará al servidor el nombre de un fichero con extensión .jpg."
    println!("Solicitando {name}");
    send_text(&mut tx, &format!("GET {name}")).context("sending the request")?;
    let reply = recv_reply(&mut rx)?;
    let size: u64 =
        parse_ok(&reply).with_context(|| format!("unexpected reply from the server: {reply:?}"))?;
    if size > args.max_size {
        bail!(
            "{name} has {size} bytes, over the limit of {} (--max-size)",
            args.max_size
        );
    }

    println!("Recibiendo {name} ({size} bytes)");
    let mut bar = Progress::new(size, format!("recibiendo {name}"));
    // Python: data = s.recv(...) until b''; open(nombre, "wb").write(data)  -- a server that
    // dies halfway looks like a complete image. Here the bytes go to a temporary file and
    // get the name only when size and CRC-32 check out.
    let mut file = AtomicFile::create(&name).context("creating the temporary file")?;
    let got = recv_file(&mut rx, &mut file, size, |_| Ok(()), |n| bar.update(n))
        .map_err(|e| net::timeout_as_timed_out(e, "waiting for the image's bytes"))
        .with_context(|| format!("receiving {name} from {server}"))?;
    bar.finish();
    if got.size != size {
        bail!("the server announced {size} bytes and sent {}", got.size);
    }
    file.commit(got.size, overwrite)
        .with_context(|| format!("saving {name}"))?;
    println!(
        "Imagen guardada: {name} ({} bytes, crc32 {:08x})",
        got.size, got.crc32
    );
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
            Some(why) => bail!("the server refused the request: {why}"),
            None => Ok(reply),
        },
    }
}
