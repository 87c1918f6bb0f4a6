//! `linux.seccomp` compiled to a classic BPF filter, and installed with
//! `seccomp(2)`. What libseccomp does for runc, for the x86 family: one
//! section per architecture (x86_64, i386, x32; the native one always),
//! rules in the spec's order, argument conditions on both 32-bit halves,
//! `defaultErrnoRet`, and every action. A process of an architecture the
//! filter does not list is killed, as with libseccomp.
//!
//! `SCMP_ACT_NOTIFY` hands a syscall to a seccomp agent: the filter is
//! then installed with a listener, which the runtime sends to the agent
//! at `listenerPath` ([`listener`]), as runc does.
//!
//! Names are resolved against the tables of [`tables`] (from the
//! `syscalls` crate); a name that is no syscall anywhere is skipped, as
//! runc skips a name libseccomp cannot resolve. A name that exists only
//! on other architectures matches nothing here, as with libseccomp.
//!
//! Two of runc's own rules on top of libseccomp's:
//! - conditions of one rule that test the same argument twice are
//!   alternatives (each becomes a rule of its own), not all required;
//! - unless the default action lets calls through (allow, log, trace) or
//!   already returns ENOSYS, a syscall number above the highest one the
//!   profile names gets ENOSYS for each listed architecture, so that a
//!   program can tell a syscall newer than the profile from a forbidden
//!   one and fall back (glibc does, for clone3 and others).

mod bpf;
pub mod docker;
pub mod listener;
pub mod tables;

use std::{
    collections::BTreeSet,
    os::fd::{FromRawFd, OwnedFd},
    path::PathBuf,
};

use oci_spec::runtime::{Arch, LinuxSeccomp, LinuxSeccompAction, LinuxSeccompOperator};
use serde::{Deserialize, Serialize};

pub use self::bpf::Instruction;
use self::bpf::{Assembler, JMP_JEQ_K, JMP_JGE_K, JMP_JGT_K, Label, Target};
use crate::error::{Error, Result};

const AUDIT_ARCH_X86_64: u32 = 0xc000_003e;
const AUDIT_ARCH_I386: u32 = 0x4000_0003;
const X32_SYSCALL_BIT: u32 = 0x4000_0000;
const SECCOMP_RET_KILL_PROCESS: u32 = 0x8000_0000;
const SECCOMP_RET_ERRNO: u32 = 0x0005_0000;

// Offsets in `struct seccomp_data`.
const OFFSET_NR: u32 = 0;
const OFFSET_ARCH: u32 = 4;
const OFFSET_ARGS: u32 = 16;

/// The compiled filter and the `seccomp(2)` flags to install it with.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Filter {
    pub instructions: Vec<Instruction>,
    pub flags: libc::c_ulong,
    /// Where the filter's listener goes, when a rule notifies an agent.
    #[serde(default)]
    pub agent: Option<Agent>,
}

/// The seccomp agent of `linux.seccomp.listenerPath`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Agent {
    /// A unix socket's path, or `@NAME` for an abstract one (as Go's
    /// dialer, so runc, reads it).
    pub path: PathBuf,
    /// `listenerMetadata`, passed on as is.
    pub metadata: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Section {
    X86_64,
    I386,
    X32,
}

impl Section {
    fn table(self) -> &'static tables::Table {
        match self {
            Section::X86_64 => tables::x86_64(),
            Section::I386 => tables::i386(),
            Section::X32 => tables::x32(),
        }
    }

    fn number(self, name: &str) -> Option<u32> {
        let number = self.table().iter().find(|(known, _)| *known == name)?.1;
        Some(if self == Section::X32 { number | X32_SYSCALL_BIT } else { number })
    }

    /// i386 and x32 are 32-bit ABIs: only the low halves are compared, as
    /// libseccomp compares them (the kernel reads the arguments of those
    /// calls as 32-bit values, so a high half must not slip a call past a
    /// rule).
    fn wide_arguments(self) -> bool {
        self == Section::X86_64
    }
}

/// Compiles the spec's filter; errors name the field and the value.
pub fn compile(spec: &LinuxSeccomp) -> Result<Filter> {
    if !cfg!(target_arch = "x86_64") {
        return Err(Error::unsupported(
            "linux.seccomp",
            "cradle has syscall tables for x86_64 only",
        ));
    }
    // As runc: the agent could never get the listener, since handing it
    // over takes a write (and anything may, for a default).
    if spec.default_action() == LinuxSeccompAction::ScmpActNotify {
        return Err(Error::invalid(
            "linux.seccomp.defaultAction",
            "SCMP_ACT_NOTIFY cannot be used as default action",
        ));
    }
    let default = action_value(spec.default_action(), spec.default_errno_ret())
        .map_err(|reason| Error::invalid("linux.seccomp.defaultAction", reason))?;
    let agent = agent(spec)?;
    let mut sections = vec![Section::X86_64];
    for arch in spec.architectures().as_deref().unwrap_or_default() {
        let section = match arch {
            Arch::ScmpArchNative | Arch::ScmpArchX86_64 => Section::X86_64,
            Arch::ScmpArchX86 => Section::I386,
            Arch::ScmpArchX32 => Section::X32,
            // Another family: its syscalls can never reach this kernel.
            _ => continue,
        };
        if !sections.contains(&section) {
            sections.push(section);
        }
    }
    let rules = rules(spec, default)?;
    let newer_than_profile = enosys_thresholds(spec);
    let mut asm = Assembler::default();
    let kill = asm.label();
    let x86_64 = asm.label();
    let i386 = asm.label();
    let x32 = asm.label();
    asm.load(OFFSET_ARCH);
    for (audit_arch, section, label) in
        [(AUDIT_ARCH_X86_64, Section::X86_64, x86_64), (AUDIT_ARCH_I386, Section::I386, i386)]
    {
        if sections.contains(&section) {
            let other = asm.label();
            asm.jump(JMP_JEQ_K, audit_arch, Target::Next, Target::To(other));
            asm.always(label);
            asm.place(other);
        }
    }
    asm.always(kill);
    for section in &sections {
        match section {
            Section::X86_64 => {
                asm.place(x86_64);
                // x32 shares x86_64's audit arch; its numbers carry a bit.
                asm.load(OFFSET_NR);
                let x32_target = if sections.contains(&Section::X32) { x32 } else { kill };
                let native = asm.label();
                asm.jump(JMP_JGE_K, X32_SYSCALL_BIT, Target::Next, Target::To(native));
                asm.always(x32_target);
                asm.place(native);
            }
            Section::I386 => asm.place(i386),
            Section::X32 => asm.place(x32),
        }
        emit_section(&mut asm, *section, &rules)?;
        if let Some((_, highest)) = newer_than_profile.iter().find(|(s, _)| s == section) {
            let known = asm.label();
            asm.load(OFFSET_NR);
            asm.jump(JMP_JGT_K, *highest, Target::Next, Target::To(known));
            asm.ret(SECCOMP_RET_ERRNO | libc::ENOSYS as u32);
            asm.place(known);
        }
        asm.ret(default);
    }
    asm.place(kill);
    asm.ret(SECCOMP_RET_KILL_PROCESS);
    let instructions = asm.assemble().map_err(|reason| Error::invalid("linux.seccomp", reason))?;
    let mut flags = if agent.is_some() { libc::SECCOMP_FILTER_FLAG_NEW_LISTENER } else { 0 };
    for flag in spec.flags().as_deref().unwrap_or_default() {
        use oci_spec::runtime::LinuxSeccompFilterFlag as F;
        flags |= match flag {
            F::SeccompFilterFlagTsync => libc::SECCOMP_FILTER_FLAG_TSYNC,
            F::SeccompFilterFlagLog => libc::SECCOMP_FILTER_FLAG_LOG,
            F::SeccompFilterFlagSpecAllow => libc::SECCOMP_FILTER_FLAG_SPEC_ALLOW,
            F::SeccompFilterFlagWaitKillableRecv if agent.is_some() => {
                libc::SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV
            }
            F::SeccompFilterFlagWaitKillableRecv => {
                return Err(Error::invalid(
                    "linux.seccomp.flags",
                    "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV needs a rule with SCMP_ACT_NOTIFY",
                ));
            }
        };
    }
    Ok(Filter { instructions, flags, agent })
}

/// The agent, when a rule notifies one; as runc, a `listenerPath`
/// without such a rule is not used.
fn agent(spec: &LinuxSeccomp) -> Result<Option<Agent>> {
    let rules = spec.syscalls().as_deref().unwrap_or_default();
    let mut notifies = false;
    for (index, rule) in rules.iter().enumerate() {
        if rule.action() != LinuxSeccompAction::ScmpActNotify {
            continue;
        }
        notifies = true;
        // runc's rule: the listener is handed over with a write.
        if rule.names().iter().any(|name| name == "write") {
            return Err(Error::invalid(
                format!("linux.seccomp.syscalls[{index}]"),
                "SCMP_ACT_NOTIFY cannot be used for the write syscall",
            ));
        }
    }
    if !notifies {
        return Ok(None);
    }
    match spec.listener_path() {
        Some(path) if !path.as_os_str().is_empty() => Ok(Some(Agent {
            path: path.clone(),
            metadata: spec.listener_metadata().clone().unwrap_or_default(),
        })),
        _ => Err(Error::invalid(
            "linux.seccomp.listenerPath",
            "is not set, and a rule uses SCMP_ACT_NOTIFY",
        )),
    }
}

/// runc's ENOSYS stub: for each architecture the spec lists, the highest
/// syscall number its rules name there; calls above it get ENOSYS.
fn enosys_thresholds(spec: &LinuxSeccomp) -> Vec<(Section, u32)> {
    use LinuxSeccompAction as A;
    let lets_through =
        matches!(spec.default_action(), A::ScmpActAllow | A::ScmpActLog | A::ScmpActTrace);
    if lets_through || spec.default_errno_ret() == Some(libc::ENOSYS as u32) {
        return Vec::new();
    }
    let mut thresholds: Vec<(Section, u32)> = Vec::new();
    for arch in spec.architectures().as_deref().unwrap_or_default() {
        let section = match arch {
            Arch::ScmpArchNative | Arch::ScmpArchX86_64 => Section::X86_64,
            Arch::ScmpArchX86 => Section::I386,
            Arch::ScmpArchX32 => Section::X32,
            _ => continue,
        };
        if thresholds.iter().any(|(known, _)| *known == section) {
            continue;
        }
        let names = spec.syscalls().iter().flatten().flat_map(|rule| rule.names());
        if let Some(highest) = names.filter_map(|name| section.number(name)).max() {
            thresholds.push((section, highest));
        }
    }
    thresholds
}

/// One spec rule, for one syscall name.
struct Rule {
    name: String,
    action: u32,
    conditions: Vec<Condition>,
}

#[derive(Clone, Copy)]
struct Condition {
    index: u32,
    op: LinuxSeccompOperator,
    value: u64,
    value_two: u64,
}

fn rules(spec: &LinuxSeccomp, default: u32) -> Result<Vec<Rule>> {
    let mut out = Vec::new();
    for (index, syscall) in spec.syscalls().as_deref().unwrap_or_default().iter().enumerate() {
        let field = format!("linux.seccomp.syscalls[{index}]");
        let action = action_value(syscall.action(), syscall.errno_ret())
            .map_err(|reason| Error::invalid(&field, reason))?;
        let mut conditions: Vec<Condition> = Vec::new();
        for arg in syscall.args().as_deref().unwrap_or_default() {
            if arg.index() > 5 {
                return Err(Error::invalid(
                    &field,
                    format!("argument index {} is out of range 0..=5", arg.index()),
                ));
            }
            conditions.push(Condition {
                index: u32::try_from(arg.index()).expect("checked against 0..=5 above"),
                op: arg.op(),
                value: arg.value(),
                value_two: arg.value_two().unwrap_or(0),
            });
        }
        for name in syscall.names() {
            let known = [Section::X86_64, Section::I386, Section::X32]
                .iter()
                .any(|section| section.number(name).is_some())
                || tables::elsewhere(name);
            if !known {
                // runc, through libseccomp, skips a name it cannot resolve:
                // profiles list syscalls of newer kernels and other
                // architectures (podman's names `pciconfig_iobase`).
                tracing::debug!("{field}: unknown syscall {name:?} skipped");
                continue;
            }
            // runc leaves out a rule that does what the default does.
            if action == default && conditions.is_empty() {
                continue;
            }
            // Two tests of one argument cannot both hold (`arg0 == 1337`,
            // `arg0 == 2020`): runc makes each a rule of its own.
            let repeats_an_argument = conditions
                .iter()
                .enumerate()
                .any(|(at, c)| conditions[..at].iter().any(|earlier| earlier.index == c.index));
            if repeats_an_argument {
                for condition in &conditions {
                    out.push(Rule { name: name.clone(), action, conditions: vec![*condition] });
                }
            } else {
                out.push(Rule { name: name.clone(), action, conditions: conditions.clone() });
            }
        }
    }
    Ok(out)
}

fn action_value(action: LinuxSeccompAction, errno: Option<u32>) -> Result<u32, String> {
    use LinuxSeccompAction as A;
    Ok(match action {
        A::ScmpActErrno | A::ScmpActTrace => {
            let data = errno.unwrap_or(libc::EPERM as u32);
            if data > 0xffff {
                return Err(format!("errno value {data} does not fit in 16 bits"));
            }
            action.as_u32(Some(data))
        }
        other => other.as_u32(None),
    })
}

/// The rules of one architecture; A holds anything on entry.
fn emit_section(asm: &mut Assembler, section: Section, rules: &[Rule]) -> Result<()> {
    // Consecutive unconditional rules with one action share a return, and
    // runs of consecutive syscall numbers are one range check: Docker's
    // profile has long runs, and a smaller filter is faster to install
    // and to run on every syscall. Chunks stay small enough for 8-bit jumps.
    const CHUNK_INSTRUCTIONS: usize = 200;
    let mut group: (u32, BTreeSet<u32>) = (0, BTreeSet::new());
    let flush = |asm: &mut Assembler, group: &mut (u32, BTreeSet<u32>)| {
        let numbers = std::mem::take(&mut group.1);
        let runs = consecutive_runs(numbers.into_iter());
        let mut chunks: Vec<Vec<(u32, u32)>> = vec![Vec::new()];
        let mut size = 0;
        for run in runs {
            let cost = if run.1 - run.0 >= 2 { 2 } else { (run.1 - run.0 + 1) as usize };
            if size + cost > CHUNK_INSTRUCTIONS {
                chunks.push(Vec::new());
                size = 0;
            }
            size += cost;
            chunks.last_mut().expect("one chunk at least").push(run);
        }
        for chunk in chunks.iter().filter(|chunk| !chunk.is_empty()) {
            let matched = asm.label();
            let after = asm.label();
            asm.load(OFFSET_NR);
            for &(low, high) in chunk {
                if high - low >= 2 {
                    let outside = asm.label();
                    asm.jump(JMP_JGE_K, low, Target::Next, Target::To(outside));
                    asm.jump(JMP_JGT_K, high, Target::To(outside), Target::To(matched));
                    asm.place(outside);
                } else {
                    for number in low..=high {
                        asm.jump(JMP_JEQ_K, number, Target::To(matched), Target::Next);
                    }
                }
            }
            asm.always(after);
            asm.place(matched);
            asm.ret(group.0);
            asm.place(after);
        }
    };
    for rule in rules {
        let Some(number) = section.number(&rule.name) else { continue };
        if rule.conditions.is_empty() {
            if group.0 != rule.action {
                flush(asm, &mut group);
                group.0 = rule.action;
            }
            group.1.insert(number);
            continue;
        }
        flush(asm, &mut group);
        let next_rule = asm.label();
        asm.load(OFFSET_NR);
        asm.jump(JMP_JEQ_K, number, Target::Next, Target::To(next_rule));
        for condition in &rule.conditions {
            emit_condition(asm, section.wide_arguments(), *condition, next_rule);
        }
        asm.ret(rule.action);
        asm.place(next_rule);
    }
    flush(asm, &mut group);
    Ok(())
}

/// Sorted numbers as inclusive runs of consecutive ones.
fn consecutive_runs(numbers: impl Iterator<Item = u32>) -> Vec<(u32, u32)> {
    let mut runs: Vec<(u32, u32)> = Vec::new();
    for number in numbers {
        match runs.last_mut() {
            Some((_, high)) if *high + 1 == number => *high = number,
            _ => runs.push((number, number)),
        }
    }
    runs
}

/// A 64-bit argument as the (high, low) 32-bit words that classic BPF compares.
#[allow(clippy::cast_possible_truncation)] // taking each half is the point
fn split_u64(value: u64) -> (u32, u32) {
    ((value >> 32) as u32, value as u32)
}

/// Falls through when the condition holds, jumps to `fail` otherwise.
fn emit_condition(asm: &mut Assembler, wide: bool, condition: Condition, fail: Label) {
    use LinuxSeccompOperator as Op;
    let low = OFFSET_ARGS + 8 * condition.index;
    let high = low + 4;
    let pass = asm.label();
    let (value, mask) = match condition.op {
        // For MASKED_EQ the spec's `value` is the mask, `valueTwo` the datum.
        Op::ScmpCmpMaskedEq => (condition.value_two, condition.value),
        _ => (condition.value, u64::MAX),
    };
    let (value_high, value_low) = split_u64(value);
    let (mask_high, mask_low) = split_u64(mask);
    let (pass_t, fail_t) = (Target::To(pass), Target::To(fail));
    // For an ordering, the high halves decide unless they are equal.
    // `greater` is where A > value leads, `less` where A < value leads.
    let ordered = |asm: &mut Assembler, greater: Target, less: Target, low_code: u16| {
        if wide {
            asm.load(high);
            asm.jump(JMP_JGT_K, value_high, greater, Target::Next);
            asm.jump(JMP_JEQ_K, value_high, Target::Next, less);
        }
        asm.load(low);
        asm.jump(low_code, value_low, greater, less);
    };
    match condition.op {
        Op::ScmpCmpEq | Op::ScmpCmpMaskedEq => {
            if wide {
                asm.load(high);
                if mask_high != u32::MAX {
                    asm.and(mask_high);
                }
                asm.jump(JMP_JEQ_K, value_high, Target::Next, fail_t);
            }
            asm.load(low);
            if mask_low != u32::MAX {
                asm.and(mask_low);
            }
            asm.jump(JMP_JEQ_K, value_low, pass_t, fail_t);
        }
        Op::ScmpCmpNe => {
            if wide {
                asm.load(high);
                asm.jump(JMP_JEQ_K, value_high, Target::Next, pass_t);
            }
            asm.load(low);
            asm.jump(JMP_JEQ_K, value_low, fail_t, pass_t);
        }
        // A > v: high greater, or equal highs and low greater.
        Op::ScmpCmpGt => ordered(asm, pass_t, fail_t, JMP_JGT_K),
        Op::ScmpCmpGe => ordered(asm, pass_t, fail_t, JMP_JGE_K),
        // A < v is not (A >= v); A <= v is not (A > v).
        Op::ScmpCmpLt => ordered(asm, fail_t, pass_t, JMP_JGE_K),
        Op::ScmpCmpLe => ordered(asm, fail_t, pass_t, JMP_JGT_K),
    }
    asm.place(pass);
}

impl Filter {
    /// `seccomp(SECCOMP_SET_MODE_FILTER)`: needs no_new_privs or
    /// CAP_SYS_ADMIN in the effective set. Returns the listener when the
    /// filter notifies an agent.
    pub fn install(&self) -> Result<Option<OwnedFd>> {
        let program: Vec<libc::sock_filter> = self
            .instructions
            .iter()
            .map(|insn| libc::sock_filter { code: insn.code, jt: insn.jt, jf: insn.jf, k: insn.k })
            .collect();
        let fprog = libc::sock_fprog {
            len: u16::try_from(program.len()).map_err(|_| {
                Error::invalid(
                    "linux.seccomp",
                    format!(
                        "the filter has {} BPF instructions, more than a sock_fprog holds",
                        program.len()
                    ),
                )
            })?,
            filter: program.as_ptr() as *mut libc::sock_filter,
        };
        // SAFETY: the kernel copies `len` instructions from `filter`, which
        // points into `program`, alive until after the call.
        let rc = unsafe {
            libc::syscall(
                libc::SYS_seccomp,
                libc::SECCOMP_SET_MODE_FILTER,
                self.flags,
                &fprog as *const libc::sock_fprog,
            )
        };
        if rc < 0 {
            return Err(Error::Io {
                context: "installing the seccomp filter".to_owned(),
                cause: std::io::Error::last_os_error(),
            });
        }
        if self.flags & libc::SECCOMP_FILTER_FLAG_NEW_LISTENER == 0 {
            return Ok(None);
        }
        // SAFETY: with NEW_LISTENER, seccomp(2) returns a new descriptor
        // that nothing else owns.
        Ok(Some(unsafe { OwnedFd::from_raw_fd(crate::util::syscall_int(rc)) }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALLOW: u32 = 0x7fff_0000;

    fn filter(json: serde_json::Value) -> Result<Filter> {
        compile(&serde_json::from_value(json).unwrap())
    }

    fn nr(name: &str) -> u32 {
        Section::X86_64.number(name).unwrap()
    }

    /// sock_fprog's length is 16 bits: 65,537 instructions cut to 1 would
    /// install a one-instruction filter in place of the whole.
    #[test]
    fn a_filter_longer_than_sock_fprog_holds_is_refused_not_cut() {
        let allow = bpf::Instruction { code: bpf::RET_K, jt: 0, jf: 0, k: ALLOW };
        let filter = Filter { instructions: vec![allow; 65_537], flags: 0, agent: None };
        let err = filter.install().unwrap_err().to_string();
        assert!(err.contains("65537 BPF instructions"), "{err}");
    }

    fn run(filter: &Filter, name: &str, args: [u64; 6]) -> u32 {
        bpf::run(&filter.instructions, nr(name), AUDIT_ARCH_X86_64, args)
    }

    #[test]
    fn default_errno_and_allow_list() {
        let f = filter(serde_json::json!({
            "defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 38,
            "syscalls": [{"names": ["read", "write"], "action": "SCMP_ACT_ALLOW"},
                         {"names": ["mkdir"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13},
                         {"names": ["getpid"], "action": "SCMP_ACT_KILL_PROCESS"}]
        }))
        .unwrap();
        assert_eq!(run(&f, "read", [0; 6]), ALLOW);
        assert_eq!(run(&f, "write", [0; 6]), ALLOW);
        assert_eq!(run(&f, "mkdir", [0; 6]), 0x0005_0000 | 13);
        assert_eq!(run(&f, "getpid", [0; 6]), SECCOMP_RET_KILL_PROCESS);
        assert_eq!(run(&f, "open", [0; 6]), 0x0005_0000 | 38);
        // Not listed: i386 is a bad architecture, x32 numbers too.
        assert_eq!(bpf::run(&f.instructions, 3, AUDIT_ARCH_I386, [0; 6]), SECCOMP_RET_KILL_PROCESS);
        let x32_read = Section::X32.number("read").unwrap();
        assert_eq!(
            bpf::run(&f.instructions, x32_read, AUDIT_ARCH_X86_64, [0; 6]),
            SECCOMP_RET_KILL_PROCESS
        );
    }

    #[test]
    fn every_comparison_on_64_bit_values() {
        let big = 0x1_0000_0005u64;
        for (op, cases) in [
            ("SCMP_CMP_EQ", [(big, true), (5, false), (big + 1, false)]),
            ("SCMP_CMP_NE", [(big, false), (5, true), (big + (1 << 32), true)]),
            ("SCMP_CMP_GT", [(big, false), (big + 1, true), (0x2_0000_0000, true)]),
            ("SCMP_CMP_GE", [(big, true), (big - 1, false), (6, false)]),
            ("SCMP_CMP_LT", [(big, false), (big - 1, true), (0x2_0000_0000, false)]),
            ("SCMP_CMP_LE", [(big, true), (big + 1, false), (7, true)]),
        ] {
            let f = filter(serde_json::json!({
                "defaultAction": "SCMP_ACT_ALLOW",
                "syscalls": [{"names": ["personality"], "action": "SCMP_ACT_ERRNO",
                              "args": [{"index": 2, "value": big, "op": op}]}]
            }))
            .unwrap();
            for (arg, matches) in cases {
                let got = run(&f, "personality", [0, 0, arg, 0, 0, 0]);
                assert_eq!(got != ALLOW, matches, "{op} with {arg:#x}");
            }
        }
    }

    #[test]
    fn masked_equality_and_several_arguments() {
        // Docker's clone rule: no namespace flags.
        let f = filter(serde_json::json!({
            "defaultAction": "SCMP_ACT_ERRNO",
            "syscalls": [
                {"names": ["clone"], "action": "SCMP_ACT_ALLOW",
                 "args": [{"index": 0, "value": 2114060288u64, "valueTwo": 0, "op": "SCMP_CMP_MASKED_EQ"}]},
                {"names": ["socket"], "action": "SCMP_ACT_ALLOW",
                 "args": [{"index": 0, "value": 2, "op": "SCMP_CMP_EQ"},
                          {"index": 1, "value": 1, "op": "SCMP_CMP_EQ"}]}
            ]
        }))
        .unwrap();
        assert_eq!(run(&f, "clone", [0x0001_1200, 0, 0, 0, 0, 0]), ALLOW);
        assert_ne!(run(&f, "clone", [0x1000_0000, 0, 0, 0, 0, 0]), ALLOW, "CLONE_NEWUSER");
        assert_eq!(run(&f, "socket", [2, 1, 0, 0, 0, 0]), ALLOW);
        assert_ne!(run(&f, "socket", [2, 2, 0, 0, 0, 0]), ALLOW);
    }

    #[test]
    fn listed_architectures_get_their_own_numbers() {
        let f = filter(serde_json::json!({
            "defaultAction": "SCMP_ACT_ERRNO",
            "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
            "syscalls": [{"names": ["getpid"], "action": "SCMP_ACT_ALLOW"}]
        }))
        .unwrap();
        let i386 = Section::I386.number("getpid").unwrap();
        let x32 = Section::X32.number("getpid").unwrap();
        assert_eq!(bpf::run(&f.instructions, i386, AUDIT_ARCH_I386, [0; 6]), ALLOW);
        assert_eq!(bpf::run(&f.instructions, x32, AUDIT_ARCH_X86_64, [0; 6]), ALLOW);
        assert_ne!(bpf::run(&f.instructions, nr("read"), AUDIT_ARCH_I386, [0; 6]), ALLOW);
    }

    #[test]
    fn unknown_names_are_skipped_and_a_notify_default_refused() {
        // As runc through libseccomp: a name it cannot resolve is left out,
        // and the rest of the rule still applies.
        let f = filter(serde_json::json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "syscalls": [{"names": ["no_such_call", "read"], "action": "SCMP_ACT_ERRNO"}]
        }))
        .unwrap();
        assert_ne!(bpf::run(&f.instructions, nr("read"), AUDIT_ARCH_X86_64, [0; 6]), ALLOW);
        assert_eq!(bpf::run(&f.instructions, nr("write"), AUDIT_ARCH_X86_64, [0; 6]), ALLOW);
        let err = filter(serde_json::json!({"defaultAction": "SCMP_ACT_NOTIFY"})).unwrap_err();
        assert!(err.to_string().contains("SCMP_ACT_NOTIFY cannot be used as default"), "{err}");
        // A syscall of another architecture family is no error.
        filter(serde_json::json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "syscalls": [{"names": ["cacheflush"], "action": "SCMP_ACT_ERRNO"}]
        }))
        .unwrap();
    }

    #[test]
    fn tests_of_one_argument_are_alternatives() {
        let f = filter(serde_json::json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "syscalls": [{"names": ["process_vm_writev"], "action": "SCMP_ACT_ERRNO", "errnoRet": 55,
                          "args": [{"index": 0, "value": 1337, "op": "SCMP_CMP_EQ"},
                                   {"index": 0, "value": 2020, "op": "SCMP_CMP_EQ"}]}]
        }))
        .unwrap();
        for (pid, expected) in [(1337, 0x0005_0000 | 55), (2020, 0x0005_0000 | 55), (7, ALLOW)] {
            assert_eq!(run(&f, "process_vm_writev", [pid, 0, 0, 0, 0, 0]), expected, "pid {pid}");
        }
    }

    #[test]
    fn numbers_above_the_profile_get_enosys_on_listed_architectures() {
        let profile = |default: &str, architectures: &[&str]| {
            filter(serde_json::json!({
                "defaultAction": default,
                "architectures": architectures,
                "syscalls": [{"names": ["read", "getpid"], "action": "SCMP_ACT_ALLOW"}]
            }))
            .unwrap()
        };
        let enosys = 0x0005_0000 | libc::ENOSYS as u32;
        let f = profile("SCMP_ACT_ERRNO", &["SCMP_ARCH_X86_64", "SCMP_ARCH_X86"]);
        assert_eq!(bpf::run(&f.instructions, 1000, AUDIT_ARCH_X86_64, [0; 6]), enosys);
        assert_eq!(run(&f, "getpid", [0; 6]), ALLOW);
        // Below the highest named: the default still decides.
        assert_eq!(run(&f, "write", [0; 6]), 0x0005_0000 | 1);
        assert_eq!(bpf::run(&f.instructions, 1000, AUDIT_ARCH_I386, [0; 6]), enosys);
        // No stub where the default lets calls through, nor for an
        // architecture the spec does not list.
        let f = profile("SCMP_ACT_LOG", &["SCMP_ARCH_X86_64"]);
        assert_eq!(bpf::run(&f.instructions, 1000, AUDIT_ARCH_X86_64, [0; 6]), 0x7ffc_0000);
        let f = profile("SCMP_ACT_KILL_PROCESS", &["SCMP_ARCH_X86"]);
        let kill = bpf::run(&f.instructions, 1000, AUDIT_ARCH_X86_64, [0; 6]);
        assert_eq!(kill, SECCOMP_RET_KILL_PROCESS);
    }

    #[test]
    fn runs_of_numbers_match_exactly_their_members() {
        assert_eq!(consecutive_runs([1, 2, 3, 5, 7, 8].into_iter()), [(1, 3), (5, 5), (7, 8)]);
        // Every x86_64 number, in runs long and short, against the plain set.
        let names: Vec<&str> =
            ["read", "write", "open", "close", "stat", "poll", "mmap", "getpid", "mkdir"].into();
        let f = filter(serde_json::json!({
            "defaultAction": "SCMP_ACT_ERRNO",
            "syscalls": [{"names": names, "action": "SCMP_ACT_ALLOW"}]
        }))
        .unwrap();
        let allowed: BTreeSet<u32> = names.iter().map(|name| nr(name)).collect();
        for number in 0..600 {
            let expected = if allowed.contains(&number) { ALLOW } else { 0x0005_0000 | 1 };
            let got = bpf::run(&f.instructions, number, AUDIT_ARCH_X86_64, [0; 6]);
            assert_eq!(got, expected, "syscall {number}");
        }
    }

    #[test]
    fn docker_profile_fits_and_behaves() {
        let spec = docker::default_profile(&docker::DEFAULT_CAPABILITIES);
        let f = compile(&spec).unwrap();
        assert!(f.instructions.len() < bpf::MAX_INSTRUCTIONS);
        // Three architecture sections of ~350 syscalls: 1,114 instructions
        // with one comparison per syscall, far fewer with ranges.
        assert!(f.instructions.len() < 500, "{} instructions", f.instructions.len());
        assert_eq!(run(&f, "read", [0; 6]), ALLOW);
        assert_eq!(run(&f, "chroot", [0; 6]), ALLOW, "CAP_SYS_CHROOT is granted");
        assert_eq!(run(&f, "mount", [0; 6]), 0x0005_0000 | libc::EPERM as u32);
        assert_eq!(run(&f, "clone3", [0; 6]), 0x0005_0000 | libc::ENOSYS as u32);
        assert_eq!(run(&f, "socket", [40, 0, 0, 0, 0, 0]), 0x0005_0000 | libc::EPERM as u32);
        assert_eq!(run(&f, "socket", [2, 0, 0, 0, 0, 0]), ALLOW);
    }

    #[test]
    fn notify_rules_need_a_listener_and_spare_write() {
        let notify = |names: &[&str], listener: serde_json::Value| {
            filter(serde_json::json!({
                "defaultAction": "SCMP_ACT_ALLOW",
                "listenerPath": listener, "listenerMetadata": "bar",
                "syscalls": [{"names": names, "action": "SCMP_ACT_NOTIFY"}]
            }))
        };
        let f = notify(&["mkdir"], "/run/agent.sock".into()).unwrap();
        assert_eq!(run(&f, "mkdir", [0; 6]), 0x7fc0_0000);
        assert_eq!(run(&f, "read", [0; 6]), ALLOW);
        assert_eq!(f.flags, libc::SECCOMP_FILTER_FLAG_NEW_LISTENER);
        let agent = Agent { path: "/run/agent.sock".into(), metadata: "bar".into() };
        assert_eq!(f.agent, Some(agent));
        for listener in [serde_json::Value::Null, "".into()] {
            let err = notify(&["mkdir"], listener).unwrap_err().to_string();
            assert!(err.contains("linux.seccomp.listenerPath: is not set"), "{err}");
        }
        let err = notify(&["mkdir", "write"], "/a".into()).unwrap_err().to_string();
        assert!(err.contains("syscalls[0]: SCMP_ACT_NOTIFY cannot be used for the write"), "{err}");
        // As runc: a listenerPath without a notify rule is not used.
        let f = filter(serde_json::json!({
            "defaultAction": "SCMP_ACT_ALLOW", "listenerPath": "/nowhere",
            "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_ERRNO"}]
        }))
        .unwrap();
        assert_eq!((f.flags, f.agent), (0, None));
    }
}
