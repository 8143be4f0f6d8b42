//! # imapd: the Postern IMAP server

fn main() {}
