//! main.cf: `name = value` lines.

use std::path::Path;

use crate::error::Error;
use crate::text::{excerpt, is_space, is_valid_name, logical_lines};

/// One `name = value` line as written (value unexpanded).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct MainEntry {
    /// The value, trimmed, with continuation lines joined.
    pub(crate) value: String,
    /// The line where the definition starts.
    pub(crate) line: usize,
}

/// Parses main.cf text into `(name, entry)` in file order; a name may repeat
/// (the caller keeps the last one, as Postfix does).
pub(crate) fn parse(file: &Path, text: &str) -> Result<Vec<(String, MainEntry)>, Error> {
    logical_lines(file, text)?
        .into_iter()
        .map(|logical| {
            let syntax = |reason: String| Error::Syntax {
                file: file.to_owned(),
                line: logical.line,
                reason,
            };
            let Some((name, value)) = logical.text.split_once('=') else {
                return Err(syntax(format!(
                    "expected \"name = value\", got {:?}",
                    excerpt(&logical.text)
                )));
            };
            let name = name.trim_matches(is_space);
            if name.is_empty() {
                return Err(syntax("missing parameter name before \"=\"".to_owned()));
            }
            if !is_valid_name(name) {
                return Err(syntax(format!(
                    "invalid parameter name {:?} (letters, digits and _ only)",
                    excerpt(name)
                )));
            }
            Ok((
                name.to_owned(),
                MainEntry {
                    value: value.trim_matches(is_space).to_owned(),
                    line: logical.line,
                },
            ))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(text: &str) -> Vec<(String, String, usize)> {
        parse(Path::new("main.cf"), text)
            .unwrap()
            .into_iter()
            .map(|(n, e)| (n, e.value, e.line))
            .collect()
    }

    #[test]
    fn good_lines() {
        type Case = (
            &'static str,
            &'static str,
            &'static [(&'static str, &'static str, usize)],
        );
        let cases: &[Case] = &[
            ("spaces_around_equals", "a = b", &[("a", "b", 1)]),
            ("no_spaces", "a=b", &[("a", "b", 1)]),
            ("tabs", "a\t=\tb", &[("a", "b", 1)]),
            ("empty_value", "a =", &[("a", "", 1)]),
            ("equals_in_value", "a = b=c", &[("a", "b=c", 1)]),
            ("value_inner_space_kept", "a = b  c", &[("a", "b  c", 1)]),
            (
                "continuation",
                "a = b,\n    c,\n    d\n",
                &[("a", "b, c, d", 1)],
            ),
            (
                "repeated_name_kept_in_order",
                "a = 1\nb = 2\na = 3",
                &[("a", "1", 1), ("b", "2", 2), ("a", "3", 3)],
            ),
            (
                "comments_and_blanks",
                "# top\n\na = b\n  # in\n",
                &[("a", "b", 3)],
            ),
        ];
        for (name, input, want) in cases {
            let want: Vec<(String, String, usize)> = want
                .iter()
                .map(|(n, v, l)| ((*n).to_owned(), (*v).to_owned(), *l))
                .collect();
            assert_eq!(parsed(input), want, "case {name}");
        }
    }

    #[test]
    fn bad_lines() {
        let cases: &[(&str, &str, &str)] = &[
            (
                "missing_equals",
                "a = b\njust words\n",
                "/etc/postern/main.cf:2: expected \"name = value\", got \"just words\"",
            ),
            (
                "missing_name",
                "= b",
                "/etc/postern/main.cf:1: missing parameter name before \"=\"",
            ),
            (
                "space_in_name",
                "my host = b",
                "/etc/postern/main.cf:1: invalid parameter name \"my host\" (letters, digits and _ only)",
            ),
            (
                "dot_in_name",
                "a.b = c",
                "/etc/postern/main.cf:1: invalid parameter name \"a.b\" (letters, digits and _ only)",
            ),
        ];
        for (name, input, want) in cases {
            let err = parse(Path::new("/etc/postern/main.cf"), input).unwrap_err();
            assert_eq!(err.to_string(), *want, "case {name}");
        }
    }
}
