//! # testkit: end-to-end test helpers for sockets-rs
//!
//! - [`bin!`] finds *this package's own* `client` or `server` executable. Every exercise has
//!   bins with those names, and cargo uplifts them all to one `target/debug/server`
//!   (rust-lang/cargo#6313), so that path may hold another exercise's program after a
//!   workspace build. We read cargo's dep-info files instead (see [`find_bin`]).
//! - [`Server`] starts a server on `--port 0`, waits for its readiness line
//!   (`listening on <ip>:<port> (tcp|udp)`) and kills it when dropped.
//! - [`Proc`] runs any program with piped stdin/stdout/stderr, lets a test wait for a line
//!   with a timeout, and kills it when dropped; [`client`] builds an `assert_cmd::Command`
//!   with a timeout for one-shot client runs.
//! - [`chaos`] holds the reliability tests' tools: seeded garbage for TCP and UDP servers,
//!   gates that hold a transfer at a chosen byte so a kill lands mid-transfer, bounded waits
//!   for file system state.
//! - [`hostile`] is the one table of attack file names every server is tried with.
//! - [`proxy::Proxy`] is a UDP proxy that drops, duplicates, reorders and delays datagrams
//!   from a seeded RNG, so a loss test is reproducible.
//!
//! Every wait here has a timeout: a bug fails a test, it never hangs it.

pub mod chaos;
pub mod hostile;
pub mod proxy;

use std::fs;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::{Arc, Condvar, Mutex};
use std::thread;
use std::time::{Duration, Instant};

pub use tempfile::{tempdir, TempDir};

/// How long a test waits for a line, a readiness line or a process exit before failing.
pub const WAIT: Duration = Duration::from_secs(20);

/// The path of this package's own binary `name` (`"client"` or `"server"`).
///
/// Expands to [`find_bin`] with the calling package's name, so it must be used from an
/// integration test (where cargo sets `CARGO_BIN_EXE_<name>`).
#[macro_export]
macro_rules! bin {
    ($name:literal) => {
        $crate::find_bin(
            env!("CARGO_PKG_NAME"),
            $name,
            env!(concat!("CARGO_BIN_EXE_", $name)),
        )
    };
}

/// Finds the executable of bin target `name` of package `package`.
///
/// `uplifted` is the path cargo gives in `CARGO_BIN_EXE_<name>` (`target/<profile>/<name>`),
/// which may hold another package's same-named bin (rust-lang/cargo#6313). The real
/// executables sit in `deps/` beside it as `<name>-<hash>`, one per package and build mode
/// (a `cargo test` also builds each bin as a test harness under the same name). Cargo's
/// fingerprint directory tells them apart: `.fingerprint/<package>-<hash>/bin-<name>` exists
/// only for the ordinary (non-test) build of that package's bin. The newest match wins.
///
/// # Panics
/// When no such executable exists (the package's bins were not built).
pub fn find_bin(package: &str, name: &str, uplifted: &str) -> PathBuf {
    let profile_dir = Path::new(uplifted)
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default();
    let fingerprints = profile_dir.join(".fingerprint");
    let deps = profile_dir.join("deps");
    let mut best: Option<(std::time::SystemTime, PathBuf)> = None;
    let entries = fs::read_dir(&fingerprints)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", fingerprints.display()));
    for entry in entries.flatten() {
        let dir = entry.file_name().to_string_lossy().into_owned();
        let Some((pkg, hash)) = dir.rsplit_once('-') else {
            continue;
        };
        if pkg != package || !entry.path().join(format!("bin-{name}")).is_file() {
            continue;
        }
        let exe = deps.join(format!("{name}-{hash}{}", std::env::consts::EXE_SUFFIX));
        let Ok(mtime) = fs::metadata(&exe).and_then(|m| m.modified()) else {
            continue;
        };
        if best.as_ref().is_none_or(|(t, _)| mtime > *t) {
            best = Some((mtime, exe));
        }
    }
    match best {
        Some((_, path)) => path,
        None => panic!(
            "no executable for bin {name:?} of package {package:?} in {}: build the package first",
            deps.display()
        ),
    }
}

/// Text a child process printed on one stream, growing as it prints.
#[derive(Debug, Default)]
struct Captured {
    text: Mutex<(String, bool)>,
    changed: Condvar,
}

impl Captured {
    fn spawn_reader<R: Read + Send + 'static>(stream: R) -> Arc<Captured> {
        let cap = Arc::new(Captured::default());
        let c = Arc::clone(&cap);
        thread::spawn(move || {
            let mut r = BufReader::new(stream);
            let mut buf = Vec::new();
            loop {
                buf.clear();
                let n = r.read_until(b'\n', &mut buf).unwrap_or(0);
                let mut g = c.text.lock().expect("capture lock poisoned");
                if n == 0 {
                    g.1 = true;
                    c.changed.notify_all();
                    return;
                }
                g.0.push_str(&String::from_utf8_lossy(&buf));
                c.changed.notify_all();
            }
        });
        cap
    }

    fn snapshot(&self) -> String {
        self.text.lock().expect("capture lock poisoned").0.clone()
    }

    /// Waits until the text holds a line for which `pred` is true; returns that line.
    fn wait_line(&self, what: &str, timeout: Duration, pred: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + timeout;
        let mut g = self.text.lock().expect("capture lock poisoned");
        loop {
            if let Some(line) = g.0.lines().find(|l| pred(l)) {
                return line.to_string();
            }
            let now = Instant::now();
            if g.1 || now >= deadline {
                let why = if g.1 {
                    "the stream closed"
                } else {
                    "timed out"
                };
                panic!("{why} waiting for {what}; output so far:\n{}", g.0);
            }
            g = self
                .changed
                .wait_timeout(g, deadline - now)
                .expect("capture lock poisoned")
                .0;
        }
    }

    /// Waits until the stream is closed (the process exited), or the timeout.
    fn wait_closed(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let mut g = self.text.lock().expect("capture lock poisoned");
        while !g.1 {
            let now = Instant::now();
            if now >= deadline {
                return false;
            }
            g = self
                .changed
                .wait_timeout(g, deadline - now)
                .expect("capture lock poisoned")
                .0;
        }
        true
    }
}

/// A running program with captured stdout and stderr; killed when dropped.
#[derive(Debug)]
pub struct Proc {
    child: Child,
    stdin: Option<ChildStdin>,
    stdout: Arc<Captured>,
    stderr: Arc<Captured>,
    label: String,
}

impl Proc {
    /// Starts `bin` with `args` in directory `cwd`, stdin, stdout and stderr piped.
    ///
    /// # Panics
    /// When the program cannot be started.
    pub fn spawn(bin: &Path, args: &[&str], cwd: &Path) -> Proc {
        let mut child = Command::new(bin)
            .args(args)
            .current_dir(cwd)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", bin.display()));
        let stdout = Captured::spawn_reader(child.stdout.take().expect("stdout is piped"));
        let stderr = Captured::spawn_reader(child.stderr.take().expect("stderr is piped"));
        let label = bin
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        Proc {
            stdin: child.stdin.take(),
            child,
            stdout,
            stderr,
            label,
        }
    }

    /// Writes `text` to the program's stdin.
    ///
    /// # Panics
    /// When stdin was closed or the program has gone.
    pub fn write_stdin(&mut self, text: &str) {
        let stdin = self.stdin.as_mut().expect("stdin already closed");
        stdin
            .write_all(text.as_bytes())
            .expect("writing to the program's stdin");
        stdin.flush().expect("flushing the program's stdin");
    }

    /// Closes the program's stdin (it reads end of file).
    pub fn close_stdin(&mut self) {
        self.stdin = None;
    }

    /// Everything printed on stdout so far.
    pub fn stdout(&self) -> String {
        self.stdout.snapshot()
    }

    /// Everything printed on stderr so far.
    pub fn stderr(&self) -> String {
        self.stderr.snapshot()
    }

    /// Waits (at most [`WAIT`]) for a stdout line containing `needle`; returns the line.
    ///
    /// # Panics
    /// On timeout or when stdout closes first, showing what was printed.
    pub fn wait_stdout(&self, needle: &str) -> String {
        self.stdout.wait_line(
            &format!("{needle:?} on {}'s stdout", self.label),
            WAIT,
            |l| l.contains(needle),
        )
    }

    /// Waits (at most [`WAIT`]) for a stderr line containing `needle`; returns the line.
    ///
    /// # Panics
    /// As [`Proc::wait_stdout`].
    pub fn wait_stderr(&self, needle: &str) -> String {
        self.stderr.wait_line(
            &format!("{needle:?} on {}'s stderr", self.label),
            WAIT,
            |l| l.contains(needle),
        )
    }

    /// Waits (at most [`WAIT`]) for the program to exit; returns its status.
    ///
    /// # Panics
    /// When it has not exited by then (it is killed first).
    pub fn wait_exit(&mut self) -> ExitStatus {
        self.stdin = None;
        let deadline = Instant::now() + WAIT;
        loop {
            if let Some(status) = self.child.try_wait().expect("waiting for child") {
                // Let the readers take the last bytes the program wrote.
                self.stdout.wait_closed(WAIT);
                self.stderr.wait_closed(WAIT);
                return status;
            }
            if Instant::now() >= deadline {
                self.kill();
                panic!(
                    "{} did not exit within {WAIT:?}\nstdout:\n{}\nstderr:\n{}",
                    self.label,
                    self.stdout(),
                    self.stderr()
                );
            }
            // Polling child exit: std has no wait-with-timeout. Not synchronisation with
            // the program under test, only a bounded poll of its status.
            thread::sleep(Duration::from_millis(5));
        }
    }

    /// Kills the program (no-op if it has exited) and reaps it.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// The operating system's process id.
    pub fn id(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A server started on `--port 0`, ready (its readiness line was seen); killed when dropped.
#[derive(Debug)]
pub struct Server {
    proc: Proc,
    addr: SocketAddr,
}

impl Server {
    /// Starts `bin --host 127.0.0.1 --port 0 <args>` in `cwd` and waits for
    /// `listening on <ip>:<port> (tcp|udp)` on its stderr.
    ///
    /// # Panics
    /// When it does not start or print the line within [`WAIT`].
    pub fn start(bin: &Path, args: &[&str], cwd: &Path) -> Server {
        let mut all = vec!["--host", "127.0.0.1", "--port", "0"];
        all.extend_from_slice(args);
        let proc = Proc::spawn(bin, &all, cwd);
        let line = proc
            .stderr
            .wait_line("the readiness line", WAIT, |l| parse_readiness(l).is_some());
        let addr = parse_readiness(&line).expect("line was matched by parse_readiness");
        Server { proc, addr }
    }

    /// The address the server listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The port as a string, for a client's `--port`.
    pub fn port(&self) -> String {
        self.addr.port().to_string()
    }
}

impl std::ops::Deref for Server {
    type Target = Proc;
    fn deref(&self) -> &Proc {
        &self.proc
    }
}

impl std::ops::DerefMut for Server {
    fn deref_mut(&mut self) -> &mut Proc {
        &mut self.proc
    }
}

/// Parses `listening on 127.0.0.1:5002 (tcp)` into the address.
pub fn parse_readiness(line: &str) -> Option<SocketAddr> {
    let rest = line.trim().strip_prefix("listening on ")?;
    let (addr, transport) = rest.split_once(' ')?;
    if transport != "(tcp)" && transport != "(udp)" {
        return None;
    }
    addr.parse().ok()
}

/// An `assert_cmd::Command` for `bin` in `cwd` with a [`WAIT`] timeout, for one-shot client
/// runs: `testkit::client(&bin, dir).args([...]).write_stdin("s\n").assert().success()`.
pub fn client(bin: &Path, cwd: &Path) -> assert_cmd::Command {
    let mut cmd = assert_cmd::Command::new(bin);
    cmd.current_dir(cwd).timeout(WAIT);
    cmd
}

/// The text a finished `assert_cmd` run printed on stdout (lossy UTF-8).
pub fn stdout(a: &assert_cmd::assert::Assert) -> String {
    String::from_utf8_lossy(&a.get_output().stdout).into_owned()
}

/// The text a finished `assert_cmd` run printed on stderr (lossy UTF-8).
pub fn stderr(a: &assert_cmd::assert::Assert) -> String {
    String::from_utf8_lossy(&a.get_output().stderr).into_owned()
}

/// An exercise's server running in its own temporary directory, and a second temporary
/// directory for its client: the two terminals of a handout, as a test fixture.
///
/// Build it with [`pair!`], which takes this package's own `server` and `client`.
#[derive(Debug)]
pub struct Pair {
    /// The running server (killed when the pair is dropped).
    pub server: Server,
    /// The server's working directory.
    pub srv_dir: TempDir,
    /// The client's working directory.
    pub cli_dir: TempDir,
    /// The client executable.
    pub client_bin: PathBuf,
}

impl Pair {
    /// Starts `server_bin` with `server_args` in a new temporary directory.
    ///
    /// # Panics
    /// When a directory cannot be created or the server does not become ready.
    pub fn start(server_bin: &Path, client_bin: PathBuf, server_args: &[&str]) -> Pair {
        let srv_dir = tempdir().expect("creating the server's temp dir");
        let cli_dir = tempdir().expect("creating the client's temp dir");
        let server = Server::start(server_bin, server_args, srv_dir.path());
        Pair {
            server,
            srv_dir,
            cli_dir,
            client_bin,
        }
    }

    /// Runs the client once in its directory with `--port <server's port>`, `args` and
    /// `stdin`; returns the finished run to assert on.
    pub fn client(&self, args: &[&str], stdin: &str) -> assert_cmd::assert::Assert {
        client(&self.client_bin, self.cli_dir.path())
            .args(["--port", &self.server.port()])
            .args(args)
            .write_stdin(stdin)
            .assert()
    }

    /// Starts the client in its directory with `--port <server's port>` and `args`, for an
    /// interactive test (stdin written as it goes).
    pub fn spawn_client(&self, args: &[&str]) -> Proc {
        let port = self.server.port();
        let mut all = vec!["--port", port.as_str()];
        all.extend_from_slice(args);
        Proc::spawn(&self.client_bin, &all, self.cli_dir.path())
    }

    /// A path in the client's directory.
    pub fn cli(&self, name: &str) -> PathBuf {
        self.cli_dir.path().join(name)
    }

    /// A path in the server's directory.
    pub fn srv(&self, name: &str) -> PathBuf {
        self.srv_dir.path().join(name)
    }

    /// A raw TCP connection to the server, with a [`WAIT`] read timeout.
    ///
    /// # Panics
    /// When the connection fails.
    pub fn raw_tcp(&self) -> std::net::TcpStream {
        let s = std::net::TcpStream::connect(self.server.addr()).expect("connecting to the server");
        s.set_read_timeout(Some(WAIT))
            .expect("setting a read timeout");
        s
    }

    /// Replaces the server's address in `text` with `SERVER`, so transcripts compare exactly.
    pub fn norm(&self, text: &str) -> String {
        text.replace(&self.server.addr().to_string(), "SERVER")
    }
}

/// A [`Pair`] of this package's own `server` (started with the given arguments) and `client`:
/// `let p = testkit::pair!(&["--dir", "."]);`
#[macro_export]
macro_rules! pair {
    ($args:expr) => {
        $crate::Pair::start(&$crate::bin!("server"), $crate::bin!("client"), $args)
    };
}

/// The Python 3 interpreter for interoperability tests: `python3`, else `python` (Windows).
///
/// # Panics
/// When neither runs, saying so.
pub fn python() -> PathBuf {
    for name in ["python3", "python"] {
        let ok = assert_cmd::Command::new(name)
            .args(["-c", "import sys; sys.exit(sys.version_info[0] != 3)"])
            .timeout(WAIT)
            .ok()
            .is_ok();
        if ok {
            return PathBuf::from(name);
        }
    }
    panic!(
        "no Python 3 interpreter (python3 or python) on PATH: the interoperability tests need one"
    );
}

/// The open-file limit of this process (inherited by the programs it starts), where there is
/// one: on Unix what `ulimit -n` says in a child shell, which inherits it; `None` elsewhere
/// (Windows has no per-process limit on sockets of this size).
pub fn open_file_limit() -> Option<u64> {
    if !cfg!(unix) {
        return None;
    }
    let out = assert_cmd::Command::new("sh")
        .args(["-c", "ulimit -n"])
        .timeout(WAIT)
        .output()
        .ok()?;
    match String::from_utf8_lossy(&out.stdout).trim() {
        "unlimited" => Some(u64::MAX),
        n => n.parse().ok(),
    }
}

/// Whether `test` may open `needed` files (sockets) at once under [`open_file_limit`].
///
/// Raising the limit needs `setrlimit` (unsafe code, or a dependency); the shell that runs
/// the tests can do it (`ulimit -n 4096`). Where the limit is too low: on Linux, where CI
/// runs, this panics, so the check can never pass unseen; elsewhere (macOS defaults to 256)
/// it prints `SKIPPED <test>: ...` straight to stderr (libtest captures `eprintln!`) and
/// returns false.
///
/// # Panics
/// On Linux, when the limit is below `needed`.
pub fn open_files_allow(needed: u64, test: &str) -> bool {
    let Some(limit) = open_file_limit() else {
        return true;
    };
    if limit >= needed {
        return true;
    }
    let msg = format!(
        "{test}: the open-file limit is {limit}, below the {needed} this test needs; run `ulimit -n 4096` first"
    );
    if cfg!(target_os = "linux") {
        panic!("{msg}");
    }
    let _ = writeln!(std::io::stderr(), "SKIPPED {msg}");
    false
}

/// Writes `len` pseudo-random bytes (from `seed`) to `path`, streaming, and returns the path.
///
/// # Panics
/// On any I/O error.
pub fn random_file(path: &Path, len: u64, seed: u64) -> PathBuf {
    use rand::{RngCore, SeedableRng};
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let mut f = std::io::BufWriter::new(fs::File::create(path).expect("creating random file"));
    let mut buf = vec![0u8; 64 * 1024];
    let mut left = len;
    while left > 0 {
        let n = left.min(buf.len() as u64) as usize;
        rng.fill_bytes(&mut buf[..n]);
        f.write_all(&buf[..n]).expect("writing random file");
        left -= n as u64;
    }
    f.flush().expect("flushing random file");
    path.to_path_buf()
}

/// The names in `dir`, sorted (hidden ones included), to assert a directory's exact state.
///
/// # Panics
/// When the directory cannot be read.
pub fn dir_names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = fs::read_dir(dir)
        .expect("reading directory")
        .map(|e| {
            e.expect("directory entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    v.sort();
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The readiness line parser takes both families and rejects other lines.
    #[test]
    fn parse_readiness_lines() {
        assert_eq!(
            parse_readiness("listening on 127.0.0.1:5002 (tcp)"),
            Some("127.0.0.1:5002".parse().unwrap())
        );
        assert_eq!(
            parse_readiness("listening on [::1]:9 (udp)"),
            Some("[::1]:9".parse().unwrap())
        );
        assert_eq!(parse_readiness("listening on 127.0.0.1:5002 (sctp)"), None);
        assert_eq!(
            parse_readiness("server: listening on 127.0.0.1:1 (tcp)"),
            None
        );
    }
}

#[cfg(test)]
mod find_bin_tests {
    use super::*;

    /// Among same-named bins of several packages and the test-harness build of our own,
    /// `find_bin` picks the ordinary build of our package.
    #[test]
    fn find_bin_picks_own_package_non_test_build() {
        let t = tempdir().unwrap();
        let fp = t.path().join(".fingerprint");
        let deps = t.path().join("deps");
        fs::create_dir_all(&deps).unwrap();
        let exe = std::env::consts::EXE_SUFFIX;
        for (dir, marker) in [
            ("ej2-upload-tcp-00000000000000aa", "bin-server"),
            ("ej2-upload-tcp-00000000000000bb", "test-bin-server"),
            ("ej2-upload-udp-00000000000000cc", "bin-server"),
            ("upload-tcp-00000000000000dd", "bin-server"),
        ] {
            fs::create_dir_all(fp.join(dir)).unwrap();
            fs::write(fp.join(dir).join(marker), "").unwrap();
            let hash = dir.rsplit_once('-').unwrap().1;
            fs::write(deps.join(format!("server-{hash}{exe}")), "").unwrap();
        }
        let uplifted = t.path().join(format!("server{exe}"));
        let got = find_bin("ej2-upload-tcp", "server", uplifted.to_str().unwrap());
        assert_eq!(got, deps.join(format!("server-00000000000000aa{exe}")));
    }
}
