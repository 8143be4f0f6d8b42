//! Writing one received message into `incoming/`, without blocking the runtime.
//!
//! The spool's writer does plain blocking I/O (and fsyncs at commit), so every call
//! into it runs on tokio's blocking pool. Message bytes are gathered into blocks of
//! [`BLOCK`] before each such call, so a message costs a few calls, not one per read.
//! The queue ID is chosen at once (it goes into our `Received:` header), but the
//! file is created only with the first block: a message smaller than a block is
//! created, written and committed in one call, each of which costs two thread
//! switches.

use std::sync::Arc;

use spool::{Envelope, QueueId, QueueWriter, Spool};

use crate::headers::{Completion, MessageBuilder, Seen};

/// How many bytes are gathered before they go to the queue file.
const BLOCK: usize = 64 * 1024;

/// Why a message could not be queued.
#[derive(Debug)]
pub enum QueueError {
    /// The file system is full (ENOSPC, EDQUOT): 452 4.3.1.
    Full(anyhow::Error),
    /// Any other local failure: 451 4.3.0.
    Local(anyhow::Error),
}

impl QueueError {
    fn from_spool(e: spool::Error) -> Self {
        classify(anyhow::Error::new(e))
    }

    /// The error for the log.
    pub fn error(&self) -> &anyhow::Error {
        match self {
            QueueError::Full(e) | QueueError::Local(e) => e,
        }
    }
}

fn classify(e: anyhow::Error) -> QueueError {
    let full = e.chain().any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .and_then(std::io::Error::raw_os_error)
            .is_some_and(|code| code == nix::libc::ENOSPC || code == nix::libc::EDQUOT)
    });
    if full {
        QueueError::Full(e)
    } else {
        QueueError::Local(e)
    }
}

fn join_error(e: tokio::task::JoinError) -> QueueError {
    QueueError::Local(anyhow::anyhow!("queue file task failed: {e}"))
}

/// The queue file, or what creating it takes; moved into each blocking call.
struct Target {
    spool: Arc<Spool>,
    id: QueueId,
    /// The envelope, until the file is created with it.
    envelope: Option<Envelope>,
    writer: Option<QueueWriter>,
}

impl Target {
    /// writer - the open queue file, created first if need be.
    fn writer(&mut self) -> Result<&mut QueueWriter, QueueError> {
        if let Some(envelope) = self.envelope.take() {
            let writer = self
                .spool
                .create_with_id(&envelope, self.id)
                .map_err(QueueError::from_spool)?;
            self.writer = Some(writer);
        }
        self.writer
            .as_mut()
            .ok_or_else(|| QueueError::Local(anyhow::anyhow!("queue file already closed")))
    }

    /// write - create the file if need be and write `block` to it.
    fn write(&mut self, block: &[u8]) -> Result<(), QueueError> {
        std::io::Write::write_all(self.writer()?, block)
            .map_err(|e| classify(anyhow::Error::new(e).context("write queue file")))
    }
}

/// A message being written to the queue.
pub struct Incoming {
    id: QueueId,
    /// None only while a blocking call has it, or once committed.
    target: Option<Target>,
    builder: Option<MessageBuilder>,
    pending: Vec<u8>,
    /// The first write error; the rest of the message is still read, then refused.
    failed: Option<QueueError>,
}

impl Incoming {
    /// A message for `envelope` with a fresh queue ID; `incoming/.ID.tmp` is
    /// created with its first block.
    pub fn new(spool: Arc<Spool>, envelope: Envelope) -> Self {
        let id = QueueId::new();
        Incoming {
            id,
            target: Some(Target {
                spool,
                id,
                envelope: Some(envelope),
                writer: None,
            }),
            builder: None,
            pending: Vec::new(),
            failed: None,
        }
    }

    /// The queue ID the message will have.
    pub fn id(&self) -> &QueueId {
        &self.id
    }

    /// Starts the content: our `Received:` header, then the client's bytes.
    pub fn begin(&mut self, received: &str, header_limit: usize, complete: Option<Completion>) {
        self.builder = Some(MessageBuilder::new(
            received,
            header_limit,
            complete,
            &mut self.pending,
        ));
    }

    /// Takes more content; writes a block when enough is gathered.
    pub async fn push(&mut self, data: &[u8]) {
        if self.failed.is_some() {
            return;
        }
        if let Some(builder) = self.builder.as_mut() {
            builder.push(data, &mut self.pending);
        }
        if self.pending.len() >= BLOCK {
            self.write_pending().await;
        }
    }

    async fn write_pending(&mut self) {
        let Some(mut target) = self.target.take() else {
            return;
        };
        let block = std::mem::take(&mut self.pending);
        let result = tokio::task::spawn_blocking(move || {
            let result = target.write(&block);
            (target, result)
        })
        .await;
        match result {
            Ok((target, result)) => {
                self.target = Some(target);
                if let Err(e) = result {
                    self.failed = Some(e);
                }
            }
            Err(e) => self.failed = Some(join_error(e)),
        }
    }

    /// Writes the rest, fsyncs, renames into `incoming/` and fsyncs the directory,
    /// in one blocking call (creating the file first if no block was written yet).
    /// Only after this returns Ok may the client be told 250.
    pub async fn commit(mut self) -> Result<(QueueId, Seen), QueueError> {
        let seen = match self.builder.take() {
            Some(builder) => builder.finish(&mut self.pending),
            None => Seen::default(),
        };
        if let Some(failed) = self.failed.take() {
            self.abort().await;
            return Err(failed);
        }
        let mut target = self
            .target
            .take()
            .ok_or_else(|| QueueError::Local(anyhow::anyhow!("queue file already closed")))?;
        let block = std::mem::take(&mut self.pending);
        let id = tokio::task::spawn_blocking(move || {
            target.write(&block)?;
            // Dropping an uncommitted writer removes its file.
            let writer = target
                .writer
                .take()
                .ok_or_else(|| QueueError::Local(anyhow::anyhow!("queue file already closed")))?;
            writer.commit().map_err(QueueError::from_spool)
        })
        .await
        .map_err(join_error)??;
        Ok((id, seen))
    }

    /// Removes the unfinished file, if one was created.
    pub async fn abort(mut self) {
        if let Some(writer) = self.target.take().and_then(|target| target.writer) {
            let _ = tokio::task::spawn_blocking(move || writer.abort()).await;
        }
    }
}
