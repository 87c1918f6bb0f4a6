//! cradle's eBPF programs: the kernel half of the probes.
//!
//! Owns what runs in the kernel: the maps, the in-kernel filter (the
//! tracked-task map, followed on fork), and one program per attach point that
//! turns a kernel event into a ring-buffer record. The record layouts come
//! from `cradle-probes-common`; nothing here defines a record of its own.
//!
//! Must not touch: decoding, correlation or presentation (that is the
//! userspace `probes` crate and beyond), and kernel structure layouts as
//! constants: every offset comes from [`globals`] set at load time from BTF.

#![no_std]
#![no_main]

mod calls;
mod caps;
mod cast;
mod cgroups;
mod dispatch;
mod doctor;
mod emit;
mod exec;
mod files;
mod globals;
mod hooks;
mod kernel;
mod maps;
mod netlink;
mod netlink_answer;
mod syscall;
mod tasks;

/// eBPF programs cannot unwind or abort: the verifier rejects a program in
/// which a panicking path is reachable, so this handler is never entered.
#[panic_handler]
fn panic(_info: &core::panic::PanicInfo) -> ! {
    // SAFETY: no panicking path survives verification (see above), so this
    // is unreachable in any program the kernel accepts.
    unsafe { core::hint::unreachable_unchecked() }
}

/// GPL-compatible, as required by bpf_probe_read_kernel and bpf_send_signal.
#[unsafe(link_section = "license")]
#[unsafe(no_mangle)]
static LICENSE: [u8; 13] = *b"Dual MIT/GPL\0";
