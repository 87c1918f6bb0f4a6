//! The five capability sets of `process.capabilities`, as bit masks, and
//! their application with the real syscalls: `prctl(PR_CAPBSET_DROP)` for
//! the bounding set, one `capset(2)` for effective, permitted and
//! inheritable, `prctl(PR_CAP_AMBIENT)` for ambient.
//!
//! A capability's number comes from the `caps` crate's name table, the one
//! table the tracer and the reports name capabilities with too. The calls
//! go through rustix, which takes the sets as masks: the kernel checks the
//! three sets of a `capset` against each other, so they are set in one call
//! (`caps::set` makes one call per set), and the bounding set loses every
//! capability this kernel knows, including those newer than any table.

use oci_spec::runtime::{Capability, LinuxCapabilities};
use rustix::thread::{self as thread, CapabilitySet};
use serde::{Deserialize, Serialize};

use crate::error::{Context, Error, Result};

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
                match number(*cap) {
                    Some(number) if number <= last => bits |= 1 << number,
                    _ => tracing::warn!(
                        "process.capabilities.{name}: {cap} is unknown to this kernel"
                    ),
                }
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
        let number =
            number(cap).filter(|&number| number <= last_capability()).ok_or_else(|| {
                Error::invalid("exec --cap", format!("{cap} is unknown to this kernel"))
            })?;
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
                thread::remove_capability_from_bounding_set(single(cap))
                    .map_err(std::io::Error::from)
                    .context(|| format!("dropping {} from the bounding set", name(cap)))?;
            }
        }
        Ok(())
    }

    /// Effective, permitted and inheritable, then the ambient set.
    pub fn apply(&self) -> Result<()> {
        capset(self.effective, self.permitted, self.inheritable)?;
        thread::clear_ambient_capability_set()
            .map_err(std::io::Error::from)
            .context(|| "clearing the ambient capabilities".to_owned())?;
        for cap in 0..u64::BITS {
            if self.ambient & (1 << cap) != 0 {
                thread::configure_capability_in_ambient_set(single(cap), true)
                    .map_err(std::io::Error::from)
                    .context(|| format!("raising {} in the ambient set", name(cap)))?;
            }
        }
        Ok(())
    }
}

/// Keeps the permitted set across a switch from uid 0 (the effective set
/// is emptied; [`CapabilitySets::apply`] sets it again).
pub fn keep_across_setuid(keep: bool) -> Result<()> {
    thread::set_keep_capabilities(keep)
        .map_err(std::io::Error::from)
        .context(|| "PR_SET_KEEPCAPS".to_owned())
}

/// Makes the effective set equal to the permitted set.
pub fn raise_effective() -> Result<()> {
    let sets =
        thread::capabilities(None).map_err(std::io::Error::from).context(|| "capget".to_owned())?;
    capset(sets.permitted.bits(), sets.permitted.bits(), sets.inheritable.bits())
}

pub fn set_no_new_privileges() -> Result<()> {
    thread::set_no_new_privs(true)
        .map_err(std::io::Error::from)
        .context(|| "PR_SET_NO_NEW_PRIVS".to_owned())
}

/// The highest capability number this kernel knows (without procfs, the
/// highest the name table knows), below 64 as every set is.
pub fn last_capability() -> u32 {
    std::fs::read_to_string("/proc/sys/kernel/cap_last_cap")
        .ok()
        .and_then(|text| text.trim().parse().ok())
        .unwrap_or_else(|| caps::all().iter().map(|cap| u32::from(cap.index())).max().unwrap_or(0))
        .min(u64::BITS - 1)
}

/// The kernel's number for a capability of the spec, by its name in the
/// `caps` crate's table (`None` for a name the table does not have yet).
pub fn number(cap: Capability) -> Option<u32> {
    // oci-spec displays `SYS_ADMIN`; the kernel's name is `CAP_SYS_ADMIN`.
    format!("CAP_{cap}").parse::<caps::Capability>().ok().map(|cap| u32::from(cap.index()))
}

/// `CAP_SYS_ADMIN`, or the number of a capability the table does not name.
fn name(number: u32) -> String {
    caps::all()
        .into_iter()
        .find(|cap| u32::from(cap.index()) == number)
        .map_or_else(|| format!("capability {number}"), |cap| cap.to_string())
}

/// The set holding only capability `number` (below 64, as every set is).
fn single(number: u32) -> CapabilitySet {
    CapabilitySet::from_bits_retain(1 << number)
}

fn capset(effective: u64, permitted: u64, inheritable: u64) -> Result<()> {
    let sets = thread::CapabilitySets {
        effective: CapabilitySet::from_bits_retain(effective),
        permitted: CapabilitySet::from_bits_retain(permitted),
        inheritable: CapabilitySet::from_bits_retain(inheritable),
    };
    thread::set_capabilities(None, sets)
        .map_err(std::io::Error::from)
        .context(|| format!("capset effective={effective:#x} permitted={permitted:#x}"))
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

    /// Every capability the spec can name has the number the name table
    /// gives it: the spec's names and the table's are the kernel's.
    #[test]
    fn each_spec_capability_has_the_tables_number() {
        for cap in caps::all() {
            let spec: Capability = serde_json::from_value(serde_json::json!(cap.to_string()))
                .unwrap_or_else(|err| panic!("{cap} is not a spec capability: {err}"));
            assert_eq!(number(spec), Some(u32::from(cap.index())), "{cap}");
        }
    }
}
