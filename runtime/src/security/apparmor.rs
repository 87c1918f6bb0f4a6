//! AppArmor: the profile the process changes to at `execve`, where the
//! host runs AppArmor.

use crate::error::{Context, Result};

pub fn enabled() -> bool {
    std::fs::read_to_string("/sys/module/apparmor/parameters/enabled")
        .is_ok_and(|value| value.trim() == "Y")
}

/// Writes `exec PROFILE` to the process's AppArmor attribute (the newer
/// per-LSM path first).
pub fn change_on_exec(profile: &str) -> Result<()> {
    let command = format!("exec {profile}");
    let newer = std::fs::write("/proc/self/attr/apparmor/exec", &command);
    if newer.is_ok() {
        return Ok(());
    }
    std::fs::write("/proc/self/attr/exec", &command)
        .context(|| format!("changing to AppArmor profile {profile:?}"))
}
