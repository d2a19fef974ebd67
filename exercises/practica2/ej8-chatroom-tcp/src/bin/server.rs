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
//! Caveat: the room waits for nobody. Each member has a queue of lines on their way to it,
//! written by a thread of its own; a member whose program stops reading (suspended, or stuck)
//! is disconnected when [`OUT_QUEUE`] lines pile up, and the others never notice a delay.

use anyhow::Context;
use clap::Parser;
use ej8_chatroom_tcp::{
    joined, left, said, ASK_NICK, ERROR_PREFIX, JOINED, MAX_LINE_LEN, MAX_NICK_CHARS, SALIR,
};
use sockcore::lines::{write_line, LineError, LineReader};
use sockcore::net::{self, Transport};
use std::io::{self, BufWriter, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, SyncSender, TrySendError};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread;
use std::time::Duration;

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
}

/// Lines waiting for one member, at most: a member that has this many lines pending (its
/// program stopped reading and the kernel's socket buffers are full) is disconnected. The
/// lines are shared between the queues (one allocation per message, not per member), so
/// this bounds the memory a stuck member holds to about 1 MiB of 1 KiB lines.
const OUT_QUEUE: usize = 1024;

/// A write that makes no progress for this long (the member's buffers stay full) also
/// disconnects the member, so a quiet room cannot keep a writer thread stuck forever.
const WRITE_TIMEOUT: Duration = Duration::from_secs(10);

/// How long a newcomer has to give an acceptable nickname before its connection is closed:
/// a connection that says nothing must not hold a thread forever.
const NICK_TIMEOUT: Duration = Duration::from_secs(60);

/// Members at once (two threads each). A production server would also cap connections that
/// have not joined yet, and per address.
const MAX_MIEMBROS: usize = 512;

fn main() -> ExitCode {
    sockcore::cli::report(run(Args::parse()))
}

fn run(args: Args) -> anyhow::Result<()> {
    // Python: sock.bind(('localhost', 1045)); sock.listen(1)
    let listener = net::bind_tcp(&args.host, args.port)?;
    net::announce(listener.local_addr()?, Transport::Tcp);
    aceptar_clientes(listener)
}

/// Accepts members forever, a thread each (Python: `aceptar_clientes()`). Only an error of
/// the listening socket ends it.
///
/// The report asks for the nickname inside this loop, so one newcomer who never answers
/// stops everybody else from joining; here the nickname is asked by the member's thread.
fn aceptar_clientes(listener: TcpListener) -> anyhow::Result<()> {
    let sala = Arc::new(Sala::default());
    loop {
        let (socket_cliente, addr) = match listener.accept() {
            Ok(conn) => conn,
            // A connection reset before we accepted it is that client's problem, not ours.
            Err(e) if e.kind() == io::ErrorKind::ConnectionAborted => continue,
            Err(e) => return Err(e).context("accepting a connection"),
        };
        let sala = Arc::clone(&sala);
        thread::spawn(move || {
            if let Err(e) = atender(&sala, socket_cliente, addr) {
                eprintln!("server: {addr}: {e:#}");
            }
        });
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
    cola: SyncSender<Arc<str>>,
    /// A handle on the member's socket, to shut it down when the member is disconnected.
    socket: TcpStream,
}

/// The room: the members, behind one lock that is never held while writing to a socket
/// (only while putting lines in the members' queues, which never blocks).
#[derive(Debug, Default)]
struct Sala {
    clientes: Mutex<Vec<Cliente>>,
    next_id: AtomicU64,
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
        let echados;
        {
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
            let bienvenida: Arc<str> = JOINED.into();
            let anuncio = joined(&cliente.apodo);
            let cola = cliente.cola.clone();
            clientes.push(cliente);
            echados = repartir(&mut clientes, &anuncio);
            // The newcomer's queue is new and holds one line: there is room.
            let _ = cola.try_send(bienvenida);
        }
        despedir(echados);
        Ok(())
    }

    /// Relays `texto` from member `id` to every member (Python: `enviar_a_todos(data)`).
    /// Returns false when `id` is no longer in the room (it was disconnected meanwhile).
    fn enviar_a_todos(&self, id: u64, texto: &str) -> bool {
        let echados;
        {
            let mut clientes = self.lock();
            let Some(autor) = clientes.iter().find(|c| c.id == id) else {
                return false;
            };
            let linea = said(&autor.apodo, texto);
            echados = repartir(&mut clientes, &linea);
        }
        despedir(echados);
        true
    }

    /// Removes member `id` and tells the rest it left (Python: `eliminar_cliente(cliente)`
    /// then `enviar_a_todos(apodo + " ha salido del chat")`). Returns its nickname, or `None`
    /// when it was no longer there (already disconnected and announced).
    fn eliminar_cliente(&self, id: u64) -> Option<String> {
        let echados;
        let apodo;
        {
            let mut clientes = self.lock();
            let i = clientes.iter().position(|c| c.id == id)?;
            apodo = clientes.remove(i).apodo;
            echados = repartir(&mut clientes, &left(&apodo));
        }
        despedir(echados);
        Some(apodo)
    }
}

/// Puts `linea` in every member's queue. A member whose queue is full is removed, and its
/// leaving is announced to the rest in the same way (which may remove another). Only queues
/// are touched: nothing here waits for a socket.
fn repartir(clientes: &mut Vec<Cliente>, linea: &str) -> Vec<Cliente> {
    let mut echados = Vec::new();
    let mut pendientes: Vec<Arc<str>> = vec![linea.into()];
    // Each round removes at least one member or ends, so this runs at most once per member.
    while let Some(linea) = pendientes.pop() {
        let mut i = 0;
        while i < clientes.len() {
            match clientes[i].cola.try_send(Arc::clone(&linea)) {
                Err(TrySendError::Full(_)) => {
                    let c = clientes.remove(i);
                    pendientes.push(left(&c.apodo).into());
                    echados.push(c);
                }
                // Ok, or the member's writer has stopped: its own thread is removing it.
                _ => i += 1,
            }
        }
    }
    echados
}

/// Disconnects members removed for not reading (after the room's lock is released).
fn despedir(echados: Vec<Cliente>) {
    for c in echados {
        eprintln!(
            "server: {} ({}): stopped reading; disconnected with {OUT_QUEUE} lines queued",
            c.addr, c.apodo
        );
        println!("~ {} ha salido del chat ~", c.apodo);
        // Wakes its writer (blocked on a full socket) and its reader, which then end.
        let _ = c.socket.shutdown(Shutdown::Both);
    }
}

/// One connection, from the nickname to the goodbye. Errors are this member's alone.
fn atender(sala: &Sala, socket: TcpStream, addr: SocketAddr) -> anyhow::Result<()> {
    socket.set_nodelay(true)?;
    socket.set_write_timeout(Some(WRITE_TIMEOUT))?;
    let (cola, salida) = mpsc::sync_channel(OUT_QUEUE);
    let escritor = {
        let socket = socket.try_clone()?;
        thread::spawn(move || escribir(&socket, &salida))
    };
    let mut lector = LineReader::new(socket.try_clone()?, MAX_LINE_LEN);

    let result = pedir_apodo(sala, &socket, addr, &cola, &mut lector).and_then(|id| {
        let result = recibir(sala, id, addr, &cola, &mut lector);
        if let Some(apodo) = sala.eliminar_cliente(id) {
            println!("~ {apodo} ha salido del chat ~");
        }
        result
    });
    // The queue closes when the room's copy and ours are gone; the writer sends what is
    // left in it, then ends. Only then is the connection closed.
    drop(cola);
    let _ = escritor.join();
    let _ = socket.shutdown(Shutdown::Both);
    result
}

/// Asks for a nickname until one is free (Python: `socket_cliente.send("intr_apodo")`,
/// `nick = socket_cliente.recv(1024)`); returns the member's id once it joined.
fn pedir_apodo(
    sala: &Sala,
    socket: &TcpStream,
    addr: SocketAddr,
    cola: &SyncSender<Arc<str>>,
    lector: &mut LineReader<TcpStream>,
) -> anyhow::Result<u64> {
    socket.set_read_timeout(Some(NICK_TIMEOUT))?;
    loop {
        let _ = cola.try_send(ASK_NICK.into());
        let apodo = match lector.recv_line() {
            Ok(Some(apodo)) => apodo,
            Ok(None) => anyhow::bail!("left before giving a nickname"),
            Err(e) if LineError::of(&e).is_some() => {
                let _ = cola.try_send(linea_rechazada(&e).into());
                continue;
            }
            Err(e) => {
                return Err(net::timeout_as_timed_out(e, "waiting for a nickname"))
                    .context("reading the nickname")
            }
        };
        if let Some(why) = apodo_no_valido(&apodo) {
            let _ = cola.try_send(why.into());
            continue;
        }
        let id = sala.next_id.fetch_add(1, Ordering::Relaxed);
        let cliente = Cliente {
            id,
            apodo: apodo.clone(),
            addr,
            cola: cola.clone(),
            socket: socket.try_clone()?,
        };
        match sala.unirse(cliente) {
            Ok(()) => {
                println!("~ {apodo} se ha unido al chat ~");
                // A member may stay quiet for as long as they like.
                socket.set_read_timeout(None)?;
                return Ok(id);
            }
            Err(why) => {
                let _ = cola.try_send(why.into());
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
    cola: &SyncSender<Arc<str>>,
    lector: &mut LineReader<TcpStream>,
) -> anyhow::Result<()> {
    loop {
        // Python: data = cliente.recv(1024) -- one recv is not one line; a LineReader is.
        match lector.recv_line() {
            Ok(Some(data)) if data == SALIR => return Ok(()),
            // An empty line (Enter alone) says nothing; the report would relay "ana: ".
            Ok(Some(data)) if data.trim().is_empty() => {}
            Ok(Some(data)) => {
                if !sala.enviar_a_todos(id, &data) {
                    return Ok(()); // disconnected for not reading, and already announced
                }
            }
            Ok(None) => anyhow::bail!("closed the connection without saying {SALIR}"),
            Err(e) if LineError::of(&e).is_some() => {
                eprintln!("server: {addr}: refused a line: {e}");
                let _ = cola.try_send(linea_rechazada(&e).into());
            }
            Err(e) => return Err(e).context("reading from the member"),
        }
    }
}

/// Writes the member's queue to its socket, as many lines per system call as are waiting.
/// Ends when the queue is closed and empty, or the socket fails (then it shuts the socket
/// down, so that the member's reader ends too).
fn escribir(socket: &TcpStream, salida: &Receiver<Arc<str>>) {
    let mut w = BufWriter::new(socket);
    while let Ok(primera) = salida.recv() {
        let mut linea = Some(primera);
        let mut ok = true;
        while let Some(l) = linea {
            ok = write_line(&mut w, &l).is_ok();
            if !ok {
                break;
            }
            linea = salida.try_recv().ok();
        }
        if !ok || w.flush().is_err() {
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

/// Why `apodo` cannot be a nickname, as the line to send back; `None` if it can.
fn apodo_no_valido(apodo: &str) -> Option<String> {
    let n = apodo.chars().count();
    let ok = n > 0
        && n <= MAX_NICK_CHARS
        && apodo.trim() == apodo
        && !apodo.contains(':')
        && !apodo.chars().any(char::is_control);
    (!ok).then(|| {
        format!(
            "{ERROR_PREFIX}apodo no válido: de 1 a {MAX_NICK_CHARS} caracteres, sin ':' y sin espacios al principio ni al final"
        )
    })
}
