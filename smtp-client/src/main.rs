//! # smtp: the Postern outbound SMTP delivery agent
//!
//! qmgr hands it messages for other domains over `private/smtp`, with the next
//! hop it chose (a `transport_maps` route, the `relayhost`, or the recipient's
//! domain). For the next hop it finds the servers to try
//! (MX records by preference, equal preferences in random order; no MX: the
//! domain's own A/AAAA records; a null MX or a domain that does not exist:
//! bounce; a DNS timeout or SERVFAIL: try later), connects to each address in
//! turn until every recipient has a final answer, and sends the message:
//! EHLO (HELO if refused), STARTTLS by `smtp_tls_security_level`, AUTH from
//! `smtp_sasl_password_maps`, then MAIL/RCPT/DATA or BDAT, pipelined when the
//! server allows.
//!
//! Each recipient's result goes back to qmgr and is logged in Postfix's shape
//! (`to=<..>, relay=mx.example.org[192.0.2.1]:25, delay=.., delays=a/b/c/d,
//! dsn=2.0.0, status=sent (250 2.0.0 Ok: queued as ..)`). A 5xx for a
//! recipient bounces it; a 4xx, a refused or timed-out connection or a 4xx
//! greeting moves on to the next address, and when none is left the recipient
//! is deferred with the last reason. After a transaction the connection stays
//! open for `smtp_connection_cache_time_limit`, so the next message to the same
//! next hop skips the lookup and the handshakes.
//!
//! # Security
//! Talks to untrusted servers: every reply is bounded (line length and count),
//! every step has a deadline (`smtp_*_timeout`), and nothing a server says is
//! trusted beyond the recipients' verdicts. Passwords are sent only over TLS
//! or to a loopback address. Under `may` and `encrypt` certificates are not
//! checked (opportunistic TLS, RFC 7435); under `verify` and `secure` the chain
//! must lead to a trusted root (`smtp_tls_CAfile` adds one) and name the host.
//! Runs as mail_owner and only reads queue files.
//!
//! # Configuration
//! `smtp_tls_security_level`, `smtp_tls_CAfile`,
//! `smtp_dns_servers`, `smtp_tcp_port`, `smtp_helo_name`, the `smtp_*_timeout`
//! family, `smtp_connection_cache_time_limit`, `smtp_mx_address_limit`,
//! `smtp_mx_session_limit`, `smtp_destination_recipient_limit`,
//! `smtp_address_preference`, `inet_protocols`, `smtp_sasl_auth_enable`,
//! `smtp_sasl_password_maps`, `smtp_skip_5xx_greeting`,
//! `disable_mime_output_conversion`.

mod cache;
mod deliver;
mod dns;
mod nexthop;
mod session;
mod settings;
mod transaction;

use std::sync::Arc;

use service::{CancellationToken, Conn, Context, Service};

use crate::deliver::Agent;
use crate::settings::{PasswordMap, Settings};

struct Smtp {
    agent: Agent,
}

impl Service for Smtp {
    const NAME: &'static str = "smtp";
    /// The password map, read while still privileged (it is often
    /// readable by root only).
    type Prepared = Option<PasswordMap>;

    fn prepare(ctx: &Context) -> anyhow::Result<Option<PasswordMap>> {
        PasswordMap::load(&ctx.params)
    }

    async fn start(ctx: &Context, passwords: Option<PasswordMap>) -> anyhow::Result<Self> {
        let settings = Settings::new(&ctx.params, passwords)?;
        Ok(Smtp {
            agent: Agent::new(&ctx.params, settings)?,
        })
    }

    async fn serve(self: Arc<Self>, conn: Conn, shutdown: CancellationToken) -> anyhow::Result<()> {
        let service::Stream::Unix(stream) = conn.stream else {
            anyhow::bail!("smtp serves only its Unix socket");
        };
        self.agent.serve(stream, shutdown).await
    }

    /// Closes idle cached connections as they expire, and all of them at
    /// shutdown.
    async fn background(self: Arc<Self>, shutdown: CancellationToken) {
        let cache = &self.agent.cache;
        let quit = self.agent.settings.timeouts.quit;
        loop {
            let everything = tokio::select! {
                () = tokio::time::sleep(cache.sweep_interval()) => false,
                () = shutdown.cancelled() => true,
            };
            for session in cache.expired(everything) {
                session.quit(quit).await;
            }
            if everything {
                break;
            }
        }
    }
}

fn main() -> std::process::ExitCode {
    service::run::<Smtp>()
}
