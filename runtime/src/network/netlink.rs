//! A small rtnetlink client: just the requests a bridged container needs
//! (links, veth pairs, bridges, addresses, a default route). Messages are
//! built and parsed by `netlink-packet-route`, the socket is
//! `netlink-sys`'s: no hand-written encoding.

use std::{
    net::{IpAddr, Ipv4Addr},
    os::fd::{AsRawFd, OwnedFd},
};

use netlink_packet_core::{
    NLM_F_ACK, NLM_F_CREATE, NLM_F_DUMP, NLM_F_EXCL, NLM_F_REQUEST, NetlinkHeader, NetlinkMessage,
    NetlinkPayload,
};
use netlink_packet_route::{
    AddressFamily, RouteNetlinkMessage,
    address::{AddressAttribute, AddressMessage},
    link::{InfoData, InfoKind, InfoVeth, LinkAttribute, LinkFlags, LinkInfo, LinkMessage},
    route::{RouteAddress, RouteAttribute, RouteHeader, RouteMessage, RouteProtocol, RouteType},
};
use netlink_sys::{Socket, SocketAddr, protocols::NETLINK_ROUTE};

use crate::error::{Error, Result};

/// An IPv4 address on a link.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LinkAddress {
    pub index: u32,
    pub address: Ipv4Addr,
    pub prefix: u8,
}

pub struct Netlink {
    socket: Socket,
    sequence: u32,
}

/// A link message about link `index` (0: named by attribute).
fn link(index: u32, attributes: Vec<LinkAttribute>) -> LinkMessage {
    let mut message = LinkMessage::default();
    message.header.index = index;
    message.attributes = attributes;
    message
}

impl Netlink {
    /// A socket in the caller's network namespace.
    pub fn open() -> Result<Self> {
        let context = "opening a NETLINK_ROUTE socket";
        let mut socket = Socket::new(NETLINK_ROUTE).map_err(|err| io_error(context, err))?;
        socket.bind_auto().map_err(|err| io_error(context, err))?;
        socket.connect(&SocketAddr::new(0, 0)).map_err(|err| io_error(context, err))?;
        Ok(Netlink { socket, sequence: 1 })
    }

    /// Sends a request and returns the replies up to the ack or the end
    /// of a dump; a kernel error becomes `Err(errno)`.
    fn exchange(
        &mut self,
        flags: u16,
        request: RouteNetlinkMessage,
    ) -> Result<Vec<RouteNetlinkMessage>, i32> {
        self.sequence += 1;
        let sequence = self.sequence;
        let mut header = NetlinkHeader::default();
        header.flags = flags | NLM_F_REQUEST | NLM_F_ACK;
        header.sequence_number = sequence;
        let mut packet = NetlinkMessage::new(header, NetlinkPayload::from(request));
        packet.finalize();
        let mut frame = vec![0; packet.buffer_len()];
        packet.serialize(&mut frame);
        self.socket.send(&frame, 0).map_err(|err| errno(&err))?;
        let mut replies = Vec::new();
        loop {
            let (data, _) = self.socket.recv_from_full().map_err(|err| errno(&err))?;
            let mut rest = data.as_slice();
            while !rest.is_empty() {
                let reply = NetlinkMessage::<RouteNetlinkMessage>::deserialize(rest)
                    .map_err(|_| libc::EBADMSG)?;
                let len = reply.header.length as usize;
                if len == 0 {
                    return Err(libc::EBADMSG);
                }
                rest = &rest[len.next_multiple_of(4).min(rest.len())..];
                if reply.header.sequence_number != sequence {
                    continue;
                }
                match reply.payload {
                    NetlinkPayload::Error(error) => {
                        return match error.code {
                            None => Ok(replies),
                            Some(code) => Err(-code.get()),
                        };
                    }
                    NetlinkPayload::Done(_) => return Ok(replies),
                    NetlinkPayload::InnerMessage(message) => replies.push(message),
                    _ => {}
                }
            }
        }
    }

    fn request(
        &mut self,
        what: impl FnOnce() -> String,
        flags: u16,
        request: RouteNetlinkMessage,
    ) -> Result<()> {
        self.exchange(flags, request).map(drop).map_err(|errno| errno_error(what(), errno))
    }

    /// The index of the link called `name`, if there is one.
    pub fn link_index(&mut self, name: &str) -> Result<Option<u32>> {
        let request = link(0, vec![LinkAttribute::IfName(name.to_owned())]);
        match self.exchange(0, RouteNetlinkMessage::GetLink(request)) {
            Ok(replies) => Ok(replies.iter().find_map(|reply| match reply {
                RouteNetlinkMessage::NewLink(found) => Some(found.header.index),
                _ => None,
            })),
            Err(libc::ENODEV) => Ok(None),
            Err(errno) => Err(errno_error(format!("looking up link {name}"), errno)),
        }
    }

    pub fn create_bridge(&mut self, name: &str) -> Result<()> {
        let request = link(
            0,
            vec![
                LinkAttribute::IfName(name.to_owned()),
                LinkAttribute::LinkInfo(vec![LinkInfo::Kind(InfoKind::Bridge)]),
            ],
        );
        self.request(
            || format!("creating bridge {name}"),
            NLM_F_CREATE | NLM_F_EXCL,
            RouteNetlinkMessage::NewLink(request),
        )
    }

    /// A veth pair: `host` here, `peer` in the network namespace `netns`.
    pub fn create_veth(&mut self, host: &str, peer: &str, netns: &OwnedFd) -> Result<()> {
        let peer_link = link(
            0,
            vec![LinkAttribute::IfName(peer.to_owned()), LinkAttribute::NetNsFd(netns.as_raw_fd())],
        );
        let request = link(
            0,
            vec![
                LinkAttribute::IfName(host.to_owned()),
                LinkAttribute::LinkInfo(vec![
                    LinkInfo::Kind(InfoKind::Veth),
                    LinkInfo::Data(InfoData::Veth(InfoVeth::Peer(peer_link))),
                ]),
            ],
        );
        self.request(
            || format!("creating veth pair {host} / {peer}"),
            NLM_F_CREATE | NLM_F_EXCL,
            RouteNetlinkMessage::NewLink(request),
        )
    }

    pub fn set_master(&mut self, index: u32, master: u32) -> Result<()> {
        let request = link(index, vec![LinkAttribute::Controller(master)]);
        self.request(
            || format!("attaching link {index} to {master}"),
            0,
            RouteNetlinkMessage::NewLink(request),
        )
    }

    pub fn set_up(&mut self, index: u32) -> Result<()> {
        let mut request = link(index, Vec::new());
        request.header.flags = LinkFlags::Up;
        request.header.change_mask = LinkFlags::Up;
        self.request(
            || format!("bringing link {index} up"),
            0,
            RouteNetlinkMessage::NewLink(request),
        )
    }

    /// Deletes the link; `false` if it was already gone.
    pub fn delete_link(&mut self, name: &str) -> Result<bool> {
        let Some(index) = self.link_index(name)? else { return Ok(false) };
        match self.exchange(0, RouteNetlinkMessage::DelLink(link(index, Vec::new()))) {
            Ok(_) => Ok(true),
            Err(libc::ENODEV) => Ok(false),
            Err(errno) => Err(errno_error(format!("deleting link {name}"), errno)),
        }
    }

    pub fn add_address(&mut self, index: u32, address: Ipv4Addr, prefix: u8) -> Result<()> {
        let mut request = AddressMessage::default();
        request.header.family = AddressFamily::Inet;
        request.header.prefix_len = prefix;
        request.header.index = index;
        request.attributes = vec![
            AddressAttribute::Local(IpAddr::V4(address)),
            AddressAttribute::Address(IpAddr::V4(address)),
        ];
        self.request(
            || format!("adding {address}/{prefix} to link {index}"),
            NLM_F_CREATE | NLM_F_EXCL,
            RouteNetlinkMessage::NewAddress(request),
        )
    }

    /// Every IPv4 address in this namespace.
    pub fn addresses(&mut self) -> Result<Vec<LinkAddress>> {
        let mut request = AddressMessage::default();
        request.header.family = AddressFamily::Inet;
        let replies = self
            .exchange(NLM_F_DUMP, RouteNetlinkMessage::GetAddress(request))
            .map_err(|errno| errno_error("listing addresses".to_owned(), errno))?;
        let mut out = Vec::new();
        for reply in replies {
            let RouteNetlinkMessage::NewAddress(message) = reply else { continue };
            let address = message.attributes.iter().find_map(|attribute| match attribute {
                AddressAttribute::Local(IpAddr::V4(address))
                | AddressAttribute::Address(IpAddr::V4(address)) => Some(*address),
                _ => None,
            });
            if let Some(address) = address {
                let (index, prefix) = (message.header.index, message.header.prefix_len);
                out.push(LinkAddress { index, address, prefix });
            }
        }
        Ok(out)
    }

    pub fn add_default_route(&mut self, gateway: Ipv4Addr) -> Result<()> {
        let mut request = RouteMessage::default();
        request.header.address_family = AddressFamily::Inet;
        request.header.table = RouteHeader::RT_TABLE_MAIN;
        request.header.protocol = RouteProtocol::Boot;
        request.header.kind = RouteType::Unicast;
        request.attributes = vec![RouteAttribute::Gateway(RouteAddress::Inet(gateway))];
        self.request(
            || format!("adding the default route via {gateway}"),
            NLM_F_CREATE | NLM_F_EXCL,
            RouteNetlinkMessage::NewRoute(request),
        )
    }
}

fn errno(err: &std::io::Error) -> i32 {
    err.raw_os_error().unwrap_or(libc::EIO)
}

fn io_error(context: &str, cause: std::io::Error) -> Error {
    Error::Io { context: context.to_owned(), cause }
}

fn errno_error(context: String, errno: i32) -> Error {
    Error::Io { context, cause: std::io::Error::from_raw_os_error(errno) }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A veth request as the kernel reads it: the peer, with its name and
    /// namespace descriptor, nested in the link's info data.
    #[test]
    fn a_veth_request_nests_its_peer() {
        let peer = link(0, vec![LinkAttribute::IfName("eth0".into()), LinkAttribute::NetNsFd(7)]);
        let request = RouteNetlinkMessage::NewLink(link(
            0,
            vec![
                LinkAttribute::IfName("veth-a".into()),
                LinkAttribute::LinkInfo(vec![
                    LinkInfo::Kind(InfoKind::Veth),
                    LinkInfo::Data(InfoData::Veth(InfoVeth::Peer(peer.clone()))),
                ]),
            ],
        ));
        let mut packet =
            NetlinkMessage::new(NetlinkHeader::default(), NetlinkPayload::from(request));
        packet.finalize();
        let mut frame = vec![0; packet.buffer_len()];
        packet.serialize(&mut frame);
        let back = NetlinkMessage::<RouteNetlinkMessage>::deserialize(&frame).unwrap();
        let NetlinkPayload::InnerMessage(RouteNetlinkMessage::NewLink(message)) = back.payload
        else {
            panic!("not a new link: {back:?}");
        };
        let nested = message.attributes.iter().find_map(|attribute| match attribute {
            LinkAttribute::LinkInfo(infos) => infos.iter().find_map(|info| match info {
                LinkInfo::Data(InfoData::Veth(InfoVeth::Peer(peer))) => Some(peer.clone()),
                _ => None,
            }),
            _ => None,
        });
        assert_eq!(nested, Some(peer));
    }
}
