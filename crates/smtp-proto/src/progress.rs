//! progress - what a byte-fed reader reports after each call.

/// The result of feeding bytes to one of this crate's readers.
///
/// Readers never block and never keep bytes they do not need: they consume input up to
/// the end of the item they were reading (a line, a reply, a message, a chunk) and stop
/// there, so the caller keeps `input[consumed..]` for whatever comes next (pipelined
/// commands after the end of DATA, the next reply, ...).
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use]
pub struct Progress<T> {
    /// How many bytes of the input were consumed. The rest belongs to the caller.
    pub consumed: usize,
    /// The item completed by this call, if one was.
    pub output: Option<T>,
}

impl<T> Progress<T> {
    /// Input consumed, nothing complete yet.
    pub(crate) const fn pending(consumed: usize) -> Self {
        Self {
            consumed,
            output: None,
        }
    }

    /// Input consumed up to the end of a complete item.
    pub(crate) const fn done(consumed: usize, output: T) -> Self {
        Self {
            consumed,
            output: Some(output),
        }
    }
}
