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

/// A users file with a comment, a blank line and a user with uid and gid.
const USERS: &str = "# virtual users: user@domain:password:uid:gid\n\
                     \n\
                     carol@example.org:{PLAIN}carols:5000:5001\n";

fn users_instance(name: &str) -> (Instance, std::path::PathBuf) {
    let instance = Instance::builder(name)
        .main("virtual_user_maps", "passwd-file:$config_directory/users")
        .create()
        .unwrap();
    let users = instance.config_dir().join("users");
    instance.write_file("users", USERS).unwrap();
    (instance, users)
}

/// The stored password of `user` in the users file.
fn stored(users: &std::path::Path, user: &str) -> Option<String> {
    let text = std::fs::read_to_string(users).unwrap();
    text.lines().find_map(|line| {
        let mut fields = line.split(':');
        (fields.next() == Some(user)).then(|| fields.next().unwrap_or_default().to_owned())
    })
}

fn verifies(users: &std::path::Path, user: &str, password: &str) -> bool {
    let hash = stored(users, user).unwrap_or_else(|| panic!("{user} is not in the file"));
    accounts::password::verify(&hash, password.as_bytes()).unwrap()
}

#[test]
fn user_add_list_passwd_del() {
    let (instance, users) = users_instance("users");
    let run = |args: &[&str], input: &str| {
        let output = instance.postern_with_input(args, input).unwrap();
        (output.status.code(), text(&output))
    };

    let (code, out) = run(&["user", "add", "alice@example.org"], "s3cret\n");
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("added alice@example.org"), "{out}");
    assert!(
        stored(&users, "alice@example.org")
            .unwrap()
            .starts_with("{ARGON2ID}$argon2id$")
    );
    assert!(verifies(&users, "alice@example.org", "s3cret"));
    assert!(!verifies(&users, "alice@example.org", "s3cret\n"));

    let (code, out) = run(
        &["user", "add", "--scheme", "sha512-crypt", "bob@example.net"],
        "bobs pass\r\n",
    );
    assert_eq!(code, Some(0), "{out}");
    assert!(
        stored(&users, "bob@example.net")
            .unwrap()
            .starts_with("{SHA512-CRYPT}$6$")
    );
    assert!(verifies(&users, "bob@example.net", "bobs pass"));

    // Comments, blank lines and the other users are kept byte for byte.
    let text = std::fs::read_to_string(&users).unwrap();
    assert!(text.starts_with(USERS), "{text}");
    assert_eq!(text.lines().count(), 5, "{text}");

    let (code, out) = run(&["user", "list"], "");
    assert_eq!(code, Some(0), "{out}");
    let lines: Vec<Vec<&str>> = out
        .lines()
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(
        lines,
        [
            vec!["carol@example.org", "{PLAIN}", "uid=5000", "gid=5001"],
            vec!["alice@example.org", "{ARGON2ID}"],
            vec!["bob@example.net", "{SHA512-CRYPT}"],
        ],
        "{out}"
    );
    assert!(!out.contains("carols"), "no password in the list: {out}");

    let (code, out) = run(&["user", "passwd", "Alice@Example.org"], "n3w\n");
    assert_eq!(code, Some(0), "{out}");
    assert!(verifies(&users, "alice@example.org", "n3w"));
    assert!(!verifies(&users, "alice@example.org", "s3cret"));
    assert!(verifies(&users, "bob@example.net", "bobs pass"));
    let (code, out) = run(
        &[
            "user",
            "passwd",
            "--scheme",
            "SHA512-CRYPT",
            "carol@example.org",
        ],
        "c2\n",
    );
    assert_eq!(code, Some(0), "{out}");
    assert!(
        std::fs::read_to_string(&users)
            .unwrap()
            .lines()
            .any(|l| l.starts_with("carol@example.org:{SHA512-CRYPT}$6$")
                && l.ends_with(":5000:5001")),
        "uid and gid kept"
    );
    assert!(verifies(&users, "carol@example.org", "c2"));

    let (code, out) = run(&["user", "del", "bob@example.net"], "");
    assert_eq!(code, Some(0), "{out}");
    assert_eq!(stored(&users, "bob@example.net"), None);
    let text = std::fs::read_to_string(&users).unwrap();
    assert!(
        text.starts_with("# virtual users: user@domain:password:uid:gid\n\n"),
        "{text}"
    );
    let (_, out) = run(&["user", "list"], "");
    assert_eq!(out.lines().count(), 2, "{out}");
}

#[test]
fn user_commands_refuse_bad_requests() {
    let (instance, users) = users_instance("users-refused");
    let run = |args: &[&str], input: &str| {
        let output = instance.postern_with_input(args, input).unwrap();
        (output.status.code(), text(&output))
    };
    let cases: &[(&str, &[&str], &str, i32, &str)] = &[
        (
            "duplicate, other case",
            &["user", "add", "Carol@EXAMPLE.org"],
            "x\n",
            73,
            "already exists",
        ),
        (
            "delete a missing user",
            &["user", "del", "nobody@example.org"],
            "",
            67,
            "no such user nobody@example.org",
        ),
        (
            "password of a missing user",
            &["user", "passwd", "nobody@example.org"],
            "x\n",
            67,
            "no such user",
        ),
        (
            "empty password",
            &["user", "add", "dave@example.org"],
            "\n",
            65,
            "empty password",
        ),
        (
            "no input",
            &["user", "add", "dave@example.org"],
            "",
            65,
            "empty password",
        ),
        (
            "bare name",
            &["user", "add", "dave"],
            "x\n",
            65,
            "invalid user name",
        ),
        (
            "colon",
            &["user", "add", "da:ve@example.org"],
            "x\n",
            65,
            "invalid user name",
        ),
        (
            "unknown scheme",
            &["user", "add", "--scheme", "plain", "dave@example.org"],
            "x\n",
            64,
            "not a scheme for new passwords",
        ),
    ];
    for (name, args, input, want_code, want_text) in cases {
        let (code, out) = run(args, input);
        assert_eq!(code, Some(*want_code), "case {name}: {out}");
        assert!(out.contains(want_text), "case {name}: {out}");
        assert_eq!(
            std::fs::read_to_string(&users).unwrap(),
            USERS,
            "case {name}"
        );
    }
    // stdin closed, as `postern` runs from cron: no password, nothing added.
    let output = instance
        .postern(&["user", "add", "dave@example.org"])
        .unwrap();
    assert_eq!(output.status.code(), Some(65), "{}", text(&output));

    let instance = Instance::builder("users-unset")
        .main("virtual_user_maps", "")
        .create()
        .unwrap();
    let output = instance.postern(&["user", "list"]).unwrap();
    assert_eq!(output.status.code(), Some(78), "{}", text(&output));
    assert!(
        text(&output).contains("virtual_user_maps is empty"),
        "{}",
        text(&output)
    );
}

/// An instance whose alias_maps names `aliases` in its configuration directory.
fn aliases_instance(name: &str, aliases: &str) -> Instance {
    let instance = Instance::builder(name)
        .main("alias_maps", "hash:$config_directory/aliases")
        .create()
        .unwrap();
    instance.write_file("aliases", aliases).unwrap();
    instance
}

#[test]
fn aliases_check_counts_and_reports_bad_lines() {
    let good = "# aliases\npostmaster: root\nroot: alice, bob@example.net\nstaff: alice,\n  bob\n";
    let instance = aliases_instance("aliases-good", good);
    let path = instance.config_dir().join("aliases");
    let output = instance.postern(&["aliases", "check"]).unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    assert_eq!(
        String::from_utf8_lossy(&output.stdout),
        format!("{}: 3 aliases\n", path.display())
    );

    let bad = "postmaster: root\nthis line has no colon\nroot: alice\n";
    let instance = aliases_instance("aliases-bad", bad);
    let path = instance.config_dir().join("aliases");
    let output = instance.postern(&["aliases", "check"]).unwrap();
    let out = text(&output);
    assert_eq!(output.status.code(), Some(65), "{out}");
    assert!(out.contains(&format!("{}:2: ", path.display())), "{out}");
    assert!(
        out.contains(&format!("{}: 2 aliases, 1 error", path.display())),
        "{out}"
    );

    std::fs::remove_file(&path).unwrap();
    let output = instance.postern(&["aliases", "check"]).unwrap();
    assert_eq!(output.status.code(), Some(66), "{}", text(&output));
    assert!(text(&output).contains("cannot read"), "{}", text(&output));
}

#[test]
fn newaliases_is_a_quiet_aliases_check() {
    let instance = aliases_instance("newaliases", "postmaster: root\nroot: alice\n");
    let path = instance.config_dir().join("aliases");
    let bin = instance.config_dir().join("bin");
    std::fs::create_dir(&bin).unwrap();
    let newaliases = bin.join("newaliases");
    std::os::unix::fs::symlink(instance.bin("postern"), &newaliases).unwrap();
    let run = |args: &[&str]| {
        std::process::Command::new(&newaliases)
            .args(args)
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap()
    };
    let dir = instance.config_dir().to_str().unwrap();

    let output = run(&["-c", dir]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    assert_eq!(text(&output), "", "quiet on success");
    // sendmail's -C, and options Postfix's newaliases knows, are accepted.
    let output = run(&["-oA/etc/aliases", "-C", dir]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    assert_eq!(
        text(&output),
        "newaliases: warning: ignoring option -oA/etc/aliases\n"
    );

    instance
        .write_file("aliases", "postmaster: root\nroot alice\n")
        .unwrap();
    let output = run(&["-c", dir]);
    assert_eq!(output.status.code(), Some(65), "{}", text(&output));
    assert!(output.stdout.is_empty());
    let err = String::from_utf8_lossy(&output.stderr);
    assert!(
        err.contains(&format!("newaliases: {}:2: ", path.display())),
        "{err}"
    );
}
