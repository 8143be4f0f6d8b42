//! Behaviour of the spool API on a real directory tree.

// Test code: panicking on a broken expectation is the point.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::cast_possible_truncation
)]

mod common;

use std::fs;
use std::io::Write;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use common::{envelope, message, read_message, spool, write};
use spool::{Error, Gid, Queue, QueueId, RecipientState, Spool, Uid};

fn mode(path: &std::path::Path) -> u32 {
    fs::symlink_metadata(path).unwrap().permissions().mode() & 0o7777
}

fn dir_names(path: &std::path::Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(path)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    names
}

#[test]
fn create_commit_open_round_trip() {
    let (_tmp, spool) = spool();
    let env = envelope(3);
    let msg = message(200_000);
    let mut w = spool.create(&env).unwrap();
    let id = *w.id();
    // Streamed in uneven pieces.
    for chunk in msg.chunks(7_777) {
        w.write_all(chunk).unwrap();
    }
    assert_eq!(w.message_len(), msg.len() as u64);
    assert_eq!(w.commit().unwrap(), id);

    assert_eq!(dir_names(&spool.dir(Queue::Incoming)), vec![id.to_string()]);
    let f = spool.open(Queue::Incoming, &id).unwrap();
    assert_eq!(f.id(), &id);
    assert_eq!(f.envelope(), &env);
    assert_eq!(f.message_size(), msg.len() as u64);
    assert_eq!(read_message(&f), msg);
    assert_eq!(f.states(), &vec![RecipientState::Pending; 3][..]);
    assert_eq!(f.pending().collect::<Vec<_>>(), vec![0, 1, 2]);
    assert_eq!(f.torn_tail(), None);
    let file_mode = mode(&spool.path(Queue::Incoming, &id));
    assert_eq!(file_mode, 0o600);
}

#[test]
fn empty_message_and_no_recipients_round_trip() {
    let (_tmp, spool) = spool();
    let env = envelope(0);
    let id = write(&spool, &env, b"");
    let f = spool.open(Queue::Incoming, &id).unwrap();
    assert_eq!(f.envelope(), &env);
    assert_eq!(f.message_size(), 0);
    assert!(read_message(&f).is_empty());
    assert_eq!(f.pending().count(), 0);
}

#[test]
fn uncommitted_writer_is_invisible_and_incomplete() {
    let (_tmp, spool) = spool();
    let mut w = spool.create(&envelope(1)).unwrap();
    let id = *w.id();
    w.write_all(&message(100_000)).unwrap();
    w.flush().unwrap();
    let tmp = spool.dir(Queue::Incoming).join(format!(".{id}.tmp"));
    assert!(tmp.exists());
    assert!(spool.list(Queue::Incoming).unwrap().is_empty());

    // Read the tmp file as if a crash had left it under a queue name.
    fs::copy(&tmp, spool.path(Queue::Hold, &id)).unwrap();
    let err = spool.open(Queue::Hold, &id).unwrap_err();
    assert!(matches!(err, Error::Incomplete { .. }), "{err}");
    assert!(err.is_damaged());
    drop(w);
}

#[test]
fn abort_and_drop_remove_the_tmp_file() {
    let (_tmp, spool) = spool();
    let mut w = spool.create(&envelope(1)).unwrap();
    w.write_all(b"hello").unwrap();
    w.abort().unwrap();
    assert!(dir_names(&spool.dir(Queue::Incoming)).is_empty());

    let mut w = spool.create(&envelope(1)).unwrap();
    w.write_all(b"hello").unwrap();
    drop(w);
    assert!(dir_names(&spool.dir(Queue::Incoming)).is_empty());
}

#[test]
fn open_missing_file_is_not_found() {
    let (_tmp, spool) = spool();
    let err = spool.open(Queue::Active, &QueueId::new()).unwrap_err();
    assert!(err.is_not_found(), "{err}");
    assert!(!err.is_damaged());
}

#[test]
fn move_to_renames_and_never_replaces() {
    let (_tmp, spool) = spool();
    let env = envelope(1);
    let id = write(&spool, &env, b"body");
    spool.move_to(&id, Queue::Incoming, Queue::Active).unwrap();
    assert!(spool.list(Queue::Incoming).unwrap().is_empty());
    assert_eq!(spool.list(Queue::Active).unwrap(), vec![id]);
    assert_eq!(spool.open(Queue::Active, &id).unwrap().envelope(), &env);

    // A file of the same name in the target is an error, and both stay.
    fs::write(spool.path(Queue::Deferred, &id), b"other").unwrap();
    let err = spool
        .move_to(&id, Queue::Active, Queue::Deferred)
        .unwrap_err();
    assert!(matches!(err, Error::AlreadyExists { .. }), "{err}");
    assert_eq!(
        fs::read(spool.path(Queue::Deferred, &id)).unwrap(),
        b"other"
    );
    assert!(spool.open(Queue::Active, &id).is_ok());

    let err = spool
        .move_to(&QueueId::new(), Queue::Hold, Queue::Active)
        .unwrap_err();
    assert!(err.is_not_found(), "{err}");
}

#[test]
fn list_is_sorted_and_skips_tmp_and_foreign_names() {
    let (_tmp, spool) = spool();
    let ids: Vec<QueueId> = (0..5).map(|_| write(&spool, &envelope(1), b"x")).collect();
    let _open = spool.create(&envelope(1)).unwrap(); // a .tmp file
    let dir = spool.dir(Queue::Incoming);
    fs::write(dir.join("README"), b"").unwrap();
    fs::write(dir.join(ids[0].to_string().to_lowercase()), b"").unwrap();
    fs::write(dir.join(".not-an-id.tmp"), b"").unwrap();
    assert_eq!(spool.list(Queue::Incoming).unwrap(), ids);
    assert!(spool.list(Queue::Hold).unwrap().is_empty());
}

#[test]
fn quarantine_moves_to_corrupt_and_keeps_the_bytes() {
    let (_tmp, spool) = spool();
    let id = write(&spool, &envelope(1), b"body");
    let before = fs::read(spool.path(Queue::Incoming, &id)).unwrap();
    spool
        .quarantine(Queue::Incoming, &id, &"checksum mismatch")
        .unwrap();
    assert!(spool.list(Queue::Incoming).unwrap().is_empty());
    assert_eq!(spool.list(Queue::Corrupt).unwrap(), vec![id]);
    assert_eq!(fs::read(spool.path(Queue::Corrupt, &id)).unwrap(), before);
    // Quarantining what is already in corrupt/ leaves it there.
    spool.quarantine(Queue::Corrupt, &id, &"again").unwrap();
    assert_eq!(spool.list(Queue::Corrupt).unwrap(), vec![id]);
}

#[test]
fn remove_deletes_the_file() {
    let (_tmp, spool) = spool();
    let id = write(&spool, &envelope(1), b"body");
    spool.remove(Queue::Incoming, &id).unwrap();
    assert!(spool.list(Queue::Incoming).unwrap().is_empty());
    assert!(
        spool
            .remove(Queue::Incoming, &id)
            .unwrap_err()
            .is_not_found()
    );
}

#[test]
fn next_attempt_is_the_mtime() {
    let (_tmp, spool) = spool();
    let id = write(&spool, &envelope(1), b"body");
    spool
        .move_to(&id, Queue::Incoming, Queue::Deferred)
        .unwrap();
    let when = UNIX_EPOCH + Duration::from_secs(2_000_000_000);
    spool.set_next_attempt(Queue::Deferred, &id, when).unwrap();
    assert_eq!(spool.next_attempt(Queue::Deferred, &id).unwrap(), when);
    // The content is untouched.
    assert!(spool.open(Queue::Deferred, &id).is_ok());
}

#[test]
fn remove_stale_tmp_removes_only_old_tmp_files() {
    let (_tmp, spool) = spool();
    let committed = write(&spool, &envelope(1), b"x");
    let w = spool.create(&envelope(1)).unwrap();
    let live = *w.id();
    std::mem::forget(w); // simulate a crashed writer: the tmp file stays
    assert!(
        spool
            .remove_stale_tmp(Queue::Incoming, Duration::from_secs(3600))
            .unwrap()
            .is_empty()
    );
    // Age it.
    let tmp = spool.dir(Queue::Incoming).join(format!(".{live}.tmp"));
    let old = SystemTime::now() - Duration::from_secs(7200);
    fs::File::options()
        .write(true)
        .open(&tmp)
        .unwrap()
        .set_modified(old)
        .unwrap();
    assert_eq!(
        spool
            .remove_stale_tmp(Queue::Incoming, Duration::from_secs(3600))
            .unwrap(),
        vec![live]
    );
    assert_eq!(
        dir_names(&spool.dir(Queue::Incoming)),
        vec![committed.to_string()]
    );
}

#[test]
fn mark_done_survives_reopen() {
    let (_tmp, spool) = spool();
    let id = write(&spool, &envelope(3), b"body");
    let mut f = spool.open(Queue::Incoming, &id).unwrap();
    f.mark_done(1).unwrap();
    f.mark_deferred(0, "4.4.1 connection timed out").unwrap();
    f.mark_deferred(0, "4.4.2 lost connection").unwrap();
    f.mark_failed(2, "5.1.1", "user unknown").unwrap();
    drop(f);

    let mut f = spool.open(Queue::Incoming, &id).unwrap();
    let want = [
        RecipientState::Deferred("4.4.2 lost connection".into()),
        RecipientState::Done,
        RecipientState::Failed {
            status: "5.1.1".into(),
            reason: "user unknown".into(),
        },
    ];
    assert_eq!(f.states(), &want[..]);
    assert_eq!(f.state(1), Some(&RecipientState::Done));
    assert_eq!(f.state(3), None);
    assert_eq!(f.pending().collect::<Vec<_>>(), vec![0]);
    assert_eq!(read_message(&f), b"body");

    f.mark_done(0).unwrap();
    assert_eq!(f.pending().count(), 0);
    let f = spool.open(Queue::Incoming, &id).unwrap();
    assert_eq!(f.pending().count(), 0);
    assert_eq!(f.state(0), Some(&RecipientState::Done));
}

#[test]
fn final_states_and_bad_indexes_are_refused() {
    let (_tmp, spool) = spool();
    let id = write(&spool, &envelope(2), b"body");
    let mut f = spool.open(Queue::Incoming, &id).unwrap();
    f.mark_done(0).unwrap();
    f.mark_failed(1, "5.7.1", "rejected").unwrap();
    for err in [
        f.mark_done(0).unwrap_err(),
        f.mark_deferred(0, "x").unwrap_err(),
        f.mark_done(1).unwrap_err(),
    ] {
        assert!(matches!(err, Error::RecipientFinal { .. }), "{err}");
    }
    let err = f.mark_done(2).unwrap_err();
    assert!(
        matches!(
            err,
            Error::NoSuchRecipient {
                rcpt: 2,
                count: 2,
                ..
            }
        ),
        "{err}"
    );
    // Nothing was written by the refused calls.
    let len = fs::metadata(spool.path(Queue::Incoming, &id))
        .unwrap()
        .len();
    drop(f);
    let f = spool.open(Queue::Incoming, &id).unwrap();
    assert_eq!(f.torn_tail(), None);
    assert_eq!(fs::metadata(f.path()).unwrap().len(), len);
}

#[test]
fn long_reasons_are_cut_not_refused() {
    let (_tmp, spool) = spool();
    let id = write(&spool, &envelope(1), b"body");
    let mut f = spool.open(Queue::Incoming, &id).unwrap();
    let long = "é".repeat(100_000);
    f.mark_deferred(0, &long).unwrap();
    let f = spool.open(Queue::Incoming, &id).unwrap();
    match f.state(0).unwrap() {
        RecipientState::Deferred(r) => {
            assert!(r.len() <= spool::MAX_REASON_LEN);
            assert!(long.starts_with(r.as_str()));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn torn_update_record_is_ignored_then_cut_off() {
    let (_tmp, spool) = spool();
    let id = write(&spool, &envelope(2), b"body");
    let path = spool.path(Queue::Incoming, &id);
    let mut f = spool.open(Queue::Incoming, &id).unwrap();
    f.mark_done(0).unwrap();
    let good_len = fs::metadata(&path).unwrap().len();
    f.mark_failed(1, "5.1.1", "no such user").unwrap();
    drop(f);
    let full_len = fs::metadata(&path).unwrap().len();

    // A crash in the middle of the second append.
    let file = fs::File::options().write(true).open(&path).unwrap();
    file.set_len(full_len - 3).unwrap();
    drop(file);
    let mut f = spool.open(Queue::Incoming, &id).unwrap();
    assert_eq!(
        f.states(),
        &[RecipientState::Done, RecipientState::Pending][..]
    );
    let torn = f.torn_tail().unwrap();
    assert_eq!(torn.offset, good_len);
    assert_eq!(torn.len, full_len - 3 - good_len);

    // The next append replaces the torn bytes.
    f.mark_deferred(1, "try later").unwrap();
    drop(f);
    let f = spool.open(Queue::Incoming, &id).unwrap();
    assert_eq!(f.torn_tail(), None);
    assert_eq!(
        f.states(),
        &[
            RecipientState::Done,
            RecipientState::Deferred("try later".into())
        ][..]
    );

    // Zeros where a record should be (a file system that extended the file
    // but lost the data) also count as a torn append.
    let len = fs::metadata(&path).unwrap().len();
    let mut file = fs::File::options().append(true).open(&path).unwrap();
    file.write_all(&[0u8; 40]).unwrap();
    drop(file);
    let f = spool.open(Queue::Incoming, &id).unwrap();
    assert_eq!(f.torn_tail().unwrap().offset, len);
    assert_eq!(f.state(0), Some(&RecipientState::Done));
}

#[test]
fn fifo_under_a_queue_name_is_refused_without_blocking() {
    let (_tmp, spool) = spool();
    let id = QueueId::new();
    nix::unistd::mkfifo(
        &spool.path(Queue::Maildrop, &id),
        nix::sys::stat::Mode::from_bits_truncate(0o600),
    )
    .unwrap();
    let err = spool.open(Queue::Maildrop, &id).unwrap_err();
    assert!(err.is_damaged(), "{err}");
}

#[test]
fn symlinked_queue_file_is_not_followed() {
    let (tmp, spool) = spool();
    let target = tmp.path().join("elsewhere");
    let id = write(&spool, &envelope(1), b"body");
    fs::copy(spool.path(Queue::Incoming, &id), &target).unwrap();
    let other = QueueId::new();
    std::os::unix::fs::symlink(&target, spool.path(Queue::Active, &other)).unwrap();
    let err = spool.open(Queue::Active, &other).unwrap_err();
    // Damaged, so qmgr quarantines it instead of retrying it forever (issue 11).
    assert!(
        matches!(
            err,
            Error::Corrupt {
                reason: spool::Corruption::NotRegularFile,
                ..
            }
        ),
        "{err}"
    );
}

/// See: issue 11. A directory or a socket under a queue ID is damaged, not a
/// local error to retry.
#[test]
fn directory_or_socket_under_a_queue_name_is_damaged() {
    let (_tmp, spool) = spool();
    let dir = QueueId::new();
    fs::create_dir(spool.path(Queue::Incoming, &dir)).unwrap();
    let socket = QueueId::new();
    let _listener =
        std::os::unix::net::UnixListener::bind(spool.path(Queue::Deferred, &socket)).unwrap();
    for (what, queue, id) in [
        ("directory", Queue::Incoming, dir),
        ("socket", Queue::Deferred, socket),
    ] {
        let err = spool.open(queue, &id).unwrap_err();
        assert!(err.is_damaged(), "{what}: {err}");
    }
}

#[test]
fn create_dirs_sets_modes_and_is_idempotent() {
    let tmp = tempfile::tempdir().unwrap();
    let spool = Spool::new(tmp.path().join("a/b/spool"));
    spool.create_dirs(None).unwrap();
    let expected = [
        (spool.dir(Queue::Incoming), 0o700),
        (spool.dir(Queue::Active), 0o700),
        (spool.dir(Queue::Deferred), 0o700),
        (spool.dir(Queue::Hold), 0o700),
        (spool.dir(Queue::Corrupt), 0o700),
        (spool.dir(Queue::Maildrop), 0o1733),
        (spool.private_dir(), 0o700),
        (spool.public_dir(), 0o711),
        (spool.pid_dir(), 0o755),
    ];
    for (path, want) in &expected {
        assert_eq!(mode(path), *want, "{}", path.display());
    }
    assert_eq!(
        dir_names(spool.root()),
        vec![
            "active", "corrupt", "deferred", "hold", "incoming", "maildrop", "pid", "private",
            "public", "recycle"
        ]
    );

    // Wrong modes are fixed; existing content is untouched.
    let id = write(&spool, &common::envelope(1), b"x");
    fs::set_permissions(
        spool.dir(Queue::Incoming),
        fs::Permissions::from_mode(0o777),
    )
    .unwrap();
    fs::set_permissions(spool.public_dir(), fs::Permissions::from_mode(0o755)).unwrap();
    spool.create_dirs(None).unwrap();
    spool.create_dirs(None).unwrap();
    for (path, want) in &expected {
        assert_eq!(mode(path), *want, "{}", path.display());
    }
    assert_eq!(spool.list(Queue::Incoming).unwrap(), vec![id]);
}

#[test]
fn create_dirs_refuses_symlinks() {
    let tmp = tempfile::tempdir().unwrap();
    let spool = Spool::new(tmp.path().join("spool"));
    fs::create_dir(spool.root()).unwrap();
    let elsewhere = tmp.path().join("elsewhere");
    fs::create_dir(&elsewhere).unwrap();
    std::os::unix::fs::symlink(&elsewhere, spool.dir(Queue::Deferred)).unwrap();
    let err = spool.create_dirs(None).unwrap_err();
    assert!(matches!(err, Error::Symlink { .. }), "{err}");
    // Nothing was changed through the link.
    assert_eq!(
        mode(&elsewhere),
        mode(tmp.path().join("elsewhere").as_path())
    );
    assert!(dir_names(&elsewhere).is_empty());

    let linked_root = Spool::new(tmp.path().join("root-link"));
    std::os::unix::fs::symlink(&elsewhere, linked_root.root()).unwrap();
    let err = linked_root.create_dirs(None).unwrap_err();
    assert!(matches!(err, Error::Symlink { .. }), "{err}");

    let file_root = Spool::new(tmp.path().join("file"));
    fs::write(file_root.root(), b"").unwrap();
    let err = file_root.create_dirs(None).unwrap_err();
    assert!(matches!(err, Error::NotADirectory { .. }), "{err}");
}

#[test]
fn create_dirs_chowns_when_root() {
    let tmp = tempfile::tempdir().unwrap();
    let spool = Spool::new(tmp.path().join("spool"));
    if !Uid::effective().is_root() {
        // Changing owners needs root; the modes are covered above.
        spool.create_dirs(None).unwrap();
        return;
    }
    let (uid, gid) = (Uid::from_raw(4242), Gid::from_raw(4343));
    spool.create_dirs(Some((uid, gid))).unwrap();
    let me = Uid::effective().as_raw();
    let owned = |p: &std::path::Path| {
        let m = fs::symlink_metadata(p).unwrap();
        (m.uid(), m.gid())
    };
    for q in Queue::ALL {
        assert_eq!(owned(&spool.dir(q)), (4242, 4343), "{q}");
    }
    assert_eq!(owned(&spool.private_dir()), (4242, 4343));
    assert_eq!(owned(&spool.public_dir()), (4242, 4343));
    assert_eq!(owned(&spool.pid_dir()).0, me);
    assert_eq!(owned(spool.root()).0, me);
    // Modes survive the chown.
    assert_eq!(mode(&spool.dir(Queue::Maildrop)), 0o1733);
}

#[test]
fn the_last_recipient_is_marked_in_memory_only() {
    let (_tmp, spool) = spool();
    let id = write(&spool, &envelope(2), b"x");
    let mut f = spool.open(Queue::Incoming, &id).unwrap();
    // Another recipient is pending: nothing noted, the caller writes.
    assert!(!f.note_last_done(0));
    assert_eq!(f.pending().collect::<Vec<_>>(), vec![0, 1]);
    f.mark_done(0).unwrap();
    // The last one: noted, not written (the file is removed next).
    assert!(f.note_last_done(1));
    assert_eq!(f.pending().count(), 0);
    // Not pending any more: nothing to note.
    assert!(!f.note_last_done(1));
    let again = spool.open(Queue::Incoming, &id).unwrap();
    assert_eq!(
        again.states(),
        &[RecipientState::Done, RecipientState::Pending][..]
    );
}

#[test]
fn retired_files_are_reused_by_the_next_message() {
    let (_tmp, spool) = spool();
    let recycle = spool.root().join("recycle");
    assert_eq!(mode(&recycle), 0o700);
    let first = write(&spool, &envelope(2), &message(5_000));
    let inode = fs::metadata(spool.path(Queue::Incoming, &first))
        .unwrap()
        .ino();
    spool.retire(Queue::Incoming, &first).unwrap();
    assert!(spool.list(Queue::Incoming).unwrap().is_empty());
    assert_eq!(dir_names(&recycle), vec![first.to_string()]);

    // The next message takes the file over: same inode, new contents cut
    // to their own length.
    let env = envelope(1);
    let second = write(&spool, &env, b"short body\n");
    assert!(dir_names(&recycle).is_empty());
    let path = spool.path(Queue::Incoming, &second);
    assert_eq!(fs::metadata(&path).unwrap().ino(), inode);
    assert_eq!(mode(&path), 0o600);
    let f = spool.open(Queue::Incoming, &second).unwrap();
    assert_eq!(f.envelope(), &env);
    assert_eq!(read_message(&f), b"short body\n");
    assert_eq!(f.states(), &[RecipientState::Pending][..]);
}

#[test]
fn large_files_and_a_full_pool_are_deleted_instead() {
    let (_tmp, spool) = spool();
    let recycle = spool.root().join("recycle");
    let big = write(&spool, &envelope(1), &message(200_000));
    spool.retire(Queue::Incoming, &big).unwrap();
    assert!(dir_names(&recycle).is_empty());
    assert!(spool.list(Queue::Incoming).unwrap().is_empty());

    // Far more small files than the pool keeps: the rest are deleted.
    let ids: Vec<QueueId> = (0..300)
        .map(|_| write(&spool, &envelope(1), b"x\n"))
        .collect();
    for id in &ids {
        spool.retire(Queue::Incoming, id).unwrap();
    }
    assert!(spool.list(Queue::Incoming).unwrap().is_empty());
    let kept = dir_names(&recycle).len();
    assert!((1..=256).contains(&kept), "{kept} files kept");
}

#[test]
fn a_spool_without_a_recycle_directory_deletes_as_before() {
    let (_tmp, spool) = spool();
    fs::remove_dir(spool.root().join("recycle")).unwrap();
    let id = write(&spool, &envelope(1), b"body");
    spool.retire(Queue::Incoming, &id).unwrap();
    assert!(spool.list(Queue::Incoming).unwrap().is_empty());
    let again = write(&spool, &envelope(1), b"again");
    assert_eq!(
        read_message(&spool.open(Queue::Incoming, &again).unwrap()),
        b"again"
    );
}

#[test]
fn a_full_pool_takes_files_again_once_writers_emptied_it() {
    let (_tmp, spool) = spool();
    let recycle = spool.root().join("recycle");
    let ids: Vec<QueueId> = (0..300)
        .map(|_| write(&spool, &envelope(1), b"x\n"))
        .collect();
    for id in &ids {
        spool.retire(Queue::Incoming, id).unwrap();
    }
    // Writers (here: this process, another one in production) empty it.
    for entry in fs::read_dir(&recycle).unwrap() {
        fs::remove_file(entry.unwrap().path()).unwrap();
    }
    let more: Vec<QueueId> = (0..100)
        .map(|_| write(&spool, &envelope(1), b"y\n"))
        .collect();
    for id in &more {
        spool.retire(Queue::Incoming, id).unwrap();
    }
    assert!(!dir_names(&recycle).is_empty(), "the pool stayed closed");
}
