//! Telling the sender about recipients that failed (RFC 3464 reports).
//!
//! A failed message from a normal sender makes a bounce: a new message from `<>` to
//! the sender. A failed bounce (empty sender) makes a double bounce to
//! `bounce_notice_recipient` from `double_bounce_sender`, and a failed double bounce
//! is dropped with a log line: notices never loop.

use std::time::SystemTime;

use dsn::{Action, Kind, RecipientReport, Report};
use spool::{Envelope, QueueFile, QueueId, Recipient};
use tracing::{error, info};

use crate::message::Failure;
use crate::scheduler::Scheduler;

fn qualify(name: &str, host: &str) -> String {
    if name.contains('@') {
        name.to_owned()
    } else {
        format!("{name}@{host}")
    }
}

/// Queues the notice for `failures` (if one is due) and gives the file back.
///
/// XXX: the failures are already recorded when this runs, so a notice that cannot
/// be queued (disk full) is logged and lost; a bounce log beside the queue file, as
/// Postfix keeps, would let it be retried.
pub async fn notify_sender(
    scheduler: &Scheduler,
    id: &QueueId,
    file: QueueFile,
    failures: &[Failure],
) -> anyhow::Result<QueueFile> {
    let settings = &scheduler.settings;
    let envelope = file.envelope().clone();
    let double_bounce_sender = qualify(&settings.double_bounce_sender, &settings.myhostname);
    let (from, to, double) = if envelope.sender.eq_ignore_ascii_case(&double_bounce_sender) {
        info!("{id}: discarding an undeliverable postmaster notice");
        return Ok(file);
    } else if envelope.sender.is_empty() {
        (
            double_bounce_sender,
            qualify(&settings.bounce_notice_recipient, &settings.myhostname),
            true,
        )
    } else {
        (String::new(), envelope.sender.clone(), false)
    };
    let reports: Vec<RecipientReport> = failures
        .iter()
        .filter_map(|failure| {
            let recipient = envelope
                .recipients
                .get(usize::try_from(failure.index).ok()?)?;
            // A bounce of a bounce is always sent; otherwise NOTIFY decides.
            (envelope.sender.is_empty() || dsn::should_notify(Kind::Failure, &recipient.notify))
                .then(|| RecipientReport {
                    final_recipient: recipient.address.clone(),
                    original_recipient: recipient.orcpt.clone(),
                    action: Action::Failed,
                    status: failure.status.clone(),
                    remote_mta: failure.remote.as_ref().map(|(mta, _)| mta.clone()),
                    diagnostic: Some(match &failure.remote {
                        Some((_, reply)) => format!("smtp; {reply}"),
                        None => format!("x-postern; {}", failure.text),
                    }),
                    last_attempt: Some(SystemTime::now()),
                    will_retry_until: None,
                })
        })
        .collect();
    if reports.is_empty() {
        return Ok(file);
    }
    let spool = scheduler.spool.clone();
    let host = settings.myhostname.clone();
    let limit = settings.bounce_size_limit;
    let id = *id;
    let result = tokio::task::spawn_blocking(move || {
        let result = (|| -> anyhow::Result<QueueId> {
            let postmaster = format!("MAILER-DAEMON@{host}");
            let report = Report {
                kind: Kind::Failure,
                queue_id: &id,
                envelope: &envelope,
                recipients: reports,
                reporting_mta: &host,
                postmaster: &postmaster,
                to: double.then_some(to.as_str()),
                arrival: envelope.arrival,
                now: SystemTime::now(),
            };
            let notice = Envelope {
                sender: from,
                recipients: vec![Recipient {
                    address: to.clone(),
                    orcpt: None,
                    notify: spool::DsnNotify::default(),
                }],
                arrival: SystemTime::now(),
                client: None,
                auth_user: None,
                dsn_envid: None,
                dsn_ret: None,
                body_8bit: report.needs_8bitmime(),
                smtputf8: report.needs_smtputf8(),
            };
            let mut writer = spool.create(&notice)?;
            dsn::render(&report, &mut file.message(), limit, &mut writer)?;
            Ok(writer.commit()?)
        })();
        (file, result)
    })
    .await?;
    match result {
        (file, Ok(new_id)) => {
            maillog::notification(&id, "non-delivery", &new_id);
            scheduler.nudge();
            Ok(file)
        }
        (file, Err(e)) => {
            error!("{id}: cannot queue the non-delivery notice: {e:#}");
            Ok(file)
        }
    }
}
