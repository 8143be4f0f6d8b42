//! What the SMTP client reads from the configuration, checked once at start.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use smtp_proto::Secret;

use crate::dns::Preference;
use crate::nexthop::NextHop;

/// The deadline of each protocol step.
#[derive(Debug, Clone)]
pub struct Timeouts {
    pub connect: Duration,
    pub helo: Duration,
    pub starttls: Duration,
    pub mail: Duration,
    pub rcpt: Duration,
    pub data_init: Duration,
    pub data_xfer: Duration,
    pub data_done: Duration,
    pub rset: Duration,
    pub quit: Duration,
}

/// The client's settings.
pub struct Settings {
    /// The EHLO name.
    pub helo_name: String,
    /// `myhostname`: a server calling itself this is ourselves (a mail loop).
    pub myhostname: String,
    /// Step deadlines.
    pub timeouts: Timeouts,
    /// `smtp_tls_security_level`.
    pub tls_level: tls::SecurityLevel,
    /// The TLS configuration for that level (`None` for `none`).
    pub tls_config: Option<Arc<rustls::ClientConfig>>,
    /// `smtp_tcp_port`.
    pub port: u16,
    /// How long idle connections are kept (zero: not at all).
    pub cache_time: Duration,
    /// `smtp_mx_address_limit`.
    pub address_limit: usize,
    /// `smtp_mx_session_limit`.
    pub session_limit: usize,
    /// `smtp_destination_recipient_limit`.
    pub recipient_limit: usize,
    /// Credentials by next hop, when `smtp_sasl_auth_enable` is on.
    pub passwords: Option<PasswordMap>,
    /// `smtp_skip_5xx_greeting`.
    pub skip_5xx_greeting: bool,
    /// Convert 8-bit mail for servers without 8BITMIME (not
    /// `disable_mime_output_conversion`).
    pub mime_conversion: bool,
    /// `smtp_dns_servers`.
    pub dns_servers: Vec<String>,
    /// `inet_protocols`.
    pub protocols: Vec<String>,
    /// `smtp_address_preference`.
    pub preference: Preference,
}

impl Settings {
    /// Checks and converts the parameters. `passwords` were read by
    /// [`PasswordMap::load`] while still privileged.
    ///
    /// # Errors
    /// A bad relayhost, port, TLS level or CA file.
    pub fn new(params: &config::Params, passwords: Option<PasswordMap>) -> anyhow::Result<Self> {
        let tls_level: tls::SecurityLevel = params
            .smtp_tls_security_level
            .parse()
            .context("smtp_tls_security_level")?;
        let tls_config =
            tls::client_config_with_ca_file(tls_level, params.smtp_tls_CAfile.as_deref())
                .context("outbound TLS")?;
        // qmgr passes the next hop; a bad relayhost still stops the start.
        if !params.relayhost.trim().is_empty() {
            NextHop::parse(&params.relayhost).context("relayhost")?;
        }
        let port = u16::try_from(params.smtp_tcp_port)
            .ok()
            .filter(|p| *p != 0)
            .context("smtp_tcp_port must be 1-65535")?;
        let count = |n: u32| usize::try_from(n.max(1)).unwrap_or(usize::MAX);
        Ok(Settings {
            helo_name: params.smtp_helo_name.clone(),
            myhostname: params.myhostname.clone(),
            timeouts: Timeouts {
                connect: params.smtp_connect_timeout,
                helo: params.smtp_helo_timeout,
                starttls: params.smtp_starttls_timeout,
                mail: params.smtp_mail_timeout,
                rcpt: params.smtp_rcpt_timeout,
                data_init: params.smtp_data_init_timeout,
                data_xfer: params.smtp_data_xfer_timeout,
                data_done: params.smtp_data_done_timeout,
                rset: params.smtp_rset_timeout,
                quit: params.smtp_quit_timeout,
            },
            tls_level,
            tls_config,
            port,
            cache_time: params.smtp_connection_cache_time_limit,
            address_limit: count(params.smtp_mx_address_limit),
            session_limit: count(params.smtp_mx_session_limit),
            recipient_limit: count(params.smtp_destination_recipient_limit),
            passwords,
            skip_5xx_greeting: params.smtp_skip_5xx_greeting,
            mime_conversion: !params.disable_mime_output_conversion,
            dns_servers: params.smtp_dns_servers.clone(),
            protocols: params.inet_protocols.clone(),
            preference: Preference::parse(&params.smtp_address_preference)?,
        })
    }
}

/// `smtp_sasl_password_maps`: `nexthop user:password` per line.
pub struct PasswordMap {
    entries: Vec<(String, (String, Secret))>,
}

impl PasswordMap {
    /// Reads the map named by the parameters, when SASL is on.
    ///
    /// # Errors
    /// An unreadable file or a line without `user:password`.
    pub fn load(params: &config::Params) -> anyhow::Result<Option<Self>> {
        if !params.smtp_sasl_auth_enable {
            return Ok(None);
        }
        let spec = params.smtp_sasl_password_maps.trim();
        if spec.is_empty() {
            anyhow::bail!("smtp_sasl_auth_enable = yes needs smtp_sasl_password_maps");
        }
        let path = spec
            .strip_prefix("texthash:")
            .or_else(|| spec.strip_prefix("hash:"))
            .unwrap_or(spec);
        let text = std::fs::read_to_string(Path::new(path))
            .with_context(|| format!("smtp_sasl_password_maps: {path}"))?;
        Ok(Some(Self::parse(&text).with_context(|| path.to_owned())?))
    }

    /// Parses the file's text.
    ///
    /// # Errors
    /// A line that is not `nexthop user:password`.
    pub fn parse(text: &str) -> anyhow::Result<Self> {
        let mut entries = Vec::new();
        for (number, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let parsed = line
                .split_once(char::is_whitespace)
                .and_then(|(key, value)| {
                    let (user, password) = value.trim().split_once(':')?;
                    let key = NextHop::parse(key).ok()?.to_string();
                    Some((key, (user.to_owned(), Secret::new(password))))
                });
            match parsed {
                Some(entry) => entries.push(entry),
                None => anyhow::bail!("line {}: expected \"nexthop user:password\"", number + 1),
            }
        }
        Ok(PasswordMap { entries })
    }

    /// The credentials for `hop`: by the next hop as written, else by its
    /// domain (`example.org` also covers `[example.org]:587`).
    pub fn find(&self, hop: &NextHop) -> Option<&(String, Secret)> {
        let exact = hop.to_string();
        self.entries
            .iter()
            .find(|(key, _)| *key == exact)
            .or_else(|| self.entries.iter().find(|(key, _)| *key == hop.host))
            .map(|(_, credentials)| credentials)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn password_map_lookup() {
        let map = PasswordMap::parse(
            "# relays\n[smtp.example.org]:587  alice:s3:cret\nexample.net bob:pw\n",
        )
        .unwrap();
        let hop = NextHop::parse("[smtp.example.org]:587").unwrap();
        let (user, password) = map.find(&hop).unwrap();
        assert_eq!((user.as_str(), password.expose()), ("alice", "s3:cret"));
        assert!(
            map.find(&NextHop::parse("smtp.example.org").unwrap())
                .is_none()
        );
        let hop = NextHop::parse("[example.net]:25").unwrap();
        assert_eq!(map.find(&hop).unwrap().0, "bob");
        assert!(PasswordMap::parse("host-without-password\n").is_err());
        assert!(PasswordMap::parse("host user-without-colon\n").is_err());
    }
}
