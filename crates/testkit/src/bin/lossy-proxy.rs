//! testkit's seeded lossy UDP proxy as a program, for benchmarks and experiments by hand.
//!
//! ```text
//! cargo run -p testkit --bin lossy-proxy -- --to 127.0.0.1:5002 --drop 0.05
//! listening on 127.0.0.1:40123 (udp)
//! ```
//!
//! Point a client at the printed port; every datagram in either direction is dropped,
//! duplicated or reordered with the given probabilities (the same `Proxy` the tests use).
//! It runs until killed; on SIGINT/SIGTERM it just dies (nothing to clean up).

use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;
use testkit::proxy::{Faults, Proxy};

const USAGE: &str = "usage: lossy-proxy --to HOST:PORT [--drop P] [--duplicate P] [--reorder P] \
[--reorder-ms N] [--jitter-ms N] [--seed N]

Forwards UDP datagrams to HOST:PORT and back, dropping, duplicating and reordering them
with the given probabilities (0 to 1, default 0); a reordered datagram is held back
--reorder-ms (default 5) so that later ones overtake it; --jitter-ms delays every datagram
by up to that much (default 0). Prints its own address on stderr as
\"listening on 127.0.0.1:PORT (udp)\", then runs until killed.";

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(msg) => {
            eprintln!("error: {msg}\n\n{USAGE}");
            ExitCode::from(2)
        }
    }
}

fn run() -> Result<(), String> {
    let mut to: Option<SocketAddr> = None;
    // A reordered datagram is held back 5 ms unless --reorder-ms says otherwise.
    let mut faults = Faults {
        reorder_delay: Duration::from_millis(5),
        ..Faults::NONE
    };
    let mut seed = 1u64;
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        if flag == "-h" || flag == "--help" {
            println!("{USAGE}");
            return Ok(());
        }
        let value = args.next().ok_or_else(|| format!("{flag} needs a value"))?;
        let prob = || -> Result<f64, String> {
            value
                .parse::<f64>()
                .ok()
                .filter(|p| (0.0..=1.0).contains(p))
                .ok_or_else(|| format!("{flag}: {value:?} is not a probability from 0 to 1"))
        };
        let millis = || -> Result<Duration, String> {
            value
                .parse()
                .map(Duration::from_millis)
                .map_err(|_| format!("{flag}: {value:?} is not a number of milliseconds"))
        };
        match flag.as_str() {
            "--to" => {
                to = Some(
                    value
                        .parse()
                        .map_err(|_| format!("--to: {value:?} is not HOST:PORT"))?,
                )
            }
            "--drop" => faults.drop = prob()?,
            "--duplicate" => faults.duplicate = prob()?,
            "--reorder" => faults.reorder = prob()?,
            "--reorder-ms" => faults.reorder_delay = millis()?,
            "--jitter-ms" => faults.max_delay = millis()?,
            "--seed" => {
                seed = value
                    .parse()
                    .map_err(|_| format!("--seed: {value:?} is not a number"))?
            }
            _ => return Err(format!("unknown option {flag}")),
        }
    }
    let to = to.ok_or("--to HOST:PORT is required")?;
    let proxy = Proxy::start(to, faults, seed);
    eprintln!("listening on {} (udp)", proxy.addr());
    // The proxy's threads do the work; this thread only keeps the process (and them) alive.
    loop {
        std::thread::park();
    }
}
