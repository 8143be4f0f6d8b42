//! The parts of imapd that do not touch the network: rendering FETCH data and
//! evaluating SEARCH keys over the mail store's metadata.

pub mod fetch;
pub mod search;
