//! `transport_maps`: per-domain routes for mail leaving this host, in a
//! subset of Postfix's transport(5) text format.
//!
//! ```text
//! # pattern          route
//! example.com        smtp:[mail.example.com]:587
//! .example.com       smtp:[mail.example.com]
//! example.net        smtp:
//! example.org        error:5.7.1 mail for example.org is not accepted here
//! *                  smtp:[relay.example]
//! ```
//!
//! A domain is looked up as written, then each parent domain with a leading
//! dot (`.example.com` matches `a.b.example.com`, not `example.com`), then
//! `*`. `smtp:NEXTHOP` sends to NEXTHOP (relayhost syntax); `smtp:` alone
//! sends to the recipient domain's MX hosts, even when `relayhost` is set;
//! `error:TEXT` returns the mail to the sender with TEXT (an enhanced status
//! code first is used as the DSN status, else 5.0.0). Only domains that are
//! not ours are looked up.

use std::collections::HashMap;
use std::path::Path;

use crate::error::Problem;
use crate::fileio;

/// Where mail for a remote domain goes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Route {
    /// Delivered by the `smtp` agent to this next hop (relayhost syntax: a
    /// domain for its MX hosts, `[host]:port` for that host).
    Smtp {
        /// The next hop.
        nexthop: String,
    },
    /// Returned to the sender.
    Error {
        /// The enhanced status code (`5.7.1`).
        status: String,
        /// Why.
        text: String,
    },
}

/// A rule of the file: `smtp` with a next hop (empty: the recipient
/// domain), or an error.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Rule {
    Smtp(String),
    Error { status: String, text: String },
}

/// The parsed lines of one file.
pub(crate) struct Parsed {
    pub entries: Vec<(String, Rule)>,
    pub problems: Vec<Problem>,
}

/// Parses one transport file.
pub(crate) fn parse(path: &Path, bytes: &[u8]) -> Parsed {
    let mut entries = Vec::new();
    let mut problems = Vec::new();
    for (number, line) in fileio::lines(bytes) {
        let Ok(line) = line else {
            problems.push(Problem::error(path, number, "not UTF-8"));
            continue;
        };
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let Some((pattern, value)) = line.split_once(char::is_whitespace) else {
            problems.push(Problem::error(
                path,
                number,
                "expected \"domain transport:nexthop\"",
            ));
            continue;
        };
        let pattern = pattern.trim_end_matches('.').to_ascii_lowercase();
        match rule(value.trim()) {
            Ok(rule) => entries.push((pattern, rule)),
            Err(why) => problems.push(Problem::error(path, number, why)),
        }
    }
    Parsed { entries, problems }
}

fn rule(value: &str) -> Result<Rule, String> {
    let (transport, rest) = value.split_once(':').unwrap_or((value, ""));
    match transport {
        "smtp" => {
            let nexthop = rest.trim();
            if nexthop.contains(char::is_whitespace) {
                return Err(format!("bad next hop {nexthop:?}"));
            }
            Ok(Rule::Smtp(nexthop.to_owned()))
        }
        "error" => {
            let text = rest.trim();
            let (status, text) = match text.split_once(' ') {
                Some((code, more)) if is_status(code) => (code.to_owned(), more.trim().to_owned()),
                _ => ("5.0.0".to_owned(), text.to_owned()),
            };
            Ok(Rule::Error {
                status,
                text: if text.is_empty() {
                    "mail for this domain is not accepted".to_owned()
                } else {
                    text
                },
            })
        }
        other => Err(format!(
            "unknown transport {other:?} (Postern knows smtp and error)"
        )),
    }
}

/// `5.x.y` or `4.x.y`.
fn is_status(code: &str) -> bool {
    let mut parts = code.split('.');
    matches!(parts.next(), Some("4" | "5"))
        && parts.clone().count() == 2
        && parts.all(|p| !p.is_empty() && p.len() <= 3 && p.bytes().all(|b| b.is_ascii_digit()))
}

/// Finds the rule for a folded domain: exact, parent domains, `*`.
pub(crate) fn lookup<'a>(rules: &'a HashMap<String, Rule>, domain: &str) -> Option<&'a Rule> {
    if let Some(rule) = rules.get(domain) {
        return Some(rule);
    }
    let mut rest = domain;
    while let Some((_, parent)) = rest.split_once('.') {
        if let Some(rule) = rules.get(&format!(".{parent}")) {
            return Some(rule);
        }
        rest = parent;
    }
    rules.get("*")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(text: &str) -> HashMap<String, Rule> {
        let parsed = parse(Path::new("/t"), text.as_bytes());
        assert!(parsed.problems.is_empty(), "{:?}", parsed.problems);
        parsed.entries.into_iter().collect()
    }

    #[test]
    fn lookups_go_exact_then_parents_then_star() {
        let rules = rules(
            "# routes\nexample.com smtp:[mail.example.com]:587\n.example.com  smtp:[sub.example.com]\n\
             Example.NET. smtp:\nexample.org error:5.7.1 go away\nbad.test error:no\n*  smtp:[relay.test]\n",
        );
        assert_eq!(
            lookup(&rules, "example.com"),
            Some(&Rule::Smtp("[mail.example.com]:587".into()))
        );
        assert_eq!(
            lookup(&rules, "a.b.example.com"),
            Some(&Rule::Smtp("[sub.example.com]".into()))
        );
        assert_eq!(
            lookup(&rules, "example.net"),
            Some(&Rule::Smtp(String::new()))
        );
        assert_eq!(
            lookup(&rules, "example.org"),
            Some(&Rule::Error {
                status: "5.7.1".into(),
                text: "go away".into()
            })
        );
        assert_eq!(
            lookup(&rules, "bad.test"),
            Some(&Rule::Error {
                status: "5.0.0".into(),
                text: "no".into()
            })
        );
        assert_eq!(
            lookup(&rules, "other.test"),
            Some(&Rule::Smtp("[relay.test]".into()))
        );
    }

    #[test]
    fn bad_lines_are_problems() {
        let parsed = parse(
            Path::new("/t"),
            b"lonely\nexample.com local:\nexample.net smtp:a b\nok.test smtp:\n",
        );
        assert_eq!(parsed.entries.len(), 1);
        let lines: Vec<usize> = parsed.problems.iter().map(|p| p.line).collect();
        assert_eq!(lines, [1, 2, 3]);
    }
}
