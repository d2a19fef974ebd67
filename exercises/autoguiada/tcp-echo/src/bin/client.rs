//! Práctica Autoguiada 2.1 and 2.5, the TCP echo client: sends one message and prints the
//! server's echo, with the handout's consignas as options.
//!
//! Dialogue: connect; send the message (`write_all`, Python's `sendall`); shut down the
//! sending side, which tells the server the message is complete; read until the server
//! closes; print `Recibido:  <echo>`.
//!
//! Run the server first, then in another terminal:
//!
//! ```text
//! cargo run -p tcp-echo --bin client
//! Recibido:  Hola Mundo!
//! cargo run -p tcp-echo --bin client -- --image foto.jpg "Mira esta foto"
//! Recibido:  Mira esta foto
//! Imagen recibida por el servidor: foto.jpg (48213 bytes, crc32 5f1c09aa)
//! ```
//!
//! Caveat: `Recibido:` is followed by two spaces, because the handout's
//! `print ('Recibido: ', data.decode())` separates its two arguments with one.

use anyhow::{bail, Context};
use clap::builder::TypedValueParser;
use clap::Parser;
use sockcore::files::local_file_name;
use sockcore::frame::{recv_text, send_file, send_text, BodySummary, MAX_FRAME_LEN};
use sockcore::net;
use sockcore::progress::Progress;
use std::fs::File;
use std::io::{self, BufReader, BufWriter, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;
use tcp_echo::{parse_receipt, LONG_MENSAJE, MSG};

/// Práctica Autoguiada 2.1 (TCP echo client), with the consignas of 2.5: sends MESSAGE
/// (default 'Hola Mundo!') and prints the echo as "Recibido:  <echo>". (2.5.1, the backlog,
/// is the server's --backlog: run two clients at once against it.)
#[derive(Parser, Debug)]
#[command(version)]
struct Args {
    /// Server address (the handout's HOST).
    #[arg(long, default_value = net::DEFAULT_HOST)]
    host: String,
    /// Server port (the handout's PORT).
    #[arg(long, default_value_t = 3500)]
    port: u16,
    /// 2.5.2: give each write() call at most BYTES of the message (Python's
    /// `s.send(msg[i:i+n])`), repeating until everything is sent, as sendall() does; each
    /// call and what it sent is shown on stderr.
    #[arg(long, value_name = "BYTES",
          value_parser = clap::value_parser!(u32).range(1..).map(|n| n as usize))]
    send_size: Option<usize>,
    /// 2.5.2: with --send-size, call write() only once, like a single send() instead of
    /// sendall(): the rest of the message is never sent.
    #[arg(long, requires = "send_size")]
    send_once: bool,
    /// 2.5.4: after the text, send this image on the same connection; text, name and image
    /// are framed (sockcore::frame), so the server (--image-dir) knows where each ends.
    #[arg(long, value_name = "FILE", conflicts_with = "send_size")]
    image: Option<PathBuf>,
    /// Text to send (default: the handout's 'Hola Mundo!').
    message: Option<String>,
}

/// How long to wait for the echo before giving up: the handout's client waits forever.
const REPLY_TIMEOUT: Duration = Duration::from_secs(10);

fn main() -> ExitCode {
    sockcore::cli::report(run(Args::parse()))
}

fn run(args: Args) -> anyhow::Result<()> {
    let msg = args.message.clone().unwrap_or_else(|| MSG.to_string());
    if let Some(image) = &args.image {
        return text_and_image(&args, &msg, image);
    }
    // Python: s = socket.socket(AF_INET, SOCK_STREAM); s.connect((HOST, PORT))
    let mut s = net::connect_tcp(&args.host, args.port, false)?;
    s.set_read_timeout(Some(REPLY_TIMEOUT))?;
    // Python: s.sendall(MSG.encode())
    match args.send_size {
        None => s.write_all(msg.as_bytes()).context("sending the message")?,
        Some(size) => send_in_pieces(&mut s, msg.as_bytes(), size, args.send_once)?,
    }
    // Not in the Python: "that is all". A server that reads until the end of the message
    // (2.5.3) learns where it is; the handout's server, which reads once, is not affected.
    match s.shutdown(Shutdown::Write) {
        // The server already closed (and reset) the connection: read what it sent anyway.
        Err(e)
            if matches!(
                e.kind(),
                io::ErrorKind::NotConnected | io::ErrorKind::ConnectionReset
            ) => {}
        other => other.context("ending the message")?,
    }
    // Python: data = s.recv(LONG_MENSAJE)  -- one recv returns what has arrived so far,
    // maybe only part of the echo; read until the server closes.
    let data = recv_all(&mut s, msg.len())?;
    // Python: s.close()
    drop(s);
    // Python: print ('Recibido: ', data.decode())  -- print's separator adds a second space.
    println!("Recibido:  {}", String::from_utf8_lossy(&data));
    if data != msg.as_bytes() {
        eprintln!(
            "client: the echo has {} of the message's {} bytes",
            data.len(),
            msg.len()
        );
    }
    Ok(())
}

/// 2.5.2: what `sendall` does, spelled out: `write` takes *up to* the bytes it is given and
/// says how many it took; repeat from there until all are sent (or once, with `once`).
fn send_in_pieces(s: &mut TcpStream, msg: &[u8], size: usize, once: bool) -> anyhow::Result<()> {
    let mut sent = 0;
    while sent < msg.len() {
        let end = (sent + size).min(msg.len());
        // Python: sent += s.send(msg[sent:end])
        let n = match s.write(&msg[sent..end]) {
            Ok(0) => bail!("the connection accepted no more bytes after {sent}"),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e).context("sending the message"),
        };
        sent += n;
        eprintln!(
            "client: write() of {} bytes sent {n} ({sent} of {} bytes)",
            end - (sent - n),
            msg.len()
        );
        if once {
            if sent < msg.len() {
                eprintln!(
                    "client: --send-once: the other {} bytes are never sent",
                    msg.len() - sent
                );
            }
            break;
        }
    }
    Ok(())
}

/// Reads until the server closes (end of stream), at most `limit` bytes: an echo is never
/// longer than the message.
fn recv_all(s: &mut TcpStream, limit: usize) -> anyhow::Result<Vec<u8>> {
    let mut data = Vec::new();
    let mut buf = [0u8; LONG_MENSAJE];
    loop {
        match s.read(&mut buf) {
            Ok(0) => return Ok(data),
            Ok(n) => data.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            // A server that closes with bytes of ours still unread makes its kernel send a
            // reset instead of a normal close (the handout's server does, for a long message).
            Err(e) if e.kind() == io::ErrorKind::ConnectionReset => {
                eprintln!(
                    "client: the server reset the connection after {} bytes of echo (it closed without reading all we sent)",
                    data.len()
                );
                return Ok(data);
            }
            Err(e) => {
                return Err(net::timeout_as_timed_out(e, "waiting for the echo"))
                    .with_context(|| format!("after {} bytes of the echo", data.len()))
            }
        }
        if data.len() > limit {
            bail!(
                "the server sent more than the message ({} bytes, the message has {limit})",
                data.len()
            );
        }
    }
}

/// 2.5.4: a text and an image on one connection, each framed; then the server's receipt and
/// the text echoed.
fn text_and_image(args: &Args, text: &str, image: &Path) -> anyhow::Result<()> {
    let mut file = File::open(image).with_context(|| format!("opening {}", image.display()))?;
    let size = file.metadata()?.len();
    let name = local_file_name(image)?;
    let stream = net::connect_tcp(&args.host, args.port, true)?;
    stream.set_read_timeout(Some(REPLY_TIMEOUT))?;
    let mut rx = BufReader::new(stream.try_clone()?);
    let mut tx = BufWriter::new(stream);

    send_text(&mut tx, text).context("sending the text")?;
    send_text(&mut tx, &name).context("sending the image's name")?;
    let mut bar = Progress::new(size, format!("enviando {name}"));
    let sent = send_file(&mut tx, &mut BufReader::new(&mut file), size, |n| {
        bar.update(n)
    })
    .with_context(|| format!("sending {name}"))?;
    tx.flush()?;
    bar.finish();

    let reply = recv_frame_text(&mut rx, "the receipt")?;
    if let Some(why) = reply.strip_prefix("ERROR ") {
        bail!("the server refused the image: {why}");
    }
    let got = parse_receipt(&reply)
        .with_context(|| format!("unexpected receipt from the server: {reply:?}"))?;
    let echo = recv_frame_text(&mut rx, "the text's echo")?;
    println!("Recibido:  {echo}");
    check_copy(got, sent)?;
    println!(
        "Imagen recibida por el servidor: {name} ({} bytes, crc32 {:08x})",
        sent.size, sent.crc32
    );
    Ok(())
}

/// Reads one text frame; the end of the stream is an error naming `what` was expected.
fn recv_frame_text(rx: &mut impl Read, what: &str) -> anyhow::Result<String> {
    match recv_text(rx, MAX_FRAME_LEN)
        .map_err(|e| net::timeout_as_timed_out(e, "waiting for the server"))
        .with_context(|| format!("reading {what}"))?
    {
        Some(text) => Ok(text),
        None => bail!("the server closed the connection before sending {what}"),
    }
}

/// The server's receipt must describe exactly the bytes we sent.
fn check_copy(got: BodySummary, sent: BodySummary) -> anyhow::Result<()> {
    if got != sent {
        bail!(
            "the server's copy differs: it has {} bytes, crc32 {:08x}; we sent {} bytes, crc32 {:08x}",
            got.size, got.crc32, sent.size, sent.crc32
        );
    }
    Ok(())
}
