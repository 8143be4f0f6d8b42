//! `postern aliases check` and `newaliases`: check the aliases files.
//!
//! Postern reads the aliases files of `alias_maps` as text and re-reads them when they
//! change; `hash:` and the like name the text file itself. So unlike Postfix there is
//! no database to rebuild, and `newaliases` only checks, so that an admin who ran it
//! out of habit learns about a bad line now rather than from the mail log.
//!
//! Output: every problem as `FILE:LINE: message` (`FILE:LINE: warning: message` for a
//! line that is still used), then, for `postern aliases check` only, one summary line
//! per file (`/etc/aliases: 12 aliases`). `newaliases` prints problems only, on
//! standard error, and nothing when all is well, as Postfix's does.
//!
//! Exit status: 0 when no file has errors (warnings are fine), `EX_DATAERR` when some
//! entry is skipped, `EX_NOINPUT` when a file cannot be read, `EX_CONFIG` for a
//! configuration error.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use accounts::{AliasReport, Problem, Severity};
use service::exit;

use crate::commands::load;
use crate::{DEFAULT_CONFIG_DIR, Failure, describe};

/// Who is checking, which decides what is shown and where.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    /// `postern aliases check`: problems and summaries on standard output.
    Report,
    /// `newaliases`: problems only, on standard error.
    Quiet,
}

/// `postern aliases check`.
pub fn check(dir: &Path) -> Result<(), Failure> {
    check_files(dir, Mode::Report)
}

/// `newaliases [-c DIR | -C DIR]`: `args` are the arguments after the program name.
pub fn newaliases(args: &[OsString]) -> Result<(), Failure> {
    let options = parse_newaliases(args)?;
    for ignored in &options.ignored {
        eprintln!("newaliases: warning: ignoring {ignored}");
    }
    check_files(&options.config_dir, Mode::Quiet)
}

/// What `newaliases` made of its arguments.
#[derive(Debug, PartialEq, Eq)]
struct NewaliasesOptions {
    /// From `-c DIR` or `-C DIR`.
    config_dir: PathBuf,
    /// The other arguments, described for a warning each.
    ignored: Vec<String>,
}

/// Reads newaliases' sendmail-style arguments.
///
/// `-c DIR` (Postern's option) and `-C DIR` (sendmail's; a file there means its
/// directory) set the configuration directory, also written `-cDIR`/`-CDIR`.
/// Everything else (`-oA...`, `-v`, ...) is accepted and ignored with a warning, so
/// that scripts written for sendmail or Postfix keep working.
fn parse_newaliases(args: &[OsString]) -> Result<NewaliasesOptions, Failure> {
    let mut options = NewaliasesOptions {
        config_dir: PathBuf::from(DEFAULT_CONFIG_DIR),
        ignored: Vec::new(),
    };
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        let text = arg.to_string_lossy();
        let flag = ["-c", "-C"].into_iter().find(|flag| text.starts_with(flag));
        match flag {
            Some(flag) => {
                let attached = text.get(flag.len()..).unwrap_or_default();
                let value = if attached.is_empty() {
                    args.next().map(PathBuf::from).ok_or_else(|| {
                        Failure::new(exit::USAGE, format!("option {flag} needs a directory"))
                    })?
                } else {
                    PathBuf::from(attached)
                };
                options.config_dir = if flag == "-C" && value.is_file() {
                    value
                        .parent()
                        .map_or_else(|| PathBuf::from("."), Path::to_path_buf)
                } else {
                    value
                };
            }
            None if text.starts_with('-') => options.ignored.push(format!("option {text}")),
            None => options.ignored.push(format!("argument {text:?}")),
        }
    }
    Ok(options)
}

/// Checks every file of `alias_maps` in the configuration `dir`.
fn check_files(dir: &Path, mode: Mode) -> Result<(), Failure> {
    let config = load(dir)?;
    let files = accounts::alias_files(&config.params)
        .map_err(|e| Failure::new(exit::CONFIG, describe(&e)))?;
    if files.is_empty() && mode == Mode::Report {
        println!("alias_maps is empty: no aliases files to check");
    }
    let mut unreadable = Vec::new();
    let mut with_errors = Vec::new();
    for path in &files {
        let lines = match accounts::aliases::check(path) {
            Ok(report) => {
                if report.has_errors() {
                    with_errors.push(path.display().to_string());
                }
                let mut lines: Vec<String> = report.problems.iter().map(problem_line).collect();
                if mode == Mode::Report {
                    lines.push(summary(path, &report));
                }
                lines
            }
            Err(e) => {
                unreadable.push(path.display().to_string());
                vec![describe(&e)]
            }
        };
        for line in lines {
            match mode {
                Mode::Report => println!("{line}"),
                Mode::Quiet => eprintln!("newaliases: {line}"),
            }
        }
    }
    let mut trouble = Vec::new();
    if !unreadable.is_empty() {
        trouble.push(format!("cannot read {}", unreadable.join(", ")));
    }
    if !with_errors.is_empty() {
        trouble.push(format!(
            "errors in {}: those entries are ignored until fixed",
            with_errors.join(", ")
        ));
    }
    if trouble.is_empty() {
        Ok(())
    } else if unreadable.is_empty() {
        Err(Failure::new(exit::DATAERR, trouble.join("; ")))
    } else {
        Err(Failure::new(exit::NOINPUT, trouble.join("; ")))
    }
}

/// `FILE:LINE: message`, with `warning: ` before a warning's message.
fn problem_line(problem: &Problem) -> String {
    match problem.severity {
        Severity::Error => problem.to_string(),
        Severity::Warning => format!(
            "{}:{}: warning: {}",
            problem.file.display(),
            problem.line,
            problem.message
        ),
    }
}

/// `FILE: N aliases`, and the errors and warnings when there are any.
fn summary(path: &Path, report: &AliasReport) -> String {
    let errors = report
        .problems
        .iter()
        .filter(|p| p.severity == Severity::Error)
        .count();
    let warnings = report.problems.len() - errors;
    let mut text = format!(
        "{}: {}",
        path.display(),
        count(report.entries, "alias", "aliases")
    );
    if errors > 0 {
        text.push_str(&format!(", {}", count(errors, "error", "errors")));
    }
    if warnings > 0 {
        text.push_str(&format!(", {}", count(warnings, "warning", "warnings")));
    }
    text
}

/// `1 alias`, `2 aliases`.
fn count(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<OsString> {
        list.iter().map(OsString::from).collect()
    }

    #[test]
    fn newaliases_options() {
        let dir = std::env::temp_dir();
        let file = std::env::current_exe().unwrap();
        let exe_dir = file.parent().unwrap().to_path_buf();
        let cases: Vec<(&str, Vec<OsString>, PathBuf, Vec<&str>)> = vec![
            ("none", args(&[]), PathBuf::from(DEFAULT_CONFIG_DIR), vec![]),
            (
                "-c DIR",
                args(&["-c", "/srv/pc"]),
                PathBuf::from("/srv/pc"),
                vec![],
            ),
            (
                "-cDIR",
                args(&["-c/srv/pc"]),
                PathBuf::from("/srv/pc"),
                vec![],
            ),
            (
                "-C DIR",
                vec!["-C".into(), dir.clone().into()],
                dir.clone(),
                vec![],
            ),
            (
                "-C FILE means its directory",
                vec!["-C".into(), file.clone().into()],
                exe_dir,
                vec![],
            ),
            (
                "sendmail options ignored",
                args(&["-oA/etc/aliases", "-v", "-c", "/x", "extra"]),
                PathBuf::from("/x"),
                vec!["option -oA/etc/aliases", "option -v", "argument \"extra\""],
            ),
        ];
        for (name, given, dir, ignored) in cases {
            let got = parse_newaliases(&given).ok().unwrap();
            assert_eq!(got.config_dir, dir, "{name}");
            assert_eq!(got.ignored, ignored, "{name}");
        }
        let missing = parse_newaliases(&args(&["-c"])).err().unwrap();
        assert_eq!(missing.code, exit::USAGE);
    }

    #[test]
    fn summaries_count_errors_and_warnings() {
        let path = Path::new("/etc/aliases");
        let problem = |severity| Problem {
            file: path.to_path_buf(),
            line: 3,
            severity,
            message: "m".into(),
        };
        let cases = [
            (1, vec![], "/etc/aliases: 1 alias"),
            (12, vec![], "/etc/aliases: 12 aliases"),
            (
                0,
                vec![problem(Severity::Error)],
                "/etc/aliases: 0 aliases, 1 error",
            ),
            (
                2,
                vec![
                    problem(Severity::Error),
                    problem(Severity::Warning),
                    problem(Severity::Warning),
                ],
                "/etc/aliases: 2 aliases, 1 error, 2 warnings",
            ),
        ];
        for (entries, problems, want) in cases {
            let report = AliasReport { entries, problems };
            assert_eq!(summary(path, &report), want);
        }
        assert_eq!(problem_line(&problem(Severity::Error)), "/etc/aliases:3: m");
        assert_eq!(
            problem_line(&problem(Severity::Warning)),
            "/etc/aliases:3: warning: m"
        );
    }
}
