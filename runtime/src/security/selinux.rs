//! SELinux: cradle applies no label. A label on a host without SELinux
//! fails as runc's does, with runc's words, which scripts match on; on a
//! host with SELinux it is refused as not implemented, never ignored.

use crate::error::{Error, Result};

/// runc's (go-selinux's validator's) message.
pub const DISABLED: &str =
    "selinux label is specified in config, but selinux is disabled or not supported";

/// The kernel registers selinuxfs only when SELinux is enabled at boot.
pub fn enabled() -> bool {
    std::fs::read_to_string("/proc/filesystems")
        .is_ok_and(|filesystems| filesystems.lines().any(|line| line.ends_with("\tselinuxfs")))
}

/// Refuses a label given in `field` (a config field or a flag); an empty
/// label is no label.
pub fn refuse_label(field: &str, label: &str, is_flag: bool) -> Result<()> {
    if label.is_empty() {
        return Ok(());
    }
    if enabled() {
        return Err(Error::unsupported(field, "SELinux labels are not implemented"));
    }
    Err(if is_flag {
        Error::InvalidArgument { flag: field.to_owned(), reason: DISABLED.to_owned() }
    } else {
        Error::invalid(field, DISABLED)
    })
}
