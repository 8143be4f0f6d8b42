//! master.cf: one row per service.
//!
//! Columns: service, type, private, unpriv, chroot, wakeup, maxproc,
//! command + arguments. `-` means the column's default. An argument that
//! starts with `{` runs to the matching `}` and may hold white space
//! (`-o { smtpd_banner = $myhostname ESMTP }`), as in Postfix 3.

use std::collections::HashMap;
use std::fmt;
use std::net::Ipv6Addr;
use std::path::{Path, PathBuf};

use crate::error::{Error, Warning};
use crate::text::{excerpt, is_space, is_valid_name, logical_lines};

/// Well-known service names an `inet` row may use instead of a port.
const SERVICE_PORTS: &[(&str, u16)] = &[
    ("smtp", 25),
    ("submission", 587),
    ("submissions", 465),
    ("smtps", 465),
    ("pop3", 110),
    ("pop3s", 995),
    ("imap", 143),
    ("imaps", 993),
];

/// Where an `inet` service listens.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct InetAddr {
    /// The host or address (IPv6 without brackets); `None` means every
    /// address in `inet_interfaces`.
    pub host: Option<String>,
    /// The TCP port. 0 asks the kernel for a free port (useful in tests).
    pub port: u16,
}

impl InetAddr {
    /// Parses a master.cf `inet` service name: `port`, `host:port` or
    /// `[ipv6]:port`, where port is a number or a well-known service name
    /// (smtp, submission, submissions, smtps, pop3, pop3s, imap, imaps).
    pub fn parse(name: &str) -> Result<InetAddr, String> {
        if let Some(rest) = name.strip_prefix('[') {
            let (host, port) = rest
                .split_once("]:")
                .ok_or_else(|| format!("expected [address]:port, got {:?}", excerpt(name)))?;
            host.parse::<Ipv6Addr>()
                .map_err(|_| format!("invalid IPv6 address {:?}", excerpt(host)))?;
            return Ok(InetAddr {
                host: Some(host.to_owned()),
                port: parse_port(port)?,
            });
        }
        match name.rsplit_once(':') {
            Some((host, _)) if host.contains(':') => Err(format!(
                "an IPv6 address must be in brackets, as [address]:port, in {:?}",
                excerpt(name)
            )),
            Some(("", _)) => Err(format!("missing host before \":\" in {:?}", excerpt(name))),
            Some((host, _)) if host.contains(['[', ']']) => {
                Err(format!("invalid host {:?}", excerpt(host)))
            }
            Some((host, port)) => Ok(InetAddr {
                host: Some(host.to_owned()),
                port: parse_port(port)?,
            }),
            None => Ok(InetAddr {
                host: None,
                port: parse_port(name)?,
            }),
        }
    }
}

fn parse_port(text: &str) -> Result<u16, String> {
    if text.is_empty() {
        return Err("missing port".to_owned());
    }
    if text.bytes().all(|b| b.is_ascii_digit()) {
        return text
            .parse()
            .map_err(|_| format!("port {text} is out of range (at most 65535)"));
    }
    SERVICE_PORTS
        .iter()
        .find(|(name, _)| *name == text)
        .map(|(_, port)| *port)
        .ok_or_else(|| {
            format!(
                "unknown service name {:?} (use a port number)",
                excerpt(text)
            )
        })
}

impl fmt::Display for InetAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.host {
            None => write!(f, "{}", self.port),
            Some(host) if host.contains(':') => write!(f, "[{host}]:{}", self.port),
            Some(host) => write!(f, "{host}:{}", self.port),
        }
    }
}

/// The master.cf `type` column, with what each type needs.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum ServiceKind {
    /// A TCP listener.
    Inet(InetAddr),
    /// A Unix stream socket under `private/` or `public/`.
    Unix,
    /// A Unix socket under `private/` or `public/` that receives
    /// connections passed from another process.
    Pass,
}

impl ServiceKind {
    /// The type without its address.
    pub fn service_type(&self) -> ServiceType {
        match self {
            ServiceKind::Inet(_) => ServiceType::Inet,
            ServiceKind::Unix => ServiceType::Unix,
            ServiceKind::Pass => ServiceType::Pass,
        }
    }
}

/// The master.cf `type` column as a plain value.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ServiceType {
    /// `inet`
    Inet,
    /// `unix`
    Unix,
    /// `pass`
    Pass,
}

impl fmt::Display for ServiceType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ServiceType::Inet => "inet",
            ServiceType::Unix => "unix",
            ServiceType::Pass => "pass",
        })
    }
}

/// What identifies a service across reloads: its name and type, as written
/// (Postfix's `name/type`).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ServiceKey {
    /// The service column, as written.
    pub name: String,
    /// The type column.
    pub service_type: ServiceType,
}

impl fmt::Display for ServiceKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.name, self.service_type)
    }
}

/// One master.cf row.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServiceEntry {
    /// The service column, as written (`smtp`, `127.0.0.1:2525`, `qmgr`).
    pub name: String,
    /// The type column, with the parsed listening address for `inet`.
    pub kind: ServiceKind,
    /// Socket under `private/` (true) or `public/`; no meaning for `inet`.
    /// Default y.
    pub private: bool,
    /// Run as `mail_owner` (true) or as root. Default y.
    pub unprivileged: bool,
    /// Wake the service every this many seconds (`?` suffix accepted and
    /// dropped); `None` for `-` or 0.
    pub wakeup: Option<u32>,
    /// How many processes to run; `-` means 1 (one process serves many
    /// clients), 0 (Postfix's "unlimited") is refused.
    pub maxproc: u32,
    /// The program name, looked up in `daemon_directory`.
    pub command: String,
    /// The program's arguments without the `-o` ones, `$name` expanded with
    /// main.cf parameters.
    pub args: Vec<String>,
    /// The `-o name=value` overrides in order, values unexpanded (they are
    /// expanded by [`Config::params_for`](crate::Config::params_for)).
    pub overrides: Vec<(String, String)>,
    /// The master.cf line where the row starts.
    pub line: usize,
}

impl ServiceEntry {
    /// The name and type, to match services across reloads.
    pub fn key(&self) -> ServiceKey {
        ServiceKey {
            name: self.name.clone(),
            service_type: self.kind.service_type(),
        }
    }

    /// The socket path of a `unix` or `pass` service under `queue_directory`
    /// (`private/NAME` or `public/NAME`); `None` for `inet`.
    pub fn socket_path(&self, queue_directory: &Path) -> Option<PathBuf> {
        let dir = if self.private { "private" } else { "public" };
        match self.kind {
            ServiceKind::Inet(_) => None,
            ServiceKind::Unix | ServiceKind::Pass => {
                Some(queue_directory.join(dir).join(&self.name))
            }
        }
    }
}

/// Splits a logical line into fields; `{ ... }` is one field without the
/// braces, trimmed.
fn split_fields(text: &str) -> Result<Vec<String>, String> {
    let mut fields = Vec::new();
    let mut rest = text.trim_start_matches(is_space);
    while !rest.is_empty() {
        if let Some(group) = rest.strip_prefix('{') {
            let mut depth = 0usize;
            let mut end = None;
            for (i, c) in group.char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' if depth == 0 => {
                        end = Some(i);
                        break;
                    }
                    '}' => depth -= 1,
                    _ => {}
                }
            }
            let end = end.ok_or_else(|| "unmatched \"{\"".to_owned())?;
            let (inner, tail) = group.split_at(end);
            let tail = tail.strip_prefix('}').unwrap_or(tail);
            if !tail.is_empty() && !tail.starts_with(is_space) {
                return Err(format!("text after \"}}\": {:?}", excerpt(tail)));
            }
            fields.push(inner.trim_matches(is_space).to_owned());
            rest = tail.trim_start_matches(is_space);
        } else {
            let end = rest.find(is_space).unwrap_or(rest.len());
            let (field, tail) = rest.split_at(end);
            fields.push(field.to_owned());
            rest = tail.trim_start_matches(is_space);
        }
    }
    Ok(fields)
}

fn parse_flag(column: &str, text: &str, default: bool) -> Result<bool, String> {
    match text {
        "-" => Ok(default),
        "y" => Ok(true),
        "n" => Ok(false),
        _ => Err(format!(
            "{column} column: expected y, n or -, got {:?}",
            excerpt(text)
        )),
    }
}

fn parse_wakeup(text: &str) -> Result<Option<u32>, String> {
    if text == "-" {
        return Ok(None);
    }
    let digits = text.strip_suffix('?').unwrap_or(text);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("invalid wakeup time {:?}", excerpt(text)));
    }
    let seconds: u32 = digits
        .parse()
        .map_err(|_| format!("wakeup time {digits} is too large"))?;
    Ok((seconds != 0).then_some(seconds))
}

fn parse_maxproc(text: &str) -> Result<u32, String> {
    if text == "-" {
        return Ok(1);
    }
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("invalid maxproc {:?}", excerpt(text)));
    }
    match text.parse::<u32>() {
        Ok(0) => Err("maxproc 0 (unlimited) is not supported".to_owned()),
        Ok(n) => Ok(n),
        Err(_) => Err(format!("maxproc {text} is too large")),
    }
}

fn parse_socket_name(name: &str) -> Result<(), String> {
    if name.is_empty() || name == "." || name == ".." || name.contains(['/', '\0']) {
        return Err(format!(
            "invalid service name {:?} for a Unix socket (a plain file name is required)",
            excerpt(name)
        ));
    }
    Ok(())
}

fn parse_kind(kind: &str, name: &str) -> Result<ServiceKind, String> {
    match kind {
        "inet" => InetAddr::parse(name).map(ServiceKind::Inet),
        "unix" => parse_socket_name(name).map(|()| ServiceKind::Unix),
        "pass" => parse_socket_name(name).map(|()| ServiceKind::Pass),
        "fifo" | "unix-dgram" => Err(format!("service type {kind} is not supported")),
        _ => Err(format!("unknown service type {:?}", excerpt(kind))),
    }
}

fn parse_override(text: &str) -> Result<(String, String), String> {
    let bad = || format!("-o {:?}: expected name=value", excerpt(text));
    let (name, value) = text.split_once('=').ok_or_else(bad)?;
    let name = name.trim_matches(is_space);
    if !is_valid_name(name) {
        return Err(bad());
    }
    Ok((name.to_owned(), value.trim_matches(is_space).to_owned()))
}

/// Separates `-o name=value` (also `-oname=value`) from the other arguments.
/// Arguments kept, and `-o` overrides.
type SplitArgs = (Vec<String>, Vec<(String, String)>);

fn split_overrides(args: &[String]) -> Result<SplitArgs, String> {
    let mut kept = Vec::new();
    let mut overrides = Vec::new();
    let mut iter = args.iter();
    while let Some(arg) = iter.next() {
        if arg == "-o" {
            let value = iter
                .next()
                .ok_or_else(|| "-o at the end of the line: name=value is missing".to_owned())?;
            overrides.push(parse_override(value)?);
        } else if let Some(value) = arg.strip_prefix("-o") {
            overrides.push(parse_override(value)?);
        } else {
            kept.push(arg.clone());
        }
    }
    Ok((kept, overrides))
}

fn parse_row(
    file: &Path,
    line: usize,
    text: &str,
    warnings: &mut Vec<Warning>,
) -> Result<ServiceEntry, String> {
    let fields = split_fields(text)?;
    let [
        name,
        kind,
        private,
        unpriv,
        chroot,
        wakeup,
        maxproc,
        command,
        args @ ..,
    ] = fields.as_slice()
    else {
        return Err(format!(
            "expected at least 8 fields (service type private unpriv chroot wakeup maxproc command), got {}",
            fields.len()
        ));
    };
    let kind = parse_kind(kind, name)?;
    // `{}` is a field, but an empty program name is no command.
    if command.is_empty() {
        return Err("empty command".to_owned());
    }
    let private = parse_flag("private", private, true)?;
    let unprivileged = parse_flag("unpriv", unpriv, true)?;
    if parse_flag("chroot", chroot, false)? {
        warnings.push(Warning {
            file: file.to_owned(),
            line,
            message: "chroot is not supported; ignored".to_owned(),
        });
    }
    let wakeup = parse_wakeup(wakeup)?;
    let maxproc = parse_maxproc(maxproc)?;
    let (args, overrides) = split_overrides(args)?;
    Ok(ServiceEntry {
        name: name.clone(),
        kind,
        private,
        unprivileged,
        wakeup,
        maxproc,
        command: command.clone(),
        args,
        overrides,
        line,
    })
}

/// Where a service's socket lives; two rows with the same one conflict.
#[derive(PartialEq, Eq, Hash)]
enum Endpoint {
    Inet(InetAddr),
    Socket { private: bool, name: String },
}

impl Endpoint {
    fn of(entry: &ServiceEntry) -> Endpoint {
        match &entry.kind {
            ServiceKind::Inet(addr) => Endpoint::Inet(addr.clone()),
            ServiceKind::Unix | ServiceKind::Pass => Endpoint::Socket {
                private: entry.private,
                name: entry.name.clone(),
            },
        }
    }
}

/// Parses master.cf text. Arguments are returned unexpanded; the caller
/// expands them once main.cf is known.
pub(crate) fn parse(
    file: &Path,
    text: &str,
    warnings: &mut Vec<Warning>,
) -> Result<Vec<ServiceEntry>, Error> {
    let mut services = Vec::new();
    let mut keys: HashMap<ServiceKey, usize> = HashMap::new();
    let mut endpoints: HashMap<Endpoint, usize> = HashMap::new();
    for logical in logical_lines(file, text)? {
        let entry = parse_row(file, logical.line, &logical.text, warnings).map_err(|reason| {
            Error::Syntax {
                file: file.to_owned(),
                line: logical.line,
                reason,
            }
        })?;
        let key = entry.key();
        let first = keys
            .get(&key)
            .or_else(|| endpoints.get(&Endpoint::of(&entry)))
            .copied();
        if let Some(first_line) = first {
            return Err(Error::DuplicateService {
                file: file.to_owned(),
                line: entry.line,
                first_line,
                service: key.to_string(),
            });
        }
        keys.insert(key, entry.line);
        endpoints.insert(Endpoint::of(&entry), entry.line);
        services.push(entry);
    }
    Ok(services)
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = "/etc/postern/master.cf";

    fn one(text: &str) -> Result<(ServiceEntry, Vec<Warning>), String> {
        let mut warnings = Vec::new();
        let mut services =
            parse(Path::new(FILE), text, &mut warnings).map_err(|e| e.to_string())?;
        assert_eq!(services.len(), 1);
        Ok((services.remove(0), warnings))
    }

    fn strings(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn columns_and_defaults() {
        let (e, w) = one("smtp inet n - n - - smtpd -v\n").unwrap();
        assert_eq!(
            e,
            ServiceEntry {
                name: "smtp".to_owned(),
                kind: ServiceKind::Inet(InetAddr {
                    host: None,
                    port: 25
                }),
                private: false,
                unprivileged: true,
                wakeup: None,
                maxproc: 1,
                command: "smtpd".to_owned(),
                args: strings(&["-v"]),
                overrides: vec![],
                line: 1,
            }
        );
        assert!(w.is_empty());

        let (e, _) = one("qmgr unix - - - - - qmgr").unwrap();
        assert_eq!(e.kind, ServiceKind::Unix);
        assert!(e.private && e.unprivileged);
        assert_eq!((e.wakeup, e.maxproc), (None, 1));

        let (e, _) = one("showq unix n y n 60 4 showq").unwrap();
        assert!(!e.private && e.unprivileged);
        assert_eq!((e.wakeup, e.maxproc), (Some(60), 4));

        let (e, _) = one("smtpd pass - n n - - smtpd").unwrap();
        assert_eq!(e.kind, ServiceKind::Pass);
        assert!(!e.unprivileged);
    }

    #[test]
    fn wakeup_forms() {
        type Case = (&'static str, &'static str, Result<Option<u32>, ()>);
        let cases: &[Case] = &[
            ("dash", "-", Ok(None)),
            ("zero", "0", Ok(None)),
            ("seconds", "300", Ok(Some(300))),
            ("question_mark", "60?", Ok(Some(60))),
            ("max", "4294967295", Ok(Some(u32::MAX))),
            ("too_large", "4294967296", Err(())),
            ("word", "often", Err(())),
            ("question_only", "?", Err(())),
        ];
        for (name, input, want) in cases {
            assert_eq!(parse_wakeup(input).map_err(|_| ()), *want, "case {name}");
        }
    }

    #[test]
    fn maxproc_forms() {
        assert_eq!(parse_maxproc("-"), Ok(1));
        assert_eq!(parse_maxproc("1"), Ok(1));
        assert_eq!(parse_maxproc("100"), Ok(100));
        assert!(parse_maxproc("many").is_err());
        assert_eq!(
            one("smtp inet n - n - 0 smtpd").unwrap_err(),
            "/etc/postern/master.cf:1: maxproc 0 (unlimited) is not supported"
        );
    }

    #[test]
    fn inet_names() {
        let cases: &[(&str, &str, Option<&str>, u16)] = &[
            ("port", "2525", None, 2525),
            ("port_zero", "0", None, 0),
            ("port_max", "65535", None, 65535),
            ("symbolic_smtp", "smtp", None, 25),
            ("symbolic_submission", "submission", None, 587),
            ("symbolic_submissions", "submissions", None, 465),
            ("symbolic_smtps", "smtps", None, 465),
            ("symbolic_pop3", "pop3", None, 110),
            ("symbolic_pop3s", "pop3s", None, 995),
            ("symbolic_imap", "imap", None, 143),
            ("symbolic_imaps", "imaps", None, 993),
            ("v4_host", "127.0.0.1:2525", Some("127.0.0.1"), 2525),
            (
                "name_host_symbolic_port",
                "localhost:smtp",
                Some("localhost"),
                25,
            ),
            ("v6_host", "[::1]:2525", Some("::1"), 2525),
            (
                "v6_host_symbolic",
                "[2001:db8::1]:imaps",
                Some("2001:db8::1"),
                993,
            ),
        ];
        for (name, input, host, port) in cases {
            let a = InetAddr::parse(input).unwrap_or_else(|e| panic!("case {name}: {e}"));
            assert_eq!(a.host.as_deref(), *host, "case {name}");
            assert_eq!(a.port, *port, "case {name}");
        }
    }

    #[test]
    fn bad_inet_names() {
        let cases: &[(&str, &str)] = &[
            ("port_too_large", "65536"),
            ("unknown_symbolic", "gopher"),
            ("empty_port", "127.0.0.1:"),
            ("empty_host", ":25"),
            ("v6_unbracketed", "::1:25"),
            ("v6_missing_port", "[::1]"),
            ("v6_invalid", "[not-v6]:25"),
            ("v4_in_v6_brackets", "[127.0.0.1]:25"),
            ("bracket_in_host", "a]b:25"),
        ];
        for (name, input) in cases {
            assert!(InetAddr::parse(input).is_err(), "case {name}");
        }
        assert_eq!(
            one("gopher inet n - n - - smtpd").unwrap_err(),
            "/etc/postern/master.cf:1: unknown service name \"gopher\" (use a port number)"
        );
    }

    #[test]
    fn inet_display() {
        for text in ["25", "127.0.0.1:25", "[::1]:25"] {
            assert_eq!(InetAddr::parse(text).unwrap().to_string(), text);
        }
    }

    #[test]
    fn bad_rows() {
        let cases: &[(&str, &str, &str)] = &[
            (
                "fifo",
                "pickup fifo n - n 60 1 pickup",
                "/etc/postern/master.cf:1: service type fifo is not supported",
            ),
            (
                "unix_dgram",
                "x unix-dgram n - n - 1 x",
                "/etc/postern/master.cf:1: service type unix-dgram is not supported",
            ),
            (
                "unknown_type",
                "x tcp n - n - 1 x",
                "/etc/postern/master.cf:1: unknown service type \"tcp\"",
            ),
            (
                "too_few_fields",
                "smtp inet n - n - -",
                "/etc/postern/master.cf:1: expected at least 8 fields (service type private unpriv chroot wakeup maxproc command), got 7",
            ),
            (
                "bad_flag",
                "smtp inet x - n - - smtpd",
                "/etc/postern/master.cf:1: private column: expected y, n or -, got \"x\"",
            ),
            (
                "slash_in_unix_name",
                "a/b unix - - n - - x",
                "/etc/postern/master.cf:1: invalid service name \"a/b\" for a Unix socket (a plain file name is required)",
            ),
            (
                "dot_dot_unix_name",
                ".. unix - - n - - x",
                "/etc/postern/master.cf:1: invalid service name \"..\" for a Unix socket (a plain file name is required)",
            ),
            (
                "o_without_value",
                "smtp inet n - n - - smtpd -o",
                "/etc/postern/master.cf:1: -o at the end of the line: name=value is missing",
            ),
            (
                "o_without_equals",
                "smtp inet n - n - - smtpd -o soft_bounce",
                "/etc/postern/master.cf:1: -o \"soft_bounce\": expected name=value",
            ),
            (
                "unmatched_brace",
                "smtp inet n - n - - smtpd -o { a = b",
                "/etc/postern/master.cf:1: unmatched \"{\"",
            ),
            (
                "text_after_brace",
                "smtp inet n - n - - smtpd -o { a = b }c",
                "/etc/postern/master.cf:1: text after \"}\": \"c\"",
            ),
            // See: issue 11. Found by fuzzing: an empty command was accepted.
            (
                "issue_11_empty_command",
                "qmgr unix - - n - 1 { } -o a=b",
                "/etc/postern/master.cf:1: empty command",
            ),
        ];
        for (name, input, want) in cases {
            assert_eq!(one(input).unwrap_err(), *want, "case {name}");
        }
    }

    #[test]
    fn chroot_is_ignored_with_a_warning() {
        let (e, w) = one("\nsmtp inet n - y - - smtpd").unwrap();
        assert_eq!(e.line, 2);
        assert_eq!(w.len(), 1);
        assert_eq!(
            w[0].to_string(),
            "/etc/postern/master.cf:2: chroot is not supported; ignored"
        );
    }

    #[test]
    fn overrides_are_split_from_args() {
        type Case = (
            &'static str,
            &'static str,
            &'static [&'static str],
            &'static [(&'static str, &'static str)],
        );
        let cases: &[Case] = &[
            (
                "separate",
                "smtp inet n - n - - smtpd -o soft_bounce=yes -v",
                &["-v"],
                &[("soft_bounce", "yes")],
            ),
            (
                "attached",
                "smtp inet n - n - - smtpd -osoft_bounce=yes",
                &[],
                &[("soft_bounce", "yes")],
            ),
            (
                "braces_with_spaces",
                "smtp inet n - n - - smtpd -o { relayhost = [mx.example.com]:587 } -v",
                &["-v"],
                &[("relayhost", "[mx.example.com]:587")],
            ),
            (
                "value_with_equals_and_dollar",
                "smtp inet n - n - - smtpd -o myorigin=a=$mydomain",
                &[],
                &[("myorigin", "a=$mydomain")],
            ),
            (
                "order_kept",
                "smtp inet n - n - - smtpd a -o x=1 b -o x=2 c",
                &["a", "b", "c"],
                &[("x", "1"), ("x", "2")],
            ),
            (
                "continuation_lines",
                "smtp inet n - n - - smtpd\n  -o soft_bounce=yes\n  -o relayhost=",
                &[],
                &[("soft_bounce", "yes"), ("relayhost", "")],
            ),
        ];
        for (name, input, args, overrides) in cases {
            let (e, _) = one(input).unwrap_or_else(|err| panic!("case {name}: {err}"));
            assert_eq!(e.args, strings(args), "case {name}");
            let want: Vec<(String, String)> = overrides
                .iter()
                .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
                .collect();
            assert_eq!(e.overrides, want, "case {name}");
        }
    }

    #[test]
    fn duplicates_name_both_lines() {
        let cases: &[(&str, &str, &str)] = &[
            (
                "same_name_and_type",
                "smtp inet n - n - - smtpd\n# x\nsmtp inet n - n - - smtpd -v\n",
                "/etc/postern/master.cf:3: service smtp/inet conflicts with the one defined at line 1",
            ),
            (
                "same_port_other_spelling",
                "smtp inet n - n - - smtpd\n25 inet n - n - - smtpd\n",
                "/etc/postern/master.cf:2: service 25/inet conflicts with the one defined at line 1",
            ),
            (
                "unix_twice_other_privacy",
                "qmgr unix n - n - - qmgr\nqmgr unix y - n - - qmgr\n",
                "/etc/postern/master.cf:2: service qmgr/unix conflicts with the one defined at line 1",
            ),
            (
                "pass_on_unix_socket",
                "x unix - - n - - x\nx pass - - n - - x\n",
                "/etc/postern/master.cf:2: service x/pass conflicts with the one defined at line 1",
            ),
        ];
        for (name, input, want) in cases {
            let err = parse(Path::new(FILE), input, &mut Vec::new()).unwrap_err();
            assert_eq!(err.to_string(), *want, "case {name}");
        }
    }

    #[test]
    fn same_name_different_type_or_host_is_fine() {
        let text = "smtp inet n - n - - smtpd\nsmtp unix - - n - - smtp\n127.0.0.1:smtp inet n - n - - smtpd\n\
                    x unix y - n - - x\nx pass n - n - - x\n";
        let services = parse(Path::new(FILE), text, &mut Vec::new()).unwrap();
        assert_eq!(services.len(), 5);
        let keys: Vec<String> = services.iter().map(|s| s.key().to_string()).collect();
        assert_eq!(
            keys,
            [
                "smtp/inet",
                "smtp/unix",
                "127.0.0.1:smtp/inet",
                "x/unix",
                "x/pass"
            ]
        );
    }

    #[test]
    fn socket_paths() {
        let services = parse(
            Path::new(FILE),
            "qmgr unix - - n - - qmgr\nshowq unix n - n - - showq\nsmtp inet n - n - - smtpd\n",
            &mut Vec::new(),
        )
        .unwrap();
        let q = Path::new("/var/spool/postern");
        let paths: Vec<Option<PathBuf>> = services.iter().map(|s| s.socket_path(q)).collect();
        assert_eq!(
            paths,
            [
                Some(PathBuf::from("/var/spool/postern/private/qmgr")),
                Some(PathBuf::from("/var/spool/postern/public/showq")),
                None
            ]
        );
    }
}
