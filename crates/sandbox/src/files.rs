//! The Landlock half: a ruleset with the profile's paths (and TCP restrictions),
//! applied with best-effort compatibility.

use std::path::PathBuf;

use landlock::{
    ABI, Access as _, AccessFs, AccessNet, BitFlags, CompatLevel, Compatible, LandlockStatus,
    PathBeneath, PathFd, Ruleset, RulesetAttr, RulesetCreatedAttr, RulesetStatus, Scope,
    make_bitflags,
};

use crate::Error;
use crate::profile::{Access, Profile, Tcp};

/// The newest Landlock ABI this crate's rules were written and tested for: file
/// rights including truncate and device ioctls, TCP bind/connect, and the signal and
/// abstract Unix socket scopes (Linux 6.12). Newer kernels enforce exactly this;
/// older ones enforce what they can (best effort).
///
/// XXX: ABI 9 adds `ResolveUnix` (connecting to Unix sockets by path); moving to it
/// needs rules for `private/`, the nscd and systemd-userdb sockets, tested on such a
/// kernel.
pub const TARGET_ABI: ABI = ABI::V6;

/// How the ruleset ended up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Outcome {
    /// The ABI enforced: the lower of [`TARGET_ABI`] and the kernel's, or `None`
    /// when the kernel has no Landlock (nothing is restricted).
    pub abi: Option<i32>,
    /// Whether only part of the ruleset could be enforced (older kernel).
    pub partial: bool,
    /// Paths of the profile that do not exist (no rule was added for them).
    pub missing: Vec<PathBuf>,
}

fn rights(access: Access) -> BitFlags<AccessFs> {
    let read = make_bitflags!(AccessFs::{ReadFile | ReadDir});
    match access {
        Access::Read => read,
        Access::Execute => read | AccessFs::Execute,
        Access::Modify => read | AccessFs::WriteFile,
        Access::ReadWrite => {
            read | make_bitflags!(AccessFs::{
                WriteFile | MakeReg | MakeDir | MakeSym | MakeFifo | MakeSock | RemoveFile
                    | RemoveDir | Refer | Truncate
            })
        }
        // No device nodes even here: a root local could otherwise make one in /tmp
        // and open the disk through it.
        Access::Full => {
            AccessFs::from_all(TARGET_ABI) & !make_bitflags!(AccessFs::{MakeChar | MakeBlock})
        }
        Access::Device => make_bitflags!(AccessFs::{ReadFile | WriteFile | Truncate}),
    }
}

/// Builds the profile's ruleset and restricts the calling thread (and its future
/// threads and children) with it.
pub(crate) fn restrict(profile: &Profile) -> Result<Outcome, Error> {
    let mut ruleset = Ruleset::default()
        .set_compatibility(CompatLevel::BestEffort)
        .handle_access(AccessFs::from_all(TARGET_ABI))?
        .scope(Scope::from_all(TARGET_ABI))?;
    if profile.tcp == Tcp::Denied {
        ruleset = ruleset.handle_access(AccessNet::from_all(TARGET_ABI))?;
    }
    let mut created = ruleset.create()?;
    let mut missing = Vec::new();
    for rule in &profile.paths {
        match PathFd::new(&rule.path) {
            Ok(fd) => {
                created = created.add_rule(PathBeneath::new(fd, rights(rule.access)))?;
            }
            Err(_) => missing.push(rule.path.clone()),
        }
    }
    let status = created.restrict_self()?;
    let partial = status.ruleset == RulesetStatus::PartiallyEnforced;
    let abi = match (status.ruleset, status.landlock) {
        (RulesetStatus::NotEnforced, _) => None,
        (_, LandlockStatus::Available { effective_abi, .. }) => {
            Some((effective_abi as i32).min(TARGET_ABI as i32))
        }
        (_, _) => None,
    };
    Ok(Outcome {
        abi,
        partial,
        missing,
    })
}
