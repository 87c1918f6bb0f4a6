//! The container's cgroup: created before the init exists, limits from
//! `linux.resources` written, the init moved in (before it runs anything
//! of the user's), and removed on delete.
//!
//! On a cgroup v1 or hybrid host (v1 controllers, see PLATFORM.md) the
//! container gets a directory in every v1 hierarchy, and in the hybrid
//! `unified` tree, as runc does; limits go to the controller that owns
//! them ([`v1`]). On a pure v2 host it gets one directory, with the
//! controllers enabled down the path ([`v2`]), and its device rules as
//! an eBPF program attached to it ([`devices`]). Which of the two a host
//! is, and its v1 hierarchies, is read from the mount table ([`host`]).
//!
//! `cgroupsPath` absolute: from each hierarchy's root. Relative, or the
//! default `cradle/ID`: under the runtime's own cgroup in each v1
//! hierarchy (so that the container stays inside whatever limits the
//! runtime is under), from the root on v2 (whose no-internal-processes
//! rule forbids controllers below a cgroup that holds the runtime).

mod bpf_syscall;
pub mod control;
pub mod devices;
mod ebpf;
pub mod host;
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

use self::host::host_hierarchies;
pub use self::resources::Resources;
use crate::error::{Context, Error, Result};

/// Where the host mounts its cgroup hierarchies.
pub const CGROUP_ROOT: &str = "/sys/fs/cgroup";

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
                if path.components().any(|c| matches!(c, Component::ParentDir)) {
                    return Err(Error::invalid(
                        "linux.cgroupsPath",
                        format!("{} leaves the hierarchy with ..", path.display()),
                    ));
                }
                // A path naming no cgroup below its base ("/", "//", ".")
                // would put the container in a hierarchy's root (or the
                // runtime's own cgroup), shared with the host's processes.
                let named: PathBuf =
                    path.components().filter(|c| matches!(c, Component::Normal(_))).collect();
                if named.as_os_str().is_empty() {
                    return Err(Error::invalid(
                        "linux.cgroupsPath",
                        format!(
                            "{path:?} resolves to the root of the cgroup hierarchy (or the \
                             runtime's own cgroup); a container needs a cgroup of its own"
                        ),
                    ));
                }
                Some(if path.is_absolute() { Path::new("/").join(named) } else { named })
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
    /// Made by cradle for this container. Only such a directory is
    /// emptied (its processes killed) and removed: a cgroupsPath naming
    /// an existing cgroup must not let a config kill what is not its own.
    #[serde(default)]
    pub created: bool,
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
            let created = create_dirs(&hierarchy.mount, &path, hierarchy.controllers.as_deref())?;
            if hierarchy.v2 {
                cgroup.v2 = Some(cgroup.dirs.len());
            }
            let controllers = hierarchy.controllers.clone();
            cgroup.dirs.push(CgroupDir { path, controllers, created });
        }
        for dir in &cgroup.dirs {
            check_joinable(dir)?;
        }
        check_hierarchies(&cgroup.dirs, &config.resources)?;
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
        write_procs(&dir.path, pid)?;
    }
    Ok(())
}

fn write_procs(dir: &Path, pid: i32) -> Result<()> {
    let procs = dir.join("cgroup.procs");
    std::fs::write(&procs, pid.to_string())
        .context(|| format!("moving {pid} into {}", procs.display()))
}

/// Moves the calling process (an `exec`'d one, before it runs anything of
/// the user's) into every directory of the container's cgroup. On a pure
/// v2 host a container that made sub-cgroups with controllers of its own
/// has no room for processes at its top (the no-internal-processes rule:
/// EBUSY); then, as runc does, it joins the init's current cgroup instead,
/// unless the caller chose a sub-cgroup (`exec --cgroup`).
pub fn join_for_exec(dirs: &[CgroupDir], init_pid: i32, chosen_sub_cgroup: bool) -> Result<()> {
    for dir in dirs {
        let Err(err) = write_procs(&dir.path, 0) else { continue };
        let busy =
            matches!(&err, Error::Io { cause, .. } if cause.raw_os_error() == Some(libc::EBUSY));
        if !(busy && dir.controllers.is_none() && !chosen_sub_cgroup) {
            return Err(err);
        }
        let Some(init_dir) = v2_cgroup_of(init_pid) else { return Err(err) };
        tracing::debug!("{err}; joining the init's cgroup {} instead", init_dir.display());
        write_procs(&init_dir, 0)?;
    }
    Ok(())
}

/// The cgroup v2 directory `pid` is in, from `/proc/PID/cgroup`'s `0::` line.
fn v2_cgroup_of(pid: i32) -> Option<PathBuf> {
    let own = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).ok()?;
    let path = own.lines().find_map(|line| line.strip_prefix("0::"))?;
    Some(Path::new(CGROUP_ROOT).join(path.trim_start_matches('/')))
}

/// The directories an `exec --cgroup` process joins: each of `dirs`, or a
/// sub-cgroup of it. Each argument is runc's `[CONTROLLER[,CONTROLLER]:]PATH`;
/// one without a controller applies to every hierarchy and must be the
/// only one. A path may not leave the container's cgroup.
pub fn sub_cgroups(dirs: &[CgroupDir], args: &[String]) -> Result<Vec<CgroupDir>> {
    const FLAG: &str = "--cgroup";
    let invalid = |arg: &str, why: &str| Error::InvalidArgument {
        flag: FLAG.to_owned(),
        reason: format!("{arg:?}: {why}"),
    };
    let mut out = dirs.to_vec();
    for arg in args {
        let (controllers, sub) = match arg.split_once(':') {
            Some((_, rest)) if rest.contains(':') => {
                return Err(invalid(arg, "expected [CONTROLLER:]PATH"));
            }
            Some((controllers, sub)) => (Some(controllers), sub),
            None if args.len() > 1 => {
                return Err(invalid(
                    arg,
                    "missing the CONTROLLER: prefix (several --cgroup given)",
                ));
            }
            None => (None, arg.as_str()),
        };
        let sub = Path::new(sub);
        if sub.components().any(|c| matches!(c, Component::ParentDir)) {
            return Err(invalid(arg, "is not a sub-cgroup path (it uses ..)"));
        }
        let sub = sub.strip_prefix("/").unwrap_or(sub);
        let Some(controllers) = controllers else {
            for (dir, base) in out.iter_mut().zip(dirs) {
                dir.path = base.path.join(sub);
            }
            continue;
        };
        for controller in controllers.split(',') {
            let mut matched = false;
            for (dir, base) in out.iter_mut().zip(dirs) {
                if dir.controllers.iter().flatten().any(|name| name == controller) {
                    dir.path = base.path.join(sub);
                    matched = true;
                }
            }
            if !matched {
                return Err(invalid(arg, &format!("the container has no {controller} cgroup")));
            }
        }
    }
    Ok(out)
}

/// Kills what is left inside the directories cradle made (and in the
/// sub-cgroups the container made below them), then removes them, deepest
/// first. A directory cradle did not make is left as it is, processes and
/// all. The kernel may take a moment to release a process that has just
/// died.
pub fn remove(dirs: &[CgroupDir]) -> Result<()> {
    for dir in dirs.iter().filter(|dir| dir.created) {
        remove_tree(&dir.path)?;
    }
    Ok(())
}

fn remove_tree(dir: &Path) -> Result<()> {
    for attempt in 0.. {
        let children = match std::fs::read_dir(dir) {
            Ok(entries) => entries.flatten().filter(|e| e.file_type().is_ok_and(|t| t.is_dir())),
            Err(err) if err.kind() == ErrorKind::NotFound => return Ok(()),
            Err(err) => return Err(err).context(|| format!("reading {}", dir.display())),
        };
        for child in children.collect::<Vec<_>>() {
            remove_tree(&child.path())?;
        }
        match std::fs::remove_dir(dir) {
            Ok(()) => return Ok(()),
            Err(err) if err.kind() == ErrorKind::NotFound => return Ok(()),
            Err(err) if err.raw_os_error() == Some(libc::EBUSY) && attempt < 200 => {
                kill_all(dir);
                std::thread::sleep(Duration::from_millis(5));
            }
            Err(err) => return Err(err).context(|| format!("removing {}", dir.display())),
        }
    }
    unreachable!("the loop returns")
}

/// SIGKILLs the processes of `dir`, and lets them die if it is frozen.
fn kill_all(dir: &Path) {
    for pid in procs(dir) {
        let _ = nix::sys::signal::kill(Pid::from_raw(pid), Signal::SIGKILL);
    }
    if frozen(dir) {
        let _ = std::fs::write(dir.join("freezer.state"), "THAWED");
        let _ = std::fs::write(dir.join("cgroup.freeze"), "0");
    }
}

fn procs(dir: &Path) -> Vec<i32> {
    let procs = std::fs::read_to_string(dir.join("cgroup.procs")).unwrap_or_default();
    procs.lines().filter_map(|line| line.trim().parse().ok()).collect()
}

/// Processes in `dir` and every cgroup below it.
fn procs_below(dir: &Path) -> usize {
    let children = std::fs::read_dir(dir).into_iter().flatten().flatten();
    let below: usize = children
        .filter(|entry| entry.file_type().is_ok_and(|t| t.is_dir()))
        .map(|entry| procs_below(&entry.path()))
        .sum();
    procs(dir).len() + below
}

/// Frozen, or freezing, by itself or through a frozen ancestor: v1's
/// `freezer.state`, v2's `cgroup.events`.
fn frozen(dir: &Path) -> bool {
    if let Ok(state) = std::fs::read_to_string(dir.join("freezer.state")) {
        return state.trim() != "THAWED";
    }
    let events = std::fs::read_to_string(dir.join("cgroup.events")).unwrap_or_default();
    events.lines().any(|line| line.trim() == "frozen 1")
        || std::fs::read_to_string(dir.join("cgroup.freeze")).is_ok_and(|f| f.trim() == "1")
}

/// Refuses what no hierarchy of this host can apply, where runc refuses
/// it too (unified on cgroup v1); warns for a v1 controller that is not
/// mounted, which runc skips.
fn check_hierarchies(dirs: &[CgroupDir], resources: &Resources) -> Result<()> {
    let v1: Vec<&String> =
        dirs.iter().filter_map(|dir| dir.controllers.as_ref()).flatten().collect();
    let pure_v2 = dirs.iter().any(|dir| dir.controllers.is_none());
    if pure_v2 {
        return Ok(());
    }
    if !resources.unified.is_empty() {
        return Err(Error::invalid(
            "linux.resources.unified",
            "cannot be applied on cgroup v1 (this host's controllers are v1), as runc refuses",
        ));
    }
    let asked = [
        ("hugetlb", "linux.resources.hugepageLimits", !resources.hugepage_limits.is_empty()),
        ("net_cls", "linux.resources.network.classID", resources.net_class_id.is_some()),
        ("net_prio", "linux.resources.network.priorities", !resources.net_priorities.is_empty()),
        ("rdma", "linux.resources.rdma", !resources.rdma.is_empty()),
    ];
    for (controller, field, _) in asked.iter().filter(|(_, _, asked)| *asked) {
        if !v1.iter().any(|name| name.as_str() == *controller) {
            tracing::warn!("{field}: no {controller} cgroup hierarchy is mounted; skipped");
        }
    }
    Ok(())
}

/// Refuses a cgroup the container must not be put in: one that already
/// holds processes (a cgroupsPath naming someone else's cgroup would put
/// the container's limits on them; runc 1.1 warns and 1.2 refuses, with
/// this message), or a frozen one (the init would hang in it for good;
/// runc refuses too).
fn check_joinable(dir: &CgroupDir) -> Result<()> {
    if !dir.created {
        let found = procs_below(&dir.path);
        if found > 0 {
            return Err(Error::invalid(
                "linux.cgroupsPath",
                format!(
                    "container's cgroup is not empty: {found} process(es) found in {}",
                    dir.path.display()
                ),
            ));
        }
    }
    if frozen(&dir.path) {
        return Err(Error::invalid(
            "linux.cgroupsPath",
            format!("container's cgroup unexpectedly frozen: {}", dir.path.display()),
        ));
    }
    Ok(())
}

/// Creates `path` and the missing directories above it, below `mount`;
/// returns whether `path` itself was made here (rather than found).
/// cpuset directories start with no CPUs: each gets its parent's.
fn create_dirs(mount: &Path, path: &Path, controllers: Option<&[String]>) -> Result<bool> {
    let relative = path.strip_prefix(mount).unwrap_or(path);
    let mut current = mount.to_path_buf();
    let cpuset = controllers.is_some_and(|c| c.iter().any(|name| name == "cpuset"));
    let mut created = false;
    for component in relative.components() {
        let parent = current.clone();
        if controllers.is_none() {
            // Before the child exists, so that it is born with them.
            v2::enable_controllers(&parent);
        }
        current.push(component);
        match std::fs::create_dir(&current) {
            Ok(()) => created = true,
            Err(err) if err.kind() == ErrorKind::AlreadyExists => created = false,
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
    }
    if controllers.is_none() {
        v2::check_type(path)?;
    }
    Ok(created)
}

fn hierarchies() -> Result<Vec<Hierarchy>> {
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
    let (unified, v1) = host_hierarchies(&crate::mountinfo::own()?);
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

/// Writes `value` to `file` for config field `field` (v1 or v2); a write
/// the kernel refuses is reported with the field and the value.
fn write_field(dir: &Path, field: &str, file: &str, value: impl ToString) -> Result<()> {
    let path = dir.join(file);
    let value = value.to_string();
    std::fs::write(&path, &value)
        .context(|| format!("config.json: {field}: writing {value:?} to {}", path.display()))
}

/// The field of one rdma device's limits: `linux.resources.rdma.mlx5_0`.
fn rdma_field(device: &str) -> String {
    format!("linux.resources.rdma.{device}")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A write the kernel refuses names the config field and the value
    /// (here: a file that cannot be written, as a refused rdma device).
    #[test]
    fn a_refused_write_names_the_field_and_the_value() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("rdma.max")).unwrap();
        let line = resources::rdma_line("mlx5_9", Some(2), None);
        let err = write_field(dir.path(), &rdma_field("mlx5_9"), "rdma.max", line).unwrap_err();
        let text = err.to_string();
        assert!(
            text.starts_with(
                "config.json: linux.resources.rdma.mlx5_9: writing \"mlx5_9 hca_handle=2\" to "
            ),
            "{text}"
        );
        assert!(text.contains("rdma.max: "), "{text}");
    }

    fn dir(path: &str, controllers: Option<&[&str]>) -> CgroupDir {
        CgroupDir {
            path: PathBuf::from(path),
            controllers: controllers.map(|c| c.iter().map(|s| (*s).to_owned()).collect()),
            created: true,
        }
    }

    #[test]
    fn exec_sub_cgroups_as_runc_reads_them() {
        let dirs =
            [dir("/cg/memory/c", Some(&["memory"])), dir("/cg/cpu/c", Some(&["cpu", "cpuacct"]))];
        let paths = |args: &[&str]| {
            let args: Vec<String> = args.iter().map(|s| (*s).to_owned()).collect();
            sub_cgroups(&dirs, &args)
                .map(|dirs| dirs.into_iter().map(|d| d.path).collect::<Vec<_>>())
        };
        assert_eq!(paths(&[]).unwrap(), [Path::new("/cg/memory/c"), Path::new("/cg/cpu/c")]);
        assert_eq!(
            paths(&["s/t"]).unwrap(),
            [Path::new("/cg/memory/c/s/t"), Path::new("/cg/cpu/c/s/t")]
        );
        assert_eq!(
            paths(&["/s"]).unwrap(),
            [Path::new("/cg/memory/c/s"), Path::new("/cg/cpu/c/s")]
        );
        assert_eq!(
            paths(&["cpuacct:s"]).unwrap(),
            [Path::new("/cg/memory/c"), Path::new("/cg/cpu/c/s")]
        );
        let err = |args: &[&str]| paths(args).unwrap_err().to_string();
        assert!(err(&["../x"]).contains("not a sub-cgroup"), "{}", err(&["../x"]));
        assert!(err(&["pids:x"]).contains("no pids cgroup"), "{}", err(&["pids:x"]));
        assert!(err(&["a", "b"]).contains("CONTROLLER"), "{}", err(&["a", "b"]));
        assert!(err(&["a:b:c"]).contains("[CONTROLLER:]PATH"), "{}", err(&["a:b:c"]));
    }

    #[test]
    fn cgroups_path_naming_no_cgroup_is_refused() {
        for path in ["/", "//", "/.", ".", "./", "/./."] {
            let err = CgroupConfig::from_spec(Some(Path::new(path)), None).unwrap_err();
            assert!(err.to_string().contains("root of the cgroup hierarchy"), "{path}: {err}");
        }
        let config = CgroupConfig::from_spec(Some(Path::new("//a/./b")), None).unwrap();
        assert_eq!(config.path.as_deref(), Some(Path::new("/a/b")));
        let config = CgroupConfig::from_spec(Some(Path::new("./a")), None).unwrap();
        assert_eq!(config.path.as_deref(), Some(Path::new("a")));
    }
}
