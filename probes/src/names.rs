//! Names of the flags and constants the recorded syscalls take, from the
//! kernel's UAPI headers. Unknown bits are kept, as hex, never dropped.

/// Names of the bits set in `value` per `table`; bits no entry names are
/// reported as one hex value.
pub fn bit_names(value: u64, table: &[(u64, &str)]) -> Vec<String> {
    let mut names = Vec::new();
    let mut rest = value;
    for &(bit, name) in table {
        if value & bit == bit && bit != 0 {
            names.push(name.to_string());
            rest &= !bit;
        }
    }
    if rest != 0 {
        names.push(format!("{rest:#x}"));
    }
    names
}

/// mount(2) flags (linux/mount.h).
pub const MOUNT_FLAGS: &[(u64, &str)] = &[
    (1, "MS_RDONLY"),
    (2, "MS_NOSUID"),
    (4, "MS_NODEV"),
    (8, "MS_NOEXEC"),
    (16, "MS_SYNCHRONOUS"),
    (32, "MS_REMOUNT"),
    (64, "MS_MANDLOCK"),
    (128, "MS_DIRSYNC"),
    (256, "MS_NOSYMFOLLOW"),
    (1024, "MS_NOATIME"),
    (2048, "MS_NODIRATIME"),
    (4096, "MS_BIND"),
    (8192, "MS_MOVE"),
    (16384, "MS_REC"),
    (32768, "MS_SILENT"),
    (1 << 16, "MS_POSIXACL"),
    (1 << 17, "MS_UNBINDABLE"),
    (1 << 18, "MS_PRIVATE"),
    (1 << 19, "MS_SLAVE"),
    (1 << 20, "MS_SHARED"),
    (1 << 21, "MS_RELATIME"),
    (1 << 22, "MS_KERNMOUNT"),
    (1 << 23, "MS_I_VERSION"),
    (1 << 24, "MS_STRICTATIME"),
    (1 << 25, "MS_LAZYTIME"),
    // The historical magic number some callers still put in the top half.
    (0xC0ED_0000, "MS_MGC_VAL"),
];

/// umount2(2) flags.
pub const UMOUNT_FLAGS: &[(u64, &str)] =
    &[(1, "MNT_FORCE"), (2, "MNT_DETACH"), (4, "MNT_EXPIRE"), (8, "UMOUNT_NOFOLLOW")];

/// `MOUNT_ATTR_*` (fsmount, mount_setattr).
pub const MOUNT_ATTRS: &[(u64, &str)] = &[
    (0x1, "MOUNT_ATTR_RDONLY"),
    (0x2, "MOUNT_ATTR_NOSUID"),
    (0x4, "MOUNT_ATTR_NODEV"),
    (0x8, "MOUNT_ATTR_NOEXEC"),
    (0x10, "MOUNT_ATTR_NOATIME"),
    (0x20, "MOUNT_ATTR_STRICTATIME"),
    (0x80, "MOUNT_ATTR_NODIRATIME"),
    (0x10_0000, "MOUNT_ATTR_IDMAP"),
    (0x20_0000, "MOUNT_ATTR_NOSYMFOLLOW"),
];

/// The `CLONE_NEW*` flags, by the name `/proc/PID/ns` gives the namespace.
pub const NAMESPACE_FLAGS: &[(u64, &str)] = &[
    (0x2_0000, "mnt"),
    (0x400_0000, "uts"),
    (0x800_0000, "ipc"),
    (0x2000_0000, "pid"),
    (0x4000_0000, "net"),
    (0x200_0000, "cgroup"),
    (0x80, "time"),
    (0x1000_0000, "user"),
];

/// The namespace types set in a clone/unshare/setns flag word.
pub fn namespace_names(flags: u64) -> Vec<&'static str> {
    NAMESPACE_FLAGS.iter().filter(|(bit, _)| flags & bit != 0).map(|&(_, name)| name).collect()
}

/// fsconfig(2) commands.
pub fn fsconfig_command(cmd: u32) -> String {
    const COMMANDS: [&str; 9] = [
        "FSCONFIG_SET_FLAG",
        "FSCONFIG_SET_STRING",
        "FSCONFIG_SET_BINARY",
        "FSCONFIG_SET_PATH",
        "FSCONFIG_SET_PATH_EMPTY",
        "FSCONFIG_SET_FD",
        "FSCONFIG_CMD_CREATE",
        "FSCONFIG_CMD_RECONFIGURE",
        "FSCONFIG_CMD_CREATE_EXCL",
    ];
    COMMANDS.get(cmd as usize).map(|s| s.to_string()).unwrap_or_else(|| cmd.to_string())
}

/// Whether an fsconfig(2) command's value is a string (or a path).
pub fn fsconfig_value_is_string(cmd: u32) -> bool {
    matches!(cmd, 1 | 3 | 4)
}

pub const PR_SET_NAME: u32 = 15;
pub const PR_SET_SECCOMP: u32 = 22;
pub const SECCOMP_MODE_FILTER: u64 = 2;

/// prctl(2) options a container runtime uses.
pub fn prctl_option(option: u32) -> Option<&'static str> {
    Some(match option {
        1 => "PR_SET_PDEATHSIG",
        4 => "PR_SET_DUMPABLE",
        8 => "PR_SET_KEEPCAPS",
        PR_SET_NAME => "PR_SET_NAME",
        PR_SET_SECCOMP => "PR_SET_SECCOMP",
        23 => "PR_CAPBSET_READ",
        24 => "PR_CAPBSET_DROP",
        36 => "PR_SET_CHILD_SUBREAPER",
        38 => "PR_SET_NO_NEW_PRIVS",
        39 => "PR_GET_NO_NEW_PRIVS",
        47 => "PR_CAP_AMBIENT",
        _ => return None,
    })
}

pub const SECCOMP_SET_MODE_FILTER: u32 = 1;

/// seccomp(2) operations.
pub fn seccomp_operation(operation: u32) -> Option<&'static str> {
    const OPERATIONS: [&str; 4] = [
        "SECCOMP_SET_MODE_STRICT",
        "SECCOMP_SET_MODE_FILTER",
        "SECCOMP_GET_ACTION_AVAIL",
        "SECCOMP_GET_NOTIF_SIZES",
    ];
    OPERATIONS.get(operation as usize).copied()
}

/// Capability names (linux/capability.h), by number.
pub fn capability(cap: i32) -> Option<&'static str> {
    const CAPS: [&str; 41] = [
        "CAP_CHOWN",
        "CAP_DAC_OVERRIDE",
        "CAP_DAC_READ_SEARCH",
        "CAP_FOWNER",
        "CAP_FSETID",
        "CAP_KILL",
        "CAP_SETGID",
        "CAP_SETUID",
        "CAP_SETPCAP",
        "CAP_LINUX_IMMUTABLE",
        "CAP_NET_BIND_SERVICE",
        "CAP_NET_BROADCAST",
        "CAP_NET_ADMIN",
        "CAP_NET_RAW",
        "CAP_IPC_LOCK",
        "CAP_IPC_OWNER",
        "CAP_SYS_MODULE",
        "CAP_SYS_RAWIO",
        "CAP_SYS_CHROOT",
        "CAP_SYS_PTRACE",
        "CAP_SYS_PACCT",
        "CAP_SYS_ADMIN",
        "CAP_SYS_BOOT",
        "CAP_SYS_NICE",
        "CAP_SYS_RESOURCE",
        "CAP_SYS_TIME",
        "CAP_SYS_TTY_CONFIG",
        "CAP_MKNOD",
        "CAP_LEASE",
        "CAP_AUDIT_WRITE",
        "CAP_AUDIT_CONTROL",
        "CAP_SETFCAP",
        "CAP_MAC_OVERRIDE",
        "CAP_MAC_ADMIN",
        "CAP_SYSLOG",
        "CAP_WAKE_ALARM",
        "CAP_BLOCK_SUSPEND",
        "CAP_AUDIT_READ",
        "CAP_PERFMON",
        "CAP_BPF",
        "CAP_CHECKPOINT_RESTORE",
    ];
    usize::try_from(cap).ok().and_then(|cap| CAPS.get(cap)).copied()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_bits_are_kept() {
        assert_eq!(
            bit_names(4096 | 16384 | (1 << 40), MOUNT_FLAGS),
            ["MS_BIND", "MS_REC", "0x10000000000"]
        );
        assert!(bit_names(0, MOUNT_FLAGS).is_empty());
        assert_eq!(namespace_names(0x2_0000 | 0x1000_0000), ["mnt", "user"]);
        assert_eq!(capability(21), Some("CAP_SYS_ADMIN"));
        assert_eq!(capability(-1), None);
    }
}
