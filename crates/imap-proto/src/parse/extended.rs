//! The two command forms imap-codec does not parse: extended LIST (RFC 5258, RFC 6154,
//! RFC 5819) and SEARCH with ESEARCH return options (RFC 4731).
//!
//! Both are handled by finding the extension's parts with a small tokenizer and
//! handing what remains to imap-codec as a plain command: one plain
//! `tag LIST reference pattern` per pattern, and the SEARCH command with its
//! `RETURN (...)` clause cut out. Mailbox names, patterns and search keys are thus
//! still decoded by imap-codec alone; only option words are read here.

use imap_codec::{CommandCodec, decode::Decoder, imap_types::command::CommandBody as WireBody};

use super::convert;
use crate::command::{Command, CommandBody, ListReturn, ListSelect, SearchReturn, StatusItem};

/// What a token is; its bytes are `start..end` of the message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// One space.
    Sp,
    /// `(`.
    Open,
    /// `)`.
    Close,
    /// The final line ending.
    End,
    /// A run of other bytes (an atom, a number, a pattern with wildcards).
    Word,
    /// A quoted string, quotes included.
    Quoted,
    /// A literal, `{N}` or `{N+}`, its line ending and its N bytes.
    Literal,
}

/// One token.
#[derive(Debug, Clone, Copy)]
struct Token {
    kind: Kind,
    start: usize,
    end: usize,
}

/// Reads tokens from the front of a message.
struct Lexer<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Lexer<'a> {
    fn new(bytes: &'a [u8]) -> Self {
        Self { bytes, pos: 0 }
    }

    /// byte - the byte at `at`, if any.
    fn byte(&self, at: usize) -> Option<u8> {
        self.bytes.get(at).copied()
    }

    /// text - the bytes of a token.
    fn text(&self, token: Token) -> &'a [u8] {
        self.bytes.get(token.start..token.end).unwrap_or_default()
    }

    /// next - the next token, or `None` at the end of input or on bytes that do not
    /// tokenize (the caller then leaves the command to imap-codec, which rejects it).
    fn next(&mut self) -> Option<Token> {
        let start = self.pos;
        let first = self.byte(start)?;
        let kind = match first {
            b' ' => {
                self.pos += 1;
                Kind::Sp
            }
            b'(' => {
                self.pos += 1;
                Kind::Open
            }
            b')' => {
                self.pos += 1;
                Kind::Close
            }
            b'\r' if self.byte(start + 1) == Some(b'\n') => {
                self.pos += 2;
                Kind::End
            }
            b'\n' => {
                self.pos += 1;
                Kind::End
            }
            b'"' => {
                self.quoted()?;
                Kind::Quoted
            }
            b'{' => {
                self.literal()?;
                Kind::Literal
            }
            b'\r' => return None,
            _ => {
                while let Some(b) = self.byte(self.pos) {
                    if matches!(b, b' ' | b'(' | b')' | b'"' | b'{' | b'\r' | b'\n') {
                        break;
                    }
                    self.pos += 1;
                }
                Kind::Word
            }
        };
        Some(Token {
            kind,
            start,
            end: self.pos,
        })
    }

    /// quoted - steps over a quoted string.
    fn quoted(&mut self) -> Option<()> {
        self.pos += 1;
        loop {
            match self.byte(self.pos)? {
                b'"' => {
                    self.pos += 1;
                    return Some(());
                }
                b'\\' => self.pos += 2,
                b'\r' | b'\n' => return None,
                _ => self.pos += 1,
            }
        }
    }

    /// literal - steps over a literal with its data.
    fn literal(&mut self) -> Option<()> {
        self.pos += 1;
        let mut length: usize = 0;
        let mut digits = 0;
        while let Some(b @ b'0'..=b'9') = self.byte(self.pos) {
            length = length.checked_mul(10)?.checked_add(usize::from(b - b'0'))?;
            digits += 1;
            self.pos += 1;
        }
        if digits == 0 {
            return None;
        }
        if self.byte(self.pos) == Some(b'+') {
            self.pos += 1;
        }
        if self.byte(self.pos) != Some(b'}') {
            return None;
        }
        self.pos += 1;
        if self.byte(self.pos) == Some(b'\r') {
            self.pos += 1;
        }
        if self.byte(self.pos) != Some(b'\n') {
            return None;
        }
        self.pos += 1;
        let end = self.pos.checked_add(length)?;
        if end > self.bytes.len() {
            return None;
        }
        self.pos = end;
        Some(())
    }

    /// expect - the next token if it is of `kind`.
    fn expect(&mut self, kind: Kind) -> Option<Token> {
        self.next().filter(|t| t.kind == kind)
    }

    /// word - the next token if it is a word, upper-cased.
    fn word(&mut self) -> Option<String> {
        let token = self.expect(Kind::Word)?;
        Some(String::from_utf8_lossy(self.text(token)).to_ascii_uppercase())
    }

    /// string - the next token if it can be an astring or list-mailbox.
    fn string(&mut self) -> Option<Token> {
        self.next()
            .filter(|t| matches!(t.kind, Kind::Word | Kind::Quoted | Kind::Literal))
    }
}

/// How the tokenizer judged a command.
pub(super) enum Outcome {
    /// Not one of the extended forms: imap-codec parses it as it is.
    Plain,
    /// An extended form, parsed (or refused with this text).
    Parsed(Result<Command, String>),
}

/// try_parse - recognizes and parses extended LIST and SEARCH RETURN.
pub(super) fn try_parse(message: &[u8]) -> Outcome {
    let mut lexer = Lexer::new(message);
    let Some(tag) = lexer.expect(Kind::Word) else {
        return Outcome::Plain;
    };
    if lexer.expect(Kind::Sp).is_none() {
        return Outcome::Plain;
    }
    let mut uid = false;
    let Some(mut name) = lexer.word() else {
        return Outcome::Plain;
    };
    if name == "UID" {
        uid = true;
        if lexer.expect(Kind::Sp).is_none() {
            return Outcome::Plain;
        }
        match lexer.word() {
            Some(word) => name = word,
            None => return Outcome::Plain,
        }
    }
    match name.as_str() {
        "SEARCH" => search(lexer),
        "LIST" if !uid => list(lexer, tag),
        _ => Outcome::Plain,
    }
}

/// decode - parses a complete command with imap-codec.
fn decode(message: &[u8]) -> Option<imap_codec::imap_types::command::Command<'_>> {
    match CommandCodec::new().decode(message) {
        Ok(([], command)) => Some(command),
        _ => None,
    }
}

/// search - `SEARCH RETURN (options) program`: the options read here, the program by
/// imap-codec.
fn search(mut lexer: Lexer<'_>) -> Outcome {
    if lexer.expect(Kind::Sp).is_none() {
        return Outcome::Plain;
    }
    let cut_from = lexer.pos;
    if lexer.word().as_deref() != Some("RETURN") {
        return Outcome::Plain;
    }
    let syntax = || Outcome::Parsed(Err("syntax error in SEARCH RETURN".to_owned()));
    if lexer.expect(Kind::Sp).is_none() || lexer.expect(Kind::Open).is_none() {
        return syntax();
    }
    let mut returns = Vec::new();
    loop {
        let Some(token) = lexer.next() else {
            return syntax();
        };
        match token.kind {
            Kind::Close => break,
            Kind::Sp if !returns.is_empty() => continue,
            Kind::Word => {
                let option = String::from_utf8_lossy(lexer.text(token)).to_ascii_uppercase();
                let option = match option.as_str() {
                    "MIN" => SearchReturn::Min,
                    "MAX" => SearchReturn::Max,
                    "ALL" => SearchReturn::All,
                    "COUNT" => SearchReturn::Count,
                    "SAVE" => {
                        return Outcome::Parsed(Err(
                            "SEARCH RETURN (SAVE) is not supported".to_owned()
                        ));
                    }
                    _ => {
                        return Outcome::Parsed(Err(format!(
                            "unknown SEARCH return option {option}"
                        )));
                    }
                };
                if !returns.contains(&option) {
                    returns.push(option);
                }
            }
            _ => return syntax(),
        }
    }
    if lexer.expect(Kind::Sp).is_none() {
        return syntax();
    }
    let (Some(head), Some(tail)) = (lexer.bytes.get(..cut_from), lexer.bytes.get(lexer.pos..))
    else {
        return syntax();
    };
    let plain = [head, tail].concat();
    let Some(wire) = decode(&plain) else {
        return Outcome::Parsed(Err("syntax error in SEARCH".to_owned()));
    };
    Outcome::Parsed(convert::command(wire, &plain).map(|mut command| {
        if let CommandBody::Search { returns: r, .. } = &mut command.body {
            *r = Some(returns);
        }
        command
    }))
}

/// list - `LIST [(select)] reference (patterns) [RETURN (options)]`.
fn list(mut lexer: Lexer<'_>, tag: Token) -> Outcome {
    let syntax = || Outcome::Parsed(Err("syntax error in LIST".to_owned()));
    if lexer.expect(Kind::Sp).is_none() {
        return Outcome::Plain;
    }
    let mut extended = false;
    let mut select = Vec::new();
    let reference = {
        let Some(token) = lexer.next() else {
            return Outcome::Plain;
        };
        if token.kind == Kind::Open {
            extended = true;
            match select_options(&mut lexer) {
                Ok(options) => select = options,
                Err(text) => return Outcome::Parsed(Err(text)),
            }
            if lexer.expect(Kind::Sp).is_none() {
                return syntax();
            }
            match lexer.string() {
                Some(token) => token,
                None => return syntax(),
            }
        } else if matches!(token.kind, Kind::Word | Kind::Quoted | Kind::Literal) {
            token
        } else {
            return Outcome::Plain;
        }
    };
    if lexer.expect(Kind::Sp).is_none() {
        return if extended { syntax() } else { Outcome::Plain };
    }
    let mut patterns = Vec::new();
    match lexer.next() {
        Some(t) if t.kind == Kind::Open => {
            extended = true;
            loop {
                match lexer.string() {
                    Some(pattern) => patterns.push(pattern),
                    None => return syntax(),
                }
                match lexer.next().map(|t| t.kind) {
                    Some(Kind::Sp) => continue,
                    Some(Kind::Close) => break,
                    _ => return syntax(),
                }
            }
        }
        Some(t) if matches!(t.kind, Kind::Word | Kind::Quoted | Kind::Literal) => patterns.push(t),
        _ => return if extended { syntax() } else { Outcome::Plain },
    }
    let mut returns = Vec::new();
    match lexer.next().map(|t| t.kind) {
        Some(Kind::End) => {}
        Some(Kind::Sp) => {
            if lexer.word().as_deref() != Some("RETURN")
                || lexer.expect(Kind::Sp).is_none()
                || lexer.expect(Kind::Open).is_none()
            {
                return if extended { syntax() } else { Outcome::Plain };
            }
            extended = true;
            match return_options(&mut lexer) {
                Ok(options) => returns = options,
                Err(text) => return Outcome::Parsed(Err(text)),
            }
            if lexer.expect(Kind::End).is_none() {
                return syntax();
            }
        }
        _ => return if extended { syntax() } else { Outcome::Plain },
    }
    if lexer.pos != lexer.bytes.len() {
        return syntax();
    }
    if !extended {
        return Outcome::Plain;
    }

    // Each pattern goes through imap-codec as a plain LIST, so that names are decoded
    // exactly as in every other command.
    let mut reference_name = None;
    let mut names = Vec::with_capacity(patterns.len());
    for pattern in patterns {
        let plain = [
            lexer.text(tag),
            b" LIST ",
            lexer.text(reference),
            b" ",
            lexer.text(pattern),
            b"\r\n",
        ]
        .concat();
        let Some(wire) = decode(&plain) else {
            return syntax();
        };
        let WireBody::List {
            reference,
            mailbox_wildcard,
        } = wire.body
        else {
            return syntax();
        };
        if reference_name.is_none() {
            match convert::mailbox_name(&reference) {
                Ok(name) => reference_name = Some(name),
                Err(text) => return Outcome::Parsed(Err(text)),
            }
        }
        match convert::pattern(&mailbox_wildcard) {
            Ok(name) => names.push(name),
            Err(text) => return Outcome::Parsed(Err(text)),
        }
    }
    let Some(reference) = reference_name else {
        return syntax();
    };
    Outcome::Parsed(Ok(Command {
        tag: String::from_utf8_lossy(lexer.text(tag)).into_owned(),
        body: CommandBody::List {
            reference,
            patterns: names,
            select,
            returns,
        },
    }))
}

/// select_options - the selection options after `(`, through `)`.
fn select_options(lexer: &mut Lexer<'_>) -> Result<Vec<ListSelect>, String> {
    let mut options = Vec::new();
    let words = words_until_close(lexer)?;
    for word in words {
        let option = match word.as_str() {
            "SUBSCRIBED" => ListSelect::Subscribed,
            "REMOTE" => ListSelect::Remote,
            "RECURSIVEMATCH" => ListSelect::RecursiveMatch,
            "SPECIAL-USE" => ListSelect::SpecialUse,
            _ => return Err(format!("unknown LIST selection option {word}")),
        };
        if !options.contains(&option) {
            options.push(option);
        }
    }
    // RFC 5258 3: RECURSIVEMATCH only qualifies another selection option.
    let qualifies = |o: &ListSelect| matches!(o, ListSelect::Subscribed | ListSelect::SpecialUse);
    if options.contains(&ListSelect::RecursiveMatch) && !options.iter().any(qualifies) {
        return Err("RECURSIVEMATCH needs another selection option".to_owned());
    }
    Ok(options)
}

/// words_until_close - space-separated words through the closing `)`.
fn words_until_close(lexer: &mut Lexer<'_>) -> Result<Vec<String>, String> {
    let syntax = || "syntax error in LIST".to_owned();
    let mut words = Vec::new();
    loop {
        let token = lexer.next().ok_or_else(syntax)?;
        match token.kind {
            Kind::Close => return Ok(words),
            Kind::Sp if !words.is_empty() => continue,
            Kind::Word => {
                words.push(String::from_utf8_lossy(lexer.text(token)).to_ascii_uppercase());
            }
            _ => return Err(syntax()),
        }
    }
}

/// return_options - the LIST return options after `(`, through `)`.
fn return_options(lexer: &mut Lexer<'_>) -> Result<Vec<ListReturn>, String> {
    let syntax = || "syntax error in LIST RETURN".to_owned();
    let mut options: Vec<ListReturn> = Vec::new();
    loop {
        let token = lexer.next().ok_or_else(syntax)?;
        let word = match token.kind {
            Kind::Close => return Ok(options),
            Kind::Sp if !options.is_empty() => continue,
            Kind::Word => String::from_utf8_lossy(lexer.text(token)).to_ascii_uppercase(),
            _ => return Err(syntax()),
        };
        let option = match word.as_str() {
            "SUBSCRIBED" => ListReturn::Subscribed,
            "CHILDREN" => ListReturn::Children,
            "SPECIAL-USE" => ListReturn::SpecialUse,
            "STATUS" => {
                if lexer.expect(Kind::Sp).is_none() || lexer.expect(Kind::Open).is_none() {
                    return Err(syntax());
                }
                let mut items = Vec::new();
                for item in words_until_close(lexer)? {
                    let item =
                        status_item(&item).ok_or_else(|| format!("unknown STATUS item {item}"))?;
                    if !items.contains(&item) {
                        items.push(item);
                    }
                }
                if items.is_empty() {
                    return Err(syntax());
                }
                ListReturn::Status(items)
            }
            _ => return Err(format!("unknown LIST return option {word}")),
        };
        if !options.contains(&option) {
            options.push(option);
        }
    }
}

/// status_item - a STATUS item name in LIST's RETURN (STATUS (...)).
fn status_item(word: &str) -> Option<StatusItem> {
    Some(match word {
        "MESSAGES" => StatusItem::Messages,
        "RECENT" => StatusItem::Recent,
        "UIDNEXT" => StatusItem::UidNext,
        "UIDVALIDITY" => StatusItem::UidValidity,
        "UNSEEN" => StatusItem::Unseen,
        "DELETED" => StatusItem::Deleted,
        "SIZE" => StatusItem::Size,
        "HIGHESTMODSEQ" => StatusItem::HighestModSeq,
        _ => return None,
    })
}
