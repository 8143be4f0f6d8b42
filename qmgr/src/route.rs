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
            Transport::Smtp => ipc::names::SMTP_SOCKET,
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

/// Routes one address: a bare local part (`postmaster`) and our domains are
/// local; other domains go out by SMTP.
///
/// Also names the destination, whose deliveries share a concurrency limit and
/// one request to the agent: `local` for local mail; the relayhost, or else
/// the recipient's domain in lower case, for SMTP.
pub fn route(accounts: &Accounts, relayhost: &str, address: &str) -> (Transport, String) {
    match address.rsplit_once('@') {
        None => (Transport::Local, "local".to_owned()),
        Some((_, domain)) => match accounts.domain_class(domain) {
            DomainClass::Local | DomainClass::Virtual => (Transport::Local, "local".to_owned()),
            DomainClass::Remote if !relayhost.is_empty() => (Transport::Smtp, relayhost.to_owned()),
            DomainClass::Remote => (Transport::Smtp, domain.to_ascii_lowercase()),
        },
    }
}

/// How many deliveries run at once per destination.
pub struct Destinations {
    local_limit: usize,
    smtp_limit: usize,
    busy:
        std::sync::Mutex<std::collections::HashMap<String, std::sync::Arc<tokio::sync::Semaphore>>>,
}

/// A delivery slot at one destination, given back on drop.
pub struct Slot {
    _permit: tokio::sync::OwnedSemaphorePermit,
}

impl Destinations {
    /// Limits for local (`default_destination_concurrency_limit`) and each
    /// SMTP destination (`smtp_destination_concurrency_limit`).
    pub fn new(local_limit: u32, smtp_limit: u32) -> Self {
        let count = |n: u32| usize::try_from(n.max(1)).unwrap_or(usize::MAX);
        Destinations {
            local_limit: count(local_limit),
            smtp_limit: count(smtp_limit),
            busy: std::sync::Mutex::new(std::collections::HashMap::new()),
        }
    }

    /// Waits for a free slot at `destination`.
    pub async fn acquire(&self, transport: Transport, destination: &str) -> Slot {
        let key = format!("{}:{destination}", transport.name());
        let semaphore = {
            let mut busy = self.busy.lock().unwrap_or_else(|e| e.into_inner());
            // Forget destinations nobody is delivering to.
            busy.retain(|_, s| std::sync::Arc::strong_count(s) > 1);
            let limit = match transport {
                Transport::Local => self.local_limit,
                Transport::Smtp => self.smtp_limit,
            };
            busy.entry(key)
                .or_insert_with(|| std::sync::Arc::new(tokio::sync::Semaphore::new(limit)))
                .clone()
        };
        let permit = loop {
            // The semaphore is never closed.
            if let Ok(permit) = semaphore.clone().acquire_owned().await {
                break permit;
            }
        };
        Slot { _permit: permit }
    }
}
