//! sasl - base64 and the AUTH PLAIN / LOGIN exchange with an untrusted client.
//!
//! The input is decoded as base64, then used as the initial response of PLAIN and
//! LOGIN (as text, lossily), and its lines (split at LF) as the client's follow-up
//! responses, with and without an initial response.
//!
//! Invariants:
//! - Nothing panics.
//! - Decoding is strict: what decodes re-encodes to exactly the input; and what is
//!   encoded (within the length limit) decodes back.
//! - An exchange ends after at most two responses, every challenge is a 334 reply,
//!   and credentials always have a non-empty user name and password.
//! - PLAIN credentials, encoded again with `encode_plain`, yield the same credentials.
#![no_main]

use libfuzzer_sys::fuzz_target;
use smtp_proto::base64::{self, MAX_ENCODED};
use smtp_proto::sasl::encode_plain;
use smtp_proto::{AuthExchange, AuthStep, Credentials, Mechanism, Secret};

fuzz_target!(|data: &[u8]| {
    if let Ok(decoded) = base64::decode(data) {
        assert_eq!(
            base64::encode(&decoded).as_bytes(),
            data,
            "decoding is not strict"
        );
    }
    let encoded = base64::encode(data);
    if encoded.len() <= MAX_ENCODED {
        assert_eq!(base64::decode(encoded.as_bytes()).as_deref(), Ok(data));
    }

    let initial = Secret::new(String::from_utf8_lossy(data).into_owned());
    let lines: Vec<&[u8]> = data.split(|&b| b == b'\n').collect();
    for mechanism in [Mechanism::Plain, Mechanism::Login] {
        for initial in [None, Some(&initial)] {
            let Ok(step) = AuthExchange::start(&mechanism, initial) else {
                continue;
            };
            if let Some(credentials) = run(step, &lines) {
                check(&mechanism, &credentials);
            }
        }
    }
});

/// Answers challenges with `lines` in turn; the credentials if the exchange succeeds.
fn run(mut step: AuthStep, lines: &[&[u8]]) -> Option<Credentials> {
    let mut lines = lines.iter();
    for _ in 0..=2 {
        match step {
            AuthStep::Done(credentials) => return Some(credentials),
            AuthStep::Challenge(exchange) => {
                assert_eq!(exchange.challenge().code.get(), 334);
                let line = lines.next()?;
                step = exchange.respond(line).ok()?;
            }
        }
    }
    panic!("the exchange did not end after two responses");
}

fn check(mechanism: &Mechanism, credentials: &Credentials) {
    assert!(!credentials.username.is_empty(), "empty user name");
    assert!(!credentials.password.expose().is_empty(), "empty password");
    if *mechanism != Mechanism::Plain {
        return;
    }
    let response = encode_plain(&credentials.username, &credentials.password);
    let step = AuthExchange::start(&Mechanism::Plain, Some(&response));
    match step {
        Ok(AuthStep::Done(again)) => assert_eq!(&again, credentials),
        Ok(AuthStep::Challenge(_)) => panic!("PLAIN with a response asked for more"),
        Err(error) => panic!("re-encoded PLAIN credentials refused: {error:?}"),
    }
}
