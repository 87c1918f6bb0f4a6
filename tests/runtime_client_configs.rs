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
