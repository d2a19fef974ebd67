//! Load for the chat rooms (`scripts/bench.sh chatroom`): N members join a running room
//! (ej8-chatroom-tcp or ej8-chatroom-udp), each sends M messages, and every delivery to
//! every other member is timed.
//!
//! ```text
//! chat-load tcp --port P --clients 50 --messages 100
//! chat-load udp --port P --clients 50 --messages 100
//! | tcp | 50 | 100 | 245000 | 1.52 | 161184 | 0.62 | 2.91 | 7.80 |
//! ```
//!
//! Each member is a thread (plus, over UDP, its channel endpoint's thread) that speaks the
//! room's protocol as the real client does: it gives a nickname (`b000`, `b001`, ...), waits
//! until every member has joined, then sends its messages one at a time, each once the
//! room has relayed the previous one back to it (a closed loop: the members type as fast as
//! the room answers, which is the room's capacity, not a flood). Every message carries the
//! time it was sent, on one clock shared by all members (one process), so each delivery's
//! latency is the time from its sender's `send` to its receiver's read. Deliveries to the
//! sender itself pace it and are not counted. The output is one markdown table row:
//! transport, members, messages each, deliveries to others, seconds (first send to last
//! delivery), deliveries per second, and the latency's p50, p99 and maximum in milliseconds.
//!
//! Bounded: every read has a timeout, and the whole run gives up after `--deadline` seconds.

use anyhow::{bail, Context};
use clap::{Parser, ValueEnum};
use sockcore::lines::{send_line, LineReader};
use sockcore::net;
use sockcore::udp_channel::{ChannelConfig, ChannelId, Endpoint, Event};
use std::process::ExitCode;
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::{Duration, Instant};

/// Load for scripts/bench.sh chatroom: N members of a running chat room each send M
/// messages; prints a markdown row with deliveries per second and delivery latency.
#[derive(Parser, Debug)]
struct Args {
    /// The room's transport.
    transport: Transport,
    /// Server address.
    #[arg(long, default_value = net::DEFAULT_HOST)]
    host: String,
    /// Server port.
    #[arg(long)]
    port: u16,
    /// Members.
    #[arg(long, default_value_t = 50)]
    clients: usize,
    /// Messages each member sends.
    #[arg(long, default_value_t = 100)]
    messages: usize,
    /// Give up after this many seconds.
    #[arg(long, default_value_t = 300)]
    deadline: u64,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum Transport {
    Tcp,
    Udp,
}

/// The room's words (`ej8_chatroom_tcp`/`ej8_chatroom_udp`; benchkit depends on neither).
const ASK_NICK: &str = "intr_apodo";
const JOINED: &str = "Te has unido al chat";
const SALIR: &str = "salir";

/// How long one read waits before the deadline is looked at again.
const READ_TIMEOUT: Duration = Duration::from_millis(500);

fn main() -> ExitCode {
    sockcore::cli::report(run(Args::parse()))
}

/// What one member measured.
#[derive(Debug, Default)]
struct Tally {
    /// Latency of each delivery of another member's message, in microseconds.
    latencies_us: Vec<u32>,
    /// When its last delivery arrived.
    last: Option<Instant>,
}

fn run(args: Args) -> anyhow::Result<()> {
    let epoch = Instant::now();
    let deadline = epoch + Duration::from_secs(args.deadline);
    let ready = Arc::new(Barrier::new(args.clients + 1));
    let go = Arc::new(Barrier::new(args.clients + 1));
    let mut members = Vec::new();
    for i in 0..args.clients {
        let (ready, go) = (Arc::clone(&ready), Arc::clone(&go));
        let (host, port, transport) = (args.host.clone(), args.port, args.transport);
        let m = Member {
            nick: format!("b{i:03}"),
            clients: args.clients,
            messages: args.messages,
            epoch,
            deadline,
        };
        members.push(thread::spawn(move || match transport {
            Transport::Tcp => m.tcp(&host, port, &ready, &go),
            Transport::Udp => m.udp(&host, port, &ready, &go),
        }));
    }
    ready.wait();
    let start = Instant::now();
    go.wait();
    let mut all = Vec::new();
    let mut last = start;
    for (i, t) in members.into_iter().enumerate() {
        let tally = t
            .join()
            .map_err(|_| anyhow::anyhow!("member {i} panicked"))?
            .with_context(|| format!("member b{i:03}"))?;
        all.extend(tally.latencies_us);
        last = last.max(tally.last.unwrap_or(start));
    }
    let want = args.clients * (args.clients - 1) * args.messages;
    if all.len() != want {
        bail!("{} deliveries, expected {want}", all.len());
    }
    all.sort_unstable();
    let secs = last.duration_since(start).as_secs_f64();
    let pct = |p: f64| f64::from(all[((all.len() - 1) as f64 * p).round() as usize]) / 1000.0;
    println!(
        "| {} | {} | {} | {} | {:.2} | {:.0} | {:.2} | {:.2} | {:.2} |",
        match args.transport {
            Transport::Tcp => "tcp",
            Transport::Udp => "udp",
        },
        args.clients,
        args.messages,
        all.len(),
        secs,
        all.len() as f64 / secs,
        pct(0.50),
        pct(0.99),
        pct(1.0),
    );
    Ok(())
}

/// One member's part of the load.
#[derive(Debug)]
struct Member {
    nick: String,
    clients: usize,
    messages: usize,
    epoch: Instant,
    deadline: Instant,
}

/// Where a received line stands: a message of the load, by whom, which, sent when.
struct Parsed<'a> {
    from: &'a str,
    seq: usize,
    sent_ns: u64,
}

fn parse(line: &str) -> Option<Parsed<'_>> {
    let (from, rest) = line.split_once(": ")?;
    let (seq, sent) = rest.split_once(' ')?;
    Some(Parsed {
        from,
        seq: seq.parse().ok()?,
        sent_ns: sent.parse().ok()?,
    })
}

impl Member {
    fn text(&self, seq: usize) -> String {
        format!("{seq} {}", self.epoch.elapsed().as_nanos())
    }

    fn expected(&self) -> usize {
        (self.clients - 1) * self.messages
    }

    /// Handles one received line; returns true when it is our own message `seq` coming back.
    fn take(&self, line: &str, waiting_for: usize, tally: &mut Tally) -> bool {
        let Some(p) = parse(line) else {
            return false; // joins and leaves
        };
        if p.from == self.nick {
            return p.seq == waiting_for;
        }
        let now = self.epoch.elapsed().as_nanos() as u64;
        let us = now.saturating_sub(p.sent_ns) / 1000;
        tally
            .latencies_us
            .push(u32::try_from(us).unwrap_or(u32::MAX));
        tally.last = Some(Instant::now());
        false
    }

    fn check_deadline(&self) -> anyhow::Result<()> {
        if Instant::now() >= self.deadline {
            bail!("deadline reached");
        }
        Ok(())
    }

    fn tcp(&self, host: &str, port: u16, ready: &Barrier, go: &Barrier) -> anyhow::Result<Tally> {
        let s = net::connect_tcp(host, port, true)?;
        s.set_read_timeout(Some(READ_TIMEOUT))?;
        let mut tx = s.try_clone()?;
        let mut rx = LineReader::new(s, 64 * 1024);
        let mut recv = |m: &Member| -> anyhow::Result<String> {
            loop {
                m.check_deadline()?;
                match rx.recv_line() {
                    Ok(Some(l)) => return Ok(l),
                    Ok(None) => bail!("the server closed the connection"),
                    Err(e) if net::is_timeout(&e) => continue,
                    Err(e) => return Err(e.into()),
                }
            }
        };
        loop {
            let l = recv(self)?;
            if l == ASK_NICK {
                send_line(&mut tx, &self.nick)?;
            } else if l == JOINED {
                break;
            }
        }
        ready.wait();
        go.wait();
        let mut tally = Tally::default();
        for seq in 0..self.messages {
            send_line(&mut tx, &self.text(seq))?;
            while !self.take(&recv(self)?, seq, &mut tally) {}
        }
        while tally.latencies_us.len() < self.expected() {
            let l = recv(self)?;
            self.take(&l, usize::MAX, &mut tally);
        }
        let _ = send_line(&mut tx, SALIR);
        Ok(tally)
    }

    fn udp(&self, host: &str, port: u16, ready: &Barrier, go: &Barrier) -> anyhow::Result<Tally> {
        let server = net::resolve(host, port)?[0];
        let (ep, ch) = Endpoint::connect(server, ChannelConfig::default())?;
        let recv = |m: &Member, ep: &Endpoint, ch: ChannelId| -> anyhow::Result<String> {
            loop {
                m.check_deadline()?;
                match ep.recv_event(READ_TIMEOUT)? {
                    Some(Event::Message(_, msg)) => return Ok(String::from_utf8(msg)?),
                    Some(Event::Closed(c, why)) if c == ch => bail!("channel closed: {why}"),
                    _ => continue,
                }
            }
        };
        ep.send(ch, self.nick.as_bytes())?;
        loop {
            let l = recv(self, &ep, ch)?;
            if l == ASK_NICK {
                bail!("nickname {} refused", self.nick);
            } else if l == JOINED {
                break;
            }
        }
        ready.wait();
        go.wait();
        let mut tally = Tally::default();
        for seq in 0..self.messages {
            ep.send(ch, self.text(seq).as_bytes())?;
            while !self.take(&recv(self, &ep, ch)?, seq, &mut tally) {}
        }
        while tally.latencies_us.len() < self.expected() {
            let l = recv(self, &ep, ch)?;
            self.take(&l, usize::MAX, &mut tally);
        }
        let _ = ep.send(ch, SALIR.as_bytes());
        Ok(tally)
    }
}
