//! `linux.resources.devices` on cgroup v2, where there is no device
//! controller: the ordered rules are reduced to what cgroup v1's
//! controller would hold after they were written, in order, to
//! `devices.allow` / `devices.deny` (a default and a list of exceptions
//! to it), and that is compiled into a `BPF_PROG_TYPE_CGROUP_DEVICE`
//! program, which the kernel runs on every open and mknod of a device
//! node by a process of the cgroup.
//!
//! v1's rules, which the reduction follows (and the program therefore
//! enforces the same on a pure v2 host as the kernel does on v1):
//! - a type `a` rule sets the default (deny-all or allow-all) and clears
//!   the exceptions;
//! - a rule of the other verdict than the default adds an exception (or
//!   adds access to one of the same type and numbers); a rule of the
//!   default's verdict takes access back from the exception of exactly
//!   the same type and numbers;
//! - under deny-all, an access is allowed if one exception grants all of
//!   it; under allow-all, it is denied if an exception names any of it.
//!
//! That is "the last matching rule wins" but for v1's own turns, which
//! the program takes too: rules of the same device merge, and under
//! deny-all one exception must grant all of what an open asks (read and
//! write together). One turn is refused instead: taking access back from
//! a *different* rule (a deny of `c 1:3` after an allow of `c *:*`, or a
//! deny of `c *:*` after an allow of `c 1:3`) does nothing on v1, and
//! such a rule is refused here (runc refuses the first kind) rather than
//! silently leaving the device open.
//!
//! Before the first type `a` rule, the default is allow-all: a new v1
//! cgroup starts with its parent's rules, and on v2 the parent's device
//! programs still run (the program is attached with `BPF_F_ALLOW_MULTI`).

use super::{
    ebpf::{Encoder, Insn, Reg},
    resources::DeviceRule,
};

/// `BPF_DEVCG_DEV_*` (uapi/linux/bpf.h): the device type in the low half
/// of the context's `access_type`.
const DEV_BLOCK: i32 = 1;
const DEV_CHAR: i32 = 2;
/// `BPF_DEVCG_ACC_*`: the access in its high half.
const ACC_MKNOD: u8 = 1;
const ACC_READ: u8 = 2;
const ACC_WRITE: u8 = 4;
const ACC_ALL: u8 = ACC_MKNOD | ACC_READ | ACC_WRITE;

/// Offsets in `struct bpf_cgroup_dev_ctx { u32 access_type, major, minor; }`.
const CTX_ACCESS_TYPE: i16 = 0;
const CTX_MAJOR: i16 = 4;
const CTX_MINOR: i16 = 8;

/// One of v1's exceptions: a device type and numbers (`None`: any), and
/// the access it grants (under deny-all) or denies (under allow-all).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Exception {
    block: bool,
    major: Option<i32>,
    minor: Option<i32>,
    access: u8,
}

impl Exception {
    fn same_device(&self, other: &Exception) -> bool {
        self.block == other.block && self.major == other.major && self.minor == other.minor
    }

    /// Whether some device is named by both.
    fn overlaps(&self, other: &Exception) -> bool {
        let meet = |a: Option<i32>, b: Option<i32>| a.is_none() || b.is_none() || a == b;
        self.block == other.block && meet(self.major, other.major) && meet(self.minor, other.minor)
    }

    fn line(&self) -> String {
        let number = |n: Option<i32>| n.map_or_else(|| "*".to_owned(), |n| n.to_string());
        let access: String = [(ACC_READ, 'r'), (ACC_WRITE, 'w'), (ACC_MKNOD, 'm')]
            .iter()
            .filter(|(bit, _)| self.access & bit != 0)
            .map(|(_, letter)| letter)
            .collect();
        let kind = if self.block { 'b' } else { 'c' };
        format!("{kind} {}:{} {access}", number(self.major), number(self.minor))
    }
}

/// A rule the policy cannot take: its index in the list and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RuleError {
    pub index: usize,
    pub reason: String,
}

/// What v1's device controller holds after the rules.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DevicePolicy {
    default_allow: bool,
    exceptions: Vec<Exception>,
}

impl DevicePolicy {
    pub fn from_rules(rules: &[DeviceRule]) -> Result<Self, RuleError> {
        let mut policy = DevicePolicy { default_allow: true, exceptions: Vec::new() };
        for (index, rule) in rules.iter().enumerate() {
            policy.apply(rule).map_err(|reason| RuleError { index, reason })?;
        }
        Ok(policy)
    }

    /// Whether every access is allowed, so that no program is needed.
    pub fn allows_everything(&self) -> bool {
        self.default_allow && self.exceptions.is_empty()
    }

    fn apply(&mut self, rule: &DeviceRule) -> Result<(), String> {
        let access = rule.access.chars().fold(0, |bits, letter| {
            bits | match letter {
                'r' => ACC_READ,
                'w' => ACC_WRITE,
                'm' => ACC_MKNOD,
                _ => 0,
            }
        });
        let number = |value: Option<i64>, what: &str| match value {
            None => Ok(None),
            Some(n) => i32::try_from(n).ok().filter(|n| *n >= 0).map(Some).ok_or_else(|| {
                format!(
                    "{}: {what} {n} is not a device number (leave it out for any)",
                    rule.describe()
                )
            }),
        };
        let (major, minor) = (number(rule.major, "major")?, number(rule.minor, "minor")?);
        if rule.kind == 'a' {
            // v1 reads nothing after the `a`: numbers or a partial access
            // would be silently widened to every device.
            if major.is_some() || minor.is_some() || access != ACC_ALL {
                return Err(format!(
                    "{}: type \"a\" applies to every device and access; cgroup v1 ignores \
                     numbers and access on it",
                    rule.describe()
                ));
            }
            self.default_allow = rule.allow;
            self.exceptions.clear();
            return Ok(());
        }
        let wanted = Exception { block: rule.kind == 'b', major, minor, access };
        if rule.allow != self.default_allow {
            match self.exceptions.iter_mut().find(|ex| ex.same_device(&wanted)) {
                Some(existing) => existing.access |= access,
                None => self.exceptions.push(wanted),
            }
            return Ok(());
        }
        if let Some(other) = self
            .exceptions
            .iter()
            .find(|ex| !ex.same_device(&wanted) && ex.overlaps(&wanted) && ex.access & access != 0)
        {
            let earlier = if self.default_allow { "deny" } else { "allow" };
            return Err(format!(
                "{} would not take back the earlier {earlier} {}: cgroup v1 only takes access \
                 back from a rule of the same type and numbers (start over with a type \"a\" \
                 rule, or narrow the earlier one)",
                rule.describe(),
                other.line()
            ));
        }
        for existing in self.exceptions.iter_mut().filter(|ex| ex.same_device(&wanted)) {
            existing.access &= !access;
        }
        self.exceptions.retain(|ex| ex.access != 0);
        Ok(())
    }

    /// The `BPF_PROG_TYPE_CGROUP_DEVICE` program: returns 1 to allow, 0 to
    /// deny. One block per exception, each jumping to the next unless the
    /// device and access match.
    pub fn program(&self) -> Vec<Insn> {
        use Reg::*;
        let mut encoder = Encoder::default();
        if !self.exceptions.is_empty() {
            // r2: device type, r3: access, r4: major, r5: minor.
            encoder.load_u32(R2, R1, CTX_ACCESS_TYPE);
            encoder.and32(R2, 0xffff);
            encoder.load_u32(R3, R1, CTX_ACCESS_TYPE);
            encoder.rsh32(R3, 16);
            encoder.load_u32(R4, R1, CTX_MAJOR);
            encoder.load_u32(R5, R1, CTX_MINOR);
        }
        for exception in &self.exceptions {
            let next = encoder.label();
            encoder.jump_if_ne(R2, if exception.block { DEV_BLOCK } else { DEV_CHAR }, next);
            if exception.access != ACC_ALL {
                encoder.mov32_reg(R1, R3);
                encoder.and32(R1, exception.access.into());
                if self.default_allow {
                    // A deny names some of the access asked for.
                    encoder.jump_if_eq(R1, 0, next);
                } else {
                    // An allow grants all of it.
                    encoder.jump_if_ne_reg(R1, R3, next);
                }
            }
            if let Some(major) = exception.major {
                encoder.jump_if_ne(R4, major, next);
            }
            if let Some(minor) = exception.minor {
                encoder.jump_if_ne(R5, minor, next);
            }
            encoder.mov64(R0, (!self.default_allow).into());
            encoder.exit();
            encoder.place(next);
        }
        encoder.mov64(R0, self.default_allow.into());
        encoder.exit();
        encoder.finish()
    }

    /// v1's own check (`devcgroup_legacy_check_permission`), for comparing
    /// the program's decisions with.
    #[cfg(test)]
    fn allows(&self, block: bool, major: i32, minor: i32, access: u8) -> bool {
        let asked = Exception { block, major: Some(major), minor: Some(minor), access };
        let matching = |ex: &&Exception| ex.overlaps(&asked);
        if self.default_allow {
            !self.exceptions.iter().filter(matching).any(|ex| ex.access & access != 0)
        } else {
            self.exceptions.iter().filter(matching).any(|ex| access & !ex.access == 0)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cgroups::ebpf::run;

    fn rule(
        allow: bool,
        kind: char,
        major: Option<i64>,
        minor: Option<i64>,
        access: &str,
    ) -> DeviceRule {
        DeviceRule { allow, kind, major, minor, access: access.to_owned() }
    }

    fn deny_all() -> DeviceRule {
        rule(false, 'a', None, None, "rwm")
    }

    fn policy(rules: &[DeviceRule]) -> DevicePolicy {
        DevicePolicy::from_rules(rules).unwrap()
    }

    /// The program as text, one instruction a line, for shape assertions.
    fn listing(policy: &DevicePolicy) -> Vec<String> {
        policy
            .program()
            .iter()
            .map(|insn| {
                let (dst, src) = (insn.regs & 0xf, insn.regs >> 4);
                let (off, imm) = (insn.off, insn.imm);
                match insn.code {
                    crate::cgroups::ebpf::LDX_W => format!("r{dst} = ctx[{off}]"),
                    crate::cgroups::ebpf::AND32_K => format!("w{dst} &= {imm:#x}"),
                    crate::cgroups::ebpf::RSH32_K => format!("w{dst} >>= {imm}"),
                    crate::cgroups::ebpf::MOV32_X => format!("w{dst} = w{src}"),
                    crate::cgroups::ebpf::MOV64_K => format!("r{dst} = {imm}"),
                    crate::cgroups::ebpf::JEQ_K => format!("if r{dst} == {imm} goto +{off}"),
                    crate::cgroups::ebpf::JNE_K => format!("if r{dst} != {imm} goto +{off}"),
                    crate::cgroups::ebpf::JNE_X => format!("if r{dst} != r{src} goto +{off}"),
                    crate::cgroups::ebpf::EXIT => "exit".to_owned(),
                    other => format!("?{other:#x}"),
                }
            })
            .collect()
    }

    const PROLOGUE: [&str; 6] =
        ["r2 = ctx[0]", "w2 &= 0xffff", "r3 = ctx[0]", "w3 >>= 16", "r4 = ctx[4]", "r5 = ctx[8]"];

    fn with_prologue(body: &[&str]) -> Vec<String> {
        PROLOGUE.iter().chain(body).map(|line| line.to_string()).collect()
    }

    /// The program decides as v1 would, over every access of a few devices
    /// around the rules' numbers.
    fn assert_program_agrees_with_v1(policy: &DevicePolicy) {
        let program = policy.program();
        for block in [false, true] {
            for major in [0, 1, 5, 8, 136] {
                for minor in [0, 1, 3, 5, 9] {
                    for access in 1..=ACC_ALL {
                        let kind = if block { DEV_BLOCK } else { DEV_CHAR }.cast_unsigned();
                        let context = [u32::from(access) << 16 | kind, major, minor];
                        let decided = run(&program, &context) == 1;
                        let v1 =
                            policy.allows(block, major.cast_signed(), minor.cast_signed(), access);
                        assert_eq!(
                            decided, v1,
                            "{policy:?} on block={block} {major}:{minor} access={access}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn an_empty_list_allows_everything_without_a_rule() {
        let empty = policy(&[]);
        assert!(empty.allows_everything());
        assert_eq!(listing(&empty), ["r0 = 1", "exit"]);
        assert_program_agrees_with_v1(&empty);
    }

    #[test]
    fn deny_all_then_an_allow_list() {
        let docker = policy(&[
            deny_all(),
            rule(true, 'c', Some(1), Some(3), "rwm"),
            rule(true, 'c', Some(1), Some(5), "rwm"),
        ]);
        assert!(!docker.allows_everything());
        let block = |minor: i32| {
            [
                "if r2 != 2 goto +4".to_owned(),
                "if r4 != 1 goto +3".to_owned(),
                format!("if r5 != {minor} goto +2"),
                "r0 = 1".to_owned(),
                "exit".to_owned(),
            ]
        };
        let mut expected = with_prologue(&[]);
        expected.extend(block(3));
        expected.extend(block(5));
        expected.extend(["r0 = 0".to_owned(), "exit".to_owned()]);
        assert_eq!(listing(&docker), expected);
        assert!(docker.allows(false, 1, 3, ACC_READ | ACC_WRITE));
        assert!(!docker.allows(false, 1, 1, ACC_READ));
        assert!(!docker.allows(true, 8, 1, ACC_MKNOD));
        assert_program_agrees_with_v1(&docker);
    }

    #[test]
    fn wildcard_numbers_skip_their_comparison() {
        let ptys = policy(&[deny_all(), rule(true, 'c', Some(136), None, "rwm")]);
        assert_eq!(
            listing(&ptys),
            with_prologue(&[
                "if r2 != 2 goto +3",
                "if r4 != 136 goto +2",
                "r0 = 1",
                "exit",
                "r0 = 0",
                "exit"
            ])
        );
        let any_block_minor_1 = policy(&[deny_all(), rule(true, 'b', None, Some(1), "rwm")]);
        assert_eq!(
            listing(&any_block_minor_1),
            with_prologue(&[
                "if r2 != 1 goto +3",
                "if r5 != 1 goto +2",
                "r0 = 1",
                "exit",
                "r0 = 0",
                "exit"
            ])
        );
        assert_program_agrees_with_v1(&ptys);
        assert_program_agrees_with_v1(&any_block_minor_1);
    }

    #[test]
    fn type_a_resets_and_takes_no_numbers() {
        let allow_all = policy(&[deny_all(), rule(true, 'c', Some(1), Some(3), "rwm")]);
        assert!(!allow_all.allows_everything());
        let reset = policy(&[
            deny_all(),
            rule(true, 'c', Some(1), Some(3), "rwm"),
            rule(true, 'a', None, None, "rwm"),
        ]);
        assert!(reset.allows_everything());
        let deny_everything = policy(&[deny_all()]);
        assert_eq!(listing(&deny_everything), ["r0 = 0", "exit"]);
        assert_program_agrees_with_v1(&deny_everything);
        let err = DevicePolicy::from_rules(&[deny_all(), rule(true, 'a', Some(1), None, "rwm")])
            .unwrap_err();
        assert_eq!(err.index, 1);
        assert!(err.reason.contains("allow a 1:* rwm"), "{}", err.reason);
        let err = DevicePolicy::from_rules(&[rule(false, 'a', None, None, "r")]).unwrap_err();
        assert!(err.reason.contains("type \"a\""), "{}", err.reason);
    }

    #[test]
    fn access_subsets_need_all_of_an_allow_and_any_of_a_deny() {
        let read_only = policy(&[deny_all(), rule(true, 'c', Some(1), Some(3), "r")]);
        assert_eq!(
            listing(&read_only),
            with_prologue(&[
                "if r2 != 2 goto +7",
                "w1 = w3",
                "w1 &= 0x2",
                "if r1 != r3 goto +4",
                "if r4 != 1 goto +3",
                "if r5 != 3 goto +2",
                "r0 = 1",
                "exit",
                "r0 = 0",
                "exit"
            ])
        );
        assert!(read_only.allows(false, 1, 3, ACC_READ));
        assert!(!read_only.allows(false, 1, 3, ACC_READ | ACC_WRITE));
        assert_program_agrees_with_v1(&read_only);
        let no_write = policy(&[rule(false, 'c', Some(1), Some(3), "w")]);
        assert_eq!(
            listing(&no_write),
            with_prologue(&[
                "if r2 != 2 goto +7",
                "w1 = w3",
                "w1 &= 0x4",
                "if r1 == 0 goto +4",
                "if r4 != 1 goto +3",
                "if r5 != 3 goto +2",
                "r0 = 0",
                "exit",
                "r0 = 1",
                "exit"
            ])
        );
        assert!(!no_write.allows(false, 1, 3, ACC_READ | ACC_WRITE));
        assert!(no_write.allows(false, 1, 3, ACC_READ));
        assert_program_agrees_with_v1(&no_write);
    }

    #[test]
    fn later_rules_merge_into_and_take_back_from_the_same_device() {
        let merged = policy(&[
            deny_all(),
            rule(true, 'c', Some(1), Some(3), "r"),
            rule(true, 'c', Some(1), Some(3), "w"),
            rule(true, 'b', Some(8), Some(1), "rwm"),
            rule(false, 'b', Some(8), Some(1), "rwm"),
            rule(true, 'c', Some(1), Some(5), "rw"),
            rule(false, 'c', Some(1), Some(5), "w"),
        ]);
        assert_eq!(
            merged.exceptions.iter().map(Exception::line).collect::<Vec<_>>(),
            ["c 1:3 rw", "c 1:5 r"]
        );
        assert!(merged.allows(false, 1, 3, ACC_READ | ACC_WRITE));
        assert!(!merged.allows(true, 8, 1, ACC_READ));
        assert!(!merged.allows(false, 1, 5, ACC_WRITE));
        assert_program_agrees_with_v1(&merged);
        // Different devices do not merge: read and write together need
        // one rule granting both.
        let split = policy(&[
            deny_all(),
            rule(true, 'c', None, None, "r"),
            rule(true, 'c', Some(1), Some(3), "w"),
        ]);
        assert!(split.allows(false, 1, 3, ACC_WRITE));
        assert!(!split.allows(false, 1, 3, ACC_READ | ACC_WRITE));
        assert_program_agrees_with_v1(&split);
    }

    #[test]
    fn taking_back_from_another_rule_is_refused() {
        let punch =
            [deny_all(), rule(true, 'c', None, None, "m"), rule(false, 'c', Some(1), Some(3), "m")];
        let err = DevicePolicy::from_rules(&punch).unwrap_err();
        assert_eq!(err.index, 2);
        assert!(
            err.reason.contains("deny c 1:3 m would not take back the earlier allow c *:* m"),
            "{}",
            err.reason
        );
        let wider = [
            deny_all(),
            rule(true, 'c', Some(1), Some(3), "rwm"),
            rule(false, 'c', None, None, "rwm"),
        ];
        assert_eq!(DevicePolicy::from_rules(&wider).unwrap_err().index, 2);
        // Disjoint access or devices are fine.
        let disjoint = policy(&[
            deny_all(),
            rule(true, 'c', None, None, "m"),
            rule(false, 'c', Some(1), Some(3), "rw"),
            rule(false, 'b', Some(1), Some(3), "m"),
        ]);
        assert_program_agrees_with_v1(&disjoint);
    }

    #[test]
    fn numbers_out_of_range_are_named() {
        let err = DevicePolicy::from_rules(&[rule(true, 'c', Some(-2), None, "r")]).unwrap_err();
        assert!(err.reason.contains("major -2 is not a device number"), "{}", err.reason);
        let err =
            DevicePolicy::from_rules(&[rule(true, 'c', Some(1), Some(1 << 40), "r")]).unwrap_err();
        assert!(err.reason.contains("minor 1099511627776"), "{}", err.reason);
    }
}
