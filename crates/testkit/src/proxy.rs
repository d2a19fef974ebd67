//! A UDP proxy that misbehaves on purpose, reproducibly.
//!
//! Clients talk to [`Proxy::addr`]; the proxy forwards each datagram to the real server from a
//! socket of its own per client (so the server sees one address per client, as it would
//! without the proxy) and sends the server's answers back. In both directions each datagram
//! may be dropped, duplicated, delayed, or held back so that a later one overtakes it
//! (reordered), each with the probability given in [`Faults`].
//!
//! The decisions come from RNGs seeded from one seed (one RNG per direction and client, so a
//! direction's decisions depend only on its own datagrams). The seed is printed on stderr when
//! the proxy starts; libtest shows that output for a failing test, and `TESTKIT_SEED=<n>`
//! reruns the test with the same seed.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::collections::{BinaryHeap, HashMap};
use std::net::{SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

/// How often the proxy's threads look at their stop flag.
const POLL: Duration = Duration::from_millis(20);

/// Largest datagram the proxy forwards (the UDP maximum).
const MAX_DATAGRAM: usize = 65_535;

/// Fault probabilities (0.0 to 1.0) and the delay range, applied in each direction.
#[derive(Debug, Clone, Copy)]
pub struct Faults {
    /// Probability that a datagram is dropped.
    pub drop: f64,
    /// Probability that a datagram is sent twice.
    pub duplicate: f64,
    /// Probability that a datagram is held back by `reorder_delay` so later ones overtake it.
    pub reorder: f64,
    /// Extra delay of a reordered datagram.
    pub reorder_delay: Duration,
    /// Every datagram is delayed by a uniform random time in `0..=max_delay`.
    pub max_delay: Duration,
}

impl Faults {
    /// No faults: a plain forwarder.
    pub const NONE: Faults = Faults {
        drop: 0.0,
        duplicate: 0.0,
        reorder: 0.0,
        reorder_delay: Duration::ZERO,
        max_delay: Duration::ZERO,
    };

    /// Loss only, with probability `p`.
    pub fn loss(p: f64) -> Faults {
        Faults {
            drop: p,
            ..Faults::NONE
        }
    }

    /// The suite's standard bad link: `p` loss, 5% duplicates, 5% reordered by 5 ms, and up
    /// to 1 ms of jitter.
    pub fn lossy(p: f64) -> Faults {
        Faults {
            drop: p,
            duplicate: 0.05,
            reorder: 0.05,
            reorder_delay: Duration::from_millis(5),
            max_delay: Duration::from_millis(1),
        }
    }
}

/// What the proxy did, summed over both directions.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Stats {
    /// Datagrams received from either side.
    pub received: u64,
    /// Datagrams dropped.
    pub dropped: u64,
    /// Extra copies sent.
    pub duplicated: u64,
    /// Datagrams held back to be overtaken.
    pub reordered: u64,
}

#[derive(Default)]
struct Counters {
    received: AtomicU64,
    dropped: AtomicU64,
    duplicated: AtomicU64,
    reordered: AtomicU64,
}

/// A datagram waiting for its release time.
struct Pending {
    at: Instant,
    order: u64,
    via: Arc<UdpSocket>,
    to: SocketAddr,
    data: Vec<u8>,
}

impl PartialEq for Pending {
    fn eq(&self, o: &Self) -> bool {
        (self.at, self.order) == (o.at, o.order)
    }
}
impl Eq for Pending {}
impl PartialOrd for Pending {
    fn partial_cmp(&self, o: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for Pending {
    // Reversed: BinaryHeap is a max-heap and we want the earliest release first.
    fn cmp(&self, o: &Self) -> std::cmp::Ordering {
        (o.at, o.order).cmp(&(self.at, self.order))
    }
}

struct Shared {
    faults: Faults,
    seed: u64,
    stop: AtomicBool,
    queue: Mutex<(BinaryHeap<Pending>, u64)>,
    ready: Condvar,
    counters: Counters,
}

impl Shared {
    /// Applies the faults to one datagram and queues what survives.
    fn submit(&self, rng: &mut StdRng, via: &Arc<UdpSocket>, to: SocketAddr, data: &[u8]) {
        let f = &self.faults;
        self.counters.received.fetch_add(1, Ordering::Relaxed);
        if rng.gen_bool(f.drop) {
            self.counters.dropped.fetch_add(1, Ordering::Relaxed);
            return;
        }
        let copies = if rng.gen_bool(f.duplicate) {
            self.counters.duplicated.fetch_add(1, Ordering::Relaxed);
            2
        } else {
            1
        };
        let now = Instant::now();
        let mut q = self.queue.lock().expect("proxy queue lock poisoned");
        for _ in 0..copies {
            let mut delay = jitter(rng, f.max_delay);
            if rng.gen_bool(f.reorder) {
                self.counters.reordered.fetch_add(1, Ordering::Relaxed);
                delay += f.reorder_delay;
            }
            q.1 += 1;
            let order = q.1;
            q.0.push(Pending {
                at: now + delay,
                order,
                via: Arc::clone(via),
                to,
                data: data.to_vec(),
            });
        }
        self.ready.notify_one();
    }
}

fn jitter(rng: &mut StdRng, max: Duration) -> Duration {
    if max.is_zero() {
        Duration::ZERO
    } else {
        Duration::from_nanos(rng.gen_range(0..=max.as_nanos() as u64))
    }
}

/// A running proxy; it stops (and its threads end) when dropped.
pub struct Proxy {
    addr: SocketAddr,
    shared: Arc<Shared>,
    threads: Vec<JoinHandle<()>>,
}

impl std::fmt::Debug for Proxy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Proxy")
            .field("addr", &self.addr)
            .field("seed", &self.shared.seed)
            .finish()
    }
}

impl Proxy {
    /// Starts a proxy on 127.0.0.1 (OS-chosen port) in front of `server`.
    ///
    /// The seed is `TESTKIT_SEED` from the environment if set, else `seed`; it is printed.
    ///
    /// # Panics
    /// When the proxy's socket cannot be bound.
    pub fn start(server: SocketAddr, faults: Faults, seed: u64) -> Proxy {
        let seed = std::env::var("TESTKIT_SEED")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(seed);
        eprintln!("testkit proxy: seed {seed}, faults {faults:?} (rerun with TESTKIT_SEED={seed})");
        let front = Arc::new(UdpSocket::bind("127.0.0.1:0").expect("binding the proxy socket"));
        front
            .set_read_timeout(Some(POLL))
            .expect("setting a read timeout");
        let addr = front.local_addr().expect("proxy local address");
        let shared = Arc::new(Shared {
            faults,
            seed,
            stop: AtomicBool::new(false),
            queue: Mutex::new((BinaryHeap::new(), 0)),
            ready: Condvar::new(),
            counters: Counters::default(),
        });
        let sender = {
            let shared = Arc::clone(&shared);
            thread::spawn(move || release_loop(&shared))
        };
        let receiver = {
            let shared = Arc::clone(&shared);
            thread::spawn(move || front_loop(&shared, &front, server))
        };
        Proxy {
            addr,
            shared,
            threads: vec![sender, receiver],
        }
    }

    /// The address clients should send to.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The seed in use.
    pub fn seed(&self) -> u64 {
        self.shared.seed
    }

    /// What the proxy did so far.
    pub fn stats(&self) -> Stats {
        let c = &self.shared.counters;
        Stats {
            received: c.received.load(Ordering::Relaxed),
            dropped: c.dropped.load(Ordering::Relaxed),
            duplicated: c.duplicated.load(Ordering::Relaxed),
            reordered: c.reordered.load(Ordering::Relaxed),
        }
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::Relaxed);
        self.shared.ready.notify_all();
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

/// Receives from clients; one upstream socket (and reply thread) per client address.
fn front_loop(shared: &Arc<Shared>, front: &Arc<UdpSocket>, server: SocketAddr) {
    let mut clients: HashMap<SocketAddr, (Arc<UdpSocket>, StdRng)> = HashMap::new();
    let mut replies = Vec::new();
    let mut buf = vec![0u8; MAX_DATAGRAM];
    while !shared.stop.load(Ordering::Relaxed) {
        let (n, from) = match front.recv_from(&mut buf) {
            Ok(x) => x,
            Err(_) => continue, // timeout (check the stop flag) or an ICMP error: keep going
        };
        let index = clients.len() as u64;
        let (up, rng) = clients.entry(from).or_insert_with(|| {
            let up = Arc::new(UdpSocket::bind("127.0.0.1:0").expect("binding an upstream socket"));
            up.set_read_timeout(Some(POLL))
                .expect("setting a read timeout");
            let (s, f, u) = (Arc::clone(shared), Arc::clone(front), Arc::clone(&up));
            let seed = shared.seed ^ (index * 2 + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15);
            replies.push(thread::spawn(move || back_loop(&s, &u, &f, from, seed)));
            let seed = shared.seed ^ (index * 2).wrapping_mul(0x9e37_79b9_7f4a_7c15);
            (up, StdRng::seed_from_u64(seed))
        });
        shared.submit(rng, up, server, &buf[..n]);
    }
    for t in replies {
        let _ = t.join();
    }
}

/// Receives the server's answers to one client and sends them back through the front socket.
fn back_loop(
    shared: &Shared,
    up: &UdpSocket,
    front: &Arc<UdpSocket>,
    client: SocketAddr,
    seed: u64,
) {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut buf = vec![0u8; MAX_DATAGRAM];
    while !shared.stop.load(Ordering::Relaxed) {
        if let Ok((n, _)) = up.recv_from(&mut buf) {
            shared.submit(&mut rng, front, client, &buf[..n]);
        }
    }
}

/// Sends each queued datagram at its release time.
fn release_loop(shared: &Shared) {
    let mut q = shared.queue.lock().expect("proxy queue lock poisoned");
    loop {
        if shared.stop.load(Ordering::Relaxed) {
            return;
        }
        let now = Instant::now();
        match q.0.peek() {
            Some(p) if p.at <= now => {
                let p = q.0.pop().expect("peeked just now");
                drop(q);
                let _ = p.via.send_to(&p.data, p.to);
                q = shared.queue.lock().expect("proxy queue lock poisoned");
            }
            Some(p) => {
                let wait = (p.at - now).min(POLL);
                q = shared
                    .ready
                    .wait_timeout(q, wait)
                    .expect("proxy queue lock poisoned")
                    .0;
            }
            None => {
                q = shared
                    .ready
                    .wait_timeout(q, POLL)
                    .expect("proxy queue lock poisoned")
                    .0;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// With no faults, the proxy forwards both ways and the server sees the proxy's address.
    #[test]
    fn forwards_both_ways() {
        let server = UdpSocket::bind("127.0.0.1:0").unwrap();
        server
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        let proxy = Proxy::start(server.local_addr().unwrap(), Faults::NONE, 1);
        let client = UdpSocket::bind("127.0.0.1:0").unwrap();
        client
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        client.send_to(b"ping", proxy.addr()).unwrap();
        let mut buf = [0u8; 16];
        let (n, from) = server.recv_from(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"ping");
        assert_ne!(from, client.local_addr().unwrap());
        server.send_to(b"pong", from).unwrap();
        let (n, from) = client.recv_from(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"pong");
        assert_eq!(from, proxy.addr());
        assert_eq!(
            proxy.stats(),
            Stats {
                received: 2,
                ..Stats::default()
            }
        );
    }

    /// With total loss nothing arrives, and the proxy counts the drops.
    #[test]
    fn total_loss_drops_everything() {
        let server = UdpSocket::bind("127.0.0.1:0").unwrap();
        server
            .set_read_timeout(Some(Duration::from_millis(200)))
            .unwrap();
        let proxy = Proxy::start(server.local_addr().unwrap(), Faults::loss(1.0), 2);
        let client = UdpSocket::bind("127.0.0.1:0").unwrap();
        for _ in 0..10 {
            client.send_to(b"x", proxy.addr()).unwrap();
        }
        assert!(server.recv_from(&mut [0u8; 4]).is_err());
        assert_eq!(proxy.stats().dropped, 10);
    }
}
