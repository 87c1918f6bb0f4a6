//! Syscall numbers of the x86 family, from the `syscalls` crate (generated
//! from the kernel's own syscall tables): x86_64 and i386 as it has them,
//! x32 derived from x86_64 by the kernel's x32 rules below. The tests of
//! `runtime/tests/seccomp_libseccomp.rs` check every number against
//! libseccomp's resolver.

use std::sync::OnceLock;

/// A table: each syscall's name and number.
pub type Table = [(&'static str, u32)];

pub fn x86_64() -> &'static Table {
    static TABLE: OnceLock<Vec<(&'static str, u32)>> = OnceLock::new();
    TABLE.get_or_init(|| {
        syscalls::x86_64::Sysno::iter().map(|s| (s.name(), number(s.id()))).collect()
    })
}

pub fn i386() -> &'static Table {
    static TABLE: OnceLock<Vec<(&'static str, u32)>> = OnceLock::new();
    TABLE.get_or_init(|| {
        let mut table: Vec<_> =
            syscalls::x86::Sysno::iter().map(|s| (s.name(), number(s.id()))).collect();
        // A Rust keyword, so the crate has no variant for it.
        table.push(("break", 17));
        table
    })
}

/// The x32 ABI (numbers without `__X32_SYSCALL_BIT`): the kernel's
/// `common` entries of the x86_64 table keep their numbers; the `64` ones
/// are absent, and those with an x32 form have it from 512 on, in the
/// table's order (`arch/x86/entry/syscalls/syscall_64.tbl`).
pub fn x32() -> &'static Table {
    static TABLE: OnceLock<Vec<(&'static str, u32)>> = OnceLock::new();
    TABLE.get_or_init(|| {
        let own = |name: &str| X32_FORMS.iter().position(|own| *own == name);
        x86_64()
            .iter()
            .filter(|(name, _)| !X32_ABSENT.contains(name))
            .map(|&(name, number)| match own(name) {
                Some(at) => (name, X32_FIRST + u32::try_from(at).expect("a short list")),
                None => (name, number),
            })
            .collect()
    })
}

/// Whether `name` is a syscall of another architecture (so a rule naming
/// it matches nothing here, rather than being unknown).
pub fn elsewhere(name: &str) -> bool {
    macro_rules! any_of {
        ($($arch:ident),*) => {
            false $(|| syscalls::$arch::Sysno::iter().any(|s| s.name() == name))*
        };
    }
    any_of!(
        aarch64,
        arm,
        loongarch64,
        mips,
        mips64,
        powerpc,
        powerpc64,
        riscv32,
        riscv64,
        s390x,
        sparc,
        sparc64
    ) || PRIVATE_ELSEWHERE.contains(&name)
}

/// The crate's syscall numbers are small and never negative.
fn number(id: i32) -> u32 {
    u32::try_from(id).expect("a syscall number")
}

const X32_FIRST: u32 = 512;

/// The x32 forms, in order from [`X32_FIRST`].
const X32_FORMS: &[&str] = &[
    "rt_sigaction",
    "rt_sigreturn",
    "ioctl",
    "readv",
    "writev",
    "recvfrom",
    "sendmsg",
    "recvmsg",
    "execve",
    "ptrace",
    "rt_sigpending",
    "rt_sigtimedwait",
    "rt_sigqueueinfo",
    "sigaltstack",
    "timer_create",
    "mq_notify",
    "kexec_load",
    "waitid",
    "set_robust_list",
    "get_robust_list",
    "vmsplice",
    "move_pages",
    "preadv",
    "pwritev",
    "rt_tgsigqueueinfo",
    "recvmmsg",
    "sendmmsg",
    "process_vm_readv",
    "process_vm_writev",
    "setsockopt",
    "getsockopt",
    "io_setup",
    "io_submit",
    "execveat",
    "preadv2",
    "pwritev2",
];

/// x86_64's `64` entries without an x32 form.
const X32_ABSENT: &[&str] = &[
    "_sysctl",
    "create_module",
    "epoll_ctl_old",
    "epoll_wait_old",
    "get_kernel_syms",
    "get_thread_area",
    "map_shadow_stack",
    "nfsservctl",
    "query_module",
    "set_thread_area",
    "uselib",
    "vserver",
    "uretprobe",
    "uprobe",
];

/// Architecture-private calls the crate leaves out (ARM's `__ARM_NR_*`,
/// m68k's): real syscalls of other architectures.
const PRIVATE_ELSEWHERE: &[&str] =
    &["atomic_barrier", "atomic_cmpxchg_32", "breakpoint", "set_tls", "usr26", "usr32"];

#[cfg(test)]
mod tests {
    use super::*;

    fn find(table: &Table, name: &str) -> Option<u32> {
        table.iter().find(|(known, _)| *known == name).map(|(_, number)| *number)
    }

    /// Spot checks against the kernel's tables (the differential test
    /// checks every name against libseccomp).
    #[test]
    fn numbers_are_the_kernels() {
        assert_eq!(find(x86_64(), "read"), Some(0));
        assert_eq!(find(x86_64(), "open_tree_attr"), Some(467));
        assert_eq!(find(i386(), "socket"), Some(359));
        assert_eq!(find(i386(), "break"), Some(17));
        assert_eq!(find(x32(), "execve"), Some(520));
        assert_eq!(find(x32(), "pwritev2"), Some(547));
        assert_eq!(find(x32(), "read"), Some(0));
        assert_eq!(find(x32(), "uselib"), None);
        assert!(elsewhere("riscv_flush_icache") && elsewhere("usr32") && !elsewhere("nonsense"));
    }

    #[test]
    fn every_x32_form_and_absence_names_an_x86_64_call() {
        for name in X32_FORMS.iter().chain(X32_ABSENT) {
            assert!(find(x86_64(), name).is_some(), "{name}");
        }
    }
}
