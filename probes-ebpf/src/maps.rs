//! The maps shared with userspace. Their names are constants of the ABI crate.

use aya_ebpf::{
    macros::map,
    maps::{Array, HashMap, LruHashMap, PerCpuArray, RingBuf},
};
use cradle_probes_common::{
    CALL_ARGS, EXEC_ARGV_MAX, EXEC_RECORD_MAX, EventKind, HOOKS_MAX, NamespaceSet, TRACKED_MAX,
    TrackedTask,
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
    /// A value the verifier must not track (`exec::opaque`).
    pub opaque: u64,
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

/// Which kernel-function hooks userspace attached (`HOOK_*` slots,
/// nonzero once attached): the tracepoint programs defer to them.
#[map]
pub static HOOKS: Array<u32> = Array::with_max_entries(HOOKS_MAX, 0);

/// The namespaces of the nsproxy `create_new_namespaces` last returned to
/// a tracked thread, by kernel pid, until the clone or unshare that asked
/// for it sends its record. LRU: a call that failed after the nsproxy was
/// made leaves its entry behind.
#[map]
pub static NS_CREATED: LruHashMap<u32, NamespaceSet> = LruHashMap::with_max_entries(TRACKED_MAX, 0);

/// The `struct net_device *` a thread's `veth_newlink` call got, from the
/// kprobe to the kretprobe, by kernel pid.
#[map]
pub static VETH_PENDING: LruHashMap<u32, u64> = LruHashMap::with_max_entries(1024, 0);
