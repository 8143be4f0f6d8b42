//! `postern queue summary [QUEUE...]`: pending recipients per destination domain
//! and age, like Postfix's qshape.
//!
//! ```text
//!             T 5 10 20 40 80 160 320 640 1280 1280+
//!       TOTAL 4 1  0  0  0  0   0   0   0    1     2
//! example.net 3 0  0  0  0  0   0   0   0    1     2
//! example.org 1 1  0  0  0  0   0   0   0    0     0
//! ```
//!
//! A row per recipient domain (busiest first), `T` its total, then how many are
//! younger than 5, 10, 20 ... 1280 minutes (each column counts those not in the
//! one before), and 1280+ the older ones. Age is counted from arrival. By default
//! the queues waiting for delivery are counted: incoming, active and deferred.

use std::collections::BTreeMap;

use service::exit;
use spool::{Listed, Queue, recipient_domain};

use super::{QueueDir, listing, output, unix_now};
use crate::Failure;

/// Upper bounds of the age columns, in minutes; one more column for the rest.
const BUCKETS: [u64; 9] = [5, 10, 20, 40, 80, 160, 320, 640, 1280];
/// The queues counted when none are named.
const DEFAULT_QUEUES: [Queue; 3] = [Queue::Incoming, Queue::Active, Queue::Deferred];

/// `postern queue summary [QUEUE...]`.
pub fn summary(queue: &QueueDir, names: &[String]) -> Result<(), Failure> {
    let mut queues = Vec::new();
    for name in names {
        match Queue::from_name(name) {
            Some(q @ (Queue::Incoming | Queue::Active | Queue::Deferred | Queue::Hold)) => {
                queues.push(q);
            }
            _ => {
                return Err(Failure::new(
                    exit::USAGE,
                    format!(
                        "{name:?}: not a queue to summarise (incoming, active, deferred, hold)"
                    ),
                ));
            }
        }
    }
    if queues.is_empty() {
        queues = DEFAULT_QUEUES.to_vec();
    }
    let listed = listing(queue, &queues)?;
    output(render_summary(&listed, unix_now()).as_bytes())
}

/// The qshape table for `listed` at `now` (seconds since the epoch).
pub fn render_summary(listed: &[Listed], now: u64) -> String {
    // Per domain: total, then one count per column.
    let mut rows: BTreeMap<String, [u64; BUCKETS.len() + 2]> = BTreeMap::new();
    let mut total = [0u64; BUCKETS.len() + 2];
    for message in listed {
        let age = now.saturating_sub(message.arrival);
        let column = BUCKETS
            .iter()
            .position(|&minutes| age < minutes * 60)
            .unwrap_or(BUCKETS.len());
        for recipient in &message.recipients {
            let domain = match recipient_domain(&recipient.address) {
                "" => recipient.address.to_ascii_lowercase(),
                domain => domain.to_ascii_lowercase(),
            };
            let row = rows.entry(super::list::printable(&domain)).or_default();
            for counts in [row, &mut total] {
                if let Some(count) = counts.first_mut() {
                    *count += 1;
                }
                if let Some(count) = counts.get_mut(column + 1) {
                    *count += 1;
                }
            }
        }
    }
    let mut sorted: Vec<(String, [u64; BUCKETS.len() + 2])> = rows.into_iter().collect();
    // Busiest first; the BTreeMap's name order breaks ties.
    sorted.sort_by(|a, b| b.1.first().cmp(&a.1.first()));

    let mut header = vec![String::new(), "T".to_owned()];
    header.extend(BUCKETS.iter().map(u64::to_string));
    header.push(format!("{}+", BUCKETS.last().copied().unwrap_or_default()));
    let mut table = vec![header];
    for (name, counts) in std::iter::once(("TOTAL".to_owned(), total)).chain(sorted) {
        let mut line = vec![name];
        line.extend(counts.iter().map(u64::to_string));
        table.push(line);
    }
    let mut widths = vec![0usize; BUCKETS.len() + 3];
    for line in &table {
        for (width, cell) in widths.iter_mut().zip(line) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    for line in &table {
        let cells: Vec<String> = widths
            .iter()
            .zip(line)
            .map(|(width, cell)| format!("{cell:>width$}"))
            .collect();
        out.push_str(&cells.join(" "));
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use spool::{ListedRecipient, QueueId};

    use super::*;

    const NOW: u64 = 1_700_000_000;

    fn message(minutes_old: u64, recipients: &[&str]) -> Listed {
        Listed {
            id: QueueId::new(),
            queue: Queue::Deferred,
            size: 1,
            arrival: NOW - minutes_old * 60,
            sender: "s@example.org".into(),
            recipients: recipients
                .iter()
                .map(|a| ListedRecipient {
                    address: (*a).to_owned(),
                    reason: None,
                })
                .collect(),
        }
    }

    #[test]
    fn empty_queue_has_a_zero_total() {
        assert_eq!(
            render_summary(&[], NOW),
            "      T 5 10 20 40 80 160 320 640 1280 1280+\n\
             TOTAL 0 0  0  0  0  0   0   0   0    0     0\n"
        );
    }

    #[test]
    fn recipients_by_domain_and_age() {
        let listed = vec![
            message(0, &["a@Example.ORG"]),
            message(7, &["b@example.net", "c@example.net"]),
            message(2000, &["d@example.net", "postmaster"]),
            message(1279, &["e@example.com"]),
        ];
        let want = [
            "            T 5 10 20 40 80 160 320 640 1280 1280+",
            "      TOTAL 6 1  2  0  0  0   0   0   0    1     2",
            "example.net 3 0  2  0  0  0   0   0   0    0     1",
            "example.com 1 0  0  0  0  0   0   0   0    1     0",
            "example.org 1 1  0  0  0  0   0   0   0    0     0",
            " postmaster 1 0  0  0  0  0   0   0   0    0     1",
            "",
        ];
        assert_eq!(render_summary(&listed, NOW), want.join("\n"));
    }
}
