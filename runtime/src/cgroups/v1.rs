//! Limits on cgroup v1: each goes to its controller's directory.

use std::path::Path;

use super::resources::Resources;
use crate::error::{Context, Result};

fn write(dir: &Path, file: &str, value: impl ToString) -> Result<()> {
    let path = dir.join(file);
    let value = value.to_string();
    std::fs::write(&path, &value).context(|| format!("writing {value:?} to {}", path.display()))
}

pub fn apply(dir: &Path, controllers: &[String], resources: &Resources) -> Result<()> {
    let has = |name: &str| controllers.iter().any(|controller| controller == name);
    if has("memory") {
        // The limit first: memsw may not be below it.
        if let Some(limit) = resources.memory_limit {
            write(dir, "memory.limit_in_bytes", limit)?;
        }
        if let Some(reservation) = resources.memory_reservation {
            write(dir, "memory.soft_limit_in_bytes", reservation)?;
        }
        if let Some(swap) = resources.memory_swap {
            write(dir, "memory.memsw.limit_in_bytes", swap)?;
        }
    }
    if has("cpu") {
        if let Some(shares) = resources.cpu_shares {
            write(dir, "cpu.shares", shares)?;
        }
        if let Some(period) = resources.cpu_period {
            write(dir, "cpu.cfs_period_us", period)?;
        }
        if let Some(quota) = resources.cpu_quota {
            write(dir, "cpu.cfs_quota_us", quota)?;
        }
    }
    if has("cpuset") {
        if let Some(cpus) = &resources.cpuset_cpus {
            write(dir, "cpuset.cpus", cpus)?;
        }
        if let Some(mems) = &resources.cpuset_mems {
            write(dir, "cpuset.mems", mems)?;
        }
    }
    if has("pids")
        && let Some(limit) = resources.pids_limit
    {
        if limit > 0 {
            write(dir, "pids.max", limit)?;
        } else {
            write(dir, "pids.max", "max")?;
        }
    }
    if has("blkio")
        && let Some(weight) = resources.blkio_weight
    {
        // Kernels without CFQ only have the BFQ file.
        if dir.join("blkio.weight").exists() {
            write(dir, "blkio.weight", weight)?;
        } else {
            write(dir, "blkio.bfq.weight", weight)?;
        }
    }
    if has("devices") {
        for rule in &resources.devices {
            let file = if rule.allow { "devices.allow" } else { "devices.deny" };
            write(dir, file, rule.v1_line())?;
        }
    }
    Ok(())
}

/// A new cpuset cgroup has no CPUs and no memory nodes: take the parent's.
pub fn inherit_cpuset(parent: &Path, dir: &Path) -> Result<()> {
    for file in ["cpuset.cpus", "cpuset.mems"] {
        let current = std::fs::read_to_string(dir.join(file)).unwrap_or_default();
        if current.trim().is_empty() {
            let inherited = std::fs::read_to_string(parent.join(file))
                .context(|| format!("reading {}", parent.join(file).display()))?;
            write(dir, file, inherited.trim())?;
        }
    }
    Ok(())
}
