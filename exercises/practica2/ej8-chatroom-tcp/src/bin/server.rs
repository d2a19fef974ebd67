//! Programa 2.1 (TCP), the server: a chat room where every line one member writes reaches
//! every member.
//!
//! Dialogue, per member (one line of text per message, see the crate docs):
//!
//! ```text
//! server → newcomer   intr_apodo
//! newcomer → server   ana                        (refused if taken: "ERROR: ...", asked again)
//! server → everyone   ana se ha unido al chat
//! server → ana        Te has unido al chat
//! ana → server        hola
//! server → everyone   ana: hola
//! ana → server        salir                      (or ana's connection drops)
//! server → the rest   ana ha salido del chat
//! ```
//!
//! Run it in one terminal, then a client (or `nc 127.0.0.1 1045`) in each of several others:
//!
//! ```text
//! cargo run -p ej8-chatroom-tcp --bin server
//! cargo run -p ej8-chatroom-tcp --bin client
//! ```
//!
//! The server prints `listening on 127.0.0.1:1045 (tcp)` on stderr, then one line per join
//! and leave on stdout, as the report's server does: `~ ana se ha unido al chat ~`.
//!
//! Caveat: each member has a queue of lines on their way to it ([`OUT_QUEUE`] at most),
//! written by a thread of its own; nobody ever waits for a socket while holding the room.
//! When a queue is full, whoever is talking waits for it, at most [`LAG_TIMEOUT`]: a member
//! that reads slowly slows the talkers down to its pace, and a member that stopped reading
//! holds the room up for that long once, then it is disconnected.
//!
//! At most `--max-connections` connections are served at once (members and newcomers; the
//! next one gets the line `ERROR: server busy: ...` and is closed), and a connection that
//! sends nothing for `--idle-timeout` seconds (a member who only reads, too) is told why and
//! closed (`sockcore::limits`).

use anyhow::Context;
use clap::builder::RangedU64ValueParser;
use clap::Parser;
use ej8_chatroom_tcp::{
    joined, left, parse_line, parse_nick, said, Line, ASK_NICK, ERROR_PREFIX, JOINED, MAX_LINE_LEN,
    SALIR,
};
use sockcore::limits::{self, ConnGuard, ConnLimit, DEFAULT_IDLE_TIMEOUT, DEFAULT_MAX_CONNECTIONS};
use sockcore::lines::{write_line, LineError, LineReader};
use sockcore::net::{self, Transport};
use std::collections::VecDeque;
use std::io::{self, BufWriter, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread;
use std::time::{Duration, Instant};

/// Programa 2.1 (report on Práctica 2), TCP chat room server: members join with a unique
/// nickname, every line a member writes is relayed to all as "<nick>: <texto>", joins and
/// leaves ("salir") are announced. Line-based text: `nc 127.0.0.1 1045` can join.
#[derive(Parser, Debug)]
#[command(version)]
struct Args {
    /// Address to listen on (0.0.0.0 to accept other machines).
    #[arg(long, default_value = net::DEFAULT_HOST)]
    host: String,
    /// Port to listen on (0: let the OS choose; the readiness line says which).
    #[arg(long, default_value_t = 1045)]
    port: u16,
    /// Connections served at once, members and newcomers; the next one gets the line
    /// "ERROR: server busy: ..." and is closed.
    #[arg(long, value_name = "N", default_value_t = DEFAULT_MAX_CONNECTIONS,
          value_parser = RangedU64ValueParser::<usize>::new().range(1..))]
    max_connections: usize,
    /// Seconds a connection may send nothing (a member who only reads, too) before the
    /// server closes it, telling it why; a newcomer has at most 60 s to give a nickname.
    #[arg(long, value_name = "SECS", default_value_t = DEFAULT_IDLE_TIMEOUT.as_secs(),
          value_parser = clap::value_parser!(u64).range(1..))]
    idle_timeout: u64,
}

/// Lines waiting for one member, at most, beyond what the kernel's socket buffers hold.
/// The lines are shared between the queues (one allocation per message, not per member),
/// so a stuck member holds at most about 1 MiB of 1 KiB lines.
const OUT_QUEUE: usize = 1024;

/// How long a talker waits for room in a member's full queue. A member whose queue stays
/// full that long has stopped reading (suspended, or stuck): it is disconnected, and the
/// room goes on. A member that reads, however slowly, makes room well within it.
const LAG_TIMEOUT: Duration = Duration::from_secs(2);

/// A write that makes no progress for this long also disconnects the member: in a quiet
/// room nobody waits for its queue, and its writer thread must not stay stuck forever.
const WRITE_TIMEOUT: Duration = Duration::from_secs(10);

/// How long a newcomer has to give an acceptable nickname before its connection is closed
/// (or `--idle-timeout`, if shorter): a connection that says nothing must not hold a thread
/// for long.
const NICK_TIMEOUT: Duration = Duration::from_secs(60);

/// Members at once (two threads each). Connections of any kind, newcomers included, are
/// capped by `--max-connections`; a production server would also cap them per address.
const MAX_MIEMBROS: usize = 512;

fn main() -> ExitCode {
    sockcore::cli::report(run(Args::parse()))
}

fn run(args: Args) -> anyhow::Result<()> {
    // Python: sock.bind(('localhost', 1045)); sock.listen(1)
    let listener = net::bind_tcp(&args.host, args.port)?;
    net::announce(listener.local_addr()?, Transport::Tcp);
    let idle = Duration::from_secs(args.idle_timeout);
    aceptar_clientes(listener, ConnLimit::new(args.max_connections), idle)
}

/// Accepts members forever, a thread each (Python: `aceptar_clientes()`), at most
/// `limit.max()` at once. Only an error of the listening socket ends it.
///
/// The report asks for the nickname inside this loop, so one newcomer who never answers
/// stops everybody else from joining; here the nickname is asked by the member's thread.
fn aceptar_clientes(listener: TcpListener, limit: ConnLimit, idle: Duration) -> anyhow::Result<()> {
    let sala = Arc::new(Sala::default());
    loop {
        let (socket_cliente, addr) = match listener.accept() {
            Ok(conn) => conn,
            Err(e) => match limits::accept_retry_after(&e) {
                Some(wait) => {
                    // Out of file descriptors or memory: the client waits in the listen
                    // queue; retrying at once would spin.
                    if !wait.is_zero() {
                        eprintln!("server: accepting a connection: {e}; retrying in {wait:?}");
                        thread::sleep(wait);
                    }
                    continue;
                }
                None => return Err(e).context("accepting a connection"),
            },
        };
        // Every connection costs two threads and a socket: past the limit, a client is told
        // so and closed, instead of the server running out of either for everyone.
        let Some(plaza) = limit.try_acquire() else {
            let why = limit.busy_reason();
            eprintln!("server: {addr}: refused: {why}");
            limits::refuse_connection(socket_cliente, format!("{ERROR_PREFIX}{why}\n").as_bytes());
            continue;
        };
        let sala = Arc::clone(&sala);
        let spawned = limits::spawn_connection(move || {
            if let Err(e) = atender(&sala, socket_cliente, addr, idle, plaza) {
                eprintln!("server: {addr}: {e:#}");
            }
        });
        if let Err(e) = spawned {
            eprintln!("server: {addr}: cannot start a thread for it: {e}");
        }
    }
}

/// One member in the room (the report keeps two lists, `clientes` and `apodos`, that must
/// stay in step; one list of pairs cannot get out of step).
#[derive(Debug)]
struct Cliente {
    id: u64,
    apodo: String,
    addr: SocketAddr,
    /// Lines on their way to this member; its writer thread takes them.
    cola: Arc<Cola>,
    /// A handle on the member's socket, to shut it down when the member is disconnected.
    socket: TcpStream,
}

/// The room: the members, behind one lock that is only held to put lines in queues that
/// have room, never to wait for a queue or a socket.
#[derive(Debug, Default)]
struct Sala {
    clientes: Mutex<Vec<Cliente>>,
    next_id: AtomicU64,
}

/// A full queue met while handing out a line: the line still has to go in it.
type Pendiente = (u64, Arc<Cola>);

/// What handing out a line under the room's lock left to do once the lock is released:
/// wake the writers that were waiting for lines (a system call each, kept out of the lock
/// that every talker needs), and fill the queues that were full.
#[derive(Debug, Default)]
struct Reparto {
    despertar: Vec<Arc<Cola>>,
    llenas: Vec<Pendiente>,
}

impl Sala {
    fn lock(&self) -> MutexGuard<'_, Vec<Cliente>> {
        // Every change under the lock is a single push or remove, so the list is consistent
        // even if a thread panicked while holding it.
        self.clientes
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Adds a member if its nickname is free; announces it to everyone (the newcomer
    /// included, as the report does) and then tells the newcomer it joined. Returns the
    /// error line to send when the nickname is refused.
    fn unirse(&self, cliente: Cliente) -> Result<(), String> {
        let (anuncio, reparto) = {
            let mut clientes = self.lock();
            if clientes.iter().any(|c| c.apodo == cliente.apodo) {
                return Err(format!(
                    "{ERROR_PREFIX}el apodo {} ya está en uso",
                    cliente.apodo
                ));
            }
            if clientes.len() >= MAX_MIEMBROS {
                return Err(format!(
                    "{ERROR_PREFIX}la sala está llena ({MAX_MIEMBROS} personas)"
                ));
            }
            let nuevo = Arc::clone(&cliente.cola);
            let anuncio: Arc<str> = joined(&cliente.apodo).into();
            clientes.push(cliente);
            let reparto = repartir(&clientes, &anuncio);
            // The newcomer's queue is new and holds one line: there is room.
            let _ = nuevo.try_push(JOINED.into());
            (anuncio, reparto)
        };
        self.esperar(&anuncio, reparto);
        Ok(())
    }

    /// Relays `texto` from member `id` to every member (Python: `enviar_a_todos(data)`).
    /// Returns false when `id` is no longer in the room (it was disconnected meanwhile).
    fn enviar_a_todos(&self, id: u64, texto: &str) -> bool {
        let (linea, reparto) = {
            let clientes = self.lock();
            let Some(autor) = clientes.iter().find(|c| c.id == id) else {
                return false;
            };
            let linea: Arc<str> = said(&autor.apodo, texto).into();
            let reparto = repartir(&clientes, &linea);
            (linea, reparto)
        };
        self.esperar(&linea, reparto);
        true
    }

    /// Removes member `id` and tells the rest it left (Python: `eliminar_cliente(cliente)`
    /// then `enviar_a_todos(apodo + " ha salido del chat")`). Returns the member, or `None`
    /// when it was no longer there (already disconnected and announced).
    fn eliminar_cliente(&self, id: u64) -> Option<Cliente> {
        let (cliente, linea, reparto) = {
            let mut clientes = self.lock();
            let i = clientes.iter().position(|c| c.id == id)?;
            let cliente = clientes.remove(i);
            let linea: Arc<str> = left(&cliente.apodo).into();
            let reparto = repartir(&clientes, &linea);
            (cliente, linea, reparto)
        };
        // Nobody waits for its queue any more.
        cliente.cola.close();
        println!("~ {} ha salido del chat ~", cliente.apodo);
        self.esperar(&linea, reparto);
        Some(cliente)
    }

    /// Wakes the writers [`repartir`] found waiting, then puts `linea` in the full queues
    /// it met, waiting for room in each (the room's lock is not held). A member whose queue
    /// stays full for [`LAG_TIMEOUT`] is disconnected.
    fn esperar(&self, linea: &Arc<str>, reparto: Reparto) {
        for cola in reparto.despertar {
            cola.ready.notify_one();
        }
        for (id, cola) in reparto.llenas {
            if cola.push_timeout(Arc::clone(linea), LAG_TIMEOUT) == Push::Full {
                self.echar(id);
            }
        }
    }

    /// Disconnects member `id`, which stopped reading, and announces that it left.
    fn echar(&self, id: u64) {
        if let Some(c) = self.eliminar_cliente(id) {
            eprintln!(
                "server: {} ({}): stopped reading; disconnected with {OUT_QUEUE} lines queued for {} s",
                c.addr,
                c.apodo,
                LAG_TIMEOUT.as_secs()
            );
            // Wakes its writer (blocked on a full socket) and its reader, which then end.
            let _ = c.socket.shutdown(Shutdown::Both);
        }
    }
}

/// Puts `linea` in every member's queue that has room; returns the writers to wake and the
/// full queues. Only queues are touched: nothing here waits.
fn repartir(clientes: &[Cliente], linea: &Arc<str>) -> Reparto {
    let mut r = Reparto::default();
    for c in clientes {
        match c.cola.push_quiet(Arc::clone(linea)) {
            (Push::Full, _) => r.llenas.push((c.id, Arc::clone(&c.cola))),
            (Push::Queued, true) => r.despertar.push(Arc::clone(&c.cola)),
            _ => {}
        }
    }
    r
}

/// What happened to a line offered to a [`Cola`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Push {
    /// It is in the queue.
    Queued,
    /// The queue is full (after waiting, if asked to wait).
    Full,
    /// The member has left: the line is not needed.
    Closed,
}

/// One member's outgoing lines: at most [`OUT_QUEUE`], taken by its writer thread.
#[derive(Debug, Default)]
struct Cola {
    state: Mutex<ColaState>,
    /// Signalled when lines arrive or the queue closes (the writer waits on it).
    ready: Condvar,
    /// Signalled when the writer takes lines or the queue closes (talkers wait on it).
    room: Condvar,
}

#[derive(Debug, Default)]
struct ColaState {
    lineas: VecDeque<Arc<str>>,
    cerrada: bool,
    /// The writer is waiting for lines: only then is waking it worth a system call.
    escritor_espera: bool,
    /// Talkers waiting for room.
    esperando: usize,
}

impl Cola {
    fn lock(&self) -> MutexGuard<'_, ColaState> {
        // Each change is a single push, drain or flag: consistent even after a panic.
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Adds `linea` under the lock `st` (room checked by the caller), waking the writer if
    /// it waits.
    fn push_locked(&self, st: &mut ColaState, linea: Arc<str>) {
        st.lineas.push_back(linea);
        if st.escritor_espera {
            self.ready.notify_one();
        }
    }

    /// As `try_push`, without waking the writer: returns whether it waits, for the caller
    /// to wake it once the room's lock is released.
    fn push_quiet(&self, linea: Arc<str>) -> (Push, bool) {
        let mut st = self.lock();
        if st.cerrada {
            return (Push::Closed, false);
        }
        if st.lineas.len() >= OUT_QUEUE {
            return (Push::Full, false);
        }
        st.lineas.push_back(linea);
        (Push::Queued, st.escritor_espera)
    }

    fn try_push(&self, linea: Arc<str>) -> Push {
        let mut st = self.lock();
        if st.cerrada {
            return Push::Closed;
        }
        if st.lineas.len() >= OUT_QUEUE {
            return Push::Full;
        }
        self.push_locked(&mut st, linea);
        Push::Queued
    }

    /// As `try_push`, waiting at most `timeout` for room.
    fn push_timeout(&self, linea: Arc<str>, timeout: Duration) -> Push {
        let deadline = Instant::now() + timeout;
        let mut st = self.lock();
        loop {
            if st.cerrada {
                return Push::Closed;
            }
            if st.lineas.len() < OUT_QUEUE {
                self.push_locked(&mut st, linea);
                return Push::Queued;
            }
            let now = Instant::now();
            if now >= deadline {
                return Push::Full;
            }
            st.esperando += 1;
            st = self
                .room
                .wait_timeout(st, deadline - now)
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .0;
            st.esperando -= 1;
        }
    }

    /// Waits for lines and moves all of them into `batch`; false when the queue is closed
    /// and empty (the writer's work is done).
    fn take_all(&self, batch: &mut Vec<Arc<str>>) -> bool {
        let mut st = self.lock();
        while st.lineas.is_empty() {
            if st.cerrada {
                return false;
            }
            st.escritor_espera = true;
            st = self
                .ready
                .wait(st)
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            st.escritor_espera = false;
        }
        batch.extend(st.lineas.drain(..));
        if st.esperando > 0 {
            self.room.notify_all();
        }
        true
    }

    /// No more lines will be added; the writer sends what is queued, then ends.
    fn close(&self) {
        self.lock().cerrada = true;
        self.ready.notify_all();
        self.room.notify_all();
    }
}

/// One connection, from the nickname to the goodbye. Errors are this member's alone.
/// `plaza` is its place under `--max-connections`, given back when it ends.
fn atender(
    sala: &Sala,
    socket: TcpStream,
    addr: SocketAddr,
    idle: Duration,
    plaza: ConnGuard,
) -> anyhow::Result<()> {
    socket.set_nodelay(true)?;
    socket.set_write_timeout(Some(WRITE_TIMEOUT))?;
    let cola = Arc::new(Cola::default());
    let escritor = {
        let (socket, cola) = (socket.try_clone()?, Arc::clone(&cola));
        limits::spawn_connection(move || escribir(&socket, &cola))?
    };
    let mut lector = LineReader::new(socket.try_clone()?, MAX_LINE_LEN);

    let result = pedir_apodo(sala, &socket, addr, &cola, &mut lector, idle).and_then(|id| {
        let result = recibir(sala, id, addr, &cola, &mut lector, idle);
        sala.eliminar_cliente(id);
        result
    });
    // The writer sends what is left in the queue, then ends; only then is the connection
    // closed, so the member gets every line up to its own leaving.
    cola.close();
    let _ = escritor.join();
    // The place is free before the client sees the close, so a client that has seen it can
    // connect again at once.
    drop(plaza);
    let _ = socket.shutdown(Shutdown::Both);
    result
}

/// Asks for a nickname until one is free (Python: `socket_cliente.send("intr_apodo")`,
/// `nick = socket_cliente.recv(1024)`); returns the member's id once it joined.
fn pedir_apodo(
    sala: &Sala,
    socket: &TcpStream,
    addr: SocketAddr,
    cola: &Arc<Cola>,
    lector: &mut LineReader<TcpStream>,
    idle: Duration,
) -> anyhow::Result<u64> {
    let nick_timeout = NICK_TIMEOUT.min(idle);
    socket.set_read_timeout(Some(nick_timeout))?;
    loop {
        // Not a member yet: only this thread fills the queue, one line per answer.
        let _ = cola.try_push(ASK_NICK.into());
        let apodo = match lector.recv_line() {
            Ok(Some(apodo)) => apodo,
            Ok(None) => anyhow::bail!("left before giving a nickname"),
            Err(e) if LineError::of(&e).is_some() => {
                let _ = cola.try_push(linea_rechazada(&e).into());
                continue;
            }
            Err(e) if net::is_timeout(&e) => {
                let e = limits::idle_error(e, nick_timeout, "waiting for a nickname");
                let _ = cola.try_push(format!("{ERROR_PREFIX}{e}").into());
                return Err(e.into());
            }
            Err(e) => return Err(e).context("reading the nickname"),
        };
        if let Err(why) = parse_nick(&apodo) {
            let _ = cola.try_push(why.into());
            continue;
        }
        let id = sala.next_id.fetch_add(1, Ordering::Relaxed);
        let cliente = Cliente {
            id,
            apodo: apodo.clone(),
            addr,
            cola: Arc::clone(cola),
            socket: socket.try_clone()?,
        };
        match sala.unirse(cliente) {
            Ok(()) => {
                println!("~ {apodo} se ha unido al chat ~");
                // A member who only reads is closed too: the server cannot tell a quiet
                // reader from a peer that vanished without a FIN.
                socket.set_read_timeout(Some(idle))?;
                return Ok(id);
            }
            Err(why) => {
                let _ = cola.try_push(why.into());
            }
        }
    }
}

/// Relays the member's lines until it says `salir` or its connection ends (Python:
/// `recibir(cliente)`). A bad line gets an error line back and the member stays.
fn recibir(
    sala: &Sala,
    id: u64,
    addr: SocketAddr,
    cola: &Cola,
    lector: &mut LineReader<TcpStream>,
    idle: Duration,
) -> anyhow::Result<()> {
    loop {
        // Python: data = cliente.recv(1024) -- one recv is not one line; a LineReader is.
        match lector.recv_line() {
            Ok(Some(data)) => match parse_line(&data) {
                Line::Salir => return Ok(()),
                // An empty line (Enter alone) says nothing; the report would relay "ana: ".
                Line::Empty => {}
                Line::Message(text) => {
                    if !sala.enviar_a_todos(id, text) {
                        return Ok(()); // disconnected for not reading, and already announced
                    }
                }
            },
            Ok(None) => anyhow::bail!("closed the connection without saying {SALIR}"),
            Err(e) if LineError::of(&e).is_some() => {
                eprintln!("server: {addr}: refused a line: {e}");
                let _ = cola.push_timeout(linea_rechazada(&e).into(), LAG_TIMEOUT);
            }
            Err(e) if net::is_timeout(&e) => {
                let e = limits::idle_error(e, idle, "waiting for a message");
                let _ = cola.push_timeout(format!("{ERROR_PREFIX}{e}").into(), LAG_TIMEOUT);
                return Err(e.into());
            }
            Err(e) => return Err(e).context("reading from the member"),
        }
    }
}

/// Writes the member's queue to its socket, as many lines per system call as are waiting.
/// Ends when the queue is closed and empty, or the socket fails (then it shuts the socket
/// down, so that the member's reader ends too, and closes the queue, so nobody waits for it).
fn escribir(socket: &TcpStream, cola: &Cola) {
    let mut w = BufWriter::new(socket);
    let mut batch = Vec::new();
    while cola.take_all(&mut batch) {
        let ok = batch.drain(..).all(|l| write_line(&mut w, &l).is_ok()) && w.flush().is_ok();
        if !ok {
            cola.close();
            let _ = socket.shutdown(Shutdown::Both);
            return;
        }
    }
}

/// The reply to a line the reader refused (longer than the limit, or not UTF-8).
fn linea_rechazada(e: &io::Error) -> String {
    match LineError::of(e) {
        Some(LineError::TooLong { max }) => {
            format!("{ERROR_PREFIX}línea de más de {max} bytes; no se ha enviado")
        }
        _ => format!("{ERROR_PREFIX}la línea no es texto UTF-8; no se ha enviado"),
    }
}
