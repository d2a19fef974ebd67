//! End-to-end tests of TCP 2.2: this package's `server` (in a temporary --dir) and `client`s
//! (interactive, each in its own directory), and raw sockets speaking `sockcore::frame` for
//! the many-client contention and for what our client never sends (half a PUT, vanishing).

use sockcore::frame::{recv_file, recv_text, send_file, send_text, MAX_FRAME_LEN};
use std::fs;
use std::io::Write;
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use testkit::{bin, dir_names, Proc, Server, TempDir, WAIT};

const LOCKED: &str = "SUCCESS: File has been associated with your address";
const BLOCKED: &str = "ERROR: File is blocked";
const NOT_YOURS: &str = "File is blocked";
const MODIFIED: &str = "File has been modified";

/// A server with `data.txt` ("version 1\n") in a temporary directory.
struct Setup {
    server: Server,
    srv_dir: TempDir,
}

fn setup() -> Setup {
    let srv_dir = testkit::tempdir().expect("server temp dir");
    fs::write(srv_dir.path().join("data.txt"), "version 1\n").expect("writing data.txt");
    let server = Server::start(&bin!("server"), &["--dir", "."], srv_dir.path());
    Setup { server, srv_dir }
}

impl Setup {
    fn data(&self) -> Vec<u8> {
        fs::read(self.srv_dir.path().join("data.txt")).expect("reading data.txt")
    }

    /// An interactive client of this server in a new directory.
    fn typist(&self) -> Typist {
        let dir = testkit::tempdir().expect("client temp dir");
        let proc = Proc::spawn(
            &bin!("client"),
            &["--port", &self.server.port()],
            dir.path(),
        );
        Typist {
            proc,
            dir,
            marks: 0,
        }
    }

    /// Stops the server and waits until everything it printed has been read.
    fn stop(mut self) -> Setup {
        self.server.kill();
        self.server.wait_exit();
        self
    }
}

/// Our client with commands typed on its stdin.
struct Typist {
    proc: Proc,
    dir: TempDir,
    marks: usize,
}

impl Typist {
    /// Types `command` and returns what the client printed for it. A marker command typed
    /// after it (answered "Command not found") shows when that output is complete: the client
    /// echoes a command only once it has printed the previous answer.
    fn ask(&mut self, command: &str) -> String {
        self.marks += 1;
        let mark = format!("MARK-{}", self.marks);
        self.proc.write_stdin(&format!("{command}\n{mark}\n"));
        self.proc.wait_stdout(&format!("Command: {mark}"));
        let out = self.proc.stdout();
        let end = out
            .find(&format!("Command: {mark}"))
            .expect("the mark was seen");
        let echo = format!("Command: {command}\n");
        let start = out[..end].rfind(&echo).expect("the command was echoed") + echo.len();
        out[start..end].to_string()
    }

    fn local(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
}

/// A raw connection.
fn raw(addr: SocketAddr) -> TcpStream {
    let s = TcpStream::connect(addr).expect("connecting");
    s.set_read_timeout(Some(WAIT)).expect("read timeout");
    s
}

fn ask_raw(c: &mut TcpStream, command: &str) -> String {
    send_text(c, command).expect("sending a command");
    recv_text(c, MAX_FRAME_LEN)
        .expect("reading an answer")
        .expect("an answer, not a close")
}

/// Tries to take the lock of `name` on a new connection and says BYE (which releases it).
fn try_lock(addr: SocketAddr, name: &str) -> String {
    let mut c = raw(addr);
    let answer = ask_raw(&mut c, &format!("LOCK {name}"));
    assert_eq!(ask_raw(&mut c, "BYE"), "Bye");
    answer
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

/// LOCK then PUT then BYE, the handout's dialogue: the file is replaced, and the server's
/// transcript is the handout's (plus "Waiting for clients..." once the client has gone).
#[test]
fn lock_put_bye_is_the_handouts_dialogue() {
    let s = setup();
    let dir = testkit::tempdir().unwrap();
    fs::write(dir.path().join("data.txt"), "version 2\n").unwrap();
    let a = testkit::client(&bin!("client"), dir.path())
        .args([
            "--port",
            &s.server.port(),
            "LOCK data.txt",
            "PUT data.txt",
            "BYE",
        ])
        .assert()
        .success();
    assert_eq!(
        String::from_utf8_lossy(&a.get_output().stdout),
        format!(
            "Connected to {}\n{LOCKED}\n{MODIFIED}\nBye\n",
            s.server.addr()
        )
    );
    assert_eq!(s.data(), b"version 2\n");
    let s = s.stop();
    assert_eq!(
        transcript(&s.server),
        "Waiting for clients...\n\
         Connection received from client ('127.0.0.1', PORT)\n\
         Received LOCK command from client\n\
         Received PUT command from client\n\
         Received BYE command from client\n\
         Closing connection\n\
         Waiting for clients...\n"
    );
}

/// Two clients, one file: the second is refused the lock and its PUT while the first holds
/// it; the first's PUT replaces the file and frees it; then the second can lock and write,
/// and the first's lock is gone.
#[test]
fn two_clients_take_turns_on_one_file() {
    let s = setup();
    let mut a = s.typist();
    let mut b = s.typist();
    assert_eq!(a.ask("LOCK data.txt"), format!("{LOCKED}\n"));
    assert_eq!(b.ask("LOCK data.txt"), format!("{BLOCKED}\n"));
    fs::write(b.local("data.txt"), "written by B\n").unwrap();
    assert_eq!(b.ask("PUT data.txt"), format!("{NOT_YOURS}\n"));
    assert_eq!(s.data(), b"version 1\n");

    assert_eq!(a.ask("GET data.txt"), "Saved data.txt (10 bytes)\n");
    let mut edited = fs::read(a.local("data.txt")).unwrap();
    edited.extend_from_slice(b"edited by A\n");
    fs::write(a.local("data.txt"), &edited).unwrap();
    assert_eq!(a.ask("PUT data.txt"), format!("{MODIFIED}\n"));
    assert_eq!(s.data(), edited);

    assert_eq!(b.ask("LOCK data.txt"), format!("{LOCKED}\n"));
    assert_eq!(a.ask("PUT data.txt"), format!("{NOT_YOURS}\n"));
    assert_eq!(b.ask("PUT data.txt"), format!("{MODIFIED}\n"));
    assert_eq!(s.data(), b"written by B\n");
}

/// A lock ends with its connection: after BYE, after a plain close, and when the client
/// is killed, another client can take it.
#[test]
fn a_lock_ends_with_bye_close_or_kill() {
    // BYE
    let s = setup();
    let mut a = s.typist();
    assert_eq!(a.ask("LOCK data.txt"), format!("{LOCKED}\n"));
    assert_eq!(try_lock(s.server.addr(), "data.txt"), BLOCKED);
    a.proc.write_stdin("BYE\n");
    assert!(a.proc.wait_exit().success());
    assert_eq!(try_lock(s.server.addr(), "data.txt"), LOCKED);

    // a close without BYE
    let s = setup();
    let mut c = raw(s.server.addr());
    assert_eq!(ask_raw(&mut c, "LOCK data.txt"), LOCKED);
    drop(c);
    s.server.wait_stdout("Lost connection");
    assert_eq!(try_lock(s.server.addr(), "data.txt"), LOCKED);

    // killed
    let s = setup();
    let mut a = s.typist();
    assert_eq!(a.ask("LOCK data.txt"), format!("{LOCKED}\n"));
    a.proc.kill();
    s.server.wait_stdout("Lost connection");
    assert_eq!(try_lock(s.server.addr(), "data.txt"), LOCKED);
}

/// Ten clients each add five lines to one file by LOCK, GET, append, PUT, retrying LOCK while
/// another holds it: all fifty lines are there, each once and whole. No update is lost.
#[test]
fn ten_clients_read_modify_write_lose_nothing() {
    const CLIENTS: usize = 10;
    const ROUNDS: usize = 5;
    /// Bound on LOCK attempts for one round: far more than ten clients ever need.
    const MAX_ATTEMPTS: usize = 1_000_000;
    let s = setup();
    fs::write(s.srv_dir.path().join("data.txt"), "").unwrap();
    let addr = s.server.addr();
    let workers: Vec<_> = (0..CLIENTS)
        .map(|i| {
            std::thread::spawn(move || {
                let mut c = raw(addr);
                for round in 0..ROUNDS {
                    let mut attempts = 0;
                    while ask_raw(&mut c, "LOCK data.txt") != LOCKED {
                        attempts += 1;
                        assert!(attempts < MAX_ATTEMPTS, "client {i} never got the lock");
                        std::thread::yield_now();
                    }
                    assert_eq!(ask_raw(&mut c, "GET data.txt"), "OK");
                    let mut contents = Vec::new();
                    recv_file(&mut c, &mut contents, u64::MAX, |_| Ok(()), |_| {}).unwrap();
                    writeln!(contents, "client {i} round {round}").unwrap();
                    assert_eq!(ask_raw(&mut c, "PUT data.txt"), "OK");
                    let size = contents.len() as u64;
                    send_file(&mut c, &mut &contents[..], size, |_| {}).unwrap();
                    let answer = recv_text(&mut c, MAX_FRAME_LEN).unwrap();
                    assert_eq!(answer.as_deref(), Some(MODIFIED));
                }
                assert_eq!(ask_raw(&mut c, "BYE"), "Bye");
            })
        })
        .collect();
    for w in workers {
        w.join().expect("a client thread failed");
    }
    let text = String::from_utf8(s.data()).unwrap();
    let mut lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), CLIENTS * ROUNDS, "{text}");
    lines.sort_unstable();
    let mut expected: Vec<String> = (0..CLIENTS)
        .flat_map(|i| (0..ROUNDS).map(move |r| format!("client {i} round {r}")))
        .collect();
    expected.sort_unstable();
    assert_eq!(lines, expected);
}

/// Ten client processes at once each LOCK and PUT a 256 KiB file of their own letter: each
/// either gets the lock and writes, or is refused both; the file ends up exactly one
/// writer's version (never a mix), and no temporary file is left.
#[test]
fn ten_client_processes_contend_and_no_write_is_interleaved() {
    const LEN: usize = 256 * 1024;
    let s = setup();
    let dirs: Vec<TempDir> = (0..10).map(|_| testkit::tempdir().unwrap()).collect();
    let port = s.server.port();
    let mut procs: Vec<Proc> = dirs
        .iter()
        .enumerate()
        .map(|(i, d)| {
            fs::write(d.path().join("data.txt"), vec![b'A' + i as u8; LEN]).unwrap();
            Proc::spawn(
                &bin!("client"),
                &["--port", &port, "LOCK data.txt", "PUT data.txt"],
                d.path(),
            )
        })
        .collect();
    let mut writers = Vec::new();
    for (i, p) in procs.iter_mut().enumerate() {
        assert!(p.wait_exit().success(), "{}", p.stderr());
        let out = p.stdout();
        if out.contains(&format!("\n{LOCKED}\n{MODIFIED}\n")) {
            writers.push(b'A' + i as u8);
        } else {
            assert!(
                out.contains(&format!("\n{BLOCKED}\n{NOT_YOURS}\n")),
                "{out}"
            );
        }
    }
    assert!(!writers.is_empty());
    let data = s.data();
    assert_eq!(data.len(), LEN);
    assert!(
        writers.iter().any(|&w| data.iter().all(|&b| b == w)),
        "data.txt is not exactly one writer's version"
    );
    assert_eq!(dir_names(s.srv_dir.path()), ["data.txt"]);
}

/// While a PUT is on its way, readers get the old version whole; the new one replaces it
/// only when complete.
#[test]
fn a_put_in_progress_is_invisible_until_complete() {
    let s = setup();
    let new = vec![b'N'; 100_000];
    let mut a = raw(s.server.addr());
    assert_eq!(ask_raw(&mut a, "LOCK data.txt"), LOCKED);
    assert_eq!(ask_raw(&mut a, "PUT data.txt"), "OK");
    a.write_all(&(new.len() as u64).to_be_bytes()).unwrap();
    a.write_all(&new[..50_000]).unwrap();

    let mut b = s.typist();
    assert_eq!(b.ask("GET data.txt"), "Saved data.txt (10 bytes)\n");
    assert_eq!(fs::read(b.local("data.txt")).unwrap(), b"version 1\n");

    a.write_all(&new[50_000..]).unwrap();
    a.write_all(&crc32(&new).to_be_bytes()).unwrap();
    assert_eq!(
        recv_text(&mut a, MAX_FRAME_LEN).unwrap().as_deref(),
        Some(MODIFIED)
    );
    assert_eq!(b.ask("GET data.txt"), "Saved data.txt (100000 bytes)\n");
    assert!(fs::read(b.local("data.txt")).unwrap() == new);
}

/// A client that vanishes halfway through a PUT leaves the file as it was, no temporary
/// file, and no lock.
#[test]
fn vanishing_mid_put_leaves_the_file_and_frees_the_lock() {
    let s = setup();
    let mut a = raw(s.server.addr());
    assert_eq!(ask_raw(&mut a, "LOCK data.txt"), LOCKED);
    assert_eq!(ask_raw(&mut a, "PUT data.txt"), "OK");
    a.write_all(&1_000_000u64.to_be_bytes()).unwrap();
    a.write_all(&[b'x'; 10_000]).unwrap();
    drop(a);
    s.server.wait_stdout("Lost connection");
    s.server
        .wait_stderr("receiving the new data.txt: peer closed after");
    assert_eq!(s.data(), b"version 1\n");
    assert_eq!(dir_names(s.srv_dir.path()), ["data.txt"]);
    assert_eq!(try_lock(s.server.addr(), "data.txt"), LOCKED);
}

/// A corrupted new version is rejected with the reason, and the file is unchanged.
#[test]
fn corrupted_put_is_rejected() {
    let s = setup();
    let mut a = raw(s.server.addr());
    assert_eq!(ask_raw(&mut a, "LOCK data.txt"), LOCKED);
    assert_eq!(ask_raw(&mut a, "PUT data.txt"), "OK");
    let mut body = sockcore::frame::EXAMPLE_BODY.to_vec();
    body[8] = b'X';
    a.write_all(&body).unwrap();
    let answer = recv_text(&mut a, MAX_FRAME_LEN).unwrap().unwrap();
    assert!(
        answer.starts_with("ERROR receiving the new data.txt: checksum mismatch"),
        "{answer}"
    );
    assert_eq!(s.data(), b"version 1\n");
    assert_eq!(dir_names(s.srv_dir.path()), ["data.txt"]);
}

/// LOCK and PUT of hostile names, a missing file or a directory get a clear answer and
/// change nothing; a symbolic link to data.txt shares data.txt's lock.
#[test]
fn names_are_checked_and_aliases_share_a_lock() {
    let s = setup();
    fs::create_dir(s.srv_dir.path().join("sub")).unwrap();
    let mut c = raw(s.server.addr());
    for name in testkit::hostile::names()
        .iter()
        .map(String::as_str)
        .chain(["nothere.txt", "sub"])
    {
        for command in ["LOCK", "PUT"] {
            let answer = ask_raw(&mut c, &format!("{command} {name}"));
            assert!(
                answer.starts_with("ERROR ") || answer == "File not found",
                "{command} {}: {answer}",
                testkit::hostile::show(name)
            );
        }
    }
    assert_eq!(s.data(), b"version 1\n");
    #[cfg(unix)]
    {
        std::os::unix::fs::symlink("data.txt", s.srv_dir.path().join("alias.txt")).unwrap();
        assert_eq!(ask_raw(&mut c, "LOCK data.txt"), LOCKED);
        assert_eq!(try_lock(s.server.addr(), "alias.txt"), BLOCKED);
    }
}

/// PUT of a file the client does not have sends nothing and the session goes on.
#[test]
fn put_of_a_missing_local_file_sends_nothing() {
    let s = setup();
    let dir = testkit::tempdir().unwrap();
    let a = testkit::client(&bin!("client"), dir.path())
        .args(["--port", &s.server.port(), "PUT data.txt", "TIME"])
        .assert()
        .success();
    let err = String::from_utf8_lossy(&a.get_output().stderr).into_owned();
    assert!(err.starts_with("client: cannot open "), "{err}");
    assert!(err.contains("; nothing sent"), "{err}");
    let s = s.stop();
    assert!(!s.server.stdout().contains("Received PUT"));
    assert!(s
        .server
        .stdout()
        .contains("Received TIME command from client"));
}

/// `--help` names the handout section; a bad flag is a usage error (exit 2).
#[test]
fn help_names_the_handout_and_bad_flags_exit_2() {
    let dir = testkit::tempdir().unwrap();
    for b in [bin!("client"), bin!("server")] {
        let a = testkit::client(&b, dir.path())
            .arg("--help")
            .assert()
            .success();
        assert!(String::from_utf8_lossy(&a.get_output().stdout).contains("TCP 2.2 (Práctica TCP)"));
        testkit::client(&b, dir.path())
            .arg("--bogus")
            .assert()
            .code(2);
    }
}

/// CRC-32 (IEEE, as zlib's) of `data`, for a body written by hand.
fn crc32(data: &[u8]) -> u32 {
    let mut wire = Vec::new();
    send_file(&mut wire, &mut &data[..], data.len() as u64, |_| {}).expect("writing to memory");
    let tail: [u8; 4] = wire[wire.len() - 4..]
        .try_into()
        .expect("a body ends with 4 CRC bytes");
    u32::from_be_bytes(tail)
}
