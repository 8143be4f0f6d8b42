//! Logical lines, shared by main.cf and master.cf.
//!
//! A line whose first non-white character is `#` is a comment; blank lines
//! are ignored; a line that starts with white space continues the previous
//! logical line (joined with one space). Comment and blank lines inside a
//! continued line are skipped without ending it, as in Postfix.

use std::path::Path;

use crate::error::Error;

/// One logical line: physical lines joined, with the first one's number.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct LogicalLine {
    /// The 1-based number of the first physical line.
    pub(crate) line: usize,
    /// The text, without leading and trailing white space.
    pub(crate) text: String,
}

/// White space as the configuration files understand it.
pub(crate) fn is_space(c: char) -> bool {
    c.is_ascii_whitespace()
}

/// A character allowed in a parameter name (and in `$name`).
pub(crate) fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// Whether `name` is a syntactically valid parameter name.
pub(crate) fn is_valid_name(name: &str) -> bool {
    !name.is_empty() && name.chars().all(is_name_char)
}

/// At most 60 characters of `text`, for error messages.
pub(crate) fn excerpt(text: &str) -> String {
    const MAX: usize = 60;
    match text.char_indices().nth(MAX) {
        Some((end, _)) => format!("{}...", text.get(..end).unwrap_or_default()),
        None => text.to_owned(),
    }
}

/// Turns file bytes into text; invalid UTF-8 is a syntax error at its line.
pub(crate) fn decode(file: &Path, bytes: Vec<u8>) -> Result<String, Error> {
    String::from_utf8(bytes).map_err(|e| {
        let valid = e.utf8_error().valid_up_to();
        let before = e.as_bytes().get(..valid).unwrap_or_default();
        Error::Syntax {
            file: file.to_owned(),
            line: before.iter().filter(|&&b| b == b'\n').count() + 1,
            reason: "invalid UTF-8".to_owned(),
        }
    })
}

/// Splits `text` into logical lines.
pub(crate) fn logical_lines(file: &Path, text: &str) -> Result<Vec<LogicalLine>, Error> {
    let mut lines: Vec<LogicalLine> = Vec::new();
    for (index, physical) in text.split('\n').enumerate() {
        let number = index + 1;
        let content = physical.trim_matches(is_space);
        if content.is_empty() || content.starts_with('#') {
            continue;
        }
        if physical.starts_with(is_space) {
            let Some(last) = lines.last_mut() else {
                return Err(Error::Syntax {
                    file: file.to_owned(),
                    line: number,
                    reason:
                        "continuation line (starts with white space) without a line to continue"
                            .to_owned(),
                });
            };
            last.text.push(' ');
            last.text.push_str(content);
        } else {
            lines.push(LogicalLine {
                line: number,
                text: content.to_owned(),
            });
        }
    }
    Ok(lines)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(text: &str) -> Vec<(usize, String)> {
        logical_lines(Path::new("main.cf"), text)
            .unwrap()
            .into_iter()
            .map(|l| (l.line, l.text))
            .collect()
    }

    #[test]
    fn logical_line_cases() {
        type Case = (&'static str, &'static str, &'static [(usize, &'static str)]);
        let cases: &[Case] = &[
            ("single", "a = b\n", &[(1, "a = b")]),
            ("no_final_newline", "a = b", &[(1, "a = b")]),
            ("blank_lines", "\n\na = b\n\n", &[(3, "a = b")]),
            (
                "white_space_only_line",
                "a = b\n \t \nc = d",
                &[(1, "a = b"), (3, "c = d")],
            ),
            ("comment", "# x\na = b", &[(2, "a = b")]),
            ("indented_comment", "   # x\na = b", &[(2, "a = b")]),
            ("hash_inside_value", "a = b # c", &[(1, "a = b # c")]),
            ("continuation_space", "a = b,\n  c", &[(1, "a = b, c")]),
            ("continuation_tab", "a = b\n\tc\n\td", &[(1, "a = b c d")]),
            (
                "comment_inside_continuation",
                "a = b\n# x\n  c",
                &[(1, "a = b c")],
            ),
            (
                "blank_inside_continuation",
                "a = b\n\n  c",
                &[(1, "a = b c")],
            ),
            (
                "crlf",
                "a = b\r\n  c\r\nd = e\r\n",
                &[(1, "a = b c"), (3, "d = e")],
            ),
            ("trailing_space_trimmed", "a = b   \n", &[(1, "a = b")]),
        ];
        for (name, input, want) in cases {
            let want: Vec<(usize, String)> =
                want.iter().map(|(n, t)| (*n, (*t).to_owned())).collect();
            assert_eq!(lines(input), want, "case {name}");
        }
    }

    #[test]
    fn continuation_without_a_line_is_an_error() {
        let err = logical_lines(Path::new("/x/main.cf"), "# c\n  a = b\n").unwrap_err();
        assert!(
            err.to_string()
                .starts_with("/x/main.cf:2: continuation line"),
            "{err}"
        );
    }

    #[test]
    fn invalid_utf8_names_the_line() {
        let err = decode(Path::new("/x/main.cf"), b"a = b\nc = \xff\n".to_vec()).unwrap_err();
        assert_eq!(err.to_string(), "/x/main.cf:2: invalid UTF-8");
    }

    #[test]
    fn excerpt_truncates_long_text() {
        assert_eq!(excerpt("short"), "short");
        let long = "é".repeat(100);
        assert_eq!(excerpt(&long), format!("{}...", "é".repeat(60)));
    }
}
