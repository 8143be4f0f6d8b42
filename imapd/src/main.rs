//! # imapd: the Postern IMAP server
//!
//! IMAP4rev1 (RFC 3501) and IMAP4rev2 (RFC 9051) on port 143 with STARTTLS and on 993
//! with TLS from the first byte (`-o imapd_tls_wrappermode=yes`), over the Maildirs
//! local delivery writes. Extensions: SASL-IR, LITERAL+, ID, ENABLE, IDLE, NAMESPACE,
//! UIDPLUS, MOVE, UNSELECT, CHILDREN, SPECIAL-USE, LIST-EXTENDED, LIST-STATUS, ESEARCH,
//! CONDSTORE (modification sequences are the message files' ctimes, see mailstore), BINARY
//! and STATUS=SIZE.
//!
//! Commands are framed and parsed by `imap-proto` (imap-codec underneath); FETCH items
//! and SEARCH keys are rendered and evaluated by this crate's library (`imapd_core`)
//! over `mailstore`'s metadata cache, so a FETCH of ENVELOPE or BODYSTRUCTURE on a
//! large folder does not reparse every message. UIDs, UIDVALIDITY and keywords live in
//! Dovecot's `dovecot-uidlist` and `dovecot-keywords`, so Postern serves a Dovecot
//! Maildir in place and clients keep their caches.
//!
//! Several sessions on one folder see each other's changes: before answering, a
//! session rescans the folder if its directories changed and reports new messages
//! (EXISTS), flag changes (FETCH FLAGS) and, where RFC 3501 allows, expunges. IDLE
//! watches the folder with inotify.
//!
//! # Security
//! Talks to anyone on the network and reads users' mail, so: passwords only over TLS
//! or from loopback (`imapd_disable_plaintext_auth`, LOGINDISABLED otherwise), failed
//! logins throttled through accounts and a session ended after five of them, every
//! line and literal bounded (`imapd_max_line_length`, `imapd_max_literal`; before
//! login a whole command, literals included, fits in `imapd_max_line_length`, so
//! nobody unauthenticated makes the server hold a large literal), every command due
//! within `imapd_timeout` (plus what its bytes earn at 500 bytes a second, so a client
//! trickling one byte at a time is cut off too), plaintext pipelined after STARTTLS
//! discarded, mailbox names checked so none leaves the user's Maildir. Runs as `mail_owner`, which owns the virtual Maildirs.
//!
//! # Configuration
//! `imapd_tls_wrappermode`, `imapd_disable_plaintext_auth`, `imapd_max_literal`,
//! `imapd_max_line_length`, `imapd_timeout`, `imapd_special_use_folders`,
//! `imapd_tls_cert_file`, `imapd_tls_key_file`, `myhostname`, and what `accounts`
//! reads.

mod account;
mod idle;
mod selected;
mod session;

use std::sync::Arc;

use anyhow::Context as _;
use service::{CancellationToken, Conn, Context, Service};

use crate::session::{Session, Shared};

struct Imapd {
    shared: Shared,
}

impl Service for Imapd {
    const NAME: &'static str = "imapd";
    type Prepared = tls::TlsAcceptor;

    fn prepare(ctx: &Context) -> anyhow::Result<tls::TlsAcceptor> {
        tls::acceptor(&ctx.params, tls::Daemon::Imapd).context("TLS certificate for imapd")
    }

    async fn start(ctx: &Context, tls: tls::TlsAcceptor) -> anyhow::Result<Self> {
        let p = &ctx.params;
        Ok(Imapd {
            shared: Shared {
                accounts: accounts::Directory::open(p).context("accounts")?,
                throttle: accounts::AuthThrottle::from_params(p),
                tls,
                wrappermode: p.imapd_tls_wrappermode,
                plaintext_disabled: p.imapd_disable_plaintext_auth,
                timeout: p.imapd_timeout,
                max_literal: u32::try_from(p.imapd_max_literal).unwrap_or(u32::MAX),
                max_line: usize::try_from(p.imapd_max_line_length).unwrap_or(usize::MAX),
                special_use: p.imapd_special_use_folders.clone(),
                myhostname: p.myhostname.clone(),
            },
        })
    }

    async fn serve(self: Arc<Self>, conn: Conn, shutdown: CancellationToken) -> anyhow::Result<()> {
        let ip = conn.peer.ip();
        Session::new(&self.shared, conn.stream, ip, shutdown)
            .run()
            .await;
        Ok(())
    }
}

fn main() -> std::process::ExitCode {
    service::run::<Imapd>()
}
