//! `process.apparmorProfile` and `exec --apparmor`, under cradle and under
//! runc, on whichever kind of host the test runs on (decided at run time):
//!
//! - a host that runs AppArmor (the kernel-matrix VMs, `cargo xtask
//!   vmtest`: Debian boots its kernels with AppArmor): a profile loaded
//!   with `apparmor_parser` confines the container's process, as under
//!   runc, and a profile that is not loaded fails `create` with the field
//!   and the name, leaving nothing;
//! - a host without AppArmor (these machines): any profile fails, with the
//!   field, leaving nothing, where runc fails too. A container never runs
//!   unconfined when its config asks for a profile.

#[path = "common/runtime.rs"]
mod runtime;

use std::{
    path::{Path, PathBuf},
    process::{Command, Output, Stdio},
};

use runtime::{Sandbox, stderr, stdout};
use serde_json::json;

/// The same test as the runtime's (and runc's).
fn apparmor_enabled() -> bool {
    Path::new("/sys/kernel/security/apparmor").exists()
        && std::fs::read_to_string("/sys/module/apparmor/parameters/enabled")
            .is_ok_and(|value| value.trim() == "Y")
}

/// A profile loaded into the kernel for the test's length: everything is
/// allowed but writing `/tmp/denied`.
struct LoadedProfile {
    name: String,
    file: PathBuf,
}

impl LoadedProfile {
    fn load(sandbox: &Sandbox, name: &str) -> LoadedProfile {
        let name = format!("cradle-test-{name}-{}", std::process::id());
        let file = sandbox.dir.path().join(format!("{name}.profile"));
        std::fs::write(
            &file,
            format!(
                "profile {name} flags=(attach_disconnected,mediate_deleted) {{\n  \
                 file,\n  capability,\n  network,\n  signal,\n  unix,\n  mount,\n  umount,\n  \
                 pivot_root,\n  ptrace,\n  deny /tmp/denied w,\n}}\n"
            ),
        )
        .unwrap();
        let out = Command::new("apparmor_parser")
            .args(["--replace", "--skip-cache"])
            .arg(&file)
            .output()
            .expect("apparmor_parser (package apparmor; run cargo xtask setup)");
        assert!(out.status.success(), "apparmor_parser: {}", stderr(&out));
        LoadedProfile { name, file }
    }
}

impl Drop for LoadedProfile {
    fn drop(&mut self) {
        let _ = Command::new("apparmor_parser").arg("--remove").arg(&self.file).output();
    }
}

/// What the container's process says about itself: its profile, whether
/// it could write a file the profile allows and one it denies.
const PROBE: &str = "cat /proc/self/attr/current; \
     echo x > /tmp/allowed && echo allowed: yes || echo allowed: no; \
     echo x > /tmp/denied && echo denied: yes || echo denied: no";

fn runc_present() -> bool {
    Command::new("runc").arg("--version").output().is_ok_and(|out| out.status.success())
}

fn runc(root: &Path, args: &[&str]) -> Output {
    Command::new("runc").arg("--root").arg(root).args(args).stdin(Stdio::null()).output().unwrap()
}

/// What a failed create must not leave: state, cgroups, processes.
fn assert_nothing_left(sandbox: &Sandbox, id: &str) {
    assert!(!sandbox.root.join(id).exists(), "state of {id} left behind");
    assert!(runtime::cgroups_mentioning(id).is_empty(), "cgroups of {id} left behind");
    assert!(runtime::processes_mentioning(id).is_empty(), "processes of {id} left behind");
}

/// Issue 18 build item 5: the profile confines the process from its exec
/// on, as under runc.
#[test]
fn a_loaded_profile_confines_the_container_as_under_runc() {
    if !apparmor_enabled() {
        eprintln!(
            "skipped: this kernel does not run AppArmor (cargo xtask vmtest --kernel 6.12 runs \
             it); a_profile_fails_create_where_it_cannot_be_applied covers this host"
        );
        return;
    }
    let sandbox = Sandbox::new();
    let profile = LoadedProfile::load(&sandbox, "confine");
    let bundle = sandbox.bundle("b", &["sh", "-c", PROBE]);
    sandbox.edit_config(&bundle, |config| {
        config["process"]["apparmorProfile"] = json!(profile.name);
    });
    let id = sandbox.id("aa");
    let out = runtime::run_with("cradle", &sandbox.root, &bundle, &id);
    assert!(out.status.success(), "cradle run: {}", stderr(&out));
    let expected = format!("{} (enforce)\nallowed: yes\ndenied: no\n", profile.name);
    assert_eq!(stdout(&out), expected, "stderr: {}", stderr(&out));
    if runc_present() {
        // Each run starts from a rootfs without the files.
        let _ = std::fs::remove_file(bundle.join("rootfs/tmp/allowed"));
        let runc_root = sandbox.dir.path().join("runc-state");
        let by_runc = runtime::run_with("runc", &runc_root, &bundle, &sandbox.id("aa-runc"));
        assert_eq!(stdout(&by_runc), expected, "runc: {}", stderr(&by_runc));
    }
}

/// Issue 18 build item 5: `exec --apparmor` puts the exec'd process (and
/// only it) in the profile, as runc's does.
#[test]
fn exec_apparmor_confines_the_exec_d_process_as_under_runc() {
    let sandbox = Sandbox::new();
    let bundle = sandbox.bundle("b", &["sleep", "1000"]);
    let id = sandbox.id("aa-exec");
    let out = sandbox.create(&bundle, &id);
    assert!(out.status.success(), "create: {}", stderr(&out));
    let out = sandbox.output(&["start", &id]);
    assert!(out.status.success(), "start: {}", stderr(&out));
    if !apparmor_enabled() {
        // As runc, whose write to the attribute fails there; cradle says
        // why before starting anything.
        let out = sandbox.output(&["exec", "--apparmor", "cradle-any", &id, "true"]);
        assert!(!out.status.success(), "exec --apparmor ran without AppArmor");
        assert!(stderr(&out).contains("--apparmor"), "{}", stderr(&out));
        assert!(stderr(&out).contains("does not run AppArmor"), "{}", stderr(&out));
        return;
    }
    let profile = LoadedProfile::load(&sandbox, "exec");
    let exec = |runtime: &str, root: &Path, id: &str| -> Output {
        let binary = if runtime == "cradle" { runtime::cradle_bin() } else { runtime };
        Command::new(binary)
            .arg("--root")
            .arg(root)
            .args(["exec", "--apparmor", &profile.name, id, "sh", "-c", PROBE])
            .stdin(Stdio::null())
            .output()
            .unwrap()
    };
    let out = exec("cradle", &sandbox.root, &id);
    assert!(out.status.success(), "cradle exec: {}", stderr(&out));
    let expected = format!("{} (enforce)\nallowed: yes\ndenied: no\n", profile.name);
    assert_eq!(stdout(&out), expected, "stderr: {}", stderr(&out));
    // The container's own process stays unconfined.
    let out = sandbox.output(&["exec", &id, "cat", "/proc/self/attr/current"]);
    assert_eq!(stdout(&out).trim_end_matches('\0').trim(), "unconfined", "{}", stderr(&out));
    if runc_present() {
        let runc_root = sandbox.dir.path().join("runc-state");
        let runc_id = sandbox.id("aa-exec-runc");
        let run = ["run", "--detach", "--bundle", bundle.to_str().unwrap(), &runc_id];
        let (ran, err) = runtime::run_quietly("runc", &runc_root, &run);
        assert!(ran, "runc run: {err}");
        let _ = std::fs::remove_file(bundle.join("rootfs/tmp/allowed"));
        let by_runc = exec("runc", &runc_root, &runc_id);
        let _ = runc(&runc_root, &["delete", "--force", &runc_id]);
        assert_eq!(stdout(&by_runc), expected, "runc: {}", stderr(&by_runc));
    }
}

/// Issue 18 build item 5: a profile that cannot be applied (not loaded;
/// or no AppArmor at all) fails `create` with the field and the name, and
/// leaves nothing behind; runc fails the same config.
#[test]
fn a_profile_fails_create_where_it_cannot_be_applied() {
    let sandbox = Sandbox::new();
    let missing = format!("cradle-test-missing-{}", std::process::id());
    let bundle = sandbox.bundle("b", &["true"]);
    sandbox.edit_config(&bundle, |config| {
        config["process"]["apparmorProfile"] = json!(missing);
    });
    let id = sandbox.id("aa-missing");
    let out = sandbox.create(&bundle, &id);
    assert!(!out.status.success(), "create with profile {missing} succeeded");
    let message = stderr(&out);
    assert!(message.contains("process.apparmorProfile"), "{message}");
    assert!(message.contains(&missing), "{message}");
    let why = if apparmor_enabled() { "is not loaded" } else { "does not run AppArmor" };
    assert!(message.contains(why), "{message}");
    assert_nothing_left(&sandbox, &id);
    if runc_present() {
        let runc_root = sandbox.dir.path().join("runc-state");
        let by_runc =
            runtime::run_with("runc", &runc_root, &bundle, &sandbox.id("aa-missing-runc"));
        assert!(!by_runc.status.success(), "runc ran with profile {missing}");
    }
}
