//! End-to-end tests of Ej. 7 / Programa 3: the real `server` and `client` binaries of this
//! package on `--port 0` in temporary directories, driven through stdin as a user would, plus
//! raw sockets for what the client never sends (unknown protocol commands, oversized
//! frames, a client that vanishes mid-upload). Hostile names, command fuzzing, seeded garbage
//! and killed processes are in `reliability.rs`.

use sockcore::frame::{recv_text, send_frame, send_text, MAX_FRAME_LEN};
use std::fs;
use std::io::Write;
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
    /// Runs the client in the client directory with `args`, typing `stdin`.
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

    /// A raw session: connected, name sent, the listing on connect read and returned.
    fn raw_session(&self) -> (TcpStream, Vec<String>) {
        let mut s = TcpStream::connect(self.server.addr()).expect("connecting");
        s.set_read_timeout(Some(testkit::WAIT))
            .expect("read timeout");
        send_text(&mut s, "USER prueba").expect("sending the name");
        let listing = recv_listing(&mut s);
        (s, listing)
    }
}

/// Reads `LIST <n>` and the n names.
fn recv_listing(s: &mut TcpStream) -> Vec<String> {
    let header = recv(s);
    let n: usize = header
        .strip_prefix("LIST ")
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("not a listing: {header:?}"));
    (0..n).map(|_| recv(s)).collect()
}

/// The next frame as text; a close is a test failure.
fn recv(s: &mut TcpStream) -> String {
    recv_text(s, MAX_FRAME_LEN)
        .expect("reading a frame")
        .expect("a frame, not a close")
}

/// The report's session: name, listing on connect, list, get, put, exit, as a user sees it.
#[test]
fn session_lists_on_connect_and_runs_commands() {
    let s = setup();
    fs::write(s.srv("notas.txt"), "hola\n").unwrap();
    fs::write(s.srv("b.bin"), [0u8, 1, 2]).unwrap();
    fs::write(s.cli("informe.pdf"), "informe").unwrap();
    let a = s
        .client(
            &[],
            "ale\nlist\nget notas.txt\nput informe.pdf\nlistar\nexit\n",
        )
        .success();
    assert_eq!(
        stdout_of(&a),
        "Introduce tu nombre: ale\n\
         b.bin\n\
         notas.txt\n\
         Comando: list\n\
         b.bin\n\
         notas.txt\n\
         Comando: get notas.txt\n\
         Recibido notas.txt: 5 bytes, crc32 d1dbad78\n\
         Comando: put informe.pdf\n\
         Subido informe.pdf: 7 bytes, crc32 7e75e1d9\n\
         Comando: listar\n\
         b.bin\n\
         informe.pdf\n\
         notas.txt\n\
         Comando: exit\n\
         Sesion finalizada\n"
    );
    assert_eq!(stderr_of(&a), "");
    assert_eq!(fs::read(s.cli("notas.txt")).unwrap(), b"hola\n");
    assert_eq!(fs::read(s.srv("informe.pdf")).unwrap(), b"informe");
    assert!(s.cli("informe.pdf").exists(), "put keeps the local copy");
    s.server.wait_stdout("-----ale se ha desconectado-----");
    assert_eq!(
        s.server.stdout(),
        "-----ale se ha conectado-----\n\
         El usuario ale ha realizado el siguiente comando: LIST\n\
         El usuario ale ha realizado el siguiente comando: GET notas.txt\n\
         Enviado notas.txt a ale: 5 bytes, crc32 d1dbad78\n\
         El usuario ale ha realizado el siguiente comando: SEND informe.pdf\n\
         Recibido informe.pdf de ale: 7 bytes, crc32 7e75e1d9\n\
         El usuario ale ha realizado el siguiente comando: LIST\n\
         El usuario ale ha realizado el siguiente comando: EXIT\n\
         -----ale se ha desconectado-----\n"
    );
}

/// Binary files of several MiB go both ways byte-identical.
#[test]
fn binary_files_roundtrip_identical() {
    let s = setup();
    let down = fs::read(random_file(&s.srv("foto.jpg"), 3 << 20, 11)).unwrap();
    let up = fs::read(random_file(&s.cli("video.bin"), (2 << 20) + 3, 12)).unwrap();
    s.client(&["--name", "ana"], "get foto.jpg\nput video.bin\nexit\n")
        .success();
    assert!(fs::read(s.cli("foto.jpg")).unwrap() == down);
    assert!(fs::read(s.srv("video.bin")).unwrap() == up);
}

/// A missing file gets the report's "el archivo solicitado no existe", and the session goes on.
#[test]
fn missing_file_is_reported_and_session_goes_on() {
    let s = setup();
    fs::write(s.srv("si.txt"), "si").unwrap();
    let a = s
        .client(&["--name", "ana"], "get no.txt\nget si.txt\nexit\n")
        .success();
    assert_eq!(
        stderr_of(&a),
        "client: the server says: el archivo solicitado no existe: no.txt\n"
    );
    assert!(stdout_of(&a).contains("Comando: get si.txt\nRecibido si.txt: 2 bytes"));
    assert_eq!(dir_names(s.cli_dir.path()), ["si.txt"]);
}

/// Uploading over an existing file asks, as in Ej. 2: "n" keeps it, "s" replaces it.
#[test]
fn put_over_existing_file_asks_first() {
    let s = setup();
    fs::write(s.srv("doc.txt"), "vieja").unwrap();
    fs::write(s.cli("doc.txt"), "nueva").unwrap();
    let a = s
        .client(
            &["--name", "ana"],
            "put doc.txt\nn\nput doc.txt\nquizá\ns\nexit\n",
        )
        .success();
    assert_eq!(
        stdout_of(&a),
        "doc.txt\n\
         Comando: put doc.txt\n\
         El fichero doc.txt ya existe en el servidor\n\
         ¿Desea sobrescribir el fichero? (s/n) n\n\
         Transferencia cancelada: no se sobrescribe doc.txt\n\
         Comando: put doc.txt\n\
         El fichero doc.txt ya existe en el servidor\n\
         ¿Desea sobrescribir el fichero? (s/n) quizá\n\
         Responda s o n\n\
         ¿Desea sobrescribir el fichero? (s/n) s\n\
         Subido doc.txt: 5 bytes, crc32 b10de8ea\n\
         Comando: exit\n\
         Sesion finalizada\n"
    );
    assert_eq!(fs::read(s.srv("doc.txt")).unwrap(), b"nueva");
    s.server
        .wait_stdout("El cliente cancela: doc.txt no se sobrescribe");
}

/// Downloading over a local file asks first too; --overwrite answers for scripts.
#[test]
fn get_over_local_file_asks_first() {
    let s = setup();
    fs::write(s.srv("x.txt"), "servidor").unwrap();
    fs::write(s.cli("x.txt"), "local").unwrap();
    let a = s
        .client(&["--name", "ana"], "get x.txt\nn\nexit\n")
        .success();
    assert!(stdout_of(&a).contains(
        "Comando: get x.txt\nEl fichero x.txt ya existe en este directorio\n¿Desea sobrescribir el fichero? (s/n) n\nDescarga cancelada: no se sobrescribe x.txt\n"
    ));
    assert_eq!(fs::read(s.cli("x.txt")).unwrap(), b"local");
    s.client(&["--name", "ana", "--overwrite", "yes"], "get x.txt\n")
        .success();
    assert_eq!(fs::read(s.cli("x.txt")).unwrap(), b"servidor");
}

/// Unknown commands, missing arguments and local problems are reported; the session goes on.
#[test]
fn bad_commands_are_reported_and_session_goes_on() {
    let s = setup();
    let a = s
        .client(
            &["--name", "ana"],
            "foo\nget\nlist extra\nput nohay.txt\nget ../x\n\nexit\n",
        )
        .success();
    let usage = "(comandos: list, listar, get <fichero>, put <fichero>, subir <fichero>, exit)";
    let err = stderr_of(&a);
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines.len(), 5, "{err}");
    assert_eq!(
        lines[0],
        format!("client: comando desconocido: \"foo\" {usage}")
    );
    assert_eq!(
        lines[1],
        format!("client: comando desconocido: \"get\" {usage}")
    );
    assert_eq!(
        lines[2],
        format!("client: comando desconocido: \"list extra\" {usage}")
    );
    // The OS's wording of "not found" differs between systems.
    assert!(lines[3].starts_with("client: opening nohay.txt: "), "{err}");
    assert_eq!(
        lines[4],
        "client: file name \"../x\" leaves the server directory (\"..\" is not allowed)"
    );
    assert!(stdout_of(&a).ends_with("Comando: exit\nSesion finalizada\n"));
}

/// End of input (Ctrl-D) ends the session as `exit` does.
#[test]
fn end_of_input_counts_as_exit() {
    let s = setup();
    let a = s.client(&["--name", "ana"], "list\n").success();
    assert!(
        stdout_of(&a).ends_with("Comando: list\n(no hay ficheros)\nComando: \nSesion finalizada\n"),
        "{}",
        stdout_of(&a)
    );
    s.server.wait_stdout("-----ana se ha desconectado-----");
}

/// The listing holds regular files only: no directories, no partial uploads.
#[test]
fn listing_shows_regular_files_only() {
    let s = setup();
    fs::create_dir(s.srv("carpeta")).unwrap();
    fs::write(s.srv(".sockcore-part-1-1"), "half").unwrap();
    fs::write(s.srv("a.txt"), "a").unwrap();
    let (_c, listing) = s.raw_session();
    assert_eq!(listing, ["a.txt"]);
}

/// Unknown protocol commands get an error; the session goes on.
#[test]
fn unknown_protocol_command_gets_error_and_session_goes_on() {
    let s = setup();
    let (mut c, _) = s.raw_session();
    for cmd in ["DELETE x", "LIST extra", "EXIT now", "get x", ""] {
        send_text(&mut c, cmd).unwrap();
        assert_eq!(
            recv(&mut c),
            format!("ERROR unknown command {cmd:?} (LIST, GET <name>, SEND <name>, EXIT)")
        );
    }
    send_text(&mut c, "EXIT").unwrap();
    assert_eq!(recv(&mut c), "Sesion finalizada");
    assert_eq!(recv_text(&mut c, MAX_FRAME_LEN).unwrap(), None);
}

/// The first message must be `USER <nombre>` with a sensible name, or the server closes.
#[test]
fn bad_first_message_is_refused() {
    let s = setup();
    let long = format!("USER {}", "n".repeat(65));
    let table: &[(&str, &str)] = &[
        ("LIST", "ERROR expected USER <nombre>, got \"LIST\""),
        ("USER ", "ERROR user name of 0 bytes is outside 1 to 64"),
        (&long, "ERROR user name of 65 bytes is outside 1 to 64"),
        (
            "USER a\u{7}b",
            "ERROR user name \"a\\u{7}b\" contains a control character",
        ),
    ];
    for (first, want) in table {
        let mut c = TcpStream::connect(s.server.addr()).unwrap();
        c.set_read_timeout(Some(testkit::WAIT)).unwrap();
        send_text(&mut c, first).unwrap();
        assert_eq!(&recv(&mut c), want);
        assert_eq!(recv_text(&mut c, MAX_FRAME_LEN).unwrap(), None);
    }
}

/// A frame over the limit or not UTF-8 ends the session with an error; the server goes on.
#[test]
fn unreadable_frames_end_the_session_only() {
    let s = setup();
    let (mut c, _) = s.raw_session();
    c.write_all(&[0x01, 0x00, 0x00, 0x00]).unwrap();
    assert_eq!(
        recv(&mut c),
        "ERROR frame length 16777216 exceeds limit 65536"
    );
    assert_eq!(recv_text(&mut c, MAX_FRAME_LEN).unwrap(), None);
    let (mut c, _) = s.raw_session();
    send_frame(&mut c, b"GET \xe9t\xe9.txt").unwrap();
    assert_eq!(
        recv(&mut c),
        "ERROR frame is not valid UTF-8 text (bad byte at offset 4)"
    );
    let (mut c, _) = s.raw_session();
    send_text(&mut c, "EXIT").unwrap();
    assert_eq!(recv(&mut c), "Sesion finalizada");
}

/// A client that vanishes mid-upload leaves nothing behind; an existing file stays intact.
#[test]
fn client_vanishing_mid_upload_leaves_nothing() {
    let s = setup();
    fs::write(s.srv("keep.bin"), "original").unwrap();
    for (name, exists) in [("new.bin", false), ("keep.bin", true)] {
        let (mut c, _) = s.raw_session();
        send_text(&mut c, &format!("SEND {name}")).unwrap();
        if exists {
            assert_eq!(recv(&mut c), "EXISTS");
            send_text(&mut c, "OVERWRITE yes").unwrap();
        }
        assert_eq!(recv(&mut c), "OK");
        c.write_all(&1_000_000u64.to_be_bytes()).unwrap();
        c.write_all(&[7u8; 5000]).unwrap();
        drop(c);
        s.server.wait_stderr(&format!(
            "receiving {name}: peer closed after 5000 of 1000000"
        ));
    }
    assert_eq!(dir_names(s.srv_dir.path()), ["keep.bin"]);
    assert_eq!(fs::read(s.srv("keep.bin")).unwrap(), b"original");
}

/// An answer other than OVERWRITE yes|no ends the session; the file is untouched.
#[test]
fn garbage_overwrite_answer_ends_session() {
    let s = setup();
    fs::write(s.srv("a.txt"), "a").unwrap();
    let (mut c, _) = s.raw_session();
    send_text(&mut c, "SEND a.txt").unwrap();
    assert_eq!(recv(&mut c), "EXISTS");
    send_text(&mut c, "OVERWRITE maybe").unwrap();
    assert_eq!(
        recv(&mut c),
        "ERROR expected OVERWRITE yes|no, got \"OVERWRITE maybe\""
    );
    assert_eq!(fs::read(s.srv("a.txt")).unwrap(), b"a");
}

/// A session left open does not block another: each client has its own thread.
#[test]
fn two_sessions_at_once() {
    let s = setup();
    fs::write(s.srv("f.txt"), "f").unwrap();
    let mut idle = testkit::Proc::spawn(
        &s.client,
        &["--port", &s.server.port(), "--name", "lento"],
        s.cli_dir.path(),
    );
    idle.wait_stdout("f.txt");
    s.server.wait_stdout("-----lento se ha conectado-----");
    let a = s
        .client(&["--name", "rapido"], "get f.txt\nexit\n")
        .success();
    assert!(stdout_of(&a).contains("Recibido f.txt: 1 bytes"));
    idle.write_stdin("exit\n");
    assert!(idle.wait_exit().success());
    assert!(idle
        .stdout()
        .ends_with("Comando: exit\nSesion finalizada\n"));
}

/// A server that goes away mid-session ends the client with an error, exit 1.
#[test]
fn server_gone_mid_session_is_an_error() {
    let dir = testkit::tempdir().unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port().to_string();
    let fake = std::thread::spawn(move || {
        let (mut c, _) = listener.accept().unwrap();
        c.set_read_timeout(Some(testkit::WAIT)).unwrap();
        recv_text(&mut c, MAX_FRAME_LEN).unwrap();
        send_text(&mut c, "LIST 0").unwrap();
        recv_text(&mut c, MAX_FRAME_LEN).unwrap();
        // Closes instead of answering LIST.
    });
    let a = testkit::client(&bin!("client"), dir.path())
        .args(["--port", &port, "--name", "ana"])
        .write_stdin("list\n")
        .assert()
        .code(1);
    fake.join().unwrap();
    assert_eq!(stderr_of(&a), "error: the server closed the connection\n");
}

/// With no server, the client says connection refused, exit 1.
#[test]
fn no_server_is_refused() {
    let dir = testkit::tempdir().unwrap();
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
        .to_string();
    let a = testkit::client(&bin!("client"), dir.path())
        .args(["--port", &port, "--name", "ana"])
        .assert()
        .code(1);
    assert!(stderr_of(&a).contains("connection refused: is the server running"));
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
        assert!(stdout_of(&a).contains("Ej. 7 (Práctica 2)"));
        testkit::client(&b, dir.path())
            .arg("--bogus")
            .assert()
            .code(2);
    }
}
