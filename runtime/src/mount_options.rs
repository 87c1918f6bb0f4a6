//! A mount's `options` as the kernel wants them: flags for `mount(2)`,
//! propagation changes (applied by a second call), and the rest as the
//! filesystem's data string. The table follows runc's.

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
}

impl Default for MountOptions {
    fn default() -> Self {
        MountOptions {
            flags: MsFlags::empty(),
            bind: false,
            propagation: Vec::new(),
            data: Vec::new(),
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
    fn rbind_is_recursive_bind() {
        let parsed = MountOptions::parse(&["rbind", "ro"]);
        assert!(parsed.bind);
        assert!(parsed.flags.contains(MsFlags::MS_BIND | MsFlags::MS_REC | MsFlags::MS_RDONLY));
        assert_eq!(parsed.data_string(), None);
    }
}
