//! # postern-testd: a service for master's integration tests
//!
//! A minimal daemon built on the real `service` skeleton, so tests exercise exactly
//! what every Postern daemon does at start (inherited sockets, privilege drop,
//! shutdown). Each line a client sends is answered:
//!
//! - `id`: `service=NAME pid=PID uid=REAL,EFFECTIVE gid=REAL,EFFECTIVE`
//! - anything else: echoed back.
//!
//! With the master.cf argument `crash-if-exists=PATH` it fails at start while PATH
//! exists, which is how tests make a service crash in a loop.
//!
//! # Security
//! For tests only; never listed in a production master.cf. Lines are bounded and
//! reads time out.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::bail;
use service::{CancellationToken, Conn, Context, Service};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};

/// The longest line read from a client.
const MAX_LINE: u64 = 1000;
/// How long a client may stay silent.
const READ_TIMEOUT: Duration = Duration::from_secs(30);

struct Testd {
    service_name: String,
}

fn crash_flag(ctx: &Context) -> Option<PathBuf> {
    ctx.args
        .rest
        .iter()
        .find_map(|arg| arg.strip_prefix("crash-if-exists="))
        .map(PathBuf::from)
}

impl Service for Testd {
    const NAME: &'static str = "testd";
    type Prepared = ();

    fn prepare(ctx: &Context) -> anyhow::Result<()> {
        if let Some(flag) = crash_flag(ctx)
            && flag.exists()
        {
            bail!("crash flag {} exists", flag.display());
        }
        Ok(())
    }

    async fn start(ctx: &Context, (): ()) -> anyhow::Result<Self> {
        Ok(Testd {
            service_name: ctx.args.service_name.clone(),
        })
    }

    async fn serve(self: Arc<Self>, conn: Conn, shutdown: CancellationToken) -> anyhow::Result<()> {
        let (reader, mut writer) = tokio::io::split(conn.stream);
        let mut reader = BufReader::new(reader);
        loop {
            let mut line = String::new();
            let mut bounded = (&mut reader).take(MAX_LINE);
            let read = tokio::select! {
                () = shutdown.cancelled() => return Ok(()),
                read = tokio::time::timeout(READ_TIMEOUT, bounded.read_line(&mut line)) => read,
            };
            match read {
                Err(_) => bail!("read timeout"),
                Ok(Err(e)) => return Err(e.into()),
                Ok(Ok(0)) => return Ok(()),
                Ok(Ok(_)) => {}
            }
            let reply = match line.trim_end() {
                "id" => {
                    let uid = nix::unistd::getresuid()?;
                    let gid = nix::unistd::getresgid()?;
                    format!(
                        "service={} pid={} uid={},{} gid={},{}\n",
                        self.service_name,
                        std::process::id(),
                        uid.real,
                        uid.effective,
                        gid.real,
                        gid.effective
                    )
                }
                other => format!("{other}\n"),
            };
            writer.write_all(reply.as_bytes()).await?;
        }
    }
}

fn main() -> std::process::ExitCode {
    service::run::<Testd>()
}
