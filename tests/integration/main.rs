//! Postern's integration tests: each starts the real `master` from the built binaries
//! through `testkit` and checks what a client or an admin would see.

mod abuse;
mod cli;
mod delivery;
mod faults;
mod imapd;
mod master;
mod outbound;
mod pop3d;
mod privileges;
mod queue;
mod relay;
mod sendmail;
mod smtpd;
mod support;
