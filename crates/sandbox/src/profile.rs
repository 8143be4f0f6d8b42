//! What each daemon may touch: one function per daemon builds its [`Profile`] from
//! the configuration. The crate documentation sums the profiles up.

use std::path::{Path, PathBuf};

use config::Params;

use crate::paths;
use crate::syscalls::{
    COMMANDS, FILES_READ, FILES_WRITE, Group, INOTIFY, IPC_CLIENT, NET_CLIENT, PROCESS, RUNTIME,
    SERVE,
};

/// What a daemon may do below one path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Open files for reading and list directories.
    Read,
    /// [`Access::Read`] and execute programs.
    Execute,
    /// [`Access::Read`] and open existing files for writing, but create, rename
    /// and remove nothing: the spool opens queue files read-write even for
    /// daemons that only read them (smtp, local, pickup's queue listing).
    Modify,
    /// [`Access::Read`], write, create, remove, rename and link files and
    /// directories (across the directories granted so), truncate. No execution, no
    /// device files. Symbolic links, FIFOs and sockets are included because Landlock
    /// checks the right to make one also when one is renamed: qmgr must be able to
    /// move such a file, dropped into a queue by someone else, to `corrupt/`.
    ReadWrite,
    /// Everything Landlock handles but making device nodes, execution included
    /// (local's command deliveries).
    Full,
    /// A device file such as `/dev/null`: read, write, truncate.
    Device,
}

/// One Landlock rule: a file hierarchy and what is allowed below it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathRule {
    /// The file or directory (the rule covers everything below a directory).
    pub path: PathBuf,
    /// What is allowed.
    pub access: Access,
}

/// TCP through Landlock (ABI 4 and later); UDP and Unix sockets are not concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tcp {
    /// No TCP `bind` nor `connect` (listeners come from master, already bound).
    Denied,
    /// Not restricted: the daemon connects to mail exchangers and DNS servers on
    /// ports only known at run time, or runs commands that may.
    Unrestricted,
}

/// A daemon's sandbox: its Landlock rules and its seccomp allowlist.
#[derive(Debug, Clone)]
pub struct Profile {
    /// The daemon (`smtpd`), for messages.
    pub daemon: &'static str,
    /// File hierarchies the daemon may use; any other path is refused (`EACCES`).
    pub paths: Vec<PathRule>,
    /// Whether TCP `bind`/`connect` are refused.
    pub tcp: Tcp,
    /// The system call groups allowed; any other call fails with `EPERM`.
    pub groups: Vec<&'static Group>,
    /// Whether `execve`/`execveat` are allowed (local only).
    pub exec: bool,
}

impl Profile {
    fn new(daemon: &'static str, params: &Params) -> Self {
        let mut profile = Profile {
            daemon,
            paths: Vec::new(),
            tcp: Tcp::Denied,
            groups: vec![&RUNTIME, &FILES_READ],
            exec: false,
        };
        profile.add_common(params);
        profile
    }

    /// Adds `path` with `access`.
    pub fn allow(&mut self, path: impl Into<PathBuf>, access: Access) -> &mut Self {
        self.paths.push(PathRule {
            path: path.into(),
            access,
        });
        self
    }

    fn allow_all<I, P>(&mut self, paths: I, access: Access) -> &mut Self
    where
        I: IntoIterator<Item = P>,
        P: Into<PathBuf>,
    {
        for path in paths {
            self.allow(path, access);
        }
        self
    }

    /// What every daemon reads after the drop: its configuration and the files it
    /// names, /etc (NSS, DNS and TLS trust files are replaced by rename, so the rule
    /// must be on the directory; secrets in it are protected by their modes since
    /// the daemon is not root), shared libraries (NSS modules are loaded on the
    /// first lookup), what tokio reads to size its thread pool, and the random and
    /// null devices.
    fn add_common(&mut self, params: &Params) {
        self.allow(&params.config_directory, Access::Read);
        self.allow_all(paths::map_file_dirs(params), Access::Read);
        self.allow_all(paths::alias_include_dirs(params), Access::Read);
        self.allow_all(["/etc", "/usr", "/lib", "/lib64", "/lib32"], Access::Read);
        self.allow_all(
            [
                "/proc/self",
                "/sys/fs/cgroup",
                "/sys/devices/system/cpu",
                "/dev/urandom",
                "/dev/random",
            ],
            Access::Read,
        );
        self.allow("/dev/null", Access::Device);
    }

    fn queue(&mut self, params: &Params, dirs: &[&str], access: Access) -> &mut Self {
        for dir in dirs {
            self.allow(params.queue_directory.join(dir), access);
        }
        self
    }

    /// Every call this profile allows, with its argument restriction merged over the
    /// groups (a group that allows any arguments wins).
    pub(crate) fn calls(&self) -> Vec<crate::syscalls::Call> {
        use crate::syscalls::Only;
        let mut calls: Vec<crate::syscalls::Call> = Vec::new();
        for call in self.groups.iter().flat_map(|g| g.all()) {
            match calls.iter_mut().find(|c| c.nr == call.nr) {
                None => calls.push(*call),
                Some(have) => {
                    if call.only == Only::Any {
                        have.only = Only::Any;
                    } else if have.only != Only::Any && have.only != call.only {
                        // Two different restrictions on one call: allow either by
                        // keeping both as separate entries.
                        calls.push(*call);
                    }
                }
            }
        }
        // An unrestricted entry makes the restricted duplicates pointless.
        let any: Vec<i64> = calls
            .iter()
            .filter(|c| c.only == Only::Any)
            .map(|c| c.nr)
            .collect();
        calls.retain(|c| c.only == Only::Any || !any.contains(&c.nr));
        calls
    }
}

/// The profile of the daemon named `daemon` (the program name, `Service::NAME`), or
/// `None` for a program that has none (test services).
pub fn for_daemon(daemon: &str, params: &Params) -> Option<Profile> {
    Some(match daemon {
        "smtpd" => smtpd(params),
        "qmgr" => qmgr(params),
        "local" => local(params),
        "smtp" => smtp(params),
        "pickup" => pickup(params),
        "pop3d" => pop3d(params),
        "imapd" => imapd(params),
        _ => return None,
    })
}

/// smtpd writes new queue files into `incoming/` (taking files from `recycle/`),
/// nudges qmgr over `private/`, and resolves recipients (users and aliases files,
/// the password database for local domains).
pub fn smtpd(params: &Params) -> Profile {
    let mut p = Profile::new("smtpd", params);
    p.queue(params, &["incoming", "recycle"], Access::ReadWrite)
        .queue(params, &["private"], Access::Read);
    p.groups.extend([&FILES_WRITE, &SERVE, &IPC_CLIENT]);
    p
}

/// qmgr moves queue files between every queue, quarantines damaged ones, writes
/// bounces into `incoming/`, holds its lock file in `private/`, and talks to local
/// and smtp over `private/`.
pub fn qmgr(params: &Params) -> Profile {
    let mut p = Profile::new("qmgr", params);
    p.queue(
        params,
        &[
            "incoming", "active", "deferred", "hold", "corrupt", "recycle",
        ],
        Access::ReadWrite,
    )
    // private/qmgr.lock: only one qmgr runs.
    .queue(params, &["private"], Access::ReadWrite)
    .queue(params, &["maildrop"], Access::Read);
    p.groups.extend([&FILES_WRITE, &SERVE, &IPC_CLIENT]);
    p
}

/// local reads queue files in `active/` (the spool opens them read-write), writes
/// Maildirs (virtual mailbox base, system users' homes) and `/file` deliveries, and
/// runs `|command` deliveries and its own `--deliver` child; both inherit this
/// sandbox.
pub fn local(params: &Params) -> Profile {
    let mut p = Profile::new("local", params);
    p.queue(params, &["active"], Access::Modify)
        .queue(params, &["private"], Access::Read);
    p.allow(&params.virtual_mailbox_base, Access::ReadWrite);
    // XXX: system users' Maildirs are HOME/Maildir, and a |command may keep files
    // in its home, so whole home directories are writable (those in /etc/passwd when
    // local starts, and /home); a user added later with a home elsewhere needs a
    // restart of local. Limiting this to HOME/Maildir would need the Maildirs to
    // exist before local starts.
    p.allow_all(paths::home_dirs(), Access::Full);
    p.allow_all(
        ["/home", "/tmp", "/var/tmp", "/var/mail", "/var/spool/mail"],
        Access::Full,
    );
    p.allow_all(paths::alias_file_target_dirs(params), Access::ReadWrite);
    // Commands: the shell and the programs a command runs, and local itself.
    p.allow_all(
        ["/bin", "/sbin", "/usr", "/lib", "/lib64", "/lib32", "/opt"],
        Access::Execute,
    );
    p.allow_all(paths::own_directory(), Access::Execute);
    p.tcp = Tcp::Unrestricted;
    p.groups.extend([
        &FILES_WRITE,
        &SERVE,
        &IPC_CLIENT,
        &NET_CLIENT,
        &INOTIFY,
        &PROCESS,
        &COMMANDS,
    ]);
    p.exec = true;
    p
}

/// smtp reads queue files in `active/` (the spool opens them read-write) and the
/// trust anchors, and connects to mail exchangers and DNS servers.
pub fn smtp(params: &Params) -> Profile {
    let mut p = Profile::new("smtp", params);
    p.queue(params, &["active"], Access::Modify)
        .queue(params, &["private"], Access::Read);
    p.allow_all(
        params.smtp_tls_CAfile.as_deref().and_then(Path::parent),
        Access::Read,
    );
    p.allow_all(
        paths::value_file_dir(params, &params.smtp_sasl_password_maps),
        Access::Read,
    );
    p.tcp = Tcp::Unrestricted;
    p.groups.extend([&SERVE, &IPC_CLIENT, &NET_CLIENT]);
    p
}

/// pickup turns `maildrop/` files and `public/pickup` submissions into queue files
/// in `incoming/`, and lists the queues for `mailq` (the spool opens queue files
/// read-write).
pub fn pickup(params: &Params) -> Profile {
    let mut p = Profile::new("pickup", params);
    p.queue(
        params,
        &["maildrop", "incoming", "recycle"],
        Access::ReadWrite,
    )
    .queue(params, &["active", "deferred", "hold"], Access::Modify)
    .queue(params, &["private"], Access::Read);
    p.allow_all(
        paths::value_file_dir(params, &params.local_login_sender_maps),
        Access::Read,
    );
    p.groups.extend([&FILES_WRITE, &SERVE, &IPC_CLIENT]);
    p
}

/// pop3d reads and changes (deletes, marks seen) virtual users' Maildirs.
pub fn pop3d(params: &Params) -> Profile {
    let mut p = Profile::new("pop3d", params);
    p.allow(&params.virtual_mailbox_base, Access::ReadWrite);
    p.groups.extend([&FILES_WRITE, &SERVE]);
    p
}

/// imapd reads and changes virtual users' Maildirs (folders, flags, UID lists) and
/// watches them with inotify for IDLE.
pub fn imapd(params: &Params) -> Profile {
    let mut p = Profile::new("imapd", params);
    p.allow(&params.virtual_mailbox_base, Access::ReadWrite);
    p.groups.extend([&FILES_WRITE, &SERVE, &INOTIFY]);
    p
}
