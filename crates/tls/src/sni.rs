//! `tls_server_sni_maps`: more certificates, chosen by the client's SNI name.
//!
//! The map is a text file of lines `hostname file...`: the host name a
//! client asks for, then one or more absolute paths of PEM files that
//! together hold that name's private key and certificate chain (usually one
//! file, key then chain; Postfix's habit of listing key and chain files
//! separately works too). Blank lines and lines whose first non-blank
//! character is `#` are ignored. A host name is matched case-insensitively;
//! `*.example.org` matches exactly one more label (`mx.example.org`, not
//! `example.org` or `a.b.example.org`), and an exact entry beats a wildcard.
//! A client that sends no name, or a name not in the map, gets the daemon's
//! default certificate.
//!
//! Any bad line is an error naming `file:line`: the daemon refuses to start
//! rather than serve the wrong certificate.

use std::collections::HashMap;
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::crypto::CryptoProvider;
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;

use crate::Error;
use crate::pem::{load_certified_key, read_bounded};

/// The longest DNS name (RFC 1035), without the trailing dot.
const MAX_NAME: usize = 253;
/// The longest DNS label.
const MAX_LABEL: usize = 63;

/// A host name on the left of a map line.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) enum SniName {
    /// `mail.example.org`, lower case.
    Exact(String),
    /// `*.example.org`, stored as `example.org`.
    Wildcard(String),
}

/// One parsed map line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct SniEntry {
    /// The line number, from 1, for messages.
    pub(crate) line: usize,
    /// Which client names it serves.
    pub(crate) name: SniName,
    /// The PEM files holding its key and chain.
    pub(crate) files: Vec<PathBuf>,
}

/// Parses the map's text; `path` is only used in messages.
pub(crate) fn parse(path: &Path, text: &[u8]) -> Result<Vec<SniEntry>, Error> {
    let mut entries = Vec::new();
    let mut seen: HashMap<SniName, usize> = HashMap::new();
    for (index, raw) in text.split(|b| *b == b'\n').enumerate() {
        let line = index + 1;
        let raw = raw.trim_ascii();
        if raw.is_empty() || raw.starts_with(b"#") {
            continue;
        }
        let mut fields = raw
            .split(|b| b.is_ascii_whitespace())
            .filter(|f| !f.is_empty());
        let (Some(host), Some(first)) = (fields.next(), fields.next()) else {
            return Err(Error::SniMapSyntax {
                path: path.to_owned(),
                line,
            });
        };
        let name = parse_name(host).ok_or_else(|| Error::SniMapBadName {
            path: path.to_owned(),
            line,
            name: String::from_utf8_lossy(host).into_owned(),
        })?;
        let mut files = Vec::new();
        for field in std::iter::once(first).chain(fields) {
            let file = PathBuf::from(OsStr::from_bytes(field));
            if !file.is_absolute() {
                return Err(Error::SniMapRelativePath {
                    path: path.to_owned(),
                    line,
                    file,
                });
            }
            files.push(file);
        }
        if let Some(first_line) = seen.insert(name.clone(), line) {
            return Err(Error::SniMapDuplicate {
                path: path.to_owned(),
                line,
                name: match name {
                    SniName::Exact(n) => n,
                    SniName::Wildcard(n) => format!("*.{n}"),
                },
                first_line,
            });
        }
        entries.push(SniEntry { line, name, files });
    }
    Ok(entries)
}

/// Checks and lower-cases a host name or `*.domain` pattern.
fn parse_name(field: &[u8]) -> Option<SniName> {
    let text = std::str::from_utf8(field).ok()?.to_ascii_lowercase();
    let text = text.strip_suffix('.').unwrap_or(&text);
    match text.strip_prefix("*.") {
        Some(parent) => is_dns_name(parent).then(|| SniName::Wildcard(parent.to_owned())),
        None => is_dns_name(text).then(|| SniName::Exact(text.to_owned())),
    }
}

/// A lower-case DNS name: labels of letters, digits, `-` and `_`, not
/// starting or ending with `-`.
fn is_dns_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_NAME
        && name.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= MAX_LABEL
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
        })
}

/// Reads the map and loads every certificate it names.
pub(crate) fn load(path: &Path, provider: &CryptoProvider) -> Result<SniCertificates, Error> {
    let text = read_bounded(path)?;
    let mut certs = SniCertificates::default();
    for entry in parse(path, &text)? {
        let files: Vec<&Path> = entry.files.iter().map(PathBuf::as_path).collect();
        let key =
            load_certified_key(&files, &files, provider).map_err(|source| Error::SniMapEntry {
                path: path.to_owned(),
                line: entry.line,
                source: Box::new(source),
            })?;
        tracing::debug!(map = %path.display(), line = entry.line, name = ?entry.name, "SNI certificate loaded");
        match entry.name {
            SniName::Exact(name) => certs.exact.insert(name, key),
            SniName::Wildcard(parent) => certs.wildcard.insert(parent, key),
        };
    }
    Ok(certs)
}

/// The certificates of an SNI map, by name.
#[derive(Debug, Default)]
pub(crate) struct SniCertificates {
    /// Exact names, lower case.
    exact: HashMap<String, Arc<CertifiedKey>>,
    /// Wildcards, by the domain after `*.`.
    wildcard: HashMap<String, Arc<CertifiedKey>>,
}

impl SniCertificates {
    /// The certificate for a client's SNI name, if the map has one.
    fn lookup(&self, name: &str) -> Option<&Arc<CertifiedKey>> {
        let name = name.strip_suffix('.').unwrap_or(name).to_ascii_lowercase();
        self.exact.get(&name).or_else(|| {
            let (_, parent) = name.split_once('.')?;
            self.wildcard.get(parent)
        })
    }
}

/// Picks the SNI map's certificate for the client's name, else the default.
#[derive(Debug)]
pub(crate) struct Resolver {
    /// The daemon's own certificate, for clients without a (known) name.
    pub(crate) default: Arc<CertifiedKey>,
    /// The SNI map's certificates.
    pub(crate) sni: SniCertificates,
}

impl ResolvesServerCert for Resolver {
    fn resolve(&self, client_hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        let chosen = client_hello
            .server_name()
            .and_then(|name| self.sni.lookup(name))
            .unwrap_or(&self.default);
        Some(Arc::clone(chosen))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Whether an error is the expected one.
    type Check = fn(&Error) -> bool;

    fn p() -> &'static Path {
        Path::new("/etc/postern/sni")
    }

    #[test]
    fn good_map_parses() {
        let text = b"# certificates by name\n\
            \n\
            mail.example.org   /etc/ssl/mail.pem\n\
            \tMX.Example.NET. /etc/ssl/mx-key.pem /etc/ssl/mx-chain.pem  \n\
            *.example.com /etc/ssl/wild.pem\r\n\
            \x20  # indented comment\n";
        let entries = parse(p(), text).unwrap();
        assert_eq!(
            entries,
            vec![
                SniEntry {
                    line: 3,
                    name: SniName::Exact("mail.example.org".into()),
                    files: vec!["/etc/ssl/mail.pem".into()],
                },
                SniEntry {
                    line: 4,
                    name: SniName::Exact("mx.example.net".into()),
                    files: vec!["/etc/ssl/mx-key.pem".into(), "/etc/ssl/mx-chain.pem".into()],
                },
                SniEntry {
                    line: 5,
                    name: SniName::Wildcard("example.com".into()),
                    files: vec!["/etc/ssl/wild.pem".into()],
                },
            ]
        );
    }

    #[test]
    fn empty_map_is_fine() {
        assert_eq!(parse(p(), b"").unwrap(), vec![]);
        assert_eq!(parse(p(), b"# nothing\n\n").unwrap(), vec![]);
    }

    #[test]
    fn bad_lines_name_file_and_line() {
        let cases: [(&str, &[u8], usize, Check); 9] = [
            ("name only", b"# x\nmail.example.org\n", 2, |e| {
                matches!(e, Error::SniMapSyntax { .. })
            }),
            (
                "relative path",
                b"mail.example.org certs/mail.pem\n",
                1,
                |e| matches!(e, Error::SniMapRelativePath { .. }),
            ),
            ("bad character", b"mail_!.example.org /x.pem\n", 1, |e| {
                matches!(e, Error::SniMapBadName { .. })
            }),
            ("empty label", b"mail..example.org /x.pem\n", 1, |e| {
                matches!(e, Error::SniMapBadName { .. })
            }),
            (
                "wildcard in the middle",
                b"mail.*.example.org /x.pem\n",
                1,
                |e| matches!(e, Error::SniMapBadName { .. }),
            ),
            ("bare wildcard", b"* /x.pem\n", 1, |e| {
                matches!(e, Error::SniMapBadName { .. })
            }),
            (
                "hyphen at label start",
                b"-mail.example.org /x.pem\n",
                1,
                |e| matches!(e, Error::SniMapBadName { .. }),
            ),
            (
                "non-ascii",
                "m\u{e4}il.example.org /x.pem\n".as_bytes(),
                1,
                |e| matches!(e, Error::SniMapBadName { .. }),
            ),
            (
                "duplicate, case-insensitive",
                b"a.example.org /a.pem\n\nA.EXAMPLE.ORG /b.pem\n",
                3,
                |e| matches!(e, Error::SniMapDuplicate { first_line: 1, .. }),
            ),
        ];
        for (name, text, line, expected) in cases {
            let err = parse(p(), text).unwrap_err();
            assert!(expected(&err), "{name}: {err}");
            let prefix = format!("/etc/postern/sni:{line}: ");
            assert!(err.to_string().starts_with(&prefix), "{name}: {err}");
        }
    }

    #[test]
    fn label_length_limit() {
        let ok = format!("{}.org /x.pem", "a".repeat(MAX_LABEL));
        assert!(parse(p(), ok.as_bytes()).is_ok());
        let too_long = format!("{}.org /x.pem", "a".repeat(MAX_LABEL + 1));
        assert!(parse(p(), too_long.as_bytes()).is_err());
    }

    #[test]
    fn lookup_exact_then_wildcard() {
        let dummy = || {
            let key = rcgen::KeyPair::generate().unwrap();
            let params = rcgen::CertificateParams::new(vec!["x.example".to_owned()]).unwrap();
            let cert = params.self_signed(&key).unwrap();
            let der = rustls_pki_types::PrivateKeyDer::Pkcs8(key.serialize_der().into());
            let signing = crate::provider()
                .key_provider
                .load_private_key(der)
                .unwrap();
            Arc::new(CertifiedKey::new(vec![cert.der().clone()], signing))
        };
        let exact = dummy();
        let wild = dummy();
        let mut certs = SniCertificates::default();
        certs
            .exact
            .insert("mail.example.com".into(), Arc::clone(&exact));
        certs
            .wildcard
            .insert("example.com".into(), Arc::clone(&wild));
        let is = |name: &str, want: &Arc<CertifiedKey>| {
            certs.lookup(name).is_some_and(|got| Arc::ptr_eq(got, want))
        };
        assert!(is("mail.example.com", &exact));
        assert!(is("MAIL.Example.COM.", &exact));
        assert!(is("imap.example.com", &wild));
        assert!(certs.lookup("example.com").is_none());
        assert!(certs.lookup("a.b.example.com").is_none());
        assert!(certs.lookup("example.org").is_none());
    }
}
