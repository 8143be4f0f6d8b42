//! Connections to the delivery agents, kept open between deliveries.
//!
//! An agent serves any number of requests on one connection, one after
//! the other, so a connection whose request is answered goes back here and
//! the next delivery through the same agent socket takes it instead of
//! connecting (and shaking hands) again: under load that spares a connect,
//! an accept and a handshake per message on both sides. A connection idle
//! for [`IDLE_LIMIT`] is closed; so is one beyond [`IDLE_PER_AGENT`].
//!
//! A kept connection may have died meanwhile (the agent restarted); the
//! caller then finds it closed before any answer and tries once more on a
//! fresh connection ([`Agents::connect`] says whether it reused one).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use ipc::deliver::{Deliver, Request};
use tokio::net::UnixStream;

/// How long to wait for a delivery agent to accept a connection.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long an unused connection is kept.
const IDLE_LIMIT: Duration = Duration::from_secs(10);
/// The most unused connections kept per agent socket.
const IDLE_PER_AGENT: usize = 64;

/// A connection to a delivery agent.
pub type AgentConn = ipc::Connection<Deliver, UnixStream>;

/// Agents - the unused connections, by agent socket.
#[derive(Default)]
pub struct Agents {
    idle: Mutex<HashMap<PathBuf, Vec<(Instant, AgentConn)>>>,
}

impl Agents {
    /// connect - a connection to the agent at `socket` with `request` sent:
    /// a kept one if there is one (true), else a new one (false).
    pub async fn connect(
        &self,
        socket: &Path,
        request: &Request,
        timeout: Duration,
    ) -> Result<(AgentConn, bool), String> {
        if let Some(mut conn) = self.take(socket) {
            conn.set_timeout(timeout);
            // A send to a closed connection fails at once; one closed just
            // after is found by the caller, before any answer.
            if conn.send_request(request).await.is_ok() {
                return Ok((conn, true));
            }
        }
        Ok((Agents::open(socket, request, timeout).await?, false))
    }

    /// open - a new connection to the agent at `socket`, `request` sent.
    pub async fn open(
        socket: &Path,
        request: &Request,
        timeout: Duration,
    ) -> Result<AgentConn, String> {
        let mut conn = ipc::connect_unix::<Deliver>(socket, CONNECT_TIMEOUT)
            .await
            .map_err(|e| e.to_string())?;
        conn.set_timeout(timeout);
        conn.send_request(request)
            .await
            .map_err(|e| e.to_string())?;
        Ok(conn)
    }

    /// put - keep `conn`, whose last request was fully answered.
    pub fn put(&self, socket: &Path, conn: AgentConn) {
        let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        let kept = idle.entry(socket.to_path_buf()).or_default();
        kept.retain(|(since, _)| since.elapsed() < IDLE_LIMIT);
        if kept.len() < IDLE_PER_AGENT {
            kept.push((Instant::now(), conn));
        }
    }

    /// take - the most recently used connection to `socket` not idle too
    /// long; older ones are closed.
    fn take(&self, socket: &Path) -> Option<AgentConn> {
        let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        let kept = idle.get_mut(socket)?;
        kept.retain(|(since, _)| since.elapsed() < IDLE_LIMIT);
        kept.pop().map(|(_, conn)| conn)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use ipc::deliver::Reply;
    use tokio::net::UnixListener;

    use super::*;

    /// An agent at `socket` answering every request with Done; counts the
    /// connections it accepted, and closes them all when `close` is notified.
    fn agent(socket: &Path, close: Arc<tokio::sync::Notify>) -> Arc<AtomicUsize> {
        let accepted = Arc::new(AtomicUsize::new(0));
        let listener = UnixListener::bind(socket).unwrap();
        let count = accepted.clone();
        tokio::spawn(async move {
            loop {
                let (stream, _) = listener.accept().await.unwrap();
                count.fetch_add(1, Ordering::SeqCst);
                let close = close.clone();
                tokio::spawn(async move {
                    let mut conn = ipc::Connection::<Deliver, _>::accept(stream, TIMEOUT)
                        .await
                        .unwrap();
                    loop {
                        tokio::select! {
                            () = close.notified() => return,
                            job = ipc::deliver::next_job(&mut conn) => {
                                if !matches!(job, Ok(Some(_))) {
                                    return;
                                }
                                conn.send_reply(&Reply::Done).await.unwrap();
                            }
                        }
                    }
                });
            }
        });
        accepted
    }

    const TIMEOUT: Duration = Duration::from_secs(5);

    fn request() -> Request {
        Request::Deliver {
            queue_id: spool::QueueId::new().to_string(),
            recipients: Vec::new(),
            nexthop: String::new(),
        }
    }

    #[tokio::test]
    async fn a_connection_is_kept_for_the_next_request() {
        let dir = tempfile::tempdir().unwrap();
        let socket = dir.path().join("local");
        let close = Arc::new(tokio::sync::Notify::new());
        let accepted = agent(&socket, close.clone());
        let agents = Agents::default();
        for round in 0..3 {
            let (mut conn, reused) = agents.connect(&socket, &request(), TIMEOUT).await.unwrap();
            assert_eq!(reused, round > 0, "round {round}");
            assert!(matches!(conn.recv_reply().await, Ok(Reply::Done)));
            agents.put(&socket, conn);
        }
        assert_eq!(accepted.load(Ordering::SeqCst), 1);
        // The agent goes away: the kept connection fails before any answer
        // (at the send, or at the first reply), and a new one works.
        close.notify_waiters();
        let (mut conn, reused) = agents.connect(&socket, &request(), TIMEOUT).await.unwrap();
        if reused {
            assert!(conn.recv_reply().await.is_err());
            conn = Agents::open(&socket, &request(), TIMEOUT).await.unwrap();
        }
        assert!(matches!(conn.recv_reply().await, Ok(Reply::Done)));
        assert_eq!(accepted.load(Ordering::SeqCst), 2);
    }
}
