//! Log lines in Postfix's shape: `NAME[PID]: text`.
//!
//! Warnings, errors and fatal errors carry Postfix's `warning: `, `error: ` and
//! `fatal: ` prefixes, so existing log tools and grep habits keep working. Children
//! write these lines to standard error; master prefixes each with a time stamp and the
//! host name and writes it to `maillog_file` or its standard output.

use std::fmt;

use tracing::{Event, Level, Subscriber};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields, MakeWriter};
use tracing_subscriber::registry::LookupSpan;

/// The target that marks an event as fatal (`tracing::error!(target: FATAL, ...)`).
pub const FATAL: &str = "fatal";

/// Formats one event as one line: `NAME[PID]: [severity: ]message key=value ...`.
#[derive(Debug, Clone)]
pub struct LineFormat {
    name: String,
    pid: u32,
}

impl LineFormat {
    /// A formatter for the process called `name` (`smtpd`, `master`, ...).
    pub fn new(name: &str) -> Self {
        LineFormat {
            name: name.to_owned(),
            pid: std::process::id(),
        }
    }
}

impl<S, N> FormatEvent<S, N> for LineFormat
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        write!(writer, "{}[{}]: ", self.name, self.pid)?;
        let meta = event.metadata();
        let severity = if meta.target() == FATAL {
            "fatal: "
        } else {
            match *meta.level() {
                Level::ERROR => "error: ",
                Level::WARN => "warning: ",
                _ => "",
            }
        };
        writer.write_str(severity)?;
        ctx.format_fields(writer.by_ref(), event)?;
        writeln!(writer)
    }
}

/// Installs the global subscriber writing lines for `name` to standard error.
pub fn init_stderr(name: &str, verbose: bool) {
    init_with_writer(name, verbose, std::io::stderr);
}

/// Installs the global subscriber writing lines for `name` to `writer`; each line
/// reaches the writer in a single `write` call.
pub fn init_with_writer<W>(name: &str, verbose: bool, writer: W)
where
    W: for<'a> MakeWriter<'a> + Send + Sync + 'static,
{
    let level = if verbose { Level::DEBUG } else { Level::INFO };
    // A second initialisation (a test calling this twice) keeps the first subscriber.
    let _ = tracing_subscriber::fmt()
        .event_format(LineFormat::new(name))
        .with_writer(writer)
        .with_max_level(level)
        .try_init();
}

#[cfg(test)]
mod tests {
    use std::io;
    use std::sync::{Arc, Mutex};

    use super::*;

    #[derive(Clone, Default)]
    struct Buffer(Arc<Mutex<Vec<u8>>>);

    impl io::Write for Buffer {
        fn write(&mut self, data: &[u8]) -> io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(data);
            Ok(data.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn lines_have_postfix_shape() {
        let buffer = Buffer::default();
        let sink = buffer.clone();
        let subscriber = tracing_subscriber::fmt()
            .event_format(LineFormat::new("smtpd"))
            .with_writer(move || sink.clone())
            .finish();
        tracing::subscriber::with_default(subscriber, || {
            tracing::info!("connect from host[192.0.2.1]");
            tracing::warn!("too many errors");
            tracing::error!(target: FATAL, "cannot open queue");
        });
        let text = String::from_utf8(buffer.0.lock().unwrap().clone()).unwrap();
        let pid = std::process::id();
        assert_eq!(
            text,
            format!(
                "smtpd[{pid}]: connect from host[192.0.2.1]\n\
                 smtpd[{pid}]: warning: too many errors\n\
                 smtpd[{pid}]: fatal: cannot open queue\n"
            )
        );
    }
}
