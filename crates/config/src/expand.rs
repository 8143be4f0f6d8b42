//! `$name` expansion.
//!
//! Forms: `$name`, `${name}`, `$(name)`, `${name?text}` (text when `name`
//! is non-empty), `${name:text}` (text when `name` is empty or undefined),
//! `$$` (a literal `$`). A `$` followed by anything else is literal. The
//! text of a conditional is itself expanded, and only when it is used.
//!
//! Strategy: a parameter's value is looked up in layers (the forced
//! `config_directory`, then master.cf `-o` overrides, then main.cf, then the
//! built-in default), expanded once and memoized. A stack of the parameters
//! being expanded detects loops; a depth limit and a length limit keep a
//! hostile or mistaken file from exhausting the stack or memory.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::path::{Path, PathBuf};

use crate::error::{Error, Warning};
use crate::main_cf::MainEntry;
use crate::params::{ComputedDefault, info};
use crate::text::is_name_char;

/// How deeply expansions may nest (references and conditionals together).
pub(crate) const MAX_DEPTH: usize = 100;

/// The longest value expansion may produce, in bytes.
pub(crate) const MAX_LEN: usize = 1 << 20;

/// Where a value comes from, for messages.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Origin {
    /// A built-in default (reported as main.cf line 0).
    Default,
    /// A main.cf line.
    MainCf(usize),
    /// A master.cf line (a `-o` override or a command argument).
    MasterCf(usize),
}

/// One syntactic piece of a value.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Piece<'t> {
    /// Literal text.
    Text(&'t str),
    /// `$name`, `${name}`, `$(name)`.
    Ref(&'t str),
    /// `${name?text}`: text when name is non-empty.
    IfSet(&'t str, &'t str),
    /// `${name:text}`: text when name is empty.
    IfEmpty(&'t str, &'t str),
}

/// Splits `text` into pieces (one level: conditional texts stay raw).
pub(crate) fn parse_pieces(text: &str) -> Result<Vec<Piece<'_>>, String> {
    let mut pieces = Vec::new();
    let mut rest = text;
    while let Some((before, after)) = rest.split_once('$') {
        if !before.is_empty() {
            pieces.push(Piece::Text(before));
        }
        rest = parse_dollar(after, &mut pieces)?;
    }
    if !rest.is_empty() {
        pieces.push(Piece::Text(rest));
    }
    Ok(pieces)
}

/// Parses what follows one `$`; returns the text after it.
fn parse_dollar<'t>(after: &'t str, pieces: &mut Vec<Piece<'t>>) -> Result<&'t str, String> {
    if let Some(rest) = after.strip_prefix('$') {
        pieces.push(Piece::Text("$"));
        return Ok(rest);
    }
    for (open, close) in [('{', '}'), ('(', ')')] {
        if let Some(group) = after.strip_prefix(open) {
            let (inner, rest) = split_group(group, open, close)
                .ok_or_else(|| format!("unmatched \"{open}\" after \"$\""))?;
            pieces.push(parse_group(inner, open, close)?);
            return Ok(rest);
        }
    }
    let len = after
        .find(|c: char| !is_name_char(c))
        .unwrap_or(after.len());
    if len == 0 {
        pieces.push(Piece::Text("$"));
        return Ok(after);
    }
    let (name, rest) = after.split_at(len);
    pieces.push(Piece::Ref(name));
    Ok(rest)
}

/// Finds the `close` that matches an already consumed `open`.
fn split_group(text: &str, open: char, close: char) -> Option<(&str, &str)> {
    let mut depth = 0usize;
    for (i, c) in text.char_indices() {
        if c == open {
            depth += 1;
        } else if c == close {
            if depth == 0 {
                return Some((text.get(..i)?, text.get(i + c.len_utf8()..)?));
            }
            depth -= 1;
        }
    }
    None
}

fn parse_group(inner: &str, open: char, close: char) -> Result<Piece<'_>, String> {
    let len = inner
        .find(|c: char| !is_name_char(c))
        .unwrap_or(inner.len());
    let (name, tail) = inner.split_at(len);
    if name.is_empty() {
        return Err(format!(
            "missing parameter name in \"${open}{}{close}\"",
            crate::text::excerpt(inner)
        ));
    }
    if tail.is_empty() {
        Ok(Piece::Ref(name))
    } else if let Some(text) = tail.strip_prefix('?') {
        Ok(Piece::IfSet(name, text))
    } else if let Some(text) = tail.strip_prefix(':') {
        Ok(Piece::IfEmpty(name, text))
    } else {
        Err(format!(
            "unsupported expression \"${open}{}{close}\"",
            crate::text::excerpt(inner)
        ))
    }
}

/// Adds every parameter name `text` refers to (conditionals included) to
/// `out`. Syntax errors are ignored here; expansion reports them.
pub(crate) fn collect_refs(text: &str, out: &mut BTreeSet<String>) {
    collect_refs_at(text, out, 0);
}

fn collect_refs_at(text: &str, out: &mut BTreeSet<String>, depth: usize) {
    if depth > MAX_DEPTH {
        return;
    }
    let Ok(pieces) = parse_pieces(text) else {
        return;
    };
    for piece in pieces {
        match piece {
            Piece::Text(_) => {}
            Piece::Ref(name) => {
                out.insert(name.to_owned());
            }
            Piece::IfSet(name, inner) | Piece::IfEmpty(name, inner) => {
                out.insert(name.to_owned());
                collect_refs_at(inner, out, depth + 1);
            }
        }
    }
}

/// Everything a lookup can see.
#[derive(Clone, Copy)]
pub(crate) struct Layers<'a> {
    /// main.cf entries (last definition of each name).
    pub(crate) main: &'a BTreeMap<String, MainEntry>,
    /// master.cf `-o` overrides of one service (the last one wins).
    pub(crate) overrides: &'a [(String, String)],
    /// The master.cf line of those overrides.
    pub(crate) override_line: usize,
    /// The value of `myhostname` when nobody sets it.
    pub(crate) host_name: &'a str,
    /// The value of `config_directory` (never settable).
    pub(crate) config_dir: &'a str,
    /// main.cf's path, for messages.
    pub(crate) main_cf: &'a Path,
    /// master.cf's path, for messages.
    pub(crate) master_cf: &'a Path,
}

/// A parameter's value before expansion.
enum Raw<'a> {
    /// Text to expand.
    Text(&'a str),
    /// Text taken as is (host name, directory name).
    Literal(&'a str),
    /// `myhostname` minus its first label.
    DomainOfHostName,
}

/// Expands parameters against [`Layers`], collecting warnings.
pub(crate) struct Expander<'a> {
    layers: Layers<'a>,
    memo: HashMap<String, (String, Origin)>,
    stack: Vec<(String, Origin)>,
    depth: usize,
    warnings: Vec<Warning>,
    warned: HashSet<(Origin, String)>,
}

/// `host` without its first label; `localdomain` when it has only one.
pub(crate) fn domain_of(host: &str) -> String {
    match host.split_once('.') {
        Some((_, domain)) if !domain.is_empty() => domain.to_owned(),
        _ => "localdomain".to_owned(),
    }
}

impl<'a> Expander<'a> {
    pub(crate) fn new(layers: Layers<'a>) -> Expander<'a> {
        Expander {
            layers,
            memo: HashMap::new(),
            stack: Vec::new(),
            depth: 0,
            warnings: Vec::new(),
            warned: HashSet::new(),
        }
    }

    /// The warnings collected so far, in the order they arose.
    pub(crate) fn into_warnings(self) -> Vec<Warning> {
        self.warnings
    }

    /// The file and line an origin stands for.
    pub(crate) fn locate(&self, origin: Origin) -> (PathBuf, usize) {
        match origin {
            Origin::Default => (self.layers.main_cf.to_owned(), 0),
            Origin::MainCf(line) => (self.layers.main_cf.to_owned(), line),
            Origin::MasterCf(line) => (self.layers.master_cf.to_owned(), line),
        }
    }

    fn raw(&self, name: &str) -> Option<(Raw<'a>, Origin)> {
        let layers = self.layers;
        if name == "config_directory" {
            return Some((Raw::Literal(layers.config_dir), Origin::Default));
        }
        if let Some((_, value)) = layers.overrides.iter().rev().find(|(n, _)| n == name) {
            return Some((Raw::Text(value), Origin::MasterCf(layers.override_line)));
        }
        if let Some(entry) = layers.main.get(name) {
            return Some((Raw::Text(&entry.value), Origin::MainCf(entry.line)));
        }
        let info = info(name)?;
        let raw = match info.computed {
            None => Raw::Text(info.default),
            Some(ComputedDefault::HostName) => Raw::Literal(layers.host_name),
            Some(ComputedDefault::DomainOfMyhostname) => Raw::DomainOfHostName,
        };
        Some((raw, Origin::Default))
    }

    /// The expanded value of parameter `name` and where it comes from, or
    /// `None` when no layer defines it.
    pub(crate) fn param(&mut self, name: &str) -> Result<Option<(String, Origin)>, Error> {
        if let Some(hit) = self.memo.get(name) {
            return Ok(Some(hit.clone()));
        }
        let Some((raw, origin)) = self.raw(name) else {
            return Ok(None);
        };
        if let Some(pos) = self.stack.iter().position(|(n, _)| n == name) {
            let first = self.stack.get(pos).map_or(origin, |(_, o)| *o);
            let (file, line) = self.locate(first);
            let mut chain: Vec<String> = self
                .stack
                .iter()
                .skip(pos)
                .map(|(n, _)| n.clone())
                .collect();
            chain.push(name.to_owned());
            return Err(Error::Cycle {
                file,
                line,
                param: name.to_owned(),
                chain,
            });
        }
        self.stack.push((name.to_owned(), origin));
        let result = match raw {
            Raw::Text(text) => self.expand(text, origin, Some(name)),
            Raw::Literal(text) => Ok(text.to_owned()),
            Raw::DomainOfHostName => self
                .param("myhostname")
                .map(|host| domain_of(host.map(|(v, _)| v).unwrap_or_default().as_str())),
        };
        self.stack.pop();
        let value = result?;
        self.memo.insert(name.to_owned(), (value.clone(), origin));
        Ok(Some((value, origin)))
    }

    /// Expands parameter `name` and converts it with `parse`; a failure is
    /// [`Error::BadValue`] at the value's origin.
    pub(crate) fn typed<T>(
        &mut self,
        name: &str,
        parse: impl Fn(&str) -> Result<T, String>,
    ) -> Result<T, Error> {
        let (text, origin) = self
            .param(name)?
            .unwrap_or_else(|| (String::new(), Origin::Default));
        parse(&text).map_err(|reason| {
            let (file, line) = self.locate(origin);
            Error::BadValue {
                file,
                line,
                param: name.to_owned(),
                reason,
            }
        })
    }

    fn text_error(&self, origin: Origin, param: Option<&str>, reason: String) -> Error {
        let (file, line) = self.locate(origin);
        match param {
            Some(param) => Error::BadValue {
                file,
                line,
                param: param.to_owned(),
                reason,
            },
            None => Error::Syntax { file, line, reason },
        }
    }

    /// Expands `text`, which comes from `origin` (the value of `param`, or a
    /// master.cf argument when `param` is `None`).
    pub(crate) fn expand(
        &mut self,
        text: &str,
        origin: Origin,
        param: Option<&str>,
    ) -> Result<String, Error> {
        if self.depth >= MAX_DEPTH {
            return Err(self.text_error(
                origin,
                param,
                format!("parameter expansion nested more than {MAX_DEPTH} levels deep"),
            ));
        }
        self.depth += 1;
        let result = self.expand_pieces(text, origin, param);
        self.depth -= 1;
        result
    }

    fn expand_pieces(
        &mut self,
        text: &str,
        origin: Origin,
        param: Option<&str>,
    ) -> Result<String, Error> {
        let pieces = parse_pieces(text).map_err(|reason| self.text_error(origin, param, reason))?;
        let mut out = String::new();
        for piece in pieces {
            match piece {
                Piece::Text(t) => out.push_str(t),
                Piece::Ref(name) => match self.param(name)? {
                    Some((value, _)) => out.push_str(&value),
                    None => self.warn_undefined(origin, name),
                },
                Piece::IfSet(name, inner) => {
                    if self.is_non_empty(name)? {
                        let value = self.expand(inner, origin, param)?;
                        out.push_str(&value);
                    }
                }
                Piece::IfEmpty(name, inner) => {
                    if !self.is_non_empty(name)? {
                        let value = self.expand(inner, origin, param)?;
                        out.push_str(&value);
                    }
                }
            }
            if out.len() > MAX_LEN {
                return Err(self.text_error(
                    origin,
                    param,
                    format!("value is longer than {MAX_LEN} bytes after expansion"),
                ));
            }
        }
        Ok(out)
    }

    /// The test of a conditional: an undefined name is empty, silently,
    /// because `${name?...}` is how one asks "is it set".
    fn is_non_empty(&mut self, name: &str) -> Result<bool, Error> {
        Ok(self.param(name)?.is_some_and(|(v, _)| !v.is_empty()))
    }

    fn warn_undefined(&mut self, origin: Origin, name: &str) {
        if self.warned.insert((origin, name.to_owned())) {
            let (file, line) = self.locate(origin);
            self.warnings.push(Warning {
                file,
                line,
                message: format!("undefined parameter ${name}"),
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pieces() {
        use Piece::*;
        let cases: &[(&str, &str, &[Piece<'_>])] = &[
            ("plain", "abc", &[Text("abc")]),
            ("bare_ref", "a$b.c", &[Text("a"), Ref("b"), Text(".c")]),
            ("braces", "${b}c", &[Ref("b"), Text("c")]),
            ("parens", "$(b)c", &[Ref("b"), Text("c")]),
            ("if_set", "${a?x y}", &[IfSet("a", "x y")]),
            ("if_empty", "$(a:x)", &[IfEmpty("a", "x")]),
            ("nested", "${a?${b}}", &[IfSet("a", "${b}")]),
            ("dollar_dollar", "a$$b", &[Text("a"), Text("$"), Text("b")]),
            ("lone_dollar_at_end", "a$", &[Text("a"), Text("$")]),
            ("dollar_space", "$ x", &[Text("$"), Text(" x")]),
            ("underscore_digits", "$a_1b-c", &[Ref("a_1b"), Text("-c")]),
        ];
        for (name, input, want) in cases {
            assert_eq!(parse_pieces(input).unwrap(), *want, "case {name}");
        }
    }

    #[test]
    fn piece_errors() {
        let cases: &[(&str, &str, &str)] = &[
            ("unmatched_brace", "${a", "unmatched \"{\" after \"$\""),
            ("unmatched_paren", "$(a", "unmatched \"(\" after \"$\""),
            (
                "nested_unmatched",
                "${a?${b}",
                "unmatched \"{\" after \"$\"",
            ),
            ("empty_name", "${}", "missing parameter name in \"${}\""),
            ("operator", "${a==b}", "unsupported expression \"${a==b}\""),
        ];
        for (name, input, want) in cases {
            assert_eq!(parse_pieces(input).unwrap_err(), *want, "case {name}");
        }
    }

    #[test]
    fn refs_are_collected_everywhere() {
        let mut out = BTreeSet::new();
        collect_refs("$a ${b?$c} $(d:${e}) $$f", &mut out);
        let want: BTreeSet<String> = ["a", "b", "c", "d", "e"]
            .iter()
            .map(|s| (*s).to_owned())
            .collect();
        assert_eq!(out, want);
        let mut none = BTreeSet::new();
        collect_refs("$a ${bad", &mut none);
        assert!(none.is_empty(), "a syntax error is left to expansion");
    }

    #[test]
    fn domain_of_host() {
        assert_eq!(domain_of("mail.example.com"), "example.com");
        assert_eq!(domain_of("host"), "localdomain");
        assert_eq!(domain_of("host."), "localdomain");
    }
}
