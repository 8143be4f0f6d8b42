//! Which delivery agent a recipient goes to.

use accounts::{Accounts, DomainClass};

/// The transport for a recipient.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Transport {
    /// `local`: our domains (mailboxes and aliases).
    Local,
    /// `smtp`: everything else.
    Smtp,
}

impl Transport {
    /// The agent's socket, relative to the queue directory.
    pub fn socket(self) -> &'static str {
        match self {
            Transport::Local => ipc::names::LOCAL_SOCKET,
            Transport::Smtp => "private/smtp",
        }
    }

    /// The agent's name, for logs.
    pub fn name(self) -> &'static str {
        match self {
            Transport::Local => "local",
            Transport::Smtp => "smtp",
        }
    }
}

/// Routes one address: a bare local part (`postmaster`) and our domains are local.
pub fn transport(accounts: &Accounts, address: &str) -> Transport {
    match address.rsplit_once('@') {
        None => Transport::Local,
        Some((_, domain)) => match accounts.domain_class(domain) {
            DomainClass::Local | DomainClass::Virtual => Transport::Local,
            DomainClass::Remote => Transport::Smtp,
        },
    }
}
