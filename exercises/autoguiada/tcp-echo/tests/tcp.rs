//! End-to-end tests of tcp-echo (Práctica Autoguiada 2.1-2.5.4): this package's `server` and
//! `client` binaries on `--port 0`, plus raw sockets for what the client never does. Hostile
//! image names and seeded garbage are in `reliability.rs`.

mod common;

use sockcore::frame::send_text;
use std::fs;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::{Duration, Instant};
use testkit::{bin, dir_names, random_file, Proc, Server};
use testkit::{stderr as stderr_of, stdout as stdout_of};

/// Starts this package's server with `args` in a fresh temporary directory.
fn server(args: &[&str]) -> (Server, testkit::TempDir) {
    let dir = testkit::tempdir().expect("temp dir");
    let server = Server::start(&bin!("server"), args, dir.path());
    (server, dir)
}

/// Runs this package's client against `port` with `args`.
fn client(port: &str, args: &[&str]) -> assert_cmd::assert::Assert {
    let dir = testkit::tempdir().expect("temp dir");
    testkit::client(&bin!("client"), dir.path())
        .args(["--port", port])
        .args(args)
        .assert()
}

/// A raw connection to `server` with a read timeout.
fn raw(server: &Server) -> TcpStream {
    let s = TcpStream::connect(server.addr()).expect("connecting");
    s.set_read_timeout(Some(testkit::WAIT)).expect("timeout");
    s
}

/// 2.1-2.3: the client prints `Recibido:  Hola Mundo!`; the server prints the handout's
/// lines.
#[test]
fn echo_prints_the_handout_lines() {
    let (server, _dir) = server(&[]);
    let a = client(&server.port(), &[]).success();
    assert_eq!(stdout_of(&a), "Recibido:  Hola Mundo!\n");
    assert_eq!(stderr_of(&a), "");
    let out = server.stdout();
    let mut lines = out.lines();
    assert_eq!(
        lines.next(),
        Some(format!("Socket creado, escuchando en 127.0.0.1:{}", server.port()).as_str())
    );
    assert!(lines
        .next()
        .is_some_and(|l| l.starts_with("Conexion desde: 127.0.0.1:")));
    assert_eq!(lines.next(), None);
}

/// A message far longer than one read (100 KB) comes back whole.
#[test]
fn long_message_comes_back_whole() {
    let (server, _dir) = server(&[]);
    let message = "0123456789".repeat(10_000);
    let a = client(&server.port(), &[&message]).success();
    assert_eq!(stdout_of(&a), format!("Recibido:  {message}\n"));
    assert_eq!(stderr_of(&a), "");
}

/// 2.5.1: with a backlog of 1 and two clients at once, the second waits in the listen
/// queue and is served after the first: both succeed, one about a pause after the other.
#[test]
fn backlog_one_second_client_waits_its_turn() {
    let pause = Duration::from_millis(700);
    let pause_ms = pause.as_millis().to_string();
    let (server, dir) = server(&["--backlog", "1", "--pause-ms", &pause_ms]);
    let port = server.port();
    let start = Instant::now();
    let mut a = Proc::spawn(&bin!("client"), &["--port", &port, "uno"], dir.path());
    let mut b = Proc::spawn(&bin!("client"), &["--port", &port, "dos"], dir.path());
    assert!(a.wait_exit().success(), "{}", a.stderr());
    assert!(b.wait_exit().success(), "{}", b.stderr());
    let both = start.elapsed();
    assert_eq!(a.stdout(), "Recibido:  uno\n");
    assert_eq!(b.stdout(), "Recibido:  dos\n");
    // The server pauses before each client, one client at a time.
    assert!(both >= pause * 2, "both served after {both:?}");
    assert_eq!(server.stdout().matches("Conexion desde").count(), 2);
}

/// 2.5.1 (Linux): while the server is busy, a backlog of 1 holds two more completed
/// connections; a fourth gets no answer to its SYN and its connect times out.
#[cfg(target_os = "linux")]
#[test]
fn backlog_one_full_queue_leaves_further_connections_waiting() {
    let (server, _dir) = server(&["--backlog", "1", "--pause-ms", "10000"]);
    let busy = raw(&server);
    let me = busy.local_addr().expect("address");
    server.wait_stderr(&format!("server: pausing 10000 ms before serving {me}"));
    let connect = || TcpStream::connect_timeout(&server.addr(), Duration::from_millis(500));
    let queued: Vec<TcpStream> = (0..2).map(|_| connect().expect("queued")).collect();
    let e = connect().expect_err("the queue is full");
    assert!(sockcore::net::is_timeout(&e), "{e:?}");
    drop((busy, queued));
}

/// 2.5.2: `--send-size 4` gives write() 4 bytes at a time and loops until all 11 are sent.
#[test]
fn send_size_loops_until_everything_is_sent() {
    let (server, _dir) = server(&[]);
    let a = client(&server.port(), &["--send-size", "4"]).success();
    assert_eq!(stdout_of(&a), "Recibido:  Hola Mundo!\n");
    assert_eq!(
        stderr_of(&a),
        "client: write() of 4 bytes sent 4 (4 of 11 bytes)\n\
         client: write() of 4 bytes sent 4 (8 of 11 bytes)\n\
         client: write() of 3 bytes sent 3 (11 of 11 bytes)\n"
    );
}

/// 2.5.2: one write() of 4 bytes and no loop, like Python's send() without sendall():
/// only "Hola" ever reaches the server.
#[test]
fn send_once_sends_only_the_first_piece() {
    let (server, _dir) = server(&["--print-received"]);
    let a = client(&server.port(), &["--send-size", "4", "--send-once"]).success();
    assert_eq!(stdout_of(&a), "Recibido:  Hola\n");
    assert_eq!(
        stderr_of(&a),
        "client: write() of 4 bytes sent 4 (4 of 11 bytes)\n\
         client: --send-once: the other 7 bytes are never sent\n\
         client: the echo has 4 of the message's 11 bytes\n"
    );
    assert!(
        server.stdout().ends_with("Recibi: Hola\n"),
        "{}",
        server.stdout()
    );
}

/// 2.5.3: with 4-byte reads the server reads three times, and the client gets everything.
#[test]
fn small_recv_size_reads_until_everything_arrived() {
    let (server, _dir) = server(&["--recv-size", "4", "--print-received"]);
    let a = client(&server.port(), &[]).success();
    assert_eq!(stdout_of(&a), "Recibido:  Hola Mundo!\n");
    let out = server.stdout();
    assert!(
        out.ends_with("Recibi: Hola\nRecibi:  Mun\nRecibi: do!\n"),
        "{out}"
    );
}

/// 2.5.4: a text and a 3 MB image on one connection: the image lands byte-identical, the
/// text comes back, and both sides say so.
#[test]
fn text_and_image_arrive_intact() {
    let srv_dir = testkit::tempdir().expect("temp dir");
    let server = Server::start(&bin!("server"), &["--image-dir", "."], srv_dir.path());
    let cli_dir = testkit::tempdir().expect("temp dir");
    let image = random_file(&cli_dir.path().join("foto.jpg"), 3 << 20, 7);
    let data = fs::read(&image).expect("image");
    let crc = format!("{:08x}", crc32(&data));
    let a = testkit::client(&bin!("client"), cli_dir.path())
        .args([
            "--port",
            &server.port(),
            "--image",
            "foto.jpg",
            "Mira esta foto",
        ])
        .assert()
        .success();
    assert_eq!(
        stdout_of(&a),
        format!(
            "Recibido:  Mira esta foto\n\
             Imagen recibida por el servidor: foto.jpg ({} bytes, crc32 {crc})\n",
            data.len()
        )
    );
    assert!(fs::read(srv_dir.path().join("foto.jpg")).expect("stored") == data);
    let out = server.stdout();
    assert!(
        out.contains(&format!(
            "Recibi: Mira esta foto\nImagen recibida: foto.jpg ({} bytes, crc32 {crc})\n",
            data.len()
        )),
        "{out}"
    );
}

/// 2.5.4: a client that vanishes in the middle of the image leaves no file behind, and the
/// next client is served.
#[test]
fn image_client_vanishing_leaves_nothing() {
    let srv_dir = testkit::tempdir().expect("temp dir");
    let server = Server::start(&bin!("server"), &["--image-dir", "."], srv_dir.path());
    let mut c = raw(&server);
    send_text(&mut c, "hola").expect("text");
    send_text(&mut c, "foto.jpg").expect("name");
    c.write_all(&1_000_000u64.to_be_bytes()).expect("size");
    c.write_all(&[9u8; 10_000]).expect("part of the image");
    drop(c);
    server.wait_stderr("receiving foto.jpg: peer closed after");
    assert_eq!(dir_names(srv_dir.path()), Vec::<String>::new());
    let cli_dir = testkit::tempdir().expect("temp dir");
    fs::write(cli_dir.path().join("b.png"), b"png").expect("image");
    testkit::client(&bin!("client"), cli_dir.path())
        .args(["--port", &server.port(), "--image", "b.png"])
        .assert()
        .success();
    assert_eq!(dir_names(srv_dir.path()), ["b.png"]);
}

/// 2.5.4: the framed client against a plain echo server fails with a clear error instead of
/// printing garbage.
#[test]
fn image_against_plain_server_is_a_clear_error() {
    let (server, dir) = server(&[]);
    fs::write(dir.path().join("a.jpg"), b"jpg").expect("image");
    let a = testkit::client(&bin!("client"), dir.path())
        .args(["--port", &server.port(), "--image", "a.jpg"])
        .assert()
        .code(1);
    assert!(
        stderr_of(&a).starts_with("error: unexpected receipt from the server: \"Hola Mundo!\""),
        "{}",
        stderr_of(&a)
    );
}

/// With no server, the client says connection refused and exits 1.
#[test]
fn no_server_is_connection_refused() {
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let a = client(&port.to_string(), &[]).code(1);
    assert!(
        stderr_of(&a).starts_with(&format!(
            "error: connection refused: is the server running on 127.0.0.1:{port}?"
        )),
        "{}",
        stderr_of(&a)
    );
}

/// A server that closes without answering gives an empty echo, said on stderr, not a hang.
#[test]
fn server_closing_without_echo_is_reported() {
    let listener = TcpListener::bind("127.0.0.1:0").expect("fake server");
    let port = listener.local_addr().expect("address").port().to_string();
    let fake = std::thread::spawn(move || {
        let (mut c, _) = listener.accept().expect("accept");
        c.set_read_timeout(Some(testkit::WAIT)).expect("timeout");
        c.read_to_end(&mut Vec::new()).expect("the message");
    });
    let a = client(&port, &[]).success();
    fake.join().expect("fake server");
    assert_eq!(stdout_of(&a), "Recibido:  \n");
    assert_eq!(
        stderr_of(&a),
        "client: the echo has 0 of the message's 11 bytes\n"
    );
}

/// Clients that vanish mid-echo (leaving unread data, so the kernel resets the connection)
/// never stop the server.
#[test]
fn vanishing_clients_never_stop_the_server() {
    let (server, _dir) = server(&["--recv-size", "4"]);
    for _ in 0..5 {
        let mut c = raw(&server);
        c.write_all(&[b'x'; 4096]).expect("write");
        drop(c);
    }
    let a = client(&server.port(), &[]).success();
    assert_eq!(stdout_of(&a), "Recibido:  Hola Mundo!\n");
    assert!(!server.stderr().contains("panicked"), "{}", server.stderr());
}

/// `--help` names every consigna's section; bad usage exits 2.
#[test]
fn help_names_the_sections_and_usage_errors_exit_2() {
    let dir = testkit::tempdir().expect("temp dir");
    for (b, sections) in [
        (bin!("client"), &["2.1", "2.5.1", "2.5.2", "2.5.4"][..]),
        (
            bin!("server"),
            &["2.2", "2.4", "2.5.1", "2.5.3", "2.5.4"][..],
        ),
    ] {
        let a = testkit::client(&b, dir.path())
            .arg("--help")
            .assert()
            .success();
        let help = stdout_of(&a);
        assert!(help.contains("Práctica Autoguiada"), "{help}");
        for s in sections {
            assert!(help.contains(s), "{s} missing from:\n{help}");
        }
        testkit::client(&b, dir.path())
            .arg("--bogus")
            .assert()
            .code(2);
    }
    testkit::client(&bin!("client"), dir.path())
        .arg("--send-once")
        .assert()
        .code(2);
}

/// CRC-32 (IEEE, as zlib), bit by bit: enough for a test, independent of the code under test.
fn crc32(data: &[u8]) -> u32 {
    let mut crc = 0xffff_ffffu32;
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0xedb8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}
