//! `postern user add|passwd|del|list`: the users file.
//!
//! The file is the first `passwd-file:` table of `virtual_user_maps`, found by the
//! same code the daemons use ([`accounts::users_files`]). Every edit goes through
//! [`accounts::users_file`], which locks the file, changes only the user's own line
//! and replaces the file atomically, so a running daemon (which re-reads the file when
//! it changes) sees either the old file or the new one. Nothing needs a signal.
//!
//! `add` and `passwd` check the name and whether the user exists before they ask for
//! the password, so nobody types a password twice only to be told the name is wrong;
//! the edit itself checks again under the lock.

use std::path::{Path, PathBuf};

use accounts::password::{self, HashScheme, Scheme, SchemeError};
use accounts::{Error, UserEntry, users_file};
use nix::unistd::{Group, Uid, User};
use service::exit;

use crate::commands::load;
use crate::{Failure, describe, secret};

/// The exit code and message for an accounts error.
fn failure(error: &Error) -> Failure {
    let code = match error {
        Error::UserExists { .. } => exit::CANTCREAT,
        Error::UserNotFound { .. } => exit::NOUSER,
        Error::BadUserName { .. } => exit::DATAERR,
        Error::UnsupportedMap { .. } => exit::CONFIG,
        Error::Read { source, .. } | Error::Write { source, .. } | Error::Lock { source, .. }
            if source.kind() == std::io::ErrorKind::PermissionDenied =>
        {
            exit::NOPERM
        }
        Error::Read { .. } | Error::Write { .. } | Error::Lock { .. } => exit::IOERR,
        Error::Hash {
            source: SchemeError::Random,
        } => exit::OSERR,
        _ => exit::SOFTWARE,
    };
    Failure::new(code, describe(error))
}

/// The users file that the configuration in `dir` names.
fn users_path(dir: &Path) -> Result<(config::Config, PathBuf), Failure> {
    let config = load(dir)?;
    let files = accounts::users_files(&config.params).map_err(|e| failure(&e))?;
    match files.into_iter().next() {
        Some(path) => Ok((config, path)),
        None => Err(Failure::new(
            exit::CONFIG,
            "virtual_user_maps is empty: no users file to edit (set virtual_user_maps = passwd-file:PATH)",
        )),
    }
}

/// The entry of `user` (any case) in the users file, if there is one.
fn find(path: &Path, user: &str) -> Result<Option<UserEntry>, Failure> {
    let key = user.to_lowercase();
    let entries = users_file::list(path).map_err(|e| failure(&e))?;
    Ok(entries.into_iter().find(|entry| entry.key() == key))
}

/// Asks for the password of `user` and hashes it with `scheme`.
fn new_hash(user: &str, scheme: HashScheme) -> Result<String, Failure> {
    let password = secret::read_new_password(user)?;
    password::hash(scheme, &password).map_err(|source| failure(&Error::Hash { source }))
}

/// `postern user add`.
pub fn add(dir: &Path, scheme: HashScheme, user: &str) -> Result<(), Failure> {
    let (config, path) = users_path(dir)?;
    users_file::check_name(user).map_err(|e| failure(&e))?;
    if find(&path, user)?.is_some() {
        return Err(failure(&Error::UserExists {
            path,
            user: user.to_owned(),
        }));
    }
    let hash = new_hash(user, scheme)?;
    let created = !path.exists();
    users_file::add(&path, user, &hash).map_err(|e| failure(&e))?;
    if created {
        share_with_mail_owner(&path, &config.params.mail_owner);
    }
    println!("postern: added {user} to {}", path.display());
    Ok(())
}

/// Gives a users file that root just created the group of
/// `mail_owner`, so the daemons can still read it after they drop privileges (it is
/// created with mode 0640).
///
/// Only a warning when that fails: the user was added, and the admin can fix the
/// ownership.
fn share_with_mail_owner(path: &Path, mail_owner: &str) {
    if !Uid::effective().is_root() {
        return;
    }
    let gid = match User::from_name(mail_owner) {
        Ok(Some(owner)) => owner.gid,
        _ => {
            eprintln!(
                "postern: warning: mail_owner {mail_owner} is not a user; {} stays readable only by root",
                path.display()
            );
            return;
        }
    };
    if let Err(e) = std::os::unix::fs::chown(path, None, Some(gid.as_raw())) {
        let group = Group::from_gid(gid)
            .ok()
            .flatten()
            .map_or_else(|| gid.to_string(), |g| g.name);
        eprintln!(
            "postern: warning: cannot give {} the group {group}: {e}",
            path.display()
        );
    }
}

/// `postern user passwd`.
pub fn passwd(dir: &Path, scheme: HashScheme, user: &str) -> Result<(), Failure> {
    let (_, path) = users_path(dir)?;
    if find(&path, user)?.is_none() {
        return Err(failure(&Error::UserNotFound {
            path,
            user: user.to_owned(),
        }));
    }
    let hash = new_hash(user, scheme)?;
    users_file::set_password(&path, user, &hash).map_err(|e| failure(&e))?;
    println!("postern: changed the password of {user}");
    Ok(())
}

/// `postern user del`.
pub fn del(dir: &Path, user: &str) -> Result<(), Failure> {
    let (_, path) = users_path(dir)?;
    users_file::delete(&path, user).map_err(|e| failure(&e))?;
    println!(
        "postern: removed {user} from {}; mail already delivered stays in its mailbox",
        path.display()
    );
    Ok(())
}

/// `postern user list`: one user per line; bad lines of the file as warnings.
pub fn list(dir: &Path) -> Result<(), Failure> {
    let (_, path) = users_path(dir)?;
    let file = users_file::load(&path).map_err(|e| failure(&e))?;
    for problem in &file.problems {
        eprintln!("postern: warning: {problem}");
    }
    print!("{}", render_list(&file.entries));
    Ok(())
}

/// The scheme of a stored password as `{NAME}`, or `-` for an empty one
/// (the user receives mail but cannot log in). Never any part of the hash.
fn scheme_name(stored: &str) -> String {
    if stored.is_empty() {
        return "-".to_owned();
    }
    let scheme = stored
        .strip_prefix('{')
        .and_then(|rest| rest.split_once('}'))
        .and_then(|(name, _)| Scheme::from_name(name))
        .unwrap_or(Scheme::Crypt);
    scheme.to_string()
}

/// `name scheme [uid=N] [gid=N]` per user, the names padded to one width.
fn render_list(entries: &[UserEntry]) -> String {
    let width = entries.iter().map(|e| e.name.len()).max().unwrap_or(0);
    let mut out = String::new();
    for entry in entries {
        let mut line = format!("{:<width$}  {}", entry.name, scheme_name(&entry.password));
        if let Some(uid) = entry.uid {
            line.push_str(&format!(" uid={uid}"));
        }
        if let Some(gid) = entry.gid {
            line.push_str(&format!(" gid={gid}"));
        }
        out.push_str(&line);
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schemes_are_named_without_the_hash() {
        for (stored, want) in [
            (
                "{ARGON2ID}$argon2id$v=19$m=65536,t=3,p=1$c2FsdA$aGFzaA",
                "{ARGON2ID}",
            ),
            ("{sha512-crypt}$6$salt$hash", "{SHA512-CRYPT}"),
            ("{CLEAR}secret", "{PLAIN}"),
            ("$6$salt$hash", "{CRYPT}"),
            ("", "-"),
        ] {
            assert_eq!(scheme_name(stored), want, "{stored}");
        }
    }

    #[test]
    fn list_lines() {
        let parsed = users_file::parse(
            Path::new("users"),
            b"# comment\n\
              alice@example.org:{PLAIN}x\n\
              bob@example.net:{SHA512-CRYPT}$6$salt$hash:5000:5001::/home/bob\n\
              c@example.org::7\n",
        );
        assert_eq!(
            render_list(&parsed.entries),
            "alice@example.org  {PLAIN}\n\
             bob@example.net    {SHA512-CRYPT} uid=5000 gid=5001\n\
             c@example.org      - uid=7\n"
        );
        assert_eq!(render_list(&[]), "");
    }

    #[test]
    fn errors_map_to_sysexits() {
        let path = PathBuf::from("/etc/postern/users");
        let io = |kind| std::io::Error::from(kind);
        let cases = [
            (
                Error::UserExists {
                    path: path.clone(),
                    user: "a@b".into(),
                },
                exit::CANTCREAT,
            ),
            (
                Error::UserNotFound {
                    path: path.clone(),
                    user: "a@b".into(),
                },
                exit::NOUSER,
            ),
            (
                Error::BadUserName {
                    user: "a".into(),
                    reason: "no @domain",
                },
                exit::DATAERR,
            ),
            (
                Error::Write {
                    path: path.clone(),
                    step: "rename the temporary file",
                    source: io(std::io::ErrorKind::PermissionDenied),
                },
                exit::NOPERM,
            ),
            (
                Error::Read {
                    path,
                    source: io(std::io::ErrorKind::InvalidData),
                },
                exit::IOERR,
            ),
            (
                Error::Hash {
                    source: SchemeError::Random,
                },
                exit::OSERR,
            ),
        ];
        for (error, code) in cases {
            let got = failure(&error);
            assert_eq!(got.code, code, "{error:?}");
            assert!(
                got.message.starts_with(&error.to_string()),
                "{}",
                got.message
            );
        }
    }
}
