//! Editing the users file for `postern user add|passwd|del`.
//!
//! Each edit:
//!
//! 1. takes an exclusive `flock` on the users file (created empty with mode
//!    0640 by [`add`] if it does not exist), and checks that the name still
//!    refers to the locked file, because another editor may have replaced
//!    it while we waited (then it starts over on the new file);
//! 2. reads the file and changes only the lines of the user concerned:
//!    every other line, comment and blank line is kept byte for byte;
//! 3. writes the result to a temporary file in the same directory, gives it
//!    the original's owner and mode, fsyncs it, renames it over the
//!    original and fsyncs the directory, so that a crash leaves either the
//!    old file or the new one, never a mix;
//! 4. releases the lock by closing the file.
//!
//! Readers (the daemons) do not lock: the rename makes every read see a
//! whole file.

use std::fs::{self, File, OpenOptions, Permissions};
use std::io::{self, Read, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use crate::address::user_name_problem;
use crate::error::Error;
use crate::password;

/// The mode of a users file created by [`add`]: the passwords are hashed,
/// but still nobody else's business.
const NEW_FILE_MODE: u32 = 0o640;

/// How often an edit starts over because the file was replaced while it
/// waited for the lock, before giving up.
const MAX_LOCK_ATTEMPTS: usize = 100;

/// Adds `user` with the stored password `hash` (`{SCHEME}...`, from
/// [`password::hash`]) at the end of the users file, creating the file
/// (mode 0640) if needed.
///
/// Errors: [`Error::BadUserName`] (not `local@domain`, or it has `:`,
/// white space, control characters or `/`), [`Error::BadHash`],
/// [`Error::UserExists`] (in any case), and I/O errors.
pub fn add(path: &Path, user: &str, hash: &str) -> Result<(), Error> {
    check_name(user)?;
    check_hash(hash)?;
    let key = user.to_lowercase();
    edit(path, true, |text| {
        if lines(text).any(|line| is_user_line(line, &key)) {
            return Err(Error::UserExists {
                path: path.to_owned(),
                user: user.to_owned(),
            });
        }
        let mut out = text.to_vec();
        if !out.is_empty() && !out.ends_with(b"\n") {
            out.push(b'\n');
        }
        out.extend_from_slice(format!("{user}:{hash}\n").as_bytes());
        Ok(out)
    })
}

/// Replaces the password of `user` with `hash`, keeping the line's other
/// fields. If the user is listed twice, the first line (the one lookups
/// use) is changed.
///
/// Errors: [`Error::UserNotFound`], [`Error::BadHash`], and I/O errors.
pub fn set_password(path: &Path, user: &str, hash: &str) -> Result<(), Error> {
    check_hash(hash)?;
    let key = user.to_lowercase();
    edit(path, false, |text| {
        let mut out = Vec::with_capacity(text.len() + hash.len());
        let mut done = false;
        for line in lines(text) {
            if !done && is_user_line(line, &key) {
                out.extend_from_slice(&replace_password(line, hash));
                done = true;
            } else {
                out.extend_from_slice(line);
            }
        }
        if done {
            Ok(out)
        } else {
            Err(not_found(path, user))
        }
    })
}

/// Removes `user` (every line for that user, if listed more than once).
///
/// Errors: [`Error::UserNotFound`] and I/O errors.
pub fn delete(path: &Path, user: &str) -> Result<(), Error> {
    let key = user.to_lowercase();
    edit(path, false, |text| {
        let mut out = Vec::with_capacity(text.len());
        let mut found = false;
        for line in lines(text) {
            if is_user_line(line, &key) {
                found = true;
            } else {
                out.extend_from_slice(line);
            }
        }
        if found {
            Ok(out)
        } else {
            Err(not_found(path, user))
        }
    })
}

fn not_found(path: &Path, user: &str) -> Error {
    Error::UserNotFound {
        path: path.to_owned(),
        user: user.to_owned(),
    }
}

/// Checks that `user` can be a name in the users file, as [`add`] does
/// first; `postern user add` calls it before it asks for a password.
///
/// Errors: [`Error::BadUserName`].
pub fn check_name(user: &str) -> Result<(), Error> {
    match user_name_problem(user) {
        Some(reason) => Err(Error::BadUserName {
            user: user.to_owned(),
            reason,
        }),
        None => Ok(()),
    }
}

fn check_hash(hash: &str) -> Result<(), Error> {
    password::check(hash).map_err(|source| Error::BadHash { source })
}

/// The lines of `text`, each with its line end.
fn lines(text: &[u8]) -> impl Iterator<Item = &[u8]> {
    text.split_inclusive(|b| *b == b'\n')
}

/// Whether `line` is an entry for the user whose folded name is `key`.
fn is_user_line(line: &[u8], key: &str) -> bool {
    let Some(colon) = line.iter().position(|b| *b == b':') else {
        return false;
    };
    let Some(name) = line.get(..colon) else {
        return false;
    };
    match std::str::from_utf8(name) {
        Ok(name) => !name.trim_start().starts_with('#') && name.to_lowercase() == key,
        Err(_) => false,
    }
}

/// `line` with its password field (the second) replaced by `hash`.
fn replace_password(line: &[u8], hash: &str) -> Vec<u8> {
    let body_len = line.len()
        - if line.ends_with(b"\r\n") {
            2
        } else {
            usize::from(line.ends_with(b"\n"))
        };
    let (body, end) = line.split_at(body_len);
    let mut fields = body.splitn(3, |b| *b == b':');
    let name = fields.next().unwrap_or_default();
    let _old = fields.next();
    let mut out = Vec::with_capacity(line.len() + hash.len());
    out.extend_from_slice(name);
    out.push(b':');
    out.extend_from_slice(hash.as_bytes());
    if let Some(rest) = fields.next() {
        out.push(b':');
        out.extend_from_slice(rest);
    }
    out.extend_from_slice(end);
    out
}

/// Runs one locked, atomic edit of `path`: `change` maps the current
/// contents (empty for a missing file) to the new ones.
fn edit(
    path: &Path,
    create: bool,
    change: impl FnOnce(&[u8]) -> Result<Vec<u8>, Error>,
) -> Result<(), Error> {
    let lock_error = |source| Error::Lock {
        path: path.to_owned(),
        source,
    };
    for _ in 0..MAX_LOCK_ATTEMPTS {
        let Some(file) = open(path, create)? else {
            return change(b"").map(|_| ());
        };
        file.lock().map_err(lock_error)?;
        let held = file.metadata().map_err(lock_error)?;
        let current = match fs::metadata(path) {
            Ok(meta) => meta,
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            Err(e) => return Err(lock_error(e)),
        };
        if (held.dev(), held.ino()) != (current.dev(), current.ino()) {
            // Replaced by another editor while we waited: use the new one.
            continue;
        }
        let mut text = Vec::new();
        (&file)
            .read_to_end(&mut text)
            .map_err(|source| Error::Read {
                path: path.to_owned(),
                source,
            })?;
        let new = change(&text)?;
        replace(path, &held, &new)?;
        drop(file);
        return Ok(());
    }
    Err(lock_error(io::Error::other(
        "the file keeps being replaced by another editor",
    )))
}

/// Opens `path` for locking; creates it (empty, mode 0640) when `create`
/// is set and it does not exist. `None`: it does not exist.
fn open(path: &Path, create: bool) -> Result<Option<File>, Error> {
    let read_error = |source| Error::Read {
        path: path.to_owned(),
        source,
    };
    loop {
        match File::open(path) {
            Ok(file) => return Ok(Some(file)),
            Err(e) if e.kind() == io::ErrorKind::NotFound && create => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(read_error(e)),
        }
        match OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .mode(NEW_FILE_MODE)
            .open(path)
        {
            Ok(file) => {
                // The umask may have taken bits away; set the mode exactly.
                file.set_permissions(Permissions::from_mode(NEW_FILE_MODE))
                    .map_err(|source| Error::Write {
                        path: path.to_owned(),
                        step: "set the mode of the new file",
                        source,
                    })?;
                return Ok(Some(file));
            }
            // Someone else created it first: open theirs.
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
            Err(source) => {
                return Err(Error::Write {
                    path: path.to_owned(),
                    step: "create the file",
                    source,
                });
            }
        }
    }
}

/// Distinguishes temporary files of concurrent edits in one process.
static TEMP_COUNTER: AtomicU64 = AtomicU64::new(0);

/// Removes the temporary file unless the rename consumed it.
struct TempFile {
    path: PathBuf,
    armed: bool,
}

impl Drop for TempFile {
    fn drop(&mut self) {
        if self.armed {
            let _ = fs::remove_file(&self.path);
        }
    }
}

/// Atomically replaces `path` with `contents`, with the owner and mode of
/// `original`.
fn replace(path: &Path, original: &fs::Metadata, contents: &[u8]) -> Result<(), Error> {
    let step_error = |step: &'static str| {
        move |source| Error::Write {
            path: path.to_owned(),
            step,
            source,
        }
    };
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let n = TEMP_COUNTER.fetch_add(1, Ordering::Relaxed);
    let mut temp = TempFile {
        path: dir.join(format!(".{name}.tmp.{}.{n}", std::process::id())),
        armed: false,
    };
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&temp.path)
        .map_err(step_error("create the temporary file"))?;
    temp.armed = true;
    file.write_all(contents)
        .map_err(step_error("write the temporary file"))?;
    let ours = file
        .metadata()
        .map_err(step_error("examine the temporary file"))?;
    if (ours.uid(), ours.gid()) != (original.uid(), original.gid()) {
        nix::unistd::fchown(
            &file,
            Some(nix::unistd::Uid::from_raw(original.uid())),
            Some(nix::unistd::Gid::from_raw(original.gid())),
        )
        .map_err(|errno| {
            step_error("give the new file the original owner")(io::Error::from(errno))
        })?;
    }
    file.set_permissions(Permissions::from_mode(original.mode() & 0o7777))
        .map_err(step_error("give the new file the original mode"))?;
    file.sync_all()
        .map_err(step_error("fsync the temporary file"))?;
    drop(file);
    fs::rename(&temp.path, path).map_err(step_error("rename the temporary file"))?;
    temp.armed = false;
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(step_error("fsync the directory"))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn password_replacement_keeps_other_fields_and_line_end() {
        let cases: &[(&str, &str, &str)] = &[
            (
                "all fields",
                "a@x:{PLAIN}old:1:2::/h::k=v\n",
                "a@x:NEW:1:2::/h::k=v\n",
            ),
            ("two fields", "a@x:{PLAIN}old\n", "a@x:NEW\n"),
            ("crlf", "a@x:{PLAIN}old:5\r\n", "a@x:NEW:5\r\n"),
            ("no line end", "a@x:{PLAIN}old", "a@x:NEW"),
            ("empty password", "a@x::7:7\n", "a@x:NEW:7:7\n"),
        ];
        for (name, line, want) in cases {
            let got = replace_password(line.as_bytes(), "NEW");
            assert_eq!(String::from_utf8(got).unwrap(), *want, "case {name}");
        }
    }

    #[test]
    fn names_are_checked_like_add_does() {
        let cases: &[(&str, &str, bool)] = &[
            ("address", "alice@example.org", true),
            ("capitals", "Alice@Example.ORG", true),
            ("bare", "alice", false),
            ("empty", "", false),
            ("colon", "a:b@example.org", false),
            ("space", "a b@example.org", false),
            ("newline", "a@example.org\nb@example.org", false),
            ("slash", "a/b@example.org", false),
            ("dot-dot", "..@example.org", false),
        ];
        for (name, user, good) in cases {
            let result = check_name(user);
            assert_eq!(result.is_ok(), *good, "case {name}: {result:?}");
            if let Err(err) = result {
                assert!(matches!(err, Error::BadUserName { .. }), "case {name}");
            }
        }
    }

    #[test]
    fn user_lines_match_case_insensitively_and_skip_comments() {
        let cases: &[(&str, &str, bool)] = &[
            ("same", "alice@example.org:x\n", true),
            ("case", "Alice@Example.ORG:x\n", true),
            ("other", "bob@example.org:x\n", false),
            ("prefix", "alice@example.org.uk:x\n", false),
            ("comment", "#alice@example.org:x\n", false),
            ("indented comment", "  # alice@example.org:x\n", false),
            ("no colon", "alice@example.org\n", false),
        ];
        for (name, line, want) in cases {
            assert_eq!(
                is_user_line(line.as_bytes(), "alice@example.org"),
                *want,
                "case {name}"
            );
        }
    }
}
