//! Limits on a pure cgroup v2 host. v2 has no device controller: device
//! rules become an eBPF program attached to the cgroup ([`super::devices`]);
//! a kernel that refuses it fails the create, rather than leaving the
//! container free to open and mknod any device.

use std::path::Path;

use super::{
    bpf_syscall::attach_device_program,
    devices::DevicePolicy,
    resources::{Resources, blkio_to_io_weight, rdma_line, shares_to_weight},
};
use crate::error::{Context, Error, Result};

/// Writes a limit for `field`, saying so when its controller is missing.
fn set(dir: &Path, field: &str, file: &str, value: impl ToString) -> Result<()> {
    if let Some(err) = missing_controller(dir, field, file) {
        return Err(err);
    }
    super::write_field(dir, field, file, value)
}

fn write(dir: &Path, file: &str, value: impl ToString) -> Result<()> {
    let path = dir.join(file);
    let value = value.to_string();
    std::fs::write(&path, &value).context(|| format!("writing {value:?} to {}", path.display()))
}

fn limit(value: i64) -> String {
    if value < 0 { "max".to_owned() } else { value.to_string() }
}

const MEMORY: &str = "linux.resources.memory";
const CPU: &str = "linux.resources.cpu";
const BLOCK_IO: &str = "linux.resources.blockIO";

pub fn apply(dir: &Path, resources: &Resources) -> Result<()> {
    // What cgroup v2 has no file for: runc 1.1 drops these without a word.
    let unsupported = [
        ("linux.resources.memory.swappiness", resources.memory_swappiness.is_some()),
        ("linux.resources.memory.disableOOMKiller", resources.disable_oom_killer),
        (
            "linux.resources.cpu.realtimeRuntime/realtimePeriod",
            resources.cpu_realtime_runtime.is_some() || resources.cpu_realtime_period.is_some(),
        ),
        (
            "linux.resources.network",
            resources.net_class_id.is_some() || !resources.net_priorities.is_empty(),
        ),
        ("linux.resources.blockIO.leafWeight", resources.blkio_leaf_weight.is_some()),
    ];
    for (field, _) in unsupported.iter().filter(|(_, asked)| *asked) {
        tracing::warn!("{field}: cgroup v2 has no such setting; ignored, as runc does");
    }
    apply_memory(dir, resources)?;
    apply_cpu(dir, resources)?;
    if let Some(pids) = resources.pids_limit {
        let value = if pids > 0 { pids.to_string() } else { "max".to_owned() };
        set(dir, "linux.resources.pids.limit", "pids.max", value)?;
    }
    apply_io(dir, resources)?;
    for (page_size, limit_bytes) in &resources.hugepage_limits {
        let file = format!("hugetlb.{page_size}.max");
        set(dir, "linux.resources.hugepageLimits", &file, limit_bytes)?;
    }
    for (device, handles, objects) in &resources.rdma {
        set(dir, &super::rdma_field(device), "rdma.max", rdma_line(device, *handles, *objects))?;
    }
    for (file, value) in &resources.unified {
        set(dir, &format!("linux.resources.unified[{file:?}]"), file, value)?;
    }
    apply_devices(dir, resources)
}

fn apply_memory(dir: &Path, resources: &Resources) -> Result<()> {
    // Swap first, as runc: v2's swap limit excludes memory, the spec's
    // includes it.
    let memory = resources.memory_limit.unwrap_or(0);
    let swap = match (resources.memory_swap, memory) {
        (None, -1) => Some(-1),
        (None, _) => None,
        (Some(-1), _) => Some(-1),
        (Some(_), 0 | -1) => {
            return Err(Error::invalid(
                format!("{MEMORY}.swap"),
                "a swap limit needs a memory limit on cgroup v2",
            ));
        }
        (Some(swap), memory) if swap < memory => {
            return Err(Error::invalid(
                format!("{MEMORY}.swap"),
                format!("{swap} is below the memory limit {memory} (swap counts memory too)"),
            ));
        }
        (Some(swap), memory) => Some(swap - memory),
    };
    if let Some(swap) = swap {
        set(dir, &format!("{MEMORY}.swap"), "memory.swap.max", limit(swap))?;
    }
    if let Some(limit_bytes) = resources.memory_limit {
        set(dir, &format!("{MEMORY}.limit"), "memory.max", limit(limit_bytes))?;
    }
    if let Some(reservation) = resources.memory_reservation {
        set(dir, &format!("{MEMORY}.reservation"), "memory.low", limit(reservation))?;
    }
    Ok(())
}

fn apply_cpu(dir: &Path, resources: &Resources) -> Result<()> {
    // First, as runc 1.2: the kernel refuses a weight for an idle group,
    // so idle with shares fails there as under runc.
    if let Some(idle) = resources.cpu_idle {
        set(dir, &format!("{CPU}.idle"), "cpu.idle", idle)?;
    }
    if let Some(shares) = resources.cpu_shares {
        set(dir, &format!("{CPU}.shares"), "cpu.weight", shares_to_weight(shares))?;
    }
    if resources.cpu_quota.is_some() || resources.cpu_period.is_some() {
        let quota =
            resources.cpu_quota.filter(|q| *q > 0).map_or("max".to_owned(), |q| q.to_string());
        let value = format!("{quota} {}", resources.cpu_period.unwrap_or(100_000));
        set(dir, &format!("{CPU}.quota"), "cpu.max", value)?;
    }
    // After the quota, which a burst may not exceed.
    if let Some(burst) = resources.cpu_burst {
        set(dir, &format!("{CPU}.burst"), "cpu.max.burst", burst)?;
    }
    if let Some(cpus) = &resources.cpuset_cpus {
        set(dir, &format!("{CPU}.cpus"), "cpuset.cpus", cpus)?;
    }
    if let Some(mems) = &resources.cpuset_mems {
        set(dir, &format!("{CPU}.mems"), "cpuset.mems", mems)?;
    }
    Ok(())
}

/// As runc: BFQ's own weight file where the kernel has BFQ (same scale as
/// v1), else `io.weight` with the converted value; throttles in `io.max`.
fn apply_io(dir: &Path, resources: &Resources) -> Result<()> {
    let bfq = dir.join("io.bfq.weight").exists();
    if let Some(weight) = resources.blkio_weight {
        if bfq {
            set(dir, &format!("{BLOCK_IO}.weight"), "io.bfq.weight", weight)?;
        } else {
            set(dir, &format!("{BLOCK_IO}.weight"), "io.weight", blkio_to_io_weight(weight))?;
        }
    }
    for (index, device) in resources.blkio_weight_devices.iter().enumerate() {
        let field = format!("{BLOCK_IO}.weightDevice[{index}]");
        if device.leaf_weight.is_some() {
            tracing::warn!("{field}.leafWeight: cgroup v2 has no such setting; ignored");
        }
        let Some(weight) = device.weight else { continue };
        if !bfq {
            return Err(Error::invalid(
                field,
                format!(
                    "a per-device weight needs the BFQ scheduler's io.bfq.weight, which {} lacks",
                    dir.display()
                ),
            ));
        }
        set(dir, &field, "io.bfq.weight", format!("{} {weight}", device.device))?;
    }
    for (kind, device, rate) in &resources.blkio_throttle {
        let value = format!("{device} {}={rate}", kind.v2_key());
        set(dir, &format!("{BLOCK_IO}.throttle"), "io.max", value)?;
    }
    Ok(())
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

/// Lets `dir`'s children use every controller `dir` has, as runc does:
/// all at once, else one by one, ignoring refusals. A delegation that
/// withholds a controller, or a parent that holds processes (cgroup v2's
/// no-internal-processes rule: EBUSY), leaves it off; a limit that needs
/// it then fails with its own error ([`apply`]).
pub fn enable_controllers(dir: &Path) {
    let available = std::fs::read_to_string(dir.join("cgroup.controllers")).unwrap_or_default();
    let wanted: Vec<String> = available.split_whitespace().map(|c| format!("+{c}")).collect();
    if wanted.is_empty() {
        return;
    }
    let enabled = std::fs::read_to_string(dir.join("cgroup.subtree_control")).unwrap_or_default();
    if wanted.iter().all(|c| enabled.split_whitespace().any(|on| on == &c[1..])) {
        return;
    }
    if let Err(err) = write(dir, "cgroup.subtree_control", wanted.join(" ")) {
        tracing::debug!("{err}; enabling the controllers one by one");
        for controller in &wanted {
            if let Err(err) = write(dir, "cgroup.subtree_control", controller) {
                tracing::debug!("{err}");
            }
        }
    }
}

/// Refuses a cgroup in a mode that cannot take the container: runc's
/// check ("domain invalid": an internal process above it; "threaded":
/// only thread-aware controllers, while a container needs memory, io,
/// pids).
pub fn check_type(dir: &Path) -> Result<()> {
    let kind = std::fs::read_to_string(dir.join("cgroup.type")).unwrap_or_default();
    match kind.trim() {
        "domain invalid" | "domain threaded" | "threaded" => Err(Error::invalid(
            "linux.cgroupsPath",
            format!(
                "cannot enter cgroup v2 {} with domain controllers: it is in {:?} mode",
                dir.display(),
                kind.trim()
            ),
        )),
        _ => Ok(()),
    }
}

/// The controller that owns `file` (`memory.max`: memory), when `dir`
/// lacks it: the error says why, rather than the kernel's EACCES on a
/// file that does not exist.
fn missing_controller(dir: &Path, field: &str, file: &str) -> Option<Error> {
    let controller = file.split('.').next()?;
    if dir.join(file).exists() || matches!(controller, "cgroup") {
        return None;
    }
    let controllers = std::fs::read_to_string(dir.join("cgroup.controllers")).unwrap_or_default();
    let parent = dir.parent().unwrap_or(dir);
    let reason = if controllers.split_whitespace().any(|c| c == controller) {
        format!("the kernel has no {file} (in {})", dir.display())
    } else {
        format!(
            "the {controller} controller is not enabled for {} (not delegated to {}, or \
             cgroup v2's no-internal-processes rule: a cgroup above it holds processes)",
            dir.display(),
            parent.display()
        )
    };
    Some(Error::invalid(field, reason))
}
