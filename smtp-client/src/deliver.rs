//! The delivery channel: qmgr asks for a message to some remote recipients;
//! each recipient's result goes back as soon as its transaction is over.

use std::collections::BTreeMap;
use std::io::Read;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use ipc::deliver::{Deliver, Outcome, Recipient, Reply};
use maillog::{Delays, Status};
use service::CancellationToken;
use spool::{Queue, QueueFile, QueueId, Spool};
use tokio::net::UnixStream;
use tracing::{info, warn};

use crate::cache::Cache;
use crate::dns::{Dns, Target};
use crate::nexthop::NextHop;
use crate::session::{self, Open, Session};
use crate::settings::Settings;
use crate::transaction::{self, Body, Rcpt, Verdict};

/// The outbound agent.
pub struct Agent {
    spool: Arc<Spool>,
    pub settings: Settings,
    dns: Dns,
    pub cache: Cache,
    ipc_timeout: Duration,
}

/// One recipient's result, with what the log needs.
struct Result1 {
    index: u32,
    address: String,
    relay: String,
    outcome: Outcome,
    /// Seconds setting up the connection (delays c) and transmitting (d).
    setup: f64,
    transfer: f64,
}

impl Agent {
    /// Builds the resolver and the cache.
    ///
    /// # Errors
    /// A bad DNS server list or unreadable resolver configuration.
    pub fn new(params: &config::Params, settings: Settings) -> anyhow::Result<Self> {
        let dns = Dns::new(
            &settings.dns_servers,
            &settings.protocols,
            settings.preference,
        )?;
        Ok(Agent {
            spool: Arc::new(Spool::new(&params.queue_directory)),
            cache: Cache::new(settings.cache_time),
            dns,
            settings,
            ipc_timeout: params.ipc_timeout,
        })
    }

    /// Serves one qmgr connection.
    pub async fn serve(
        &self,
        stream: UnixStream,
        _shutdown: CancellationToken,
    ) -> anyhow::Result<()> {
        let mut conn = ipc::Connection::<Deliver, _>::accept(stream, self.ipc_timeout).await?;
        while let Some(ipc::deliver::Job {
            id,
            recipients,
            nexthop,
        }) = ipc::deliver::next_job(&mut conn).await?
        {
            let started = SystemTime::now();
            let file = match self.open(id).await {
                Ok(file) => file,
                Err(e) => {
                    warn!("{id}: {e:#}");
                    let text = format!("cannot read queue file: {e}");
                    ipc::deliver::defer_all(&mut conn, &recipients, &text).await?;
                    continue;
                }
            };
            for (hop, group) in Self::route(&nexthop, recipients) {
                let results = match hop {
                    Ok(hop) => {
                        let mut all = Vec::new();
                        for chunk in group.chunks(self.settings.recipient_limit) {
                            all.extend(self.deliver(&file, &hop, chunk).await);
                        }
                        all
                    }
                    Err(text) => group
                        .into_iter()
                        .map(|r| Result1 {
                            index: r.index,
                            address: r.address,
                            relay: "none".into(),
                            outcome: Outcome::Deferred {
                                status: "4.3.5".into(),
                                text: text.clone(),
                            },
                            setup: 0.0,
                            transfer: 0.0,
                        })
                        .collect(),
                };
                for result in results {
                    log(&file, started, &result);
                    conn.send_reply(&Reply::Recipient {
                        index: result.index,
                        outcome: result.outcome,
                    })
                    .await?;
                }
            }
            conn.send_reply(&Reply::Done).await?;
        }
        Ok(())
    }

    async fn open(&self, id: QueueId) -> anyhow::Result<Arc<QueueFile>> {
        let spool = self.spool.clone();
        let file = tokio::task::spawn_blocking(move || spool.open(Queue::Active, &id)).await??;
        Ok(Arc::new(file))
    }

    /// Groups recipients by next hop: the one qmgr chose (the transport map's,
    /// the relayhost or the domain), or else each recipient's domain. A next
    /// hop that does not parse is a configuration error: the mail waits.
    fn route(
        nexthop: &str,
        recipients: Vec<Recipient>,
    ) -> Vec<(Result<NextHop, String>, Vec<Recipient>)> {
        let mut groups: BTreeMap<String, (Result<NextHop, String>, Vec<Recipient>)> =
            BTreeMap::new();
        for r in recipients {
            let hop = if nexthop.is_empty() {
                match r.address.rsplit_once('@') {
                    Some((_, domain)) => NextHop::for_domain(domain).map_err(|e| e.to_string()),
                    None => Err(format!("<{}>: no domain in the address", r.address)),
                }
            } else {
                NextHop::parse(nexthop).map_err(|e| format!("mail transport unavailable: {e}"))
            };
            let key = match &hop {
                Ok(hop) => hop.to_string(),
                Err(text) => format!("error:{text}"),
            };
            groups
                .entry(key)
                .or_insert_with(|| (hop, Vec::new()))
                .1
                .push(r);
        }
        groups.into_values().collect()
    }

    /// Delivers one message to some recipients at one next hop: a cached
    /// session if there is one, else each MX address in turn until every
    /// recipient has a final answer or the limits are reached.
    async fn deliver(
        &self,
        file: &Arc<QueueFile>,
        hop: &NextHop,
        recipients: &[Recipient],
    ) -> Vec<Result1> {
        let settings = &self.settings;
        let envelope = file.envelope();
        let mut pending: Vec<Rcpt> = recipients
            .iter()
            .map(|r| {
                let original = usize::try_from(r.index)
                    .ok()
                    .and_then(|i| envelope.recipients.get(i));
                Rcpt {
                    index: r.index,
                    address: r.address.clone(),
                    orcpt: original.and_then(|o| o.orcpt.clone()),
                    notify: original.map(|o| o.notify).unwrap_or_default(),
                    last: None,
                }
            })
            .collect();
        let mut done = Vec::new();
        let mut body = Body::new(file.clone());
        let key = hop.to_string();
        let credentials = settings.passwords.as_ref().and_then(|map| map.find(hop));
        let begun = tokio::time::Instant::now();
        let mut last_relay = "none".to_owned();
        let mut last_error: Option<(bool, String, String)> = None;

        // A cached connection first: no lookup, no handshakes.
        if let Some(mut session) = self.cache.take(&key) {
            if session.reset(settings.timeouts.rset).await {
                info!(
                    "reusing the connection to {} ({} messages so far)",
                    session.target.relay(),
                    session.transactions
                );
                let setup = begun.elapsed().as_secs_f64();
                self.transact(session, &key, &mut body, &mut pending, &mut done, setup)
                    .await;
            } else {
                session.quit(settings.timeouts.quit).await;
            }
        }

        if !pending.is_empty() {
            match self
                .dns
                .targets(hop, settings.port, settings.address_limit)
                .await
            {
                Err(failure) => {
                    last_error = Some((failure.permanent, failure.status.into(), failure.text));
                }
                Ok(targets) => {
                    let mut sessions = 0;
                    for target in targets {
                        if pending.is_empty() || sessions >= settings.session_limit {
                            break;
                        }
                        last_relay = target.relay();
                        match self.connect(target, credentials).await {
                            Ok(session) => {
                                sessions += 1;
                                let setup = begun.elapsed().as_secs_f64();
                                self.transact(
                                    session,
                                    &key,
                                    &mut body,
                                    &mut pending,
                                    &mut done,
                                    setup,
                                )
                                .await;
                            }
                            Err((error, greeted)) => {
                                if greeted {
                                    sessions += 1;
                                }
                                let (permanent, status, text) = describe(&error, settings);
                                info!("{}: {text}", file.id());
                                if permanent {
                                    // A 5xx greeting (with smtp_skip_5xx_greeting = no) is
                                    // the destination's final word.
                                    for r in pending.drain(..) {
                                        done.push(result(
                                            r,
                                            &last_relay,
                                            Outcome::Failed {
                                                status: status.clone(),
                                                text: text.clone(),
                                            },
                                            begun.elapsed().as_secs_f64(),
                                            0.0,
                                        ));
                                    }
                                }
                                last_error = Some((false, status, text));
                            }
                        }
                    }
                }
            }
        }

        let setup = begun.elapsed().as_secs_f64();
        for r in pending {
            let (permanent, status, text) = match (&r.last, &last_error) {
                (Some(last), _) => (false, last.0.clone(), last.1.clone()),
                (None, Some(error)) => error.clone(),
                (None, None) => (
                    false,
                    "4.4.1".to_owned(),
                    format!("no SMTP server of {hop} could be reached"),
                ),
            };
            let outcome = if permanent {
                Outcome::Failed { status, text }
            } else {
                Outcome::Deferred { status, text }
            };
            done.push(result(r, &last_relay, outcome, setup, 0.0));
        }
        done
    }

    /// Opens a session to `target`: with STARTTLS when the level asks for it,
    /// and again without it when `may` meets a TLS handshake that fails.
    /// On error, also says whether the server got as far as a greeting.
    async fn connect(
        &self,
        target: Target,
        credentials: Option<&(String, smtp_proto::Secret)>,
    ) -> Result<Session, (session::Error, bool)> {
        let settings = &self.settings;
        let open = Open {
            settings,
            tls: true,
            credentials,
        };
        match Session::open(target.clone(), &open).await {
            Ok(session) => Ok(session),
            Err(session::Error::Refused {
                status: "4.7.5",
                text,
            }) if settings.tls_level == tls::SecurityLevel::May => {
                info!("{text}; trying again without TLS");
                let plain = Open { tls: false, ..open };
                Session::open(target, &plain).await.map_err(|e| (e, true))
            }
            Err(e) => {
                let greeted =
                    !matches!(e, session::Error::Lost(ref text) if text.starts_with("connect to"));
                Err((e, greeted))
            }
        }
    }

    /// Runs one transaction on `session` for the pending recipients, moves
    /// the final results to `done`, and caches the session if it is still
    /// good.
    async fn transact(
        &self,
        mut session: Session,
        key: &str,
        body: &mut Body,
        pending: &mut Vec<Rcpt>,
        done: &mut Vec<Result1>,
        setup: f64,
    ) {
        let settings = &self.settings;
        let relay = session.target.relay();
        let began = tokio::time::Instant::now();
        let rcpts = std::mem::take(pending);
        let (verdicts, healthy) = transaction::run(&mut session, settings, body, rcpts).await;
        let transfer = began.elapsed().as_secs_f64();
        for (mut r, verdict) in verdicts {
            match verdict {
                Verdict::Sent(text) => done.push(result(
                    r,
                    &relay,
                    Outcome::Sent {
                        relay: relay.clone(),
                        text,
                    },
                    setup,
                    transfer,
                )),
                Verdict::Failed(status, text) => done.push(result(
                    r,
                    &relay,
                    Outcome::Failed { status, text },
                    setup,
                    transfer,
                )),
                Verdict::Rejected(status, text, reply) => done.push(result(
                    r,
                    &relay,
                    Outcome::Rejected {
                        status,
                        text,
                        remote_mta: session.target.name.clone(),
                        reply,
                    },
                    setup,
                    transfer,
                )),
                Verdict::Deferred(status, text) => {
                    r.last = Some((status, text));
                    pending.push(r);
                }
            }
        }
        if healthy {
            session.transactions += 1;
            if let Some(session) = self.cache.put(key.to_owned(), session) {
                session.quit(settings.timeouts.quit).await;
            }
        }
    }
}

fn result(r: Rcpt, relay: &str, outcome: Outcome, setup: f64, transfer: f64) -> Result1 {
    Result1 {
        index: r.index,
        address: r.address,
        relay: relay.to_owned(),
        outcome,
        setup,
        transfer,
    }
}

/// What a failed connection attempt means: (permanent, status, text).
fn describe(error: &session::Error, settings: &Settings) -> (bool, String, String) {
    match error {
        session::Error::Rejected { reply, step } => {
            let status = transaction::status_of(reply);
            let permanent = reply.code.get() >= 500 && !settings.skip_5xx_greeting;
            let text = if *step == "greeting" {
                format!("host refused to talk to me: {}", reply.summary())
            } else {
                format!(
                    "host said: {} (in reply to {step} command)",
                    reply.summary()
                )
            };
            (permanent, status, text)
        }
        session::Error::Lost(text) => (false, "4.4.1".into(), text.clone()),
        session::Error::Refused { status, text } => (false, (*status).into(), text.clone()),
    }
}

/// Logs one recipient's result in Postfix's shape.
fn log(file: &QueueFile, started: SystemTime, result: &Result1) {
    let arrival = file.envelope().arrival;
    let now = SystemTime::now();
    let queued = started
        .duration_since(arrival)
        .unwrap_or_default()
        .as_secs_f64();
    let delays = Delays {
        total: now
            .duration_since(arrival)
            .unwrap_or_default()
            .as_secs_f64(),
        parts: [queued, 0.0, result.setup, result.transfer],
    };
    let (dsn, status, text) = match &result.outcome {
        Outcome::Sent { text, .. } => ("2.0.0", Status::Sent, text.as_str()),
        Outcome::Deferred { status, text } => (status.as_str(), Status::Deferred, text.as_str()),
        Outcome::Failed { status, text } | Outcome::Rejected { status, text, .. } => {
            (status.as_str(), Status::Bounced, text.as_str())
        }
        Outcome::Forward { text, .. } => ("2.0.0", Status::Sent, text.as_str()),
    };
    let dsn = match &result.outcome {
        Outcome::Sent { text, .. } => sent_status(text).unwrap_or(dsn),
        _ => dsn,
    };
    maillog::delivery(
        file.id(),
        &result.address,
        &result.relay,
        &delays,
        dsn,
        status,
        text,
    );
}

/// The enhanced status in a `250 2.0.0 Ok` text, when there is one.
fn sent_status(text: &str) -> Option<&str> {
    let status = text.split_whitespace().nth(1)?;
    status.starts_with("2.").then_some(status)
}

/// Reads up to `limit` message bytes from `offset` (blocking: run it off the
/// async threads).
pub fn read_chunk(file: &QueueFile, offset: u64, limit: usize) -> std::io::Result<Vec<u8>> {
    let mut chunk = Vec::with_capacity(limit);
    file.message_from(offset)
        .take(u64::try_from(limit).unwrap_or(u64::MAX))
        .read_to_end(&mut chunk)?;
    Ok(chunk)
}
