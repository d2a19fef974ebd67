//! End-to-end tests of Ej. 2 over TCP: the real `server` and `client` binaries of this package,
//! started on `--port 0` in temporary directories, plus raw sockets for what the client never
//! sends (a corrupted body, a client that vanishes mid-file). Hostile names, garbage and
//! killed processes are in `reliability.rs`.

use sockcore::frame::{recv_text, send_text, MAX_FRAME_LEN};
use std::fs;
use std::io::{Read, Write};
use std::net::TcpListener;
use testkit::{bin, dir_names, random_file, stderr as stderr_of, stdout as stdout_of, Pair};

fn setup() -> Pair {
    testkit::pair!(&["--dir", "."])
}

/// A new file lands byte-identical, and only then is the client's copy deleted.
#[test]
fn upload_new_file_lands_and_local_copy_is_deleted() {
    let s = setup();
    fs::write(s.cli("Hello.txt"), "Hello World!").unwrap();
    let a = s.client(&["Hello.txt"], "").success();
    assert_eq!(
        s.norm(&stdout_of(&a)),
        "Conectado a SERVER\n\
         Solicitando enviar Hello.txt (12 bytes)\n\
         El servidor acepta el fichero\n\
         Enviando Hello.txt...\n\
         El servidor confirma la recepción de Hello.txt: 12 bytes, crc32 1c291ca3\n\
         Fichero local Hello.txt eliminado\n"
    );
    assert_eq!(fs::read(s.srv("Hello.txt")).unwrap(), b"Hello World!");
    assert!(!s.cli("Hello.txt").exists(), "client kept its copy");
    s.server
        .wait_stdout("Recibido Hello.txt: 12 bytes, crc32 1c291ca3");
    let out = s.server.stdout();
    assert!(out.contains("Petición de envío: Hello.txt\n"), "{out}");
    assert!(out.starts_with("Conexión desde 127.0.0.1:"), "{out}");
}

/// Answering "n" cancels: the server's file and the client's file both stay as they were.
#[test]
fn existing_file_answer_no_keeps_both() {
    let s = setup();
    fs::write(s.srv("doc.pdf"), "old").unwrap();
    fs::write(s.cli("doc.pdf"), "new").unwrap();
    let a = s.client(&["doc.pdf"], "n\n").success();
    assert_eq!(
        s.norm(&stdout_of(&a)),
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
    assert_eq!(dir_names(s.srv_dir.path()), ["doc.pdf"]);
}

/// Answering "s" (after a wrong answer that is asked again) overwrites the server's file.
#[test]
fn existing_file_answer_yes_overwrites() {
    let s = setup();
    fs::write(s.srv("doc.pdf"), "old").unwrap();
    fs::write(s.cli("doc.pdf"), "newer").unwrap();
    let a = s.client(&["doc.pdf"], "quizá\nS\n").success();
    let out = stdout_of(&a);
    assert!(out.contains("(s/n) quizá\nResponda s o n\n¿Desea sobrescribir el fichero? (s/n) S\nEl servidor acepta el fichero\n"), "{out}");
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

/// An empty file and a multi-MiB binary file both arrive byte-identical.
#[test]
fn empty_and_binary_files_arrive_identical() {
    let s = setup();
    fs::write(s.cli("empty"), "").unwrap();
    s.client(&["empty"], "").success();
    assert_eq!(fs::read(s.srv("empty")).unwrap(), b"");

    let data = fs::read(random_file(&s.cli("photo.jpg"), 5 * 1024 * 1024 + 7, 42)).unwrap();
    s.client(&["photo.jpg"], "").success();
    assert!(
        fs::read(s.srv("photo.jpg")).unwrap() == data,
        "bytes differ"
    );
}

/// A missing local file is an error before anything is sent: the server sees no connection.
#[test]
fn missing_local_file_fails_before_connecting() {
    let s = setup();
    let a = s.client(&["nothere.pdf"], "").code(1);
    let err = stderr_of(&a);
    assert!(err.starts_with("error: opening nothere.pdf: "), "{err}");
    assert_eq!(stdout_of(&a), "");
    // A later client is the server's first connection.
    fs::write(s.cli("ok"), "1").unwrap();
    s.client(&["ok"], "").success();
    s.server.wait_stdout("Recibido ok");
    assert_eq!(s.server.stdout().matches("Conexión desde").count(), 1);
}

/// With no server, the client says connection refused and how to fix it, exits 1, keeps its file.
#[test]
fn no_server_refused_with_hint_and_file_kept() {
    let dir = testkit::tempdir().unwrap();
    fs::write(dir.path().join("f"), "keep").unwrap();
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let a = testkit::client(&bin!("client"), dir.path())
        .args(["--port", &port.to_string(), "f"])
        .assert()
        .code(1);
    let err = stderr_of(&a);
    assert!(
        err.contains(&format!(
            "connection refused: is the server running on 127.0.0.1:{port}?"
        )),
        "{err}"
    );
    assert_eq!(fs::read(dir.path().join("f")).unwrap(), b"keep");
}

/// A client that vanishes mid-file leaves no partial file, and an existing file is intact.
#[test]
fn client_vanishing_mid_file_leaves_nothing() {
    let s = setup();
    fs::write(s.srv("keep.bin"), "original").unwrap();
    for (name, exists) in [("new.bin", false), ("keep.bin", true)] {
        let mut c = s.raw_tcp();
        send_text(&mut c, &format!("SEND {name}")).unwrap();
        if exists {
            assert_eq!(
                recv_text(&mut c, MAX_FRAME_LEN).unwrap().as_deref(),
                Some("EXISTS")
            );
            send_text(&mut c, "OVERWRITE yes").unwrap();
        }
        assert_eq!(
            recv_text(&mut c, MAX_FRAME_LEN).unwrap().as_deref(),
            Some("OK")
        );
        c.write_all(&(1_000_000u64).to_be_bytes()).unwrap();
        c.write_all(&[7u8; 10_000]).unwrap();
        drop(c);
        s.server
            .wait_stderr(&format!("receiving {name}: peer closed after"));
    }
    assert_eq!(dir_names(s.srv_dir.path()), ["keep.bin"]);
    assert_eq!(fs::read(s.srv("keep.bin")).unwrap(), b"original");
}

/// A body whose checksum does not match is discarded and the client is told why.
#[test]
fn corrupted_body_is_discarded_with_error_reply() {
    let s = setup();
    let mut c = s.raw_tcp();
    send_text(&mut c, "SEND c.bin").unwrap();
    assert_eq!(
        recv_text(&mut c, MAX_FRAME_LEN).unwrap().as_deref(),
        Some("OK")
    );
    let mut body = sockcore::frame::EXAMPLE_BODY.to_vec();
    body[8] = b'X';
    c.write_all(&body).unwrap();
    let reply = recv_text(&mut c, MAX_FRAME_LEN).unwrap().expect("a reply");
    assert!(
        reply.starts_with("ERROR receiving c.bin: checksum mismatch"),
        "{reply}"
    );
    assert_eq!(dir_names(s.srv_dir.path()), Vec::<String>::new());
}

/// A frame length over the limit gets an error reply, from the header alone.
#[test]
fn oversized_frame_length_gets_error_reply() {
    let s = setup();
    let mut c = s.raw_tcp();
    c.write_all(&[0xff, 0xff, 0xff, 0xf0]).unwrap();
    let reply = recv_text(&mut c, MAX_FRAME_LEN).unwrap().expect("a reply");
    assert_eq!(reply, "ERROR frame length 4294967280 exceeds limit 65536");
}

/// Two clients uploading at the same time are both served in full.
#[test]
fn two_clients_at_once() {
    let s = setup();
    let a = fs::read(random_file(&s.cli("a.bin"), 3 << 20, 1)).unwrap();
    let b = fs::read(random_file(&s.cli("b.bin"), 3 << 20, 2)).unwrap();
    let port = s.server.port();
    let mut ca = testkit::Proc::spawn(&s.client_bin, &["--port", &port, "a.bin"], s.cli_dir.path());
    let mut cb = testkit::Proc::spawn(&s.client_bin, &["--port", &port, "b.bin"], s.cli_dir.path());
    assert!(ca.wait_exit().success(), "{}", ca.stderr());
    assert!(cb.wait_exit().success(), "{}", cb.stderr());
    assert!(fs::read(s.srv("a.bin")).unwrap() == a);
    assert!(fs::read(s.srv("b.bin")).unwrap() == b);
}

/// A fake server that takes part of the file and vanishes: the client exits 1, file kept.
#[test]
fn server_vanishing_mid_file_keeps_client_file() {
    let dir = testkit::tempdir().unwrap();
    let data = fs::read(random_file(&dir.path().join("big.bin"), 8 << 20, 3)).unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port().to_string();
    let fake = std::thread::spawn(move || {
        let (mut c, _) = listener.accept().unwrap();
        c.set_read_timeout(Some(testkit::WAIT)).unwrap();
        let req = recv_text(&mut c, MAX_FRAME_LEN).unwrap();
        assert_eq!(req.as_deref(), Some("SEND big.bin"));
        send_text(&mut c, "OK").unwrap();
        let mut part = vec![0u8; 100_000];
        c.read_exact(&mut part).unwrap();
        // Close with unread data pending: the kernel resets the connection.
    });
    let a = testkit::client(&bin!("client"), dir.path())
        .args(["--port", &port, "big.bin"])
        .assert()
        .code(1);
    fake.join().unwrap();
    let err = stderr_of(&a);
    assert!(err.starts_with("error: "), "{err}");
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
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port().to_string();
    let fake = std::thread::spawn(move || {
        let (mut c, _) = listener.accept().unwrap();
        c.set_read_timeout(Some(testkit::WAIT)).unwrap();
        recv_text(&mut c, MAX_FRAME_LEN).unwrap();
        send_text(&mut c, "OK").unwrap();
        let mut body = [0u8; 15];
        c.read_exact(&mut body).unwrap();
        send_text(&mut c, "RECEIVED 3 00000000").unwrap();
    });
    let a = testkit::client(&bin!("client"), dir.path())
        .args(["--port", &port, "f.txt"])
        .assert()
        .code(1);
    fake.join().unwrap();
    let err = stderr_of(&a);
    assert!(err.contains("the server's copy differs"), "{err}");
    assert_eq!(fs::read(dir.path().join("f.txt")).unwrap(), b"abc");
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
        assert!(stdout_of(&a).contains("Ej. 2 (Práctica 2)"));
        testkit::client(&b, dir.path())
            .arg("--bogus")
            .assert()
            .code(2);
    }
}
