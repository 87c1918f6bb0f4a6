//! Which path each file descriptor of a process stands for, as far as a
//! trace shows it: learnt from the recorded opens, copied to a child at
//! fork, forgotten at exec for close-on-exec descriptors and with the
//! process at its exit.
//!
//! Runtimes name mount targets by descriptor (crun: `openat2(rootfs_fd,
//! "proc/sys", O_PATH)`, then `mount(..., "/proc/self/fd/6", ...)`), so that
//! a symlink planted in a hostile rootfs cannot redirect the mount. This
//! turns such names back into paths.
//!
//! What it cannot know: descriptors made by calls the probes do not record
//! (dup, sockets, opens that only read, directories opened without
//! O_DIRECTORY). A recorded call that
//! returns a number replaces whatever the number stood for, but close(2) is
//! not recorded, so a number closed and then reused by an unrecorded call
//! still resolves to its last recorded path. Paths relative to the working
//! directory are not resolved (chdir is not recorded), and `..` is kept as
//! it is.

use std::collections::HashMap;

use cradle_probes_common::AT_FDCWD;

use crate::event::{Detail, Event};

/// openat2's `RESOLVE_IN_ROOT`: an absolute path starts at the directory.
const RESOLVE_IN_ROOT: u64 = 0x10;

/// The descriptors of the processes of a trace.
#[derive(Clone, Debug, Default)]
pub struct FdPaths {
    /// Per process (tgid): descriptor -> what it stands for.
    processes: HashMap<u32, HashMap<i32, Entry>>,
}

#[derive(Clone, Debug)]
struct Entry {
    path: String,
    close_on_exec: bool,
}

impl FdPaths {
    /// Follows one event. Feed the events of a process tree in time order.
    pub fn observe(&mut self, event: &Event) {
        let tgid = event.tgid;
        match &event.detail {
            Detail::Open { flags, ret, .. } if *ret >= 0 => {
                let Ok(fd) = i32::try_from(*ret) else { return };
                let resolved = self.opened_path(event);
                let table = self.processes.entry(tgid).or_default();
                match resolved {
                    Some(path) => {
                        let close_on_exec = crate::event::c_int(*flags) & libc::O_CLOEXEC != 0;
                        table.insert(fd, Entry { path, close_on_exec });
                    }
                    None => {
                        table.remove(&fd);
                    }
                }
            }
            // The new mount API's descriptors stand for filesystems and
            // mounts, not paths: the number no longer means what it did.
            Detail::Fsopen { ret, .. }
            | Detail::Fsmount { ret, .. }
            | Detail::OpenTree { ret, .. }
                if *ret >= 0 =>
            {
                if let (Some(table), Ok(fd)) = (self.processes.get_mut(&tgid), i32::try_from(*ret))
                {
                    table.remove(&fd);
                }
            }
            // A table shared with CLONE_FILES is followed as a copy: the
            // processes' later opens are not seen by each other.
            Detail::TaskNew { child_tgid, .. } if *child_tgid != tgid => {
                if let Some(table) = self.processes.get(&tgid).cloned() {
                    self.processes.insert(*child_tgid, table);
                }
            }
            Detail::Exec { ret: Some(0), .. } => {
                if let Some(table) = self.processes.get_mut(&tgid) {
                    table.retain(|_, entry| !entry.close_on_exec);
                }
            }
            Detail::TaskExit { .. } if event.pid == tgid => {
                self.processes.remove(&tgid);
            }
            _ => {}
        }
    }

    /// The path an open event opened, when the trace tells it (see
    /// [`FdPaths::resolve`]; openat2's `RESOLVE_IN_ROOT` makes an absolute
    /// path start at the directory). Ask before observing the event.
    pub fn opened_path(&self, event: &Event) -> Option<String> {
        let Detail::Open { dirfd, path: Some(path), resolve, .. } = &event.detail else {
            return None;
        };
        if resolve & RESOLVE_IN_ROOT != 0 && path.starts_with('/') {
            self.resolve(event.tgid, *dirfd, path.trim_start_matches('/'))
        } else {
            self.resolve(event.tgid, *dirfd, path)
        }
    }

    /// The path a descriptor of process `tgid` stands for.
    pub fn path_of(&self, tgid: u32, fd: i32) -> Option<&str> {
        self.processes.get(&tgid)?.get(&fd).map(|entry| entry.path.as_str())
    }

    /// The path that `dirfd` and `path` name for process `tgid`, when the
    /// trace tells it: an absolute path as it is (`/proc/self/fd/N/...`
    /// through descriptor N), a relative one under the directory `dirfd`
    /// stands for, an empty one the descriptor itself (`AT_EMPTY_PATH`).
    /// `None` for a path relative to the working directory or to a
    /// descriptor the trace does not explain.
    pub fn resolve(&self, tgid: u32, dirfd: i32, path: &str) -> Option<String> {
        if path.starts_with('/') {
            return match self.through_descriptor(tgid, path) {
                Some(resolved) => resolved,
                None => Some(tidy(path)),
            };
        }
        if dirfd == AT_FDCWD {
            return None;
        }
        let dir = self.path_of(tgid, dirfd)?;
        Some(tidy(&format!("{dir}/{path}")))
    }

    /// For a `/proc/self/fd/N[/rest]` path (also `thread-self` and the
    /// process's own pid): `Some` of what it resolves to through
    /// descriptor N (`Some(None)`: N is not known). `None` for any other
    /// path.
    fn through_descriptor(&self, tgid: u32, path: &str) -> Option<Option<String>> {
        let rest = path.strip_prefix("/proc/")?;
        let (who, rest) = rest.split_once('/')?;
        if !(who == "self" || who == "thread-self" || who.parse() == Ok(tgid)) {
            return None;
        }
        let rest = rest.strip_prefix("fd/")?;
        let (number, below) = rest.split_once('/').unwrap_or((rest, ""));
        let fd: i32 = number.parse().ok()?;
        Some(self.path_of(tgid, fd).map(|dir| {
            if below.is_empty() { dir.to_string() } else { tidy(&format!("{dir}/{below}")) }
        }))
    }
}

/// Drops empty and `.` components and a trailing `/`: `/a//./b/` -> `/a/b`.
fn tidy(path: &str) -> String {
    let absolute = path.starts_with('/');
    let parts: Vec<&str> = path.split('/').filter(|p| !p.is_empty() && *p != ".").collect();
    let joined = parts.join("/");
    if absolute { format!("/{joined}") } else { joined }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(pid: u32, tgid: u32, detail: Detail) -> Event {
        Event::of_task(pid, tgid, "crun", detail)
    }

    fn open(tgid: u32, dirfd: i32, path: &str, flags: i32, resolve: u64, ret: i64) -> Event {
        event(
            tgid,
            tgid,
            Detail::Open {
                call: "openat2".into(),
                dirfd,
                path: Some(path.into()),
                flags: u64::try_from(flags).unwrap(),
                flag_names: Vec::new(),
                mode: 0,
                resolve,
                resolve_names: Vec::new(),
                file_type: (ret >= 0).then(|| "directory".into()),
                ret,
            },
        )
    }

    #[test]
    fn crun_style_descriptors_resolve_to_paths() {
        let mut fds = FdPaths::default();
        let o_path = libc::O_PATH | libc::O_CLOEXEC;
        fds.observe(&open(7, AT_FDCWD, "/b/rootfs/", o_path, 0, 3));
        fds.observe(&open(7, 3, "proc/sys", o_path, RESOLVE_IN_ROOT, 6));
        assert_eq!(
            fds.resolve(7, AT_FDCWD, "/proc/self/fd/6").as_deref(),
            Some("/b/rootfs/proc/sys")
        );
        assert_eq!(fds.resolve(7, 6, "kernel").as_deref(), Some("/b/rootfs/proc/sys/kernel"));
        assert_eq!(fds.resolve(7, 6, "").as_deref(), Some("/b/rootfs/proc/sys"));
        // RESOLVE_IN_ROOT: an absolute path starts at the directory.
        fds.observe(&open(7, 3, "/dev", o_path, RESOLVE_IN_ROOT, 8));
        assert_eq!(fds.path_of(7, 8), Some("/b/rootfs/dev"));
        // A number reused by a later open stands for the new path.
        fds.observe(&open(7, 3, "sys", o_path, 0, 6));
        assert_eq!(
            fds.resolve(7, AT_FDCWD, "/proc/thread-self/fd/6/fs").as_deref(),
            Some("/b/rootfs/sys/fs")
        );
        // A failed open changes nothing; an unknown descriptor resolves to nothing.
        fds.observe(&open(7, 3, "proc/kcore", o_path, RESOLVE_IN_ROOT, -2));
        assert_eq!(fds.path_of(7, 6), Some("/b/rootfs/sys"));
        assert_eq!(fds.resolve(7, AT_FDCWD, "/proc/self/fd/9"), None);
        assert_eq!(fds.resolve(7, 9, "x"), None);
        // Paths relative to the working directory are not followed.
        assert_eq!(fds.resolve(7, AT_FDCWD, "proc"), None);
        assert_eq!(fds.resolve(7, AT_FDCWD, "/etc//./passwd").as_deref(), Some("/etc/passwd"));
        // Another process's /proc/PID/fd is not this one's.
        assert_eq!(fds.resolve(7, AT_FDCWD, "/proc/8/fd/6").as_deref(), Some("/proc/8/fd/6"));
        assert_eq!(fds.resolve(7, AT_FDCWD, "/proc/7/fd/6").as_deref(), Some("/b/rootfs/sys"));
    }

    #[test]
    fn fork_copies_exec_closes_cloexec_exit_forgets() {
        let mut fds = FdPaths::default();
        fds.observe(&open(7, AT_FDCWD, "/kept", libc::O_PATH, 0, 3));
        fds.observe(&open(7, AT_FDCWD, "/closed", libc::O_PATH | libc::O_CLOEXEC, 0, 4));
        fds.observe(&event(
            7,
            7,
            Detail::TaskNew { child_pid: 8, child_tgid: 8, clone_flags: 0x11 },
        ));
        assert_eq!(fds.path_of(8, 4), Some("/closed"));
        fds.observe(&event(
            8,
            8,
            Detail::Exec {
                filename: "/bin/sh".into(),
                argv: Vec::new(),
                argv_truncated: false,
                filename_truncated: false,
                at: false,
                ret: Some(0),
            },
        ));
        assert_eq!((fds.path_of(8, 3), fds.path_of(8, 4)), (Some("/kept"), None));
        assert_eq!(fds.path_of(7, 4), Some("/closed"), "the parent keeps its own");
        // A thread's exit is not the process's.
        fds.observe(&event(9, 7, Detail::TaskExit { exit_code: 0 }));
        assert_eq!(fds.path_of(7, 3), Some("/kept"));
        fds.observe(&event(7, 7, Detail::TaskExit { exit_code: 0 }));
        assert_eq!(fds.path_of(7, 3), None);
        // The new mount API's descriptors are not paths.
        fds.observe(&open(8, AT_FDCWD, "/x", libc::O_PATH, 0, 5));
        fds.observe(&event(
            8,
            8,
            Detail::Fsopen { fsname: Some("tmpfs".into()), flags: 0, ret: 5 },
        ));
        assert_eq!(fds.path_of(8, 5), None);
    }
}
