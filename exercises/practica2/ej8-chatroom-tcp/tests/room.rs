//! End-to-end tests of the TCP chat room (Programa 2.1): this package's real `server` and
//! `client` binaries on `--port 0`, plus raw sockets for what the client never does (stop
//! reading, send invalid UTF-8 or an overlong line, talk like `nc`).

use ej8_chatroom_tcp::{joined, left, said, ASK_NICK, JOINED, MAX_LINE_LEN};
use sockcore::lines::{send_line, LineReader};
use std::io::Write;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::sync::mpsc;
use std::thread;
use std::time::Instant;
use testkit::{bin, Proc, Server, TempDir, WAIT};

/// A room server in a temporary directory.
struct Room {
    server: Server,
    dir: TempDir,
    client: PathBuf,
}

fn room() -> Room {
    let dir = testkit::tempdir().expect("temp dir");
    let server = Server::start(&bin!("server"), &[], dir.path());
    Room {
        server,
        dir,
        client: bin!("client"),
    }
}

impl Room {
    /// Starts the real client, answers "Introduce tu nombre: " with `nick` and waits until
    /// it has joined.
    fn join(&self, nick: &str) -> Proc {
        let mut p = Proc::spawn(
            &self.client,
            &["--port", &self.server.port()],
            self.dir.path(),
        );
        p.write_stdin(&format!("{nick}\n"));
        p.wait_stdout(JOINED);
        p
    }

    fn addr(&self) -> SocketAddr {
        self.server.addr()
    }
}

/// A member played by the test over a raw socket; a thread reads its lines as they come,
/// so it never stops reading.
struct Raw {
    tx: TcpStream,
    lines: mpsc::Receiver<String>,
    /// Every line received so far.
    seen: Vec<String>,
    /// Lines before this index have been matched by `expect` already.
    cursor: usize,
}

impl Raw {
    fn connect(addr: SocketAddr) -> Raw {
        let tx = TcpStream::connect(addr).expect("connecting to the room");
        tx.set_write_timeout(Some(WAIT)).expect("write timeout");
        let rx = tx.try_clone().expect("cloning the socket");
        rx.set_read_timeout(Some(WAIT)).expect("read timeout");
        let (send, lines) = mpsc::channel();
        thread::spawn(move || {
            let mut r = LineReader::new(rx, 64 * 1024);
            while let Ok(Some(line)) = r.recv_line() {
                if send.send(line).is_err() {
                    return;
                }
            }
        });
        Raw {
            tx,
            lines,
            seen: Vec::new(),
            cursor: 0,
        }
    }

    /// Connects and joins as `nick`, as the real client does.
    fn join(addr: SocketAddr, nick: &str) -> Raw {
        let mut r = Raw::connect(addr);
        r.expect(ASK_NICK);
        r.send(nick);
        r.expect(JOINED);
        r
    }

    fn send(&mut self, text: &str) {
        send_line(&mut self.tx, text).expect("sending a line");
    }

    fn send_bytes(&mut self, bytes: &[u8]) {
        self.tx.write_all(bytes).expect("sending bytes");
    }

    /// Waits (at most `WAIT`) for the next line `want` after the last one expected; every
    /// line received is kept in `seen`.
    fn expect(&mut self, want: &str) {
        let deadline = Instant::now() + WAIT;
        loop {
            if let Some(i) = self.seen[self.cursor..].iter().position(|l| l == want) {
                self.cursor += i + 1;
                return;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => self.seen.push(line),
                Err(_) => panic!(
                    "never received {want:?}; last lines: {:?}",
                    &self.seen[self.seen.len().saturating_sub(5)..]
                ),
            }
        }
    }
}

/// The lines of `out` that are messages of `nick`, as `said` formats them.
fn from<'a>(out: &'a str, nick: &str) -> Vec<&'a str> {
    let prefix = format!("{nick}: ");
    out.lines().filter(|l| l.starts_with(&prefix)).collect()
}

/// Three real clients write at once; each sees every message of every member (its own
/// included, as the report's room echoes it) exactly once, in the order it was written.
#[test]
fn three_clients_every_message_delivered_once_in_per_sender_order() {
    let r = room();
    let nicks = ["ana", "bea", "carlos"];
    let mut procs: Vec<Proc> = nicks.iter().map(|n| r.join(n)).collect();
    procs[0].wait_stdout(&joined("carlos"));
    const N: usize = 25;
    for (p, nick) in procs.iter_mut().zip(nicks) {
        let text: String = (0..N).map(|i| format!("{nick} {i}\n")).collect();
        p.write_stdin(&text);
    }
    for p in &procs {
        for nick in nicks {
            p.wait_stdout(&said(nick, &format!("{nick} {}", N - 1)));
        }
    }
    for p in &procs {
        let out = p.stdout();
        for nick in nicks {
            let want: Vec<String> = (0..N).map(|i| said(nick, &format!("{nick} {i}"))).collect();
            assert_eq!(from(&out, nick), want, "{nick}'s messages, in:\n{out}");
        }
    }
}

/// The client's own transcript reads like the report's screenshot: prompt, join lines, the
/// typed line echoed, the room's copy of it, and the goodbye; `salir` exits with status 0.
#[test]
fn salir_leaves_with_status_0_and_the_rest_are_told() {
    let r = room();
    let mut ana = r.join("ana");
    let mut bea = r.join("bea");
    ana.wait_stdout(&joined("bea"));
    bea.write_stdin("hola que tal?\n");
    ana.wait_stdout(&said("bea", "hola que tal?"));
    bea.wait_stdout(&said("bea", "hola que tal?"));
    bea.write_stdin("salir\n");
    assert!(bea.wait_exit().success(), "stderr: {}", bea.stderr());
    assert_eq!(
        bea.stdout(),
        "Introduce tu nombre: bea\n\
         bea se ha unido al chat\n\
         Te has unido al chat\n\
         hola que tal?\n\
         bea: hola que tal?\n\
         salir\n\
         ~ Has salido del chat ~\n"
    );
    ana.wait_stdout(&left("bea"));
    r.server.wait_stdout("~ bea ha salido del chat ~");
    assert!(r.server.stdout().starts_with(
        "~ ana se ha unido al chat ~\n~ bea se ha unido al chat ~\n~ bea ha salido del chat ~\n"
    ));
    ana.write_stdin("salir\n");
    assert!(ana.wait_exit().success());
}

/// The end of standard input leaves the room as `salir` does.
#[test]
fn end_of_input_leaves_cleanly() {
    let r = room();
    let ana = r.join("ana");
    let mut bea = r.join("bea");
    bea.close_stdin();
    assert!(bea.wait_exit().success(), "stderr: {}", bea.stderr());
    assert!(bea.stdout().ends_with("~ Has salido del chat ~\n"));
    ana.wait_stdout(&left("bea"));
}

/// A member whose process is killed is announced as left to the others.
#[test]
fn killed_client_is_announced_as_left() {
    let r = room();
    let ana = r.join("ana");
    let mut bea = r.join("bea");
    ana.wait_stdout(&joined("bea"));
    bea.kill();
    ana.wait_stdout(&left("bea"));
    r.server.wait_stdout("~ bea ha salido del chat ~");
}

/// A taken nickname is refused with a clear message, and the client asks for another.
#[test]
fn taken_nickname_is_refused_and_asked_again() {
    let r = room();
    let _ana = r.join("ana");
    let mut p = Proc::spawn(&r.client, &["--port", &r.server.port()], r.dir.path());
    p.write_stdin("ana\nana2\n");
    p.wait_stdout(JOINED);
    assert_eq!(
        p.stdout(),
        "Introduce tu nombre: ana\n\
         ERROR: el apodo ana ya está en uso\n\
         Introduce tu nombre: ana2\n\
         ana2 se ha unido al chat\n\
         Te has unido al chat\n"
    );
}

/// Nicknames that are empty, too long, padded, or hold ':' are refused; the connection
/// stays and the next answer is taken.
#[test]
fn invalid_nicknames_are_refused() {
    let r = room();
    let mut raw = Raw::connect(r.addr());
    raw.expect(ASK_NICK);
    for bad in ["", " ana", "a:b", &"x".repeat(33)] {
        raw.send(bad);
        let before = raw.seen.len();
        raw.expect(ASK_NICK);
        assert!(
            raw.seen[before..]
                .iter()
                .any(|l| l.starts_with("ERROR: apodo no válido")),
            "{bad:?}: {:?}",
            &raw.seen[before..]
        );
    }
    raw.send("ana");
    raw.expect(JOINED);
}

/// Invalid UTF-8 and an overlong line each get an error line back; the member stays, and
/// its next line is relayed.
#[test]
fn invalid_utf8_and_overlong_lines_get_an_error_not_a_crash() {
    let r = room();
    let mut raw = Raw::join(r.addr(), "raw");
    let mut other = Raw::join(r.addr(), "otro");
    raw.send_bytes(b"\xff\xfe hola\n");
    raw.expect("ERROR: la línea no es texto UTF-8; no se ha enviado");
    let mut long = vec![b'x'; 5 * MAX_LINE_LEN];
    long.push(b'\n');
    raw.send_bytes(&long);
    raw.expect("ERROR: línea de más de 1024 bytes; no se ha enviado");
    raw.send("sigo aquí");
    raw.expect(&said("raw", "sigo aquí"));
    other.expect(&said("raw", "sigo aquí"));
    assert!(
        !other.seen.iter().any(|l| l.starts_with("ERROR")),
        "errors go to the sender only: {:?}",
        other.seen
    );
    r.server
        .wait_stderr("refused a line: line longer than 1024 bytes");
}

/// A client that talks like `nc` (no program of ours, CR LF line ends) can join and chat.
#[test]
fn nc_style_client_with_crlf_can_join_and_chat() {
    let r = room();
    let mut ana = r.join("ana");
    let mut nc = Raw::connect(r.addr());
    nc.expect(ASK_NICK);
    nc.send_bytes(b"nc\r\n");
    nc.expect(&joined("nc"));
    nc.expect(JOINED);
    nc.send_bytes(b"hola desde nc\r\n");
    ana.wait_stdout(&said("nc", "hola desde nc"));
    ana.write_stdin("hola nc\n");
    nc.expect(&said("ana", "hola nc"));
    nc.send_bytes(b"salir\r\n");
    ana.wait_stdout(&left("nc"));
}

/// A member that never reads is disconnected once its backlog fills, and announced as left;
/// meanwhile the others receive every message, in order.
#[test]
fn frozen_client_is_disconnected_and_the_room_keeps_flowing() {
    let r = room();
    let mut ana = Raw::join(r.addr(), "ana");
    let mut bea = Raw::join(r.addr(), "bea");
    let mut carlos = Raw::join(r.addr(), "carlos");
    // The frozen member joins, then never reads again.
    let frozen = TcpStream::connect(r.addr()).expect("connecting");
    frozen.set_read_timeout(Some(WAIT)).expect("read timeout");
    let mut fr = LineReader::new(frozen.try_clone().expect("clone"), 4096);
    assert_eq!(fr.recv_line().expect("reading").as_deref(), Some(ASK_NICK));
    send_line(&mut &frozen, "congelado").expect("sending the nickname");
    while fr.recv_line().expect("reading").as_deref() != Some(JOINED) {}
    bea.expect(&joined("congelado"));

    // Batches of lines near the length limit; each batch waits for the others to receive
    // it, so only the frozen member falls behind. Bounded: 100 batches (about 20 MB).
    let pad = "x".repeat(MAX_LINE_LEN - 16);
    let gone = left("congelado");
    let mut sent = 0;
    for _ in 0..100 {
        for _ in 0..200 {
            ana.send(&format!("{sent} {pad}"));
            sent += 1;
        }
        let last = said("ana", &format!("{} {pad}", sent - 1));
        bea.expect(&last);
        carlos.expect(&last);
        if bea.seen.contains(&gone) {
            break;
        }
    }
    assert!(
        bea.seen.contains(&gone),
        "still in the room after {sent} lines"
    );
    if !carlos.seen.contains(&gone) {
        carlos.expect(&gone);
    }
    r.server.wait_stdout("~ congelado ha salido del chat ~");
    for m in [&bea, &carlos] {
        let got: Vec<&String> = m.seen.iter().filter(|l| l.starts_with("ana: ")).collect();
        assert_eq!(got.len(), sent, "every line once");
        for (i, l) in got.iter().enumerate() {
            assert!(
                l.starts_with(&format!("ana: {i} ")),
                "line {i} out of order"
            );
        }
    }
    drop(frozen);
}

/// A member that pastes thousands of long lines (the real client, reading back its own
/// echo) is slowed to the room's pace, not disconnected; another member gets every line.
#[test]
fn fast_talker_is_slowed_not_disconnected() {
    let r = room();
    let mut bea = Raw::join(r.addr(), "bea");
    let mut p = Proc::spawn(&r.client, &["--port", &r.server.port()], r.dir.path());
    const N: usize = 3000;
    let pad = "x".repeat(MAX_LINE_LEN - 16);
    let mut text = String::from("flood\n");
    for i in 0..N {
        text.push_str(&format!("{i} {pad}\n"));
    }
    text.push_str("salir\n");
    p.write_stdin(&text);
    bea.expect(&left("flood"));
    assert!(p.wait_exit().success(), "stderr: {}", p.stderr());
    let got: Vec<&String> = bea
        .seen
        .iter()
        .filter(|l| l.starts_with("flood: "))
        .collect();
    assert_eq!(got.len(), N);
    for (i, l) in got.iter().enumerate() {
        assert!(
            l.starts_with(&format!("flood: {i} ")),
            "line {i} out of order"
        );
    }
    assert!(
        !r.server.stderr().contains("stopped reading"),
        "{}",
        r.server.stderr()
    );
}

/// A connection that never gives a nickname does not stop others from joining (the
/// report's server asks for it inside its accept loop, so one silent newcomer blocks all).
#[test]
fn silent_newcomer_does_not_block_others() {
    let r = room();
    let silent = TcpStream::connect(r.addr()).expect("connecting");
    let mut ana = r.join("ana");
    ana.write_stdin("hola\n");
    ana.wait_stdout(&said("ana", "hola"));
    drop(silent);
}

/// When the server goes away, the client says it is no longer in the chat and exits 1.
#[test]
fn server_gone_client_reports_not_in_chat() {
    let mut r = room();
    let mut ana = r.join("ana");
    r.server.kill();
    // Before `wait_exit`, which closes the client's stdin (and the end of input is `salir`).
    ana.wait_stdout("IMPORTANTE: NO estas en el chat");
    let status = ana.wait_exit();
    assert_eq!(status.code(), Some(1));
    assert!(ana.stderr().starts_with("error: "), "{}", ana.stderr());
}

/// With no server, the client says connection refused and how to fix it, and exits 1.
#[test]
fn no_server_refused_with_hint() {
    let dir = testkit::tempdir().expect("temp dir");
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let a = testkit::client(&bin!("client"), dir.path())
        .args(["--port", &port.to_string(), "--name", "ana"])
        .assert()
        .code(1);
    let err = String::from_utf8_lossy(&a.get_output().stderr).into_owned();
    assert!(
        err.starts_with("error: connection refused: is the server running on 127.0.0.1:"),
        "{err}"
    );
}
