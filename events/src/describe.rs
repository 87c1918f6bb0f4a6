//! Events in words: the strace-style one-line form of each event (the call,
//! its decoded arguments, its result) and the category it belongs to. Plain
//! text only; colour, layout and terminals belong to the presentations that
//! share this (the `cradle` binary's timeline, the TUI, reports).

use std::{borrow::Cow, fmt::Write as _};

use crate::{
    event::{Detail, Event, LinkPlacement, Name},
    kinds::{self, Category, Explanation},
    names,
    printable::{printable, quote},
};

impl Detail {
    /// What the kind means, for a reader learning how a container is born.
    pub fn explanation(&self) -> &'static Explanation {
        &kinds::spec(self.kind()).explanation
    }

    /// The kind's category, but for a clone that makes namespaces: it is
    /// about namespaces more than about a new process.
    pub fn category(&self) -> Category {
        match self {
            Detail::TaskNew { clone_flags, .. }
                if clone_flags & cradle_probes_common::CLONE_NEW_MASK != 0 =>
            {
                Category::Namespaces
            }
            _ => kinds::spec(self.kind()).category,
        }
    }

    /// The call as strace would print it, with its result:
    /// `mount("proc", "/proc", "proc", MS_NOSUID|MS_NODEV, NULL) = 0`.
    pub fn describe(&self) -> String {
        let mut line = String::new();
        // Writing to a String cannot fail.
        let _ = self.write_call(&mut line);
        // Strings are quoted where they are written; this catches a string
        // written bare (a hostname, an interface name).
        match printable(&line) {
            Cow::Borrowed(_) => line,
            Cow::Owned(escaped) => escaped,
        }
    }

    /// The call line, by its kind's category in the kind table (each
    /// family's writer below).
    fn write_call(&self, out: &mut String) -> std::fmt::Result {
        match kinds::spec(self.kind()).category {
            Category::Process | Category::Exec => self.write_process(out),
            Category::Namespaces => self.write_namespace_call(out),
            Category::Mounts | Category::RootSwitch => self.write_mount_call(out),
            Category::Privileges => self.write_privilege_call(out),
            Category::Host | Category::Cgroups => self.write_host_call(out),
            Category::Network => self.write_network_call(out),
            Category::Files => self.write_file_call(out),
        }
    }

    /// The call line of the process and exec family: a new task, an exec, an exit.
    fn write_process(&self, out: &mut String) -> std::fmt::Result {
        match self {
            Detail::Exec { filename, argv, argv_truncated, at, ret, .. } => {
                let call = if *at { "execveat" } else { "execve" };
                write!(out, "{call}({}, [", quote(filename))?;
                for (i, arg) in argv.iter().enumerate() {
                    let sep = if i == 0 { "" } else { ", " };
                    write!(out, "{sep}{}", quote(arg))?;
                }
                let cut = if *argv_truncated { ", ...(argv truncated)" } else { "" };
                write!(out, "{cut}]) = {}", ret.map_or("?".into(), result))
            }
            Detail::ExecResult { ret } => write!(out, "execve(...) = {}", result(*ret)),
            Detail::TaskNew { child_pid, child_tgid, clone_flags } => {
                let what = if child_pid == child_tgid { "process" } else { "thread" };
                write!(out, "new {what} {child_pid}")?;
                if *clone_flags != 0 {
                    write!(out, " (clone flags {})", clone_flags_text(*clone_flags))?;
                }
                Ok(())
            }
            Detail::TaskExit { exit_code } => write!(out, "exit: {}", wait_status(*exit_code)),
            Detail::ProcessExec { filename, .. } => write!(out, "now running {}", quote(filename)),
            other => unreachable!("the kind table puts {} in another category", other.kind_name()),
        }
    }

    /// The call line of namespaces made or joined, with the inode numbers the task is in after.
    fn write_namespace_call(&self, out: &mut String) -> std::fmt::Result {
        match self {
            Detail::Namespaces { source, flags, namespaces, target_pid, ret, .. } => {
                let call = match source {
                    crate::NamespaceSource::Unshare => "unshare",
                    _ => "clone",
                };
                write!(out, "{call}({}) = {}", clone_flags_text(*flags), result(*ret))?;
                let new: Vec<String> = names::namespace_names(*flags)
                    .into_iter()
                    .filter_map(|ns| namespaces.inum(ns).map(|inum| format!("{ns}:[{inum}]")))
                    .collect();
                write!(out, " -> pid {target_pid} in {}", new.join(" "))
            }
            Detail::Setns { fd, nstype, nstype_names, namespaces, ret } => {
                let kind = if *nstype == 0 { "any".to_string() } else { nstype_names.join("|") };
                write!(out, "setns({fd}, {kind}) = {}", result(*ret))?;
                let now: Vec<String> = nstype_names
                    .iter()
                    .filter_map(|ns| namespaces.inum(ns).map(|inum| format!("{ns}:[{inum}]")))
                    .collect();
                if !now.is_empty() {
                    write!(out, " -> now in {}", now.join(" "))?;
                }
                Ok(())
            }
            other => unreachable!("the kind table puts {} in another category", other.kind_name()),
        }
    }

    /// The call line of the mount family, old and new API, and the root switch.
    fn write_mount_call(&self, out: &mut String) -> std::fmt::Result {
        match self {
            Detail::Mount { source, target, fstype, flag_names, data, ret, .. } => write!(
                out,
                "mount({}, {}, {}, {}, {}) = {}",
                opt(source),
                opt(target),
                opt(fstype),
                flags_text(flag_names),
                opt(data),
                result(*ret)
            ),
            Detail::Umount { target, flag_names, ret, .. } => {
                write!(
                    out,
                    "umount2({}, {}) = {}",
                    opt(target),
                    flags_text(flag_names),
                    result(*ret)
                )
            }
            Detail::Fsopen { fsname, flags, ret } => {
                write!(out, "fsopen({}, {flags:#x}) = {}", opt(fsname), result(*ret))
            }
            Detail::Fsconfig { fd, command, key, value, aux, ret, .. } => write!(
                out,
                "fsconfig({fd}, {command}, {}, {}, {aux}) = {}",
                opt(key),
                opt(value),
                result(*ret)
            ),
            Detail::Fsmount { fs_fd, flags, attr_names, ret, .. } => write!(
                out,
                "fsmount({fs_fd}, {flags:#x}, {}) = {}",
                flags_text(attr_names),
                result(*ret)
            ),
            Detail::MoveMount { from_dfd, from_path, to_dfd, to_path, flags, ret } => write!(
                out,
                "move_mount({from_dfd}, {}, {to_dfd}, {}, {flags:#x}) = {}",
                opt(from_path),
                opt(to_path),
                result(*ret)
            ),
            Detail::OpenTree { dfd, path, flags, ret } => {
                write!(out, "open_tree({dfd}, {}, {flags:#x}) = {}", opt(path), result(*ret))
            }
            Detail::MountSetattr { dfd, path, flags, attr_set_names, ret, .. } => write!(
                out,
                "mount_setattr({dfd}, {}, {flags:#x}, set {}) = {}",
                opt(path),
                flags_text(attr_set_names),
                result(*ret)
            ),
            Detail::PivotRoot { new_root, put_old, ret } => {
                write!(out, "pivot_root({}, {}) = {}", opt(new_root), opt(put_old), result(*ret))
            }
            Detail::Chroot { path, ret } => write!(out, "chroot({}) = {}", opt(path), result(*ret)),
            other => unreachable!("the kind table puts {} in another category", other.kind_name()),
        }
    }

    /// The call line of capabilities, prctl, seccomp and the kernel's capability checks.
    fn write_privilege_call(&self, out: &mut String) -> std::fmt::Result {
        match self {
            Detail::Capset { effective, permitted, inheritable, ret, .. } => write!(
                out,
                "capset(effective={}, permitted={}, inheritable={}) = {}",
                caps_text(*effective),
                caps_text(*permitted),
                caps_text(*inheritable),
                result(*ret)
            ),
            Detail::Prctl { option, option_name, arg2, arg3, name, filter_len, ret, .. } => {
                let text = option_name.clone().unwrap_or_else(|| Name::Owned(option.to_string()));
                match (name, filter_len, *option) {
                    (Some(name), _, _) => write!(out, "prctl({text}, {})", quote(name))?,
                    (_, Some(len), _) => {
                        write!(out, "prctl({text}, filter of {len} instructions)")?
                    }
                    (_, _, names::PR_CAPBSET_READ | names::PR_CAPBSET_DROP) => {
                        write!(out, "prctl({text}, {})", cap_text(*arg2))?
                    }
                    // PR_CAP_AMBIENT_IS_SET, _RAISE and _LOWER name a capability.
                    (_, _, names::PR_CAP_AMBIENT) if (1..=3).contains(arg2) => write!(
                        out,
                        "prctl({text}, {}, {})",
                        names::cap_ambient_operation(*arg2),
                        cap_text(*arg3)
                    )?,
                    (_, _, names::PR_CAP_AMBIENT) => {
                        write!(out, "prctl({text}, {})", names::cap_ambient_operation(*arg2))?
                    }
                    _ => write!(out, "prctl({text}, {arg2})")?,
                }
                write!(out, " = {}", result(*ret))
            }
            Detail::Seccomp { operation, operation_name, flags, filter_len, ret } => {
                let op =
                    operation_name.clone().unwrap_or_else(|| Name::Owned(operation.to_string()));
                write!(out, "seccomp({op}, {flags:#x}")?;
                if let Some(len) = filter_len {
                    write!(out, ", filter of {len} instructions")?;
                }
                write!(out, ") = {}", result(*ret))
            }
            Detail::CapCapable { cap, cap_name, ret } => {
                let cap = cap_name.clone().unwrap_or_else(|| Name::Owned(cap.to_string()));
                let verdict = if *ret == 0 { "granted" } else { "denied" };
                write!(out, "capability check {cap}: {verdict}")
            }
            other => unreachable!("the kind table puts {} in another category", other.kind_name()),
        }
    }

    /// The call line of the hostname and cgroups.
    fn write_host_call(&self, out: &mut String) -> std::fmt::Result {
        match self {
            Detail::Sethostname { name, ret } => {
                write!(out, "sethostname({}) = {}", opt(name), result(*ret))
            }
            Detail::CgroupMkdir { path, .. } => write!(out, "cgroup created: {path}"),
            Detail::CgroupAttach { path, target_pid, .. } => {
                write!(out, "pid {target_pid} moved to cgroup {path}")
            }
            other => unreachable!("the kind table puts {} in another category", other.kind_name()),
        }
    }

    /// The call line of link requests, their answers and the veth pairs the kernel made.
    fn write_network_call(&self, out: &mut String) -> std::fmt::Result {
        match self {
            Detail::NewLink { link_kind, link, peer, ret, seq, answer, moved_ifindex } => {
                let kind = link_kind.as_deref().unwrap_or("link");
                match moved_ifindex {
                    Some(index) => {
                        let to = match (link.netns, link.netns_fd) {
                            (Some(inum), _) => format!("net:[{inum}]"),
                            (None, Some(fd)) => format!("the netns of fd {fd}"),
                            (None, None) => "another netns".to_string(),
                        };
                        write!(out, "RTM_SETLINK seq {seq} moves link ifindex {index} to {to}")?
                    }
                    None => write!(out, "RTM_NEWLINK seq {seq} {kind} {}", placement(link))?,
                }
                if let Some(peer) = peer {
                    write!(out, " peer {}", placement(peer))?;
                }
                match answer {
                    _ if *ret < 0 => write!(out, " (sendmsg = {})", result(*ret)),
                    Some(error) => write!(out, " = {}", result(i64::from(*error))),
                    None => write!(out, " (sendmsg = {}, no answer seen)", result(*ret)),
                }
            }
            Detail::NewLinkAnswer { seq, error } => {
                write!(out, "netlink answer to seq {seq} = {}", result(i64::from(*error)))
            }
            Detail::Veth { link, peer, ret } => {
                let end = |end: &crate::VethEndpoint| {
                    format!("{} (ifindex {}, net:[{}])", quote(&end.name), end.ifindex, end.netns)
                };
                write!(
                    out,
                    "veth_newlink {} peer {} = {}",
                    end(link),
                    end(peer),
                    result(i64::from(*ret))
                )
            }
            other => unreachable!("the kind table puts {} in another category", other.kind_name()),
        }
    }

    /// The call line of files opened for writing or for a path, and nodes made.
    fn write_file_call(&self, out: &mut String) -> std::fmt::Result {
        match self {
            Detail::Open {
                call,
                dirfd,
                path,
                flags,
                flag_names,
                mode,
                resolve_names,
                file_type,
                ret,
                ..
            } => {
                write!(out, "{call}(")?;
                if call != "open" {
                    write!(out, "{}, ", dirfd_text(*dirfd))?;
                }
                write!(out, "{}, ", opt(path))?;
                let flags = crate::event::c_int(*flags);
                let creates =
                    flags & libc::O_CREAT != 0 || flags & libc::O_TMPFILE == libc::O_TMPFILE;
                if call == "openat2" {
                    write!(out, "{{flags={}", flags_text(flag_names))?;
                    if creates {
                        write!(out, ", mode=0{mode:03o}")?;
                    }
                    write!(out, ", resolve={}}})", flags_text(resolve_names))?;
                } else {
                    write!(out, "{}", flags_text(flag_names))?;
                    if creates {
                        write!(out, ", 0{mode:03o}")?;
                    }
                    write!(out, ")")?;
                }
                write!(out, " = {}", result(*ret))?;
                match file_type.as_deref() {
                    Some("file") | None => Ok(()),
                    Some(kind) => write!(out, " ({})", kind.replace('_', " ")),
                }
            }
            Detail::Mknod { call, dirfd, path, mode, file_type, major, minor, ret } => {
                write!(out, "{call}(")?;
                if call != "mknod" {
                    write!(out, "{}, ", dirfd_text(*dirfd))?;
                }
                let kind = match file_type.as_ref() {
                    "char_device" => "S_IFCHR",
                    "block_device" => "S_IFBLK",
                    "fifo" => "S_IFIFO",
                    "socket" => "S_IFSOCK",
                    _ => "S_IFREG",
                };
                write!(out, "{}, {kind}|0{:03o}", opt(path), mode & 0o7777)?;
                if matches!(file_type.as_ref(), "char_device" | "block_device") {
                    write!(out, ", makedev({major}, {minor})")?;
                }
                write!(out, ") = {}", result(*ret))
            }
            other => unreachable!("the kind table puts {} in another category", other.kind_name()),
        }
    }
}

impl Event {
    /// `comm[tgid]` followed by the call: `runc[812] mount(...) = 0`.
    pub fn describe(&self) -> String {
        let flagged = match (self.untrusted_runtime, self.unprivileged) {
            (true, _) => " [untrusted runtime: its file is not root's alone; not followed]",
            (false, true) => " [runtime run by an unprivileged user]",
            (false, false) => "",
        };
        format!("{}[{}] {}{flagged}", printable(&self.comm), self.tgid, self.detail.describe())
    }
}

/// A syscall result: the value, or `-1 EPERM (Operation not permitted)`.
pub fn result(ret: i64) -> String {
    if ret < 0 && ret > -4096 {
        let errno = nix::errno::Errno::from_raw(i32::try_from(-ret).expect("checked: 1..4096"));
        format!("-1 {errno:?} ({})", errno.desc())
    } else {
        ret.to_string()
    }
}

/// Clone/unshare flags: `CLONE_NEWNS|CLONE_NEWPID|...`, other bits in hex.
pub fn clone_flags_text(flags: u64) -> String {
    // The low byte of clone(2)'s flags is the exit signal, not a flag
    // (CLONE_NEWTIME shares it, but only clone3 and unshare can ask for it).
    let flags = flags & !0x7f;
    let parts = names::bit_names(flags, CLONE_FLAGS);
    if parts.is_empty() { "0".into() } else { parts.join("|") }
}

const CLONE_FLAGS: &[(u64, &str)] = &[
    (0x100, "CLONE_VM"),
    (0x200, "CLONE_FS"),
    (0x400, "CLONE_FILES"),
    (0x800, "CLONE_SIGHAND"),
    (0x1000, "CLONE_PIDFD"),
    (0x2000, "CLONE_PTRACE"),
    (0x4000, "CLONE_VFORK"),
    (0x8000, "CLONE_PARENT"),
    (0x1_0000, "CLONE_THREAD"),
    (0x2_0000, "CLONE_NEWNS"),
    (0x4_0000, "CLONE_SYSVSEM"),
    (0x8_0000, "CLONE_SETTLS"),
    (0x10_0000, "CLONE_PARENT_SETTID"),
    (0x20_0000, "CLONE_CHILD_CLEARTID"),
    (0x80_0000, "CLONE_UNTRACED"),
    (0x100_0000, "CLONE_CHILD_SETTID"),
    (0x200_0000, "CLONE_NEWCGROUP"),
    (0x400_0000, "CLONE_NEWUTS"),
    (0x800_0000, "CLONE_NEWIPC"),
    (0x1000_0000, "CLONE_NEWUSER"),
    (0x2000_0000, "CLONE_NEWPID"),
    (0x4000_0000, "CLONE_NEWNET"),
    (0x8000_0000, "CLONE_IO"),
    (0x80, "CLONE_NEWTIME"),
    // clone3 only: its flags are 64 bits wide.
    (0x1_0000_0000, "CLONE_CLEAR_SIGHAND"),
    (0x2_0000_0000, "CLONE_INTO_CGROUP"),
];

/// A capability number as its name, or the number if it has none.
fn cap_text(cap: u64) -> String {
    i32::try_from(cap)
        .ok()
        .and_then(names::capability)
        .map_or_else(|| cap.to_string(), str::to_string)
}

/// A wait(2) status word: `exited 0`, `killed by SIGKILL`.
pub fn wait_status(status: u32) -> String {
    crate::event::ExitStatus::from_wait_status(status).to_string()
}

/// A capability set as names, or `all` / `none`.
pub fn caps_text(set: Option<u64>) -> String {
    let Some(set) = set else { return "?".into() };
    let all_known = names::known_capabilities();
    match set {
        0 => "none".into(),
        set if set & all_known == all_known => "all".into(),
        set => (0..64)
            .filter(|cap| set & (1 << cap) != 0)
            .map(|cap| {
                names::capability(cap).map_or(format!("cap{cap}"), |name| {
                    name.trim_start_matches("CAP_").to_ascii_lowercase()
                })
            })
            .collect::<Vec<_>>()
            .join(","),
    }
}

/// A directory file descriptor argument: `AT_FDCWD` or the number.
fn dirfd_text(dirfd: i32) -> String {
    if dirfd == cradle_probes_common::AT_FDCWD { "AT_FDCWD".into() } else { dirfd.to_string() }
}

fn placement(link: &LinkPlacement) -> String {
    let name = link.name.as_deref().map_or("(kernel-named)".to_string(), quote);
    match (link.netns, link.netns_pid, link.netns_fd) {
        (_, Some(pid), _) => format!("{name} in netns of pid {pid}"),
        (Some(inum), _, Some(fd)) => format!("{name} in net:[{inum}] (fd {fd})"),
        (None, _, Some(fd)) => format!("{name} in netns of fd {fd}"),
        (Some(inum), _, _) => format!("{name} in net:[{inum}]"),
        _ => name,
    }
}

fn flags_text<S: AsRef<str>>(names: &[S]) -> String {
    if names.is_empty() {
        "0".into()
    } else {
        names.iter().map(AsRef::as_ref).collect::<Vec<_>>().join("|")
    }
}

fn opt(value: &Option<String>) -> String {
    value.as_deref().map_or("NULL".into(), quote)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clone_flags_name_namespaces_and_keep_unknown_bits() {
        assert_eq!(clone_flags_text(0x2002_0000), "CLONE_NEWNS|CLONE_NEWPID");
        assert_eq!(clone_flags_text(0x11), "0", "the exit signal is not a flag");
        assert_eq!(clone_flags_text(0x1_0000_0000_0000), "0x1000000000000");
        assert_eq!(
            clone_flags_text(0x2_2002_0000),
            "CLONE_NEWNS|CLONE_NEWPID|CLONE_INTO_CGROUP",
            "clone3's own flags"
        );
    }

    #[test]
    fn prctls_that_take_a_capability_name_it() {
        let prctl = |option: u32, arg2: u64, arg3: u64| {
            Detail::Prctl {
                option,
                option_name: names::prctl_option(option).map(Name::from),
                arg2,
                arg3,
                arg4: 0,
                arg5: 0,
                name: None,
                filter_len: None,
                ret: 0,
            }
            .describe()
        };
        assert_eq!(prctl(24, 21, 0), "prctl(PR_CAPBSET_DROP, CAP_SYS_ADMIN) = 0");
        assert_eq!(prctl(23, 99, 0), "prctl(PR_CAPBSET_READ, 99) = 0", "no such capability");
        assert_eq!(
            prctl(47, 3, 12),
            "prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_LOWER, CAP_NET_ADMIN) = 0"
        );
        assert_eq!(prctl(47, 4, 0), "prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL) = 0");
        assert_eq!(prctl(36, 1, 0), "prctl(PR_SET_CHILD_SUBREAPER, 1) = 0");
    }

    #[test]
    fn results_name_their_errno() {
        assert_eq!(result(0), "0");
        assert_eq!(result(-1), "-1 EPERM (Operation not permitted)");
        assert_eq!(result(4096), "4096");
    }

    #[test]
    fn wait_statuses_read_as_a_shell_would() {
        assert_eq!(wait_status(0), "exited 0");
        assert_eq!(wait_status(3 << 8), "exited 3");
        assert_eq!(wait_status(9), "killed by SIGKILL");
        assert_eq!(wait_status(11 | 0x80), "killed by SIGSEGV (core dumped)");
    }

    #[test]
    fn capability_sets_are_named() {
        assert_eq!(caps_text(Some(0)), "none");
        assert_eq!(caps_text(Some(1 << 21)), "sys_admin");
        assert_eq!(caps_text(Some(1 << 21 | 1 << 41)), "sys_admin,cap41", "newer than the table");
        assert_eq!(caps_text(Some(u64::MAX)), "all");
        assert_eq!(caps_text(None), "?");
    }

    #[test]
    fn a_mount_reads_like_strace() {
        let mount = Detail::Mount {
            source: Some("proc".into()),
            target: Some("/proc".into()),
            fstype: Some("proc".into()),
            flags: 6,
            flag_names: vec!["MS_NOSUID".into(), "MS_NODEV".into()],
            data: None,
            ret: 0,
        };
        assert_eq!(
            mount.describe(),
            r#"mount("proc", "/proc", "proc", MS_NOSUID|MS_NODEV, NULL) = 0"#
        );
        assert_eq!(mount.category(), Category::Mounts);
    }

    #[test]
    fn opens_and_mknods_read_like_strace() {
        let open = Detail::Open {
            call: "openat".into(),
            dirfd: -100,
            path: Some("/proc/sys/kernel/core_pattern".into()),
            flags: (libc::O_WRONLY | libc::O_CREAT | libc::O_APPEND) as u64,
            flag_names: vec!["O_WRONLY".into(), "O_CREAT".into(), "O_APPEND".into()],
            mode: 0o666,
            resolve: 0,
            resolve_names: vec![],
            file_type: Some("file".into()),
            ret: 3,
        };
        assert_eq!(
            open.describe(),
            r#"openat(AT_FDCWD, "/proc/sys/kernel/core_pattern", O_WRONLY|O_CREAT|O_APPEND, 0666) = 3"#
        );
        assert!(open.opens_for_writing());
        let path = Detail::Open {
            call: "openat2".into(),
            dirfd: 3,
            path: Some("proc/sys".into()),
            flags: (libc::O_CLOEXEC | libc::O_PATH) as u64,
            flag_names: vec!["O_RDONLY".into(), "O_CLOEXEC".into(), "O_PATH".into()],
            mode: 0,
            resolve: 0x10,
            resolve_names: vec!["RESOLVE_IN_ROOT".into()],
            file_type: Some("directory".into()),
            ret: 6,
        };
        assert_eq!(
            path.describe(),
            r#"openat2(3, "proc/sys", {flags=O_RDONLY|O_CLOEXEC|O_PATH, resolve=RESOLVE_IN_ROOT}) = 6 (directory)"#
        );
        assert!(!path.opens_for_writing());
        assert_eq!(path.category(), Category::Files);
        let mknod = Detail::Mknod {
            call: "mknodat".into(),
            dirfd: -100,
            path: Some("/dev/sda1".into()),
            mode: 0o060600,
            file_type: "block_device".into(),
            major: 8,
            minor: 1,
            ret: 0,
        };
        assert_eq!(
            mknod.describe(),
            r#"mknodat(AT_FDCWD, "/dev/sda1", S_IFBLK|0600, makedev(8, 1)) = 0"#
        );
    }
}
