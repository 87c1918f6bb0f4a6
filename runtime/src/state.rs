//! Per-container state under the runtime root: `ROOT/ID/state.json`
//! (written atomically: temp file, then rename) and `ROOT/ID/exec.fifo`,
//! which exists from `create` until `start`.
//!
//! Not oci-spec's `State`: the state runc prints (and containerd's go-runc
//! reads back) has `rootfs`, `created` and a `paused` status that the
//! spec's state and oci-spec's `ContainerState` lack, and the stored state
//! keeps what only cradle needs (the pid's start time, cgroups, network,
//! hooks, host mounts). Where exactly the spec's state is sent, to a
//! seccomp agent, oci-spec's types are used (`security::seccomp::listener`).

use std::{
    collections::BTreeMap,
    fmt, fs,
    io::{ErrorKind, Write},
    os::unix::fs::{DirBuilderExt, OpenOptionsExt},
    path::{Path, PathBuf},
};

use serde::{Deserialize, Serialize};

use crate::{
    cgroups::CgroupDir,
    config::{NamespaceConfig, NamespaceKind, ProcessConfig},
    error::{Context, Error, Result},
    hooks::Hooks,
    id,
    network::Attachment,
    rootfs::shared::HostMounts,
};

pub const STATE_FILE: &str = "state.json";
pub const EXEC_FIFO: &str = "exec.fifo";

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Only in the state given to hooks while `create` runs.
    Creating,
    Created,
    Running,
    /// Running, with its cgroup frozen (`pause`).
    Paused,
    Stopped,
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Status::Creating => "creating",
            Status::Created => "created",
            Status::Running => "running",
            Status::Paused => "paused",
            Status::Stopped => "stopped",
        })
    }
}

/// What cradle remembers about a container.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct StoredState {
    pub oci_version: String,
    pub id: String,
    /// The init's pid, as seen from the runtime's pid namespace.
    pub pid: i32,
    /// The init's start time (`/proc/PID/stat` field 22), so a recycled pid
    /// is not taken for the container.
    pub pid_start_time: u64,
    pub bundle: PathBuf,
    pub rootfs: PathBuf,
    pub created: String,
    pub annotations: BTreeMap<String, String>,
    /// Namespaces the container lives in, so `exec` can join them.
    pub namespaces: Vec<NamespaceKind>,
    /// The container's process, the defaults for `exec`.
    pub process: ProcessConfig,
    /// The container's cgroup directories, which `exec` joins and
    /// `delete` removes.
    #[serde(default)]
    pub cgroup: Vec<CgroupDir>,
    /// The bridge attachment `delete` undoes.
    #[serde(default)]
    pub network: Option<Attachment>,
    /// For `start` (poststart) and `delete` (poststop).
    #[serde(default)]
    pub hooks: Hooks,
    /// A container in the host's mount namespace: the mounts `delete`
    /// removes from the host's table.
    #[serde(default)]
    pub host_mounts: Option<HostMounts>,
}

/// The OCI state, as `state` prints it.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ContainerState {
    pub oci_version: String,
    pub id: String,
    pub status: Status,
    pub pid: i32,
    pub bundle: PathBuf,
    pub rootfs: PathBuf,
    pub created: String,
    pub annotations: BTreeMap<String, String>,
}

/// The directory of every container.
#[derive(Clone, Debug)]
pub struct StateRoot {
    root: PathBuf,
}

impl StateRoot {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        StateRoot { root: root.into() }
    }

    pub fn path(&self) -> &Path {
        &self.root
    }

    pub fn container_dir(&self, id: &str) -> Result<PathBuf> {
        id::validate(id)?;
        Ok(self.root.join(id))
    }

    /// Creates `ROOT/ID`; fails with runc's error if the id is taken. The
    /// returned guard removes the directory unless it is kept.
    pub fn reserve(&self, id: &str) -> Result<ReservedDir> {
        let dir = self.container_dir(id)?;
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o711)
            .create(&self.root)
            .context(|| format!("creating state root {}", self.root.display()))?;
        match fs::DirBuilder::new().mode(0o711).create(&dir) {
            Ok(()) => Ok(ReservedDir { dir: Some(dir) }),
            Err(err) if err.kind() == ErrorKind::AlreadyExists => {
                Err(Error::AlreadyExists(id.to_owned()))
            }
            Err(err) => Err(err).context(|| format!("creating {}", dir.display())),
        }
    }

    pub fn load(&self, id: &str) -> Result<StoredState> {
        let path = self.container_dir(id)?.join(STATE_FILE);
        let text = match fs::read_to_string(&path) {
            Ok(text) => text,
            Err(err) if err.kind() == ErrorKind::NotFound => {
                return Err(Error::NotFound(id.to_owned()));
            }
            Err(err) => return Err(err).context(|| format!("reading {}", path.display())),
        };
        serde_json::from_str(&text).map_err(|err| Error::Io {
            context: format!("parsing {}", path.display()),
            cause: err.into(),
        })
    }

    pub fn save(&self, state: &StoredState) -> Result<()> {
        let dir = self.container_dir(&state.id)?;
        let text = serde_json::to_vec(state).expect("state serializes");
        write_atomic(&dir.join(STATE_FILE), &text)
    }

    pub fn remove(&self, id: &str) -> Result<()> {
        let dir = self.container_dir(id)?;
        match fs::remove_dir_all(&dir) {
            Err(err) if err.kind() != ErrorKind::NotFound => {
                Err(err).context(|| format!("removing {}", dir.display()))
            }
            _ => Ok(()),
        }
    }

    /// Ids of every container with a state file, sorted.
    pub fn ids(&self) -> Result<Vec<String>> {
        let entries = match fs::read_dir(&self.root) {
            Ok(entries) => entries,
            Err(err) if err.kind() == ErrorKind::NotFound => return Ok(Vec::new()),
            Err(err) => return Err(err).context(|| format!("listing {}", self.root.display())),
        };
        let mut ids: Vec<String> = entries
            .filter_map(|entry| entry.ok())
            .filter(|entry| entry.path().join(STATE_FILE).exists())
            .filter_map(|entry| entry.file_name().into_string().ok())
            .filter(|id| id::validate(id).is_ok())
            .collect();
        ids.sort();
        Ok(ids)
    }

    pub fn status(&self, state: &StoredState) -> Status {
        if !process_is_alive(state.pid, state.pid_start_time) {
            Status::Stopped
        } else if self.root.join(&state.id).join(EXEC_FIFO).exists() {
            Status::Created
        } else if crate::cgroups::control::is_paused(&state.cgroup) {
            Status::Paused
        } else {
            Status::Running
        }
    }

    pub fn oci_state(&self, state: &StoredState) -> ContainerState {
        oci_state_as(state, self.status(state))
    }
}

/// The OCI state with a given status, as `state` prints it and hooks get it.
pub fn oci_state_as(state: &StoredState, status: Status) -> ContainerState {
    {
        ContainerState {
            oci_version: state.oci_version.clone(),
            id: state.id.clone(),
            status,
            // runc reports no pid once the process is gone.
            pid: if status == Status::Stopped { 0 } else { state.pid },
            bundle: state.bundle.clone(),
            rootfs: state.rootfs.clone(),
            created: state.created.clone(),
            annotations: state.annotations.clone(),
        }
    }
}

/// A freshly created container directory, removed on drop unless kept.
pub struct ReservedDir {
    dir: Option<PathBuf>,
}

impl ReservedDir {
    pub fn path(&self) -> &Path {
        self.dir.as_deref().expect("reserved directory present until kept")
    }

    pub fn keep(mut self) {
        self.dir = None;
    }
}

impl Drop for ReservedDir {
    fn drop(&mut self) {
        if let Some(dir) = self.dir.take()
            && let Err(err) = fs::remove_dir_all(&dir)
        {
            tracing::warn!("removing {}: {err}", dir.display());
        }
    }
}

/// Writes through a temporary file and a rename, so that a reader sees the
/// old file or the new one, never a part. No fsync: container state lives
/// and dies with the running system (under /run), as runc's and crun's
/// do, and an fsync per write cost a quarter of a container's
/// create-to-delete time on a busy disk (BENCHMARKS.md).
pub fn write_atomic(path: &Path, contents: &[u8]) -> Result<()> {
    let temp = path.with_extension(format!("tmp-{}", std::process::id()));
    let write = || -> std::io::Result<()> {
        let mut file =
            fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(&temp)?;
        file.write_all(contents)?;
        fs::rename(&temp, path)
    };
    write().map_err(|err| {
        let _ = fs::remove_file(&temp);
        Error::Io { context: format!("writing {}", path.display()), cause: err }
    })
}

/// The start time of a live (not zombie) process, from `/proc/PID/stat`.
pub fn process_start_time(pid: i32) -> Option<u64> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may hold spaces and parentheses: parse after the last ')'.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    // fields[0] is field 3 (state); start time is field 22.
    if matches!(fields.first(), Some(&"Z") | Some(&"X")) {
        return None;
    }
    fields.get(19)?.parse().ok()
}

pub fn process_is_alive(pid: i32, start_time: u64) -> bool {
    pid > 0 && process_start_time(pid) == Some(start_time)
}

impl StoredState {
    pub fn joined_namespaces(namespaces: &[NamespaceConfig]) -> Vec<NamespaceKind> {
        namespaces.iter().map(|ns| ns.kind).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reserve_refuses_duplicates_and_cleans_up_on_drop() {
        let root = tempfile::tempdir().unwrap();
        let states = StateRoot::new(root.path().join("run"));
        let reserved = states.reserve("one").unwrap();
        assert!(matches!(states.reserve("one"), Err(Error::AlreadyExists(_))));
        drop(reserved);
        assert!(!root.path().join("run/one").exists());
        assert!(matches!(states.reserve("../x"), Err(Error::InvalidId { .. })));
    }

    #[test]
    fn own_process_is_alive_and_unknown_start_time_is_not() {
        let pid = i32::try_from(std::process::id()).unwrap();
        let start = process_start_time(pid).unwrap();
        assert!(process_is_alive(pid, start));
        assert!(!process_is_alive(pid, start + 1));
    }

    #[test]
    fn atomic_write_leaves_no_temp_file() {
        let dir = tempfile::tempdir().unwrap();
        write_atomic(&dir.path().join("state.json"), b"{}").unwrap();
        let names: Vec<_> =
            fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(names, vec!["state.json"]);
    }
}
