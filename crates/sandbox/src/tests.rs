//! Checks of the profiles themselves (what they allow); applying them is tested in
//! a subprocess by `tests/apply.rs`, since it cannot be undone.

use std::path::Path;

use super::*;
use crate::syscalls::{DENIED, EXEC};

const DAEMONS: [&str; 7] = ["smtpd", "qmgr", "local", "smtp", "pickup", "pop3d", "imapd"];

fn params() -> config::Params {
    let main_cf = "queue_directory = /var/spool/postern\n\
                   virtual_mailbox_base = /var/vmail\n\
                   virtual_mailbox_domains = example.org\n";
    config::Config::parse(Path::new("/etc/postern"), main_cf, "")
        .unwrap()
        .params
}

fn names(profile: &Profile) -> Vec<&'static str> {
    profile.calls().iter().map(|c| c.name()).collect()
}

#[test]
fn every_daemon_has_a_profile_that_compiles() {
    let params = params();
    for daemon in DAEMONS {
        let profile = for_daemon(daemon, &params).unwrap();
        assert_eq!(profile.daemon, daemon);
        seccomp::compile(&profile).unwrap_or_else(|e| panic!("{daemon}: {e}"));
    }
    assert!(for_daemon("testd", &params).is_none());
}

#[test]
fn no_profile_allows_a_denied_call() {
    let params = params();
    for daemon in DAEMONS {
        let profile = for_daemon(daemon, &params).unwrap();
        let allowed = names(&profile);
        for call in DENIED {
            assert!(
                !allowed.contains(&call.name()),
                "{daemon} allows {}",
                call.name()
            );
        }
        for call in EXEC {
            assert_eq!(
                allowed.contains(&call.name()),
                daemon == "local",
                "{daemon} and {}",
                call.name()
            );
        }
    }
}

#[test]
fn a_profile_allowing_a_denied_call_is_refused() {
    let mut profile = smtpd(&params());
    profile.groups.push(&syscalls::PROCESS);
    assert!(matches!(
        seccomp::compile(&profile),
        Err(Error::Denied { call: "execve", .. })
    ));
}

#[test]
fn runtime_limits_prctl_and_ioctl_but_commands_do_not() {
    use crate::syscalls::Only;
    let params = params();
    let find = |profile: &Profile, name: &str| {
        profile
            .calls()
            .into_iter()
            .filter(|c| c.name() == name)
            .map(|c| c.only)
            .collect::<Vec<_>>()
    };
    for name in ["prctl", "ioctl", "clone", "socketpair"] {
        let smtpd = find(&smtpd(&params), name);
        assert!(
            !smtpd.is_empty() && !smtpd.contains(&Only::Any),
            "smtpd {name}: {smtpd:?}"
        );
    }
    for name in ["prctl", "ioctl", "clone"] {
        assert_eq!(find(&local(&params), name), [Only::Any], "local {name}");
    }
    // Two different restrictions on socket (AF_UNIX, AF_INET) are both kept.
    assert_eq!(find(&smtp(&params), "socket").len(), 2);
}

#[test]
fn only_network_daemons_may_use_tcp() {
    let params = params();
    for daemon in DAEMONS {
        let profile = for_daemon(daemon, &params).unwrap();
        let want = if matches!(daemon, "smtp" | "local") {
            Tcp::Unrestricted
        } else {
            Tcp::Denied
        };
        assert_eq!(profile.tcp, want, "{daemon}");
    }
}

#[test]
fn queue_directories_follow_the_daemons_jobs() {
    let params = params();
    let access = |profile: &Profile, dir: &str| {
        let path = params.queue_directory.join(dir);
        profile
            .paths
            .iter()
            .find(|r| r.path == path)
            .map(|r| r.access)
    };
    assert_eq!(access(&smtpd(&params), "incoming"), Some(Access::ReadWrite));
    assert_eq!(access(&smtpd(&params), "active"), None);
    assert_eq!(access(&local(&params), "active"), Some(Access::Modify));
    assert_eq!(access(&smtp(&params), "active"), Some(Access::Modify));
    assert_eq!(access(&smtp(&params), "incoming"), None);
    assert_eq!(access(&pop3d(&params), "active"), None);
    assert_eq!(access(&qmgr(&params), "deferred"), Some(Access::ReadWrite));
    let base = |profile: &Profile| {
        profile
            .paths
            .iter()
            .find(|r| r.path == Path::new("/var/vmail"))
            .map(|r| r.access)
    };
    assert_eq!(base(&imapd(&params)), Some(Access::ReadWrite));
    assert_eq!(base(&smtpd(&params)), None);
}

#[test]
fn applied_renders_the_log_line() {
    let on = Applied {
        landlock: Some(6),
        landlock_partial: false,
        missing: Vec::new(),
    };
    assert_eq!(on.to_string(), "landlock=ABI-6 seccomp=on");
    let off = Applied {
        landlock: None,
        ..on
    };
    assert_eq!(off.to_string(), "landlock=none seccomp=on");
}
