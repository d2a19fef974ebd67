//! TCP 2.2 (Práctica TCP), the server: 2.1's file server, plus `LOCK` and `PUT` so that
//! clients can modify its files, one client at a time per file.
//!
//! Dialogue, any number of commands per connection; every message is a length-prefixed frame
//! (`sockcore::frame`), and a file travels as a streamed body (size, bytes, CRC-32):
//!
//! ```text
//! client                          server
//!   LOCK data.txt        ──────▶    prints "Received LOCK command from client"
//!                        ◀──────    SUCCESS: File has been associated with your address
//!                                   | ERROR: File is blocked   (another client holds it)
//!   GET data.txt         ──────▶    (as in TCP 2.1) OK + body | File not found
//!   PUT data.txt         ──────▶    prints "Received PUT command from client"
//!                        ◀──────    OK (you hold the lock: send it) | File is blocked
//!   <size><bytes><crc32> ──────▶    writes a temporary file, checks it, renames it, unlocks
//!                        ◀──────    File has been modified
//!   TIME, BYE, ...       ──────▶    as in TCP 2.1; BYE (or leaving) releases your locks
//! ```
//!
//! Run it in one terminal, then clients in others:
//!
//! ```text
//! cargo run -p tcp22-lock --bin server -- --dir /tmp/ficheros
//! cargo run -p tcp22-lock --bin client -- "LOCK data.txt" "GET data.txt"
//! ```
//!
//! The server prints `listening on 127.0.0.1:6780 (tcp)` on stderr, then the handout's
//! transcript: `Waiting for clients...`, `Connection received from client ('127.0.0.1',
//! 50001)`, one line per command, `Closing connection`.
//!
//! Caveat: a lock belongs to the connection that took it and ends with it: a client that
//! is killed, or silent for `--idle-timeout` seconds (60 by default), loses its locks, so a
//! crashed editor cannot block a file. At most `--max-connections` clients are served at
//! once (the next one gets `ERROR server busy: ...` and is closed; `sockcore::limits`).

use anyhow::Context;
use clap::builder::RangedU64ValueParser;
use clap::Parser;
use sockcore::clock;
use sockcore::files::{AtomicFile, Overwrite, Root};
use sockcore::frame::{recv_file, recv_text, send_file, send_text, MAX_FRAME_LEN};
use sockcore::limits::{self, ConnLimit, DEFAULT_MAX_CONNECTIONS};
use sockcore::lobby::{addr_tuple, Lobby, Seat};
use sockcore::net::{self, Transport};
use std::collections::HashMap;
use std::fs::{self, File};
use std::io::{self, BufReader, BufWriter, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread;
use std::time::Duration;
use tcp22_lock::{parse_command, Command};

/// TCP 2.2 (Práctica TCP), server: TCP 2.1's server (GET, TIME, BYE) plus "LOCK <file>",
/// which reserves a file of --dir for this connection, and "PUT <file>", which replaces it
/// (atomically) with the client's new version and releases the lock. Serves several clients
/// at once; a lock ends with BYE, a successful PUT, or the connection.
#[derive(Parser, Debug)]
#[command(version)]
struct Args {
    /// Address to listen on (0.0.0.0 to accept other machines).
    #[arg(long, default_value = net::DEFAULT_HOST)]
    host: String,
    /// Port to listen on (0: let the OS choose; the readiness line says which).
    #[arg(long, default_value_t = 6780)]
    port: u16,
    /// Directory whose files clients may GET, LOCK and PUT (and nothing outside it).
    #[arg(long, default_value = ".")]
    dir: PathBuf,
    /// Largest new version of a file accepted by PUT, in bytes.
    #[arg(long, default_value_t = MAX_PUT)]
    max_size: u64,
    /// Clients served at once; the next one gets "ERROR server busy: ..." and is closed.
    #[arg(long, value_name = "N", default_value_t = DEFAULT_MAX_CONNECTIONS,
          value_parser = RangedU64ValueParser::<usize>::new().range(1..))]
    max_connections: usize,
    /// Seconds a client may send nothing before the server closes its connection (and
    /// releases its locks), telling it why.
    #[arg(long, value_name = "SECS", default_value_t = IDLE_TIMEOUT.as_secs(),
          value_parser = clap::value_parser!(u64).range(1..))]
    idle_timeout: u64,
}

/// The handout's answers ("asociated" corrected).
const LOCKED: &str = "SUCCESS: File has been associated with your address";
const LOCKED_BY_ANOTHER: &str = "ERROR: File is blocked";
const MODIFIED: &str = "File has been modified";
const NOT_YOUR_LOCK: &str = "File is blocked";
const FILE_NOT_FOUND: &str = "File not found";
const COMMAND_NOT_FOUND: &str = "Command not found";
const BYE_REPLY: &str = "Bye";
/// Our go-ahead before a file's body, both ways (the handout sends contents bare).
const OK: &str = "OK";

/// Default limit on a new version: 64 GiB, far above any course file, far below a disk.
const MAX_PUT: u64 = 64 << 30;

/// A client that sends nothing for this long is dropped (and loses its locks), so it
/// cannot hold a thread, or a file, forever (the default of `--idle-timeout`).
const IDLE_TIMEOUT: Duration = Duration::from_secs(60);

fn main() -> ExitCode {
    sockcore::cli::report(run(Args::parse()))
}

fn run(args: Args) -> anyhow::Result<()> {
    let root = Root::new(&args.dir).context("opening the --dir directory")?;
    // Python: sock.bind(("127.0.0.1",6780)); sock.listen(1)
    let listener = net::bind_tcp(&args.host, args.port)?;
    net::announce(listener.local_addr()?, Transport::Tcp);
    let idle = Duration::from_secs(args.idle_timeout);
    let limit = ConnLimit::new(args.max_connections);
    serve(listener, root, args.max_size, idle, limit)
}

/// Which connection holds which file: the handout's `blocked_files`, for every file of the
/// directory, keyed by the file's real path (so two names for one file share one lock) and
/// valued by a connection number (a client's address can be reused by a later connection).
#[derive(Debug, Default)]
struct Locks(Mutex<HashMap<PathBuf, u64>>);

impl Locks {
    fn table(&self) -> MutexGuard<'_, HashMap<PathBuf, u64>> {
        // Each update is one insert or remove; a panic elsewhere cannot leave it half-done.
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The locks one connection holds; dropping it releases them (on BYE, on any error, on a
/// panic), so no path out of a session can leave a file locked.
struct Holder {
    locks: Arc<Locks>,
    id: u64,
}

impl Holder {
    /// Takes `file` if it is free or already ours; false if another connection holds it.
    fn lock(&self, file: &Path) -> bool {
        let mut table = self.locks.table();
        let owner = table.entry(file.to_path_buf()).or_insert(self.id);
        *owner == self.id
    }

    fn holds(&self, file: &Path) -> bool {
        self.locks.table().get(file) == Some(&self.id)
    }

    fn unlock(&self, file: &Path) {
        let mut table = self.locks.table();
        if table.get(file) == Some(&self.id) {
            table.remove(file);
        }
    }

    fn release_all(&self) {
        self.locks.table().retain(|_, owner| *owner != self.id);
    }
}

impl Drop for Holder {
    fn drop(&mut self) {
        self.release_all();
    }
}

/// Accepts clients forever, one thread each, at most `limit.max()` at once. Only an error
/// of the listening socket itself ends it; a client's error ends that client alone.
fn serve(
    listener: TcpListener,
    root: Root,
    max_size: u64,
    idle: Duration,
    limit: ConnLimit,
) -> anyhow::Result<()> {
    // Python: while True: print("Waiting for clients...") -- printed whenever no client is
    // connected, which for one client at a time is the handout's transcript line for line.
    let lobby = Lobby::open("Waiting for clients...");
    let locks = Arc::new(Locks::default());
    let next_id = AtomicU64::new(1);
    loop {
        // Python: conn, client_address = sock.accept()
        let (stream, peer) = match listener.accept() {
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
        // Every client costs a thread and a socket: past the limit, a client is told so and
        // closed, instead of the server running out of either for everyone.
        let Some(slot) = limit.try_acquire() else {
            let why = limit.busy_reason();
            eprintln!("server: client {peer}: refused: {why}");
            limits::refuse_connection(stream, &error_frame(&why));
            continue;
        };
        // Python: print("Connection received from client " + str(client_address))
        let seat = lobby.enter(|| println!("Connection received from client {}", addr_tuple(peer)));
        let holder = Holder {
            locks: Arc::clone(&locks),
            id: next_id.fetch_add(1, Ordering::Relaxed),
        };
        let root = root.clone();
        let spawned = limits::spawn_connection(move || {
            let session = Session {
                root,
                holder,
                max_size,
                idle,
            };
            if let Err(e) = session.serve(&stream, seat) {
                eprintln!("server: client {peer}: {e:#}");
            }
            // Locks and slot are free before the client sees the close, so a client that has
            // seen it can connect again (and lock) at once.
            drop(session);
            drop(slot);
            drop(stream);
        });
        if let Err(e) = spawned {
            eprintln!("server: client {peer}: cannot start a thread for it: {e}");
        }
    }
}

/// `ERROR <why>` as a whole frame, ready to write.
fn error_frame(why: &str) -> Vec<u8> {
    let mut frame = Vec::new();
    // Writing to a Vec cannot fail, and the busy reason is far below MAX_FRAME_LEN.
    send_text(&mut frame, &format!("ERROR {why}")).expect("a short frame into a Vec");
    frame
}

/// One client's connection.
struct Session {
    root: Root,
    holder: Holder,
    max_size: u64,
    /// How long the client may send nothing (`--idle-timeout`).
    idle: Duration,
}

impl Session {
    /// Answers the client's commands until it says BYE or goes. `seat` is its place in the
    /// lobby; dropping it prints "Waiting for clients..." if nobody else is connected. The
    /// caller closes the stream.
    fn serve(&self, stream: &TcpStream, seat: Seat) -> anyhow::Result<()> {
        stream.set_read_timeout(Some(self.idle))?;
        net::set_nodelay(stream)?;
        let mut rx = BufReader::new(stream);
        let mut tx = BufWriter::new(stream);
        let result = self.dialogue(&mut rx, &mut tx);
        // Locks go before anything is printed or answered: whoever sees this session's last
        // line (or its "Bye") can take them.
        self.holder.release_all();
        match result {
            Ok(()) => {
                drop(seat);
                send_text(&mut tx, BYE_REPLY)?;
                Ok(())
            }
            Err(e) => {
                // Python: except ConnectionResetError: print("Lost connection"); break
                // -- which ends the whole server; here only this client's session ends.
                println!("Lost connection");
                if let Some(io) = e.downcast_ref::<io::Error>() {
                    if matches!(
                        io.kind(),
                        io::ErrorKind::InvalidData | io::ErrorKind::TimedOut
                    ) {
                        // A bad frame or body, or silence: tell the client why, if it still
                        // listens.
                        let _ = send_text(&mut tx, &format!("ERROR {e:#}"));
                    }
                }
                Err(e)
            }
        }
    }

    /// The commands, until BYE (`Ok`); leaving without BYE is an error.
    fn dialogue(&self, rx: &mut impl Read, tx: &mut impl Write) -> anyhow::Result<()> {
        loop {
            // Python: data = str(conn.recv(MTU).decode())  -- one frame is exactly one command.
            let Some(data) = recv_text(rx, MAX_FRAME_LEN)
                .map_err(|e| limits::idle_error(e, self.idle, "waiting for a command"))?
            else {
                anyhow::bail!("left without BYE");
            };
            match parse_command(&data) {
                Command::Bye => {
                    println!("Received BYE command from client");
                    println!("Closing connection");
                    return Ok(());
                }
                Command::Get(name) => {
                    println!("Received GET command from client");
                    self.get(tx, name)?;
                }
                Command::Lock(name) => {
                    println!("Received LOCK command from client");
                    self.lock(tx, name)?;
                }
                Command::Put(name) => {
                    println!("Received PUT command from client");
                    self.put(rx, tx, name)?;
                }
                Command::Time => {
                    println!("Received TIME command from client");
                    send_text(tx, &clock::now().to_string())?;
                }
                Command::Unknown => {
                    println!("Client issued an unknown command");
                    send_text(tx, COMMAND_NOT_FOUND)?;
                }
            }
        }
    }

    /// The real path of an existing regular file `name` of the directory; otherwise the
    /// answer to send instead (`File not found` or `ERROR <why>`).
    fn existing_file(&self, name: &str) -> Result<PathBuf, String> {
        let path = self.root.resolve(name).map_err(|e| format!("ERROR {e}"))?;
        match fs::canonicalize(&path) {
            Ok(real) if real.is_file() => Ok(real),
            Ok(_) => Err(format!("ERROR {name} is not a regular file")),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                println!("File requested by client not found");
                Err(FILE_NOT_FOUND.to_string())
            }
            Err(e) => Err(format!("ERROR cannot read {name}: {e}")),
        }
    }

    /// `GET name`, as in TCP 2.1: `OK` and the body, or why not.
    fn get(&self, tx: &mut impl Write, name: &str) -> anyhow::Result<()> {
        let path = match self.existing_file(name) {
            Ok(path) => path,
            Err(answer) => return Ok(send_text(tx, &answer)?),
        };
        let file = File::open(&path).with_context(|| format!("opening {name}"))?;
        let size = file.metadata()?.len();
        send_text(tx, OK)?;
        send_file(tx, &mut BufReader::new(file), size, |_| {})
            .with_context(|| format!("sending {name}"))?;
        Ok(())
    }

    /// `LOCK name`: the file is this connection's until PUT, BYE or the end of the connection.
    fn lock(&self, tx: &mut impl Write, name: &str) -> anyhow::Result<()> {
        // Python: if (blocked_files.get(filename) == 0): blocked_files[filename] = client_address
        // -- only for data.txt, keyed by address, and never released if the client vanishes.
        let answer = match self.existing_file(name) {
            Ok(path) if self.holder.lock(&path) => LOCKED,
            Ok(_) => LOCKED_BY_ANOTHER,
            Err(answer) => return Ok(send_text(tx, &answer)?),
        };
        send_text(tx, answer)?;
        Ok(())
    }

    /// `PUT name`: if this connection holds the lock, `OK`, then the new version's body;
    /// the file is replaced only once the body is complete and verified, and unlocked.
    fn put(&self, rx: &mut impl Read, tx: &mut impl Write, name: &str) -> anyhow::Result<()> {
        let path = match self.existing_file(name) {
            Ok(path) => path,
            Err(answer) => return Ok(send_text(tx, &answer)?),
        };
        // Python: if (blocked_files.get("data.txt") == client_address): ...
        // else: conn.sendall("File is blocked".encode())
        if !self.holder.holds(&path) {
            return Ok(send_text(tx, NOT_YOUR_LOCK)?);
        }
        send_text(tx, OK)?;
        // Python: with open("data.txt", 'w') as f: f.write(data)  -- truncates the file first,
        // so readers see it empty or half-written, and a client that vanishes destroys it.
        // Here the new version goes to a temporary file, renamed over the old one only when
        // complete; until then everyone reads the old version, whole.
        let mut file = AtomicFile::create(&path)?;
        let body = recv_file(rx, &mut file, self.max_size, |_| Ok(()), |_| {})
            .map_err(|e| limits::idle_error(e, self.idle, "waiting for the file's bytes"))
            .with_context(|| format!("receiving the new {name}"))?;
        file.commit(body.size, Overwrite::Yes)
            .with_context(|| format!("saving the new {name}"))?;
        // Python: blocked_files["data.txt"] = 0
        self.holder.unlock(&path);
        send_text(tx, MODIFIED)?;
        Ok(())
    }
}
