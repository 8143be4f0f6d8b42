//! The session's byte stream: plain, or TLS after STARTTLS or on a wrapper-mode port.

/// The connection, as it is now.
pub type Io = tls::MaybeTls<service::Stream>;
