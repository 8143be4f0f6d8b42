//! The administrator's queue operations (`postern queue delete|hold|release|requeue
//! |flush`), done by qmgr while it runs.
//!
//! They go through qmgr because it may be delivering the message right now. A
//! message nobody works on is claimed (so the scheduler leaves it alone), changed
//! with the spool's functions and let go. For a message being delivered the
//! operation is recorded and applied when that delivery ends ([`finish`]): Delete
//! removes it (and no notice goes to the sender for recipients that failed
//! meanwhile), Hold moves it to `hold/` instead of waiting in `deferred/`, Release
//! and Requeue make it due at once. Operations run one at a time (`admin`).

use std::sync::Arc;
use std::time::SystemTime;

use ipc::qmgr::{Reply, Selection, Target};
use spool::{Operation, Queue, QueueId, Spool};
use tracing::{error, info, warn};

use crate::scheduler::{AdminClaim, Scheduler};

/// The spool's operation for the one on the wire.
fn operation(operation: ipc::qmgr::Operation) -> Operation {
    match operation {
        ipc::qmgr::Operation::Delete => Operation::Delete,
        ipc::qmgr::Operation::Hold => Operation::Hold,
        ipc::qmgr::Operation::Release => Operation::Release,
        ipc::qmgr::Operation::Requeue => Operation::Requeue,
    }
}

/// Parses queue IDs from a request; the first bad one refuses the request.
fn parse_ids(ids: &[String]) -> Result<Vec<QueueId>, Reply> {
    ids.iter()
        .map(|text| {
            QueueId::parse(text)
                .map_err(|e| Reply::Refused(format!("{text:?} is not a queue ID: {e}")))
        })
        .collect()
}

/// The queues `ALL` means for `operation`: those named (each must be one it applies
/// to), or all it applies to.
fn parse_queues(operation: Operation, names: &[String]) -> Result<Vec<Queue>, Reply> {
    if names.is_empty() {
        return Ok(operation.sources().to_vec());
    }
    names
        .iter()
        .map(|name| match Queue::from_name(name) {
            None => Err(Reply::Refused(format!("{name:?}: no such queue"))),
            Some(queue) if !operation.sources().contains(&queue) => Err(Reply::Refused(format!(
                "{} does not apply to {queue}",
                operation.name()
            ))),
            Some(queue) => Ok(queue),
        })
        .collect()
}

/// The messages a request names.
enum Chosen {
    /// These IDs, wherever they are.
    Ids(Vec<QueueId>),
    /// Everything in these queues.
    All(Vec<Queue>),
}

/// Answers [`ipc::qmgr::Request::Manage`].
pub async fn manage(
    scheduler: &Arc<Scheduler>,
    wire_operation: ipc::qmgr::Operation,
    target: Target,
) -> Reply {
    let operation = operation(wire_operation);
    let chosen = match &target {
        Target::Ids(texts) => parse_ids(texts).map(Chosen::Ids),
        Target::All(names) => parse_queues(operation, names).map(Chosen::All),
    };
    let chosen = match chosen {
        Ok(chosen) => chosen,
        Err(refused) => return refused,
    };
    let _admin = scheduler.admin.lock().await;
    // An older qmgr may still be finishing its deliveries after a reload.
    scheduler.wait_ready().await;
    let (ids, by_id) = match chosen {
        Chosen::Ids(ids) => (ids, true),
        Chosen::All(queues) => {
            let spool = scheduler.spool.clone();
            let listed = tokio::task::spawn_blocking(move || -> Result<_, spool::Error> {
                let mut ids = Vec::new();
                for queue in queues {
                    ids.extend(spool.list(queue)?);
                }
                Ok(ids)
            })
            .await;
            match listed {
                Ok(Ok(ids)) => (ids, false),
                Ok(Err(e)) => {
                    error!("{} ALL: {e}", operation.name());
                    return Reply::Refused(format!("cannot list the queue: {e}"));
                }
                Err(e) => {
                    error!("{} ALL: {e}", operation.name());
                    return Reply::Refused(format!("cannot list the queue: {e}"));
                }
            }
        }
    };
    let mut count: u32 = 0;
    let mut not_found = Vec::new();
    for id in ids {
        if scheduler.claim_for_admin(id, operation) == AdminClaim::InDelivery {
            info!(
                "{id}: {} when the delivery in progress ends",
                operation.name()
            );
            count = count.saturating_add(1);
            continue;
        }
        let spool = scheduler.spool.clone();
        let done = tokio::task::spawn_blocking(move || spool.apply_by_id(operation, &id)).await;
        scheduler.release(&id);
        match done {
            Ok(Ok(Some(from))) => {
                log(operation, &id, from);
                count = count.saturating_add(1);
            }
            // Gone or elsewhere: for ALL it was delivered or moved meanwhile.
            Ok(Ok(None)) => {
                if by_id {
                    not_found.push(id.to_string());
                }
            }
            Ok(Err(e)) => {
                error!("{id}: {}: {e}", operation.name());
                not_found.push(id.to_string());
            }
            Err(e) => {
                error!("{id}: {}: {e}", operation.name());
                not_found.push(id.to_string());
            }
        }
    }
    if count > 0 && matches!(operation, Operation::Release | Operation::Requeue) {
        scheduler.rescan();
    }
    Reply::Done { count, not_found }
}

/// The log line of a queue operation (Postfix's postsuper lines).
fn log(operation: Operation, id: &QueueId, from: Queue) {
    match operation {
        Operation::Delete => maillog::removed(id),
        Operation::Hold => maillog::held(id),
        Operation::Release => maillog::released(id),
        Operation::Requeue if from == Queue::Incoming => {}
        Operation::Requeue => maillog::requeued(id),
    }
}

/// Ends the claim of a delivery, first applying the operation recorded for it.
pub async fn finish(scheduler: &Scheduler, id: QueueId) {
    let _admin = scheduler.admin.lock().await;
    if let Some(operation) = scheduler.take_pending_operation(&id) {
        let spool = scheduler.spool.clone();
        let done = tokio::task::spawn_blocking(move || after_delivery(&spool, operation, &id))
            .await
            .map_err(|e| e.to_string())
            .and_then(|r| r.map_err(|e| e.to_string()));
        match done {
            Ok(true) => {
                if matches!(operation, Operation::Release | Operation::Requeue) {
                    scheduler.rescan();
                }
            }
            Ok(false) => {}
            Err(e) => warn!("{id}: {} after delivery: {e}", operation.name()),
        }
    }
    scheduler.release(&id);
}

/// Applies `operation` to a message whose delivery just ended; true if it changed
/// something.
fn after_delivery(spool: &Spool, operation: Operation, id: &QueueId) -> Result<bool, spool::Error> {
    // Delivered to everyone: nothing left to do.
    let Some(queue) = spool.locate(id)? else {
        return Ok(false);
    };
    match operation {
        Operation::Delete | Operation::Hold if operation.sources().contains(&queue) => {
            spool.apply(operation, id, queue)?;
            log(operation, id, queue);
            Ok(true)
        }
        Operation::Release | Operation::Requeue if queue == Queue::Deferred => {
            spool.set_next_attempt(queue, id, SystemTime::now())?;
            if operation == Operation::Requeue {
                maillog::requeued(id);
            }
            Ok(true)
        }
        _ => Ok(false),
    }
}

/// Answers [`ipc::qmgr::Request::FlushSome`]: makes the chosen deferred messages
/// due now. Messages in `incoming/` or being delivered count (they are on their
/// way); held ones are not flushed.
pub async fn flush_some(scheduler: &Arc<Scheduler>, selection: Selection) -> Reply {
    let spool = scheduler.spool.clone();
    let now = SystemTime::now();
    let done = match selection {
        Selection::Ids(texts) => {
            let ids = match parse_ids(&texts) {
                Ok(ids) => ids,
                Err(refused) => return refused,
            };
            tokio::task::spawn_blocking(move || spool.flush_ids(&ids, now)).await
        }
        Selection::Domain(domain) => {
            let domain = domain.trim().trim_start_matches('@').to_owned();
            if domain.is_empty() {
                return Reply::Refused("empty domain".to_owned());
            }
            tokio::task::spawn_blocking(move || {
                spool
                    .flush_domain(Some(&domain), now)
                    .map(|count| (count, Vec::new()))
            })
            .await
        }
    };
    let (count, not_found) = match done {
        Ok(Ok(done)) => done,
        Ok(Err(e)) => {
            error!("flush: {e}");
            return Reply::Refused(format!("cannot flush: {e}"));
        }
        Err(e) => {
            error!("flush: {e}");
            return Reply::Refused(format!("cannot flush: {e}"));
        }
    };
    if count > 0 {
        scheduler.rescan();
    }
    Reply::Done {
        count: u32::try_from(count).unwrap_or(u32::MAX),
        not_found: not_found.iter().map(ToString::to_string).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_means_the_queues_an_operation_applies_to() {
        let none: Vec<String> = Vec::new();
        assert_eq!(
            parse_queues(Operation::Release, &none).ok(),
            Some(vec![Queue::Hold])
        );
        assert_eq!(
            parse_queues(Operation::Hold, &["deferred".to_owned()]).ok(),
            Some(vec![Queue::Deferred])
        );
        for (operation, name) in [
            (Operation::Release, "deferred"),
            (Operation::Hold, "hold"),
            (Operation::Delete, "nonsense"),
            (Operation::Delete, "../hold"),
        ] {
            assert!(
                matches!(
                    parse_queues(operation, &[name.to_owned()]),
                    Err(Reply::Refused(_))
                ),
                "{operation:?} {name}"
            );
        }
    }

    #[test]
    fn bad_ids_are_refused() {
        assert!(matches!(
            parse_ids(&["../../etc/passwd".to_owned()]),
            Err(Reply::Refused(_))
        ));
        assert!(parse_ids(&[]).is_ok_and(|ids| ids.is_empty()));
    }
}
