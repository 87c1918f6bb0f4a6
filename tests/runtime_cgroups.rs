//! The container's cgroup: made before the workload runs, holding its
//! limits, and gone after delete.

#[path = "common/runtime.rs"]
mod runtime;

use runtime::{Sandbox, cgroups_mentioning, stderr, stdout};
use serde_json::json;

#[test]
fn pids_limit_makes_the_next_fork_fail() {
    const LIMIT: u32 = 8;
    let sandbox = Sandbox::new();
    // Counts the container's processes (the shell is the first), one more
    // per background sleep, until a fork fails; bounded in any case.
    let bundle = sandbox.bundle(
        "b",
        &["sh", "-c", "n=1; while [ $n -lt 40 ]; do sleep 30 & n=$((n+1)); echo $n; done"],
    );
    sandbox.edit_config(&bundle, |config| {
        config["linux"]["resources"]["pids"] = json!({"limit": LIMIT});
    });
    let out = sandbox.output(&["run", "--bundle", bundle.to_str().unwrap(), &sandbox.id("pids")]);
    let counts: Vec<u32> = stdout(&out).lines().map(|line| line.parse().unwrap()).collect();
    assert_eq!(counts.last(), Some(&LIMIT), "stdout: {counts:?}, stderr: {}", stderr(&out));
    assert!(stderr(&out).contains("can't fork"), "{}", stderr(&out));
}

#[test]
fn memory_limit_oom_kills_a_hog() {
    let sandbox = Sandbox::new();
    // dd allocates its 256 MiB block and fills it.
    let bundle = sandbox.bundle(
        "b",
        &["sh", "-c", "dd if=/dev/zero of=/dev/null bs=256M count=1 2>/dev/null; echo dd=$?"],
    );
    let limit = 32u64 << 20;
    sandbox.edit_config(&bundle, |config| {
        config["linux"]["resources"]["memory"] = json!({"limit": limit, "swap": limit});
    });
    let out = sandbox.output(&["run", "--bundle", bundle.to_str().unwrap(), &sandbox.id("oom")]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out).trim(), "dd=137", "dd was not killed: {}", stderr(&out));
}

#[test]
fn cgroup_holds_the_init_and_goes_with_delete() {
    let sandbox = Sandbox::new();
    let bundle = sandbox.bundle("b", &["sleep", "1000"]);
    let id = sandbox.id("cgroup");
    sandbox.edit_config(&bundle, |config| {
        config["linux"]["resources"]["cpu"] =
            json!({"shares": 512, "quota": 50000, "period": 100000});
        config["linux"]["resources"]["memory"]["reservation"] = json!(8 << 20);
        config["linux"]["resources"]["blockIO"] = json!({"weight": 300});
    });
    let out = sandbox.create(&bundle, &id);
    assert!(out.status.success(), "create: {}", stderr(&out));
    let pid = sandbox.state(&id)["pid"].as_i64().unwrap();
    let dirs = cgroups_mentioning(&id);
    assert!(!dirs.is_empty(), "no cgroup made for {id}");
    for dir in &dirs {
        let procs = std::fs::read_to_string(dir.join("cgroup.procs")).unwrap();
        assert_eq!(procs.trim(), pid.to_string(), "{} holds {procs:?}", dir.display());
    }
    let read = |controller: &str, file: &str| {
        let dir = dirs
            .iter()
            .find(|dir| dir.starts_with(format!("/sys/fs/cgroup/{controller}")))
            .unwrap_or_else(|| panic!("no {controller} cgroup in {dirs:?}"));
        std::fs::read_to_string(dir.join(file)).unwrap().trim().to_owned()
    };
    if std::path::Path::new("/sys/fs/cgroup/cpu/cpu.shares").exists() {
        assert_eq!(read("cpu", "cpu.shares"), "512");
        assert_eq!(read("cpu", "cpu.cfs_quota_us"), "50000");
        assert_eq!(read("memory", "memory.soft_limit_in_bytes"), (8 << 20).to_string());
        let own = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap();
        assert!(own.contains(&format!("cradle/{id}")), "{own}");
    }
    let out = sandbox.output(&["delete", "--force", &id]);
    assert!(out.status.success(), "delete: {}", stderr(&out));
    let left = cgroups_mentioning(&id);
    assert!(left.is_empty(), "left after delete: {left:?}");
}

/// Runs `script` with `sh` in a private mount namespace where
/// /sys/fs/cgroup is a lone cgroup2 mount: a pure cgroup v2 host, as
/// PLATFORM.md runs crun. Exit 99: that namespace could not be made.
fn on_pure_cgroup_v2(script: &str) -> std::process::Output {
    let script = format!(
        "umount -R /sys/fs/cgroup && mount -t cgroup2 none /sys/fs/cgroup || exit 99\n{script}"
    );
    std::process::Command::new("unshare")
        .args(["--mount", "--propagation", "private", "sh", "-c", &script])
        .output()
        .expect("run unshare")
}

/// On a pure cgroup v2 host the init is cloned straight into its cgroup
/// (clone3's CLONE_INTO_CGROUP), and its cgroup namespace is rooted there.
#[test]
fn on_cgroup_v2_the_init_is_placed_and_its_namespace_rooted_there() {
    let sandbox = Sandbox::new();
    let bundle = sandbox.bundle("b", &["cat", "/proc/self/cgroup"]);
    let id = sandbox.id("cg2");
    let script = format!(
        "{cradle} --root {root} create --bundle {bundle} --pid-file {dir}/pid {id} \
            >{dir}/out 2>{dir}/err || exit 1
        pid=$(cat {dir}/pid)
        echo \"host: $(cat /proc/$pid/cgroup) procs: $(cat /sys/fs/cgroup/cradle/{id}/cgroup.procs)\"
        {cradle} --root {root} start {id} || exit 2
        while [ -e /proc/$pid ] && ! grep -q '^[0-9]* ([^)]*) Z' /proc/$pid/stat; do sleep 0.01; done
        {cradle} --root {root} delete {id} || exit 3
        echo \"inside: $(cat {dir}/out)\"
        [ ! -e /sys/fs/cgroup/cradle/{id} ] || exit 4",
        cradle = runtime::cradle_bin(),
        root = sandbox.root.display(),
        bundle = bundle.display(),
        dir = sandbox.dir.path().display(),
    );
    let out = on_pure_cgroup_v2(&script);
    let err = std::fs::read_to_string(sandbox.dir.path().join("err")).unwrap_or_default();
    assert!(out.status.success(), "{:?}: {}{}{err}", out.status, stdout(&out), stderr(&out));
    let text = stdout(&out);
    // (/proc/PID/cgroup lists the host's v1 hierarchies too.)
    // (On a hybrid host /proc/PID/cgroup lists the v1 hierarchies first.)
    let placed = format!("0::/cradle/{id} procs: ");
    let placed_line =
        |line: &str| line.starts_with(&placed) || line.starts_with(&format!("host: {placed}"));
    assert!(text.lines().any(placed_line), "{text}");
    let procs = text.split("procs: ").nth(1).and_then(|s| s.lines().next()).unwrap_or("");
    let pid = std::fs::read_to_string(sandbox.dir.path().join("pid")).unwrap();
    assert_eq!(procs.trim(), pid.trim(), "{text}");
    let inside = text.split("inside: ").nth(1).unwrap_or("");
    assert!(inside.lines().any(|l| l == "0::/"), "the cgroup namespace is rooted at it: {text}");
}

/// What a container on pure cgroup v2 reports of its devices: /dev/zero
/// and /dev/null used, a block device made (runc allows mknod of any
/// node) and opened, and /kmsg (a node of
/// /dev/kmsg, 1:11, put in the rootfs from the host, so that it exists
/// without any rule allowing it) opened for writing, which writes nothing.
/// The cgroup and the state must be gone after the run.
fn devices_seen_on_cgroup_v2(edit: impl FnOnce(&mut serde_json::Value)) -> String {
    let sandbox = Sandbox::new();
    let bundle = sandbox.bundle(
        "b",
        &[
            "sh",
            "-c",
            "echo zero=$(head -c 4 /dev/zero | wc -c); cat /dev/null; echo null=$?
            mknod /dev/sda1 b 8 1; echo mknod=$?
            case $( (: </dev/sda1) 2>&1) in *'not permitted'*) echo open=denied;; *) echo open=allowed;; esac
            (: >/kmsg); echo kmsg=$?",
        ],
    );
    sandbox.edit_config(&bundle, edit);
    let kmsg = bundle.join("rootfs/kmsg");
    nix::sys::stat::mknod(
        &kmsg,
        nix::sys::stat::SFlag::S_IFCHR,
        nix::sys::stat::Mode::from_bits_truncate(0o600),
        nix::sys::stat::makedev(1, 11),
    )
    .expect("mknod kmsg in the rootfs");
    let id = sandbox.id("cg2dev");
    let script = format!(
        "{cradle} --root {root} run --bundle {bundle} {id} 2>&1; echo run=$?
        [ ! -e /sys/fs/cgroup/cradle/{id} ] || echo cgroup left",
        cradle = runtime::cradle_bin(),
        root = sandbox.root.display(),
        bundle = bundle.display(),
    );
    let out = on_pure_cgroup_v2(&script);
    let text = format!("{}{}", stdout(&out), stderr(&out));
    assert!(out.status.success(), "{:?}: {text}", out.status);
    assert!(text.contains("run=0\n"), "{text}");
    assert!(!text.contains("cgroup left"), "{text}");
    assert!(!sandbox.root.join(&id).exists(), "state left: {text}");
    text
}

/// Docker's defaults (`cradle bundle`: deny all, then the runtime's
/// devices) become an eBPF program on cgroup v2: the container can make
/// a block device node, as under runc, but opens neither it nor any other
/// node that no rule allows.
#[test]
fn on_cgroup_v2_device_rules_deny_what_they_do_not_allow() {
    let text = devices_seen_on_cgroup_v2(|config| {
        assert_eq!(
            config["linux"]["resources"]["devices"],
            json!([{"allow": false, "access": "rwm"}]),
            "cradle bundle's defaults changed"
        );
    });
    assert!(text.contains("zero=4\nnull=0\n"), "{text}");
    assert!(text.contains("mknod=0\nopen=denied\n"), "{text}");
    assert!(text.contains("kmsg=1\n"), "{text}");
    assert_eq!(text.matches("Operation not permitted").count(), 1, "{text}");
}

/// The same container, with rules allowing that block device and that
/// node: both work.
#[test]
fn on_cgroup_v2_device_rules_allow_what_they_allow() {
    let text = devices_seen_on_cgroup_v2(|config| {
        let rules = config["linux"]["resources"]["devices"].as_array_mut().unwrap();
        rules.push(json!({"allow": true, "type": "b", "major": 8, "minor": 1, "access": "r"}));
        rules.push(json!({"allow": true, "type": "c", "major": 1, "minor": 11, "access": "w"}));
    });
    assert!(text.contains("zero=4\nnull=0\nmknod=0\nopen=allowed\nkmsg=0\n"), "{text}");
}

/// A kernel that refuses the device program (here: the runtime without
/// CAP_BPF and CAP_SYS_ADMIN) fails the create, naming the field, and
/// leaves neither the cgroup nor the state behind.
#[test]
fn on_cgroup_v2_a_refused_device_program_fails_the_create() {
    let sandbox = Sandbox::new();
    let bundle = sandbox.bundle("b", &["true"]);
    let id = sandbox.id("cg2nobpf");
    let script = format!(
        "setpriv --bounding-set -bpf,-sys_admin --inh-caps -bpf,-sys_admin \
            {cradle} --root {root} create --bundle {bundle} {id} 2>&1; echo create=$?
        [ ! -e /sys/fs/cgroup/cradle/{id} ] || echo cgroup left",
        cradle = runtime::cradle_bin(),
        root = sandbox.root.display(),
        bundle = bundle.display(),
    );
    let out = on_pure_cgroup_v2(&script);
    let text = stdout(&out);
    assert!(out.status.success(), "{:?}: {text}{}", out.status, stderr(&out));
    assert!(text.contains("create=1\n"), "{text}");
    assert!(
        text.contains("linux.resources.devices: loading the cgroup v2 device program"),
        "{text}"
    );
    assert!(text.contains("EPERM"), "{text}");
    assert!(!text.contains("cgroup left"), "{text}");
    assert!(!sandbox.root.join(&id).exists(), "state left: {text}");
}
