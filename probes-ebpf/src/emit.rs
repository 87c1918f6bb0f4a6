//! Filling headers and handing records to the ring buffer, with loss
//! accounting: every record takes its CPU's next sequence number before it is reserved,
//! and a failed reservation is counted per CPU and per kind.

use aya_ebpf::helpers::{
    bpf_get_current_cgroup_id, bpf_get_current_comm, bpf_get_current_pid_tgid,
    bpf_get_smp_processor_id, bpf_ktime_get_ns, generated::bpf_send_signal,
};
use cradle_probes_common::{EventHeader, EventKind, HEADER_STOPPED, TASK_COMM_LEN};

use crate::{
    cast::low_u32,
    globals::{stop_kinds, track_all},
    kernel::Task,
    maps::{EVENTS, LOST, SEQUENCE, TRACKED},
};

/// Kernel pid (thread id) of the running task.
#[inline(always)]
pub fn current_pid() -> u32 {
    low_u32(bpf_get_current_pid_tgid())
}

/// Whether the running task's events are reported.
#[inline(always)]
pub fn current_is_tracked() -> bool {
    // SAFETY: the value is only tested for presence, never read, so a
    // concurrent delete cannot make us read freed memory.
    track_all() || unsafe { TRACKED.get(current_pid()) }.is_some()
}

/// Takes this CPU's next sequence number.
#[inline(always)]
fn next_seq() -> u64 {
    match SEQUENCE.get_ptr_mut(0) {
        Some(slot) => {
            // SAFETY: a per-CPU value, and a program does not migrate CPUs
            // while it runs, so nothing else touches it meanwhile.
            unsafe {
                let seq = *slot;
                *slot = seq + 1;
                seq
            }
        }
        None => 0,
    }
}

/// Counts a record of `kind` that did not fit in the ring buffer.
#[inline(always)]
pub fn count_lost(kind: EventKind) {
    if let Some(counter) = LOST.get_ptr_mut(kind as u32) {
        // SAFETY: per-CPU value, and programs do not migrate CPUs while
        // running, so nothing else writes it concurrently.
        unsafe { *counter += 1 };
    }
}

/// A header describing the running task, with a fresh sequence number.
#[inline(always)]
pub fn header(kind: EventKind, size: usize) -> EventHeader {
    let pid_tgid = bpf_get_current_pid_tgid();
    let task = Task::current();
    EventHeader {
        kind: kind as u16,
        flags: 0,
        size: low_u32(size as u64), // a record's size_of, a few KiB
        seq: next_seq(),
        ts_ns: monotonic_now_ns(),
        pid: low_u32(pid_tgid),
        tgid: (pid_tgid >> 32) as u32,
        ppid: task.parent_tgid(),
        // SAFETY: the helper has no preconditions.
        cpu: unsafe { bpf_get_smp_processor_id() },
        // SAFETY: the helper has no preconditions.
        cgroup_id: unsafe { bpf_get_current_cgroup_id() },
        mnt_ns: task.mnt_ns(),
        pid_ns: task.pid_ns(),
        comm: bpf_get_current_comm().unwrap_or([0; TASK_COMM_LEN]),
    }
}

#[inline(always)]
fn monotonic_now_ns() -> u64 {
    // SAFETY: the helper has no preconditions.
    unsafe { bpf_ktime_get_ns() }
}

/// Sends a fixed-size record whose first field is an [`EventHeader`]:
/// `build` gets the filled header and returns the record.
#[inline(always)]
pub fn send<T: 'static>(kind: EventKind, build: impl FnOnce(EventHeader) -> T) {
    send_then_stop(kind, false, build);
}

/// [`send`], and when `stop` holds, stops the task as [`stop_if_asked`]
/// says.
#[inline(always)]
pub fn send_then_stop<T: 'static>(
    kind: EventKind,
    stop: bool,
    build: impl FnOnce(EventHeader) -> T,
) {
    let mut header = header(kind, core::mem::size_of::<T>());
    match EVENTS.reserve::<T>(0) {
        Some(mut entry) => {
            if stop {
                header.flags = stop_if_asked(kind);
            }
            entry.write(build(header));
            entry.submit(wakeup(header.flags));
        }
        None => count_lost(kind),
    }
}

/// Whether a record wakes the reader. The ring's default wakes it whenever
/// it has caught up, which for a few hundred records spread over a
/// container's start is nearly every record: a context switch each, on the
/// cores the container is being built on. Instead the reader drains on a
/// short period (probes/src/stream.rs) and is woken only when the ring is
/// a quarter full, or when this record stopped its task (step mode: the
/// reader must see it to resume the task).
#[inline(always)]
pub fn wakeup(header_flags: u16) -> u64 {
    const BPF_RB_NO_WAKEUP: u64 = 1;
    const BPF_RB_FORCE_WAKEUP: u64 = 2;
    const BPF_RB_AVAIL_DATA: u64 = 0;
    const BPF_RB_RING_SIZE: u64 = 1;
    let filling = EVENTS.query(BPF_RB_AVAIL_DATA) >= EVENTS.query(BPF_RB_RING_SIZE) / 4;
    if filling || header_flags & HEADER_STOPPED != 0 {
        BPF_RB_FORCE_WAKEUP
    } else {
        BPF_RB_NO_WAKEUP
    }
}

/// Step mode: stops the running (tracked) task once this call returns, if
/// userspace asked to stop after records of `kind`; returns the header
/// flags that say whether it did. Called with the record reserved and not
/// yet submitted: the SIGCONT that userspace sends on reading the record
/// must find the stop already pending, and a record lost to a full ring
/// must not leave its task stopped with no one to resume it.
#[inline(always)]
pub fn stop_if_asked(kind: EventKind) -> u16 {
    const SIGSTOP: u32 = 19;
    if stop_kinds() & (1u64 << (kind as u32 & 63)) == 0 {
        return 0;
    }
    // SAFETY: the helper signals the current task; it has no memory
    // preconditions.
    if unsafe { bpf_send_signal(SIGSTOP) } == 0 { HEADER_STOPPED } else { 0 }
}

/// Sends an assembled record, one that never stops its task.
#[inline(always)]
pub fn send_bytes(kind: EventKind, record: &[u8]) {
    if EVENTS.output::<[u8]>(record, wakeup(0)).is_err() {
        count_lost(kind);
    }
}
