//! End-to-end tests of Ej. 3: the real `server` and `client` binaries of this package on
//! `--port 0` in temporary directories, plus raw sockets for what the client never sends
//! (bad requests, oversized frames, invalid UTF-8 from a hand-made body, vanishing clients).

use sockcore::frame::{recv_file, recv_text, send_file, send_frame, send_text, MAX_FRAME_LEN};
use std::fs;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use testkit::{bin, dir_names, Server, TempDir};
use testkit::{stderr as stderr_of, stdout as stdout_of};

struct Setup {
    server: Server,
    dir: TempDir,
    client: PathBuf,
}

fn setup_with(args: &[&str]) -> Setup {
    let dir = testkit::tempdir().expect("temp dir");
    let server = Server::start(&bin!("server"), args, dir.path());
    Setup {
        server,
        dir,
        client: bin!("client"),
    }
}

fn setup() -> Setup {
    setup_with(&[])
}

impl Setup {
    /// Runs the client in the temporary directory with `args` and `stdin`.
    fn client(&self, args: &[&str], stdin: &str) -> assert_cmd::assert::Assert {
        testkit::client(&self.client, self.dir.path())
            .args(["--port", &self.server.port()])
            .args(args)
            .write_stdin(stdin)
            .assert()
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// A raw TCP connection to the server, with a read timeout.
    fn raw(&self) -> TcpStream {
        let s = TcpStream::connect(self.server.addr()).expect("connecting");
        s.set_read_timeout(Some(testkit::WAIT))
            .expect("read timeout");
        s
    }
}

/// The handout's example: Hello.txt with "Hello World!" comes back as "!dlroW olleH", 12 bytes.
#[test]
fn hello_world_comes_back_reversed_with_its_size() {
    let s = setup();
    fs::write(s.path("Hello.txt"), "Hello World!").unwrap();
    let a = s.client(&[], "Hello.txt\n").success();
    assert_eq!(
        stdout_of(&a),
        "Nombre del archivo: Hello.txt\n\
         Archivo enviado\n\
         Recibido archivo invertido\n\
         Tamaño: 12 bytes\n\
         Guardado en Hello_invertido.txt\n"
    );
    assert_eq!(
        fs::read_to_string(s.path("Hello_invertido.txt")).unwrap(),
        "!dlroW olleH"
    );
    assert_eq!(
        fs::read_to_string(s.path("Hello.txt")).unwrap(),
        "Hello World!"
    );
    s.server
        .wait_stdout("Enviado Hello.txt invertido: 12 bytes");
    assert!(s.server.stdout().contains("Recibido Hello.txt: 12 bytes\n"));
}

/// Multi-byte characters are reversed whole (by Unicode scalar value), never torn apart.
#[test]
fn multibyte_characters_are_reversed_whole() {
    let s = setup();
    fs::write(s.path("es.txt"), "añoño ¿qué? 😀\nfin").unwrap();
    let a = s.client(&["es.txt"], "").success();
    assert!(
        stdout_of(&a).contains("Tamaño: 24 bytes\n"),
        "{}",
        stdout_of(&a)
    );
    assert_eq!(
        fs::read_to_string(s.path("es_invertido.txt")).unwrap(),
        "nif\n😀 ?éuq¿ oñoña"
    );
}

/// The reversed copy never overwrites: a second run picks the next free name.
#[test]
fn existing_reversed_copy_is_not_overwritten() {
    let s = setup();
    fs::write(s.path("Hello.txt"), "abc").unwrap();
    fs::write(s.path("Hello_invertido.txt"), "keep me").unwrap();
    let a = s.client(&["Hello.txt"], "").success();
    assert!(stdout_of(&a).ends_with("Guardado en Hello_invertido_2.txt\n"));
    assert_eq!(
        fs::read_to_string(s.path("Hello_invertido.txt")).unwrap(),
        "keep me"
    );
    assert_eq!(
        fs::read_to_string(s.path("Hello_invertido_2.txt")).unwrap(),
        "cba"
    );
}

/// An empty file is reversed into an empty file of 0 bytes.
#[test]
fn empty_file_gives_empty_file() {
    let s = setup();
    fs::write(s.path("vacio"), "").unwrap();
    let a = s.client(&["vacio"], "").success();
    assert!(stdout_of(&a).contains("Tamaño: 0 bytes\nGuardado en vacio_invertido\n"));
    assert_eq!(fs::read(s.path("vacio_invertido")).unwrap(), b"");
}

/// A file that is not UTF-8 text gets the server's error; nothing is saved.
#[test]
fn invalid_utf8_file_gets_error_and_nothing_saved() {
    let s = setup();
    fs::write(s.path("foto.jpg"), b"\xff\xd8\xff\xe0JFIF").unwrap();
    let a = s.client(&["foto.jpg"], "").code(1);
    assert_eq!(stdout_of(&a), "Archivo enviado\n");
    assert_eq!(
        stderr_of(&a),
        "error: waiting for the reversed file: the server refused the file: foto.jpg is not valid UTF-8 text (bad byte at offset 0)\n"
    );
    assert_eq!(dir_names(s.dir.path()), ["foto.jpg"]);
    s.server.wait_stderr("foto.jpg is not valid UTF-8 text");
}

/// A missing file is refused before connecting: the server never sees a connection.
#[test]
fn missing_file_is_refused_before_connecting() {
    let s = setup();
    let a = s.client(&[], "nada.txt\n").code(1);
    assert!(
        stderr_of(&a).starts_with("error: opening nada.txt: "),
        "{}",
        stderr_of(&a)
    );
    assert_eq!(stdout_of(&a), "Nombre del archivo: nada.txt\n");
    fs::write(s.path("ok.txt"), "ok").unwrap();
    s.client(&["ok.txt"], "").success();
    s.server.wait_stdout("Enviado ok.txt invertido");
    assert_eq!(s.server.stdout().matches("Conexión desde").count(), 1);
}

/// A file over the server's --max-size is refused before a byte of it is sent.
#[test]
fn file_over_limit_is_refused_before_sending() {
    let s = setup_with(&["--max-size", "10"]);
    fs::write(s.path("big.txt"), "x".repeat(11)).unwrap();
    let a = s.client(&["big.txt"], "").code(1);
    assert_eq!(
        stderr_of(&a),
        "error: the server refused the file: file of 11 bytes exceeds limit 10\n"
    );
    assert_eq!(stdout_of(&a), "");
    assert_eq!(dir_names(s.dir.path()), ["big.txt"]);
}

/// A request the server does not understand gets an error reply and the connection closes.
#[test]
fn bad_requests_get_error_replies() {
    let s = setup();
    let long = "n".repeat(300);
    let long_request = format!("REVERSE 3 {long}");
    let table: &[(&str, &str)] = &[
        (
            "HELLO",
            "ERROR expected REVERSE <size> <name>, got \"HELLO\"",
        ),
        ("REVERSE 12", "ERROR expected REVERSE <size> <name>"),
        ("REVERSE doce Hello.txt", "ERROR bad size \"doce\""),
        (
            "REVERSE 3 ../x",
            "ERROR file name \"../x\" leaves the server directory",
        ),
        (
            "REVERSE 3 a\u{1b}[31mb",
            "ERROR file name \"a\\u{1b}[31mb\" contains a control character",
        ),
        (
            &long_request,
            "ERROR file name is 300 bytes long, limit 255",
        ),
    ];
    for (request, want) in table {
        let mut c = s.raw();
        send_text(&mut c, request).unwrap();
        let reply = recv_text(&mut c, MAX_FRAME_LEN).unwrap().expect("a reply");
        assert!(reply.starts_with(want), "{request:?}: {reply}");
        assert_eq!(recv_text(&mut c, MAX_FRAME_LEN).unwrap(), None);
    }
}

/// A frame length over the limit and a request that is not UTF-8 get error replies.
#[test]
fn oversized_and_non_utf8_requests_get_error_replies() {
    let s = setup();
    let mut c = s.raw();
    c.write_all(&[0x7f, 0xff, 0xff, 0xff]).unwrap();
    let reply = recv_text(&mut c, MAX_FRAME_LEN).unwrap().expect("a reply");
    assert_eq!(reply, "ERROR frame length 2147483647 exceeds limit 65536");

    let mut c = s.raw();
    send_frame(&mut c, b"REVERSE \xff").unwrap();
    let reply = recv_text(&mut c, MAX_FRAME_LEN).unwrap().expect("a reply");
    assert_eq!(
        reply,
        "ERROR frame is not valid UTF-8 text (bad byte at offset 8)"
    );
}

/// A body of another size than announced is refused (its size is checked before its bytes).
#[test]
fn body_larger_than_announced_is_refused() {
    let s = setup();
    let mut c = s.raw();
    send_text(&mut c, "REVERSE 2 a.txt").unwrap();
    assert_eq!(
        recv_text(&mut c, MAX_FRAME_LEN).unwrap().as_deref(),
        Some("OK")
    );
    // Only the body's size: the server decides from it, and no unread bytes are left
    // (closing with unread input would make the kernel reset the connection).
    c.write_all(&3u64.to_be_bytes()).unwrap();
    let reply = recv_text(&mut c, MAX_FRAME_LEN).unwrap().expect("a reply");
    assert_eq!(reply, "ERROR receiving a.txt: file size 3 exceeds limit 2");
}

/// A body smaller than announced is refused too.
#[test]
fn body_smaller_than_announced_is_refused() {
    let s = setup();
    let mut c = s.raw();
    send_text(&mut c, "REVERSE 5 a.txt").unwrap();
    recv_text(&mut c, MAX_FRAME_LEN).unwrap();
    send_file(&mut c, &mut &b"abc"[..], 3, |_| {}).unwrap();
    let reply = recv_text(&mut c, MAX_FRAME_LEN).unwrap().expect("a reply");
    assert_eq!(
        reply,
        "ERROR a.txt was announced with 5 bytes but 3 arrived"
    );
}

/// The raw exchange is exactly as documented: OK, then REVERSED <size> and the body.
#[test]
fn wire_exchange_matches_the_docs() {
    let s = setup();
    let mut c = s.raw();
    send_text(&mut c, "REVERSE 3 abc.txt").unwrap();
    assert_eq!(
        recv_text(&mut c, MAX_FRAME_LEN).unwrap().as_deref(),
        Some("OK")
    );
    c.write_all(&sockcore::frame::EXAMPLE_BODY).unwrap();
    assert_eq!(
        recv_text(&mut c, MAX_FRAME_LEN).unwrap().as_deref(),
        Some("REVERSED 3")
    );
    let mut back = Vec::new();
    let body = recv_file(&mut c, &mut back, 3, |_| Ok(()), |_| {}).unwrap();
    assert_eq!(back, b"cba");
    assert_eq!(body.size, 3);
    assert_eq!(recv_text(&mut c, MAX_FRAME_LEN).unwrap(), None);
}

/// Clients that vanish mid-file, garbage and silent clients never stop the server.
#[test]
fn vanishing_clients_and_garbage_never_stop_the_server() {
    let s = setup();
    let mut c = s.raw();
    send_text(&mut c, "REVERSE 1000 a.txt").unwrap();
    recv_text(&mut c, MAX_FRAME_LEN).unwrap();
    c.write_all(&1000u64.to_be_bytes()).unwrap();
    c.write_all(b"half").unwrap();
    drop(c);
    s.server
        .wait_stderr("receiving a.txt: peer closed after 4 of 1000 file bytes");
    let _silent = s.raw();
    for seed in 0..10usize {
        let mut c = s.raw();
        let junk: Vec<u8> = (0..200).map(|i| (seed * 13 + i * 29) as u8).collect();
        let _ = c.write_all(&junk);
        let _ = c.shutdown(std::net::Shutdown::Write);
        let _ = c.read_to_end(&mut Vec::new());
    }
    fs::write(s.path("x.txt"), "ab").unwrap();
    s.client(&["x.txt"], "").success();
    assert_eq!(fs::read(s.path("x_invertido.txt")).unwrap(), b"ba");
    assert!(!s.server.stderr().contains("panicked"));
}

/// A server that vanishes while sending the reversed text leaves no file behind.
#[test]
fn server_vanishing_mid_reply_leaves_nothing() {
    let dir = testkit::tempdir().unwrap();
    fs::write(dir.path().join("t.txt"), "abcdef").unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port().to_string();
    let fake = std::thread::spawn(move || {
        let (mut c, _) = listener.accept().unwrap();
        c.set_read_timeout(Some(testkit::WAIT)).unwrap();
        recv_text(&mut c, MAX_FRAME_LEN).unwrap();
        send_text(&mut c, "OK").unwrap();
        recv_file(&mut c, &mut Vec::new(), 6, |_| Ok(()), |_| {}).unwrap();
        send_text(&mut c, "REVERSED 6").unwrap();
        c.write_all(&6u64.to_be_bytes()).unwrap();
        c.write_all(b"fed").unwrap();
    });
    let a = testkit::client(&bin!("client"), dir.path())
        .args(["--port", &port, "t.txt"])
        .assert()
        .code(1);
    fake.join().unwrap();
    assert!(
        stderr_of(&a).contains("peer closed after 3 of 6 file bytes"),
        "{}",
        stderr_of(&a)
    );
    assert_eq!(dir_names(dir.path()), ["t.txt"]);
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
        assert!(stdout_of(&a).contains("Ej. 3 (Práctica 2)"));
        testkit::client(&b, dir.path())
            .arg("--bogus")
            .assert()
            .code(2);
    }
}
