//! What every container gets by default, as runtimes and Docker agree on
//! it: Docker's masked and read-only paths, and the device nodes a runtime
//! creates in every container's /dev.
//!
//! Data only, shared by the two crates that must agree on it without
//! knowing each other: the runtime (`cradle bundle` writes these paths into
//! config.json, and the runtime creates these devices) and reports (which
//! judge a traced container, made by any runtime, against them).
//!
//! Must not hold logic, and must not depend on anything: neither the
//! runtime's types nor the probes'.

#![no_std]

/// Docker's `maskedPaths`: kernel files and directories a container must
/// not read (kernel memory, keys, timers, hardware details). A runtime
/// binds /dev/null over a file and an empty read-only tmpfs over a
/// directory.
pub const MASKED_PATHS: [&str; 12] = [
    "/proc/asound",
    "/proc/acpi",
    "/proc/interrupts",
    "/proc/kcore",
    "/proc/keys",
    "/proc/latency_stats",
    "/proc/timer_list",
    "/proc/timer_stats",
    "/proc/sched_debug",
    "/proc/scsi",
    "/sys/firmware",
    "/sys/devices/virtual/powercap",
];

/// Docker's `readonlyPaths`: kernel settings a container may read but not
/// change. A runtime binds each onto itself and remounts it read-only.
pub const READONLY_PATHS: [&str; 5] =
    ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"];

/// A character device node, by its path inside the container.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CharDevice {
    pub path: &'static str,
    pub major: u32,
    pub minor: u32,
}

const fn char_device(path: &'static str, major: u32, minor: u32) -> CharDevice {
    CharDevice { path, major, minor }
}

/// The device nodes a runtime creates in every container (the OCI
/// runtime spec's default devices, as runc and crun make them).
///
/// In runc's order (libcontainer/specconv's AllowedDevices): where nodes
/// are bind mounts (in a user namespace), the order shows in mountinfo.
pub const DEFAULT_DEVICES: [CharDevice; 6] = [
    char_device("/dev/null", 1, 3),
    char_device("/dev/random", 1, 8),
    char_device("/dev/full", 1, 7),
    char_device("/dev/tty", 5, 0),
    char_device("/dev/zero", 1, 5),
    char_device("/dev/urandom", 1, 9),
];

/// The console and the pty multiplexer: every container has them too, but
/// a runtime binds the console from its pty and links ptmx to
/// /dev/pts/ptmx rather than creating them.
pub const TERMINAL_DEVICES: [CharDevice; 2] =
    [char_device("/dev/console", 5, 1), char_device("/dev/ptmx", 5, 2)];

/// Whether a character device of this number is one every container gets.
pub fn is_default_char_device(major: u32, minor: u32) -> bool {
    DEFAULT_DEVICES.iter().chain(&TERMINAL_DEVICES).any(|d| d.major == major && d.minor == minor)
}

/// Whether `path` is the path of a device node every container gets.
pub fn is_default_device_path(path: &str) -> bool {
    DEFAULT_DEVICES.iter().chain(&TERMINAL_DEVICES).any(|d| d.path == path)
}
