//! The system call groups profiles are built from, and the calls no daemon may make.
//!
//! Each group was taken from what the daemons really call (the integration suite run
//! with every daemon under `strace -f`, counting only what happens after the
//! privilege drop), plus a reviewed margin of calls that the same code paths make
//! under other conditions: `std::io::copy` uses `copy_file_range`, `sendfile` or
//! `splice` depending on the file types, glibc falls back from `clone3` to `clone`
//! and from `epoll_pwait2` to `epoll_pwait`, and so on. A call missing from a group
//! fails with `EPERM` (the filter's default action), so a gap shows up as an error
//! in the log rather than as a dead daemon.
//!
//! Names are the kernel's (`libc::SYS_*`). The calls that only exist on x86_64
//! (`open`, `rename`, `epoll_wait`, ...) are in each group's `calls_x86`, since glibc
//! and std still use some of them there.

/// Which arguments a call is allowed with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Only {
    /// Any arguments.
    Any,
    /// Argument `index` (compared as 32 bits) is one of `values`.
    ArgIn {
        /// The argument's position (0 is the first).
        index: u8,
        /// The values allowed.
        values: &'static [u64],
    },
    /// Argument `index` (64 bits) has all the bits of `bits` set.
    ArgHasBits {
        /// The argument's position.
        index: u8,
        /// The bits that must be set.
        bits: u64,
    },
}

/// One system call with the arguments it is allowed with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Call {
    /// The name as in `libc` (`SYS_read`).
    pub sys: &'static str,
    /// The number on this architecture.
    pub nr: i64,
    /// The argument restriction.
    pub only: Only,
}

impl Call {
    /// The kernel's name (`read`).
    pub fn name(&self) -> &'static str {
        self.sys.trim_start_matches("SYS_")
    }
}

/// A named set of system calls that belong together, and why a daemon needs them.
#[derive(Debug)]
pub struct Group {
    /// A short name used in the documentation (`runtime`, `files-write`).
    pub name: &'static str,
    /// Why the calls are needed.
    pub why: &'static str,
    /// Calls allowed with any arguments.
    calls: &'static [Call],
    /// Calls allowed with some arguments only.
    limited: &'static [Call],
    /// Calls that exist on x86_64 only (empty elsewhere).
    calls_x86: &'static [Call],
}

impl Group {
    /// Every call of the group on this architecture.
    pub(crate) fn all(&self) -> impl Iterator<Item = &'static Call> {
        self.calls.iter().chain(self.limited).chain(self.calls_x86)
    }
}

macro_rules! calls {
    ($($sys:ident),* $(,)?) => {
        &[$(Call {
            sys: stringify!($sys),
            nr: libc::$sys as i64,
            only: Only::Any,
        }),*]
    };
}

#[cfg(target_arch = "x86_64")]
macro_rules! calls_x86 {
    ($($sys:ident),* $(,)?) => { calls!($($sys),*) };
}

#[cfg(not(target_arch = "x86_64"))]
macro_rules! calls_x86 {
    ($($sys:ident),* $(,)?) => {
        &[]
    };
}

macro_rules! limited {
    ($sys:ident, arg $index:literal in $values:expr) => {
        Call {
            sys: stringify!($sys),
            nr: libc::$sys as i64,
            only: Only::ArgIn {
                index: $index,
                values: $values,
            },
        }
    };
    ($sys:ident, arg $index:literal has $bits:expr) => {
        Call {
            sys: stringify!($sys),
            nr: libc::$sys as i64,
            only: Only::ArgHasBits {
                index: $index,
                bits: $bits,
            },
        }
    };
}

/// `prctl` options the runtime uses: thread names (tokio), the parent-death signal
/// (service), naming anonymous mappings (glibc's malloc), and the capability bound
/// check libcap makes when an NSS module loads it. Everything else (`PR_SET_MM`,
/// `PR_SET_DUMPABLE`, `PR_SET_SECCOMP`, ...) is refused.
const PRCTL_OPTIONS: &[u64] = &[
    libc::PR_SET_NAME as u64,
    libc::PR_GET_NAME as u64,
    libc::PR_SET_PDEATHSIG as u64,
    libc::PR_GET_PDEATHSIG as u64,
    libc::PR_SET_VMA as u64,
    libc::PR_CAPBSET_READ as u64,
    libc::PR_GET_DUMPABLE as u64,
];

/// `ioctl` requests on descriptors: non-blocking mode (tokio), close-on-exec, bytes
/// readable, and the terminal check `isatty` makes. No device ioctl.
// The request type is `c_ulong` with glibc but `c_int` with musl: keep the casts.
#[allow(clippy::unnecessary_cast)]
const IOCTL_REQUESTS: &[u64] = &[
    libc::FIONBIO as u64,
    libc::FIOCLEX as u64,
    libc::FIONCLEX as u64,
    libc::FIONREAD as u64,
    libc::TCGETS as u64,
];

/// Socket families a daemon that only talks to its peers on this host may create.
const AF_UNIX_ONLY: &[u64] = &[libc::AF_UNIX as u64];
/// Socket families for network clients.
const AF_INET_ANY: &[u64] = &[libc::AF_INET as u64, libc::AF_INET6 as u64];

/// Memory, threads, signals, time, randomness, descriptors and the event loop: what
/// a tokio daemon calls whatever it does.
pub static RUNTIME: Group = Group {
    name: "runtime",
    why: "memory, threads (clone only with CLONE_THREAD), signals, clocks, getrandom, \
          read/write on open descriptors, fstat, epoll and eventfd (tokio), socketpair \
          (tokio's signal pipe), prctl (thread names, parent-death signal) and ioctl \
          (FIONBIO, FIOCLEX) with those arguments only",
    calls: calls!(
        SYS_brk,
        SYS_mmap,
        SYS_munmap,
        SYS_mprotect,
        SYS_mremap,
        SYS_madvise,
        SYS_futex,
        SYS_set_robust_list,
        SYS_get_robust_list,
        SYS_rseq,
        SYS_clone3,
        SYS_exit,
        SYS_exit_group,
        SYS_gettid,
        SYS_getpid,
        SYS_getppid,
        SYS_sched_yield,
        SYS_sched_getaffinity,
        SYS_rt_sigaction,
        SYS_rt_sigprocmask,
        SYS_rt_sigreturn,
        SYS_sigaltstack,
        SYS_tgkill,
        SYS_restart_syscall,
        SYS_clock_gettime,
        SYS_clock_getres,
        SYS_clock_nanosleep,
        SYS_nanosleep,
        SYS_gettimeofday,
        SYS_getrandom,
        SYS_uname,
        SYS_sysinfo,
        SYS_getuid,
        SYS_geteuid,
        SYS_getgid,
        SYS_getegid,
        SYS_getresuid,
        SYS_getresgid,
        SYS_getgroups,
        SYS_prlimit64,
        SYS_getrlimit,
        SYS_epoll_create1,
        SYS_epoll_ctl,
        SYS_epoll_pwait,
        SYS_epoll_pwait2,
        SYS_eventfd2,
        SYS_ppoll,
        SYS_pipe2,
        SYS_read,
        SYS_write,
        SYS_readv,
        SYS_writev,
        SYS_pread64,
        SYS_pwrite64,
        SYS_preadv,
        SYS_pwritev,
        SYS_lseek,
        SYS_close,
        SYS_fcntl,
        SYS_dup,
        SYS_dup3,
        SYS_fstat,
        SYS_newfstatat,
        SYS_statx,
    ),
    limited: &[
        limited!(SYS_clone, arg 0 has libc::CLONE_THREAD as u64),
        limited!(SYS_prctl, arg 0 in PRCTL_OPTIONS),
        limited!(SYS_ioctl, arg 1 in IOCTL_REQUESTS),
        limited!(SYS_socketpair, arg 0 in AF_UNIX_ONLY),
    ],
    calls_x86: calls_x86!(SYS_epoll_wait, SYS_poll, SYS_dup2, SYS_time),
};

/// Opening and reading files and directories.
pub static FILES_READ: Group = Group {
    name: "files-read",
    why: "open, list, stat and read files (configuration, queue files, Maildirs, /etc \
          for NSS and DNS), flock, statfs; where is decided by the Landlock ruleset",
    calls: calls!(
        SYS_openat,
        SYS_getdents64,
        SYS_readlinkat,
        SYS_faccessat,
        SYS_faccessat2,
        SYS_fadvise64,
        SYS_flock,
        SYS_statfs,
        SYS_fstatfs,
        SYS_getcwd,
    ),
    limited: &[],
    calls_x86: calls_x86!(SYS_open, SYS_stat, SYS_lstat, SYS_access, SYS_readlink),
};

/// Creating, renaming, syncing and removing files and directories.
pub static FILES_WRITE: Group = Group {
    name: "files-write",
    why: "durable writes (tmp, fsync, rename, directory fsync) of queue files and \
          Maildir messages, Maildir folders, flags and UID lists; std::io::copy's \
          copy_file_range/sendfile/splice",
    calls: calls!(
        SYS_mkdirat,
        SYS_unlinkat,
        SYS_renameat,
        SYS_renameat2,
        SYS_linkat,
        SYS_fsync,
        SYS_fdatasync,
        SYS_sync_file_range,
        SYS_ftruncate,
        SYS_truncate,
        SYS_fallocate,
        SYS_fchmod,
        SYS_fchmodat,
        SYS_utimensat,
        SYS_copy_file_range,
        SYS_sendfile,
        SYS_splice,
    ),
    limited: &[],
    calls_x86: calls_x86!(
        SYS_mkdir, SYS_rmdir, SYS_rename, SYS_unlink, SYS_link, SYS_chmod, SYS_creat, SYS_utimes,
    ),
};

/// Watching Maildirs for new mail.
pub static INOTIFY: Group = Group {
    name: "inotify",
    why: "IMAP IDLE notices new mail with inotify",
    calls: calls!(
        SYS_inotify_init1,
        SYS_inotify_add_watch,
        SYS_inotify_rm_watch
    ),
    limited: &[],
    calls_x86: calls_x86!(SYS_inotify_init),
};

/// Serving connections on the listening sockets master passed.
pub static SERVE: Group = Group {
    name: "serve",
    why: "accept on the inherited listeners, socket options, send/receive, shutdown",
    calls: calls!(
        SYS_accept4,
        SYS_getsockname,
        SYS_getpeername,
        SYS_setsockopt,
        SYS_getsockopt,
        SYS_recvfrom,
        SYS_sendto,
        SYS_recvmsg,
        SYS_sendmsg,
        SYS_shutdown,
    ),
    limited: &[],
    calls_x86: calls_x86!(SYS_accept),
};

/// Connecting to other daemons' Unix sockets (and to NSS daemons).
pub static IPC_CLIENT: Group = Group {
    name: "ipc-client",
    why: "Unix sockets only: connect to private/qmgr, private/local, ...; glibc's NSS \
          asks nscd and systemd-userdb over Unix sockets too",
    calls: calls!(SYS_connect),
    limited: &[limited!(SYS_socket, arg 0 in AF_UNIX_ONLY)],
    calls_x86: &[],
};

/// Talking to other hosts: SMTP servers and DNS.
pub static NET_CLIENT: Group = Group {
    name: "net-client",
    why: "IPv4/IPv6 sockets: TCP connections to mail exchangers and relayhost, UDP and \
          TCP to DNS servers (the resolver binds its UDP sockets to random ports)",
    calls: calls!(SYS_connect, SYS_bind, SYS_sendmmsg, SYS_recvmmsg),
    limited: &[limited!(SYS_socket, arg 0 in AF_INET_ANY)],
    calls_x86: &[],
};

/// Starting processes: local's delivery children and `|command` deliveries.
pub static PROCESS: Group = Group {
    name: "process",
    why: "fork and exec (local re-executes itself as the recipient, and runs \
          |commands with /bin/sh), switching to the recipient's or default_privs' \
          IDs in the child, waiting for and killing children (command_time_limit)",
    calls: calls!(
        SYS_clone,
        SYS_execve,
        SYS_execveat,
        SYS_wait4,
        SYS_waitid,
        SYS_kill,
        SYS_tkill,
        SYS_setuid,
        SYS_setgid,
        SYS_setgroups,
        SYS_setresuid,
        SYS_setresgid,
        SYS_setreuid,
        SYS_setregid,
        SYS_setfsuid,
        SYS_setfsgid,
        SYS_chdir,
        SYS_fchdir,
        SYS_setsid,
        SYS_setpgid,
        SYS_getpgid,
        SYS_getsid,
        SYS_umask,
        SYS_close_range,
        SYS_pidfd_open,
        SYS_pidfd_send_signal,
        SYS_set_tid_address,
    ),
    limited: &[],
    calls_x86: calls_x86!(SYS_fork, SYS_vfork, SYS_getpgrp, SYS_arch_prctl),
};

/// What the programs local's `|command` deliveries start commonly call. The filter
/// is inherited across exec, so a command runs under local's filter.
pub static COMMANDS: Group = Group {
    name: "commands",
    why: "the shell and ordinary programs run by |command deliveries: any ioctl, \
          prctl and socket family, symlinks, ownership and extended attributes \
          (cp -p), timers, priorities, select",
    calls: calls!(
        SYS_ioctl,
        SYS_prctl,
        SYS_socket,
        SYS_socketpair,
        SYS_connect,
        SYS_bind,
        SYS_listen,
        SYS_symlinkat,
        SYS_fchown,
        SYS_fchownat,
        SYS_getxattr,
        SYS_lgetxattr,
        SYS_fgetxattr,
        SYS_listxattr,
        SYS_llistxattr,
        SYS_flistxattr,
        SYS_setxattr,
        SYS_lsetxattr,
        SYS_fsetxattr,
        SYS_removexattr,
        SYS_fremovexattr,
        SYS_capget,
        SYS_times,
        SYS_getrusage,
        SYS_setitimer,
        SYS_getitimer,
        SYS_rt_sigsuspend,
        SYS_rt_sigtimedwait,
        SYS_rt_sigqueueinfo,
        SYS_pselect6,
        SYS_timerfd_create,
        SYS_timerfd_settime,
        SYS_timerfd_gettime,
        SYS_signalfd4,
        SYS_getpriority,
        SYS_setpriority,
        SYS_ioprio_get,
        SYS_ioprio_set,
        SYS_msync,
        SYS_mincore,
        SYS_membarrier,
        SYS_sync,
        SYS_syncfs,
        SYS_readahead,
        SYS_memfd_create,
        SYS_getcpu,
        SYS_sched_getparam,
        SYS_sched_getscheduler,
        SYS_mlock,
        SYS_munlock,
        SYS_futex_waitv,
        SYS_epoll_create1,
        SYS_setrlimit,
    ),
    limited: &[],
    calls_x86: calls_x86!(
        SYS_symlink,
        SYS_chown,
        SYS_lchown,
        SYS_alarm,
        SYS_pause,
        SYS_select,
        SYS_epoll_create,
        SYS_pipe,
        SYS_eventfd,
        SYS_signalfd,
        SYS_getdents,
    ),
};

/// The calls no daemon may make, whatever its groups say (execve and execveat are
/// added for every daemon but local). They would let a compromised daemon leave its
/// sandbox or reach into the kernel: debugging other processes, mounting, loading
/// code into the kernel, namespaces, keyrings, io_uring (which would run file and
/// socket operations past this filter).
pub(crate) static DENIED: &[Call] = calls!(
    SYS_ptrace,
    SYS_mount,
    SYS_umount2,
    SYS_kexec_load,
    SYS_kexec_file_load,
    SYS_init_module,
    SYS_finit_module,
    SYS_delete_module,
    SYS_bpf,
    SYS_perf_event_open,
    SYS_keyctl,
    SYS_add_key,
    SYS_request_key,
    SYS_unshare,
    SYS_setns,
    SYS_personality,
    SYS_swapon,
    SYS_swapoff,
    SYS_reboot,
    SYS_open_by_handle_at,
    SYS_name_to_handle_at,
    SYS_userfaultfd,
    SYS_process_vm_readv,
    SYS_process_vm_writev,
    SYS_pivot_root,
    SYS_chroot,
    SYS_acct,
    SYS_quotactl,
    SYS_syslog,
    SYS_settimeofday,
    SYS_clock_settime,
    SYS_clock_adjtime,
    SYS_adjtimex,
    SYS_sethostname,
    SYS_setdomainname,
    SYS_fsopen,
    SYS_fsmount,
    SYS_fsconfig,
    SYS_fspick,
    SYS_move_mount,
    SYS_open_tree,
    SYS_mount_setattr,
    SYS_kcmp,
    SYS_process_madvise,
    SYS_pidfd_getfd,
    SYS_seccomp,
    SYS_io_uring_setup,
    SYS_io_uring_enter,
    SYS_io_uring_register,
    SYS_vhangup,
    SYS_lookup_dcookie,
);

/// The x86_64-only calls denied to every daemon.
pub(crate) static DENIED_X86: &[Call] = calls_x86!(SYS_iopl, SYS_ioperm, SYS_uselib);

/// Denied to every daemon but local (which runs commands).
pub(crate) static EXEC: &[Call] = calls!(SYS_execve, SYS_execveat);
