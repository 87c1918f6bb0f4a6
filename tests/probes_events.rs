//! Every event kind, triggered by `tests/bin/probe_actions.rs` with known
//! arguments under `cradle trace --out`, and every field checked against
//! what the helper (or /proc) says. Real kernel, real eBPF: needs root.

mod common;

use common::probes::{assert_acting, helper, ns_inum, trace};
use serde_json::{Value, json};

const COMM: &str = "probe_actions";

fn helper_str() -> String {
    helper().to_string_lossy().into_owned()
}

#[test]
fn mount_family_pivot_root_and_chroot() {
    let dir = tempfile::tempdir().expect("tempdir");
    let dir_s = dir.path().to_string_lossy().into_owned();
    let t = trace(&[], &[&helper_str(), "mount", &dir_s]);
    assert!(t.success, "helper failed: {}", t.stdout);
    let report = t.report();
    let pid = report["pid"].as_u64().unwrap();
    let ns = t.one("namespaces");
    assert_eq!(ns["source"], "unshare");
    assert_eq!(ns["created"], json!(["mnt"]));
    let mnt_ns = ns["namespaces"]["mnt"].as_u64().unwrap();

    let mounts = t.kind("mount");
    assert_eq!(mounts.len(), 2, "{mounts:#?}");
    assert_eq!(mounts[0]["target"], "/");
    assert_eq!(mounts[0]["flag_names"], json!(["MS_REC", "MS_PRIVATE"]));
    assert_eq!((&mounts[0]["source"], &mounts[0]["fstype"]), (&Value::Null, &Value::Null));
    let m = mounts[1];
    assert_acting(m, pid, COMM);
    assert_eq!(m["mnt_ns"], mnt_ns, "acting task's mount ns is the new one");
    assert_eq!(m["source"], "cradle-src");
    assert_eq!(m["target"], dir_s.as_str());
    assert_eq!(m["fstype"], "tmpfs");
    assert_eq!(m["flags"], 6);
    assert_eq!(m["flag_names"], json!(["MS_NOSUID", "MS_NODEV"]));
    assert_eq!(m["data"], "size=1m,mode=755");
    assert_eq!(m["ret"], 0);

    let u = t.one("umount");
    assert_eq!(
        (&u["target"], &u["flag_names"], &u["ret"]),
        (&json!(dir_s), &json!(["MNT_DETACH"]), &json!(0))
    );

    let fs_fd = report["fs_fd"].as_i64().unwrap();
    let mnt_fd = report["mnt_fd"].as_i64().unwrap();
    let f = t.one("fsopen");
    assert_eq!((&f["fsname"], &f["flags"], &f["ret"]), (&json!("tmpfs"), &json!(1), &json!(fs_fd)));
    let configs = t.kind("fsconfig");
    assert_eq!(configs.len(), 2);
    assert_eq!(configs[0]["fd"], fs_fd);
    assert_eq!(configs[0]["command"], "FSCONFIG_SET_STRING");
    assert_eq!((&configs[0]["key"], &configs[0]["value"]), (&json!("size"), &json!("2m")));
    assert_eq!(configs[1]["command"], "FSCONFIG_CMD_CREATE");
    assert_eq!(
        (&configs[1]["key"], &configs[1]["value"], &configs[1]["ret"]),
        (&Value::Null, &Value::Null, &json!(0))
    );
    let fm = t.one("fsmount");
    assert_eq!(fm["fs_fd"], fs_fd);
    assert_eq!(fm["attr_names"], json!(["MOUNT_ATTR_NODEV"]));
    assert_eq!(fm["ret"], mnt_fd);
    let mv = t.one("move_mount");
    assert_eq!((&mv["from_dfd"], &mv["from_path"]), (&json!(mnt_fd), &json!("")));
    assert_eq!((&mv["to_dfd"], &mv["to_path"]), (&json!(libc::AT_FDCWD), &json!(dir_s)));
    assert_eq!((&mv["flags"], &mv["ret"]), (&json!(4), &json!(0)));
    let ot = t.one("open_tree");
    assert_eq!((&ot["path"], &ot["flags"]), (&json!(dir_s), &json!(1 | libc::O_CLOEXEC)));
    assert_eq!(ot["ret"], report["tree_fd"]);
    let setattrs = t.kind("mount_setattr");
    assert_eq!(setattrs.len(), 2);
    assert_eq!(setattrs[0]["path"], dir_s.as_str());
    assert_eq!(setattrs[0]["attr_set_names"], json!(["MOUNT_ATTR_RDONLY"]));
    assert_eq!((&setattrs[1]["attr_set"], &setattrs[1]["attr_clr"]), (&json!(0), &json!(1)));
    assert_eq!(setattrs[1]["ret"], 0);

    let p = t.one("pivot_root");
    assert_acting(p, pid, COMM);
    assert_eq!(p["new_root"], dir_s.as_str());
    assert_eq!(p["put_old"], format!("{dir_s}/old"));
    assert_eq!(p["ret"], 0);
    let chroots = t.kind("chroot");
    assert_eq!(chroots.len(), 2);
    assert_eq!((&chroots[0]["path"], &chroots[0]["ret"]), (&json!("."), &json!(0)));
    assert_eq!(chroots[1]["path"], "/nonexistent-cradle");
    assert_eq!(chroots[1]["ret"], -libc::ENOENT);

    // Timestamps follow the program's order.
    assert!(m["ts_ns"].as_u64() < p["ts_ns"].as_u64());
}

#[test]
fn opens_that_matter_and_mknod() {
    let dir = tempfile::tempdir().expect("tempdir");
    let dir_s = dir.path().to_string_lossy().into_owned();
    let t = trace(&[], &[&helper_str(), "files", &dir_s]);
    assert!(t.success, "helper failed: {}", t.stdout);
    let report = t.report();
    let pid = report["pid"].as_u64().unwrap();
    let opens: Vec<&Value> = t.kind("open").into_iter().filter(|e| e["pid"] == pid).collect();
    let under_dir: Vec<&Value> = opens
        .iter()
        .copied()
        .filter(|e| {
            e["path"]
                .as_str()
                .is_some_and(|p| p.starts_with(&dir_s) || !p.starts_with('/') || p == "/missing")
        })
        .collect();
    let paths: Vec<&Value> = under_dir.iter().map(|e| &e["path"]).collect();
    // The helper writes `read-only` (recorded), then reads it and opens
    // `sub` without O_DIRECTORY (neither recorded); the other opens are
    // recorded, in order.
    assert_eq!(
        paths,
        [
            &json!(format!("{dir_s}/read-only")),
            &json!(format!("{dir_s}/created")),
            &json!(format!("{dir_s}/sub")),
            &json!(dir_s),
            &json!("sub"),
            &json!("/missing"),
        ],
        "{opens:#?}"
    );
    let [written, write, dir_open, parent, path, missing] = under_dir[..] else { unreachable!() };
    assert_eq!(written["flag_names"][0], "O_WRONLY", "{written}");

    assert_acting(write, pid, COMM);
    assert_eq!((&write["call"], &write["dirfd"]), (&json!("openat"), &json!(libc::AT_FDCWD)));
    let write_flags = libc::O_WRONLY | libc::O_CREAT | libc::O_TRUNC | libc::O_CLOEXEC;
    assert_eq!(write["flags"], write_flags);
    assert_eq!(write["flag_names"], json!(["O_WRONLY", "O_CREAT", "O_TRUNC", "O_CLOEXEC"]));
    assert_eq!((&write["mode"], &write["resolve"]), (&json!(0o640), &json!(0)));
    assert_eq!((&write["file_type"], &write["ret"]), (&json!("file"), &report["write_fd"]));

    assert_eq!((&dir_open["call"], &dir_open["dirfd"]), (&json!("open"), &json!(libc::AT_FDCWD)));
    assert_eq!(dir_open["flag_names"], json!(["O_RDONLY", "O_DIRECTORY", "O_CLOEXEC"]));
    assert_eq!(
        (&dir_open["file_type"], &dir_open["ret"]),
        (&json!("directory"), &report["dir_fd"])
    );

    assert_eq!(parent["flags"], libc::O_PATH | libc::O_CLOEXEC);
    assert_eq!(parent["ret"], report["parent_fd"]);

    assert_eq!((&path["call"], &path["dirfd"]), (&json!("openat2"), &report["parent_fd"]));
    assert_eq!(path["flag_names"], json!(["O_RDONLY", "O_CLOEXEC", "O_PATH"]));
    assert_eq!(
        (&path["resolve"], &path["resolve_names"]),
        (&json!(0x10), &json!(["RESOLVE_IN_ROOT"]))
    );
    assert_eq!((&path["file_type"], &path["ret"]), (&json!("directory"), &report["path_fd"]));

    assert_eq!(missing["dirfd"], report["parent_fd"]);
    assert_eq!((&missing["file_type"], &missing["ret"]), (&Value::Null, &json!(-libc::ENOENT)));
    assert!(write["ts_ns"].as_u64() < missing["ts_ns"].as_u64());

    let mknods: Vec<&Value> = t.kind("mknod").into_iter().filter(|e| e["pid"] == pid).collect();
    assert_eq!(mknods.len(), 3, "{mknods:#?}");
    let fifo = mknods[0];
    assert_acting(fifo, pid, COMM);
    assert_eq!((&fifo["call"], &fifo["dirfd"]), (&json!("mknodat"), &report["parent_fd"]));
    assert_eq!((&fifo["path"], &fifo["mode"]), (&json!("fifo"), &json!(libc::S_IFIFO | 0o600)));
    assert_eq!((&fifo["file_type"], &fifo["ret"]), (&json!("fifo"), &json!(0)));
    assert_eq!(mknods[1]["ret"], -libc::EEXIST);
    let node = mknods[2];
    assert_eq!((&node["call"], &node["dirfd"]), (&json!("mknod"), &json!(libc::AT_FDCWD)));
    assert_eq!(node["path"], format!("{dir_s}/null-copy"));
    assert_eq!(node["file_type"], "char_device");
    assert_eq!((&node["major"], &node["minor"], &node["ret"]), (&json!(1), &json!(3), &json!(0)));
}

#[test]
fn namespaces_clone_setns_and_sethostname() {
    let t = trace(&[], &[&helper_str(), "namespaces"]);
    assert!(t.success, "helper failed: {}", t.stdout);
    let report = t.report();
    let pid = report["pid"].as_u64().unwrap();
    let child = report["child"].as_u64().unwrap();

    let created = t.kind("namespaces");
    assert_eq!(created.len(), 2, "{created:#?}");
    let unshare = created.iter().find(|e| e["source"] == "unshare").expect("unshare event");
    assert_acting(unshare, pid, COMM);
    assert_eq!(unshare["target_pid"], pid);
    assert_eq!(unshare["flags"], report["unshare_flags"]);
    assert_eq!(unshare["created"], json!(["mnt", "uts", "ipc", "pid", "net", "cgroup", "time"]));
    assert_eq!(unshare["ret"], 0);
    for (ns, inum) in report["after_unshare"].as_object().unwrap() {
        if !inum.is_null() {
            assert_eq!(unshare["namespaces"][ns], *inum, "{ns} after unshare");
        }
    }
    // pid_for_children is unreadable in /proc until the first child: it is
    // the pid namespace that child lives in.
    assert_eq!(unshare["namespaces"]["pid_for_children"], report["child_ns"]["pid"]);

    let clone = created.iter().find(|e| e["source"] == "task_newtask").expect("clone event");
    assert_acting(clone, pid, COMM);
    assert_eq!(clone["target_pid"], child);
    assert_eq!(
        clone["flags"].as_u64().unwrap() & 0xffff_ff00,
        report["clone_flags"].as_u64().unwrap()
    );
    assert_eq!(clone["created"], json!(["uts", "ipc", "user"]));
    assert_eq!(clone["namespaces"], report["child_ns"], "the clone's namespaces are the child's");
    // The three asked for are new; the others are inherited.
    for ns in ["uts", "ipc", "user"] {
        assert_ne!(clone["namespaces"][ns], unshare["namespaces"][ns], "{ns}");
    }
    assert_eq!(clone["namespaces"]["net"], unshare["namespaces"]["net"]);

    let task_new = t.kind("task_new");
    let task_new = task_new.iter().find(|e| e["child_pid"] == child).expect("task_new");
    assert_eq!(task_new["clone_flags"], clone["flags"]);
    let exit = t.kind("task_exit");
    let exit = exit.iter().find(|e| e["pid"] == child).expect("child's task_exit");
    assert_eq!(exit["exit_code"], 0);

    let s = t.one("setns");
    assert_acting(s, pid, COMM);
    assert_eq!((&s["fd"], &s["nstype"]), (&report["setns_fd"], &json!(libc::CLONE_NEWUTS)));
    assert_eq!(s["nstype_names"], json!(["uts"]));
    assert_eq!(s["namespaces"]["uts"], report["uts_after_setns"]);
    assert_eq!(s["namespaces"]["uts"], report["child_ns"]["uts"]);
    assert_eq!(s["ret"], 0);

    let h = t.one("sethostname");
    assert_eq!((&h["name"], &h["ret"]), (&json!("cradle-uts"), &json!(0)));
    // The helper's own exec, as the scheduler saw it.
    let exec = t.one("process_exec");
    assert_acting(exec, pid, COMM);
    assert_eq!((&exec["old_pid"], &exec["filename"]), (&json!(pid), &json!(helper_str())));
}

#[test]
fn privileges_prctl_capset_seccomp_and_capability_checks() {
    let t = trace(&[], &[&helper_str(), "privileges"]);
    assert!(t.success, "helper failed: {}", t.stdout);
    let report = t.report();
    let pid = report["pid"].as_u64().unwrap();

    let prctls = t.kind("prctl");
    let names: Vec<&Value> = prctls.iter().map(|e| &e["option_name"]).collect();
    assert_eq!(
        names,
        ["PR_SET_NAME", "PR_SET_PDEATHSIG", "PR_CAPBSET_DROP", "PR_SET_NO_NEW_PRIVS"]
    );
    assert_eq!(prctls[0]["name"], "cradle-priv");
    assert_eq!(prctls[1]["arg2"], libc::SIGKILL);
    assert_eq!(prctls[2]["arg2"], 22);
    assert_eq!(prctls[3]["arg2"], 1);
    assert!(prctls.iter().all(|e| e["ret"] == 0 && e["pid"] == pid));

    let c = t.one("capset");
    assert_acting(c, pid, "cradle-priv");
    assert_eq!((&c["version"], &c["target_pid"]), (&json!(0x2008_0522), &json!(0)));
    for set in ["effective", "permitted", "inheritable"] {
        assert_eq!(c[set], report[set], "{set}");
    }
    assert_eq!(c["ret"], 0);

    // CAP_SYS_ADMIN left the effective set: sethostname's check fails.
    let h = t.one("sethostname");
    assert_eq!((&h["name"], &h["ret"]), (&json!("denied"), &json!(-libc::EPERM)));
    let checks = t.kind("cap_capable");
    let denied = checks
        .iter()
        .find(|e| e["ts_ns"].as_u64() > c["ts_ns"].as_u64() && e["cap"] == 21)
        .expect("a CAP_SYS_ADMIN check after capset");
    assert_eq!(
        (&denied["cap_name"], &denied["ret"]),
        (&json!("CAP_SYS_ADMIN"), &json!(-libc::EPERM))
    );
    assert!(denied["ts_ns"].as_u64() < h["ts_ns"].as_u64());
    let granted = checks.iter().find(|e| e["cap"] == 8).expect("CAP_SETPCAP for the bounding set");
    assert_eq!(granted["ret"], 0);

    let s = t.one("seccomp");
    assert_eq!(s["operation_name"], "SECCOMP_SET_MODE_FILTER");
    assert_eq!((&s["flags"], &s["filter_len"], &s["ret"]), (&json!(0), &json!(2), &json!(0)));
}

#[test]
fn cgroup_mkdir_and_attach() {
    let t = trace(&[], &[&helper_str(), "cgroup"]);
    assert!(t.success, "helper failed: {}", t.stdout);
    let report = t.report();
    let pid = report["pid"].as_u64().unwrap();
    let mkdir = t.one("cgroup_mkdir");
    assert_acting(mkdir, pid, COMM);
    assert_eq!(mkdir["path"], report["path"]);
    let hierarchy = &mkdir["hierarchy"];
    if report["cgroup_version"] == 1 {
        assert!(hierarchy.as_u64().unwrap() > 0, "pids is a v1 hierarchy");
    } else {
        assert_eq!(hierarchy, 0, "the unified hierarchy's id");
    }
    let attaches = t.kind("cgroup_attach_task");
    assert_eq!(attaches.len(), 2, "{attaches:#?}");
    assert_eq!(attaches[0]["path"], report["path"]);
    assert_eq!(attaches[0]["dst_cgroup_id"], mkdir["new_cgroup_id"]);
    assert_eq!(attaches[1]["path"], "/");
    for attach in attaches {
        assert_eq!((&attach["target_pid"], &attach["threadgroup"]), (&json!(pid), &json!(true)));
        assert_eq!(&attach["hierarchy"], hierarchy);
    }
}

#[test]
fn veth_creation_request() {
    // A throwaway network namespace keeps the host's links as they were.
    let t = trace(
        &[],
        &[
            "unshare",
            "-n",
            "ip",
            "link",
            "add",
            "cradle-a0",
            "type",
            "veth",
            "peer",
            "name",
            "cradle-b0",
        ],
    );
    assert!(t.success);
    let netns = t.one("namespaces");
    assert_eq!(netns["created"], json!(["net"]));
    // ip first sends an empty RTM_NEWLINK to probe the kernel; the veth
    // request is the one with a kind.
    let links = t.kind("new_link");
    let veth: Vec<_> = links.iter().filter(|e| e["link_kind"] == "veth").collect();
    assert_eq!(veth.len(), 1, "{links:#?}");
    let link = veth[0];
    assert_eq!(link["comm"], "ip");
    assert_eq!(link["link_kind"], "veth");
    assert_eq!(link["link"]["name"], "cradle-a0");
    assert_eq!(link["peer"]["name"], "cradle-b0");
    // Both ends land in the namespace unshare made.
    assert_eq!(link["link"]["netns"], netns["namespaces"]["net"]);
    assert_eq!(link["peer"]["netns"], netns["namespaces"]["net"]);
    assert!(link["ret"].as_i64().unwrap() > 0, "bytes sent");
    assert_eq!(link["answer"], 0, "the kernel made the pair: {link}");
    assert_ne!(netns["namespaces"]["net"], ns_inum(std::process::id() as u64, "net"));
}

#[test]
fn veth_request_the_kernel_refuses_carries_its_errno() {
    // The second request asks for names that exist by then: the socket
    // takes it (bytes sent) and the kernel answers EEXIST.
    let add = "ip link add cradle-a0 type veth peer name cradle-b0";
    let t = trace(&[], &["unshare", "-n", "sh", "-c", &format!("{add}; {add}")]);
    assert!(!t.success, "the second ip fails");
    let links = t.kind("new_link");
    let veth: Vec<_> = links.iter().filter(|e| e["link_kind"] == "veth").collect();
    assert_eq!(veth.len(), 2, "{links:#?}");
    for request in &veth {
        assert!(request["ret"].as_i64().unwrap() > 0, "bytes sent: {request}");
    }
    assert_eq!(veth[0]["answer"], 0, "{}", veth[0]);
    assert_eq!(veth[1]["answer"], -libc::EEXIST, "{}", veth[1]);
    assert!(t.kind("new_link_answer").is_empty(), "every answer joined its request");
}

/// An empty argument is recorded as one, and the arguments after it still
/// come: kernels before 6.14 or so count an empty string as 0 bytes copied,
/// which once ended the recorded argv there.
#[test]
fn exec_records_empty_arguments_and_the_ones_after_them() {
    let t = trace(&[], &["/bin/sh", "-c", "exec /bin/true '' a '' '' b ''"]);
    assert!(t.success, "{}", t.stdout);
    let execs = t.kind("exec");
    let exec = execs
        .iter()
        .find(|e| e["filename"] == "/bin/true")
        .unwrap_or_else(|| panic!("no exec of /bin/true: {execs:#?}"));
    assert_eq!(exec["argv"], json!(["/bin/true", "", "a", "", "", "b", ""]), "{exec}");
    assert_eq!(exec["argv_truncated"], false, "{exec}");
}
