//! Limits on a pure cgroup v2 host. v2 has no device controller: device
//! rules become an eBPF program attached to the cgroup ([`super::devices`]);
//! a kernel that refuses it fails the create, rather than leaving the
//! container free to open and mknod any device.

use std::path::Path;

use super::{
    bpf_syscall::attach_device_program,
    devices::DevicePolicy,
    resources::{Resources, blkio_to_io_weight, shares_to_weight},
};
use crate::error::{Context, Error, Result};

fn write(dir: &Path, file: &str, value: impl ToString) -> Result<()> {
    let path = dir.join(file);
    let value = value.to_string();
    std::fs::write(&path, &value).context(|| format!("writing {value:?} to {}", path.display()))
}

fn limit(value: i64) -> String {
    if value < 0 { "max".to_owned() } else { value.to_string() }
}

pub fn apply(dir: &Path, resources: &Resources) -> Result<()> {
    if let Some(limit_bytes) = resources.memory_limit {
        write(dir, "memory.max", limit(limit_bytes))?;
    }
    if let Some(reservation) = resources.memory_reservation {
        write(dir, "memory.low", limit(reservation))?;
    }
    if let Some(swap) = resources.memory_swap {
        // The spec's swap counts memory too; v2's does not.
        let swap_only = match resources.memory_limit {
            Some(memory) if swap >= 0 && memory >= 0 => limit(swap - memory),
            _ => limit(swap),
        };
        write(dir, "memory.swap.max", swap_only)?;
    }
    if let Some(shares) = resources.cpu_shares {
        write(dir, "cpu.weight", shares_to_weight(shares))?;
    }
    if resources.cpu_quota.is_some() || resources.cpu_period.is_some() {
        let quota = resources.cpu_quota.map_or_else(|| "max".to_owned(), limit);
        write(dir, "cpu.max", format!("{quota} {}", resources.cpu_period.unwrap_or(100_000)))?;
    }
    if let Some(cpus) = &resources.cpuset_cpus {
        write(dir, "cpuset.cpus", cpus)?;
    }
    if let Some(mems) = &resources.cpuset_mems {
        write(dir, "cpuset.mems", mems)?;
    }
    if let Some(pids) = resources.pids_limit {
        write(dir, "pids.max", if pids > 0 { pids.to_string() } else { "max".to_owned() })?;
    }
    if let Some(weight) = resources.blkio_weight {
        let file = if dir.join("io.weight").exists() { "io.weight" } else { "io.bfq.weight" };
        write(dir, file, blkio_to_io_weight(weight))?;
    }
    apply_devices(dir, resources)
}

fn apply_devices(dir: &Path, resources: &Resources) -> Result<()> {
    const FIELD: &str = "linux.resources.devices";
    let policy = DevicePolicy::from_rules(&resources.devices)
        .map_err(|err| Error::invalid(format!("{FIELD}[{}]", err.index), err.reason))?;
    if policy.allows_everything() {
        return Ok(());
    }
    attach_device_program(dir, &policy.program()).map_err(|refused| {
        let rules: Vec<String> = resources.devices.iter().map(|rule| rule.describe()).collect();
        let log = if refused.log.is_empty() {
            String::new()
        } else {
            format!(" (verifier: {})", refused.log)
        };
        Error::Sys {
            context: format!(
                "{FIELD}: {} the cgroup v2 device program for [{}] on {}{log}; the container \
                 does not run without its device rules",
                refused.what,
                rules.join(", "),
                dir.display(),
            ),
            cause: refused.errno,
        }
    })
}

/// Lets `dir`'s children use every controller `dir` has.
pub fn enable_controllers(dir: &Path) -> Result<()> {
    let available = std::fs::read_to_string(dir.join("cgroup.controllers"))
        .context(|| format!("reading {}", dir.join("cgroup.controllers").display()))?;
    let wanted: Vec<String> = available.split_whitespace().map(|c| format!("+{c}")).collect();
    if wanted.is_empty() {
        return Ok(());
    }
    write(dir, "cgroup.subtree_control", wanted.join(" "))
}
