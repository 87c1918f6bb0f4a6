//! The container's cgroup: created before the init exists, limits from
//! `linux.resources` written, the init moved in (before it runs anything
//! of the user's), and removed on delete.
//!
//! On a cgroup v1 or hybrid host (v1 controllers, see PLATFORM.md) the
//! container gets a directory in every v1 hierarchy, and in the hybrid
//! `unified` tree, as runc does; limits go to the controller that owns
//! them ([`v1`]). On a pure v2 host it gets one directory, with the
//! controllers enabled down the path ([`v2`]), and its device rules as
//! an eBPF program attached to it ([`devices`]).
//!
//! `cgroupsPath` absolute: from each hierarchy's root. Relative, or the
//! default `cradle/ID`: under the runtime's own cgroup in each v1
//! hierarchy (so that the container stays inside whatever limits the
//! runtime is under), from the root on v2 (whose no-internal-processes
//! rule forbids controllers below a cgroup that holds the runtime).

mod bpf_syscall;
pub mod devices;
mod ebpf;
pub mod resources;
mod v1;
mod v2;

use std::{
    io::ErrorKind,
    os::fd::OwnedFd,
    path::{Component, Path, PathBuf},
    time::Duration,
};

use nix::{
    fcntl::{OFlag, open},
    sys::{signal::Signal, stat::Mode},
    unistd::Pid,
};
use serde::{Deserialize, Serialize};

pub use self::resources::Resources;
use crate::{
    error::{Context, Error, Result},
    rootfs::cgroup::host_hierarchies,
};

const CGROUP_ROOT: &str = "/sys/fs/cgroup";

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CgroupConfig {
    /// `linux.cgroupsPath`; `None` for the default `cradle/ID`.
    pub path: Option<PathBuf>,
    pub resources: Resources,
}

impl CgroupConfig {
    pub fn from_spec(
        path: Option<&Path>,
        resources: Option<&oci_spec::runtime::LinuxResources>,
    ) -> Result<Self> {
        let path = match path.filter(|path| !path.as_os_str().is_empty()) {
            None => None,
            Some(path) if path.to_string_lossy().contains(':') => {
                return Err(Error::unsupported(
                    "linux.cgroupsPath",
                    format!("{path:?} is a systemd slice path; cradle manages cgroupfs directly"),
                ));
            }
            Some(path) => {
                let path = path.to_path_buf();
                if path.components().any(|c| matches!(c, Component::ParentDir)) {
                    return Err(Error::invalid(
                        "linux.cgroupsPath",
                        format!("{} leaves the hierarchy with ..", path.display()),
                    ));
                }
                Some(path)
            }
        };
        let resources = match resources {
            Some(spec) => Resources::from_spec(spec)?,
            None => Resources::default(),
        };
        Ok(CgroupConfig { path, resources })
    }
}

/// One directory of the container's cgroup.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CgroupDir {
    pub path: PathBuf,
    /// Controllers of its hierarchy (`cpu`, `memory`, ...; empty for a
    /// named or controller-less one); `None` on a pure v2 host.
    pub controllers: Option<Vec<String>>,
}

/// The container's cgroup directories; removed on drop unless kept.
pub struct Cgroup {
    dirs: Vec<CgroupDir>,
    /// The index in `dirs` of the cgroup v2 one (pure v2, or the hybrid
    /// layout's unified tree), which a process can be cloned straight into.
    v2: Option<usize>,
    keep: bool,
}

/// Where a hierarchy is mounted and what the runtime's own cgroup in it is.
struct Hierarchy {
    mount: PathBuf,
    controllers: Option<Vec<String>>,
    own: PathBuf,
    /// A cgroup2 mount.
    v2: bool,
}

impl Cgroup {
    /// No cgroup of its own: a rootless container that asks for no limit
    /// stays in its runtime's cgroup, which it may not write to.
    pub fn none() -> Self {
        Cgroup { dirs: Vec::new(), v2: None, keep: false }
    }

    /// Creates the directories and writes the limits.
    pub fn create(config: &CgroupConfig, id: &str) -> Result<Self> {
        let relative = config.path.clone().unwrap_or_else(|| Path::new("cradle").join(id));
        let mut cgroup = Cgroup { dirs: Vec::new(), v2: None, keep: false };
        let hierarchies = hierarchies()?;
        for hierarchy in &hierarchies {
            let base = if relative.is_absolute() || hierarchy.controllers.is_none() {
                hierarchy.mount.clone()
            } else {
                hierarchy.mount.join(hierarchy.own.strip_prefix("/").unwrap_or(&hierarchy.own))
            };
            let path = base.join(relative.strip_prefix("/").unwrap_or(&relative));
            create_dirs(&hierarchy.mount, &path, hierarchy.controllers.as_deref())?;
            if hierarchy.v2 {
                cgroup.v2 = Some(cgroup.dirs.len());
            }
            cgroup.dirs.push(CgroupDir { path, controllers: hierarchy.controllers.clone() });
        }
        for dir in &cgroup.dirs {
            match &dir.controllers {
                Some(controllers) => v1::apply(&dir.path, controllers, &config.resources)?,
                None => v2::apply(&dir.path, &config.resources)?,
            }
        }
        Ok(cgroup)
    }

    pub fn dirs(&self) -> &[CgroupDir] {
        &self.dirs
    }

    /// The cgroup v2 directory, opened for clone3's CLONE_INTO_CGROUP.
    pub fn open_v2(&self) -> Result<Option<OwnedFd>> {
        let Some(dir) = self.v2.map(|index| &self.dirs[index]) else { return Ok(None) };
        open(&dir.path, OFlag::O_DIRECTORY | OFlag::O_CLOEXEC, Mode::empty())
            .map(Some)
            .context(|| format!("opening {}", dir.path.display()))
    }

    /// Moves `pid` into every directory (but the v2 one when it was born
    /// there).
    pub fn attach(&self, pid: Pid, born_in_v2: bool) -> Result<()> {
        let dirs = self.dirs.iter().enumerate();
        let to_join = dirs.filter(|(index, _)| !(born_in_v2 && self.v2 == Some(*index)));
        attach(to_join.map(|(_, dir)| dir), pid.as_raw())
    }

    pub fn keep(mut self) {
        self.keep = true;
    }
}

impl Drop for Cgroup {
    fn drop(&mut self) {
        if !self.keep
            && let Err(err) = remove(&self.dirs)
        {
            tracing::warn!("removing the cgroup: {err}");
        }
    }
}

/// Writes `pid` (0: the caller) to each directory's `cgroup.procs`.
pub fn attach<'a>(dirs: impl IntoIterator<Item = &'a CgroupDir>, pid: i32) -> Result<()> {
    for dir in dirs {
        let procs = dir.path.join("cgroup.procs");
        std::fs::write(&procs, pid.to_string())
            .context(|| format!("moving {pid} into {}", procs.display()))?;
    }
    Ok(())
}

/// Kills what is left inside, then removes the directories. The kernel
/// may take a moment to release a process that has just died.
pub fn remove(dirs: &[CgroupDir]) -> Result<()> {
    for dir in dirs {
        for attempt in 0.. {
            match std::fs::remove_dir(&dir.path) {
                Ok(()) => break,
                Err(err) if err.kind() == ErrorKind::NotFound => break,
                Err(err) if err.raw_os_error() == Some(libc::EBUSY) && attempt < 200 => {
                    kill_all(&dir.path);
                    std::thread::sleep(Duration::from_millis(5));
                }
                Err(err) => {
                    return Err(err).context(|| format!("removing {}", dir.path.display()));
                }
            }
        }
    }
    Ok(())
}

fn kill_all(dir: &Path) {
    let procs = std::fs::read_to_string(dir.join("cgroup.procs")).unwrap_or_default();
    for pid in procs.lines().filter_map(|line| line.trim().parse::<i32>().ok()) {
        let _ = nix::sys::signal::kill(Pid::from_raw(pid), Signal::SIGKILL);
    }
}

/// Creates `path` and the missing directories above it, below `mount`.
/// cpuset directories start with no CPUs: each gets its parent's.
fn create_dirs(mount: &Path, path: &Path, controllers: Option<&[String]>) -> Result<()> {
    let relative = path.strip_prefix(mount).unwrap_or(path);
    let mut current = mount.to_path_buf();
    let cpuset = controllers.is_some_and(|c| c.iter().any(|name| name == "cpuset"));
    for component in relative.components() {
        let parent = current.clone();
        current.push(component);
        match std::fs::create_dir(&current) {
            Ok(()) => {}
            Err(err) if err.kind() == ErrorKind::AlreadyExists => {}
            Err(err) => {
                return Err(Error::Io {
                    context: format!("creating cgroup {}", current.display()),
                    cause: err,
                });
            }
        }
        if cpuset {
            v1::inherit_cpuset(&parent, &current)?;
        }
        if controllers.is_none() && current != *path {
            v2::enable_controllers(&current)?;
        }
    }
    if controllers.is_none() {
        v2::enable_controllers(mount)?;
    }
    Ok(())
}

fn hierarchies() -> Result<Vec<Hierarchy>> {
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo")
        .context(|| "reading /proc/self/mountinfo".to_owned())?;
    let own = std::fs::read_to_string("/proc/self/cgroup")
        .context(|| "reading /proc/self/cgroup".to_owned())?;
    let own_path = |wanted: &str| -> PathBuf {
        own.lines()
            .find_map(|line| {
                let mut fields = line.splitn(3, ':');
                let (_, names, path) = (fields.next()?, fields.next()?, fields.next()?);
                (names == wanted).then(|| PathBuf::from(path))
            })
            .unwrap_or_else(|| PathBuf::from("/"))
    };
    let (unified, v1) = host_hierarchies(&mountinfo);
    if unified {
        return Ok(vec![Hierarchy {
            mount: PathBuf::from(CGROUP_ROOT),
            controllers: None,
            own: own_path(""),
            v2: true,
        }]);
    }
    let mut out: Vec<Hierarchy> = v1
        .iter()
        .map(|hierarchy| Hierarchy {
            mount: Path::new(CGROUP_ROOT).join(&hierarchy.name),
            controllers: Some(
                hierarchy
                    .options
                    .split(',')
                    .filter(|option| !option.starts_with("name="))
                    .map(str::to_owned)
                    .collect(),
            ),
            own: own_path(&hierarchy.options),
            v2: false,
        })
        .collect();
    // The hybrid layout's controller-less v2 tree: joined too, as runc does.
    let unified = Path::new(CGROUP_ROOT).join("unified");
    if unified.join("cgroup.procs").exists() {
        out.push(Hierarchy {
            mount: unified,
            controllers: Some(Vec::new()),
            own: own_path(""),
            v2: true,
        });
    }
    if out.is_empty() {
        return Err(Error::Init(format!("no cgroup hierarchy is mounted under {CGROUP_ROOT}")));
    }
    Ok(out)
}
