//! Addresses: splitting, case folding, and address extensions.
//!
//! Lookups are case-insensitive: the local part and the domain are folded
//! to lower case before any table is consulted. The original text is kept
//! by the callers for display.

/// Which of our domain lists a domain is in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DomainClass {
    /// In `mydestination`: aliases, then system users.
    Local,
    /// In `virtual_mailbox_domains`: the users file.
    Virtual,
    /// Neither: mail for it is relayed (if the client may relay).
    Remote,
}

/// An address folded for lookup.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Folded {
    /// The local part, lower case (quotes kept as written).
    pub local: String,
    /// The domain, lower case, without a trailing dot; `None` for a bare
    /// local name (`postmaster`).
    pub domain: Option<String>,
}

/// Splits `address` at its last `@` and folds both halves to lower case.
///
/// `None` for text that cannot be an address: empty, an empty local part
/// (`@example.org`), an empty domain (`alice@`), or control characters.
pub(crate) fn fold(address: &str) -> Option<Folded> {
    let address = address.trim();
    if address.is_empty() || address.chars().any(char::is_control) {
        return None;
    }
    match address.rsplit_once('@') {
        Some((local, domain)) => {
            let domain = fold_domain(domain)?;
            if local.is_empty() {
                return None;
            }
            Some(Folded {
                local: local.to_lowercase(),
                domain: Some(domain),
            })
        }
        None => Some(Folded {
            local: address.to_lowercase(),
            domain: None,
        }),
    }
}

/// A domain folded for lookup: lower case, one trailing dot removed.
pub(crate) fn fold_domain(domain: &str) -> Option<String> {
    let domain = domain.trim();
    let domain = domain.strip_suffix('.').unwrap_or(domain);
    if domain.is_empty() {
        None
    } else {
        Some(domain.to_lowercase())
    }
}

/// Splits an address extension off `local` (`user+tag` -> `user`, `tag`).
///
/// Every character of `delimiters` is a delimiter; the split is at the
/// first one found. As in Postfix, nothing is split when the delimiter is
/// the first character, and with `-` as the delimiter `owner-NAME` and
/// `NAME-request` are left whole (they are list conventions, not
/// extensions). The extension is returned without its delimiter.
pub(crate) fn split_extension<'a>(local: &'a str, delimiters: &str) -> Option<(&'a str, &'a str)> {
    if delimiters.is_empty() {
        return None;
    }
    let (at, delimiter) = local
        .char_indices()
        .find(|(_, c)| delimiters.contains(*c))?;
    if at == 0 {
        return None;
    }
    if delimiter == '-' && (local.starts_with("owner-") || local.ends_with("-request")) {
        return None;
    }
    let base = local.get(..at)?;
    let extension = local.get(at + delimiter.len_utf8()..)?;
    Some((base, extension))
}

/// The names to look `local` up under, most specific first: the whole
/// local part, then (when it has an extension) the part before it.
pub(crate) fn candidates<'a>(local: &'a str, delimiters: &str) -> Vec<(&'a str, Option<&'a str>)> {
    let mut out = vec![(local, None)];
    if let Some((base, extension)) = split_extension(local, delimiters) {
        out.push((base, Some(extension)));
    }
    out
}

/// Why `name` cannot be a user name in the users file, if it cannot.
///
/// A user name is `local@domain`, both parts non-empty, without `:`, white
/// space or control characters, and without `/` or a `.`/`..` part
/// (because the name becomes directory names under
/// `virtual_mailbox_base`).
pub(crate) fn user_name_problem(name: &str) -> Option<&'static str> {
    if name.is_empty() {
        return Some("empty user name");
    }
    if name.contains(':') {
        return Some("contains ':'");
    }
    if name.chars().any(char::is_whitespace) {
        return Some("contains white space");
    }
    if name.chars().any(char::is_control) {
        return Some("contains a control character");
    }
    let Some((local, domain)) = name.rsplit_once('@') else {
        return Some("no @domain (users must be written as user@domain)");
    };
    if local.is_empty() {
        return Some("empty local part");
    }
    if domain.is_empty() {
        return Some("empty domain");
    }
    if name.contains('/') {
        return Some("contains '/'");
    }
    if [local, domain]
        .iter()
        .any(|part| *part == "." || *part == "..")
    {
        return Some("'.' or '..' is not a valid name");
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    type FoldCase = (
        &'static str,
        &'static str,
        Option<(&'static str, Option<&'static str>)>,
    );
    type SplitCase = (
        &'static str,
        &'static str,
        &'static str,
        Option<(&'static str, &'static str)>,
    );

    #[test]
    fn folding() {
        let cases: &[FoldCase] = &[
            (
                "plain",
                "alice@example.org",
                Some(("alice", Some("example.org"))),
            ),
            (
                "upper case",
                "Alice@Example.ORG",
                Some(("alice", Some("example.org"))),
            ),
            (
                "trailing dot",
                "a@example.org.",
                Some(("a", Some("example.org"))),
            ),
            ("bare name", "Postmaster", Some(("postmaster", None))),
            (
                "last at wins",
                "\"a@b\"@example.org",
                Some(("\"a@b\"", Some("example.org"))),
            ),
            ("empty", "", None),
            ("empty local", "@example.org", None),
            ("empty domain", "alice@", None),
            ("control", "al\u{0}ice@example.org", None),
        ];
        for (name, input, want) in cases {
            let got = fold(input);
            let got = got
                .as_ref()
                .map(|f| (f.local.as_str(), f.domain.as_deref()));
            assert_eq!(got, *want, "case {name}");
        }
    }

    #[test]
    fn extensions() {
        let cases: &[SplitCase] = &[
            ("plus", "user+tag", "+", Some(("user", "tag"))),
            ("no delimiter set", "user+tag", "", None),
            ("no extension", "user", "+", None),
            ("first of several", "a-b+c", "+-", Some(("a", "b+c"))),
            (
                "second delimiter char",
                "user-tag",
                "+-",
                Some(("user", "tag")),
            ),
            ("leading delimiter", "+tag", "+", None),
            ("empty extension", "user+", "+", Some(("user", ""))),
            ("owner- kept whole", "owner-list", "-", None),
            ("-request kept whole", "list-request", "-", None),
            (
                "owner- with plus",
                "owner-list+x",
                "+",
                Some(("owner-list", "x")),
            ),
            (
                "multibyte delimiter",
                "user§tag",
                "§",
                Some(("user", "tag")),
            ),
        ];
        for (name, local, delims, want) in cases {
            assert_eq!(split_extension(local, delims), *want, "case {name}");
        }
    }

    #[test]
    fn user_names() {
        let cases: &[(&str, &str, bool)] = &[
            ("good", "alice@example.org", true),
            ("utf8", "jörg@example.org", true),
            ("bare", "alice", false),
            ("colon", "al:ice@example.org", false),
            ("space", "al ice@example.org", false),
            ("tab", "alice@exa\tmple.org", false),
            ("control", "alice\u{7}@example.org", false),
            ("slash", "a/b@example.org", false),
            ("dot dot", "..@example.org", false),
            ("dot domain", "a@.", false),
            ("empty local", "@example.org", false),
            ("empty domain", "alice@", false),
            ("empty", "", false),
        ];
        for (name, input, ok) in cases {
            assert_eq!(user_name_problem(input).is_none(), *ok, "case {name}");
        }
    }
}
