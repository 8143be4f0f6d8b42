//! Dropping root privileges to `mail_owner`.
//!
//! The order is the one that cannot leave a way back: supplementary groups first, then
//! the group IDs, then the user IDs, and finally a read-back of real, effective and
//! saved IDs, so a half-done drop is caught rather than trusted.

use nix::unistd::{Gid, Uid, User, getresgid, getresuid, setgroups, setresgid, setresuid};

/// Why the drop failed; every variant is fatal for the daemon.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// `mail_owner` names no user in the password database.
    #[error("mail_owner {0}: no such user")]
    NoSuchUser(String),
    /// `mail_owner` is root (or another uid 0 account): refusing to run as root.
    #[error("mail_owner {0} has uid 0: refusing to run as root")]
    OwnerIsRoot(String),
    /// Looking up the user failed.
    #[error("mail_owner {name}: lookup failed: {source}")]
    Lookup {
        /// The user name.
        name: String,
        /// The system error.
        #[source]
        source: nix::Error,
    },
    /// A system call of the drop failed.
    #[error("{call}: {source}")]
    Call {
        /// The system call.
        call: &'static str,
        /// The system error.
        #[source]
        source: nix::Error,
    },
    /// After the drop, some ID is still not the target.
    #[error("privilege drop incomplete: uid {uid:?} gid {gid:?}")]
    Incomplete {
        /// (real, effective, saved) user IDs read back.
        uid: (u32, u32, u32),
        /// (real, effective, saved) group IDs read back.
        gid: (u32, u32, u32),
    },
}

/// Looks up `mail_owner`, refusing a missing user and uid 0.
pub fn lookup_owner(name: &str) -> Result<User, Error> {
    let user = User::from_name(name)
        .map_err(|source| Error::Lookup {
            name: name.to_owned(),
            source,
        })?
        .ok_or_else(|| Error::NoSuchUser(name.to_owned()))?;
    if user.uid.is_root() {
        return Err(Error::OwnerIsRoot(name.to_owned()));
    }
    Ok(user)
}

/// Switches the whole process to `user` (its primary group only) and verifies it.
pub fn drop_to(user: &User) -> Result<(), Error> {
    let call = |call| move |source| Error::Call { call, source };
    setgroups(&[user.gid]).map_err(call("setgroups"))?;
    setresgid(user.gid, user.gid, user.gid).map_err(call("setresgid"))?;
    setresuid(user.uid, user.uid, user.uid).map_err(call("setresuid"))?;
    verify(user.uid, user.gid)
}

fn verify(uid: Uid, gid: Gid) -> Result<(), Error> {
    let call = |call| move |source| Error::Call { call, source };
    let u = getresuid().map_err(call("getresuid"))?;
    let g = getresgid().map_err(call("getresgid"))?;
    let uids = (u.real.as_raw(), u.effective.as_raw(), u.saved.as_raw());
    let gids = (g.real.as_raw(), g.effective.as_raw(), g.saved.as_raw());
    let want_u = uid.as_raw();
    let want_g = gid.as_raw();
    if uids != (want_u, want_u, want_u) || gids != (want_g, want_g, want_g) {
        return Err(Error::Incomplete {
            uid: uids,
            gid: gids,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn root_is_refused_as_owner() {
        assert!(matches!(lookup_owner("root"), Err(Error::OwnerIsRoot(_))));
    }

    #[test]
    fn missing_user_is_refused() {
        assert!(matches!(
            lookup_owner("no-such-user-postern-test"),
            Err(Error::NoSuchUser(_))
        ));
    }

    #[test]
    fn verify_accepts_current_ids() {
        verify(Uid::current(), Gid::current()).unwrap();
    }
}
