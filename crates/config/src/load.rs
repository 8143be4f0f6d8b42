//! [`Config`]: both files loaded, expanded and checked.

use std::collections::{BTreeMap, BTreeSet};
use std::io;
use std::path::{Path, PathBuf};

use crate::error::{Error, Warning};
use crate::expand::{Expander, Layers, Origin, collect_refs};
use crate::main_cf::{self, MainEntry};
use crate::master_cf::{self, ServiceEntry};
use crate::params::{Params, info, parameters, system_host_name};
use crate::text::decode;
use crate::{MAIN_CF, MASTER_CF};

/// The loaded configuration of one directory.
#[derive(Clone, Debug)]
pub struct Config {
    /// The configuration directory, absolute (also `config_directory`).
    pub dir: PathBuf,
    /// The effective main.cf parameters (no service's overrides).
    pub params: Params,
    /// The master.cf rows, in file order.
    pub services: Vec<ServiceEntry>,
    /// Problems that do not stop the program, sorted by file and line; log
    /// them at startup.
    pub warnings: Vec<Warning>,
    /// main.cf as written: the last definition of each name.
    main: BTreeMap<String, MainEntry>,
    /// The expanded value of every known parameter and every main.cf name.
    expanded: BTreeMap<String, String>,
    /// Every name some `$name` in main.cf or master.cf refers to.
    referenced: BTreeSet<String>,
    /// The `myhostname` default, fixed at load time so that every service
    /// sees the same one.
    host_name: String,
}

fn read(path: &Path) -> Result<Option<String>, Error> {
    match std::fs::read(path) {
        Ok(bytes) => decode(path, bytes).map(Some),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(Error::Io {
            path: path.to_owned(),
            source,
        }),
    }
}

impl Config {
    /// Reads `dir/main.cf` and `dir/master.cf`.
    ///
    /// A missing main.cf is an error ([`Error::Io`]); a missing master.cf
    /// means no services. A relative `dir` is made absolute against the
    /// current directory.
    pub fn load(dir: &Path) -> Result<Config, Error> {
        let dir = absolute(dir)?;
        let main_path = dir.join(MAIN_CF);
        let main_text = read(&main_path)?.ok_or_else(|| Error::Io {
            path: main_path.clone(),
            source: io::Error::from(io::ErrorKind::NotFound),
        })?;
        let master_text = read(&dir.join(MASTER_CF))?.unwrap_or_default();
        Config::build(&dir, &main_text, &master_text, system_host_name)
    }

    /// Like [`Config::load`], with the files' contents given as text (tests,
    /// `postern config check` on a file being edited). `dir` names where the
    /// files would be; it is used in messages and as `config_directory`.
    pub fn parse(dir: &Path, main_cf: &str, master_cf: &str) -> Result<Config, Error> {
        Config::build(&absolute(dir)?, main_cf, master_cf, system_host_name)
    }

    /// The loader proper; `host_name` supplies the `myhostname` default and
    /// is only called when main.cf does not set it.
    pub(crate) fn build(
        dir: &Path,
        main_text: &str,
        master_text: &str,
        host_name: impl FnOnce() -> Result<String, Error>,
    ) -> Result<Config, Error> {
        let main_cf = dir.join(MAIN_CF);
        let master_cf = dir.join(MASTER_CF);
        let config_dir = dir
            .to_str()
            .ok_or_else(|| Error::BadValue {
                file: main_cf.clone(),
                line: 0,
                param: "config_directory".to_owned(),
                reason: format!("{:?} is not valid UTF-8", dir.display().to_string()),
            })?
            .to_owned();
        let mut warnings = Vec::new();

        let mut main = BTreeMap::new();
        for (name, entry) in main_cf::parse(&main_cf, main_text)? {
            if name == "config_directory" {
                warnings.push(Warning {
                    file: main_cf.clone(),
                    line: entry.line,
                    message: "config_directory cannot be set in main.cf (it is the directory given with -c); ignored".to_owned(),
                });
            } else {
                main.insert(name, entry);
            }
        }
        let mut services = master_cf::parse(&master_cf, master_text, &mut warnings)?;

        let mut referenced = BTreeSet::new();
        for entry in main.values() {
            collect_refs(&entry.value, &mut referenced);
        }
        for service in &services {
            for arg in &service.args {
                collect_refs(arg, &mut referenced);
            }
            for (_, value) in &service.overrides {
                collect_refs(value, &mut referenced);
            }
        }
        let mut by_line: Vec<(&String, &MainEntry)> = main.iter().collect();
        by_line.sort_by_key(|(_, entry)| entry.line);
        for (name, entry) in &by_line {
            if info(name).is_none() && !referenced.contains(*name) {
                warnings.push(Warning {
                    file: main_cf.clone(),
                    line: entry.line,
                    message: format!("unknown parameter {name}"),
                });
            }
        }

        let host_name = if main.contains_key("myhostname") {
            String::new()
        } else {
            host_name()?
        };
        let mut ex = Expander::new(Layers {
            main: &main,
            overrides: &[],
            override_line: 0,
            host_name: &host_name,
            config_dir: &config_dir,
            main_cf: &main_cf,
            master_cf: &master_cf,
        });
        // main.cf first, in file order, so that warnings come in that order
        // and user-defined parameters are checked even when unused.
        for (name, _) in &by_line {
            ex.param(name)?;
        }
        let params = Params::build(&mut ex)?;
        let mut expanded = BTreeMap::new();
        let names = parameters()
            .map(|p| p.name)
            .chain(main.keys().map(String::as_str));
        for name in names {
            if let Some((value, _)) = ex.param(name)? {
                expanded.insert(name.to_owned(), value);
            }
        }
        for service in &mut services {
            let origin = Origin::MasterCf(service.line);
            service.args = service
                .args
                .iter()
                .map(|arg| ex.expand(arg, origin, None))
                .collect::<Result<_, _>>()?;
        }
        warnings.extend(ex.into_warnings());

        let mut config = Config {
            dir: dir.to_owned(),
            params,
            services,
            warnings,
            main,
            expanded,
            referenced,
            host_name,
        };
        // Check every service's overrides now, so that a bad -o value is
        // reported at startup (and by `postern config check`), not when the
        // service is first spawned.
        let mut service_warnings = Vec::new();
        for service in &config.services {
            let (_, found) = config.params_for(service)?;
            service_warnings.extend(found);
        }
        config.warnings.extend(service_warnings);
        config.warnings.sort_by_key(|w| (w.file != main_cf, w.line));
        // The same warning can arise twice (an undefined `$name` in both a
        // command argument and an override of one row); keep the first.
        let mut seen = BTreeSet::new();
        config.warnings.retain(|w| seen.insert(w.clone()));
        Ok(config)
    }

    /// `dir/main.cf`.
    pub fn main_cf_path(&self) -> PathBuf {
        self.dir.join(MAIN_CF)
    }

    /// `dir/master.cf`.
    pub fn master_cf_path(&self) -> PathBuf {
        self.dir.join(MASTER_CF)
    }

    /// The effective parameters of one service: main.cf plus the service's
    /// `-o` overrides.
    ///
    /// Everything is expanded again, so `-o myhostname=x` also changes
    /// `myorigin = $myhostname`. A bad override value is
    /// [`Error::BadValue`] naming master.cf and the service's line. The
    /// warnings are the ones about this service's overrides: an unknown
    /// parameter (not known and not referenced by any `$name`), an undefined
    /// `$name` in a value, `config_directory` (ignored).
    pub fn params_for(&self, service: &ServiceEntry) -> Result<(Params, Vec<Warning>), Error> {
        self.params_with_overrides(&service.overrides, service.line)
    }

    /// Effective parameters for main.cf plus `overrides` (a daemon's `-o` arguments,
    /// which master took from master.cf line `line`).
    pub fn params_with_overrides(
        &self,
        overrides: &[(String, String)],
        line: usize,
    ) -> Result<(Params, Vec<Warning>), Error> {
        let main_cf = self.main_cf_path();
        let master_cf = self.master_cf_path();
        let mut warnings = Vec::new();
        for (name, _) in overrides {
            let message = if name == "config_directory" {
                "config_directory cannot be overridden with -o; ignored".to_owned()
            } else if info(name).is_none() && !self.referenced.contains(name) {
                format!("unknown parameter {name}")
            } else {
                continue;
            };
            warnings.push(Warning {
                file: master_cf.clone(),
                line,
                message,
            });
        }
        // `dir` was checked to be UTF-8 by `build`, so this is lossless.
        let config_dir = self.dir.to_string_lossy();
        let mut ex = Expander::new(Layers {
            main: &self.main,
            overrides,
            override_line: line,
            host_name: &self.host_name,
            config_dir: &config_dir,
            main_cf: &main_cf,
            master_cf: &master_cf,
        });
        let params = Params::build(&mut ex)?;
        warnings.extend(
            ex.into_warnings()
                .into_iter()
                .filter(|w| w.file == master_cf && w.line == line),
        );
        Ok((params, warnings))
    }

    /// The expanded effective value of a known parameter, or of a
    /// parameter main.cf defines, as text (`postern config NAME`); `None`
    /// for a name that is neither.
    pub fn value(&self, name: &str) -> Option<String> {
        self.expanded.get(name).cloned()
    }

    /// Whether main.cf sets `name` (`config_directory` never counts).
    pub fn is_set(&self, name: &str) -> bool {
        self.main.contains_key(name)
    }

    /// The value main.cf gives `name`, unexpanded.
    pub fn raw_value(&self, name: &str) -> Option<&str> {
        self.main.get(name).map(|e| e.value.as_str())
    }

    /// Every `name = value` main.cf sets (the last definition of each),
    /// sorted by name, values unexpanded (`postconf -n`).
    pub fn main_cf_entries(&self) -> impl Iterator<Item = (&str, &str)> {
        self.main
            .iter()
            .map(|(n, e)| (n.as_str(), e.value.as_str()))
    }
}

fn absolute(dir: &Path) -> Result<PathBuf, Error> {
    std::path::absolute(dir).map_err(|source| Error::Io {
        path: dir.to_owned(),
        source,
    })
}

#[cfg(test)]
mod tests;
