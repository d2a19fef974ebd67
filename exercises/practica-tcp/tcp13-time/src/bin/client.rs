//! TCP 1.3 (Práctica TCP), the client: asks the server for its time many times over one
//! connection, and reports how long that took and how far the two clocks are apart.
//!
//! For each query: note the monotonic clock, send `TIME`, read the 26-byte answer, note the
//! monotonic clock again (the round-trip time, RTT) and the local wall-clock time. The
//! handout's difference is server time - local time; Cristian's estimate of the offset adds
//! RTT/2, the time the answer spent travelling back (assuming both directions take as long).
//!
//! Run the server first, then in another terminal (release: the debug build measures itself):
//!
//! ```text
//! cargo run --release -p tcp13-time --bin client
//! Connected to 127.0.0.1:6780
//! 100000 TIME queries in 2.314 s: 43215 queries/s
//! Average difference, server - local: -0.000012 s
//! Cristian's offset estimate, server + RTT/2 - local: -0.000000 s
//! RTT min / mean / p99: 15.1 / 23.1 / 48.0 µs
//! ```
//!
//! Caveat: on one machine both programs read the same clock, so the offset is 0 and what the
//! difference shows is the time an answer takes to arrive; between two machines it is their
//! clocks' offset, known to about ± RTT/2.

use anyhow::{bail, Context};
use clap::Parser;
use sockcore::clock::{self, CivilTime, Zone, TIME_LEN, TIME_LEN_NO_FRACTION};
use sockcore::net;
use sockcore::unframed::{one_of, UnframedReader, Verdict};
use std::io::Write;
use std::process::ExitCode;
use std::time::{Duration, Instant, SystemTime};

/// TCP 1.3 (Práctica TCP), client: send QUERIES "TIME" requests over one connection; print
/// the total time, queries per second, the average difference between the server's time and
/// ours, Cristian's estimate of the clock offset, and the round-trip time (min, mean, p99).
/// Works with the handout's Python server too.
#[derive(Parser, Debug)]
#[command(version)]
struct Args {
    /// Server address.
    #[arg(long, default_value = net::DEFAULT_HOST)]
    host: String,
    /// Server port.
    #[arg(long, default_value_t = 6780)]
    port: u16,
    /// Number of TIME queries (the handout asks for 100,000).
    #[arg(long, default_value_t = 100_000, value_parser = clap::value_parser!(u64).range(1..))]
    queries: u64,
    /// Send EXIT after the queries, which ends the server (and print its "Bye").
    #[arg(long)]
    exit: bool,
}

const TIME: &[u8] = b"TIME";
const EXIT: &[u8] = b"EXIT";
/// The handout server's answer to EXIT.
const BYE: &str = "Bye";

/// Longest answer read, in bytes: the handout's `recv(1024)`.
const MAX_REPLY: usize = 1024;

/// How long to wait for an answer before giving up on the server.
const REPLY_TIMEOUT: Duration = Duration::from_secs(10);

fn main() -> ExitCode {
    sockcore::cli::report(run(Args::parse()))
}

fn run(args: Args) -> anyhow::Result<()> {
    let stream = net::connect_tcp(&args.host, args.port, true)?;
    let server = stream.peer_addr()?;
    stream.set_read_timeout(Some(REPLY_TIMEOUT))?;
    println!("Connected to {server}");
    let mut rx = UnframedReader::new(stream, MAX_REPLY);
    let zone = Zone::local();

    let n = usize::try_from(args.queries).context("--queries is too large for this machine")?;
    // Python (the handout): "almacenar la diferencia de tiempos en una lista"
    let mut differences = Vec::with_capacity(n);
    let mut rtts = Vec::with_capacity(n);
    let mut without_fraction = 0;
    let start = Instant::now();
    for i in 0..n {
        let sent = Instant::now();
        rx.get_ref().write_all(TIME).context("sending TIME")?;
        let answer = rx
            .recv(time_answer)
            .map_err(|e| net::timeout_as_timed_out(e, "waiting for the time"))
            .with_context(|| format!("reading the answer to query {}", i + 1))?;
        let rtt = sent.elapsed();
        let local = zone.civil(SystemTime::now());
        let Some(answer) = answer else {
            bail!("the server closed the connection after {i} answers");
        };
        let text = String::from_utf8_lossy(&answer);
        let server_time = CivilTime::parse(&text)
            .with_context(|| format!("the server's answer {text:?} is not a time"))?;
        differences.push(server_time.as_micros() - local.as_micros());
        rtts.push(rtt);
        if answer.len() == TIME_LEN_NO_FRACTION {
            without_fraction += 1;
        }
    }
    let total = start.elapsed();
    report(&differences, &mut rtts, total);
    if without_fraction > 0 {
        // Each one waited the reader's quiet period for a fraction that never came.
        println!(
            "Answers without microseconds (Python's str(datetime) when they are 0): {without_fraction}"
        );
    }

    if args.exit {
        rx.get_ref().write_all(EXIT).context("sending EXIT")?;
        let bye = rx
            .recv(one_of(&[BYE]))
            .context("reading the answer to EXIT")?;
        match bye {
            Some(_) => println!("Server> {BYE}"),
            None => bail!("the server closed the connection without answering EXIT"),
        }
    }
    Ok(())
}

/// Where an answer to TIME ends: 26 bytes `YYYY-MM-DD HH:MM:SS.ffffff`; or 19 bytes
/// `YYYY-MM-DD HH:MM:SS` if nothing follows them, because that is what Python's
/// `str(datetime)` sends when the microseconds are exactly 0 (once in a million answers).
fn time_answer(bytes: &[u8]) -> Verdict {
    if bytes.len() >= TIME_LEN && clock::is_time_prefix(&bytes[..TIME_LEN]) {
        Verdict::Whole(TIME_LEN)
    } else if !clock::is_time_prefix(bytes) {
        Verdict::Invalid
    } else if bytes.len() == TIME_LEN_NO_FRACTION {
        Verdict::WholeUnlessMore
    } else {
        Verdict::Partial
    }
}

/// Prints the handout's figures and Cristian's estimate. `differences` are in microseconds.
fn report(differences: &[i64], rtts: &mut [Duration], total: Duration) {
    let n = differences.len();
    let secs = total.as_secs_f64();
    println!(
        "{n} TIME queries in {secs:.3} s: {:.0} queries/s",
        n as f64 / secs
    );
    let mean_difference = differences.iter().map(|&d| d as f64).sum::<f64>() / n as f64;
    println!(
        "Average difference, server - local: {:+.6} s",
        mean_difference / 1e6
    );
    let micros = |d: &Duration| d.as_secs_f64() * 1e6;
    let mean_rtt = rtts.iter().map(micros).sum::<f64>() / n as f64;
    // The mean of (difference + RTT/2) is the mean difference + the mean RTT / 2.
    println!(
        "Cristian's offset estimate, server + RTT/2 - local: {:+.6} s",
        (mean_difference + mean_rtt / 2.0) / 1e6
    );
    rtts.sort_unstable();
    let p99 = rtts[(n * 99).div_ceil(100) - 1];
    println!(
        "RTT min / mean / p99: {:.1} / {mean_rtt:.1} / {:.1} µs",
        micros(&rtts[0]),
        micros(&p99)
    );
}
