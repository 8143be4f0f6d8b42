//! Master's control channel (`private/master`), used by `postern status`.
//!
//! The client sends one [`Request`]; master answers with one [`Reply`]. Master
//! authorizes the client by its `SO_PEERCRED` uid and answers [`Reply::Denied`] to
//! anyone else.
//!
//! Wire rule: never reorder or remove a variant or field. Add at the end and bump
//! [`Control::VERSION`]; the golden tests pin the current bytes.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::connection::Channel;
use crate::names;

/// The control channel's marker type for [`crate::Connection`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Control;

impl Channel for Control {
    const NAME: &'static str = names::MASTER_CONTROL;
    const VERSION: u32 = 1;
    /// A status listing of a few hundred services and processes fits easily.
    const MAX_FRAME: usize = 1024 * 1024;
    type Request = Request;
    type Reply = Reply;
}

/// What a control client asks master.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Request {
    /// Report master's state and every service's processes.
    Status,
}

impl Request {
    /// The variant's name, for [`crate::Error::UnexpectedMessage`] and log lines.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Status => "Status",
        }
    }
}

/// Master's answer to a [`Request`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Reply {
    /// Answer to [`Request::Status`].
    Status(MasterStatus),
    /// The peer's uid is not allowed to use the control channel.
    Denied,
}

impl Reply {
    /// The variant's name, for [`crate::Error::UnexpectedMessage`] and log lines.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Status(_) => "Status",
            Self::Denied => "Denied",
        }
    }
}

/// Master's state as reported by `postern status`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MasterStatus {
    /// Master's pid, so the operator can signal it.
    pub pid: u32,
    /// When master started, in seconds since the Unix epoch, to show its uptime.
    pub started_unix: u64,
    /// The configuration directory master was started with (`-c`), so the operator
    /// sees which instance answered.
    pub config_dir: String,
    /// One entry per `master.cf` service, in file order.
    pub services: Vec<ServiceStatus>,
}

/// One `master.cf` service and the processes master runs for it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceStatus {
    /// The service name (first `master.cf` column, e.g. `smtp` or `127.0.0.1:2525`).
    pub name: String,
    /// The listener type (second `master.cf` column).
    pub kind: ServiceKind,
    /// The command run for it (last `master.cf` column, e.g. `smtpd`).
    pub command: String,
    /// The process limit in force, to show how close the service is to it.
    pub maxproc: u32,
    /// The live processes.
    pub processes: Vec<ProcessStatus>,
    /// How many times a process of this service has been restarted after dying.
    pub restarts: u64,
    /// While set, master waits until this time (seconds since the Unix epoch) before
    /// starting new processes, because they kept dying.
    pub throttled_until_unix: Option<u64>,
    /// How the most recent process of this service ended, if one has.
    pub last_exit: Option<ProcessExit>,
}

/// The transport a service listens on (`master.cf` type column).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ServiceKind {
    /// A TCP listener (`inet`).
    Inet,
    /// A Unix stream socket (`unix`).
    Unix,
    /// A socket over which connections are passed as file descriptors (`pass`).
    Pass,
}

impl ServiceKind {
    /// The `master.cf` spelling: `inet`, `unix` or `pass`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Inet => "inet",
            Self::Unix => "unix",
            Self::Pass => "pass",
        }
    }
}

impl fmt::Display for ServiceKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One live process of a service.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProcessStatus {
    /// The child's pid.
    pub pid: u32,
    /// When it was started, in seconds since the Unix epoch.
    pub started_unix: u64,
}

/// How a child process ended.
///
/// `Display` gives the operator's wording: `exit status 1`, `killed by signal 9`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ProcessExit {
    /// It called `exit` with this status.
    Exited {
        /// The exit status.
        code: i32,
    },
    /// A signal ended it.
    Killed {
        /// The signal number.
        signal: i32,
    },
}

impl fmt::Display for ProcessExit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Exited { code } => write!(f, "exit status {code}"),
            Self::Killed { signal } => write!(f, "killed by signal {signal}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec;

    /// Encodes `msg`, checks the frame against `expected`, and decodes it back.
    fn assert_wire<T>(msg: &T, expected: &[u8])
    where
        T: Serialize + serde::de::DeserializeOwned + PartialEq + fmt::Debug,
    {
        let frame = codec::encode(msg).unwrap();
        assert_eq!(frame.as_bytes(), expected, "wire bytes of {msg:?} changed");
        assert_eq!(&codec::decode::<T>(frame.body()).unwrap(), msg);
    }

    fn sample_status() -> MasterStatus {
        MasterStatus {
            pid: 4017,
            started_unix: 1_700_000_000,
            config_dir: "/etc/postern".to_owned(),
            services: vec![
                ServiceStatus {
                    name: "smtp".to_owned(),
                    kind: ServiceKind::Inet,
                    command: "smtpd".to_owned(),
                    maxproc: 100,
                    processes: vec![ProcessStatus {
                        pid: 4021,
                        started_unix: 1_700_000_005,
                    }],
                    restarts: 2,
                    throttled_until_unix: Some(1_700_000_060),
                    last_exit: Some(ProcessExit::Killed { signal: 9 }),
                },
                ServiceStatus {
                    name: "qmgr".to_owned(),
                    kind: ServiceKind::Unix,
                    command: "qmgr".to_owned(),
                    maxproc: 1,
                    processes: vec![],
                    restarts: 0,
                    throttled_until_unix: None,
                    last_exit: Some(ProcessExit::Exited { code: 1 }),
                },
                ServiceStatus {
                    name: "relay".to_owned(),
                    kind: ServiceKind::Pass,
                    command: "smtpd".to_owned(),
                    maxproc: 300,
                    processes: vec![],
                    restarts: 0,
                    throttled_until_unix: None,
                    last_exit: None,
                },
            ],
        }
    }

    #[test]
    fn golden_request_status() {
        assert_wire(&Request::Status, &[0, 0, 0, 1, 0x00]);
    }

    #[test]
    fn golden_reply_denied() {
        assert_wire(&Reply::Denied, &[0, 0, 0, 1, 0x01]);
    }

    #[test]
    fn golden_reply_status() {
        let expected: Vec<u8> = [
            &[0x00, 0x00, 0x00, 0x5a][..],   // length prefix: 90
            &[0x00],                         // Reply::Status
            &[0xb1, 0x1f],                   // pid 4017
            &[0x80, 0xe2, 0xcf, 0xaa, 0x06], // started_unix 1_700_000_000
            &[0x0c],                         // config_dir length
            b"/etc/postern",
            &[0x03], // 3 services
            &[0x04], // [0] name
            b"smtp",
            &[0x00], // kind Inet
            &[0x05], // command
            b"smtpd",
            &[0x64],                               // maxproc 100
            &[0x01],                               // 1 process
            &[0xb5, 0x1f],                         // pid 4021
            &[0x85, 0xe2, 0xcf, 0xaa, 0x06],       // started_unix 1_700_000_005
            &[0x02],                               // restarts 2
            &[0x01, 0xbc, 0xe2, 0xcf, 0xaa, 0x06], // throttled Some(1_700_000_060)
            &[0x01, 0x01, 0x12],                   // last_exit Some(Killed { signal: 9 })
            &[0x04],                               // [1] name
            b"qmgr",
            &[0x01], // kind Unix
            &[0x04], // command
            b"qmgr",
            &[0x01],             // maxproc 1
            &[0x00],             // no processes
            &[0x00],             // restarts 0
            &[0x00],             // throttled None
            &[0x01, 0x00, 0x02], // last_exit Some(Exited { code: 1 })
            &[0x05],             // [2] name
            b"relay",
            &[0x02], // kind Pass
            &[0x05], // command
            b"smtpd",
            &[0xac, 0x02], // maxproc 300
            &[0x00],       // no processes
            &[0x00],       // restarts 0
            &[0x00],       // throttled None
            &[0x00],       // last_exit None
        ]
        .concat();
        assert_wire(&Reply::Status(sample_status()), &expected);
    }

    #[test]
    fn channel_constants() {
        assert_eq!(Control::NAME, "master");
        assert_eq!(Control::VERSION, 1);
        assert_eq!(Control::MAX_FRAME, 1 << 20);
    }

    #[test]
    fn process_exit_reads_like_an_operator_message() {
        assert_eq!(ProcessExit::Exited { code: 1 }.to_string(), "exit status 1");
        assert_eq!(
            ProcessExit::Killed { signal: 9 }.to_string(),
            "killed by signal 9"
        );
    }

    #[test]
    fn service_kind_uses_master_cf_spelling() {
        let kinds = [ServiceKind::Inet, ServiceKind::Unix, ServiceKind::Pass];
        let names: Vec<String> = kinds.iter().map(ToString::to_string).collect();
        assert_eq!(names, ["inet", "unix", "pass"]);
    }

    /// A small deterministic generator (xorshift64), so the test needs no extra crates.
    struct Bytes(u64);

    impl Bytes {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }

        fn byte(&mut self) -> u8 {
            self.next().to_le_bytes()[0]
        }

        fn below(&mut self, n: usize) -> usize {
            usize::try_from(self.next() % u64::try_from(n).unwrap()).unwrap()
        }
    }

    /// Feeds every decoder this crate exposes to a peer; only the absence of panics
    /// matters.
    fn decode_everything(body: &[u8]) {
        let _ = codec::decode::<Request>(body);
        let _ = codec::decode::<Reply>(body);
        let _ = codec::decode::<crate::Hello>(body);
    }

    #[tokio::test]
    async fn decoding_random_bytes_never_panics() {
        let mut rng = Bytes(0x9e37_79b9_7f4a_7c15);
        for _ in 0..20_000 {
            let len = rng.below(80);
            let body: Vec<u8> = (0..len).map(|_| rng.byte()).collect();
            decode_everything(&body);
            let _ = codec::read_frame(&mut &body[..], Control::MAX_FRAME).await;
        }
    }

    #[test]
    fn decoding_mutated_valid_messages_never_panics() {
        let valid = codec::encode(&Reply::Status(sample_status())).unwrap();
        let mut rng = Bytes(42);
        for _ in 0..20_000 {
            let mut body = valid.body().to_vec();
            for _ in 0..=rng.below(4) {
                let at = rng.below(body.len());
                body[at] = rng.byte();
            }
            body.truncate(rng.below(body.len() + 1).max(body.len() / 2));
            decode_everything(&body);
        }
    }
}
