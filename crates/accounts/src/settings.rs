//! The main.cf parameters this crate reads, checked and folded once.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use config::Params;

use crate::address::{DomainClass, fold_domain};
use crate::error::Error;

/// Lookup table types accepted in `alias_maps`: all mean "the text file".
const ALIAS_MAP_TYPES: &[&str] = &["hash", "lmdb", "texthash"];

/// What [`crate::Accounts`] needs from the configuration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Settings {
    /// `mydestination`, folded.
    pub local_domains: HashSet<String>,
    /// `virtual_mailbox_domains`, folded.
    pub virtual_domains: HashSet<String>,
    /// `myhostname`, folded: the domain of bare local names.
    pub myhostname: String,
    /// `virtual_mailbox_base`.
    pub virtual_mailbox_base: PathBuf,
    /// `recipient_delimiter`: each character is a delimiter.
    pub delimiters: String,
    /// The `passwd-file:` tables of `virtual_user_maps`, in order.
    pub users_files: Vec<PathBuf>,
    /// The files of `alias_maps`, in order.
    pub alias_files: Vec<PathBuf>,
    /// The files of `transport_maps`, in order.
    pub transport_files: Vec<PathBuf>,
    /// `relayhost`, trimmed.
    pub relayhost: String,
}

impl Settings {
    /// Reads the parameters; an unsupported table type is an error.
    pub fn from_params(params: &Params) -> Result<Settings, Error> {
        let fold_list = |list: &[String]| -> HashSet<String> {
            list.iter().filter_map(|d| fold_domain(d)).collect()
        };
        let local_domains = fold_list(&params.mydestination);
        let virtual_domains = fold_list(&params.virtual_mailbox_domains);
        for both in local_domains.intersection(&virtual_domains) {
            tracing::warn!(
                "do not list domain {both} in BOTH mydestination and virtual_mailbox_domains; it is treated as local"
            );
        }
        let users_files = users_files(params)?;
        let alias_files = alias_files(params)?;
        let transport_files = map_files(params, "transport_maps", &params.transport_maps)?;
        Ok(Settings {
            local_domains,
            virtual_domains,
            myhostname: fold_domain(&params.myhostname).unwrap_or_default(),
            virtual_mailbox_base: params.virtual_mailbox_base.clone(),
            delimiters: params.recipient_delimiter.clone(),
            users_files,
            alias_files,
            transport_files,
            relayhost: params.relayhost.trim().to_owned(),
        })
    }

    /// Which list a folded domain is in (`mydestination` first).
    pub fn class_of(&self, domain: &str) -> DomainClass {
        if self.local_domains.contains(domain) {
            DomainClass::Local
        } else if self.virtual_domains.contains(domain) {
            DomainClass::Virtual
        } else {
            DomainClass::Remote
        }
    }

    /// Every file whose change means a reload, users files first.
    pub fn watched_files(&self) -> impl Iterator<Item = &Path> {
        self.users_files
            .iter()
            .chain(&self.alias_files)
            .chain(&self.transport_files)
            .map(PathBuf::as_path)
    }
}

/// The users files named by `virtual_user_maps`, in order.
///
/// Every table must be `passwd-file:PATH`; a relative PATH is under
/// `config_directory`. For tools that edit the files (`postern user`), so
/// that they read the parameter exactly as the daemons do.
pub fn users_files(params: &Params) -> Result<Vec<PathBuf>, Error> {
    let dir = &params.config_directory;
    params
        .virtual_user_maps
        .iter()
        .map(|map| match map.split_once(':') {
            Some(("passwd-file", path)) if !path.is_empty() => Ok(absolute(dir, path)),
            _ => Err(Error::UnsupportedMap {
                param: "virtual_user_maps",
                map: map.clone(),
                supported: "passwd-file:PATH",
            }),
        })
        .collect()
}

/// The aliases files named by `alias_maps`, in order.
///
/// `hash:PATH`, `lmdb:PATH`, `texthash:PATH` and a bare `PATH` all mean
/// the text file PATH (no database is built); a relative PATH is under
/// `config_directory`. For tools that check the files (`newaliases`).
pub fn alias_files(params: &Params) -> Result<Vec<PathBuf>, Error> {
    map_files(params, "alias_maps", &params.alias_maps)
}

/// The text files of a map parameter (`alias_maps`, `transport_maps`).
fn map_files(params: &Params, param: &'static str, maps: &[String]) -> Result<Vec<PathBuf>, Error> {
    let dir = &params.config_directory;
    maps.iter()
        .map(|map| {
            if map.starts_with('/') {
                return Ok(PathBuf::from(map));
            }
            match map.split_once(':') {
                Some((kind, path)) if ALIAS_MAP_TYPES.contains(&kind) && !path.is_empty() => {
                    Ok(absolute(dir, path))
                }
                None => Ok(absolute(dir, map)),
                _ => Err(Error::UnsupportedMap {
                    param,
                    map: map.clone(),
                    supported: "hash:PATH, lmdb:PATH, texthash:PATH or PATH (all read as the text file PATH)",
                }),
            }
        })
        .collect()
}

/// `path`, relative to the configuration directory unless absolute.
fn absolute(dir: &Path, path: &str) -> PathBuf {
    dir.join(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(main_cf: &str) -> Params {
        config::Config::parse(Path::new("/etc/postern"), main_cf, "")
            .unwrap()
            .params
    }

    #[test]
    fn map_names_become_file_paths() {
        let p = params(
            "virtual_user_maps = passwd-file:users, passwd-file:/srv/more\n\
             alias_maps = hash:/etc/aliases, lmdb:lists, texthash:/a/b, /bare, local\n",
        );
        assert_eq!(
            users_files(&p).unwrap(),
            [
                PathBuf::from("/etc/postern/users"),
                PathBuf::from("/srv/more")
            ]
        );
        assert_eq!(
            alias_files(&p).unwrap(),
            [
                PathBuf::from("/etc/aliases"),
                PathBuf::from("/etc/postern/lists"),
                PathBuf::from("/a/b"),
                PathBuf::from("/bare"),
                PathBuf::from("/etc/postern/local"),
            ]
        );
    }

    #[test]
    fn defaults_and_empty_lists() {
        let p = params("");
        assert_eq!(
            users_files(&p).unwrap(),
            [PathBuf::from("/etc/postern/users")]
        );
        assert_eq!(alias_files(&p).unwrap(), [PathBuf::from("/etc/aliases")]);
        let p = params("virtual_user_maps =\nalias_maps =\n");
        assert!(users_files(&p).unwrap().is_empty());
        assert!(alias_files(&p).unwrap().is_empty());
    }

    #[test]
    fn unsupported_tables_name_the_parameter() {
        let cases = [
            ("virtual_user_maps = mysql:/etc/x.cf", "virtual_user_maps"),
            ("virtual_user_maps = passwd-file:", "virtual_user_maps"),
            (
                "virtual_user_maps = /etc/postern/users",
                "virtual_user_maps",
            ),
            ("alias_maps = ldap:/etc/x.cf", "alias_maps"),
            ("alias_maps = hash:", "alias_maps"),
        ];
        for (line, param) in cases {
            let p = params(line);
            let err = if param == "alias_maps" {
                alias_files(&p).unwrap_err()
            } else {
                users_files(&p).unwrap_err()
            };
            assert!(
                matches!(&err, Error::UnsupportedMap { param: got, .. } if *got == param),
                "{line}: {err:?}"
            );
        }
    }
}
