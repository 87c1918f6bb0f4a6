//! The runtime's own mounts, from `/proc/self/mountinfo`.
//!
//! procfs-core parses the lines; its parser leaves the kernel's octal
//! escapes in the paths (`\040` for a space, `\011` tab, `\012` newline,
//! `\134` backslash), so the mount point and root are unescaped here. A
//! bundle under `/tmp/my bundle` must match its own mounts.

use std::{fs::File, io::Read, path::PathBuf};

use procfs_core::{FromRead, process::MountInfos};

pub use procfs_core::process::{MountInfo, MountOptFields};

use crate::error::{Context, Error, Result};

const MOUNTINFO: &str = "/proc/self/mountinfo";

/// Every mount of the calling process's mount namespace, as it sees them.
pub fn own() -> Result<Vec<MountInfo>> {
    let file = File::open(MOUNTINFO).context(|| format!("opening {MOUNTINFO}"))?;
    parse(file)
}

/// The mounts a mountinfo text lists, paths unescaped.
pub fn parse(input: impl Read) -> Result<Vec<MountInfo>> {
    let infos = MountInfos::from_read(input).map_err(|err| Error::Io {
        context: format!("parsing {MOUNTINFO}"),
        cause: std::io::Error::other(err.to_string()),
    })?;
    Ok(infos
        .into_iter()
        .map(|mut info| {
            info.mount_point = PathBuf::from(unescape(&info.mount_point.to_string_lossy()));
            info.root = unescape(&info.root);
            info
        })
        .collect())
}

/// Undoes the kernel's `\ooo` escapes (fs/proc_namespace.c, mangle()).
fn unescape(field: &str) -> String {
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut at = 0;
    while at < bytes.len() {
        let octal = bytes.get(at + 1..at + 4).filter(|digits| {
            bytes[at] == b'\\' && digits.iter().all(|digit| (b'0'..=b'7').contains(digit))
        });
        match octal {
            Some(digits) => {
                let value =
                    digits.iter().fold(0u32, |value, digit| value * 8 + u32::from(digit - b'0'));
                out.push(u8::try_from(value).unwrap_or(b'?'));
                at += 4;
            }
            None => {
                out.push(bytes[at]);
                at += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The shared-propagation peer group a mount belongs to, if any.
pub fn is_shared(info: &MountInfo) -> bool {
    info.opt_fields.iter().any(|field| matches!(field, MountOptFields::Shared(_)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_with_spaces_and_backslashes_are_unescaped() {
        let text =
            "36 25 0:32 /a\\040b /tmp/my\\040bundle/rootfs\\134x rw shared:7 - tmpfs tmpfs rw\n";
        let infos = parse(text.as_bytes()).unwrap();
        assert_eq!(infos[0].mount_point, PathBuf::from("/tmp/my bundle/rootfs\\x"));
        assert_eq!(infos[0].root, "/a b");
        assert!(is_shared(&infos[0]));
    }

    #[test]
    fn text_that_only_looks_escaped_is_kept() {
        assert_eq!(unescape("/a\\09b\\1"), "/a\\09b\\1");
        assert_eq!(unescape("/plain"), "/plain");
    }
}
