//! The queue manager's channel (`private/qmgr`): "there is new mail", "retry now",
//! and the administrator's queue operations.
//!
//! smtpd and pickup send [`Request::Nudge`] after queueing a message, so it is
//! delivered at once instead of at the next timed scan; the queue tools send
//! [`Request::Flush`], [`Request::FlushSome`] and [`Request::Manage`]. A lost nudge
//! only delays mail: qmgr also scans on a timer. Queue operations go through qmgr
//! while it runs because it may be delivering the message right now: it applies
//! them when that delivery ends.
//!
//! Wire rule: never reorder or remove a variant or field. Add at the end and bump
//! [`Qmgr::VERSION`]; the golden tests pin the current bytes.

use serde::{Deserialize, Serialize};

use crate::connection::Channel;
use crate::names;

/// The qmgr channel's marker type for [`crate::Connection`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Qmgr;

impl Channel for Qmgr {
    const NAME: &'static str = names::QMGR;
    /// 2: queue operations.
    const VERSION: u32 = 2;
    /// A request may list many queue IDs (`postsuper -d - < ids`).
    const MAX_FRAME: usize = 4 * 1024 * 1024;
    type Request = Request;
    type Reply = Reply;
}

/// What a client asks qmgr.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Request {
    /// New mail is in `incoming/`: scan it now.
    Nudge,
    /// Retry every deferred message now (`postern queue flush`).
    Flush,
    /// Retry some deferred messages now.
    FlushSome(Selection),
    /// Delete, hold, release or requeue messages.
    Manage {
        /// What to do.
        operation: Operation,
        /// To which messages.
        target: Target,
    },
}

/// Which deferred messages to retry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Selection {
    /// These queue IDs.
    Ids(Vec<String>),
    /// Those with a pending recipient in this domain (lower case).
    Domain(String),
}

/// An administrator's queue operation (Postfix's postsuper).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Operation {
    /// Remove the message, no bounce (`postsuper -d`).
    Delete,
    /// Move it to `hold/`, out of delivery (`postsuper -h`).
    Hold,
    /// Move it from `hold/` back to delivery, due now (`postsuper -H`).
    Release,
    /// Deliver it again from the start, due now (`postsuper -r`).
    Requeue,
}

/// The messages an operation applies to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Target {
    /// These queue IDs, wherever they are.
    Ids(Vec<String>),
    /// Every message in these queues (by directory name: `deferred`, `hold`,
    /// ...); every queue the operation applies to when empty.
    All(Vec<String>),
}

impl Request {
    /// The variant's name, for log lines.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Nudge => "Nudge",
            Self::Flush => "Flush",
            Self::FlushSome(_) => "FlushSome",
            Self::Manage { .. } => "Manage",
        }
    }
}

/// qmgr's answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Reply {
    /// Done (for a nudge: noted; for a flush: the deferred queue was scheduled now).
    Ok,
    /// A queue operation or selective flush was done.
    Done {
        /// How many messages it applied to (an operation on a message being
        /// delivered right now counts; it is applied when the delivery ends).
        count: u32,
        /// The IDs asked for that are in no queue it applies to.
        not_found: Vec<String>,
    },
    /// The request was refused (a bad queue name or ID).
    Refused(String),
}

impl Reply {
    /// The variant's name, for log lines.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Ok => "Ok",
            Self::Done { .. } => "Done",
            Self::Refused(_) => "Refused",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec;

    #[test]
    fn golden_bytes() {
        assert_eq!(codec::encode(&Request::Nudge).unwrap().body(), &[0]);
        assert_eq!(codec::encode(&Request::Flush).unwrap().body(), &[1]);
        assert_eq!(codec::encode(&Reply::Ok).unwrap().body(), &[0]);
        let manage = Request::Manage {
            operation: Operation::Hold,
            target: Target::Ids(vec!["Q".into()]),
        };
        assert_eq!(
            codec::encode(&manage).unwrap().body(),
            &[3, 1, 0, 1, 1, b'Q']
        );
        let flush = Request::FlushSome(Selection::Domain("d".into()));
        assert_eq!(codec::encode(&flush).unwrap().body(), &[2, 1, 1, b'd']);
        let done = Reply::Done {
            count: 2,
            not_found: vec!["X".into()],
        };
        assert_eq!(codec::encode(&done).unwrap().body(), &[1, 2, 1, 1, b'X']);
    }
}
