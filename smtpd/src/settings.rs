//! smtpd's parameters, checked once at start and turned into types.

use std::time::Duration;

use anyhow::{Context, bail};
use config::{Cidr, Params};
use smtp_proto::BareNewline;

use crate::policy::Restriction;

/// STARTTLS policy (`smtpd_tls_security_level`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlsLevel {
    /// No STARTTLS.
    None,
    /// STARTTLS offered.
    May,
    /// STARTTLS required before MAIL.
    Encrypt,
}

/// Everything a session needs to know about the configuration.
#[derive(Debug, Clone)]
pub struct Settings {
    pub myhostname: String,
    pub banner: String,
    pub mail_name: String,
    pub mynetworks: Vec<Cidr>,
    pub message_size_limit: Option<u64>,
    pub timeout: Duration,
    pub hard_error_limit: u32,
    pub soft_error_limit: u32,
    pub error_sleep_time: Duration,
    pub recipient_limit: usize,
    pub connection_limit: u32,
    /// Sessions per client address per `rate_time_unit`; 0: no limit.
    pub connection_rate_limit: u32,
    pub rate_time_unit: Duration,
    /// Bytes per second of message content that earn time beyond `timeout`.
    pub min_data_rate: u64,
    pub bare_newline: BareNewline,
    pub tls_level: TlsLevel,
    pub wrappermode: bool,
    pub sasl_enabled: bool,
    pub client_restrictions: Vec<Restriction>,
    pub helo_restrictions: Vec<Restriction>,
    pub sender_restrictions: Vec<Restriction>,
    pub relay_restrictions: Vec<Restriction>,
    pub recipient_restrictions: Vec<Restriction>,
    pub reject_unlisted_recipient: bool,
    pub header_size_limit: usize,
}

fn restrictions(name: &str, items: &[String]) -> anyhow::Result<Vec<Restriction>> {
    items
        .iter()
        .map(|item| item.parse::<Restriction>())
        .collect::<Result<_, _>>()
        .with_context(|| name.to_owned())
}

impl Settings {
    /// Checks and converts the parameters; an unusable value is a start-up error.
    pub fn from_params(p: &Params) -> anyhow::Result<Self> {
        let tls_level = match p.smtpd_tls_security_level.to_ascii_lowercase().as_str() {
            "" | "none" => TlsLevel::None,
            "may" => TlsLevel::May,
            "encrypt" => TlsLevel::Encrypt,
            other => {
                bail!("smtpd_tls_security_level: unknown level {other:?} (none, may, encrypt)")
            }
        };
        let bare_newline = match p.smtpd_forbid_bare_newline.to_ascii_lowercase().as_str() {
            "reject" | "yes" => BareNewline::Reject,
            "normalize" | "no" => BareNewline::Normalize,
            other => {
                bail!("smtpd_forbid_bare_newline: unknown value {other:?} (reject, normalize)")
            }
        };
        if !p.smtpd_banner.starts_with(&p.myhostname) {
            bail!("smtpd_banner must start with $myhostname (RFC 5321)");
        }
        let relay = restrictions("smtpd_relay_restrictions", &p.smtpd_relay_restrictions)?;
        let recipient = restrictions(
            "smtpd_recipient_restrictions",
            &p.smtpd_recipient_restrictions,
        )?;
        // As Postfix does: without a restriction that can refuse relaying, smtpd
        // would be an open relay, so it does not start.
        let guards = |list: &[Restriction]| {
            list.iter().any(|r| {
                matches!(
                    r,
                    Restriction::Reject
                        | Restriction::Defer
                        | Restriction::RejectUnauthDestination
                        | Restriction::DeferUnauthDestination
                )
            })
        };
        if !guards(&relay) && !guards(&recipient) {
            bail!(
                "smtpd_relay_restrictions or smtpd_recipient_restrictions must contain reject_unauth_destination, defer_unauth_destination, reject or defer; refusing to run as an open relay"
            );
        }
        if p.smtpd_client_connection_rate_limit > 0 && p.anvil_rate_time_unit.is_zero() {
            bail!("anvil_rate_time_unit must not be 0 with smtpd_client_connection_rate_limit");
        }
        Ok(Settings {
            myhostname: p.myhostname.clone(),
            banner: p.smtpd_banner.clone(),
            mail_name: p.mail_name.clone(),
            mynetworks: p.mynetworks.clone(),
            message_size_limit: (p.message_size_limit > 0).then_some(p.message_size_limit),
            timeout: p.smtpd_timeout,
            hard_error_limit: p.smtpd_hard_error_limit,
            soft_error_limit: p.smtpd_soft_error_limit,
            error_sleep_time: p.smtpd_error_sleep_time,
            recipient_limit: usize::try_from(p.smtpd_recipient_limit).unwrap_or(usize::MAX),
            connection_limit: p.smtpd_client_connection_count_limit,
            connection_rate_limit: p.smtpd_client_connection_rate_limit,
            rate_time_unit: p.anvil_rate_time_unit,
            min_data_rate: u64::from(p.smtpd_min_data_rate),
            bare_newline,
            tls_level,
            wrappermode: p.smtpd_tls_wrappermode,
            sasl_enabled: p.smtpd_sasl_auth_enable,
            client_restrictions: restrictions(
                "smtpd_client_restrictions",
                &p.smtpd_client_restrictions,
            )?,
            helo_restrictions: restrictions("smtpd_helo_restrictions", &p.smtpd_helo_restrictions)?,
            sender_restrictions: restrictions(
                "smtpd_sender_restrictions",
                &p.smtpd_sender_restrictions,
            )?,
            relay_restrictions: relay,
            recipient_restrictions: recipient,
            reject_unlisted_recipient: p.smtpd_reject_unlisted_recipient,
            header_size_limit: usize::try_from(p.header_size_limit).unwrap_or(usize::MAX),
        })
    }

    /// Whether TLS is used at all (STARTTLS offered or implicit).
    pub fn uses_tls(&self) -> bool {
        self.wrappermode || self.tls_level != TlsLevel::None
    }
}
