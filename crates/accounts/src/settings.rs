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
        let dir = &params.config_directory;
        let users_files = params
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
            .collect::<Result<Vec<_>, _>>()?;
        let alias_files = params
            .alias_maps
            .iter()
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
                        param: "alias_maps",
                        map: map.clone(),
                        supported: "hash:PATH, lmdb:PATH, texthash:PATH or PATH (all read as the text file PATH)",
                    }),
                }
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Settings {
            local_domains,
            virtual_domains,
            myhostname: fold_domain(&params.myhostname).unwrap_or_default(),
            virtual_mailbox_base: params.virtual_mailbox_base.clone(),
            delimiters: params.recipient_delimiter.clone(),
            users_files,
            alias_files,
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
            .map(PathBuf::as_path)
    }
}

/// `path`, relative to the configuration directory unless absolute.
fn absolute(dir: &Path, path: &str) -> PathBuf {
    dir.join(path)
}
