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
use std::time::{SystemTime, UNIX_EPOCH};

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
            timestamp(SystemTime::now()),
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

/// Formats a time as RFC 3339 in UTC with microseconds.
pub fn timestamp(time: SystemTime) -> String {
    let since = time.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = since.as_secs();
    let days = secs / 86_400;
    let rest = secs % 86_400;
    let (year, month, day) = civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:06}Z",
        rest / 3600,
        rest % 3600 / 60,
        rest % 60,
        since.subsec_micros()
    )
}

/// Converts days since 1970-01-01 to a (year, month, day) in the proleptic Gregorian
/// calendar (Howard Hinnant's days-to-civil algorithm, for days after the epoch).
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z % 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn timestamps_are_rfc3339_utc() {
        let cases = [
            (0, "1970-01-01T00:00:00.000000Z"),
            (951_782_400, "2000-02-29T00:00:00.000000Z"),
            (1_795_456_641, "2026-11-23T17:57:21.000000Z"),
            (4_107_542_399, "2100-02-28T23:59:59.000000Z"),
        ];
        for (secs, want) in cases {
            assert_eq!(timestamp(UNIX_EPOCH + Duration::from_secs(secs)), want);
        }
        assert_eq!(
            timestamp(UNIX_EPOCH + Duration::from_micros(1_500_001)),
            "1970-01-01T00:00:01.500001Z"
        );
    }

    #[test]
    fn host_is_shortened() {
        assert_eq!(short_host("mx.example.org"), "mx");
        assert_eq!(short_host("localhost"), "localhost");
    }
}
