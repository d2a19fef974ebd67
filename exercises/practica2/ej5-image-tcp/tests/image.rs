//! End-to-end tests of Ej. 5: the real `server` and `client` binaries of this package on
//! `--port 0` in temporary directories, raw sockets for what the client never sends (bad
//! requests), and fake servers that send a broken or half image. Hostile names, seeded
//! garbage and killed processes are in `reliability.rs`.

use sockcore::frame::{recv_file, recv_text, send_text, MAX_FRAME_LEN};
use std::fs;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use testkit::{bin, dir_names, random_file, Server, TempDir};
use testkit::{stderr as stderr_of, stdout as stdout_of};

/// A server in its own temporary directory and a client directory beside it.
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
    /// Runs the client in the client directory with `args` and `stdin`.
    fn client(&self, args: &[&str], stdin: &str) -> assert_cmd::assert::Assert {
        testkit::client(&self.client, self.cli_dir.path())
            .args(["--port", &self.server.port()])
            .args(args)
            .write_stdin(stdin)
            .assert()
    }

    fn cli(&self, name: &str) -> PathBuf {
        self.cli_dir.path().join(name)
    }

    fn srv(&self, name: &str) -> PathBuf {
        self.srv_dir.path().join(name)
    }

    /// A raw TCP connection to the server, with a read timeout.
    fn raw(&self) -> TcpStream {
        let s = TcpStream::connect(self.server.addr()).expect("connecting");
        s.set_read_timeout(Some(testkit::WAIT))
            .expect("read timeout");
        s
    }

    /// Sends `GET <name>` on a raw connection and returns the first reply.
    fn raw_get(&self, name: &str) -> String {
        let mut c = self.raw();
        send_text(&mut c, &format!("GET {name}")).expect("sending");
        recv_text(&mut c, MAX_FRAME_LEN)
            .expect("reading")
            .expect("a reply")
    }
}

/// A fake server that answers any request with `reply` and then `body` raw bytes.
fn fake_server(reply: &'static str, body: Vec<u8>) -> (String, std::thread::JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("binding the fake server");
    let port = listener
        .local_addr()
        .expect("its address")
        .port()
        .to_string();
    let t = std::thread::spawn(move || {
        let (mut c, _) = listener.accept().expect("the client connects");
        c.set_read_timeout(Some(testkit::WAIT))
            .expect("read timeout");
        recv_text(&mut c, MAX_FRAME_LEN).expect("the request");
        send_text(&mut c, reply).expect("sending the reply");
        c.write_all(&body).expect("sending the body");
    });
    (port, t)
}

/// A binary image arrives byte-identical in the client's directory, under its name.
#[test]
fn image_is_downloaded_byte_identical() {
    let s = setup();
    let data = fs::read(random_file(&s.srv("gato.jpg"), 3 * 1024 * 1024 + 5, 7)).unwrap();
    let a = s.client(&["gato.jpg"], "").success();
    let out = stdout_of(&a);
    assert!(
        out.starts_with("Solicitando gato.jpg\nRecibiendo gato.jpg (3145733 bytes)\nImagen guardada: gato.jpg (3145733 bytes, crc32 "),
        "{out}"
    );
    assert!(fs::read(s.cli("gato.jpg")).unwrap() == data, "bytes differ");
    assert_eq!(dir_names(s.cli_dir.path()), ["gato.jpg"]);
    s.server
        .wait_stdout("Enviado gato.jpg: 3145733 bytes, crc32 ");
    assert!(s.server.stdout().contains("Petición de gato.jpg\n"));
}

/// Without an argument the client asks for the name, as the handout's `input()` would.
#[test]
fn name_is_asked_when_absent() {
    let s = setup();
    fs::write(s.srv("mini.JPG"), b"\xff\xd8\xff\xd9").unwrap();
    let a = s.client(&[], "mini.JPG\n").success();
    assert_eq!(
        stdout_of(&a),
        "Nombre de la imagen (.jpg): mini.JPG\n\
         Solicitando mini.JPG\n\
         Recibiendo mini.JPG (4 bytes)\n\
         Imagen guardada: mini.JPG (4 bytes, crc32 10f02a67)\n"
    );
    assert_eq!(fs::read(s.cli("mini.JPG")).unwrap(), b"\xff\xd8\xff\xd9");
}

/// A missing image gets the server's error, exit 1, and nothing is written; the server goes on.
#[test]
fn missing_image_gets_error_and_nothing_written() {
    let s = setup();
    let a = s.client(&["nada.jpg"], "").code(1);
    assert_eq!(stdout_of(&a), "Solicitando nada.jpg\n");
    assert_eq!(
        stderr_of(&a),
        "error: the server refused the request: nada.jpg does not exist in the server's directory\n"
    );
    assert_eq!(dir_names(s.cli_dir.path()), Vec::<String>::new());
    s.server
        .wait_stderr("nada.jpg does not exist in the server's directory");
    fs::write(s.srv("si.jpg"), "x").unwrap();
    s.client(&["si.jpg"], "").success();
}

/// A file that is not a .jpg, and a directory named like one, are refused.
#[test]
fn non_jpg_and_directories_are_refused() {
    let s = setup();
    fs::write(s.srv("notas.txt"), "secreto").unwrap();
    fs::write(s.srv("jpg"), "x").unwrap();
    fs::create_dir(s.srv("album.jpg")).unwrap();
    for (name, want) in [
        ("notas.txt", "notas.txt is not a .jpg file"),
        ("jpg", "jpg is not a .jpg file"),
        ("album.jpg", "album.jpg is not a regular file"),
    ] {
        let a = s.client(&[name], "").code(1);
        assert_eq!(
            stderr_of(&a),
            format!("error: the server refused the request: {want}\n")
        );
    }
    assert_eq!(dir_names(s.cli_dir.path()), Vec::<String>::new());
}

/// The client refuses a name with a path in it before connecting: it saves a bare name only.
#[test]
fn client_refuses_paths_before_connecting() {
    let s = setup();
    let a = s.client(&["../x.jpg"], "").code(1);
    assert_eq!(
        stderr_of(&a),
        "error: file name \"../x.jpg\" leaves the server directory (\"..\" is not allowed)\n"
    );
    assert_eq!(stdout_of(&a), "");
}

/// An existing local file is kept when the user answers "n", and no request is sent.
#[test]
fn existing_local_file_answer_no_keeps_it() {
    let s = setup();
    fs::write(s.srv("foto.jpg"), "nueva").unwrap();
    fs::write(s.cli("foto.jpg"), "vieja").unwrap();
    let a = s.client(&["foto.jpg"], "n\n").success();
    assert_eq!(
        stdout_of(&a),
        "El fichero foto.jpg ya existe en este directorio\n\
         ¿Desea sobrescribir el fichero? (s/n) n\n\
         Descarga cancelada: no se sobrescribe foto.jpg\n"
    );
    assert_eq!(fs::read(s.cli("foto.jpg")).unwrap(), b"vieja");
    let b = s.client(&["--overwrite", "yes", "foto.jpg"], "").success();
    assert!(stdout_of(&b).contains("Imagen guardada: foto.jpg (5 bytes"));
    assert_eq!(fs::read(s.cli("foto.jpg")).unwrap(), b"nueva");
    assert_eq!(s.server.stdout().matches("Petición de").count(), 1);
}

/// A server that dies halfway leaves no partial image, and an existing file stays intact.
#[test]
fn server_vanishing_mid_image_leaves_nothing() {
    let dir = testkit::tempdir().unwrap();
    fs::write(dir.path().join("a.jpg"), "original").unwrap();
    let mut body = 1000u64.to_be_bytes().to_vec();
    body.extend_from_slice(&[9u8; 300]);
    let (port, fake) = fake_server("OK 1000", body);
    let a = testkit::client(&bin!("client"), dir.path())
        .args(["--port", &port, "--overwrite", "yes", "a.jpg"])
        .assert()
        .code(1);
    fake.join().unwrap();
    assert!(
        stderr_of(&a).contains("peer closed after 300 of 1000 file bytes"),
        "{}",
        stderr_of(&a)
    );
    assert_eq!(dir_names(dir.path()), ["a.jpg"]);
    assert_eq!(fs::read(dir.path().join("a.jpg")).unwrap(), b"original");
}

/// An image whose checksum does not match is discarded.
#[test]
fn corrupted_image_is_discarded() {
    let dir = testkit::tempdir().unwrap();
    let mut body = sockcore::frame::EXAMPLE_BODY.to_vec();
    body[9] ^= 0x20;
    let (port, fake) = fake_server("OK 3", body);
    let a = testkit::client(&bin!("client"), dir.path())
        .args(["--port", &port, "b.jpg"])
        .assert()
        .code(1);
    fake.join().unwrap();
    assert!(
        stderr_of(&a).contains("checksum mismatch"),
        "{}",
        stderr_of(&a)
    );
    assert_eq!(dir_names(dir.path()), Vec::<String>::new());
}

/// A size over the client's --max-size is refused before anything is written.
#[test]
fn image_over_client_limit_is_refused() {
    let dir = testkit::tempdir().unwrap();
    let (port, fake) = fake_server("OK 4000000000", Vec::new());
    let a = testkit::client(&bin!("client"), dir.path())
        .args(["--port", &port, "--max-size", "1000", "c.jpg"])
        .assert()
        .code(1);
    fake.join().unwrap();
    assert_eq!(
        stderr_of(&a),
        "error: c.jpg has 4000000000 bytes, over the limit of 1000 (--max-size)\n"
    );
    assert_eq!(dir_names(dir.path()), Vec::<String>::new());
}

/// The raw exchange is as documented: OK <size>, then the streamed body, then close.
#[test]
fn wire_exchange_matches_the_docs() {
    let s = setup();
    fs::write(s.srv("abc.jpg"), "abc").unwrap();
    let mut c = s.raw();
    send_text(&mut c, "GET abc.jpg").unwrap();
    assert_eq!(
        recv_text(&mut c, MAX_FRAME_LEN).unwrap().as_deref(),
        Some("OK 3")
    );
    let mut body = [0u8; 15];
    c.read_exact(&mut body).unwrap();
    assert_eq!(body, sockcore::frame::EXAMPLE_BODY);
    assert_eq!(recv_text(&mut c, MAX_FRAME_LEN).unwrap(), None);
    let mut again = std::io::Cursor::new(body);
    recv_file(&mut again, &mut Vec::new(), 3, |_| Ok(()), |_| {}).unwrap();
}

/// Unknown commands, oversized frames, invalid UTF-8 and garbage get errors; the server goes on.
#[test]
fn bad_requests_never_stop_the_server() {
    let s = setup();
    assert_eq!(s.raw_get("").as_str(), "ERROR file name is empty");
    let mut c = s.raw();
    send_text(&mut c, "PUT x.jpg").unwrap();
    assert_eq!(
        recv_text(&mut c, MAX_FRAME_LEN).unwrap().as_deref(),
        Some("ERROR expected GET <name>, got \"PUT x.jpg\"")
    );
    let mut c = s.raw();
    c.write_all(&[0xff, 0, 0, 0]).unwrap();
    assert_eq!(
        recv_text(&mut c, MAX_FRAME_LEN).unwrap().as_deref(),
        Some("ERROR frame length 4278190080 exceeds limit 65536")
    );
    let mut c = s.raw();
    sockcore::frame::send_frame(&mut c, b"GET \xc3(.jpg").unwrap();
    assert_eq!(
        recv_text(&mut c, MAX_FRAME_LEN).unwrap().as_deref(),
        Some("ERROR frame is not valid UTF-8 text (bad byte at offset 4)")
    );
    for seed in 0..10usize {
        let mut c = s.raw();
        let junk: Vec<u8> = (0..100).map(|i| (seed * 17 + i * 3) as u8).collect();
        let _ = c.write_all(&junk);
        let _ = c.shutdown(std::net::Shutdown::Write);
        let _ = c.read_to_end(&mut Vec::new());
    }
    drop(s.raw());
    fs::write(s.srv("ok.jpg"), "ok").unwrap();
    s.client(&["ok.jpg"], "").success();
    assert!(!s.server.stderr().contains("panicked"));
}

/// Two clients downloading at once are both served in full.
#[test]
fn two_clients_at_once() {
    let s = setup();
    let a = fs::read(random_file(&s.srv("a.jpg"), 2 << 20, 1)).unwrap();
    let b = fs::read(random_file(&s.srv("b.jpg"), 2 << 20, 2)).unwrap();
    let port = s.server.port();
    let mut ca = testkit::Proc::spawn(&s.client, &["--port", &port, "a.jpg"], s.cli_dir.path());
    let mut cb = testkit::Proc::spawn(&s.client, &["--port", &port, "b.jpg"], s.cli_dir.path());
    assert!(ca.wait_exit().success(), "{}", ca.stderr());
    assert!(cb.wait_exit().success(), "{}", cb.stderr());
    assert!(fs::read(s.cli("a.jpg")).unwrap() == a);
    assert!(fs::read(s.cli("b.jpg")).unwrap() == b);
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
        assert!(stdout_of(&a).contains("Ej. 5 (Práctica 2)"));
        testkit::client(&b, dir.path())
            .arg("--bogus")
            .assert()
            .code(2);
    }
}
