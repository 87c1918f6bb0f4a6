//! Configs as docker and podman write them, run by cradle directly: the
//! parts runc accepts that cradle used to refuse (issue 16).

mod common;

use common::runtime::{Sandbox, cgroups_mentioning, stderr, stdout};

/// Docker's default: a `cgroup` mount, no cgroup namespace. The container
/// sees its own cgroup directories, read-only, where the hierarchies go.
#[test]
fn cgroup_mount_without_a_cgroup_namespace_binds_its_own_cgroup() {
    let sandbox = Sandbox::new();
    let id = sandbox.id("cgbind");
    // The tmpfs that holds the hierarchies stays writable, as in runc;
    // each bound hierarchy gets the mount's `ro`.
    let script = "cat /proc/self/cgroup; echo ---; ls /sys/fs/cgroup; echo ---; \
                  touch /sys/fs/cgroup/pids/x 2>/dev/null && echo writable; \
                  ls /sys/fs/cgroup/pids";
    let bundle = sandbox.bundle("b", &["sh", "-c", script]);
    sandbox.edit_config(&bundle, |config| {
        let namespaces = config["linux"]["namespaces"].as_array_mut().unwrap();
        namespaces.retain(|ns| ns["type"] != "cgroup");
    });
    let out = sandbox.output(&["run", "--bundle", bundle.to_str().unwrap(), &id]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    let mut parts = text.split("---\n");
    let membership = parts.next().unwrap();
    // Without a cgroup namespace, the container's cgroup paths name it.
    assert!(membership.contains(&id), "{membership}");
    let listing = parts.next().unwrap();
    assert!(!listing.trim().is_empty(), "the hierarchies are there: {text}");
    let rest = parts.next().unwrap();
    assert!(!rest.contains("writable"), "bound read-only: {text}");
    assert!(rest.contains("cgroup.procs"), "the container's own directory is inside: {text}");
    drop(sandbox);
    assert!(cgroups_mentioning(&id).is_empty(), "no cgroup left");
}

/// A capability set the kernel refuses (this sandbox's bounding set lacks
/// CAP_SYS_RESOURCE, so capset fails) fails `create` with the cause, as
/// runc's does, and leaves nothing behind; before, `create` succeeded and
/// the container died at `start`.
#[test]
fn a_refused_capset_fails_create_with_its_cause() {
    let bounding = std::fs::read_to_string("/proc/self/status").unwrap();
    let bounding = bounding.lines().find_map(|l| l.strip_prefix("CapBnd:")).unwrap().trim();
    let bounding = u64::from_str_radix(bounding, 16).unwrap();
    // CAP_SYS_RESOURCE is capability 24.
    if bounding & (1 << 24) != 0 {
        eprintln!("skipped: this host's bounding set has CAP_SYS_RESOURCE, capset would succeed");
        return;
    }
    let sandbox = Sandbox::new();
    let bundle = sandbox.bundle("b", &["true"]);
    sandbox.edit_config(&bundle, |config| {
        let caps = serde_json::json!(["CAP_SYS_RESOURCE"]);
        for set in ["effective", "permitted", "inheritable"] {
            config["process"]["capabilities"][set] = caps.clone();
        }
    });
    let id = sandbox.id("capset");
    let out = sandbox.create(&bundle, &id);
    assert!(!out.status.success(), "create must fail: {}", stdout(&out));
    let said = stderr(&out);
    assert!(said.contains("capset") || said.contains("capabilit"), "the cause: {said}");
    assert!(!sandbox.root.join(&id).exists(), "no state directory left");
    assert!(cgroups_mentioning(&id).is_empty(), "no cgroup left");
    assert!(common::runtime::processes_mentioning(&id).is_empty(), "no process left");
}
