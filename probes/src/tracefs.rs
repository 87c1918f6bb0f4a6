//! Tracepoints are attached through tracefs; a host that has not mounted it
//! (no systemd, a minimal VM) gets it mounted at its standard place, as
//! perf and bpftrace expect it.

use std::path::Path;

/// Where tracefs lives on current kernels.
pub const TRACEFS: &str = "/sys/kernel/tracing";

#[derive(Debug, thiserror::Error)]
#[error("tracefs is not mounted at {TRACEFS} and mounting it failed: {0}")]
pub struct TracefsError(#[source] nix::Error);

/// Whether tracefs was already there or was mounted now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tracefs {
    Present,
    MountedNow,
}

/// Makes sure tracefs is mounted at [`TRACEFS`].
pub fn ensure_tracefs() -> Result<Tracefs, TracefsError> {
    if Path::new(TRACEFS).join("events").is_dir() {
        return Ok(Tracefs::Present);
    }
    nix::mount::mount(
        Some("tracefs"),
        TRACEFS,
        Some("tracefs"),
        nix::mount::MsFlags::MS_NOSUID
            | nix::mount::MsFlags::MS_NODEV
            | nix::mount::MsFlags::MS_NOEXEC,
        None::<&str>,
    )
    .map_err(TracefsError)?;
    tracing::info!("mounted tracefs at {TRACEFS}");
    Ok(Tracefs::MountedNow)
}
