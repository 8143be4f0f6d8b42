//! Access policy: Postfix's restriction lists, with the restrictions Postern knows.
//!
//! Each list is evaluated in order; the first restriction that decides ends the list:
//! a permit ends that list only (the next list is still checked), a refusal ends the
//! command. A list that runs out decides nothing. smtpd evaluates the client, HELO and
//! sender lists at MAIL FROM, and the relay and recipient lists at RCPT TO.

use std::str::FromStr;

use accounts::{Accounts, DomainClass, MailboxKind, Resolution, Target};
use smtp_proto::reply::Checked;
use smtp_proto::{ForwardPath, Reply};

/// One restriction of a restriction list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Restriction {
    /// `permit`: accept.
    Permit,
    /// `reject`: refuse (554 5.7.1).
    Reject,
    /// `defer`: refuse for now (450 4.7.1).
    Defer,
    /// `permit_mynetworks`: accept a client in `mynetworks`.
    PermitMynetworks,
    /// `permit_sasl_authenticated`: accept an authenticated client.
    PermitSaslAuthenticated,
    /// `reject_unauth_destination`: refuse a recipient in a domain that is not ours.
    RejectUnauthDestination,
    /// `defer_unauth_destination`: the same, with a temporary error.
    DeferUnauthDestination,
    /// `reject_sender_login_mismatch`: an authenticated client may send only as its
    /// own addresses (and aliases of them); an unauthenticated one not as a user's.
    RejectSenderLoginMismatch,
    /// `reject_unlisted_recipient`: refuse a recipient in our domains that has no
    /// mailbox or alias.
    RejectUnlistedRecipient,
}

impl FromStr for Restriction {
    type Err = anyhow::Error;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        Ok(match name.to_ascii_lowercase().as_str() {
            "permit" => Restriction::Permit,
            "reject" => Restriction::Reject,
            "defer" => Restriction::Defer,
            "permit_mynetworks" => Restriction::PermitMynetworks,
            "permit_sasl_authenticated" => Restriction::PermitSaslAuthenticated,
            "reject_unauth_destination" => Restriction::RejectUnauthDestination,
            "defer_unauth_destination" => Restriction::DeferUnauthDestination,
            "reject_sender_login_mismatch" => Restriction::RejectSenderLoginMismatch,
            "reject_unlisted_recipient" => Restriction::RejectUnlistedRecipient,
            other => anyhow::bail!(
                "unknown restriction {other:?} (known: permit, reject, defer, permit_mynetworks, permit_sasl_authenticated, reject_unauth_destination, defer_unauth_destination, reject_sender_login_mismatch, reject_unlisted_recipient)"
            ),
        })
    }
}

/// What the restrictions look at.
pub struct Facts<'a> {
    /// The client as logs name it (`name[addr]`).
    pub client: &'a str,
    /// Whether the client address is in `mynetworks`.
    pub in_mynetworks: bool,
    /// The authenticated user, if any.
    pub sasl_user: Option<&'a str>,
    /// The HELO name, if any.
    pub helo: Option<&'a str>,
    /// The envelope sender (empty for `<>`), once given.
    pub sender: Option<&'a str>,
    /// The recipient being checked, at RCPT time.
    pub recipient: Option<&'a ForwardPath>,
    /// The accounts, for domains, users and aliases.
    pub accounts: &'a Accounts,
}

impl Facts<'_> {
    fn subject(&self, checked: Checked) -> String {
        match checked {
            Checked::Client => self.client.to_owned(),
            Checked::Helo => self.helo.unwrap_or("").to_owned(),
            Checked::Sender => self.sender.unwrap_or("").to_owned(),
            Checked::Recipient => self.recipient.map(ToString::to_string).unwrap_or_default(),
        }
    }

    /// Whether the recipient's domain is one we receive mail for.
    fn recipient_is_ours(&self) -> bool {
        match self.recipient {
            None | Some(ForwardPath::Postmaster) => true,
            Some(ForwardPath::Mailbox(mailbox)) => {
                self.accounts.domain_class(&mailbox.domain_lowercase()) != DomainClass::Remote
            }
        }
    }

    /// Whether the recipient is in our domains but has no mailbox or alias.
    fn recipient_is_unlisted(&self) -> bool {
        match self.recipient {
            Some(ForwardPath::Mailbox(mailbox)) => {
                matches!(
                    self.accounts.resolve(&mailbox.to_string()),
                    Resolution::Unknown
                )
            }
            _ => false,
        }
    }

    fn sender_is_allowed(&self) -> bool {
        let Some(sender) = self.sender.filter(|s| !s.is_empty()) else {
            return true;
        };
        match self.sasl_user {
            Some(login) => owns(self.accounts, login, sender),
            None => !has_owner(self.accounts, sender),
        }
    }
}

/// Whether `login` may use `sender`: it is the login's own address, or an alias
/// that delivers to the login's mailbox.
pub fn owns(accounts: &Accounts, login: &str, sender: &str) -> bool {
    if sender.eq_ignore_ascii_case(login) {
        return true;
    }
    match accounts.resolve(sender) {
        Resolution::Mailbox(mailbox) => mailbox.address.eq_ignore_ascii_case(login),
        Resolution::Alias(expansion) => expansion
            .targets
            .iter()
            .any(|t| matches!(t, Target::Mailbox(m) if m.address.eq_ignore_ascii_case(login))),
        Resolution::Remote { .. } | Resolution::Unknown => false,
    }
}

/// Whether `sender` belongs to a user who could log in (a virtual user).
fn has_owner(accounts: &Accounts, sender: &str) -> bool {
    matches!(accounts.resolve(sender), Resolution::Mailbox(m) if m.kind == MailboxKind::Virtual)
}

/// Evaluates one restriction list: `Some(reply)` refuses, `None` lets the command pass.
pub fn check(list: &[Restriction], checked: Checked, facts: &Facts<'_>) -> Option<Reply> {
    for restriction in list {
        match restriction {
            Restriction::Permit => return None,
            Restriction::Reject => {
                return Some(Reply::access_denied(checked, facts.subject(checked)));
            }
            Restriction::Defer => {
                return Some(Reply::access_deferred(checked, facts.subject(checked)));
            }
            Restriction::PermitMynetworks if facts.in_mynetworks => return None,
            Restriction::PermitSaslAuthenticated if facts.sasl_user.is_some() => return None,
            Restriction::RejectUnauthDestination if !facts.recipient_is_ours() => {
                return Some(Reply::relay_denied(facts.subject(Checked::Recipient)));
            }
            Restriction::DeferUnauthDestination if !facts.recipient_is_ours() => {
                return Some(Reply::relay_deferred(facts.subject(Checked::Recipient)));
            }
            Restriction::RejectSenderLoginMismatch if !facts.sender_is_allowed() => {
                return Some(Reply::sender_not_owned(facts.subject(Checked::Sender)));
            }
            Restriction::RejectUnlistedRecipient if facts.recipient_is_unlisted() => {
                return Some(Reply::unknown_user(facts.subject(Checked::Recipient)));
            }
            _ => {}
        }
    }
    None
}

/// The implicit last check at RCPT (`smtpd_reject_unlisted_recipient`).
pub fn check_unlisted(facts: &Facts<'_>) -> Option<Reply> {
    check(
        &[Restriction::RejectUnlistedRecipient],
        Checked::Recipient,
        facts,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_parse_case_insensitively() {
        assert_eq!(
            "PERMIT_MYNETWORKS".parse::<Restriction>().unwrap(),
            Restriction::PermitMynetworks
        );
        assert_eq!(
            "reject_sender_login_mismatch"
                .parse::<Restriction>()
                .unwrap(),
            Restriction::RejectSenderLoginMismatch
        );
        let err = "check_policy_service".parse::<Restriction>().unwrap_err();
        assert!(
            err.to_string()
                .contains("unknown restriction \"check_policy_service\"")
        );
    }
}
