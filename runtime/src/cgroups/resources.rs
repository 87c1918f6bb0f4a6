//! `linux.resources`, checked: the limits cradle writes. Fields it does
//! not write are named in a warning as not applied.

use oci_spec::runtime::{
    LinuxBlockIo, LinuxCpu, LinuxDeviceCgroup, LinuxDeviceType, LinuxHugepageLimit, LinuxMemory,
    LinuxNetwork, LinuxResources,
};

use crate::error::{Error, Result};

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Resources {
    pub memory_limit: Option<i64>,
    pub memory_reservation: Option<i64>,
    /// Memory plus swap, as in the spec (v1's `memsw`).
    pub memory_swap: Option<i64>,
    pub cpu_shares: Option<u64>,
    pub cpu_quota: Option<i64>,
    pub cpu_period: Option<u64>,
    pub cpuset_cpus: Option<String>,
    pub cpuset_mems: Option<String>,
    pub pids_limit: Option<i64>,
    pub blkio_weight: Option<u16>,
    /// In order; later rules override earlier ones.
    pub devices: Vec<DeviceRule>,
    pub memory_swappiness: Option<u64>,
    pub disable_oom_killer: bool,
    pub cpu_realtime_runtime: Option<i64>,
    pub cpu_realtime_period: Option<u64>,
    pub cpu_idle: Option<i64>,
    /// CFS burst, in microseconds (runc 1.2's `cpu.burst`).
    pub cpu_burst: Option<u64>,
    pub blkio_leaf_weight: Option<u16>,
    pub blkio_weight_devices: Vec<WeightDevice>,
    /// `(file suffix, device)`: `read_bps_device` (v1) / `rbps` (v2), ...
    pub blkio_throttle: Vec<(Throttle, Device, u64)>,
    /// `(page size as in the file name, e.g. 2MB; limit in bytes)`.
    pub hugepage_limits: Vec<(String, u64)>,
    pub net_class_id: Option<u32>,
    /// `(interface, priority)`.
    pub net_priorities: Vec<(String, u32)>,
    /// `(device, hca_handle, hca_object)`, sorted by device.
    pub rdma: Vec<(String, Option<u32>, Option<u32>)>,
    /// cgroup v2 files and values, sorted by file.
    pub unified: Vec<(String, String)>,
}

/// A block device, `major:minor`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Device {
    pub major: i64,
    pub minor: i64,
}

impl std::fmt::Display for Device {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.major, self.minor)
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WeightDevice {
    pub device: Device,
    pub weight: Option<u16>,
    pub leaf_weight: Option<u16>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Throttle {
    ReadBps,
    WriteBps,
    ReadIops,
    WriteIops,
}

impl Throttle {
    /// v1's `blkio.throttle.*` file.
    pub fn v1_file(self) -> &'static str {
        match self {
            Throttle::ReadBps => "blkio.throttle.read_bps_device",
            Throttle::WriteBps => "blkio.throttle.write_bps_device",
            Throttle::ReadIops => "blkio.throttle.read_iops_device",
            Throttle::WriteIops => "blkio.throttle.write_iops_device",
        }
    }

    /// v2's `io.max` key.
    pub fn v2_key(self) -> &'static str {
        match self {
            Throttle::ReadBps => "rbps",
            Throttle::WriteBps => "wbps",
            Throttle::ReadIops => "riops",
            Throttle::WriteIops => "wiops",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeviceRule {
    pub allow: bool,
    /// `a`, `c` or `b`.
    pub kind: char,
    pub major: Option<i64>,
    pub minor: Option<i64>,
    /// Letters of `rwm`.
    pub access: String,
}

impl DeviceRule {
    pub fn allow_char(major: i64, minor: Option<i64>) -> Self {
        DeviceRule { allow: true, kind: 'c', major: Some(major), minor, access: "rwm".to_owned() }
    }

    /// v1's `devices.allow` / `devices.deny` line: `c 1:3 rwm`, `a *:* rwm`.
    pub fn v1_line(&self) -> String {
        let number = |n: Option<i64>| n.map_or_else(|| "*".to_owned(), |n| n.to_string());
        format!("{} {}:{} {}", self.kind, number(self.major), number(self.minor), self.access)
    }

    /// `allow c 1:3 rwm`: the rule as an error message names it.
    pub fn describe(&self) -> String {
        format!("{} {}", if self.allow { "allow" } else { "deny" }, self.v1_line())
    }
}

impl Resources {
    /// The limits: every field is applied (where the host's cgroups have
    /// its file) or refused, none is accepted and dropped.
    pub fn from_spec(spec: &LinuxResources) -> Result<Self> {
        let mut resources = Resources::default();
        if let Some(memory) = spec.memory() {
            resources.read_memory(memory)?;
        }
        if let Some(cpu) = spec.cpu() {
            resources.read_cpu(cpu);
        }
        if let Some(pids) = spec.pids() {
            resources.pids_limit = set(Some(pids.limit()));
        }
        if let Some(block_io) = spec.block_io() {
            resources.read_block_io(block_io);
        }
        for (index, rule) in spec.devices().iter().flatten().enumerate() {
            resources.devices.push(device_rule(index, rule)?);
        }
        for (index, limit) in spec.hugepage_limits().iter().flatten().enumerate() {
            resources.hugepage_limits.push(hugepage_limit(index, limit)?);
        }
        if let Some(network) = spec.network() {
            resources.read_network(network);
        }
        for (device, rdma) in spec.rdma().iter().flatten() {
            resources.rdma.push((device.clone(), rdma.hca_handles(), rdma.hca_objects()));
        }
        resources.rdma.sort();
        for (file, value) in spec.unified().iter().flatten() {
            resources.unified.push(unified_file(file, value)?);
        }
        resources.unified.sort();
        Ok(resources)
    }

    /// `linux.resources.memory`.
    fn read_memory(&mut self, memory: &LinuxMemory) -> Result<()> {
        self.memory_limit = set(memory.limit());
        self.memory_reservation = set(memory.reservation());
        self.memory_swap = set(memory.swap());
        // runc: -1 (here u64::MAX) and absent leave the kernel's value.
        self.memory_swappiness = memory.swappiness().filter(|s| *s != u64::MAX);
        if let Some(swappiness) = self.memory_swappiness.filter(|s| *s > 100) {
            return Err(Error::invalid(
                "linux.resources.memory.swappiness",
                format!("{swappiness} is out of range (0-100)"),
            ));
        }
        // `false` asks for the default, which needs no write.
        self.disable_oom_killer = memory.disable_oom_killer() == Some(true);
        if set(memory.kernel()).is_some() || set(memory.kernel_tcp()).is_some() {
            // runc 1.1's words: the kernel dropped kmem limits (5.16).
            tracing::warn!("Kernel memory settings are ignored and will be removed");
        }
        Ok(())
    }

    /// `linux.resources.cpu`.
    fn read_cpu(&mut self, cpu: &LinuxCpu) {
        self.cpu_shares = set(cpu.shares());
        self.cpu_quota = set(cpu.quota());
        self.cpu_period = set(cpu.period());
        self.cpuset_cpus = cpu.cpus().clone().filter(|cpus| !cpus.is_empty());
        self.cpuset_mems = cpu.mems().clone().filter(|mems| !mems.is_empty());
        self.cpu_realtime_runtime = set(cpu.realtime_runtime());
        self.cpu_realtime_period = set(cpu.realtime_period());
        // As runc 1.2 (runc 1.1 ignores the field): written when given,
        // 0 too, which makes an idle group a normal one again.
        self.cpu_idle = cpu.idle();
        // As runc 1.2 (runc 1.1 ignores the field): written when given.
        self.cpu_burst = cpu.burst();
    }

    /// `linux.resources.blockIO`: weights and throttles, per device.
    fn read_block_io(&mut self, block_io: &LinuxBlockIo) {
        self.blkio_weight = set(block_io.weight());
        self.blkio_leaf_weight = set(block_io.leaf_weight());
        for device in block_io.weight_device().iter().flatten() {
            self.blkio_weight_devices.push(WeightDevice {
                device: Device { major: device.major(), minor: device.minor() },
                weight: set(device.weight()),
                leaf_weight: set(device.leaf_weight()),
            });
        }
        let throttles = [
            (Throttle::ReadBps, block_io.throttle_read_bps_device()),
            (Throttle::WriteBps, block_io.throttle_write_bps_device()),
            (Throttle::ReadIops, block_io.throttle_read_iops_device()),
            (Throttle::WriteIops, block_io.throttle_write_iops_device()),
        ];
        for (kind, devices) in throttles {
            for device in devices.iter().flatten() {
                let at = Device { major: device.major(), minor: device.minor() };
                self.blkio_throttle.push((kind, at, device.rate()));
            }
        }
    }

    /// `linux.resources.network`.
    fn read_network(&mut self, network: &LinuxNetwork) {
        self.net_class_id = set(network.class_id());
        for priority in network.priorities().iter().flatten() {
            self.net_priorities.push((priority.name().clone(), priority.priority()));
        }
    }
}

/// `linux.resources.devices[index]` as a device cgroup rule.
fn device_rule(index: usize, rule: &LinuxDeviceCgroup) -> Result<DeviceRule> {
    let field = format!("linux.resources.devices[{index}]");
    let given = rule.access().clone().unwrap_or_else(|| "rwm".to_owned());
    // As runc: the kernel knows r, w and m; other letters ("rwa")
    // are dropped, with a warning. Nothing left is no rule at all.
    let access: String = "rwm".chars().filter(|c| given.contains(*c)).collect();
    if access.is_empty() {
        return Err(Error::invalid(field, format!("access {given:?} has none of r, w, m")));
    }
    if given.chars().any(|c| !"rwm".contains(c)) {
        tracing::warn!("{field}: access {given:?}: only {access:?} applies (r, w, m)");
    }
    let kind = match rule.typ().unwrap_or(LinuxDeviceType::A) {
        LinuxDeviceType::A => 'a',
        LinuxDeviceType::C | LinuxDeviceType::U => 'c',
        LinuxDeviceType::B => 'b',
        LinuxDeviceType::P => {
            return Err(Error::invalid(field, "type \"p\" has no device cgroup rule"));
        }
    };
    // runc reads an explicit -1 as any, like a number left out.
    let number = |n: Option<i64>| n.filter(|n| *n != -1);
    Ok(DeviceRule {
        allow: rule.allow(),
        kind,
        major: number(rule.major()),
        minor: number(rule.minor()),
        access,
    })
}

/// `linux.resources.hugepageLimits[index]`: the page size and its limit
/// in bytes.
fn hugepage_limit(index: usize, limit: &LinuxHugepageLimit) -> Result<(String, u64)> {
    let limit_bytes = u64::try_from(limit.limit()).map_err(|_| {
        Error::invalid(
            format!("linux.resources.hugepageLimits[{index}]"),
            format!("limit {} is negative", limit.limit()),
        )
    })?;
    Ok((limit.page_size().clone(), limit_bytes))
}

/// `linux.resources.unified[file]`, its name checked: one file of the
/// cgroup directory.
fn unified_file(file: &str, value: &str) -> Result<(String, String)> {
    if file.contains('/') || !file.contains('.') {
        return Err(Error::invalid(
            format!("linux.resources.unified[{file:?}]"),
            "must be a file name of the form CONTROLLER.PARAMETER",
        ));
    }
    Ok((file.to_owned(), value.to_owned()))
}

/// A limit as runc reads it: zero means "not set" (docker writes
/// `"shares": 0` and `"weight": 0` for limits nobody asked for).
fn set<T: Default + PartialEq>(value: Option<T>) -> Option<T> {
    value.filter(|value| *value != T::default())
}

/// cgroup v2's `cpu.weight` for v1's `cpu.shares` (runc's formula).
pub fn shares_to_weight(shares: u64) -> u64 {
    if shares == 0 {
        return 0;
    }
    1 + (shares.clamp(2, 262_144) - 2) * 9999 / 262_142
}

/// cgroup v2's `io.weight` for v1's `blkio.weight` (10..=1000 to 1..=10000).
pub fn blkio_to_io_weight(weight: u16) -> u64 {
    1 + (u64::from(weight.clamp(10, 1000)) - 10) * 9999 / 990
}

/// One `rdma.max` line (the same on v1 and v2): `DEVICE [hca_handle=N]
/// [hca_object=N]`.
pub fn rdma_line(device: &str, handles: Option<u32>, objects: Option<u32>) -> String {
    let mut line = device.to_owned();
    if let Some(handles) = handles {
        line.push_str(&format!(" hca_handle={handles}"));
    }
    if let Some(objects) = objects {
        line.push_str(&format!(" hca_object={objects}"));
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conversions_match_runc() {
        assert_eq!(shares_to_weight(1024), 39);
        assert_eq!(shares_to_weight(2), 1);
        assert_eq!(shares_to_weight(262_144), 10_000);
        assert_eq!(blkio_to_io_weight(10), 1);
        assert_eq!(blkio_to_io_weight(1000), 10_000);
    }

    #[test]
    fn device_rules_and_bad_access() {
        let spec: LinuxResources = serde_json::from_value(serde_json::json!({
            "devices": [{"allow": false, "access": "rwm"},
                        {"allow": true, "type": "c", "major": 1, "minor": 3, "access": "rw"}]
        }))
        .unwrap();
        let resources = Resources::from_spec(&spec).unwrap();
        let lines: Vec<_> = resources.devices.iter().map(DeviceRule::v1_line).collect();
        assert_eq!(lines, ["a *:* rwm", "c 1:3 rw"]);
        let spec: LinuxResources = serde_json::from_value(
            serde_json::json!({"devices": [{"allow": true, "access": "amr"}]}),
        )
        .unwrap();
        let resources = Resources::from_spec(&spec).unwrap();
        assert_eq!(resources.devices[0].v1_line(), "a *:* rm");
        let spec: LinuxResources = serde_json::from_value(
            serde_json::json!({"devices": [{"allow": true, "access": "x"}]}),
        )
        .unwrap();
        let err = Resources::from_spec(&spec).unwrap_err();
        assert!(err.to_string().contains("devices[0]"), "{err}");
    }

    /// Each value out of range is refused naming its field in the spec.
    #[test]
    fn a_bad_value_names_its_field() {
        let cases = [
            (
                serde_json::json!({"memory": {"swappiness": 101}}),
                "linux.resources.memory.swappiness",
            ),
            (
                serde_json::json!({"hugepageLimits": [{"pageSize": "2MB", "limit": -1}]}),
                "linux.resources.hugepageLimits[0]",
            ),
            (
                serde_json::json!({"unified": {"../memory.max": "1"}}),
                "linux.resources.unified[\"../memory.max\"]",
            ),
        ];
        for (resources, field) in cases {
            let spec: LinuxResources = serde_json::from_value(resources).unwrap();
            let err = Resources::from_spec(&spec).unwrap_err();
            assert!(err.to_string().contains(field), "{err} does not name {field}");
        }
    }

    /// What docker 20.10 writes for a container with no limits: every
    /// zero is "unset", as in runc, so nothing is written.
    #[test]
    fn zero_means_unset_as_in_runc() {
        let spec: LinuxResources = serde_json::from_value(serde_json::json!({
            "memory": {"limit": 0, "reservation": 0, "swap": 0, "disableOOMKiller": false},
            "cpu": {"shares": 0, "quota": 0, "period": 0, "realtimeRuntime": 0,
                    "realtimePeriod": 0, "cpus": "", "mems": ""},
            "pids": {"limit": 0},
            "blockIO": {"weight": 0, "leafWeight": 0, "weightDevice": []},
            "hugepageLimits": [],
        }))
        .unwrap();
        assert_eq!(Resources::from_spec(&spec).unwrap(), Resources::default());
    }
}
