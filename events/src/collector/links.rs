//! Network links that daemons put in a container's network namespace
//! (dockerd, a CNI plugin, netavark): they are not the container's
//! processes, and they often act before the runtime starts, so the events
//! alone cannot say whose the link is. A live collector keeps the recent
//! link requests no container has claimed, and hands them to a container
//! once its network namespace is known (created or joined); a link moved
//! into a container later (`RTM_SETLINK`) is its at once.
//!
//! A move names the link by interface index only. The veth pair it belongs
//! to is found by the index each end in the host's namespace had when the
//! pair was made (read from sysfs then), or through the end that stays
//! behind: `/sys/class/net/END/iflink` is the index of that end's peer.

use std::{collections::VecDeque, path::Path};

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::event::{Detail, Event};

/// A network link a process outside a container put in its network
/// namespace.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct NetworkLink {
    /// `veth`, `bridge`, ...; `None` where the request that made it was
    /// not seen.
    pub kind: Option<String>,
    /// The end in the container's namespace, by the name it was made with
    /// (a client may rename it there, as `eth0`).
    pub name: Option<String>,
    /// The other end of a veth, by name.
    pub peer: Option<String>,
    /// The container's network namespace (inode number).
    pub netns: u32,
    /// The process that asked (tgid) and its name.
    pub pid: u32,
    pub comm: String,
    /// The request that put the link there, CLOCK_MONOTONIC nanoseconds.
    pub ts_ns: u64,
    /// Made elsewhere and moved in (`RTM_SETLINK`), not made there.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub moved: bool,
}

impl NetworkLink {
    /// In words: `veth vethB, peer vethA in net:[N], moved in by dockerd[4]`
    /// (unescaped: names come from the traced processes).
    pub fn summary(&self) -> String {
        let peer = self.peer.as_deref().map(|peer| format!(", peer {peer}")).unwrap_or_default();
        format!(
            "{} {}{peer} in net:[{}], {} by {}[{}]",
            self.kind.as_deref().unwrap_or("link"),
            self.name.as_deref().unwrap_or("(unnamed)"),
            self.netns,
            if self.moved { "moved in" } else { "made" },
            self.comm,
            self.pid
        )
    }
}

/// How many unclaimed link requests are kept: a client makes a
/// container's link moments before its runtime starts.
const UNCLAIMED_MAX: usize = 64;

/// One end of a link request.
#[derive(Clone, Debug)]
struct End {
    name: Option<String>,
    netns: Option<u32>,
    /// Its interface index, read from sysfs when the request was kept
    /// (an end in the host's namespace only).
    index: Option<u32>,
}

/// A successful link request seen outside every container.
#[derive(Clone, Debug)]
pub(super) struct Request {
    kind: Option<String>,
    link: End,
    peer: Option<End>,
    moved_ifindex: Option<u32>,
    pid: u32,
    comm: String,
    ts_ns: u64,
}

impl Request {
    /// The link request `event` carries, if the kernel did not refuse it.
    pub(super) fn of(event: &Event) -> Option<Request> {
        let Detail::NewLink {
            link_kind,
            link,
            peer,
            ret: 0..,
            answer: None | Some(0),
            moved_ifindex,
            ..
        } = &event.detail
        else {
            return None;
        };
        let end = |end: &crate::event::LinkPlacement| End {
            name: end.name.clone(),
            netns: end.netns,
            index: None,
        };
        Some(Request {
            kind: link_kind.clone(),
            link: end(link),
            peer: peer.as_ref().map(end),
            moved_ifindex: *moved_ifindex,
            pid: event.tgid,
            comm: event.comm.to_string(),
            ts_ns: event.ts_ns,
        })
    }

    /// The link this request put in network namespace `netns`, if it did.
    fn into(&self, netns: u32) -> Option<NetworkLink> {
        let (here, other) = if self.link.netns == Some(netns) {
            (&self.link, self.peer.as_ref())
        } else if let Some(peer) = self.peer.as_ref().filter(|p| p.netns == Some(netns)) {
            (peer, Some(&self.link))
        } else {
            return None;
        };
        Some(NetworkLink {
            kind: self.kind.clone(),
            name: here.name.clone(),
            peer: other.and_then(|end| end.name.clone()),
            netns,
            pid: self.pid,
            comm: self.comm.clone(),
            ts_ns: self.ts_ns,
            moved: false,
        })
    }

    /// The namespaces this request put an end in.
    pub(super) fn namespaces(&self) -> impl Iterator<Item = u32> + '_ {
        std::iter::once(&self.link).chain(self.peer.as_ref()).filter_map(|end| end.netns)
    }

    pub(super) fn moved_ifindex(&self) -> Option<u32> {
        self.moved_ifindex
    }

    /// Notes the interface index of each end in the host's namespace
    /// `host_netns`, as `sys_class_net` shows it now: a later move names
    /// the end by index only, and by then the end may be gone.
    pub(super) fn read_indexes(&mut self, sys_class_net: &Path, host_netns: u32) {
        for end in std::iter::once(&mut self.link).chain(self.peer.as_mut()) {
            if end.netns != Some(host_netns) {
                continue;
            }
            end.index = end
                .name
                .as_deref()
                .and_then(|name| read_u32(&sys_class_net.join(name).join("ifindex")));
        }
    }
}

/// A number in a sysfs file.
fn read_u32(path: &Path) -> Option<u32> {
    std::fs::read_to_string(path).ok()?.trim().parse().ok()
}

/// The link requests no container has claimed yet, newest last.
#[derive(Default)]
pub(super) struct Unclaimed {
    requests: VecDeque<Request>,
}

impl Unclaimed {
    pub(super) fn keep(&mut self, request: Request) {
        if self.requests.len() == UNCLAIMED_MAX {
            self.requests.pop_front();
        }
        self.requests.push_back(request);
    }

    /// Takes the links the kept requests put in `netns`.
    pub(super) fn claim(&mut self, netns: u32) -> Vec<NetworkLink> {
        let mut claimed = Vec::new();
        self.requests.retain(|request| match request.into(netns) {
            Some(link) => {
                claimed.push(link);
                false
            }
            None => true,
        });
        claimed
    }

    /// The link a move of interface `ifindex` into `netns` by `mover` hands
    /// over: the veth pair whose other end (still in the host's namespace,
    /// as `sys_class_net` shows it) has `ifindex` as its peer; a bare link
    /// if no kept request made it.
    pub(super) fn moved(
        &mut self,
        sys_class_net: &Path,
        ifindex: u32,
        netns: u32,
        mover: &Request,
    ) -> NetworkLink {
        let peer_index = |name: &str| read_u32(&sys_class_net.join(name).join("iflink"));
        // The end known by the index that moved, or the one that stayed
        // behind with that index as its peer.
        let went = |end: &End| end.index == Some(ifindex);
        let stayed =
            |end: &End| end.name.as_deref().is_some_and(|name| peer_index(name) == Some(ifindex));
        let made = self.requests.iter().position(|request| {
            let mut ends = std::iter::once(&request.link).chain(request.peer.as_ref());
            request.kind.as_deref() == Some("veth") && ends.any(|e| went(e) || stayed(e))
        });
        let (kind, name, peer) = match made.and_then(|at| self.requests.remove(at)) {
            Some(request) => {
                let link_name = request.link.name.clone();
                let peer_name = request.peer.as_ref().and_then(|p| p.name.clone());
                let link_moved = went(&request.link)
                    || !(request.peer.as_ref().is_some_and(went) || stayed(&request.link));
                if link_moved {
                    (request.kind, link_name, peer_name)
                } else {
                    (request.kind, peer_name, link_name)
                }
            }
            None => (None, None, None),
        };
        NetworkLink {
            kind,
            name,
            peer,
            netns,
            pid: mover.pid,
            comm: mover.comm.clone(),
            ts_ns: mover.ts_ns,
            moved: true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(kind: &str, link: (&str, u32), peer: (&str, u32), moved: Option<u32>) -> Request {
        let end = |(name, netns): (&str, u32)| End {
            name: Some(name.into()),
            netns: Some(netns),
            index: None,
        };
        Request {
            kind: Some(kind.into()),
            link: end(link),
            peer: Some(end(peer)),
            moved_ifindex: moved,
            pid: 40,
            comm: "bridge".into(),
            ts_ns: 7,
        }
    }

    /// A CNI plugin makes the veth in the container's namespace before
    /// the runtime joins it: kept, then claimed once, by that namespace.
    #[test]
    fn a_link_made_before_the_container_is_claimed_by_its_namespace() {
        let mut unclaimed = Unclaimed::default();
        unclaimed.keep(request("veth", ("eth0", 5), ("veth1", 1), None));
        assert!(unclaimed.claim(6).is_empty());
        let claimed = unclaimed.claim(5);
        assert_eq!(claimed.len(), 1);
        let link = &claimed[0];
        assert_eq!((link.name.as_deref(), link.peer.as_deref()), (Some("eth0"), Some("veth1")));
        assert_eq!((link.kind.as_deref(), link.netns, link.moved), (Some("veth"), 5, false));
        assert!(unclaimed.claim(5).is_empty(), "claimed once");
    }

    /// dockerd makes both ends in the host's namespace, then moves one by
    /// index: the pair is the one whose remaining end has it as its peer.
    #[test]
    fn a_moved_link_is_named_through_the_end_that_stayed() {
        let sys = std::env::temp_dir().join(format!("cradle-links-{}", std::process::id()));
        for (name, iflink) in [("vethA", "435\n"), ("vethC", "999\n")] {
            std::fs::create_dir_all(sys.join(name)).unwrap();
            std::fs::write(sys.join(name).join("iflink"), iflink).unwrap();
        }
        let mut unclaimed = Unclaimed::default();
        unclaimed.keep(request("veth", ("vethC", 1), ("vethD", 1), None));
        unclaimed.keep(request("veth", ("vethA", 1), ("vethB", 1), None));
        let mover = Request { comm: "dockerd".into(), ..request("", ("", 9), ("", 9), Some(435)) };
        let link = unclaimed.moved(&sys, 435, 9, &mover);
        assert_eq!((link.name.as_deref(), link.peer.as_deref()), (Some("vethB"), Some("vethA")));
        assert_eq!(
            (link.kind.as_deref(), link.comm.as_str(), link.moved),
            (Some("veth"), "dockerd", true)
        );
        // An end whose index was read when the pair was made: found by it,
        // though sysfs no longer has it.
        let mut made = request("veth", ("vethE", 1), ("vethF", 1), None);
        made.peer.as_mut().unwrap().index = Some(600);
        unclaimed.keep(made);
        let link = unclaimed.moved(&sys, 600, 9, &mover);
        assert_eq!((link.name.as_deref(), link.peer.as_deref()), (Some("vethF"), Some("vethE")));
        // An index no kept pair has: the move alone.
        let link = unclaimed.moved(&sys, 77, 9, &mover);
        std::fs::remove_dir_all(&sys).unwrap();
        assert_eq!((link.kind, link.name, link.moved), (None, None, true));
    }
}
