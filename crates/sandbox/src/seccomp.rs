//! The seccomp half: an allowlist filter compiled to BPF by seccompiler.

use std::collections::BTreeMap;

use seccompiler::{
    BpfProgram, SeccompAction, SeccompCmpArgLen, SeccompCmpOp, SeccompCondition, SeccompFilter,
    SeccompRule, TargetArch,
};

use crate::Error;
use crate::profile::Profile;
use crate::syscalls::{Call, DENIED, DENIED_X86, EXEC, Only};

/// The calls no profile may allow: [`DENIED`], and `execve`/`execveat` unless the
/// profile runs programs.
fn denied(profile: &Profile) -> impl Iterator<Item = &'static Call> {
    let exec: &'static [Call] = if profile.exec { &[] } else { EXEC };
    DENIED.iter().chain(DENIED_X86).chain(exec)
}

fn rules_of(call: &Call) -> Result<Vec<SeccompRule>, seccompiler::BackendError> {
    match call.only {
        Only::Any => Ok(Vec::new()),
        Only::ArgIn { index, values } => values
            .iter()
            .map(|&value| {
                let condition =
                    SeccompCondition::new(index, SeccompCmpArgLen::Dword, SeccompCmpOp::Eq, value)?;
                SeccompRule::new(vec![condition])
            })
            .collect(),
        Only::ArgHasBits { index, bits } => {
            let condition = SeccompCondition::new(
                index,
                SeccompCmpArgLen::Qword,
                SeccompCmpOp::MaskedEq(bits),
                bits,
            )?;
            Ok(vec![SeccompRule::new(vec![condition])?])
        }
    }
}

/// Compiles the profile's allowlist: its calls are allowed (with their argument
/// restrictions), every other call fails with `EPERM`.
pub(crate) fn compile(profile: &Profile) -> Result<BpfProgram, Error> {
    let calls = profile.calls();
    if let Some(call) = denied(profile).find(|d| calls.iter().any(|c| c.nr == d.nr)) {
        return Err(Error::Denied {
            daemon: profile.daemon,
            call: call.name(),
        });
    }
    let mut rules: BTreeMap<i64, Vec<SeccompRule>> = BTreeMap::new();
    for call in &calls {
        let mut more = rules_of(call).map_err(Error::Filter)?;
        rules.entry(call.nr).or_default().append(&mut more);
    }
    let arch = TargetArch::try_from(std::env::consts::ARCH).map_err(Error::Filter)?;
    let filter = SeccompFilter::new(
        rules,
        SeccompAction::Errno(libc::EPERM.unsigned_abs()),
        SeccompAction::Allow,
        arch,
    )
    .map_err(Error::Filter)?;
    BpfProgram::try_from(filter).map_err(Error::Filter)
}

/// Installs the profile's filter on every thread of the process (there should be
/// only one) and, through inheritance, on every later thread and child.
pub(crate) fn install(profile: &Profile) -> Result<(), Error> {
    let program = compile(profile)?;
    seccompiler::apply_filter_all_threads(&program).map_err(Error::Install)
}
