//! Rendering reports and reading them back with a MIME parser.

// Test code: panicking on a broken expectation is the point.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::io;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use dsn::{Action, InvalidReport, Kind, RecipientReport, Report, render};
use mail_parser::{MessageParser, MessagePart, MimeHeaders, PartType};
use spool::{DsnNotify, DsnRet, Envelope, QueueId, Recipient};

const ORIGINAL: &[u8] = b"From: Alice <alice@example.org>\n\
To: bob@example.net\n\
Subject: Lunch\n\
Message-ID: <lunch.1@example.org>\n\
\n\
Shall we meet at noon?\n\
--\n\
Alice\n";

fn at(secs: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(secs)
}

fn queue_id() -> QueueId {
    QueueId::parse("01HZY3K7Q8M2N4P6R8ST").unwrap()
}

fn envelope(sender: &str, ret: Option<DsnRet>) -> Envelope {
    Envelope {
        sender: sender.to_owned(),
        recipients: vec![Recipient {
            address: "bob@example.net".to_owned(),
            orcpt: Some("rfc822;Bob@Example.NET".to_owned()),
            notify: DsnNotify::default(),
        }],
        arrival: at(1_790_000_000),
        client: None,
        auth_user: None,
        dsn_envid: Some("QQ314159".to_owned()),
        dsn_ret: ret,
        body_8bit: false,
        smtputf8: false,
    }
}

fn recipient(env: &Envelope, action: Action, status: &str) -> RecipientReport {
    let mut r = RecipientReport::new(&env.recipients[0], action, status);
    r.remote_mta = Some("mx.example.net".to_owned());
    r.last_attempt = Some(at(1_790_000_100));
    match action {
        Action::Failed => {
            r.diagnostic = Some("smtp; 550 5.1.1 <bob@example.net>: no such user".to_owned());
        }
        Action::Delayed => {
            r.diagnostic = Some("smtp; 451 4.3.0 try again later".to_owned());
            r.will_retry_until = Some(at(1_790_432_000));
        }
        _ => r.diagnostic = Some("smtp; 250 2.0.0 ok".to_owned()),
    }
    r
}

fn report<'a>(
    kind: Kind,
    id: &'a QueueId,
    env: &'a Envelope,
    rcpts: Vec<RecipientReport>,
) -> Report<'a> {
    Report {
        kind,
        queue_id: id,
        envelope: env,
        recipients: rcpts,
        reporting_mta: "mail.example.org",
        postmaster: "MAILER-DAEMON@mail.example.org",
        to: None,
        arrival: env.arrival,
        now: at(1_790_000_200) + Duration::from_micros(123_456),
    }
}

fn render_to_string(report: &Report<'_>, original: &[u8], limit: u64) -> String {
    let mut src = original;
    let mut out = Vec::new();
    render(report, &mut src, limit, &mut out).unwrap();
    String::from_utf8(out).unwrap()
}

/// Every line ends in CRLF and stays within RFC 5322's 998 octets.
fn assert_well_formed(text: &str) {
    assert!(text.ends_with("\r\n"));
    for line in text.split("\r\n") {
        assert!(
            !line.contains('\n') && !line.contains('\r'),
            "bare line break in {line:?}"
        );
        assert!(line.len() <= 998, "line too long: {}", line.len());
    }
}

/// The report's three parts: (content type, raw contents) each.
fn parts(text: &str) -> Vec<(String, Vec<u8>)> {
    let msg = MessageParser::default().parse(text.as_bytes()).unwrap();
    let ct = msg.content_type().unwrap();
    assert_eq!(ct.ctype(), "multipart");
    assert_eq!(ct.subtype(), Some("report"));
    assert_eq!(ct.attribute("report-type"), Some("delivery-status"));
    let ids = msg.root_part().sub_parts().unwrap();
    assert_eq!(ids.len(), 3, "three parts");
    ids.iter()
        .map(|id| {
            let part: &MessagePart<'_> = msg.part(*id).unwrap();
            let ct = part.content_type().unwrap();
            let name = format!("{}/{}", ct.ctype(), ct.subtype().unwrap_or(""));
            (name, part.contents().to_vec())
        })
        .collect()
}

fn status_part(parts: &[(String, Vec<u8>)]) -> String {
    assert_eq!(parts[1].0, "message/delivery-status");
    String::from_utf8(parts[1].1.clone()).unwrap()
}

#[test]
fn failure_report_returns_the_whole_message() {
    let id = queue_id();
    let env = envelope("alice@example.org", None);
    let r = report(
        Kind::Failure,
        &id,
        &env,
        vec![recipient(&env, Action::Failed, "5.1.1")],
    );
    let text = render_to_string(&r, ORIGINAL, 50_000);
    assert_well_formed(&text);

    let msg = MessageParser::default().parse(text.as_bytes()).unwrap();
    assert_eq!(msg.subject(), Some("Undelivered Mail Returned to Sender"));
    assert_eq!(
        msg.from().unwrap().first().unwrap().address(),
        Some("MAILER-DAEMON@mail.example.org")
    );
    assert_eq!(
        msg.to().unwrap().first().unwrap().address(),
        Some("alice@example.org")
    );
    assert_eq!(
        msg.header_raw("Auto-Submitted").map(str::trim),
        Some("auto-replied")
    );
    assert_eq!(msg.in_reply_to().as_text(), Some("lunch.1@example.org"));

    let parts = parts(&text);
    assert_eq!(parts[0].0, "text/plain");
    let human = String::from_utf8(parts[0].1.clone()).unwrap();
    assert!(human.contains("<bob@example.net>"), "{human}");
    assert!(human.contains("550 5.1.1"), "{human}");

    let status = status_part(&parts);
    for want in [
        "Original-Envelope-Id: QQ314159\r\n",
        "Reporting-MTA: dns; mail.example.org\r\n",
        "X-Postern-Queue-ID: 01HZY3K7Q8M2N4P6R8ST\r\n",
        "Arrival-Date: ",
        "Final-Recipient: rfc822; bob@example.net\r\n",
        "Original-Recipient: rfc822; Bob@Example.NET\r\n",
        "Action: failed\r\n",
        "Status: 5.1.1\r\n",
        "Remote-MTA: dns; mx.example.net\r\n",
        "Diagnostic-Code: smtp; 550 5.1.1 <bob@example.net>: no such user\r\n",
        "Last-Attempt-Date: ",
    ] {
        assert!(status.contains(want), "missing {want:?} in {status}");
    }
    assert!(!status.contains("Will-Retry-Until"));

    assert_eq!(parts[2].0, "message/rfc822");
    let returned = String::from_utf8(parts[2].1.clone()).unwrap();
    assert_eq!(
        returned,
        String::from_utf8(ORIGINAL.to_vec())
            .unwrap()
            .replace('\n', "\r\n")
    );
    // The "--" signature line of the original is not taken for a boundary.
    let msg = MessageParser::default().parse(text.as_bytes()).unwrap();
    let inner = msg.part(msg.root_part().sub_parts().unwrap()[2]).unwrap();
    let PartType::Message(inner) = &inner.body else {
        panic!("third part is not a message");
    };
    assert_eq!(inner.subject(), Some("Lunch"));
    assert!(
        inner
            .body_text(0)
            .unwrap()
            .contains("Shall we meet at noon?")
    );
}

#[test]
fn delay_report_returns_headers_only_by_default() {
    let id = queue_id();
    let env = envelope("alice@example.org", None);
    let r = report(
        Kind::Delay,
        &id,
        &env,
        vec![recipient(&env, Action::Delayed, "4.3.0")],
    );
    let text = render_to_string(&r, ORIGINAL, 50_000);
    assert_well_formed(&text);
    let msg = MessageParser::default().parse(text.as_bytes()).unwrap();
    assert_eq!(msg.subject(), Some("Delayed Mail (still being retried)"));
    let parts = parts(&text);
    let status = status_part(&parts);
    assert!(status.contains("Action: delayed\r\n"));
    assert!(status.contains("Status: 4.3.0\r\n"));
    assert!(status.contains("Will-Retry-Until: "));
    assert_eq!(parts[2].0, "text/rfc822-headers");
    let returned = String::from_utf8(parts[2].1.clone()).unwrap();
    assert!(returned.contains("Subject: Lunch\r\n"));
    assert!(!returned.contains("noon"));
}

#[test]
fn success_report() {
    let id = queue_id();
    let mut env = envelope("alice@example.org", None);
    env.recipients[0].notify = DsnNotify {
        success: true,
        ..DsnNotify::default()
    };
    let r = report(
        Kind::Success,
        &id,
        &env,
        vec![recipient(&env, Action::Delivered, "2.0.0")],
    );
    let text = render_to_string(&r, ORIGINAL, 50_000);
    assert_well_formed(&text);
    let msg = MessageParser::default().parse(text.as_bytes()).unwrap();
    assert_eq!(msg.subject(), Some("Successful Mail Delivery Report"));
    let parts = parts(&text);
    let status = status_part(&parts);
    assert!(status.contains("Action: delivered\r\n"));
    assert!(status.contains("Status: 2.0.0\r\n"));
    assert_eq!(parts[2].0, "text/rfc822-headers");
}

#[test]
fn ret_decides_what_is_returned() {
    let id = queue_id();
    // (name, kind, action, RET, expected type of the third part, body included)
    let cases = [
        (
            "failure, RET=HDRS",
            Kind::Failure,
            Action::Failed,
            Some(DsnRet::Headers),
            "text/rfc822-headers",
            false,
        ),
        (
            "failure, RET=FULL",
            Kind::Failure,
            Action::Failed,
            Some(DsnRet::Full),
            "message/rfc822",
            true,
        ),
        (
            "failure, no RET",
            Kind::Failure,
            Action::Failed,
            None,
            "message/rfc822",
            true,
        ),
        (
            "delay, RET=FULL",
            Kind::Delay,
            Action::Delayed,
            Some(DsnRet::Full),
            "message/rfc822",
            true,
        ),
        (
            "delay, no RET",
            Kind::Delay,
            Action::Delayed,
            None,
            "text/rfc822-headers",
            false,
        ),
        (
            "success, RET=FULL",
            Kind::Success,
            Action::Delivered,
            Some(DsnRet::Full),
            "message/rfc822",
            true,
        ),
        (
            "success, RET=HDRS",
            Kind::Success,
            Action::Delivered,
            Some(DsnRet::Headers),
            "text/rfc822-headers",
            false,
        ),
    ];
    for (name, kind, action, ret, want_type, want_body) in cases {
        let env = envelope("alice@example.org", ret);
        let r = report(kind, &id, &env, vec![recipient(&env, action, "5.1.1")]);
        let text = render_to_string(&r, ORIGINAL, 50_000);
        let parts = parts(&text);
        assert_eq!(parts[2].0, want_type, "{name}");
        let returned = String::from_utf8(parts[2].1.clone()).unwrap();
        assert!(
            returned.starts_with("From: Alice <alice@example.org>\r\n"),
            "{name}"
        );
        assert!(
            returned.contains("Message-ID: <lunch.1@example.org>\r\n"),
            "{name}"
        );
        assert_eq!(
            returned.contains("Shall we meet at noon?\r\n"),
            want_body,
            "{name}"
        );
    }
}

#[test]
fn limit_cuts_whole_lines_and_falls_back_to_headers() {
    let id = queue_id();
    let env = envelope("alice@example.org", Some(DsnRet::Full));
    let headers = "From: Alice <alice@example.org>\r\nTo: bob@example.net\r\nSubject: Lunch\r\nMessage-ID: <lunch.1@example.org>\r\n";
    let head = u64::try_from(headers.len()).unwrap();
    // (name, limit, expected type, expected returned text)
    let cases = [
        (
            "everything fits",
            10_000,
            "message/rfc822",
            format!("{headers}\r\nShall we meet at noon?\r\n--\r\nAlice\r\n"),
        ),
        (
            "exactly fits",
            head + 2 + 24 + 4 + 7,
            "message/rfc822",
            format!("{headers}\r\nShall we meet at noon?\r\n--\r\nAlice\r\n"),
        ),
        (
            "last line one byte short",
            head + 2 + 24 + 4 + 6,
            "message/rfc822",
            format!("{headers}\r\nShall we meet at noon?\r\n--\r\n"),
        ),
        (
            "first body line does not fit",
            head + 2 + 23,
            "message/rfc822",
            format!("{headers}\r\n"),
        ),
        (
            "only the headers fit",
            head,
            "message/rfc822",
            headers.to_owned(),
        ),
        (
            "headers do not fit",
            head - 1,
            "text/rfc822-headers",
            "From: Alice <alice@example.org>\r\nTo: bob@example.net\r\nSubject: Lunch\r\n"
                .to_owned(),
        ),
        ("nothing fits", 5, "text/rfc822-headers", String::new()),
    ];
    for (name, limit, want_type, want) in cases {
        let r = report(
            Kind::Failure,
            &id,
            &env,
            vec![recipient(&env, Action::Failed, "5.1.1")],
        );
        let text = render_to_string(&r, ORIGINAL, limit);
        assert_well_formed(&text);
        let parts = parts(&text);
        assert_eq!(parts[2].0, want_type, "{name}");
        // The parser's view of a message/rfc822 part ends before the
        // delimiter's CRLF; so does ours.
        let returned = String::from_utf8(parts[2].1.clone()).unwrap();
        assert_eq!(
            returned.trim_end_matches("\r\n"),
            want.trim_end_matches("\r\n"),
            "{name}"
        );
        assert!(u64::try_from(want.len()).unwrap() <= limit, "{name}");
        let human = String::from_utf8(parts[0].1.clone()).unwrap();
        let cut = want_type == "text/rfc822-headers";
        assert_eq!(human.contains("limit for returned mail"), cut, "{name}");
    }
}

#[test]
fn hostile_addresses_cannot_inject_headers() {
    let id = queue_id();
    let mut env = envelope(
        "alice@example.org\r\nBcc: victim@example.com",
        Some(DsnRet::Full),
    );
    env.recipients[0].address = "bob@example.net\r\nX-Injected: 1".to_owned();
    env.recipients[0].orcpt = Some("rfc822;bob\r\n\r\n--x@example.net".to_owned());
    env.dsn_envid = Some("id\r\nX-Envid: 1".to_owned());
    let mut rcpt = recipient(&env, Action::Failed, "5.1.1\r\nX-Status: 1");
    rcpt.diagnostic = Some("smtp; 550 no\r\n\r\nFinal-Recipient: rfc822; x@y".to_owned());
    rcpt.remote_mta = Some("mx\r\nX-Mta: 1".to_owned());
    let r = report(Kind::Failure, &id, &env, vec![rcpt]);
    let text = render_to_string(&r, ORIGINAL, 50_000);
    assert_well_formed(&text);
    for bad in [
        "\r\nBcc:",
        "\r\nX-Injected",
        "\r\nX-Envid",
        "\r\nX-Status",
        "\r\nX-Mta",
        "\r\n--x@",
    ] {
        assert!(!text.contains(bad), "{bad:?} in\n{text}");
    }
    let msg = MessageParser::default().parse(text.as_bytes()).unwrap();
    assert!(msg.header_raw("Bcc").is_none());
    assert_eq!(
        msg.to().unwrap().first().unwrap().address(),
        Some("alice@example.orgBcc: victim@example.com")
    );
    let parts = parts(&text);
    let status = status_part(&parts);
    let fields = status
        .split("\r\n")
        .filter(|l| l.starts_with("Final-Recipient:"));
    assert_eq!(fields.count(), 1, "{status}");
    assert!(
        status.contains("Status: 5.0.0\r\n"),
        "malformed status replaced: {status}"
    );
}

#[test]
fn a_forged_delimiter_in_the_original_ends_the_copy() {
    let id = queue_id();
    let env = envelope("alice@example.org", Some(DsnRet::Full));
    let r = report(
        Kind::Failure,
        &id,
        &env,
        vec![recipient(&env, Action::Failed, "5.1.1")],
    );
    // The boundary is predictable (kind, queue ID, time); an original
    // that guesses it must not be able to add parts to the report.
    let forged = b"Subject: x\n\nbefore\n--=_01HZY3K7Q8M2N4P6R8ST.1790000200123456.bounce\nContent-Type: text/plain\n\nforged part\n";
    let text = render_to_string(&r, forged, 50_000);
    assert!(!text.contains("forged part"));
    let parts = parts(&text);
    assert_eq!(
        String::from_utf8(parts[2].1.clone()).unwrap().trim_end(),
        "Subject: x\r\n\r\nbefore"
    );
}

#[test]
fn utf8_addresses_use_the_utf8_address_type() {
    let id = queue_id();
    let mut env = envelope("j\u{f6}rg@example.de", None);
    env.smtputf8 = true;
    env.recipients[0].address = "b\u{fc}cher@example.net".to_owned();
    env.recipients[0].orcpt = Some("utf-8;b\\x{FC}cher@example.net".to_owned());
    let r = report(
        Kind::Failure,
        &id,
        &env,
        vec![recipient(&env, Action::Failed, "5.1.1")],
    );
    assert!(r.needs_smtputf8() && r.needs_8bitmime());
    let text = render_to_string(&r, "Subject: gr\u{fc}\u{df}e\n\nhallo\n".as_bytes(), 50_000);
    assert_well_formed(&text);
    assert!(text.contains("To: <j\u{f6}rg@example.de>\r\n"));
    let parts = parts(&text);
    let status = status_part(&parts);
    assert!(
        status.contains("Final-Recipient: utf-8; b\\x{FC}cher@example.net\r\n"),
        "{status}"
    );
    assert!(
        status.contains("Original-Recipient: utf-8; b\\x{FC}cher@example.net\r\n"),
        "{status}"
    );
    assert!(status.is_ascii());
    assert!(parts[0].1.is_ascii());
    assert_eq!(parts[2].0, "message/global");
}

#[test]
fn postmaster_copy_of_a_double_bounce() {
    let id = queue_id();
    let env = envelope("", None);
    let mut r = report(
        Kind::Failure,
        &id,
        &env,
        vec![recipient(&env, Action::Failed, "5.1.1")],
    );
    let mut out = Vec::new();
    let err = render(&r, &mut { ORIGINAL }, 50_000, &mut out).unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
    let inner = err
        .get_ref()
        .and_then(|e| e.downcast_ref::<InvalidReport>());
    assert_eq!(inner, Some(&InvalidReport::NullSender { queue_id: id }));

    r.to = Some("postmaster@mail.example.org");
    let text = render_to_string(&r, ORIGINAL, 50_000);
    let msg = MessageParser::default().parse(text.as_bytes()).unwrap();
    assert_eq!(
        msg.to().unwrap().first().unwrap().address(),
        Some("postmaster@mail.example.org")
    );
    assert_eq!(
        msg.subject(),
        Some("Undelivered Mail (copy for postmaster)")
    );
    assert!(text.contains("copy goes to the postmaster"));
}

#[test]
fn a_report_needs_recipients() {
    let id = queue_id();
    let env = envelope("alice@example.org", None);
    let r = report(Kind::Failure, &id, &env, Vec::new());
    let err = render(&r, &mut { ORIGINAL }, 50_000, &mut Vec::new()).unwrap_err();
    let inner = err
        .get_ref()
        .and_then(|e| e.downcast_ref::<InvalidReport>());
    assert_eq!(inner, Some(&InvalidReport::NoRecipients { queue_id: id }));
}

#[test]
fn message_ids_differ_per_kind_and_time() {
    let id = queue_id();
    let env = envelope("alice@example.org", None);
    let message_id = |kind, now| {
        let mut r = report(
            kind,
            &id,
            &env,
            vec![recipient(&env, Action::Failed, "5.1.1")],
        );
        r.now = now;
        let text = render_to_string(&r, ORIGINAL, 50_000);
        let msg = MessageParser::default().parse(text.as_bytes()).unwrap();
        msg.message_id().unwrap().to_owned()
    };
    let a = message_id(Kind::Failure, at(1_790_000_200));
    let b = message_id(Kind::Delay, at(1_790_000_200));
    let c = message_id(Kind::Delay, at(1_790_000_200) + Duration::from_micros(1));
    assert!(a != b && b != c && a != c);
    assert!(
        a.starts_with("01HZY3K7Q8M2N4P6R8ST.bounce.") && a.ends_with("@mail.example.org"),
        "{a}"
    );
}

#[test]
fn golden_failure_report() {
    let id = queue_id();
    let env = envelope("alice@example.org", None);
    let r = report(
        Kind::Failure,
        &id,
        &env,
        vec![recipient(&env, Action::Failed, "5.1.1")],
    );
    let text = render_to_string(&r, ORIGINAL, 50_000);
    assert_eq!(text, GOLDEN.replace('\n', "\r\n"), "\n--- got ---\n{text}");
}

/// The pinned rendering; written with LF here, compared with CRLF.
const GOLDEN: &str = r#"From: Mail Delivery System <MAILER-DAEMON@mail.example.org>
To: <alice@example.org>
Subject: Undelivered Mail Returned to Sender
Date: Mon, 21 Sep 2026 14:16:40 +0000
Message-ID: <01HZY3K7Q8M2N4P6R8ST.bounce.1790000200123456@mail.example.org>
In-Reply-To: <lunch.1@example.org>
References: <lunch.1@example.org>
Auto-Submitted: auto-replied
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status;
 boundary="=_01HZY3K7Q8M2N4P6R8ST.1790000200123456.bounce"

This is a delivery status report in MIME format (RFC 3464).

--=_01HZY3K7Q8M2N4P6R8ST.1790000200123456.bounce
Content-Type: text/plain; charset=us-ascii

This is a delivery status report from the mail server at mail.example.org.

Your message could not be delivered to the recipients listed below. The errors
are permanent, so no further attempts will be made. The message arrived here
on Mon, 21 Sep 2026 14:13:20 +0000 and has queue ID 01HZY3K7Q8M2N4P6R8ST.

<bob@example.net>
    Result: failed permanently (5.1.1)
    Originally addressed as: rfc822; Bob@Example.NET
    Server: mx.example.net
    Reason: smtp; 550 5.1.1 <bob@example.net>: no such user

Your message follows this report (returned copies are cut short after 50000
bytes).

--=_01HZY3K7Q8M2N4P6R8ST.1790000200123456.bounce
Content-Type: message/delivery-status

Original-Envelope-Id: QQ314159
Reporting-MTA: dns; mail.example.org
Arrival-Date: Mon, 21 Sep 2026 14:13:20 +0000
X-Postern-Queue-ID: 01HZY3K7Q8M2N4P6R8ST

Final-Recipient: rfc822; bob@example.net
Original-Recipient: rfc822; Bob@Example.NET
Action: failed
Status: 5.1.1
Remote-MTA: dns; mx.example.net
Diagnostic-Code: smtp; 550 5.1.1 <bob@example.net>: no such user
Last-Attempt-Date: Mon, 21 Sep 2026 14:15:00 +0000

--=_01HZY3K7Q8M2N4P6R8ST.1790000200123456.bounce
Content-Type: message/rfc822

From: Alice <alice@example.org>
To: bob@example.net
Subject: Lunch
Message-ID: <lunch.1@example.org>

Shall we meet at noon?
--
Alice

--=_01HZY3K7Q8M2N4P6R8ST.1790000200123456.bounce--
"#;
