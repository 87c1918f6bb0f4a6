//! Read-only configuration written into `.rodata` by userspace at load time.

use cradle_probes_common::{KernelLayout, ProbeGlobals, TRACK_ALL};

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

/// Whether every task on the host is reported, not just tracked ones.
#[inline(always)]
pub fn track_all() -> bool {
    // SAFETY: as in `layout`.
    unsafe { core::ptr::read_volatile(&raw const CRADLE_GLOBALS.config.mode) == TRACK_ALL }
}
