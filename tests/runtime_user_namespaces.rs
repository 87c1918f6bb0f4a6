//! User namespaces: a mapped container is root inside and the mapped uid
//! outside, passes the same pid-1, hostname, mounts, devices and masked
//! paths checks as runc's container of the same bundle, writes files owned
//! by the mapped uid, and `exec` joins it; a user namespace joined by path;
//! nothing is left behind.

#[path = "common/runtime.rs"]
mod runtime;

use std::{
    os::unix::fs::{MetadataExt, PermissionsExt},
    path::{Path, PathBuf},
    process::{Command, Stdio},
};

use runtime::{
    Sandbox, cgroups_mentioning, host_mounts_mentioning, run_with, stderr, stdout, wait_for_status,
};

const HOST_ID: u32 = 200_000;
const RANGE: u32 = 65_536;

/// The init runs as a host uid that owns nothing on the host: every
/// directory on the way to the bundle must let others search it.
fn searchable(sandbox: &Sandbox) {
    std::fs::set_permissions(sandbox.dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
}

fn user_namespace_bundle(sandbox: &Sandbox, name: &str, args: &[&str]) -> PathBuf {
    searchable(sandbox);
    let bundle = sandbox.bundle(name, args);
    sandbox.edit_config(&bundle, |config| {
        config["linux"]["namespaces"]
            .as_array_mut()
            .unwrap()
            .push(serde_json::json!({"type": "user"}));
        let mapping = serde_json::json!([{"containerID": 0, "hostID": HOST_ID, "size": RANGE}]);
        config["linux"]["uidMappings"] = mapping.clone();
        config["linux"]["gidMappings"] = mapping;
    });
    bundle
}

/// A directory the container's root (host uid HOST_ID) may write, bound at
/// /data.
fn with_data_mount(sandbox: &Sandbox, bundle: &Path) -> PathBuf {
    let data =
        sandbox.dir.path().join(format!("data-{}", bundle.file_name().unwrap().to_string_lossy()));
    std::fs::create_dir(&data).unwrap();
    // The container's root owns nothing in the rootfs, and cannot make the
    // mount point itself (nor can runc's).
    std::fs::create_dir_all(bundle.join("rootfs/data")).unwrap();
    std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o777)).unwrap();
    sandbox.edit_config(bundle, |config| {
        config["mounts"].as_array_mut().unwrap().push(serde_json::json!({
            "destination": "/data", "type": "bind", "source": data, "options": ["rbind", "rw"]
        }));
    });
    data
}

/// The checks the runc parity test makes, plus the maps and pid 1.
const VIEW: &str = "echo pid=$$; hostname; id; cat /proc/self/uid_map /proc/self/gid_map; \
    cut -d' ' -f5 /proc/self/mountinfo; ls /dev; echo x > /dev/null && echo null-writable; \
    wc -c < /proc/kcore 2>/dev/null || wc -c < /proc/keys; \
    grep -E '^(Cap|NoNewPrivs|Seccomp:)' /proc/self/status";

#[test]
fn a_mapped_container_sees_what_runcs_does_and_is_root_only_inside() {
    let sandbox = Sandbox::new();
    let bundle = user_namespace_bundle(&sandbox, "userns", &["sh", "-c", VIEW]);
    let runc_id = sandbox.id("usernsrunc");
    let runc = run_with("runc", &sandbox.dir.path().join("runc-state"), &bundle, &runc_id);
    assert!(runc.status.success(), "runc: {}", stderr(&runc));
    let id = sandbox.id("userns");
    let cradle = run_with("cradle", &sandbox.root, &bundle, &id);
    assert!(cradle.status.success(), "cradle: {}", stderr(&cradle));
    let view = squeeze(&stdout(&cradle));
    assert!(view.starts_with("pid=1\n"), "{view}");
    assert!(view.contains("uid=0(root) gid=0(root)"), "{view}");
    assert!(view.contains(&format!("0 {HOST_ID} {RANGE}")), "{view}");
    assert!(view.contains("null-writable"), "{view}");
    let runc_view = squeeze(&stdout(&runc));
    let differing: Vec<(&str, &str)> =
        view.lines().zip(runc_view.lines()).filter(|(ours, theirs)| ours != theirs).collect();
    assert_eq!(view, runc_view, "lines that differ (cradle, runc): {differing:#?}");
    let rootfs = std::fs::canonicalize(bundle.join("rootfs")).unwrap();
    assert_eq!(host_mounts_mentioning(&rootfs), Vec::<String>::new());
    assert_eq!(cgroups_mentioning(&id), Vec::<PathBuf>::new());
}

/// Runs of blanks as one space: /proc's maps are column-aligned.
fn squeeze(text: &str) -> String {
    text.lines().map(|line| line.split_whitespace().collect::<Vec<_>>().join(" ") + "\n").collect()
}

/// `Uid:` of /proc/PID/status: real, effective, saved, filesystem.
fn host_uids(pid: i64) -> String {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .unwrap()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

#[test]
fn files_and_processes_of_a_mapped_container_belong_to_the_mapped_uid_on_the_host() {
    let sandbox = Sandbox::new();
    let bundle = user_namespace_bundle(
        &sandbox,
        "userns-owner",
        &["sh", "-c", "touch /data/by-init; sleep 60"],
    );
    let data = with_data_mount(&sandbox, &bundle);
    let id = sandbox.id("usernsowner");
    let created = sandbox.create(&bundle, &id);
    assert!(created.status.success(), "create: {}", stderr(&created));
    let started = sandbox.output(&["start", &id]);
    assert!(started.status.success(), "start: {}", stderr(&started));
    wait_for_status(&sandbox, &id, "running");
    let pid = sandbox.state(&id)["pid"].as_i64().unwrap();
    let mapped = format!("{HOST_ID} {HOST_ID} {HOST_ID} {HOST_ID}");
    for _ in 0..500 {
        if host_uids(pid) == mapped && data.join("by-init").exists() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    assert_eq!(host_uids(pid), mapped, "the init's uids seen from the host");
    assert_eq!(std::fs::metadata(data.join("by-init")).unwrap().uid(), HOST_ID);

    // exec joins the user namespace: root inside, the mapped uid outside.
    let exec = sandbox.output(&[
        "exec",
        &id,
        "sh",
        "-c",
        "id -u; cat /proc/self/uid_map; touch /data/by-exec; grep ^Uid: /proc/self/status",
    ]);
    assert!(exec.status.success(), "exec: {}", stderr(&exec));
    let out = squeeze(&stdout(&exec));
    assert!(out.starts_with("0\n"), "{out}");
    assert!(out.contains(&format!("0 {HOST_ID} {RANGE}")), "{out}");
    assert_eq!(std::fs::metadata(data.join("by-exec")).unwrap().uid(), HOST_ID);

    let deleted = sandbox.output(&["delete", "--force", &id]);
    assert!(deleted.status.success(), "delete: {}", stderr(&deleted));
    let rootfs = std::fs::canonicalize(bundle.join("rootfs")).unwrap();
    assert_eq!(host_mounts_mentioning(&rootfs), Vec::<String>::new());
    assert!(!sandbox.root.join(&id).exists(), "state directory left");
}

#[test]
fn a_user_namespace_joined_by_path_is_the_containers() {
    let sandbox = Sandbox::new();
    // Holds a user namespace with a map of its own.
    // A user namespace and a pid namespace it owns (unshare makes the user
    // one first): mounting /proc needs the latter.
    let mut holder = Command::new("unshare")
        .args(["--user", "--pid", "--fork", "sleep", "60"])
        .stdin(Stdio::null())
        .spawn()
        .expect("unshare --user");
    let path = format!("/proc/{}/ns/user", holder.id());
    let pid_path = format!("/proc/{}/ns/pid_for_children", holder.id());
    let own = std::fs::read_link("/proc/self/ns/user").unwrap();
    let mut ready = false;
    for _ in 0..500 {
        if std::fs::read_link(&path).is_ok_and(|ns| ns != own) {
            // As root, this test writes the holder's maps itself.
            for file in ["uid_map", "gid_map"] {
                std::fs::write(format!("/proc/{}/{file}", holder.id()), "0 300000 1000\n").unwrap();
            }
            ready = true;
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    searchable(&sandbox);
    let bundle = sandbox.bundle(
        "joined-userns",
        &["sh", "-c", "id -u; cat /proc/self/uid_map; readlink /proc/self/ns/user"],
    );
    sandbox.edit_config(&bundle, |config| {
        let namespaces = config["linux"]["namespaces"].as_array_mut().unwrap();
        // A new pid namespace in a joined user namespace is refused (see
        // the README): the container joins the holder's.
        namespaces.retain(|ns| ns["type"] != "pid");
        namespaces.push(serde_json::json!({"type": "user", "path": path}));
        namespaces.push(serde_json::json!({"type": "pid", "path": pid_path}));
    });
    let id = sandbox.id("usernsjoined");
    let out = sandbox.output(&["run", "--bundle", bundle.to_str().unwrap(), &id]);
    let holder_ns = std::fs::read_link(&path).map(|ns| ns.display().to_string());
    let _ = holder.kill();
    let _ = holder.wait();
    assert!(ready, "the holder never got its user namespace");
    assert!(out.status.success(), "run: {}", stderr(&out));
    let lines: Vec<String> =
        stdout(&out).lines().map(|l| l.split_whitespace().collect::<Vec<_>>().join(" ")).collect();
    assert_eq!(lines, ["0".to_owned(), "0 300000 1000".to_owned(), holder_ns.unwrap()]);
}

/// `COMMAND...` as uid/gid 65534 with no group and no capability, with
/// `XDG_RUNTIME_DIR` set as a login session would.
fn as_nobody(runtime_dir: &Path, command: &[&str]) -> std::process::Output {
    Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups", "--inh-caps=-all", "--"])
        .args(["env", &format!("XDG_RUNTIME_DIR={}", runtime_dir.display())])
        .args(command)
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

#[test]
fn a_rootless_container_runs_as_an_unprivileged_user_as_runcs_does() {
    let sandbox = Sandbox::new();
    searchable(&sandbox);
    let bundle = sandbox.bundle("rootless", &["true"]);
    std::fs::remove_file(bundle.join("config.json")).unwrap();
    std::fs::set_permissions(&bundle, std::fs::Permissions::from_mode(0o777)).unwrap();
    let runtime_dir = sandbox.dir.path().join("xdg");
    std::fs::create_dir(&runtime_dir).unwrap();
    std::os::unix::fs::chown(&runtime_dir, Some(65534), Some(65534)).unwrap();
    let cradle = runtime::cradle_bin();
    let spec =
        as_nobody(&runtime_dir, &[cradle, "spec", "--rootless", "-b", bundle.to_str().unwrap()]);
    assert!(spec.status.success(), "spec --rootless: {}", stderr(&spec));
    sandbox.edit_config(&bundle, |config| {
        config["process"]["terminal"] = serde_json::json!(false);
        config["process"]["args"] = serde_json::json!(["sh", "-c", VIEW]);
    });
    let id = sandbox.id("rootless");
    let ours = as_nobody(&runtime_dir, &[cradle, "run", "--bundle", bundle.to_str().unwrap(), &id]);
    assert!(ours.status.success(), "cradle as nobody: {}", stderr(&ours));
    let view = squeeze(&stdout(&ours));
    assert!(
        view.starts_with("pid=1\ncradle\nuid=0(root) gid=0(root)\n0 65534 1\n0 65534 1\n"),
        "{view}"
    );
    assert!(view.contains("null-writable"), "{view}");
    let theirs = as_nobody(
        &runtime_dir,
        &["runc", "run", "--bundle", bundle.to_str().unwrap(), &format!("{id}-runc")],
    );
    assert!(theirs.status.success(), "runc as nobody: {}", stderr(&theirs));
    assert_eq!(view, squeeze(&stdout(&theirs)));
    assert!(!runtime_dir.join("cradle").join(&id).exists(), "state directory left");
    let rootfs = std::fs::canonicalize(bundle.join("rootfs")).unwrap();
    assert_eq!(host_mounts_mentioning(&rootfs), Vec::<String>::new());

    // A limit it cannot apply is refused, not silently dropped.
    sandbox.edit_config(&bundle, |config| {
        config["linux"]["resources"] = serde_json::json!({"pids": {"limit": 5}});
    });
    let limited = sandbox.id("rootlesslimit");
    let refused =
        as_nobody(&runtime_dir, &[cradle, "run", "--bundle", bundle.to_str().unwrap(), &limited]);
    assert!(!refused.status.success(), "ran without its limit");
    assert!(stderr(&refused).contains("linux.resources"), "{}", stderr(&refused));
    assert!(!runtime_dir.join("cradle").join(&limited).exists(), "state directory left");
}

/// `/proc/PID/uid_map` or `gid_map` as the host reads it: the lines cradle
/// shows for it, and the ranges its records hold.
fn map_as_shown(pid: i64, file: &str) -> (Vec<String>, Vec<serde_json::Value>) {
    let text = std::fs::read_to_string(format!("/proc/{pid}/{file}")).unwrap();
    let kind = &file[..3];
    let mut lines = Vec::new();
    let mut ranges = Vec::new();
    for line in text.lines() {
        let [inside, outside, count]: [u32; 3] = line
            .split_whitespace()
            .map(|n| n.parse().unwrap())
            .collect::<Vec<_>>()
            .try_into()
            .unwrap();
        let ids = if count == 1 { "1 id".to_string() } else { format!("{count} ids") };
        lines.push(format!("{kind} {inside} inside = {kind} {outside} on the host, {ids}"));
        ranges.push(serde_json::json!({"inside": inside, "outside": outside, "count": count}));
    }
    (lines, ranges)
}

/// The trace of a user-namespaced container, of cradle's and of runc's,
/// shows the id mapping the host sees in `/proc/PID/uid_map` and `gid_map`
/// of its init: in the container record, the timeline of a replay, and the
/// report.
#[test]
fn the_trace_shows_the_id_mapping_the_host_sees() {
    let sandbox = Sandbox::new();
    for runtime in ["cradle", "runc"] {
        let bundle =
            user_namespace_bundle(&sandbox, &format!("traced-{runtime}"), &["sleep", "600"]);
        // Different uid and gid maps, two ranges: nothing mixed up.
        sandbox.edit_config(&bundle, |config| {
            config["linux"]["gidMappings"] = serde_json::json!([
                {"containerID": 0, "hostID": HOST_ID + RANGE, "size": 1000},
                {"containerID": 1000, "hostID": HOST_ID + 2 * RANGE, "size": 1},
            ]);
        });
        let id = sandbox.id(&format!("traced{runtime}"));
        let root = sandbox.dir.path().join(format!("{runtime}-traced-state"));
        let trace = sandbox.dir.path().join(format!("{id}.jsonl"));
        let binary = if runtime == "cradle" { runtime::cradle_bin() } else { runtime };
        let root_arg = root.to_str().unwrap();
        let (traced, err) = runtime::run_quietly(
            runtime::cradle_bin(),
            &root,
            &["trace", "--out", trace.to_str().unwrap(), "--", binary, "--root", root_arg]
                .into_iter()
                .chain(["run", "-d", "--bundle", bundle.to_str().unwrap(), &id])
                .collect::<Vec<_>>(),
        );
        let state = Command::new(binary).args(["--root", root_arg, "state", &id]).output().unwrap();
        let pid = serde_json::from_slice::<serde_json::Value>(&state.stdout)
            .ok()
            .and_then(|state| state["pid"].as_i64());
        let host_view = pid.map(|pid| (map_as_shown(pid, "uid_map"), map_as_shown(pid, "gid_map")));
        let deleted =
            Command::new(binary).args(["--root", root_arg, "delete", "--force", &id]).output();
        assert!(traced, "{runtime} traced: {err}");
        assert!(deleted.unwrap().status.success(), "{runtime} delete");
        let ((uid_lines, uids), (gid_lines, gids)) = host_view.expect("the init's maps");
        assert_eq!(uids.len(), 1, "{uids:?}");
        assert_eq!(gids.len(), 2, "{gids:?}");

        let records: Vec<serde_json::Value> = std::fs::read_to_string(&trace)
            .unwrap()
            .lines()
            .map(|line| serde_json::from_str(line).unwrap())
            .collect();
        let container = records
            .iter()
            .find_map(|record| record.get("container").filter(|c| c["id"] == id.as_str()))
            .expect("the container's record");
        let mappings = &container["id_mappings"];
        assert_eq!(
            mappings["uids"],
            serde_json::Value::from(uids.clone()),
            "{runtime}: {container}"
        );
        assert_eq!(mappings["gids"], serde_json::Value::from(gids.clone()), "{runtime}");

        let show = Command::new(runtime::cradle_bin()).arg("show").arg(&trace).output().unwrap();
        let report = Command::new(runtime::cradle_bin())
            .args(["report", "--format", "text"])
            .arg(&trace)
            .output()
            .unwrap();
        for (what, out) in [("show", show), ("report", report)] {
            let text = stdout(&out);
            for line in uid_lines.iter().chain(&gid_lines) {
                assert!(text.contains(line), "{runtime}: `cradle {what}` lacks {line:?}:\n{text}");
            }
        }
    }
    let explained = Command::new(runtime::cradle_bin()).args(["explain", "id-mapping"]).output();
    assert!(stdout(&explained.unwrap()).contains("/proc/PID/uid_map"), "cradle explain");
}
