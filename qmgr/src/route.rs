//! Which delivery agent a recipient goes to.

use accounts::{Accounts, DomainClass, Route};

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

/// What becomes of one recipient.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Hand it to an agent. Recipients with the same transport and next hop
    /// share one request and the destination's concurrency limit.
    Deliver {
        /// The agent.
        transport: Transport,
        /// For `smtp`, the next hop (relayhost syntax); empty for `local`.
        nexthop: String,
    },
    /// Return it to the sender (an `error:` route of `transport_maps`).
    Bounce {
        /// The enhanced status code.
        status: String,
        /// Why.
        text: String,
    },
}

/// Routes one address: a bare local part (`postmaster`) and our domains are
/// local; other domains go by SMTP to their `transport_maps` route, the
/// `relayhost`, or their own MX hosts.
pub fn route(accounts: &Accounts, address: &str) -> Decision {
    let local = Decision::Deliver {
        transport: Transport::Local,
        nexthop: String::new(),
    };
    let Some((_, domain)) = address.rsplit_once('@') else {
        return local;
    };
    match accounts.domain_class(domain) {
        DomainClass::Local | DomainClass::Virtual => local,
        DomainClass::Remote => match accounts.remote_route(domain) {
            Route::Smtp { nexthop } => Decision::Deliver {
                transport: Transport::Smtp,
                nexthop,
            },
            Route::Error { status, text } => Decision::Bounce { status, text },
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
