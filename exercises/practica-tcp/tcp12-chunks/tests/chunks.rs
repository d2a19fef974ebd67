//! End-to-end tests of TCP 1.2: this package's `server` and `client` on `--port 0`, and raw
//! sockets for what our client never sends. (The handout's Python server in tests/python is
//! for the walkthrough's experiments: it never closes a connection after answering, so a
//! client that reads the answer to its end, as ours does, cannot be tested against it.)

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use testkit::{bin, Proc, Server, WAIT};

/// The client's message in the handout's transcript ("sercidor" corrected).
const HANDOUT_MESSAGE: &str = "Hola servidor, esto es un mensaje muy pero que muy largo";

/// Our server's answer, as our client prints it: four chunks of 20 bytes.
const ANSWER_LINES: &str = "Server> Hello Client, this i\n\
                            Server> s a long message tha\n\
                            Server> t you will receive i\n\
                            Server> n chunks of 20 bytes\n";

fn python_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/python")
}

fn start_server() -> Server {
    Server::start(&bin!("server"), &[], &python_dir())
}

/// Stops `server` and waits until everything it printed has been read. The server prints all
/// of a client's lines before answering it, so once a client has its answer, stopping the
/// server loses nothing.
fn stop(mut server: Server) -> Server {
    server.kill();
    server.wait_exit();
    server
}

fn client(port: u16, args: &[&str]) -> assert_cmd::assert::Assert {
    testkit::client(&bin!("client"), &python_dir())
        .args(["--port", &port.to_string()])
        .args(args)
        .assert()
}

fn stdout_of(a: &assert_cmd::assert::Assert) -> String {
    String::from_utf8_lossy(&a.get_output().stdout).into_owned()
}

/// The server's transcript with every client port replaced by PORT.
fn transcript(server: &Proc) -> String {
    server
        .stdout()
        .lines()
        .map(
            |l| match l.strip_prefix("Connection received from client ('127.0.0.1', ") {
                Some(rest) if rest.ends_with(')') => {
                    "Connection received from client ('127.0.0.1', PORT)".to_string()
                }
                _ => l.to_string(),
            },
        )
        .map(|l| l + "\n")
        .collect()
}

/// The `Client> ` lines the server printed after its `n`-th "Connection received" line.
fn chunks_of_connection(server: &Proc, n: usize) -> Vec<String> {
    let out = server.stdout();
    let block = out
        .split("Connection received from client")
        .nth(n)
        .expect("that many connections");
    block
        .lines()
        .filter_map(|l| l.strip_prefix("Client> "))
        .map(str::to_string)
        .collect()
}

/// The handout's message: the client prints the answer in four chunks, and the server prints
/// the handout's transcript (three chunks of the message) line for line.
#[test]
fn handout_message_prints_the_handouts_transcript() {
    let server = start_server();
    let a = client(server.addr().port(), &[HANDOUT_MESSAGE]).success();
    assert_eq!(stdout_of(&a), ANSWER_LINES);
    let server = stop(server);
    assert_eq!(
        transcript(&server),
        "Waiting for clients...\n\
         Connection received from client ('127.0.0.1', PORT)\n\
         Client> Hola servidor, esto \n\
         Client> es un mensaje muy pe\n\
         Client> ro que muy largo\n\
         Waiting for clients...\n"
    );
}

/// Messages of 0, 19, 20, 21, 40 and 10,000 bytes arrive whole, in chunks of at most 20
/// bytes, and each is answered; the handout's rule would hang on 20 and 40.
#[test]
fn every_message_size_arrives_whole_and_is_answered() {
    for len in [0usize, 19, 20, 21, 40, 10_000] {
        let server = start_server();
        let message: String = (0..len).map(|i| (b'a' + (i % 26) as u8) as char).collect();
        let a = client(server.addr().port(), &[&message]).success();
        assert_eq!(stdout_of(&a), ANSWER_LINES, "len {len}");
        let server = stop(server);
        let chunks = chunks_of_connection(&server, 1);
        assert_eq!(chunks.concat(), message, "len {len}");
        assert!(
            chunks.iter().all(|c| c.len() <= 20),
            "len {len}: {chunks:?}"
        );
        if len <= 40 {
            // One write on loopback arrives at once, so every read but the last is full.
            assert_eq!(chunks.len(), len.div_ceil(20), "len {len}: {chunks:?}");
        }
    }
}

/// EXIT gets "Bye", is not printed as a chunk, and ends the server with status 0.
#[test]
fn exit_answers_bye_and_ends_the_server() {
    let mut server = start_server();
    let a = client(server.addr().port(), &["EXIT"]).success();
    assert_eq!(stdout_of(&a), "Server> Bye\n");
    assert!(server.wait_exit().success(), "{}", server.stderr());
    assert_eq!(
        transcript(&server),
        "Waiting for clients...\n\
         Connection received from client ('127.0.0.1', PORT)\n\
         Received EXIT command from client\n"
    );
}

/// A character cut in two by a 20-byte boundary is printed whole, with the next chunk.
#[test]
fn character_split_by_a_chunk_boundary_prints_whole() {
    let server = start_server();
    let message = format!("{}ñandú", "a".repeat(19)); // "ñ" is bytes 20 and 21
    client(server.addr().port(), &[&message]).success();
    let server = stop(server);
    assert_eq!(
        chunks_of_connection(&server, 1),
        ["a".repeat(19), "ñandú".to_string()]
    );
}

/// On the wire: the message's bytes and a FIN in; exactly the 80-byte answer and a FIN out.
#[test]
fn wire_is_message_and_fin_then_answer_and_fin() {
    let server = start_server();
    let mut c = TcpStream::connect(server.addr()).unwrap();
    c.set_read_timeout(Some(WAIT)).unwrap();
    c.write_all(b"hello").unwrap();
    c.shutdown(Shutdown::Write).unwrap();
    let mut answer = Vec::new();
    c.read_to_end(&mut answer).unwrap();
    assert_eq!(
        answer,
        b"Hello Client, this is a long message that you will receive in chunks of 20 bytes"
    );
    assert_eq!(answer.len(), 80);
}

/// A message over 64 KiB is refused ("Lost connection", the reason on stderr, no answer),
/// and the next client is served.
#[test]
fn message_over_limit_is_refused_and_server_goes_on() {
    let server = start_server();
    let mut c = TcpStream::connect(server.addr()).unwrap();
    c.set_read_timeout(Some(WAIT)).unwrap();
    let _ = c.write_all(&vec![b'x'; 70_000]);
    let _ = c.shutdown(Shutdown::Write);
    let mut answer = Vec::new();
    let _ = c.read_to_end(&mut answer); // closed, or reset with our bytes unread
    assert_eq!(answer, b"");
    server.wait_stderr("message longer than the limit of 65536 bytes");
    server.wait_stdout("Lost connection");
    let a = client(server.addr().port(), &["otra vez"]).success();
    assert_eq!(stdout_of(&a), ANSWER_LINES);
}

/// With no server the client says connection refused, and exits 1.
#[test]
fn no_server_is_connection_refused() {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let a = client(port, &["hola"]).code(1);
    let err = String::from_utf8_lossy(&a.get_output().stderr).into_owned();
    assert!(err.contains("connection refused"), "{err}");
}

/// `--help` names the handout section; a bad flag is a usage error (exit 2).
#[test]
fn help_names_the_handout_and_bad_flags_exit_2() {
    for b in [bin!("client"), bin!("server")] {
        let a = testkit::client(&b, &python_dir())
            .arg("--help")
            .assert()
            .success();
        assert!(stdout_of(&a).contains("TCP 1.2 (Práctica TCP)"));
        testkit::client(&b, &python_dir())
            .arg("--bogus")
            .assert()
            .code(2);
    }
}
