//! `postern queue list` and `mailq`: the queue in Postfix's mailq layout, or as
//! JSON lines like `postqueue -j`.
//!
//! ```text
//! -Queue ID-           --Size-- ----Arrival Time---- -Sender/Recipient-------
//! 4XKQ2BZ9CLZ3M0A1B2C3*    1841 Thu Dec  3 16:25:15  alice@example.org
//!                                                    bob@example.org
//!
//! 4XKQ2BZ9CLZ3M0A1B2C4!     512 Thu Dec  3 16:26:01  MAILER-DAEMON
//!                            (connect to mx.example.net[192.0.2.1]:25: Connection refused)
//!                                                    carol@example.net
//!
//! -- 2 Kbytes in 2 Requests.
//! ```
//!
//! After the ID, `*` marks a message being delivered (active) and `!` one on hold.
//! Each deferral reason, in parentheses and right-aligned, comes before the
//! recipients it applies to; recipients not tried yet come last. Done recipients
//! are not shown. The ID column is 20 wide (Postern's IDs), so the sender and
//! recipients start in column 52.

use serde::Serialize;
use spool::{Listed, Queue};

use super::{LISTED_QUEUES, QueueDir, listing};
use crate::Failure;
use crate::queue::output;

/// Width of the queue ID column.
const ID_WIDTH: usize = 20;
/// Where the sender and recipient addresses start (0-based).
pub const ADDRESS_COLUMN: usize = ID_WIDTH + 1 + 8 + 1 + 20 + 1;
/// Reasons end here, like Postfix's (76 + 2 there, with a 10-wide ID column).
const REASON_END: usize = 76 + (ID_WIDTH - 10);

/// `postern queue list [--json]`.
pub fn list(queue: &QueueDir, json: bool) -> Result<(), Failure> {
    let listed = listing(queue, &LISTED_QUEUES)?;
    let text = if json {
        render_json(&listed)
    } else {
        render_mailq(&listed, &|secs| {
            super::local_time(secs, "%a %b %e %H:%M:%S")
        })
    };
    output(text.as_bytes())
}

/// The mailq layout; `time` formats an arrival (seconds since the epoch).
pub fn render_mailq(listed: &[Listed], time: &dyn Fn(u64) -> String) -> String {
    if listed.is_empty() {
        return "Mail queue is empty\n".to_owned();
    }
    let mut out = format!(
        "{:<ID_WIDTH$} {:>8} {:<20} {}\n",
        "-Queue ID-", "--Size--", "----Arrival Time----", "-Sender/Recipient-------"
    );
    let mut total: u64 = 0;
    for (n, message) in listed.iter().enumerate() {
        if n > 0 {
            out.push('\n');
        }
        total = total.saturating_add(message.size);
        let mark = match message.queue {
            Queue::Active => '*',
            Queue::Hold => '!',
            _ => ' ',
        };
        let sender = if message.sender.is_empty() {
            "MAILER-DAEMON".to_owned()
        } else {
            printable(&message.sender)
        };
        out.push_str(&format!(
            "{:<ID_WIDTH$}{mark}{:>8} {:<20} {sender}\n",
            message.id.as_str(),
            message.size,
            time(message.arrival),
        ));
        // Grouped by reason, in order of first appearance; untried ones last.
        let mut groups: Vec<(Option<&str>, Vec<&str>)> = Vec::new();
        for recipient in &message.recipients {
            let reason = recipient.reason.as_deref();
            match groups.iter_mut().find(|(r, _)| *r == reason) {
                Some((_, addresses)) => addresses.push(&recipient.address),
                None => groups.push((reason, vec![&recipient.address])),
            }
        }
        groups.sort_by_key(|(reason, _)| reason.is_none());
        for (reason, addresses) in groups {
            if let Some(reason) = reason {
                let reason = printable(reason);
                let pad = REASON_END.saturating_sub(reason.chars().count());
                out.push_str(&format!("{:pad$}({reason})\n", ""));
            }
            for address in addresses {
                out.push_str(&format!("{:ADDRESS_COLUMN$}{}\n", "", printable(address)));
            }
        }
    }
    let requests = listed.len();
    out.push_str(&format!(
        "\n-- {} Kbytes in {requests} Request{}.\n",
        total / 1024,
        if requests == 1 { "" } else { "s" }
    ));
    out
}

/// One message as `postqueue -j` prints it.
#[derive(Serialize)]
struct JsonMessage<'a> {
    queue_name: &'static str,
    queue_id: &'a str,
    arrival_time: u64,
    message_size: u64,
    sender: &'a str,
    recipients: Vec<JsonRecipient<'a>>,
}

/// One pending recipient in [`JsonMessage`].
#[derive(Serialize)]
struct JsonRecipient<'a> {
    address: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    delay_reason: Option<&'a str>,
}

/// One JSON object per message, one per line.
pub fn render_json(listed: &[Listed]) -> String {
    let mut out = String::new();
    for message in listed {
        let object = JsonMessage {
            queue_name: message.queue.name(),
            queue_id: message.id.as_str(),
            arrival_time: message.arrival,
            message_size: message.size,
            sender: &message.sender,
            recipients: message
                .recipients
                .iter()
                .map(|r| JsonRecipient {
                    address: &r.address,
                    delay_reason: r.reason.as_deref(),
                })
                .collect(),
        };
        // Strings and integers only: serialization cannot fail.
        if let Ok(line) = serde_json::to_string(&object) {
            out.push_str(&line);
            out.push('\n');
        }
    }
    out
}

/// Control characters shown as `?`, as Postfix's mailq does, so an address or
/// a remote server's text cannot play tricks on a terminal.
pub fn printable(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { '?' } else { c })
        .collect()
}

#[cfg(test)]
mod tests {
    use spool::{ListedRecipient, QueueId};

    use super::*;

    fn message(n: u8, queue: Queue, sender: &str, recipients: &[(&str, Option<&str>)]) -> Listed {
        Listed {
            id: QueueId::parse(&format!("0123456789ABCDEFGHJ{n}")).unwrap(),
            queue,
            size: 1000 * u64::from(n),
            arrival: 1_700_000_000 + u64::from(n),
            sender: sender.to_owned(),
            recipients: recipients
                .iter()
                .map(|(address, reason)| ListedRecipient {
                    address: (*address).to_owned(),
                    reason: reason.map(str::to_owned),
                })
                .collect(),
        }
    }

    fn time(secs: u64) -> String {
        format!("T{secs}")
    }

    #[test]
    fn empty_queue() {
        assert_eq!(render_mailq(&[], &time), "Mail queue is empty\n");
        assert_eq!(render_json(&[]), "");
    }

    #[test]
    fn mailq_layout() {
        let listed = vec![
            message(
                1,
                Queue::Active,
                "alice@example.org",
                &[("bob@example.org", None)],
            ),
            message(
                2,
                Queue::Deferred,
                "",
                &[
                    ("a@example.net", Some("connect: refused")),
                    ("new@example.net", None),
                    ("b@example.net", Some("connect: refused")),
                    ("c@example.com", Some("4.2.2 mailbox full")),
                ],
            ),
            message(3, Queue::Hold, "x\u{7}y@example.org", &[]),
        ];
        let want = [
            "-Queue ID-           --Size-- ----Arrival Time---- -Sender/Recipient-------",
            "0123456789ABCDEFGHJ1*    1000 T1700000001          alice@example.org",
            "                                                   bob@example.org",
            "",
            "0123456789ABCDEFGHJ2     2000 T1700000002          MAILER-DAEMON",
            "                                                                      (connect: refused)",
            "                                                   a@example.net",
            "                                                   b@example.net",
            "                                                                    (4.2.2 mailbox full)",
            "                                                   c@example.com",
            "                                                   new@example.net",
            "",
            "0123456789ABCDEFGHJ3!    3000 T1700000003          x?y@example.org",
            "",
            "-- 5 Kbytes in 3 Requests.",
            "",
        ]
        .join("\n");
        assert_eq!(render_mailq(&listed, &time), want);
        // The address column is where the header says.
        assert_eq!(
            want.lines().next().unwrap().find("-Sender"),
            Some(ADDRESS_COLUMN)
        );
    }

    #[test]
    fn one_request_is_singular() {
        let listed = vec![message(1, Queue::Incoming, "a@b", &[("c@d", None)])];
        assert!(render_mailq(&listed, &time).ends_with("\n-- 0 Kbytes in 1 Request.\n"));
    }

    #[test]
    fn json_lines_like_postqueue() {
        let listed = vec![
            message(
                1,
                Queue::Deferred,
                "a@b",
                &[("c@d", Some("later")), ("e@f", None)],
            ),
            message(2, Queue::Hold, "", &[]),
        ];
        assert_eq!(
            render_json(&listed),
            "{\"queue_name\":\"deferred\",\"queue_id\":\"0123456789ABCDEFGHJ1\",\"arrival_time\":1700000001,\"message_size\":1000,\"sender\":\"a@b\",\"recipients\":[{\"address\":\"c@d\",\"delay_reason\":\"later\"},{\"address\":\"e@f\"}]}\n\
             {\"queue_name\":\"hold\",\"queue_id\":\"0123456789ABCDEFGHJ2\",\"arrival_time\":1700000002,\"message_size\":2000,\"sender\":\"\",\"recipients\":[]}\n"
        );
    }
}
