//! The handouts' server transcript, kept by a server that serves clients concurrently.
//!
//! The handouts' Python servers serve one client at a time and print a line before each
//! `accept` (Práctica TCP: `Waiting for clients...`), and the client's address as Python
//! prints a tuple (`Connection received from client ('127.0.0.1', 56307)`). A server with a
//! thread per client is always ready for the next one, so printing before each `accept`
//! would put the line in the middle of another client's lines. A [`Lobby`] prints it when
//! the server is *idle*: at start, and whenever the last connected client leaves. With one
//! client at a time, the transcript is line for line the handout's; with several, it says
//! "waiting" only when nobody is being served.
//!
//! ```no_run
//! use sockcore::lobby::{addr_tuple, Lobby};
//! # let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
//! let lobby = Lobby::open("Waiting for clients...");
//! for stream in listener.incoming() {
//!     let stream = stream.unwrap();
//!     let peer = stream.peer_addr().unwrap();
//!     let seat = lobby.enter(|| println!("Connection received from client {}", addr_tuple(peer)));
//!     std::thread::spawn(move || {
//!         // ... the dialogue ...
//!         drop(seat); // prints "Waiting for clients..." if nobody else is connected
//!     });
//! }
//! ```

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};

/// A socket address as Python prints the tuple `accept()` returns:
/// `('127.0.0.1', 56307)`, or `('::1', 56307, 0, 0)` for IPv6 (flow info and scope id).
pub fn addr_tuple(addr: SocketAddr) -> String {
    match addr {
        SocketAddr::V4(a) => format!("('{}', {})", a.ip(), a.port()),
        SocketAddr::V6(a) => format!(
            "('{}', {}, {}, {})",
            a.ip(),
            a.port(),
            a.flowinfo(),
            a.scope_id()
        ),
    }
}

/// Who is connected, so that the waiting line is printed exactly when the server is idle.
#[derive(Debug)]
pub struct Lobby {
    state: Mutex<State>,
    waiting_line: &'static str,
}

#[derive(Debug)]
struct State {
    connected: usize,
    closed: bool,
}

impl Lobby {
    /// A lobby that prints `waiting_line` on stdout now (the server is ready and idle) and
    /// whenever it becomes idle again.
    pub fn open(waiting_line: &'static str) -> Arc<Lobby> {
        println!("{waiting_line}");
        Arc::new(Lobby {
            state: Mutex::new(State {
                connected: 0,
                closed: false,
            }),
            waiting_line,
        })
    }

    /// A client arrives: counts it and runs `arrival` (which prints the arrival line, if the
    /// handout has one) while no other client can arrive or leave, so the arrival line and
    /// the waiting line never come out in the wrong order. The client leaves when the
    /// returned [`Seat`] is dropped.
    pub fn enter(self: &Arc<Self>, arrival: impl FnOnce()) -> Seat {
        let mut state = self.lock();
        state.connected += 1;
        arrival();
        Seat {
            lobby: Arc::clone(self),
        }
    }

    /// The server is ending (a client sent the handout's EXIT): no more waiting lines.
    pub fn close(&self) {
        self.lock().closed = true;
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // The state is two plain fields updated in one step each; a panic elsewhere while
        // the lock was held cannot leave them half-updated, so a poisoned lock is still good.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// One connected client's place in the [`Lobby`]; dropping it is the client leaving.
#[derive(Debug)]
pub struct Seat {
    lobby: Arc<Lobby>,
}

impl Drop for Seat {
    fn drop(&mut self) {
        let mut state = self.lobby.lock();
        state.connected -= 1;
        if state.connected == 0 && !state.closed {
            println!("{}", self.lobby.waiting_line);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Addresses print as Python's tuples.
    #[test]
    fn addr_tuple_matches_python() {
        assert_eq!(
            addr_tuple("127.0.0.1:56307".parse().unwrap()),
            "('127.0.0.1', 56307)"
        );
        assert_eq!(
            addr_tuple("[::1]:56307".parse().unwrap()),
            "('::1', 56307, 0, 0)"
        );
    }

    /// The lobby counts seats: idle only when the last one leaves, silent once closed.
    #[test]
    fn lobby_is_idle_only_when_empty() {
        let lobby = Lobby::open("waiting");
        let a = lobby.enter(|| {});
        let b = lobby.enter(|| {});
        drop(a);
        assert_eq!(lobby.lock().connected, 1);
        drop(b);
        assert_eq!(lobby.lock().connected, 0);
        let c = lobby.enter(|| {});
        lobby.close();
        drop(c);
        assert!(lobby.lock().closed);
    }
}
