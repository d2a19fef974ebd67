//! Ej. 7 / Programa 3, the client: a simple FTP session. Says its name, prints the server's
//! listing, then runs the commands typed at "Comando: " until `exit`.
//!
//! Commands (the report's, plus the handout's "get"):
//!
//! ```text
//! list | listar        the server's files, one per line
//! get <fichero>        download into the working directory (asks before overwriting)
//! put <fichero>        upload (the server asks before overwriting, as in Ej. 2)
//! subir <fichero>      the same as put
//! exit                 the server answers "Sesion finalizada" and both ends close
//! ```
//!
//! Run the server first, then in another terminal:
//!
//! ```text
//! cargo run -p ej7-ftp-tcp --bin client
//! Introduce tu nombre: ale
//! informe.pdf
//! notas.txt
//! Comando: get notas.txt
//! Recibido notas.txt: 30 bytes, crc32 0f1e2d3c
//! Comando: exit
//! Sesion finalizada
//! ```
//!
//! Caveat: a command that fails (unknown command, missing file here or there, a name with a
//! path in it) prints `client: ...` on stderr and the session goes on; only a broken
//! connection ends the client with `error: ...` and exit status 1. End of input (Ctrl-D)
//! counts as `exit`.

use anyhow::{bail, Context};
use clap::{Parser, ValueEnum};
use sockcore::cli::{ask_yes_no, input};
use sockcore::files::{check_name, local_file_name, AtomicFile, Overwrite};
use sockcore::frame::{recv_file, recv_text, send_file, send_text, BodySummary, MAX_FRAME_LEN};
use sockcore::net;
use sockcore::progress::Progress;
use std::fs::File;
use std::io::{self, BufReader, BufWriter, Write};
use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

/// Ej. 7 (Práctica 2) / Programa 3 of the report, TCP client: a simple FTP. Sends your name
/// (asked with "Introduce tu nombre: " if --name is absent), prints the server's listing, then
/// reads commands at "Comando: ": list | listar, get <fichero>, put <fichero> | subir
/// <fichero>, exit.
#[derive(Parser, Debug)]
#[command(version)]
struct Args {
    /// Server address.
    #[arg(long, default_value = net::DEFAULT_HOST)]
    host: String,
    /// Server port (the report's is 1055).
    #[arg(long, default_value_t = 1055)]
    port: u16,
    /// Your name for the server's log; asked on stdin ("Introduce tu nombre: ") if absent.
    #[arg(long)]
    name: Option<String>,
    /// Answer to every "¿Desea sobrescribir el fichero? (s/n)" for scripts; asked on stdin
    /// if absent.
    #[arg(long, value_enum)]
    overwrite: Option<YesNo>,
    /// Largest download accepted, in bytes.
    #[arg(long, default_value_t = MAX_DOWNLOAD)]
    max_size: u64,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum YesNo {
    Yes,
    No,
}

/// Default limit on a download's size: 64 GiB, far above any course file, far below a disk.
const MAX_DOWNLOAD: u64 = 64 << 30;

/// Most names accepted in one listing: a bound on the loop that reads them, far above any
/// directory a person would list.
const MAX_LISTING: usize = 100_000;

/// How long to wait for each reply (and each piece of a file): a server silent this long is
/// stuck.
const REPLY_TIMEOUT: Duration = Duration::from_secs(60);

/// What the user may type, for the error on anything else.
const COMMANDS: &str = "list, listar, get <fichero>, put <fichero>, subir <fichero>, exit";

fn main() -> ExitCode {
    sockcore::cli::report(run(Args::parse()))
}

fn run(args: Args) -> anyhow::Result<()> {
    // Python: nombre = raw_input("Introduce tu nombre: ")
    let nombre = match &args.name {
        Some(n) => n.clone(),
        None => input("Introduce tu nombre: ")?.trim().to_string(),
    };
    // Python: s.connect(('localhost', 1055))
    let stream = net::connect_tcp(&args.host, args.port, true)?;
    stream.set_read_timeout(Some(REPLY_TIMEOUT))?;
    let mut ftp = Ftp {
        rx: BufReader::new(stream.try_clone()?),
        tx: BufWriter::new(stream),
        args: &args,
    };
    // Python: s.send(nombre); server_message = s.recv(1024); print(server_message)
    send_text(&mut ftp.tx, &format!("USER {nombre}")).context("sending the name")?;
    ftp.print_listing()?;

    loop {
        let line = match input("Comando: ") {
            Ok(line) => line,
            // Ctrl-D, or the end of a script: leave as politely as `exit` does.
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => "exit".to_string(),
            Err(e) => return Err(e).context("reading a command"),
        };
        let line = line.trim();
        let (command, arg) = match line.split_once(' ') {
            Some((c, a)) => (c, a.trim()),
            None => (line, ""),
        };
        match (command, arg) {
            ("", "") => {}
            ("list" | "listar", "") => {
                send_text(&mut ftp.tx, "LIST")?;
                ftp.print_listing()?;
            }
            ("get", name) if !name.is_empty() => ftp.get(name)?,
            ("put" | "subir", file) if !file.is_empty() => ftp.put(Path::new(file))?,
            ("exit", "") => {
                send_text(&mut ftp.tx, "EXIT")?;
                match ftp.recv_reply()? {
                    Reply::Ok(bye) => println!("{bye}"),
                    Reply::Refused(why) => bail!("the server refused to end the session: {why}"),
                }
                return Ok(());
            }
            _ => eprintln!("client: comando desconocido: {line:?} (comandos: {COMMANDS})"),
        }
    }
}

/// A reply: what was asked for, or the server's `ERROR <why>` for this command.
enum Reply {
    Ok(String),
    Refused(String),
}

/// The client's end of the session.
struct Ftp<'a> {
    rx: BufReader<std::net::TcpStream>,
    tx: BufWriter<std::net::TcpStream>,
    args: &'a Args,
}

impl Ftp<'_> {
    /// Reads the server's next reply. A closed connection is an error that ends the client.
    fn recv_reply(&mut self) -> anyhow::Result<Reply> {
        let reply = recv_text(&mut self.rx, MAX_FRAME_LEN)
            .map_err(|e| net::timeout_as_timed_out(e, "waiting for the server's reply"))
            .context("reading the server's reply")?;
        match reply {
            None => bail!("the server closed the connection"),
            Some(r) => Ok(match r.strip_prefix("ERROR ") {
                Some(why) => Reply::Refused(why.to_string()),
                None => Reply::Ok(r),
            }),
        }
    }

    /// Receives `LIST <n>` and the n names, and prints them one per line, as `ls` would.
    fn print_listing(&mut self) -> anyhow::Result<()> {
        let header = match self.recv_reply()? {
            Reply::Ok(h) => h,
            Reply::Refused(why) => bail!("the server refused: {why}"),
        };
        let n: usize = header
            .strip_prefix("LIST ")
            .and_then(|n| n.parse().ok())
            .with_context(|| format!("unexpected reply from the server: {header:?}"))?;
        if n > MAX_LISTING {
            bail!("listing of {n} names exceeds limit {MAX_LISTING}");
        }
        if n == 0 {
            println!("(no hay ficheros)");
        }
        for _ in 0..n {
            match recv_text(&mut self.rx, MAX_FRAME_LEN).context("reading the listing")? {
                Some(name) => println!("{name}"),
                None => bail!("the server closed the connection in the middle of the listing"),
            }
        }
        Ok(())
    }

    /// `get <name>`: the file into the working directory, whole and verified or not at all.
    fn get(&mut self, name: &str) -> anyhow::Result<()> {
        // Saved under this name here: a bare name only.
        if let Err(e) = check_name(name) {
            eprintln!("client: {e}");
            return Ok(());
        }
        let overwrite = if Path::new(name).exists() {
            println!("El fichero {name} ya existe en este directorio");
            if !self.confirm_overwrite()? {
                println!("Descarga cancelada: no se sobrescribe {name}");
                return Ok(());
            }
            Overwrite::Yes
        } else {
            Overwrite::No
        };
        send_text(&mut self.tx, &format!("GET {name}"))?;
        let size: u64 = match self.recv_reply()? {
            Reply::Refused(why) => {
                eprintln!("client: the server says: {why}");
                return Ok(());
            }
            Reply::Ok(r) => r
                .strip_prefix("OK ")
                .and_then(|n| n.parse().ok())
                .with_context(|| format!("unexpected reply from the server: {r:?}"))?,
        };
        if size > self.args.max_size {
            // The body is on its way and cannot be skipped without reading it: end here.
            bail!(
                "{name} has {size} bytes, over the limit of {} (--max-size)",
                self.args.max_size
            );
        }
        let mut bar = Progress::new(size, format!("recibiendo {name}"));
        let mut file = AtomicFile::create(name).context("creating the temporary file")?;
        // Python: data_file = s.recv(1024)  -- the first 1024 bytes of the file at best.
        let got = recv_file(&mut self.rx, &mut file, size, |_| Ok(()), |n| bar.update(n))
            .map_err(|e| net::timeout_as_timed_out(e, "waiting for the file's bytes"))
            .with_context(|| format!("receiving {name}"))?;
        bar.finish();
        // The body has been read whole: a failed save is this command's problem only.
        match file.commit(got.size, overwrite) {
            Ok(()) => println!(
                "Recibido {name}: {} bytes, crc32 {:08x}",
                got.size, got.crc32
            ),
            Err(e) => eprintln!("client: saving {name}: {e}"),
        }
        Ok(())
    }

    /// `put <file>`: the upload of Ej. 2, without deleting the local copy.
    fn put(&mut self, path: &Path) -> anyhow::Result<()> {
        let (mut file, size, name) = match open_local(path) {
            Ok(f) => f,
            Err(e) => {
                eprintln!("client: {e:#}");
                return Ok(());
            }
        };
        send_text(&mut self.tx, &format!("SEND {name}"))?;
        let mut reply = self.recv_reply()?;
        if matches!(&reply, Reply::Ok(r) if r == "EXISTS") {
            println!("El fichero {name} ya existe en el servidor");
            let yes = self.confirm_overwrite()?;
            send_text(
                &mut self.tx,
                if yes { "OVERWRITE yes" } else { "OVERWRITE no" },
            )?;
            if !yes {
                println!("Transferencia cancelada: no se sobrescribe {name}");
                return Ok(());
            }
            reply = self.recv_reply()?;
        }
        match reply {
            Reply::Refused(why) => {
                eprintln!("client: the server says: {why}");
                return Ok(());
            }
            Reply::Ok(r) if r == "OK" => {}
            Reply::Ok(r) => bail!("unexpected reply from the server: {r:?}"),
        }
        let mut bar = Progress::new(size, format!("enviando {name}"));
        let sent = send_file(&mut self.tx, &mut BufReader::new(&mut file), size, |n| {
            bar.update(n)
        })
        .with_context(|| format!("sending {name}"))?;
        self.tx.flush()?;
        bar.finish();
        match self.recv_reply()? {
            Reply::Refused(why) => eprintln!("client: the server says: {why}"),
            Reply::Ok(r) => {
                if parse_received(&r) != Some(sent) {
                    bail!("the server's copy of {name} differs from what we sent: {r:?}");
                }
                println!(
                    "Subido {name}: {} bytes, crc32 {:08x}",
                    sent.size, sent.crc32
                );
            }
        }
        Ok(())
    }

    /// "¿Desea sobrescribir el fichero? (s/n)", or the --overwrite answer.
    fn confirm_overwrite(&self) -> anyhow::Result<bool> {
        match self.args.overwrite {
            Some(answer) => Ok(matches!(answer, YesNo::Yes)),
            None => Ok(ask_yes_no("¿Desea sobrescribir el fichero? (s/n) ")?),
        }
    }
}

/// Opens a local file to upload: the file, its size, and the bare name to send.
fn open_local(path: &Path) -> anyhow::Result<(File, u64, String)> {
    let file = File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let meta = file.metadata()?;
    if !meta.is_file() {
        bail!("{} is not a regular file", path.display());
    }
    let name = local_file_name(path)?;
    Ok((file, meta.len(), name))
}

/// Parses `RECEIVED <size> <crc32 hex>`.
fn parse_received(reply: &str) -> Option<BodySummary> {
    let mut words = reply.strip_prefix("RECEIVED ")?.split(' ');
    let size = words.next()?.parse().ok()?;
    let crc32 = u32::from_str_radix(words.next()?, 16).ok()?;
    words
        .next()
        .is_none()
        .then_some(BodySummary { size, crc32 })
}
