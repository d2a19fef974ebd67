//! The client end: one socket, one session with one server.

use super::bulk::{self, Link, RequestStats, TransferStats};
use super::rtt::Rtt;
use super::wire::{self, Header, Kind, MAX_DATAGRAM_LEN, MAX_MESSAGE_LEN};
use super::{random_session_id, tune_socket, Config, Incoming};
use crate::frame::BodySummary;
use crate::net;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

/// A client's session with a UDP server: requests with retries, and bulk transfers.
///
/// Nothing is sent until the first [`Client::request`]; UDP has no connection, so "the
/// server is there" is known only when its first reply arrives.
///
/// Exchanges are numbered 1, 2, 3, ... in the order the methods are called; the server's
/// [`super::Session`] counts them the same way, so both ends must call matching methods in
/// the same order (a request here, `recv_request` + `reply` there; `send_bulk` here,
/// `recv_bulk` + `reply` there; `recv_bulk` here, `send_bulk` there).
#[derive(Debug)]
pub struct Client {
    socket: UdpSocket,
    peer: SocketAddr,
    session: u32,
    next: u32,
    rtt: Rtt,
    config: Config,
    buf: Vec<u8>,
    rcvbuf: usize,
    read_timeout: Option<Duration>,
    last_download_ack: Option<(u32, Vec<u8>)>,
    ignored: u64,
    last_upload: Option<TransferStats>,
    requests: RequestStats,
}

impl Client {
    /// A client of the server at `host:port`, on a fresh socket bound to an OS-chosen port.
    ///
    /// A name with several addresses (`localhost` is often `::1` and `127.0.0.1`) is taken
    /// by its first IPv4 address, as Python's `sendto((host, port))` does: unlike TCP's
    /// `connect`, nothing tells a UDP client that an address has no server, so trying them in
    /// turn would cost a timeout each.
    ///
    /// # Errors
    /// `InvalidInput` when the host cannot be resolved or `config` is out of range; the OS
    /// error of binding the socket.
    pub fn connect(host: &str, port: u16, config: Config) -> io::Result<Client> {
        let addrs = net::resolve(host, port)?;
        let addr = addrs
            .iter()
            .find(|a| a.is_ipv4())
            .or(addrs.first())
            .copied()
            .ok_or_else(|| {
                io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!("host {host:?} has no address"),
                )
            })?;
        Client::new(addr, config)
    }

    /// A client of the server at `server`, on a fresh socket bound to an OS-chosen port.
    ///
    /// # Errors
    /// `InvalidInput` when `config` is out of range; the OS error of binding the socket.
    pub fn new(server: SocketAddr, config: Config) -> io::Result<Client> {
        config.validate()?;
        let socket = net::bind_udp_client(server)?;
        // A connected UDP socket sends no datagram by itself; it fixes the destination (the
        // route is looked up once, not per datagram) and the OS drops datagrams from other
        // addresses. We still check every sender ourselves (rule 3), as Python would.
        socket.connect(server)?;
        let rcvbuf = tune_socket(&socket, config.socket_buffer);
        Ok(Client {
            socket,
            peer: server,
            session: random_session_id(),
            next: 1,
            rtt: Rtt::new(),
            config,
            buf: vec![0u8; MAX_DATAGRAM_LEN + 1],
            rcvbuf,
            read_timeout: None,
            last_download_ack: None,
            ignored: 0,
            last_upload: None,
            requests: RequestStats::default(),
        })
    }

    /// The server's address.
    pub fn peer(&self) -> SocketAddr {
        self.peer
    }

    /// This session's random id.
    pub fn session_id(&self) -> u32 {
        self.session
    }

    /// The local address of the client's socket.
    ///
    /// # Errors
    /// The OS error of `getsockname`.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.socket.local_addr()
    }

    /// The smoothed round-trip time measured so far, if any.
    pub fn srtt(&self) -> Option<Duration> {
        self.rtt.srtt()
    }

    /// The retransmission timeout the next request starts with: the base from measured round
    /// trips, doubled once per timeout not yet followed by a measurement ([`super::rtt`]).
    pub fn rto(&self) -> Duration {
        self.rtt.rto()
    }

    /// The retransmission timeout from measured round trips alone, without backoff. After an
    /// answered request it equals [`Client::rto`], unless the server could not say which copy
    /// it answered (an older server) and more than one was sent.
    pub fn base_rto(&self) -> Duration {
        self.rtt.base_rto()
    }

    /// What this client's requests cost so far: copies, timeouts, time spent in them.
    pub fn request_stats(&self) -> RequestStats {
        self.requests
    }

    /// What the last upload cost: datagrams, retransmissions, timeouts, ACKs.
    pub fn last_upload(&self) -> Option<TransferStats> {
        self.last_upload
    }

    /// Datagrams dropped so far because they came from another address, did not decode, or
    /// belonged to another session.
    pub fn ignored(&self) -> u64 {
        self.ignored
    }

    /// Sends `message` as the next request and returns the server's reply.
    ///
    /// The request is repeated with exponential backoff until the reply arrives; the server
    /// runs it once however many copies arrive (at-most-once), and answers repeats with the
    /// same reply.
    ///
    /// Caveat: a plain `recvfrom` after `sendto`, as in the handouts' Python, blocks forever
    /// when the server is not running or the datagram is lost; here every wait is bounded.
    ///
    /// # Errors
    /// - [`io::ErrorKind::TimedOut`] when the server stays silent: "no answer from
    ///   127.0.0.1:5002 after 6 tries over 10.5 s: is the server running?";
    /// - [`io::ErrorKind::ConnectionAborted`] when the server aborted the session (its
    ///   reason is in the message);
    /// - [`io::ErrorKind::InvalidInput`] when `message` exceeds [`MAX_MESSAGE_LEN`];
    /// - the OS error of sending or receiving.
    pub fn request(&mut self, message: &[u8]) -> io::Result<Vec<u8>> {
        if message.len() > MAX_MESSAGE_LEN {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "request of {} bytes exceeds limit {MAX_MESSAGE_LEN}",
                    message.len()
                ),
            ));
        }
        let exchange = self.take_exchange();
        let d = wire::encode(&Header::new(Kind::Request, self.session, exchange), message);
        self.await_reply(exchange, &d, true)
    }

    /// Uploads `size` bytes read from `src` as the next exchange, and returns what was sent
    /// (size and CRC-32) with the server's reply to the upload.
    ///
    /// `on_progress` is called with the number of bytes the server has acknowledged.
    /// Memory use is bounded by the window, whatever `size` is.
    ///
    /// # Errors
    /// As [`Client::request`]; also [`io::ErrorKind::UnexpectedEof`] when `src` ends before
    /// `size` bytes, and any error reading `src`.
    pub fn send_bulk<R: Read + ?Sized>(
        &mut self,
        src: &mut R,
        size: u64,
        mut on_progress: impl FnMut(u64),
    ) -> io::Result<(BodySummary, Vec<u8>)> {
        let exchange = self.take_exchange();
        let sent = bulk::send_bulk(self, exchange, src, size, &mut on_progress)?;
        self.last_upload = Some(sent.stats);
        let reply = match sent.reply {
            Some(r) => r,
            // The END is acknowledged: the server has every byte, verified, and is storing
            // them; its reply follows. Repeat the END now and then until it comes.
            None => self.await_reply(exchange, &sent.end, false)?,
        };
        Ok((sent.summary, reply))
    }

    /// Downloads the next exchange, a bulk transfer sent by the server (after a request
    /// that asked for it), into `dst`; at most `max_size` bytes are accepted.
    ///
    /// # Errors
    /// - [`io::ErrorKind::InvalidData`]: more than `max_size` bytes, or the size or CRC-32
    ///   in the END does not match what arrived (the server is told with an ABORT);
    /// - [`io::ErrorKind::TimedOut`]: nothing from the server for `peer_timeout`;
    /// - [`io::ErrorKind::ConnectionAborted`]: the server aborted;
    /// - any error writing `dst`.
    ///
    /// Caveat: our last ACK may be lost, and the server then repeats its END; this client
    /// answers such repeats during its next call. End a session with a request after a
    /// download, or the server may time out waiting for an ACK it will never get (the data
    /// arrived all the same).
    pub fn recv_bulk<W: Write + ?Sized>(
        &mut self,
        dst: &mut W,
        max_size: u64,
        mut on_progress: impl FnMut(u64),
    ) -> io::Result<BodySummary> {
        let exchange = self.take_exchange();
        let (summary, ack) = bulk::recv_bulk(self, exchange, dst, max_size, &mut on_progress)?;
        self.last_download_ack = Some((exchange, ack));
        Ok(summary)
    }

    /// [`bulk::await_reply`], counting into this client's request statistics.
    fn await_reply(&mut self, exchange: u32, d: &[u8], send_first: bool) -> io::Result<Vec<u8>> {
        let mut stats = self.requests;
        let result = bulk::await_reply(self, exchange, d, send_first, &mut stats);
        self.requests = stats;
        result
    }

    fn take_exchange(&mut self) -> u32 {
        let e = self.next;
        self.next = self.next.wrapping_add(1).max(1);
        e
    }

    fn set_timeout(&mut self, t: Duration) -> io::Result<()> {
        // Zero means "block forever" to the OS; a millisecond is the practical minimum.
        let t = t.max(Duration::from_millis(1));
        if self.read_timeout != Some(t) {
            self.socket.set_read_timeout(Some(t))?;
            self.read_timeout = Some(t);
        }
        Ok(())
    }
}

impl Link for Client {
    fn peer(&self) -> SocketAddr {
        self.peer
    }

    fn peer_role(&self) -> &'static str {
        "server"
    }

    fn session(&self) -> u32 {
        self.session
    }

    fn config(&self) -> &Config {
        &self.config
    }

    fn rtt(&mut self) -> &mut Rtt {
        &mut self.rtt
    }

    fn send(&mut self, datagram: &[u8]) -> io::Result<()> {
        match self.socket.send(datagram) {
            Ok(_) => Ok(()),
            // An ICMP error from an earlier datagram (some systems report it on the next
            // call), or a full interface queue: the datagram is lost, and retransmission
            // deals with lost datagrams.
            Err(e) if is_transient(&e) => Ok(()),
            Err(e) => Err(io::Error::new(
                e.kind(),
                format!("sending to {}: {e}", self.peer),
            )),
        }
    }

    fn recv(&mut self, timeout: Duration) -> io::Result<Option<Incoming>> {
        let deadline = Instant::now() + timeout;
        loop {
            let now = Instant::now();
            if now >= deadline {
                return Ok(None);
            }
            self.set_timeout(deadline - now)?;
            let (n, from) = match self.socket.recv_from(&mut self.buf) {
                Ok(x) => x,
                Err(e) if net::is_timeout(&e) || is_transient(&e) => continue,
                // Windows: a datagram longer than the buffer (rule 1).
                Err(e) if super::is_message_too_long(&e) => {
                    self.ignored += 1;
                    continue;
                }
                Err(e) => return Err(e),
            };
            // Rule 3: only the server's address. Anyone can send to our port.
            if from != self.peer || n > MAX_DATAGRAM_LEN {
                self.ignored += 1;
                continue;
            }
            match wire::decode(&self.buf[..n]) {
                Ok((header, _)) if header.session == self.session => {
                    return Ok(Some(Incoming {
                        header,
                        datagram: self.buf[..n].to_vec(),
                    }))
                }
                _ => self.ignored += 1,
            }
        }
    }

    fn stray(&mut self, p: &Incoming) -> io::Result<()> {
        // The server repeats the END of a download we finished: our final ACK was lost.
        if p.header.kind == Kind::End {
            if let Some((exchange, ack)) = &self.last_download_ack {
                if *exchange == p.header.exchange {
                    let ack = ack.clone();
                    return self.send(&ack);
                }
            }
        }
        Ok(())
    }

    fn receive_capacity(&self, len: usize) -> usize {
        self.rcvbuf / super::buffer_cost(len)
    }
}

/// Errors a datagram socket may report that only mean "a datagram was lost": an ICMP "port
/// unreachable" for an earlier datagram (reported on the next call on Windows and on
/// connected sockets elsewhere), an interrupted call.
pub(crate) fn is_transient(e: &io::Error) -> bool {
    crate::datagram::is_unreachable(e)
        || matches!(
            e.kind(),
            io::ErrorKind::Interrupted | io::ErrorKind::WouldBlock
        )
}
