//! Writing one received message into `incoming/`, without blocking the runtime.
//!
//! The spool's writer does plain blocking I/O (and fsyncs at commit), so every call
//! into it runs on tokio's blocking pool. Message bytes are gathered into blocks of
//! [`BLOCK`] before each such call, so a message costs a few calls, not one per read.

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

/// A message being written to the queue.
pub struct Incoming {
    id: QueueId,
    writer: Option<QueueWriter>,
    builder: Option<MessageBuilder>,
    pending: Vec<u8>,
    /// The first write error; the rest of the message is still read, then refused.
    failed: Option<QueueError>,
}

impl Incoming {
    /// Creates `incoming/.ID.tmp` with the envelope.
    pub async fn create(spool: Arc<Spool>, envelope: Envelope) -> Result<Self, QueueError> {
        let writer = tokio::task::spawn_blocking(move || spool.create(&envelope))
            .await
            .map_err(join_error)?
            .map_err(QueueError::from_spool)?;
        Ok(Incoming {
            id: *writer.id(),
            writer: Some(writer),
            builder: None,
            pending: Vec::new(),
            failed: None,
        })
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
        let Some(mut writer) = self.writer.take() else {
            return;
        };
        let block = std::mem::take(&mut self.pending);
        let result = tokio::task::spawn_blocking(move || {
            let result = std::io::Write::write_all(&mut writer, &block);
            (writer, result)
        })
        .await;
        match result {
            Ok((writer, Ok(()))) => self.writer = Some(writer),
            Ok((writer, Err(e))) => {
                self.writer = Some(writer);
                self.failed = Some(classify(anyhow::Error::new(e).context("write queue file")));
            }
            Err(e) => self.failed = Some(join_error(e)),
        }
    }

    /// Writes the rest, fsyncs, renames into `incoming/` and fsyncs the directory.
    /// Only after this returns Ok may the client be told 250.
    pub async fn commit(mut self) -> Result<(QueueId, Seen), QueueError> {
        let seen = match self.builder.take() {
            Some(builder) => builder.finish(&mut self.pending),
            None => Seen::default(),
        };
        self.write_pending().await;
        if let Some(failed) = self.failed.take() {
            self.abort().await;
            return Err(failed);
        }
        let writer = self
            .writer
            .take()
            .ok_or_else(|| QueueError::Local(anyhow::anyhow!("queue file already closed")))?;
        let id = tokio::task::spawn_blocking(move || writer.commit())
            .await
            .map_err(join_error)?
            .map_err(QueueError::from_spool)?;
        Ok((id, seen))
    }

    /// Removes the unfinished file.
    pub async fn abort(mut self) {
        if let Some(writer) = self.writer.take() {
            let _ = tokio::task::spawn_blocking(move || writer.abort()).await;
        }
    }
}
