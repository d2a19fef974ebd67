//! Opens many TCP connections to one server and holds them, silent, for `scripts/bench.sh
//! load`: what 500 idle clients cost a thread-per-client server, and whether a new client is
//! still served meanwhile.
//!
//! ```text
//! idle-conns --port P --count 500 --greeting ftp --hold 60
//! # opened 500 of 500 (refused 0, failed 0) in 0.21 s     <- stdout, once all are open
//! # held 500 for 60 s                                      <- stdout, at the end
//! ```
//!
//! Each connection first speaks the exercise's greeting, so that the server is past `accept`
//! and a thread of its own is waiting on it (a connection the server has not accepted yet
//! costs the server nothing, and would measure nothing):
//!
//! | `--greeting` | exercise | sent | read |
//! |---|---|---|---|
//! | `ftp` | ej7-ftp-tcp | frame `USER idle<i>` | frame `LIST <n>` and n names |
//! | `time` | tcp21-get, tcp22-lock | frame `TIME` | one frame |
//! | `line` | ej8-chatroom-tcp | nothing | one line (`intr_apodo`) |
//! | `none` | any | nothing | nothing |
//!
//! A reply starting with `ERROR` counts as refused (the server's `--max-connections`). Exit
//! status 0 when every connection was opened, 1 otherwise. Loopback by default; the hold is
//! bounded by `--hold`, and the caller may end it sooner by killing the process.

use anyhow::{bail, Context};
use clap::{Parser, ValueEnum};
use sockcore::frame::{recv_text, send_text, MAX_FRAME_LEN};
use sockcore::lines::{LineReader, MAX_LINE_LEN};
use sockcore::net;
use std::io::Write;
use std::net::TcpStream;
use std::process::ExitCode;
use std::thread;
use std::time::{Duration, Instant};

/// Open COUNT idle TCP connections to HOST:PORT, each past the exercise's greeting, and
/// hold them for --hold seconds (for scripts/bench.sh load).
#[derive(Parser, Debug)]
struct Args {
    /// Server address.
    #[arg(long, default_value = net::DEFAULT_HOST)]
    host: String,
    /// Server port.
    #[arg(long)]
    port: u16,
    /// Connections to open.
    #[arg(long, default_value_t = 500)]
    count: usize,
    /// What each connection says first, so the server is past accept (see the module docs).
    #[arg(long, value_enum, default_value_t = Greeting::None)]
    greeting: Greeting,
    /// Seconds to hold the connections once they are all open.
    #[arg(long, value_name = "SECS", default_value_t = 60)]
    hold: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Greeting {
    Ftp,
    Time,
    Line,
    None,
}

/// How long one greeting may take before the connection counts as failed: a server that
/// takes longer than this to answer one idle client is not "still serving".
const GREETING_TIMEOUT: Duration = Duration::from_secs(10);

/// What happened to one connection.
enum Outcome {
    Open(TcpStream),
    Refused,
}

fn main() -> ExitCode {
    sockcore::cli::report(run(Args::parse()))
}

fn run(args: Args) -> anyhow::Result<()> {
    let start = Instant::now();
    let mut held = Vec::with_capacity(args.count);
    let (mut refused, mut failed) = (0, 0);
    for i in 0..args.count {
        match open(&args, i) {
            Ok(Outcome::Open(s)) => held.push(s),
            Ok(Outcome::Refused) => refused += 1,
            Err(e) => {
                if failed == 0 {
                    eprintln!("idle-conns: connection {i}: {e:#}");
                }
                failed += 1;
            }
        }
    }
    println!(
        "opened {} of {} (refused {refused}, failed {failed}) in {:.2} s",
        held.len(),
        args.count,
        start.elapsed().as_secs_f64()
    );
    std::io::stdout().flush()?;
    // Holding is the point: the server sees silent clients for this long.
    thread::sleep(Duration::from_secs(args.hold));
    println!("held {} for {} s", held.len(), args.hold);
    if held.len() != args.count {
        bail!(
            "{} of {} connections could not be opened",
            args.count - held.len(),
            args.count
        );
    }
    Ok(())
}

/// Connects and speaks the greeting.
fn open(args: &Args, i: usize) -> anyhow::Result<Outcome> {
    let mut s = net::connect_tcp(&args.host, args.port, true)?;
    s.set_read_timeout(Some(GREETING_TIMEOUT))?;
    let first = match args.greeting {
        Greeting::None => return Ok(Outcome::Open(s)),
        Greeting::Ftp => {
            send_text(&mut s, &format!("USER idle{i}"))?;
            recv_text(&mut s, MAX_FRAME_LEN)?
        }
        Greeting::Time => {
            send_text(&mut s, "TIME")?;
            recv_text(&mut s, MAX_FRAME_LEN)?
        }
        Greeting::Line => LineReader::new(s.try_clone()?, MAX_LINE_LEN).recv_line()?,
    };
    let first = first.context("the server closed the connection during the greeting")?;
    if first.starts_with("ERROR") {
        return Ok(Outcome::Refused);
    }
    if args.greeting == Greeting::Ftp {
        let n: usize = first
            .strip_prefix("LIST ")
            .and_then(|n| n.parse().ok())
            .with_context(|| format!("expected LIST <n>, got {first:?}"))?;
        for _ in 0..n {
            recv_text(&mut s, MAX_FRAME_LEN)?.context("the server closed mid-listing")?;
        }
    }
    Ok(Outcome::Open(s))
}
