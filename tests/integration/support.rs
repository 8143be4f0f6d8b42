//! Small helpers shared by the integration tests.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::Duration;

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
