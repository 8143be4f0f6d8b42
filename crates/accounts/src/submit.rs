//! Who may submit mail locally (`sendmail`), list and flush the queue, and
//! which envelope senders each local user may use.
//!
//! The users come from `authorized_submit_users`, `authorized_mailq_users`
//! and `authorized_flush_users` (login names, or `static:anyone`, the
//! default). The senders come from `local_login_sender_maps`, a file of
//! `login address, address ...` lines: `*` allows any sender, `<>` the null
//! sender, `@domain` any address in that domain. Without the parameter any
//! user may use any sender (as Postfix: web applications rely on `-f`); with
//! it, a user not listed may use only their own `login@$myorigin`, which is
//! always allowed.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use config::Params;

use crate::error::Error;
use crate::fileio;

/// A list of login names, or everyone.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Users {
    Anyone,
    Only(Vec<String>),
}

impl Users {
    fn from_list(list: &[String]) -> Users {
        if list.iter().any(|u| u.eq_ignore_ascii_case("static:anyone")) {
            Users::Anyone
        } else {
            Users::Only(list.to_vec())
        }
    }

    fn contains(&self, login: &str) -> bool {
        match self {
            Users::Anyone => true,
            Users::Only(names) => names.iter().any(|n| n == login),
        }
    }
}

/// The local submission policy.
#[derive(Clone, Debug)]
pub struct SubmitPolicy {
    submit: Users,
    mailq: Users,
    flush: Users,
    /// Allowed senders by login; `None`: anything goes.
    senders: Option<HashMap<String, Vec<String>>>,
    /// `myorigin`: the domain of unqualified addresses.
    pub myorigin: String,
}

impl SubmitPolicy {
    /// Reads the parameters and the sender map.
    ///
    /// # Errors
    /// An unreadable sender map, or an unsupported table type.
    pub fn load(params: &Params) -> Result<SubmitPolicy, Error> {
        let senders = match params.local_login_sender_maps.trim() {
            "" => None,
            spec => {
                let path = map_path(&params.config_directory, spec)?;
                let text = fileio::read_optional(&path)?.unwrap_or_default();
                Some(parse_senders(&text))
            }
        };
        Ok(SubmitPolicy {
            submit: Users::from_list(&params.authorized_submit_users),
            mailq: Users::from_list(&params.authorized_mailq_users),
            flush: Users::from_list(&params.authorized_flush_users),
            senders,
            myorigin: params.myorigin.trim().to_ascii_lowercase(),
        })
    }

    /// Whether `login` may submit mail.
    pub fn may_submit(&self, login: &str) -> bool {
        self.submit.contains(login)
    }

    /// Whether `login` may list the queue.
    pub fn may_list(&self, login: &str) -> bool {
        self.mailq.contains(login)
    }

    /// Whether `login` may flush the queue.
    pub fn may_flush(&self, login: &str) -> bool {
        self.flush.contains(login)
    }

    /// The address of `login` itself: `login@$myorigin`.
    pub fn own_address(&self, login: &str) -> String {
        format!("{login}@{}", self.myorigin)
    }

    /// `address` with `@$myorigin` added when it has no domain.
    pub fn qualify(&self, address: &str) -> String {
        if address.is_empty() || address.contains('@') {
            address.to_owned()
        } else {
            format!("{address}@{}", self.myorigin)
        }
    }

    /// Whether `login` may use the (qualified) envelope sender `sender`
    /// (empty: the null sender).
    pub fn may_use_sender(&self, login: &str, sender: &str) -> bool {
        if sender.eq_ignore_ascii_case(&self.own_address(login)) {
            return true;
        }
        let Some(map) = &self.senders else {
            return true;
        };
        let Some(allowed) = map.get(login) else {
            return false;
        };
        let sender = sender.to_ascii_lowercase();
        allowed.iter().any(|entry| match entry.as_str() {
            "*" => true,
            "<>" => sender.is_empty(),
            domain if domain.starts_with('@') => !sender.is_empty() && sender.ends_with(domain),
            address => address == sender,
        })
    }
}

/// `texthash:PATH`, `hash:PATH` or `PATH`, relative to the configuration
/// directory.
fn map_path(dir: &Path, spec: &str) -> Result<PathBuf, Error> {
    let path = match spec.split_once(':') {
        Some(("hash" | "texthash" | "lmdb", path)) => path,
        Some(_) => {
            return Err(Error::UnsupportedMap {
                param: "local_login_sender_maps",
                map: spec.to_owned(),
                supported: "hash:PATH, texthash:PATH or PATH (all read as the text file PATH)",
            });
        }
        None => spec,
    };
    Ok(dir.join(path))
}

/// `login address, address ...` lines; later lines for the same login add.
fn parse_senders(bytes: &[u8]) -> HashMap<String, Vec<String>> {
    let mut map: HashMap<String, Vec<String>> = HashMap::new();
    for (_, line) in fileio::lines(bytes) {
        let Ok(line) = line else { continue };
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let Some((login, rest)) = line.split_once(char::is_whitespace) else {
            continue;
        };
        let entry = map.entry(login.to_owned()).or_default();
        entry.extend(
            rest.split(|c: char| c == ',' || c.is_whitespace())
                .filter(|a| !a.is_empty())
                .map(str::to_ascii_lowercase),
        );
    }
    map
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(main_cf: &str, senders: &str) -> SubmitPolicy {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("senders"), senders).unwrap();
        let main_cf = main_cf.replace("DIR", &dir.path().display().to_string());
        let config = config::Config::parse(dir.path(), &main_cf, "").unwrap();
        SubmitPolicy::load(&config.params).unwrap()
    }

    #[test]
    fn without_a_map_any_sender_goes() {
        let p = policy("myorigin = example.org\n", "");
        assert!(p.may_submit("anyone") && p.may_list("x") && p.may_flush("x"));
        assert!(p.may_use_sender("www-data", "ceo@bank.example"));
        assert_eq!(p.qualify("bob"), "bob@example.org");
        assert_eq!(p.qualify("bob@x.test"), "bob@x.test");
    }

    #[test]
    fn the_map_restricts_senders() {
        let p = policy(
            "myorigin = example.org\nlocal_login_sender_maps = texthash:DIR/senders\nauthorized_submit_users = alice, www-data\n",
            "# who may use what\nalice  alice@example.net, @lists.example.org\nwww-data <>, noreply@example.org\nroot *\n",
        );
        assert!(p.may_submit("alice") && !p.may_submit("mallory"));
        assert!(p.may_use_sender("alice", "alice@example.org"));
        assert!(p.may_use_sender("alice", "Alice@Example.NET"));
        assert!(p.may_use_sender("alice", "news@lists.example.org"));
        assert!(!p.may_use_sender("alice", "bob@example.org"));
        assert!(!p.may_use_sender("alice", ""));
        assert!(p.may_use_sender("www-data", ""));
        assert!(p.may_use_sender("root", "anything@anywhere.test"));
        assert!(!p.may_use_sender("mallory", "x@y.test"));
        assert!(p.may_use_sender("mallory", "mallory@example.org"));
    }
}
