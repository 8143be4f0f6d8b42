//! flags - message flags as Maildir keeps them: the letters after `:2,`.
//!
//! A message file in `cur/` is named `BASE:2,LETTERS`. The Maildir
//! specification gives the upper-case letters D (draft), F (flagged),
//! P (passed, i.e. resent or forwarded), R (replied), S (seen) and
//! T (trashed, IMAP's `\Deleted`); Dovecot adds the lower-case letters
//! `a`..`z` as IMAP keywords, by index into the folder's
//! `dovecot-keywords` list (`a` is keyword 0). Letters are written in
//! ASCII order, so upper case first.
//!
//! [`Flags`] holds any set of ASCII letters, so an upper-case letter this
//! crate gives no meaning to survives a rename. Other characters in the
//! suffix are not flags and are dropped.

use std::fmt;

/// The text between the base name and the flag letters.
pub(crate) const INFO_PREFIX: &str = ":2,";

/// Flag - one of the Maildir specification's flags.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Flag {
    /// `D`: a draft (IMAP `\Draft`).
    Draft,
    /// `F`: flagged for attention (IMAP `\Flagged`).
    Flagged,
    /// `P`: passed on, resent or forwarded (no IMAP system flag; Dovecot
    /// shows it as the keyword `$Forwarded`).
    Passed,
    /// `R`: replied to (IMAP `\Answered`).
    Replied,
    /// `S`: seen (IMAP `\Seen`).
    Seen,
    /// `T`: trashed, to be removed (IMAP `\Deleted`).
    Trashed,
}

impl Flag {
    /// Every flag, in the order of their letters.
    pub const ALL: [Flag; 6] = [
        Flag::Draft,
        Flag::Flagged,
        Flag::Passed,
        Flag::Replied,
        Flag::Seen,
        Flag::Trashed,
    ];

    /// letter - the flag's letter in a file name.
    pub fn letter(self) -> char {
        match self {
            Flag::Draft => 'D',
            Flag::Flagged => 'F',
            Flag::Passed => 'P',
            Flag::Replied => 'R',
            Flag::Seen => 'S',
            Flag::Trashed => 'T',
        }
    }

    /// from_letter - the flag a letter stands for, if any.
    pub fn from_letter(letter: char) -> Option<Flag> {
        Flag::ALL.into_iter().find(|f| f.letter() == letter)
    }
}

/// Flags - the set of letters in a message file name's `:2,` suffix:
/// [`Flag`]s, keyword indexes, and upper-case letters kept as found.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Flags {
    /// Bit `n` for the upper-case letter `A + n`, bit `26 + n` for `a + n`.
    letters: u64,
}

impl Flags {
    /// How many keywords a file name can carry (`a`..`z`).
    pub const MAX_KEYWORDS: u8 = 26;

    /// empty - no flags.
    pub const fn empty() -> Flags {
        Flags { letters: 0 }
    }

    /// parse - the flags in `letters`, the text after `:2,`. Characters
    /// that are not ASCII letters are ignored.
    pub fn parse(letters: &str) -> Flags {
        let mut flags = Flags::empty();
        for c in letters.chars() {
            if let Some(bit) = bit_of(c) {
                flags.letters |= 1 << bit;
            }
        }
        flags
    }

    /// from_file_name - the flags in a message file name: the letters
    /// after `:2,`, or none if the name has no such suffix.
    pub fn from_file_name(name: &str) -> Flags {
        match name.split_once(':') {
            Some((_, info)) => info
                .strip_prefix("2,")
                .map(Flags::parse)
                .unwrap_or_default(),
            None => Flags::empty(),
        }
    }

    /// bits - the set as a number, for a file that saves it
    /// ([`Flags::from_bits`] reads it back).
    pub(crate) fn bits(self) -> u64 {
        self.letters
    }

    /// from_bits - the set saved by [`Flags::bits`]; None if it has bits
    /// no letter uses.
    pub(crate) fn from_bits(bits: u64) -> Option<Flags> {
        (bits >> 52 == 0).then_some(Flags { letters: bits })
    }

    /// is_empty - whether no letter is set.
    pub fn is_empty(self) -> bool {
        self.letters == 0
    }

    /// contains - whether `flag` is set.
    pub fn contains(self, flag: Flag) -> bool {
        self.has_letter(flag.letter())
    }

    /// insert - set `flag`.
    pub fn insert(&mut self, flag: Flag) {
        self.set_letter(flag.letter(), true);
    }

    /// remove - clear `flag`.
    pub fn remove(&mut self, flag: Flag) {
        self.set_letter(flag.letter(), false);
    }

    /// with - these flags and `flag`.
    #[must_use]
    pub fn with(mut self, flag: Flag) -> Flags {
        self.insert(flag);
        self
    }

    /// without - these flags except `flag`.
    #[must_use]
    pub fn without(mut self, flag: Flag) -> Flags {
        self.remove(flag);
        self
    }

    /// has_keyword - whether keyword `index` (0 for `a`) is set.
    pub fn has_keyword(self, index: u8) -> bool {
        keyword_letter(index).is_some_and(|c| self.has_letter(c))
    }

    /// insert_keyword - set keyword `index` (0 for `a`); false, and no
    /// change, if it is not below [`Flags::MAX_KEYWORDS`].
    pub fn insert_keyword(&mut self, index: u8) -> bool {
        match keyword_letter(index) {
            Some(c) => {
                self.set_letter(c, true);
                true
            }
            None => false,
        }
    }

    /// remove_keyword - clear keyword `index` (0 for `a`).
    pub fn remove_keyword(&mut self, index: u8) {
        if let Some(c) = keyword_letter(index) {
            self.set_letter(c, false);
        }
    }

    /// keywords - the indexes of the keywords set, ascending.
    pub fn keywords(self) -> impl Iterator<Item = u8> {
        (0..Flags::MAX_KEYWORDS).filter(move |&i| self.has_keyword(i))
    }

    /// has_keyword_letter - whether the keyword with this letter
    /// (`b'a'`..=`b'z'`, as [`Keywords`](crate::Keywords) names them) is set.
    pub fn has_keyword_letter(self, letter: u8) -> bool {
        letter.is_ascii_lowercase() && self.has_letter(char::from(letter))
    }

    /// insert_keyword_letter - set the keyword with this letter
    /// (`b'a'`..=`b'z'`); false, and no change, for any other byte.
    pub fn insert_keyword_letter(&mut self, letter: u8) -> bool {
        if letter.is_ascii_lowercase() {
            self.set_letter(char::from(letter), true);
            true
        } else {
            false
        }
    }

    /// remove_keyword_letter - clear the keyword with this letter
    /// (`b'a'`..=`b'z'`).
    pub fn remove_keyword_letter(&mut self, letter: u8) {
        if letter.is_ascii_lowercase() {
            self.set_letter(char::from(letter), false);
        }
    }

    /// keyword_letters - the letters (`b'a'`..=`b'z'`) of the keywords
    /// set, ascending.
    pub fn keyword_letters(self) -> impl Iterator<Item = u8> {
        (b'a'..=b'z').filter(move |&l| self.has_keyword_letter(l))
    }

    /// has_letter - whether the letter `c` is set.
    fn has_letter(self, c: char) -> bool {
        bit_of(c).is_some_and(|bit| self.letters & (1 << bit) != 0)
    }

    /// set_letter - set or clear the letter `c`.
    fn set_letter(&mut self, c: char, on: bool) {
        if let Some(bit) = bit_of(c) {
            if on {
                self.letters |= 1 << bit;
            } else {
                self.letters &= !(1 << bit);
            }
        }
    }
}

/// Writes the letters in ASCII order, as they go after `:2,`.
impl fmt::Display for Flags {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for c in ('A'..='Z').chain('a'..='z') {
            if self.has_letter(c) {
                write!(f, "{c}")?;
            }
        }
        Ok(())
    }
}

/// bit_of - the bit of [`Flags::letters`] for an ASCII letter.
fn bit_of(c: char) -> Option<u32> {
    let c = u32::from(c);
    match c {
        0x41..=0x5a => Some(c - 0x41),
        0x61..=0x7a => Some(c - 0x61 + 26),
        _ => None,
    }
}

/// keyword_letter - the letter of keyword `index`.
fn keyword_letter(index: u8) -> Option<char> {
    if index < Flags::MAX_KEYWORDS {
        Some(char::from(b'a' + index))
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_parse() {
        let cases: &[(&str, &str)] = &[
            ("1.M2P3.host,S=5", ""),
            ("1.M2P3.host,S=5:2,", ""),
            ("1.M2P3.host,S=5:2,S", "S"),
            ("1.M2P3.host:2,TSRPFD", "DFPRST"),
            ("1.M2P3.host:2,Sac", "Sac"),
            ("1.M2P3.host:2,caS", "Sac"),
            ("1.M2P3.host:2,S,x1!", "Sx"),
            ("1.M2P3.host:2,SZ", "SZ"),
            // Experimental semantics (":1,") carry no flags.
            ("1.M2P3.host:1,S", ""),
            ("1.M2P3.host:", ""),
        ];
        for &(name, want) in cases {
            assert_eq!(Flags::from_file_name(name).to_string(), want, "{name}");
        }
    }

    #[test]
    fn flags_and_keywords_set_and_clear() {
        let mut flags = Flags::empty();
        assert!(flags.is_empty());
        flags.insert(Flag::Seen);
        flags.insert(Flag::Draft);
        assert!(flags.contains(Flag::Seen));
        assert!(!flags.contains(Flag::Trashed));
        assert_eq!(flags.to_string(), "DS");
        flags.remove(Flag::Draft);
        assert_eq!(flags.to_string(), "S");
        assert!(flags.insert_keyword(0));
        assert!(flags.insert_keyword(25));
        assert!(!flags.insert_keyword(26));
        assert_eq!(flags.keywords().collect::<Vec<_>>(), vec![0, 25]);
        assert_eq!(flags.to_string(), "Saz");
        assert_eq!(flags.keyword_letters().collect::<Vec<_>>(), b"az");
        assert!(flags.has_keyword_letter(b'z'));
        assert!(!flags.has_keyword_letter(b'Z'));
        assert!(!flags.insert_keyword_letter(b'S'));
        assert!(flags.insert_keyword_letter(b'c'));
        flags.remove_keyword_letter(b'c');
        flags.remove_keyword_letter(b'S');
        assert_eq!(flags.to_string(), "Saz");
        flags.remove_keyword(0);
        assert!(!flags.has_keyword(0));
        assert!(!flags.has_keyword(200));
        assert_eq!(
            flags.with(Flag::Replied).without(Flag::Seen).to_string(),
            "Rz"
        );
    }

    proptest::proptest! {
        #[test]
        fn display_then_parse_is_identity(info in "[A-Za-z0-9,]{0,40}") {
            let flags = Flags::parse(&info);
            proptest::prop_assert_eq!(Flags::parse(&flags.to_string()), flags);
            let shown = flags.to_string();
            let mut sorted: Vec<char> = shown.chars().collect();
            sorted.sort_unstable();
            sorted.dedup();
            proptest::prop_assert_eq!(sorted.into_iter().collect::<String>(), shown);
        }
    }

    #[test]
    fn letters_round_trip() {
        for flag in Flag::ALL {
            assert_eq!(Flag::from_letter(flag.letter()), Some(flag));
        }
        assert_eq!(Flag::from_letter('a'), None);
        assert_eq!(Flag::from_letter('X'), None);
    }
}
