//! End-to-end tests of TCP 2.1: this package's `server` (in a temporary --dir) and `client`
//! (saving into another), and raw sockets speaking `sockcore::frame` for the exact bytes and
//! for what our client never sends (hostile names, garbage, vanishing).

use sockcore::clock::{CivilTime, TIME_LEN};
use sockcore::frame::{recv_file, recv_text, send_text, MAX_FRAME_LEN};
use std::fs;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use testkit::{bin, dir_names, random_file, Proc, Server, TempDir, WAIT};

/// A server in one temporary directory, a client directory beside it.
struct Setup {
    server: Server,
    srv_dir: TempDir,
    cli_dir: TempDir,
}

fn setup() -> Setup {
    let srv_dir = testkit::tempdir().expect("server temp dir");
    let cli_dir = testkit::tempdir().expect("client temp dir");
    let server = Server::start(&bin!("server"), &["--dir", "."], srv_dir.path());
    Setup {
        server,
        srv_dir,
        cli_dir,
    }
}

impl Setup {
    fn client(&self, commands: &[&str]) -> assert_cmd::assert::Assert {
        testkit::client(&bin!("client"), self.cli_dir.path())
            .args(["--port", &self.server.port()])
            .args(commands)
            .assert()
    }

    fn srv(&self, name: &str) -> PathBuf {
        self.srv_dir.path().join(name)
    }

    fn cli(&self, name: &str) -> PathBuf {
        self.cli_dir.path().join(name)
    }

    fn raw(&self) -> TcpStream {
        let s = TcpStream::connect(self.server.addr()).expect("connecting");
        s.set_read_timeout(Some(WAIT)).expect("read timeout");
        s
    }

    /// Stops the server and waits until everything it printed has been read; the server
    /// prints all of a session's lines before its last answer, so nothing is lost.
    fn stop(mut self) -> Setup {
        self.server.kill();
        self.server.wait_exit();
        self
    }
}

fn stdout_of(a: &assert_cmd::assert::Assert) -> String {
    String::from_utf8_lossy(&a.get_output().stdout).into_owned()
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

/// The handout's dialogue (an unknown command, a missing file, a file, the time, BYE): the
/// client prints each answer and saves the file; the server prints the handout's lines, and
/// stays with the client after "File not found" (the handout's server abandons it).
#[test]
fn handout_dialogue_prints_the_handouts_lines() {
    let s = setup();
    fs::write(s.srv("data.txt"), "Hola, esto es data.txt\n").unwrap();
    let a = s
        .client(&["HELLO", "GET nothere.txt", "GET data.txt", "TIME", "BYE"])
        .success();
    let out = stdout_of(&a);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 6, "{out}");
    assert_eq!(lines[0], format!("Connected to {}", s.server.addr()));
    assert_eq!(
        lines[1..4],
        [
            "Command not found",
            "File not found",
            "Saved data.txt (23 bytes)"
        ]
    );
    assert!(CivilTime::parse(lines[4]).is_some(), "{out}");
    assert_eq!(lines[5], "Bye");
    assert_eq!(
        fs::read(s.cli("data.txt")).unwrap(),
        b"Hola, esto es data.txt\n"
    );
    let s = s.stop();
    assert_eq!(
        transcript(&s.server),
        "Waiting for clients...\n\
         Connection received from client ('127.0.0.1', PORT)\n\
         Client issued an unknown command\n\
         Received GET command from client\n\
         File requested by client not found\n\
         Received GET command from client\n\
         Received TIME command from client\n\
         Received BYE command from client\n\
         Closing connection\n\
         Waiting for clients...\n"
    );
}

/// Files over 1,024 bytes (where the handout's single recv stops), binary ones, an empty one
/// and one in a subdirectory arrive byte-identical.
#[test]
fn any_file_arrives_identical() {
    let s = setup();
    let big = fs::read(random_file(&s.srv("photo.jpg"), 5 * 1024 * 1024 + 3, 7)).unwrap();
    let small = fs::read(random_file(&s.srv("k1025.bin"), 1025, 8)).unwrap();
    fs::write(s.srv("empty"), "").unwrap();
    fs::create_dir(s.srv("sub")).unwrap();
    fs::write(s.srv("sub/notes.txt"), "in a subdirectory").unwrap();
    let a = s
        .client(&[
            "GET photo.jpg",
            "GET k1025.bin",
            "GET empty",
            "GET sub/notes.txt",
        ])
        .success();
    assert!(stdout_of(&a).contains("Saved photo.jpg (5242883 bytes)\n"));
    assert!(
        fs::read(s.cli("photo.jpg")).unwrap() == big,
        "photo.jpg differs"
    );
    assert_eq!(fs::read(s.cli("k1025.bin")).unwrap(), small);
    assert_eq!(fs::read(s.cli("empty")).unwrap(), b"");
    assert_eq!(fs::read(s.cli("notes.txt")).unwrap(), b"in a subdirectory");
    assert_eq!(
        dir_names(s.cli_dir.path()),
        ["empty", "k1025.bin", "notes.txt", "photo.jpg"]
    );
}

/// On the wire: each command one frame; TIME gets a 26-byte time; GET gets `OK` and a body
/// (u64 size, bytes, CRC-32); unknown commands `Command not found`; BYE `Bye` and a close.
#[test]
fn wire_format_is_frames_and_a_sized_body() {
    let s = setup();
    fs::write(s.srv("abc"), "abc").unwrap();
    let mut c = s.raw();
    send_text(&mut c, "TIME").unwrap();
    let time = recv_text(&mut c, MAX_FRAME_LEN).unwrap().unwrap();
    assert_eq!(time.len(), TIME_LEN);
    send_text(&mut c, "GET abc").unwrap();
    let mut ok = [0u8; 6];
    c.read_exact(&mut ok).unwrap();
    assert_eq!(&ok, b"\x00\x00\x00\x02OK");
    let mut body = [0u8; sockcore::frame::EXAMPLE_BODY.len()];
    c.read_exact(&mut body).unwrap();
    assert_eq!(body, sockcore::frame::EXAMPLE_BODY);
    send_text(&mut c, "time").unwrap();
    assert_eq!(
        recv_text(&mut c, MAX_FRAME_LEN).unwrap().as_deref(),
        Some("Command not found")
    );
    send_text(&mut c, "BYE").unwrap();
    assert_eq!(
        recv_text(&mut c, MAX_FRAME_LEN).unwrap().as_deref(),
        Some("Bye")
    );
    assert_eq!(recv_text(&mut c, MAX_FRAME_LEN).unwrap(), None);
}

/// Every hostile name, and symbolic links that lead out, get a clear answer and never the
/// contents of a file outside --dir.
#[test]
fn names_outside_the_directory_are_refused() {
    let s = setup();
    let outside = testkit::tempdir().unwrap();
    let links = testkit::hostile::plant_symlink_out(s.srv_dir.path(), outside.path());
    fs::create_dir(s.srv("sub")).unwrap();
    let mut names = testkit::hostile::names();
    names.extend(links.iter().map(|l| l.to_string()));
    names.push("dir-out/secret".to_string());
    names.push("sub".to_string());
    let mut c = s.raw();
    for name in &names {
        send_text(&mut c, &format!("GET {name}")).unwrap();
        let answer = recv_text(&mut c, MAX_FRAME_LEN)
            .unwrap()
            .expect("an answer");
        assert!(
            answer.starts_with("ERROR ") || answer == "File not found",
            "{}: {answer}",
            testkit::hostile::show(name)
        );
    }
    assert_eq!(dir_names(s.cli_dir.path()), Vec::<String>::new());
}

/// A refused name through our client is printed, nothing is saved, and the session goes on.
#[test]
fn client_prints_refusals_and_goes_on() {
    let s = setup();
    let a = s.client(&["GET ../x", "GET /etc/passwd", "TIME"]).success();
    let out = stdout_of(&a);
    assert!(
        out.contains("\nERROR file name \"../x\" leaves the server directory"),
        "{out}"
    );
    assert!(
        out.contains("\nERROR file name \"/etc/passwd\" is absolute"),
        "{out}"
    );
    assert!(out.ends_with("\nBye\n"), "{out}");
    assert_eq!(dir_names(s.cli_dir.path()), Vec::<String>::new());
}

/// Commands typed on stdin, one per line; the end of input sends BYE.
#[test]
fn commands_from_stdin_and_end_of_input_says_bye() {
    let s = setup();
    fs::write(s.srv("data.txt"), "x").unwrap();
    let a = testkit::client(&bin!("client"), s.cli_dir.path())
        .args(["--port", &s.server.port()])
        .write_stdin("GET data.txt\nNOPE\n")
        .assert()
        .success();
    assert_eq!(
        stdout_of(&a),
        format!(
            "Connected to {}\nCommand: GET data.txt\nSaved data.txt (1 bytes)\n\
             Command: NOPE\nCommand not found\nCommand: \n(end of input: BYE)\nBye\n",
            s.server.addr()
        )
    );
}

/// Several clients at once: two large downloads while a third client sits idle.
#[test]
fn several_clients_at_once() {
    let s = setup();
    let a = fs::read(random_file(&s.srv("a.bin"), 3 << 20, 1)).unwrap();
    let b = fs::read(random_file(&s.srv("b.bin"), 3 << 20, 2)).unwrap();
    let mut idle = s.raw();
    send_text(&mut idle, "TIME").unwrap();
    recv_text(&mut idle, MAX_FRAME_LEN).unwrap();
    let port = s.server.port();
    let client = bin!("client");
    let dir_a = testkit::tempdir().unwrap();
    let dir_b = testkit::tempdir().unwrap();
    let mut ca = Proc::spawn(&client, &["--port", &port, "GET a.bin"], dir_a.path());
    let mut cb = Proc::spawn(&client, &["--port", &port, "GET b.bin"], dir_b.path());
    assert!(ca.wait_exit().success(), "{}", ca.stderr());
    assert!(cb.wait_exit().success(), "{}", cb.stderr());
    assert!(fs::read(dir_a.path().join("a.bin")).unwrap() == a);
    assert!(fs::read(dir_b.path().join("b.bin")).unwrap() == b);
}

/// A client that vanishes (or sends garbage, or a huge frame length) is dropped with "Lost
/// connection"; the next client is served.
#[test]
fn misbehaving_clients_never_stop_the_server() {
    let s = setup();
    drop(s.raw());
    s.server.wait_stderr("left without BYE");

    let mut c = s.raw();
    c.write_all(&[0xff, 0xff, 0xff, 0xf0]).unwrap();
    let answer = recv_text(&mut c, MAX_FRAME_LEN).unwrap();
    assert_eq!(
        answer.as_deref(),
        Some("ERROR frame length 4294967280 exceeds limit 65536")
    );

    let mut c = s.raw();
    c.write_all(b"\x00\x00\x00\x10GET da").unwrap();
    drop(c);
    s.server
        .wait_stderr("peer closed in the middle of the frame payload");

    fs::write(s.srv("after.txt"), "still here").unwrap();
    s.client(&["GET after.txt"]).success();
    assert_eq!(fs::read(s.cli("after.txt")).unwrap(), b"still here");
    let s = s.stop();
    assert_eq!(s.server.stdout().matches("Lost connection").count(), 3);
    assert!(
        !s.server.stderr().contains("panicked"),
        "{}",
        s.server.stderr()
    );
}

/// A download cut short (a fake server sends part of the body and closes) fails with exit
/// 1, leaves no partial file, and keeps the client's older copy intact.
#[test]
fn broken_download_keeps_the_old_local_file() {
    let dir = testkit::tempdir().unwrap();
    fs::write(dir.path().join("data.txt"), "old copy").unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let fake = std::thread::spawn(move || {
        let (mut c, _) = listener.accept().unwrap();
        c.set_read_timeout(Some(WAIT)).unwrap();
        assert_eq!(
            recv_text(&mut c, MAX_FRAME_LEN).unwrap().as_deref(),
            Some("GET data.txt")
        );
        send_text(&mut c, "OK").unwrap();
        c.write_all(&1000u64.to_be_bytes()).unwrap();
        c.write_all(&[b'n'; 100]).unwrap();
    });
    let a = testkit::client(&bin!("client"), dir.path())
        .args(["--port", &port.to_string(), "GET data.txt"])
        .assert()
        .code(1);
    fake.join().unwrap();
    let err = String::from_utf8_lossy(&a.get_output().stderr).into_owned();
    assert!(
        err.contains("receiving data.txt: peer closed after 100 of 1000 file bytes"),
        "{err}"
    );
    assert_eq!(dir_names(dir.path()), ["data.txt"]);
    assert_eq!(fs::read(dir.path().join("data.txt")).unwrap(), b"old copy");
}

/// A body whose checksum does not match is rejected and nothing is saved.
#[test]
fn corrupted_download_is_rejected() {
    let dir = testkit::tempdir().unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let fake = std::thread::spawn(move || {
        let (mut c, _) = listener.accept().unwrap();
        c.set_read_timeout(Some(WAIT)).unwrap();
        recv_text(&mut c, MAX_FRAME_LEN).unwrap();
        send_text(&mut c, "OK").unwrap();
        let mut body = sockcore::frame::EXAMPLE_BODY.to_vec();
        body[9] = b'X';
        c.write_all(&body).unwrap();
        let _ = c.read_to_end(&mut Vec::new());
    });
    let a = testkit::client(&bin!("client"), dir.path())
        .args(["--port", &port.to_string(), "GET abc"])
        .assert()
        .code(1);
    fake.join().unwrap();
    let err = String::from_utf8_lossy(&a.get_output().stderr).into_owned();
    assert!(err.contains("checksum mismatch"), "{err}");
    assert_eq!(dir_names(dir.path()), Vec::<String>::new());
}

/// The server's own file is read by a raw client exactly as sent (`recv_file` checks it).
#[test]
fn raw_client_can_verify_a_download() {
    let s = setup();
    let data = fs::read(random_file(&s.srv("r.bin"), 70_000, 3)).unwrap();
    let mut c = s.raw();
    send_text(&mut c, "GET r.bin").unwrap();
    assert_eq!(
        recv_text(&mut c, MAX_FRAME_LEN).unwrap().as_deref(),
        Some("OK")
    );
    let mut got = Vec::new();
    let sum = recv_file(&mut c, &mut got, u64::MAX, |_| Ok(()), |_| {}).unwrap();
    assert_eq!(sum.size, 70_000);
    assert!(got == data);
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
        assert!(stdout_of(&a).contains("TCP 2.1 (Práctica TCP)"));
        testkit::client(&b, dir.path())
            .arg("--bogus")
            .assert()
            .code(2);
    }
}
