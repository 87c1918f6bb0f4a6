//! Ready-to-run bundles: `cradle bundle DIR` (a busybox rootfs and a
//! Docker-like config.json) and `cradle spec` (runc's default config).

use std::{
    fs,
    os::unix::fs::{PermissionsExt, symlink},
    path::{Path, PathBuf},
    process::Command,
};

use oci_spec::runtime::Spec;
use serde_json::json;

use crate::{
    error::{Context, Error, Result},
    features::SPEC_VERSION,
    security::seccomp::docker::{self, DEFAULT_CAPABILITIES},
};

pub const HOST_BUSYBOX: &str = "/bin/busybox";

/// A config.json close to what Docker generates, with Docker's default
/// hardening: its 14 capabilities (bounding, effective, permitted), its
/// masked and read-only paths, and its default seccomp profile.
pub fn default_spec(terminal: bool, args: &[&str]) -> Spec {
    let capabilities = json!(DEFAULT_CAPABILITIES);
    let seccomp = docker::default_profile(&DEFAULT_CAPABILITIES);
    let value = json!({
        "ociVersion": SPEC_VERSION,
        "process": {
            "terminal": terminal,
            "user": { "uid": 0, "gid": 0 },
            "args": args,
            "env": [
                "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                "TERM=xterm"
            ],
            "cwd": "/",
            "capabilities": {
                "bounding": capabilities,
                "effective": capabilities,
                "permitted": capabilities
            },
            "rlimits": [{ "type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024 }],
            "noNewPrivileges": false
        },
        "root": { "path": "rootfs", "readonly": false },
        "hostname": "cradle",
        "mounts": [
            { "destination": "/proc", "type": "proc", "source": "proc" },
            { "destination": "/dev", "type": "tmpfs", "source": "tmpfs",
              "options": ["nosuid", "strictatime", "mode=755", "size=65536k"] },
            { "destination": "/dev/pts", "type": "devpts", "source": "devpts",
              "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"] },
            { "destination": "/dev/shm", "type": "tmpfs", "source": "shm",
              "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"] },
            { "destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue",
              "options": ["nosuid", "noexec", "nodev"] },
            { "destination": "/sys", "type": "sysfs", "source": "sysfs",
              "options": ["nosuid", "noexec", "nodev", "ro"] },
            { "destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup",
              "options": ["nosuid", "noexec", "nodev", "relatime", "ro"] }
        ],
        "linux": {
            "namespaces": [
                { "type": "pid" }, { "type": "network" }, { "type": "ipc" },
                { "type": "uts" }, { "type": "mount" }, { "type": "cgroup" }
            ],
            // Docker's and runc's: no device but those every container
            // gets (added by the runtime).
            "resources": { "devices": [{ "allow": false, "access": "rwm" }] },
            "maskedPaths": cradle_defaults::MASKED_PATHS,
            "readonlyPaths": cradle_defaults::READONLY_PATHS,
            "seccomp": seccomp
        }
    });
    serde_json::from_value(value).expect("the default spec is valid")
}

/// runc's `spec --rootless`: the default spec for an unprivileged user
/// `uid`/`gid`, who is root inside a user namespace that maps only them.
/// No cgroup settings (an unprivileged runtime cannot create cgroups), and
/// no `gid=` on devpts (gid 5 is not mapped). Unlike runc's, the network
/// namespace stays: the container has a loopback of its own rather than
/// the host's network.
pub fn rootless_spec(spec: &Spec, uid: u32, gid: u32) -> Spec {
    let mut value = serde_json::to_value(spec).expect("spec serializes");
    let linux = &mut value["linux"];
    linux["namespaces"].as_array_mut().expect("namespaces").push(json!({ "type": "user" }));
    linux["uidMappings"] = json!([{ "containerID": 0, "hostID": uid, "size": 1 }]);
    linux["gidMappings"] = json!([{ "containerID": 0, "hostID": gid, "size": 1 }]);
    if let Some(linux) = linux.as_object_mut() {
        linux.remove("resources");
    }
    for mount in value["mounts"].as_array_mut().expect("mounts") {
        if let Some(options) = mount["options"].as_array_mut() {
            options.retain(|option| {
                !option.as_str().is_some_and(|o| o.starts_with("gid=") || o.starts_with("uid="))
            });
        }
    }
    serde_json::from_value(value).expect("the rootless spec is valid")
}

/// Writes `DIR/config.json` (runc's `spec`), refusing to overwrite one;
/// `rootless` for the calling user.
pub fn write_default_spec(dir: &Path, rootless: bool) -> Result<PathBuf> {
    let path = dir.join("config.json");
    if path.exists() {
        return Err(Error::invalid("spec", format!("{} exists, remove it first", path.display())));
    }
    let mut spec = default_spec(true, &["sh"]);
    if rootless {
        let (uid, gid) = (nix::unistd::geteuid().as_raw(), nix::unistd::getegid().as_raw());
        spec = rootless_spec(&spec, uid, gid);
    }
    save_spec(&spec, &path)?;
    Ok(path)
}

fn save_spec(spec: &Spec, path: &Path) -> Result<()> {
    let text = serde_json::to_vec_pretty(spec).expect("spec serializes");
    crate::state::write_atomic(path, &text)
}

/// Creates a bundle at `dir`: `rootfs/` from the host's static busybox and
/// a Docker-like `config.json` running `sh`. `dir` must not exist or be
/// empty; on failure, what was created is removed.
pub fn create_bundle(dir: &Path) -> Result<()> {
    if fs::read_dir(dir).is_ok_and(|mut entries| entries.next().is_some()) {
        return Err(Error::invalid("bundle", format!("{} is not empty", dir.display())));
    }
    let existed = dir.exists();
    let result = populate(dir);
    if result.is_err() {
        let rootfs = dir.join("rootfs");
        let _ = fs::remove_dir_all(&rootfs);
        let _ = fs::remove_file(dir.join("config.json"));
        if !existed {
            let _ = fs::remove_dir(dir);
        }
    }
    result
}

fn populate(dir: &Path) -> Result<()> {
    let rootfs = dir.join("rootfs");
    for sub in ["bin", "sbin", "usr/bin", "usr/sbin", "etc", "proc", "sys", "dev", "tmp", "root"] {
        let path = rootfs.join(sub);
        fs::create_dir_all(&path).context(|| format!("creating {}", path.display()))?;
    }
    fs::set_permissions(rootfs.join("tmp"), fs::Permissions::from_mode(0o1777))
        .context(|| "chmod rootfs/tmp".to_owned())?;
    let busybox = rootfs.join("bin/busybox");
    fs::copy(HOST_BUSYBOX, &busybox)
        .context(|| format!("copying {HOST_BUSYBOX} (install busybox-static)"))?;
    for applet in applets()? {
        let link = rootfs.join(applet.trim_start_matches('/'));
        if link == busybox || link.exists() {
            continue;
        }
        if let Some(parent) = link.parent() {
            fs::create_dir_all(parent).context(|| format!("creating {}", parent.display()))?;
        }
        symlink("/bin/busybox", &link).context(|| format!("linking {}", link.display()))?;
    }
    let files = [
        (
            "etc/passwd",
            "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n",
        ),
        ("etc/group", "root:x:0:\ntty:x:5:\nnogroup:x:65534:\n"),
        ("etc/hostname", "cradle\n"),
    ];
    for (path, contents) in files {
        fs::write(rootfs.join(path), contents).context(|| format!("writing rootfs/{path}"))?;
    }
    save_spec(&default_spec(false, &["sh"]), &dir.join("config.json"))
}

/// The applets as install paths (`bin/sh`, `usr/bin/env`), from
/// `busybox --list-full`; plain `--list` names go to `bin/`.
fn applets() -> Result<Vec<String>> {
    let full = Command::new(HOST_BUSYBOX).arg("--list-full").output();
    if let Ok(output) = &full
        && output.status.success()
    {
        return Ok(String::from_utf8_lossy(&output.stdout).lines().map(str::to_owned).collect());
    }
    let output = Command::new(HOST_BUSYBOX)
        .arg("--list")
        .output()
        .context(|| format!("running {HOST_BUSYBOX} --list"))?;
    Ok(String::from_utf8_lossy(&output.stdout).lines().map(|name| format!("bin/{name}")).collect())
}
