//! What runc's `pause`, `resume`, `ps`, `kill --all` and `update` do to a
//! created container's cgroup: freeze or thaw it (v1's `freezer.state`,
//! v2's `cgroup.freeze`), list its processes, write new limits.

use std::{path::Path, time::Duration};

use super::{CgroupDir, Resources, frozen, procs, v1, v2};
use crate::error::{Context, Error, Result};

/// The directory that freezes the container: v1's freezer controller where
/// there is one (as runc on a v1 or hybrid host), else the v2 one.
fn freezer(dirs: &[CgroupDir]) -> Result<&CgroupDir> {
    let has = |dir: &&CgroupDir, name: &str| {
        dir.controllers.as_ref().is_some_and(|c| c.iter().any(|c| c == name))
    };
    dirs.iter()
        .find(|dir| has(dir, "freezer"))
        .or_else(|| dirs.iter().find(|dir| dir.controllers.is_none()))
        .ok_or_else(|| {
            Error::InvalidState("the container has no freezer cgroup to pause it with".to_owned())
        })
}

/// Whether the container's cgroup is frozen (runc's `paused`).
pub fn is_paused(dirs: &[CgroupDir]) -> bool {
    freezer(dirs).is_ok_and(|dir| frozen(&dir.path))
}

/// Freezes (`true`) or thaws the container, and waits until the kernel
/// says it is done. A freeze that does not settle is undone and reported.
pub fn set_frozen(dirs: &[CgroupDir], freeze: bool) -> Result<()> {
    let dir = &freezer(dirs)?.path;
    let v1 = dir.join("freezer.state").exists();
    let (file, value) = match (v1, freeze) {
        (true, true) => ("freezer.state", "FROZEN"),
        (true, false) => ("freezer.state", "THAWED"),
        (false, true) => ("cgroup.freeze", "1"),
        (false, false) => ("cgroup.freeze", "0"),
    };
    // Bounded: a task in uninterruptible sleep can hold a v1 freeze back;
    // runc retries the write the same way.
    for _ in 0..1000 {
        write(dir, file, value)?;
        if settled(dir, v1, freeze) {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    if freeze {
        let _ = set_frozen(dirs, false);
    }
    Err(Error::InvalidState(format!("{} did not become {value}", dir.join(file).display())))
}

fn settled(dir: &Path, v1: bool, freeze: bool) -> bool {
    if v1 {
        let state = std::fs::read_to_string(dir.join("freezer.state")).unwrap_or_default();
        return state.trim() == if freeze { "FROZEN" } else { "THAWED" };
    }
    let events = std::fs::read_to_string(dir.join("cgroup.events")).unwrap_or_default();
    let wanted = if freeze { "frozen 1" } else { "frozen 0" };
    events.lines().any(|line| line.trim() == wanted)
}

fn write(dir: &Path, file: &str, value: &str) -> Result<()> {
    let path = dir.join(file);
    std::fs::write(&path, value).context(|| format!("writing {value:?} to {}", path.display()))
}

/// Every process in the container's cgroup and the cgroups below it, as
/// pids of the runtime's pid namespace, sorted.
pub fn processes(dirs: &[CgroupDir]) -> Vec<i32> {
    // Any one hierarchy holds them all; exec joins every one.
    let Some(dir) = dirs.first() else { return Vec::new() };
    let mut pids = Vec::new();
    collect(&dir.path, &mut pids);
    pids.sort_unstable();
    pids.dedup();
    pids
}

fn collect(dir: &Path, pids: &mut Vec<i32>) {
    pids.extend(procs(dir));
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        if entry.file_type().is_ok_and(|t| t.is_dir()) {
            collect(&entry.path(), pids);
        }
    }
}

/// Writes new limits into the container's cgroup (runc's `update`).
pub fn update(dirs: &[CgroupDir], resources: &Resources) -> Result<()> {
    for dir in dirs {
        match &dir.controllers {
            Some(controllers) => v1::apply(&dir.path, controllers, resources)?,
            None => v2::apply(&dir.path, resources)?,
        }
    }
    Ok(())
}
