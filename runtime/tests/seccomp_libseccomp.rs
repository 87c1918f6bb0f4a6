//! cradle's seccomp compiler against the reference, libseccomp (as runc
//! drives it): the same profile compiled by both, and both filters run on
//! every syscall number of x86_64, i386 and x32 with a spread of argument
//! values, must give the same verdict.
//!
//! The profiles: Docker's default (as cradle ships it), podman's default
//! (`/usr/share/containers/seccomp.json`, from the podman package, made
//! into an OCI profile as podman does), and argument-condition rules of
//! every operator. Both filters are run by a classic-BPF interpreter of
//! this file, independent of cradle's own.
//!
//! What runc adds to libseccomp is added to the reference side as runc
//! adds it: names libseccomp cannot resolve are skipped (so they are left
//! out of the profile given to both), conditions that test one argument
//! twice become rules of their own, and numbers above the highest one the
//! profile names get ENOSYS (runc's patchbpf stub).

use std::{io::Read, os::fd::AsFd};

use cradle_runtime::security::seccomp::{self, docker, tables};
use libseccomp::{
    ScmpAction, ScmpArch, ScmpArgCompare, ScmpCompareOp, ScmpFilterContext, ScmpSyscall,
};
use oci_spec::runtime::LinuxSeccomp;
use serde_json::{Value, json};

const AUDIT_ARCH_X86_64: u32 = 0xc000_003e;
const AUDIT_ARCH_I386: u32 = 0x4000_0003;
const X32_SYSCALL_BIT: u32 = 0x4000_0000;

/// One instruction of a classic BPF program (`struct sock_filter`).
#[derive(Clone, Copy, Debug)]
struct Insn {
    code: u16,
    jt: u8,
    jf: u8,
    k: u32,
}

/// Runs a seccomp filter on one `struct seccomp_data`, as the kernel's
/// classic-BPF interpreter does, for every instruction a seccomp filter
/// may hold.
fn run(program: &[Insn], nr: u32, arch: u32, args: [u64; 6]) -> u32 {
    let mut data = [0u8; 64];
    data[0..4].copy_from_slice(&nr.to_ne_bytes());
    data[4..8].copy_from_slice(&arch.to_ne_bytes());
    for (i, arg) in args.iter().enumerate() {
        data[16 + 8 * i..24 + 8 * i].copy_from_slice(&arg.to_ne_bytes());
    }
    let (mut a, mut x, mut mem) = (0u32, 0u32, [0u32; 16]);
    let mut pc = 0usize;
    loop {
        let i = program[pc];
        pc += 1;
        let src = if i.code & 0x08 != 0 { x } else { i.k };
        match i.code & 0x07 {
            // BPF_LD
            0x00 => match i.code {
                0x20 => a = u32::from_ne_bytes(data[i.k as usize..][..4].try_into().unwrap()),
                0x80 => a = 64,
                0x00 => a = i.k,
                0x60 => a = mem[i.k as usize],
                other => panic!("ld {other:#x}"),
            },
            // BPF_LDX
            0x01 => match i.code {
                0x01 => x = i.k,
                0x61 => x = mem[i.k as usize],
                0x81 => x = 64,
                other => panic!("ldx {other:#x}"),
            },
            0x02 => mem[i.k as usize] = a,
            0x03 => mem[i.k as usize] = x,
            // BPF_ALU
            0x04 => {
                a = match i.code & 0xf0 {
                    0x00 => a.wrapping_add(src),
                    0x10 => a.wrapping_sub(src),
                    0x20 => a.wrapping_mul(src),
                    0x30 => a / src,
                    0x40 => a | src,
                    0x50 => a & src,
                    0x60 => a.wrapping_shl(src),
                    0x70 => a.wrapping_shr(src),
                    0x80 => a.wrapping_neg(),
                    0x90 => a % src,
                    0xa0 => a ^ src,
                    other => panic!("alu {other:#x}"),
                }
            }
            // BPF_JMP
            0x05 => {
                let taken = match i.code & 0xf0 {
                    0x00 => {
                        pc += i.k as usize;
                        continue;
                    }
                    0x10 => a == src,
                    0x20 => a > src,
                    0x30 => a >= src,
                    0x40 => a & src != 0,
                    other => panic!("jmp {other:#x}"),
                };
                pc += usize::from(if taken { i.jt } else { i.jf });
            }
            // BPF_RET
            0x06 => return if i.code & 0x18 == 0x10 { a } else { i.k },
            // BPF_MISC: TAX, TXA
            _ => {
                if i.code & 0xf8 == 0x00 {
                    x = a;
                } else {
                    a = x;
                }
            }
        }
    }
}

fn libseccomp_action(action: &str, errno: Option<u64>) -> ScmpAction {
    let errno = errno.map_or(libc::EPERM, |e| i32::try_from(e).unwrap());
    match action {
        "SCMP_ACT_ALLOW" => ScmpAction::Allow,
        "SCMP_ACT_ERRNO" => ScmpAction::Errno(errno),
        "SCMP_ACT_KILL" | "SCMP_ACT_KILL_THREAD" => ScmpAction::KillThread,
        "SCMP_ACT_KILL_PROCESS" => ScmpAction::KillProcess,
        "SCMP_ACT_TRAP" => ScmpAction::Trap,
        "SCMP_ACT_LOG" => ScmpAction::Log,
        "SCMP_ACT_TRACE" => ScmpAction::Trace(u16::try_from(errno).unwrap()),
        other => panic!("action {other}"),
    }
}

fn condition(arg: &Value) -> ScmpArgCompare {
    let index = u32::try_from(arg["index"].as_u64().unwrap()).unwrap();
    let value = arg["value"].as_u64().unwrap();
    let op = match arg["op"].as_str().unwrap() {
        "SCMP_CMP_NE" => ScmpCompareOp::NotEqual,
        "SCMP_CMP_LT" => ScmpCompareOp::Less,
        "SCMP_CMP_LE" => ScmpCompareOp::LessOrEqual,
        "SCMP_CMP_EQ" => ScmpCompareOp::Equal,
        "SCMP_CMP_GE" => ScmpCompareOp::GreaterEqual,
        "SCMP_CMP_GT" => ScmpCompareOp::Greater,
        "SCMP_CMP_MASKED_EQ" => {
            let datum = arg["valueTwo"].as_u64().unwrap_or(0);
            return ScmpArgCompare::new(index, ScmpCompareOp::MaskedEqual(value), datum);
        }
        other => panic!("op {other}"),
    };
    ScmpArgCompare::new(index, op, value)
}

/// The profile as runc has libseccomp compile it, and the highest number
/// it names per architecture section (for runc's ENOSYS stub).
fn libseccomp_filter(profile: &Value) -> Vec<Insn> {
    let default = libseccomp_action(
        profile["defaultAction"].as_str().unwrap(),
        profile["defaultErrnoRet"].as_u64(),
    );
    let mut filter = ScmpFilterContext::new(default).unwrap();
    for arch in profile["architectures"].as_array().unwrap() {
        let arch = match arch.as_str().unwrap() {
            "SCMP_ARCH_X86_64" => ScmpArch::X8664,
            "SCMP_ARCH_X86" => ScmpArch::X86,
            "SCMP_ARCH_X32" => ScmpArch::X32,
            other => panic!("arch {other}"),
        };
        filter.add_arch(arch).unwrap();
    }
    let rules = profile["syscalls"].as_array().unwrap();
    if rules.len() > 32 {
        filter.set_ctl_optimize(2).unwrap();
    }
    for rule in rules {
        let action = libseccomp_action(rule["action"].as_str().unwrap(), rule["errnoRet"].as_u64());
        if action == default {
            continue;
        }
        let args = rule["args"].as_array().cloned().unwrap_or_default();
        for name in rule["names"].as_array().unwrap() {
            let syscall = ScmpSyscall::from_name(name.as_str().unwrap()).unwrap();
            if args.is_empty() {
                filter.add_rule(action, syscall).unwrap();
                continue;
            }
            let conditions: Vec<ScmpArgCompare> = args.iter().map(condition).collect();
            let mut indexes: Vec<u64> = args.iter().map(|a| a["index"].as_u64().unwrap()).collect();
            indexes.sort_unstable();
            let repeated = indexes.windows(2).any(|pair| pair[0] == pair[1]);
            if repeated {
                for one in conditions {
                    filter.add_rule_conditional(action, syscall, &[one]).unwrap();
                }
            } else {
                filter.add_rule_conditional(action, syscall, &conditions).unwrap();
            }
        }
    }
    let mut file = tempfile::tempfile().unwrap();
    filter.export_bpf(file.as_fd()).unwrap();
    let mut bytes = Vec::new();
    std::io::Seek::rewind(&mut file).unwrap();
    file.read_to_end(&mut bytes).unwrap();
    bytes
        .chunks_exact(8)
        .map(|b| Insn {
            code: u16::from_ne_bytes([b[0], b[1]]),
            jt: b[2],
            jf: b[3],
            k: u32::from_ne_bytes([b[4], b[5], b[6], b[7]]),
        })
        .collect()
}

fn cradle_filter(profile: &Value) -> Vec<Insn> {
    let spec: LinuxSeccomp = serde_json::from_value(profile.clone()).unwrap();
    let filter = seccomp::compile(&spec).unwrap();
    filter.instructions.iter().map(|i| Insn { code: i.code, jt: i.jt, jf: i.jf, k: i.k }).collect()
}

/// runc's ENOSYS stub, as its patchbpf computes it with libseccomp: per
/// architecture section, the highest number the profile's names have.
fn enosys_thresholds(profile: &Value) -> Vec<(ScmpArch, u32)> {
    let through = ["SCMP_ACT_ALLOW", "SCMP_ACT_LOG", "SCMP_ACT_TRACE"];
    if through.contains(&profile["defaultAction"].as_str().unwrap())
        || profile["defaultErrnoRet"].as_u64() == Some(libc::ENOSYS as u64)
    {
        return Vec::new();
    }
    let names: Vec<&str> = profile["syscalls"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|rule| rule["names"].as_array().unwrap())
        .map(|name| name.as_str().unwrap())
        .collect();
    [ScmpArch::X8664, ScmpArch::X86, ScmpArch::X32]
        .into_iter()
        .filter_map(|arch| {
            let highest = names
                .iter()
                .filter_map(|name| ScmpSyscall::from_name_by_arch(name, arch).ok())
                .map(i32::from)
                .filter(|&nr| nr >= 0)
                .max()?;
            Some((arch, u32::try_from(highest).unwrap()))
        })
        .collect()
}

/// Argument tuples: each value alone in each position, all together, and
/// the pairs the profiles' rules test (socket's domain and protocol).
fn argument_spread(wide: bool) -> Vec<[u64; 6]> {
    let mut values: Vec<u64> = vec![
        0,
        1,
        2,
        8,
        9,
        16,
        40,
        0x2_0000,
        0x2_0008,
        0x7e02_0000,
        0x1000_0000,
        0xffff_ffff,
        0x1_0000_0000,
        0x1_0000_0010,
        0xffff_ffff_0000_0000,
        u64::MAX,
    ];
    if !wide {
        // An i386 process's arguments are 32 bits wide.
        values.retain(|v| *v <= u64::from(u32::MAX));
    }
    let mut spread = Vec::new();
    for &value in &values {
        for position in 0..6 {
            let mut args = [0; 6];
            args[position] = value;
            spread.push(args);
        }
        spread.push([value; 6]);
    }
    spread.extend([[16, 0, 9, 0, 0, 0], [16, 3, 9, 0, 0, 0], [40, 1, 0, 0, 0, 0]]);
    spread
}

/// The verdict of a filter's return value: the action and its data; the
/// two kill actions are one verdict (which one kills is no security
/// difference, and libseccomp's SCMP_ACT_KILL is the thread's).
fn verdict(ret: u32) -> u32 {
    match ret & 0xffff_0000 {
        0x8000_0000 => 0,
        _ => ret,
    }
}

/// Compiles `profile` both ways and compares every verdict.
fn assert_same_verdicts(what: &str, profile: &Value) {
    let ours = cradle_filter(profile);
    let theirs = libseccomp_filter(profile);
    let stub = enosys_thresholds(profile);
    let enosys = 0x0005_0000 | libc::ENOSYS as u32;
    let mut differences = Vec::new();
    let mut checked = 0usize;
    let sections = [
        (ScmpArch::X8664, AUDIT_ARCH_X86_64, 0, 600, true),
        (ScmpArch::X86, AUDIT_ARCH_I386, 0, 600, false),
        (ScmpArch::X32, AUDIT_ARCH_X86_64, X32_SYSCALL_BIT, X32_SYSCALL_BIT + 600, true),
    ];
    for (arch, audit, first, last, wide) in sections {
        let spread = argument_spread(wide);
        for nr in first..=last {
            for args in &spread {
                let filtered = run(&theirs, nr, audit, *args);
                let stubbed = stub.iter().any(|&(a, highest)| a == arch && nr > highest);
                let expected = if stubbed { enosys } else { filtered };
                let got = run(&ours, nr, audit, *args);
                checked += 1;
                // On purpose (README, differences from runc): on i386
                // libseccomp names the socket calls by pseudo-numbers, so
                // runc's stub leaves them out of the highest number and
                // answers ENOSYS up to the last direct socket call (373);
                // cradle counts them and applies the profile's rules.
                let socket_calls = arch == ScmpArch::X86 && stubbed && nr <= 373 && got == filtered;
                if verdict(got) != verdict(expected) && !socket_calls {
                    differences.push(format!(
                        "{arch:?} nr {nr:#x} args {args:x?}: cradle {got:#x}, libseccomp {expected:#x}"
                    ));
                }
            }
        }
    }
    assert!(checked > 100_000, "{what}: only {checked} inputs");
    differences.truncate(20);
    assert!(differences.is_empty(), "{what}: verdicts differ:\n{}", differences.join("\n"));
}

/// The profile with only the names libseccomp resolves natively: runc
/// skips the others, and cradle, which knows newer ones, is given the
/// same list.
fn known_to_libseccomp(mut profile: Value) -> Value {
    for rule in profile["syscalls"].as_array_mut().unwrap() {
        let names = rule["names"].as_array_mut().unwrap();
        names.retain(|name| ScmpSyscall::from_name(name.as_str().unwrap()).is_ok());
    }
    profile["syscalls"]
        .as_array_mut()
        .unwrap()
        .retain(|rule| !rule["names"].as_array().unwrap().is_empty());
    profile
}

#[test]
fn dockers_default_profile_gives_libseccomps_verdicts() {
    let spec = docker::default_profile(&docker::DEFAULT_CAPABILITIES);
    let profile = known_to_libseccomp(serde_json::to_value(spec).unwrap());
    assert_same_verdicts("Docker's default profile", &profile);
}

/// podman's default profile for x86_64 with podman's default capabilities,
/// made an OCI profile as podman (containers/common) makes it: a rule
/// stays if every capability it includes is granted, none it excludes is,
/// and its arches (if any) name amd64.
#[test]
fn podmans_default_profile_gives_libseccomps_verdicts() {
    const PATH: &str = "/usr/share/containers/seccomp.json";
    let text = std::fs::read_to_string(PATH)
        .unwrap_or_else(|err| panic!("{PATH} (the podman package, `cargo xtask setup`): {err}"));
    let podman: Value = serde_json::from_str(&text).unwrap();
    let caps = [
        "CAP_CHOWN",
        "CAP_DAC_OVERRIDE",
        "CAP_FOWNER",
        "CAP_FSETID",
        "CAP_KILL",
        "CAP_NET_BIND_SERVICE",
        "CAP_SETFCAP",
        "CAP_SETGID",
        "CAP_SETPCAP",
        "CAP_SETUID",
        "CAP_SYS_CHROOT",
    ];
    let list = |value: &Value| -> Vec<String> {
        value.as_array().map_or_else(Vec::new, |items| {
            items.iter().map(|item| item.as_str().unwrap().to_owned()).collect()
        })
    };
    let mut syscalls = Vec::new();
    for rule in podman["syscalls"].as_array().unwrap() {
        let (includes, excludes) = (&rule["includes"], &rule["excludes"]);
        let granted = |cap: &String| caps.contains(&cap.as_str());
        let arches = list(&includes["arches"]);
        if !list(&includes["caps"]).iter().all(granted)
            || list(&excludes["caps"]).iter().any(granted)
            || (!arches.is_empty() && !arches.iter().any(|a| a == "amd64"))
            || list(&excludes["arches"]).iter().any(|a| a == "amd64")
        {
            continue;
        }
        let mut oci = json!({"names": rule["names"], "action": rule["action"]});
        if let Some(errno) = rule["errnoRet"].as_u64() {
            oci["errnoRet"] = json!(errno);
        }
        if let Some(args) = rule["args"].as_array().filter(|args| !args.is_empty()) {
            oci["args"] = json!(args);
        }
        syscalls.push(oci);
    }
    let profile = json!({
        "defaultAction": podman["defaultAction"],
        "defaultErrnoRet": podman["defaultErrnoRet"],
        "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
        "syscalls": syscalls,
    });
    assert_same_verdicts("podman's default profile", &known_to_libseccomp(profile));
}

/// Every operator, on low and high halves, with several conditions on
/// different arguments, one argument tested twice (runc makes those
/// alternatives), and each action; under a default that lets calls
/// through and one that does not.
#[test]
fn argument_conditions_give_libseccomps_verdicts() {
    let rules = json!([
        {"names": ["read"], "action": "SCMP_ACT_ERRNO", "errnoRet": 5,
         "args": [{"index": 0, "value": 9, "op": "SCMP_CMP_EQ"}]},
        {"names": ["write"], "action": "SCMP_ACT_ERRNO",
         "args": [{"index": 2, "value": 16, "op": "SCMP_CMP_GT"}]},
        {"names": ["openat"], "action": "SCMP_ACT_TRAP",
         "args": [{"index": 1, "value": 0x1_0000_0000u64, "op": "SCMP_CMP_GE"}]},
        {"names": ["close"], "action": "SCMP_ACT_KILL_PROCESS",
         "args": [{"index": 0, "value": 2, "op": "SCMP_CMP_LT"}]},
        {"names": ["dup"], "action": "SCMP_ACT_LOG",
         "args": [{"index": 0, "value": 0xffff_ffffu64, "op": "SCMP_CMP_LE"}]},
        {"names": ["socket"], "action": "SCMP_ACT_ERRNO", "errnoRet": 97,
         "args": [{"index": 0, "value": 16, "op": "SCMP_CMP_EQ"},
                  {"index": 2, "value": 9, "op": "SCMP_CMP_EQ"}]},
        {"names": ["personality"], "action": "SCMP_ACT_ERRNO", "errnoRet": 22,
         "args": [{"index": 0, "value": 8, "op": "SCMP_CMP_NE"},
                  {"index": 0, "value": 0x2_0008u64, "op": "SCMP_CMP_NE"}]},
        {"names": ["clone"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1,
         "args": [{"index": 0, "value": 0x7e02_0000u64, "valueTwo": 0, "op": "SCMP_CMP_MASKED_EQ"}]},
        {"names": ["unshare"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1,
         "args": [{"index": 0, "value": 0xffff_ffff_0000_0000u64,
                   "valueTwo": 0xffff_ffff_0000_0000u64, "op": "SCMP_CMP_MASKED_EQ"}]},
        {"names": ["kill", "tkill", "tgkill"], "action": "SCMP_ACT_ERRNO", "errnoRet": 3,
         "args": [{"index": 1, "value": 9, "op": "SCMP_CMP_EQ"}]},
        {"names": ["mmap"], "action": "SCMP_ACT_ERRNO", "errnoRet": 12,
         "args": [{"index": 5, "value": 0x1_0000_0010u64, "op": "SCMP_CMP_EQ"}]},
        {"names": ["mount", "umount2", "pivot_root"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1}
    ]);
    let allowing = json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
        "syscalls": rules,
    });
    assert_same_verdicts("argument rules, default allow", &allowing);
    let mut refusing = allowing.clone();
    refusing["defaultAction"] = json!("SCMP_ACT_ERRNO");
    for rule in refusing["syscalls"].as_array_mut().unwrap() {
        if rule["action"] == "SCMP_ACT_ERRNO" && rule["errnoRet"].is_null() {
            rule["action"] = json!("SCMP_ACT_ALLOW");
        }
        if rule["action"] == "SCMP_ACT_ERRNO" {
            rule["action"] = json!("SCMP_ACT_ALLOW");
            rule.as_object_mut().unwrap().remove("errnoRet");
        }
    }
    assert_same_verdicts("argument rules, default errno", &refusing);
}

/// Every name of cradle's tables has the number libseccomp's resolver
/// gives it on that architecture (x32 with its syscall bit), where
/// libseccomp knows the name at all: Debian 12's libseccomp predates the
/// newest calls, and names i386's socket calls by pseudo-numbers.
#[test]
fn every_table_number_is_libseccomps() {
    let sections = [
        (ScmpArch::X8664, tables::x86_64(), 0),
        (ScmpArch::X86, tables::i386(), 0),
        (ScmpArch::X32, tables::x32(), X32_SYSCALL_BIT),
    ];
    let names: Vec<&str> =
        sections.iter().flat_map(|(_, table, _)| table.iter().map(|(n, _)| *n)).collect();
    for (arch, table, bit) in sections {
        let mut compared = 0;
        for &name in &names {
            let ours = table.iter().find(|(known, _)| *known == name).map(|(_, n)| n | bit);
            let theirs = match ScmpSyscall::from_name_by_arch(name, arch) {
                // A pseudo-number: the call goes through a multiplexer.
                Ok(theirs) if i32::from(theirs) < 0 => continue,
                Ok(theirs) => Some(u32::try_from(i32::from(theirs)).unwrap()),
                // Absent there, if libseccomp knows the name elsewhere.
                Err(_) if known_to_libseccomp_anywhere(name) => None,
                Err(_) => continue,
            };
            assert_eq!(ours, theirs, "{arch:?} {name}");
            compared += 1;
        }
        assert!(compared > 300, "{arch:?}: only {compared} names compared");
    }
}

fn known_to_libseccomp_anywhere(name: &str) -> bool {
    [ScmpArch::X8664, ScmpArch::X86, ScmpArch::X32]
        .into_iter()
        .any(|arch| ScmpSyscall::from_name_by_arch(name, arch).is_ok())
}
