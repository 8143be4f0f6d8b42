//! The parameter table: every known main.cf parameter, its kind and default.
//!
//! To add a parameter, add one entry to the `define_parameters!` call below:
//! a doc comment (it documents the [`Params`] field and is shown by
//! `postern config`), the Postfix name, the kind, and the default as raw
//! main.cf text (`$name` allowed). The macro generates the [`Params`] field,
//! the metadata row and the conversion.
//!
//! Kinds: `String`, `Path` (absolute), `OptionalPath` (absolute or empty),
//! `Bool`, `U32`, `U64`, `Size`, `Duration(Unit)` with the unit a bare
//! number means (`Seconds`, `Minutes`, `Hours`, `Days`, `Weeks`), `List`,
//! `CidrList`, `ProtocolList`.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use crate::cidr::Cidr;
use crate::error::Error;
use crate::expand::{Expander, Layers};
use crate::value::{self, TimeUnit};

/// The configuration directory programs use when `-c` is not given.
pub const DEFAULT_CONFIG_DIRECTORY: &str = "/etc/postern";

/// The host name [`default_value`] reports when the system has none.
const FALLBACK_HOST_NAME: &str = "localhost.localdomain";

/// A parameter's value syntax and Rust type.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ParamKind {
    /// Any text (`String`).
    String,
    /// An absolute path (`PathBuf`).
    Path,
    /// An absolute path, or empty for "not set" (`Option<PathBuf>`).
    OptionalPath,
    /// `yes` or `no` (`bool`).
    Bool,
    /// A decimal number (`u32`).
    U32,
    /// A decimal number (`u64`).
    U64,
    /// Bytes, with optional `k`, `m`, `g` (`u64`).
    Size,
    /// A time with an optional unit (`std::time::Duration`).
    Duration {
        /// The unit of a bare number.
        default_unit: TimeUnit,
    },
    /// Items separated by commas or white space (`Vec<String>`).
    List,
    /// A list of networks (`Vec<Cidr>`).
    CidrList,
    /// A list of `all`, `ipv4`, `ipv6` (`Vec<String>`, lower case).
    ProtocolList,
}

impl fmt::Display for ParamKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ParamKind::String => f.write_str("string"),
            ParamKind::Path => f.write_str("absolute path"),
            ParamKind::OptionalPath => f.write_str("absolute path or empty"),
            ParamKind::Bool => f.write_str("boolean (yes or no)"),
            ParamKind::U32 | ParamKind::U64 => f.write_str("number"),
            ParamKind::Size => f.write_str("size in bytes (k, m, g suffixes allowed)"),
            ParamKind::Duration { default_unit } => write!(
                f,
                "time (units s, m, h, d, w; a bare number is in {default_unit})"
            ),
            ParamKind::List => f.write_str("list"),
            ParamKind::CidrList => f.write_str("list of networks (address/prefix)"),
            ParamKind::ProtocolList => f.write_str("list of protocols (all, ipv4, ipv6)"),
        }
    }
}

/// A default that is computed rather than written as text.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ComputedDefault {
    /// The system host name, with `.localdomain` appended when it has no dot.
    HostName,
    /// `$myhostname` without its first label (`localdomain` if none is left).
    DomainOfMyhostname,
}

impl fmt::Display for ComputedDefault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ComputedDefault::HostName => {
                f.write_str("the system host name (with .localdomain appended if it has no dot)")
            }
            ComputedDefault::DomainOfMyhostname => f.write_str("$myhostname minus its first label"),
        }
    }
}

/// What Postern knows about one parameter.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ParamInfo {
    /// The Postfix-style name (also the [`Params`] field name).
    pub name: &'static str,
    /// The default as raw main.cf text, unexpanded (`"$myhostname"`); empty
    /// when `computed` is set.
    pub default: &'static str,
    /// Set when the default is computed at run time instead of `default`.
    pub computed: Option<ComputedDefault>,
    /// The value syntax.
    pub kind: ParamKind,
    /// The documentation from the table (may span lines).
    pub doc: &'static str,
}

impl ParamInfo {
    /// The first line of the documentation.
    pub fn summary(&self) -> &'static str {
        self.doc.lines().next().unwrap_or_default().trim()
    }
}

macro_rules! param_type {
    (String) => { String };
    (Path) => { PathBuf };
    (OptionalPath) => { Option<PathBuf> };
    (Bool) => { bool };
    (U32) => { u32 };
    (U64) => { u64 };
    (Size) => { u64 };
    (Duration) => { std::time::Duration };
    (List) => { Vec<String> };
    (CidrList) => { Vec<Cidr> };
    (ProtocolList) => { Vec<String> };
}

macro_rules! param_kind {
    (Duration($unit:ident)) => {
        ParamKind::Duration {
            default_unit: TimeUnit::$unit,
        }
    };
    ($kind:ident) => {
        ParamKind::$kind
    };
}

macro_rules! param_parser {
    (String) => {
        value::parse_string
    };
    (Path) => {
        value::parse_path
    };
    (OptionalPath) => {
        value::parse_optional_path
    };
    (Bool) => {
        value::parse_bool
    };
    (U32) => {
        value::parse_u32
    };
    (U64) => {
        value::parse_u64
    };
    (Size) => {
        value::parse_size
    };
    (Duration($unit:ident)) => {
        |text: &str| value::parse_duration(text, TimeUnit::$unit)
    };
    (List) => {
        value::parse_list
    };
    (CidrList) => {
        value::parse_cidr_list
    };
    (ProtocolList) => {
        value::parse_protocols
    };
}

macro_rules! default_text {
    ($text:literal) => {
        $text
    };
    ($computed:ident) => {
        ""
    };
}

macro_rules! default_computed {
    ($text:literal) => {
        None
    };
    ($computed:ident) => {
        Some(ComputedDefault::$computed)
    };
}

macro_rules! define_parameters {
    ($(
        $(#[doc = $doc:literal])*
        $name:ident : $kind:ident $(($unit:ident))? = $default:tt;
    )*) => {
        /// The typed, expanded value of every known main.cf parameter.
        ///
        /// Each field is named exactly like its parameter. Get one from
        /// [`Config::params`](crate::Config::params) (main.cf alone) or
        /// [`Config::params_for`](crate::Config::params_for) (with a
        /// service's `-o` overrides).
        // Postfix spells a few names in mixed case (`smtp_tls_CAfile`).
        #[allow(non_snake_case)]
        #[derive(Clone, Debug, PartialEq, Eq)]
        pub struct Params {
            $(
                $(#[doc = $doc])*
                pub $name: param_type!($kind),
            )*
        }

        /// The table, in definition order.
        static TABLE: &[ParamInfo] = &[$(
            ParamInfo {
                name: stringify!($name),
                default: default_text!($default),
                computed: default_computed!($default),
                kind: param_kind!($kind $(($unit))?),
                doc: concat!($($doc, "\n",)*),
            },
        )*];

        impl Params {
            /// Expands and converts every parameter.
            pub(crate) fn build(ex: &mut Expander<'_>) -> Result<Params, Error> {
                Ok(Params {
                    $( $name: ex.typed(stringify!($name), param_parser!($kind $(($unit))?))?, )*
                })
            }
        }
    };
}

define_parameters! {
    /// The configuration directory: the one given with `-c`, made absolute.
    /// Setting it in main.cf or with `-o` is ignored with a warning.
    config_directory: Path = "/etc/postern";

    /// The fully qualified host name of this mail system.
    myhostname: String = HostName;

    /// The local internet domain name.
    mydomain: String = DomainOfMyhostname;

    /// The domain locally posted mail appears to come from.
    myorigin: String = "$myhostname";

    /// The domains this host delivers locally.
    mydestination: List = "$myhostname, localhost.$mydomain, localhost";

    /// Clients trusted to relay: networks in address/prefix form.
    mynetworks: CidrList = "127.0.0.0/8 [::1]/128";

    /// The addresses to listen on: `all`, `loopback-only`, or addresses.
    inet_interfaces: List = "all";

    /// The address families to use: `all`, `ipv4`, `ipv6`.
    inet_protocols: ProtocolList = "all";

    /// The next hop for all non-local mail; empty means direct delivery.
    relayhost: String = "";

    /// Local users who may submit mail with `sendmail`: login names, or
    /// `static:anyone`.
    authorized_submit_users: List = "static:anyone";

    /// Local users who may list the queue (`mailq`): login names, or
    /// `static:anyone`.
    authorized_mailq_users: List = "static:anyone";

    /// Local users who may ask for deferred mail to be retried now
    /// (`sendmail -q`, `postern queue flush`): login names, or `static:anyone`.
    authorized_flush_users: List = "static:anyone";

    /// Which envelope senders (`sendmail -f`) each local user may use: a
    /// file of `login address, ...` lines (`*` any, `<>` the null sender,
    /// `@domain` any address there); empty means anyone may use any. A
    /// user's own `login@$myorigin` is always allowed.
    local_login_sender_maps: String = "";

    /// Per-domain routes for mail to other domains (`domain smtp:nexthop`,
    /// `domain error:text` lines); they take precedence over `relayhost`.
    transport_maps: List = "";

    /// The largest message accepted, in bytes (headers included).
    message_size_limit: Size = "10240000";

    /// The spool directory (DESIGN §3).
    queue_directory: Path = "/var/spool/postern";

    /// The user the daemons run as and that owns the spool.
    mail_owner: String = "postern";

    /// Where the daemon programs are; empty means the master program's
    /// directory.
    daemon_directory: OptionalPath = "";

    /// The mail log file; empty means master's standard output.
    maillog_file: OptionalPath = "";

    /// The longest delay master puts between restarts of a service that
    /// keeps dying.
    service_throttle_time: Duration(Seconds) = "60s";

    /// How long master waits after SIGTERM before it sends SIGKILL.
    daemon_shutdown_timeout: Duration(Seconds) = "10s";

    /// Whether each daemon confines itself after the privilege drop: a
    /// Landlock ruleset (the paths it needs) and a seccomp allowlist (the
    /// system calls it makes), as crates/sandbox documents per daemon. `no`
    /// for one service (`-o daemon_sandbox=no`) lets, say, local's
    /// `|command` deliveries write anywhere their user may.
    daemon_sandbox: Bool = "yes";

    /// The time limit for one exchange on an internal (IPC) channel.
    ipc_timeout: Duration(Seconds) = "3600s";

    /// How often the queue manager scans the deferred queue.
    queue_run_delay: Duration(Seconds) = "300s";

    /// The shortest time a deferred message waits before the next attempt.
    minimal_backoff_time: Duration(Seconds) = "300s";

    /// The longest time a deferred message waits before the next attempt.
    maximal_backoff_time: Duration(Seconds) = "4000s";

    /// How long an undeliverable message stays queued before it bounces.
    maximal_queue_lifetime: Duration(Days) = "5d";

    /// How long an undeliverable bounce message stays queued.
    bounce_queue_lifetime: Duration(Days) = "5d";

    /// Turn permanent delivery failures into temporary ones (for testing a
    /// new configuration without losing mail).
    soft_bounce: Bool = "no";

    /// Domains whose mailboxes are virtual users (`virtual_user_maps`), stored
    /// under `virtual_mailbox_base/DOMAIN/USER/`.
    virtual_mailbox_domains: List = "";

    /// The directory holding the virtual users' Maildirs.
    virtual_mailbox_base: Path = "/var/vmail";

    /// Where virtual users and their passwords are: `passwd-file:PATH` in
    /// Dovecot's passwd-file format.
    virtual_user_maps: List = "passwd-file:$config_directory/users";

    /// Alias files in /etc/aliases format; `hash:PATH` (or `lmdb:`,
    /// `texthash:`) means the text file PATH itself.
    alias_maps: List = "hash:/etc/aliases";

    /// The separator between a user name and an address extension
    /// (`user+tag`); empty means none.
    recipient_delimiter: String = "";

    /// The extra delay before answering each failed login from a client, per
    /// earlier failure.
    auth_failure_delay: Duration(Seconds) = "2s";

    /// Failed logins from one client address, or for one user, within
    /// `auth_failure_window` before further logins are refused for a while.
    auth_failure_limit: U32 = "10";

    /// The time over which failed logins are counted.
    auth_failure_window: Duration(Seconds) = "10m";

    /// The SMTP server's certificate chain (PEM); empty means the self-signed
    /// one master creates in the spool.
    smtpd_tls_cert_file: OptionalPath = "";

    /// The SMTP server's private key (PEM); it may be in the certificate file.
    smtpd_tls_key_file: OptionalPath = "$smtpd_tls_cert_file";

    /// The POP3 server's certificate chain (PEM).
    pop3d_tls_cert_file: OptionalPath = "$smtpd_tls_cert_file";

    /// The POP3 server's private key (PEM).
    pop3d_tls_key_file: OptionalPath = "$smtpd_tls_key_file";

    /// The IMAP server's certificate chain (PEM).
    imapd_tls_cert_file: OptionalPath = "$smtpd_tls_cert_file";

    /// The IMAP server's private key (PEM).
    imapd_tls_key_file: OptionalPath = "$smtpd_tls_key_file";

    /// Further certificates chosen by the client's SNI name: lines of
    /// `hostname /path/to/key-and-chain.pem`.
    tls_server_sni_maps: OptionalPath = "";

    /// The product name in greetings and Received: headers.
    mail_name: String = "Postern";

    /// The text after the 220 code in the SMTP greeting; it must start with
    /// the host name.
    smtpd_banner: String = "$myhostname ESMTP $mail_name";

    /// How long the SMTP server waits for a client's next command or data.
    smtpd_timeout: Duration(Seconds) = "300s";

    /// Errors after which the SMTP server hangs up (421 4.7.0).
    smtpd_hard_error_limit: U32 = "20";

    /// Errors after which each further error reply is delayed by
    /// `smtpd_error_sleep_time`.
    smtpd_soft_error_limit: U32 = "10";

    /// The delay before an error reply once `smtpd_soft_error_limit` is
    /// passed.
    smtpd_error_sleep_time: Duration(Seconds) = "1s";

    /// The most recipients of one message (452 4.5.3 past it).
    smtpd_recipient_limit: U32 = "1000";

    /// The most simultaneous sessions from one client address per SMTP
    /// server process; 0 means no limit.
    smtpd_client_connection_count_limit: U32 = "50";

    /// The most sessions one client address may open per
    /// `anvil_rate_time_unit`, per SMTP server process (`mynetworks` is
    /// exempt); 0 means no limit.
    smtpd_client_connection_rate_limit: U32 = "0";

    /// The time unit of `smtpd_client_connection_rate_limit`.
    anvil_rate_time_unit: Duration(Seconds) = "60s";

    /// The slowest rate, in bytes per second, at which message content
    /// (DATA, BDAT) may arrive: each read earns that much time beyond
    /// `smtpd_timeout`, which otherwise bounds a whole command or message;
    /// 0 means each read may take `smtpd_timeout`.
    smtpd_min_data_rate: U32 = "500";

    /// What to do with a bare LF or CR in message data: `reject` (550, the
    /// message is discarded) or `normalize` (turned into CRLF).
    smtpd_forbid_bare_newline: String = "reject";

    /// STARTTLS on the SMTP server: `none`, `may` (offered) or `encrypt`
    /// (required before MAIL).
    smtpd_tls_security_level: String = "may";

    /// TLS from the first byte (port 465, "submissions") instead of STARTTLS.
    smtpd_tls_wrappermode: Bool = "no";

    /// Offer SMTP AUTH (PLAIN, LOGIN) to clients using TLS or loopback.
    smtpd_sasl_auth_enable: Bool = "no";

    /// Restrictions checked at MAIL FROM against the client.
    smtpd_client_restrictions: List = "";

    /// Restrictions checked at MAIL FROM against the HELO name.
    smtpd_helo_restrictions: List = "";

    /// Restrictions checked at MAIL FROM against the sender.
    smtpd_sender_restrictions: List = "";

    /// Restrictions checked at RCPT TO that decide relaying.
    smtpd_relay_restrictions: List = "permit_mynetworks, permit_sasl_authenticated, reject_unauth_destination";

    /// Further restrictions checked at RCPT TO.
    smtpd_recipient_restrictions: List = "";

    /// Reject recipients in our own domains that have no mailbox or alias
    /// (550 5.1.1).
    smtpd_reject_unlisted_recipient: Bool = "yes";

    /// The largest header section kept whole for header processing; the
    /// rest of a longer one is treated as body.
    header_size_limit: Size = "102400";

    /// The most deliveries the queue manager runs at once per destination
    /// (all local delivery counts as one destination).
    default_destination_concurrency_limit: U32 = "20";

    /// A message with more `Received:` (and `Delivered-To:`) headers than this
    /// is bounced as a mail loop (5.4.6).
    hopcount_limit: U32 = "50";

    /// The most bytes of the original message a bounce carries.
    bounce_size_limit: Size = "50000";

    /// The local part of the sender of double bounces (postmaster notices);
    /// mail from it that fails is discarded, never bounced again.
    double_bounce_sender: String = "double-bounce";

    /// Where undeliverable bounces go.
    bounce_notice_recipient: String = "postmaster";

    /// The largest mailbox (Maildir) in bytes; 0 means no limit.
    mailbox_size_limit: Size = "51200000";

    /// Over quota is a temporary failure (the message waits) when yes, a
    /// permanent one (it bounces) when no.
    mailbox_quota_temporary: Bool = "yes";

    /// The user `|command` and `/file` alias deliveries run as, when local
    /// runs as root.
    default_privs: String = "nobody";

    /// How long a `|command` alias delivery may run.
    command_time_limit: Duration(Seconds) = "1000s";

    /// TLS from the first byte (port 995) instead of STLS.
    pop3d_tls_wrappermode: Bool = "no";

    /// Refuse USER/PASS and AUTH on a connection that is neither TLS nor
    /// loopback.
    pop3d_disable_plaintext_auth: Bool = "yes";

    /// How long the POP3 server waits for a client's next command (RFC 1939
    /// asks for at least 10 minutes).
    pop3d_timeout: Duration(Seconds) = "600s";

    /// TLS from the first byte (port 993) instead of STARTTLS.
    imapd_tls_wrappermode: Bool = "no";

    /// Refuse LOGIN and AUTHENTICATE on a connection that is neither TLS nor
    /// loopback (CAPABILITY then shows LOGINDISABLED).
    imapd_disable_plaintext_auth: Bool = "yes";

    /// The largest literal a client may send (APPEND's message, a long
    /// string): larger ones are refused with `NO [TOOBIG]`.
    imapd_max_literal: Size = "50M";

    /// The longest command line, literals not counted.
    imapd_max_line_length: Size = "64k";

    /// How long the IMAP server waits for a client's next command, and how
    /// long an IDLE may last (RFC 9051 asks for at least 30 minutes).
    imapd_timeout: Duration(Seconds) = "1800s";

    /// Folders every account gets at its first login, each with its
    /// special-use attribute (RFC 6154).
    imapd_special_use_folders: List = "Drafts Sent Trash Junk Archive";

    /// TLS for outbound SMTP: `none`, `may` (opportunistic), `encrypt`,
    /// `verify` or `secure` (certificate checked against the MX name).
    smtp_tls_security_level: String = "may";

    /// PEM file of extra certificate authorities trusted for outbound TLS
    /// under `verify` and `secure` (next to the system's roots).
    smtp_tls_CAfile: OptionalPath = "";

    /// DNS servers for outbound mail as `ip` or `ip:port`, instead of the
    /// system resolver (/etc/resolv.conf); for tests and special setups.
    smtp_dns_servers: List = "";

    /// The TCP port outbound SMTP connects to when the next hop names none;
    /// for tests and special setups.
    smtp_tcp_port: U32 = "25";

    /// The name the SMTP client gives in EHLO/HELO.
    smtp_helo_name: String = "$myhostname";

    /// How long the SMTP client waits for a TCP connection.
    smtp_connect_timeout: Duration(Seconds) = "30s";

    /// How long the SMTP client waits for the greeting and the EHLO reply.
    smtp_helo_timeout: Duration(Seconds) = "300s";

    /// How long the SMTP client waits for the STARTTLS reply and handshake.
    smtp_starttls_timeout: Duration(Seconds) = "300s";

    /// How long the SMTP client waits for the MAIL FROM reply.
    smtp_mail_timeout: Duration(Seconds) = "300s";

    /// How long the SMTP client waits for each RCPT TO reply.
    smtp_rcpt_timeout: Duration(Seconds) = "300s";

    /// How long the SMTP client waits for the DATA reply.
    smtp_data_init_timeout: Duration(Seconds) = "120s";

    /// How long the SMTP client may take to send each piece of the message.
    smtp_data_xfer_timeout: Duration(Seconds) = "180s";

    /// How long the SMTP client waits for the reply after the message.
    smtp_data_done_timeout: Duration(Seconds) = "600s";

    /// How long the SMTP client waits for the RSET reply before reusing a
    /// connection.
    smtp_rset_timeout: Duration(Seconds) = "20s";

    /// How long the SMTP client waits for the QUIT reply.
    smtp_quit_timeout: Duration(Seconds) = "300s";

    /// How long an idle outbound connection is kept open for the next
    /// message to the same destination; 0 turns connection reuse off.
    smtp_connection_cache_time_limit: Duration(Seconds) = "2s";

    /// The most addresses tried for one delivery (over all MX hosts).
    smtp_mx_address_limit: U32 = "5";

    /// The most connections that get as far as a greeting for one delivery.
    smtp_mx_session_limit: U32 = "2";

    /// The most recipients in one outbound SMTP transaction.
    smtp_destination_recipient_limit: U32 = "50";

    /// The most deliveries at once to one outbound destination (a domain,
    /// or the relayhost).
    smtp_destination_concurrency_limit: U32 = "$default_destination_concurrency_limit";

    /// Which addresses of a host to try first: `any` (random), `ipv4` or
    /// `ipv6`.
    smtp_address_preference: String = "any";

    /// Authenticate to the next hop with SASL (PLAIN or LOGIN), with the
    /// credentials from `smtp_sasl_password_maps`.
    smtp_sasl_auth_enable: Bool = "no";

    /// A file of `nexthop user:password` lines (the next hop as in
    /// `relayhost`, or a domain); a `hash:` or `texthash:` prefix is allowed.
    smtp_sasl_password_maps: String = "";

    /// Treat a 5xx greeting like a 4xx one: try the next MX host (the
    /// message is deferred if none takes it).
    smtp_skip_5xx_greeting: Bool = "yes";

    /// Never convert 8-bit mail to quoted-printable for servers without
    /// 8BITMIME: send it as it is.
    disable_mime_output_conversion: Bool = "no";

    /// The most deliveries the queue manager runs at once over all
    /// destinations.
    default_process_limit: U32 = "100";
}

/// The metadata of a known parameter.
pub(crate) fn info(name: &str) -> Option<&'static ParamInfo> {
    TABLE.iter().find(|p| p.name == name)
}

/// Every known parameter, sorted by name.
pub fn parameters() -> impl Iterator<Item = &'static ParamInfo> {
    static SORTED: OnceLock<Vec<&'static ParamInfo>> = OnceLock::new();
    SORTED
        .get_or_init(|| {
            let mut sorted: Vec<&'static ParamInfo> = TABLE.iter().collect();
            sorted.sort_by_key(|p| p.name);
            sorted
        })
        .iter()
        .copied()
}

/// The host name `host` qualified as Postfix would: `.localdomain` is
/// appended when it has no dot.
pub(crate) fn qualify_host_name(host: &str) -> String {
    if host.is_empty() {
        FALLBACK_HOST_NAME.to_owned()
    } else if host.contains('.') {
        host.to_owned()
    } else {
        format!("{host}.localdomain")
    }
}

/// The default of `myhostname`: the system host name, qualified.
pub(crate) fn system_host_name() -> Result<String, Error> {
    let name = nix::unistd::gethostname().map_err(Error::HostName)?;
    let name = name.into_string().map_err(|raw| Error::BadHostName {
        name: format!("{raw:?}"),
    })?;
    Ok(qualify_host_name(&name))
}

/// The default of a known parameter, expanded against the other defaults
/// only (what `postconf -d` prints); `None` for an unknown name.
///
/// `config_directory` is [`DEFAULT_CONFIG_DIRECTORY`]. If the system host
/// name cannot be read, `localhost.localdomain` stands in for it.
pub fn default_value(name: &str) -> Option<String> {
    let info = info(name)?;
    let host = system_host_name().unwrap_or_else(|_| FALLBACK_HOST_NAME.to_owned());
    let main = BTreeMap::new();
    let dir = Path::new(DEFAULT_CONFIG_DIRECTORY);
    let main_cf = dir.join(crate::MAIN_CF);
    let master_cf = dir.join(crate::MASTER_CF);
    let mut ex = Expander::new(Layers {
        main: &main,
        overrides: &[],
        override_line: 0,
        host_name: &host,
        config_dir: DEFAULT_CONFIG_DIRECTORY,
        main_cf: &main_cf,
        master_cf: &master_cf,
    });
    ex.param(info.name).ok().flatten().map(|(value, _)| value)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn parameters_are_sorted_and_unique() {
        let names: Vec<&str> = parameters().map(|p| p.name).collect();
        let mut sorted = names.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(names, sorted);
        assert_eq!(names.len(), TABLE.len());
    }

    #[test]
    fn every_parameter_is_documented() {
        for p in parameters() {
            assert!(!p.summary().is_empty(), "{} has no doc", p.name);
        }
    }

    #[test]
    fn metadata() {
        let p = info("maximal_queue_lifetime").unwrap();
        assert_eq!(p.default, "5d");
        assert_eq!(
            p.kind,
            ParamKind::Duration {
                default_unit: TimeUnit::Days
            }
        );
        assert_eq!(
            p.kind.to_string(),
            "time (units s, m, h, d, w; a bare number is in d)"
        );
        let h = info("myhostname").unwrap();
        assert_eq!(h.default, "");
        assert_eq!(h.computed, Some(ComputedDefault::HostName));
        assert_eq!(info("myorigin").unwrap().default, "$myhostname");
        assert!(info("no_such_parameter").is_none());
    }

    #[test]
    fn defaults_expand_against_defaults() {
        let host = system_host_name().unwrap();
        assert_eq!(default_value("myhostname"), Some(host.clone()));
        assert_eq!(default_value("myorigin"), Some(host.clone()));
        let domain = crate::expand::domain_of(&host);
        assert_eq!(
            default_value("mydestination"),
            Some(format!("{host}, localhost.{domain}, localhost"))
        );
        assert_eq!(
            default_value("config_directory").as_deref(),
            Some("/etc/postern")
        );
        assert_eq!(default_value("relayhost").as_deref(), Some(""));
        assert_eq!(default_value("unknown_thing"), None);
    }

    #[test]
    fn every_default_is_valid() {
        let host = "host.example.com";
        let main = BTreeMap::new();
        let mut ex = Expander::new(Layers {
            main: &main,
            overrides: &[],
            override_line: 0,
            host_name: host,
            config_dir: "/etc/postern",
            main_cf: Path::new("/etc/postern/main.cf"),
            master_cf: Path::new("/etc/postern/master.cf"),
        });
        let p = Params::build(&mut ex).unwrap();
        assert!(ex.into_warnings().is_empty());
        assert_eq!(p.myhostname, "host.example.com");
        assert_eq!(p.mydomain, "example.com");
        assert_eq!(p.myorigin, "host.example.com");
        assert_eq!(
            p.mydestination,
            ["host.example.com", "localhost.example.com", "localhost"]
        );
        let nets: Vec<String> = p.mynetworks.iter().map(ToString::to_string).collect();
        assert_eq!(nets, ["127.0.0.0/8", "[::1]/128"]);
        assert_eq!(p.inet_interfaces, ["all"]);
        assert_eq!(p.inet_protocols, ["all"]);
        assert_eq!(p.relayhost, "");
        assert_eq!(p.message_size_limit, 10_240_000);
        assert_eq!(p.queue_directory, PathBuf::from("/var/spool/postern"));
        assert_eq!(p.mail_owner, "postern");
        assert_eq!(p.daemon_directory, None);
        assert_eq!(p.maillog_file, None);
        assert_eq!(p.service_throttle_time, Duration::from_secs(60));
        assert_eq!(p.daemon_shutdown_timeout, Duration::from_secs(10));
        assert_eq!(p.ipc_timeout, Duration::from_secs(3600));
        assert_eq!(p.queue_run_delay, Duration::from_secs(300));
        assert_eq!(p.minimal_backoff_time, Duration::from_secs(300));
        assert_eq!(p.maximal_backoff_time, Duration::from_secs(4000));
        assert_eq!(p.maximal_queue_lifetime, Duration::from_secs(5 * 86400));
        assert_eq!(p.bounce_queue_lifetime, Duration::from_secs(5 * 86400));
        assert!(!p.soft_bounce);
    }

    #[test]
    fn host_name_qualification() {
        let cases: &[(&str, &str, &str)] = &[
            ("dotted", "mail.example.com", "mail.example.com"),
            ("bare", "mail", "mail.localdomain"),
            ("empty", "", "localhost.localdomain"),
        ];
        for (name, input, want) in cases {
            assert_eq!(qualify_host_name(input), *want, "case {name}");
        }
    }
}
