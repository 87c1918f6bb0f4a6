//! The container's cgroup under runc and under cradle, same bundle, same
//! result: which devices open, which cgroups an `exec`'d process is in.
//! These run on whatever cgroup layout the host has (hybrid here, pure v2
//! in the kernel-matrix VMs).

#[path = "common/runtime.rs"]
mod runtime;

use std::{
    path::PathBuf,
    process::{Command, Output, Stdio},
};

use runtime::{Sandbox, stderr, stdout};
use serde_json::json;

/// runc with its own `--root` in the sandbox; deletes (forced) every
/// container it made when dropped.
struct Runc {
    root: PathBuf,
    ids: Vec<String>,
}

impl Runc {
    fn new(sandbox: &Sandbox) -> Self {
        if Command::new("runc").arg("--version").output().is_err() {
            panic!("runc is required for this test (cargo xtask setup installs it)");
        }
        Runc { root: sandbox.dir.path().join("runc-state"), ids: Vec::new() }
    }

    fn command(&mut self, args: &[&str]) -> Command {
        let mut command = Command::new("runc");
        command.arg("--root").arg(&self.root).args(args).stdin(Stdio::null());
        command
    }

    fn output(&mut self, args: &[&str]) -> Output {
        self.command(args).output().expect("run runc")
    }

    fn id(&mut self, sandbox: &Sandbox, name: &str) -> String {
        let id = sandbox.id(name);
        self.ids.push(id.clone());
        id
    }
}

impl Drop for Runc {
    fn drop(&mut self) {
        for id in self.ids.clone() {
            let _ = self.output(&["delete", "--force", &id]);
        }
    }
}

/// Issue 22 item 2: a node listed in `linux.devices` is made in /dev, but
/// only `linux.resources.devices` decides whether it opens. With the
/// default rules (deny all, then runc's own allow list) /dev/kmsg does not
/// open for writing, though the node is there; any node may be made
/// (runc allows mknod of everything) but not opened.
#[test]
fn a_listed_device_the_rules_deny_does_not_open_under_either_runtime() {
    let sandbox = Sandbox::new();
    let script = "test -c /dev/kmsg && echo node=yes
        (: >/dev/kmsg) 2>/dev/null; echo kmsg=$?
        mknod /dev/cg-parity-blk b 8 9; echo mknod=$?
        (: </dev/cg-parity-blk) 2>/dev/null; echo open=$?
        (: >/dev/null); echo null=$?";
    let bundle = sandbox.bundle("b", &["sh", "-c", script]);
    sandbox.edit_config(&bundle, |config| {
        assert_eq!(
            config["linux"]["resources"]["devices"],
            json!([{"allow": false, "access": "rwm"}])
        );
        config["linux"]["devices"] =
            json!([{"path": "/dev/kmsg", "type": "c", "major": 1, "minor": 11, "fileMode": 438}]);
    });
    let mut runc = Runc::new(&sandbox);
    let runc_id = runc.id(&sandbox, "devp-runc");
    let by_runc = runc.output(&["run", "--bundle", bundle.to_str().unwrap(), &runc_id]);
    let id = sandbox.id("devp");
    let by_cradle = sandbox.output(&["run", "--bundle", bundle.to_str().unwrap(), &id]);
    let expected = "node=yes\nkmsg=1\nmknod=0\nopen=1\nnull=0\n";
    assert_eq!(stdout(&by_runc), expected, "runc: {}", stderr(&by_runc));
    assert_eq!(stdout(&by_cradle), expected, "cradle: {}", stderr(&by_cradle));
}
