//! Names of the flags and constants the recorded syscalls take, from the
//! kernel's UAPI headers. Unknown bits are kept, as hex, never dropped.

use std::sync::OnceLock;

pub use cradle_probes_common::{
    FSCONFIG_SET_PATH, FSCONFIG_SET_PATH_EMPTY, FSCONFIG_SET_STRING, PR_SET_NAME, PR_SET_SECCOMP,
    SECCOMP_MODE_FILTER, SECCOMP_SET_MODE_FILTER,
};

/// Names of the bits set in `value` per `table`; bits no entry names are
/// reported as one hex value.
pub fn bit_names(value: u64, table: &[(u64, &str)]) -> Vec<String> {
    let mut names = Vec::new();
    push_bit_names(&mut names, value, table, Overlap::Named);
    names
}

/// Whether an entry whose bits an earlier entry already named is named too.
#[derive(Clone, Copy, PartialEq)]
enum Overlap {
    /// Yes (`bit_names`).
    Named,
    /// No: a combined flag (O_TMPFILE) takes its bits from the rest, and
    /// the flag whose bit it includes (O_DIRECTORY) is not named again.
    Consumed,
}

fn push_bit_names(names: &mut Vec<String>, value: u64, table: &[(u64, &str)], overlap: Overlap) {
    let mut rest = value;
    for &(bits, name) in table {
        let from = if overlap == Overlap::Named { value } else { rest };
        if from & bits == bits && bits != 0 {
            names.push(name.to_string());
            rest &= !bits;
        }
    }
    if rest != 0 {
        names.push(format!("{rest:#x}"));
    }
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

/// `O_LARGEFILE` as the kernel sees it (glibc's constant is 0 on 64-bit
/// targets, where the kernel sets the bit itself).
const O_LARGEFILE: u64 = if cfg!(target_arch = "aarch64") { 0o400000 } else { 0o100000 };

/// open(2) flags besides the access mode (asm-generic/fcntl.h; the
/// architecture's own values where they differ).
pub const OPEN_FLAGS: &[(u64, &str)] = &[
    (libc::O_CREAT as u64, "O_CREAT"),
    (libc::O_EXCL as u64, "O_EXCL"),
    (libc::O_NOCTTY as u64, "O_NOCTTY"),
    (libc::O_TRUNC as u64, "O_TRUNC"),
    (libc::O_APPEND as u64, "O_APPEND"),
    (libc::O_NONBLOCK as u64, "O_NONBLOCK"),
    // O_SYNC is __O_SYNC | O_DSYNC: named first, it takes both bits.
    (libc::O_SYNC as u64, "O_SYNC"),
    (libc::O_DSYNC as u64, "O_DSYNC"),
    (libc::O_ASYNC as u64, "O_ASYNC"),
    (libc::O_DIRECT as u64, "O_DIRECT"),
    (O_LARGEFILE, "O_LARGEFILE"),
    // O_TMPFILE is __O_TMPFILE | O_DIRECTORY: named first, it takes both.
    (libc::O_TMPFILE as u64, "O_TMPFILE"),
    (libc::O_DIRECTORY as u64, "O_DIRECTORY"),
    (libc::O_NOFOLLOW as u64, "O_NOFOLLOW"),
    (libc::O_NOATIME as u64, "O_NOATIME"),
    (libc::O_CLOEXEC as u64, "O_CLOEXEC"),
    (libc::O_PATH as u64, "O_PATH"),
];

/// Names of open(2) flags: the access mode first (`O_RDONLY` is 0, so it
/// is named explicitly), then the other bits.
pub fn open_flag_names(flags: u64) -> Vec<String> {
    let access = match flags & libc::O_ACCMODE as u64 {
        0 => "O_RDONLY",
        1 => "O_WRONLY",
        2 => "O_RDWR",
        _ => "O_ACCMODE",
    };
    let mut names = vec![access.to_string()];
    push_bit_names(&mut names, flags & !(libc::O_ACCMODE as u64), OPEN_FLAGS, Overlap::Consumed);
    names
}

/// openat2(2)'s `RESOLVE_*` flags (linux/openat2.h).
pub const RESOLVE_FLAGS: &[(u64, &str)] = &[
    (0x01, "RESOLVE_NO_XDEV"),
    (0x02, "RESOLVE_NO_MAGICLINKS"),
    (0x04, "RESOLVE_NO_SYMLINKS"),
    (0x08, "RESOLVE_BENEATH"),
    (0x10, "RESOLVE_IN_ROOT"),
    (0x20, "RESOLVE_CACHED"),
];

/// The name of a file type (the `S_IFMT` bits of a mode); `file` for 0,
/// as mknod(2) reads it.
pub fn file_type(mode: u32) -> &'static str {
    match mode & 0o170000 {
        0o140000 => "socket",
        0o120000 => "symlink",
        0o100000 | 0 => "file",
        0o060000 => "block_device",
        0o040000 => "directory",
        0o020000 => "char_device",
        0o010000 => "fifo",
        _ => "unknown",
    }
}

/// The major and minor numbers of a device number as mknod(2) takes it
/// (the kernel's `new_decode_dev`).
pub fn decode_dev(dev: u32) -> (u32, u32) {
    ((dev & 0xfff00) >> 8, (dev & 0xff) | ((dev >> 12) & 0xfff00))
}

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
    matches!(cmd, FSCONFIG_SET_STRING | FSCONFIG_SET_PATH | FSCONFIG_SET_PATH_EMPTY)
}

/// prctl(2) options a container runtime uses.
pub fn prctl_option(option: u32) -> Option<&'static str> {
    Some(match option {
        1 => "PR_SET_PDEATHSIG",
        4 => "PR_SET_DUMPABLE",
        8 => "PR_SET_KEEPCAPS",
        PR_SET_NAME => "PR_SET_NAME",
        PR_SET_SECCOMP => "PR_SET_SECCOMP",
        PR_CAPBSET_READ => "PR_CAPBSET_READ",
        PR_CAPBSET_DROP => "PR_CAPBSET_DROP",
        36 => "PR_SET_CHILD_SUBREAPER",
        38 => "PR_SET_NO_NEW_PRIVS",
        39 => "PR_GET_NO_NEW_PRIVS",
        PR_CAP_AMBIENT => "PR_CAP_AMBIENT",
        _ => return None,
    })
}

pub const PR_CAPBSET_READ: u32 = 23;
pub const PR_CAPBSET_DROP: u32 = 24;
pub const PR_CAP_AMBIENT: u32 = 47;

/// PR_CAP_AMBIENT's operations (its second argument).
pub fn cap_ambient_operation(operation: u64) -> String {
    match operation {
        1 => "PR_CAP_AMBIENT_IS_SET".into(),
        2 => "PR_CAP_AMBIENT_RAISE".into(),
        3 => "PR_CAP_AMBIENT_LOWER".into(),
        4 => "PR_CAP_AMBIENT_CLEAR_ALL".into(),
        other => other.to_string(),
    }
}

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

/// A capability's name (`CAP_SYS_ADMIN`) by its number, from the `caps`
/// crate's table: the one the runtime numbers the spec's capabilities with.
/// `None` for a number the table does not know (a newer kernel's).
pub fn capability(cap: i32) -> Option<&'static str> {
    static NAMES: OnceLock<[Option<String>; 64]> = OnceLock::new();
    let names = NAMES.get_or_init(|| {
        // caps names a capability through Display only: one String each,
        // made once, so that events can borrow them.
        let mut names = [const { None }; 64];
        for cap in caps::all() {
            if let Some(name) = names.get_mut(usize::from(cap.index())) {
                *name = Some(cap.to_string());
            }
        }
        names
    });
    names.get(usize::try_from(cap).ok()?)?.as_deref()
}

/// Every capability the name table knows, as a set: a set that holds them
/// all is "all capabilities".
pub fn known_capabilities() -> u64 {
    caps::all().iter().fold(0, |all, cap| all | cap.bitmask())
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
        assert_eq!(capability(-1), None);
        assert_eq!(capability(64), None);
    }

    /// The names are the kernel's, at the kernel's numbers (capability.h),
    /// and a number past the table has none.
    #[test]
    fn capabilities_are_named_by_their_kernel_number() {
        let named = [
            (0, "CAP_CHOWN"),
            (8, "CAP_SETPCAP"),
            (21, "CAP_SYS_ADMIN"),
            (40, "CAP_CHECKPOINT_RESTORE"),
        ];
        for (number, name) in named {
            assert_eq!(capability(number), Some(name), "capability {number}");
        }
        assert_eq!(capability(41), None, "newer than the table");
        assert_eq!(known_capabilities(), (1 << 41) - 1, "0 to 40, no gap");
    }

    #[test]
    fn open_flags_name_the_access_mode_and_combined_bits() {
        let append = (libc::O_WRONLY | libc::O_CREAT | libc::O_APPEND) as u64;
        assert_eq!(open_flag_names(append), ["O_WRONLY", "O_CREAT", "O_APPEND"]);
        let path = (libc::O_CLOEXEC | libc::O_PATH) as u64;
        assert_eq!(open_flag_names(path), ["O_RDONLY", "O_CLOEXEC", "O_PATH"]);
        let tmpfile = (libc::O_RDWR | libc::O_TMPFILE) as u64;
        assert_eq!(open_flag_names(tmpfile), ["O_RDWR", "O_TMPFILE"]);
    }

    #[test]
    fn device_numbers_decode_as_the_kernel_does() {
        // makedev(8, 1) and a minor above 255, in the 32-bit encoding.
        assert_eq!(decode_dev(0x0801), (8, 1));
        assert_eq!(decode_dev((4 << 8) | 0x45 | (0x123 << 20)), (4, 0x12345));
        assert_eq!(file_type(0o060600), "block_device");
        assert_eq!(file_type(0o600), "file");
    }
}
