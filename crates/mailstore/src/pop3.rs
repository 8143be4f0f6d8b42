//! pop3 - what POP3 needs beyond a [`Mailbox`](crate::Mailbox): the
//! maildrop lock and the UIDL format.
//!
//! RFC 1939 gives a session exclusive access to the maildrop.
//! [`MaildropLock`] is an exclusive flock on `postern-pop3.lock` in the
//! Maildir: non-blocking (a second session is told `[IN-USE]` at once,
//! not made to wait), and released by the kernel when its holder closes
//! it or dies, even by kill -9, so a crashed session never leaves the
//! mailbox locked. The file itself stays; removing it would let a session
//! lock a file another has just unlinked. IMAP sessions do not take it:
//! POP3 only excludes POP3.
//!
//! XXX: on NFS, Linux emulates flock with POSIX record locks, which are
//! per process: there two sessions in one pop3d process would not exclude
//! each other. Local file systems and CephFS keep flock semantics. An
//! in-process table of held maildrops would close the gap if needed.

use std::fs::File;
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::{Flock, FlockArg, OFlag};
use nix::sys::stat::{Mode, fstat};

use crate::error::{Error, errno_err};
use crate::fsutil::{Kind, kind, match_dir_owner};
use crate::maildir::Maildir;

/// The maildrop lock's file name, in the Maildir's directory.
pub const MAILDROP_LOCK: &str = "postern-pop3.lock";

/// MaildropLock - one POP3 session's exclusive hold on a maildrop;
/// released when dropped (or when the process dies).
#[derive(Debug)]
pub struct MaildropLock {
    /// The locked file; closing it releases the lock.
    _file: Flock<File>,
    /// Its path, for messages.
    path: PathBuf,
}

impl MaildropLock {
    /// try_acquire - lock `maildir`'s maildrop without waiting: None if
    /// another session (in any process, or this one) holds it.
    ///
    /// Creates the lock file (mode 0600; a caller running as root gives
    /// it the Maildir's owner) if missing. The Maildir must exist. A
    /// symbolic link in the lock file's place is [`Error::Symlink`].
    pub fn try_acquire(maildir: &Maildir) -> Result<Option<MaildropLock>, Error> {
        let dir = maildir.open()?;
        let path = maildir.path().join(MAILDROP_LOCK);
        let fd = nix::fcntl::openat(
            &dir,
            MAILDROP_LOCK,
            OFlag::O_RDWR
                | OFlag::O_CREAT
                | OFlag::O_NOFOLLOW
                | OFlag::O_NONBLOCK
                | OFlag::O_CLOEXEC,
            Mode::from_bits_truncate(0o600),
        )
        .map_err(|errno| match errno {
            Errno::ELOOP => Error::Symlink { path: path.clone() },
            _ => errno_err("open", &path)(errno),
        })?;
        let st = fstat(&fd).map_err(errno_err("stat", &path))?;
        if kind(&st) != Kind::File {
            return Err(Error::NotARegularFile { path });
        }
        let dir_st = fstat(&dir).map_err(errno_err("stat", maildir.path()))?;
        if st.st_uid != dir_st.st_uid {
            match_dir_owner(fd.as_fd(), &dir_st, &path)?;
        }
        match Flock::lock(File::from(fd), FlockArg::LockExclusiveNonblock) {
            Ok(file) => Ok(Some(MaildropLock { _file: file, path })),
            Err((_, Errno::EWOULDBLOCK)) => Ok(None),
            Err((_, errno)) => Err(errno_err("lock (flock)", &path)(errno)),
        }
    }

    /// path - the lock file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// pop3_uidl - a message's POP3 unique-id in Dovecot's default format
/// `%08Xu%08Xv`: the UID, then the UIDVALIDITY, each as eight (or more)
/// upper-case hex digits. Clients of a Dovecot host moved to Postern
/// thus see the same UIDLs and do not download everything again.
pub fn pop3_uidl(uid: u32, uidvalidity: u32) -> String {
    format!("{uid:08X}{uidvalidity:08X}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uidls_have_dovecots_default_format() {
        assert_eq!(pop3_uidl(1, 1), "0000000100000001");
        assert_eq!(pop3_uidl(0x2a, 1795461584), "0000002A6B0491D0");
        assert_eq!(pop3_uidl(u32::MAX, 0xabcdef), "FFFFFFFF00ABCDEF");
    }
}
