use super::*;
use crate::error::Severity;
use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};

const SHA: &str = "{SHA512-CRYPT}$6$salt$hash";
const BCRYPT: &str = "{BLF-CRYPT}$2y$05$L/1tLwC7LjrQQYGk1xtRKeFgoaHNklSRHoA.h36mQps16D6yTPVN2";

#[test]
fn lines_good_and_bad() {
    struct Case {
        name: &'static str,
        line: String,
        /// `Some(user)`: parsed as that user; `None`: skipped with a problem
        /// containing `problem`.
        user: Option<&'static str>,
        problem: &'static str,
    }
    let good = |name, line: &str, user| Case {
        name,
        line: line.to_owned(),
        user: Some(user),
        problem: "",
    };
    let bad = |name, line: &str, problem| Case {
        name,
        line: line.to_owned(),
        user: None,
        problem,
    };
    let cases = [
        good(
            "user and password only",
            &format!("alice@example.org:{SHA}"),
            "alice@example.org",
        ),
        good(
            "all fields",
            &format!("bob@example.org:{BCRYPT}:5000:5001:Bob:/home/bob:/bin/false:quota=1G"),
            "bob@example.org",
        ),
        good(
            "empty optional fields",
            &format!("carol@example.org:{SHA}::::::"),
            "carol@example.org",
        ),
        good("empty password", "dave@example.org:", "dave@example.org"),
        good(
            "no-prefix crypt",
            "erin@example.org:$6$salt$hash",
            "erin@example.org",
        ),
        good(
            "plain",
            "frank@example.org:{PLAIN}secret",
            "frank@example.org",
        ),
        good(
            "capitals kept",
            &format!("Grace@Example.ORG:{SHA}"),
            "Grace@Example.ORG",
        ),
        good(
            "crlf line end",
            &format!("heidi@example.org:{SHA}\r"),
            "heidi@example.org",
        ),
        bad("no colon", "alice@example.org", "no ':'"),
        bad("empty user", &format!(":{SHA}"), "empty user name"),
        bad("bare user", &format!("alice:{SHA}"), "no @domain"),
        bad(
            "white space in user",
            &format!(" alice@example.org:{SHA}"),
            "white space",
        ),
        bad("slash in user", &format!("../x@example.org:{SHA}"), "'/'"),
        bad(
            "unknown scheme",
            "alice@example.org:{SSHA}abc",
            "unknown password scheme {SSHA}",
        ),
        bad(
            "dovecot md5-crypt",
            "alice@example.org:{MD5-CRYPT}$1$abc$def",
            "{MD5-CRYPT}",
        ),
        bad("des crypt", "alice@example.org:abJnggxhB/yWI", "DES"),
        bad(
            "malformed sha",
            "alice@example.org:{SHA512-CRYPT}nonsense",
            "malformed",
        ),
        bad(
            "bad uid",
            &format!("alice@example.org:{SHA}:abc:1"),
            "bad uid \"abc\"",
        ),
        bad(
            "negative gid",
            &format!("alice@example.org:{SHA}:1:-1"),
            "bad gid",
        ),
        bad(
            "uid too large",
            &format!("alice@example.org:{SHA}:4294967296"),
            "bad uid",
        ),
    ];
    for case in &cases {
        let text = format!("{}\nzed@example.org:{SHA}\n", case.line);
        let parsed = parse(Path::new("/etc/postern/users"), text.as_bytes());
        let names: Vec<&str> = parsed.entries.iter().map(|e| e.name.as_str()).collect();
        match case.user {
            Some(user) => {
                assert_eq!(names, [user, "zed@example.org"], "case {}", case.name);
                assert!(
                    parsed.problems.is_empty(),
                    "case {}: {:?}",
                    case.name,
                    parsed.problems
                );
            }
            None => {
                assert_eq!(
                    names,
                    ["zed@example.org"],
                    "case {}: rest of file used",
                    case.name
                );
                assert_eq!(parsed.problems.len(), 1, "case {}", case.name);
                let problem = &parsed.problems[0];
                assert_eq!(problem.line, 1, "case {}", case.name);
                assert_eq!(problem.severity, Severity::Error);
                let text = problem.to_string();
                assert!(
                    text.starts_with("/etc/postern/users:1: "),
                    "case {}: {text}",
                    case.name
                );
                assert!(text.contains(case.problem), "case {}: {text}", case.name);
                let secret = case.line.split(':').nth(1).unwrap_or_default();
                if secret.len() > 8 {
                    let (_, digest) = secret.split_at(secret.len() - 6);
                    assert!(
                        !text.contains(digest),
                        "case {}: leaks the hash: {text}",
                        case.name
                    );
                }
            }
        }
    }
}

#[test]
fn fields_are_parsed() {
    let text = format!(
        "bob@example.org:{BCRYPT}:5000:5001:Bob B:/home/bob:/bin/false:quota=1G nopassword mail=maildir:~/M\n"
    );
    let parsed = parse(Path::new("users"), text.as_bytes());
    let bob = &parsed.entries[0];
    assert_eq!(bob.password, BCRYPT);
    assert_eq!((bob.uid, bob.gid), (Some(5000), Some(5001)));
    assert_eq!(bob.gecos, "Bob B");
    assert_eq!(bob.home.as_deref(), Some(Path::new("/home/bob")));
    assert_eq!(bob.shell, "/bin/false");
    let extra: Vec<(&str, &str)> = bob
        .extra
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    assert_eq!(
        extra,
        [("quota", "1G"), ("nopassword", ""), ("mail", "maildir:~/M")]
    );
    assert_eq!(bob.line, 1);
    assert!(
        !format!("{bob:?}").contains("$2y$"),
        "Debug must not show the hash"
    );
}

#[test]
fn comments_blank_lines_and_duplicates() {
    let text = format!(
        "# users\n\n   # indented comment\nalice@example.org:{SHA}\n\t\nALICE@example.org:{{PLAIN}}other\nbob@example.org:{SHA}"
    );
    let parsed = parse(Path::new("users"), text.as_bytes());
    let names: Vec<(&str, usize)> = parsed
        .entries
        .iter()
        .map(|e| (e.name.as_str(), e.line))
        .collect();
    assert_eq!(names, [("alice@example.org", 4), ("bob@example.org", 7)]);
    assert_eq!(parsed.entries[0].password, SHA, "first definition wins");
    assert_eq!(parsed.problems.len(), 1);
    let dup = &parsed.problems[0];
    assert_eq!((dup.line, dup.severity), (6, Severity::Warning));
    assert!(
        dup.message.contains("first defined at line 4"),
        "{}",
        dup.message
    );
}

#[test]
fn non_utf8_line_is_skipped() {
    let mut text = b"al\xffice@example.org:{PLAIN}x\n".to_vec();
    text.extend_from_slice(format!("bob@example.org:{SHA}\n").as_bytes());
    let parsed = parse(Path::new("users"), &text);
    assert_eq!(parsed.entries.len(), 1);
    assert!(parsed.problems[0].message.contains("UTF-8"));
}

#[test]
fn list_and_load_missing_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("users");
    assert!(list(&path).unwrap().is_empty());
    fs::write(&path, format!("a@x.org:{SHA}\nbad line\nb@x.org:{SHA}\n")).unwrap();
    let names: Vec<String> = list(&path).unwrap().into_iter().map(|e| e.name).collect();
    assert_eq!(names, ["a@x.org", "b@x.org"]);
    assert_eq!(load(&path).unwrap().problems.len(), 1);
}

const ORIGINAL: &str = "# Postern users\n\
# user@domain:password:uid:gid:gecos:home:shell:extra\n\
\n\
alice@example.org:{PLAIN}a:1000:1000::/home/alice::quota=1G\n\
   # an indented comment with trailing space \n\
Bob@Example.org:{PLAIN}b\r\n\
this line is broken but must be kept\n\
carol@example.org:{PLAIN}c";

fn users_file(text: &str) -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("users");
    fs::write(&path, text).unwrap();
    (dir, path)
}

fn no_temp_files_left(dir: &Path) {
    let names: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, ["users"], "only the users file may remain");
}

#[test]
fn add_appends_and_preserves_every_other_byte() {
    let (dir, path) = users_file(ORIGINAL);
    let inode = fs::metadata(&path).unwrap().ino();
    add(&path, "dave@example.org", SHA).unwrap();
    let text = fs::read_to_string(&path).unwrap();
    assert_eq!(text, format!("{ORIGINAL}\ndave@example.org:{SHA}\n"));
    assert_ne!(
        fs::metadata(&path).unwrap().ino(),
        inode,
        "replaced by rename"
    );
    no_temp_files_left(dir.path());
    let names: Vec<String> = list(&path).unwrap().into_iter().map(|e| e.name).collect();
    assert_eq!(
        names,
        [
            "alice@example.org",
            "Bob@Example.org",
            "carol@example.org",
            "dave@example.org"
        ]
    );
}

#[test]
fn add_refuses_duplicates_and_bad_input() {
    let (dir, path) = users_file(ORIGINAL);
    let cases: &[(&str, &str, &str)] = &[
        ("duplicate, other case", "bob@example.org", SHA),
        ("bare user", "dave", SHA),
        ("colon", "da:ve@example.org", SHA),
        ("space", "da ve@example.org", SHA),
        ("control", "dave\n@example.org", SHA),
        ("unknown scheme", "dave@example.org", "{SSHA}abc"),
        (
            "hash with newline",
            "dave@example.org",
            "{PLAIN}a\nevil@example.org:{PLAIN}x",
        ),
        ("hash with colon", "dave@example.org", "{PLAIN}a:0:0"),
    ];
    for (name, user, hash) in cases {
        let err = add(&path, user, hash).unwrap_err();
        let ok = match *name {
            "duplicate, other case" => matches!(err, Error::UserExists { .. }),
            "unknown scheme" | "hash with newline" | "hash with colon" => {
                matches!(err, Error::BadHash { .. })
            }
            _ => matches!(err, Error::BadUserName { .. }),
        };
        assert!(ok, "case {name}: {err:?}");
        assert_eq!(
            fs::read_to_string(&path).unwrap(),
            ORIGINAL,
            "case {name}: unchanged"
        );
    }
    no_temp_files_left(dir.path());
}

#[test]
fn add_creates_a_missing_file_with_mode_0640() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("users");
    add(&path, "alice@example.org", SHA).unwrap();
    assert_eq!(
        fs::read_to_string(&path).unwrap(),
        format!("alice@example.org:{SHA}\n")
    );
    assert_eq!(
        fs::metadata(&path).unwrap().permissions().mode() & 0o7777,
        0o640
    );
    no_temp_files_left(dir.path());
}

#[test]
fn set_password_changes_only_that_field() {
    let (dir, path) = users_file(ORIGINAL);
    set_password(&path, "ALICE@example.org", SHA).unwrap();
    set_password(&path, "bob@example.org", BCRYPT).unwrap();
    let want = ORIGINAL
        .replace(
            "alice@example.org:{PLAIN}a:1000",
            &format!("alice@example.org:{SHA}:1000"),
        )
        .replace(
            "Bob@Example.org:{PLAIN}b\r\n",
            &format!("Bob@Example.org:{BCRYPT}\r\n"),
        );
    assert_eq!(fs::read_to_string(&path).unwrap(), want);
    let err = set_password(&path, "nobody@example.org", SHA).unwrap_err();
    assert!(matches!(err, Error::UserNotFound { .. }), "{err:?}");
    let err = set_password(&path, "alice@example.org", "{NOPE}x").unwrap_err();
    assert!(matches!(err, Error::BadHash { .. }), "{err:?}");
    assert_eq!(fs::read_to_string(&path).unwrap(), want);
    no_temp_files_left(dir.path());
    let missing = dir.path().join("nonexistent");
    let err = set_password(&missing, "alice@example.org", SHA).unwrap_err();
    assert!(matches!(err, Error::UserNotFound { .. }), "{err:?}");
    assert!(!missing.exists(), "passwd must not create the file");
}

#[test]
fn delete_removes_the_user_and_keeps_the_rest() {
    let (dir, path) = users_file(&format!("{ORIGINAL}\nbob@example.org:{{PLAIN}}dup\n"));
    delete(&path, "BOB@example.org").unwrap();
    let want = ORIGINAL.replace("Bob@Example.org:{PLAIN}b\r\n", "");
    assert_eq!(fs::read_to_string(&path).unwrap(), format!("{want}\n"));
    let err = delete(&path, "bob@example.org").unwrap_err();
    assert!(matches!(err, Error::UserNotFound { .. }), "{err:?}");
    // A commented-out user is not a user.
    fs::write(&path, "#erin@example.org:{PLAIN}x\n").unwrap();
    let err = delete(&path, "erin@example.org").unwrap_err();
    assert!(matches!(err, Error::UserNotFound { .. }), "{err:?}");
    no_temp_files_left(dir.path());
}

#[test]
fn edits_keep_mode_and_owner() {
    let (_dir, path) = users_file(ORIGINAL);
    fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).unwrap();
    let is_root = nix::unistd::geteuid().is_root();
    if is_root {
        std::os::unix::fs::chown(&path, Some(4321), Some(4322)).unwrap();
    }
    add(&path, "dave@example.org", SHA).unwrap();
    let meta = fs::metadata(&path).unwrap();
    assert_eq!(meta.permissions().mode() & 0o7777, 0o600);
    if is_root {
        assert_eq!((meta.uid(), meta.gid()), (4321, 4322));
    }
}

#[test]
fn concurrent_editors_do_not_lose_changes() {
    let (_dir, path) = users_file("# shared\n");
    let threads: Vec<_> = (0..8)
        .map(|i| {
            let path = path.clone();
            std::thread::spawn(move || {
                for j in 0..5 {
                    add(&path, &format!("user{i}-{j}@example.org"), SHA).unwrap();
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let users = list(&path).unwrap();
    assert_eq!(users.len(), 40);
    assert!(fs::read_to_string(&path).unwrap().starts_with("# shared\n"));
}

mod properties {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn parser_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            let _ = parse(Path::new("users"), &bytes);
        }

        #[test]
        fn parser_never_panics_on_text(text in "[a-z@:.{}$/0-9# \t\r\n=-]{0,300}") {
            let parsed = parse(Path::new("users"), text.as_bytes());
            // Every non-comment, non-blank line is either an entry or a problem.
            let lines = text
                .split('\n')
                .filter(|l| {
                    let t = l.trim_start();
                    !t.trim_end_matches('\r').is_empty() && !t.trim().is_empty() && !t.starts_with('#')
                })
                .count();
            prop_assert_eq!(parsed.entries.len() + parsed.problems.len(), lines);
        }
    }
}
