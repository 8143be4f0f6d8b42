//! Channel names and socket paths, kept in one place (Postfix's `mail_proto.h`).
//!
//! Socket paths are relative to the queue directory. Sockets under `private/` are
//! reachable only by the mail owner; sockets under `public/` face local users, who
//! are identified by `SO_PEERCRED`.

/// Directory of sockets for Postern's own processes.
pub const PRIVATE_DIR: &str = "private";

/// Directory of sockets open to local users.
pub const PUBLIC_DIR: &str = "public";

/// Channel name of master's control socket ([`crate::control`]).
pub const MASTER_CONTROL: &str = "master";

/// Socket of master's control channel.
pub const MASTER_CONTROL_SOCKET: &str = "private/master";

/// Channel name of the queue manager.
pub const QMGR: &str = "qmgr";

/// Socket of the queue manager.
pub const QMGR_SOCKET: &str = "private/qmgr";

/// The local delivery agent's socket, relative to the queue directory.
pub const LOCAL_SOCKET: &str = "private/local";

/// The outbound SMTP delivery agent's socket, relative to the queue directory.
pub const SMTP_SOCKET: &str = "private/smtp";

/// Channel name of the maildrop pickup trigger.
pub const PICKUP: &str = "pickup";

/// Socket of the pickup service.
pub const PICKUP_SOCKET: &str = "public/pickup";

/// Channel name of the queue listing service.
pub const SHOWQ: &str = "showq";

/// Socket of the queue listing service.
pub const SHOWQ_SOCKET: &str = "public/showq";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn socket_paths_are_directory_and_channel_name() {
        let cases = [
            (MASTER_CONTROL_SOCKET, PRIVATE_DIR, MASTER_CONTROL),
            (QMGR_SOCKET, PRIVATE_DIR, QMGR),
            (PICKUP_SOCKET, PUBLIC_DIR, PICKUP),
            (SHOWQ_SOCKET, PUBLIC_DIR, SHOWQ),
        ];
        for (socket, dir, channel) in cases {
            assert_eq!(socket, format!("{dir}/{channel}"));
        }
    }
}
