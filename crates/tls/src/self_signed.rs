//! The development certificate: self-signed, in the spool, made once.

use std::fs::{self, DirBuilder, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use crate::Error;

/// The directory under `queue_directory` that holds it.
const TLS_DIR: &str = "tls";
/// Its file name.
const FILE_NAME: &str = "self-signed.pem";
/// How long it is valid: about ten years, so a development or test host
/// never meets an expired certificate.
const VALIDITY: Duration = Duration::from_secs(10 * 365 * 24 * 60 * 60);
/// How far back `notBefore` goes, for clients whose clock is a bit behind.
const BACKDATE: Duration = Duration::from_secs(60 * 60);

/// Where the self-signed certificate lives: `queue_directory/tls/self-signed.pem`.
pub fn self_signed_path(queue_directory: &Path) -> PathBuf {
    queue_directory.join(TLS_DIR).join(FILE_NAME)
}

/// Creates the self-signed certificate for `hostname` unless it exists.
///
/// The file holds a fresh ECDSA P-256 key (PKCS#8) and a certificate with
/// subject `CN=hostname` and subject alternative names `hostname` and
/// `localhost`, valid for about ten years. It is written to a temporary
/// file with mode 0600, synced, and renamed into place, so a crash leaves
/// either no file or a complete one; `tls/` is created with mode 0700.
/// The spool itself (`queue_directory`) must exist.
///
/// Returns `true` if it created the file (the caller logs that it did, with
/// the path), `false` if the file was already there (it is not read or
/// changed: an admin may have replaced it with a certificate of their own).
/// Ownership is the caller's: the file belongs to whoever calls this, so
/// master, if root, hands it to `mail_owner` when the daemons read it after
/// dropping privileges.
///
/// # Errors
///
/// [`Error::Generate`] if `hostname` cannot be a DNS name in a certificate;
/// [`Error::Write`] naming the directory or file that could not be written.
pub fn ensure_self_signed(queue_directory: &Path, hostname: &str) -> Result<bool, Error> {
    let path = self_signed_path(queue_directory);
    if fs::symlink_metadata(&path).is_ok() {
        return Ok(false);
    }
    let pem = generate(hostname)?;
    let dir = queue_directory.join(TLS_DIR);
    match DirBuilder::new().mode(0o700).create(&dir) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists && dir.is_dir() => {}
        Err(source) => return Err(Error::Write { path: dir, source }),
    }

    let tmp = dir.join(format!(".{FILE_NAME}.{}.tmp", std::process::id()));
    let write_error = |path: &Path| {
        let path = path.to_owned();
        move |source| Error::Write { path, source }
    };
    // A leftover from a crash of this same pid number; ours to remove.
    match fs::remove_file(&tmp) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(source) => return Err(Error::Write { path: tmp, source }),
    }
    let result = write_new(&tmp, pem.as_bytes())
        .and_then(|()| fs::rename(&tmp, &path))
        .map_err(write_error(&path));
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result?;
    // Make the rename itself durable.
    File::open(&dir)
        .and_then(|d| d.sync_all())
        .map_err(write_error(&dir))?;
    Ok(true)
}

/// Writes a new file, 0600 regardless of the umask, and syncs it.
/// `create_new` (O_EXCL) also refuses to follow a planted symlink.
fn write_new(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    file.set_permissions(fs::Permissions::from_mode(0o600))?;
    file.write_all(bytes)?;
    file.sync_all()
}

/// The key and certificate, PEM, key first.
fn generate(hostname: &str) -> Result<String, Error> {
    let generate_error = |source| Error::Generate {
        hostname: hostname.to_owned(),
        source,
    };
    let mut names = vec![hostname.to_owned()];
    if !hostname.eq_ignore_ascii_case("localhost") {
        names.push("localhost".to_owned());
    }
    let mut params = rcgen::CertificateParams::new(names).map_err(generate_error)?;
    params.distinguished_name = rcgen::DistinguishedName::new();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, hostname);
    params.is_ca = rcgen::IsCa::ExplicitNoCa;
    params.key_usages = vec![rcgen::KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ServerAuth];
    let now = SystemTime::now();
    params.not_before = now.checked_sub(BACKDATE).unwrap_or(now).into();
    params.not_after = now.checked_add(VALIDITY).unwrap_or(now).into();

    let key =
        rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).map_err(generate_error)?;
    let cert = params.self_signed(&key).map_err(generate_error)?;
    Ok(format!("{}{}", key.serialize_pem(), cert.pem()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rustls::pki_types::{CertificateDer, ServerName, UnixTime};

    #[test]
    fn path_is_in_the_spool() {
        assert_eq!(
            self_signed_path(Path::new("/var/spool/postern")),
            PathBuf::from("/var/spool/postern/tls/self-signed.pem")
        );
    }

    #[test]
    fn creates_once_with_mode_0600() {
        let spool = tempfile::tempdir().unwrap();
        let path = self_signed_path(spool.path());
        assert!(ensure_self_signed(spool.path(), "mail.example.org").unwrap());
        let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let dir_mode = fs::metadata(path.parent().unwrap())
            .unwrap()
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(dir_mode, 0o700);
        let first = fs::read(&path).unwrap();

        assert!(!ensure_self_signed(spool.path(), "other.example.org").unwrap());
        assert_eq!(fs::read(&path).unwrap(), first, "existing file untouched");
        // No temporary file left behind.
        let names: Vec<_> = fs::read_dir(path.parent().unwrap())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from(FILE_NAME)]);
    }

    #[test]
    fn parses_back_and_covers_the_host_name() {
        let spool = tempfile::tempdir().unwrap();
        ensure_self_signed(spool.path(), "mail.example.org").unwrap();
        let path = self_signed_path(spool.path());
        let key = crate::pem::load_certified_key(&[&path], &[&path], &crate::provider()).unwrap();
        assert_eq!(key.cert.len(), 1);

        // The certificate is its own trust anchor: verify the names with
        // webpki, as a client pinning it would.
        let cert: CertificateDer<'static> = key.cert[0].clone();
        let mut roots = rustls::RootCertStore::empty();
        roots.add(cert.clone()).unwrap();
        let verifier = rustls::client::WebPkiServerVerifier::builder_with_provider(
            std::sync::Arc::new(roots),
            crate::provider(),
        )
        .build()
        .unwrap();
        use rustls::client::danger::ServerCertVerifier;
        for name in ["mail.example.org", "localhost"] {
            verifier
                .verify_server_cert(
                    &cert,
                    &[],
                    &ServerName::try_from(name).unwrap(),
                    &[],
                    UnixTime::now(),
                )
                .unwrap_or_else(|e| panic!("{name}: {e}"));
        }
        assert!(
            verifier
                .verify_server_cert(
                    &cert,
                    &[],
                    &ServerName::try_from("other.example.org").unwrap(),
                    &[],
                    UnixTime::now(),
                )
                .is_err()
        );
        // Still valid in nine years, expired in eleven.
        let year = 365 * 24 * 60 * 60;
        for (years, ok) in [(9, true), (11, false)] {
            let when = UnixTime::since_unix_epoch(
                SystemTime::now()
                    .duration_since(SystemTime::UNIX_EPOCH)
                    .unwrap()
                    + Duration::from_secs(years * year),
            );
            let r = verifier.verify_server_cert(
                &cert,
                &[],
                &ServerName::try_from("localhost").unwrap(),
                &[],
                when,
            );
            assert_eq!(r.is_ok(), ok, "{years} years: {r:?}");
        }
    }

    #[test]
    fn missing_spool_is_an_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let spool = dir.path().join("absent");
        let err = ensure_self_signed(&spool, "mail.example.org").unwrap_err();
        assert!(matches!(err, Error::Write { .. }), "{err}");
        assert!(err.to_string().contains("absent/tls"), "{err}");
    }

    #[test]
    fn bad_host_name_is_an_error() {
        let spool = tempfile::tempdir().unwrap();
        let err = ensure_self_signed(spool.path(), "bad\u{e4}name").unwrap_err();
        assert!(matches!(err, Error::Generate { .. }), "{err}");
        assert!(!self_signed_path(spool.path()).exists());
    }
}
