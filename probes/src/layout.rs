//! The kernel structure layout the eBPF programs need, read from the running
//! kernel's BTF. Rust eBPF has no CO-RE relocations, so the offsets are
//! found here at load time and handed to the programs as a global.

use std::{cell::RefCell, collections::HashMap, path::Path};

use btf_rs::{Backend, Btf, Type};
use cradle_probes_common::{KernelLayout, LAYOUT_ABSENT};

/// Where the running kernel publishes its BTF.
pub const VMLINUX_BTF: &str = "/sys/kernel/btf/vmlinux";

#[derive(Debug, thiserror::Error)]
pub enum LayoutError {
    #[error("reading kernel BTF from {path}: {reason}")]
    Read { path: String, reason: String },
    #[error("kernel BTF has no struct {0}")]
    NoStruct(String),
    #[error("kernel BTF: struct {strukt} has no member {member}")]
    NoMember { strukt: String, member: String },
    #[error("kernel BTF: {0}")]
    Btf(String),
}

/// Reads the layout from the BTF file at `path` (normally [`VMLINUX_BTF`]).
pub fn kernel_layout(path: &Path) -> Result<KernelLayout, LayoutError> {
    let read_error =
        |reason: String| LayoutError::Read { path: path.display().to_string(), reason };
    let btf = match Btf::from_file_with_backend(path, Backend::Mmap) {
        // Mapped (sysfs allows it from Linux 6.16): no parse of every type
        // and string up front, which took most of a trace's startup (~60 ms
        // of ~200); each lookup scans the types instead, hence the memo.
        Ok(mapped) => mapped,
        Err(err) => {
            tracing::debug!("{} is not mappable ({err}): parsing it whole", path.display());
            // Read whole first: parsing from the file makes ~100,000 small
            // reads and seeks on sysfs, which took 2.6 s; from memory it
            // takes a fraction.
            let bytes = std::fs::read(path).map_err(|err| read_error(err.to_string()))?;
            Btf::from_bytes(&bytes).map_err(|err| read_error(err.to_string()))?
        }
    };
    let finder = Finder::new(&btf);
    let veth = veth_layout(&finder, path.parent().unwrap_or(Path::new("/")))?;
    Ok(KernelLayout {
        task_pid: finder.offset("task_struct", "pid")?,
        task_tgid: finder.offset("task_struct", "tgid")?,
        task_real_parent: finder.offset("task_struct", "real_parent")?,
        task_nsproxy: finder.offset("task_struct", "nsproxy")?,
        task_thread_pid: finder.offset("task_struct", "thread_pid")?,
        task_exit_code: finder.offset("task_struct", "exit_code")?,
        nsproxy_mnt_ns: finder.offset("nsproxy", "mnt_ns")?,
        mnt_namespace_ns: finder.offset("mnt_namespace", "ns")?,
        pid_namespace_ns: finder.offset("pid_namespace", "ns")?,
        ns_common_inum: finder.offset("ns_common", "inum")?,
        pid_level: finder.offset("pid", "level")?,
        pid_numbers: finder.offset("pid", "numbers")?,
        upid_size: finder.size("upid")?,
        upid_ns: finder.offset("upid", "ns")?,
        task_cred: finder.offset("task_struct", "cred")?,
        cred_user_ns: finder.offset("cred", "user_ns")?,
        nsproxy_uts_ns: finder.offset("nsproxy", "uts_ns")?,
        nsproxy_ipc_ns: finder.offset("nsproxy", "ipc_ns")?,
        nsproxy_pid_ns_for_children: finder.offset("nsproxy", "pid_ns_for_children")?,
        nsproxy_net_ns: finder.offset("nsproxy", "net_ns")?,
        nsproxy_cgroup_ns: finder.offset("nsproxy", "cgroup_ns")?,
        // CONFIG_TIME_NS is optional; without it there is no time namespace.
        nsproxy_time_ns: finder.optional("nsproxy", "time_ns")?,
        nsproxy_time_ns_for_children: finder.optional("nsproxy", "time_ns_for_children")?,
        uts_namespace_ns: finder.offset("uts_namespace", "ns")?,
        ipc_namespace_ns: finder.offset("ipc_namespace", "ns")?,
        net_ns: finder.offset("net", "ns")?,
        cgroup_namespace_ns: finder.offset("cgroup_namespace", "ns")?,
        time_namespace_ns: finder.optional("time_namespace", "ns")?,
        user_namespace_ns: finder.offset("user_namespace", "ns")?,
        binprm_filename: finder.offset("linux_binprm", "filename")?,
        cgroup_kn: finder.offset("cgroup", "kn")?,
        cgroup_root: finder.offset("cgroup", "root")?,
        kernfs_node_id: finder.offset("kernfs_node", "id")?,
        cgroup_root_hierarchy_id: finder.offset("cgroup_root", "hierarchy_id")?,
        task_files: finder.offset("task_struct", "files")?,
        files_struct_fdt: finder.offset("files_struct", "fdt")?,
        fdtable_max_fds: finder.offset("fdtable", "max_fds")?,
        fdtable_fd: finder.offset("fdtable", "fd")?,
        file_f_inode: finder.offset("file", "f_inode")?,
        inode_i_ino: finder.offset("inode", "i_ino")?,
        inode_i_mode: finder.offset("inode", "i_mode")?,
        binprm_file: finder.offset("linux_binprm", "file")?,
        inode_i_uid: finder.offset("inode", "i_uid")?,
        cred_uid: finder.offset("cred", "uid")?,
        inode_i_sb: finder.offset("inode", "i_sb")?,
        super_block_s_dev: finder.offset("super_block", "s_dev")?,
        net_device_priv: finder.net_device_priv()?,
        net_device_name: finder.offset("net_device", "name")?,
        net_device_ifindex: finder.offset("net_device", "ifindex")?,
        net_device_nd_net: finder.offset("net_device", "nd_net")?,
        veth_priv_peer: veth.peer,
        veth_newlink_dev_arg: veth.dev_arg,
    })
}

/// Where the veth driver keeps what its hook reads.
struct VethLayout {
    peer: u32,
    dev_arg: u32,
}

/// The veth driver's layout: from the kernel's BTF when veth is built in,
/// else from the veth module's split BTF next to it (present once the
/// module is loaded). Absent members make the veth hook unavailable, not
/// the tracer.
fn veth_layout(vmlinux: &Finder, btf_dir: &Path) -> Result<VethLayout, LayoutError> {
    let from = |finder: &Finder| -> Result<Option<VethLayout>, LayoutError> {
        let peer = finder.optional("veth_priv", "peer")?;
        let dev_arg = finder.parameter("veth_newlink", "dev");
        Ok((peer != LAYOUT_ABSENT && dev_arg != LAYOUT_ABSENT)
            .then_some(VethLayout { peer, dev_arg }))
    };
    if let Some(found) = from(vmlinux)? {
        return Ok(found);
    }
    let absent = VethLayout { peer: LAYOUT_ABSENT, dev_arg: LAYOUT_ABSENT };
    let Ok(bytes) = std::fs::read(btf_dir.join(VETH_MODULE)) else {
        return Ok(absent);
    };
    match Btf::from_split_bytes(&bytes, vmlinux.btf) {
        Ok(module) => Ok(from(&Finder::new(&module))?.unwrap_or(absent)),
        Err(err) => {
            tracing::debug!("the {VETH_MODULE} module's BTF does not parse: {err}");
            Ok(absent)
        }
    }
}

/// The module the veth driver is built as, where it is not built in; its
/// BTF is `/sys/kernel/btf/veth` once loaded.
pub const VETH_MODULE: &str = "veth";

struct Finder<'a> {
    btf: &'a Btf,
    /// The structs found so far, by name: most are asked for many times.
    structs: RefCell<HashMap<String, btf_rs::Struct>>,
}

impl<'a> Finder<'a> {
    fn new(btf: &'a Btf) -> Self {
        Finder { btf, structs: RefCell::default() }
    }

    fn strukt(&self, name: &str) -> Result<btf_rs::Struct, LayoutError> {
        if let Some(found) = self.structs.borrow().get(name) {
            return Ok(found.clone());
        }
        let found = self.lookup_struct(name)?;
        self.structs.borrow_mut().insert(name.to_string(), found.clone());
        Ok(found)
    }

    fn lookup_struct(&self, name: &str) -> Result<btf_rs::Struct, LayoutError> {
        let types = self
            .btf
            .resolve_types_by_name(name)
            .map_err(|_| LayoutError::NoStruct(name.to_string()))?;
        types
            .into_iter()
            .find_map(|ty| match ty {
                // A forward declaration has no members; take the definition.
                Type::Struct(s) if !s.members.is_empty() => Some(s),
                _ => None,
            })
            .ok_or_else(|| LayoutError::NoStruct(name.to_string()))
    }

    fn size(&self, name: &str) -> Result<u32, LayoutError> {
        let size = self.strukt(name)?.size();
        u32::try_from(size)
            .map_err(|_| LayoutError::Btf(format!("struct {name} has a size of {size} bytes")))
    }

    /// Byte offset of `member` in struct `name`, looking inside anonymous
    /// structs and unions, where the kernel keeps many fields.
    fn offset(&self, name: &str, member: &str) -> Result<u32, LayoutError> {
        let strukt = self.strukt(name)?;
        self.find_member(&strukt, member, 0)?.map(|bits| bits / 8).ok_or_else(|| {
            LayoutError::NoMember { strukt: name.to_string(), member: member.to_string() }
        })
    }

    /// Like [`Finder::offset`], but a struct or member this kernel does not
    /// have is [`LAYOUT_ABSENT`] rather than an error.
    fn optional(&self, name: &str, member: &str) -> Result<u32, LayoutError> {
        match self.offset(name, member) {
            Err(LayoutError::NoStruct(_) | LayoutError::NoMember { .. }) => Ok(LAYOUT_ABSENT),
            other => other,
        }
    }

    /// `netdev_priv(dev)`: the private area is the flexible `priv` member
    /// where the kernel has one (6.12 on), else what follows the struct,
    /// aligned to `NETDEV_ALIGN` (32).
    fn net_device_priv(&self) -> Result<u32, LayoutError> {
        match self.optional("net_device", "priv")? {
            LAYOUT_ABSENT => Ok(self.size("net_device")?.next_multiple_of(32)),
            offset => Ok(offset),
        }
    }

    /// The index of parameter `name` of function `function`, or
    /// [`LAYOUT_ABSENT`].
    fn parameter(&self, function: &str, name: &str) -> u32 {
        let Ok(types) = self.btf.resolve_types_by_name(function) else {
            return LAYOUT_ABSENT;
        };
        for ty in types {
            let Type::Func(func) = ty else { continue };
            let Ok(Type::FuncProto(proto)) = self.btf.resolve_chained_type(&func) else {
                continue;
            };
            if let Some(index) = proto
                .parameters
                .iter()
                .position(|p| self.btf.resolve_name(p).is_ok_and(|n| n == name))
            {
                return u32::try_from(index).unwrap_or(LAYOUT_ABSENT);
            }
        }
        LAYOUT_ABSENT
    }

    fn find_member(
        &self,
        strukt: &btf_rs::Struct,
        wanted: &str,
        base_bits: u32,
    ) -> Result<Option<u32>, LayoutError> {
        for member in &strukt.members {
            let name = self.btf.resolve_name(member).unwrap_or_default();
            let bits = base_bits + member.bit_offset();
            if name == wanted {
                return Ok(Some(bits));
            }
            if name.is_empty() {
                let ty = self
                    .btf
                    .resolve_chained_type(member)
                    .map_err(|err| LayoutError::Btf(err.to_string()))?;
                if let Type::Struct(inner) | Type::Union(inner) = ty
                    && let Some(found) = self.find_member(&inner, wanted, bits)?
                {
                    return Ok(Some(found));
                }
            }
        }
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn running_kernel_layout_is_plausible() {
        // cradle requires BTF; PLATFORM.md records it on these machines.
        let layout = kernel_layout(Path::new(VMLINUX_BTF)).expect("layout");
        // pid and tgid are adjacent pid_t fields in every kernel.
        assert_eq!(layout.task_tgid, layout.task_pid + 4);
        assert!(layout.task_nsproxy > layout.task_tgid);
        assert!(layout.upid_size >= 16);
        // Every namespace struct embeds an ns_common; net's is not first.
        assert_ne!(layout.net_ns, LAYOUT_ABSENT);
        assert!(layout.nsproxy_cgroup_ns > layout.nsproxy_uts_ns);
        // The name is an array of IFNAMSIZ bytes, before the private area.
        assert!(layout.net_device_priv > layout.net_device_name + 16);
    }

    #[test]
    fn missing_file_names_the_path() {
        let err = kernel_layout(Path::new("/nonexistent/btf")).unwrap_err();
        assert!(err.to_string().contains("/nonexistent/btf"), "{err}");
    }
}
