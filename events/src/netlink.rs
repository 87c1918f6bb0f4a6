//! Parsing the RTM_NEWLINK requests the netlink probe captures: which link
//! kind, which names, which network namespace each end goes to. Bounded
//! and total: a malformed message yields what could be read, never a panic.
//!
//! Hand-written on purpose, where the runtime's client uses
//! netlink-packet-route: the probe captures a bounded prefix of each
//! message, often cut inside an attribute, and that crate refuses a
//! truncated message whole, where this keeps what could be read.

use crate::event::{Detail, LinkPlacement};

const NLMSG_HDRLEN: usize = 16;
/// Offset of `nlmsg_seq` in `struct nlmsghdr`.
const NLMSG_SEQ: usize = 8;
const IFINFOMSG_LEN: usize = 16;
/// Offset of `nlmsg_type` in `struct nlmsghdr`.
const NLMSG_TYPE: usize = 4;
/// Offset of `ifi_index` in the `struct ifinfomsg` after the header.
const IFI_INDEX: usize = NLMSG_HDRLEN + 4;
/// `RTM_SETLINK` (the probe records it only when it moves a link).
const RTM_SETLINK: u16 = 19;
const IFLA_IFNAME: u16 = 3;
const IFLA_LINKINFO: u16 = 18;
const IFLA_NET_NS_PID: u16 = 19;
const IFLA_NET_NS_FD: u16 = 28;
const IFLA_INFO_KIND: u16 = 1;
const IFLA_INFO_DATA: u16 = 2;
const VETH_INFO_PEER: u16 = 1;
/// Attribute types carry NLA_F_NESTED and NLA_F_NET_BYTEORDER in the top bits.
const NLA_TYPE_MASK: u16 = 0x3fff;

/// The `(type, payload)` pairs of a run of netlink attributes.
fn attributes(mut bytes: &[u8]) -> impl Iterator<Item = (u16, &[u8])> {
    std::iter::from_fn(move || {
        let len = u16::from_ne_bytes(bytes.get(..2)?.try_into().ok()?) as usize;
        let kind = u16::from_ne_bytes(bytes.get(2..4)?.try_into().ok()?) & NLA_TYPE_MASK;
        let payload = bytes.get(4..len.max(4))?;
        // Attributes are 4-byte aligned; the last may end without padding.
        let next = (len + 3) & !3;
        bytes = bytes.get(next.max(4)..).unwrap_or(&[]);
        Some((kind, payload))
    })
}

fn string(payload: &[u8]) -> String {
    crate::cstr::c_string(payload)
}

fn u32_of(payload: &[u8]) -> Option<u32> {
    payload.get(..4).map(|b| u32::from_ne_bytes(b.try_into().expect("4 bytes")))
}

/// What the probe knows of the sender's namespaces: its own, and the inode
/// numbers of the namespace file descriptors the request names.
pub struct SenderNamespaces<'a> {
    pub netns: u32,
    /// `(fd, inode number)`; inode number 0: unresolved.
    pub fds: &'a [(u32, u32)],
}

/// Name and namespace attributes of one end.
fn placement(attrs: &[u8], sender: &SenderNamespaces) -> LinkPlacement {
    let mut end = LinkPlacement::default();
    for (kind, payload) in attributes(attrs) {
        match kind {
            IFLA_IFNAME => end.name = Some(string(payload)),
            IFLA_NET_NS_PID => end.netns_pid = u32_of(payload),
            IFLA_NET_NS_FD => end.netns_fd = u32_of(payload),
            _ => {}
        }
    }
    end.netns = match (end.netns_pid, end.netns_fd) {
        (None, None) => Some(sender.netns),
        (_, Some(fd)) => {
            sender.fds.iter().find(|(held, inum)| *held == fd && *inum != 0).map(|(_, inum)| *inum)
        }
        (Some(_), None) => None,
    };
    end
}

/// Decodes an RTM_NEWLINK request, or an RTM_SETLINK that moves a link
/// (`message` starts at its nlmsghdr).
pub fn new_link(message: &[u8], sender: &SenderNamespaces, ret: i64) -> Detail {
    let declared = message
        .get(..4)
        .map(|b| u32::from_ne_bytes(b.try_into().expect("4 bytes")) as usize)
        .unwrap_or(0);
    let message = &message[..declared.min(message.len())];
    let seq = message.get(NLMSG_SEQ..).and_then(u32_of).unwrap_or(0);
    let moves = message
        .get(NLMSG_TYPE..NLMSG_TYPE + 2)
        .is_some_and(|kind| u16::from_ne_bytes([kind[0], kind[1]]) == RTM_SETLINK);
    let moved_ifindex = message.get(IFI_INDEX..).and_then(u32_of).filter(|_| moves);
    let attrs = message.get(NLMSG_HDRLEN + IFINFOMSG_LEN..).unwrap_or(&[]);
    let mut link_kind = None;
    let mut peer = None;
    for (kind, payload) in attributes(attrs) {
        if kind != IFLA_LINKINFO {
            continue;
        }
        for (info, info_payload) in attributes(payload) {
            match info {
                IFLA_INFO_KIND => link_kind = Some(string(info_payload)),
                IFLA_INFO_DATA => {
                    for (data, data_payload) in attributes(info_payload) {
                        // VETH_INFO_PEER holds an ifinfomsg, then attributes.
                        if data == VETH_INFO_PEER {
                            let peer_attrs = data_payload.get(IFINFOMSG_LEN..).unwrap_or(&[]);
                            peer = Some(placement(peer_attrs, sender));
                        }
                    }
                }
                _ => {}
            }
        }
    }
    // VETH_INFO_PEER means a peer only for veth; other kinds reuse type 1.
    if link_kind.as_deref() != Some("veth") {
        peer = None;
    }
    Detail::NewLink {
        link_kind,
        link: placement(attrs, sender),
        peer,
        ret,
        seq,
        // The answer comes later, on the socket.
        answer: None,
        moved_ifindex,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attr(kind: u16, payload: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        out.extend_from_slice(&u16::try_from(4 + payload.len()).unwrap().to_ne_bytes());
        out.extend_from_slice(&kind.to_ne_bytes());
        out.extend_from_slice(payload);
        while out.len() % 4 != 0 {
            out.push(0);
        }
        out
    }

    /// What `ip link add a0 type veth peer name b0 netns 42` sends.
    fn veth_request() -> Vec<u8> {
        veth_request_with(IFLA_NET_NS_PID, 42)
    }

    /// A veth request whose peer goes to the namespace `attribute` names.
    fn veth_request_with(attribute: u16, value: u32) -> Vec<u8> {
        let mut peer = vec![0u8; IFINFOMSG_LEN];
        peer.extend(attr(IFLA_IFNAME, b"b0\0"));
        peer.extend(attr(attribute, &value.to_ne_bytes()));
        let mut info = attr(IFLA_INFO_KIND, b"veth\0");
        info.extend(attr(IFLA_INFO_DATA | 0x8000, &attr(VETH_INFO_PEER | 0x8000, &peer)));
        let mut body = vec![0u8; IFINFOMSG_LEN];
        body.extend(attr(IFLA_IFNAME, b"a0\0"));
        body.extend(attr(IFLA_LINKINFO | 0x8000, &info));
        let mut message = u32::try_from(NLMSG_HDRLEN + body.len()).unwrap().to_ne_bytes().to_vec();
        message.extend_from_slice(&16u16.to_ne_bytes());
        message.extend_from_slice(&[0; 2]);
        message.extend_from_slice(&0x0102_0304u32.to_ne_bytes());
        message.extend_from_slice(&[0; 4]);
        message.extend(body);
        message
    }

    #[test]
    fn decodes_a_veth_request() {
        let Detail::NewLink { link_kind, link, peer, ret, seq, answer, moved_ifindex } =
            new_link(&veth_request(), &SenderNamespaces { netns: 7, fds: &[] }, 60)
        else {
            panic!("not a new link");
        };
        assert_eq!(link_kind.as_deref(), Some("veth"));
        assert_eq!(link.name.as_deref(), Some("a0"));
        assert_eq!(link.netns, Some(7));
        let peer = peer.expect("peer");
        assert_eq!(peer.name.as_deref(), Some("b0"));
        assert_eq!((peer.netns, peer.netns_pid), (None, Some(42)));
        assert_eq!(ret, 60);
        assert_eq!((seq, answer, moved_ifindex), (0x0102_0304, None, None));
    }

    /// What dockerd sends to hand a container the veth end it made in the
    /// host's namespace: RTM_SETLINK of ifindex 435 with IFLA_NET_NS_FD.
    #[test]
    fn decodes_a_move_to_a_namespace_descriptor() {
        let mut body = vec![0u8; IFINFOMSG_LEN];
        body[4..8].copy_from_slice(&435u32.to_ne_bytes());
        body.extend(attr(IFLA_NET_NS_FD, &32u32.to_ne_bytes()));
        let mut message = u32::try_from(NLMSG_HDRLEN + body.len()).unwrap().to_ne_bytes().to_vec();
        message.extend_from_slice(&RTM_SETLINK.to_ne_bytes());
        message.extend_from_slice(&[0; 2]);
        message.extend_from_slice(&41u32.to_ne_bytes());
        message.extend_from_slice(&[0; 4]);
        message.extend(body);
        let sender = SenderNamespaces { netns: 1, fds: &[(32, 4026532181)] };
        let Detail::NewLink { link_kind, link, peer, seq, moved_ifindex, .. } =
            new_link(&message, &sender, 40)
        else {
            panic!("not a link request");
        };
        assert_eq!((link_kind, peer, seq, moved_ifindex), (None, None, 41, Some(435)));
        assert_eq!((link.name, link.netns), (None, Some(4026532181)));
    }

    #[test]
    fn a_namespace_fd_takes_the_inode_number_the_probe_resolved() {
        let request = veth_request_with(IFLA_NET_NS_FD, 7);
        let sender = SenderNamespaces { netns: 1, fds: &[(3, 0), (7, 4026532250)] };
        let Detail::NewLink { peer: Some(peer), .. } = new_link(&request, &sender, 60) else {
            panic!("no peer");
        };
        assert_eq!((peer.netns, peer.netns_fd), (Some(4026532250), Some(7)));
        let unresolved = SenderNamespaces { netns: 1, fds: &[(7, 0)] };
        let Detail::NewLink { peer: Some(peer), .. } = new_link(&request, &unresolved, 60) else {
            panic!("no peer");
        };
        assert_eq!(peer.netns, None);
    }

    #[test]
    fn survives_every_truncation_and_corruption() {
        let request = veth_request();
        for at in 0..request.len() {
            let _ = new_link(&request[..at], &SenderNamespaces { netns: 1, fds: &[(3, 9)] }, 0);
            for value in [0u8, 1, 3, 0xff] {
                let mut bytes = request.clone();
                bytes[at] = value;
                let _ = new_link(&bytes, &SenderNamespaces { netns: 1, fds: &[(3, 9)] }, 0);
            }
        }
    }
}
