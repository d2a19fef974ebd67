//! End-to-end tests of Ej. 6: the real `server` and `client` binaries of this package on
//! `--port 0` in temporary directories; testkit's seeded lossy proxy to show that a
//! retransmitted `rm` or `write` runs once; and hand-made datagrams (`sockcore::udp::wire`)
//! for what the client never sends.

use sockcore::udp::wire::{self, Header, Kind};
use std::fs;
use std::net::{SocketAddr, UdpSocket};
use std::path::PathBuf;
use testkit::proxy::{Faults, Proxy};
use testkit::{bin, dir_names, Proc, Server, TempDir};
use testkit::{stderr as stderr_of, stdout as stdout_of};

/// A server in its own temporary directory, and a directory for the client to run in.
struct Setup {
    server: Server,
    srv_dir: TempDir,
    cli_dir: TempDir,
    client: PathBuf,
}

fn setup() -> Setup {
    let srv_dir = testkit::tempdir().expect("server temp dir");
    let cli_dir = testkit::tempdir().expect("client temp dir");
    let server = Server::start(&bin!("server"), &["--dir", "."], srv_dir.path());
    Setup {
        server,
        srv_dir,
        cli_dir,
        client: bin!("client"),
    }
}

impl Setup {
    /// Runs the client against `to`, typing `stdin`.
    fn client_to(&self, to: SocketAddr, stdin: &str) -> assert_cmd::assert::Assert {
        testkit::client(&self.client, self.cli_dir.path())
            .args([
                "--host",
                &to.ip().to_string(),
                "--port",
                &to.port().to_string(),
            ])
            .write_stdin(stdin)
            .assert()
    }

    /// Runs the client against the server, typing `stdin`.
    fn client(&self, stdin: &str) -> assert_cmd::assert::Assert {
        self.client_to(self.server.addr(), stdin)
    }

    fn srv(&self, name: &str) -> PathBuf {
        self.srv_dir.path().join(name)
    }

    /// A raw session, opened with HELLO.
    fn raw(&self, session: u32) -> Raw {
        let mut raw = Raw::new(self.server.addr(), session);
        assert_eq!(raw.request(b"HELLO"), "HELLO");
        raw
    }
}

/// A session driven by hand over a raw socket: for what the real client never sends. On
/// loopback, at this pace, nothing is lost, so there are no retries here.
struct Raw {
    sock: UdpSocket,
    to: SocketAddr,
    session: u32,
    exchange: u32,
}

impl Raw {
    fn new(to: SocketAddr, session: u32) -> Raw {
        let sock = UdpSocket::bind("127.0.0.1:0").expect("binding a raw socket");
        sock.set_read_timeout(Some(testkit::WAIT))
            .expect("read timeout");
        Raw {
            sock,
            to,
            session,
            exchange: 0,
        }
    }

    /// Sends the request of exchange `exchange` (which may repeat an earlier one).
    fn send(&self, exchange: u32, msg: &[u8]) {
        let h = Header::new(Kind::Request, self.session, exchange);
        self.sock
            .send_to(&wire::encode(&h, msg), self.to)
            .expect("sending a datagram");
    }

    /// The reply to `exchange` (an ABORT's reason as "ABORT ...").
    fn reply(&self, exchange: u32) -> String {
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

    /// Sends the next request and returns its reply.
    fn request(&mut self, msg: &[u8]) -> String {
        self.exchange += 1;
        self.send(self.exchange, msg);
        self.reply(self.exchange)
    }
}

/// Every command of the handout, as a user types them, with the answers they get.
#[test]
fn handout_commands_work_end_to_end() {
    let s = setup();
    fs::create_dir(s.srv("apuntes")).unwrap();
    fs::write(s.srv("viejo.txt"), "x").unwrap();
    let a = s
        .client(
            "ls\n\
             write hola.txt 'Hola mundo'\n\
             mv hola.txt apuntes\n\
             cd apuntes\n\
             ls\n\
             cd ..\n\
             rm viejo.txt\n\
             ls\n",
        )
        .success();
    let out = stdout_of(&a);
    let body = out.split_once('\n').expect("a first line").1;
    assert!(out.starts_with("Conectado a 127.0.0.1:"), "{out}");
    assert_eq!(
        body,
        "> ls\n\
         apuntes/\n\
         viejo.txt\n\
         > write hola.txt 'Hola mundo'\n\
         OK wrote hola.txt (10 bytes)\n\
         > mv hola.txt apuntes\n\
         OK moved hola.txt to /apuntes\n\
         > cd apuntes\n\
         OK current directory /apuntes\n\
         > ls\n\
         hola.txt\n\
         > cd ..\n\
         OK current directory /\n\
         > rm viejo.txt\n\
         OK removed viejo.txt\n\
         > ls\n\
         apuntes/\n\
         > \n"
    );
    assert_eq!(
        fs::read_to_string(s.srv("apuntes/hola.txt")).unwrap(),
        "Hola mundo"
    );
    assert_eq!(dir_names(s.srv_dir.path()), ["apuntes"]);
}

/// `exit` ends the client and, as the handout says, the server too (status 0).
#[test]
fn exit_ends_client_and_server() {
    let mut s = setup();
    let a = s.client("exit\n").success();
    assert!(stdout_of(&a).ends_with("> exit\nOK the server ends\n"));
    let status = s.server.wait_exit();
    assert!(status.success(), "{status:?}");
    assert!(s.server.stdout().contains(": el servidor termina\n"));
}

/// Failed commands get `ERROR <why>` and the session goes on.
#[test]
fn failed_commands_get_errors() {
    let s = setup();
    fs::create_dir(s.srv("sub")).unwrap();
    fs::write(s.srv("a.txt"), "a").unwrap();
    fs::write(s.srv("sub/a.txt"), "b").unwrap();
    let a = s
        .client(
            "cd nada\n\
             rm nada.txt\n\
             rm sub\n\
             write a.txt 'otra vez'\n\
             write b.txt sin comillas\n\
             mv a.txt .\n\
             mv a.txt nada\n\
             mv a.txt sub\n\
             mv nada.txt sub\n\
             mv a.txt\n\
             ls -l\n\
             format c:\n",
        )
        .success();
    let out = stdout_of(&a);
    let errors: Vec<&str> = out.lines().filter(|l| l.starts_with("ERROR")).collect();
    assert_eq!(
        errors,
        [
            "ERROR no such directory nada",
            "ERROR no such file nada.txt",
            "ERROR sub is a directory; rm removes files",
            "ERROR a.txt already exists (rm it first)",
            "ERROR usage: write <fichero> '<mensaje>' (the message goes between quotes)",
            "ERROR a.txt is already in /: the directories must be different",
            "ERROR no such directory nada",
            "ERROR /sub/a.txt already exists",
            "ERROR no such file nada.txt",
            "ERROR usage: mv <fichero> <directorio>",
            "ERROR unknown command \"ls -l\" (ls, rm <fichero>, write <fichero> '<mensaje>', cd <directorio>, mv <fichero> <directorio>, exit)",
            "ERROR unknown command \"format c:\" (ls, rm <fichero>, write <fichero> '<mensaje>', cd <directorio>, mv <fichero> <directorio>, exit)",
        ]
    );
    assert_eq!(fs::read_to_string(s.srv("a.txt")).unwrap(), "a");
    assert_eq!(fs::read_to_string(s.srv("sub/a.txt")).unwrap(), "b");
}

/// The message of `write` keeps its spaces and may use either kind of quotes.
#[test]
fn write_takes_quoted_text_with_spaces() {
    let s = setup();
    s.client("write a.txt 'uno  dos   tres'\nwrite b.txt \"it's mine\"\n")
        .success();
    assert_eq!(
        fs::read_to_string(s.srv("a.txt")).unwrap(),
        "uno  dos   tres"
    );
    assert_eq!(fs::read_to_string(s.srv("b.txt")).unwrap(), "it's mine");
}

/// Each client has its own current directory.
#[test]
fn each_client_has_its_own_directory() {
    let s = setup();
    fs::create_dir(s.srv("uno")).unwrap();
    fs::create_dir(s.srv("dos")).unwrap();
    let mut a = s.raw(0x0e06_0002);
    let mut b = s.raw(0x0e06_0003);
    assert_eq!(a.request(b"cd uno"), "OK current directory /uno");
    assert_eq!(b.request(b"cd dos"), "OK current directory /dos");
    assert_eq!(a.request(b"write f.txt 'a'"), "OK wrote f.txt (1 bytes)");
    assert_eq!(b.request(b"write f.txt 'b'"), "OK wrote f.txt (1 bytes)");
    assert_eq!(fs::read_to_string(s.srv("uno/f.txt")).unwrap(), "a");
    assert_eq!(fs::read_to_string(s.srv("dos/f.txt")).unwrap(), "b");
    assert_eq!(
        a.request(b"mv f.txt ../dos"),
        "ERROR /dos/f.txt already exists"
    );
}

/// A repeated `rm` request (same exchange) gets the cached answer; the file is removed once
/// and the command logged once. A new `rm` of the same name, by contrast, fails.
#[test]
fn repeated_rm_request_runs_once() {
    let s = setup();
    fs::write(s.srv("a.txt"), "a").unwrap();
    let mut raw = s.raw(0x0e06_0004);
    assert_eq!(raw.request(b"rm a.txt"), "OK removed a.txt");
    for _ in 0..3 {
        raw.send(raw.exchange, b"rm a.txt");
        assert_eq!(raw.reply(raw.exchange), "OK removed a.txt");
    }
    assert_eq!(raw.request(b"rm a.txt"), "ERROR no such file a.txt");
    assert_eq!(raw.request(b"ls"), "LS\n");
    s.server.wait_stdout("ls");
    assert_eq!(s.server.stdout().matches(": rm a.txt\n").count(), 2);
}

/// Through a proxy that loses, duplicates and reorders datagrams, a series of `write` and
/// `rm` commands each runs exactly once: no "already exists", no "no such file".
#[test]
fn lossy_network_write_and_rm_run_once() {
    let s = setup();
    let proxy = Proxy::start(s.server.addr(), Faults::lossy(0.1), 11);
    let mut script = String::new();
    for i in 0..12 {
        script.push_str(&format!("write f{i}.txt 'mensaje {i}'\n"));
    }
    for i in 0..12 {
        script.push_str(&format!("rm f{i}.txt\n"));
    }
    script.push_str("write fin.txt 'fin'\n");
    let a = s.client_to(proxy.addr(), &script).success();
    let out = stdout_of(&a);
    assert!(!out.contains("ERROR"), "seed {}: {out}", proxy.seed());
    assert_eq!(out.matches("OK wrote").count(), 13, "{out}");
    assert_eq!(out.matches("OK removed").count(), 12, "{out}");
    assert_eq!(dir_names(s.srv_dir.path()), ["fin.txt"]);
    s.server.wait_stdout(": write fin.txt 'fin'");
    let log = s.server.stdout();
    for i in 0..12 {
        assert_eq!(
            log.matches(&format!(": write f{i}.txt ")).count(),
            1,
            "{log}"
        );
        assert_eq!(log.matches(&format!(": rm f{i}.txt\n")).count(), 1, "{log}");
    }
    // The network did lose and repeat datagrams: the requests above were retransmitted
    // and duplicated, and still each ran once.
    let stats = proxy.stats();
    assert!(
        stats.dropped > 0 && stats.duplicated > 0,
        "seed {}: {stats:?}",
        proxy.seed()
    );
}

/// A listing too large for one datagram arrives whole, as a bulk transfer.
#[test]
fn large_listing_is_split_over_several_datagrams() {
    let s = setup();
    let names: Vec<String> = (0..300)
        .map(|i| format!("fichero-con-un-nombre-bastante-largo-{i:04}.txt"))
        .collect();
    for n in &names {
        fs::write(s.srv(n), "").unwrap();
    }
    let mut raw = s.raw(0x0e06_0005);
    let reply = raw.request(b"ls");
    let expected: String = names.iter().map(|n| format!("{n}\n")).collect();
    assert_eq!(reply, format!("LS-BULK {}", expected.len()));
    drop(raw);
    let a = s.client("ls\n").success();
    let out = stdout_of(&a);
    assert!(out.contains(&format!("> ls\n{expected}> \n")), "{out}");
}

/// Commands that are not UTF-8, garbage datagrams, and sessions that do not start with HELLO
/// never stop the server.
#[test]
fn bad_input_never_stops_the_server() {
    let s = setup();
    let mut raw = s.raw(0x0e06_0006);
    assert_eq!(
        raw.request(b"rm \xff.txt"),
        "ERROR the command is not UTF-8 text (bad byte at offset 3)"
    );
    let mut stranger = Raw::new(s.server.addr(), 0x0e06_0007);
    assert_eq!(stranger.request(b"ls"), "ERROR expected HELLO");
    let junk = UdpSocket::bind("127.0.0.1:0").unwrap();
    for i in 0..40usize {
        let d: Vec<u8> = (0..(i * 31) % 300)
            .map(|j| (i * 7 + j * 13) as u8)
            .collect();
        junk.send_to(&d, s.server.addr()).unwrap();
    }
    s.server.wait_stderr("server: ");
    assert_eq!(
        raw.request(b"write ok.txt 'sigo'"),
        "OK wrote ok.txt (4 bytes)"
    );
    assert!(!s.server.stderr().contains("panicked"));
}

/// End of input leaves the client without stopping the server.
#[test]
fn end_of_input_leaves_server_running() {
    let s = setup();
    s.client("write a.txt 'a'\n").success();
    let a = s.client("ls\n").success();
    assert!(stdout_of(&a).contains("> ls\na.txt\n"));
    assert!(stderr_of(&a).is_empty());
}

/// An interactive client works line by line, as a person types.
#[test]
fn interactive_client() {
    let s = setup();
    let mut c = Proc::spawn(&s.client, &["--port", &s.server.port()], s.cli_dir.path());
    c.wait_stdout("Conectado a");
    c.write_stdin("write x.txt 'x'\n");
    c.wait_stdout("OK wrote x.txt (1 bytes)");
    c.write_stdin("exit\n");
    assert!(c.wait_exit().success());
}

/// `--help` names the handout exercise; a bad flag is a usage error (exit 2).
#[test]
fn help_and_usage_errors() {
    let dir = testkit::tempdir().unwrap();
    for b in [bin!("client"), bin!("server")] {
        let a = testkit::client(&b, dir.path())
            .arg("--help")
            .assert()
            .success();
        assert!(stdout_of(&a).contains("Ej. 6 (Práctica 2)"));
        testkit::client(&b, dir.path())
            .arg("--bogus")
            .assert()
            .code(2);
    }
}
