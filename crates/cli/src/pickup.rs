//! Asking the pickup daemon (`public/pickup`) for what a user who may not
//! read the spool may do: list the queue and retry deferred mail. pickup
//! knows the caller from the kernel and applies `authorized_mailq_users` and
//! `authorized_flush_users`.

use std::path::Path;
use std::time::Duration;

use ipc::pickup::{Pickup, Reply, Request};
use service::exit;

use crate::Failure;

/// How long pickup may take to accept and to answer.
const TIMEOUT: Duration = Duration::from_secs(30);

/// The queue listing.
///
/// # Errors
/// `EX_TEMPFAIL` when pickup does not run, or its refusal.
pub fn list(queue_directory: &Path) -> Result<Vec<spool::Listed>, Failure> {
    call(queue_directory, Request::List, |reply, all| match reply {
        Reply::Entries(entries) => {
            all.extend(entries);
            Ok(false)
        }
        Reply::Ok => Ok(true),
        other => Err(refused(other)),
    })
}

/// Retries deferred mail now: all of it, or a selection.
///
/// # Errors
/// `EX_TEMPFAIL` when pickup does not run, or its refusal.
pub fn flush(
    queue_directory: &Path,
    selection: Option<ipc::qmgr::Selection>,
) -> Result<(), Failure> {
    let request = match selection {
        None => Request::Flush,
        Some(selection) => Request::FlushSome(selection),
    };
    call(
        queue_directory,
        request,
        |reply, _: &mut Vec<()>| match reply {
            Reply::Ok => Ok(true),
            other => Err(refused(other)),
        },
    )
    .map(drop)
}

/// Sends `request` and feeds the replies to `take` until it says done.
fn call<T>(
    queue_directory: &Path,
    request: Request,
    mut take: impl FnMut(Reply, &mut Vec<T>) -> Result<bool, Failure>,
) -> Result<Vec<T>, Failure> {
    let socket = queue_directory.join(ipc::names::PICKUP_SOCKET);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Failure::new(exit::OSERR, format!("cannot start: {e}")))?;
    runtime.block_on(async {
        let down = |e: ipc::Error| {
            Failure::new(
                exit::TEMPFAIL,
                format!("the mail system is not running (pickup: {e})"),
            )
        };
        let mut conn = ipc::connect_unix::<Pickup>(&socket, TIMEOUT)
            .await
            .map_err(down)?;
        conn.set_timeout(TIMEOUT);
        conn.send_request(&request).await.map_err(down)?;
        let mut all = Vec::new();
        loop {
            let reply = conn.recv_reply().await.map_err(down)?;
            if take(reply, &mut all)? {
                return Ok(all);
            }
        }
    })
}

/// pickup's refusal as a failure.
pub fn refused(reply: Reply) -> Failure {
    match reply {
        Reply::Refused { exit, text } => Failure::new(exit, text),
        other => Failure::new(
            exit::SOFTWARE,
            format!("unexpected answer from pickup: {other:?}"),
        ),
    }
}
