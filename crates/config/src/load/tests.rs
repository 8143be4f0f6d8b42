use super::*;
use proptest::prelude::*;
use std::net::IpAddr;
use std::time::Duration;

const DIR: &str = "/etc/postern";
const HOST: &str = "host.example.com";

fn build(main: &str, master: &str) -> Result<Config, Error> {
    Config::build(Path::new(DIR), main, master, || Ok(HOST.to_owned()))
}

fn config(main: &str) -> Config {
    build(main, "").unwrap_or_else(|e| panic!("{e}"))
}

fn err(main: &str, master: &str) -> String {
    build(main, master).unwrap_err().to_string()
}

fn warnings(c: &Config) -> Vec<String> {
    c.warnings.iter().map(ToString::to_string).collect()
}

#[test]
fn expansion_forms() {
    let cases: &[(&str, &str, &str)] = &[
        ("bare", "a = x\nb = <$a>", "<x>"),
        ("braces", "a = x\nb = ${a}y", "xy"),
        ("parens", "a = x\nb = $(a)y", "xy"),
        ("bare_stops_at_punctuation", "a = x\nb = $a.y", "x.y"),
        ("if_set_non_empty", "a = x\nb = ${a?yes}", "yes"),
        ("if_set_empty", "a =\nb = ${a?yes}", ""),
        ("if_set_undefined", "b = ${a?yes}", ""),
        ("if_empty_empty", "a =\nb = ${a:no}", "no"),
        ("if_empty_non_empty", "a = x\nb = ${a:no}", ""),
        ("if_empty_undefined", "b = $(a:no)", "no"),
        (
            "conditional_text_expanded",
            "a = x\nc = z\nb = ${a?[$c]}",
            "[z]",
        ),
        ("nested_conditionals", "a = x\nb = ${a?${c:none}}", "none"),
        ("dollar_dollar", "b = a$$b", "a$b"),
        ("dollar_dollar_before_name", "a = x\nb = $$a", "$a"),
        ("lone_dollar", "b = cost $ 5$", "cost $ 5$"),
        ("chain", "a = $b\nb = $c\nc = end", "end"),
        ("forward_reference", "b = $a\na = later", "later"),
        ("later_definition_wins", "a = 1\nb = $a\na = 2", "2"),
        ("default_value", "b = $mail_owner", "postern"),
        ("computed_default", "b = $mydomain", "example.com"),
        (
            "main_cf_changes_default_users",
            "myhostname = mx.example.org\nb = $myorigin",
            "mx.example.org",
        ),
        (
            "config_directory",
            "b = $config_directory/x",
            "/etc/postern/x",
        ),
    ];
    for (name, main, want) in cases {
        let c = build(main, "").unwrap_or_else(|e| panic!("case {name}: {e}"));
        assert_eq!(c.value("b").as_deref(), Some(*want), "case {name}");
    }
}

#[test]
fn continuation_and_comments_reach_the_value() {
    let c = config("# mine\nmydestination = $myhostname,\n    # inside\n    example.org\n\n");
    assert_eq!(c.params.mydestination, ["host.example.com", "example.org"]);
    assert_eq!(
        c.raw_value("mydestination"),
        Some("$myhostname, example.org")
    );
}

#[test]
fn cycles() {
    let cases: &[(&str, &str, &str)] = &[
        (
            "direct",
            "a = $a\nmyorigin = $a",
            "/etc/postern/main.cf:1: a: parameter expansion loop: a -> a",
        ),
        (
            "indirect",
            "x = 1\na = $b\nb = ${c}\nc = $(a)",
            "/etc/postern/main.cf:2: a: parameter expansion loop: a -> b -> c -> a",
        ),
        (
            "through_conditional",
            "a = ${b?x}\nb = $a",
            "/etc/postern/main.cf:1: a: parameter expansion loop: a -> b -> a",
        ),
        (
            "through_default",
            "myhostname = $myorigin",
            "/etc/postern/main.cf:1: myhostname: parameter expansion loop: myhostname -> myorigin -> myhostname",
        ),
    ];
    for (name, main, want) in cases {
        assert_eq!(err(main, ""), *want, "case {name}");
    }
    let Err(Error::Cycle { chain, .. }) = build("a = $b\nb = $a", "") else {
        panic!("expected a cycle");
    };
    assert_eq!(chain, ["a", "b", "a"]);
}

#[test]
fn undefined_names_expand_to_nothing_with_a_warning() {
    let c = config("myorigin = x$nosuch.y\n\nrelayhost = $nosuch$nosuch");
    assert_eq!(c.params.myorigin, "x.y");
    assert_eq!(c.params.relayhost, "");
    assert_eq!(
        warnings(&c),
        [
            "/etc/postern/main.cf:1: undefined parameter $nosuch",
            "/etc/postern/main.cf:3: undefined parameter $nosuch",
        ]
    );
}

#[test]
fn unknown_parameters() {
    let cases: &[(&str, &str, &str, &[&str])] = &[
        ("known", "soft_bounce = no", "", &[]),
        (
            "unknown_unreferenced",
            "\nsoft_bounse = yes",
            "",
            &["/etc/postern/main.cf:2: unknown parameter soft_bounse"],
        ),
        (
            "referenced_from_main_cf",
            "helper = x\nmyorigin = $helper",
            "",
            &[],
        ),
        (
            "referenced_in_conditional",
            "helper = x\nmyorigin = ${helper?y}",
            "",
            &[],
        ),
        (
            "referenced_from_master_cf_arg",
            "helper = x",
            "smtp inet n - n - - smtpd $helper",
            &[],
        ),
        (
            "referenced_from_master_cf_override",
            "helper = x",
            "smtp inet n - n - - smtpd -o myorigin=$helper",
            &[],
        ),
        (
            "referenced_only_by_itself_in_unknown",
            "helper = $other\nother = x",
            "",
            &["/etc/postern/main.cf:1: unknown parameter helper"],
        ),
        (
            "config_directory_ignored",
            "config_directory = /elsewhere",
            "",
            &[
                "/etc/postern/main.cf:1: config_directory cannot be set in main.cf (it is the directory given with -c); ignored",
            ],
        ),
    ];
    for (name, main, master, want) in cases {
        let c = build(main, master).unwrap_or_else(|e| panic!("case {name}: {e}"));
        assert_eq!(warnings(&c), *want, "case {name}");
    }
}

#[test]
fn config_directory_is_the_load_directory() {
    let c = config("config_directory = /elsewhere");
    assert_eq!(c.params.config_directory, PathBuf::from(DIR));
    assert_eq!(c.value("config_directory").as_deref(), Some(DIR));
    assert!(!c.is_set("config_directory"));
    assert_eq!(c.main_cf_path(), PathBuf::from("/etc/postern/main.cf"));
    assert_eq!(c.master_cf_path(), PathBuf::from("/etc/postern/master.cf"));
}

#[test]
fn host_name_defaults() {
    let c = config("");
    assert_eq!(c.params.myhostname, HOST);
    assert_eq!(c.params.mydomain, "example.com");
    assert_eq!(c.params.myorigin, HOST);
    let c = config("myhostname = mail.example.net");
    assert_eq!(c.params.mydomain, "example.net");
    assert_eq!(
        c.params.mydestination,
        ["mail.example.net", "localhost.example.net", "localhost"]
    );
    let c = config("myhostname = solo");
    assert_eq!(c.params.mydomain, "localdomain");
}

#[test]
fn host_name_is_only_asked_for_when_needed() {
    let c = Config::build(Path::new(DIR), "myhostname = a.example", "", || {
        Err(Error::BadHostName {
            name: "x".to_owned(),
        })
    })
    .unwrap();
    assert_eq!(c.params.myhostname, "a.example");
    let e = Config::build(Path::new(DIR), "", "", || {
        Err(Error::BadHostName {
            name: "\"x\\xff\"".to_owned(),
        })
    })
    .unwrap_err();
    assert!(matches!(e, Error::BadHostName { .. }));
}

#[test]
fn value_and_is_set() {
    let c = config("myorigin = $mydomain\nhelper = $myorigin!\nmynetworks = 10.0.0.0/8");
    assert_eq!(c.value("myorigin").as_deref(), Some("example.com"));
    assert!(c.is_set("myorigin"));
    assert_eq!(c.raw_value("myorigin"), Some("$mydomain"));
    assert_eq!(c.value("helper").as_deref(), Some("example.com!"));
    assert_eq!(c.value("relayhost").as_deref(), Some(""));
    assert!(!c.is_set("relayhost"));
    assert_eq!(c.value("maximal_queue_lifetime").as_deref(), Some("5d"));
    assert_eq!(c.value("nosuch"), None);
    let entries: Vec<(&str, &str)> = c.main_cf_entries().collect();
    assert_eq!(
        entries,
        [
            ("helper", "$myorigin!"),
            ("mynetworks", "10.0.0.0/8"),
            ("myorigin", "$mydomain")
        ]
    );
}

#[test]
fn typed_values() {
    let c = config(
        "message_size_limit = 50m\nmaximal_queue_lifetime = 2\nbounce_queue_lifetime = 12h\n\
         queue_run_delay = 5\nsoft_bounce = YES\nmynetworks = 127.0.0.0/8, [::1]/128 192.0.2.1\n\
         daemon_directory = /usr/lib/postern\nmaillog_file = /var/log/postern.log\n\
         inet_protocols = ipv4\ninet_interfaces = 127.0.0.1, [::1]\nqueue_directory = /tmp/q",
    );
    let p = &c.params;
    assert_eq!(p.message_size_limit, 50 * 1024 * 1024);
    assert_eq!(p.maximal_queue_lifetime, Duration::from_secs(2 * 86400));
    assert_eq!(p.bounce_queue_lifetime, Duration::from_secs(12 * 3600));
    assert_eq!(p.queue_run_delay, Duration::from_secs(5));
    assert!(p.soft_bounce);
    assert_eq!(p.mynetworks.len(), 3);
    assert!(
        p.mynetworks
            .iter()
            .any(|n| n.contains(&"192.0.2.1".parse::<IpAddr>().unwrap()))
    );
    assert_eq!(p.daemon_directory, Some(PathBuf::from("/usr/lib/postern")));
    assert_eq!(p.maillog_file, Some(PathBuf::from("/var/log/postern.log")));
    assert_eq!(p.inet_protocols, ["ipv4"]);
    assert_eq!(p.inet_interfaces, ["127.0.0.1", "[::1]"]);
    assert_eq!(p.queue_directory, PathBuf::from("/tmp/q"));
}

#[test]
fn bad_values() {
    let cases: &[(&str, &str, &str)] = &[
        (
            "size",
            "\n\n\n\n\n\n\n\n\n\n\nmessage_size_limit = 10x",
            "/etc/postern/main.cf:12: message_size_limit: invalid size \"10x\"",
        ),
        (
            "bool",
            "soft_bounce = perhaps",
            "/etc/postern/main.cf:1: soft_bounce: invalid boolean \"perhaps\" (expected yes or no)",
        ),
        (
            "relative_path",
            "queue_directory = spool",
            "/etc/postern/main.cf:1: queue_directory: \"spool\" is not an absolute path",
        ),
        (
            "empty_path",
            "queue_directory =",
            "/etc/postern/main.cf:1: queue_directory: empty value; an absolute path is required",
        ),
        (
            "relative_optional_path",
            "maillog_file = log",
            "/etc/postern/main.cf:1: maillog_file: \"log\" is not an absolute path",
        ),
        (
            "path_bad_after_expansion",
            "base = var\nqueue_directory = $base/spool",
            "/etc/postern/main.cf:2: queue_directory: \"var/spool\" is not an absolute path",
        ),
        (
            "duration",
            "minimal_backoff_time = 5 minutes",
            "/etc/postern/main.cf:1: minimal_backoff_time: invalid time \"5 minutes\" (expected a number with an optional unit s, m, h, d or w)",
        ),
        (
            "cidr_host_bits",
            "mynetworks = 10.0.0.1/8",
            "/etc/postern/main.cf:1: mynetworks: invalid network \"10.0.0.1/8\": non-null host address bits; did you mean 10.0.0.0/8?",
        ),
        (
            "cidr_prefix_33",
            "mynetworks = 10.0.0.0/33",
            "/etc/postern/main.cf:1: mynetworks: invalid network \"10.0.0.0/33\": prefix length is longer than 32",
        ),
        (
            "cidr_prefix_129",
            "mynetworks = [::]/129",
            "/etc/postern/main.cf:1: mynetworks: invalid network \"[::]/129\": prefix length is longer than 128",
        ),
        (
            "protocols",
            "inet_protocols = ipx",
            "/etc/postern/main.cf:1: inet_protocols: invalid protocol \"ipx\" (expected all, ipv4 or ipv6)",
        ),
        (
            "unmatched_brace",
            "myorigin = ${mydomain",
            "/etc/postern/main.cf:1: myorigin: unmatched \"{\" after \"$\"",
        ),
        (
            "bad_value_in_unknown_user_parameter",
            "helper = ${x\nmyorigin = $helper",
            "/etc/postern/main.cf:1: helper: unmatched \"{\" after \"$\"",
        ),
        (
            "missing_equals",
            "myorigin example.com",
            "/etc/postern/main.cf:1: expected \"name = value\", got \"myorigin example.com\"",
        ),
    ];
    for (name, main, want) in cases {
        assert_eq!(err(main, ""), *want, "case {name}");
    }
}

#[test]
fn bad_value_display_is_exact() {
    let e = Error::BadValue {
        file: PathBuf::from("/etc/postern/main.cf"),
        line: 12,
        param: "message_size_limit".to_owned(),
        reason: "invalid size \"10x\"".to_owned(),
    };
    assert_eq!(
        e.to_string(),
        "/etc/postern/main.cf:12: message_size_limit: invalid size \"10x\""
    );
}

#[test]
fn expansion_limits() {
    // Defined top-down, so that nothing is memoized before the deep lookup.
    let mut deep = String::from("myorigin = $p150\n");
    for i in (1..=150).rev() {
        deep.push_str(&format!("p{i} = $p{}\n", i - 1));
    }
    deep.push_str("p0 = end\n");
    let e = err(&deep, "");
    assert!(e.contains("nested more than 100 levels deep"), "{e}");

    let mut wide = String::from("w0 = xxxxxxxxxxxxxxxx\n");
    for i in 1..=20 {
        wide.push_str(&format!("w{i} = $w{0}$w{0}\n", i - 1));
    }
    wide.push_str("myorigin = $w20\n");
    let e = err(&wide, "");
    assert!(
        e.contains("longer than 1048576 bytes after expansion"),
        "{e}"
    );

    let nested = format!(
        "myorigin = {}x{}",
        "${mydomain?".repeat(150),
        "}".repeat(150)
    );
    let e = err(&nested, "");
    assert!(e.contains("nested more than 100 levels deep"), "{e}");
}

#[test]
fn master_cf_args_are_expanded() {
    let c = build(
        "helper = two words",
        "smtp inet n - n - - smtpd -v $helper ${mail_owner} $$x -o myorigin=$mydomain\n\
         qmgr unix - - n - - qmgr $nosuch\n",
    )
    .unwrap();
    assert_eq!(c.services[0].args, ["-v", "two words", "postern", "$x"]);
    assert_eq!(
        c.services[0].overrides,
        [("myorigin".to_owned(), "$mydomain".to_owned())]
    );
    assert_eq!(c.services[1].args, [""]);
    assert_eq!(
        warnings(&c),
        ["/etc/postern/master.cf:2: undefined parameter $nosuch"]
    );
    assert_eq!(
        err("", "smtp inet n - n - - smtpd ${x"),
        "/etc/postern/master.cf:1: unmatched \"{\" after \"$\""
    );
}

#[test]
fn overrides() {
    let c = build(
        "myhostname = mx.example.com\nmyorigin = $myhostname\nhelper = base\n\
         relayhost = $helper",
        "smtp inet n - n - - smtpd\n\
         submission inet n - n - - smtpd -o myhostname=sub.example.net -o helper=over\n  \
         -o soft_bounce=yes -o soft_bounce=no -o message_size_limit=1k\n",
    )
    .unwrap();
    assert!(c.warnings.is_empty(), "{:?}", c.warnings);
    let (plain, w) = c.params_for(&c.services[0]).unwrap();
    assert!(w.is_empty());
    assert_eq!(plain, c.params);
    let (sub, w) = c.params_for(&c.services[1]).unwrap();
    assert!(w.is_empty());
    assert_eq!(sub.myhostname, "sub.example.net");
    assert_eq!(sub.myorigin, "sub.example.net");
    assert_eq!(sub.mydomain, "example.net");
    assert_eq!(sub.relayhost, "over");
    assert!(!sub.soft_bounce, "the last -o wins");
    assert_eq!(sub.message_size_limit, 1024);
    assert_eq!(
        c.params.myorigin, "mx.example.com",
        "main.cf view unchanged"
    );
}

#[test]
fn override_warnings() {
    let c = build(
        "helper = x\nmyorigin = $helper",
        "\nsmtp inet n - n - - smtpd -o smtpd_bogus=1 -o helper=y -o config_directory=/x\n  \
         -o relayhost=$nosuch\n",
    )
    .unwrap();
    let want = [
        "/etc/postern/master.cf:2: unknown parameter smtpd_bogus",
        "/etc/postern/master.cf:2: config_directory cannot be overridden with -o; ignored",
        "/etc/postern/master.cf:2: undefined parameter $nosuch",
    ];
    let (p, w) = c.params_for(&c.services[0]).unwrap();
    let w: Vec<String> = w.iter().map(ToString::to_string).collect();
    assert_eq!(w, want);
    assert_eq!(p.myorigin, "y");
    assert_eq!(p.config_directory, PathBuf::from(DIR));
    assert_eq!(warnings(&c), want, "load reports them too");
}

#[test]
fn bad_override_names_master_cf() {
    assert_eq!(
        err(
            "",
            "smtp inet n - n - - smtpd\n\nsubmission inet n - n - - smtpd -o message_size_limit=lots"
        ),
        "/etc/postern/master.cf:3: message_size_limit: invalid size \"lots\""
    );
    assert_eq!(
        err(
            "myorigin = $helper\nhelper = x",
            "smtp inet n - n - - smtpd -o helper=$myorigin"
        ),
        "/etc/postern/main.cf:1: myorigin: parameter expansion loop: myorigin -> helper -> myorigin"
    );
}

#[test]
fn warnings_are_sorted_main_cf_first() {
    let c = build(
        "a_unknown = 1\nmyorigin = $undef\n",
        "smtp inet n - y - - smtpd\n",
    )
    .unwrap();
    assert_eq!(
        warnings(&c),
        [
            "/etc/postern/main.cf:1: unknown parameter a_unknown",
            "/etc/postern/main.cf:2: undefined parameter $undef",
            "/etc/postern/master.cf:1: chroot is not supported; ignored",
        ]
    );
}

#[test]
fn repeated_warnings_are_reported_once() {
    let c = build(
        "",
        "smtp inet n - n - - smtpd $nosuch -o soft_bounce=no -o relayhost=$nosuch -o x_unknown=1\n",
    )
    .unwrap();
    assert_eq!(
        warnings(&c),
        [
            "/etc/postern/master.cf:1: undefined parameter $nosuch",
            "/etc/postern/master.cf:1: unknown parameter x_unknown",
        ]
    );
}

#[test]
fn master_cf_errors_propagate() {
    assert_eq!(
        err("", "smtp inet n - n - - smtpd\nsmtp inet n - n - - smtpd"),
        "/etc/postern/master.cf:2: service smtp/inet conflicts with the one defined at line 1"
    );
    assert_eq!(
        err("", "pickup fifo n - n 60 1 pickup"),
        "/etc/postern/master.cf:1: service type fifo is not supported"
    );
}

#[test]
fn load_reads_files() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("main.cf"),
        "myhostname = t.example\nsoft_bounce = yes\n",
    )
    .unwrap();
    let c = Config::load(dir.path()).unwrap();
    assert!(c.dir.is_absolute());
    assert_eq!(c.dir, dir.path());
    assert!(c.services.is_empty(), "missing master.cf means no services");
    assert!(c.params.soft_bounce);
    assert_eq!(c.params.config_directory, dir.path());

    std::fs::write(dir.path().join("master.cf"), "smtp inet n - n - - smtpd\n").unwrap();
    let c = Config::load(dir.path()).unwrap();
    assert_eq!(c.services.len(), 1);

    std::fs::write(dir.path().join("main.cf"), "\n\nmessage_size_limit = 10x\n").unwrap();
    let e = Config::load(dir.path()).unwrap_err();
    assert_eq!(
        e.to_string(),
        format!(
            "{}:3: message_size_limit: invalid size \"10x\"",
            dir.path().join("main.cf").display()
        )
    );

    std::fs::write(dir.path().join("main.cf"), b"a = \xff\n").unwrap();
    let e = Config::load(dir.path()).unwrap_err();
    assert_eq!(
        e.to_string(),
        format!("{}:1: invalid UTF-8", dir.path().join("main.cf").display())
    );
}

#[test]
fn load_without_main_cf_fails() {
    let dir = tempfile::tempdir().unwrap();
    let e = Config::load(dir.path()).unwrap_err();
    let Error::Io { path, source } = &e else {
        panic!("expected Io, got {e}");
    };
    assert_eq!(path, &dir.path().join("main.cf"));
    assert_eq!(source.kind(), io::ErrorKind::NotFound);
    assert_eq!(e.to_string(), format!("cannot read {}", path.display()));
}

#[test]
fn load_uses_the_system_host_name() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("main.cf"), "").unwrap();
    let c = Config::load(dir.path()).unwrap();
    assert_eq!(c.params.myhostname, system_host_name().unwrap());
    assert!(c.params.myhostname.contains('.'));
}

#[test]
fn parse_from_text() {
    let c = Config::parse(
        Path::new("/srv/pc"),
        "soft_bounce = yes",
        "smtp inet n - n - - smtpd",
    )
    .unwrap();
    assert!(c.params.soft_bounce);
    assert_eq!(c.services.len(), 1);
    assert_eq!(c.params.config_directory, PathBuf::from("/srv/pc"));
}

proptest! {
    #[test]
    fn main_cf_never_panics(text in "\\PC*") {
        let _ = build(&text, "");
    }

    #[test]
    fn main_cf_with_dollars_never_panics(text in "[a-z_ =$({?:})\n\t#,.0-9]{0,200}") {
        let _ = build(&text, "");
    }

    #[test]
    fn master_cf_never_panics(text in "\\PC*") {
        let _ = build("", &text);
    }

    #[test]
    fn master_cf_fields_never_panic(text in "[a-z0-9 :\\[\\]{}=$\n\t#?-]{0,200}") {
        let _ = build("", &text);
    }

    #[test]
    fn simple_values_round_trip(
        name in "x_[a-z0-9_]{0,12}",
        value in "[A-Za-z0-9./,:@-]([A-Za-z0-9./,:@ -]{0,30}[A-Za-z0-9./,:@-])?",
        before in "[ \t]{0,2}",
        after in "[ \t]{0,2}",
    ) {
        let text = format!("# comment\n{name}{before}={after}{value}\n");
        let c = build(&text, "").unwrap();
        prop_assert_eq!(c.raw_value(&name), Some(value.as_str()));
        prop_assert_eq!(c.value(&name), Some(value.clone()));
        prop_assert!(c.is_set(&name));
    }
}
