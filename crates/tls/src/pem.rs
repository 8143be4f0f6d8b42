//! Certificate chains and private keys from PEM files.
//!
//! A file may hold any mix of `CERTIFICATE` sections (the chain, leaf
//! first) and one private key: `PRIVATE KEY` (PKCS#8: RSA, ECDSA or
//! Ed25519), `RSA PRIVATE KEY` (PKCS#1) or `EC PRIVATE KEY` (SEC1).
//! Other sections (`EC PARAMETERS`, which `openssl ecparam -genkey` writes
//! before the key, and anything else) are skipped. Encrypted keys are
//! refused with their own message, since a daemon cannot ask for a
//! passphrase.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::crypto::CryptoProvider;
use rustls::sign::CertifiedKey;
use rustls::{Error as RustlsError, InconsistentKeys};
use rustls_pki_types::pem::{PemObject, SectionKind};
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

use crate::Error;

/// The largest certificate, key or map file we read: far above any real
/// chain, small enough that naming `/dev/zero` fails fast.
pub(crate) const MAX_FILE_SIZE: u64 = 1024 * 1024;

/// Reads a whole file, refusing one above [`MAX_FILE_SIZE`].
pub(crate) fn read_bounded(path: &Path) -> Result<Vec<u8>, Error> {
    let read_error = |source| Error::Read {
        path: path.to_owned(),
        source,
    };
    let file = std::fs::File::open(path).map_err(read_error)?;
    let mut bytes = Vec::new();
    file.take(MAX_FILE_SIZE + 1)
        .read_to_end(&mut bytes)
        .map_err(read_error)?;
    if u64::try_from(bytes.len()).map_or(true, |n| n > MAX_FILE_SIZE) {
        return Err(Error::TooLarge {
            path: path.to_owned(),
            limit: MAX_FILE_SIZE,
        });
    }
    Ok(bytes)
}

/// The sections of one PEM file we care about.
#[derive(Default)]
struct Contents {
    /// `CERTIFICATE` sections, in file order.
    certs: Vec<CertificateDer<'static>>,
    /// Private key sections, in file order.
    keys: Vec<PrivateKeyDer<'static>>,
    /// Whether the file holds a passphrase-protected key: PKCS#8
    /// `ENCRYPTED PRIVATE KEY`, or OpenSSL's legacy `Proc-Type: 4,ENCRYPTED`
    /// header inside a PKCS#1/SEC1 section.
    encrypted_key: bool,
}

/// Parses one file's PEM sections.
fn parse(path: &Path, bytes: &[u8]) -> Result<Contents, Error> {
    let mut contents = Contents {
        encrypted_key: contains(bytes, b"-----BEGIN ENCRYPTED PRIVATE KEY-----")
            || contains(bytes, b"Proc-Type: 4,ENCRYPTED"),
        ..Contents::default()
    };
    if contents.encrypted_key {
        // The legacy format's headers are not base64, so parsing would
        // only produce a confusing decode error.
        return Ok(contents);
    }
    for section in <(SectionKind, Vec<u8>)>::pem_slice_iter(bytes) {
        let (kind, der) = section.map_err(|source| Error::Pem {
            path: path.to_owned(),
            source,
        })?;
        match kind {
            SectionKind::Certificate => contents.certs.push(CertificateDer::from(der)),
            SectionKind::PrivateKey => contents.keys.push(PrivateKeyDer::Pkcs8(der.into())),
            SectionKind::RsaPrivateKey => contents.keys.push(PrivateKeyDer::Pkcs1(der.into())),
            SectionKind::EcPrivateKey => contents.keys.push(PrivateKeyDer::Sec1(der.into())),
            _ => {}
        }
    }
    Ok(contents)
}

/// Every certificate in a PEM file (a CA bundle).
pub(crate) fn load_certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>, Error> {
    let bytes = read_bounded(path)?;
    let certs = parse(path, &bytes)?.certs;
    if certs.is_empty() {
        return Err(Error::NoCertificate {
            path: path.to_owned(),
        });
    }
    Ok(certs)
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// Loads a certificate chain and its key.
///
/// The chain is every `CERTIFICATE` section of `cert_files`, in order; the
/// key is the one private key found in `key_files`. A file listed in both
/// is read once. The key must belong to the first certificate.
pub(crate) fn load_certified_key(
    cert_files: &[&Path],
    key_files: &[&Path],
    provider: &CryptoProvider,
) -> Result<Arc<CertifiedKey>, Error> {
    let mut files: BTreeMap<&Path, Contents> = BTreeMap::new();
    for path in cert_files.iter().chain(key_files) {
        if !files.contains_key(path) {
            let bytes = read_bounded(path)?;
            files.insert(path, parse(path, &bytes)?);
        }
    }

    // First, since an encrypted file is not parsed any further.
    for path in key_files {
        if files.get(path).is_some_and(|c| c.encrypted_key) {
            return Err(Error::EncryptedKey {
                path: path.to_path_buf(),
            });
        }
    }

    let mut chain = Vec::new();
    let mut cert_path: Option<PathBuf> = None;
    for path in cert_files {
        if let Some(contents) = files.get(path) {
            if cert_path.is_none() && !contents.certs.is_empty() {
                cert_path = Some(path.to_path_buf());
            }
            chain.extend(contents.certs.iter().cloned());
        }
    }
    let Some(cert_path) = cert_path else {
        return Err(Error::NoCertificate {
            path: first_path(cert_files),
        });
    };

    let mut key: Option<(PathBuf, PrivateKeyDer<'static>)> = None;
    for path in key_files {
        let Some(contents) = files.get_mut(path) else {
            continue;
        };
        for k in contents.keys.drain(..) {
            if key.is_some() {
                return Err(Error::SeveralKeys {
                    path: path.to_path_buf(),
                });
            }
            key = Some((path.to_path_buf(), k));
        }
    }
    let Some((key_path, key)) = key else {
        return Err(Error::NoPrivateKey {
            path: first_path(key_files),
        });
    };

    let signing_key = provider
        .key_provider
        .load_private_key(key)
        .map_err(|source| Error::BadKey {
            path: key_path.clone(),
            source,
        })?;
    let certified = CertifiedKey::new(chain, signing_key);
    match certified.keys_match() {
        // `Unknown`: the key type cannot report its public key, so there is
        // nothing to compare; the *ring* provider always can.
        Ok(()) | Err(RustlsError::InconsistentKeys(InconsistentKeys::Unknown)) => {
            Ok(Arc::new(certified))
        }
        Err(RustlsError::InconsistentKeys(InconsistentKeys::KeyMismatch)) => {
            Err(Error::KeyMismatch {
                cert: cert_path,
                key: key_path,
            })
        }
        Err(source) => Err(Error::BadCertificate {
            path: cert_path,
            source,
        }),
    }
}

fn first_path(paths: &[&Path]) -> PathBuf {
    paths.first().map(|p| p.to_path_buf()).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Whether an error is the expected one.
    type Check = fn(&Error) -> bool;
    use crate::provider;
    use std::fs;

    /// Test fixtures made once with openssl (see testdata/README).
    fn testdata(name: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("testdata")
            .join(name)
    }

    fn leaf(alg: &'static rcgen::SignatureAlgorithm) -> (String, String) {
        let key = rcgen::KeyPair::generate_for(alg).unwrap();
        let params = rcgen::CertificateParams::new(vec!["mail.example.org".to_owned()]).unwrap();
        let cert = params.self_signed(&key).unwrap();
        (cert.pem(), key.serialize_pem())
    }

    fn load(cert: &Path, key: &Path) -> Result<Arc<CertifiedKey>, Error> {
        load_certified_key(&[cert], &[key], &provider())
    }

    #[test]
    fn chain_and_key_in_one_file() {
        let dir = tempfile::tempdir().unwrap();
        let (cert, key) = leaf(&rcgen::PKCS_ECDSA_P256_SHA256);
        let path = dir.path().join("both.pem");
        // Key first, then the chain (leaf plus an unrelated "intermediate").
        let (other, _) = leaf(&rcgen::PKCS_ECDSA_P384_SHA384);
        fs::write(&path, format!("{key}{cert}{other}")).unwrap();
        let ck = load(&path, &path).unwrap();
        assert_eq!(ck.cert.len(), 2);
    }

    #[test]
    fn chain_and_key_in_two_files() {
        let dir = tempfile::tempdir().unwrap();
        let (cert, key) = leaf(&rcgen::PKCS_ECDSA_P256_SHA256);
        let cert_path = dir.path().join("cert.pem");
        let key_path = dir.path().join("key.pem");
        fs::write(&cert_path, cert).unwrap();
        fs::write(&key_path, key).unwrap();
        let ck = load(&cert_path, &key_path).unwrap();
        assert_eq!(ck.cert.len(), 1);
    }

    #[test]
    fn every_supported_key_type_loads() {
        let dir = tempfile::tempdir().unwrap();
        let rcgen_cases: [(&str, &'static rcgen::SignatureAlgorithm); 3] = [
            ("pkcs8 ecdsa p256", &rcgen::PKCS_ECDSA_P256_SHA256),
            ("pkcs8 ecdsa p384", &rcgen::PKCS_ECDSA_P384_SHA384),
            ("pkcs8 ed25519", &rcgen::PKCS_ED25519),
        ];
        for (name, alg) in rcgen_cases {
            let (cert, key) = leaf(alg);
            assert!(key.starts_with("-----BEGIN PRIVATE KEY-----"), "{name}");
            let path = dir.path().join("k.pem");
            fs::write(&path, format!("{cert}{key}")).unwrap();
            load(&path, &path).unwrap_or_else(|e| panic!("{name}: {e}"));
        }
        let fixture_cases = [
            (
                "pkcs1 rsa",
                "rsa-pkcs1.pem",
                "-----BEGIN RSA PRIVATE KEY-----",
            ),
            ("pkcs8 rsa", "rsa-pkcs8.pem", "-----BEGIN PRIVATE KEY-----"),
            ("sec1 ec", "ec-sec1.pem", "-----BEGIN EC PRIVATE KEY-----"),
        ];
        for (name, file, marker) in fixture_cases {
            let path = testdata(file);
            let text = fs::read_to_string(&path).unwrap();
            assert!(text.contains(marker), "{name}: fixture has no {marker}");
            load(&path, &path).unwrap_or_else(|e| panic!("{name}: {e}"));
        }
    }

    #[test]
    fn missing_key_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let (cert, _) = leaf(&rcgen::PKCS_ECDSA_P256_SHA256);
        let path = dir.path().join("cert.pem");
        fs::write(&path, cert).unwrap();
        let err = load(&path, &path).unwrap_err();
        assert!(
            matches!(&err, Error::NoPrivateKey { path: p } if *p == path),
            "{err}"
        );
        assert!(err.to_string().starts_with(&path.display().to_string()));
    }

    #[test]
    fn missing_certificate_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let (_, key) = leaf(&rcgen::PKCS_ECDSA_P256_SHA256);
        let path = dir.path().join("key.pem");
        fs::write(&path, key).unwrap();
        let err = load(&path, &path).unwrap_err();
        assert!(
            matches!(&err, Error::NoCertificate { path: p } if *p == path),
            "{err}"
        );
    }

    #[test]
    fn mismatched_key_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let (cert, _) = leaf(&rcgen::PKCS_ECDSA_P256_SHA256);
        let (_, other_key) = leaf(&rcgen::PKCS_ECDSA_P256_SHA256);
        let cert_path = dir.path().join("cert.pem");
        let key_path = dir.path().join("key.pem");
        fs::write(&cert_path, cert).unwrap();
        fs::write(&key_path, other_key).unwrap();
        let err = load(&cert_path, &key_path).unwrap_err();
        assert!(
            matches!(&err, Error::KeyMismatch { cert, key } if *cert == cert_path && *key == key_path),
            "{err}"
        );
        assert!(err.to_string().contains("does not match"), "{err}");
    }

    #[test]
    fn two_keys_are_ambiguous() {
        let dir = tempfile::tempdir().unwrap();
        let (cert, key) = leaf(&rcgen::PKCS_ECDSA_P256_SHA256);
        let (_, key2) = leaf(&rcgen::PKCS_ECDSA_P256_SHA256);
        let path = dir.path().join("both.pem");
        fs::write(&path, format!("{cert}{key}{key2}")).unwrap();
        let err = load(&path, &path).unwrap_err();
        assert!(matches!(err, Error::SeveralKeys { .. }), "{err}");
    }

    #[test]
    fn separate_key_file_wins_over_key_in_cert_file() {
        // Postfix's rule: with a key file named, the key comes from there.
        let dir = tempfile::tempdir().unwrap();
        let (cert, key) = leaf(&rcgen::PKCS_ECDSA_P256_SHA256);
        let (_, stray) = leaf(&rcgen::PKCS_ECDSA_P256_SHA256);
        let cert_path = dir.path().join("cert.pem");
        let key_path = dir.path().join("key.pem");
        fs::write(&cert_path, format!("{cert}{stray}")).unwrap();
        fs::write(&key_path, key).unwrap();
        load(&cert_path, &key_path).unwrap();
    }

    #[test]
    fn garbage_files_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("junk.pem");
        let cases: [(&str, &[u8], Check); 5] = [
            ("binary noise", b"\x00\x01\xff\xfe not pem at all", |e| {
                matches!(e, Error::NoCertificate { .. })
            }),
            ("empty", b"", |e| matches!(e, Error::NoCertificate { .. })),
            (
                "unterminated section",
                b"-----BEGIN CERTIFICATE-----\nMIIB\n",
                |e| matches!(e, Error::Pem { .. }),
            ),
            (
                "bad base64",
                b"-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n",
                |e| matches!(e, Error::Pem { .. }),
            ),
            (
                "encrypted key",
                b"-----BEGIN ENCRYPTED PRIVATE KEY-----\nMIIB\n-----END ENCRYPTED PRIVATE KEY-----\n",
                |e| matches!(e, Error::EncryptedKey { .. }),
            ),
        ];
        for (name, bytes, expected) in cases {
            fs::write(&path, bytes).unwrap();
            let err = load(&path, &path).unwrap_err();
            assert!(expected(&err), "{name}: {err}");
            assert!(err.to_string().contains("junk.pem"), "{name}: {err}");
        }
    }

    #[test]
    fn certificate_that_is_not_der_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let (_, key) = leaf(&rcgen::PKCS_ECDSA_P256_SHA256);
        let path = dir.path().join("bad.pem");
        fs::write(
            &path,
            format!("-----BEGIN CERTIFICATE-----\naGVsbG8=\n-----END CERTIFICATE-----\n{key}"),
        )
        .unwrap();
        let err = load(&path, &path).unwrap_err();
        assert!(matches!(err, Error::BadCertificate { .. }), "{err}");
    }

    #[test]
    fn encrypted_key_has_its_own_message() {
        let dir = tempfile::tempdir().unwrap();
        let (cert, _) = leaf(&rcgen::PKCS_ECDSA_P256_SHA256);
        let path = dir.path().join("enc.pem");
        fs::write(
            &path,
            format!(
                "{cert}-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-128-CBC,00\n\nAAAA\n-----END RSA PRIVATE KEY-----\n"
            ),
        )
        .unwrap();
        let err = load(&path, &path).unwrap_err();
        assert!(matches!(err, Error::EncryptedKey { .. }), "{err}");
    }

    #[test]
    fn missing_and_huge_files() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("nope.pem");
        let err = load(&missing, &missing).unwrap_err();
        assert!(matches!(err, Error::Read { .. }), "{err}");
        assert!(err.to_string().contains("nope.pem"));

        let huge = dir.path().join("huge.pem");
        fs::write(&huge, vec![b'A'; 2 * 1024 * 1024]).unwrap();
        let err = load(&huge, &huge).unwrap_err();
        assert!(matches!(err, Error::TooLarge { .. }), "{err}");
    }
}
