//! The floor for TCP 1.3's benchmark: the least a TIME query can cost on this machine.
//!
//! A server and a client with nothing but the exchange itself: the client writes the 4
//! bytes `TIME` and reads exactly 26 bytes back; the server reads exactly 4 bytes and writes a
//! fixed 26-byte answer. No parsing, no clock, no statistics beyond the RTT list, one
//! loopback connection with `TCP_NODELAY`. `scripts/bench/time.sh` runs it beside our client
//! and server and reports the ratio.
//!
//! ```text
//! cargo run --release -p tcp13-time --example time-floor -- server --port 0
//! cargo run --release -p tcp13-time --example time-floor -- client --port 40123 --queries 100000
//! 100000 queries in 1.912 s: 52301 queries/s
//! RTT min / mean / p99: 14.2 / 19.0 / 40.3 µs
//! ```
//!
//! `--nagle --split` shows what `TCP_NODELAY` is for: the client then writes `TI` and `ME`
//! separately with Nagle's algorithm on, and each query waits for the server's delayed ACK.

use anyhow::{bail, Context};
use clap::{Parser, Subcommand};
use sockcore::net::{self, Transport};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

/// The least a TCP 1.3 TIME query can cost: a 4-byte request, a 26-byte answer, nothing else.
#[derive(Parser, Debug)]
struct Args {
    #[command(subcommand)]
    role: Role,
}

#[derive(Subcommand, Debug)]
enum Role {
    /// Answer every 4-byte request with 26 fixed bytes, one client at a time, forever.
    Server {
        #[arg(long, default_value = net::DEFAULT_HOST)]
        host: String,
        #[arg(long, default_value_t = 6780)]
        port: u16,
    },
    /// Send QUERIES requests and print the total time and the RTTs.
    Client {
        #[arg(long, default_value = net::DEFAULT_HOST)]
        host: String,
        #[arg(long, default_value_t = 6780)]
        port: u16,
        #[arg(long, default_value_t = 100_000, value_parser = clap::value_parser!(u64).range(1..))]
        queries: u64,
        /// Leave Nagle's algorithm on (no TCP_NODELAY).
        #[arg(long)]
        nagle: bool,
        /// Write each request in two writes, "TI" and "ME".
        #[arg(long)]
        split: bool,
    },
}

/// The request and the answer, the sizes of TCP 1.3's.
const REQUEST: &[u8; 4] = b"TIME";
const ANSWER: &[u8; 26] = b"2026-11-22 10:15:42.123456";

fn main() -> anyhow::Result<()> {
    match Args::parse().role {
        Role::Server { host, port } => serve(&host, port),
        Role::Client {
            host,
            port,
            queries,
            nagle,
            split,
        } => query(&host, port, queries, nagle, split),
    }
}

fn serve(host: &str, port: u16) -> anyhow::Result<()> {
    let listener = net::bind_tcp(host, port)?;
    net::announce(listener.local_addr()?, Transport::Tcp);
    for stream in listener.incoming() {
        let mut stream = stream.context("accepting")?;
        stream.set_nodelay(true)?;
        let mut request = [0u8; REQUEST.len()];
        // Until the client closes (read_exact fails with UnexpectedEof).
        while stream.read_exact(&mut request).is_ok() {
            stream.write_all(ANSWER)?;
        }
    }
    Ok(())
}

fn query(host: &str, port: u16, queries: u64, nagle: bool, split: bool) -> anyhow::Result<()> {
    let mut stream = net::connect_tcp(host, port, !nagle)?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    let n = usize::try_from(queries)?;
    let mut rtts = Vec::with_capacity(n);
    let mut answer = [0u8; ANSWER.len()];
    let start = Instant::now();
    for _ in 0..n {
        let sent = Instant::now();
        exchange(&mut stream, split, &mut answer)?;
        rtts.push(sent.elapsed());
    }
    let total = start.elapsed().as_secs_f64();
    println!(
        "{n} queries in {total:.3} s: {:.0} queries/s",
        n as f64 / total
    );
    rtts.sort_unstable();
    let micros = |d: &Duration| d.as_secs_f64() * 1e6;
    let mean = rtts.iter().map(micros).sum::<f64>() / n as f64;
    let p99 = rtts[(n * 99).div_ceil(100) - 1];
    println!(
        "RTT min / mean / p99: {:.1} / {mean:.1} / {:.1} µs",
        micros(&rtts[0]),
        micros(&p99)
    );
    Ok(())
}

fn exchange(stream: &mut TcpStream, split: bool, answer: &mut [u8]) -> anyhow::Result<()> {
    if split {
        stream.write_all(&REQUEST[..2])?;
        stream.write_all(&REQUEST[2..])?;
    } else {
        stream.write_all(REQUEST)?;
    }
    stream.read_exact(answer).context("reading the answer")?;
    if answer != ANSWER {
        bail!("unexpected answer {:?}", String::from_utf8_lossy(answer));
    }
    Ok(())
}
