//! The floor for a TCP upload: `std::io::copy` from a file into a socket, and from the socket
//! into a file. Nothing else: no header, no checksum, no rename.
//!
//! ```text
//! tcp-floor recv --port 0 OUT     # prints "listening on 127.0.0.1:<port> (tcp)" on stderr,
//!                                 # accepts one connection, copies it into OUT, exits
//! tcp-floor send --port P IN      # connects, copies IN into the connection, exits
//! ```

use anyhow::Context;
use clap::{Parser, Subcommand};
use sockcore::net::{self, Transport};
use std::fs::File;
use std::io::{self, BufWriter};
use std::path::PathBuf;
use std::process::ExitCode;

/// Baseline for scripts/bench.sh ej2: copy one file over one loopback TCP connection.
#[derive(Parser, Debug)]
struct Args {
    #[command(subcommand)]
    mode: Mode,
}

#[derive(Subcommand, Debug)]
enum Mode {
    /// Accept one connection and copy everything it sends into OUT.
    Recv {
        #[arg(long, default_value = net::DEFAULT_HOST)]
        host: String,
        #[arg(long, default_value_t = 0)]
        port: u16,
        out: PathBuf,
    },
    /// Connect and send the whole of IN.
    Send {
        #[arg(long, default_value = net::DEFAULT_HOST)]
        host: String,
        #[arg(long)]
        port: u16,
        input: PathBuf,
    },
}

/// Buffer between socket and file on the receiving side, as large as sockcore's stream
/// buffer so the comparison is about protocol work, not buffer sizes.
const BUF: usize = sockcore::frame::STREAM_BUF_LEN;

fn main() -> ExitCode {
    sockcore::cli::report(run(Args::parse()))
}

fn run(args: Args) -> anyhow::Result<()> {
    match args.mode {
        Mode::Recv { host, port, out } => {
            let listener = net::bind_tcp(&host, port)?;
            net::announce(listener.local_addr()?, Transport::Tcp);
            let (mut stream, _) = listener.accept().context("accepting")?;
            let mut file = BufWriter::with_capacity(BUF, File::create(&out)?);
            io::copy(&mut stream, &mut file).context("copying into the file")?;
        }
        Mode::Send { host, port, input } => {
            let mut stream = net::connect_tcp(&host, port, false)?;
            let mut file = File::open(&input)?;
            io::copy(&mut file, &mut stream).context("copying into the socket")?;
        }
    }
    Ok(())
}
