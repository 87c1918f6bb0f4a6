//! Test helper for `tests/probes_*.rs`: performs one group of the syscalls
//! cradle's probes record, through raw libc calls with known arguments, and
//! prints what the kernel says about the result (pids, namespace inode
//! numbers from /proc) as one JSON object, for the tests to compare with
//! the trace.
//!
//! `probe_actions mount DIR | files DIR | namespaces | privileges | cgroup | storm COUNT |
//! calls COUNT | hostile-names DIR | flood COUNT`

use std::{
    ffi::CString,
    fs,
    io::{Read, Write},
    os::fd::FromRawFd,
    path::Path,
};

use serde_json::{Value, json};

fn c(text: &str) -> CString {
    CString::new(text).expect("no NUL")
}

/// Fails loudly: a helper that half-worked would make the tests lie.
fn check(what: &str, ret: i64) -> i64 {
    if ret < 0 {
        panic!("{what}: {}", std::io::Error::last_os_error());
    }
    ret
}

/// A descriptor or pid that `syscall(2)` returned widened to a long.
fn int(ret: i64) -> i32 {
    i32::try_from(ret).expect("the kernel returns an int")
}

/// The inode number `readlink /proc/PID/ns/NS` shows; `None` while the
/// kernel has none to show (`pid_for_children` after unshare(CLONE_NEWPID),
/// before the first child).
fn ns_inum(pid: &str, ns: &str) -> Option<u64> {
    let link = fs::read_link(format!("/proc/{pid}/ns/{ns}")).ok()?;
    let text = link.to_string_lossy();
    text.get(text.find('[')? + 1..text.len() - 1)?.parse().ok()
}

const NAMESPACES: [&str; 10] = [
    "mnt",
    "uts",
    "ipc",
    "pid",
    "pid_for_children",
    "net",
    "cgroup",
    "time",
    "time_for_children",
    "user",
];

fn all_ns(pid: &str) -> Value {
    NAMESPACES.iter().map(|ns| (ns.to_string(), json!(ns_inum(pid, ns)))).collect()
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let report = match args.get(1).map(String::as_str) {
        Some("mount") => mount(args.get(2).expect("DIR")),
        Some("files") => files(args.get(2).expect("DIR")),
        Some("namespaces") => namespaces(),
        Some("privileges") => privileges(),
        Some("cgroup") => cgroup(),
        Some("storm") => storm(args.get(2).and_then(|n| n.parse().ok()).expect("COUNT")),
        Some("calls") => calls(args.get(2).and_then(|n| n.parse().ok()).expect("COUNT")),
        Some("hostile-names") => hostile_names(args.get(2).expect("DIR")),
        Some("flood") => flood(args.get(2).and_then(|n| n.parse().ok()).expect("COUNT")),
        other => panic!("unknown action {other:?}"),
    };
    println!("{report}");
}

/// The classic and the new mount API, pivot_root and chroot, in a private
/// mount namespace so the host is left as it was.
fn mount(dir: &str) -> Value {
    // SAFETY: every libc call below: arguments are valid NUL-terminated
    // strings and plain integers; results are checked.
    unsafe {
        check("unshare", libc::unshare(libc::CLONE_NEWNS) as i64);
        let root = c("/");
        check(
            "make private",
            libc::mount(
                std::ptr::null(),
                root.as_ptr(),
                std::ptr::null(),
                libc::MS_REC | libc::MS_PRIVATE,
                std::ptr::null(),
            ) as i64,
        );
        let target = c(dir);
        let (source, fstype, data) = (c("cradle-src"), c("tmpfs"), c("size=1m,mode=755"));
        check(
            "mount",
            libc::mount(
                source.as_ptr(),
                target.as_ptr(),
                fstype.as_ptr(),
                libc::MS_NOSUID | libc::MS_NODEV,
                data.as_ptr().cast(),
            ) as i64,
        );
        check("umount2", libc::umount2(target.as_ptr(), libc::MNT_DETACH) as i64);

        let fs_fd = int(check("fsopen", libc::syscall(libc::SYS_fsopen, fstype.as_ptr(), 1)));
        let (key, value) = (c("size"), c("2m"));
        // FSCONFIG_SET_STRING = 1, FSCONFIG_CMD_CREATE = 6.
        check(
            "fsconfig set",
            libc::syscall(libc::SYS_fsconfig, fs_fd, 1, key.as_ptr(), value.as_ptr(), 0),
        );
        check(
            "fsconfig create",
            libc::syscall(
                libc::SYS_fsconfig,
                fs_fd,
                6,
                std::ptr::null::<u8>(),
                std::ptr::null::<u8>(),
                0,
            ),
        );
        // FSMOUNT_CLOEXEC = 1, MOUNT_ATTR_NODEV = 4.
        let mnt_fd = int(check("fsmount", libc::syscall(libc::SYS_fsmount, fs_fd, 1, 4)));
        let empty = c("");
        // MOVE_MOUNT_F_EMPTY_PATH = 4.
        check(
            "move_mount",
            libc::syscall(
                libc::SYS_move_mount,
                mnt_fd,
                empty.as_ptr(),
                libc::AT_FDCWD,
                target.as_ptr(),
                4,
            ),
        );
        // OPEN_TREE_CLONE = 1, with O_CLOEXEC.
        let tree_fd = int(check(
            "open_tree",
            libc::syscall(
                libc::SYS_open_tree,
                libc::AT_FDCWD,
                target.as_ptr(),
                1 | libc::O_CLOEXEC,
            ),
        ));
        // struct mount_attr { attr_set, attr_clr, propagation, userns_fd }.
        let attr: [u64; 4] = [0x1 /* MOUNT_ATTR_RDONLY */, 0, 0, 0];
        check(
            "mount_setattr",
            libc::syscall(
                libc::SYS_mount_setattr,
                libc::AT_FDCWD,
                target.as_ptr(),
                0,
                attr.as_ptr(),
                32,
            ),
        );
        check("remount rw", {
            let attr: [u64; 4] = [0, 0x1, 0, 0];
            libc::syscall(
                libc::SYS_mount_setattr,
                libc::AT_FDCWD,
                target.as_ptr(),
                0,
                attr.as_ptr(),
                32,
            )
        });
        let old = format!("{dir}/old");
        fs::create_dir(&old).expect("mkdir old");
        let put_old = c(&old);
        check("pivot_root", libc::syscall(libc::SYS_pivot_root, target.as_ptr(), put_old.as_ptr()));
        check("chdir", libc::chdir(root.as_ptr()) as i64);
        let dot = c(".");
        check("chroot", libc::chroot(dot.as_ptr()) as i64);
        let gone = c("/nonexistent-cradle");
        let chroot_errno = libc::chroot(gone.as_ptr());
        assert_eq!(chroot_errno, -1);
        libc::close(tree_fd);
        libc::close(mnt_fd);
        libc::close(fs_fd);
        json!({ "pid": std::process::id(), "fs_fd": fs_fd, "mnt_fd": mnt_fd, "tree_fd": tree_fd })
    }
}

/// Every open variant the probes record, and one they must not (a read of
/// a file), then mknod and mknodat of a FIFO and a character device, all
/// under DIR.
fn files(dir: &str) -> Value {
    let created = c(&format!("{dir}/created"));
    let sub = format!("{dir}/sub");
    fs::create_dir(&sub).expect("mkdir sub");
    fs::write(format!("{dir}/read-only"), "x").expect("write read-only");
    let (sub_c, read_only) = (c(&sub), c(&format!("{dir}/read-only")));
    let (rel_sub, missing, fifo) = (c("sub"), c("/missing"), c("fifo"));
    let node = c(&format!("{dir}/null-copy"));
    // SAFETY: every libc call below: valid NUL-terminated strings, a
    // `struct open_how` of its size, plain integers; results are checked.
    unsafe {
        let write_fd = check(
            "openat write",
            libc::openat(
                libc::AT_FDCWD,
                created.as_ptr(),
                libc::O_WRONLY | libc::O_CREAT | libc::O_TRUNC | libc::O_CLOEXEC,
                0o640,
            ) as i64,
        );
        // Only reads a file, or a directory not asked for as one: not
        // recorded.
        let read_fd = check("open read", libc::open(read_only.as_ptr(), libc::O_RDONLY) as i64);
        let plain_dir_fd =
            check("open plain dir", libc::open(sub_c.as_ptr(), libc::O_RDONLY) as i64);
        // open(2) itself, of a directory.
        let dir_fd = check(
            "open dir",
            libc::syscall(
                libc::SYS_open,
                sub_c.as_ptr(),
                libc::O_RDONLY | libc::O_DIRECTORY | libc::O_CLOEXEC,
                0,
            ),
        );
        let parent_fd = check(
            "open parent",
            libc::open(c(dir).as_ptr(), libc::O_PATH | libc::O_CLOEXEC) as i64,
        );
        // struct open_how { flags, mode, resolve }; RESOLVE_IN_ROOT = 0x10.
        let how: [u64; 3] = [(libc::O_PATH | libc::O_CLOEXEC) as u64, 0, 0x10];
        let path_fd = check(
            "openat2",
            libc::syscall(libc::SYS_openat2, parent_fd, rel_sub.as_ptr(), how.as_ptr(), 24),
        );
        let missing_ret =
            libc::syscall(libc::SYS_openat2, parent_fd, missing.as_ptr(), how.as_ptr(), 24);
        assert_eq!(missing_ret, -1, "/missing does not exist under DIR");
        check(
            "mknodat fifo",
            libc::mknodat(int(parent_fd), fifo.as_ptr(), libc::S_IFIFO | 0o600, 0) as i64,
        );
        let again = libc::mknodat(int(parent_fd), fifo.as_ptr(), libc::S_IFIFO | 0o600, 0);
        assert_eq!(again, -1, "the FIFO exists");
        check(
            "mknod char",
            libc::syscall(
                libc::SYS_mknod,
                node.as_ptr(),
                libc::S_IFCHR | 0o600,
                libc::c_uint::try_from(libc::makedev(1, 3)).unwrap(),
            ),
        );
        for fd in [write_fd, read_fd, plain_dir_fd, dir_fd, parent_fd, path_fd] {
            libc::close(int(fd));
        }
        json!({
            "pid": std::process::id(),
            "write_fd": write_fd,
            "dir_fd": dir_fd,
            "parent_fd": parent_fd,
            "path_fd": path_fd,
        })
    }
}

/// unshare with every namespace flag, a clone into new namespaces, setns
/// into the clone's UTS namespace, and sethostname in a new UTS namespace.
fn namespaces() -> Value {
    let flags = libc::CLONE_NEWNS
        | libc::CLONE_NEWUTS
        | libc::CLONE_NEWIPC
        | libc::CLONE_NEWNET
        | libc::CLONE_NEWCGROUP
        | libc::CLONE_NEWPID
        | libc::CLONE_NEWTIME;
    // SAFETY: plain flags; the result is checked.
    check("unshare", unsafe { libc::unshare(flags) } as i64);
    let after_unshare = all_ns("self");
    let hostname = "cradle-uts";
    // SAFETY: a valid buffer and its length.
    check("sethostname", unsafe { libc::sethostname(hostname.as_ptr().cast(), hostname.len()) }
        as i64);

    // A child in new namespaces, held alive on a pipe while /proc is read.
    let mut fds = [0; 2];
    // SAFETY: a valid array for two fds.
    check("pipe", unsafe { libc::pipe(fds.as_mut_ptr()) } as i64);
    let clone_flags = libc::CLONE_NEWUTS | libc::CLONE_NEWIPC | libc::CLONE_NEWUSER | libc::SIGCHLD;
    // SAFETY: a fork-like clone (no CLONE_VM): the child has its own copy
    // of memory and only makes async-signal-safe calls before _exit.
    let child = unsafe {
        libc::syscall(
            libc::SYS_clone,
            u64::from(clone_flags.cast_unsigned()),
            0u64,
            0u64,
            0u64,
            0u64,
        )
    };
    if child == 0 {
        let mut byte = [0u8];
        // SAFETY: reads one byte into a valid buffer, then exits.
        unsafe {
            libc::close(fds[1]);
            libc::read(fds[0], byte.as_mut_ptr().cast(), 1);
            libc::_exit(0);
        }
    }
    check("clone", child);
    let child_pid = child.to_string();
    let child_ns = all_ns(&child_pid);
    let uts = fs::File::open(format!("/proc/{child_pid}/ns/uts")).expect("open uts ns");
    let uts_fd = std::os::fd::AsRawFd::as_raw_fd(&uts);
    // SAFETY: a valid namespace fd.
    check("setns", unsafe { libc::setns(uts_fd, libc::CLONE_NEWUTS) } as i64);
    let after_setns = ns_inum("self", "uts");
    // SAFETY: fds from pipe(2); the writer end is closed once, then waited.
    unsafe {
        let mut writer = fs::File::from_raw_fd(fds[1]);
        let _ = writer.write_all(b"x");
        drop(writer);
        libc::close(fds[0]);
        let mut status = 0;
        libc::waitpid(int(child), &mut status, 0);
    }
    let mut hostname_now = String::new();
    fs::File::open("/proc/sys/kernel/hostname")
        .and_then(|mut f| f.read_to_string(&mut hostname_now))
        .expect("hostname");
    json!({
        "pid": std::process::id(),
        "unshare_flags": flags,
        "after_unshare": after_unshare,
        "child": child,
        "clone_flags": clone_flags & !libc::SIGCHLD,
        "child_ns": child_ns,
        "setns_fd": uts_fd,
        "uts_after_setns": after_setns,
    })
}

/// prctl, capset and seccomp as a runtime's init does them; then a
/// capability check that fails because the capability was dropped.
fn privileges() -> Value {
    let name = c("cradle-priv");
    // SAFETY: every libc call below: valid pointers to live buffers and
    // plain integers; results are checked.
    unsafe {
        check("PR_SET_NAME", libc::prctl(libc::PR_SET_NAME, name.as_ptr()) as i64);
        check("PR_SET_PDEATHSIG", libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) as i64);
        check("PR_CAPBSET_DROP", libc::prctl(libc::PR_CAPBSET_DROP, 22 /* CAP_SYS_BOOT */) as i64);
        // _LINUX_CAPABILITY_VERSION_3
        let mut header: [u32; 2] = [0x2008_0522, 0];
        let mut data = [0u32; 6];
        check("capget", libc::syscall(libc::SYS_capget, header.as_mut_ptr(), data.as_mut_ptr()));
        // Drop CAP_SYS_ADMIN (21) from the effective set only.
        data[0] &= !(1 << 21);
        data[2] = 1 << 12; // inheritable: CAP_NET_ADMIN
        check("capset", libc::syscall(libc::SYS_capset, header.as_ptr(), data.as_ptr()));
        let effective = u64::from(data[0]) | (u64::from(data[3]) << 32);
        let permitted = u64::from(data[1]) | (u64::from(data[4]) << 32);
        let inheritable = u64::from(data[2]) | (u64::from(data[5]) << 32);
        let hostname = "denied";
        let denied = libc::sethostname(hostname.as_ptr().cast(), hostname.len());
        assert_eq!(denied, -1, "sethostname without CAP_SYS_ADMIN");
        check("PR_SET_NO_NEW_PRIVS", libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) as i64);
        // A two-instruction filter that allows everything.
        let filter = [
            libc::sock_filter { code: 0x20, jt: 0, jf: 0, k: 4 }, // ld [arch]
            libc::sock_filter { code: 0x06, jt: 0, jf: 0, k: 0x7fff_0000 }, // ret ALLOW
        ];
        let prog = libc::sock_fprog { len: 2, filter: filter.as_ptr().cast_mut() };
        check("seccomp", libc::syscall(libc::SYS_seccomp, 1, 0, &prog as *const libc::sock_fprog));
        json!({
            "pid": std::process::id(),
            "effective": effective,
            "permitted": permitted,
            "inheritable": inheritable,
        })
    }
}

/// A cgroup made, joined and left in the v1 pids hierarchy.
fn cgroup() -> Value {
    let pid = std::process::id();
    // v1's pids hierarchy where the host has one (these machines' hybrid
    // layout), else the unified hierarchy (pure v2 hosts and the kernel
    // matrix's guests), whose hierarchy id is 0.
    let (base, version) = if Path::new("/sys/fs/cgroup/pids/cgroup.procs").exists() {
        ("/sys/fs/cgroup/pids", 1)
    } else {
        ("/sys/fs/cgroup", 2)
    };
    let dir = format!("{base}/cradle-test-{pid}");
    fs::create_dir(&dir).expect("mkdir cgroup");
    fs::write(format!("{dir}/cgroup.procs"), pid.to_string()).expect("join cgroup");
    fs::write(format!("{base}/cgroup.procs"), pid.to_string()).expect("leave cgroup");
    fs::remove_dir(&dir).expect("rmdir cgroup");
    json!({ "pid": pid, "path": format!("/cradle-test-{pid}"), "cgroup_version": version })
}

/// COUNT short-lived processes, one after another, each an exec of /bin/true.
fn storm(count: u32) -> Value {
    for _ in 0..count {
        let status = std::process::Command::new("/bin/true").status().expect("spawn /bin/true");
        assert!(status.success());
    }
    json!({ "pid": std::process::id(), "execs": count })
}

/// COUNT traced syscalls at the cost of a syscall each: prctl records every
/// option, so each call is one event (the benchmark's million-event session).
fn calls(count: u32) -> Value {
    for _ in 0..count {
        // SAFETY: PR_GET_DUMPABLE takes no pointers and cannot fail here.
        check("prctl", unsafe { libc::prctl(libc::PR_GET_DUMPABLE) } as i64);
    }
    json!({ "pid": std::process::id(), "calls": count })
}

/// What an unprivileged user can put in front of the tracer: a comm with
/// terminal escapes (prctl(PR_SET_NAME)), then a file created under a name
/// with escapes (C0 and C1), recorded with that comm.
fn hostile_names(dir: &str) -> Value {
    let comm = c(HOSTILE_COMM);
    let path = format!("{dir}/{HOSTILE_FILE}");
    let file = c(&path);
    // SAFETY: valid NUL-terminated strings that outlive the calls.
    unsafe {
        check("prctl(PR_SET_NAME)", libc::prctl(libc::PR_SET_NAME, comm.as_ptr()) as i64);
        let fd = check(
            "open O_CREAT",
            libc::open(file.as_ptr(), libc::O_CREAT | libc::O_WRONLY | libc::O_CLOEXEC, 0o600)
                as i64,
        );
        libc::close(int(fd));
    }
    json!({ "pid": std::process::id(), "path": path })
}

/// Sets the window title and clears the screen, if printed raw.
const HOSTILE_COMM: &str = "\u{1b}]0;pw\u{7}\u{1b}[2J";
/// ESC, BEL and a C1 CSI (U+009B) in a file name.
const HOSTILE_FILE: &str = "f\u{1b}[31mred\u{7}\u{9b}2J";

/// What floods a tracer that follows it: O_PATH opens (recorded, for they
/// hand out a descriptor) of a path as long as a record holds.
fn flood(count: u32) -> Value {
    let path = c(&format!("/tmp{}", "/.".repeat(120)));
    for _ in 0..count {
        // SAFETY: a valid NUL-terminated path that outlives the call.
        let fd = unsafe { libc::open(path.as_ptr(), libc::O_PATH | libc::O_CLOEXEC) };
        if fd >= 0 {
            // SAFETY: the descriptor was just opened and is ours.
            unsafe { libc::close(fd) };
        }
    }
    json!({ "pid": std::process::id(), "opens": count })
}
