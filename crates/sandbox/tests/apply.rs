//! Applies real profiles in a subprocess (`postern-sandbox-probe`, a fresh process
//! with one thread) and checks what is still possible: Landlock's `EACCES` outside
//! the profile's paths and for TCP, seccomp's `EPERM` for calls outside the allowlist.

// Test code: panicking on a broken expectation is the point.
#![allow(clippy::unwrap_used, clippy::panic)]

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;

const EACCES: i32 = 13;
const EPERM: i32 = 1;

struct Site {
    _dir: tempfile::TempDir,
    root: PathBuf,
    /// A listener for `connect:PORT`.
    listener: TcpListener,
}

/// A configuration, spool and mail store outside /tmp (which local may write) and
/// outside every other path a profile allows.
fn site() -> Site {
    let dir = tempfile::Builder::new()
        .prefix("sandbox-")
        .tempdir_in(env!("CARGO_TARGET_TMPDIR"))
        .unwrap();
    let root = dir.path().to_path_buf();
    for sub in [
        "etc",
        "spool/incoming",
        "spool/active",
        "spool/private",
        "spool/recycle",
        "mail",
        "outside",
    ] {
        std::fs::create_dir_all(root.join(sub)).unwrap();
    }
    std::fs::write(
        root.join("etc/main.cf"),
        format!(
            "queue_directory = {root}/spool\n\
             virtual_mailbox_base = {root}/mail\n\
             virtual_mailbox_domains = example.org\n\
             virtual_user_maps = passwd-file:$config_directory/users\n\
             alias_maps = hash:$config_directory/aliases\n",
            root = root.display()
        ),
    )
    .unwrap();
    std::fs::write(root.join("etc/master.cf"), "").unwrap();
    std::fs::write(root.join("etc/users"), "").unwrap();
    std::fs::write(root.join("etc/aliases"), "").unwrap();
    std::fs::write(root.join("outside/secret"), "secret").unwrap();
    std::fs::write(root.join("spool/active/QUEUEFILE"), "queue file").unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    Site {
        _dir: dir,
        root,
        listener,
    }
}

impl Site {
    fn path(&self, sub: &str) -> String {
        self.root.join(sub).display().to_string()
    }

    fn port(&self) -> u16 {
        self.listener.local_addr().unwrap().port()
    }

    /// Runs the probe as `daemon` and returns the `sandbox:` line and the result
    /// of each action (`ok` or the error number).
    fn probe(&self, daemon: &str, actions: &[String]) -> (String, Vec<Result<(), i32>>) {
        let output = Command::new(env!("CARGO_BIN_EXE_postern-sandbox-probe"))
            .arg(daemon)
            .arg(self.root.join("etc"))
            .args(actions)
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
        assert!(
            output.status.success(),
            "probe {daemon}: {}\n{stdout}{}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        );
        let mut lines = stdout.lines();
        let sandbox = lines.next().unwrap_or_default().to_owned();
        let results = actions
            .iter()
            .zip(lines)
            .map(|(action, line)| {
                let rest = line.strip_prefix(action.as_str()).unwrap().trim();
                match rest.strip_prefix("err ") {
                    None => Ok(()),
                    Some(n) => Err(n.parse().unwrap()),
                }
            })
            .collect();
        (sandbox, results)
    }
}

/// Runs `cases` (action, expected result with Landlock) as `daemon`. A kernel
/// without Landlock (the probe says `landlock=none`) turns the `EACCES`
/// expectations into `Ok`; whether this kernel has it is checked against
/// /sys/kernel/security/lsm when that is readable. Returns whether Landlock is on.
fn check(site: &Site, daemon: &str, cases: &[(String, Result<(), i32>)]) -> bool {
    let actions: Vec<String> = cases.iter().map(|(a, _)| a.clone()).collect();
    let (sandbox, results) = site.probe(daemon, &actions);
    assert!(sandbox.ends_with(" seccomp=on"), "{daemon}: {sandbox}");
    let landlock = sandbox.starts_with("sandbox: landlock=ABI-");
    assert!(
        landlock || sandbox.starts_with("sandbox: landlock=none"),
        "{daemon}: {sandbox}"
    );
    if let Ok(lsm) = std::fs::read_to_string("/sys/kernel/security/lsm") {
        assert_eq!(
            landlock,
            lsm.contains("landlock"),
            "{daemon}: {sandbox}, LSMs {lsm}"
        );
    }
    for ((action, want), got) in cases.iter().zip(results) {
        let want = match want {
            Err(EACCES) if !landlock => Ok(()),
            other => *other,
        };
        assert_eq!(got, want, "{daemon}: {action}");
    }
    landlock
}

#[test]
fn smtpd_writes_incoming_only_and_runs_nothing() {
    let s = site();
    let cases = [
        (format!("read:{}", s.path("etc/main.cf")), Ok(())),
        (format!("read:{}", s.path("outside/secret")), Err(EACCES)),
        (
            format!("read:{}", s.path("spool/active/QUEUEFILE")),
            Err(EACCES),
        ),
        (format!("write:{}", s.path("spool/incoming/new")), Ok(())),
        (format!("write:{}", s.path("spool/active/new")), Err(EACCES)),
        (format!("write:{}", s.path("outside/new")), Err(EACCES)),
        (format!("write:{}", s.path("mail/new")), Err(EACCES)),
        // socket(AF_INET) is not in the allowlist (Landlock would refuse too).
        (format!("connect:{}", s.port()), Err(EPERM)),
        ("exec:/bin/true".to_owned(), Err(EPERM)),
        ("chroot".to_owned(), Err(EPERM)),
        (format!("chown:{}", s.path("etc/main.cf")), Err(EPERM)),
    ];
    let landlock = check(&s, "smtpd", &cases);
    assert!(Path::new(&s.path("spool/incoming/new")).exists());
    assert_eq!(Path::new(&s.path("outside/new")).exists(), !landlock);
}

#[test]
fn local_runs_commands_and_writes_mailboxes_but_nothing_else() {
    let s = site();
    // local's commands may write below these (homes, /tmp, mail spools): a test
    // directory there cannot show what local may not touch elsewhere.
    let broad = [
        "/tmp",
        "/var/tmp",
        "/home",
        "/root",
        "/var/mail",
        "/var/spool/mail",
    ]
    .iter()
    .any(|root| std::path::Path::new(&s.path("")).starts_with(root));
    let elsewhere = if broad {
        eprintln!(
            "local: the test directory {} is where local's commands may write; not checking what it may not touch",
            s.path("")
        );
        Ok(())
    } else {
        Err(EACCES)
    };
    let cases = [
        (format!("read:{}", s.path("spool/active/QUEUEFILE")), Ok(())),
        (format!("write:{}", s.path("spool/active/new")), elsewhere),
        (format!("write:{}", s.path("mail/new")), Ok(())),
        (format!("write:{}", s.path("outside/new")), elsewhere),
        (format!("read:{}", s.path("outside/secret")), elsewhere),
        ("exec:/bin/true".to_owned(), Ok(())),
        (format!("connect:{}", s.port()), Ok(())),
        ("chroot".to_owned(), Err(EPERM)),
    ];
    check(&s, "local", &cases);
}

#[test]
fn imapd_and_pop3d_see_the_mailboxes_and_not_the_queue() {
    let s = site();
    for daemon in ["imapd", "pop3d"] {
        let cases = [
            (
                format!("read:{}", s.path("spool/active/QUEUEFILE")),
                Err(EACCES),
            ),
            (
                format!("write:{}", s.path(&format!("mail/{daemon}"))),
                Ok(()),
            ),
            (
                format!("write:{}", s.path("spool/incoming/new")),
                Err(EACCES),
            ),
            // socket(AF_INET) is not in the allowlist (Landlock would refuse too).
            (format!("connect:{}", s.port()), Err(EPERM)),
            ("exec:/bin/true".to_owned(), Err(EPERM)),
        ];
        check(&s, daemon, &cases);
    }
}

#[test]
fn smtp_reads_active_and_may_connect() {
    let s = site();
    let cases = [
        (format!("read:{}", s.path("spool/active/QUEUEFILE")), Ok(())),
        (format!("write:{}", s.path("spool/active/new")), Err(EACCES)),
        (format!("connect:{}", s.port()), Ok(())),
        ("read:/etc/hosts".to_owned(), Ok(())),
        ("exec:/bin/true".to_owned(), Err(EPERM)),
    ];
    check(&s, "smtp", &cases);
}
