//! # local: the Postern local delivery agent
//!
//! qmgr hands it messages for our own domains over `private/local`; for each
//! recipient it asks `accounts` where the address goes and delivers:
//!
//! - a mailbox: Maildir delivery (unique name in `tmp/`, write, fsync, move to
//!   `new/`, fsync the directory) with `Return-Path:` and `Delivered-To:` prepended;
//!   virtual users' Maildirs under `virtual_mailbox_base/DOMAIN/USER/`, system users'
//!   in `~/Maildir/`;
//! - an alias: every target of its expansion: mailboxes as above, `|command` (run with
//!   the message on standard input, as `default_privs`, within `command_time_limit`,
//!   with SENDER, RECIPIENT, ... in its environment), `/file` (appended in mbox format,
//!   locked), and remote addresses, which go back to qmgr to be forwarded as a new
//!   message.
//!
//! Each recipient's result goes back to qmgr as soon as it is known, and is logged
//! (`to=<...>, relay=local, ..., status=sent (delivered to maildir)`).
//!
//! # Security
//! Dual personality, like Postfix's local: it reads queue files as mail_owner, and,
//! when master.cf runs it as root (`unpriv = n`), writes as the recipient: every
//! write into a user's directory happens in a child process (this same program,
//! started with `--deliver`) that has switched to the recipient's uid and gid before it
//! touches anything, so a user's symlinks cannot make it write elsewhere as root.
//! Commands and files come only from the aliases file (accounts guarantees it), and
//! run as `default_privs`. A `Delivered-To:` header naming the recipient already is a
//! mail loop (5.4.6).
//!
//! # Configuration
//! `mail_owner`, `virtual_mailbox_base`, `mailbox_size_limit`,
//! `mailbox_quota_temporary`, `default_privs`, `command_time_limit`,
//! and what `accounts` reads.

mod agent;
mod child;
mod deliver;

use std::sync::Arc;

use service::{CancellationToken, Conn, Context, Service};

use crate::agent::Agent;

struct Local {
    agent: Agent,
}

impl Service for Local {
    const NAME: &'static str = "local";
    type Prepared = ();

    fn prepare(_ctx: &Context) -> anyhow::Result<()> {
        Ok(())
    }

    async fn start(ctx: &Context, (): ()) -> anyhow::Result<Self> {
        Ok(Local {
            agent: Agent::new(&ctx.params)?,
        })
    }

    async fn serve(self: Arc<Self>, conn: Conn, shutdown: CancellationToken) -> anyhow::Result<()> {
        let service::Stream::Unix(stream) = conn.stream else {
            anyhow::bail!("local serves only its Unix socket");
        };
        self.agent.serve(stream, shutdown).await
    }
}

fn main() -> std::process::ExitCode {
    if std::env::args().nth(1).as_deref() == Some(child::FLAG) {
        return child::main();
    }
    service::run::<Local>()
}
