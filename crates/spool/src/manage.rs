//! manage - what the queue tools see and do: listings, and the administrator's
//! operations on whole queue files (Postfix's showq and postsuper).
//!
//! qmgr and the `postern queue` commands share these functions. Which process may
//! call them is the caller's business: `active/` belongs to qmgr, so a file there
//! is touched only by qmgr for a message it is not delivering, or by a tool that
//! holds qmgr's lock (qmgr is not running). Every move is one durable rename
//! ([`Spool::move_to`]), so after a crash a message is in exactly one queue.

use std::io;
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use crate::error::Error;
use crate::fsutil::io_err;
use crate::{Queue, QueueId, RecipientState, Spool};

/// One message as `mailq` shows it.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct Listed {
    /// The queue ID.
    pub id: QueueId,
    /// The queue it is in (`*` for active, `!` for hold in mailq's layout).
    pub queue: Queue,
    /// The message size in bytes.
    pub size: u64,
    /// When it arrived, in seconds since the Unix epoch.
    pub arrival: u64,
    /// The envelope sender; empty for the null sender `<>`.
    pub sender: String,
    /// The recipients still to be delivered, in envelope order; done and failed
    /// ones are left out, as Postfix's mailq does.
    pub recipients: Vec<ListedRecipient>,
}

/// A recipient of a [`Listed`] message.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct ListedRecipient {
    /// The address, as given in `RCPT TO`.
    pub address: String,
    /// Why the last attempt failed temporarily; None when not tried yet.
    pub reason: Option<String>,
}

/// An administrator's operation on a queued message (Postfix's postsuper).
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Operation {
    /// Remove the message without a notice to anyone (`postsuper -d`).
    Delete,
    /// Take it out of delivery: into `hold/` (`postsuper -h`).
    Hold,
    /// Back from `hold/` into `deferred/`, due now (`postsuper -H`).
    Release,
    /// Back into `incoming/`, to be routed and delivered afresh (`postsuper -r`).
    Requeue,
}

impl Operation {
    /// sources - the queues the operation takes messages from; also what `ALL`
    /// means for it.
    ///
    /// `active/` is listed where qmgr can apply the operation to a message it is
    /// delivering, once that delivery ends. Requeueing a message in `incoming/`
    /// changes nothing, and counts. `corrupt/` files are only ever deleted: qmgr
    /// cannot read them. `maildrop/` is pickup's: its files are not queue files.
    pub fn sources(self) -> &'static [Queue] {
        match self {
            Operation::Delete => &[
                Queue::Incoming,
                Queue::Active,
                Queue::Deferred,
                Queue::Hold,
                Queue::Corrupt,
            ],
            Operation::Hold => &[Queue::Incoming, Queue::Active, Queue::Deferred],
            Operation::Release => &[Queue::Hold],
            Operation::Requeue => &[Queue::Incoming, Queue::Active, Queue::Deferred, Queue::Hold],
        }
    }

    /// name - the command's name: `delete`, `hold`, `release`, `requeue`.
    pub fn name(self) -> &'static str {
        match self {
            Operation::Delete => "delete",
            Operation::Hold => "hold",
            Operation::Release => "release",
            Operation::Requeue => "requeue",
        }
    }
}

impl Spool {
    /// listing - every message in `queues`, sorted by queue (in [`Queue`] order)
    /// then by arrival.
    ///
    /// A file that vanishes meanwhile (delivered, moved) is skipped; so is a
    /// damaged one, with a warning naming it (qmgr quarantines it when it gets
    /// there). A queue directory that cannot be read is an error.
    pub fn listing(&self, queues: &[Queue]) -> Result<Vec<Listed>, Error> {
        let mut listed = Vec::new();
        for &queue in queues {
            for id in self.list(queue)? {
                let file = match self.open(queue, &id) {
                    Ok(file) => file,
                    Err(e) if e.is_not_found() => continue,
                    Err(e) if e.is_damaged() => {
                        tracing::warn!(queue_id = %id, "{id}: not listed: {e}");
                        continue;
                    }
                    Err(e) => return Err(e),
                };
                let envelope = file.envelope();
                let recipients = envelope
                    .recipients
                    .iter()
                    .zip(file.states())
                    .filter_map(|(recipient, state)| {
                        let reason = match state {
                            RecipientState::Pending => None,
                            RecipientState::Deferred(reason) => Some(reason.clone()),
                            RecipientState::Done | RecipientState::Failed { .. } => return None,
                        };
                        Some(ListedRecipient {
                            address: recipient.address.clone(),
                            reason,
                        })
                    })
                    .collect();
                listed.push(Listed {
                    id,
                    queue,
                    size: file.message_size(),
                    arrival: unix_seconds(envelope.arrival),
                    sender: envelope.sender.clone(),
                    recipients,
                });
            }
        }
        // Stable: equal arrivals keep ID (creation) order.
        listed.sort_by_key(|l| (l.queue, l.arrival));
        Ok(listed)
    }

    /// locate - the queue holding the file `id`, None if no queue has it.
    ///
    /// Queues are looked at in [`Queue::ALL`] order. A file that moves while
    /// this looks may be missed, so callers that must not miss one keep it from
    /// moving (qmgr's claim on it, or qmgr's lock).
    pub fn locate(&self, id: &QueueId) -> Result<Option<Queue>, Error> {
        for queue in Queue::ALL {
            let path = self.path(queue, id);
            match std::fs::symlink_metadata(&path) {
                Ok(_) => return Ok(Some(queue)),
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(io_err("stat queue file", &path)(e)),
            }
        }
        Ok(None)
    }

    /// apply_by_id - find `id` and do `operation` to it where it is, if that is
    /// one of the operation's [`sources`](Operation::sources).
    ///
    /// Returns the queue it was in; None when it is in no such queue (or vanished
    /// meanwhile), which a queue tool reports as "no such message".
    pub fn apply_by_id(&self, operation: Operation, id: &QueueId) -> Result<Option<Queue>, Error> {
        let Some(from) = self.locate(id)? else {
            return Ok(None);
        };
        if !operation.sources().contains(&from) {
            return Ok(None);
        }
        match self.apply(operation, id, from) {
            Ok(()) => Ok(Some(from)),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// flush_ids - make the messages `ids` due at `now` (Postfix's `postqueue -i`).
    ///
    /// A message in `deferred/` gets `now` as its next attempt; one in `incoming/`
    /// or `active/` is on its way already. Both count. Returns the count and the
    /// IDs in none of these queues (held mail is not flushed).
    pub fn flush_ids(
        &self,
        ids: &[QueueId],
        now: SystemTime,
    ) -> Result<(usize, Vec<QueueId>), Error> {
        let mut count = 0;
        let mut not_found = Vec::new();
        for id in ids {
            let found = match self.locate(id)? {
                Some(Queue::Deferred) => match self.set_next_attempt(Queue::Deferred, id, now) {
                    Ok(()) => true,
                    // Taken for delivery meanwhile: on its way.
                    Err(e) if e.is_not_found() => true,
                    Err(e) => return Err(e),
                },
                Some(Queue::Incoming | Queue::Active) => true,
                _ => false,
            };
            if found {
                count += 1;
            } else {
                not_found.push(*id);
            }
        }
        Ok((count, not_found))
    }

    /// flush_domain - make every deferred message with a pending recipient in
    /// `domain` (any case) due at `now` (Postfix's `postqueue -s`); `None` makes
    /// every deferred message due. Returns how many.
    pub fn flush_domain(&self, domain: Option<&str>, now: SystemTime) -> Result<usize, Error> {
        let mut count = 0;
        let ids = match domain {
            None => self.list(Queue::Deferred)?,
            Some(domain) => self
                .listing(&[Queue::Deferred])?
                .into_iter()
                .filter(|listed| {
                    listed
                        .recipients
                        .iter()
                        .any(|r| recipient_domain(&r.address).eq_ignore_ascii_case(domain))
                })
                .map(|listed| listed.id)
                .collect(),
        };
        for id in ids {
            match self.set_next_attempt(Queue::Deferred, &id, now) {
                Ok(()) => count += 1,
                Err(e) if e.is_not_found() => {}
                Err(e) => return Err(e),
            }
        }
        Ok(count)
    }

    /// apply - do `operation` to the file `id` in `from`.
    ///
    /// Delete removes the file; Hold moves it to `hold/`; Release sets its next
    /// attempt to now and moves it from `hold/` to `deferred/`; Requeue moves it
    /// to `incoming/` (from `incoming/` it does nothing). The recipients' states
    /// stay as they are: done ones are not delivered again, and deferred ones keep
    /// their last reason until the next attempt. [`Error::NotApplicable`] when
    /// `from` is not one of the operation's [`sources`](Operation::sources); a
    /// file that is gone is [`Error::is_not_found`].
    ///
    /// For a file in `active/`, the caller must make sure nobody delivers it
    /// (see the module documentation).
    pub fn apply(&self, operation: Operation, id: &QueueId, from: Queue) -> Result<(), Error> {
        if !operation.sources().contains(&from) {
            return Err(Error::NotApplicable {
                id: *id,
                operation: operation.name(),
                queue: from,
            });
        }
        match operation {
            Operation::Delete => self.remove(from, id),
            Operation::Hold => self.move_to(id, from, Queue::Hold),
            Operation::Release => {
                // Due now: the mtime travels with the file into deferred/.
                self.set_next_attempt(from, id, SystemTime::now())?;
                self.move_to(id, from, Queue::Deferred)
            }
            Operation::Requeue if from == Queue::Incoming => Ok(()),
            Operation::Requeue => self.move_to(id, from, Queue::Incoming),
        }
    }
}

/// recipient_domain - the domain of an address: what follows the last `@`
/// (empty without one).
pub fn recipient_domain(address: &str) -> &str {
    address.rsplit_once('@').map_or("", |(_, domain)| domain)
}

/// unix_seconds - a time as whole seconds since the epoch (0 before it).
fn unix_seconds(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}
