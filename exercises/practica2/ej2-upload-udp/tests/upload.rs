//! End-to-end tests of Ej. 2 over UDP: the real `server` and `client` binaries of this
//! package, started on `--port 0` in temporary directories; testkit's seeded proxy for loss,
//! duplication and reordering; and hand-made datagrams (`sockcore::udp::wire`) for what the
//! client never sends (a corrupted transfer, a client or server that vanishes mid-file).
//! Hostile names, seeded garbage and killed processes are in `reliability.rs`.

use sockcore::udp::wire::{self, Header, Kind};
use std::fs;
use std::net::{SocketAddr, UdpSocket};
use std::path::PathBuf;
use std::time::{Duration, Instant};
use testkit::proxy::{Faults, Proxy};
use testkit::{bin, dir_names, random_file, Server, TempDir};
use testkit::{stderr as stderr_of, stdout as stdout_of};

/// A server in its own temporary directory and a client directory beside it.
struct Setup {
    server: Server,
    srv_dir: TempDir,
    cli_dir: TempDir,
    client: PathBuf,
}

/// A server that declares a silent client gone after 1 s (instead of 10), so the tests of
/// vanishing clients are quick.
fn setup() -> Setup {
    let srv_dir = testkit::tempdir().expect("server temp dir");
    let cli_dir = testkit::tempdir().expect("client temp dir");
    let server = Server::start(
        &bin!("server"),
        &["--dir", ".", "--timeout", "1"],
        srv_dir.path(),
    );
    Setup {
        server,
        srv_dir,
        cli_dir,
        client: bin!("client"),
    }
}

impl Setup {
    /// Runs the client in the client directory with `args` and `stdin`.
    fn client(&self, args: &[&str], stdin: &str) -> assert_cmd::assert::Assert {
        self.client_to(self.server.addr(), args, stdin)
    }

    /// Runs the client against `addr` (the server, or a proxy in front of it).
    fn client_to(
        &self,
        addr: SocketAddr,
        args: &[&str],
        stdin: &str,
    ) -> assert_cmd::assert::Assert {
        let mut cmd = testkit::client(&self.client, self.cli_dir.path());
        cmd.args(["--port", &addr.port().to_string()])
            .args(args)
            .write_stdin(stdin);
        cmd.assert()
    }

    fn cli(&self, name: &str) -> PathBuf {
        self.cli_dir.path().join(name)
    }

    fn srv(&self, name: &str) -> PathBuf {
        self.srv_dir.path().join(name)
    }
}

/// Replaces the server's address with SERVER so transcripts can be compared exactly.
fn norm(text: &str, addr: SocketAddr) -> String {
    text.replace(&addr.to_string(), "SERVER")
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

    fn send(&self, kind: Kind, exchange: u32, seq: u64, payload: &[u8]) {
        let h = Header {
            seq,
            ..Header::new(kind, self.session, exchange)
        };
        self.sock
            .send_to(&wire::encode(&h, payload), self.to)
            .expect("sending a datagram");
    }

    /// The next datagram of this session, decoded (ACKs included).
    fn recv(&self) -> (Header, Vec<u8>) {
        let mut buf = vec![0u8; wire::MAX_DATAGRAM_LEN + 1];
        loop {
            let n = self
                .sock
                .recv(&mut buf)
                .expect("an answer within the timeout");
            if let Ok((h, p)) = wire::decode(&buf[..n]) {
                if h.session == self.session {
                    return (h, p.to_vec());
                }
            }
        }
    }

    /// Sends the next request; returns the reply as text (an ABORT's reason as "ABORT ...").
    fn request(&mut self, msg: &[u8]) -> String {
        self.exchange += 1;
        self.send(Kind::Request, self.exchange, 0, msg);
        loop {
            let (h, p) = self.recv();
            match h.kind {
                Kind::Reply if h.exchange == self.exchange => {
                    return String::from_utf8_lossy(&p).into_owned()
                }
                Kind::Abort => return format!("ABORT {}", String::from_utf8_lossy(&p)),
                _ => {}
            }
        }
    }

    /// Opens the session and asks to send `name`; returns the server's answer.
    fn ask_to_send(&mut self, name: &[u8]) -> String {
        assert_eq!(self.request(b"HELLO"), "HELLO");
        let mut req = b"SEND ".to_vec();
        req.extend_from_slice(name);
        self.request(&req)
    }
}

/// A new file lands byte-identical, and only then is the client's copy deleted.
#[test]
fn upload_new_file_lands_and_local_copy_is_deleted() {
    let s = setup();
    fs::write(s.cli("Hello.txt"), "Hello World!").unwrap();
    let a = s.client(&["Hello.txt"], "").success();
    assert_eq!(
        norm(&stdout_of(&a), s.server.addr()),
        "Conectado a SERVER\n\
         Solicitando enviar Hello.txt (12 bytes)\n\
         El servidor acepta el fichero\n\
         Enviando Hello.txt...\n\
         El servidor confirma la recepción de Hello.txt: 12 bytes, crc32 1c291ca3\n\
         Fichero local Hello.txt eliminado\n"
    );
    assert_eq!(stderr_of(&a), "");
    assert_eq!(fs::read(s.srv("Hello.txt")).unwrap(), b"Hello World!");
    assert!(!s.cli("Hello.txt").exists(), "client kept its copy");
    s.server
        .wait_stdout("Recibido Hello.txt: 12 bytes, crc32 1c291ca3");
    let out = s.server.stdout();
    assert!(out.starts_with("Conexión desde 127.0.0.1:"), "{out}");
    assert!(
        out.contains("\nPetición de envío: Hello.txt\nRecibido Hello.txt"),
        "{out}"
    );
}

/// Answering "n" cancels: the server's file and the client's file both stay as they were.
#[test]
fn existing_file_answer_no_keeps_both() {
    let s = setup();
    fs::write(s.srv("doc.pdf"), "old").unwrap();
    fs::write(s.cli("doc.pdf"), "new").unwrap();
    let a = s.client(&["doc.pdf"], "n\n").success();
    assert_eq!(
        norm(&stdout_of(&a), s.server.addr()),
        "Conectado a SERVER\n\
         Solicitando enviar doc.pdf (3 bytes)\n\
         El fichero doc.pdf ya existe en el servidor\n\
         ¿Desea sobrescribir el fichero? (s/n) n\n\
         Transferencia cancelada: no se sobrescribe doc.pdf\n"
    );
    assert_eq!(fs::read(s.srv("doc.pdf")).unwrap(), b"old");
    assert_eq!(fs::read(s.cli("doc.pdf")).unwrap(), b"new");
    s.server
        .wait_stdout("El cliente cancela: doc.pdf no se sobrescribe");
    assert!(s.server.stdout().contains(
        "Petición de envío: doc.pdf\nEl fichero doc.pdf ya existe; se pregunta al cliente\n"
    ));
    assert_eq!(dir_names(s.srv_dir.path()), ["doc.pdf"]);
}

/// Answering "s" (after a wrong answer that is asked again) overwrites the server's file.
#[test]
fn existing_file_answer_yes_overwrites() {
    let s = setup();
    fs::write(s.srv("doc.pdf"), "old").unwrap();
    fs::write(s.cli("doc.pdf"), "newer").unwrap();
    let a = s.client(&["doc.pdf"], "quizá\nSí\n").success();
    let out = stdout_of(&a);
    assert!(out.contains("(s/n) quizá\nResponda s o n\n¿Desea sobrescribir el fichero? (s/n) Sí\nEl servidor acepta el fichero\n"), "{out}");
    assert_eq!(fs::read(s.srv("doc.pdf")).unwrap(), b"newer");
    assert!(!s.cli("doc.pdf").exists());
}

/// `--overwrite yes|no` answers for scripts without reading stdin.
#[test]
fn overwrite_flag_answers_the_question() {
    let s = setup();
    fs::write(s.srv("a.bin"), "old").unwrap();
    fs::write(s.cli("a.bin"), "new").unwrap();
    s.client(&["--overwrite", "no", "a.bin"], "").success();
    assert_eq!(fs::read(s.srv("a.bin")).unwrap(), b"old");
    assert!(s.cli("a.bin").exists());
    s.client(&["--overwrite", "yes", "a.bin"], "").success();
    assert_eq!(fs::read(s.srv("a.bin")).unwrap(), b"new");
    assert!(!s.cli("a.bin").exists());
}

/// With no FILE argument the client asks for it, as the handout's `input()` would.
#[test]
fn file_name_is_asked_when_absent() {
    let s = setup();
    fs::write(s.cli("x.txt"), "x").unwrap();
    let a = s.client(&[], "x.txt\n").success();
    assert!(stdout_of(&a).starts_with("Fichero a enviar: x.txt\nConectado a "));
    assert_eq!(fs::read(s.srv("x.txt")).unwrap(), b"x");
}

/// An empty file, a file that is an exact multiple of the chunk size (only the END says
/// it is over) and a multi-MiB binary file all arrive byte-identical.
#[test]
fn empty_exact_multiple_and_binary_files_arrive_identical() {
    let s = setup();
    fs::write(s.cli("empty"), "").unwrap();
    let a = s.client(&["empty"], "").success();
    assert!(stdout_of(&a).contains("recepción de empty: 0 bytes, crc32 00000000\n"));
    assert_eq!(fs::read(s.srv("empty")).unwrap(), b"");

    let exact = fs::read(random_file(&s.cli("exact.bin"), 10 * 1000, 7)).unwrap();
    s.client(&["--chunk", "1000", "exact.bin"], "").success();
    assert!(fs::read(s.srv("exact.bin")).unwrap() == exact);

    let data = fs::read(random_file(&s.cli("photo.jpg"), 5 * 1024 * 1024 + 7, 42)).unwrap();
    s.client(&["photo.jpg"], "").success();
    assert!(
        fs::read(s.srv("photo.jpg")).unwrap() == data,
        "bytes differ"
    );
    assert_eq!(
        dir_names(s.srv_dir.path()),
        ["empty", "exact.bin", "photo.jpg"]
    );
}

/// A missing local file is an error before anything is sent: the server sees no session.
#[test]
fn missing_local_file_fails_before_sending() {
    let s = setup();
    let a = s.client(&["nothere.pdf"], "").code(1);
    let err = stderr_of(&a);
    assert!(err.starts_with("error: opening nothere.pdf: "), "{err}");
    assert_eq!(stdout_of(&a), "");
    // A later client is the server's first session.
    fs::write(s.cli("ok"), "1").unwrap();
    s.client(&["ok"], "").success();
    s.server.wait_stdout("Recibido ok");
    assert_eq!(s.server.stdout().matches("Conexión desde").count(), 1);
}

/// With no server, the client retries, then says nobody answered and what to check; it
/// exits 1 and keeps its file.
#[test]
fn no_server_gives_up_with_hint_and_file_kept() {
    let dir = testkit::tempdir().unwrap();
    fs::write(dir.path().join("f"), "keep").unwrap();
    // A socket that never answers: datagrams vanish, as with a server that is not running
    // (and no "port unreachable" shortcut, as on a real network with a firewall).
    let silent = UdpSocket::bind("127.0.0.1:0").unwrap();
    let addr = silent.local_addr().unwrap();
    let start = Instant::now();
    let a = testkit::client(&bin!("client"), dir.path())
        .args(["--port", &addr.port().to_string(), "f"])
        .assert()
        .code(1);
    let err = stderr_of(&a);
    assert!(
        err.starts_with(&format!(
            "error: opening a session with {addr}: no answer from {addr} after 6 tries over "
        )),
        "{err}"
    );
    assert!(err.ends_with(" s: is the server running?\n"), "{err}");
    assert_eq!(stdout_of(&a), "");
    assert_eq!(fs::read(dir.path().join("f")).unwrap(), b"keep");
    assert!(
        start.elapsed() < Duration::from_secs(15),
        "{:?}",
        start.elapsed()
    );
}

/// The real client, given a local file whose name the server refuses (legal on Unix, not
/// on the server: a backslash), prints nothing more and exits 1 with the server's reason.
#[cfg(unix)]
#[test]
fn client_reports_the_servers_refusal() {
    let s = setup();
    fs::write(s.cli("a\\b"), "x").unwrap();
    let a = s.client(&["a\\b"], "").code(1);
    assert_eq!(
        norm(&stdout_of(&a), s.server.addr()),
        "Conectado a SERVER\nSolicitando enviar a\\b (1 bytes)\n"
    );
    assert_eq!(
        stderr_of(&a),
        "error: the server refused the file: file name \"a\\\\b\" contains a backslash (a path separator on Windows)\n"
    );
    assert!(s.cli("a\\b").exists());
    assert_eq!(dir_names(s.srv_dir.path()), Vec::<String>::new());
}

/// A client that vanishes mid-file leaves no partial file, and an existing file is intact:
/// the server gives up after its --timeout of silence and removes the temporary file.
#[test]
fn client_vanishing_mid_file_leaves_nothing() {
    let s = setup();
    fs::write(s.srv("keep.bin"), "original").unwrap();
    for (i, (name, exists)) in [("new.bin", false), ("keep.bin", true)]
        .into_iter()
        .enumerate()
    {
        let mut raw = Raw::new(s.server.addr(), 300 + i as u32);
        let mut answer = raw.ask_to_send(name.as_bytes());
        if exists {
            assert_eq!(answer, "EXISTS");
            answer = raw.request(b"OVERWRITE yes");
        }
        assert_eq!(answer, "OK");
        let upload = raw.exchange + 1;
        for seq in 0..10 {
            raw.send(Kind::Data, upload, seq, &[7u8; 1000]);
        }
        // ...and nothing more: the server must notice on its own.
        s.server.wait_stderr(&format!(
            "receiving {name}: no data from {} for ",
            raw.sock.local_addr().unwrap()
        ));
    }
    assert_eq!(dir_names(s.srv_dir.path()), ["keep.bin"]);
    assert_eq!(fs::read(s.srv("keep.bin")).unwrap(), b"original");
}

/// A transfer whose CRC-32 does not match is discarded, and the sender is told why.
#[test]
fn corrupted_transfer_is_discarded_and_sender_told() {
    let s = setup();
    let mut raw = Raw::new(s.server.addr(), 400);
    assert_eq!(raw.ask_to_send(b"c.bin"), "OK");
    let upload = raw.exchange + 1;
    raw.send(Kind::Data, upload, 0, b"abc");
    raw.send(Kind::End, upload, 1, &wire::end_payload(3, 0x1234_5678));
    let reason = loop {
        let (h, p) = raw.recv();
        if h.kind == Kind::Abort {
            break String::from_utf8_lossy(&p).into_owned();
        }
    };
    assert_eq!(
        reason,
        "checksum mismatch: sender says 12345678, received bytes give 352441c2"
    );
    s.server.wait_stderr("receiving c.bin: checksum mismatch");
    assert_eq!(dir_names(s.srv_dir.path()), Vec::<String>::new());
}

/// A datagram longer than any legal one is detected as truncated and logged.
#[test]
fn truncated_datagram_is_logged() {
    let s = setup();
    let junk = UdpSocket::bind("127.0.0.1:0").unwrap();
    junk.send_to(&vec![b'S'; wire::MAX_DATAGRAM_LEN + 1], s.server.addr())
        .unwrap();
    s.server.wait_stderr(&format!(
        "server: dropped a datagram from {} longer than {} bytes (truncated)",
        junk.local_addr().unwrap(),
        wire::MAX_DATAGRAM_LEN
    ));
}

/// Two clients uploading at the same time are both served in full.
#[test]
fn two_clients_at_once() {
    let s = setup();
    let a = fs::read(random_file(&s.cli("a.bin"), 3 << 20, 1)).unwrap();
    let b = fs::read(random_file(&s.cli("b.bin"), 3 << 20, 2)).unwrap();
    let port = s.server.port();
    let mut ca = testkit::Proc::spawn(&s.client, &["--port", &port, "a.bin"], s.cli_dir.path());
    let mut cb = testkit::Proc::spawn(&s.client, &["--port", &port, "b.bin"], s.cli_dir.path());
    assert!(ca.wait_exit().success(), "{}", ca.stderr());
    assert!(cb.wait_exit().success(), "{}", cb.stderr());
    assert!(fs::read(s.srv("a.bin")).unwrap() == a);
    assert!(fs::read(s.srv("b.bin")).unwrap() == b);
    assert_eq!(s.server.stdout().matches("Conexión desde").count(), 2);
}

/// Through a proxy that drops 10%, duplicates 5% and reorders 5% of the datagrams in each
/// direction, a multi-MiB random file arrives byte-identical, for three seeds.
#[test]
fn lossy_network_file_arrives_identical() {
    let s = setup();
    for seed in [1u64, 2, 3] {
        let name = format!("lossy-{seed}.bin");
        let data = fs::read(random_file(&s.cli(&name), 3 << 20, seed)).unwrap();
        let proxy = Proxy::start(s.server.addr(), Faults::lossy(0.10), seed);
        let a = s.client_to(proxy.addr(), &["-v", &name], "").success();
        assert!(
            fs::read(s.srv(&name)).unwrap() == data,
            "seed {}: bytes differ",
            proxy.seed()
        );
        assert!(!s.cli(&name).exists());
        let stats = proxy.stats();
        assert!(stats.dropped > 100 && stats.duplicated > 0, "{stats:?}");
        // The client saw the loss and repaired it.
        let err = stderr_of(&a);
        assert!(
            err.starts_with("client: ") && !err.contains(" 0 sent again"),
            "{err}"
        );
    }
}

/// A fake server that takes part of the file and goes silent: the client gives up, exits
/// 1 and keeps its file.
#[test]
fn server_vanishing_mid_file_keeps_client_file() {
    let dir = testkit::tempdir().unwrap();
    let data = fs::read(random_file(&dir.path().join("big.bin"), 8 << 20, 3)).unwrap();
    let fake = UdpSocket::bind("127.0.0.1:0").unwrap();
    fake.set_read_timeout(Some(testkit::WAIT)).unwrap();
    let port = fake.local_addr().unwrap().port().to_string();
    let server = std::thread::spawn(move || {
        let mut buf = vec![0u8; wire::MAX_DATAGRAM_LEN + 1];
        let mut chunks = 0;
        while chunks < 100 {
            let (n, from) = fake.recv_from(&mut buf).unwrap();
            let (h, p) = wire::decode(&buf[..n]).unwrap();
            let answer = |kind, payload: &[u8], seq| {
                let r = Header {
                    seq,
                    window: 64,
                    ..Header::new(kind, h.session, h.exchange)
                };
                fake.send_to(&wire::encode(&r, payload), from).unwrap();
            };
            match (h.kind, p) {
                (Kind::Request, b"HELLO") => answer(Kind::Reply, b"HELLO", 0),
                (Kind::Request, b"SEND big.bin") => answer(Kind::Reply, b"OK", 0),
                (Kind::Data, _) => {
                    chunks += 1;
                    answer(Kind::Ack, &[], h.seq + 1);
                }
                other => panic!("unexpected {other:?}"),
            }
        }
        // Gone: the socket closes, nothing answers any more.
    });
    let a = testkit::client(&bin!("client"), dir.path())
        .args(["--port", &port, "--timeout", "1", "big.bin"])
        .assert()
        .code(1);
    server.join().unwrap();
    let err = stderr_of(&a);
    assert!(
        err.starts_with(&format!(
            "error: sending big.bin to 127.0.0.1:{port}: no answer from 127.0.0.1:{port} after "
        )),
        "{err}"
    );
    assert!(err.ends_with("s: is the server running?\n"), "{err}");
    assert!(
        fs::read(dir.path().join("big.bin")).unwrap() == data,
        "client's file changed"
    );
}

/// A confirmation that does not match what was sent keeps the client's file.
#[test]
fn wrong_confirmation_keeps_client_file() {
    let dir = testkit::tempdir().unwrap();
    fs::write(dir.path().join("f.txt"), "abc").unwrap();
    let fake = UdpSocket::bind("127.0.0.1:0").unwrap();
    fake.set_read_timeout(Some(testkit::WAIT)).unwrap();
    let port = fake.local_addr().unwrap().port().to_string();
    let server = std::thread::spawn(move || {
        let mut buf = vec![0u8; wire::MAX_DATAGRAM_LEN + 1];
        loop {
            let (n, from) = fake.recv_from(&mut buf).unwrap();
            let (h, p) = wire::decode(&buf[..n]).unwrap();
            let answer = |kind, payload: &[u8], seq| {
                let r = Header {
                    seq,
                    window: 64,
                    ..Header::new(kind, h.session, h.exchange)
                };
                fake.send_to(&wire::encode(&r, payload), from).unwrap();
            };
            match h.kind {
                Kind::Request if p == b"HELLO" => answer(Kind::Reply, b"HELLO", 0),
                Kind::Request => answer(Kind::Reply, b"OK", 0),
                Kind::Data => answer(Kind::Ack, &[], h.seq + 1),
                Kind::End => {
                    answer(Kind::Ack, &[], h.seq + 1);
                    answer(Kind::Reply, b"RECEIVED 3 00000000", 0);
                    return;
                }
                other => panic!("unexpected {other}"),
            }
        }
    });
    let a = testkit::client(&bin!("client"), dir.path())
        .args(["--port", &port, "f.txt"])
        .assert()
        .code(1);
    server.join().unwrap();
    let err = stderr_of(&a);
    assert!(err.contains("the server's copy differs"), "{err}");
    assert_eq!(fs::read(dir.path().join("f.txt")).unwrap(), b"abc");
}

/// `--help` names the handout exercise; a bad flag or value is a usage error (exit 2).
#[test]
fn help_and_usage_errors() {
    let dir = testkit::tempdir().unwrap();
    for b in [bin!("client"), bin!("server")] {
        let a = testkit::client(&b, dir.path())
            .arg("--help")
            .assert()
            .success();
        assert!(stdout_of(&a).contains("Ej. 2 (Práctica 2), UDP"));
        testkit::client(&b, dir.path())
            .arg("--bogus")
            .assert()
            .code(2);
        testkit::client(&b, dir.path())
            .args(["--window", "0"])
            .assert()
            .code(2);
    }
    testkit::client(&bin!("client"), dir.path())
        .args(["--chunk", "65001", "f"])
        .assert()
        .code(2);
}
