//! `sendmail`: the submission command every program on a Unix system uses.
//!
//! `sendmail [options] [recipient ...] < message`. The message goes to the
//! pickup daemon over `public/pickup`, which knows the caller from the kernel
//! and answers with a queue ID or a refusal; when nothing listens there (the
//! mail system is stopped), it is written into `maildrop/` for pickup to take
//! when the system starts, so nothing is lost. No set-ID privilege is needed
//! either way.
//!
//! Options: `-f SENDER` (also `-r`), `-F NAME`, `-t` (recipients from `To:`,
//! `Cc:`, `Bcc:`; `Bcc:` is removed), `-i`/`-oi` (a line with a single dot
//! does not end the message), `-bm` (the default), `-bs` (SMTP on standard
//! input and output), `-bp` (`mailq`), `-bi` (`newaliases`), `-q` (retry
//! deferred mail now), `-v`, `-c DIR`/`-C DIR`; `-oem`, `-oee`, `-odb`,
//! `-odi` and other historic options are accepted, the unknown ones with a
//! warning, as Postfix does.
//!
//! # Exit status (sysexits)
//! 0 queued; 64 (`EX_USAGE`) bad options or no recipients; 65 (`EX_DATAERR`)
//! a bad sender or a message over `message_size_limit`; 67 (`EX_NOUSER`) a
//! bad recipient address; 75 (`EX_TEMPFAIL`) the message could not be
//! queued or left in `maildrop/`; 77 (`EX_NOPERM`) the user may not submit
//! mail or use that sender; 78 (`EX_CONFIG`) a configuration error.

use std::ffi::OsString;
use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use accounts::SubmitPolicy;
use ipc::pickup::{DATA_CHUNK, Pickup, Reply, Request, Submission};
use service::exit;
use smtp_proto::{Command, ReversePath};

use crate::{DEFAULT_CONFIG_DIR, Failure, commands};

/// How long to wait for the pickup daemon to accept a connection.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// How long the pickup daemon may take to answer.
const REPLY_TIMEOUT: Duration = Duration::from_secs(300);

/// What `sendmail` was asked to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Read a message and queue it (`-bm`).
    Deliver,
    /// SMTP on standard input and output (`-bs`).
    Smtp,
    /// List the queue (`-bp`).
    Print,
    /// Check the aliases (`-bi`).
    Aliases,
    /// Retry deferred mail (`-q`).
    Flush,
}

/// The command line, understood.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    /// `-c`/`-C`.
    pub config_dir: PathBuf,
    /// What to do.
    pub mode: Mode,
    /// `-f`.
    pub sender: Option<String>,
    /// `-F`.
    pub full_name: Option<String>,
    /// `-t`.
    pub extract: bool,
    /// `-i`/`-oi`.
    pub ignore_dots: bool,
    /// `-v`.
    pub verbose: bool,
    /// The recipients given as arguments.
    pub recipients: Vec<String>,
    /// Options accepted but ignored, for warnings.
    pub ignored: Vec<String>,
}

/// Runs `sendmail` with `args` (without the program name).
///
/// # Errors
/// A [`Failure`] with the exit status listed in the module documentation.
pub fn sendmail(args: &[OsString]) -> Result<(), Failure> {
    let options = parse(args)?;
    for ignored in &options.ignored {
        eprintln!("sendmail: warning: ignoring {ignored}");
    }
    match options.mode {
        Mode::Print => crate::queue::run(
            &options.config_dir,
            crate::queue::Command::List { json: false },
        ),
        Mode::Aliases => crate::aliases::check(&options.config_dir),
        Mode::Flush => flush(&options.config_dir),
        Mode::Smtp => smtp(&options),
        Mode::Deliver => {
            if !options.extract && options.recipients.is_empty() {
                return Err(Failure::new(
                    exit::USAGE,
                    "no recipients specified (give addresses or -t)",
                ));
            }
            let mut message = Vec::new();
            read_message(
                &mut std::io::stdin().lock(),
                options.ignore_dots,
                &mut message,
            )
            .map_err(|e| Failure::new(exit::IOERR, format!("reading the message: {e}")))?;
            let submission = Submission {
                sender: options.sender.clone(),
                full_name: options.full_name.clone(),
                recipients: options.recipients.clone(),
                extract_recipients: options.extract,
            };
            let queued = submit(&options.config_dir, &submission, &message)?;
            if options.verbose {
                eprintln!("sendmail: {queued}");
            }
            Ok(())
        }
    }
}

/// Parses sendmail's options, the way sendmail and Postfix take them:
/// `-fADDR` or `-f ADDR`, options before the recipients, `--` to end them.
///
/// # Errors
/// `EX_USAGE` for an option that needs a value and has none, or one that
/// cannot be honoured (`-bd`, `-bv`).
pub fn parse(args: &[OsString]) -> Result<Options, Failure> {
    let mut options = Options {
        config_dir: PathBuf::from(DEFAULT_CONFIG_DIR),
        mode: Mode::Deliver,
        sender: None,
        full_name: None,
        extract: false,
        ignore_dots: false,
        verbose: false,
        recipients: Vec::new(),
        ignored: Vec::new(),
    };
    let mut args = args.iter().map(|a| a.to_string_lossy().into_owned());
    let usage = |text: String| Failure::new(exit::USAGE, text);
    while let Some(arg) = args.next() {
        if arg == "--" {
            options
                .recipients
                .extend(args.by_ref().flat_map(|a| split_list(&a)));
            break;
        }
        let Some(flag) = arg.strip_prefix('-').filter(|f| !f.is_empty()) else {
            options.recipients.extend(split_list(&arg));
            continue;
        };
        let (letter, attached) = flag.split_at(1);
        let mut value = |what: &str| -> Result<String, Failure> {
            if attached.is_empty() {
                args.next()
                    .ok_or_else(|| usage(format!("option -{letter} needs {what}")))
            } else {
                Ok(attached.to_owned())
            }
        };
        match letter {
            "f" | "r" => options.sender = Some(value("a sender address")?),
            "F" => options.full_name = Some(value("a full name")?),
            "c" | "C" => {
                let dir = PathBuf::from(value("a configuration directory")?);
                // sendmail's -C names a file; its directory is ours.
                options.config_dir = if dir.is_file() {
                    dir.parent().map_or(dir.clone(), Path::to_path_buf)
                } else {
                    dir
                };
            }
            "t" if attached.is_empty() => options.extract = true,
            "i" if attached.is_empty() => options.ignore_dots = true,
            "v" => options.verbose = true,
            "q" => options.mode = Mode::Flush,
            "o" => match attached {
                "i" => options.ignore_dots = true,
                o if o.starts_with('e')
                    || o.starts_with('d')
                    || o == "m"
                    || o == "7"
                    || o == "8" => {}
                "" => {
                    let _ = value("an option")?;
                }
                o => options.ignored.push(format!("-o{o}")),
            },
            "b" => match attached {
                "m" => options.mode = Mode::Deliver,
                "s" => options.mode = Mode::Smtp,
                "p" => options.mode = Mode::Print,
                "i" => options.mode = Mode::Aliases,
                other => {
                    return Err(usage(format!(
                        "-b{other} is not supported (use -bm, -bs, -bp or -bi)"
                    )));
                }
            },
            // Options that take a value Postern does not use.
            "N" | "R" | "V" | "X" | "B" | "L" | "h" | "O" => {
                let v = value("a value")?;
                options.ignored.push(format!("-{letter} {v}"));
            }
            "n" | "m" | "U" | "G" | "A" | "d" | "x" | "e" | "s" => {
                options.ignored.push(arg.clone());
            }
            _ => options.ignored.push(format!("unknown option {arg}")),
        }
    }
    Ok(options)
}

/// Recipients on the command line may be separated by commas.
fn split_list(arg: &str) -> Vec<String> {
    arg.split(',')
        .map(str::trim)
        .filter(|a| !a.is_empty())
        .map(str::to_owned)
        .collect()
}

/// Reads the message: to the end of input, or (without `-i`) to a line
/// holding a single dot.
fn read_message(
    input: &mut impl BufRead,
    ignore_dots: bool,
    out: &mut Vec<u8>,
) -> std::io::Result<()> {
    if ignore_dots {
        input.read_to_end(out)?;
        return Ok(());
    }
    let mut line = Vec::new();
    loop {
        line.clear();
        if input.read_until(b'\n', &mut line)? == 0 {
            return Ok(());
        }
        let bare = line.strip_suffix(b"\n").unwrap_or(&line);
        let bare = bare.strip_suffix(b"\r").unwrap_or(bare);
        if bare == b"." {
            return Ok(());
        }
        out.extend_from_slice(&line);
    }
}

/// Hands one message to pickup, or leaves it in `maildrop/`; returns what
/// happened, for `-v`.
fn submit(config_dir: &Path, submission: &Submission, message: &[u8]) -> Result<String, Failure> {
    let config = commands::load(config_dir)?;
    let params = &config.params;
    let socket = params.queue_directory.join(ipc::names::PICKUP_SOCKET);
    match runtime()?.block_on(to_pickup(&socket, submission, message)) {
        Ok(Ok(id)) => Ok(format!("queued as {id}")),
        Ok(Err(refusal)) => Err(refusal),
        Err(unreachable) => {
            // The daemons are down: check what can be checked here, so the
            // user hears about a refusal now, then leave the message for
            // pickup (which checks again, as only it can be trusted to).
            if let Ok(policy) = SubmitPolicy::load(params) {
                let login = login_name();
                if !policy.may_submit(&login) {
                    return Err(Failure::new(
                        exit::NOPERM,
                        format!(
                            "user {login} is not allowed to submit mail (authorized_submit_users)"
                        ),
                    ));
                }
                if let Some(sender) = &submission.sender {
                    let sender =
                        policy.qualify(sender.trim_start_matches('<').trim_end_matches('>'));
                    if !policy.may_use_sender(&login, &sender) {
                        return Err(Failure::new(
                            exit::NOPERM,
                            format!(
                                "user {login} is not allowed to send mail as <{sender}> (local_login_sender_maps)"
                            ),
                        ));
                    }
                }
            }
            let dir = params.queue_directory.join("maildrop");
            match spool::maildrop::write(&dir, submission, message) {
                Ok(name) => Ok(format!(
                    "the mail system is not running ({unreachable}); the message waits in maildrop/{name}"
                )),
                Err(e) => Err(Failure::new(
                    exit::TEMPFAIL,
                    format!(
                        "cannot queue the message: pickup is not reachable ({unreachable}) and {e}"
                    ),
                )),
            }
        }
    }
}

/// The outer error: pickup could not be reached (fall back to maildrop).
/// The inner one: pickup refused.
async fn to_pickup(
    socket: &Path,
    submission: &Submission,
    message: &[u8],
) -> Result<Result<String, Failure>, String> {
    let mut conn = ipc::connect_unix::<Pickup>(socket, CONNECT_TIMEOUT)
        .await
        .map_err(|e| e.to_string())?;
    conn.set_timeout(REPLY_TIMEOUT);
    let lost = |e: ipc::Error| {
        Failure::new(
            exit::TEMPFAIL,
            format!("lost the connection to pickup: {e}"),
        )
    };
    match conn.call(&Request::Submit(submission.clone())).await {
        Ok(Reply::Continue) => {}
        Ok(reply) => return Ok(Err(crate::pickup::refused(reply))),
        // Nothing was queued yet: maildrop is as good.
        Err(e) => return Err(e.to_string()),
    }
    for chunk in message.chunks(DATA_CHUNK) {
        if let Err(e) = conn.send_request(&Request::Data(chunk.to_vec())).await {
            return Ok(Err(lost(e)));
        }
    }
    match conn.call(&Request::End).await {
        Ok(Reply::Queued(id)) => Ok(Ok(id)),
        Ok(reply) => Ok(Err(crate::pickup::refused(reply))),
        Err(e) => Ok(Err(lost(e))),
    }
}

/// `sendmail -q`: ask pickup to have qmgr retry deferred mail.
fn flush(config_dir: &Path) -> Result<(), Failure> {
    let config = commands::load(config_dir)?;
    crate::pickup::flush(&config.params.queue_directory, None)
}

/// `sendmail -bs`: an SMTP conversation on standard input and output, each
/// message submitted as if by `sendmail` itself (the caller's identity, the
/// same checks).
fn smtp(options: &Options) -> Result<(), Failure> {
    use smtp_proto::Reply as R;
    let config = commands::load(&options.config_dir)?;
    let host = config.params.myhostname.clone();
    let stdin = std::io::stdin();
    let mut input = stdin.lock();
    let stdout = std::io::stdout();
    let mut output = stdout.lock();
    let mut say = |reply: R| -> Result<(), Failure> {
        output
            .write_all(reply.render().as_bytes())
            .and_then(|()| output.flush())
            .map_err(|e| Failure::new(exit::IOERR, format!("writing the reply: {e}")))
    };
    say(R::greeting(&host))?;
    let mut sender: Option<String> = None;
    let mut recipients: Vec<String> = Vec::new();
    let mut greeted = false;
    let mut line = Vec::new();
    loop {
        line.clear();
        let n = input
            .read_until(b'\n', &mut line)
            .map_err(|e| Failure::new(exit::IOERR, format!("reading a command: {e}")))?;
        if n == 0 {
            return Ok(());
        }
        let bare = line.strip_suffix(b"\n").unwrap_or(&line);
        let bare = bare.strip_suffix(b"\r").unwrap_or(bare);
        let command = match smtp_proto::parse_command(bare) {
            Ok(command) => command,
            Err(error) => {
                say(error.reply())?;
                continue;
            }
        };
        match command {
            Command::Ehlo(_) | Command::Helo(_) => {
                greeted = true;
                sender = None;
                recipients.clear();
                say(R::helo(&host))?;
            }
            Command::Mail(mail) => {
                if !greeted {
                    say(R::bad_sequence("send HELO/EHLO first"))?;
                } else if sender.is_some() {
                    say(R::bad_sequence("nested MAIL command"))?;
                } else {
                    sender = Some(match mail.path {
                        ReversePath::Null => String::new(),
                        ReversePath::Mailbox(mailbox) => mailbox.to_string(),
                    });
                    say(R::sender_ok())?;
                }
            }
            Command::Rcpt(rcpt) => {
                if sender.is_none() {
                    say(R::bad_sequence("need MAIL command"))?;
                } else {
                    recipients.push(match rcpt.path {
                        smtp_proto::ForwardPath::Postmaster => "postmaster".to_owned(),
                        smtp_proto::ForwardPath::Mailbox(mailbox) => mailbox.to_string(),
                    });
                    say(R::recipient_ok())?;
                }
            }
            Command::Data => {
                if recipients.is_empty() {
                    say(R::bad_sequence("need RCPT command"))?;
                    continue;
                }
                say(R::start_data())?;
                let mut message = Vec::new();
                read_smtp_data(&mut input, &mut message)
                    .map_err(|e| Failure::new(exit::IOERR, format!("reading the message: {e}")))?;
                let submission = Submission {
                    sender: sender.take(),
                    full_name: options.full_name.clone(),
                    recipients: std::mem::take(&mut recipients),
                    extract_recipients: false,
                };
                let reply = match submit(&options.config_dir, &submission, &message) {
                    Ok(text) => R::new(
                        smtp_proto::ReplyCode::OK,
                        Some(smtp_proto::EnhancedStatus::OK),
                        format!("Ok: {text}"),
                    ),
                    Err(failure) => failure_reply(&failure),
                };
                say(reply)?;
            }
            Command::Rset => {
                sender = None;
                recipients.clear();
                say(R::ok())?;
            }
            Command::Noop => say(R::ok())?,
            Command::Quit => {
                say(R::closing())?;
                return Ok(());
            }
            _ => say(R::not_implemented())?,
        }
    }
}

/// DATA content up to the `.` line, dot-unstuffed.
fn read_smtp_data(input: &mut impl BufRead, out: &mut Vec<u8>) -> std::io::Result<()> {
    let mut line = Vec::new();
    loop {
        line.clear();
        if input.read_until(b'\n', &mut line)? == 0 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "end of input inside DATA",
            ));
        }
        let bare = line.strip_suffix(b"\n").unwrap_or(&line);
        let bare = bare.strip_suffix(b"\r").unwrap_or(bare);
        if bare == b"." {
            return Ok(());
        }
        out.extend_from_slice(line.strip_prefix(b".").unwrap_or(&line));
    }
}

/// The SMTP reply for a refused submission.
fn failure_reply(failure: &Failure) -> smtp_proto::Reply {
    let (code, status) = match failure.code {
        exit::TEMPFAIL => (451, "4.3.0"),
        exit::NOPERM => (550, "5.7.1"),
        exit::DATAERR => (552, "5.3.4"),
        exit::NOUSER => (550, "5.1.3"),
        _ => (554, "5.5.0"),
    };
    smtp_proto::Reply::new(
        smtp_proto::ReplyCode::new(code).unwrap_or(smtp_proto::ReplyCode::TRANSACTION_FAILED),
        status.parse().ok(),
        failure.message.clone(),
    )
}

/// The caller's login name (real uid), for the checks before maildrop.
fn login_name() -> String {
    let uid = nix::unistd::Uid::current();
    nix::unistd::User::from_uid(uid)
        .ok()
        .flatten()
        .map_or_else(|| format!("#{uid}"), |u| u.name)
}

fn runtime() -> Result<tokio::runtime::Runtime, Failure> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Failure::new(exit::OSERR, format!("cannot start: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<OsString> {
        list.iter().map(OsString::from).collect()
    }

    #[test]
    fn options_as_programs_give_them() {
        let o = parse(&args(&[
            "-oi",
            "-f",
            "www@example.org",
            "-FWeb App",
            "-t",
            "a@x.test,b@x.test",
            "c@x.test",
        ]))
        .unwrap();
        assert!(o.ignore_dots && o.extract);
        assert_eq!(o.sender.as_deref(), Some("www@example.org"));
        assert_eq!(o.full_name.as_deref(), Some("Web App"));
        assert_eq!(o.recipients, ["a@x.test", "b@x.test", "c@x.test"]);
        assert!(o.ignored.is_empty(), "{:?}", o.ignored);

        let o = parse(&args(&[
            "-fme@x.test",
            "-oem",
            "-odi",
            "-i",
            "--",
            "-odd@x.test",
        ]))
        .unwrap();
        assert_eq!(o.sender.as_deref(), Some("me@x.test"));
        assert_eq!(o.recipients, ["-odd@x.test"]);
        assert_eq!(parse(&args(&["-bs"])).unwrap().mode, Mode::Smtp);
        assert_eq!(parse(&args(&["-bp"])).unwrap().mode, Mode::Print);
        assert_eq!(parse(&args(&["-bi"])).unwrap().mode, Mode::Aliases);
        assert_eq!(parse(&args(&["-q"])).unwrap().mode, Mode::Flush);
        let o = parse(&args(&["-N", "success", "-Z", "a@b"])).unwrap();
        assert_eq!(o.ignored, ["-N success", "unknown option -Z"]);
    }

    #[test]
    fn bad_options_are_usage_errors() {
        for bad in [&["-f"][..], &["-bd"], &["-F"]] {
            let failure = parse(&args(bad)).unwrap_err();
            assert_eq!(failure.code, exit::USAGE, "{bad:?}");
        }
    }

    #[test]
    fn a_lone_dot_ends_the_message_unless_i() {
        let text = b"Subject: x\n\n..leading\n.\nafter\n";
        let mut out = Vec::new();
        read_message(&mut &text[..], false, &mut out).unwrap();
        assert_eq!(out, b"Subject: x\n\n..leading\n");
        out.clear();
        read_message(&mut &text[..], true, &mut out).unwrap();
        assert_eq!(out, text);
        out.clear();
        read_smtp_data(&mut &b"..x\r\n.\r\n"[..], &mut out).unwrap();
        assert_eq!(out, b".x\r\n");
    }
}
