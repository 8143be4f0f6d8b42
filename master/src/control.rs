//! master's control socket (`private/master`), which `postern status` asks.
//!
//! Only root, master's own user and `mail_owner` are answered; anyone else gets
//! `Denied`. The peer is identified by `SO_PEERCRED`, never by what it sends.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::Duration;

use anyhow::Context;
use ipc::control::{Control, MasterStatus, Reply, Request};
use tokio::net::UnixListener;
use tokio::sync::{mpsc, oneshot};
use tracing::warn;

/// How long a control client may take per message.
const TIMEOUT: Duration = Duration::from_secs(10);

/// A status question for the supervisor loop, with where to send the answer.
pub type StatusQuery = oneshot::Sender<MasterStatus>;

/// Binds the control socket at `path`, replacing a stale one.
pub fn bind(path: &Path) -> anyhow::Result<UnixListener> {
    match std::fs::remove_file(path) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e).with_context(|| format!("remove {}", path.display())),
    }
    let listener = UnixListener::bind(path).with_context(|| format!("bind {}", path.display()))?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o666))
        .with_context(|| format!("chmod {}", path.display()))?;
    Ok(listener)
}

/// Accepts control clients until the listener fails; `allowed` are the uids answered.
pub async fn serve(listener: UnixListener, allowed: Vec<u32>, queries: mpsc::Sender<StatusQuery>) {
    loop {
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            Err(e) => {
                warn!("control socket: accept: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let allowed = allowed.clone();
        let queries = queries.clone();
        tokio::spawn(async move {
            let peer = match ipc::peer_credentials(&stream) {
                Ok(peer) => peer,
                Err(e) => {
                    warn!("control socket: {e}");
                    return;
                }
            };
            if let Err(e) = answer(stream, allowed.contains(&peer.uid), queries).await {
                warn!(
                    "control socket: client uid={} pid={}: {e}",
                    peer.uid,
                    peer.pid.map_or_else(|| "?".to_owned(), |p| p.to_string())
                );
            }
        });
    }
}

async fn answer(
    stream: tokio::net::UnixStream,
    allowed: bool,
    queries: mpsc::Sender<StatusQuery>,
) -> Result<(), ipc::Error> {
    let mut conn = ipc::Connection::<Control, _>::accept(stream, TIMEOUT).await?;
    while let Some(request) = conn.recv_request().await? {
        let reply = match request {
            Request::Status if !allowed => Reply::Denied,
            Request::Status => {
                let (tx, rx) = oneshot::channel();
                if queries.send(tx).await.is_err() {
                    return Ok(());
                }
                match rx.await {
                    Ok(status) => Reply::Status(status),
                    Err(_) => return Ok(()),
                }
            }
        };
        conn.send_reply(&reply).await?;
    }
    Ok(())
}
