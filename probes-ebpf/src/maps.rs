//! The maps shared with userspace. Their names are constants of the ABI crate.

use aya_ebpf::{
    macros::map,
    maps::{HashMap, LruHashMap, PerCpuArray, RingBuf},
};
use cradle_probes_common::{
    CALL_ARGS, EXEC_ARGV_MAX, EXEC_RECORD_MAX, EventKind, TRACKED_MAX, TrackedTask,
};

/// Event records. Userspace sets the real size at load time.
#[map]
pub static EVENTS: RingBuf = RingBuf::with_byte_size(1 << 22, 0);

/// Tasks whose events are reported, by kernel pid.
#[map]
pub static TRACKED: HashMap<u32, TrackedTask> = HashMap::with_max_entries(TRACKED_MAX, 0);

/// Records that could not be reserved in the ring buffer, per kind.
#[map]
pub static LOST: PerCpuArray<u64> = PerCpuArray::with_max_entries(EventKind::COUNT, 0);

/// The per-CPU sequence counter (one slot).
#[map]
pub static SEQUENCE: PerCpuArray<u64> = PerCpuArray::with_max_entries(1, 0);

/// Room to assemble an exec record before copying it into the ring buffer.
/// The extra `EXEC_ARGV_MAX` lets each argument copy be given a length the
/// verifier can bound without knowing how much of the argv area is used.
#[repr(C)]
pub struct ExecScratch {
    pub bytes: [u8; EXEC_RECORD_MAX + EXEC_ARGV_MAX],
}

#[map]
pub static EXEC_SCRATCH: PerCpuArray<ExecScratch> = PerCpuArray::with_max_entries(1, 0);

/// A tracked thread's syscall between entry and exit.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct PendingCall {
    /// The [`EventKind`] the call will be recorded as.
    pub kind: u32,
    pub _pad: u32,
    pub args: [u64; CALL_ARGS],
}

/// Calls in flight, by kernel pid. LRU, so a stash whose exit never came
/// (a task killed in the call) cannot fill the map for good.
#[map]
pub static PENDING: LruHashMap<u32, PendingCall> = LruHashMap::with_max_entries(TRACKED_MAX, 0);
