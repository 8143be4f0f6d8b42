//! Small helpers shared by the integration tests.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::Duration;

use testkit::{Builder, Instance, SmtpClient};

/// The users file of the mail tests: alice and bob in example.org.
pub const ALICE_AND_BOB: &str =
    "alice@example.org:{PLAIN}alice-pw\nbob@example.org:{PLAIN}bob-pw\n";

/// An instance with smtpd on 127.0.0.1:SMTP, the virtual domain example.org (users
/// in `$config_directory/users`) and aliases in `$config_directory/aliases`; add the
/// rest, then call [`start_mail_instance`].
pub fn mail_instance(name: &str, smtp: u16) -> Builder {
    Instance::builder(name)
        .main("mydestination", "mx.test.example, localhost")
        .main("virtual_mailbox_domains", "example.org")
        .main("virtual_user_maps", "passwd-file:$config_directory/users")
        .main("alias_maps", "hash:$config_directory/aliases")
        .service(&format!("127.0.0.1:{smtp} inet n - n - - smtpd"))
}

/// [`mail_instance`] delivering into Maildirs below [`mail_dir`] (qmgr and local), with
/// pop3d on 127.0.0.1:POP3.
pub fn maildir_instance(name: &str, smtp: u16, pop3: u16) -> Builder {
    mail_instance(name, smtp)
        .main("virtual_mailbox_base", "$queue_directory/../mail")
        .service("qmgr unix - - n - 1 qmgr")
        .service("local unix - - n - - local")
        .service(&format!("127.0.0.1:{pop3} inet n - n - - pop3d"))
}

/// Where a [`maildir_instance`] keeps the Maildirs (`DOMAIN/USER` below it).
pub fn mail_dir(instance: &Instance) -> PathBuf {
    instance.queue_dir().parent().unwrap().join("mail")
}

/// How many messages the Maildir `dir` holds (in `new/` and `cur/`).
pub fn maildir_count(dir: &Path) -> usize {
    ["new", "cur"]
        .iter()
        .map(|d| {
            std::fs::read_dir(dir.join(d))
                .map(|e| e.count())
                .unwrap_or(0)
        })
        .sum()
}

/// The messages in a Maildir's `new/` directory, as text, oldest name first.
pub fn maildir_messages(new: &Path) -> Vec<String> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(new)
        .map(|entries| entries.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    paths.sort();
    paths
        .iter()
        .map(|p| String::from_utf8_lossy(&std::fs::read(p).unwrap()).into_owned())
        .collect()
}

/// Waits (a minute at most) until `new` holds `count` messages and returns
/// them; on timeout the test fails with the instance's log and spool.
pub fn wait_maildir_messages(instance: &Instance, new: &Path, count: usize) -> Vec<String> {
    testkit::wait_until(
        Duration::from_secs(60),
        &format!("{count} messages in {}", new.display()),
        || {
            let messages = maildir_messages(new);
            (messages.len() >= count).then_some(messages)
        },
    )
    .unwrap_or_else(|e| panic!("{e:#}\n{}", instance.dump()))
}

/// Submits one message over SMTP on 127.0.0.1:SMTP from `from` to each of
/// `to` (each `RCPT TO` followed by `rcpt_params`), every step answered
/// 250; returns the queue ID.
pub fn submit(smtp: u16, from: &str, to: &[&str], rcpt_params: &str, message: &str) -> String {
    let mut c = SmtpClient::connect(smtp).unwrap();
    c.send("EHLO client.example")
        .unwrap()
        .expect_code(250)
        .unwrap();
    c.send(&format!("MAIL FROM:<{from}>"))
        .unwrap()
        .expect_code(250)
        .unwrap();
    for rcpt in to {
        c.send(&format!("RCPT TO:<{rcpt}>{rcpt_params}"))
            .unwrap()
            .expect_code(250)
            .unwrap();
    }
    let reply = c.data(message).unwrap().expect_code(250).unwrap();
    c.send("QUIT").unwrap();
    reply.text().rsplit(' ').next().unwrap().to_owned()
}

/// Sends `message` from sender@remote.test to `to` over SMTP on 127.0.0.1:SMTP,
/// every step answered 250; returns the client, still connected.
pub fn smtp_send(smtp: u16, to: &str, message: &str) -> SmtpClient {
    let mut c = SmtpClient::connect(smtp).unwrap();
    c.send("EHLO client.example")
        .unwrap()
        .expect_code(250)
        .unwrap();
    c.send("MAIL FROM:<sender@remote.test>")
        .unwrap()
        .expect_code(250)
        .unwrap();
    c.send(&format!("RCPT TO:<{to}>"))
        .unwrap()
        .expect_code(250)
        .unwrap();
    c.data(message).unwrap().expect_code(250).unwrap();
    c
}

/// Runs `script` with `python3 -c`, which must succeed; its stdout and stderr.
pub fn python(script: &str) -> String {
    let output = std::process::Command::new("python3")
        .arg("-c")
        .arg(script)
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(output.status.success(), "{text}");
    text
}

/// Sets the `extra` main.cf parameters, writes the users and aliases files, starts
/// master and waits until every service is up.
pub fn start_mail_instance(
    builder: Builder,
    extra: &[(&str, &str)],
    users: &str,
    aliases: &str,
) -> Instance {
    let mut builder = builder;
    for (name, value) in extra {
        builder = builder.main(name, value);
    }
    let mut instance = builder.create().unwrap();
    instance.write_file("users", users).unwrap();
    instance.write_file("aliases", aliases).unwrap();
    instance.start_master().unwrap();
    instance.wait_ready().unwrap();
    instance
}

/// A master.cf line running the test service on 127.0.0.1:PORT.
pub fn testd_inet(port: u16, maxproc: u32, args: &str) -> String {
    format!("127.0.0.1:{port} inet n - n - {maxproc} postern-testd {args}")
}

/// Sends one line to a test service and returns its one-line answer.
fn ask_stream<S: std::io::Read + Write>(stream: S, line: &str) -> std::io::Result<String> {
    let mut reader = BufReader::new(stream);
    reader.get_mut().write_all(format!("{line}\n").as_bytes())?;
    let mut answer = String::new();
    reader.read_line(&mut answer)?;
    if answer.is_empty() {
        return Err(std::io::Error::other("connection closed without an answer"));
    }
    Ok(answer.trim_end().to_owned())
}

/// Asks the test service on 127.0.0.1:PORT.
pub fn ask_tcp(port: u16, line: &str) -> std::io::Result<String> {
    let stream = TcpStream::connect(("127.0.0.1", port))?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    ask_stream(stream, line)
}

/// Asks the test service on a Unix socket.
pub fn ask_unix(path: &Path, line: &str) -> std::io::Result<String> {
    let stream = UnixStream::connect(path)?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    ask_stream(stream, line)
}

/// The value of `key=` in a `key=value key=value` answer.
pub fn field<'a>(answer: &'a str, key: &str) -> Option<&'a str> {
    answer
        .split_whitespace()
        .find_map(|kv| kv.strip_prefix(key)?.strip_prefix('='))
}

/// True while a process with this pid exists (zombies included).
pub fn process_exists(pid: u32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
}

/// (real, effective, saved, filesystem) IDs from a `/proc/PID/status` line such as `Uid:`.
pub fn proc_ids(pid: u32, key: &str) -> Vec<u32> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix(key))
        .map(|rest| {
            rest.split_whitespace()
                .filter_map(|v| v.parse().ok())
                .collect()
        })
        .unwrap_or_default()
}
