//! The delivery channel: qmgr asks a delivery agent (`private/local`, later
//! `private/smtp`) to deliver one message to some of its recipients.
//!
//! The message itself never travels: the agent opens `active/ID` in the spool.
//! qmgr sends one [`Request::Deliver`]; the agent answers one [`Reply::Recipient`] per
//! recipient, as each is done, then [`Reply::Done`]. qmgr records each result in the
//! queue file as it arrives, so a crash of either side loses at most the deliveries
//! in flight (they are retried: at-least-once).
//!
//! Wire rule: never reorder or remove a variant or field. Add at the end and bump
//! [`Deliver::VERSION`]; the golden tests pin the current bytes.

use serde::{Deserialize, Serialize};

use crate::connection::Channel;

/// The channel name of delivery agents.
pub const NAME: &str = "deliver";

/// The delivery channel's marker type for [`crate::Connection`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Deliver;

impl Channel for Deliver {
    const NAME: &'static str = NAME;
    /// 2: `Deliver` carries the next hop.
    const VERSION: u32 = 2;
    /// A request lists at most a message's recipients (smtpd_recipient_limit).
    const MAX_FRAME: usize = 4 * 1024 * 1024;
    type Request = Request;
    type Reply = Reply;
}

/// One recipient of a delivery request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Recipient {
    /// Its index in the queue file, to record the result against.
    pub index: u32,
    /// The address to deliver to.
    pub address: String,
}

/// What qmgr asks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Request {
    /// Deliver message `queue_id` (in `active/`) to `recipients`.
    Deliver {
        /// The queue ID (validated by the agent before it touches a path).
        queue_id: String,
        /// The recipients to deliver to now.
        recipients: Vec<Recipient>,
        /// Where they go, for `smtp`: the relayhost syntax (`example.org` for
        /// its MX hosts, `[host]:port` for that host); empty for `local`.
        nexthop: String,
    },
}

/// How one recipient's delivery went.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Outcome {
    /// Delivered (`status=sent`).
    Sent {
        /// Where it went, for the log (`relay=local`).
        relay: String,
        /// What happened (`delivered to maildir`).
        text: String,
    },
    /// Not now; try again later (`status=deferred`).
    Deferred {
        /// The enhanced status code (`4.2.0`).
        status: String,
        /// Why.
        text: String,
    },
    /// Never (`status=bounced`): the sender gets a DSN.
    Failed {
        /// The enhanced status code (`5.1.1`).
        status: String,
        /// Why.
        text: String,
    },
    /// The recipient is an alias that also leads off this host: the local part was
    /// delivered (if any), and these addresses need a new message (`status=sent`,
    /// "forwarded").
    Forward {
        /// Where it went locally, for the log.
        text: String,
        /// The addresses to forward to, with the original sender.
        addresses: Vec<String>,
    },
    /// Never, because a remote server said so (`status=bounced`): the DSN names
    /// the server and quotes its reply (RFC 3464 `Remote-MTA`, `smtp;`
    /// diagnostic).
    Rejected {
        /// The enhanced status code (`5.1.1`).
        status: String,
        /// Why, for the log (`host mx[192.0.2.1] said: 550 ...`).
        text: String,
        /// The server's host name (`mx.example.org`).
        remote_mta: String,
        /// The server's reply as it came (`550 5.1.1 <b@example.org>: ...`).
        reply: String,
    },
}

/// The agent's answers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Reply {
    /// The result for one recipient.
    Recipient {
        /// The recipient's index in the queue file.
        index: u32,
        /// How it went.
        outcome: Outcome,
    },
    /// Every recipient of the request was answered.
    Done,
}

/// A delivery request as an agent works on it, its queue ID checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Job {
    /// The message, in `active/`.
    pub id: spool::QueueId,
    /// Whom to deliver it to.
    pub recipients: Vec<Recipient>,
    /// Where (for `smtp`); empty for `local`.
    pub nexthop: String,
}

/// The next request on an agent's connection; `None` when qmgr hung up.
///
/// # Errors
/// As for [`crate::Connection::recv_request`]; [`crate::Error::BadQueueId`].
pub async fn next_job<S>(conn: &mut crate::Connection<Deliver, S>) -> crate::Result<Option<Job>>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let Some(Request::Deliver {
        queue_id,
        recipients,
        nexthop,
    }) = conn.recv_request().await?
    else {
        return Ok(None);
    };
    let id = queue_id.parse().map_err(|_| crate::Error::BadQueueId {
        channel: NAME,
        id: queue_id,
    })?;
    Ok(Some(Job {
        id,
        recipients,
        nexthop,
    }))
}

/// An agent that cannot read the queue file answers every recipient of the
/// request with the same temporary failure, then [`Reply::Done`]: qmgr
/// tries them again later.
///
/// # Errors
/// As for [`crate::Connection::send_reply`].
pub async fn defer_all<S>(
    conn: &mut crate::Connection<Deliver, S>,
    recipients: &[Recipient],
    text: &str,
) -> crate::Result<()>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    for r in recipients {
        let outcome = Outcome::Deferred {
            status: "4.3.0".into(),
            text: text.to_owned(),
        };
        conn.send_reply(&Reply::Recipient {
            index: r.index,
            outcome,
        })
        .await?;
    }
    conn.send_reply(&Reply::Done).await
}

impl Reply {
    /// The variant's name, for log lines.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Recipient { .. } => "Recipient",
            Self::Done => "Done",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec;

    #[test]
    fn golden_bytes() {
        let request = Request::Deliver {
            queue_id: "Q".into(),
            recipients: vec![Recipient {
                index: 1,
                address: "a@b".into(),
            }],
            nexthop: "b".into(),
        };
        assert_eq!(
            codec::encode(&request).unwrap().body(),
            &[0, 1, b'Q', 1, 1, 3, b'a', b'@', b'b', 1, b'b']
        );
        let reply = Reply::Recipient {
            index: 2,
            outcome: Outcome::Deferred {
                status: "4.2.0".into(),
                text: "x".into(),
            },
        };
        assert_eq!(
            codec::encode(&reply).unwrap().body(),
            &[0, 2, 1, 5, b'4', b'.', b'2', b'.', b'0', 1, b'x']
        );
        assert_eq!(codec::encode(&Reply::Done).unwrap().body(), &[1]);
    }
}
