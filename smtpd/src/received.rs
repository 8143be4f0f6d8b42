//! The `Received:` header smtpd puts on every message (RFC 5321 4.4).

use std::time::SystemTime;

/// What goes into the header.
pub struct Trace<'a> {
    /// The HELO/EHLO name.
    pub helo: Option<&'a str>,
    /// The client's name (`unknown` when it has none).
    pub client_name: &'a str,
    /// The client's address.
    pub client_addr: std::net::IpAddr,
    /// The TLS session, described (`TLSv1.3 with cipher ... (256/256 bits)`).
    pub tls: Option<&'a str>,
    /// This host.
    pub myhostname: &'a str,
    /// `Postern`.
    pub mail_name: &'a str,
    /// `SMTP`, `ESMTP`, `ESMTPS`, `ESMTPA`, `ESMTPSA`.
    pub protocol: &'a str,
    /// The queue ID.
    pub id: &'a str,
    /// The recipient, when there is exactly one.
    pub recipient: Option<&'a str>,
    /// When the message arrived.
    pub time: SystemTime,
}

/// Removes what could break the header's structure from client-given text.
fn clean(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_control() || c == '(' || c == ')' {
                '?'
            } else {
                c
            }
        })
        .collect()
}

impl Trace<'_> {
    /// The header, folded, ending in CRLF.
    pub fn header(&self) -> String {
        let addr = match self.client_addr {
            std::net::IpAddr::V4(a) => a.to_string(),
            std::net::IpAddr::V6(a) => format!("IPv6:{a}"),
        };
        let mut out = format!(
            "Received: from {} ({} [{addr}])",
            clean(self.helo.unwrap_or(self.client_name)),
            clean(self.client_name)
        );
        if let Some(tls) = self.tls {
            out.push_str(&format!("\r\n\t(using {tls})"));
        }
        out.push_str(&format!(
            "\r\n\tby {} ({}) with {} id {}",
            self.myhostname, self.mail_name, self.protocol, self.id
        ));
        if let Some(rcpt) = self.recipient {
            out.push_str(&format!("\r\n\tfor <{}>", clean(rcpt)));
        }
        out.push_str(&format!("; {}\r\n", service::clock::rfc5322(self.time)));
        out
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, UNIX_EPOCH};

    use super::*;

    #[test]
    fn header_shape() {
        let trace = Trace {
            helo: Some("client.example"),
            client_name: "unknown",
            client_addr: "192.0.2.1".parse().unwrap(),
            tls: Some("TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits)"),
            myhostname: "mx.example.org",
            mail_name: "Postern",
            protocol: "ESMTPS",
            id: "ABC",
            recipient: Some("b@example.org"),
            time: UNIX_EPOCH + Duration::from_secs(1_795_456_641),
        };
        assert_eq!(
            trace.header(),
            "Received: from client.example (unknown [192.0.2.1])\r\n\
             \t(using TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits))\r\n\
             \tby mx.example.org (Postern) with ESMTPS id ABC\r\n\
             \tfor <b@example.org>; Mon, 23 Nov 2026 17:57:21 +0000\r\n"
        );
    }

    #[test]
    fn client_text_cannot_break_the_header() {
        let trace = Trace {
            helo: Some("evil)\r\nX-Injected: yes"),
            client_name: "unknown",
            client_addr: "::1".parse().unwrap(),
            tls: None,
            myhostname: "mx",
            mail_name: "Postern",
            protocol: "ESMTP",
            id: "ID",
            recipient: None,
            time: UNIX_EPOCH,
        };
        let header = trace.header();
        assert!(!header.contains("\r\nX-Injected"), "{header}");
        assert!(
            header.starts_with("Received: from evil???X-Injected: yes (unknown [IPv6:::1])\r\n")
        );
    }
}
