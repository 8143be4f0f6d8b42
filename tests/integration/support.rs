//! Small helpers shared by the integration tests.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::Duration;

use testkit::{Builder, Instance};

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
