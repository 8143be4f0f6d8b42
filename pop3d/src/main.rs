//! # pop3d: the Postern POP3 server
//!
//! POP3 (RFC 1939) on port 110 with STLS (RFC 2595) and on 995 with TLS from the first
//! byte (`-o pop3d_tls_wrappermode=yes`), over the Maildirs local delivery writes.
//! Extensions: CAPA (RFC 2449), response codes (`[AUTH]`, `[IN-USE]`, `[SYS/TEMP]`),
//! AUTH PLAIN (RFC 5034), TOP, UIDL.
//!
//! A session logs in (USER/PASS or AUTH PLAIN, as a virtual user of the users file),
//! takes the maildrop's lock (a second session gets `-ERR [IN-USE]`; the lock dies
//! with the session, even on kill -9), moves new mail to `cur/` (it has been seen),
//! and numbers the messages. Sizes and RETR/TOP output are the CRLF form of the
//! stored message, byte-stuffed. DELE marks; only QUIT expunges (UPDATE state).
//! UIDLs are Dovecot's (`%08Xu%08Xv` from the shared UID list), so POP3 clients of a
//! migrated Dovecot host do not download everything again.
//!
//! # Security
//! Talks to anyone on the network and reads users' mail, so: passwords only over TLS
//! or from loopback (`pop3d_disable_plaintext_auth`), failed logins throttled through
//! accounts and a session ended after five of them, every command line bounded and
//! due within `pop3d_timeout` (so a client trickling one byte at a time is cut off
//! too), plaintext pipelined after STLS discarded. Runs as `mail_owner`, which owns
//! the virtual Maildirs.
//!
//! # Configuration
//! `pop3d_tls_wrappermode`, `pop3d_disable_plaintext_auth`, `pop3d_timeout`,
//! `pop3d_tls_cert_file`, `pop3d_tls_key_file`, `myhostname`, and what `accounts` reads.

mod maildrop;
mod session;

use std::sync::Arc;

use anyhow::Context as _;
use service::{CancellationToken, Conn, Context, Service};

use crate::session::{Session, Shared};

struct Pop3d {
    shared: Shared,
}

impl Service for Pop3d {
    const NAME: &'static str = "pop3d";
    type Prepared = tls::TlsAcceptor;

    fn prepare(ctx: &Context) -> anyhow::Result<tls::TlsAcceptor> {
        tls::acceptor(&ctx.params, tls::Daemon::Pop3d).context("TLS certificate for pop3d")
    }

    async fn start(ctx: &Context, tls: tls::TlsAcceptor) -> anyhow::Result<Self> {
        let p = &ctx.params;
        Ok(Pop3d {
            shared: Shared {
                accounts: accounts::Directory::open(p).context("accounts")?,
                throttle: accounts::AuthThrottle::from_params(p),
                tls,
                wrappermode: p.pop3d_tls_wrappermode,
                plaintext_disabled: p.pop3d_disable_plaintext_auth,
                timeout: p.pop3d_timeout,
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
    service::run::<Pop3d>()
}
