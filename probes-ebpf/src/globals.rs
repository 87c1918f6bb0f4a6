//! Read-only configuration written into `.rodata` by userspace at load time.

use cradle_probes_common::{
    KernelLayout, LINK_DAEMONS_MAX, ProbeGlobals, RUNTIME_FILES_MAX, RUNTIME_NAMES_MAX,
    RuntimeFile, RuntimeTail, TRACK_ALL, TRACK_RUNTIMES,
};

/// Set by userspace through aya's `set_global` before the object is loaded.
#[unsafe(no_mangle)]
// SAFETY: ProbeGlobals is plain integers (probes-common), for which the
// all-zero pattern is a valid value.
static CRADLE_GLOBALS: ProbeGlobals = unsafe { core::mem::zeroed() };

/// The kernel layout found in BTF.
#[inline(always)]
pub fn layout() -> KernelLayout {
    // SAFETY: the static is valid for reads; the volatile read stops the
    // compiler from folding the zeroed initialiser into the code, since the
    // loader rewrites the value before the program is verified.
    unsafe { core::ptr::read_volatile(&raw const CRADLE_GLOBALS.layout) }
}

/// The benchmark's floor: every attached program returns at once.
#[inline(always)]
pub fn floor() -> bool {
    // SAFETY: as in `layout`.
    unsafe { core::ptr::read_volatile(&raw const CRADLE_GLOBALS.config.floor) != 0 }
}

/// Whether every task on the host is reported, not just tracked ones.
#[inline(always)]
pub fn track_all() -> bool {
    // SAFETY: as in `layout`.
    unsafe { core::ptr::read_volatile(&raw const CRADLE_GLOBALS.config.mode) == TRACK_ALL }
}

/// Whether a task's exec of a runtime makes it a tracked root.
#[inline(always)]
pub fn watch_runtimes() -> bool {
    // SAFETY: as in `layout`.
    unsafe { core::ptr::read_volatile(&raw const CRADLE_GLOBALS.config.mode) == TRACK_RUNTIMES }
}

/// The `n`th runtime name watched for, as a file name's end; an unused
/// slot is all zero.
#[inline(always)]
pub fn runtime_tail(n: usize) -> RuntimeTail {
    let n = if n < RUNTIME_NAMES_MAX { n } else { 0 };
    // SAFETY: as in `layout`; `n` is in bounds.
    unsafe { core::ptr::read_volatile(&raw const CRADLE_GLOBALS.config.runtimes[n]) }
}

/// The `n`th file a runtime may run from; an unused slot is all zero.
#[inline(always)]
pub fn runtime_file(n: usize) -> RuntimeFile {
    let n = if n < RUNTIME_FILES_MAX { n } else { 0 };
    // SAFETY: as in `layout`; `n` is in bounds.
    unsafe { core::ptr::read_volatile(&raw const CRADLE_GLOBALS.config.runtime_files[n]) }
}

/// Whether the running task is a daemon whose link requests are followed
/// (watch mode only): its `comm` is one of the configured names.
#[inline(always)]
pub fn current_is_link_daemon() -> bool {
    if !watch_runtimes() {
        return false;
    }
    let Ok(comm) = aya_ebpf::helpers::bpf_get_current_comm() else {
        return false;
    };
    let comm = u128::from_ne_bytes(comm);
    let mut n = 0;
    while n < LINK_DAEMONS_MAX {
        // SAFETY: as in `layout`; `n` is in bounds.
        let name =
            unsafe { core::ptr::read_volatile(&raw const CRADLE_GLOBALS.config.link_daemons[n]) };
        let name = u128::from_ne_bytes(name);
        if name != 0 && name == comm {
            return true;
        }
        n += 1;
    }
    false
}

/// Step mode's kinds to stop after, a bit per `EventKind`.
#[inline(always)]
pub fn stop_kinds() -> u64 {
    // SAFETY: as in `layout`.
    unsafe { core::ptr::read_volatile(&raw const CRADLE_GLOBALS.config.stop_kinds) }
}
