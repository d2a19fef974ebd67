//! Echo Client/Server (handout "Echo Client/Server"), the client: sends one message and reads
//! the echo back 16 bytes at a time until it has as many bytes as it sent.
//!
//! Dialogue: connect, send the whole message (`write_all`, Python's `sendall`), then `read`
//! up to 16 bytes at a time, printing each piece, until `len(message)` bytes are back; close.
//!
//! Run the server first, then in another terminal:
//!
//! ```text
//! cargo run -p echo-chunked --bin client
//! connecting to localhost port 10000
//! sending "This is the message.  It will be repeated."
//! received "This is the mess"
//! received "age.  It will be"
//! received " repeated."
//! closing socket
//! ```
//!
//! Caveat: a TCP read returns whatever has arrived, up to 16 bytes; the pieces above are
//! 16, 16 and 10 bytes because each is one of the server's writes, not because TCP keeps
//! message boundaries. The loop counts bytes, so it is right whatever the pieces are.

use anyhow::{bail, Context};
use clap::Parser;
use echo_chunked::{python_host, received_line, RECV_LEN};
use sockcore::net;
use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::process::ExitCode;
use std::time::Duration;

/// Echo Client/Server (handout "Echo Client/Server"), client: sends MESSAGE and prints the
/// echo as it comes back in pieces of at most 16 bytes, until all of it is back.
#[derive(Parser, Debug)]
#[command(version)]
struct Args {
    /// Server address.
    #[arg(long, default_value = net::DEFAULT_HOST)]
    host: String,
    /// Server port.
    #[arg(long, default_value_t = 10000)]
    port: u16,
    /// Text to send (default: the handout's message).
    #[arg(default_value = MESSAGE)]
    message: String,
}

/// The handout's message: 42 bytes, two spaces after "message." as in the program the
/// handout's transcript comes from (the handout's page shows them as one). 16 + 16 + 10.
const MESSAGE: &str = "This is the message.  It will be repeated.";

/// How long to wait for the next piece of the echo before giving up. The Python client waits
/// forever; a server that stops answering would hang it.
const REPLY_TIMEOUT: Duration = Duration::from_secs(10);

fn main() -> ExitCode {
    sockcore::cli::report(run(Args::parse()))
}

fn run(args: Args) -> anyhow::Result<()> {
    println!(
        "connecting to {} port {}",
        python_host(&args.host),
        args.port
    );
    let mut sock = net::connect_tcp(&args.host, args.port, false)?;
    let result = exchange(&mut sock, args.message.as_bytes());
    // Python: finally: print('closing socket'); sock.close()  -- printed on success and on
    // error alike, as Python's `finally` does.
    println!("closing socket");
    drop(sock);
    result
}

/// Sends `message` and reads the echo back, 16 bytes at most per read.
fn exchange(sock: &mut TcpStream, message: &[u8]) -> anyhow::Result<()> {
    sock.set_read_timeout(Some(REPLY_TIMEOUT))?;
    println!("sending \"{}\"", String::from_utf8_lossy(message));
    sock.write_all(message).context("sending the message")?;

    let amount_expected = message.len();
    let mut amount_received = 0;
    let mut data = [0u8; RECV_LEN];
    while amount_received < amount_expected {
        let n = match sock.read(&mut data) {
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => {
                return Err(net::timeout_as_timed_out(e, "waiting for the echo")).with_context(
                    || format!("after {amount_received} of {amount_expected} bytes of the echo"),
                )
            }
        };
        // Python: data = sock.recv(16)  -- b'' there (the server closed) would loop forever
        // printing `received ""`; here it ends the run with an error.
        if n == 0 {
            bail!("the server closed the connection after {amount_received} of {amount_expected} bytes of the echo");
        }
        // The handout does not compare the echo with the message; a mismatch means a broken
        // server, so we say so instead of printing it as an echo.
        let expected = &message[amount_received..(amount_received + n).min(amount_expected)];
        if &data[..n] != expected {
            bail!(
                "the echo differs from the message at byte {amount_received}: got {:?}",
                String::from_utf8_lossy(&data[..n])
            );
        }
        amount_received += n;
        println!("{}", received_line(&data[..n]));
    }
    Ok(())
}
