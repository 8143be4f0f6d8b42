//! postern: start, status, reload, stop and config, as an admin types them.

use std::time::Duration;

use testkit::{Instance, free_port, wait_until};

use crate::support::{ask_tcp, testd_inet};

fn text(output: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// Stops a master that `postern start` put in the background, even when a test fails.
struct StopOnDrop<'a>(&'a Instance);

impl Drop for StopOnDrop<'_> {
    fn drop(&mut self) {
        let _ = self.0.postern(&["stop"]);
    }
}

#[test]
fn start_status_reload_stop() {
    let port = free_port().unwrap();
    let instance = Instance::builder("cli")
        .service(&testd_inet(port, 1, ""))
        .create()
        .unwrap();
    let _guard = StopOnDrop(&instance);

    let output = instance.postern(&["status"]).unwrap();
    assert_eq!(output.status.code(), Some(1), "{}", text(&output));
    assert!(text(&output).contains("not running"));

    let output = instance.postern(&["start"]).unwrap();
    assert!(output.status.success(), "{}", text(&output));
    assert!(text(&output).contains("is running"));
    let output = instance.postern(&["start"]).unwrap();
    assert_eq!(output.status.code(), Some(1));
    assert!(
        text(&output).contains("already running"),
        "{}",
        text(&output)
    );

    let name = format!("127.0.0.1:{port}");
    let status = wait_until(
        Duration::from_secs(30),
        "status to show the service running",
        || {
            let output = instance.postern(&["status"]).ok()?;
            let out = text(&output);
            out.lines()
                .any(|l| l.starts_with(&name) && l.ends_with("running"))
                .then_some(out)
        },
    )
    .unwrap();
    assert!(status.contains("SERVICE"), "{status}");
    assert!(status.contains("postern-testd"), "{status}");
    assert_eq!(ask_tcp(port, "hi").unwrap(), "hi");

    let output = instance.postern(&["reload"]).unwrap();
    assert!(output.status.success(), "{}", text(&output));
    instance
        .wait_log(Duration::from_secs(30), "reload: 1 services unchanged")
        .unwrap();

    let output = instance.postern(&["stop"]).unwrap();
    assert!(output.status.success(), "{}", text(&output));
    assert!(!instance.queue_dir().join("pid/master.pid").exists());
    assert!(ask_tcp(port, "hi").is_err());
}

#[test]
fn config_prints_parameters_like_postconf() {
    let instance = Instance::builder("config")
        .main("message_size_limit", "2048")
        .main("relayhost", "[smarthost.example]:587")
        .create()
        .unwrap();
    let run = |args: &[&str]| {
        let output = instance.postern(args).unwrap();
        (output.status.code(), text(&output))
    };
    assert_eq!(
        run(&["config", "message_size_limit"]),
        (Some(0), "message_size_limit = 2048\n".to_owned())
    );
    assert_eq!(
        run(&["config", "-d", "message_size_limit"]),
        (Some(0), "message_size_limit = 10240000\n".to_owned())
    );
    assert_eq!(
        run(&["config", "myorigin"]),
        (Some(0), "myorigin = mx.test.example\n".to_owned())
    );
    let (code, all_set) = run(&["config", "-n"]);
    assert_eq!(code, Some(0));
    assert!(
        all_set.contains("relayhost = [smarthost.example]:587\n"),
        "{all_set}"
    );
    assert!(!all_set.contains("soft_bounce"), "{all_set}");
    let (code, all) = run(&["config"]);
    assert_eq!(code, Some(0));
    assert!(all.contains("soft_bounce = no\n"), "{all}");
    assert!(all.lines().count() > all_set.lines().count());
    let (code, out) = run(&["config", "no_such_parameter"]);
    assert_eq!(code, Some(64));
    assert!(
        out.contains("unknown parameter: no_such_parameter"),
        "{out}"
    );
}

#[test]
fn check_reports_errors_with_file_and_line() {
    let instance = Instance::builder("check")
        .main("minimal_backoff_time", "soon")
        .create()
        .unwrap();
    let output = instance.postern(&["check"]).unwrap();
    assert_eq!(output.status.code(), Some(78));
    let out = text(&output);
    assert!(out.contains("main.cf:"), "{out}");
    assert!(out.contains(": minimal_backoff_time: "), "{out}");
}
