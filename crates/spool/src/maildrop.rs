//! maildrop - local submissions written by `sendmail` while the daemons are down.
//!
//! `sendmail` normally hands a message to the pickup daemon over
//! `public/pickup`. When nothing listens there, it writes a maildrop file
//! instead, as the submitting user, into `maildrop/` (mode 1733: anyone can
//! create files, nobody can list them or touch another user's), and pickup
//! takes it when it starts. The file's owner, as the kernel recorded it, is
//! who submitted it: nothing inside the file is trusted for that.
//!
//! Format: the line `POSTERN-MAILDROP 1`, a 4-byte big-endian length, that
//! many bytes of [`Submission`] (postcard), an 8-byte big-endian message
//! length, then the message as `sendmail` read it: a short file is
//! recognisably incomplete. A file is written under a dot-name, fsynced,
//! then renamed to its final random name, so pickup never takes half a file.
//! The submitter cannot open the directory (it may not list it) to fsync
//! the rename; if a crash loses the rename, the complete dot-file is still
//! there, and pickup takes dot-files older than [`ABANDONED`].

use std::fs::{File, OpenOptions, Permissions};
use std::io::{self, Read, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::Error;
use crate::fsutil::{fsync_dir, io_err};

/// The first line of a maildrop file.
pub const MAGIC: &[u8] = b"POSTERN-MAILDROP 1\n";

/// How old a dot-file must be before pickup treats it as written by a
/// `sendmail` that will not finish it (a crash between write and rename).
pub const ABANDONED: std::time::Duration = std::time::Duration::from_secs(600);

/// The largest encoded [`Submission`].
pub const MAX_SUBMISSION: usize = 1024 * 1024;

/// What the submitter asked for, besides the message.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Submission {
    /// `-f`: the envelope sender as given; `None` for the submitter's own
    /// address, `Some("")` for the null sender.
    pub sender: Option<String>,
    /// `-F`: the full name for a `From:` header added to the message.
    pub full_name: Option<String>,
    /// Recipients from the command line.
    pub recipients: Vec<String>,
    /// `-t`: also take the recipients from `To:`, `Cc:` and `Bcc:`.
    pub extract_recipients: bool,
}

/// Why a maildrop file cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum MaildropError {
    /// Reading failed.
    #[error("read: {0}")]
    Io(#[from] io::Error),
    /// Not a maildrop file of this version.
    #[error("not a maildrop file (bad first line)")]
    Magic,
    /// The submission record is too long or does not decode.
    #[error("bad submission record")]
    Submission,
    /// The file is shorter (or longer) than it says: not completely written.
    #[error("incomplete maildrop file")]
    Incomplete,
    /// The message is larger than the limit.
    #[error("message larger than {limit} bytes")]
    TooLarge {
        /// The limit.
        limit: u64,
    },
}

/// Writes a maildrop file into `dir`; returns its name.
///
/// # Errors
/// [`Error::Io`] naming the step that failed; nothing is left behind then
/// but, at worst, an unfinished dot-file.
pub fn write(dir: &Path, submission: &Submission, message: &[u8]) -> Result<String, Error> {
    let record = postcard::to_allocvec(submission).map_err(|e| Error::Io {
        op: "encode submission",
        path: dir.to_owned(),
        source: io::Error::other(e),
    })?;
    let length = u32::try_from(record.len())
        .ok()
        .filter(|n| usize::try_from(*n).is_ok_and(|n| n <= MAX_SUBMISSION))
        .ok_or_else(|| Error::Io {
            op: "encode submission",
            path: dir.to_owned(),
            source: io::Error::other("too many recipients"),
        })?;
    let name = random_name(dir)?;
    let tmp = dir.join(format!(".{name}"));
    let path = dir.join(&name);
    let result = (|| -> Result<(), Error> {
        let mut file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .custom_flags(nix::fcntl::OFlag::O_NOFOLLOW.bits())
            .open(&tmp)
            .map_err(io_err("create maildrop file", &tmp))?;
        // pickup (the mail owner) must read it; nobody else can find it, as
        // the directory cannot be listed and the name is random.
        file.set_permissions(Permissions::from_mode(0o644))
            .map_err(io_err("chmod maildrop file", &tmp))?;
        let mut buffer = Vec::with_capacity(MAGIC.len() + 4 + record.len() + message.len());
        buffer.extend_from_slice(MAGIC);
        buffer.extend_from_slice(&length.to_be_bytes());
        buffer.extend_from_slice(&record);
        buffer.extend_from_slice(
            &u64::try_from(message.len())
                .unwrap_or(u64::MAX)
                .to_be_bytes(),
        );
        buffer.extend_from_slice(message);
        file.write_all(&buffer)
            .map_err(io_err("write maildrop file", &tmp))?;
        file.sync_all()
            .map_err(io_err("fsync maildrop file", &tmp))?;
        std::fs::rename(&tmp, &path).map_err(io_err("rename maildrop file", &tmp))?;
        // Only root and the mail owner can open the directory to sync it;
        // see the module documentation for why the others may skip it.
        match fsync_dir(dir) {
            Err(Error::Io { source, .. }) if source.kind() == io::ErrorKind::PermissionDenied => {
                Ok(())
            }
            other => other,
        }
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result.map(|()| name)
}

/// Reads a maildrop file the caller opened: the submission and at most
/// `limit` bytes of message.
///
/// # Errors
/// [`MaildropError`] for a file that is not one, or too large.
pub fn read(file: &mut File, limit: u64) -> Result<(Submission, Vec<u8>), MaildropError> {
    let mut magic = [0u8; MAGIC.len()];
    file.read_exact(&mut magic)
        .map_err(|_| MaildropError::Magic)?;
    if magic != MAGIC {
        return Err(MaildropError::Magic);
    }
    let mut length = [0u8; 4];
    file.read_exact(&mut length)
        .map_err(|_| MaildropError::Submission)?;
    let length = usize::try_from(u32::from_be_bytes(length)).unwrap_or(usize::MAX);
    if length > MAX_SUBMISSION {
        return Err(MaildropError::Submission);
    }
    let mut record = vec![0u8; length];
    file.read_exact(&mut record)
        .map_err(|_| MaildropError::Submission)?;
    let submission: Submission =
        postcard::from_bytes(&record).map_err(|_| MaildropError::Submission)?;
    let mut size = [0u8; 8];
    file.read_exact(&mut size)
        .map_err(|_| MaildropError::Incomplete)?;
    let size = u64::from_be_bytes(size);
    if size > limit {
        return Err(MaildropError::TooLarge { limit });
    }
    let mut message = Vec::new();
    file.take(size.saturating_add(1))
        .read_to_end(&mut message)?;
    if u64::try_from(message.len()).ok() != Some(size) {
        return Err(MaildropError::Incomplete);
    }
    Ok((submission, message))
}

/// 32 hex digits from the kernel's random source.
fn random_name(dir: &Path) -> Result<String, Error> {
    let mut bytes = [0u8; 16];
    File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut bytes))
        .map_err(io_err("read /dev/urandom", dir))?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// Whether `name` is a finished maildrop file's name (not a dot-file).
pub fn is_file_name(name: &str) -> bool {
    name.len() == 32
        && name
            .bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
}

/// Whether `name` is the name of a maildrop file still being written.
pub fn is_dot_file_name(name: &str) -> bool {
    name.strip_prefix('.').is_some_and(is_file_name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn write_then_read() {
        let dir = tempfile::tempdir().unwrap();
        let submission = Submission {
            sender: Some("a@example.org".into()),
            full_name: Some("A".into()),
            recipients: vec!["b@example.org".into()],
            extract_recipients: true,
        };
        let name = write(dir.path(), &submission, b"Subject: x\n\nhi\n").unwrap();
        assert!(is_file_name(&name), "{name}");
        let mut file = File::open(dir.path().join(&name)).unwrap();
        let (got, message) = read(&mut file, 1000).unwrap();
        assert_eq!(got, submission);
        assert_eq!(message, b"Subject: x\n\nhi\n");
        let mut file = File::open(dir.path().join(&name)).unwrap();
        assert!(matches!(
            read(&mut file, 5),
            Err(MaildropError::TooLarge { limit: 5 })
        ));
        // Nothing else is left in the directory.
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn garbage_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x");
        std::fs::write(&path, b"root:x:0:0::/root:/bin/sh\n").unwrap();
        assert!(matches!(
            read(&mut File::open(&path).unwrap(), 1000),
            Err(MaildropError::Magic)
        ));
        let mut bad = MAGIC.to_vec();
        bad.extend_from_slice(&u32::MAX.to_be_bytes());
        std::fs::write(&path, &bad).unwrap();
        assert!(matches!(
            read(&mut File::open(&path).unwrap(), 1000),
            Err(MaildropError::Submission)
        ));
        assert!(!is_file_name(".0123"));
        assert!(is_dot_file_name(&format!(".{}", "a".repeat(32))));
        // Cut short: incomplete.
        let dir2 = tempfile::tempdir().unwrap();
        let name = write(dir2.path(), &Submission::default(), b"0123456789").unwrap();
        let full = std::fs::read(dir2.path().join(&name)).unwrap();
        std::fs::write(&path, &full[..full.len() - 3]).unwrap();
        assert!(matches!(
            read(&mut File::open(&path).unwrap(), 1000),
            Err(MaildropError::Incomplete)
        ));
        assert!(!is_file_name("../../etc/passwd"));
    }
}
