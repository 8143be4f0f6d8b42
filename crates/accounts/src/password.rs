//! Password schemes: verify Dovecot-style stored passwords, make new ones.
//!
//! A stored password is `{SCHEME}data`, as in Dovecot's passwd-file; one
//! without a `{SCHEME}` prefix is `{CRYPT}` (Dovecot's default for that
//! file). Supported:
//!
//! | scheme | data |
//! |---|---|
//! | `{SHA512-CRYPT}` | `$6$[rounds=N$]salt$hash` |
//! | `{SHA256-CRYPT}` | `$5$[rounds=N$]salt$hash` |
//! | `{BLF-CRYPT}` | bcrypt, `$2a$`, `$2b$` or `$2y$` |
//! | `{ARGON2I}`, `{ARGON2ID}` | a PHC string, `$argon2i$...` or `$argon2id$...` |
//! | `{PLAIN}` (also `{CLEAR}`, `{CLEARTEXT}`) | the password itself |
//! | `{CRYPT}` | any of the crypt formats above, chosen by the hash's own prefix |
//!
//! Traditional DES crypt, `$1$` MD5-crypt and other crypt(3) methods are
//! refused with [`SchemeError::Unsupported`] naming the method: they are
//! too weak to keep accepting, and the admin should rehash those users.
//!
//! Every comparison of a computed hash with the stored one is constant
//! time (the hash crates compare in constant time; `{PLAIN}` uses
//! `subtle`).

use std::fmt;
use std::str::FromStr;

use argon2::{Argon2, CustomizedPasswordHasher, PasswordHasher, PasswordVerifier};
use sha_crypt::ShaCrypt;
use subtle::ConstantTimeEq;

/// The rounds of a new `{SHA512-CRYPT}` hash (the crypt(3) and Dovecot
/// default).
const SHA_CRYPT_ROUNDS: u32 = 5_000;

/// The memory cost of a new `{ARGON2ID}` hash in KiB (Dovecot's default).
const ARGON2_M_COST: u32 = 65_536;

/// The time cost (passes) of a new `{ARGON2ID}` hash (Dovecot's default).
const ARGON2_T_COST: u32 = 3;

/// The parallelism of a new `{ARGON2ID}` hash (Dovecot's default).
const ARGON2_P_COST: u32 = 1;

/// The output length of a new `{ARGON2ID}` hash in bytes.
const ARGON2_OUTPUT_LEN: usize = 32;

/// Salt bytes of a new `{SHA512-CRYPT}` hash: 12 bytes are 16 salt
/// characters, the most SHA-crypt uses.
const SHA_CRYPT_SALT_LEN: usize = 12;

/// Salt bytes of a new `{ARGON2ID}` hash.
const ARGON2_SALT_LEN: usize = 16;

/// A password scheme named in a stored password's `{SCHEME}` prefix.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Scheme {
    /// `{SHA512-CRYPT}`: SHA-512 crypt, `$6$`.
    Sha512Crypt,
    /// `{SHA256-CRYPT}`: SHA-256 crypt, `$5$`.
    Sha256Crypt,
    /// `{BLF-CRYPT}`: bcrypt.
    BlfCrypt,
    /// `{ARGON2I}`: Argon2i, PHC string.
    Argon2i,
    /// `{ARGON2ID}`: Argon2id, PHC string.
    Argon2id,
    /// `{PLAIN}`, `{CLEAR}`, `{CLEARTEXT}`: the password in clear.
    Plain,
    /// `{CRYPT}` (or no prefix): a crypt(3) string, method by its prefix.
    Crypt,
}

/// Scheme names as written in the users file (matched case-insensitively).
const SCHEME_NAMES: &[(&str, Scheme)] = &[
    ("SHA512-CRYPT", Scheme::Sha512Crypt),
    ("SHA256-CRYPT", Scheme::Sha256Crypt),
    ("BLF-CRYPT", Scheme::BlfCrypt),
    ("ARGON2I", Scheme::Argon2i),
    ("ARGON2ID", Scheme::Argon2id),
    ("PLAIN", Scheme::Plain),
    ("CLEAR", Scheme::Plain),
    ("CLEARTEXT", Scheme::Plain),
    ("CRYPT", Scheme::Crypt),
];

impl Scheme {
    /// The scheme's name, without braces (`SHA512-CRYPT`).
    pub fn name(self) -> &'static str {
        match self {
            Scheme::Sha512Crypt => "SHA512-CRYPT",
            Scheme::Sha256Crypt => "SHA256-CRYPT",
            Scheme::BlfCrypt => "BLF-CRYPT",
            Scheme::Argon2i => "ARGON2I",
            Scheme::Argon2id => "ARGON2ID",
            Scheme::Plain => "PLAIN",
            Scheme::Crypt => "CRYPT",
        }
    }

    /// The scheme called `name` (case-insensitive, without braces).
    pub fn from_name(name: &str) -> Option<Scheme> {
        SCHEME_NAMES
            .iter()
            .find(|(known, _)| known.eq_ignore_ascii_case(name))
            .map(|(_, scheme)| *scheme)
    }
}

impl fmt::Display for Scheme {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{{{}}}", self.name())
    }
}

/// A scheme [`hash`] can make: the two worth using for new passwords.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum HashScheme {
    /// `{ARGON2ID}` with m=64 MiB, t=3, p=1 (Dovecot's defaults).
    #[default]
    Argon2id,
    /// `{SHA512-CRYPT}` with 5000 rounds, for systems that need crypt(3).
    Sha512Crypt,
}

impl HashScheme {
    /// The scheme's name, without braces.
    pub fn name(self) -> &'static str {
        self.scheme().name()
    }

    /// The same scheme as a [`Scheme`].
    pub fn scheme(self) -> Scheme {
        match self {
            HashScheme::Argon2id => Scheme::Argon2id,
            HashScheme::Sha512Crypt => Scheme::Sha512Crypt,
        }
    }
}

impl FromStr for HashScheme {
    type Err = SchemeError;

    /// Parses `ARGON2ID` or `SHA512-CRYPT` (any case, braces optional).
    fn from_str(text: &str) -> Result<HashScheme, SchemeError> {
        let name = text
            .strip_prefix('{')
            .and_then(|t| t.strip_suffix('}'))
            .unwrap_or(text);
        match Scheme::from_name(name) {
            Some(Scheme::Argon2id) => Ok(HashScheme::Argon2id),
            Some(Scheme::Sha512Crypt) => Ok(HashScheme::Sha512Crypt),
            _ => Err(SchemeError::Unknown {
                scheme: name.to_owned(),
            }),
        }
    }
}

impl fmt::Display for HashScheme {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.scheme().fmt(f)
    }
}

/// Why a stored password cannot be checked, or a new one cannot be made.
///
/// The messages never contain the hash itself, only its scheme and method.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SchemeError {
    /// A `{SCHEME}` this crate does not know (`{MD5-CRYPT}`, `{SSHA}`, a
    /// typo).
    #[error("unknown password scheme {{{scheme}}}")]
    Unknown {
        /// The name between the braces.
        scheme: String,
    },
    /// A crypt(3) method that is not supported (DES, `$1$` MD5-crypt, ...).
    #[error("unsupported password hash in {{{scheme}}}: {method}")]
    Unsupported {
        /// The scheme the hash was found under.
        scheme: &'static str,
        /// The method, named from the hash's prefix.
        method: String,
    },
    /// A hash that does not have its scheme's format.
    #[error("malformed {{{scheme}}} hash: {reason}")]
    Malformed {
        /// The scheme.
        scheme: &'static str,
        /// What is wrong.
        reason: String,
    },
    /// The operating system's random number generator failed.
    #[error("cannot get random bytes from the operating system")]
    Random,
}

/// The hash function family of a crypt-style hash, from its own prefix.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Family {
    Sha512,
    Sha256,
    Bcrypt,
    Argon2,
}

/// Splits `{SCHEME}data`; no prefix means `{CRYPT}`.
fn split_scheme(stored: &str) -> Result<(Scheme, &str), SchemeError> {
    if let Some((name, data)) = stored.strip_prefix('{').and_then(|t| t.split_once('}')) {
        let scheme = Scheme::from_name(name).ok_or_else(|| SchemeError::Unknown {
            scheme: name.to_owned(),
        })?;
        return Ok((scheme, data));
    }
    Ok((Scheme::Crypt, stored))
}

/// The family of a crypt-style hash, if it is one we support.
fn crypt_family(hash: &str) -> Option<Family> {
    const PREFIXES: &[(&str, Family)] = &[
        ("$6$", Family::Sha512),
        ("$5$", Family::Sha256),
        ("$2a$", Family::Bcrypt),
        ("$2b$", Family::Bcrypt),
        ("$2y$", Family::Bcrypt),
        ("$argon2i$", Family::Argon2),
        ("$argon2id$", Family::Argon2),
    ];
    PREFIXES
        .iter()
        .find(|(prefix, _)| hash.starts_with(prefix))
        .map(|(_, family)| *family)
}

/// Names the crypt(3) method of a hash we do not support, from its prefix
/// only (never echoing the hash).
fn crypt_method(hash: &str) -> String {
    const B64: &str = "./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    if hash.is_empty() {
        return "an empty hash".to_owned();
    }
    if hash.len() == 13 && hash.chars().all(|c| B64.contains(c)) {
        return "traditional DES crypt".to_owned();
    }
    if hash.starts_with('_') {
        return "extended DES crypt".to_owned();
    }
    if let Some(rest) = hash.strip_prefix('$') {
        let id: String = rest.chars().take_while(|c| *c != '$').take(16).collect();
        let name = match id.as_str() {
            "1" => "MD5-crypt",
            "2" | "2x" => "old bcrypt variant",
            "3" => "NT hash",
            "7" => "scrypt",
            "y" | "gy" => "yescrypt",
            "md5" => "Sun MD5-crypt",
            "sha1" => "SHA1-crypt",
            "argon2d" => "Argon2d",
            _ => "crypt method",
        };
        return format!("{name} (${id}$)");
    }
    "an unrecognised crypt format".to_owned()
}

/// The family a `{SCHEME}` requires of its data (`None` for `{PLAIN}`).
fn family(scheme: Scheme, hash: &str) -> Result<Option<Family>, SchemeError> {
    let expect = |wanted: &[Family], what: &str| match crypt_family(hash) {
        Some(found) if wanted.contains(&found) => Ok(Some(found)),
        _ => Err(SchemeError::Malformed {
            scheme: scheme.name(),
            reason: format!("expected a {what} hash"),
        }),
    };
    match scheme {
        Scheme::Plain => Ok(None),
        Scheme::Crypt => match crypt_family(hash) {
            Some(found) => Ok(Some(found)),
            None => Err(SchemeError::Unsupported {
                scheme: scheme.name(),
                method: crypt_method(hash),
            }),
        },
        Scheme::Sha512Crypt => expect(&[Family::Sha512], "$6$"),
        Scheme::Sha256Crypt => expect(&[Family::Sha256], "$5$"),
        Scheme::BlfCrypt => expect(&[Family::Bcrypt], "$2a$, $2b$ or $2y$"),
        Scheme::Argon2i | Scheme::Argon2id => expect(&[Family::Argon2], "$argon2i$ or $argon2id$"),
    }
}

/// Checks `password` against a stored password.
///
/// `Ok(true)`: it matches; `Ok(false)`: it does not. An error means the
/// stored password cannot be checked at all (unknown scheme, unsupported
/// crypt method, malformed hash); treat that as a failed login and log it.
pub fn verify(stored: &str, password: &[u8]) -> Result<bool, SchemeError> {
    let (scheme, data) = split_scheme(stored)?;
    match family(scheme, data)? {
        None => Ok(bool::from(data.as_bytes().ct_eq(password))),
        Some(family) => verify_hash(scheme, family, data, password),
    }
}

/// Runs the hash function of `family` on `password` and compares.
fn verify_hash(
    scheme: Scheme,
    family: Family,
    hash: &str,
    password: &[u8],
) -> Result<bool, SchemeError> {
    let malformed = |reason: String| SchemeError::Malformed {
        scheme: scheme.name(),
        reason,
    };
    match family {
        Family::Sha512 | Family::Sha256 => {
            probe::record(family, hash);
            match ShaCrypt::default().verify_password(password, hash) {
                Ok(()) => Ok(true),
                Err(argon2::password_hash::Error::PasswordInvalid) => Ok(false),
                Err(e) => Err(malformed(e.to_string())),
            }
        }
        Family::Bcrypt => {
            probe::record(family, hash);
            bcrypt::verify(password, hash).map_err(|e| malformed(e.to_string()))
        }
        Family::Argon2 => {
            let phc = argon2::PasswordHash::new(hash).map_err(|e| malformed(e.to_string()))?;
            probe::record(family, hash);
            match Argon2::default().verify_password(password, &phc) {
                Ok(()) => Ok(true),
                Err(argon2::password_hash::Error::PasswordInvalid) => Ok(false),
                Err(e) => Err(malformed(e.to_string())),
            }
        }
    }
}

/// Checks that a stored password has a supported scheme and format and
/// can be written into the users file (no `:`, no control characters),
/// without running its hash function (for the users file parser and
/// `postern user add`).
pub fn check(stored: &str) -> Result<(), SchemeError> {
    let (scheme, data) = split_scheme(stored)?;
    let malformed = |reason: &str| SchemeError::Malformed {
        scheme: scheme.name(),
        reason: reason.to_owned(),
    };
    // The users file separates fields with ':' and entries with newlines.
    if data.contains(':') || data.chars().any(char::is_control) {
        return Err(malformed("contains ':' or a control character"));
    }
    match family(scheme, data)? {
        None => Ok(()),
        Some(Family::Sha512 | Family::Sha256) => {
            let fields = data.split('$').count();
            // "", id, [rounds,] salt, hash
            if (4..=5).contains(&fields) {
                Ok(())
            } else {
                Err(malformed("expected $id$[rounds=N$]salt$hash"))
            }
        }
        Some(Family::Bcrypt) => {
            if data.len() == 60 && data.is_ascii() {
                Ok(())
            } else {
                Err(malformed("a bcrypt hash is 60 characters"))
            }
        }
        Some(Family::Argon2) => argon2::PasswordHash::new(data)
            .map(|_| ())
            .map_err(|e| malformed(&e.to_string())),
    }
}

/// Makes a stored password (`{SCHEME}hash`) for `password`, with a random
/// salt from the operating system.
pub fn hash(scheme: HashScheme, password: &[u8]) -> Result<String, SchemeError> {
    match scheme {
        HashScheme::Argon2id => {
            let params = argon2::Params::new(
                ARGON2_M_COST,
                ARGON2_T_COST,
                ARGON2_P_COST,
                Some(ARGON2_OUTPUT_LEN),
            )
            .map_err(|e| SchemeError::Malformed {
                scheme: Scheme::Argon2id.name(),
                reason: e.to_string(),
            })?;
            let salt = random_bytes(ARGON2_SALT_LEN)?;
            let phc = hash_argon2(
                Scheme::Argon2id,
                "argon2id",
                Some(0x13),
                params,
                &salt,
                password,
            )?;
            Ok(format!("{{ARGON2ID}}{phc}"))
        }
        HashScheme::Sha512Crypt => {
            let salt = random_bytes(SHA_CRYPT_SALT_LEN)?;
            let hash = hash_sha_crypt(
                Scheme::Sha512Crypt,
                sha_crypt::Algorithm::Sha512Crypt,
                SHA_CRYPT_ROUNDS,
                &salt,
                password,
            )?;
            Ok(format!("{{SHA512-CRYPT}}{hash}"))
        }
    }
}

/// SHA-crypt of `password` with `rounds` and `salt` (raw bytes).
fn hash_sha_crypt(
    scheme: Scheme,
    algorithm: sha_crypt::Algorithm,
    rounds: u32,
    salt: &[u8],
    password: &[u8],
) -> Result<String, SchemeError> {
    let malformed = |reason: String| SchemeError::Malformed {
        scheme: scheme.name(),
        reason,
    };
    let params = sha_crypt::Params::new(rounds).map_err(|e| malformed(e.to_string()))?;
    let hash = ShaCrypt::new(algorithm, params)
        .hash_password_with_salt(password, salt)
        .map_err(|e| malformed(e.to_string()))?;
    Ok(hash.to_string())
}

/// An Argon2 PHC string for `password`.
fn hash_argon2(
    scheme: Scheme,
    algorithm: &str,
    version: Option<u32>,
    params: argon2::Params,
    salt: &[u8],
    password: &[u8],
) -> Result<String, SchemeError> {
    Argon2::default()
        .hash_password_customized(password, salt, Some(algorithm), version, params)
        .map(|phc| phc.to_string())
        .map_err(|e| SchemeError::Malformed {
            scheme: scheme.name(),
            reason: e.to_string(),
        })
}

/// A stored password of the same scheme and cost as `stored`, for a random
/// password nobody knows.
///
/// Authentication verifies an unknown user's password against it, so that
/// an unknown user costs the same hashing work as a known one with a wrong
/// password, and response times do not reveal which users exist.
pub(crate) fn dummy_like(stored: &str) -> Result<String, SchemeError> {
    let (scheme, data) = split_scheme(stored)?;
    let prefix = stored.strip_suffix(data).unwrap_or_default();
    let password = random_bytes(16)?;
    let malformed = |reason: String| SchemeError::Malformed {
        scheme: scheme.name(),
        reason,
    };
    let body = match family(scheme, data)? {
        None => {
            // Same length, so the constant-time comparison does the same work.
            let len = data.len().max(16);
            let mut text = String::with_capacity(len);
            for byte in random_bytes(len)? {
                let digit = char::from_digit(u32::from(byte % 16), 16).unwrap_or('0');
                text.push(digit);
            }
            text
        }
        Some(family @ (Family::Sha512 | Family::Sha256)) => {
            let algorithm = if family == Family::Sha512 {
                sha_crypt::Algorithm::Sha512Crypt
            } else {
                sha_crypt::Algorithm::Sha256Crypt
            };
            let salt = random_bytes(SHA_CRYPT_SALT_LEN)?;
            hash_sha_crypt(scheme, algorithm, sha_rounds(data), &salt, &password)?
        }
        Some(Family::Bcrypt) => {
            let version = match data.get(1..3) {
                Some("2a") => bcrypt::Version::TwoA,
                Some("2b") => bcrypt::Version::TwoB,
                _ => bcrypt::Version::TwoY,
            };
            let cost = data
                .get(4..6)
                .and_then(|c| c.parse::<u32>().ok())
                .ok_or_else(|| malformed("bad cost".to_owned()))?;
            let mut salt = [0u8; 16];
            salt.copy_from_slice(&random_bytes(16)?);
            bcrypt::hash_with_salt(&password, cost, salt)
                .map_err(|e| malformed(e.to_string()))?
                .format_for_version(version)
        }
        Some(Family::Argon2) => {
            let phc = argon2::PasswordHash::new(data).map_err(|e| malformed(e.to_string()))?;
            let params = argon2::Params::try_from(&phc).map_err(|e| malformed(e.to_string()))?;
            let salt_len = phc.salt.map_or(ARGON2_SALT_LEN, |s| s.len());
            let salt = random_bytes(salt_len)?;
            hash_argon2(
                scheme,
                phc.algorithm.as_str(),
                phc.version,
                params,
                &salt,
                &password,
            )?
        }
    };
    Ok(format!("{prefix}{body}"))
}

/// The rounds of a SHA-crypt hash, as the verifier will use them.
fn sha_rounds(hash: &str) -> u32 {
    hash.split('$')
        .nth(2)
        .and_then(|field| field.strip_prefix("rounds="))
        .and_then(|r| r.parse::<u32>().ok())
        .filter(|r| sha_crypt::Params::new(*r).is_ok())
        .unwrap_or(SHA_CRYPT_ROUNDS)
}

/// `len` bytes from the operating system's random number generator.
fn random_bytes(len: usize) -> Result<Vec<u8>, SchemeError> {
    let mut out = Vec::with_capacity(len);
    while out.len() < len {
        let chunk = argon2::password_hash::try_generate_salt().map_err(|_| SchemeError::Random)?;
        out.extend_from_slice(&chunk);
    }
    out.truncate(len);
    Ok(out)
}

/// A stored password for tests: the scheme's hash of `password` with cheap
/// cost parameters (Argon2 at full cost takes seconds in a debug build).
#[cfg(test)]
pub(crate) fn cheap_hash(scheme: Scheme, password: &[u8]) -> String {
    let salt = [7u8; 16];
    match scheme {
        Scheme::Argon2i | Scheme::Argon2id => {
            let (name, ident) = if scheme == Scheme::Argon2i {
                ("ARGON2I", "argon2i")
            } else {
                ("ARGON2ID", "argon2id")
            };
            let params = argon2::Params::new(64, 1, 1, Some(32)).unwrap();
            let phc = hash_argon2(scheme, ident, Some(0x13), params, &salt, password).unwrap();
            format!("{{{name}}}{phc}")
        }
        Scheme::Sha256Crypt => {
            let h = hash_sha_crypt(
                scheme,
                sha_crypt::Algorithm::Sha256Crypt,
                1000,
                &salt,
                password,
            )
            .unwrap();
            format!("{{SHA256-CRYPT}}{h}")
        }
        Scheme::Sha512Crypt | Scheme::Crypt => {
            let h = hash_sha_crypt(
                scheme,
                sha_crypt::Algorithm::Sha512Crypt,
                1000,
                &salt,
                password,
            )
            .unwrap();
            format!("{{{}}}{h}", scheme.name())
        }
        Scheme::BlfCrypt => {
            let h = bcrypt::hash_with_salt(password, 4, salt)
                .unwrap()
                .format_for_version(bcrypt::Version::TwoY);
            format!("{{BLF-CRYPT}}{h}")
        }
        Scheme::Plain => format!("{{PLAIN}}{}", String::from_utf8_lossy(password)),
    }
}

/// A record of every run of a password hash function, so that tests can
/// prove that an unknown user costs the same hashing work as a wrong
/// password by counting, not by timing. Compiled to nothing outside tests.
pub(crate) mod probe {
    use super::Family;

    #[cfg(test)]
    thread_local! {
        static RUNS: std::cell::RefCell<Vec<String>> = const { std::cell::RefCell::new(Vec::new()) };
    }

    /// Notes one run of `family`'s hash function with the cost parameters
    /// of `hash` (the salt and digest are left out).
    #[cfg(test)]
    pub(crate) fn record(family: Family, hash: &str) {
        let cost = match family {
            Family::Sha512 | Family::Sha256 => format!("rounds={}", super::sha_rounds(hash)),
            Family::Bcrypt => hash.get(..7).unwrap_or_default().to_owned(),
            Family::Argon2 => hash.split('$').take(4).collect::<Vec<_>>().join("$"),
        };
        RUNS.with(|runs| runs.borrow_mut().push(format!("{family:?} {cost}")));
    }

    /// Does nothing outside tests.
    #[cfg(not(test))]
    #[inline(always)]
    pub(crate) fn record(_family: Family, _hash: &str) {}

    /// The runs on this thread since the last call, oldest first.
    #[cfg(test)]
    pub(crate) fn take() -> Vec<String> {
        RUNS.with(|runs| std::mem::take(&mut *runs.borrow_mut()))
    }
}

#[cfg(test)]
mod tests;
