//! `cradle diff` on real traces: repeated runs of one bundle are
//! equivalent, one added mount is reported as exactly that mount, and a
//! runc-versus-crun diff is produced and readable.

#[path = "common/reports.rs"]
mod reports;
#[path = "common/runtime.rs"]
mod runtime;

use std::path::Path;

use reports::{cradle, path_str, trace_cradle_run, trace_crun_run, trace_runc_run};
use runtime::{Sandbox, stderr, stdout};
use serde_json::{Value, json};

fn diff_json(a: &Path, b: &Path) -> (Option<i32>, Value) {
    let out = cradle(&["diff", path_str(a), path_str(b), "--format", "json"]);
    let report = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|err| panic!("diff output is not JSON ({err}): {}", stderr(&out)));
    (out.status.code(), report)
}

#[test]
fn five_repeated_runs_of_one_bundle_are_equivalent() {
    let sandbox = Sandbox::new();
    let bundle = sandbox.bundle("b", &["true"]);
    let first = trace_cradle_run(&sandbox, &bundle, "diff-rep");
    for round in 1..=5 {
        let again = trace_cradle_run(&sandbox, &bundle, "diff-rep");
        let (code, report) = diff_json(&first, &again);
        assert_eq!(code, Some(0), "round {round}: not equivalent: {report:#}");
        assert_eq!(report["equivalent"], true);
    }
}

#[test]
fn repeated_runc_runs_are_equivalent() {
    let sandbox = Sandbox::new();
    let bundle = sandbox.bundle("b", &["true"]);
    let first = trace_runc_run(&sandbox, &bundle, "diff-runc");
    let again = trace_runc_run(&sandbox, &bundle, "diff-runc");
    let (code, report) = diff_json(&first, &again);
    assert_eq!(code, Some(0), "not equivalent: {report:#}");
}

fn add_tmpfs_mount(sandbox: &Sandbox, bundle: &Path) {
    sandbox.edit_config(bundle, |config| {
        config["mounts"].as_array_mut().unwrap().push(json!({
            "destination": "/data", "type": "tmpfs", "source": "tmpfs",
            "options": ["nosuid", "size=1m"],
        }));
    });
}

fn assert_exactly_the_mount(report: &Value) {
    let changes = report["containers"][0]["events"].as_array().unwrap();
    assert_eq!(changes.len(), 1, "exactly one change: {report:#}");
    let change = &changes[0];
    assert_eq!(change["change"], "added");
    assert_eq!(change["kind"], "mount");
    assert_eq!(change["phase"], "rootfs_assembly");
    let fields = &change["b"]["fields"];
    assert_eq!(fields["fstype"], "tmpfs");
    assert_eq!(fields["data"], "size=1m");
    assert_eq!(fields["flag_names"], json!(["MS_NOSUID"]));
    assert_eq!((report["added"].as_u64(), report["removed"].as_u64()), (Some(1), Some(0)));
}

#[test]
fn one_added_mount_is_reported_as_exactly_that_mount() {
    let sandbox = Sandbox::new();
    let bundle = sandbox.bundle("b", &["true"]);
    let before = trace_cradle_run(&sandbox, &bundle, "diff-mnt");
    add_tmpfs_mount(&sandbox, &bundle);
    let after = trace_cradle_run(&sandbox, &bundle, "diff-mnt");
    let (code, report) = diff_json(&before, &after);
    assert_eq!(code, Some(1), "different");
    assert_exactly_the_mount(&report);
    let text = cradle(&["diff", path_str(&before), path_str(&after)]);
    assert_eq!(text.status.code(), Some(1));
    let text = stdout(&text);
    assert!(text.contains(r#"+ intermediate.1"#) && text.contains(r#""size=1m""#), "{text}");
}

#[test]
fn one_added_mount_under_runc_is_reported_as_exactly_that_mount() {
    let sandbox = Sandbox::new();
    let bundle = sandbox.bundle("b", &["true"]);
    let before = trace_runc_run(&sandbox, &bundle, "diff-mnt-runc");
    add_tmpfs_mount(&sandbox, &bundle);
    let after = trace_runc_run(&sandbox, &bundle, "diff-mnt-runc");
    let (code, report) = diff_json(&before, &after);
    assert_eq!(code, Some(1), "different");
    assert_exactly_the_mount(&report);
}

#[test]
fn runc_versus_crun_is_a_readable_diff() {
    let sandbox = Sandbox::new();
    let bundle = sandbox.bundle("b", &["true"]);
    let runc = trace_runc_run(&sandbox, &bundle, "diff-runc-crun");
    let crun = trace_crun_run(&sandbox, &bundle, "diff-crun");
    let out = cradle(&["diff", path_str(&runc), path_str(&crun)]);
    assert_eq!(out.status.code(), Some(1), "runc and crun differ: {}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("(runc) / B"), "{text}");
    assert!(text.contains("(crun)"), "{text}");
    // Both sides' mounts of the same filesystems, shown under their phase.
    assert!(text.contains("@@ rootfs_assembly @@"), "{text}");
    assert!(text.lines().last().unwrap().starts_with("different: "), "{text}");
    let (_, report) = diff_json(&runc, &crun);
    assert_eq!(report["containers"][0]["a_runtime"], "runc");
    assert_eq!(report["containers"][0]["b_runtime"], "crun");
}

#[test]
fn a_broken_trace_is_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let junk = dir.path().join("junk.jsonl");
    std::fs::write(&junk, "not json\n").unwrap();
    let out = cradle(&["diff", path_str(&junk), path_str(&junk)]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("junk.jsonl"));
}

/// Issue 17: a bind mount added to a cradle bundle showed in the diff as
/// `mount("/", "/proc/self/fd/9", ...)`, its target a descriptor. The diff
/// names it by the path it resolves to, as `report` does, and compares it
/// by that path.
#[test]
fn an_added_bind_mount_is_named_by_the_path_it_lands_on() {
    let sandbox = Sandbox::new();
    let bundle = sandbox.bundle("b", &["true"]);
    let before = trace_cradle_run(&sandbox, &bundle, "diff-bind");
    let host_dir = sandbox.dir.path().join("shared-in");
    std::fs::create_dir_all(&host_dir).unwrap();
    sandbox.edit_config(&bundle, |config| {
        config["mounts"].as_array_mut().unwrap().push(json!({
            "destination": "/shared", "type": "bind", "source": path_str(&host_dir),
            "options": ["rbind", "ro"],
        }));
    });
    let after = trace_cradle_run(&sandbox, &bundle, "diff-bind");
    let (code, report) = diff_json(&before, &after);
    assert_eq!(code, Some(1), "different: {report:#}");
    let changes = report["containers"][0]["events"].as_array().unwrap();
    let mounts: Vec<&Value> =
        changes.iter().filter(|c| c["kind"] == "mount" && c["change"] == "added").collect();
    assert!(!mounts.is_empty(), "{report:#}");
    for mount in &mounts {
        let target = mount["b"]["fields"]["target"].as_str().unwrap();
        assert!(!target.contains("/fd/"), "a descriptor, not a path: {mount:#}");
        assert!(target.ends_with("/shared"), "{mount:#}");
    }
    let bind = mounts
        .iter()
        .find(|m| m["b"]["fields"]["source"].as_str().is_some_and(|s| s.ends_with("/shared-in")))
        .unwrap_or_else(|| panic!("no bind of {}: {report:#}", host_dir.display()));
    assert_eq!(bind["b"]["fields"]["target"], "<rootfs>/shared", "{bind:#}");
    // Only the new mount's calls changed: no descriptor renumbering shows
    // as a change of the mounts that were there before.
    for change in changes {
        let fields = change["b"]["fields"].as_object().or(change["a"]["fields"].as_object());
        let target = fields.and_then(|f| f["target"].as_str()).unwrap_or("");
        assert!(change["kind"] != "mount" || target.ends_with("/shared"), "{change:#}");
    }
    let text = stdout(&cradle(&["diff", path_str(&before), path_str(&after)]));
    assert!(text.contains("target -> ") && text.contains("/shared"), "{text}");
}
