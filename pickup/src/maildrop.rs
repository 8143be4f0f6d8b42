//! Taking the files `sendmail` left in `maildrop/` while the daemons were
//! down.

use std::fs::OpenOptions;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};

use spool::Queue;
use spool::maildrop::{self, MaildropError};
use tracing::{info, warn};

use crate::submit::{self, Context, Submitter};

/// Queues every finished maildrop file; returns how many were queued.
///
/// A file is removed once its message is in `incoming/`, or when it is
/// refused (not a maildrop file, a sender the user may not use): there is
/// nobody to tell but the log. A file that cannot be queued now (disk full)
/// stays for the next scan.
pub fn scan(ctx: &Context<'_>) -> usize {
    let dir = ctx.spool.dir(Queue::Maildrop);
    let entries = match std::fs::read_dir(&dir) {
        Ok(entries) => entries,
        Err(e) => {
            warn!("cannot read {}: {e}", dir.display());
            return 0;
        }
    };
    // Finished files, and dot-files a crashed sendmail (or a crash before
    // its rename reached the disk) left behind.
    let mut names: Vec<String> = entries
        .filter_map(|e| {
            let entry = e.ok()?;
            let name = entry.file_name().into_string().ok()?;
            if maildrop::is_file_name(&name) {
                return Some(name);
            }
            let age = entry.metadata().ok()?.modified().ok()?.elapsed().ok()?;
            (maildrop::is_dot_file_name(&name) && age > maildrop::ABANDONED).then_some(name)
        })
        .collect();
    names.sort();
    let mut queued = 0;
    for name in names {
        let path = dir.join(&name);
        let opened = OpenOptions::new()
            .read(true)
            .custom_flags((nix::fcntl::OFlag::O_NOFOLLOW | nix::fcntl::OFlag::O_NONBLOCK).bits())
            .open(&path);
        let mut file = match opened {
            Ok(file) => file,
            Err(e) => {
                warn!("maildrop/{name}: cannot open: {e}; removed");
                let _ = std::fs::remove_file(&path);
                continue;
            }
        };
        let meta = match file.metadata() {
            Ok(meta) => meta,
            Err(e) => {
                warn!("maildrop/{name}: {e}");
                continue;
            }
        };
        // A hard link to someone else's file, a device, a FIFO: not a
        // submission.
        if !meta.is_file() || meta.nlink() != 1 {
            warn!("maildrop/{name}: not a plain file of its own; removed");
            let _ = std::fs::remove_file(&path);
            continue;
        }
        let who = Submitter::from_uid(meta.uid());
        let outcome = match maildrop::read(&mut file, ctx.size_limit) {
            Ok((submission, message)) => submit::queue(ctx, &who, &submission, &message),
            Err(MaildropError::Io(e)) => {
                warn!("maildrop/{name}: {e}; will try again");
                continue;
            }
            Err(e) => Err(submit::Refusal {
                exit: 0,
                text: e.to_string(),
            }),
        };
        match outcome {
            Ok(id) => {
                info!("{id}: picked up maildrop/{name} of uid={}", who.uid);
                queued += 1;
            }
            Err(refusal) if refusal.exit == service::exit::TEMPFAIL => {
                warn!("maildrop/{name}: {}; will try again", refusal.text);
                continue;
            }
            Err(refusal) => {
                warn!(
                    "maildrop/{name}: submission of uid={} discarded: {}",
                    who.uid, refusal.text
                );
            }
        }
        if let Err(e) = std::fs::remove_file(&path) {
            warn!("maildrop/{name}: cannot remove: {e}");
        }
    }
    queued
}
