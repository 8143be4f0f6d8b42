//! Resolution: what an address is (a mailbox, an alias expansion, a remote
//! destination, or unknown), with Postfix local(8) alias semantics.
//!
//! Order of lookups for `local@domain` (local part and domain folded to
//! lower case; with `recipient_delimiter`, `user+tag` is tried before
//! `user`, and a mailbox found through `user` carries `tag` as its
//! extension):
//!
//! - a domain in neither list: [`Resolution::Remote`];
//! - a local domain (`mydestination`): aliases keyed by the full address,
//!   then by the bare local part, then system users (the password
//!   database), then the `postmaster` fallback (root's mailbox);
//! - a virtual domain (`virtual_mailbox_domains`): aliases keyed by the
//!   full address, then the users file, then `postmaster` (the bare
//!   `postmaster` alias if there is one, else root's mailbox), because
//!   RFC 5321 requires postmaster for every domain we accept mail for;
//! - a bare name without `@` is local, in the domain `myhostname`.
//!
//! Alias expansion follows the targets recursively: a name that refers to
//! the alias being expanded (`root: root, backup`) is that user's mailbox;
//! an alias met again while it is being expanded is a loop (reported in
//! [`Expansion::errors`]); one met again after it was expanded is a
//! duplicate and skipped; nesting deeper than 100 levels is an error; the
//! same target is delivered once.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use nix::unistd::{Uid, User};

use crate::accounts::Accounts;
use crate::address::{DomainClass, candidates, fold};
use crate::aliases::{AliasEntry, AliasTarget, read_include};
use crate::users_file::UserEntry;

/// How deep aliases may nest (aliases within aliases, includes).
const MAX_DEPTH: usize = 100;

/// The most targets one expansion may produce (large include files).
const MAX_TARGETS: usize = 10_000;

/// What an address is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Resolution {
    /// A mailbox on this host.
    Mailbox(Mailbox),
    /// An alias (or a full-address alias): deliver to its targets.
    Alias(Expansion),
    /// A domain that is not ours.
    Remote {
        /// The domain, lower case.
        domain: String,
    },
    /// One of our domains, but no such user or alias (reject at RCPT).
    Unknown,
}

/// Whose mailbox a [`Mailbox`] is, which decides who may write it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MailboxKind {
    /// A users file entry: under `virtual_mailbox_base`, owned by
    /// `mail_owner` unless the entry sets uid/gid.
    Virtual,
    /// A user of the password database: `~/Maildir/`, written as that user.
    System,
}

/// A Maildir to deliver to.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Mailbox {
    /// The canonical address, `user@domain` in lower case (no extension).
    pub address: String,
    /// Virtual or system user.
    pub kind: MailboxKind,
    /// The Maildir, ending with `/`: `virtual_mailbox_base/DOMAIN/USER/`
    /// or `HOME/Maildir/`.
    pub maildir: PathBuf,
    /// The uid to deliver as (system users; virtual users with a uid field).
    pub uid: Option<u32>,
    /// The gid to deliver as.
    pub gid: Option<u32>,
    /// The address extension (`tag` of `user+tag`, without the delimiter)
    /// when the mailbox was found by removing it.
    pub extension: Option<String>,
    /// The user's own storage quota in bytes, from the users file's
    /// `userdb_quota_rule=*:storage=...` extra field (Dovecot's); None means
    /// `mailbox_size_limit` applies. `Some(0)` means no limit.
    pub quota_bytes: Option<u64>,
}

/// The result of expanding an alias.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Expansion {
    /// Where to deliver, each target once, in order of appearance.
    pub targets: Vec<Target>,
    /// The address of the `owner-NAME` alias when one is defined: delivery
    /// errors for this expansion go there instead of to the sender (as in
    /// Postfix).
    pub owner: Option<String>,
    /// Targets that could not be used: loops, unknown names, unreadable
    /// include files, commands or files refused in include files. If
    /// `targets` is empty, the mail cannot be delivered.
    pub errors: Vec<String>,
}

/// One destination of an alias.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Target {
    /// A local or virtual mailbox.
    Mailbox(Mailbox),
    /// An address in a domain that is not ours, as written in the alias.
    Remote(String),
    /// `|command`, from the aliases file itself (never from an include
    /// file or an address).
    Command {
        /// The command line after `|`.
        command: String,
        /// The alias it came from (run it as that alias's owner).
        alias: String,
    },
    /// `/path`, from the aliases file itself.
    File {
        /// The file (or Maildir, if it ends with `/`).
        path: PathBuf,
        /// The alias it came from.
        alias: String,
    },
}

/// What one lookup found.
enum Found<'a> {
    Alias {
        key: String,
        entry: &'a AliasEntry,
        domain: String,
    },
    Mailbox(Mailbox),
    Remote(String),
    Unknown,
}

impl Accounts {
    /// Resolves `address` (`user@domain`, or a bare local name), as smtpd
    /// asks at RCPT time and local delivery at delivery time.
    ///
    /// The address is only ever a lookup key: `|command` and `/file`
    /// targets come from aliases file lines, never from the address.
    ///
    /// It may block briefly: system users are looked up in the password
    /// database (NSS) and `:include:` files are read at every call, so that
    /// a changed list takes effect at once. Async callers that mind should
    /// use `spawn_blocking`.
    pub fn resolve(&self, address: &str) -> Resolution {
        let Some(folded) = fold(address) else {
            return Resolution::Unknown;
        };
        let (domain, class) = match folded.domain {
            Some(domain) => {
                let class = self.settings.class_of(&domain);
                (domain, class)
            }
            None => (self.settings.myhostname.clone(), DomainClass::Local),
        };
        match self.find(&folded.local, &domain, class, None) {
            Found::Alias { key, entry, domain } => {
                Resolution::Alias(self.expand(&key, entry, &domain))
            }
            Found::Mailbox(mailbox) => Resolution::Mailbox(mailbox),
            Found::Remote(domain) => Resolution::Remote { domain },
            Found::Unknown => Resolution::Unknown,
        }
    }

    /// Looks up a folded address; `skip` is the alias being expanded (a
    /// reference to it means its user's mailbox).
    fn find(&self, local: &str, domain: &str, class: DomainClass, skip: Option<&str>) -> Found<'_> {
        if class == DomainClass::Remote {
            return Found::Remote(domain.to_owned());
        }
        let names = candidates(local, &self.settings.delimiters);
        for (name, _) in &names {
            let key = format!("{name}@{domain}");
            if let Some(found) = self.alias(&key, domain, skip) {
                return found;
            }
        }
        if class == DomainClass::Local {
            for (name, _) in &names {
                if let Some(found) = self.alias(name, domain, skip) {
                    return found;
                }
            }
            for (name, extension) in &names {
                if let Some(mailbox) = system_mailbox(name, domain, *extension) {
                    return Found::Mailbox(mailbox);
                }
            }
        } else {
            for (name, extension) in &names {
                if let Some(entry) = self.users.get(&format!("{name}@{domain}"))
                    && let Some(mailbox) = self.virtual_mailbox(entry, *extension)
                {
                    return Found::Mailbox(mailbox);
                }
            }
        }
        let base = names.last().map_or(local, |(name, _)| *name);
        if base == "postmaster" {
            // A virtual domain's postmaster is the local one, in the local
            // domain `myhostname`.
            let local_domain = match class {
                DomainClass::Virtual => self.settings.myhostname.as_str(),
                _ => domain,
            };
            if class == DomainClass::Virtual
                && let Some(found) = self.alias("postmaster", local_domain, skip)
            {
                return found;
            }
            if let Some(mailbox) = root_mailbox(local_domain) {
                return Found::Mailbox(mailbox);
            }
        }
        Found::Unknown
    }

    /// The alias `key`, unless it is the one being expanded.
    fn alias(&self, key: &str, domain: &str, skip: Option<&str>) -> Option<Found<'_>> {
        if skip == Some(key) {
            return None;
        }
        self.aliases.get(key).map(|entry| Found::Alias {
            key: key.to_owned(),
            entry,
            domain: domain.to_owned(),
        })
    }

    /// The mailbox of the users file entry `login` (any case): where a user who
    /// logged in reads mail, whatever aliases share the address.
    pub fn mailbox_of_user(&self, login: &str) -> Option<Mailbox> {
        self.virtual_mailbox(self.user(login)?, None)
    }

    /// The mailbox of a users file entry.
    fn virtual_mailbox(&self, entry: &UserEntry, extension: Option<&str>) -> Option<Mailbox> {
        let address = entry.key();
        let (local, domain) = address.rsplit_once('@')?;
        let maildir = self
            .settings
            .virtual_mailbox_base
            .join(domain)
            .join(local)
            .join("");
        Some(Mailbox {
            kind: MailboxKind::Virtual,
            maildir,
            uid: entry.uid,
            gid: entry.gid,
            extension: extension.map(str::to_owned),
            quota_bytes: quota_of(entry),
            address,
        })
    }

    /// Expands the alias `key` found for `domain`.
    fn expand(&self, key: &str, entry: &AliasEntry, domain: &str) -> Expansion {
        let mut expander = Expander {
            accounts: self,
            targets: Vec::new(),
            seen: HashSet::new(),
            errors: Vec::new(),
            stack: Vec::new(),
            done: HashSet::new(),
            truncated: false,
        };
        expander.alias(key, entry, domain);
        let owner_key = format!("owner-{key}");
        let owner = self.aliases.contains_key(&owner_key).then(|| {
            if owner_key.contains('@') {
                owner_key
            } else {
                format!("{owner_key}@{domain}")
            }
        });
        Expansion {
            targets: expander.targets,
            owner,
            errors: expander.errors,
        }
    }
}

/// A system user's mailbox, from the password database.
fn system_mailbox(name: &str, domain: &str, extension: Option<&str>) -> Option<Mailbox> {
    // Never ask the password database about names that cannot be users.
    if name.is_empty()
        || name.starts_with(['-', '.'])
        || name
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || matches!(c, '/' | ':' | '"' | '|'))
    {
        return None;
    }
    let user = User::from_name(name).ok().flatten()?;
    Some(mailbox_of(&user, format!("{name}@{domain}"), extension))
}

/// Root's mailbox, the `postmaster` of last resort.
fn root_mailbox(domain: &str) -> Option<Mailbox> {
    let user = User::from_name("root")
        .ok()
        .flatten()
        .or_else(|| User::from_uid(Uid::from_raw(0)).ok().flatten())?;
    let address = format!("{}@{domain}", user.name);
    Some(mailbox_of(&user, address, None))
}

fn mailbox_of(user: &User, address: String, extension: Option<&str>) -> Mailbox {
    Mailbox {
        address,
        kind: MailboxKind::System,
        maildir: user.dir.join("Maildir").join(""),
        uid: Some(user.uid.as_raw()),
        gid: Some(user.gid.as_raw()),
        extension: extension.map(str::to_owned),
        quota_bytes: None,
    }
}

/// A user's storage quota from Dovecot's `userdb_quota_rule` (or `quota_rule`) extra
/// field: the `*:storage=LIMIT` rule, LIMIT with a `B`, `k`, `M`, `G` or `T` unit (a
/// bare number is kilobytes, as in Dovecot); `none` or 0 is no limit.
pub fn quota_of(entry: &UserEntry) -> Option<u64> {
    entry
        .extra
        .iter()
        .filter(|(key, _)| key == "userdb_quota_rule" || key == "quota_rule")
        .find_map(|(_, value)| {
            let limit = value.strip_prefix("*:storage=")?;
            if limit.eq_ignore_ascii_case("none") {
                return Some(0);
            }
            let split = limit
                .find(|c: char| !c.is_ascii_digit())
                .unwrap_or(limit.len());
            let (number, unit) = limit.split_at(split);
            let number: u64 = number.parse().ok()?;
            let multiplier: u64 = match unit {
                "" | "k" | "K" | "kB" | "KB" => 1 << 10,
                "B" | "b" => 1,
                "M" | "MB" => 1 << 20,
                "G" | "GB" => 1 << 30,
                "T" | "TB" => 1 << 40,
                _ => return None,
            };
            number.checked_mul(multiplier)
        })
}

/// Where a target came from: only the aliases file may name commands and
/// files.
#[derive(Clone, Copy)]
enum Origin<'a> {
    AliasesFile,
    Include(&'a Path),
}

/// What makes two targets the same delivery.
#[derive(PartialEq, Eq, Hash)]
enum TargetKey {
    Mailbox(PathBuf, Option<String>),
    Remote(String),
    Command(String),
    File(PathBuf),
}

/// The state of one expansion.
struct Expander<'a> {
    accounts: &'a Accounts,
    targets: Vec<Target>,
    seen: HashSet<TargetKey>,
    errors: Vec<String>,
    /// The aliases (and `:include:PATH` markers) being expanded, outermost
    /// first: meeting one of them again is a loop.
    stack: Vec<String>,
    /// Aliases already expanded: meeting one again is a duplicate.
    done: HashSet<String>,
    /// Whether targets were dropped for [`MAX_TARGETS`].
    truncated: bool,
}

impl Expander<'_> {
    /// Expands the alias `key` (found for `domain`).
    fn alias(&mut self, key: &str, entry: &AliasEntry, domain: &str) {
        if self.stack.iter().any(|k| k == key) {
            self.errors
                .push(format!("alias loop: {} -> {key}", self.stack.join(" -> ")));
            return;
        }
        if self.stack.len() >= MAX_DEPTH {
            self.errors.push(format!(
                "alias {key}: aliases nested more than {MAX_DEPTH} levels deep"
            ));
            return;
        }
        if !self.done.insert(key.to_owned()) {
            return;
        }
        self.stack.push(key.to_owned());
        for target in &entry.targets {
            self.target(target, Origin::AliasesFile, &entry.name, domain);
        }
        self.stack.pop();
    }

    /// The innermost alias being expanded (include markers skipped).
    fn current_alias(&self) -> Option<&str> {
        self.stack
            .iter()
            .rev()
            .find(|k| !k.starts_with(":include:"))
            .map(String::as_str)
    }

    fn target(&mut self, target: &AliasTarget, origin: Origin<'_>, alias: &str, domain: &str) {
        match (target, origin) {
            (AliasTarget::Command(command), Origin::AliasesFile) => self.push(Target::Command {
                command: command.clone(),
                alias: alias.to_owned(),
            }),
            (AliasTarget::File(path), Origin::AliasesFile) => self.push(Target::File {
                path: path.clone(),
                alias: alias.to_owned(),
            }),
            (AliasTarget::Command(_) | AliasTarget::File(_), Origin::Include(include)) => {
                let what = match target {
                    AliasTarget::Command(c) => format!("|{c}"),
                    AliasTarget::File(p) => p.display().to_string(),
                    _ => String::new(),
                };
                self.errors.push(format!(
                    "alias {alias}: {what} in :include:{} refused: commands and files are only allowed in the aliases file",
                    include.display()
                ));
            }
            (AliasTarget::Include(path), _) => self.include(path, alias, domain),
            (AliasTarget::Local(name), _) => {
                let local = name.to_lowercase();
                let settings = &self.accounts.settings;
                let domain = if settings.class_of(domain) == DomainClass::Local {
                    domain.to_owned()
                } else {
                    settings.myhostname.clone()
                };
                self.address(&local, &domain, DomainClass::Local, name);
            }
            (AliasTarget::Address(address), _) => match fold(address) {
                Some(folded) => {
                    let domain = folded.domain.unwrap_or_default();
                    let class = self.accounts.settings.class_of(&domain);
                    self.address(&folded.local, &domain, class, address);
                }
                None => self
                    .errors
                    .push(format!("alias {alias}: bad address {address:?}")),
            },
        }
    }

    /// The targets listed in an include file.
    fn include(&mut self, path: &Path, alias: &str, domain: &str) {
        let marker = format!(":include:{}", path.display());
        if self.stack.contains(&marker) {
            self.errors.push(format!(
                "include loop: {} -> {marker}",
                self.stack.join(" -> ")
            ));
            return;
        }
        if self.stack.len() >= MAX_DEPTH {
            self.errors.push(format!(
                "{marker}: aliases nested more than {MAX_DEPTH} levels deep"
            ));
            return;
        }
        match read_include(path) {
            Ok(included) => {
                self.errors.extend(included.errors);
                self.stack.push(marker);
                for target in &included.targets {
                    self.target(target, Origin::Include(path), alias, domain);
                }
                self.stack.pop();
            }
            Err(message) => self.errors.push(message),
        }
    }

    /// An address (or local name) named by an alias, resolved again.
    fn address(&mut self, local: &str, domain: &str, class: DomainClass, written: &str) {
        let skip = self.current_alias().map(str::to_owned);
        match self.accounts.find(local, domain, class, skip.as_deref()) {
            Found::Alias { key, entry, domain } => self.alias(&key, entry, &domain),
            Found::Mailbox(mailbox) => self.push(Target::Mailbox(mailbox)),
            Found::Remote(_) => self.push(Target::Remote(written.to_owned())),
            Found::Unknown => self
                .errors
                .push(format!("{written}: no such user or alias")),
        }
    }

    /// Adds a target unless it is already there.
    fn push(&mut self, target: Target) {
        let key = match &target {
            Target::Mailbox(m) => TargetKey::Mailbox(m.maildir.clone(), m.extension.clone()),
            Target::Remote(address) => TargetKey::Remote(address.to_lowercase()),
            Target::Command { command, .. } => TargetKey::Command(command.clone()),
            Target::File { path, .. } => TargetKey::File(path.clone()),
        };
        if self.seen.contains(&key) {
            return;
        }
        if self.targets.len() >= MAX_TARGETS {
            if !self.truncated {
                self.truncated = true;
                self.errors.push(format!(
                    "more than {MAX_TARGETS} targets; the rest are dropped"
                ));
            }
            return;
        }
        self.seen.insert(key);
        self.targets.push(target);
    }
}
