//! maildir - counting delivered messages, for `smtp --wait-maildir`.
//!
//! A delivered message is a file in a `new/` or `cur/` directory anywhere below the
//! given directory (every user's Maildir, and Maildir++ folders). `tmp/` is skipped:
//! a file there is not delivered yet. Symbolic links are not followed. A file moved
//! from `new/` to `cur/` while the tree is being read may be counted twice or not at
//! all; the next poll corrects it.

use std::io;
use std::path::Path;
use std::time::{Duration, Instant};

/// How often the tree is counted while waiting.
pub const POLL: Duration = Duration::from_millis(100);

/// Counts the message files in `new/` and `cur/` directories below `dir`.
///
/// # Errors
///
/// When `dir` itself cannot be read. Subdirectories that vanish meanwhile are skipped.
pub fn count_messages(dir: &Path) -> io::Result<u64> {
    let mut total = 0u64;
    let mut pending = vec![dir.to_path_buf()];
    let mut first = true;
    while let Some(path) = pending.pop() {
        let entries = match std::fs::read_dir(&path) {
            Ok(entries) => entries,
            Err(e) if first => return Err(e),
            Err(_) => continue,
        };
        first = false;
        for entry in entries.filter_map(Result::ok) {
            let Ok(kind) = entry.file_type() else {
                continue;
            };
            if !kind.is_dir() {
                continue;
            }
            let name = entry.file_name();
            if name == "new" || name == "cur" {
                total = total.saturating_add(count_files(&entry.path()));
            } else if name != "tmp" {
                pending.push(entry.path());
            }
        }
    }
    Ok(total)
}

fn count_files(dir: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    let files = entries
        .filter_map(Result::ok)
        .filter(|entry| entry.file_type().is_ok_and(|kind| kind.is_file()))
        .count();
    u64::try_from(files).unwrap_or(u64::MAX)
}

/// Polls `dir` until it holds at least `target` messages or `limit` has passed since
/// `since`; returns the last count and whether the target was reached. `progress` is
/// updated with the number counted above `baseline`.
///
/// # Errors
///
/// When `dir` cannot be read.
pub async fn wait_for(
    dir: &Path,
    baseline: u64,
    target: u64,
    since: Instant,
    limit: Duration,
    progress: &std::sync::atomic::AtomicU64,
) -> io::Result<(u64, bool)> {
    loop {
        let owned = dir.to_path_buf();
        let count = tokio::task::spawn_blocking(move || count_messages(&owned))
            .await
            .map_err(io::Error::other)??;
        progress.store(
            count.saturating_sub(baseline),
            std::sync::atomic::Ordering::Relaxed,
        );
        if count >= target {
            return Ok((count, true));
        }
        if since.elapsed() >= limit {
            return Ok((count, false));
        }
        tokio::time::sleep(POLL).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_new_and_cur_everywhere() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let touch = |p: &str| {
            let path = root.join(p);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, b"x").unwrap();
        };
        touch("example.test/alice/new/1");
        touch("example.test/alice/new/2");
        touch("example.test/alice/cur/3:2,S");
        touch("example.test/alice/tmp/4");
        touch("example.test/alice/.Sent/cur/5");
        touch("example.test/bob/new/6");
        touch("example.test/bob/dovecot-uidlist");
        std::fs::create_dir_all(root.join("example.test/carol/new")).unwrap();
        assert_eq!(count_messages(root).unwrap(), 5);
        assert!(count_messages(&root.join("missing")).is_err());
    }
}
