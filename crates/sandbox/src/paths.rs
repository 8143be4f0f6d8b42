//! The paths a profile derives from the configuration and the system: the
//! directories of the lookup tables, aliases `:include:` and `/file` targets, and
//! home directories.
//!
//! Rules go on directories, not on files: the tables are edited by writing a new
//! file and renaming it over the old one, and a Landlock rule on a file follows the
//! old inode.

use std::path::{Path, PathBuf};

use config::Params;

/// The first uid of ordinary users (Debian's and most distributions' `UID_MIN`).
const FIRST_USER_UID: u32 = 1000;
/// `nobody`, which has no home worth writing to.
const NOBODY_UID: u32 = 65534;

/// The file a table reference (`passwd-file:PATH`, `hash:PATH`, `PATH`) names,
/// made absolute against `config_directory`; `None` for an empty value.
fn table_file(config_dir: &Path, value: &str) -> Option<PathBuf> {
    let value = value.trim();
    if value.is_empty() {
        return None;
    }
    let path = if value.starts_with('/') {
        value
    } else {
        value.split_once(':').map_or(value, |(_, path)| path)
    };
    if path.is_empty() {
        return None;
    }
    Some(config_dir.join(path))
}

fn parent(path: &Path) -> Option<PathBuf> {
    path.parent().map(Path::to_path_buf)
}

/// The files of `virtual_user_maps`, `alias_maps` and `transport_maps`.
fn map_files(params: &Params) -> Vec<PathBuf> {
    params
        .virtual_user_maps
        .iter()
        .chain(&params.alias_maps)
        .chain(&params.transport_maps)
        .filter_map(|value| table_file(&params.config_directory, value))
        .collect()
}

/// The directories of the users, aliases and transport tables.
pub fn map_file_dirs(params: &Params) -> Vec<PathBuf> {
    map_files(params).iter().filter_map(|f| parent(f)).collect()
}

/// The directory of the table a string parameter names (`local_login_sender_maps`,
/// `smtp_sasl_password_maps`), if any.
pub fn value_file_dir(params: &Params, value: &str) -> Option<PathBuf> {
    table_file(&params.config_directory, value).and_then(|f| parent(&f))
}

/// The targets of one aliases file: `:include:` files and `/file` deliveries.
#[derive(Debug, Default, PartialEq, Eq)]
struct AliasTargets {
    includes: Vec<PathBuf>,
    files: Vec<PathBuf>,
}

/// Picks the `:include:/path` and `/path` targets out of an aliases file's text
/// (`name: target, target`, continuation lines start with white space, `#`
/// comments). Commands (`|...`) and addresses are skipped.
fn alias_targets(text: &str) -> AliasTargets {
    let mut found = AliasTargets::default();
    for line in text.lines() {
        if line.trim_start().starts_with('#') || line.trim().is_empty() {
            continue;
        }
        let targets = if line.starts_with([' ', '\t']) {
            line
        } else {
            match line.split_once(':') {
                Some((_, targets)) => targets,
                None => continue,
            }
        };
        for target in targets.split(',') {
            let target = target.trim().trim_matches('"').trim();
            if let Some(path) = target.strip_prefix(":include:") {
                if path.starts_with('/') {
                    found.includes.push(PathBuf::from(path));
                }
            } else if target.starts_with('/') {
                found.files.push(PathBuf::from(target));
            }
        }
    }
    found
}

fn alias_file_targets(params: &Params) -> Vec<AliasTargets> {
    params
        .alias_maps
        .iter()
        .filter_map(|value| table_file(&params.config_directory, value))
        .filter_map(|file| std::fs::read_to_string(file).ok())
        .map(|text| alias_targets(&text))
        .collect()
}

/// The directories of the `:include:` files the aliases name.
pub fn alias_include_dirs(params: &Params) -> Vec<PathBuf> {
    alias_file_targets(params)
        .iter()
        .flat_map(|t| &t.includes)
        .filter_map(|f| parent(f))
        .collect()
}

/// The directories of the `/file` deliveries the aliases name (local appends to
/// the file, so it needs its directory for a file that does not exist yet).
///
/// XXX: read when local starts; a `/file` target added to the aliases later, in a
/// directory not allowed otherwise, fails until local is restarted.
pub fn alias_file_target_dirs(params: &Params) -> Vec<PathBuf> {
    alias_file_targets(params)
        .iter()
        .flat_map(|t| &t.files)
        .filter_map(|f| parent(f))
        .collect()
}

/// Home directories in `/etc/passwd` of root and of ordinary users (uid 1000 and
/// up, but not `nobody`), except `/`: where system users' Maildirs are.
pub fn home_dirs() -> Vec<PathBuf> {
    let Ok(passwd) = std::fs::read_to_string("/etc/passwd") else {
        return Vec::new();
    };
    home_dirs_in(&passwd)
}

fn home_dirs_in(passwd: &str) -> Vec<PathBuf> {
    passwd
        .lines()
        .filter_map(|line| {
            let fields: Vec<&str> = line.split(':').collect();
            let uid: u32 = fields.get(2)?.parse().ok()?;
            let home = *fields.get(5)?;
            let ordinary = uid == 0 || (uid >= FIRST_USER_UID && uid != NOBODY_UID);
            (ordinary && home.starts_with('/') && home != "/").then(|| PathBuf::from(home))
        })
        .collect()
}

/// The directory of the running program (local re-executes itself from there).
pub fn own_directory() -> Option<PathBuf> {
    std::env::current_exe()
        .ok()
        .as_deref()
        .and_then(Path::parent)
        .map(Path::to_path_buf)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_files_are_made_absolute() {
        let dir = Path::new("/etc/postern");
        let cases = [
            ("passwd-file:users", Some("/etc/postern/users")),
            ("passwd-file:/srv/users", Some("/srv/users")),
            ("hash:/etc/aliases", Some("/etc/aliases")),
            ("/etc/aliases", Some("/etc/aliases")),
            ("aliases", Some("/etc/postern/aliases")),
            ("", None),
            ("hash:", None),
        ];
        for (value, want) in cases {
            assert_eq!(table_file(dir, value), want.map(PathBuf::from), "{value}");
        }
    }

    #[test]
    fn alias_targets_are_found() {
        let text = "# comment\n\
                    team: alice, :include:/etc/postern/lists/team\n\
                    log: /var/log/mail-archive, \"|/usr/bin/procmail -d bob\"\n\
                    \x20 , /srv/more/file\n\
                    bob: bob@example.org\n";
        let found = alias_targets(text);
        assert_eq!(found.includes, [PathBuf::from("/etc/postern/lists/team")]);
        assert_eq!(
            found.files,
            [
                PathBuf::from("/var/log/mail-archive"),
                PathBuf::from("/srv/more/file")
            ]
        );
    }

    #[test]
    fn homes_of_root_and_ordinary_users_only() {
        let passwd = "root:x:0:0:root:/root:/bin/bash\n\
                      daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\n\
                      alice:x:1000:1000::/home/alice:/bin/bash\n\
                      nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n\
                      odd:x:1001:1001::/:/bin/sh\n\
                      broken line\n";
        assert_eq!(
            home_dirs_in(passwd),
            [PathBuf::from("/root"), PathBuf::from("/home/alice")]
        );
    }
}
