//! source - reading the message being delivered, one chunk at a time.
//!
//! Maildir and mbox delivery both stream the message from the queue
//! through a line-end converter into the mailbox; this is their shared
//! read side.

use std::io::{self, Read};
use std::path::Path;

use crate::error::Error;

/// Read and write in chunks of this size.
pub(crate) const CHUNK: usize = 64 * 1024;

/// read_chunk - the next bytes of `message`, read into `buf`; empty at the
/// end of the message.
///
/// An interrupted read is retried. Any other error is the source's, not
/// the mailbox's: [`Error::ReadMessage`] for the mailbox at `path`.
pub(crate) fn read_chunk<'b>(
    message: &mut dyn Read,
    buf: &'b mut [u8],
    path: &Path,
) -> Result<&'b [u8], Error> {
    loop {
        match message.read(buf) {
            Ok(n) => return Ok(buf.get(..n).unwrap_or_default()),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(source) => {
                return Err(Error::ReadMessage {
                    path: path.to_path_buf(),
                    source,
                });
            }
        }
    }
}
