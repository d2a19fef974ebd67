//! Reliability tests of Ej. 2 over UDP (docs/reliability.md): the one table of hostile
//! names, properties of the message parsers, seeded garbage datagrams at run time, and
//! clients and servers killed in the middle of an upload.

use testkit::chaos as support;

use ej2_upload_udp::{parse_received, parse_send};
use proptest::prelude::*;
use sockcore::frame::BodySummary;
use sockcore::udp::wire::{self, Header, Kind};
use std::fs;
use std::net::{SocketAddr, UdpSocket};
use support::{hostile_inputs, partial_files, tree, wait_until, Hold, UdpGate, DIR_NAME};
use testkit::{dir_names, random_file, Pair, Proc};

/// A server that takes a silent client for gone after 1 s (instead of 10), so the tests of
/// killed clients are quick.
fn setup() -> Pair {
    testkit::pair!(&["--dir", ".", "--timeout", "1"])
}

/// A session driven by hand over a raw socket, for what the real client never sends. On
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

    /// Sends REQUEST number `exchange` and returns its REPLY (an ABORT as "ABORT ...").
    fn request_at(&self, exchange: u32, msg: &[u8]) -> String {
        let h = Header::new(Kind::Request, self.session, exchange);
        self.sock
            .send_to(&wire::encode(&h, msg), self.to)
            .expect("sending a datagram");
        let mut buf = vec![0u8; wire::MAX_DATAGRAM_LEN + 1];
        loop {
            let n = self.sock.recv(&mut buf).expect("an answer in time");
            let Ok((h, p)) = wire::decode(&buf[..n]) else {
                continue;
            };
            match h.kind {
                Kind::Reply if h.exchange == exchange => {
                    return String::from_utf8_lossy(p).into_owned()
                }
                Kind::Abort => return format!("ABORT {}", String::from_utf8_lossy(p)),
                _ => {}
            }
        }
    }

    /// Sends the next request; returns the reply.
    fn request(&mut self, msg: &[u8]) -> String {
        self.exchange += 1;
        self.request_at(self.exchange, msg)
    }
}

/// Every hostile name, the symlinks leading out and a name that is a directory each get
/// their own error; nothing inside or outside the root changes.
#[test]
fn hostile_names_are_refused_and_nothing_changes() {
    let s = setup();
    let outside = testkit::tempdir().unwrap();
    fs::write(s.srv("keep.txt"), "keep").unwrap();
    let inputs = hostile_inputs(s.srv_dir.path(), outside.path());
    let (root_before, outside_before) = (tree(s.srv_dir.path()), tree(outside.path()));
    for (i, (name, why)) in inputs.iter().enumerate() {
        let want = match why {
            Some(why) => format!("ERROR {why}"),
            None => format!("ERROR {name} is a directory on the server"),
        };
        let mut raw = Raw::new(s.server.addr(), 100 + i as u32);
        assert_eq!(raw.request(b"HELLO"), "HELLO");
        let got = raw.request(format!("SEND {name}").as_bytes());
        assert_eq!(got, want, "{}", testkit::hostile::show(name));
    }
    assert_eq!(tree(s.srv_dir.path()), root_before);
    assert_eq!(tree(outside.path()), outside_before);
    assert!(inputs.iter().any(|(n, w)| n == DIR_NAME && w.is_none()));
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, failure_persistence: None, ..ProptestConfig::default() })]

    /// `parse_send` never panics; it takes exactly the requests that start with `SEND `, and
    /// gives back the rest; anything else is refused naming the request.
    #[test]
    fn parse_send_takes_exactly_send_requests(request in prop_oneof![
        any::<String>(),
        "SEND .{0,30}",
        "(SEND|SEN|send|HELLO)[ \t]?.{0,10}",
    ]) {
        match parse_send(&request) {
            Ok(name) => prop_assert_eq!(format!("SEND {name}"), request),
            Err(e) => {
                prop_assert!(!request.starts_with("SEND "));
                prop_assert_eq!(e, format!("expected SEND <name>, got {request:?}"));
            }
        }
    }

    /// `parse_received` never panics on any text, and reads back every confirmation the
    /// server writes.
    #[test]
    fn parse_received_reads_what_the_server_writes(
        size in any::<u64>(),
        crc32 in any::<u32>(),
        junk in any::<String>(),
        mangled in "RECEIVED [0-9a-f +-]{0,30}",
    ) {
        let reply = format!("RECEIVED {size} {crc32:08x}");
        prop_assert_eq!(parse_received(&reply), Some(BodySummary { size, crc32 }));
        let _ = parse_received(&junk);
        let _ = parse_received(&mangled);
    }
}

/// 1,000 seeded garbage datagrams (random bytes, cut datagrams, oversized ones, valid
/// headers with nonsense fields) from several addresses never stop the server or make it
/// panic; a real client is served after them.
#[test]
fn garbage_datagrams_never_stop_the_server() {
    let s = setup();
    let mut rng = support::seeded("ej2-upload-udp garbage_datagrams_never_stop_the_server");
    // One session answers every probe from its cache (a repeated exchange), so the probes
    // open no sessions of their own.
    let mut probe = Raw::new(s.server.addr(), 7);
    assert_eq!(probe.request(b"HELLO"), "HELLO");
    let sent = support::udp_garbage(s.server.addr(), &mut rng, 1000, || {
        assert_eq!(probe.request_at(1, b"HELLO"), "HELLO");
    });
    assert_eq!(sent.total(), 1000);
    assert!(sent.oversized > 0 && sent.truncated > 0 && sent.nonsense > 0);
    fs::write(s.cli("after.txt"), "still here").unwrap();
    s.client(&["after.txt"], "").success();
    assert_eq!(fs::read(s.srv("after.txt")).unwrap(), b"still here");
    let err = s.server.stderr();
    assert!(!err.contains("panicked"), "{err}");
    assert!(err.contains("server: ignored a datagram of "), "{err}");
}

/// Size of the file of the fault tests, in bytes: far more than the chunks the gate lets
/// through.
const BIG: u64 = 8 << 20;

/// DATA datagrams the gate lets through before it drops everything from the client.
const HOLD_AFTER: usize = 200;

/// The client killed (SIGKILL) while its upload is held after 200 chunks, once for a new
/// file and once overwriting an old one: the server gives the silent client up, no partial
/// file stays, the old file is intact, and the next client is served.
#[test]
fn client_killed_mid_upload_leaves_no_partial_file() {
    let s = setup();
    fs::write(s.srv("old.bin"), "original").unwrap();
    for name in ["new.bin", "old.bin"] {
        random_file(&s.cli(name), BIG, 21);
        let gate = UdpGate::start(s.server.addr(), Hold::DataToServer(HOLD_AFTER));
        let mut c = Proc::spawn(
            &s.client_bin,
            &["--port", &gate.port(), "--overwrite", "yes", name],
            s.cli_dir.path(),
        );
        gate.wait_held();
        assert_eq!(partial_files(s.srv_dir.path()).len(), 1);
        c.kill();
        s.server
            .wait_stderr(&format!("receiving {name}: no data from"));
        wait_until("the temporary file to go", || {
            partial_files(s.srv_dir.path()).is_empty()
        });
        assert_eq!(dir_names(s.srv_dir.path()), ["old.bin"]);
        assert_eq!(fs::read(s.srv("old.bin")).unwrap(), b"original");
    }
    fs::write(s.cli("next.txt"), "next").unwrap();
    s.client(&["next.txt"], "").success();
    assert_eq!(fs::read(s.srv("next.txt")).unwrap(), b"next");
    assert!(!s.server.stderr().contains("panicked"));
}

/// The client killed while its user is asked whether to overwrite: the old file stays, no
/// temporary file is made, and another client is served meanwhile.
#[test]
fn client_killed_at_overwrite_question_keeps_old_file() {
    let s = setup();
    fs::write(s.srv("doc.pdf"), "old").unwrap();
    fs::write(s.cli("doc.pdf"), "new").unwrap();
    let mut c = s.spawn_client(&["doc.pdf"]);
    c.wait_stdout("El fichero doc.pdf ya existe en el servidor");
    c.kill();
    fs::write(s.cli("x.txt"), "x").unwrap();
    s.client(&["x.txt"], "").success();
    assert_eq!(dir_names(s.srv_dir.path()), ["doc.pdf", "x.txt"]);
    assert_eq!(fs::read(s.srv("doc.pdf")).unwrap(), b"old");
}

/// The server killed (SIGKILL) while an upload is held after 200 chunks: the client gives
/// up after its --timeout of silence, exits 1 with an error and keeps its file.
#[test]
fn server_killed_mid_upload_client_keeps_file_and_exits_1() {
    let mut s = setup();
    let data = fs::read(random_file(&s.cli("big.bin"), BIG, 22)).unwrap();
    let gate = UdpGate::start(s.server.addr(), Hold::DataToServer(HOLD_AFTER));
    let mut c = Proc::spawn(
        &s.client_bin,
        &["--port", &gate.port(), "--timeout", "1", "big.bin"],
        s.cli_dir.path(),
    );
    gate.wait_held();
    s.server.kill();
    assert_eq!(c.wait_exit().code(), Some(1), "{}", c.stderr());
    let err = c.stderr();
    assert!(err.starts_with("error: sending big.bin to "), "{err}");
    assert!(!c.stdout().contains("eliminado"));
    assert!(fs::read(s.cli("big.bin")).unwrap() == data);
}
