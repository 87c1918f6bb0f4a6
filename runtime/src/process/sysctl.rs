//! `linux.sysctl`, written to `/proc/sys` inside the container. Which
//! parameters a config may set (only those of a namespace the container
//! has its own of, so that none changes the host) is checked with the rest
//! of the config, in [`crate::config`].

use std::collections::BTreeMap;

use crate::error::{Context, Result};

/// Run in the init after the root switch, with /proc mounted.
pub fn apply(sysctl: &BTreeMap<String, String>) -> Result<()> {
    for (key, value) in sysctl {
        let path = format!("/proc/sys/{}", key.replace('.', "/"));
        std::fs::write(&path, value)
            .context(|| format!("linux.sysctl: writing {value:?} to {path}"))?;
    }
    Ok(())
}
