//! Read-only configuration written into `.rodata` by userspace at load time.

use cradle_probes_common::{KernelLayout, ProbeGlobals, TRACK_ALL, TraceConfig};

/// Set by userspace through aya's `set_global` before the object is loaded.
#[unsafe(no_mangle)]
static CRADLE_GLOBALS: ProbeGlobals = ProbeGlobals {
    layout: KernelLayout {
        task_pid: 0,
        task_tgid: 0,
        task_real_parent: 0,
        task_nsproxy: 0,
        task_thread_pid: 0,
        task_exit_code: 0,
        nsproxy_mnt_ns: 0,
        mnt_namespace_ns: 0,
        pid_namespace_ns: 0,
        ns_common_inum: 0,
        pid_level: 0,
        pid_numbers: 0,
        upid_size: 0,
        upid_ns: 0,
    },
    config: TraceConfig { mode: 0, _pad: 0 },
};

/// The kernel layout found in BTF.
#[inline(always)]
pub fn layout() -> KernelLayout {
    // SAFETY: the static is valid for reads; the volatile read stops the
    // compiler from folding the zeroed initialiser into the code, since the
    // loader rewrites the value before the program is verified.
    unsafe { core::ptr::read_volatile(&raw const CRADLE_GLOBALS.layout) }
}

/// Whether every task on the host is reported, not just tracked ones.
#[inline(always)]
pub fn track_all() -> bool {
    // SAFETY: as in `layout`.
    unsafe { core::ptr::read_volatile(&raw const CRADLE_GLOBALS.config.mode) == TRACK_ALL }
}
