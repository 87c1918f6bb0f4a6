//! Limits on cgroup v1: each goes to its controller's directory.

use std::path::Path;

use super::resources::{Resources, rdma_line};
use crate::error::{Context, Result};

fn write(dir: &Path, file: &str, value: impl ToString) -> Result<()> {
    let path = dir.join(file);
    let value = value.to_string();
    std::fs::write(&path, &value).context(|| format!("writing {value:?} to {}", path.display()))
}

/// Writes `value` to `file` when the kernel has it; otherwise warns, as
/// for runc's blkio weights on a kernel without CFQ or BFQ.
fn write_if_present(dir: &Path, field: &str, file: &str, value: impl ToString) -> Result<()> {
    if dir.join(file).exists() {
        write(dir, file, value)
    } else {
        tracing::warn!("{field}: this kernel has no {file}; skipped");
        Ok(())
    }
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
        if resources.disable_oom_killer {
            write(dir, "memory.oom_control", 1)?;
        }
        if let Some(swappiness) = resources.memory_swappiness {
            write(dir, "memory.swappiness", swappiness)?;
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
        // After the quota, which a burst may not exceed.
        if let Some(burst) = resources.cpu_burst {
            write_if_present(dir, "linux.resources.cpu.burst", "cpu.cfs_burst_us", burst)?;
        }
        // The period first, as runc: the runtime may not exceed it.
        if let Some(period) = resources.cpu_realtime_period {
            write(dir, "cpu.rt_period_us", period)?;
        }
        if let Some(runtime) = resources.cpu_realtime_runtime {
            write(dir, "cpu.rt_runtime_us", runtime)?;
        }
        if let Some(idle) = resources.cpu_idle {
            write(dir, "cpu.idle", idle)?;
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
    if has("blkio") {
        apply_blkio(dir, resources)?;
    }
    if has("hugetlb") {
        for (page_size, limit) in &resources.hugepage_limits {
            write(dir, &format!("hugetlb.{page_size}.limit_in_bytes"), limit)?;
        }
    }
    if has("net_cls")
        && let Some(class_id) = resources.net_class_id
    {
        write(dir, "net_cls.classid", class_id)?;
    }
    if has("net_prio") {
        for (interface, priority) in &resources.net_priorities {
            write(dir, "net_prio.ifpriomap", format!("{interface} {priority}"))?;
        }
    }
    if has("rdma") {
        for (device, handles, objects) in &resources.rdma {
            let line = rdma_line(device, *handles, *objects);
            super::write_field(dir, &super::rdma_field(device), "rdma.max", line)?;
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

/// As runc: BFQ's files where the kernel has BFQ, else CFQ's.
fn apply_blkio(dir: &Path, resources: &Resources) -> Result<()> {
    const FIELD: &str = "linux.resources.blockIO";
    let bfq = dir.join("blkio.bfq.weight").exists();
    let (weight_file, device_file) = if bfq {
        ("blkio.bfq.weight", "blkio.bfq.weight_device")
    } else {
        ("blkio.weight", "blkio.weight_device")
    };
    if let Some(weight) = resources.blkio_weight {
        write_if_present(dir, &format!("{FIELD}.weight"), weight_file, weight)?;
    }
    if let Some(weight) = resources.blkio_leaf_weight {
        write_if_present(dir, &format!("{FIELD}.leafWeight"), "blkio.leaf_weight", weight)?;
    }
    for (index, device) in resources.blkio_weight_devices.iter().enumerate() {
        let field = format!("{FIELD}.weightDevice[{index}]");
        if let Some(weight) = device.weight {
            write_if_present(dir, &field, device_file, format!("{} {weight}", device.device))?;
        }
        if let Some(weight) = device.leaf_weight {
            let line = format!("{} {weight}", device.device);
            write_if_present(dir, &field, "blkio.leaf_weight_device", line)?;
        }
    }
    for (kind, device, rate) in &resources.blkio_throttle {
        write(dir, kind.v1_file(), format!("{device} {rate}"))?;
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
