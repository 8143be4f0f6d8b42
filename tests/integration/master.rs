//! master: services come up, are restarted, throttled, reloaded and stopped.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::time::Duration;

use ipc::control::MasterStatus;
use nix::sys::signal::{Signal, kill};
use nix::unistd::{Pid, Uid};
use testkit::{Instance, TEST_MAIL_OWNER, free_port, wait_until};

use crate::support::{ask_tcp, ask_unix, field, proc_ids, process_exists, testd_inet};

const WAIT: Duration = Duration::from_secs(30);

fn pids_of(status: &MasterStatus, name: &str) -> Vec<u32> {
    status
        .services
        .iter()
        .find(|s| s.name == name)
        .map(|s| s.processes.iter().map(|p| p.pid).collect())
        .unwrap_or_default()
}

fn all_pids(status: &MasterStatus) -> Vec<u32> {
    status
        .services
        .iter()
        .flat_map(|s| s.processes.iter().map(|p| p.pid))
        .collect()
}

#[test]
fn every_configured_service_comes_up() {
    let port = free_port().unwrap();
    let instance = Instance::builder("up")
        .service(&testd_inet(port, 2, ""))
        .service("testsock unix - - n - 1 postern-testd")
        .start()
        .unwrap();
    let status = instance.wait_ready().unwrap();
    assert_eq!(status.services.len(), 2);
    let name = format!("127.0.0.1:{port}");
    let inet_pids = pids_of(&status, &name);
    assert_eq!(inet_pids.len(), 2, "maxproc 2 runs two processes");
    assert_eq!(pids_of(&status, "testsock").len(), 1);

    let answer = ask_tcp(port, "id").unwrap();
    assert_eq!(field(&answer, "service"), Some(name.as_str()));
    let pid: u32 = field(&answer, "pid").unwrap().parse().unwrap();
    assert!(inet_pids.contains(&pid), "{answer} not from {inet_pids:?}");

    let socket = instance.queue_dir().join("private/testsock");
    let answer = ask_unix(&socket, "id").unwrap();
    assert_eq!(field(&answer, "service"), Some("testsock"));
    assert_eq!(ask_unix(&socket, "hello").unwrap(), "hello");
    instance
        .wait_log(WAIT, "started postern-testd pid")
        .unwrap();
}

#[test]
fn killed_child_is_restarted() {
    let port = free_port().unwrap();
    let instance = Instance::builder("restart")
        .service(&testd_inet(port, 1, ""))
        .start()
        .unwrap();
    let name = format!("127.0.0.1:{port}");
    let old = pids_of(&instance.wait_ready().unwrap(), &name);
    assert_eq!(old.len(), 1);
    kill(Pid::from_raw(old[0] as i32), Signal::SIGKILL).unwrap();

    let new = instance
        .wait_status(WAIT, "a new process", |status| {
            let pids = pids_of(status, &name);
            (pids.len() == 1 && pids != old).then_some(pids)
        })
        .unwrap();
    instance
        .wait_log(WAIT, &format!("pid {} killed by signal 9", old[0]))
        .unwrap();
    let answer = ask_tcp(port, "id").unwrap();
    assert_eq!(field(&answer, "pid"), Some(new[0].to_string().as_str()));
    let status = instance.status().unwrap();
    assert_eq!(status.services[0].restarts, 1);
    assert!(status.services[0].throttled_until_unix.is_none());
}

#[test]
fn crashing_service_is_throttled_and_recovers() {
    let port = free_port().unwrap();
    let mut builder = Instance::builder("throttle");
    let flag =
        std::env::temp_dir().join(format!("postern-crash-flag-{}-{port}", std::process::id()));
    builder = builder.service(&testd_inet(
        port,
        1,
        &format!("crash-if-exists={}", flag.display()),
    ));
    let instance = builder.start().unwrap();
    let name = format!("127.0.0.1:{port}");
    let old = pids_of(&instance.wait_ready().unwrap(), &name);

    // From now on every start fails, until the flag goes.
    std::fs::write(&flag, "crash").unwrap();
    kill(Pid::from_raw(old[0] as i32), Signal::SIGKILL).unwrap();
    instance
        .wait_status(WAIT, "the service to be throttled", |status| {
            let service = &status.services[0];
            (service.restarts >= 4 && service.throttled_until_unix.is_some()).then_some(())
        })
        .unwrap();
    instance.wait_log(WAIT, "keeps dying").unwrap();
    // The delays grow: each throttling warning names a delay no shorter than the last.
    let delays: Vec<f64> = instance
        .log()
        .lines()
        .filter(|l| l.contains("keeps dying"))
        .filter_map(|l| {
            l.split("next start in ")
                .nth(1)?
                .trim_end_matches('s')
                .parse()
                .ok()
        })
        .collect();
    assert!(delays.len() >= 2, "{delays:?}");
    assert!(delays.windows(2).all(|w| w[0] <= w[1]), "{delays:?}");
    assert!(delays.last() > delays.first(), "{delays:?}");
    assert!(instance.log().contains("fatal: crash flag"));
    // No process can be asked while it is throttled.
    assert!(
        ask_tcp(port, "id").is_err() || instance.status().unwrap().services[0].processes.len() == 1
    );

    std::fs::remove_file(&flag).unwrap();
    let pids = instance
        .wait_status(WAIT, "the service to recover", |status| {
            let service = &status.services[0];
            (service.processes.len() == 1 && service.throttled_until_unix.is_none())
                .then(|| pids_of(status, &name))
        })
        .unwrap();
    let answer = wait_until(WAIT, "the recovered service to answer", || {
        ask_tcp(port, "id").ok()
    })
    .unwrap();
    assert_eq!(field(&answer, "pid"), Some(pids[0].to_string().as_str()));
}

#[test]
fn reload_adds_and_removes_services_while_serving_unchanged_ones() {
    let (a, b, c) = (
        free_port().unwrap(),
        free_port().unwrap(),
        free_port().unwrap(),
    );
    let instance = Instance::builder("reload")
        .service(&testd_inet(a, 1, ""))
        .service(&testd_inet(b, 1, ""))
        .start()
        .unwrap();
    let a_name = format!("127.0.0.1:{a}");
    let a_pids = pids_of(&instance.wait_ready().unwrap(), &a_name);

    // A client keeps using A through the whole reload.
    let stop = Arc::new(AtomicBool::new(false));
    let (served, failed) = (Arc::new(AtomicU32::new(0)), Arc::new(AtomicU32::new(0)));
    let client = {
        let (stop, served, failed) = (stop.clone(), served.clone(), failed.clone());
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                match ask_tcp(a, "ping") {
                    Ok(answer) if answer == "ping" => served.fetch_add(1, Ordering::Relaxed),
                    _ => failed.fetch_add(1, Ordering::Relaxed),
                };
            }
        })
    };
    wait_until(WAIT, "the client to be served", || {
        (served.load(Ordering::Relaxed) > 0).then_some(())
    })
    .unwrap();

    instance
        .write_master_cf(&format!(
            "{}\n{}",
            testd_inet(a, 1, ""),
            testd_inet(c, 1, "")
        ))
        .unwrap();
    instance.signal_master(Signal::SIGHUP).unwrap();
    let c_name = format!("127.0.0.1:{c}");
    instance
        .wait_status(WAIT, "the reload to take effect", |status| {
            let names: BTreeSet<&str> = status.services.iter().map(|s| s.name.as_str()).collect();
            (names == BTreeSet::from([a_name.as_str(), c_name.as_str()])
                && pids_of(status, &c_name).len() == 1)
                .then_some(())
        })
        .unwrap();
    let before = served.load(Ordering::Relaxed);
    wait_until(WAIT, "more requests after the reload", || {
        (served.load(Ordering::Relaxed) > before + 10).then_some(())
    })
    .unwrap();
    stop.store(true, Ordering::Relaxed);
    client.join().unwrap();
    assert_eq!(
        failed.load(Ordering::Relaxed),
        0,
        "a request to the unchanged service failed"
    );

    let status = instance.status().unwrap();
    assert_eq!(
        pids_of(&status, &a_name),
        a_pids,
        "the unchanged service kept its process"
    );
    assert_eq!(ask_tcp(c, "hello").unwrap(), "hello");
    wait_until(WAIT, "the removed service's port to close", || {
        ask_tcp(b, "id").is_err().then_some(())
    })
    .unwrap();
    instance
        .wait_log(
            WAIT,
            "reload: 1 services unchanged, 1 added, 0 restarted, 1 removed",
        )
        .unwrap();
}

#[test]
fn reload_with_a_broken_configuration_keeps_the_running_one() {
    let port = free_port().unwrap();
    let instance = Instance::builder("badreload")
        .service(&testd_inet(port, 1, ""))
        .start()
        .unwrap();
    let main_cf = std::fs::read_to_string(instance.config_dir().join("main.cf")).unwrap();
    instance
        .write_file("main.cf", &format!("{main_cf}message_size_limit = lots\n"))
        .unwrap();
    instance.signal_master(Signal::SIGHUP).unwrap();
    instance.wait_log(WAIT, "reload refused").unwrap();
    assert!(instance.log().contains("message_size_limit"));
    assert_eq!(ask_tcp(port, "x").unwrap(), "x");
    assert_eq!(instance.status().unwrap().services[0].restarts, 0);
}

#[test]
fn sigterm_leaves_no_child_and_no_pid_file() {
    let port = free_port().unwrap();
    let mut instance = Instance::builder("stop")
        .service(&testd_inet(port, 2, ""))
        .service("testsock unix - - n - 1 postern-testd")
        .start()
        .unwrap();
    let pids = all_pids(&instance.wait_ready().unwrap());
    assert_eq!(pids.len(), 3);
    let pid_file = instance.queue_dir().join("pid/master.pid");
    assert!(pid_file.exists());

    let status = instance.stop().unwrap();
    assert!(status.success(), "master exited with {status}");
    assert!(!pid_file.exists(), "pid file left behind");
    for pid in pids {
        assert!(!process_exists(pid), "child {pid} outlived master");
    }
    instance.wait_log(WAIT, "terminating on signal").unwrap();
}

#[test]
fn second_master_refuses_to_start() {
    let port = free_port().unwrap();
    let instance = Instance::builder("second")
        .service(&testd_inet(port, 1, ""))
        .start()
        .unwrap();
    let mut second = instance
        .master_command()
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let status = wait_until(WAIT, "the second master to exit", || {
        second.try_wait().ok().flatten()
    });
    if status.is_err() {
        let _ = second.kill();
    }
    let status = status.unwrap();
    assert!(!status.success());
    let mut stderr = String::new();
    std::io::Read::read_to_string(second.stderr.as_mut().unwrap(), &mut stderr).unwrap();
    assert!(stderr.contains("already running"), "{stderr}");
    assert!(
        stderr.contains(&format!("master pid {}", instance.master_pid().unwrap())),
        "{stderr}"
    );
    // The first one is untouched.
    assert_eq!(ask_tcp(port, "still").unwrap(), "still");
}

#[test]
fn daemons_run_as_mail_owner_when_master_is_root() {
    if !Uid::effective().is_root() {
        eprintln!("skipped: needs root (CI runs as root)");
        return;
    }
    let owner = testkit::ensure_user(TEST_MAIL_OWNER).unwrap();
    let port = free_port().unwrap();
    let instance = Instance::builder("owner")
        .service(&testd_inet(port, 2, ""))
        .service("testsock unix - - n - 1 postern-testd")
        .start()
        .unwrap();
    let status = instance.wait_ready().unwrap();
    let (uid, gid) = (owner.uid.as_raw(), owner.gid.as_raw());
    for pid in all_pids(&status) {
        // A daemon is root only until its prepare step is done; wait for the drop.
        wait_until(WAIT, "the privilege drop", || {
            (proc_ids(pid, "Uid:") != vec![0; 4]).then_some(())
        })
        .unwrap();
        assert_eq!(proc_ids(pid, "Uid:"), vec![uid; 4], "uids of {pid}");
        assert_eq!(proc_ids(pid, "Gid:"), vec![gid; 4], "gids of {pid}");
        let groups = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
        let groups = groups.lines().find(|l| l.starts_with("Groups:")).unwrap();
        assert_eq!(
            groups.split_whitespace().skip(1).collect::<Vec<_>>(),
            vec![gid.to_string()]
        );
    }
    assert_eq!(
        proc_ids(status.pid, "Uid:"),
        vec![0; 4],
        "master stays root"
    );
    let answer = ask_tcp(port, "id").unwrap();
    assert_eq!(field(&answer, "uid"), Some(format!("{uid},{uid}").as_str()));
    // The queue belongs to mail_owner.
    let meta = std::fs::metadata(instance.queue_dir().join("incoming")).unwrap();
    assert_eq!(std::os::unix::fs::MetadataExt::uid(&meta), uid);
}

#[test]
fn root_mail_owner_is_refused() {
    if !Uid::effective().is_root() {
        eprintln!("skipped: needs root (CI runs as root)");
        return;
    }
    let mut instance = Instance::builder("rootowner")
        .main("mail_owner", "root")
        .create()
        .unwrap();
    instance.start_master().unwrap();
    let status = instance.wait_master_exit(WAIT).unwrap();
    assert_eq!(status.code(), Some(78));
    assert!(
        instance
            .master_stderr()
            .contains("mail_owner root has uid 0"),
        "{}",
        instance.master_stderr()
    );
}

#[test]
fn bad_value_fails_naming_file_line_and_parameter() {
    let mut instance = Instance::builder("badvalue")
        .main("message_size_limit", "10x")
        .create()
        .unwrap();
    let main_cf = instance.config_dir().join("main.cf");
    let line = std::fs::read_to_string(&main_cf)
        .unwrap()
        .lines()
        .position(|l| l.starts_with("message_size_limit"))
        .unwrap()
        + 1;
    instance.start_master().unwrap();
    let status = instance.wait_master_exit(WAIT).unwrap();
    assert_eq!(status.code(), Some(78), "EX_CONFIG");
    let stderr = instance.master_stderr();
    let want = format!("{}:{line}: message_size_limit: ", main_cf.display());
    assert!(stderr.contains(&want), "{want} not in {stderr}");
}

#[test]
fn unknown_parameter_warns_and_starts() {
    let port = free_port().unwrap();
    let instance = Instance::builder("unknown")
        .main("smtpd_banner_typo", "hello")
        .service(&testd_inet(port, 1, ""))
        .start()
        .unwrap();
    let line = instance.wait_log(WAIT, "smtpd_banner_typo").unwrap();
    assert!(line.contains("warning:"), "{line}");
    assert!(line.contains("unknown parameter"), "{line}");
    assert_eq!(ask_tcp(port, "ok").unwrap(), "ok");
}

#[test]
fn reload_restarts_a_changed_service_on_the_same_socket() {
    let port = free_port().unwrap();
    let instance = Instance::builder("changed")
        .service(&testd_inet(port, 1, ""))
        .start()
        .unwrap();
    let name = format!("127.0.0.1:{port}");
    let old = pids_of(&instance.wait_ready().unwrap(), &name);

    instance.write_master_cf(&testd_inet(port, 2, "")).unwrap();
    instance.signal_master(Signal::SIGHUP).unwrap();
    let new = instance
        .wait_status(WAIT, "two new processes", |status| {
            let pids = pids_of(status, &name);
            (pids.len() == 2 && pids.iter().all(|p| !old.contains(p))).then_some(pids)
        })
        .unwrap();
    wait_until(WAIT, "the old process to finish", || {
        (!process_exists(old[0])).then_some(())
    })
    .unwrap();
    let answer = ask_tcp(port, "id").unwrap();
    let pid: u32 = field(&answer, "pid").unwrap().parse().unwrap();
    assert!(new.contains(&pid), "{answer} not from {new:?}");
    instance
        .wait_log(
            WAIT,
            "reload: 0 services unchanged, 0 added, 1 restarted, 0 removed",
        )
        .unwrap();
}

#[test]
fn master_creates_a_self_signed_certificate_when_none_is_configured() {
    use std::os::unix::fs::PermissionsExt;
    let mut instance = Instance::builder("selfsigned").start().unwrap();
    let path = instance.queue_dir().join("tls/self-signed.pem");
    let meta = std::fs::metadata(&path).unwrap();
    assert_eq!(meta.permissions().mode() & 0o777, 0o600);
    let pem = std::fs::read_to_string(&path).unwrap();
    assert!(pem.contains("BEGIN CERTIFICATE") && pem.contains("PRIVATE KEY"));
    instance
        .wait_log(
            WAIT,
            "created a self-signed certificate for mx.test.example",
        )
        .unwrap();

    // A second start keeps it.
    instance.stop().unwrap();
    instance.start_master().unwrap();
    instance.wait_ready().unwrap();
    assert_eq!(std::fs::read_to_string(&path).unwrap(), pem);
    assert_eq!(
        instance
            .log()
            .matches("created a self-signed certificate")
            .count(),
        1
    );
}
