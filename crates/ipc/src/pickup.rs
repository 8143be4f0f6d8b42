//! The pickup channel (`public/pickup`): local submissions (`sendmail`), and
//! what local users may ask of the queue (listing, flushing).
//!
//! Any local user can connect; the pickup daemon knows who from the kernel
//! (`SO_PEERCRED`), never from the request. A submission is
//! [`Request::Submit`], then the message in [`Request::Data`] pieces, then
//! [`Request::End`]; the answer is [`Reply::Queued`] or [`Reply::Refused`]
//! with the sysexits code `sendmail` exits with.
//!
//! Wire rule: never reorder or remove a variant or field. Add at the end and bump
//! [`Pickup::VERSION`]; the golden tests pin the current bytes.

use serde::{Deserialize, Serialize};
pub use spool::maildrop::Submission;

use crate::connection::Channel;
use crate::names;

/// The pickup channel's marker type for [`crate::Connection`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pickup;

/// The most message bytes in one [`Request::Data`].
pub const DATA_CHUNK: usize = 256 * 1024;

impl Channel for Pickup {
    const NAME: &'static str = names::PICKUP;
    const VERSION: u32 = 1;
    /// A submission record, a data chunk, or a piece of a listing.
    const MAX_FRAME: usize = 2 * 1024 * 1024;
    type Request = Request;
    type Reply = Reply;
}

/// What a local user asks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Request {
    /// Start a submission; answered [`Reply::Continue`] or [`Reply::Refused`].
    Submit(Submission),
    /// The next piece of the message (at most [`DATA_CHUNK`] bytes); not
    /// answered.
    Data(Vec<u8>),
    /// The message is complete: queue it.
    End,
    /// Retry deferred mail now (`sendmail -q`); answered [`Reply::Ok`].
    Flush,
    /// The queue (`mailq`): answered with [`Reply::Entries`] pieces, then
    /// [`Reply::Ok`].
    List,
    /// Retry some deferred messages now (`postern queue flush ID|DOMAIN`);
    /// answered [`Reply::Ok`].
    FlushSome(crate::qmgr::Selection),
}

/// The most messages in one [`Reply::Entries`].
pub const LIST_CHUNK: usize = 500;

/// The pickup daemon's answers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Reply {
    /// Send the message.
    Continue,
    /// Queued under this ID.
    Queued(String),
    /// Not accepted: `sendmail` prints `text` and exits with `exit` (sysexits).
    Refused {
        /// The exit status (`EX_NOPERM`, `EX_DATAERR`, ...).
        exit: u8,
        /// Why.
        text: String,
    },
    /// Done.
    Ok,
    /// A piece of the queue listing (at most [`LIST_CHUNK`] messages).
    Entries(Vec<spool::Listed>),
}

impl Request {
    /// The variant's name, for log lines.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Submit(_) => "Submit",
            Self::Data(_) => "Data",
            Self::End => "End",
            Self::Flush => "Flush",
            Self::List => "List",
            Self::FlushSome(_) => "FlushSome",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec;

    #[test]
    fn golden_bytes() {
        let submit = Request::Submit(Submission {
            sender: None,
            full_name: None,
            recipients: vec!["a".into()],
            extract_recipients: true,
        });
        assert_eq!(
            codec::encode(&submit).unwrap().body(),
            &[0, 0, 0, 1, 1, b'a', 1]
        );
        assert_eq!(codec::encode(&Request::End).unwrap().body(), &[2]);
        assert_eq!(
            codec::encode(&Reply::Refused {
                exit: 77,
                text: "no".into()
            })
            .unwrap()
            .body(),
            &[2, 77, 2, b'n', b'o']
        );
    }
}
