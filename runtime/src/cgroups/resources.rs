//! `linux.resources`, checked: the limits cradle writes. Fields it does
//! not write are named in a warning as not applied.

use oci_spec::runtime::{LinuxDeviceType, LinuxResources};

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
    pub fn from_spec(spec: &LinuxResources) -> Result<Self> {
        let (resources, ignored) = Self::read(spec)?;
        if !ignored.is_empty() {
            tracing::warn!(fields = ?ignored, "config.json fields accepted but NOT applied");
        }
        Ok(resources)
    }

    /// The limits, and the fields that ask for something cradle does not
    /// apply.
    fn read(spec: &LinuxResources) -> Result<(Self, Vec<&'static str>)> {
        let mut resources = Resources::default();
        let mut ignored = Vec::new();
        if let Some(memory) = spec.memory() {
            resources.memory_limit = set(memory.limit());
            resources.memory_reservation = set(memory.reservation());
            resources.memory_swap = set(memory.swap());
            if memory.swappiness().is_some() {
                ignored.push("linux.resources.memory.swappiness");
            }
            // `false` asks for the default, which needs no write.
            if memory.disable_oom_killer() == Some(true) {
                ignored.push("linux.resources.memory.disableOOMKiller");
            }
        }
        if let Some(cpu) = spec.cpu() {
            resources.cpu_shares = set(cpu.shares());
            resources.cpu_quota = set(cpu.quota());
            resources.cpu_period = set(cpu.period());
            resources.cpuset_cpus = cpu.cpus().clone().filter(|cpus| !cpus.is_empty());
            resources.cpuset_mems = cpu.mems().clone().filter(|mems| !mems.is_empty());
            if set(cpu.realtime_runtime()).is_some() || set(cpu.realtime_period()).is_some() {
                ignored.push("linux.resources.cpu.realtime*");
            }
            if set(cpu.idle()).is_some() || set(cpu.burst()).is_some() {
                ignored.push("linux.resources.cpu.idle/burst");
            }
        }
        if let Some(pids) = spec.pids() {
            resources.pids_limit = set(Some(pids.limit()));
        }
        if let Some(block_io) = spec.block_io() {
            resources.blkio_weight = set(block_io.weight());
            if listed(block_io.weight_device())
                || set(block_io.leaf_weight()).is_some()
                || listed(block_io.throttle_read_bps_device())
                || listed(block_io.throttle_write_bps_device())
                || listed(block_io.throttle_read_iops_device())
                || listed(block_io.throttle_write_iops_device())
            {
                ignored.push("linux.resources.blockIO (per-device)");
            }
        }
        for (index, rule) in spec.devices().iter().flatten().enumerate() {
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
            resources.devices.push(DeviceRule {
                allow: rule.allow(),
                kind,
                major: number(rule.major()),
                minor: number(rule.minor()),
                access,
            });
        }
        let present = [
            (
                "linux.resources.hugepageLimits",
                spec.hugepage_limits().as_ref().is_some_and(|l| !l.is_empty()),
            ),
            ("linux.resources.network", spec.network().is_some()),
            ("linux.resources.rdma", spec.rdma().as_ref().is_some_and(|r| !r.is_empty())),
            ("linux.resources.unified", spec.unified().as_ref().is_some_and(|u| !u.is_empty())),
        ];
        ignored.extend(present.iter().filter(|(_, set)| *set).map(|(field, _)| *field));
        Ok((resources, ignored))
    }
}

/// A per-device list with entries (docker writes empty ones).
fn listed<T>(devices: &Option<Vec<T>>) -> bool {
    devices.as_ref().is_some_and(|devices| !devices.is_empty())
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
        let (resources, not_applied) = Resources::read(&spec).unwrap();
        assert_eq!(resources, Resources::default());
        assert!(not_applied.is_empty(), "no warning: {not_applied:?}");
    }
}
