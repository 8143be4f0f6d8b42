//! # smtpd: the Postern SMTP server
//!
//! Receives mail on port 25 (MX), 587 (submission, STARTTLS and AUTH) and 465
//! (submissions, TLS from the first byte): which port does what is master.cf's
//! business, through `-o` overrides of the `smtpd_*` parameters, as in Postfix.
//!
//! A session speaks RFC 5321 with PIPELINING, SIZE, 8BITMIME, SMTPUTF8,
//! ENHANCEDSTATUSCODES, CHUNKING, DSN, STARTTLS and AUTH PLAIN/LOGIN. MAIL FROM
//! checks `smtpd_client_restrictions`, `smtpd_helo_restrictions` and
//! `smtpd_sender_restrictions`; RCPT TO checks `smtpd_relay_restrictions` (by default
//! only `mynetworks` and authenticated clients may relay) and
//! `smtpd_recipient_restrictions`, then refuses unknown users of our own domains.
//! The content streams into `incoming/.ID.tmp` behind our `Received:` header; the
//! client hears `250 Ok: queued as ID` only after the file and its directory are
//! fsynced and the file renamed into `incoming/`.
//!
//! # Security
//! Moderately sensitive: talks to anyone on the network. Runs as `mail_owner`; the
//! TLS key is read before the privilege drop. Every read is bounded (command lines,
//! AUTH lines, message size, header section), and a command must arrive within
//! `smtpd_timeout` (message content at `smtpd_min_data_rate` or faster), so a client
//! trickling one byte at a time is cut off too. DATA ends only at CRLF.CRLF; bare CR
//! and LF are refused (or normalised), so SMTP smuggling cannot inject a second
//! message. Plaintext pipelined after STARTTLS is discarded. AUTH is
//! offered only over TLS or from loopback, and failed logins are throttled. Too many
//! errors end the session; sessions per client address are bounded, at once and per
//! time unit (except for `mynetworks`).
//!
//! # Configuration
//! `myhostname`, `smtpd_banner`, `mail_name`, `mynetworks`, `message_size_limit`,
//! `smtpd_timeout`, `smtpd_hard_error_limit`, `smtpd_soft_error_limit`,
//! `smtpd_error_sleep_time`, `smtpd_recipient_limit`,
//! `smtpd_client_connection_count_limit`, `smtpd_client_connection_rate_limit`,
//! `anvil_rate_time_unit`, `smtpd_min_data_rate`, `smtpd_forbid_bare_newline`,
//! `smtpd_tls_security_level`, `smtpd_tls_wrappermode`, `smtpd_tls_cert_file`,
//! `smtpd_tls_key_file`, `smtpd_sasl_auth_enable`, the five restriction lists,
//! `smtpd_reject_unlisted_recipient`, `header_size_limit`, and what `accounts` reads.

mod anvil;
mod headers;
mod io;
mod nudge;
mod policy;
mod queue;
mod received;
mod session;
mod settings;

use std::sync::Arc;

use anyhow::Context as _;
use service::{CancellationToken, Conn, Context, Service};

use crate::io::Io;
use crate::session::{Session, Shared};
use crate::settings::Settings;

struct Smtpd {
    shared: Shared,
}

/// What smtpd opens while still root: its settings and TLS configuration.
struct Prepared {
    settings: Settings,
    tls: Option<tls::TlsAcceptor>,
}

impl Service for Smtpd {
    const NAME: &'static str = "smtpd";
    type Prepared = Prepared;

    fn prepare(ctx: &Context) -> anyhow::Result<Prepared> {
        let settings = Settings::from_params(&ctx.params)?;
        let tls = if settings.uses_tls() {
            let config = tls::server_config(&ctx.params, tls::Daemon::Smtpd)
                .context("TLS certificate for smtpd")?;
            Some(tls::TlsAcceptor::from(config))
        } else {
            None
        };
        Ok(Prepared { settings, tls })
    }

    async fn start(ctx: &Context, prepared: Prepared) -> anyhow::Result<Self> {
        let accounts = accounts::Directory::open(&ctx.params).context("accounts")?;
        Ok(Smtpd {
            shared: Shared {
                settings: prepared.settings,
                accounts,
                throttle: accounts::AuthThrottle::from_params(&ctx.params),
                tls: prepared.tls,
                spool: Arc::new(spool::Spool::new(&ctx.params.queue_directory)),
                anvil: anvil::Anvil::default(),
                service: ctx.args.service_name.clone(),
                nudger: nudge::Nudger::new(&ctx.params.queue_directory),
            },
        })
    }

    async fn background(self: Arc<Self>, shutdown: CancellationToken) {
        self.shared.nudger.run(shutdown).await;
    }

    async fn serve(self: Arc<Self>, conn: Conn, shutdown: CancellationToken) -> anyhow::Result<()> {
        let ip = conn.peer.ip();
        Session::new(&self.shared, Io::Plain(conn.stream), ip, shutdown)
            .run()
            .await;
        Ok(())
    }
}

fn main() -> std::process::ExitCode {
    service::run::<Smtpd>()
}
