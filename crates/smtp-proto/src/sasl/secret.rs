//! secret - a string that never shows in logs.

use std::fmt;

/// A password or raw SASL response.
///
/// `Debug` and `Display` are deliberately not the content: `Debug` prints `[redacted]`
/// and there is no `Display`. Use [`Secret::expose`] where the value is really needed
/// (checking a password, writing to the wire). The memory is zeroed on drop.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Secret(String);

impl Secret {
    /// Wraps a value.
    #[must_use]
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The value. Never log it.
    #[must_use]
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl Drop for Secret {
    fn drop(&mut self) {
        let mut bytes = std::mem::take(&mut self.0).into_bytes();
        bytes.fill(0);
        // Keep the compiler from dropping the writes as dead stores.
        std::hint::black_box(&bytes);
    }
}
