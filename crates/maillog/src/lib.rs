//! # maillog: the mail log's lines about sessions and messages
//!
//! Admins' tools (pflogsumm, fail2ban filters, grep habits) read Postfix's log lines,
//! so Postern writes the same shapes, and writes them only through the typed functions
//! here, so a line cannot drift from its shape:
//!
//! ```text
//! connect from host.example[192.0.2.1]
//! 4XKQ...: client=host.example[192.0.2.1], sasl_method=PLAIN, sasl_username=alice@example.org
//! NOQUEUE: reject: RCPT from host.example[192.0.2.1]: 554 5.7.1 <x@example.net>: Relay access denied; from=<a@example.org> to=<x@example.net> proto=ESMTP helo=<client.example>
//! 4XKQ...: message-id=<123@example.org>
//! 4XKQ...: from=<a@example.org>, size=1841, nrcpt=1 (queued)
//! disconnect from host.example[192.0.2.1] ehlo=1 mail=1 rcpt=1 data=1 quit=1 commands=5
//! ```
//!
//! [`parse`] reads a line back into its queue ID and `key=value` fields; tests wait on
//! those.
//!
//! # Security
//! Values that come from clients (HELO names, addresses, message IDs) are written
//! with control characters escaped, so a client cannot forge a log line.

use std::fmt;
use std::net::IpAddr;

use spool::QueueId;
use tracing::info;

/// A client as logs name it: `name[address]` (name `unknown` when it has none).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Client {
    /// The verified host name, or `unknown`.
    pub name: String,
    /// The client's address.
    pub addr: IpAddr,
}

impl fmt::Display for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}[{}]", Clean(&self.name), self.addr)
    }
}

/// Writes a client-supplied value with control characters and non-ASCII escaped.
struct Clean<'a>(&'a str);

impl fmt::Display for Clean<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for c in self.0.chars() {
            if c.is_control() {
                write!(f, "\\x{:02x}", u32::from(c))?;
            } else {
                write!(f, "{c}")?;
            }
        }
        Ok(())
    }
}

/// The queue ID of a line, or `NOQUEUE` before a message has one.
fn id_or_noqueue(id: Option<&QueueId>) -> String {
    id.map_or_else(|| "NOQUEUE".to_owned(), ToString::to_string)
}

/// `connect from CLIENT`.
pub fn connect(client: &Client) {
    info!("connect from {client}");
}

/// How many of each command a session used, for the disconnect line.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CommandCounts {
    counts: Vec<(&'static str, u32)>,
}

impl CommandCounts {
    /// Counts one use of `verb` (lower case, e.g. `ehlo`).
    pub fn count(&mut self, verb: &'static str) {
        match self.counts.iter_mut().find(|(v, _)| *v == verb) {
            Some((_, n)) => *n += 1,
            None => self.counts.push((verb, 1)),
        }
    }

    /// All commands counted.
    pub fn total(&self) -> u32 {
        self.counts.iter().map(|(_, n)| n).sum()
    }
}

impl fmt::Display for CommandCounts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (verb, n) in &self.counts {
            write!(f, " {verb}={n}")?;
        }
        write!(f, " commands={}", self.total())
    }
}

/// `disconnect from CLIENT ehlo=1 mail=1 ... commands=N`.
pub fn disconnect(client: &Client, counts: &CommandCounts) {
    info!("disconnect from {client}{counts}");
}

/// How a client authenticated, for the `client=` line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sasl<'a> {
    /// The mechanism (`PLAIN`, `LOGIN`).
    pub method: &'a str,
    /// The authenticated user.
    pub username: &'a str,
}

/// `ID: client=CLIENT[, sasl_method=M, sasl_username=U]`: the first line of a message.
pub fn client(id: &QueueId, client: &Client, sasl: Option<&Sasl<'_>>) {
    match sasl {
        Some(sasl) => info!(
            "{id}: client={client}, sasl_method={}, sasl_username={}",
            Clean(sasl.method),
            Clean(sasl.username)
        ),
        None => info!("{id}: client={client}"),
    }
}

/// The context of a rejected command.
#[derive(Debug, Clone)]
pub struct Rejection<'a> {
    /// The queue ID once the message has one.
    pub id: Option<&'a QueueId>,
    /// The command rejected (`MAIL`, `RCPT`, `DATA`, `END-OF-MESSAGE`, ...).
    pub stage: &'a str,
    /// The client.
    pub client: &'a Client,
    /// The sender, when one was given.
    pub from: Option<&'a str>,
    /// The recipient, when one was given.
    pub to: Option<&'a str>,
    /// `SMTP` or `ESMTP`.
    pub proto: &'a str,
    /// The HELO name, when one was given.
    pub helo: Option<&'a str>,
}

/// `ID: reject: STAGE from CLIENT: REPLY; from=<..> to=<..> proto=.. helo=<..>`.
pub fn reject(r: &Rejection<'_>, reply: &dyn fmt::Display) {
    let mut tail = String::new();
    if let Some(from) = r.from {
        tail.push_str(&format!(" from=<{}>", Clean(from)));
    }
    if let Some(to) = r.to {
        tail.push_str(&format!(" to=<{}>", Clean(to)));
    }
    tail.push_str(&format!(" proto={}", r.proto));
    if let Some(helo) = r.helo {
        tail.push_str(&format!(" helo=<{}>", Clean(helo)));
    }
    let reply = reply.to_string();
    info!(
        "{}: reject: {} from {}: {};{tail}",
        id_or_noqueue(r.id),
        r.stage,
        r.client,
        Clean(reply.trim_end())
    );
}

/// `ID: message-id=<...>`.
pub fn message_id(id: &QueueId, message_id: &str) {
    info!("{id}: message-id={}", Clean(message_id));
}

/// `ID: from=<SENDER>, size=N, nrcpt=N (queued)`: smtpd's line once a message is in
/// the queue.
pub fn queued(id: &QueueId, sender: &str, size: u64, nrcpt: usize) {
    info!(
        "{id}: from=<{}>, size={size}, nrcpt={nrcpt} (queued)",
        Clean(sender)
    );
}

/// `ID: from=<SENDER>, size=N, nrcpt=N (queue active)`: qmgr took the message.
pub fn queue_active(id: &QueueId, sender: &str, size: u64, nrcpt: usize) {
    info!(
        "{id}: from=<{}>, size={size}, nrcpt={nrcpt} (queue active)",
        Clean(sender)
    );
}

/// `ID: removed`: every recipient is done and the queue file is gone.
pub fn removed(id: &QueueId) {
    info!("{id}: removed");
}

/// `ID: placed on hold`: an administrator took the message out of delivery.
pub fn held(id: &QueueId) {
    info!("{id}: placed on hold");
}

/// `ID: released from hold`: back in `deferred/`, due now.
pub fn released(id: &QueueId) {
    info!("{id}: released from hold");
}

/// `ID: requeued`: back in `incoming/`, to be delivered afresh.
pub fn requeued(id: &QueueId) {
    info!("{id}: requeued");
}

/// `ID: from=<SENDER>, status=expired, returned to sender`.
pub fn expired(id: &QueueId, sender: &str) {
    info!(
        "{id}: from=<{}>, status=expired, returned to sender",
        Clean(sender)
    );
}

/// `ID: sender non-delivery notification: NEWID` (and delay / success notices).
pub fn notification(id: &QueueId, what: &str, new_id: &QueueId) {
    info!("{id}: sender {what} notification: {new_id}");
}

/// How a delivery attempt ended, for the `status=` field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// `status=sent`.
    Sent,
    /// `status=deferred`.
    Deferred,
    /// `status=bounced`.
    Bounced,
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Status::Sent => "sent",
            Status::Deferred => "deferred",
            Status::Bounced => "bounced",
        })
    }
}

/// The timing of a delivery: total delay since arrival and Postfix's four parts
/// (before the queue manager, in it, connection setup, transmission), in seconds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Delays {
    /// Since arrival.
    pub total: f64,
    /// The four parts.
    pub parts: [f64; 4],
}

fn seconds(value: f64) -> String {
    if value < 0.005 {
        "0".to_owned()
    } else if value < 10.0 {
        format!("{value:.2}")
    } else {
        format!("{value:.0}")
    }
}

/// One recipient's delivery line:
/// `ID: to=<RCPT>, relay=R, delay=D, delays=a/b/c/d, dsn=X.Y.Z, status=S (TEXT)`.
pub fn delivery(
    id: &QueueId,
    to: &str,
    relay: &str,
    delays: &Delays,
    dsn: &str,
    status: Status,
    text: &str,
) {
    let [a, b, c, d] = delays.parts;
    info!(
        "{id}: to=<{}>, relay={}, delay={}, delays={}/{}/{}/{}, dsn={}, status={status} ({})",
        Clean(to),
        Clean(relay),
        seconds(delays.total),
        seconds(a),
        seconds(b),
        seconds(c),
        seconds(d),
        Clean(dsn),
        Clean(text)
    );
}

/// One parsed log line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The program (`smtpd`, `qmgr`, ...).
    pub program: String,
    /// Its pid.
    pub pid: u32,
    /// The queue ID the line is about, if it starts with one.
    pub queue_id: Option<String>,
    /// The text after the queue ID (or after `program[pid]: `).
    pub text: String,
}

impl Entry {
    /// The value of `key=` in the text: `from=<a@b>` gives `a@b`, `size=12,` gives `12`.
    pub fn field(&self, key: &str) -> Option<&str> {
        let needle = format!("{key}=");
        let start = self
            .text
            .match_indices(&needle)
            .find(|(i, _)| *i == 0 || self.text[..*i].ends_with([' ', ',']))
            .map(|(i, _)| i + needle.len())?;
        let rest = self.text.get(start..)?;
        if let Some(inner) = rest.strip_prefix('<') {
            return inner.split('>').next();
        }
        rest.split([',', ' ']).next()
    }
}

/// Parses a log line (with or without master's time stamp and host in front).
pub fn parse(line: &str) -> Option<Entry> {
    // Find `program[pid]: ` — the first token of that shape.
    let mut search = line;
    let mut offset = 0;
    loop {
        let open = search.find('[')?;
        let close = open + search.get(open..)?.find("]: ")?;
        let head = line.get(..offset + open)?;
        let program = head.rsplit([' ', '/']).next().filter(|p| {
            !p.is_empty()
                && p.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        });
        let pid = search
            .get(open + 1..close)
            .and_then(|p| p.parse::<u32>().ok());
        if let (Some(program), Some(pid)) = (program, pid) {
            let text = search.get(close + 3..)?;
            let (queue_id, text) = match text.split_once(": ") {
                Some((id, rest)) if id.parse::<QueueId>().is_ok() || id == "NOQUEUE" => {
                    (Some(id.to_owned()), rest)
                }
                _ => (None, text),
            };
            return Some(Entry {
                program: program.to_owned(),
                pid,
                queue_id,
                text: text.to_owned(),
            });
        }
        offset += close + 1;
        search = line.get(offset..)?;
    }
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

    fn capture(f: impl FnOnce()) -> Vec<String> {
        let buffer = Buffer::default();
        let sink = buffer.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || sink.clone())
            .without_time()
            .with_level(false)
            .with_target(false)
            .finish();
        tracing::subscriber::with_default(subscriber, f);
        let text = String::from_utf8(buffer.0.lock().unwrap().clone()).unwrap();
        text.lines().map(str::to_owned).collect()
    }

    fn host() -> Client {
        Client {
            name: "host.example".into(),
            addr: "192.0.2.1".parse().unwrap(),
        }
    }

    #[test]
    fn lines_have_postfix_shapes() {
        let id: QueueId = QueueId::new();
        let mut counts = CommandCounts::default();
        for verb in ["ehlo", "mail", "rcpt", "rcpt", "data", "quit"] {
            counts.count(verb);
        }
        let lines = capture(|| {
            connect(&host());
            client_line_cases(&id);
            queued(&id, "a@example.org", 1841, 2);
            disconnect(&host(), &counts);
        });
        assert_eq!(
            lines,
            vec![
                "connect from host.example[192.0.2.1]".to_owned(),
                format!("{id}: client=host.example[192.0.2.1]"),
                format!(
                    "{id}: client=host.example[192.0.2.1], sasl_method=PLAIN, sasl_username=alice@example.org"
                ),
                format!("{id}: from=<a@example.org>, size=1841, nrcpt=2 (queued)"),
                "disconnect from host.example[192.0.2.1] ehlo=1 mail=1 rcpt=2 data=1 quit=1 commands=6"
                    .to_owned(),
            ]
        );
    }

    fn client_line_cases(id: &QueueId) {
        super::client(id, &host(), None);
        super::client(
            id,
            &host(),
            Some(&Sasl {
                method: "PLAIN",
                username: "alice@example.org",
            }),
        );
    }

    #[test]
    fn queue_manager_and_delivery_lines() {
        let id = QueueId::new();
        let lines = capture(|| {
            queue_active(&id, "a@example.org", 1841, 1);
            delivery(
                &id,
                "b@example.net",
                "local",
                &Delays {
                    total: 0.0234,
                    parts: [0.01, 0.0, 0.0, 0.0134],
                },
                "2.0.0",
                Status::Sent,
                "delivered to maildir",
            );
            removed(&id);
        });
        assert_eq!(
            lines,
            vec![
                format!("{id}: from=<a@example.org>, size=1841, nrcpt=1 (queue active)"),
                format!(
                    "{id}: to=<b@example.net>, relay=local, delay=0.02, delays=0.01/0/0/0.01, dsn=2.0.0, status=sent (delivered to maildir)"
                ),
                format!("{id}: removed"),
            ]
        );
    }

    #[test]
    fn queue_operation_lines_are_postsupers() {
        let id = QueueId::new();
        let lines = capture(|| {
            held(&id);
            released(&id);
            requeued(&id);
        });
        assert_eq!(
            lines,
            vec![
                format!("{id}: placed on hold"),
                format!("{id}: released from hold"),
                format!("{id}: requeued"),
            ]
        );
    }

    #[test]
    fn reject_line_and_escaping() {
        let lines = capture(|| {
            reject(
                &Rejection {
                    id: None,
                    stage: "RCPT",
                    client: &host(),
                    from: Some("a@example.org"),
                    to: Some("x@example.net"),
                    proto: "ESMTP",
                    helo: Some("evil\r\nsmtpd[1]: forged"),
                },
                &"554 5.7.1 <x@example.net>: Relay access denied\r\n",
            );
        });
        assert_eq!(
            lines,
            vec![
                "NOQUEUE: reject: RCPT from host.example[192.0.2.1]: 554 5.7.1 <x@example.net>: Relay access denied; from=<a@example.org> to=<x@example.net> proto=ESMTP helo=<evil\\x0d\\x0asmtpd[1]: forged>"
            ]
        );
    }

    #[test]
    fn parse_reads_back_fields() {
        let id = QueueId::new();
        let line = format!(
            "2026-11-23T17:57:21.123456Z mx postern/smtpd[4021]: {id}: from=<a@example.org>, size=1841, nrcpt=1 (queued)"
        );
        let entry = parse(&line).unwrap();
        assert_eq!(entry.program, "smtpd");
        assert_eq!(entry.pid, 4021);
        assert_eq!(entry.queue_id.as_deref(), Some(id.as_str()));
        assert_eq!(entry.field("from"), Some("a@example.org"));
        assert_eq!(entry.field("size"), Some("1841"));
        assert_eq!(entry.field("nrcpt"), Some("1"));
        assert_eq!(entry.field("to"), None);

        let entry = parse("smtpd[7]: connect from localhost[127.0.0.1]").unwrap();
        assert_eq!(entry.queue_id, None);
        assert_eq!(entry.text, "connect from localhost[127.0.0.1]");
        let entry = parse(
            "x postern/smtpd[7]: NOQUEUE: reject: RCPT from a[1.2.3.4]: 554 5.7.1 no; to=<b@c>",
        )
        .unwrap();
        assert_eq!(entry.queue_id.as_deref(), Some("NOQUEUE"));
        assert_eq!(entry.field("to"), Some("b@c"));
        assert!(parse("no shape here").is_none());
        assert!(parse("").is_none());
    }
}
