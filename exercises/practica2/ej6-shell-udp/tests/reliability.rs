//! Reliability tests of Ej. 6 (docs/reliability.md): the one table of hostile names in every
//! command that takes a name, properties of the command parser, seeded garbage datagrams at
//! run time, and clients and servers killed in the middle of a dialogue.

use testkit::chaos as support;

use ej6_shell_udp::{parse_command, Command};
use proptest::prelude::*;
use sockcore::udp::wire::{self, Header, Kind};
use std::fs;
use std::net::{SocketAddr, UdpSocket};
use support::{hostile_inputs, partial_files, tree, Hold, UdpGate, DIR_NAME};
use testkit::{Pair, Proc};

fn setup() -> Pair {
    testkit::pair!(&["--dir", "."])
}

/// A session driven by hand over a raw socket, for what the real client never sends.
struct Raw {
    sock: UdpSocket,
    to: SocketAddr,
    session: u32,
    exchange: u32,
}

impl Raw {
    /// A session opened with HELLO.
    fn open(to: SocketAddr, session: u32) -> Raw {
        let sock = UdpSocket::bind("127.0.0.1:0").expect("binding a raw socket");
        sock.set_read_timeout(Some(testkit::WAIT))
            .expect("read timeout");
        let mut raw = Raw {
            sock,
            to,
            session,
            exchange: 0,
        };
        assert_eq!(raw.request(b"HELLO"), "HELLO");
        raw
    }

    /// Sends REQUEST number `exchange` and returns its REPLY (an ABORT as "ABORT ...").
    fn request_at(&self, exchange: u32, msg: &[u8]) -> String {
        let h = Header::new(Kind::Request, self.session, exchange);
        self.sock
            .send_to(&wire::encode(&h, msg), self.to)
            .expect("sending a datagram");
        let mut buf = vec![0u8; wire::MAX_DATAGRAM_LEN + 1];
        loop {
            let n = self.sock.recv(&mut buf).expect("an answer in time");
            let Ok((h, p)) = wire::decode(&buf[..n]) else {
                continue;
            };
            match h.kind {
                Kind::Reply if h.exchange == exchange => {
                    return String::from_utf8_lossy(p).into_owned()
                }
                Kind::Abort => return format!("ABORT {}", String::from_utf8_lossy(p)),
                _ => {}
            }
        }
    }

    /// Sends the next request; returns the reply.
    fn request(&mut self, msg: &[u8]) -> String {
        self.exchange += 1;
        self.request_at(self.exchange, msg)
    }
}

/// The reasons the server gives for refusing a path, a name or a command line: every
/// refusal of a hostile name must be one of them, never a success.
const CLEAR_REASONS: &[&str] = &[
    "leaves the server's directory",
    "is an absolute path",
    "file name",
    "no such file",
    "no such directory",
    "unknown command",
    "usage: ",
    "is a directory; rm removes files",
    "already exists (rm it first)",
    "is not a file; mv moves files",
    "symbolic link",
    "leads outside the server directory",
    "cannot write ",
    // A path through a file ("link-out/new", where link-out is a file).
    "cannot be used: ",
];

/// Every hostile name, the symlinks leading out and a name that is a directory, in every
/// command that takes a name (`rm`, `cd`, `write`, `mv` as file and as target), get an error
/// that says why (`cd` into the directory is the one legitimate success); nothing changes
/// inside or outside the root, and no listing ever shows the outside.
#[test]
fn hostile_names_are_refused_in_every_command_and_nothing_changes() {
    let s = setup();
    let outside = testkit::tempdir().unwrap();
    fs::write(s.srv("keep.txt"), "keep").unwrap();
    let inputs = hostile_inputs(s.srv_dir.path(), outside.path());
    let (root_before, outside_before) = (tree(s.srv_dir.path()), tree(outside.path()));
    let mut raw = Raw::open(s.server.addr(), 0x0e06_1001);
    let mut tried = 0;
    for (name, _) in &inputs {
        for cmd in [
            format!("rm {name}"),
            format!("cd {name}"),
            format!("write {name} 'x'"),
            format!("write {name}/new 'x'"),
            format!("mv {name} {DIR_NAME}"),
            format!("mv keep.txt {name}"),
        ] {
            let reply = raw.request(cmd.as_bytes());
            tried += 1;
            if name == DIR_NAME && cmd.starts_with("cd ") {
                assert_eq!(reply, "OK current directory /sub");
                assert_eq!(raw.request(b"ls"), "LS\ninner.txt\n");
                assert_eq!(raw.request(b"cd .."), "OK current directory /");
                continue;
            }
            if name == DIR_NAME && cmd == format!("mv keep.txt {DIR_NAME}") {
                // Moving a file into the directory is fine: moved, then moved back.
                assert_eq!(reply, "OK moved keep.txt to /sub");
                assert_eq!(
                    raw.request(b"mv sub/keep.txt ."),
                    "OK moved sub/keep.txt to /"
                );
                continue;
            }
            if name == DIR_NAME && cmd == format!("write {DIR_NAME}/new 'x'") {
                // A file inside the directory is fine: made, then removed again.
                assert_eq!(reply, "OK wrote sub/new (1 bytes)");
                assert_eq!(raw.request(b"rm sub/new"), "OK removed sub/new");
                continue;
            }
            let why = reply
                .strip_prefix("ERROR ")
                .unwrap_or_else(|| panic!("{}: {reply:?}", testkit::hostile::show(&cmd)));
            assert!(
                CLEAR_REASONS.iter().any(|r| why.contains(r)),
                "{}: {reply:?}",
                testkit::hostile::show(&cmd)
            );
        }
        let listing = raw.request(b"ls");
        assert!(!listing.contains("secret"), "{listing}");
    }
    assert_eq!(tried, inputs.len() * 6);
    assert_eq!(tree(s.srv_dir.path()), root_before);
    assert_eq!(tree(outside.path()), outside_before);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, failure_persistence: None, ..ProptestConfig::default() })]

    /// `parse_command` never panics on any line; what it accepts re-reads the same, and
    /// every refusal is the unknown-command or a usage message.
    #[test]
    fn parse_command_accepts_only_well_formed_lines(line in prop_oneof![
        any::<String>(),
        "(ls|exit|rm|cd|write|mv)( .{0,12}){0,3}",
        "write [a-z./]{1,8} ['\"][a-z ]{0,8}['\"]?",
        "[ \t]{0,2}(mv|rm) [a-z]{1,4}[ \t]{1,3}[a-z]{0,4}[ \t]{0,2}",
    ]) {
        match parse_command(&line) {
            Ok(Command::Ls) => prop_assert_eq!(line.trim(), "ls"),
            Ok(Command::Exit) => prop_assert_eq!(line.trim(), "exit"),
            Ok(Command::Rm(name)) => {
                prop_assert_eq!(line.trim().strip_prefix("rm ").map(str::trim), Some(name));
            }
            Ok(Command::Cd(dir)) => {
                prop_assert_eq!(line.trim().strip_prefix("cd ").map(str::trim), Some(dir));
            }
            Ok(Command::Write { name, mensaje }) => {
                let args = line.trim().strip_prefix("write ").map(str::trim_start);
                let rest = args.and_then(|a| a.strip_prefix(name));
                prop_assert!(rest.is_some_and(|r| r.starts_with(' ')), "{:?}", line);
                prop_assert!(!name.contains(' ') && !name.is_empty());
                let quoted = rest.unwrap_or_default().trim();
                prop_assert_eq!(&quoted[1..quoted.len() - 1], mensaje);
            }
            Ok(Command::Mv { file, dir }) => {
                let words: Vec<&str> = line.split_whitespace().collect();
                prop_assert_eq!(words, vec!["mv", file, dir]);
            }
            Err(e) => prop_assert!(
                e.starts_with("unknown command ") || e.starts_with("usage: "),
                "{}", e
            ),
        }
    }
}

/// 1,000 seeded garbage datagrams (random bytes, cut datagrams, oversized ones, valid
/// headers with nonsense fields) never stop the server or make it panic; a session opened
/// before them and a new client are both served after them.
#[test]
fn garbage_datagrams_never_stop_the_server() {
    let s = setup();
    let mut rng = support::seeded("ej6-shell-udp garbage_datagrams_never_stop_the_server");
    let mut probe = Raw::open(s.server.addr(), 0x0e06_1002);
    assert_eq!(
        probe.request(b"write probe.txt 'x'"),
        "OK wrote probe.txt (1 bytes)"
    );
    // A repeated exchange is answered from the session's cache: a probe that runs nothing.
    let sent = support::udp_garbage(s.server.addr(), &mut rng, 1000, || {
        assert_eq!(
            probe.request_at(2, b"write probe.txt 'x'"),
            "OK wrote probe.txt (1 bytes)"
        );
    });
    assert_eq!(sent.total(), 1000);
    assert!(sent.oversized > 0 && sent.truncated > 0 && sent.nonsense > 0);
    assert_eq!(probe.request(b"rm probe.txt"), "OK removed probe.txt");
    let a = s.client(&[], "write after.txt 'sigo'\nls\n").success();
    assert!(testkit::stdout(&a).contains("after.txt"));
    let err = s.server.stderr();
    assert!(!err.contains("panicked"), "{err}");
    assert!(err.contains("server: ignored a datagram of "), "{err}");
}

/// The client killed (SIGKILL) after its `write` ran but before it saw the answer (a gate
/// drops the answer and every repeat of it): the file is there once, whole, with no
/// temporary file beside it, and the next client removes it (so it ran exactly once).
#[test]
fn client_killed_mid_write_leaves_whole_file_written_once() {
    let s = setup();
    let gate = UdpGate::start(s.server.addr(), Hold::RepliesToClient(1));
    let mut c = Proc::spawn(&s.client_bin, &["--port", &gate.port()], s.cli_dir.path());
    c.wait_stdout("Conectado a");
    c.write_stdin("write nota.txt 'hola mundo'\n");
    gate.wait_held();
    c.kill();
    s.server.wait_stdout("write nota.txt 'hola mundo'");
    assert_eq!(fs::read(s.srv("nota.txt")).unwrap(), b"hola mundo");
    assert_eq!(partial_files(s.srv_dir.path()), Vec::<String>::new());
    let a = s.client(&[], "rm nota.txt\nrm nota.txt\n").success();
    let out = testkit::stdout(&a);
    assert!(out.contains("OK removed nota.txt\n"), "{out}");
    assert!(out.contains("ERROR no such file nota.txt\n"), "{out}");
    assert_eq!(s.server.stdout().matches("write nota.txt").count(), 1);
}

/// The server killed (SIGKILL) in the middle of a session: the client's next command is
/// sent again until its --timeout of silence, then it exits 1 with an error.
#[test]
fn server_killed_mid_session_client_exits_1_with_error() {
    let mut s = setup();
    let mut c = s.spawn_client(&["--timeout", "1"]);
    c.wait_stdout("Conectado a");
    c.write_stdin("write a.txt 'uno'\n");
    c.wait_stdout("OK wrote a.txt (3 bytes)");
    s.server.kill();
    c.write_stdin("ls\n");
    assert_eq!(c.wait_exit().code(), Some(1), "{}", c.stderr());
    assert!(c.stderr().starts_with("error: "), "{}", c.stderr());
}
