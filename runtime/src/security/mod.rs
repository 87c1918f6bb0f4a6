//! What the process may do: capabilities, no_new_privileges, seccomp and
//! AppArmor (and SELinux labels, refused: [`selinux`]), checked when the config is read and applied in the child
//! just before `execve`, in runc's order: the bounding set and AppArmor
//! before the switch to the process's user; then, last, the capability
//! sets, no_new_privileges, and the seccomp filter (before the capability
//! sets when no_new_privileges is off, since installing it then needs
//! CAP_SYS_ADMIN).

pub mod apparmor;
pub mod capabilities;
pub mod seccomp;
pub mod selinux;

use std::os::fd::OwnedFd;

use oci_spec::runtime::{Linux, Process};
use serde::{Deserialize, Serialize};

use self::capabilities::{CapabilitySets, keep_across_setuid, raise_effective};
use crate::error::{Error, Result};

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Security {
    /// `None`: the process keeps the runtime's capabilities.
    pub capabilities: Option<CapabilitySets>,
    pub no_new_privileges: bool,
    pub seccomp: Option<seccomp::Filter>,
    /// Refused where the host does not run AppArmor, as under runc.
    pub apparmor_profile: Option<String>,
}

impl Security {
    pub fn from_spec(process: &Process, linux: Option<&Linux>) -> Result<Self> {
        let seccomp = match linux.and_then(|linux| linux.seccomp().as_ref()) {
            Some(spec) => Some(seccomp::compile(spec)?),
            None => None,
        };
        let apparmor_profile =
            process.apparmor_profile().clone().filter(|profile| !profile.is_empty());
        if let Some(reason) = apparmor_profile.as_deref().and_then(apparmor::unavailable) {
            return Err(Error::invalid("process.apparmorProfile", reason));
        }
        Ok(Security {
            capabilities: process.capabilities().as_ref().map(CapabilitySets::from_spec),
            no_new_privileges: process.no_new_privileges().unwrap_or(false),
            seccomp,
            apparmor_profile,
        })
    }

    /// While the process is still root with every capability: AppArmor
    /// for the coming exec, the bounding set, and the permitted set kept
    /// across the switch to `uid`.
    pub fn before_user_switch(&self, uid: u32) -> Result<()> {
        if let Some(profile) = &self.apparmor_profile {
            apparmor::change_on_exec(profile)?;
        }
        if let Some(capabilities) = &self.capabilities {
            capabilities.drop_bounding()?;
            if uid != 0 {
                keep_across_setuid(true)?;
            }
        }
        Ok(())
    }

    /// The last steps before `execve`. A filter that notifies an agent
    /// gives its listener to `hand_over` at once, before any other call
    /// it may hand to the agent ([`seccomp::listener`]).
    pub fn finish(&self, hand_over: &mut dyn FnMut(OwnedFd) -> Result<()>) -> Result<()> {
        if let Some(filter) = &self.seccomp
            && !self.no_new_privileges
        {
            // A switch from root emptied the effective set.
            raise_effective()?;
            if let Some(listener) = filter.install()? {
                hand_over(listener)?;
            }
        }
        if let Some(capabilities) = &self.capabilities {
            capabilities.apply()?;
            keep_across_setuid(false)?;
        }
        if self.no_new_privileges {
            capabilities::set_no_new_privileges()?;
            if let Some(filter) = &self.seccomp
                && let Some(listener) = filter.install()?
            {
                hand_over(listener)?;
            }
        }
        Ok(())
    }
}
