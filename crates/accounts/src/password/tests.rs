use super::*;

/// The doveadm vectors: (line, expected, password, stored).
fn vectors() -> Vec<(usize, &'static str, &'static str, &'static str)> {
    include_str!("../../tests/data/doveadm-vectors.txt")
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.starts_with('#') && !l.trim().is_empty())
        .map(|(n, l)| {
            let mut fields = l.splitn(3, '\t');
            let expected = fields.next().unwrap();
            let password = fields.next().unwrap();
            let stored = fields.next().unwrap();
            (n + 1, expected, password, stored)
        })
        .collect()
}

/// `stored` with one digest character changed (in the middle, so that
/// the change is never in the unused bits of the last base64 character).
fn tampered(stored: &str) -> String {
    let mut chars: Vec<char> = stored.chars().collect();
    let at = chars.len() - 10;
    chars[at] = if chars[at] == 'a' { 'b' } else { 'a' };
    chars.into_iter().collect()
}

/// Checks every "ok" vector whose scheme is `scheme` (the `{NAME}` prefix);
/// `index` picks one vector of that scheme (to spread slow Argon2 runs
/// over tests that run in parallel).
fn check_vectors(scheme: &str, index: Option<usize>) {
    let prefix = format!("{{{scheme}}}");
    let mut checked = 0;
    let selected = vectors()
        .into_iter()
        .filter(|(_, expected, _, stored)| *expected == "ok" && stored.starts_with(&prefix))
        .enumerate()
        .filter(|(i, _)| index.is_none_or(|want| want == *i));
    for (_, (line, _, password, stored)) in selected {
        let here = format!("doveadm-vectors.txt:{line}");
        assert_eq!(
            verify(stored, password.as_bytes()),
            Ok(true),
            "{here}: right password"
        );
        let wrong = format!("{password}x");
        let wrong_result = verify(stored, wrong.as_bytes());
        if password.len() > 72 {
            // bcrypt reads 72 bytes at most: appending changes nothing.
            assert_eq!(wrong_result, Ok(true), "{here}: bcrypt truncation");
            let mut shorter = password.to_owned();
            shorter.replace_range(10..11, "X");
            assert_eq!(verify(stored, shorter.as_bytes()), Ok(false), "{here}");
        } else {
            assert_eq!(wrong_result, Ok(false), "{here}: wrong password");
        }
        assert_eq!(verify(stored, b""), Ok(false), "{here}: empty password");
        let bad = tampered(stored);
        assert_ne!(
            verify(&bad, password.as_bytes()),
            Ok(true),
            "{here}: tampered {bad}"
        );
        checked += 1;
    }
    assert!(checked > 0, "no vectors for {scheme}");
}

#[test]
fn doveadm_vectors_sha512_crypt() {
    check_vectors("SHA512-CRYPT", None);
}

#[test]
fn doveadm_vectors_sha256_crypt() {
    check_vectors("SHA256-CRYPT", None);
}

#[test]
fn doveadm_vectors_blf_crypt() {
    check_vectors("BLF-CRYPT", None);
}

#[test]
fn doveadm_vectors_plain() {
    check_vectors("PLAIN", None);
}

#[test]
fn doveadm_vectors_crypt() {
    check_vectors("CRYPT", None);
}

#[test]
fn doveadm_vectors_argon2i() {
    check_vectors("ARGON2I", None);
}

#[test]
fn doveadm_vectors_argon2id_first() {
    check_vectors("ARGON2ID", Some(0));
}

#[test]
fn doveadm_vectors_argon2id_second() {
    check_vectors("ARGON2ID", Some(1));
}

#[test]
fn doveadm_vectors_refused_schemes() {
    let mut checked = 0;
    for (line, expected, password, stored) in vectors() {
        if expected != "unknown" {
            continue;
        }
        let here = format!("doveadm-vectors.txt:{line}");
        assert!(
            matches!(
                verify(stored, password.as_bytes()),
                Err(SchemeError::Unknown { .. })
            ),
            "{here}"
        );
        let (_, body) = stored.split_once('}').unwrap();
        for as_crypt in [format!("{{CRYPT}}{body}"), body.to_owned()] {
            let err = verify(&as_crypt, password.as_bytes()).unwrap_err();
            assert!(
                matches!(err, SchemeError::Unsupported { .. }),
                "{here}: {err}"
            );
            let text = err.to_string();
            assert!(
                !text.contains(body),
                "{here}: message echoes the hash: {text}"
            );
            assert!(check(&as_crypt).is_err(), "{here}");
        }
        checked += 1;
    }
    assert_eq!(checked, 2);
}

#[test]
fn every_scheme_verifies_its_own_hash() {
    let schemes = [
        Scheme::Sha512Crypt,
        Scheme::Sha256Crypt,
        Scheme::BlfCrypt,
        Scheme::Argon2i,
        Scheme::Argon2id,
        Scheme::Plain,
        Scheme::Crypt,
    ];
    for scheme in schemes {
        let stored = cheap_hash(scheme, b"hunter2");
        assert_eq!(check(&stored), Ok(()), "{scheme}: check");
        assert_eq!(verify(&stored, b"hunter2"), Ok(true), "{scheme}: right");
        assert_eq!(verify(&stored, b"hunter3"), Ok(false), "{scheme}: wrong");
        assert_eq!(verify(&stored, b"hunter"), Ok(false), "{scheme}: prefix");
        if scheme != Scheme::Plain {
            // The same hash under {CRYPT} and without a prefix: dispatch on
            // the hash's own prefix.
            let (_, body) = stored.split_once('}').unwrap();
            assert_eq!(
                verify(&format!("{{CRYPT}}{body}"), b"hunter2"),
                Ok(true),
                "{scheme}"
            );
            assert_eq!(verify(body, b"hunter2"), Ok(true), "{scheme}: no prefix");
            assert_eq!(verify(body, b"hunter3"), Ok(false), "{scheme}: no prefix");
        }
    }
}

#[test]
fn scheme_names_are_case_insensitive_and_plain_has_aliases() {
    let cases: &[(&str, &str, bool)] = &[
        ("lower case", "{plain}pw", true),
        ("mixed case", "{Sha512-Crypt}", false),
        ("CLEAR", "{CLEAR}pw", true),
        ("CLEARTEXT", "{CLEARTEXT}pw", true),
        ("plain mismatch", "{PLAIN}pw2", false),
        ("empty plain", "{PLAIN}", false),
    ];
    for (name, stored, want) in cases {
        if name == &"mixed case" {
            let stored = format!(
                "{stored}{}",
                cheap_hash(Scheme::Sha512Crypt, b"pw")
                    .split_once('}')
                    .unwrap()
                    .1
            );
            assert_eq!(verify(&stored, b"pw"), Ok(true), "case {name}");
            continue;
        }
        assert_eq!(verify(stored, b"pw"), Ok(*want), "case {name}");
    }
}

#[test]
fn bad_stored_passwords_are_errors() {
    #[derive(Debug)]
    enum Want {
        Unknown,
        Unsupported(&'static str),
        Malformed,
    }
    let cases: &[(&str, &str, Want)] = &[
        ("unknown scheme", "{FOO}bar", Want::Unknown),
        ("dovecot MD5-CRYPT", "{MD5-CRYPT}$1$abc$def", Want::Unknown),
        ("encoded plain", "{PLAIN.B64}cHc=", Want::Unknown),
        (
            "md5 crypt",
            "{CRYPT}$1$abcdefgh$0123456789012345678901",
            Want::Unsupported("MD5-crypt"),
        ),
        (
            "md5 crypt, no prefix",
            "$1$abcdefgh$0123456789012345678901",
            Want::Unsupported("MD5-crypt"),
        ),
        (
            "des crypt",
            "{CRYPT}abJnggxhB/yWI",
            Want::Unsupported("DES"),
        ),
        (
            "des crypt, no prefix",
            "abJnggxhB/yWI",
            Want::Unsupported("DES"),
        ),
        (
            "yescrypt",
            "$y$j9T$salt$hash",
            Want::Unsupported("yescrypt"),
        ),
        (
            "old bcrypt",
            "{CRYPT}$2x$05$abcdefghijklmnopqrstuu",
            Want::Unsupported("bcrypt"),
        ),
        (
            "argon2d",
            "{CRYPT}$argon2d$v=19$m=64,t=1,p=1$c2FsdHNhbHQ$aGFzaA",
            Want::Unsupported("Argon2d"),
        ),
        ("empty crypt", "{CRYPT}", Want::Unsupported("empty")),
        ("empty, no prefix", "", Want::Unsupported("empty")),
        (
            "junk",
            "not a hash at all",
            Want::Unsupported("unrecognised"),
        ),
        (
            "sha512 scheme, sha256 hash",
            "{SHA512-CRYPT}$5$salt$hash",
            Want::Malformed,
        ),
        ("sha512 truncated", "{SHA512-CRYPT}$6$", Want::Malformed),
        (
            "sha512 bad base64",
            "{SHA512-CRYPT}$6$salt$!!!!",
            Want::Malformed,
        ),
        (
            "blf with $2x$",
            "{BLF-CRYPT}$2x$05$abcdefghijklmnopqrstuu",
            Want::Malformed,
        ),
        ("blf truncated", "{BLF-CRYPT}$2y$05$abc", Want::Malformed),
        (
            "argon2 garbage",
            "{ARGON2ID}$argon2id$garbage",
            Want::Malformed,
        ),
        (
            "argon2 scheme, sha hash",
            "{ARGON2I}$6$salt$hash",
            Want::Malformed,
        ),
    ];
    for (name, stored, want) in cases {
        let got = verify(stored, b"pw");
        let ok = match (&got, want) {
            (Err(SchemeError::Unknown { .. }), Want::Unknown) => true,
            (Err(SchemeError::Unsupported { method, .. }), Want::Unsupported(word)) => {
                method.contains(word)
            }
            (Err(SchemeError::Malformed { .. }), Want::Malformed) => true,
            _ => false,
        };
        assert!(ok, "case {name}: got {got:?}, want {want:?}");
    }
}

#[test]
fn check_accepts_good_and_refuses_bad() {
    let cases: &[(&str, &str, bool)] = &[
        ("sha512", "{SHA512-CRYPT}$6$salt$hash", true),
        (
            "sha512 rounds",
            "{SHA512-CRYPT}$6$rounds=9000$salt$hash",
            true,
        ),
        ("sha512 missing hash", "{SHA512-CRYPT}$6$salt", false),
        (
            "bcrypt",
            "{BLF-CRYPT}$2y$05$L/1tLwC7LjrQQYGk1xtRKeFgoaHNklSRHoA.h36mQps16D6yTPVN2",
            true,
        ),
        ("bcrypt short", "{BLF-CRYPT}$2y$05$L/1tLwC7", false),
        (
            "argon2",
            "{ARGON2ID}$argon2id$v=19$m=65536,t=3,p=1$A2+2wBpmlnbthnti4bNPlw$Vtcg7I/kIgeN18LDfAodVlWC1q9P7t5Ji+/zWELKUHY",
            true,
        ),
        ("argon2 junk", "{ARGON2ID}$argon2id$v=19$x", false),
        ("plain", "{PLAIN}secret", true),
        ("unknown", "{SSHA}abc", false),
        ("des", "abJnggxhB/yWI", false),
    ];
    for (name, stored, ok) in cases {
        assert_eq!(
            check(stored).is_ok(),
            *ok,
            "case {name}: {:?}",
            check(stored)
        );
    }
}

#[test]
fn hash_sha512_crypt_is_salted_and_verifies() {
    let a = hash(HashScheme::Sha512Crypt, b"secret").unwrap();
    let b = hash(HashScheme::Sha512Crypt, b"secret").unwrap();
    assert!(a.starts_with("{SHA512-CRYPT}$6$rounds=5000$"), "{a}");
    assert_ne!(a, b, "salts must differ");
    assert_eq!(check(&a), Ok(()));
    assert_eq!(verify(&a, b"secret"), Ok(true));
    assert_eq!(verify(&a, b"Secret"), Ok(false));
    // The salt is 16 characters, the most SHA-crypt uses.
    let salt = a.split('$').nth(3).unwrap();
    assert_eq!(salt.len(), 16);
}

#[test]
fn hash_argon2id_uses_dovecot_parameters_and_verifies() {
    let a = hash(HashScheme::Argon2id, b"secret").unwrap();
    assert!(
        a.starts_with("{ARGON2ID}$argon2id$v=19$m=65536,t=3,p=1$"),
        "{a}"
    );
    assert_eq!(check(&a), Ok(()));
    assert_eq!(verify(&a, b"secret"), Ok(true));
}

#[test]
fn hash_scheme_names() {
    let cases: &[(&str, Option<HashScheme>)] = &[
        ("ARGON2ID", Some(HashScheme::Argon2id)),
        ("argon2id", Some(HashScheme::Argon2id)),
        ("{SHA512-CRYPT}", Some(HashScheme::Sha512Crypt)),
        ("sha512-crypt", Some(HashScheme::Sha512Crypt)),
        ("PLAIN", None),
        ("ARGON2I", None),
        ("", None),
    ];
    for (text, want) in cases {
        assert_eq!(text.parse::<HashScheme>().ok(), *want, "case {text:?}");
    }
    assert_eq!(HashScheme::default(), HashScheme::Argon2id);
    assert_eq!(HashScheme::Sha512Crypt.to_string(), "{SHA512-CRYPT}");
}

#[test]
fn dummy_has_the_same_scheme_and_cost() {
    let mut stored: Vec<String> = [
        Scheme::Sha512Crypt,
        Scheme::Sha256Crypt,
        Scheme::BlfCrypt,
        Scheme::Argon2i,
        Scheme::Argon2id,
        Scheme::Crypt,
    ]
    .into_iter()
    .map(|s| cheap_hash(s, b"pw"))
    .collect();
    stored.push("{SHA512-CRYPT}$6$rounds=2000$abc$".to_owned() + &"x".repeat(86));
    stored.push("$2b$05$L/1tLwC7LjrQQYGk1xtRKeFgoaHNklSRHoA.h36mQps16D6yTPVN2".to_owned());
    for real in &stored {
        let dummy = dummy_like(real).unwrap();
        assert_ne!(&dummy, real);
        let _ = probe::take();
        let _ = verify(real, b"wrong");
        let real_runs = probe::take();
        assert_eq!(verify(&dummy, b"wrong"), Ok(false), "{dummy}");
        let dummy_runs = probe::take();
        assert_eq!(real_runs.len(), 1, "{real}");
        assert_eq!(real_runs, dummy_runs, "{real} vs {dummy}");
        let scheme_of = |s: &str| s.split_once('}').map(|(p, _)| p.to_owned());
        assert_eq!(scheme_of(real), scheme_of(&dummy));
    }
    let plain = dummy_like("{PLAIN}twelve chars").unwrap();
    assert_eq!(plain.len(), "{PLAIN}twelve chars".len() + 4, "{plain}");
}
