//! A new user namespace, in runc's order: the init is cloned into it (the
//! other new namespaces with it, so they are owned by it), the parent
//! writes its id maps while the init waits, and only then does the init
//! become root inside it and build the container.
//!
//! A runtime that is root writes the maps itself. An unprivileged one may
//! write only a map of its own id (after denying setgroups, as the kernel
//! requires); any other map goes through the setuid helpers
//! `newuidmap`/`newgidmap`, which check `/etc/subuid` and `/etc/subgid`.

use std::process::Command;

use nix::unistd::{Gid, Pid, Uid, getegid, geteuid, setgroups, setresgid, setresuid};

use crate::{
    config::{IdMapping, IdMappings},
    error::{Context, Error, Result},
};

/// Writes `/proc/PID/{uid,gid}_map` for the init waiting in its new user
/// namespace.
pub fn write_id_maps(pid: Pid, mappings: &IdMappings) -> Result<()> {
    let privileged = geteuid().is_root();
    let own_only = |maps: &[IdMapping], own: u32| matches!(maps, [only] if only.size == 1 && only.host_id == own);
    let uids_direct = privileged || own_only(&mappings.uids, geteuid().as_raw());
    let gids_direct = privileged || own_only(&mappings.gids, getegid().as_raw());
    if !privileged && gids_direct {
        // An unprivileged writer of gid_map must first give up setgroups.
        write_proc(pid, "setgroups", "deny")?;
    }
    for (file, maps, direct, helper) in [
        ("uid_map", &mappings.uids, uids_direct, "newuidmap"),
        ("gid_map", &mappings.gids, gids_direct, "newgidmap"),
    ] {
        if direct {
            let text: String = maps
                .iter()
                .map(|m| format!("{} {} {}\n", m.container_id, m.host_id, m.size))
                .collect();
            write_proc(pid, file, &text)?;
        } else {
            run_helper(helper, pid, maps)?;
        }
    }
    Ok(())
}

fn write_proc(pid: Pid, file: &str, text: &str) -> Result<()> {
    let path = format!("/proc/{pid}/{file}");
    std::fs::write(&path, text).context(|| format!("writing {:?} to {path}", text.trim_end()))
}

fn run_helper(helper: &str, pid: Pid, maps: &[IdMapping]) -> Result<()> {
    let mut command = Command::new(helper);
    command.arg(pid.to_string());
    for map in maps {
        command.args([map.container_id, map.host_id, map.size].map(|n| n.to_string()));
    }
    let output = command.output().map_err(|err| {
        Error::Init(format!(
            "running {helper} for a multi-id mapping as an unprivileged user: {err} (is the \
             uidmap package installed?)"
        ))
    })?;
    if !output.status.success() {
        return Err(Error::Init(format!(
            "{helper} {pid} refused the mapping ({}): {}",
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        )));
    }
    Ok(())
}

/// Run by the init (or `exec`'s child) once inside the user namespace and
/// its maps are written: root there, with no supplementary group of the
/// host's (when setgroups is allowed at all).
pub fn become_root() -> Result<()> {
    let setgroups_allowed = std::fs::read_to_string("/proc/self/setgroups")
        .map(|policy| policy.trim() != "deny")
        .unwrap_or(true);
    if setgroups_allowed {
        setgroups(&[])
            .context(|| "dropping supplementary groups in the user namespace".to_owned())?;
    }
    let root_gid = Gid::from_raw(0);
    setresgid(root_gid, root_gid, root_gid)
        .context(|| "becoming gid 0 in the user namespace".to_owned())?;
    let root_uid = Uid::from_raw(0);
    setresuid(root_uid, root_uid, root_uid)
        .context(|| "becoming uid 0 in the user namespace".to_owned())
}
