//! End-to-end tests of TCP 1.3: this package's `server` and `client` on `--port 0` (with a
//! small `--queries`), raw sockets for the exact bytes and for what our client never sends,
//! the handout's Python server and a handout-style Python client against ours (python3 -u),
//! and our local time against Python's for many time zones.

use sockcore::clock::{self, CivilTime};
use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use testkit::{bin, Proc, Server, WAIT};

fn python_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/python")
}

fn start_server() -> Server {
    Server::start(&bin!("server"), &[], &python_dir())
}

fn client(port: u16, args: &[&str]) -> assert_cmd::assert::Assert {
    testkit::client(&bin!("client"), &python_dir())
        .args(["--port", &port.to_string()])
        .args(args)
        .assert()
}

fn stdout_of(a: &assert_cmd::assert::Assert) -> String {
    String::from_utf8_lossy(&a.get_output().stdout).into_owned()
}

fn stderr_of(a: &assert_cmd::assert::Assert) -> String {
    String::from_utf8_lossy(&a.get_output().stderr).into_owned()
}

/// The server's transcript with every client port replaced by PORT.
fn transcript(server: &Proc) -> String {
    server
        .stdout()
        .lines()
        .map(|l| {
            if l.starts_with("Connection received from client ('127.0.0.1', ") {
                "Connection received from client ('127.0.0.1', PORT)\n".to_string()
            } else {
                format!("{l}\n")
            }
        })
        .collect()
}

fn raw(addr: SocketAddr) -> TcpStream {
    let s = TcpStream::connect(addr).expect("connecting");
    s.set_read_timeout(Some(WAIT)).expect("read timeout");
    s
}

/// Reads exactly `n` bytes as text.
fn read_text(s: &mut TcpStream, n: usize) -> String {
    let mut buf = vec![0u8; n];
    s.read_exact(&mut buf).expect("reading the answer");
    String::from_utf8(buf).expect("UTF-8 answer")
}

/// The number after `prefix` on the line that starts with it, up to the next space.
fn figure(out: &str, prefix: &str) -> f64 {
    let line = out
        .lines()
        .find_map(|l| l.strip_prefix(prefix))
        .unwrap_or_else(|| panic!("no line starting {prefix:?} in\n{out}"));
    let number = line
        .split(' ')
        .next()
        .expect("split gives at least one piece");
    number
        .parse()
        .unwrap_or_else(|e| panic!("{number:?} is not a number: {e}"))
}

/// The client reports the handout's figures (total time, the average difference) and
/// Cristian's estimate with RTT min/mean/p99; EXIT then ends the server, whose transcript is
/// the handout's.
#[test]
fn client_reports_figures_and_exit_ends_the_server() {
    let mut server = start_server();
    let a = client(server.addr().port(), &["--queries", "200", "--exit"]).success();
    let out = stdout_of(&a);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 6, "{out}");
    assert_eq!(lines[0], format!("Connected to {}", server.addr()));
    assert!(lines[1].starts_with("200 TIME queries in "), "{out}");
    assert!(lines[1].ends_with(" queries/s"), "{out}");
    assert!(lines[2].starts_with("Average difference, server - local: "));
    assert!(lines[3].starts_with("Cristian's offset estimate, server + RTT/2 - local: "));
    assert!(lines[4].starts_with("RTT min / mean / p99: "), "{out}");
    assert_eq!(lines[5], "Server> Bye");
    let rtt: Vec<f64> = lines[4]
        .trim_start_matches("RTT min / mean / p99: ")
        .trim_end_matches(" µs")
        .split(" / ")
        .map(|x| x.parse().unwrap())
        .collect();
    assert!(rtt[0] <= rtt[1] && rtt[0] <= rtt[2], "{rtt:?}");
    // One clock on one machine: any difference beyond a minute would be a time zone error.
    let difference = figure(&out, "Average difference, server - local: ");
    assert!(difference.abs() < 60.0, "{difference} s");
    assert!(server.wait_exit().success(), "{}", server.stderr());
    assert_eq!(
        transcript(&server),
        "Waiting for clients...\n\
         Connection received from client ('127.0.0.1', PORT)\n\
         Received EXIT command from client\n"
    );
}

/// TIME is answered with exactly 26 bytes, the local time as Python's datetime.now()
/// prints it; EXIT with exactly "Bye", then the server closes and ends.
#[test]
fn wire_answers_are_26_bytes_of_local_time_and_bye() {
    let mut server = start_server();
    let mut c = raw(server.addr());
    c.write_all(b"TIME").unwrap();
    let answer = read_text(&mut c, clock::TIME_LEN);
    let server_time = CivilTime::parse(&answer).expect("a time");
    assert_eq!(answer, server_time.to_string());
    // Same machine, same clock: a zone mistake would be off by 15 minutes at least.
    let local = clock::now();
    assert!((local.as_micros() - server_time.as_micros()).abs() < 60_000_000);
    c.write_all(b"EXIT").unwrap();
    let mut rest = Vec::new();
    c.read_to_end(&mut rest).unwrap();
    assert_eq!(rest, b"Bye");
    assert!(server.wait_exit().success());
}

/// Two commands glued in one segment, and one split over two writes, are three answers.
#[test]
fn glued_and_split_commands_are_each_answered() {
    let server = start_server();
    let mut c = raw(server.addr());
    c.set_nodelay(true).unwrap();
    c.write_all(b"TIMETIME").unwrap();
    let two = read_text(&mut c, 2 * clock::TIME_LEN);
    assert!(CivilTime::parse(&two[..26]).is_some() && CivilTime::parse(&two[26..]).is_some());
    c.write_all(b"TI").unwrap();
    c.write_all(b"ME").unwrap();
    assert!(CivilTime::parse(&read_text(&mut c, clock::TIME_LEN)).is_some());
}

/// A client that leaves between commands ends its session quietly ("Waiting for
/// clients..." again, no "Lost connection"); the handout's server would spin on recv()
/// returning b'' forever instead.
#[test]
fn client_leaving_between_commands_ends_its_session_quietly() {
    let mut server = start_server();
    let mut c = raw(server.addr());
    c.write_all(b"TIME").unwrap();
    read_text(&mut c, clock::TIME_LEN);
    c.shutdown(Shutdown::Write).unwrap();
    let mut rest = Vec::new();
    // The server closes only after it has printed everything about this client; stopping it
    // then and waiting for its output to end loses nothing.
    c.read_to_end(&mut rest).unwrap();
    assert_eq!(rest, b"");
    server.kill();
    server.wait_exit();
    assert_eq!(
        transcript(&server),
        "Waiting for clients...\n\
         Connection received from client ('127.0.0.1', PORT)\n\
         Waiting for clients...\n"
    );
}

/// An unknown command and a client that leaves mid-command are dropped ("Lost connection",
/// the reason on stderr); the server keeps serving.
#[test]
fn bad_clients_are_dropped_and_the_server_goes_on() {
    let mut server = start_server();
    let mut c = raw(server.addr());
    c.write_all(b"HELLO").unwrap();
    let mut rest = Vec::new();
    let _ = c.read_to_end(&mut rest);
    assert_eq!(rest, b"");
    server.wait_stderr("receiving a command: unexpected bytes \"HELLO\"");

    let mut c = raw(server.addr());
    c.write_all(b"TI").unwrap();
    drop(c);
    server.wait_stderr("peer closed in the middle of a message, after \"TI\"");

    client(server.addr().port(), &["--queries", "5"]).success();
    server.kill();
    server.wait_exit();
    assert_eq!(server.stdout().matches("Lost connection").count(), 2);
}

/// Several clients are served at once: one stays connected while others query.
#[test]
fn clients_are_served_concurrently() {
    let server = start_server();
    let mut idle = raw(server.addr());
    idle.write_all(b"TIME").unwrap();
    read_text(&mut idle, clock::TIME_LEN);
    for _ in 0..3 {
        client(server.addr().port(), &["--queries", "50"]).success();
    }
}

/// The handout's kind of Python client works with our server.
#[test]
fn python_client_against_our_server() {
    let mut server = start_server();
    let port = server.addr().port().to_string();
    let mut py = Proc::spawn(
        Path::new("python3"),
        &["-u", "client.py", "127.0.0.1", &port, "300", "exit"],
        &python_dir(),
    );
    assert!(py.wait_exit().success(), "{}", py.stderr());
    let out = py.stdout();
    assert!(out.starts_with("300 TIME queries in "), "{out}");
    assert!(
        out.contains("\nAverage difference, server - local: "),
        "{out}"
    );
    assert!(out.ends_with("\nServer> Bye\n"), "{out}");
    let difference = figure(&out, "Average difference, server - local: ");
    assert!(difference.abs() < 60.0, "{difference} s");
    assert!(server.wait_exit().success());
}

/// Our client works with the handout's Python server, which prints its own transcript.
#[test]
fn our_client_against_python_server() {
    let mut py = Proc::spawn(
        Path::new("python3"),
        &["-u", "server.py", "127.0.0.1", "0"],
        &python_dir(),
    );
    let addr = testkit::parse_readiness(&py.wait_stderr("listening on ")).expect("readiness");
    let a = client(addr.port(), &["--queries", "300", "--exit"]).success();
    let out = stdout_of(&a);
    assert!(out.contains("\n300 TIME queries in "), "{out}");
    assert!(out.ends_with("\nServer> Bye\n"), "{out}");
    // Python's clock and zone against ours, on one machine.
    let difference = figure(&out, "Average difference, server - local: ");
    assert!(difference.abs() < 60.0, "{difference} s");
    assert!(py.wait_exit().success(), "{}", py.stderr());
    assert_eq!(
        transcript(&py),
        "Waiting for clients...\n\
         Connection received from client ('127.0.0.1', PORT)\n\
         Received EXIT command from client\n"
    );
}

/// Python's str(datetime) without microseconds (19 bytes, when they are 0) is accepted as
/// an answer; something that is not a time is an error that quotes it.
#[test]
fn nineteen_byte_python_time_is_accepted_and_garbage_is_not() {
    for (answer, ok) in [("2026-11-22 10:00:00", true), ("Hello Client", false)] {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let fake = std::thread::spawn(move || {
            let (mut c, _) = listener.accept().unwrap();
            c.set_read_timeout(Some(WAIT)).unwrap();
            let mut request = [0u8; 4];
            c.read_exact(&mut request).unwrap();
            assert_eq!(&request, b"TIME");
            c.write_all(answer.as_bytes()).unwrap();
            // Keep the connection open, as the handout's server does, until the client leaves.
            let _ = c.read_to_end(&mut Vec::new());
        });
        let a = client(port, &["--queries", "1"]);
        if ok {
            let out = stdout_of(&a.success());
            assert!(out.contains("\n1 TIME queries in "), "{out}");
            assert!(
                out.ends_with(
                    "\nAnswers without microseconds (Python's str(datetime) when they are 0): 1\n"
                ),
                "{out}"
            );
        } else {
            let err = stderr_of(&a.code(1));
            assert!(err.contains("unexpected bytes \"Hello Client\""), "{err}");
        }
        fake.join().unwrap();
    }
}

/// `--help` names the handout section; a bad flag or `--queries 0` is a usage error (exit 2).
#[test]
fn help_names_the_handout_and_bad_usage_exits_2() {
    for b in [bin!("client"), bin!("server")] {
        let a = testkit::client(&b, &python_dir())
            .arg("--help")
            .assert()
            .success();
        assert!(stdout_of(&a).contains("TCP 1.3 (Práctica TCP)"));
        testkit::client(&b, &python_dir())
            .arg("--bogus")
            .assert()
            .code(2);
    }
    testkit::client(&bin!("client"), &python_dir())
        .args(["--queries", "0"])
        .assert()
        .code(2);
}

/// Our local time agrees with Python's datetime.fromtimestamp() (C's localtime()) for zone
/// files, POSIX rules, daylight-saving switches, half-hour zones, the far past and future.
#[cfg(unix)]
#[test]
fn local_time_agrees_with_python_in_many_zones() {
    use sockcore::clock::Zone;
    use std::process::Command;
    use std::time::{Duration, UNIX_EPOCH};
    let at = |y, mo, d, h, mi, s| {
        let t = CivilTime {
            year: y,
            month: mo,
            day: d,
            hour: h,
            minute: mi,
            second: s,
            micro: 0,
        };
        t.as_micros() / 1_000_000
    };
    let instants: Vec<i64> = vec![
        0,
        1_000_000_000,
        at(2024, 3, 31, 0, 59, 59),
        at(2024, 3, 31, 1, 0, 0),
        at(2024, 10, 27, 0, 59, 59),
        at(2024, 10, 27, 1, 0, 0),
        at(2024, 3, 10, 6, 59, 59),
        at(2024, 3, 10, 7, 0, 0),
        at(2024, 4, 6, 15, 30, 0),
        at(2024, 10, 5, 15, 30, 0),
        at(2026, 11, 22, 12, 0, 0),
        at(2038, 1, 19, 3, 14, 8),
        at(2061, 7, 1, 12, 0, 0),
        at(2099, 12, 31, 23, 59, 59),
        at(1950, 6, 1, 0, 0, 0),
    ];
    let zones = [
        "UTC",
        "Europe/Madrid",
        "Atlantic/Canary",
        "America/New_York",
        "America/Sao_Paulo",
        "Australia/Lord_Howe",
        "Asia/Kathmandu",
        "Pacific/Chatham",
        "CET-1CEST,M3.5.0,M10.5.0/3",
        "<+0330>-3:30",
        "",
    ];
    let list = instants
        .iter()
        .map(i64::to_string)
        .collect::<Vec<_>>()
        .join(",");
    let script = format!(
        "import datetime, time\ntime.tzset()\nfor t in [{list}]:\n    \
         print(datetime.datetime.fromtimestamp(t).isoformat(sep=' ', timespec='microseconds'))"
    );
    for tz in zones {
        if !tz.is_empty()
            && !tz.contains(',')
            && !tz.starts_with('<')
            && !Path::new("/usr/share/zoneinfo").join(tz).exists()
        {
            eprintln!("no zone file for {tz}; skipped");
            continue;
        }
        let out = Command::new("python3")
            .args(["-c", &script])
            .env("TZ", tz)
            .output()
            .expect("running python3");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let python: Vec<String> = String::from_utf8(out.stdout)
            .unwrap()
            .lines()
            .map(str::to_string)
            .collect();
        let zone = Zone::from_tz(Some(tz));
        let ours: Vec<String> = instants
            .iter()
            .map(|&t| {
                let when = if t >= 0 {
                    UNIX_EPOCH + Duration::from_secs(t as u64)
                } else {
                    UNIX_EPOCH - Duration::from_secs(t.unsigned_abs())
                };
                zone.civil(when).to_string()
            })
            .collect();
        // glibc computes a POSIX rule's switches for any year before 1970 as if it were
        // 1970 (tzset.c, compute_change), so for rules only instants from 1970 on compare.
        let rule_only = tz.contains(',') || tz.starts_with('<');
        let compared = |v: &[String]| -> Vec<String> {
            v.iter()
                .zip(&instants)
                .filter(|(_, &t)| !rule_only || t >= 0)
                .map(|(s, _)| s.clone())
                .collect()
        };
        assert_eq!(
            compared(&ours),
            compared(&python),
            "TZ={tz:?} ({})",
            zone.source()
        );
    }
}
