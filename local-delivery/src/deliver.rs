//! Where one recipient's copy goes, and how each kind of target is delivered.

use std::io::{Read, Write};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use accounts::{Accounts, Expansion, Mailbox, Resolution, Target};
use ipc::deliver::Outcome;

use crate::agent::{Agent, Ids, Message};
use crate::child::{self, Job};

fn failed(status: &str, text: impl Into<String>) -> Outcome {
    Outcome::Failed {
        status: status.to_owned(),
        text: text.into(),
    }
}

fn deferred(status: &str, text: impl Into<String>) -> Outcome {
    Outcome::Deferred {
        status: status.to_owned(),
        text: text.into(),
    }
}

fn sent(text: impl Into<String>) -> Outcome {
    Outcome::Sent {
        relay: "local".to_owned(),
        text: text.into(),
    }
}

/// Delivers `message` to `address`.
pub async fn recipient(
    agent: &Agent,
    accounts: &Accounts,
    message: &Arc<Message>,
    address: &str,
) -> Outcome {
    if message.delivered_to.contains(&address.to_ascii_lowercase()) {
        return failed("5.4.6", format!("mail forwarding loop for {address}"));
    }
    match accounts.resolve(address) {
        Resolution::Mailbox(mailbox) => deliver_mailbox(agent, message, &mailbox).await,
        Resolution::Alias(expansion) => deliver_alias(agent, message, address, expansion).await,
        Resolution::Remote { .. } => deferred(
            "4.3.5",
            format!("{address} is not a local address (routing changed since it was queued)"),
        ),
        Resolution::Unknown => failed("5.1.1", format!("unknown user: \"{address}\"")),
    }
}

/// The lines every delivered copy starts with.
fn prefix(message: &Message, delivered_to: &str) -> Vec<u8> {
    format!(
        "Return-Path: <{}>\r\nDelivered-To: {delivered_to}\r\n",
        message.file.envelope().sender
    )
    .into_bytes()
}

/// Runs `job` as `ids`: here if that is us, in a child that switched to them if we
/// are root, and not at all otherwise.
async fn run_as(
    agent: &Agent,
    ids: Ids,
    job: Job,
    message: &Arc<Message>,
    prefix: Vec<u8>,
) -> Outcome {
    let settings = agent.settings.clone();
    let message = message.clone();
    let result = tokio::task::spawn_blocking(move || {
        if ids.uid == settings.euid {
            child::perform(&job, &mut prefix.as_slice().chain(message.file.message()))
        } else if settings.euid == 0 {
            child::spawn(&job, ids, &message, &prefix)
        } else {
            child::Result::Temporary(format!(
                "cannot deliver as uid {}: local runs as uid {} (give local unpriv=n in master.cf)",
                ids.uid, settings.euid
            ))
        }
    })
    .await;
    match result {
        Ok(result) => result.into_outcome(&agent.settings),
        Err(e) => deferred("4.3.0", format!("delivery task failed: {e}")),
    }
}

async fn deliver_mailbox(agent: &Agent, message: &Arc<Message>, mailbox: &Mailbox) -> Outcome {
    let ids = match (mailbox.uid, mailbox.gid) {
        (Some(uid), Some(gid)) => Ids { uid, gid },
        _ => agent.settings.mail_owner,
    };
    // The user's own quota from the users file wins over mailbox_size_limit.
    let quota = match mailbox.quota_bytes {
        Some(0) => None,
        Some(bytes) => Some(bytes),
        None => agent.settings.quota_bytes,
    };
    let job = Job::Maildir {
        path: mailbox.maildir.clone(),
        quota,
    };
    run_as(agent, ids, job, message, prefix(message, &mailbox.address)).await
}

async fn deliver_alias(
    agent: &Agent,
    message: &Arc<Message>,
    address: &str,
    expansion: Expansion,
) -> Outcome {
    if expansion.targets.is_empty() {
        let why = if expansion.errors.is_empty() {
            "alias has no targets".to_owned()
        } else {
            expansion.errors.join("; ")
        };
        return failed("5.1.1", format!("{address}: {why}"));
    }
    let mut remote = Vec::new();
    let mut done = Vec::new();
    let mut worst: Option<Outcome> = None;
    for target in expansion.targets {
        let outcome = match target {
            Target::Mailbox(mailbox) => {
                let outcome = deliver_mailbox(agent, message, &mailbox).await;
                done.push(mailbox.address.clone());
                outcome
            }
            Target::Remote(to) => {
                remote.push(to);
                continue;
            }
            Target::Command { .. } | Target::File { .. } if !agent.settings.commands_allowed => {
                deferred(
                    "4.3.0",
                    "commands and files in aliases need local to run as root (unpriv n in master.cf), so that they run as default_privs",
                )
            }
            Target::Command { command, alias } => {
                done.push(format!("\"|{command}\""));
                deliver_command(agent, message, address, &command, &alias).await
            }
            Target::File { path, alias: _ } => {
                done.push(path.display().to_string());
                let job = Job::Mbox {
                    path: path.clone(),
                    sender: message.file.envelope().sender.clone(),
                    arrival: message.file.envelope().arrival,
                };
                run_as(
                    agent,
                    agent.settings.default_privs,
                    job,
                    message,
                    prefix(message, address),
                )
                .await
            }
        };
        // A temporary failure of any target makes the whole recipient wait (it is
        // retried whole, as Postfix's local does); otherwise a failure bounces it.
        worst = match (worst, outcome) {
            (Some(Outcome::Deferred { status, text }), _) => {
                Some(Outcome::Deferred { status, text })
            }
            (_, Outcome::Deferred { status, text }) => Some(Outcome::Deferred { status, text }),
            (Some(Outcome::Failed { status, text }), _) => Some(Outcome::Failed { status, text }),
            (_, Outcome::Failed { status, text }) => Some(Outcome::Failed { status, text }),
            (_, ok) => Some(ok),
        };
    }
    match worst {
        Some(outcome @ (Outcome::Deferred { .. } | Outcome::Failed { .. })) => outcome,
        _ if !remote.is_empty() => Outcome::Forward {
            text: format!("alias {address} expanded"),
            addresses: remote,
        },
        _ => sent(format!("delivered to {}", done.join(", "))),
    }
}

/// The environment a command delivery gets, as Postfix's local gives it.
fn command_env(message: &Message, address: &str) -> Vec<(&'static str, String)> {
    let (local, domain) = address.rsplit_once('@').unwrap_or((address, ""));
    vec![
        ("SENDER", message.file.envelope().sender.clone()),
        ("RECIPIENT", address.to_owned()),
        ("ORIGINAL_RECIPIENT", address.to_owned()),
        ("LOCAL", local.to_owned()),
        ("DOMAIN", domain.to_owned()),
        ("HOME", "/".to_owned()),
        ("SHELL", "/bin/sh".to_owned()),
        ("PATH", "/usr/bin:/bin".to_owned()),
        ("QUEUE_ID", message.id.to_string()),
    ]
}

async fn deliver_command(
    agent: &Agent,
    message: &Arc<Message>,
    address: &str,
    command: &str,
    alias: &str,
) -> Outcome {
    let settings = agent.settings.clone();
    let ids = settings.default_privs;
    let env = command_env(message, address);
    let message = message.clone();
    let prefix = prefix(&message, address);
    let command = command.to_owned();
    let alias = alias.to_owned();
    let result = tokio::task::spawn_blocking(move || {
        run_command(&command, &env, ids, &settings, &message, &prefix)
    })
    .await;
    match result {
        Ok(Ok(())) => sent(format!("delivered to command of alias {alias}")),
        Ok(Err(outcome)) => outcome,
        Err(e) => deferred("4.3.0", format!("command task failed: {e}")),
    }
}

/// How much of a command's standard error is kept for the reason.
const STDERR_LIMIT: u64 = 1024;

fn run_command(
    command: &str,
    env: &[(&'static str, String)],
    ids: Ids,
    settings: &crate::agent::Settings,
    message: &Message,
    prefix: &[u8],
) -> Result<(), Outcome> {
    let mut cmd = Command::new("/bin/sh");
    cmd.arg("-c").arg(command).env_clear().current_dir("/");
    for (name, value) in env {
        cmd.env(name, value);
    }
    if settings.euid == 0 {
        std::os::unix::process::CommandExt::uid(&mut cmd, ids.uid);
        std::os::unix::process::CommandExt::gid(&mut cmd, ids.gid);
    }
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let mut child = cmd
        .spawn()
        .map_err(|e| deferred("4.3.0", format!("cannot run command: {e}")))?;
    let stdin = child.stdin.take();
    let stderr = child.stderr.take();
    std::thread::scope(|scope| {
        scope.spawn(|| {
            if let Some(mut stdin) = stdin {
                let mut input = prefix.chain(message.file.message());
                // A command that exits without reading its input is not an error.
                let _ = copy_with_lf(&mut input, &mut stdin);
            }
        });
        let errors = scope.spawn(|| {
            let mut text = String::new();
            if let Some(stderr) = stderr {
                let _ = stderr.take(STDERR_LIMIT).read_to_string(&mut text);
            }
            text
        });
        let deadline = Instant::now() + settings.command_time_limit;
        let status = loop {
            match child.try_wait() {
                Ok(Some(status)) => break Ok(status),
                Ok(None) if Instant::now() >= deadline => {
                    let _ = child.kill();
                    let _ = child.wait();
                    break Err(deferred("4.3.0", "command time limit exceeded"));
                }
                Ok(None) => std::thread::sleep(Duration::from_millis(20)),
                Err(e) => break Err(deferred("4.3.0", format!("wait for command: {e}"))),
            }
        }?;
        let text = errors.join().unwrap_or_default();
        let text = text.lines().next().unwrap_or("").trim().to_owned();
        match status.code() {
            Some(0) => Ok(()),
            Some(75) => Err(deferred(
                "4.3.0",
                format!("command temporarily failed: {text}"),
            )),
            Some(code) => Err(failed(
                "5.3.0",
                format!("command exited with status {code}: {text}"),
            )),
            None => Err(deferred("4.3.0", "command was killed by a signal")),
        }
    })
}

/// Copies a CRLF message as LF lines (what commands and Unix files expect).
pub fn copy_with_lf(input: &mut dyn Read, output: &mut dyn Write) -> std::io::Result<u64> {
    let mut buf = vec![0; 64 * 1024];
    let mut out = Vec::with_capacity(buf.len());
    let mut pending_cr = false;
    let mut total = 0;
    loop {
        let n = input.read(&mut buf)?;
        if n == 0 {
            break;
        }
        out.clear();
        for &byte in buf.iter().take(n) {
            if pending_cr && byte != b'\n' {
                out.push(b'\r');
            }
            pending_cr = byte == b'\r';
            if !pending_cr {
                out.push(byte);
            }
        }
        output.write_all(&out)?;
        total += u64::try_from(out.len()).unwrap_or(u64::MAX);
    }
    if pending_cr {
        output.write_all(b"\r")?;
        total += 1;
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crlf_becomes_lf() {
        let cases: &[(&[u8], &[u8])] = &[
            (b"a\r\nb\r\n", b"a\nb\n"),
            (b"bare\rcr\r\n", b"bare\rcr\n"),
            (b"end\r", b"end\r"),
            (b"", b""),
        ];
        for (input, want) in cases {
            let mut out = Vec::new();
            copy_with_lf(&mut &input[..], &mut out).unwrap();
            assert_eq!(&out, want);
        }
    }
}
