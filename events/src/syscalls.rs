//! The meaning of a syscall record's arguments and data areas, per kind:
//! the userspace half of the slot assignments in `probes-ebpf/src/calls.rs`.

use cradle_probes_common::{CALL_SLOTS, CallEvent, EventKind};

use crate::{
    cstr::c_string,
    event::{Detail, Name, c_int, c_uint},
    names::{self, MOUNT_ATTRS, MOUNT_FLAGS, UMOUNT_FLAGS, bit_names},
};

/// A data area as a string; `None` when nothing could be read (a NULL
/// pointer, or memory the kernel would not let the probe read).
fn text(slot: &[u8]) -> Option<String> {
    if slot.is_empty() { None } else { Some(c_string(slot)) }
}

/// The little-endian-or-native u32/u64 at `at` in a data area.
fn u32_at(slot: &[u8], at: usize) -> Option<u32> {
    slot.get(at..at + 4).map(|b| u32::from_ne_bytes(b.try_into().expect("4 bytes")))
}

fn u64_at(slot: &[u8], at: usize) -> Option<u64> {
    slot.get(at..at + 8).map(|b| u64::from_ne_bytes(b.try_into().expect("8 bytes")))
}

/// The instruction count at the start of a `struct sock_fprog`.
fn filter_len(slot: &[u8]) -> Option<u16> {
    slot.get(..2).map(|b| u16::from_ne_bytes([b[0], b[1]]))
}

/// The two 32-bit halves of a capability set in the v3 `capset` data.
fn cap_set(data: &[u8], index: usize) -> Option<u64> {
    // struct __user_cap_data_struct { effective, permitted, inheritable } x2
    let low = u32_at(data, index * 4)?;
    let high = u32_at(data, 12 + index * 4)?;
    Some(u64::from(low) | (u64::from(high) << 32))
}

/// Builds the detail of a syscall record. `slots` are its checked data areas.
pub fn detail(kind: EventKind, record: &CallEvent, slots: &[&[u8]; CALL_SLOTS]) -> Detail {
    let a = record.args;
    let ret = record.ret;
    // Integer arguments are their C types: the upper register half is noise.
    let int = |n: usize| c_int(a[n]);
    let uint = |n: usize| c_uint(a[n]);
    match kind {
        EventKind::Mount => Detail::Mount {
            source: text(slots[0]),
            target: text(slots[1]),
            fstype: text(slots[2]),
            flags: a[3],
            flag_names: bit_names(a[3], MOUNT_FLAGS),
            data: text(slots[3]),
            ret,
        },
        EventKind::Umount => Detail::Umount {
            target: text(slots[0]),
            flags: u64::from(uint(1)),
            flag_names: bit_names(u64::from(uint(1)), UMOUNT_FLAGS),
            ret,
        },
        EventKind::Fsopen => Detail::Fsopen { fsname: text(slots[0]), flags: uint(1), ret },
        EventKind::Fsconfig => Detail::Fsconfig {
            fd: int(0),
            cmd: uint(1),
            command: names::fsconfig_command(uint(1)),
            key: text(slots[0]),
            value: if names::fsconfig_value_is_string(uint(1)) { text(slots[1]) } else { None },
            aux: int(4),
            ret,
        },
        EventKind::Fsmount => Detail::Fsmount {
            fs_fd: int(0),
            flags: uint(1),
            attr_flags: u64::from(uint(2)),
            attr_names: bit_names(u64::from(uint(2)), MOUNT_ATTRS),
            ret,
        },
        EventKind::MoveMount => Detail::MoveMount {
            from_dfd: int(0),
            from_path: text(slots[0]),
            to_dfd: int(2),
            to_path: text(slots[1]),
            flags: uint(4),
            ret,
        },
        EventKind::OpenTree => {
            Detail::OpenTree { dfd: int(0), path: text(slots[0]), flags: uint(2), ret }
        }
        EventKind::MountSetattr => {
            let attr = slots[1];
            let attr_set = u64_at(attr, 0);
            Detail::MountSetattr {
                dfd: int(0),
                path: text(slots[0]),
                flags: uint(2),
                attr_set,
                attr_set_names: attr_set.map(|set| bit_names(set, MOUNT_ATTRS)).unwrap_or_default(),
                attr_clr: u64_at(attr, 8),
                propagation: u64_at(attr, 16),
                userns_fd: u64_at(attr, 24),
                ret,
            }
        }
        EventKind::PivotRoot => {
            Detail::PivotRoot { new_root: text(slots[0]), put_old: text(slots[1]), ret }
        }
        EventKind::Chroot => Detail::Chroot { path: text(slots[0]), ret },
        EventKind::Setns => Detail::Setns {
            fd: int(0),
            nstype: uint(1),
            nstype_names: names::namespace_names(u64::from(uint(1)))
                .into_iter()
                .map(Name::from)
                .collect(),
            namespaces: record.namespaces,
            ret,
        },
        EventKind::Capset => Detail::Capset {
            version: u32_at(slots[0], 0),
            // A pid_t, as the kernel reads it.
            target_pid: u32_at(slots[0], 4).map(u32::cast_signed),
            effective: cap_set(slots[1], 0),
            permitted: cap_set(slots[1], 1),
            inheritable: cap_set(slots[1], 2),
            ret,
        },
        EventKind::Prctl => Detail::Prctl {
            option: uint(0),
            option_name: names::prctl_option(uint(0)).map(Name::from),
            arg2: a[1],
            arg3: a[2],
            arg4: a[3],
            arg5: a[4],
            // The kernel takes at most TASK_COMM_LEN - 1 bytes of the name.
            name: (uint(0) == names::PR_SET_NAME)
                .then(|| text(slots[0]).map(|name| name.chars().take(15).collect()))
                .flatten(),
            filter_len: (uint(0) == names::PR_SET_SECCOMP
                && u64::from(uint(1)) == names::SECCOMP_MODE_FILTER)
                .then(|| filter_len(slots[1]))
                .flatten(),
            ret,
        },
        EventKind::Seccomp => Detail::Seccomp {
            operation: uint(0),
            operation_name: names::seccomp_operation(uint(0)).map(Name::from),
            flags: uint(1),
            filter_len: (uint(0) == names::SECCOMP_SET_MODE_FILTER)
                .then(|| filter_len(slots[0]))
                .flatten(),
            ret,
        },
        EventKind::Sethostname => {
            // The name is `len` bytes, not NUL-terminated.
            let len = usize::try_from(a[1]).unwrap_or(usize::MAX).min(slots[0].len());
            Detail::Sethostname { name: text(&slots[0][..len]), ret }
        }
        _ => unreachable!("{kind:?} is not a syscall record"),
    }
}
