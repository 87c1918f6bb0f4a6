//! Minimal programs, one per attach mechanism, that `cradle doctor` loads
//! and attaches to find out what the running kernel allows. They do nothing.

use aya_ebpf::{
    macros::{fentry, kprobe, raw_tracepoint, tracepoint},
    programs::{FEntryContext, ProbeContext, RawTracePointContext, TracePointContext},
};

#[tracepoint]
pub fn doctor_tracepoint(_ctx: TracePointContext) -> u32 {
    0
}

#[raw_tracepoint]
pub fn doctor_raw_tracepoint(_ctx: RawTracePointContext) -> i32 {
    0
}

#[kprobe]
pub fn doctor_kprobe(_ctx: ProbeContext) -> u32 {
    0
}

#[fentry]
pub fn doctor_fentry(_ctx: FEntryContext) -> u32 {
    0
}
