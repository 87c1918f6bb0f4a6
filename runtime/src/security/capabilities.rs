//! The five capability sets of `process.capabilities`, as bit masks, and
//! their application with the real syscalls: `prctl(PR_CAPBSET_DROP)` for
//! the bounding set, `capset(2)` for effective, permitted and inheritable,
//! `prctl(PR_CAP_AMBIENT)` for ambient.

use oci_spec::runtime::{Capability, LinuxCapabilities};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CapabilitySets {
    pub bounding: u64,
    pub effective: u64,
    pub permitted: u64,
    pub inheritable: u64,
    pub ambient: u64,
}

impl CapabilitySets {
    /// A set the spec leaves out is empty, as with runc. Capabilities this
    /// kernel does not know are left out with a warning.
    pub fn from_spec(spec: &LinuxCapabilities) -> Self {
        let last = last_capability();
        let mask = |set: &Option<oci_spec::runtime::Capabilities>, name: &str| {
            let mut bits = 0u64;
            for cap in set.iter().flatten() {
                let number = number(*cap);
                if number > last {
                    tracing::warn!("process.capabilities.{name}: {cap} is unknown to this kernel");
                    continue;
                }
                bits |= 1 << number;
            }
            bits
        };
        CapabilitySets {
            bounding: mask(spec.bounding(), "bounding"),
            effective: mask(spec.effective(), "effective"),
            permitted: mask(spec.permitted(), "permitted"),
            inheritable: mask(spec.inheritable(), "inheritable"),
            ambient: mask(spec.ambient(), "ambient"),
        }
    }

    /// Adds `cap` as runc's `exec --cap` does: to the bounding, effective
    /// and permitted sets, and to ambient when the inheritable set is used.
    pub fn add(&mut self, cap: Capability) -> Result<()> {
        let number = number(cap);
        if number > last_capability() {
            return Err(Error::invalid("exec --cap", format!("{cap} is unknown to this kernel")));
        }
        let bit = 1 << number;
        self.bounding |= bit;
        self.effective |= bit;
        self.permitted |= bit;
        if self.inheritable != 0 {
            self.ambient |= bit;
        }
        Ok(())
    }

    /// Drops what the bounding set does not hold (needs CAP_SETPCAP).
    pub fn drop_bounding(&self) -> Result<()> {
        for cap in 0..=last_capability() {
            if self.bounding & (1 << cap) == 0 {
                prctl(libc::PR_CAPBSET_DROP, cap as libc::c_ulong, 0).map_err(|err| {
                    sys_error(format!("dropping capability {cap} from bounding"), err)
                })?;
            }
        }
        Ok(())
    }

    /// Effective, permitted and inheritable, then the ambient set.
    pub fn apply(&self) -> Result<()> {
        capset(self.effective, self.permitted, self.inheritable)?;
        prctl(libc::PR_CAP_AMBIENT, libc::PR_CAP_AMBIENT_CLEAR_ALL as libc::c_ulong, 0)
            .map_err(|err| sys_error("clearing the ambient capabilities".to_owned(), err))?;
        for cap in 0..64u32 {
            if self.ambient & (1 << cap) != 0 {
                prctl(libc::PR_CAP_AMBIENT, libc::PR_CAP_AMBIENT_RAISE as libc::c_ulong, cap as _)
                    .map_err(|err| sys_error(format!("raising ambient capability {cap}"), err))?;
            }
        }
        Ok(())
    }
}

/// Keeps the permitted set across a switch from uid 0 (the effective set
/// is emptied; [`CapabilitySets::apply`] sets it again).
pub fn keep_across_setuid(keep: bool) -> Result<()> {
    prctl(libc::PR_SET_KEEPCAPS, u64::from(keep) as libc::c_ulong, 0)
        .map_err(|err| sys_error("PR_SET_KEEPCAPS".to_owned(), err))
}

/// Makes the effective set equal to the permitted set.
pub fn raise_effective() -> Result<()> {
    let (_, permitted, inheritable) = capget()?;
    capset(permitted, permitted, inheritable)
}

pub fn set_no_new_privileges() -> Result<()> {
    // SAFETY: prctl with integer arguments only.
    if unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) } < 0 {
        return Err(sys_error("PR_SET_NO_NEW_PRIVS".to_owned(), std::io::Error::last_os_error()));
    }
    Ok(())
}

/// The highest capability number this kernel knows.
pub fn last_capability() -> u32 {
    std::fs::read_to_string("/proc/sys/kernel/cap_last_cap")
        .ok()
        .and_then(|text| text.trim().parse().ok())
        .unwrap_or(40)
}

pub fn number(cap: Capability) -> u32 {
    use Capability as C;
    match cap {
        C::Chown => 0,
        C::DacOverride => 1,
        C::DacReadSearch => 2,
        C::Fowner => 3,
        C::Fsetid => 4,
        C::Kill => 5,
        C::Setgid => 6,
        C::Setuid => 7,
        C::Setpcap => 8,
        C::LinuxImmutable => 9,
        C::NetBindService => 10,
        C::NetBroadcast => 11,
        C::NetAdmin => 12,
        C::NetRaw => 13,
        C::IpcLock => 14,
        C::IpcOwner => 15,
        C::SysModule => 16,
        C::SysRawio => 17,
        C::SysChroot => 18,
        C::SysPtrace => 19,
        C::SysPacct => 20,
        C::SysAdmin => 21,
        C::SysBoot => 22,
        C::SysNice => 23,
        C::SysResource => 24,
        C::SysTime => 25,
        C::SysTtyConfig => 26,
        C::Mknod => 27,
        C::Lease => 28,
        C::AuditWrite => 29,
        C::AuditControl => 30,
        C::Setfcap => 31,
        C::MacOverride => 32,
        C::MacAdmin => 33,
        C::Syslog => 34,
        C::WakeAlarm => 35,
        C::BlockSuspend => 36,
        C::AuditRead => 37,
        C::Perfmon => 38,
        C::Bpf => 39,
        C::CheckpointRestore => 40,
    }
}

fn prctl(option: libc::c_int, arg2: libc::c_ulong, arg3: libc::c_ulong) -> std::io::Result<()> {
    // SAFETY: the prctl options used here take integer arguments only.
    if unsafe { libc::prctl(option, arg2, arg3, 0 as libc::c_ulong, 0 as libc::c_ulong) } < 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

const CAPABILITY_VERSION_3: u32 = 0x2008_0522;

#[repr(C)]
struct CapHeader {
    version: u32,
    pid: libc::c_int,
}

#[repr(C)]
#[derive(Clone, Copy, Default)]
struct CapData {
    effective: u32,
    permitted: u32,
    inheritable: u32,
}

fn capset(effective: u64, permitted: u64, inheritable: u64) -> Result<()> {
    let mut header = CapHeader { version: CAPABILITY_VERSION_3, pid: 0 };
    let halves = |set: u64| [set as u32, (set >> 32) as u32];
    let (e, p, i) = (halves(effective), halves(permitted), halves(inheritable));
    let data = [
        CapData { effective: e[0], permitted: p[0], inheritable: i[0] },
        CapData { effective: e[1], permitted: p[1], inheritable: i[1] },
    ];
    // SAFETY: capset reads the header and two data structs (version 3),
    // all owned here and laid out as the kernel's structs.
    let rc =
        unsafe { libc::syscall(libc::SYS_capset, &mut header as *mut CapHeader, data.as_ptr()) };
    if rc < 0 {
        return Err(sys_error(
            format!("capset effective={effective:#x} permitted={permitted:#x}"),
            std::io::Error::last_os_error(),
        ));
    }
    Ok(())
}

fn capget() -> Result<(u64, u64, u64)> {
    let mut header = CapHeader { version: CAPABILITY_VERSION_3, pid: 0 };
    let mut data = [CapData::default(); 2];
    // SAFETY: capget writes two data structs (version 3) we own.
    let rc = unsafe {
        libc::syscall(libc::SYS_capget, &mut header as *mut CapHeader, data.as_mut_ptr())
    };
    if rc < 0 {
        return Err(sys_error("capget".to_owned(), std::io::Error::last_os_error()));
    }
    let join = |low: u32, high: u32| u64::from(low) | (u64::from(high) << 32);
    Ok((
        join(data[0].effective, data[1].effective),
        join(data[0].permitted, data[1].permitted),
        join(data[0].inheritable, data[1].inheritable),
    ))
}

fn sys_error(context: String, cause: std::io::Error) -> Error {
    Error::Io { context, cause }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sets_map_names_to_bits_and_missing_sets_are_empty() {
        let spec: LinuxCapabilities = serde_json::from_value(serde_json::json!({
            "bounding": ["CAP_CHOWN", "CAP_KILL", "CAP_SYS_ADMIN"],
            "effective": ["CAP_KILL"]
        }))
        .unwrap();
        let sets = CapabilitySets::from_spec(&spec);
        assert_eq!(sets.bounding, 1 | 1 << 5 | 1 << 21);
        assert_eq!(sets.effective, 1 << 5);
        assert_eq!((sets.permitted, sets.inheritable, sets.ambient), (0, 0, 0));
    }
}
