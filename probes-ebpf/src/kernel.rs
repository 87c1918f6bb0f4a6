//! Reads of kernel structures through the offsets found in BTF.
//!
//! Every read goes through `bpf_probe_read_kernel`, so a stale or NULL
//! pointer yields an error (reported as 0), never a fault.

use aya_ebpf::helpers::{bpf_get_current_task, bpf_probe_read_kernel};

use cradle_probes_common::{LAYOUT_ABSENT, NamespaceSet};

use crate::{cast::size_u32, globals::layout};

/// A `struct task_struct *`.
#[derive(Clone, Copy)]
pub struct Task(*const u8);

/// Reads a `T` at `base + offset`, or `None` if the kernel refuses.
#[inline(always)]
pub fn read<T>(base: *const u8, offset: u32) -> Option<T> {
    if base.is_null() || offset == LAYOUT_ABSENT {
        return None;
    }
    // SAFETY: bpf_probe_read_kernel validates the address and fails
    // instead of faulting; `wrapping_add` makes no claim about the pointer.
    unsafe { bpf_probe_read_kernel(base.wrapping_add(offset as usize).cast::<T>()).ok() }
}

/// Reads the inode number of the `ns_common` embedded at `ns_offset` in `ns`.
#[inline(always)]
fn ns_inum(ns: *const u8, ns_offset: u32) -> u32 {
    if ns_offset == LAYOUT_ABSENT {
        return 0;
    }
    read::<u32>(ns, ns_offset + layout().ns_common_inum).unwrap_or(0)
}

/// Reads the pointer at `base + offset`, NULL if it cannot be read.
#[inline(always)]
pub fn read_ptr(base: *const u8, offset: u32) -> *const u8 {
    read::<*const u8>(base, offset).unwrap_or(core::ptr::null())
}

/// Inode number of the namespace `nsproxy` points to at `member`, whose
/// `ns_common` sits at `ns_offset` in the namespace struct.
#[inline(always)]
fn nsproxy_inum(nsproxy: *const u8, member: u32, ns_offset: u32) -> u32 {
    ns_inum(read_ptr(nsproxy, member), ns_offset)
}

/// The namespaces a `struct nsproxy *` holds; `pid` and `user` (not
/// nsproxy members) are left 0.
#[inline(always)]
pub fn nsproxy_namespaces(nsproxy: *const u8) -> NamespaceSet {
    let l = layout();
    NamespaceSet {
        mnt: nsproxy_inum(nsproxy, l.nsproxy_mnt_ns, l.mnt_namespace_ns),
        uts: nsproxy_inum(nsproxy, l.nsproxy_uts_ns, l.uts_namespace_ns),
        ipc: nsproxy_inum(nsproxy, l.nsproxy_ipc_ns, l.ipc_namespace_ns),
        pid: 0,
        pid_for_children: nsproxy_inum(nsproxy, l.nsproxy_pid_ns_for_children, l.pid_namespace_ns),
        net: nsproxy_inum(nsproxy, l.nsproxy_net_ns, l.net_ns),
        cgroup: nsproxy_inum(nsproxy, l.nsproxy_cgroup_ns, l.cgroup_namespace_ns),
        time: nsproxy_inum(nsproxy, l.nsproxy_time_ns, l.time_namespace_ns),
        time_for_children: nsproxy_inum(
            nsproxy,
            l.nsproxy_time_ns_for_children,
            l.time_namespace_ns,
        ),
        user: 0,
    }
}

/// Inode number of the network namespace a `struct net *` is.
#[inline(always)]
pub fn net_inum(net: *const u8) -> u32 {
    ns_inum(net, layout().net_ns)
}

impl Task {
    #[inline(always)]
    pub fn current() -> Task {
        // SAFETY: the helper has no preconditions; it returns the running task.
        Task(unsafe { bpf_get_current_task() } as *const u8)
    }

    #[inline(always)]
    pub fn from_ptr(ptr: *const u8) -> Task {
        Task(ptr)
    }

    #[inline(always)]
    pub fn pid(self) -> u32 {
        read::<u32>(self.0, layout().task_pid).unwrap_or(0)
    }

    #[inline(always)]
    pub fn tgid(self) -> u32 {
        read::<u32>(self.0, layout().task_tgid).unwrap_or(0)
    }

    /// tgid of the real parent.
    #[inline(always)]
    pub fn parent_tgid(self) -> u32 {
        match read::<*const u8>(self.0, layout().task_real_parent) {
            Some(parent) => Task(parent).tgid(),
            None => 0,
        }
    }

    /// The task's real uid, as its credentials hold it.
    #[inline(always)]
    pub fn uid(self) -> Option<u32> {
        read::<u32>(read_ptr(self.0, layout().task_cred), layout().cred_uid)
    }

    /// The wait(2) status word of an exiting task.
    #[inline(always)]
    pub fn exit_code(self) -> u32 {
        read::<u32>(self.0, layout().task_exit_code).unwrap_or(0)
    }

    /// Inode number of the task's mount namespace (0 once it has exited).
    #[inline(always)]
    pub fn mnt_ns(self) -> u32 {
        let l = layout();
        let nsproxy = read::<*const u8>(self.0, l.task_nsproxy).unwrap_or(core::ptr::null());
        let mnt_ns = read::<*const u8>(nsproxy, l.nsproxy_mnt_ns).unwrap_or(core::ptr::null());
        ns_inum(mnt_ns, l.mnt_namespace_ns)
    }

    /// Inode number of the pid namespace the task's pid lives in
    /// (`task_active_pid_ns`: `thread_pid->numbers[thread_pid->level].ns`).
    #[inline(always)]
    pub fn pid_ns(self) -> u32 {
        let l = layout();
        let pid = read::<*const u8>(self.0, l.task_thread_pid).unwrap_or(core::ptr::null());
        let Some(level) = read::<u32>(pid, l.pid_level) else {
            return 0;
        };
        let upid = l.pid_numbers + (level & 0x3f) * l.upid_size;
        let ns = read::<*const u8>(pid, upid + l.upid_ns).unwrap_or(core::ptr::null());
        ns_inum(ns, l.pid_namespace_ns)
    }

    /// Every namespace of the task, as /proc/PID/ns shows them.
    #[inline(always)]
    pub fn namespaces(self) -> NamespaceSet {
        let l = layout();
        self.with_own(nsproxy_namespaces(read_ptr(self.0, l.task_nsproxy)))
    }

    /// `set` with the namespaces no nsproxy holds filled in from the task:
    /// the pid namespace its own pid lives in, and its user namespace.
    #[inline(always)]
    pub fn with_own(self, set: NamespaceSet) -> NamespaceSet {
        let cred = read_ptr(self.0, layout().task_cred);
        NamespaceSet {
            pid: self.pid_ns(),
            user: ns_inum(read_ptr(cred, layout().cred_user_ns), layout().user_namespace_ns),
            ..set
        }
    }

    /// The `struct inode *` of the file the task holds as `fd`; NULL if
    /// there is none or it cannot be read.
    #[inline(always)]
    pub fn fd_inode(self, fd: u32) -> *const u8 {
        let l = layout();
        let fdt = read_ptr(read_ptr(self.0, l.task_files), l.files_struct_fdt);
        if fdt.is_null() || fd >= read::<u32>(fdt, l.fdtable_max_fds).unwrap_or(0) {
            return core::ptr::null();
        }
        let fds = read_ptr(fdt, l.fdtable_fd);
        let file = read_ptr(fds, fd.wrapping_mul(const { size_u32(core::mem::size_of::<u64>()) }));
        read_ptr(file, l.file_f_inode)
    }

    /// Inode number of the task's network namespace.
    #[inline(always)]
    pub fn net_ns(self) -> u32 {
        let l = layout();
        nsproxy_inum(read_ptr(self.0, l.task_nsproxy), l.nsproxy_net_ns, l.net_ns)
    }
}
