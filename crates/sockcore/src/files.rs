//! File names from the network, confined to a server's root, and atomic writes.
//!
//! A name that arrives over a socket is hostile until checked. The handouts' Python does
//! `open(name, "wb")` with whatever the client sent, so `../../home/user/.bashrc` overwrites a
//! file outside the server's directory. Here a name is checked **by components**, never by
//! string prefix (`/srv/files-old` starts with the string `/srv/files` but is not inside it):
//!
//! 1. Syntax ([`check_name`], [`check_relative`]): not empty, at most [`MAX_NAME_LEN`] bytes
//!    per component, no NUL, no `..`, not absolute, no drive or stream prefix (`C:`), no
//!    backslash (a separator on Windows), and for a bare name no `/` at all.
//! 2. Place ([`Root::path_of`], [`Root::resolve`]): the path is joined to the canonical root,
//!    and the longest part of it that exists is canonicalised (following symlinks); it must
//!    still lie inside the root, so a symlink in the root that points out is refused too.
//!
//! Caveat: a check followed by an `open` leaves a short window in which another local process
//! could swap a directory for a symlink. Production servers close it with `openat2` and
//! `RESOLVE_BENEATH` (Linux) or by dropping privileges; here only network clients are
//! untrusted, and they cannot create symlinks.
//!
//! Writes go through [`AtomicFile`]: the bytes land in a hidden temporary file in the same
//! directory, and only a complete, synced file is renamed onto the final name. A client that
//! vanishes halfway leaves nothing behind, and an existing file stays intact until its
//! replacement is whole.

use std::ffi::OsStr;
use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Component, Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// Longest file name component accepted, in bytes: the limit of most file systems (ext4,
/// NTFS, APFS all stop at 255).
pub const MAX_NAME_LEN: usize = 255;

/// Longest relative path accepted, in bytes (several components).
pub const MAX_PATH_LEN: usize = 1024;

/// Prefix of the temporary files [`AtomicFile`] writes; listings should hide them.
pub const PARTIAL_PREFIX: &str = ".sockcore-part-";

fn invalid(msg: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, msg)
}

/// Checks one path component's syntax (see the module docs, rule 1).
fn check_component(name: &str, whole: &str) -> io::Result<()> {
    if name.is_empty() {
        return Err(invalid(format!("file name {whole:?} has an empty part")));
    }
    if name == ".." {
        return Err(invalid(format!(
            "file name {whole:?} leaves the server directory (\"..\" is not allowed)"
        )));
    }
    if name == "." {
        return Err(invalid(format!(
            "file name {whole:?} names a directory (\".\")"
        )));
    }
    if name.len() > MAX_NAME_LEN {
        return Err(invalid(format!(
            "file name {whole:?} has a part {} bytes long, limit {MAX_NAME_LEN}",
            name.len()
        )));
    }
    Ok(())
}

fn check_chars(name: &str) -> io::Result<()> {
    if name.is_empty() {
        return Err(invalid("file name is empty".to_string()));
    }
    if name.contains('\0') {
        return Err(invalid(format!("file name {name:?} contains a NUL byte")));
    }
    if name.contains('\\') {
        return Err(invalid(format!(
            "file name {name:?} contains a backslash (a path separator on Windows)"
        )));
    }
    if name.contains(':') {
        return Err(invalid(format!(
            "file name {name:?} contains ':' (a drive or stream prefix on Windows)"
        )));
    }
    if name.starts_with('/') {
        return Err(invalid(format!(
            "file name {name:?} is absolute; give a name inside the server directory"
        )));
    }
    Ok(())
}

/// Checks that `name` is a bare file name: one safe component, no separators.
///
/// # Errors
/// [`io::ErrorKind::InvalidInput`] with a message that names the problem, e.g.
/// `file name "../x" leaves the server directory (".." is not allowed)`.
pub fn check_name(name: &str) -> io::Result<()> {
    check_chars(name)?;
    if name.len() > MAX_NAME_LEN {
        return Err(invalid(format!(
            "file name is {} bytes long, limit {MAX_NAME_LEN}",
            name.len()
        )));
    }
    if name == ".." || name.starts_with("../") {
        return check_component("..", name);
    }
    if name.contains('/') {
        return Err(invalid(format!(
            "file name {name:?} contains a path separator; give a bare file name"
        )));
    }
    check_component(name, name)
}

/// Checks that `path` is a safe relative path: `/`-separated safe components.
///
/// # Errors
/// As [`check_name`].
pub fn check_relative(path: &str) -> io::Result<()> {
    check_chars(path)?;
    if path.len() > MAX_PATH_LEN {
        return Err(invalid(format!(
            "path is {} bytes long, limit {MAX_PATH_LEN}",
            path.len()
        )));
    }
    for part in path.split('/') {
        check_component(part, path)?;
    }
    Ok(())
}

/// A directory that network names are confined to.
#[derive(Debug, Clone)]
pub struct Root {
    dir: PathBuf,
}

impl Root {
    /// Opens `dir` as a root (it must exist and be a directory).
    ///
    /// # Errors
    /// `NotFound` or the OS error, naming the directory; `InvalidInput` if it is not a directory.
    pub fn new(dir: impl AsRef<Path>) -> io::Result<Root> {
        let given = dir.as_ref();
        let dir = fs::canonicalize(given).map_err(|e| {
            io::Error::new(
                e.kind(),
                format!("cannot use directory {}: {e}", given.display()),
            )
        })?;
        if !dir.is_dir() {
            return Err(invalid(format!("{} is not a directory", given.display())));
        }
        Ok(Root { dir })
    }

    /// The canonical directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The path of the bare file `name` inside the root (which may not exist yet).
    ///
    /// # Errors
    /// `InvalidInput` when the name is unsafe ([`check_name`]) or leads out of the root
    /// through a symlink.
    pub fn path_of(&self, name: &str) -> io::Result<PathBuf> {
        check_name(name)?;
        self.confine(self.dir.join(name), name)
    }

    /// The path of the relative `path` (`/`-separated) inside the root.
    ///
    /// # Errors
    /// As [`Root::path_of`], with [`check_relative`] for the syntax.
    pub fn resolve(&self, path: &str) -> io::Result<PathBuf> {
        check_relative(path)?;
        let mut full = self.dir.clone();
        full.extend(path.split('/'));
        self.confine(full, path)
    }

    /// True when `path` lies inside the root, compared by components.
    pub fn contains(&self, path: &Path) -> bool {
        path.starts_with(&self.dir)
    }

    /// Checks that the longest existing ancestor of `full` (itself included), with symlinks
    /// followed, is inside the root; returns `full` unchanged.
    fn confine(&self, full: PathBuf, shown: &str) -> io::Result<PathBuf> {
        let mut existing: &Path = &full;
        loop {
            match fs::canonicalize(existing) {
                Ok(real) => {
                    if self.contains(&real) {
                        return Ok(full);
                    }
                    return Err(invalid(format!(
                        "file name {shown:?} leads outside the server directory (through a symbolic link)"
                    )));
                }
                Err(e) if e.kind() == io::ErrorKind::NotFound => {
                    // A dangling symlink is not "not found": it points somewhere. Refuse it
                    // rather than let a later create follow it out of the root.
                    if fs::symlink_metadata(existing).is_ok() {
                        return Err(invalid(format!(
                            "file name {shown:?} is a symbolic link to a missing target"
                        )));
                    }
                    match existing.parent() {
                        Some(parent) => existing = parent,
                        None => return Err(e),
                    }
                }
                // E.g. "Not a directory" for `file.txt/new`: refused like any unsafe name,
                // with the name in the message rather than a bare OS error.
                Err(e) => return Err(invalid(format!("file name {shown:?} cannot be used: {e}"))),
            }
        }
    }

    /// The names of the regular files in the root, sorted, without hidden temporary files.
    ///
    /// # Errors
    /// The OS error of reading the directory.
    pub fn list(&self) -> io::Result<Vec<String>> {
        let mut names = Vec::new();
        for entry in fs::read_dir(&self.dir)? {
            let entry = entry?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.starts_with(PARTIAL_PREFIX) {
                continue;
            }
            if entry.file_type()?.is_file() {
                names.push(name);
            }
        }
        names.sort();
        Ok(names)
    }
}

/// Whether [`AtomicFile::commit`] may replace an existing file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Overwrite {
    /// Replace the destination if it exists.
    Yes,
    /// Fail with `AlreadyExists` if the destination exists (checked atomically at commit).
    No,
}

/// A file written under a temporary name and moved into place only when complete.
///
/// Dropping it without [`AtomicFile::commit`] deletes the temporary file, so an error or a
/// vanished peer anywhere in between leaves the directory as it was.
#[derive(Debug)]
pub struct AtomicFile {
    file: Option<File>,
    tmp: PathBuf,
    dest: PathBuf,
    written: u64,
}

static TMP_COUNTER: AtomicU64 = AtomicU64::new(0);

impl AtomicFile {
    /// Starts writing what will become `dest`; the temporary file is created beside it.
    ///
    /// # Errors
    /// The OS error of creating the temporary file (e.g. the directory does not exist or is
    /// not writable).
    pub fn create(dest: impl Into<PathBuf>) -> io::Result<AtomicFile> {
        let dest = dest.into();
        let dir = dest.parent().unwrap_or(Path::new("."));
        loop {
            let n = TMP_COUNTER.fetch_add(1, Ordering::Relaxed);
            let tmp = dir.join(format!("{PARTIAL_PREFIX}{}-{n}", std::process::id()));
            match fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&tmp)
            {
                Ok(file) => {
                    return Ok(AtomicFile {
                        file: Some(file),
                        tmp,
                        dest,
                        written: 0,
                    })
                }
                // A stale temporary file from a killed process with the same pid: next number.
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
                Err(e) => {
                    return Err(io::Error::new(
                        e.kind(),
                        format!("cannot create a temporary file in {}: {e}", dir.display()),
                    ))
                }
            }
        }
    }

    /// The final path.
    pub fn dest(&self) -> &Path {
        &self.dest
    }

    /// Bytes written so far.
    pub fn written(&self) -> u64 {
        self.written
    }

    /// Flushes the data to disk, checks that the file holds exactly `expected_len` bytes, and
    /// moves it onto its final name.
    ///
    /// # Errors
    /// - `AlreadyExists` when `overwrite` is [`Overwrite::No`] and the destination exists
    ///   (the existing file is untouched and the temporary one removed);
    /// - `InvalidData` when the size on disk is not `expected_len`;
    /// - the OS error of syncing or renaming.
    pub fn commit(mut self, expected_len: u64, overwrite: Overwrite) -> io::Result<()> {
        let file = self
            .file
            .take()
            .ok_or_else(|| io::Error::other("file already committed"))?;
        file.sync_all()?;
        let on_disk = file.metadata()?.len();
        drop(file);
        if on_disk != expected_len {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("file on disk has {on_disk} bytes, expected {expected_len}"),
            ));
        }
        match overwrite {
            // `rename` replaces the destination atomically (on Windows, std uses
            // MoveFileEx with MOVEFILE_REPLACE_EXISTING).
            Overwrite::Yes => fs::rename(&self.tmp, &self.dest)?,
            // A hard link fails if the name exists: "create if absent" with no race window.
            Overwrite::No => match fs::hard_link(&self.tmp, &self.dest) {
                Ok(()) => fs::remove_file(&self.tmp)?,
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                    return Err(io::Error::new(
                        io::ErrorKind::AlreadyExists,
                        format!("{} already exists", file_name(&self.dest)),
                    ))
                }
                // File systems without hard links (FAT, some network shares): check, then
                // rename. A concurrent writer could slip in between; acceptable there.
                Err(_) if !self.dest.exists() => fs::rename(&self.tmp, &self.dest)?,
                Err(e) => return Err(e),
            },
        }
        // Renamed or linked-and-removed: nothing left for Drop to clean.
        self.tmp = PathBuf::new();
        sync_dir(self.dest.parent());
        Ok(())
    }
}

/// Makes the rename itself durable on Unix (a directory fsync); a no-op elsewhere.
fn sync_dir(dir: Option<&Path>) {
    #[cfg(unix)]
    if let Some(dir) = dir {
        if let Ok(d) = File::open(dir) {
            let _ = d.sync_all();
        }
    }
    #[cfg(not(unix))]
    let _ = dir;
}

fn file_name(p: &Path) -> String {
    p.file_name().map_or_else(
        || p.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    )
}

impl Write for AtomicFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let file = self
            .file
            .as_mut()
            .ok_or_else(|| io::Error::other("file already committed"))?;
        let n = file.write(buf)?;
        self.written += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        match self.file.as_mut() {
            Some(f) => f.flush(),
            None => Ok(()),
        }
    }
}

impl Drop for AtomicFile {
    fn drop(&mut self) {
        if !self.tmp.as_os_str().is_empty() {
            drop(self.file.take());
            let _ = fs::remove_file(&self.tmp);
        }
    }
}

/// True when `name` is one of [`AtomicFile`]'s temporary files.
pub fn is_partial(name: &OsStr) -> bool {
    name.to_string_lossy().starts_with(PARTIAL_PREFIX)
}

/// The final component of a local path as UTF-8, for sending as a bare name.
///
/// # Errors
/// `InvalidInput` when the path has no file name (`..`, `/`) or it is not UTF-8.
pub fn local_file_name(path: &Path) -> io::Result<String> {
    match path.components().next_back() {
        Some(Component::Normal(n)) => n
            .to_str()
            .map(str::to_owned)
            .ok_or_else(|| invalid(format!("file name {} is not valid UTF-8", path.display()))),
        _ => Err(invalid(format!("{} does not name a file", path.display()))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Attack names and the start of the error each gets; none may pass `check_name`.
    const HOSTILE: &[(&str, &str)] = &[
        ("", "file name is empty"),
        ("..", "file name \"..\" leaves the server directory"),
        ("../x", "file name \"../x\" leaves the server directory"),
        (
            "a/../../x",
            "file name \"a/../../x\" contains a path separator",
        ),
        ("/etc/passwd", "file name \"/etc/passwd\" is absolute"),
        ("a/b", "file name \"a/b\" contains a path separator"),
        ("a\\b", "file name \"a\\\\b\" contains a backslash"),
        (
            "a\\..\\x",
            "file name \"a\\\\..\\\\x\" contains a backslash",
        ),
        ("C:x", "file name \"C:x\" contains ':'"),
        ("C:..\\x", "file name \"C:..\\\\x\" contains a backslash"),
        (
            "\\\\?\\x",
            "file name \"\\\\\\\\?\\\\x\" contains a backslash",
        ),
        ("a\0b", "file name \"a\\0b\" contains a NUL byte"),
        (".", "file name \".\" names a directory"),
    ];

    /// Every name of the attack table is refused with its own message.
    #[test]
    fn check_name_rejects_attack_table() {
        for (name, msg) in HOSTILE {
            let err = check_name(name).expect_err(name);
            assert_eq!(err.kind(), io::ErrorKind::InvalidInput, "{name:?}");
            assert!(err.to_string().starts_with(msg), "{name:?}: got {err}");
        }
        let long = "x".repeat(300);
        assert_eq!(
            check_name(&long).unwrap_err().to_string(),
            "file name is 300 bytes long, limit 255"
        );
    }

    /// Ordinary names, including spaces, accents and dots inside, are accepted.
    #[test]
    fn check_name_accepts_ordinary_names() {
        for name in [
            "informe.pdf",
            "foto 1.jpg",
            "añoño.txt",
            ".hidden",
            "a..b",
            &"y".repeat(255),
        ] {
            check_name(name).unwrap_or_else(|e| panic!("{name:?}: {e}"));
        }
    }

    /// Relative paths allow `/` between safe components and nothing else.
    #[test]
    fn check_relative_rules() {
        check_relative("sub/dir/file.txt").unwrap();
        for bad in ["sub/../x", "/abs", "a//b", "a/", "a/./b", "a\\b", "C:x"] {
            assert!(check_relative(bad).is_err(), "{bad:?}");
        }
    }

    /// `path_of` keeps names inside the root, even through the attack table.
    #[test]
    fn path_of_confines_to_root() {
        let dir = tempfile::tempdir().unwrap();
        let root = Root::new(dir.path()).unwrap();
        let p = root.path_of("new.bin").unwrap();
        assert_eq!(p, root.dir().join("new.bin"));
        for (name, _) in HOSTILE {
            assert!(root.path_of(name).is_err(), "{name:?}");
        }
    }

    /// A symlink inside the root that points out is refused; one that stays inside is fine.
    #[cfg(unix)]
    #[test]
    fn path_of_refuses_symlink_out() {
        let outside = tempfile::tempdir().unwrap();
        std::fs::write(outside.path().join("secret"), b"s").unwrap();
        let dir = tempfile::tempdir().unwrap();
        let root = Root::new(dir.path()).unwrap();
        std::os::unix::fs::symlink(outside.path().join("secret"), dir.path().join("out")).unwrap();
        std::os::unix::fs::symlink(outside.path(), dir.path().join("outdir")).unwrap();
        std::os::unix::fs::symlink(outside.path().join("nothing"), dir.path().join("dangling"))
            .unwrap();
        std::fs::write(dir.path().join("real"), b"r").unwrap();
        std::os::unix::fs::symlink(dir.path().join("real"), dir.path().join("in")).unwrap();

        let err = root.path_of("out").unwrap_err();
        assert!(err.to_string().contains("leads outside"), "{err}");
        assert!(root.resolve("outdir/new").is_err());
        assert!(root.path_of("dangling").is_err());
        root.path_of("in").unwrap();
    }

    /// A path through a regular file is refused with the name in the message.
    #[cfg(unix)]
    #[test]
    fn path_through_a_file_is_refused_by_name() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("keep.txt"), b"k").unwrap();
        let root = Root::new(dir.path()).unwrap();
        let err = root.resolve("keep.txt/new").unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
        assert!(
            err.to_string()
                .starts_with("file name \"keep.txt/new\" cannot be used: "),
            "{err}"
        );
    }

    /// The root itself may be reached through a symlink; names inside it still resolve.
    #[cfg(unix)]
    #[test]
    fn root_behind_symlink_works() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("real")).unwrap();
        std::os::unix::fs::symlink(dir.path().join("real"), dir.path().join("link")).unwrap();
        let root = Root::new(dir.path().join("link")).unwrap();
        root.path_of("x").unwrap();
    }

    /// A committed file holds the bytes; a dropped one leaves no trace.
    #[test]
    fn atomic_file_commit_and_abort() {
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("f.bin");
        let mut f = AtomicFile::create(&dest).unwrap();
        f.write_all(b"hello").unwrap();
        assert!(!dest.exists(), "visible before commit");
        f.commit(5, Overwrite::No).unwrap();
        assert_eq!(std::fs::read(&dest).unwrap(), b"hello");

        let mut g = AtomicFile::create(&dest).unwrap();
        g.write_all(b"half").unwrap();
        drop(g);
        assert_eq!(std::fs::read(&dest).unwrap(), b"hello", "old file touched");
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(
            names,
            vec![std::ffi::OsString::from("f.bin")],
            "temp file left behind"
        );
    }

    /// Without permission to overwrite, an existing file is kept and the commit fails.
    #[test]
    fn atomic_file_no_overwrite_keeps_existing() {
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("f.bin");
        std::fs::write(&dest, b"old").unwrap();
        let mut f = AtomicFile::create(&dest).unwrap();
        f.write_all(b"new!").unwrap();
        let err = f.commit(4, Overwrite::No).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::AlreadyExists);
        assert_eq!(std::fs::read(&dest).unwrap(), b"old");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);

        let mut f = AtomicFile::create(&dest).unwrap();
        f.write_all(b"new!").unwrap();
        f.commit(4, Overwrite::Yes).unwrap();
        assert_eq!(std::fs::read(&dest).unwrap(), b"new!");
    }

    /// A size that does not match what was expected aborts the commit.
    #[test]
    fn atomic_file_size_mismatch_aborts() {
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("f.bin");
        let mut f = AtomicFile::create(&dest).unwrap();
        f.write_all(b"abc").unwrap();
        assert_eq!(
            f.commit(4, Overwrite::Yes).unwrap_err().kind(),
            io::ErrorKind::InvalidData
        );
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }

    /// Listing hides temporary files and directories.
    #[test]
    fn list_hides_partials() {
        let dir = tempfile::tempdir().unwrap();
        let root = Root::new(dir.path()).unwrap();
        std::fs::write(dir.path().join("b"), b"").unwrap();
        std::fs::write(dir.path().join("a"), b"").unwrap();
        std::fs::create_dir(dir.path().join("sub")).unwrap();
        let _pending = AtomicFile::create(dir.path().join("c")).unwrap();
        assert_eq!(root.list().unwrap(), vec!["a", "b"]);
    }

    /// The local file name sent to a server is the last component.
    #[test]
    fn local_file_name_takes_last_component() {
        assert_eq!(
            local_file_name(Path::new("docs/informe.pdf")).unwrap(),
            "informe.pdf"
        );
        assert!(local_file_name(Path::new("..")).is_err());
    }
}
