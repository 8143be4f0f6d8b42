//! `postern queue flush|delete|hold|release|requeue`: through qmgr while it runs,
//! on the files while it does not.
//!
//! qmgr holds `private/qmgr.lock` for as long as it runs its queue. A tool that
//! gets that lock (exclusive, without waiting) knows qmgr is not running: it works
//! on the files with the spool's functions while it holds the lock, so a qmgr
//! starting meanwhile waits for it. A tool that cannot get the lock asks qmgr over
//! `private/qmgr`, which applies the operation at once or, for a message it is
//! delivering, when that delivery ends.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::Path;
use std::time::{Duration, Instant, SystemTime};

use ipc::qmgr::{Qmgr, Reply, Request, Selection, Target};
use nix::errno::Errno;
use nix::fcntl::{Flock, FlockArg};
use nix::unistd::Uid;
use service::exit;
use spool::{Operation, Queue, QueueId, Spool};

use super::QueueDir;
use crate::{Failure, describe};

/// How long to keep trying when qmgr holds its lock but does not answer yet (it
/// may be starting, or another queue tool holds the lock for a moment).
const QMGR_WAIT: Duration = Duration::from_secs(10);
/// How long qmgr may take over one request (ALL on a large queue).
const QMGR_TIMEOUT: Duration = Duration::from_secs(300);
/// How long to wait for the connection and qmgr's greeting.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// The messages an operation is for.
#[derive(Debug, PartialEq, Eq)]
enum Chosen {
    /// These queue IDs, wherever they are.
    Ids(Vec<QueueId>),
    /// Everything in these queues (all the operation applies to when empty).
    All(Vec<Queue>),
}

/// `postern queue delete|hold|release|requeue ARGS`, `-` already expanded.
pub fn operate(queue: &QueueDir, operation: Operation, args: &[String]) -> Result<(), Failure> {
    queue.require_privilege(&format!("{} queued mail", operation.name()))?;
    let chosen = parse_target(operation, args)?;
    if chosen == Chosen::Ids(Vec::new()) {
        // `-` with nothing on standard input: nothing to do, as postsuper.
        return Ok(());
    }
    let (count, not_found) = match route(&queue.spool)? {
        Route::Qmgr(mut client) => {
            let target = match &chosen {
                Chosen::Ids(ids) => Target::Ids(ids.iter().map(ToString::to_string).collect()),
                Chosen::All(queues) => {
                    Target::All(queues.iter().map(|q| q.name().to_owned()).collect())
                }
            };
            let reply = client.call(&Request::Manage {
                operation: wire(operation),
                target,
            })?;
            done(reply)?
        }
        Route::Direct(_lock) => operate_on_files(&queue.spool, operation, chosen)?,
    };
    if count > 0 {
        eprintln!("postern: {}: {}", past_tense(operation), messages(count));
    }
    not_found_failure(
        &not_found,
        &format!(
            "no such message in {}",
            names(operation.sources()).join(", ")
        ),
    )
}

/// `postern queue flush [ID|DOMAIN...]`, `-` already expanded.
pub fn flush(queue: &QueueDir, args: &[String]) -> Result<(), Failure> {
    let (ids, domains) = parse_flush(args)?;
    if !queue.privileged {
        return flush_via_pickup(queue, &ids, &domains);
    }
    let everything = args.is_empty();
    match route(&queue.spool)? {
        Route::Qmgr(mut client) => {
            if everything {
                return match client.call(&Request::Flush)? {
                    Reply::Ok => Ok(()),
                    other => Err(unexpected(&other)),
                };
            }
            let mut count = 0;
            let mut not_found = Vec::new();
            let mut selections = Vec::new();
            if !ids.is_empty() {
                selections.push(Selection::Ids(
                    ids.iter().map(ToString::to_string).collect(),
                ));
            }
            selections.extend(domains.into_iter().map(Selection::Domain));
            for selection in selections {
                let (n, missing) = done(client.call(&Request::FlushSome(selection))?)?;
                count += n;
                not_found.extend(missing);
            }
            if count > 0 {
                eprintln!("postern: Flushed: {}", messages(count));
            }
            not_found_failure(&not_found, "no such message in incoming, active, deferred")
        }
        Route::Direct(_lock) => {
            let now = SystemTime::now();
            let io = |e: spool::Error| {
                Failure::new(
                    exit::IOERR,
                    format!("cannot flush the queue: {}", describe(&e)),
                )
            };
            let mut count = 0;
            let mut not_found = Vec::new();
            if everything {
                count = queue.spool.flush_domain(None, now).map_err(io)?;
            }
            if !ids.is_empty() {
                let (n, missing) = queue.spool.flush_ids(&ids, now).map_err(io)?;
                count += n;
                not_found.extend(missing.iter().map(ToString::to_string));
            }
            for domain in &domains {
                count += queue.spool.flush_domain(Some(domain), now).map_err(io)?;
            }
            if count > 0 {
                eprintln!(
                    "postern: qmgr is not running: {} due at its start",
                    messages(count)
                );
            }
            not_found_failure(&not_found, "no such message in incoming, active, deferred")
        }
    }
}

/// Flushing for a user who may not touch the spool, through the `pickup` daemon
/// over `public/pickup` (which checks `authorized_flush_users`; Postfix lets
/// anyone flush by default).
fn flush_via_pickup(queue: &QueueDir, ids: &[QueueId], domains: &[String]) -> Result<(), Failure> {
    let root = queue.spool.root();
    if ids.is_empty() && domains.is_empty() {
        return crate::pickup::flush(root, None);
    }
    if !ids.is_empty() {
        crate::pickup::flush(
            root,
            Some(Selection::Ids(
                ids.iter().map(ToString::to_string).collect(),
            )),
        )?;
    }
    for domain in domains {
        crate::pickup::flush(root, Some(Selection::Domain(domain.clone())))?;
    }
    Ok(())
}

/// Reads `ID...` or `ALL [QUEUE...]` for `operation`.
fn parse_target(operation: Operation, args: &[String]) -> Result<Chosen, Failure> {
    if args.is_empty() {
        return Err(Failure::new(
            exit::USAGE,
            format!(
                "{}: no queue ID given (IDs, ALL, or - to read them from standard input)",
                operation.name()
            ),
        ));
    }
    let mut all = false;
    let mut ids = Vec::new();
    let mut queues = Vec::new();
    for arg in args {
        if arg == "ALL" {
            all = true;
        } else if let Some(queue) = Queue::from_name(arg) {
            if !operation.sources().contains(&queue) {
                return Err(Failure::new(
                    exit::USAGE,
                    format!(
                        "{} does not apply to {queue}: it takes messages from {}",
                        operation.name(),
                        names(operation.sources()).join(", ")
                    ),
                ));
            }
            if !queues.contains(&queue) {
                queues.push(queue);
            }
        } else {
            let id = QueueId::parse(arg).map_err(|e| {
                Failure::new(
                    exit::USAGE,
                    format!("{arg:?} is neither a queue ID ({e}) nor ALL nor a queue name"),
                )
            })?;
            ids.push(id);
        }
    }
    if all {
        // ALL includes any IDs given with it.
        return Ok(Chosen::All(queues));
    }
    if !queues.is_empty() {
        return Err(Failure::new(
            exit::USAGE,
            "a queue name goes with ALL (e.g. ALL deferred)",
        ));
    }
    Ok(Chosen::Ids(ids))
}

/// Reads flush's arguments: queue IDs, and domains for everything else.
fn parse_flush(args: &[String]) -> Result<(Vec<QueueId>, Vec<String>), Failure> {
    let mut ids = Vec::new();
    let mut domains = Vec::new();
    for arg in args {
        if let Ok(id) = QueueId::parse(arg) {
            ids.push(id);
            continue;
        }
        let domain = arg.strip_prefix('@').unwrap_or(arg);
        let plausible = !domain.is_empty()
            && !domain.starts_with('.')
            && domain
                .chars()
                .all(|c| c.is_alphanumeric() || matches!(c, '.' | '-' | '_' | '[' | ']' | ':'));
        if !plausible {
            return Err(Failure::new(
                exit::USAGE,
                format!("{arg:?} is neither a queue ID nor a domain"),
            ));
        }
        domains.push(domain.to_ascii_lowercase());
    }
    Ok((ids, domains))
}

/// Does `operation` on the files: qmgr is not running and we hold its lock.
fn operate_on_files(
    spool: &Spool,
    operation: Operation,
    chosen: Chosen,
) -> Result<(usize, Vec<String>), Failure> {
    let io = |e: spool::Error| {
        Failure::new(
            exit::IOERR,
            format!("{}: {}", operation.name(), describe(&e)),
        )
    };
    let (ids, by_id) = match chosen {
        Chosen::Ids(ids) => (ids, true),
        Chosen::All(queues) => {
            let queues = if queues.is_empty() {
                operation.sources().to_vec()
            } else {
                queues
            };
            let mut ids = Vec::new();
            for queue in queues {
                ids.extend(spool.list(queue).map_err(io)?);
            }
            (ids, false)
        }
    };
    let mut count = 0;
    let mut not_found = Vec::new();
    for id in ids {
        match spool.apply_by_id(operation, &id) {
            Ok(Some(_)) => count += 1,
            Ok(None) if by_id => not_found.push(id.to_string()),
            Ok(None) => {}
            Err(e) => {
                if count > 0 {
                    eprintln!("postern: {}: {}", past_tense(operation), messages(count));
                }
                return Err(io(e));
            }
        }
    }
    Ok((count, not_found))
}

/// The result of a queue request to qmgr.
fn done(reply: Reply) -> Result<(usize, Vec<String>), Failure> {
    match reply {
        Reply::Done { count, not_found } => {
            Ok((usize::try_from(count).unwrap_or(usize::MAX), not_found))
        }
        // Everything qmgr refuses for its syntax was checked here first: what is
        // left is qmgr's trouble with the spool (in the mail log too).
        Reply::Refused(text) => Err(Failure::new(exit::IOERR, format!("qmgr: {text}"))),
        Reply::Ok => Err(unexpected(&reply)),
    }
}

fn unexpected(reply: &Reply) -> Failure {
    Failure::new(
        exit::SOFTWARE,
        format!("qmgr answered {} unexpectedly", reply.name()),
    )
}

/// Exit status 1 naming every ID not found (all but the last on their own lines).
fn not_found_failure(not_found: &[String], why: &str) -> Result<(), Failure> {
    let Some((last, others)) = not_found.split_last() else {
        return Ok(());
    };
    for id in others {
        eprintln!("postern: {id}: {why}");
    }
    Err(Failure::new(1, format!("{last}: {why}")))
}

/// How postsuper reports each operation.
fn past_tense(operation: Operation) -> &'static str {
    match operation {
        Operation::Delete => "Deleted",
        Operation::Hold => "Placed on hold",
        Operation::Release => "Released from hold",
        Operation::Requeue => "Requeued",
    }
}

fn messages(count: usize) -> String {
    if count == 1 {
        "1 message".to_owned()
    } else {
        format!("{count} messages")
    }
}

fn names(queues: &[Queue]) -> Vec<&'static str> {
    queues.iter().map(|q| q.name()).collect()
}

/// The operation on the wire.
fn wire(operation: Operation) -> ipc::qmgr::Operation {
    match operation {
        Operation::Delete => ipc::qmgr::Operation::Delete,
        Operation::Hold => ipc::qmgr::Operation::Hold,
        Operation::Release => ipc::qmgr::Operation::Release,
        Operation::Requeue => ipc::qmgr::Operation::Requeue,
    }
}

/// How to reach the queue.
enum Route {
    /// qmgr runs: ask it.
    Qmgr(QmgrClient),
    /// qmgr does not run: work on the files while holding its lock.
    Direct(Flock<File>),
}

/// Finds out whether qmgr runs: its lock, then its socket.
fn route(spool: &Spool) -> Result<Route, Failure> {
    let lock_path = spool.private_dir().join("qmgr.lock");
    let socket = spool.root().join(ipc::names::QMGR_SOCKET);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Failure::new(exit::OSERR, format!("runtime: {e}")))?;
    let deadline = Instant::now() + QMGR_WAIT;
    loop {
        if let Some(lock) = try_lock(spool, &lock_path)? {
            return Ok(Route::Direct(lock));
        }
        let connected = runtime.block_on(async {
            let mut conn = ipc::connect_unix::<Qmgr>(&socket, CONNECT_TIMEOUT).await?;
            conn.set_timeout(QMGR_TIMEOUT);
            Ok::<_, ipc::Error>(conn)
        });
        match connected {
            Ok(conn) => return Ok(Route::Qmgr(QmgrClient { runtime, conn })),
            Err(e) if Instant::now() >= deadline => {
                return Err(Failure::new(
                    exit::TEMPFAIL,
                    format!(
                        "qmgr holds {} but does not answer: {}",
                        lock_path.display(),
                        describe(&e)
                    ),
                ));
            }
            Err(_) => std::thread::sleep(Duration::from_millis(100)),
        }
    }
}

/// qmgr's lock if nobody holds it, None if someone does.
fn try_lock(spool: &Spool, path: &Path) -> Result<Option<Flock<File>>, Failure> {
    let cannot = |e: &dyn std::fmt::Display| {
        Failure::new(exit::IOERR, format!("open {}: {e}", path.display()))
    };
    let file = match OpenOptions::new()
        .read(true)
        .custom_flags(libc_nofollow())
        .open(path)
    {
        Ok(file) => file,
        Err(e) if e.kind() == io::ErrorKind::NotFound => create_lock(spool, path)?,
        Err(e) => return Err(cannot(&e)),
    };
    match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
        Ok(lock) => Ok(Some(lock)),
        Err((_, Errno::EWOULDBLOCK)) => Ok(None),
        Err((_, e)) => Err(cannot(&e)),
    }
}

/// Creates qmgr's lock file as qmgr would, owned like `private/` so that qmgr
/// (mail_owner) can open it for writing later.
fn create_lock(spool: &Spool, path: &Path) -> Result<File, Failure> {
    let cannot =
        |e: io::Error| Failure::new(exit::IOERR, format!("create {}: {e}", path.display()));
    match OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .custom_flags(libc_nofollow())
        .open(path)
    {
        Ok(file) => {
            if Uid::effective().is_root() {
                let private = std::fs::metadata(spool.private_dir()).map_err(&cannot)?;
                std::os::unix::fs::fchown(&file, Some(private.uid()), Some(private.gid()))
                    .map_err(&cannot)?;
            }
            Ok(file)
        }
        // Someone (qmgr) created it meanwhile.
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => OpenOptions::new()
            .read(true)
            .custom_flags(libc_nofollow())
            .open(path)
            .map_err(cannot),
        Err(e) => Err(cannot(e)),
    }
}

/// O_NOFOLLOW: the lock file is never reached through a symbolic link.
fn libc_nofollow() -> i32 {
    nix::fcntl::OFlag::O_NOFOLLOW.bits()
}

/// A connection to qmgr, with the runtime that drives it.
struct QmgrClient {
    runtime: tokio::runtime::Runtime,
    conn: ipc::Connection<Qmgr, tokio::net::UnixStream>,
}

impl QmgrClient {
    fn call(&mut self, request: &Request) -> Result<Reply, Failure> {
        self.runtime
            .block_on(self.conn.call(request))
            .map_err(|e| Failure::new(exit::TEMPFAIL, format!("ask qmgr: {}", describe(&e))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| (*s).to_owned()).collect()
    }

    const ID: &str = "0123456789ABCDEFGHJK";

    #[test]
    fn targets_are_ids_or_all_with_queues() {
        let id = QueueId::parse(ID).unwrap();
        let cases: [(Operation, &[&str], Option<Chosen>); 10] = [
            (Operation::Delete, &[ID], Some(Chosen::Ids(vec![id]))),
            (Operation::Delete, &["ALL"], Some(Chosen::All(vec![]))),
            (
                Operation::Delete,
                &["ALL", "deferred", "hold", "deferred"],
                Some(Chosen::All(vec![Queue::Deferred, Queue::Hold])),
            ),
            (Operation::Hold, &[ID, "ALL"], Some(Chosen::All(vec![]))),
            (
                Operation::Release,
                &["ALL", "hold"],
                Some(Chosen::All(vec![Queue::Hold])),
            ),
            // A queue the operation does not take messages from.
            (Operation::Release, &["ALL", "deferred"], None),
            (Operation::Hold, &["ALL", "hold"], None),
            // A queue name without ALL, an unknown name, a bad ID, nothing.
            (Operation::Delete, &[ID, "deferred"], None),
            (Operation::Delete, &["ALL", "Deferred"], None),
            (Operation::Delete, &[], None),
        ];
        for (operation, given, want) in cases {
            let got = parse_target(operation, &args(given));
            match want {
                Some(want) => assert_eq!(got.ok(), Some(want), "{operation:?} {given:?}"),
                None => assert_eq!(
                    got.err().map(|f| f.code),
                    Some(exit::USAGE),
                    "{operation:?} {given:?}"
                ),
            }
        }
        assert!(parse_target(Operation::Delete, &args(&["../../etc"])).is_err());
    }

    #[test]
    fn flush_takes_ids_and_domains() {
        let (ids, domains) = parse_flush(&args(&[ID, "Example.ORG", "@example.net"]))
            .ok()
            .unwrap();
        assert_eq!(ids, vec![QueueId::parse(ID).unwrap()]);
        assert_eq!(domains, vec!["example.org", "example.net"]);
        for bad in ["", "a b", "../x", "user@example.org", ".example"] {
            assert!(parse_flush(&args(&[bad])).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn counts_read_like_postsuper() {
        assert_eq!(messages(1), "1 message");
        assert_eq!(messages(3), "3 messages");
    }
}
