//! [`Accounts`]: one consistent version of the users and aliases, and
//! authentication against it.

use std::collections::HashMap;
use std::sync::Arc;

use config::Params;

use crate::address::DomainClass;
use crate::aliases::{self, AliasEntry};
use crate::error::{Error, Problem};
use crate::fileio;
use crate::password;
use crate::settings::Settings;
use crate::transport::{self, Route};
use crate::users_file::{self, UserEntry};

/// What an unknown user's password is checked against when the users file
/// has no entry with a password: a SHA512-CRYPT hash (default rounds) of
/// a random password that was thrown away.
const DEFAULT_DUMMY: &str = "{SHA512-CRYPT}$6$rounds=5000$/IWVg3ac6pKBrWlk$7uvEGnapQAiFZxiE5ICNyCFmAaP7gV6eCeEMBCnXSLJHzf1bGwaJ4YV3kdh5O3KNcdFGQAPNysEBjwsEpKIbE1";

/// The result of [`Accounts::authenticate`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AuthOutcome {
    /// The password is right.
    Ok {
        /// The canonical user name (`user@domain`, lower case): use it for
        /// the session and the mailbox, not the login as typed.
        user: String,
    },
    /// Unknown user, wrong password, or a user who cannot log in (empty or
    /// unusable stored password): deliberately indistinguishable.
    Failed,
}

/// One loaded version of the users and aliases files.
///
/// Immutable: a reload builds a new one (see [`crate::Directory`]), so a
/// session that holds an `Arc<Accounts>` sees one consistent version.
#[derive(Debug)]
pub struct Accounts {
    /// The parameters it was loaded with.
    pub(crate) settings: Arc<Settings>,
    /// Users by lower-case name (first definition across all users files).
    pub(crate) users: HashMap<String, UserEntry>,
    /// Aliases by lower-case name (first definition across all files).
    pub(crate) aliases: HashMap<String, AliasEntry>,
    /// The stored password an unknown user's password is checked against.
    pub(crate) dummy: String,
    /// Routes of `transport_maps` by pattern (first definition wins).
    pub(crate) transports: HashMap<String, transport::Rule>,
    /// Bad lines of every file, in file order.
    pub(crate) problems: Vec<Problem>,
}

impl Accounts {
    /// Reads the users and aliases files named by `virtual_user_maps` and
    /// `alias_maps` once (no reloading; see [`crate::Directory`] for that).
    ///
    /// A missing file is an empty one. A file that exists but cannot be
    /// read is an error, as is an unsupported lookup table type. Bad lines
    /// are logged and kept in [`problems`](Accounts::problems).
    pub fn load(params: &Params) -> Result<Accounts, Error> {
        Accounts::read(Arc::new(Settings::from_params(params)?))
    }

    /// Reads every file of `settings`.
    pub(crate) fn read(settings: Arc<Settings>) -> Result<Accounts, Error> {
        let mut problems = Vec::new();
        let mut users: HashMap<String, UserEntry> = HashMap::new();
        let mut first_password: Option<String> = None;
        for path in &settings.users_files {
            let Some(text) = fileio::read_optional(path)? else {
                tracing::debug!("{}: no such users file; no users from it", path.display());
                continue;
            };
            let parsed = users_file::parse(path, &text);
            problems.extend(parsed.problems);
            for entry in parsed.entries {
                if first_password.is_none() && !entry.password.is_empty() {
                    first_password = Some(entry.password.clone());
                }
                users.entry(entry.key()).or_insert(entry);
            }
        }
        let mut aliases: HashMap<String, AliasEntry> = HashMap::new();
        for path in &settings.alias_files {
            let Some(text) = fileio::read_optional(path)? else {
                tracing::debug!(
                    "{}: no such aliases file; no aliases from it",
                    path.display()
                );
                continue;
            };
            let parsed = aliases::parse(path, &text);
            problems.extend(parsed.problems);
            for (key, entry) in parsed.entries {
                aliases.entry(key).or_insert(entry);
            }
        }
        let mut transports: HashMap<String, transport::Rule> = HashMap::new();
        for path in &settings.transport_files {
            let Some(text) = fileio::read_optional(path)? else {
                tracing::warn!(
                    "{}: no such transport file; no routes from it",
                    path.display()
                );
                continue;
            };
            let parsed = transport::parse(path, &text);
            problems.extend(parsed.problems);
            for (pattern, rule) in parsed.entries {
                transports.entry(pattern).or_insert(rule);
            }
        }
        for problem in &problems {
            problem.log();
        }
        let dummy = match first_password {
            Some(stored) => password::dummy_like(&stored).unwrap_or_else(|e| {
                tracing::error!("cannot make a dummy password like the first user's: {e}");
                DEFAULT_DUMMY.to_owned()
            }),
            None => DEFAULT_DUMMY.to_owned(),
        };
        Ok(Accounts {
            settings,
            users,
            aliases,
            transports,
            dummy,
            problems,
        })
    }

    /// Checks a login (`user@domain`, any case) and password against the
    /// users file.
    ///
    /// The work does not depend on whether the user exists: an unknown
    /// user's password is verified against a dummy hash with the scheme
    /// and cost of the users file's first entry, and the comparison itself
    /// is constant time. Callers must still apply [`crate::AuthThrottle`].
    pub fn authenticate(&self, login: &str, password: &[u8]) -> AuthOutcome {
        let key = login.to_lowercase();
        match self.users.get(&key).filter(|e| !e.password.is_empty()) {
            Some(entry) => match password::verify(&entry.password, password) {
                Ok(true) => AuthOutcome::Ok { user: key },
                Ok(false) => AuthOutcome::Failed,
                Err(e) => {
                    tracing::error!("user {}: cannot check the password: {e}", entry.name);
                    // A broken hash may fail before hashing anything: do
                    // the work anyway, so the time is the same.
                    let _ = password::verify(&self.dummy, password);
                    AuthOutcome::Failed
                }
            },
            None => {
                let _ = password::verify(&self.dummy, password);
                AuthOutcome::Failed
            }
        }
    }

    /// The users file entry for `login` (any case), if any.
    pub fn user(&self, login: &str) -> Option<&UserEntry> {
        self.users.get(&login.to_lowercase())
    }

    /// How many users and aliases are loaded.
    pub fn counts(&self) -> (usize, usize) {
        (self.users.len(), self.aliases.len())
    }

    /// Which of our domain lists `domain` (any case) is in.
    pub fn domain_class(&self, domain: &str) -> DomainClass {
        match crate::address::fold_domain(domain) {
            Some(domain) => self.settings.class_of(&domain),
            None => DomainClass::Remote,
        }
    }

    /// Where mail for a domain that is not ours goes: the `transport_maps`
    /// route, else the `relayhost`, else the domain itself (its MX hosts).
    pub fn remote_route(&self, domain: &str) -> Route {
        let folded =
            crate::address::fold_domain(domain).unwrap_or_else(|| domain.to_ascii_lowercase());
        match transport::lookup(&self.transports, &folded) {
            Some(transport::Rule::Smtp(nexthop)) if !nexthop.is_empty() => Route::Smtp {
                nexthop: nexthop.clone(),
            },
            Some(transport::Rule::Smtp(_)) => Route::Smtp { nexthop: folded },
            Some(transport::Rule::Error { status, text }) => Route::Error {
                status: status.clone(),
                text: text.clone(),
            },
            None if !self.settings.relayhost.is_empty() => Route::Smtp {
                nexthop: self.settings.relayhost.clone(),
            },
            None => Route::Smtp { nexthop: folded },
        }
    }

    /// The bad and duplicate lines of every file, in file order.
    pub fn problems(&self) -> &[Problem] {
        &self.problems
    }
}
