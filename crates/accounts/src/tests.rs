//! Tests of the whole crate through [`Accounts`] and [`Directory`], with
//! real files in a temporary configuration directory.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use nix::unistd::User;

use crate::password::{Scheme, cheap_hash, probe};
use crate::*;

/// A configuration directory with `users`, `aliases` and extra files;
/// `{dir}` in any text stands for the directory.
struct Fixture {
    dir: tempfile::TempDir,
    main_cf: String,
}

impl Fixture {
    fn new(users: &str, aliases: &str) -> Fixture {
        let fixture = Fixture {
            dir: tempfile::tempdir().unwrap(),
            main_cf: String::new(),
        };
        fixture.write("users", users);
        fixture.write("aliases", aliases);
        fixture
    }

    fn with_main_cf(mut self, extra: &str) -> Fixture {
        self.main_cf = extra.to_owned();
        self
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn write(&self, name: &str, text: &str) {
        let text = text.replace("{dir}", &self.dir.path().display().to_string());
        fs::write(self.path(name), text).unwrap();
    }

    fn params(&self) -> config::Params {
        let main_cf = format!(
            "myhostname = mail.example.com\n\
             mydestination = $myhostname, localhost, Example.COM\n\
             virtual_mailbox_domains = virtual.org, other.net\n\
             virtual_mailbox_base = /var/vmail\n\
             alias_maps = hash:$config_directory/aliases\n\
             recipient_delimiter = +\n\
             {}\n",
            self.main_cf
        );
        config::Config::parse(self.dir.path(), &main_cf, "")
            .unwrap()
            .params
    }

    fn accounts(&self) -> Accounts {
        Accounts::load(&self.params()).unwrap()
    }
}

fn vmail(local: &str, domain: &str, extension: Option<&str>) -> Mailbox {
    Mailbox {
        address: format!("{local}@{domain}"),
        kind: MailboxKind::Virtual,
        maildir: PathBuf::from(format!("/var/vmail/{domain}/{local}/")),
        uid: None,
        gid: None,
        extension: extension.map(str::to_owned),
        quota_bytes: None,
    }
}

fn sys(name: &str, domain: &str, extension: Option<&str>) -> Mailbox {
    let user = User::from_name(name).unwrap().unwrap();
    Mailbox {
        address: format!("{name}@{domain}"),
        kind: MailboxKind::System,
        maildir: user.dir.join("Maildir").join(""),
        uid: Some(user.uid.as_raw()),
        gid: Some(user.gid.as_raw()),
        extension: extension.map(str::to_owned),
        quota_bytes: None,
    }
}

fn alias(targets: Vec<Target>) -> Resolution {
    Resolution::Alias(Expansion {
        targets,
        owner: None,
        errors: Vec::new(),
    })
}

const USERS: &str = "\
alice@virtual.org:{PLAIN}a
Bob@Virtual.ORG:{PLAIN}b:2000:2001
carol@other.net:{PLAIN}c
sales@virtual.org:{PLAIN}s
";

const ALIASES: &str = "\
staff: alice@virtual.org, bob@virtual.org
sales@virtual.org: alice@virtual.org
info@example.com: daemon
info: root
news: daemon
news+urgent: root
carol: root
";

#[test]
fn resolution_of_each_kind() {
    let fixture = Fixture::new(USERS, ALIASES);
    let accounts = fixture.accounts();
    assert!(accounts.problems().is_empty(), "{:?}", accounts.problems());
    let mut bob = vmail("bob", "virtual.org", None);
    bob.uid = Some(2000);
    bob.gid = Some(2001);
    let m = Target::Mailbox;
    let cases: Vec<(&str, &str, Resolution)> = vec![
        (
            "virtual user",
            "alice@virtual.org",
            Resolution::Mailbox(vmail("alice", "virtual.org", None)),
        ),
        (
            "virtual user, any case",
            "ALICE@Virtual.ORG",
            Resolution::Mailbox(vmail("alice", "virtual.org", None)),
        ),
        (
            "virtual user with uid and gid, capitals in file",
            "bob@virtual.org",
            Resolution::Mailbox(bob.clone()),
        ),
        (
            "virtual user with extension",
            "alice+news@virtual.org",
            Resolution::Mailbox(vmail("alice", "virtual.org", Some("news"))),
        ),
        (
            "virtual user, other domain",
            "carol@other.net",
            Resolution::Mailbox(vmail("carol", "other.net", None)),
        ),
        ("virtual unknown", "zed@virtual.org", Resolution::Unknown),
        (
            "bare alias does not apply to a virtual domain",
            "carol@virtual.org",
            Resolution::Unknown,
        ),
        (
            "full-address alias beats the user",
            "sales@virtual.org",
            alias(vec![m(vmail("alice", "virtual.org", None))]),
        ),
        (
            "full-address alias through extension",
            "sales+q3@virtual.org",
            alias(vec![m(vmail("alice", "virtual.org", None))]),
        ),
        (
            "full-address alias in its local domain",
            "info@example.com",
            alias(vec![m(sys("daemon", "example.com", None))]),
        ),
        (
            "bare alias in another local domain",
            "info@localhost",
            alias(vec![m(sys("root", "localhost", None))]),
        ),
        (
            "bare alias",
            "staff@localhost",
            alias(vec![m(vmail("alice", "virtual.org", None)), m(bob.clone())]),
        ),
        (
            "bare alias, any local domain and case",
            "STAFF@Mail.Example.COM",
            alias(vec![m(vmail("alice", "virtual.org", None)), m(bob.clone())]),
        ),
        (
            "alias with extension is tried first",
            "news+urgent@localhost",
            alias(vec![m(sys("root", "localhost", None))]),
        ),
        (
            "alias without extension next",
            "news+other@localhost",
            alias(vec![m(sys("daemon", "localhost", None))]),
        ),
        (
            "system user",
            "daemon@localhost",
            Resolution::Mailbox(sys("daemon", "localhost", None)),
        ),
        (
            "system user, any case",
            "DAEMON@LOCALHOST",
            Resolution::Mailbox(sys("daemon", "localhost", None)),
        ),
        (
            "system user with extension",
            "daemon+lists@example.com",
            Resolution::Mailbox(sys("daemon", "example.com", Some("lists"))),
        ),
        (
            "bare name is local to myhostname",
            "daemon",
            Resolution::Mailbox(sys("daemon", "mail.example.com", None)),
        ),
        (
            "postmaster falls back to root",
            "postmaster@localhost",
            Resolution::Mailbox(sys("root", "localhost", None)),
        ),
        (
            "bare postmaster",
            "Postmaster",
            Resolution::Mailbox(sys("root", "mail.example.com", None)),
        ),
        (
            "virtual postmaster falls back to root",
            "postmaster@virtual.org",
            Resolution::Mailbox(sys("root", "mail.example.com", None)),
        ),
        (
            "remote",
            "someone@remote.example",
            Resolution::Remote {
                domain: "remote.example".into(),
            },
        ),
        (
            "remote, case and trailing dot",
            "Someone@Remote.Example.",
            Resolution::Remote {
                domain: "remote.example".into(),
            },
        ),
        ("unknown local", "nosuchuser@localhost", Resolution::Unknown),
        ("empty", "", Resolution::Unknown),
        ("no local part", "@localhost", Resolution::Unknown),
        ("no domain", "alice@", Resolution::Unknown),
        (
            "a command from the network is a name",
            "|/bin/sh@localhost",
            Resolution::Unknown,
        ),
        (
            "a quoted command from the network is a name",
            "\"|touch /tmp/owned\"@localhost",
            Resolution::Unknown,
        ),
        (
            "a file from the network is a name",
            "/etc/passwd@localhost",
            Resolution::Unknown,
        ),
        (
            "an include from the network is a name",
            ":include:/etc/passwd@localhost",
            Resolution::Unknown,
        ),
        (
            "a path in a virtual name",
            "../../etc@virtual.org",
            Resolution::Unknown,
        ),
        ("a bare command", "|/bin/sh", Resolution::Unknown),
    ];
    for (name, address, want) in cases {
        assert_eq!(accounts.resolve(address), want, "case {name}");
    }
}

#[test]
fn domain_classes() {
    let accounts = Fixture::new("", "").accounts();
    let cases = [
        ("myhostname", "mail.example.com", DomainClass::Local),
        ("listed, any case", "EXAMPLE.com", DomainClass::Local),
        ("localhost", "localhost", DomainClass::Local),
        ("virtual", "Virtual.Org", DomainClass::Virtual),
        ("virtual, trailing dot", "other.net.", DomainClass::Virtual),
        ("remote", "example.net", DomainClass::Remote),
        ("empty", "", DomainClass::Remote),
    ];
    for (name, domain, want) in cases {
        assert_eq!(accounts.domain_class(domain), want, "case {name}");
    }
}

#[test]
fn postmaster_alias_is_used_when_defined() {
    let fixture = Fixture::new(USERS, "postmaster: alice@virtual.org\n");
    let accounts = fixture.accounts();
    let want = alias(vec![Target::Mailbox(vmail("alice", "virtual.org", None))]);
    assert_eq!(accounts.resolve("postmaster@localhost"), want);
    assert_eq!(accounts.resolve("POSTMASTER@virtual.org"), want);
    assert_eq!(accounts.resolve("postmaster"), want);
}

#[test]
fn several_delimiter_characters() {
    let fixture = Fixture::new(USERS, "").with_main_cf("recipient_delimiter = +-");
    let accounts = fixture.accounts();
    let cases = [
        ("plus", "alice+x@virtual.org", Some("x")),
        ("minus", "alice-x@virtual.org", Some("x")),
        ("first delimiter wins", "alice-x+y@virtual.org", Some("x+y")),
    ];
    for (name, address, extension) in cases {
        assert_eq!(
            accounts.resolve(address),
            Resolution::Mailbox(vmail("alice", "virtual.org", extension)),
            "case {name}"
        );
    }
}

#[test]
fn no_delimiter_means_no_extension() {
    let fixture = Fixture::new(USERS, "").with_main_cf("recipient_delimiter =");
    let accounts = fixture.accounts();
    assert_eq!(accounts.resolve("alice+x@virtual.org"), Resolution::Unknown);
}

const EXPANSION_ALIASES: &str = "\
root: root, backup@remote.example
daemon: daemon@localhost, alice@virtual.org
nest1: nest2
nest2: nest3
nest3: alice@virtual.org
loop1: loop2
loop2: loop3
loop3: loop1
dup: alice@virtual.org, ALICE@Virtual.org, nest3, backup@remote.example, Backup@Remote.Example
diamond: t1, t2
t1: shared
t2: shared
shared: alice@virtual.org
staff: alice@virtual.org, \"|/usr/bin/logger -t staff, hi\", /var/log/staff.mbox, bob@remote.example,
       /var/log/staff.mbox
owner-staff: alice@virtual.org
inc: :include:{dir}/members
badinc: :include:{dir}/evil
missinginc: :include:{dir}/nope, alice@virtual.org
selfinc: :include:{dir}/self
ghost: nosuchuser, alice@virtual.org
listself: :include:{dir}/listself
sales@virtual.org: sales@virtual.org, bob@virtual.org
";

struct ExpansionCase {
    name: &'static str,
    address: &'static str,
    targets: Vec<Target>,
    owner: Option<&'static str>,
    errors: Vec<&'static str>,
}

#[test]
fn alias_expansion() {
    let fixture = Fixture::new(USERS, EXPANSION_ALIASES);
    fixture.write(
        "members",
        "# the list\nalice@virtual.org\n\nbob@virtual.org, ext@remote.example\n",
    );
    fixture.write(
        "evil",
        "\"|/bin/sh -c evil\"\n/etc/passwd\n:include:{dir}/evil2\nalice@virtual.org\n",
    );
    fixture.write("evil2", "|/bin/nested-evil\ncarol@other.net\n");
    fixture.write("self", ":include:{dir}/self\nalice@virtual.org\n");
    fixture.write("listself", "listself\n");
    let mut deep = String::new();
    for i in 0..105 {
        deep.push_str(&format!("deep{i}: deep{}\n", i + 1));
    }
    deep.push_str("deep105: alice@virtual.org\n");
    fixture.write("aliases", &format!("{EXPANSION_ALIASES}{deep}"));
    let accounts = fixture.accounts();
    assert!(accounts.problems().is_empty(), "{:?}", accounts.problems());

    let alice = || Target::Mailbox(vmail("alice", "virtual.org", None));
    let mut bob = vmail("bob", "virtual.org", None);
    bob.uid = Some(2000);
    bob.gid = Some(2001);
    let remote = |a: &str| Target::Remote(a.to_owned());
    let cases = vec![
        ExpansionCase {
            name: "self reference is the user's mailbox",
            address: "root@localhost",
            targets: vec![
                Target::Mailbox(sys("root", "localhost", None)),
                remote("backup@remote.example"),
            ],
            owner: None,
            errors: vec![],
        },
        ExpansionCase {
            name: "self reference by full address",
            address: "daemon@localhost",
            targets: vec![Target::Mailbox(sys("daemon", "localhost", None)), alice()],
            owner: None,
            errors: vec![],
        },
        ExpansionCase {
            name: "self reference of a full-address alias",
            address: "sales@virtual.org",
            targets: vec![
                Target::Mailbox(vmail("sales", "virtual.org", None)),
                Target::Mailbox(bob.clone()),
            ],
            owner: None,
            errors: vec![],
        },
        ExpansionCase {
            name: "nested",
            address: "nest1@localhost",
            targets: vec![alice()],
            owner: None,
            errors: vec![],
        },
        ExpansionCase {
            name: "loop",
            address: "loop1@localhost",
            targets: vec![],
            owner: None,
            errors: vec!["alias loop: loop1 -> loop2 -> loop3 -> loop1"],
        },
        ExpansionCase {
            name: "loop entered in the middle",
            address: "loop2@example.com",
            targets: vec![],
            owner: None,
            errors: vec!["alias loop: loop2 -> loop3 -> loop1 -> loop2"],
        },
        ExpansionCase {
            name: "too deep",
            address: "deep0@localhost",
            targets: vec![],
            owner: None,
            errors: vec!["nested more than 100 levels"],
        },
        ExpansionCase {
            name: "duplicates delivered once",
            address: "dup@localhost",
            targets: vec![alice(), remote("backup@remote.example")],
            owner: None,
            errors: vec![],
        },
        ExpansionCase {
            name: "diamond is not a loop",
            address: "diamond@localhost",
            targets: vec![alice()],
            owner: None,
            errors: vec![],
        },
        ExpansionCase {
            name: "commands, files and owner",
            address: "staff@localhost",
            targets: vec![
                alice(),
                Target::Command {
                    command: "/usr/bin/logger -t staff, hi".into(),
                    alias: "staff".into(),
                },
                Target::File {
                    path: "/var/log/staff.mbox".into(),
                    alias: "staff".into(),
                },
                remote("bob@remote.example"),
            ],
            owner: Some("owner-staff@localhost"),
            errors: vec![],
        },
        ExpansionCase {
            name: "owner in the domain asked for",
            address: "staff@example.com",
            targets: vec![],
            owner: Some("owner-staff@example.com"),
            errors: vec![],
        },
        ExpansionCase {
            name: "include",
            address: "inc@localhost",
            targets: vec![
                alice(),
                Target::Mailbox(bob.clone()),
                remote("ext@remote.example"),
            ],
            owner: None,
            errors: vec![],
        },
        ExpansionCase {
            name: "commands and files refused in includes, also nested",
            address: "badinc@localhost",
            targets: vec![Target::Mailbox(vmail("carol", "other.net", None)), alice()],
            owner: None,
            errors: vec![
                "|/bin/sh -c evil in :include:",
                "/etc/passwd in :include:",
                "|/bin/nested-evil in :include:",
            ],
        },
        ExpansionCase {
            name: "missing include",
            address: "missinginc@localhost",
            targets: vec![alice()],
            owner: None,
            errors: vec!["cannot read"],
        },
        ExpansionCase {
            name: "include loop",
            address: "selfinc@localhost",
            targets: vec![alice()],
            owner: None,
            errors: vec!["include loop"],
        },
        ExpansionCase {
            name: "list including its own name",
            address: "listself@localhost",
            targets: vec![],
            owner: None,
            errors: vec!["listself: no such user or alias"],
        },
        ExpansionCase {
            name: "unknown target",
            address: "ghost@localhost",
            targets: vec![alice()],
            owner: None,
            errors: vec!["nosuchuser: no such user or alias"],
        },
    ];
    for case in cases {
        let Resolution::Alias(expansion) = accounts.resolve(case.address) else {
            panic!("case {}: not an alias", case.name);
        };
        if case.name == "owner in the domain asked for" {
            assert_eq!(expansion.owner.as_deref(), case.owner, "case {}", case.name);
            continue;
        }
        assert_eq!(expansion.targets, case.targets, "case {}", case.name);
        assert_eq!(expansion.owner.as_deref(), case.owner, "case {}", case.name);
        assert_eq!(
            expansion.errors.len(),
            case.errors.len(),
            "case {}: {:?}",
            case.name,
            expansion.errors
        );
        for want in &case.errors {
            assert!(
                expansion.errors.iter().any(|e| e.contains(want)),
                "case {}: no error like {want:?} in {:?}",
                case.name,
                expansion.errors
            );
        }
    }
}

#[test]
fn bad_lines_are_skipped_and_reported() {
    let fixture = Fixture::new(
        "alice@virtual.org:{PLAIN}a\nbroken line\nbob@virtual.org:{NOPE}x\ncarol@other.net:{PLAIN}c\n",
        "staff: alice@virtual.org\nno colon here\nstaff: carol@other.net\n",
    );
    let accounts = fixture.accounts();
    assert!(matches!(
        accounts.resolve("alice@virtual.org"),
        Resolution::Mailbox(_)
    ));
    assert!(matches!(
        accounts.resolve("carol@other.net"),
        Resolution::Mailbox(_)
    ));
    assert_eq!(accounts.resolve("bob@virtual.org"), Resolution::Unknown);
    let problems: Vec<String> = accounts
        .problems()
        .iter()
        .map(ToString::to_string)
        .collect();
    let users = fixture.path("users").display().to_string();
    let aliases = fixture.path("aliases").display().to_string();
    assert_eq!(problems.len(), 4, "{problems:#?}");
    assert!(
        problems[0].starts_with(&format!("{users}:2: ")),
        "{problems:#?}"
    );
    assert!(
        problems[1].starts_with(&format!("{users}:3: ")),
        "{problems:#?}"
    );
    assert!(
        problems[2].starts_with(&format!("{aliases}:2: ")),
        "{problems:#?}"
    );
    assert!(
        problems[3].starts_with(&format!("{aliases}:3: ")),
        "{problems:#?}"
    );
    assert_eq!(accounts.problems()[3].severity, Severity::Warning);
}

#[test]
fn missing_files_are_empty_and_unreadable_ones_are_errors() {
    let fixture = Fixture::new("", "");
    fs::remove_file(fixture.path("users")).unwrap();
    fs::remove_file(fixture.path("aliases")).unwrap();
    let accounts = fixture.accounts();
    assert_eq!(accounts.counts(), (0, 0));
    assert!(matches!(
        accounts.resolve("postmaster@localhost"),
        Resolution::Mailbox(_)
    ));

    fs::create_dir(fixture.path("users")).unwrap();
    let err = Accounts::load(&fixture.params()).unwrap_err();
    assert!(
        matches!(&err, Error::Read { path, .. } if path == &fixture.path("users")),
        "{err:?}"
    );
    assert!(Directory::open(&fixture.params()).is_err());
    fs::remove_dir(fixture.path("users")).unwrap();

    std::os::unix::fs::symlink(fixture.path("nowhere"), fixture.path("aliases")).unwrap();
    let err = Accounts::load(&fixture.params()).unwrap_err();
    assert!(
        matches!(&err, Error::Read { path, .. } if path == &fixture.path("aliases")),
        "{err:?}"
    );
}

#[test]
fn unsupported_lookup_tables_are_errors() {
    let cases = [
        (
            "mysql users",
            "virtual_user_maps = mysql:/etc/postern/mysql.cf",
            "virtual_user_maps",
        ),
        (
            "bare users path",
            "virtual_user_maps = /etc/postern/users",
            "virtual_user_maps",
        ),
        (
            "ldap aliases",
            "alias_maps = ldap:/etc/postern/ldap.cf",
            "alias_maps",
        ),
    ];
    for (name, line, param) in cases {
        let fixture = Fixture::new("", "").with_main_cf(line);
        let err = Accounts::load(&fixture.params()).unwrap_err();
        assert!(
            matches!(&err, Error::UnsupportedMap { param: p, .. } if *p == param),
            "case {name}: {err:?}"
        );
    }
    let fixture = Fixture::new("", "root: alice\n").with_main_cf(
        "alias_maps = lmdb:$config_directory/aliases, texthash:$config_directory/more, aliases",
    );
    assert_eq!(fixture.accounts().counts(), (0, 1));
}

#[test]
fn authentication() {
    let users = format!(
        "alice@virtual.org:{}\nbob@virtual.org:{}\ncarol@virtual.org:\ndave@virtual.org:{{PLAIN}}dave-pw\n",
        cheap_hash(Scheme::Sha512Crypt, b"alice-pw"),
        cheap_hash(Scheme::Argon2id, b"bob-pw"),
    );
    let accounts = Fixture::new(&users, "").accounts();
    let ok = |user: &str| AuthOutcome::Ok { user: user.into() };
    let cases: &[(&str, &str, &[u8], AuthOutcome)] = &[
        (
            "right password",
            "alice@virtual.org",
            b"alice-pw",
            ok("alice@virtual.org"),
        ),
        (
            "login in any case",
            "Alice@VIRTUAL.org",
            b"alice-pw",
            ok("alice@virtual.org"),
        ),
        (
            "other scheme",
            "bob@virtual.org",
            b"bob-pw",
            ok("bob@virtual.org"),
        ),
        (
            "plain",
            "dave@virtual.org",
            b"dave-pw",
            ok("dave@virtual.org"),
        ),
        (
            "wrong password",
            "alice@virtual.org",
            b"alice-pw2",
            AuthOutcome::Failed,
        ),
        (
            "password is case-sensitive",
            "alice@virtual.org",
            b"ALICE-PW",
            AuthOutcome::Failed,
        ),
        (
            "empty password",
            "alice@virtual.org",
            b"",
            AuthOutcome::Failed,
        ),
        (
            "unknown user",
            "zed@virtual.org",
            b"alice-pw",
            AuthOutcome::Failed,
        ),
        (
            "no password field: no login",
            "carol@virtual.org",
            b"",
            AuthOutcome::Failed,
        ),
        ("bare name", "alice", b"alice-pw", AuthOutcome::Failed),
        ("system user", "root", b"", AuthOutcome::Failed),
    ];
    for (name, login, password, want) in cases {
        assert_eq!(&accounts.authenticate(login, password), want, "case {name}");
    }
}

#[test]
fn unknown_user_costs_the_same_hashing_as_a_wrong_password() {
    // The first entry sets the cost: SHA512-CRYPT, 1000 rounds.
    let users = format!(
        "alice@virtual.org:{}\nbob@virtual.org:{}\ncarol@virtual.org:\n",
        cheap_hash(Scheme::Sha512Crypt, b"alice-pw"),
        cheap_hash(Scheme::BlfCrypt, b"bob-pw"),
    );
    let accounts = Fixture::new(&users, "").accounts();
    let runs = |login: &str, password: &[u8]| {
        let _ = probe::take();
        let outcome = accounts.authenticate(login, password);
        (outcome, probe::take())
    };
    let (outcome, wrong) = runs("alice@virtual.org", b"guess");
    assert_eq!(outcome, AuthOutcome::Failed);
    assert_eq!(wrong, ["Sha512 rounds=1000"]);
    let (outcome, right) = runs("alice@virtual.org", b"alice-pw");
    assert!(matches!(outcome, AuthOutcome::Ok { .. }));
    assert_eq!(right, wrong);
    for login in ["nobody@virtual.org", "x", "", "carol@virtual.org"] {
        let (outcome, unknown) = runs(login, b"guess");
        assert_eq!(outcome, AuthOutcome::Failed, "{login:?}");
        assert_eq!(unknown, wrong, "{login:?}: same hash, same cost, once");
    }

    // With an Argon2 first entry, the dummy is Argon2 with its parameters.
    let users = format!(
        "bob@virtual.org:{}\n",
        cheap_hash(Scheme::Argon2id, b"bob-pw")
    );
    let accounts = Fixture::new(&users, "").accounts();
    let _ = probe::take();
    accounts.authenticate("bob@virtual.org", b"guess");
    let wrong = probe::take();
    accounts.authenticate("nobody@virtual.org", b"guess");
    assert_eq!(probe::take(), wrong);
    assert_eq!(wrong, ["Argon2 $argon2id$v=19$m=64,t=1,p=1"]);

    // No users at all: a fixed SHA512-CRYPT dummy, still one hash run.
    let accounts = Fixture::new("", "").accounts();
    let _ = probe::take();
    accounts.authenticate("nobody@virtual.org", b"guess");
    assert_eq!(probe::take(), ["Sha512 rounds=5000"]);
}

/// Sets `path`'s modification time `seconds` into the future, so that a
/// rewrite within the same clock tick is still seen as a change.
fn bump_mtime(path: &Path, seconds: u64) {
    let file = fs::File::options().write(true).open(path).unwrap();
    file.set_modified(SystemTime::now() + Duration::from_secs(seconds))
        .unwrap();
}

#[test]
fn directory_reloads_changed_files_at_most_once_per_second() {
    let fixture = Fixture::new("alice@virtual.org:{PLAIN}a\n", "staff: alice@virtual.org\n");
    let directory = Directory::open(&fixture.params()).unwrap();
    let t0 = Instant::now();
    let first = directory.current_at(t0);
    assert_eq!(first.counts(), (1, 1));

    fixture.write(
        "users",
        "alice@virtual.org:{PLAIN}a\ndave@virtual.org:{PLAIN}d\n",
    );
    bump_mtime(&fixture.path("users"), 10);
    // Checked at most once per second: not yet.
    assert!(Arc::ptr_eq(&directory.current_at(t0), &first));
    let second = directory.current_at(t0 + Duration::from_secs(2));
    assert_eq!(second.counts(), (2, 1));
    assert!(matches!(
        second.resolve("dave@virtual.org"),
        Resolution::Mailbox(_)
    ));
    // Nothing changed since: the same version.
    assert!(Arc::ptr_eq(
        &directory.current_at(t0 + Duration::from_secs(4)),
        &second
    ));
    // An old Arc still sees its own version.
    assert_eq!(first.resolve("dave@virtual.org"), Resolution::Unknown);

    // The aliases file changes too (an atomic replace: new inode).
    fs::write(
        fixture.path("aliases.new"),
        "staff: dave@virtual.org\nroot: alice@virtual.org\n",
    )
    .unwrap();
    fs::rename(fixture.path("aliases.new"), fixture.path("aliases")).unwrap();
    let third = directory.current_at(t0 + Duration::from_secs(6));
    assert_eq!(third.counts(), (2, 2));
}

#[test]
fn directory_keeps_the_last_good_version_when_a_file_breaks() {
    let fixture = Fixture::new("alice@virtual.org:{PLAIN}a\n", "staff: alice@virtual.org\n");
    let directory = Directory::open(&fixture.params()).unwrap();
    let t0 = Instant::now();
    let good = directory.current_at(t0);

    // The users file becomes a directory: reading it fails.
    fs::remove_file(fixture.path("users")).unwrap();
    fs::create_dir(fixture.path("users")).unwrap();
    let after = directory.current_at(t0 + Duration::from_secs(2));
    assert!(Arc::ptr_eq(&after, &good), "last good version kept");
    assert!(matches!(
        after.resolve("alice@virtual.org"),
        Resolution::Mailbox(_)
    ));
    let err = directory.reload().unwrap_err();
    assert!(
        matches!(&err, Error::Read { path, .. } if path == &fixture.path("users")),
        "{err:?}"
    );

    // Fixed: the next check reads it.
    fs::remove_dir(fixture.path("users")).unwrap();
    fixture.write("users", "bob@virtual.org:{PLAIN}b\n");
    let fixed = directory.current_at(t0 + Duration::from_secs(4));
    assert!(matches!(
        fixed.resolve("bob@virtual.org"),
        Resolution::Mailbox(_)
    ));
    assert_eq!(fixed.resolve("alice@virtual.org"), Resolution::Unknown);

    // The aliases file becomes a dangling symbolic link: kept again.
    fs::remove_file(fixture.path("aliases")).unwrap();
    std::os::unix::fs::symlink(fixture.path("gone"), fixture.path("aliases")).unwrap();
    let after = directory.current_at(t0 + Duration::from_secs(6));
    assert!(Arc::ptr_eq(&after, &fixed));
    assert!(matches!(
        after.resolve("staff@localhost"),
        Resolution::Alias(_)
    ));

    // A file that is simply removed is an empty one (not an error).
    fs::remove_file(fixture.path("aliases")).unwrap();
    let removed = directory.current_at(t0 + Duration::from_secs(8));
    assert_eq!(removed.resolve("staff@localhost"), Resolution::Unknown);
}

#[test]
fn reload_reads_at_once_and_reports_problems_again() {
    let fixture = Fixture::new("alice@virtual.org:{PLAIN}a\n", "");
    let directory = Directory::open(&fixture.params()).unwrap();
    fixture.write("users", "alice@virtual.org:{PLAIN}a\nbad line\n");
    let reloaded = directory.reload().unwrap();
    assert_eq!(reloaded.problems().len(), 1);
    assert!(Arc::ptr_eq(&directory.current(), &reloaded));
}

#[test]
fn directory_is_send_and_sync() {
    fn shared<T: Send + Sync>() {}
    shared::<Directory>();
    shared::<Accounts>();
}

#[test]
fn quota_from_the_users_file() {
    let entry = |extra: &[(&str, &str)]| UserEntry {
        name: "a@b".into(),
        password: String::new(),
        uid: None,
        gid: None,
        gecos: String::new(),
        home: None,
        shell: String::new(),
        extra: extra
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
        line: 1,
    };
    type Extra<'a> = &'a [(&'a str, &'a str)];
    let cases: &[(Extra<'_>, Option<u64>)] = &[
        (&[], None),
        (&[("userdb_quota_rule", "*:storage=100M")], Some(100 << 20)),
        (&[("quota_rule", "*:storage=2G")], Some(2 << 30)),
        (&[("userdb_quota_rule", "*:storage=1024")], Some(1024 << 10)),
        (&[("userdb_quota_rule", "*:storage=500B")], Some(500)),
        (&[("userdb_quota_rule", "*:storage=none")], Some(0)),
        (&[("userdb_quota_rule", "Trash:storage=+10M")], None),
        (&[("userdb_quota_rule", "*:storage=10X")], None),
        (&[("userdb_mail", "maildir:~")], None),
    ];
    for (extra, want) in cases {
        assert_eq!(crate::resolve::quota_of(&entry(extra)), *want, "{extra:?}");
    }
}

#[test]
fn include_files_users_could_plant_are_refused() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("list");
    std::fs::write(&good, "alice\n").unwrap();
    std::fs::set_permissions(&good, std::fs::Permissions::from_mode(0o644)).unwrap();
    assert!(crate::fileio::read_trusted(&good, 1024).is_ok());

    let link = dir.path().join("link");
    std::os::unix::fs::symlink(&good, &link).unwrap();
    assert!(
        crate::fileio::read_trusted(&link, 1024).is_err(),
        "symlink followed"
    );

    let open = dir.path().join("open");
    std::fs::write(&open, "alice\n").unwrap();
    std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o666)).unwrap();
    assert!(
        crate::fileio::read_trusted(&open, 1024).is_err(),
        "world-writable read"
    );

    assert!(
        crate::fileio::read_trusted(dir.path(), 1024).is_err(),
        "directory read"
    );
}

#[test]
fn mail_reader_logins() {
    // "alice" is also an alias (forwarding a copy elsewhere): her login still
    // reads her own mailbox.
    let users = "alice@virtual.org:{PLAIN}alice-pw\n";
    let fixture = Fixture::new(
        users,
        "alice@virtual.org: alice@virtual.org, eve@elsewhere.test\n",
    );
    let directory = Directory::open(&fixture.params()).unwrap();
    let throttle = AuthThrottle::new(Duration::from_millis(1), 2, Duration::from_secs(60));
    let ip: std::net::IpAddr = "192.0.2.1".parse().unwrap();
    match directory.log_in(&throttle, ip, "Alice@virtual.org", b"alice-pw") {
        Login::Ok { user, maildir } => {
            assert_eq!(user, "alice@virtual.org");
            assert_eq!(maildir, vmail("alice", "virtual.org", None).maildir);
        }
        other => panic!("{other:?}"),
    }
    for _ in 0..2 {
        assert!(matches!(
            directory.log_in(&throttle, ip, "alice@virtual.org", b"wrong"),
            Login::Failed { .. }
        ));
    }
    // Throttled now: even the right password is not checked.
    assert_eq!(
        directory.log_in(&throttle, ip, "alice@virtual.org", b"alice-pw"),
        Login::Refused
    );
}
