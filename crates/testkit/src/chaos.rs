//! Fault and garbage helpers of the reliability tests (docs/reliability.md): a seeded RNG
//! whose seed a failing test prints, random garbage for TCP and UDP servers, a TCP gate that
//! holds a transfer at a chosen byte, and a bounded wait for a file system state.
//!
//! Every exercise's `tests/reliability.rs` uses it (`use crate::chaos as support;`).

use proptest::prelude::{Rng, RngCore};
use proptest::test_runner::{RngAlgorithm, TestRng};
use sockcore::frame::{self, MAX_FRAME_LEN};
use sockcore::udp::wire::{self, Header, Kind};
use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::path::Path;
use std::sync::{Arc, Condvar, Mutex};
use std::thread;
use std::time::{Duration, Instant};

/// A seeded RNG for `test`: the seed is `TESTKIT_SEED` if set, else a fixed one derived from
/// the test's name, so every run is the same. The seed is printed (libtest shows it when the
/// test fails) with the command that reruns the test with it.
pub fn seeded(test: &str) -> TestRng {
    let seed = std::env::var("TESTKIT_SEED")
        .ok()
        .and_then(|s| s.parse::<u64>().ok())
        .unwrap_or_else(|| {
            test.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
                (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
            })
        });
    eprintln!("{test}: seed {seed} (rerun with TESTKIT_SEED={seed})");
    let mut bytes = [0u8; 32];
    bytes[..8].copy_from_slice(&seed.to_le_bytes());
    TestRng::from_seed(RngAlgorithm::ChaCha, &bytes)
}

/// `len` random bytes.
pub fn random_bytes(rng: &mut TestRng, len: usize) -> Vec<u8> {
    let mut v = vec![0u8; len];
    rng.fill_bytes(&mut v);
    v
}

/// How many TCP garbage inputs of each kind [`tcp_garbage`] sent.
#[derive(Debug, Default, Clone, Copy)]
pub struct TcpGarbage {
    /// Connections with random bytes.
    pub random: usize,
    /// Frames cut short (header or payload).
    pub truncated: usize,
    /// Headers announcing more than [`MAX_FRAME_LEN`] (up to 4 GiB).
    pub oversized: usize,
    /// Whole frames whose text is a command of the protocol with random arguments.
    pub commands: usize,
}

impl TcpGarbage {
    /// All inputs sent.
    pub fn total(&self) -> usize {
        self.random + self.truncated + self.oversized + self.commands
    }
}

/// A protocol-looking line: one of `verbs`, then random words or bytes (lossy text).
pub fn random_command(rng: &mut TestRng, verbs: &[&str]) -> Vec<u8> {
    let mut c = verbs[rng.gen_range(0..verbs.len())].as_bytes().to_vec();
    for _ in 0..rng.gen_range(0..4) {
        c.extend_from_slice(b" ");
        match rng.gen_range(0..4) {
            0 => {
                let len = rng.gen_range(0..12);
                c.extend(random_bytes(rng, len));
            }
            1 => c.extend(rng.gen::<u64>().to_string().into_bytes()),
            2 => c.extend(verbs[rng.gen_range(0..verbs.len())].as_bytes()),
            _ => c.extend(b"x.jpg"),
        }
    }
    c
}

/// Opens `rounds` connections to `addr`, sending on each one kind of garbage (random bytes;
/// a frame cut short; a header over [`MAX_FRAME_LEN`], up to 4 GiB; or a whole frame with
/// one of `verbs` and random arguments), then closes its sending side and reads whatever the
/// server answers until it closes (each read bounded by a timeout). On half the connections
/// the garbage follows the frames of `preamble` (e.g. a login), to reach a later state.
pub fn tcp_garbage(
    addr: SocketAddr,
    rng: &mut TestRng,
    rounds: usize,
    verbs: &[&str],
    preamble: &[&str],
) -> TcpGarbage {
    let mut sent = TcpGarbage::default();
    for _ in 0..rounds {
        let mut bytes = Vec::new();
        if rng.gen_bool(0.5) {
            for p in preamble {
                frame::send_text(&mut bytes, p).expect("a Vec");
            }
        }
        bytes.extend(match rng.gen_range(0..4) {
            0 => {
                sent.random += 1;
                let len = rng.gen_range(1..3000);
                random_bytes(rng, len)
            }
            1 => {
                sent.truncated += 1;
                let len = rng.gen_range(1..2000u32);
                let mut f = len.to_be_bytes().to_vec();
                f.extend(random_bytes(rng, len as usize));
                let cut = rng.gen_range(1..f.len());
                f.truncate(cut);
                f
            }
            2 => {
                sent.oversized += 1;
                let len = rng.gen_range(MAX_FRAME_LEN as u32 + 1..=u32::MAX);
                let mut f = len.to_be_bytes().to_vec();
                let tail = rng.gen_range(0..64);
                f.extend(random_bytes(rng, tail));
                f
            }
            _ => {
                sent.commands += 1;
                let mut f = Vec::new();
                for _ in 0..rng.gen_range(1..4) {
                    frame::send_frame(&mut f, &random_command(rng, verbs)).expect("a Vec");
                }
                f
            }
        });
        let Ok(mut c) = TcpStream::connect(addr) else {
            panic!("the server stopped accepting connections");
        };
        c.set_read_timeout(Some(crate::WAIT)).expect("read timeout");
        // The server may close first (it refused a header): then writes fail, which is fine.
        let _ = c.write_all(&bytes);
        let _ = c.shutdown(Shutdown::Write);
        let _ = c.read_to_end(&mut Vec::new());
    }
    sent
}

/// How many UDP garbage datagrams of each kind [`udp_garbage`] sent.
#[derive(Debug, Default, Clone, Copy)]
pub struct UdpGarbage {
    /// Random bytes.
    pub random: usize,
    /// Valid datagrams cut inside the header or the payload.
    pub truncated: usize,
    /// Longer than any legal datagram (up to the UDP maximum).
    pub oversized: usize,
    /// A valid header with nonsense fields: unknown sessions, wrong exchanges, huge sequence
    /// numbers and windows, END with a random size, ABORTs, first requests with junk.
    pub nonsense: usize,
}

impl UdpGarbage {
    /// All datagrams sent.
    pub fn total(&self) -> usize {
        self.random + self.truncated + self.oversized + self.nonsense
    }
}

/// Largest UDP payload over IPv4.
const UDP_MAX: usize = 65_507;

/// [`udp_garbage`] probes after this many datagrams...
const PROBE_EVERY: usize = 32;

/// ...or this many bytes, whichever comes first: well within a default socket receive
/// buffer (about 200 KiB on Linux), so the kernel drops none of the garbage before the
/// server has read it.
const PROBE_BYTES: usize = 96 * 1024;

/// A datagram of `sockcore::udp` with a valid header and nonsense fields.
fn nonsense_datagram(rng: &mut TestRng) -> Vec<u8> {
    let kinds = [
        Kind::Request,
        Kind::Reply,
        Kind::Data,
        Kind::End,
        Kind::Ack,
        Kind::Abort,
    ];
    let kind = kinds[rng.gen_range(0..kinds.len())];
    let header = Header {
        kind,
        session: rng.gen_range(1..=u32::MAX),
        // Mostly not 1: a REQUEST with exchange 1 opens a session (capped at
        // udp::server::MAX_SESSIONS), which a few of these do on purpose.
        exchange: if rng.gen_range(0..8) == 0 {
            1
        } else {
            rng.gen_range(2..=u32::MAX)
        },
        seq: rng.gen(),
        flags: rng.gen(),
        window: rng.gen(),
    };
    let len = match kind {
        Kind::Request | Kind::Reply | Kind::Abort => rng.gen_range(0..=wire::MAX_MESSAGE_LEN),
        Kind::Data => rng.gen_range(1..=2000),
        Kind::End => wire::END_PAYLOAD_LEN,
        Kind::Ack => rng.gen_range(0..=wire::MAX_SACK_LEN),
    };
    wire::encode(&header, &random_bytes(rng, len))
}

/// Sends `count` garbage datagrams to `addr` from a few sockets: random bytes, truncated
/// valid datagrams, oversized ones, and valid headers with nonsense fields (see
/// [`UdpGarbage`]); to a server that speaks no header of ours (echo, hello) the datagrams
/// with a valid header are just more bytes. Paced in bursts ([`PROBE_EVERY`],
/// [`PROBE_BYTES`]), each followed by the caller's `probe`, which waits for an answer from
/// the server (so the server's socket buffer never overflows and every datagram is read).
pub fn udp_garbage(
    addr: SocketAddr,
    rng: &mut TestRng,
    count: usize,
    mut probe: impl FnMut(),
) -> UdpGarbage {
    let socks: Vec<UdpSocket> = (0..4)
        .map(|_| UdpSocket::bind("127.0.0.1:0").expect("binding on loopback"))
        .collect();
    let mut sent = UdpGarbage::default();
    let (mut burst, mut burst_bytes) = (0, 0);
    for _ in 0..count {
        let d = match rng.gen_range(0..4) {
            0 => {
                sent.random += 1;
                let len = rng.gen_range(0..1500);
                random_bytes(rng, len)
            }
            1 => {
                sent.truncated += 1;
                let d = nonsense_datagram(rng);
                let cut = rng.gen_range(0..d.len());
                d[..cut].to_vec()
            }
            2 => {
                sent.oversized += 1;
                let len = rng.gen_range(wire::MAX_DATAGRAM_LEN + 1..=UDP_MAX);
                let mut d = nonsense_datagram(rng);
                d.resize(len, 0x5a);
                d
            }
            _ => {
                sent.nonsense += 1;
                nonsense_datagram(rng)
            }
        };
        let s = &socks[rng.gen_range(0..socks.len())];
        s.send_to(&d, addr).expect("sending on loopback");
        burst += 1;
        burst_bytes += d.len();
        if burst == PROBE_EVERY || burst_bytes >= PROBE_BYTES {
            probe();
            (burst, burst_bytes) = (0, 0);
        }
    }
    probe();
    sent
}

/// Polls `ok` until it is true, failing after [`crate::WAIT`]. For file system state only
/// (a temporary file appearing or vanishing), which offers nothing to wait on: a bounded
/// poll with a deadline, not a sleep that hopes the state is reached.
pub fn wait_until(what: &str, mut ok: impl FnMut() -> bool) {
    let deadline = Instant::now() + crate::WAIT;
    while !ok() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        thread::sleep(Duration::from_millis(2));
    }
}

/// The names in `dir` that are temporary files of `sockcore::files::AtomicFile`.
pub fn partial_files(dir: &Path) -> Vec<String> {
    crate::dir_names(dir)
        .into_iter()
        .filter(|n| n.starts_with(sockcore::files::PARTIAL_PREFIX))
        .collect()
}

/// Which way a [`Gate`] holds bytes back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dir {
    /// Client to server (an upload).
    ToServer,
    /// Server to client (a download).
    ToClient,
}

#[derive(Debug, Default)]
struct GateState {
    held: bool,
    open: bool,
}

/// A TCP relay for one connection that forwards the first `limit` bytes in one direction and
/// then holds that direction (reading nothing more, so the sender blocks once the socket
/// buffers are full) until [`Gate::open`]: a transfer stopped at a known byte, without
/// timing. Closes travel through: end of stream from one side shuts down the other's
/// sending side; an error resets both.
#[derive(Debug)]
pub struct Gate {
    addr: SocketAddr,
    state: Arc<(Mutex<GateState>, Condvar)>,
}

impl Gate {
    /// Listens on 127.0.0.1 for one client, and relays it to `server`.
    pub fn start(server: SocketAddr, dir: Dir, limit: u64) -> Gate {
        let listener = TcpListener::bind("127.0.0.1:0").expect("binding the gate");
        let addr = listener.local_addr().expect("gate address");
        let state = Arc::new((Mutex::new(GateState::default()), Condvar::new()));
        let st = Arc::clone(&state);
        thread::spawn(move || {
            let Ok((client, _)) = listener.accept() else {
                return;
            };
            let upstream = TcpStream::connect(server).expect("connecting the gate to the server");
            for s in [&client, &upstream] {
                s.set_read_timeout(Some(crate::WAIT * 3))
                    .expect("read timeout");
            }
            let (c2s, s2c) = match dir {
                Dir::ToServer => (Some(limit), None),
                Dir::ToClient => (None, Some(limit)),
            };
            let a = (
                client.try_clone().expect("clone"),
                upstream.try_clone().expect("clone"),
            );
            let st2 = Arc::clone(&st);
            thread::spawn(move || pump(a.0, a.1, c2s, &st2));
            pump(upstream, client, s2c, &st);
        });
        Gate { addr, state }
    }

    /// The port to give the client.
    pub fn port(&self) -> String {
        self.addr.port().to_string()
    }

    /// Waits (at most [`crate::WAIT`]) until `limit` bytes have passed and the gate holds.
    pub fn wait_held(&self) {
        let (m, cv) = &*self.state;
        let deadline = Instant::now() + crate::WAIT;
        let mut g = m.lock().expect("gate lock");
        while !g.held {
            let now = Instant::now();
            assert!(
                now < deadline,
                "the transfer never reached the gate's limit"
            );
            g = cv.wait_timeout(g, deadline - now).expect("gate lock").0;
        }
    }

    /// Lets everything through from now on.
    pub fn open(&self) {
        let (m, cv) = &*self.state;
        m.lock().expect("gate lock").open = true;
        cv.notify_all();
    }
}

impl Drop for Gate {
    fn drop(&mut self) {
        self.open();
    }
}

/// Copies `from` to `to`; after `limit` bytes (if any) waits for the gate to open.
fn pump(
    mut from: TcpStream,
    mut to: TcpStream,
    limit: Option<u64>,
    st: &(Mutex<GateState>, Condvar),
) {
    let mut buf = vec![0u8; 64 * 1024];
    let mut passed = 0u64;
    loop {
        let mut want = buf.len();
        if let Some(limit) = limit {
            let (m, cv) = st;
            let mut g = m.lock().expect("gate lock");
            if !g.open && passed >= limit {
                g.held = true;
                cv.notify_all();
                // Bounded: a test that never opens the gate ends it after a while.
                let deadline = Instant::now() + crate::WAIT * 3;
                while !g.open && Instant::now() < deadline {
                    g = cv
                        .wait_timeout(g, Duration::from_secs(1))
                        .expect("gate lock")
                        .0;
                }
            } else if !g.open {
                want = want.min((limit - passed) as usize);
            }
        }
        match from.read(&mut buf[..want]) {
            Ok(0) => {
                let _ = to.shutdown(Shutdown::Write);
                return;
            }
            Ok(n) => {
                if to.write_all(&buf[..n]).is_err() {
                    let _ = from.shutdown(Shutdown::Both);
                    let _ = to.shutdown(Shutdown::Both);
                    return;
                }
                passed += n as u64;
            }
            Err(_) => {
                let _ = to.shutdown(Shutdown::Both);
                let _ = from.shutdown(Shutdown::Both);
                return;
            }
        }
    }
}

/// What a [`UdpGate`] lets through before it holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hold {
    /// Everything until this many DATA datagrams have gone to the server; then every
    /// datagram from the client is dropped (an upload stopped at a known chunk).
    DataToServer(usize),
    /// Everything until this many REPLY datagrams have gone to the client; then every
    /// datagram from the server is dropped (a request run, its answer never seen).
    RepliesToClient(usize),
}

/// Decides whether a datagram passes the gate.
type Filter = Box<dyn FnMut(&[u8]) -> bool + Send>;

/// A UDP relay for one client of a `sockcore::udp` server that drops one direction from a
/// known datagram on ([`Hold`]): a dialogue stopped at a known step, without timing.
#[derive(Debug)]
pub struct UdpGate {
    addr: SocketAddr,
    state: Arc<(Mutex<GateState>, Condvar)>,
}

impl UdpGate {
    /// Listens on 127.0.0.1 for one client, and relays it to `server`.
    pub fn start(server: SocketAddr, hold: Hold) -> UdpGate {
        let front = UdpSocket::bind("127.0.0.1:0").expect("binding the gate");
        let addr = front.local_addr().expect("gate address");
        let back = UdpSocket::bind("127.0.0.1:0").expect("binding the gate");
        back.connect(server).expect("connecting the gate");
        let state = Arc::new((Mutex::new(GateState::default()), Condvar::new()));
        for s in [&front, &back] {
            s.set_read_timeout(Some(Duration::from_millis(200)))
                .expect("read timeout");
        }
        let client: Arc<Mutex<Option<SocketAddr>>> = Arc::default();
        // Counts the datagrams of `kind` (decoded as sockcore::udp) that pass one way, and
        // holds that way after `pass` of them.
        let counter = |kind: Kind, pass: usize, st: Arc<(Mutex<GateState>, Condvar)>| {
            let mut seen = 0;
            move |d: &[u8]| -> bool {
                if matches!(wire::decode(d), Ok((h, _)) if h.kind == kind) {
                    seen += 1;
                }
                if seen > pass {
                    let (m, cv) = &*st;
                    m.lock().expect("gate lock").held = true;
                    cv.notify_all();
                    return false;
                }
                true
            }
        };
        let (mut to_server, mut to_client): (Filter, Filter) = match hold {
            Hold::DataToServer(n) => (
                Box::new(counter(Kind::Data, n, Arc::clone(&state))),
                Box::new(|_: &[u8]| true),
            ),
            Hold::RepliesToClient(n) => (
                Box::new(|_: &[u8]| true),
                Box::new(counter(Kind::Reply, n, Arc::clone(&state))),
            ),
        };
        let (f2, b2, c2, st2) = (
            front.try_clone().expect("clone"),
            back.try_clone().expect("clone"),
            Arc::clone(&client),
            Arc::clone(&state),
        );
        // Server to client, until the gate is dropped.
        thread::spawn(move || {
            let mut buf = vec![0u8; UDP_MAX + 1];
            while !st2.0.lock().expect("gate lock").open {
                if let Ok(n) = b2.recv(&mut buf) {
                    let to = *c2.lock().expect("gate lock");
                    if let (Some(to), true) = (to, to_client(&buf[..n])) {
                        let _ = f2.send_to(&buf[..n], to);
                    }
                }
            }
        });
        // Client to server, until the gate is dropped.
        let st = Arc::clone(&state);
        thread::spawn(move || {
            let mut buf = vec![0u8; UDP_MAX + 1];
            while !st.0.lock().expect("gate lock").open {
                let Ok((n, from)) = front.recv_from(&mut buf) else {
                    continue;
                };
                *client.lock().expect("gate lock") = Some(from);
                if to_server(&buf[..n]) {
                    // The server may be gone (a test killed it): nothing to relay to.
                    let _ = back.send(&buf[..n]);
                }
            }
        });
        UdpGate { addr, state }
    }

    /// The port to give the client.
    pub fn port(&self) -> String {
        self.addr.port().to_string()
    }

    /// Waits (at most [`crate::WAIT`]) until the gate has dropped its first datagram: the
    /// dialogue is at the step the [`Hold`] names, and will go no further.
    pub fn wait_held(&self) {
        let (m, cv) = &*self.state;
        let deadline = Instant::now() + crate::WAIT;
        let mut g = m.lock().expect("gate lock");
        while !g.held {
            let now = Instant::now();
            assert!(
                now < deadline,
                "the dialogue never reached the gate's limit"
            );
            g = cv.wait_timeout(g, deadline - now).expect("gate lock").0;
        }
    }
}

impl Drop for UdpGate {
    fn drop(&mut self) {
        // Stops both relay threads (within their 200 ms read timeout).
        let (m, cv) = &*self.state;
        m.lock().expect("gate lock").open = true;
        cv.notify_all();
    }
}

/// Every entry under `dir`, recursively and without following symlinks, with a file's bytes,
/// a link's target, or nothing for a directory: to assert that nothing changed there.
pub fn tree(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for e in std::fs::read_dir(&d).expect("reading a directory") {
            let p = e.expect("directory entry").path();
            let shown = p
                .strip_prefix(dir)
                .expect("under dir")
                .display()
                .to_string();
            let meta = std::fs::symlink_metadata(&p).expect("metadata");
            if meta.file_type().is_symlink() {
                let target = std::fs::read_link(&p).expect("a link");
                out.push((shown, target.display().to_string().into_bytes()));
            } else if meta.is_dir() {
                out.push((format!("{shown}/"), Vec::new()));
                todo.push(p);
            } else {
                out.push((shown, std::fs::read(&p).expect("reading a file")));
            }
        }
    }
    out.sort();
    out
}

/// The name of the directory [`hostile_inputs`] makes in the root.
pub const DIR_NAME: &str = "sub";

/// The hostile inputs every server that takes names is tried with: testkit's one table
/// ([`crate::hostile::names`]), the symlinks leading out that
/// [`crate::hostile::plant_symlink_out`] plants (Unix), and [`DIR_NAME`], a directory in
/// the root (holding one file). Each comes with the message `sockcore::files::Root` refuses
/// it with, or `None` when it is a fine name (the directory: the server refuses it itself).
pub fn hostile_inputs(root: &Path, outside: &Path) -> Vec<(String, Option<String>)> {
    let links = crate::hostile::plant_symlink_out(root, outside);
    std::fs::create_dir(root.join(DIR_NAME)).expect("creating the directory");
    std::fs::write(root.join(DIR_NAME).join("inner.txt"), "inner").expect("writing a file");
    let r = sockcore::files::Root::new(root).expect("the root");
    crate::hostile::names()
        .into_iter()
        .chain(links.iter().map(|l| l.to_string()))
        .chain([DIR_NAME.to_string()])
        .map(|name| {
            let why = r.path_of(&name).err().map(|e| e.to_string());
            (name, why)
        })
        .collect()
}

/// Sends `ask` from `sock` to `to` until `answer` comes back (at most 20 tries, 500 ms
/// each): a probe of a plain UDP server, which may lose a datagram like any UDP peer.
pub fn udp_probe(sock: &UdpSocket, to: SocketAddr, ask: &[u8], answer: &[u8]) {
    sock.set_read_timeout(Some(Duration::from_millis(500)))
        .expect("read timeout");
    let mut buf = vec![0u8; UDP_MAX + 1];
    for _ in 0..20 {
        sock.send_to(ask, to).expect("sending the probe");
        while let Ok(n) = sock.recv(&mut buf) {
            if &buf[..n] == answer {
                return;
            }
        }
    }
    panic!("no answer to the probe from {to}");
}
