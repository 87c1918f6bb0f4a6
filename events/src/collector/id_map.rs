//! A container's user-namespace id mapping: which host uids and gids its
//! ids are, read from `/proc/PID/uid_map` and `gid_map` of one of its
//! processes.
//!
//! The kernel side sees the runtime open those files but not what it
//! writes there (nor what `newuidmap` writes), so the maps are read from
//! `/proc` by a live session, from a process that is in the container's
//! user namespace, once they are written (they can be written only once).
//! A trace file keeps them in the container record; a replay takes them
//! from there.

use std::{os::unix::fs::MetadataExt, path::Path};

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// One line of a `uid_map` or `gid_map`: `count` ids from `inside` in the
/// namespace are the ids from `outside` on the host.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct IdRange {
    pub inside: u32,
    pub outside: u32,
    pub count: u32,
}

/// The id mapping of a container's user namespace, as the host sees it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct IdMappings {
    /// Inode number of the user namespace (as `/proc/PID/ns/user`).
    pub user_ns: u32,
    /// The process whose maps were read.
    pub read_from_pid: u32,
    pub uids: Vec<IdRange>,
    pub gids: Vec<IdRange>,
}

impl IdMappings {
    /// The maps of user namespace `user_ns`, read through process `pid` of
    /// `proc` (a procfs mount); `None` if `pid` is not (or no longer) in
    /// that namespace or its maps are not written yet.
    pub fn read(proc: &Path, pid: u32, user_ns: u32) -> Option<IdMappings> {
        let dir = proc.join(pid.to_string());
        let in_namespace = || {
            std::fs::metadata(dir.join("ns/user")).is_ok_and(|ns| ns.ino() == u64::from(user_ns))
        };
        if !in_namespace() {
            return None;
        }
        let uids = parse(&std::fs::read_to_string(dir.join("uid_map")).ok()?)?;
        let gids = parse(&std::fs::read_to_string(dir.join("gid_map")).ok()?)?;
        // The runtime writes uid_map first: both, or wait for the next event.
        if uids.is_empty() || gids.is_empty() {
            return None;
        }
        // The pid still names a process of that namespace: not a recycled one.
        in_namespace().then_some(IdMappings { user_ns, read_from_pid: pid, uids, gids })
    }

    /// `uid 0 inside = uid 100000 on the host, 65536 ids`, one line per
    /// range, uids first.
    pub fn lines(&self) -> Vec<String> {
        let line = |kind: &str, range: &IdRange| {
            let ids =
                if range.count == 1 { "1 id".to_string() } else { format!("{} ids", range.count) };
            format!("{kind} {} inside = {kind} {} on the host, {ids}", range.inside, range.outside)
        };
        let uids = self.uids.iter().map(|range| line("uid", range));
        uids.chain(self.gids.iter().map(|range| line("gid", range))).collect()
    }
}

/// A map file's lines, `INSIDE OUTSIDE COUNT` each; `None` if one is not.
fn parse(text: &str) -> Option<Vec<IdRange>> {
    text.lines()
        .filter(|line| !line.trim().is_empty())
        .map(|line| {
            let mut fields = line.split_whitespace().map(str::parse::<u32>);
            let mut next = || fields.next()?.ok();
            Some(IdRange { inside: next()?, outside: next()?, count: next()? })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn map_lines_are_read_as_the_kernel_writes_them() {
        let text = "         0     100000      65536\n     65536       1000          1\n";
        assert_eq!(
            parse(text),
            Some(vec![
                IdRange { inside: 0, outside: 100_000, count: 65_536 },
                IdRange { inside: 65_536, outside: 1000, count: 1 },
            ])
        );
        assert_eq!(parse(""), Some(vec![]), "not written yet");
        assert_eq!(parse("0 1\n"), None);
    }

    #[test]
    fn each_range_is_one_line() {
        let mappings = IdMappings {
            user_ns: 1,
            read_from_pid: 2,
            uids: vec![IdRange { inside: 0, outside: 100_000, count: 65_536 }],
            gids: vec![IdRange { inside: 0, outside: 1000, count: 1 }],
        };
        assert_eq!(
            mappings.lines(),
            [
                "uid 0 inside = uid 100000 on the host, 65536 ids",
                "gid 0 inside = gid 1000 on the host, 1 id",
            ]
        );
    }

    /// This process is in the host's user namespace, whose maps are the
    /// identity; another namespace's inode number reads nothing.
    #[test]
    fn a_process_is_read_only_in_the_namespace_asked_for() {
        let proc = Path::new("/proc");
        let me = std::process::id();
        let own = u32::try_from(std::fs::metadata("/proc/self/ns/user").unwrap().ino()).unwrap();
        let mappings = IdMappings::read(proc, me, own).expect("the host's maps");
        assert_eq!(mappings.uids, [IdRange { inside: 0, outside: 0, count: u32::MAX }]);
        assert!(IdMappings::read(proc, me, own.wrapping_add(1)).is_none());
    }
}
