//! Tests of the keyword list: parsing, adding, locking.

use crate::tests::maildir;
use std::fs;
use std::time::Duration;

use super::*;
use crate::uidlock::DOTLOCK;

/// Lock timing that gives up quickly.
const QUICK: LockTiming = LockTiming {
    timeout: Duration::from_millis(200),
    stale_after: Duration::from_secs(120),
};

fn file_text(md: &Maildir) -> String {
    fs::read_to_string(md.path().join(KEYWORDS_FILE)).unwrap()
}

/// (letter, name) of every keyword, letters as chars.
fn listed(kw: &Keywords) -> Vec<(char, String)> {
    kw.iter()
        .map(|(l, n)| (char::from(l), n.to_owned()))
        .collect()
}

/// A parse case: what it shows, the file's text, the (index, name) pairs.
type Case = (&'static str, &'static str, &'static [(usize, &'static str)]);

#[test]
fn lines_parse_tolerantly() {
    let cases: &[Case] = &[
        ("empty", "", &[]),
        (
            "dovecot",
            "0 $Forwarded\n1 Junk\n",
            &[(0, "$Forwarded"), (1, "Junk")],
        ),
        ("gaps and order", "3 d\n0 a\n", &[(0, "a"), (3, "d")]),
        (
            "crlf, no final newline",
            "0 a\r\n1 b",
            &[(0, "a"), (1, "b")],
        ),
        ("blank lines", "\n0 a\n\n", &[(0, "a")]),
        ("index 26 is too big", "26 z\n25 y\n", &[(25, "y")]),
        (
            "not a number",
            "x a\n-1 b\n+1 c\n 1 d\n0 ok\n",
            &[(0, "ok")],
        ),
        ("no name", "0\n1 \n2 b\n", &[(2, "b")]),
        (
            "names that are not atoms",
            "0 a b\n1 \\Seen\n2 (x\n3 x]\n4 caf\u{e9}\n5 fine\n",
            &[(5, "fine")],
        ),
        ("repeated index", "0 a\n0 b\n1 c\n", &[(0, "a"), (1, "c")]),
        (
            "repeated name, any case",
            "0 Junk\n1 junk\n2 x\n",
            &[(0, "Junk"), (2, "x")],
        ),
    ];
    for &(what, text, want) in cases {
        let names = parse(text.as_bytes(), Path::new("test"));
        let got: Vec<(usize, &str)> = names
            .iter()
            .enumerate()
            .filter_map(|(i, n)| Some((i, n.as_deref()?)))
            .collect();
        assert_eq!(got, want, "{what}");
    }
    // Not UTF-8: that line only.
    let names = parse(b"0 \xff\n1 ok\n", Path::new("test"));
    assert_eq!(names[1].as_deref(), Some("ok"));
    assert_eq!(names[0], None);
}

#[test]
fn names_are_validated_as_atoms() {
    for good in [
        "Junk",
        "$Forwarded",
        "NonJunk",
        "a",
        "x.y-z_1",
        "!#&'+,/:;<=>?@[^`|}~",
    ] {
        assert!(is_valid_keyword(good), "{good}");
    }
    let long = "k".repeat(MAX_KEYWORD_LEN + 1);
    for bad in [
        "",
        "a b",
        "(a",
        "a)",
        "{1}",
        "a%",
        "a*",
        "\"a\"",
        "\\Seen",
        "a]",
        "tab\t",
        "caf\u{e9}",
        "del\u{7f}",
        &long,
    ] {
        assert!(!is_valid_keyword(bad), "{bad:?}");
    }
    assert!(is_valid_keyword(&"k".repeat(MAX_KEYWORD_LEN)));
    let (_dir, md) = maildir();
    let mut kw = Keywords::load(&md).unwrap();
    for create in [false, true] {
        let err = kw.letter_for("a b", create).unwrap_err();
        assert!(matches!(err, Error::InvalidKeyword { .. }), "{err}");
        assert!(!err.is_temporary());
    }
    assert!(!md.path().join(KEYWORDS_FILE).exists());
}

#[test]
fn keywords_are_added_in_dovecot_format_and_read_back() {
    let (_dir, md) = maildir();
    let mut kw = Keywords::load(&md).unwrap();
    assert_eq!(kw.iter().count(), 0);
    assert_eq!(kw.letter_for("Junk", false).unwrap(), None);
    assert!(!md.path().join(KEYWORDS_FILE).exists());
    assert_eq!(kw.letter_for("$Forwarded", true).unwrap(), Some(b'a'));
    assert_eq!(kw.letter_for("Junk", true).unwrap(), Some(b'b'));
    // Case does not matter, and the first spelling stays.
    assert_eq!(kw.letter_for("JUNK", true).unwrap(), Some(b'b'));
    assert_eq!(kw.letter_for("$forwarded", false).unwrap(), Some(b'a'));
    assert_eq!(file_text(&md), "0 $Forwarded\n1 Junk\n");
    assert_eq!(kw.name(b'a'), Some("$Forwarded"));
    assert_eq!(kw.name(b'b'), Some("Junk"));
    assert_eq!(kw.name(b'c'), None);
    assert_eq!(kw.name(b'A'), None);
    assert_eq!(kw.name(0), None);

    let again = Keywords::load(&md).unwrap();
    assert_eq!(
        listed(&again),
        [('a', "$Forwarded".to_owned()), ('b', "Junk".to_owned())]
    );
    // Nothing left behind but the list itself.
    let mut names: Vec<String> = fs::read_dir(md.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    assert_eq!(names, ["cur", KEYWORDS_FILE, "new", "tmp"]);
}

#[test]
fn the_lowest_free_letter_is_taken_and_other_lines_kept() {
    let (_dir, md) = maildir();
    fs::write(md.path().join(KEYWORDS_FILE), "1 b\n3 d\nbroken line\n").unwrap();
    let mut kw = Keywords::load(&md).unwrap();
    assert_eq!(kw.letter_for("new1", true).unwrap(), Some(b'a'));
    assert_eq!(kw.letter_for("new2", true).unwrap(), Some(b'c'));
    assert_eq!(kw.letter_for("new3", true).unwrap(), Some(b'e'));
    assert_eq!(file_text(&md), "0 new1\n1 b\n2 new2\n3 d\n4 new3\n");
}

#[test]
fn other_sessions_additions_are_seen() {
    let (_dir, md) = maildir();
    let mut one = Keywords::load(&md).unwrap();
    let mut two = Keywords::load(&md).unwrap();
    assert_eq!(one.letter_for("first", true).unwrap(), Some(b'a'));
    // `two` has not read it yet, but finds it on a miss instead of
    // giving it a second letter.
    assert_eq!(two.name(b'a'), None);
    assert_eq!(two.letter_for("first", false).unwrap(), Some(b'a'));
    assert_eq!(two.letter_for("second", true).unwrap(), Some(b'b'));
    // And `one`, whose copy is stale, adds after it, not over it.
    fs::write(md.path().join(KEYWORDS_FILE), "0 first\n1 second\n").unwrap();
    assert_eq!(one.letter_for("third", true).unwrap(), Some(b'c'));
    assert_eq!(file_text(&md), "0 first\n1 second\n2 third\n");
    assert_eq!(one.name(b'b'), Some("second"));
    two.refresh().unwrap();
    assert_eq!(two.name(b'c'), Some("third"));
}

#[test]
fn twenty_six_keywords_fill_the_folder() {
    let (_dir, md) = maildir();
    let mut kw = Keywords::load(&md).unwrap();
    for i in 0u8..26 {
        assert!(!kw.is_full());
        assert_eq!(
            kw.letter_for(&format!("k{i}"), true).unwrap(),
            Some(b'a' + i)
        );
    }
    assert!(kw.is_full());
    assert_eq!(kw.letter_for("one-too-many", true).unwrap(), None);
    assert_eq!(kw.letter_for("K25", true).unwrap(), Some(b'z'));
    assert_eq!(Keywords::load(&md).unwrap().iter().count(), 26);
}

#[test]
fn adding_waits_for_the_uid_list_lock() {
    let (_dir, md) = maildir();
    // A live holder (this process) of Dovecot's dot-lock.
    let host = nix::unistd::gethostname().unwrap();
    fs::write(
        md.path().join(DOTLOCK),
        format!("{}:{}", std::process::id(), host.to_str().unwrap()),
    )
    .unwrap();
    let mut kw = Keywords::load_with(&md, QUICK).unwrap();
    let err = kw.letter_for("Junk", true).unwrap_err();
    assert!(matches!(err, Error::LockTimeout { .. }), "{err}");
    assert!(err.is_temporary());
    assert!(!md.path().join(KEYWORDS_FILE).exists());
    // Looking up needs no lock.
    assert_eq!(kw.letter_for("Junk", false).unwrap(), None);
    fs::remove_file(md.path().join(DOTLOCK)).unwrap();
    assert_eq!(kw.letter_for("Junk", true).unwrap(), Some(b'a'));
}

#[test]
fn a_symlinked_or_oversized_list_is_refused() {
    let (dir, md) = maildir();
    let target = dir.path().join("elsewhere");
    fs::write(&target, "0 a\n").unwrap();
    std::os::unix::fs::symlink(&target, md.path().join(KEYWORDS_FILE)).unwrap();
    assert!(matches!(
        Keywords::load(&md).unwrap_err(),
        Error::Symlink { .. }
    ));
    fs::remove_file(md.path().join(KEYWORDS_FILE)).unwrap();
    let big = vec![b'\n'; usize::try_from(MAX_FILE_SIZE).unwrap() + 1];
    fs::write(md.path().join(KEYWORDS_FILE), big).unwrap();
    assert!(Keywords::load(&md).is_err());
}

proptest::proptest! {
    #[test]
    fn any_bytes_parse_without_panicking(data in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..300)) {
        let names = parse(&data, Path::new("test"));
        let text = to_bytes(&names);
        proptest::prop_assert_eq!(parse(&text, Path::new("test")), names);
    }
}
