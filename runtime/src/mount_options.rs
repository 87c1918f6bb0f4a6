//! A mount's `options` as the kernel wants them: flags for `mount(2)`,
//! propagation changes (applied by a second call), recursive attributes
//! (`rro`, `rnosuid`, ...: `mount_setattr(2)` with `AT_RECURSIVE`, so they
//! reach every submount too), and the rest as the filesystem's data
//! string. The tables follow runc's.

use nix::mount::MsFlags;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MountOptions {
    /// Flags for the mount call (for a bind mount: for the remount).
    pub flags: MsFlags,
    /// `bind` or `rbind` was given.
    pub bind: bool,
    /// Propagation types to apply after mounting, in order.
    pub propagation: Vec<MsFlags>,
    /// Filesystem-specific options, comma-joined for `mount(2)`'s data.
    pub data: Vec<String>,
    /// `MOUNT_ATTR_*` to set and to clear on the mount and every submount.
    pub recursive: RecursiveAttributes,
}

/// `struct mount_attr`'s `attr_set` and `attr_clr`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RecursiveAttributes {
    pub set: u64,
    pub clear: u64,
}

impl RecursiveAttributes {
    pub fn is_empty(&self) -> bool {
        self.set == 0 && self.clear == 0
    }
}

// linux/mount.h; libc does not export them.
pub const MOUNT_ATTR_RDONLY: u64 = 0x1;
pub const MOUNT_ATTR_NOSUID: u64 = 0x2;
pub const MOUNT_ATTR_NODEV: u64 = 0x4;
pub const MOUNT_ATTR_NOEXEC: u64 = 0x8;
/// The access-time field: one of relatime (0), noatime, strictatime.
pub const MOUNT_ATTR_ATIME_MASK: u64 = 0x70;
pub const MOUNT_ATTR_RELATIME: u64 = 0x0;
pub const MOUNT_ATTR_NOATIME: u64 = 0x10;
pub const MOUNT_ATTR_STRICTATIME: u64 = 0x20;
pub const MOUNT_ATTR_NODIRATIME: u64 = 0x80;
pub const MOUNT_ATTR_NOSYMFOLLOW: u64 = 0x0020_0000;

impl Default for MountOptions {
    fn default() -> Self {
        MountOptions {
            flags: MsFlags::empty(),
            bind: false,
            propagation: Vec::new(),
            data: Vec::new(),
            recursive: RecursiveAttributes::default(),
        }
    }
}

impl MountOptions {
    pub fn parse<S: AsRef<str>>(options: &[S]) -> Self {
        let mut parsed = MountOptions::default();
        for option in options {
            let option = option.as_ref();
            if let Some((set, flag)) = flag_option(option) {
                if set {
                    parsed.flags |= flag;
                } else {
                    parsed.flags &= !flag;
                }
            } else if let Some(propagation) = propagation_option(option) {
                parsed.propagation.push(propagation);
            } else if let Some((set, attribute)) = recursive_option(option) {
                if set {
                    parsed.recursive.set |= attribute;
                    // mount_setattr(2): an access time is set by clearing
                    // the whole field along with it.
                    if attribute & MOUNT_ATTR_ATIME_MASK == attribute {
                        parsed.recursive.clear |= MOUNT_ATTR_ATIME_MASK;
                    }
                } else {
                    parsed.recursive.clear |= attribute;
                }
            } else if option == "bind" {
                parsed.bind = true;
                parsed.flags |= MsFlags::MS_BIND;
            } else if option == "rbind" {
                parsed.bind = true;
                parsed.flags |= MsFlags::MS_BIND | MsFlags::MS_REC;
            } else if !option.is_empty() {
                parsed.data.push(option.to_owned());
            }
        }
        parsed
    }

    pub fn data_string(&self) -> Option<String> {
        (!self.data.is_empty()).then(|| self.data.join(","))
    }
}

/// `(set, flag)`: whether the option sets or clears the flag.
fn flag_option(option: &str) -> Option<(bool, MsFlags)> {
    Some(match option {
        "defaults" => (true, MsFlags::empty()),
        "ro" => (true, MsFlags::MS_RDONLY),
        "rw" => (false, MsFlags::MS_RDONLY),
        "suid" => (false, MsFlags::MS_NOSUID),
        "nosuid" => (true, MsFlags::MS_NOSUID),
        "dev" => (false, MsFlags::MS_NODEV),
        "nodev" => (true, MsFlags::MS_NODEV),
        "exec" => (false, MsFlags::MS_NOEXEC),
        "noexec" => (true, MsFlags::MS_NOEXEC),
        "sync" => (true, MsFlags::MS_SYNCHRONOUS),
        "async" => (false, MsFlags::MS_SYNCHRONOUS),
        "dirsync" => (true, MsFlags::MS_DIRSYNC),
        "remount" => (true, MsFlags::MS_REMOUNT),
        "mand" => (true, MsFlags::MS_MANDLOCK),
        "nomand" => (false, MsFlags::MS_MANDLOCK),
        "atime" => (false, MsFlags::MS_NOATIME),
        "noatime" => (true, MsFlags::MS_NOATIME),
        "diratime" => (false, MsFlags::MS_NODIRATIME),
        "nodiratime" => (true, MsFlags::MS_NODIRATIME),
        "relatime" => (true, MsFlags::MS_RELATIME),
        "norelatime" => (false, MsFlags::MS_RELATIME),
        "strictatime" => (true, MsFlags::MS_STRICTATIME),
        "nostrictatime" => (false, MsFlags::MS_STRICTATIME),
        _ => return None,
    })
}

/// `(set, attribute)` for the recursive options.
fn recursive_option(option: &str) -> Option<(bool, u64)> {
    Some(match option {
        "rro" => (true, MOUNT_ATTR_RDONLY),
        "rrw" => (false, MOUNT_ATTR_RDONLY),
        "rnosuid" => (true, MOUNT_ATTR_NOSUID),
        "rsuid" => (false, MOUNT_ATTR_NOSUID),
        "rnodev" => (true, MOUNT_ATTR_NODEV),
        "rdev" => (false, MOUNT_ATTR_NODEV),
        "rnoexec" => (true, MOUNT_ATTR_NOEXEC),
        "rexec" => (false, MOUNT_ATTR_NOEXEC),
        "rnodiratime" => (true, MOUNT_ATTR_NODIRATIME),
        "rdiratime" => (false, MOUNT_ATTR_NODIRATIME),
        "rrelatime" => (true, MOUNT_ATTR_RELATIME),
        "rnorelatime" => (false, MOUNT_ATTR_RELATIME),
        "rnoatime" => (true, MOUNT_ATTR_NOATIME),
        "ratime" => (false, MOUNT_ATTR_NOATIME),
        "rstrictatime" => (true, MOUNT_ATTR_STRICTATIME),
        "rnostrictatime" => (false, MOUNT_ATTR_STRICTATIME),
        "rnosymfollow" => (true, MOUNT_ATTR_NOSYMFOLLOW),
        "rsymfollow" => (false, MOUNT_ATTR_NOSYMFOLLOW),
        _ => return None,
    })
}

pub fn propagation_option(option: &str) -> Option<MsFlags> {
    Some(match option {
        "private" => MsFlags::MS_PRIVATE,
        "rprivate" => MsFlags::MS_PRIVATE | MsFlags::MS_REC,
        "shared" => MsFlags::MS_SHARED,
        "rshared" => MsFlags::MS_SHARED | MsFlags::MS_REC,
        "slave" => MsFlags::MS_SLAVE,
        "rslave" => MsFlags::MS_SLAVE | MsFlags::MS_REC,
        "unbindable" => MsFlags::MS_UNBINDABLE,
        "runbindable" => MsFlags::MS_UNBINDABLE | MsFlags::MS_REC,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_flags_propagation_and_data() {
        let parsed = MountOptions::parse(&[
            "nosuid",
            "noexec",
            "newinstance",
            "ptmxmode=0666",
            "rslave",
            "ro",
        ]);
        assert_eq!(parsed.flags, MsFlags::MS_NOSUID | MsFlags::MS_NOEXEC | MsFlags::MS_RDONLY);
        assert_eq!(parsed.propagation, vec![MsFlags::MS_SLAVE | MsFlags::MS_REC]);
        assert_eq!(parsed.data_string().as_deref(), Some("newinstance,ptmxmode=0666"));
        assert!(!parsed.bind);
    }

    #[test]
    fn later_options_override_earlier_ones() {
        let parsed = MountOptions::parse(&["ro", "rw", "nodev", "dev"]);
        assert_eq!(parsed.flags, MsFlags::empty());
    }

    #[test]
    fn recursive_options_are_attributes_not_data() {
        let parsed = MountOptions::parse(&["rbind", "rro", "rnosuid", "rdev", "rnoatime"]);
        assert_eq!(
            parsed.recursive.set,
            MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NOATIME
        );
        assert_eq!(parsed.recursive.clear, MOUNT_ATTR_NODEV | MOUNT_ATTR_ATIME_MASK);
        assert_eq!(parsed.data_string(), None);
        assert!(!parsed.flags.contains(MsFlags::MS_RDONLY));
    }

    #[test]
    fn rbind_is_recursive_bind() {
        let parsed = MountOptions::parse(&["rbind", "ro"]);
        assert!(parsed.bind);
        assert!(parsed.flags.contains(MsFlags::MS_BIND | MsFlags::MS_REC | MsFlags::MS_RDONLY));
        assert_eq!(parsed.data_string(), None);
    }
}
