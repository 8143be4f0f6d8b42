use super::*;
use crate::command::{Command, parse_command};
use proptest::prelude::*;

fn b64(text: &[u8]) -> String {
    base64::encode(text)
}

fn done(step: Result<AuthStep, SaslError>) -> Result<Credentials, SaslError> {
    match step? {
        AuthStep::Done(credentials) => Ok(credentials),
        AuthStep::Challenge(exchange) => {
            panic!("expected credentials, got {:?}", exchange.challenge())
        }
    }
}

fn challenge(step: Result<AuthStep, SaslError>) -> AuthExchange {
    match step {
        Ok(AuthStep::Challenge(exchange)) => exchange,
        other => panic!("expected a challenge, got {other:?}"),
    }
}

fn creds(username: &str, password: &str) -> Credentials {
    Credentials {
        username: username.into(),
        password: Secret::new(password),
    }
}

#[test]
fn plain_decoding() {
    let cases: &[(&str, &[u8], Result<Credentials, SaslError>)] = &[
        (
            "no authzid",
            b"\0alice\0secret",
            Ok(creds("alice", "secret")),
        ),
        (
            "same authzid",
            b"alice\0alice\0secret",
            Ok(creds("alice", "secret")),
        ),
        (
            "email login",
            b"\0alice@example.org\0p w",
            Ok(creds("alice@example.org", "p w")),
        ),
        (
            "utf-8 password",
            "\0alice\0p\u{e4}ss".as_bytes(),
            Ok(creds("alice", "p\u{e4}ss")),
        ),
        (
            "other authzid",
            b"bob\0alice\0secret",
            Err(SaslError::AuthzidMismatch),
        ),
        ("empty authcid", b"\0\0secret", Err(SaslError::Malformed)),
        ("empty password", b"\0alice\0", Err(SaslError::Malformed)),
        ("one nul", b"alice\0secret", Err(SaslError::Malformed)),
        (
            "three nuls",
            b"\0alice\0sec\0ret",
            Err(SaslError::Malformed),
        ),
        ("no nul", b"alicesecret", Err(SaslError::Malformed)),
        ("empty", b"", Err(SaslError::Malformed)),
        ("bad utf-8", b"\0alice\0\xff", Err(SaslError::Malformed)),
    ];
    for (name, message, want) in cases {
        let initial = Secret::new(b64(message));
        let got = done(AuthExchange::start(&Mechanism::Plain, Some(&initial)));
        assert_eq!(&got, want, "{name} (initial response)");
        let exchange = challenge(AuthExchange::start(&Mechanism::Plain, None));
        assert_eq!(exchange.challenge().to_string(), "334 \r\n");
        let got = done(exchange.respond(b64(message).as_bytes()));
        assert_eq!(&got, want, "{name} (after challenge)");
    }
}

#[test]
fn plain_bad_base64_and_empty_initial() {
    let bad = Secret::new("AGFsaWNl!");
    assert!(matches!(
        AuthExchange::start(&Mechanism::Plain, Some(&bad)),
        Err(SaslError::InvalidBase64(_))
    ));
    let empty = Secret::new("=");
    assert_eq!(
        done(AuthExchange::start(&Mechanism::Plain, Some(&empty))),
        Err(SaslError::Malformed)
    );
}

#[test]
fn login_steps() {
    let exchange = challenge(AuthExchange::start(&Mechanism::Login, None));
    assert_eq!(exchange.challenge().to_string(), "334 VXNlcm5hbWU6\r\n");
    let exchange = challenge(exchange.respond(b64(b"alice").as_bytes()));
    assert_eq!(exchange.challenge().to_string(), "334 UGFzc3dvcmQ6\r\n");
    assert_eq!(
        done(exchange.respond(b64(b"secret").as_bytes())),
        Ok(creds("alice", "secret"))
    );

    // With the user name as initial response.
    let initial = Secret::new(b64(b"alice"));
    let exchange = challenge(AuthExchange::start(&Mechanism::Login, Some(&initial)));
    assert_eq!(exchange.challenge().to_string(), "334 UGFzc3dvcmQ6\r\n");
    assert_eq!(
        done(exchange.respond(b64(b"secret").as_bytes())),
        Ok(creds("alice", "secret"))
    );

    // Bad steps.
    let exchange = challenge(AuthExchange::start(&Mechanism::Login, None));
    assert_eq!(
        done(exchange.respond(b"")),
        Err(SaslError::Malformed),
        "empty user name"
    );
    let exchange = challenge(AuthExchange::start(&Mechanism::Login, None));
    let exchange = challenge(exchange.respond(b64(b"alice").as_bytes()));
    assert_eq!(
        done(exchange.respond(b"")),
        Err(SaslError::Malformed),
        "empty password"
    );
    let exchange = challenge(AuthExchange::start(&Mechanism::Login, None));
    assert!(matches!(
        done(exchange.respond(b"not base64")),
        Err(SaslError::InvalidBase64(_))
    ));
}

#[test]
fn cancellation_and_limits() {
    let exchange = challenge(AuthExchange::start(&Mechanism::Login, None));
    let error = done(exchange.respond(b"*")).unwrap_err();
    assert_eq!(error, SaslError::Cancelled);
    assert_eq!(
        error.reply().to_string(),
        "501 5.7.0 Authentication aborted\r\n"
    );

    let exchange = challenge(AuthExchange::start(&Mechanism::Plain, None));
    let fits = "A".repeat(MAX_RESPONSE_LINE - 2);
    assert!(!matches!(
        exchange.respond(fits.as_bytes()),
        Err(SaslError::ResponseTooLong)
    ));
    let exchange = challenge(AuthExchange::start(&Mechanism::Plain, None));
    let long = "A".repeat(MAX_RESPONSE_LINE - 1);
    assert_eq!(
        done(exchange.respond(long.as_bytes())),
        Err(SaslError::ResponseTooLong)
    );
}

#[test]
fn unsupported_mechanism() {
    let other = Mechanism::parse("cram-md5").unwrap();
    assert_eq!(other, Mechanism::Other("CRAM-MD5".into()));
    assert!(matches!(
        AuthExchange::start(&other, None),
        Err(SaslError::UnsupportedMechanism)
    ));
}

#[test]
fn errors_map_to_replies() {
    for (error, wire) in [
        (SaslError::Cancelled, "501 5.7.0 Authentication aborted\r\n"),
        (
            SaslError::InvalidBase64(base64::Base64Error::InvalidLength),
            "501 5.5.2 Error: cannot decode the response\r\n",
        ),
        (SaslError::Malformed, "535 5.7.8 Authentication failed\r\n"),
        (
            SaslError::AuthzidMismatch,
            "535 5.7.8 Authentication failed\r\n",
        ),
        (
            SaslError::UnsupportedMechanism,
            "504 5.5.4 Unsupported authentication mechanism\r\n",
        ),
        (
            SaslError::ResponseTooLong,
            "500 5.5.6 Authentication exchange line is too long\r\n",
        ),
    ] {
        assert_eq!(error.reply().to_string(), wire, "{error}");
    }
}

#[test]
fn mechanism_names() {
    for (name, want) in [
        ("PLAIN", Some(Mechanism::Plain)),
        ("plain", Some(Mechanism::Plain)),
        ("Login", Some(Mechanism::Login)),
        ("X_Y-1", Some(Mechanism::Other("X_Y-1".into()))),
        (
            "ABCDEFGHIJKLMNOPQRST",
            Some(Mechanism::Other("ABCDEFGHIJKLMNOPQRST".into())),
        ),
        ("ABCDEFGHIJKLMNOPQRSTU", None),
        ("", None),
        ("PL AIN", None),
        ("PLAIN=", None),
    ] {
        assert_eq!(Mechanism::parse(name), want, "{name:?}");
    }
}

#[test]
fn secrets_never_show() {
    let credentials = creds("alice", "hunter2");
    let debug = format!("{credentials:?}");
    assert!(debug.contains("alice"));
    assert!(!debug.contains("hunter2"), "{debug}");
    assert!(debug.contains("[redacted]"));
    let exchange = challenge(AuthExchange::start(
        &Mechanism::Login,
        Some(&Secret::new(b64(b"alice"))),
    ));
    let _ = format!("{exchange:?}");
}

#[test]
fn client_plain_round_trip() {
    let response = encode_plain("alice", &Secret::new("secret"));
    assert_eq!(response.expose(), "AGFsaWNlAHNlY3JldA==");
    let Ok(Command::Auth {
        mechanism,
        initial_response,
    }) = parse_command(format!("AUTH PLAIN {}", response.expose()).as_bytes())
    else {
        panic!("AUTH did not parse");
    };
    let got = done(AuthExchange::start(&mechanism, initial_response.as_ref()));
    assert_eq!(got, Ok(creds("alice", "secret")));
}

proptest! {
    #[test]
    fn never_panics(line in proptest::collection::vec(any::<u8>(), 0..200), mechanism in 0..2u8) {
        let mechanism = if mechanism == 0 { Mechanism::Plain } else { Mechanism::Login };
        if let Ok(AuthStep::Challenge(exchange)) = AuthExchange::start(&mechanism, None) {
            let _ = exchange.respond(&line);
        }
        let text = String::from_utf8_lossy(&line).into_owned();
        let _ = AuthExchange::start(&mechanism, Some(&Secret::new(text)));
    }

    #[test]
    fn plain_round_trips(user in "[^\u{0}]{1,30}", password in "[^\u{0}]{1,30}") {
        let response = encode_plain(&user, &Secret::new(password.clone()));
        let got = done(AuthExchange::start(&Mechanism::Plain, Some(&response)));
        prop_assert_eq!(got, Ok(creds(&user, &password)));
    }
}

#[test]
fn plain_responses_decode_whole() {
    let c = decode_plain(b64(b"\0alice@example.org\0secret").as_bytes()).unwrap();
    assert_eq!(
        (c.username.as_str(), c.password.expose()),
        ("alice@example.org", "secret")
    );
    let c = decode_plain(b64(b"a@b\0a@b\0pw").as_bytes()).unwrap();
    assert_eq!(c.username, "a@b");
    assert_eq!(
        decode_plain(b64(b"other\0a@b\0pw").as_bytes()),
        Err(SaslError::AuthzidMismatch)
    );
    assert_eq!(
        decode_plain(b64(b"\0\0pw").as_bytes()),
        Err(SaslError::Malformed)
    );
    assert!(matches!(
        decode_plain(b"!!!"),
        Err(SaslError::InvalidBase64(_))
    ));
    assert_eq!(decode_plain(b"*"), Err(SaslError::Cancelled));
}
