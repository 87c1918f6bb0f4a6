//! AppArmor: the profile the process changes to at `execve`, as runc sets
//! it (`aa_change_onexec`). Where the host does not run AppArmor, a
//! profile is an error, as under runc (whose write to the attribute fails
//! there): a container never runs unconfined when its config asks for
//! confinement.

use std::io::Write;

use rustix::fs::{Mode, OFlags};

use crate::error::{Context, Error, Result};

/// Whether the host enforces AppArmor: the module is enabled and its
/// securityfs is there (the same test as runc's).
pub fn enabled() -> bool {
    std::path::Path::new("/sys/kernel/security/apparmor").exists()
        && std::fs::read_to_string("/sys/module/apparmor/parameters/enabled")
            .is_ok_and(|value| value.trim() == "Y")
}

/// The spec's field, named in every error about the profile.
const FIELD: &str = "process.apparmorProfile";

/// Why `profile` cannot be applied here, if it cannot: checked when the
/// config (or `exec`'s flags) are read, before anything is created.
pub fn unavailable(profile: &str) -> Option<String> {
    (!enabled())
        .then(|| format!("profile {profile:?} cannot be applied: this host does not run AppArmor"))
}

/// Writes `exec PROFILE` to this thread's AppArmor attribute (the per-LSM
/// path where the kernel has it, as runc), so that the next `execve`
/// enters the profile. The attribute must be procfs's own: a container
/// that mounted something over /proc would otherwise swallow the write and
/// run unconfined (runc's CVE-2019-16884).
pub fn change_on_exec(profile: &str) -> Result<()> {
    let newer = "/proc/thread-self/attr/apparmor/exec";
    let path =
        if std::path::Path::new(newer).exists() { newer } else { "/proc/thread-self/attr/exec" };
    let attribute = rustix::fs::open(path, OFlags::WRONLY | OFlags::CLOEXEC, Mode::empty())
        .map_err(std::io::Error::from)
        .context(|| format!("{FIELD} {profile:?}: opening {path}"))?;
    let stat = rustix::fs::fstatfs(&attribute)
        .map_err(std::io::Error::from)
        .context(|| format!("{FIELD} {profile:?}: statfs of {path}"))?;
    if stat.f_type as i64 != libc::PROC_SUPER_MAGIC {
        return Err(Error::invalid(
            FIELD,
            format!("{path} is not on procfs; refusing to set profile {profile:?} through it"),
        ));
    }
    let mut attribute = std::fs::File::from(attribute);
    match attribute.write_all(format!("exec {profile}").as_bytes()) {
        Ok(()) => Ok(()),
        // The kernel's answer when no profile of that name is loaded.
        Err(err) if err.raw_os_error() == Some(libc::ENOENT) => Err(Error::invalid(
            FIELD,
            format!("AppArmor profile {profile:?} is not loaded (see apparmor_parser)"),
        )),
        Err(cause) => Err(Error::Io {
            context: format!("{FIELD}: changing to AppArmor profile {profile:?} at exec"),
            cause,
        }),
    }
}
