//! The one table of hostile file names that every server taking names from the network is
//! tried with. None of them may read, write, list or delete anything outside the server's
//! root; each must get a clear error.
//!
//! Use [`names`] for the table (it includes an overlong name) and, on Unix,
//! [`plant_symlink_out`] for the case a string cannot express: a symlink inside the root
//! that points out of it.

use std::path::Path;

/// Hostile names that fit in a literal; [`names`] adds the overlong one.
pub const HOSTILE_NAMES: &[&str] = &[
    "..",
    "../x",
    "a/../../x",
    "/etc/passwd",
    "C:x",
    "C:..\\x",
    "a\\..\\x",
    "\\\\?\\x",
    "%2e%2e/x",
    "a\0b",
    "",
];

/// Length of the overlong name in [`names`]: above every file system's 255-byte limit.
pub const LONG_NAME_LEN: usize = 300;

/// Every hostile name: [`HOSTILE_NAMES`] plus a name of [`LONG_NAME_LEN`] characters.
pub fn names() -> Vec<String> {
    let mut v: Vec<String> = HOSTILE_NAMES.iter().map(|s| (*s).to_string()).collect();
    v.push("n".repeat(LONG_NAME_LEN));
    v
}

/// A name for display in assertion messages (NUL and backslashes escaped).
pub fn show(name: &str) -> String {
    format!("{name:?}")
}

/// Creates, inside `root`, a symlink `link-out` to a file `secret` (content `"secret"`) and
/// a symlink `dir-out` to a directory, both in `outside`; returns the two link names.
///
/// # Panics
/// When the files or links cannot be created.
#[cfg(unix)]
pub fn plant_symlink_out(root: &Path, outside: &Path) -> [&'static str; 2] {
    std::fs::write(outside.join("secret"), "secret").expect("writing the outside file");
    std::os::unix::fs::symlink(outside.join("secret"), root.join("link-out"))
        .expect("creating link-out");
    std::os::unix::fs::symlink(outside, root.join("dir-out")).expect("creating dir-out");
    ["link-out", "dir-out"]
}

/// On other systems creating symlinks needs privileges; no links are planted.
#[cfg(not(unix))]
pub fn plant_symlink_out(_root: &Path, _outside: &Path) -> [&'static str; 0] {
    []
}
