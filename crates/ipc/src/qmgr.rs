//! The queue manager's channel (`private/qmgr`): "there is new mail" and "retry now".
//!
//! smtpd (and later pickup) send [`Request::Nudge`] after queueing a message, so it
//! is delivered at once instead of at the next timed scan; the queue tools send
//! [`Request::Flush`]. A lost nudge only delays mail: qmgr also scans on a timer.
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
    const VERSION: u32 = 1;
    const MAX_FRAME: usize = 1024;
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
}

impl Request {
    /// The variant's name, for log lines.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Nudge => "Nudge",
            Self::Flush => "Flush",
        }
    }
}

/// qmgr's answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Reply {
    /// Done (for a nudge: noted; for a flush: the deferred queue was scheduled now).
    Ok,
}

impl Reply {
    /// The variant's name, for log lines.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Ok => "Ok",
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
    }
}
