//! Reading a new password for `postern user add|passwd`.
//!
//! When standard input is a terminal, the password is asked on the controlling
//! terminal (`/dev/tty`) twice with echo turned off, and the two must match. Otherwise
//! it is the first line of standard input, for scripts (`echo secret | postern user add
//! a@example.org`). Never from the command line: `ps` shows that to every local user.
//!
//! Echo is turned back on whatever happens: [`EchoOff`] restores the saved terminal
//! settings when it is dropped, and while echo is off SIGINT, SIGTERM, SIGHUP and
//! SIGQUIT are caught, so Ctrl-C ends the prompt through that same path instead of
//! killing the process with the terminal left silent.

use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, IsTerminal, Read, Write};

use nix::sys::signal::Signal;
use nix::sys::termios::{LocalFlags, SetArg, Termios, tcgetattr, tcsetattr};
use service::exit;
use tokio::signal::unix::{SignalKind, signal};

use crate::Failure;

/// The longest password accepted, in bytes.
const MAX_PASSWORD: usize = 1024;

/// The new password for `user`, from the terminal or standard
/// input; an empty one is refused.
pub fn read_new_password(user: &str) -> Result<Vec<u8>, Failure> {
    let stdin = std::io::stdin();
    let password = if stdin.is_terminal() {
        from_terminal(user)?
    } else {
        read_line(&mut stdin.lock(), "standard input")?
    };
    if password.is_empty() {
        return Err(empty());
    }
    Ok(password)
}

fn empty() -> Failure {
    Failure::new(exit::DATAERR, "empty password; refused")
}

/// One line without its line end (`\n` or `\r\n`); end of input ends it
/// too. `what` names the input in messages.
fn read_line(input: &mut impl BufRead, what: &str) -> Result<Vec<u8>, Failure> {
    // Room for the longest password and its line end, plus one byte to notice more.
    let limit = u64::try_from(MAX_PASSWORD + 3).unwrap_or(u64::MAX);
    let mut line = Vec::new();
    input
        .take(limit)
        .read_until(b'\n', &mut line)
        .map_err(|e| Failure::new(exit::IOERR, format!("read the password from {what}: {e}")))?;
    if line.last() == Some(&b'\n') {
        line.pop();
        if line.last() == Some(&b'\r') {
            line.pop();
        }
    }
    if line.len() > MAX_PASSWORD {
        return Err(Failure::new(
            exit::DATAERR,
            format!("the password is longer than {MAX_PASSWORD} bytes; refused"),
        ));
    }
    Ok(line)
}

/// Echo turned off on a terminal until dropped; then the saved settings come back.
struct EchoOff {
    tty: File,
    saved: Termios,
}

impl EchoOff {
    /// Turns echo off on `tty`, keeping the echo of the newline (`ECHONL`) so that the
    /// cursor moves on when the user presses Enter.
    fn new(tty: File) -> nix::Result<EchoOff> {
        let saved = tcgetattr(&tty)?;
        let mut quiet = saved.clone();
        quiet.local_flags.remove(LocalFlags::ECHO);
        quiet.local_flags.insert(LocalFlags::ECHONL);
        // TCSAFLUSH also drops anything typed ahead, which was typed with echo on.
        tcsetattr(&tty, SetArg::TCSAFLUSH, &quiet)?;
        Ok(EchoOff { tty, saved })
    }
}

impl Drop for EchoOff {
    fn drop(&mut self) {
        let _ = tcsetattr(&self.tty, SetArg::TCSANOW, &self.saved);
    }
}

/// Asks on `/dev/tty` twice with echo off.
fn from_terminal(user: &str) -> Result<Vec<u8>, Failure> {
    let tty = OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/tty")
        .map_err(|e| Failure::new(exit::OSERR, format!("open /dev/tty: {e}")))?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Failure::new(exit::OSERR, format!("runtime: {e}")))?;
    runtime.block_on(ask_with_echo_off(tty, user))
}

/// Turns echo off, asks twice, and turns echo back on before
/// returning, also when a signal ends the prompt.
///
/// The blocking reads run on a thread of their own so that this task can wait for a
/// signal at the same time. When a signal wins, that thread stays blocked in `read`
/// until the process exits a moment later.
async fn ask_with_echo_off(tty: File, user: &str) -> Result<Vec<u8>, Failure> {
    let os_error = |e: std::io::Error| Failure::new(exit::OSERR, format!("/dev/tty: {e}"));
    // Catch the signals before echo goes off, so none can leave it off. The handlers
    // stay for the rest of the process (tokio cannot remove them); what follows, the
    // hashing and the atomic edit, is short and safe to finish anyway.
    let mut interrupt = signal(SignalKind::interrupt()).map_err(os_error)?;
    let mut hangup = signal(SignalKind::hangup()).map_err(os_error)?;
    let mut quit = signal(SignalKind::quit()).map_err(os_error)?;
    let mut terminate = signal(SignalKind::terminate()).map_err(os_error)?;
    let echo = EchoOff::new(tty.try_clone().map_err(os_error)?)
        .map_err(|e| Failure::new(exit::OSERR, format!("turn echo off on /dev/tty: {e}")))?;
    let prompt = format!("New password for {user}: ");
    let reader = tty.try_clone().map_err(os_error)?;
    let (done, answer) = tokio::sync::oneshot::channel();
    std::thread::spawn(move || {
        let _ = done.send(ask_twice(reader, &prompt));
    });
    let stopped = tokio::select! {
        answer = answer => {
            return answer.unwrap_or_else(|_| {
                Err(Failure::new(exit::SOFTWARE, "the password prompt ended without an answer"))
            });
        }
        _ = interrupt.recv() => (Signal::SIGINT, "interrupted"),
        _ = hangup.recv() => (Signal::SIGHUP, "hangup"),
        _ = quit.recv() => (Signal::SIGQUIT, "quit"),
        _ = terminate.recv() => (Signal::SIGTERM, "terminated"),
    };
    // The user's Enter never came: end the prompt's line ourselves.
    let _ = (&tty).write_all(b"\n");
    drop(echo);
    let (signal, what) = stopped;
    // 128 + the signal number, as a shell reports a process killed by it.
    let code = u8::try_from(128 + signal as i32).unwrap_or(exit::SOFTWARE);
    Err(Failure::new(code, what))
}

/// Writes the prompts to `tty` and reads the password and its repetition.
fn ask_twice(tty: File, prompt: &str) -> Result<Vec<u8>, Failure> {
    let write_error = |e: std::io::Error| Failure::new(exit::OSERR, format!("/dev/tty: {e}"));
    let mut reader = BufReader::new(&tty);
    (&tty).write_all(prompt.as_bytes()).map_err(write_error)?;
    let first = read_line(&mut reader, "the terminal")?;
    if first.is_empty() {
        return Err(empty());
    }
    (&tty)
        .write_all(b"Retype the new password: ")
        .map_err(write_error)?;
    let second = read_line(&mut reader, "the terminal")?;
    if first != second {
        return Err(Failure::new(
            exit::DATAERR,
            "the passwords do not match; nothing changed",
        ));
    }
    Ok(first)
}

#[cfg(test)]
mod tests {
    use std::io::Cursor;

    use nix::pty::openpty;

    use super::*;

    #[test]
    fn lines_lose_their_line_end() {
        let long = "x".repeat(MAX_PASSWORD);
        let cases: &[(&str, &str, Option<&str>)] = &[
            ("newline", "secret\n", Some("secret")),
            ("crlf", "secret\r\n", Some("secret")),
            ("no line end", "secret", Some("secret")),
            ("only the first line", "one\ntwo\n", Some("one")),
            ("spaces kept", " a b \n", Some(" a b ")),
            ("empty input", "", Some("")),
            ("empty line", "\n", Some("")),
            ("longest", &format!("{long}\n"), Some(&long)),
            ("too long", &format!("{long}y\n"), None),
        ];
        for (name, input, want) in cases {
            let got = read_line(&mut Cursor::new(input.as_bytes()), "test");
            match want {
                Some(want) => assert_eq!(got.ok().as_deref(), Some(want.as_bytes()), "{name}"),
                None => assert_eq!(got.err().map(|f| f.code), Some(exit::DATAERR), "{name}"),
            }
        }
    }

    fn echo_flags(tty: &File) -> (bool, bool) {
        let flags = tcgetattr(tty).unwrap().local_flags;
        (
            flags.contains(LocalFlags::ECHO),
            flags.contains(LocalFlags::ECHONL),
        )
    }

    #[test]
    fn echo_comes_back_when_the_guard_is_dropped() {
        let pty = openpty(None, None).unwrap();
        let tty = File::from(pty.slave);
        let before = echo_flags(&tty);
        assert!(before.0, "a new pty echoes");
        let guard = EchoOff::new(tty.try_clone().unwrap()).unwrap();
        assert_eq!(echo_flags(&tty), (false, true));
        drop(guard);
        assert_eq!(echo_flags(&tty), before);
    }

    #[test]
    fn asking_twice_on_a_terminal() {
        let cases: &[(&str, &[u8], Result<&str, u8>)] = &[
            ("same twice", b"s3cret\ns3cret\n", Ok("s3cret")),
            ("different", b"s3cret\nsecret\n", Err(exit::DATAERR)),
            ("empty", b"\n", Err(exit::DATAERR)),
        ];
        for (name, typed, want) in cases {
            let pty = openpty(None, None).unwrap();
            let tty = File::from(pty.slave);
            let mut keyboard = File::from(pty.master);
            let _echo = EchoOff::new(tty.try_clone().unwrap()).unwrap();
            keyboard.write_all(typed).unwrap();
            let got = ask_twice(tty, "Password: ");
            match want {
                Ok(want) => assert_eq!(got.ok().as_deref(), Some(want.as_bytes()), "{name}"),
                Err(code) => assert_eq!(got.err().map(|f| f.code), Some(*code), "{name}"),
            }
        }
    }
}
