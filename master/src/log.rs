//! The mail log: every line from master and its children, time-stamped, in one place.
//!
//! Children write `NAME[PID]: text` lines to their standard error; master reads each
//! child's pipe and writes the line here with a time stamp and the host name in front,
//! so the file reads like a syslog mail log:
//! `2026-11-23T17:57:21.123456Z mx postern/smtpd[4021]: connect from ...`.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::SystemTime;

use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};

/// Where log lines go: `maillog_file`, or master's standard output when it is empty.
#[derive(Clone)]
pub struct LogSink {
    inner: Arc<Mutex<Inner>>,
}

struct Inner {
    out: Box<dyn Write + Send>,
    host: String,
}

/// The longest line kept from a child; the rest of a longer line is cut.
const MAX_LINE: usize = 8192;

impl LogSink {
    /// A sink writing to standard error, until [`LogSink::reopen`] points it elsewhere.
    pub fn stderr(host: &str) -> io::Result<Self> {
        Ok(LogSink {
            inner: Arc::new(Mutex::new(Inner {
                out: Box::new(io::stderr()),
                host: short_host(host),
            })),
        })
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding the lock leaves nothing half-done worth refusing.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Points the sink at `maillog_file` (opened for appending, created with mode
    /// 0640) or, when it is empty, at standard output. On SIGHUP this reopens the file
    /// after log rotation.
    /// `host` is `myhostname`, whose first label starts every line.
    pub fn reopen(&self, path: Option<&Path>, host: &str) -> io::Result<()> {
        let out = open_output(path)?;
        let mut inner = self.lock();
        inner.out = out;
        inner.host = short_host(host);
        Ok(())
    }

    /// Writes one line (already shaped `NAME[PID]: text`) with time stamp and host.
    pub fn write_line(&self, line: &str) {
        let mut inner = self.lock();
        let stamped = format!(
            "{} {} postern/{}\n",
            service::clock::rfc3339(SystemTime::now()),
            inner.host,
            line
        );
        // Nowhere to report a failing log; the next line tries again.
        let _ = inner.out.write_all(stamped.as_bytes());
        let _ = inner.out.flush();
    }

    /// Copies a child's standard error into the log until EOF. Lines that do not start
    /// with the child's own `NAME[PID]: ` (a panic message, a library's output) get it
    /// added, so every line says where it came from.
    pub async fn copy_child_output<R: AsyncRead + Unpin>(&self, output: R, name: String, pid: u32) {
        let prefix = format!("{name}[{pid}]: ");
        let mut reader = BufReader::new(output);
        let mut buf = Vec::new();
        loop {
            buf.clear();
            match reader.read_until(b'\n', &mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
            while buf.last().is_some_and(|b| *b == b'\n' || *b == b'\r') {
                buf.pop();
            }
            buf.truncate(MAX_LINE);
            let text = String::from_utf8_lossy(&buf);
            if text.starts_with(&prefix) {
                self.write_line(&text);
            } else {
                self.write_line(&format!("{prefix}{text}"));
            }
        }
    }
}

/// The writer master's own tracing subscriber uses: each event arrives as one write.
impl Write for LogSink {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        let text = String::from_utf8_lossy(data);
        for line in text.lines() {
            self.write_line(line);
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

fn open_output(path: Option<&Path>) -> io::Result<Box<dyn Write + Send>> {
    Ok(match path {
        Some(path) => {
            let file: File = OpenOptions::new()
                .append(true)
                .create(true)
                .mode(0o640)
                .open(path)
                .map_err(|e| io::Error::new(e.kind(), format!("open {}: {e}", path.display())))?;
            Box::new(file)
        }
        None => Box::new(io::stdout()),
    })
}

fn short_host(host: &str) -> String {
    host.split('.').next().unwrap_or(host).to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_is_shortened() {
        assert_eq!(short_host("mx.example.org"), "mx");
        assert_eq!(short_host("localhost"), "localhost");
    }
}
