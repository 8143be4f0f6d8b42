use super::*;
use std::fs;

use AliasTarget::{Address, Command, File, Include, Local};

fn parse_str(text: &str) -> AliasesFile {
    parse(Path::new("/etc/aliases"), text.as_bytes())
}

fn targets_of(file: &AliasesFile, name: &str) -> Vec<AliasTarget> {
    file.entries
        .get(name)
        .map(|e| e.targets.clone())
        .unwrap_or_else(|| panic!("no alias {name}: {:?}", file.problems))
}

#[test]
fn entries_good() {
    let cases: Vec<(&str, &str, &str, Vec<AliasTarget>)> = vec![
        (
            "local name",
            "root: alice",
            "root",
            vec![Local("alice".into())],
        ),
        (
            "no space after colon",
            "root:alice",
            "root",
            vec![Local("alice".into())],
        ),
        (
            "several targets",
            "staff: alice, bob@example.org,carol",
            "staff",
            vec![
                Local("alice".into()),
                Address("bob@example.org".into()),
                Local("carol".into()),
            ],
        ),
        (
            "name folded",
            "Staff: alice",
            "staff",
            vec![Local("alice".into())],
        ),
        (
            "full address name",
            "Sales@Example.org: alice",
            "sales@example.org",
            vec![Local("alice".into())],
        ),
        (
            "quoted name",
            "\"odd name\": alice",
            "odd name",
            vec![Local("alice".into())],
        ),
        (
            "command",
            "prog: |/usr/bin/prog",
            "prog",
            vec![Command("/usr/bin/prog".into())],
        ),
        (
            "unquoted command with args",
            "prog: |/usr/bin/prog -a b",
            "prog",
            vec![Command("/usr/bin/prog -a b".into())],
        ),
        (
            "quoted command with comma",
            "prog: \"|/usr/bin/prog --to a,b\", alice",
            "prog",
            vec![
                Command("/usr/bin/prog --to a,b".into()),
                Local("alice".into()),
            ],
        ),
        (
            "escaped quote in command",
            r#"prog: "|/bin/echo \"hi\"""#,
            "prog",
            vec![Command(r#"/bin/echo "hi""#.into())],
        ),
        (
            "file",
            "archive: /var/mail/archive",
            "archive",
            vec![File("/var/mail/archive".into())],
        ),
        (
            "maildir",
            "archive: /var/mail/archive/",
            "archive",
            vec![File("/var/mail/archive/".into())],
        ),
        (
            "quoted file",
            "archive: \"/var/mail/my archive\"",
            "archive",
            vec![File("/var/mail/my archive".into())],
        ),
        (
            "include",
            "list: :include:/etc/postern/list",
            "list",
            vec![Include("/etc/postern/list".into())],
        ),
        (
            "include any case",
            "list: :INCLUDE: /etc/postern/list",
            "list",
            vec![Include("/etc/postern/list".into())],
        ),
        (
            "quoted local part",
            "x: \"john doe\"@example.org",
            "x",
            vec![Address("\"john doe\"@example.org".into())],
        ),
        (
            "empty items ignored",
            "x: a,, b ,",
            "x",
            vec![Local("a".into()), Local("b".into())],
        ),
        (
            "trailing comment-like text is a name",
            "x: a",
            "x",
            vec![Local("a".into())],
        ),
    ];
    for (name, text, key, want) in cases {
        let file = parse_str(text);
        assert!(file.problems.is_empty(), "case {name}: {:?}", file.problems);
        assert_eq!(targets_of(&file, key), want, "case {name}");
    }
}

#[test]
fn entries_bad_are_skipped_and_the_rest_used() {
    let cases: &[(&str, &str, &str)] = &[
        ("no colon", "root alice", "no ':'"),
        ("empty name", ": alice", "empty alias name"),
        ("space in name", "my list: alice", "white space"),
        ("no targets", "root:", "no targets"),
        ("only commas", "root: , ,", "no targets"),
        ("unterminated quote", "root: \"|cmd", "unterminated quote"),
        (
            "unterminated quoted name",
            "\"root: alice",
            "unterminated quote",
        ),
        ("empty command", "root: |", "empty command"),
        ("relative include", "root: :include:list", "absolute path"),
        ("bad address", "root: a b@example.org", "bad address"),
        ("empty domain", "root: alice@", "bad address"),
        (
            "space in local name",
            "root: \"alice smith\"",
            "bad local name",
        ),
        ("control character", "root: ali\u{1}ce", "control character"),
    ];
    for (name, line, want) in cases {
        let text = format!("{line}\nzed: alice\n");
        let file = parse_str(&text);
        assert_eq!(file.entries.len(), 1, "case {name}: {:?}", file.entries);
        assert!(file.entries.contains_key("zed"), "case {name}");
        assert_eq!(file.problems.len(), 1, "case {name}");
        let problem = file.problems[0].to_string();
        assert!(
            problem.starts_with("/etc/aliases:1: "),
            "case {name}: {problem}"
        );
        assert!(problem.contains(want), "case {name}: {problem}");
    }
}

#[test]
fn continuation_lines_and_comments() {
    let text = "\
# header comment
staff: alice,
    bob,
\tcarol
# a comment inside does not end the entry
  , dave

root: admin
   # indented comment
list: \"|/usr/bin/prog a,
  b\"
";
    let file = parse_str(text);
    assert!(file.problems.is_empty(), "{:?}", file.problems);
    assert_eq!(
        targets_of(&file, "staff"),
        ["alice", "bob", "carol", "dave"].map(|n| Local(n.into()))
    );
    assert_eq!(file.entries["staff"].line, 2);
    assert_eq!(file.entries["root"].line, 8);
    assert_eq!(
        targets_of(&file, "list"),
        [Command("/usr/bin/prog a, b".into())]
    );
}

#[test]
fn continuation_without_entry_and_duplicates() {
    let file = parse_str("  orphan\nroot: a\nROOT: b\nx: y\n");
    assert_eq!(targets_of(&file, "root"), [Local("a".into())], "first wins");
    let problems: Vec<(usize, Severity)> =
        file.problems.iter().map(|p| (p.line, p.severity)).collect();
    assert_eq!(problems, [(1, Severity::Error), (3, Severity::Warning)]);
    assert!(file.problems[1].message.contains("first defined at line 2"));
}

#[test]
fn crlf_and_non_utf8() {
    let mut text = b"root: alice\r\n".to_vec();
    text.extend_from_slice(b"bad: \xff\r\nok: bob\r\n");
    let file = parse(Path::new("aliases"), &text);
    assert_eq!(targets_of(&file, "root"), [Local("alice".into())]);
    assert_eq!(targets_of(&file, "ok"), [Local("bob".into())]);
    assert_eq!(file.problems.len(), 1);
}

#[test]
fn include_files() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("list");
    fs::write(
        &path,
        "# members\nalice\n\nbob@example.org, carol\n\"|cmd\"\n/tmp/file\nbad address@\n",
    )
    .unwrap();
    let included = read_include(&path).unwrap();
    assert_eq!(
        included.targets,
        [
            Local("alice".into()),
            Address("bob@example.org".into()),
            Local("carol".into()),
            Command("cmd".into()),
            File("/tmp/file".into()),
        ]
    );
    assert_eq!(included.errors.len(), 1);
    assert!(included.errors[0].contains(":7: "), "{:?}", included.errors);
    let missing = read_include(&dir.path().join("missing")).unwrap_err();
    assert!(missing.contains("cannot read"), "{missing}");
    let big = dir.path().join("big");
    fs::write(
        &big,
        vec![b'a'; usize::try_from(MAX_INCLUDE_BYTES).unwrap() + 1],
    )
    .unwrap();
    assert!(read_include(&big).unwrap_err().contains("larger than"));
}

#[test]
fn check_reports_entries_problems_and_includes() {
    let dir = tempfile::tempdir().unwrap();
    let list = dir.path().join("list");
    fs::write(&list, "alice\n|/bin/evil\n").unwrap();
    let aliases = dir.path().join("aliases");
    fs::write(
        &aliases,
        format!(
            "root: alice\nbroken\nlist: :include:{}\ngone: :include:{}/missing\nroot: bob\n",
            list.display(),
            dir.path().display()
        ),
    )
    .unwrap();
    let report = check(&aliases).unwrap();
    assert_eq!(report.entries, 3);
    assert!(report.has_errors());
    let lines: Vec<(usize, Severity)> = report
        .problems
        .iter()
        .map(|p| (p.line, p.severity))
        .collect();
    assert_eq!(
        lines,
        [
            (2, Severity::Error),
            (3, Severity::Warning),
            (4, Severity::Warning),
            (5, Severity::Warning)
        ],
        "{:#?}",
        report.problems
    );
    assert!(report.problems[1].message.contains("refused"));
    assert!(report.problems[2].message.contains("cannot read"));
    let err = check(&dir.path().join("nonexistent")).unwrap_err();
    assert!(matches!(err, Error::Read { .. }), "{err:?}");
    fs::write(&aliases, "root: alice\n").unwrap();
    let report = check(&aliases).unwrap();
    assert_eq!(
        (report.entries, report.problems.len(), report.has_errors()),
        (1, 0, false)
    );
}

mod properties {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn parser_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            let _ = parse(Path::new("aliases"), &bytes);
        }

        #[test]
        fn parser_never_panics_on_aliases_text(text in "[a-z@:.,|/\"\\\\ \t\r\n#-]{0,300}") {
            let _ = parse(Path::new("aliases"), text.as_bytes());
            let _ = parse_targets(&text);
        }

        #[test]
        fn unicode_never_panics(text in "\\PC{0,200}") {
            let _ = parse(Path::new("aliases"), text.as_bytes());
            let _ = parse_targets(&text);
        }
    }
}
