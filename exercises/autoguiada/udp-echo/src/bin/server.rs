//! Práctica Autoguiada 1.2 and 1.5, the UDP echo server: sends every non-empty datagram back
//! to whoever sent it, with the handout's consignas as options.
//!
//! Dialogue, per datagram (plain text, no header: the handout's Python client works against it):
//!
//! ```text
//! client                         server
//!   "TyR: Echo sobre UDP"  ──▶    Conexion desde: 127.0.0.1:50001
//!                          ◀──    "TyR: Echo sobre UDP"
//! ```
//!
//! Run it in one terminal, then the client in another:
//!
//! ```text
//! cargo run -p udp-echo --bin server
//! cargo run -p udp-echo --bin client
//! ```
//!
//! The server prints `listening on 127.0.0.1:3500 (udp)` on stderr, then on stdout
//! `Socket creado, escuchando en 127.0.0.1:3500`, and `Esperando clientes...` /
//! `Conexion desde: 127.0.0.1:50001` for each datagram.
//!
//! Caveat: UDP has no connection, so "Conexion desde" is one datagram, and its source
//! address is whatever the sender wrote in it: `--allow` (1.5.2) filters honest mistakes, it
//! does not authenticate anyone.

use anyhow::Context;
use clap::Parser;
use sockcore::cli::input;
use sockcore::datagram::{self, recv_datagram};
use sockcore::net::{self, Transport};
use std::io;
use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::process::{Child, Command, ExitCode, ExitStatus, Stdio};
use std::thread;
use std::time::{Duration, Instant};
use udp_echo::{exec_words, parse_buffer, LONG_MENSAJE, REFUSED_PREFIX, SHUTDOWN, SHUTDOWN_REPLY};

/// Práctica Autoguiada 1.2 (UDP echo server), with the consignas of 1.5: echoes every
/// non-empty datagram to its sender. Messages: `/shutdown` stops the server (1.5.5) and
/// `/exec PROGRAM ARGS...` runs a program and replies with its exit status (1.5.6); both only
/// from allowed addresses (--allow; without it, only from this machine).
#[derive(Parser, Debug)]
#[command(version)]
struct Args {
    /// Address to listen on (the handout's HOST; 0.0.0.0 or :: to accept other machines).
    #[arg(long, default_value = net::DEFAULT_HOST)]
    host: String,
    /// Port to listen on (the handout's PORT; 0: let the OS choose).
    #[arg(long, default_value_t = 3500)]
    port: u16,
    /// 1.5.2: accept datagrams only from this IP address (repeat for several); others are
    /// ignored and logged on stderr. An IPv4 address also matches its IPv6-mapped form.
    #[arg(long = "allow", value_name = "IP")]
    allow: Vec<IpAddr>,
    /// 1.5.3: the receive buffer in bytes (the handout's LONG_MENSAJE); a larger datagram is
    /// truncated, and the server says so on stderr.
    #[arg(long, value_name = "BYTES", default_value_t = LONG_MENSAJE, value_parser = parse_buffer)]
    buffer: usize,
    /// 1.5.4: chat: print each message ("Recibi: ...") and send back what the operator types
    /// ("Respuesta: ") instead of the echo.
    #[arg(long)]
    chat: bool,
    /// 1.5.6: obey `/exec PROGRAM ARGS...` from allowed addresses (off by default: it lets a
    /// client run programs as the user running this server).
    #[arg(long)]
    allow_exec: bool,
    /// 1.5.6: a program still running after this many seconds is killed.
    #[arg(long, value_name = "SECONDS", default_value_t = EXEC_TIME_LIMIT.as_secs(),
          value_parser = clap::value_parser!(u64).range(1..))]
    exec_time_limit: u64,
}

/// 1.5.6: default time limit for a program run by `/exec`. The server answers nobody while
/// it waits, so the limit keeps one command from stalling every client.
const EXEC_TIME_LIMIT: Duration = Duration::from_secs(10);

/// How often the server checks whether an `/exec` program has finished: std has no
/// "wait with a timeout" for a child process.
const EXEC_POLL: Duration = Duration::from_millis(10);

fn main() -> ExitCode {
    sockcore::cli::report(run(Args::parse()))
}

fn run(args: Args) -> anyhow::Result<()> {
    // Python: s = socket.socket(AF_INET, SOCK_DGRAM); s.bind((HOST, PORT))
    let s = net::bind_udp(&args.host, args.port)?;
    let local = s.local_addr()?;
    net::announce(local, Transport::Udp);
    // Python prints its PORT constant; we print the bound port (the OS's choice for --port 0).
    println!(
        "Socket creado, escuchando en {}:{}",
        args.host,
        local.port()
    );
    serve(&s, &args)
}

/// The handout's `while True` loop: one datagram at a time. Returns when a `/shutdown`
/// from an allowed address arrives.
///
/// # Errors
/// An error of the socket itself, or (in chat mode) standard input closed.
fn serve(s: &UdpSocket, args: &Args) -> anyhow::Result<()> {
    let policy = Policy::new(&args.allow);
    loop {
        println!("Esperando clientes...");
        // Python: data, address = s.recvfrom(LONG_MENSAJE)  -- which truncates silently on
        // Linux and raises on Windows; recv_datagram says whether it truncated, on every OS.
        let d = match recv_datagram(s, args.buffer) {
            Ok(d) => d,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            // Windows: an earlier reply went to a client that had gone (ICMP port
            // unreachable); that is the client's business, not a failure of this socket.
            Err(e) if datagram::is_unreachable(&e) => {
                eprintln!("server: a client we answered has gone ({e})");
                continue;
            }
            Err(e) => return Err(e).context("receiving a datagram"),
        };
        let address = d.from;
        println!("Conexion desde: {}:{}", address.ip(), address.port());
        if d.truncated {
            eprintln!(
                "server: the datagram from {address} was larger than --buffer {} bytes: truncated, the rest is lost",
                args.buffer
            );
        }
        // 1.5.2: ignore datagrams from addresses not in --allow.
        if !policy.allows(address.ip()) {
            eprintln!(
                "server: ignoring {} bytes from {address}: not in --allow",
                d.data.len()
            );
            continue;
        }
        // Python: if data: s.sendto(data, address)
        if d.data.is_empty() {
            continue;
        }
        let text = String::from_utf8_lossy(&d.data);
        let reply = if text == SHUTDOWN {
            match policy.refuses_control(address.ip()) {
                Some(why) => format!("{REFUSED_PREFIX}{SHUTDOWN} {why}"),
                None => {
                    send_reply(s, SHUTDOWN_REPLY.as_bytes(), address);
                    println!("Servidor terminado");
                    return Ok(());
                }
            }
        } else if let Some(words) = exec_words(&text) {
            if !args.allow_exec {
                format!("{REFUSED_PREFIX}/exec is off (start the server with --allow-exec)")
            } else if let Some(why) = policy.refuses_control(address.ip()) {
                format!("{REFUSED_PREFIX}/exec {why}")
            } else {
                run_program(&words, Duration::from_secs(args.exec_time_limit))
            }
        } else if args.chat {
            // 1.5.4: the handout's commented-out `print ('Recibi: %s' % data.decode())`,
            // then the operator's answer instead of the echo.
            println!("Recibi: {text}");
            input("Respuesta: ").context("reading the operator's answer")?
        } else {
            send_reply(s, &d.data, address);
            continue;
        };
        send_reply(s, reply.as_bytes(), address);
    }
}

/// Sends one datagram; a failure concerns that client only, so it is logged, not returned.
fn send_reply(s: &UdpSocket, data: &[u8], to: SocketAddr) {
    if let Err(e) = s.send_to(data, to) {
        eprintln!("server: cannot send {} bytes to {to}: {e}", data.len());
    }
}

/// Who may do what (1.5.2, 1.5.5, 1.5.6).
#[derive(Debug)]
struct Policy {
    /// The `--allow` addresses, in canonical form (IPv4-mapped IPv6 as IPv4).
    allow: Vec<IpAddr>,
}

impl Policy {
    fn new(allow: &[IpAddr]) -> Policy {
        Policy {
            allow: allow.iter().map(IpAddr::to_canonical).collect(),
        }
    }

    /// Whether datagrams from `ip` are served: everyone when there is no `--allow`.
    /// On a dual-stack socket an IPv4 client appears as `::ffff:a.b.c.d`; it matches `a.b.c.d`.
    fn allows(&self, ip: IpAddr) -> bool {
        self.allow.is_empty() || self.allow.contains(&ip.to_canonical())
    }

    /// Why `ip` may not stop the server or run programs, or `None` if it may: with
    /// `--allow`, the allowed addresses may; without it, only this machine (loopback).
    fn refuses_control(&self, ip: IpAddr) -> Option<String> {
        let ip = ip.to_canonical();
        if self.allow.is_empty() && !ip.is_loopback() {
            Some(format!(
                "is only accepted from this machine, or from --allow addresses ({ip} is neither)"
            ))
        } else {
            None
        }
    }
}

/// 1.5.6: runs `words[0]` with arguments `words[1..]` (never through a shell), waits at most
/// `limit`, and describes how it ended. Python's `os.system(cmd)` runs `cmd` through the
/// shell, so a client could send `ls; rm -rf ~`; here `;` would be a plain argument.
///
/// The program's output goes to the server's terminal, as with `os.system`; the client gets
/// only the exit status. Caveat: killing the program at the limit does not kill programs it
/// started itself.
fn run_program(words: &[&str], limit: Duration) -> String {
    let Some((program, arguments)) = words.split_first() else {
        return format!("{REFUSED_PREFIX}/exec needs a program name");
    };
    println!("Ejecutando: {}", words.join(" "));
    let reply = match Command::new(program)
        .args(arguments)
        .stdin(Stdio::null())
        .spawn()
    {
        Ok(child) => wait_with_limit(child, program, limit),
        Err(e) => format!("cannot run {program}: {e}"),
    };
    println!("Resultado: {reply}");
    reply
}

/// Waits for `child` at most `limit`, killing it then; describes how it ended.
fn wait_with_limit(mut child: Child, program: &str, limit: Duration) -> String {
    let deadline = Instant::now() + limit;
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return describe(status),
            Ok(None) if Instant::now() >= deadline => {
                let _ = child.kill();
                let _ = child.wait();
                return format!("killed after the {} s time limit", limit.as_secs());
            }
            Ok(None) => thread::sleep(EXEC_POLL),
            Err(e) => return format!("cannot wait for {program}: {e}"),
        }
    }
}

/// `exit status N`, or on Unix `killed by signal N` for a program ended by a signal.
fn describe(status: ExitStatus) -> String {
    if let Some(code) = status.code() {
        return format!("exit status {code}");
    }
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        if let Some(signal) = status.signal() {
            return format!("killed by signal {signal}");
        }
    }
    format!("ended without an exit status ({status})")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("test literal")
    }

    /// Without --allow everyone is served; with it, only the listed addresses, in either
    /// IPv4 or IPv4-mapped IPv6 form.
    #[test]
    fn allow_list_matches_ipv4_and_its_mapped_form() {
        assert!(Policy::new(&[]).allows(ip("203.0.113.9")));
        let p = Policy::new(&[ip("127.0.0.1"), ip("::ffff:10.0.0.7")]);
        assert!(p.allows(ip("127.0.0.1")));
        assert!(p.allows(ip("::ffff:127.0.0.1")));
        assert!(p.allows(ip("10.0.0.7")));
        assert!(!p.allows(ip("10.0.0.8")));
        assert!(!p.allows(ip("::1")));
    }

    /// Control messages: without --allow only loopback; with it, the allowed addresses.
    #[test]
    fn control_needs_loopback_or_allow_list() {
        let open = Policy::new(&[]);
        assert!(open.refuses_control(ip("127.0.0.1")).is_none());
        assert!(open.refuses_control(ip("::1")).is_none());
        assert!(open.refuses_control(ip("::ffff:127.0.0.1")).is_none());
        assert!(open.refuses_control(ip("192.168.1.20")).is_some());
        let listed = Policy::new(&[ip("192.168.1.20")]);
        assert!(listed.refuses_control(ip("192.168.1.20")).is_none());
    }
}
