//! ipc_frame - frame bodies from a local peer, decoded by `ipc::codec::decode`.
//!
//! The input is decoded as a control `Request`, a control `Reply` and a `Hello` (the
//! first frame on every channel).
//!
//! Invariants:
//! - Decoding never panics (and, as libFuzzer watches, never allocates without bound).
//! - A message that decodes encodes to a frame whose prefix is its body length and
//!   whose body decodes to an equal message.
#![no_main]

use std::fmt::Debug;

use ipc::Hello;
use ipc::codec::{self, PREFIX_LEN};
use ipc::control::{Reply, Request};
use libfuzzer_sys::fuzz_target;
use serde::Serialize;
use serde::de::DeserializeOwned;

fuzz_target!(|data: &[u8]| {
    round_trip::<Request>(data);
    round_trip::<Reply>(data);
    round_trip::<Hello>(data);
});

fn round_trip<T>(body: &[u8])
where
    T: Serialize + DeserializeOwned + PartialEq + Debug,
{
    let Ok(message) = codec::decode::<T>(body) else {
        return;
    };
    let frame = codec::encode(&message).expect("a decoded message encodes");
    let (prefix, encoded) = frame.as_bytes().split_at(PREFIX_LEN);
    let prefix: [u8; PREFIX_LEN] = prefix.try_into().expect("prefix");
    assert_eq!(
        u32::from_be_bytes(prefix) as usize,
        encoded.len(),
        "length prefix"
    );
    assert_eq!(encoded, frame.body());
    let again = codec::decode::<T>(encoded).expect("a re-encoded message decodes");
    assert_eq!(again, message);
}
