//! A small rtnetlink client over a `NETLINK_ROUTE` socket: just the
//! requests a bridged container needs (links, veth pairs, bridges,
//! addresses, a default route), encoded by hand.

use std::{
    net::Ipv4Addr,
    os::fd::{AsRawFd, FromRawFd, OwnedFd},
};

use crate::error::{Error, Result};

const NLMSG_ERROR: u16 = 2;
const NLMSG_DONE: u16 = 3;
const RTM_NEWLINK: u16 = 16;
const RTM_DELLINK: u16 = 17;
const RTM_GETLINK: u16 = 18;
const RTM_NEWADDR: u16 = 20;
const RTM_GETADDR: u16 = 22;
const RTM_NEWROUTE: u16 = 24;

const NLM_F_REQUEST: u16 = 0x1;
const NLM_F_ACK: u16 = 0x4;
const NLM_F_EXCL: u16 = 0x200;
const NLM_F_CREATE: u16 = 0x400;
const NLM_F_DUMP: u16 = 0x300;

const IFLA_IFNAME: u16 = 3;
const IFLA_MASTER: u16 = 10;
const IFLA_LINKINFO: u16 = 18;
const IFLA_NET_NS_FD: u16 = 28;
const IFLA_INFO_KIND: u16 = 1;
const IFLA_INFO_DATA: u16 = 2;
const VETH_INFO_PEER: u16 = 1;
const IFA_ADDRESS: u16 = 1;
const IFA_LOCAL: u16 = 2;
const RTA_GATEWAY: u16 = 5;

const HEADER_LEN: usize = 16;
const IFINFO_LEN: usize = 16;

/// A message body under construction: a fixed header, then attributes.
struct Message {
    body: Vec<u8>,
    /// Start offsets of the open nested attributes.
    nests: Vec<usize>,
}

impl Message {
    fn new(fixed: &[u8]) -> Self {
        Message { body: fixed.to_vec(), nests: Vec::new() }
    }

    fn attr(&mut self, kind: u16, payload: &[u8]) -> &mut Self {
        let len = 4 + payload.len();
        self.body.extend_from_slice(&(len as u16).to_ne_bytes());
        self.body.extend_from_slice(&kind.to_ne_bytes());
        self.body.extend_from_slice(payload);
        self.pad();
        self
    }

    fn attr_str(&mut self, kind: u16, value: &str) -> &mut Self {
        let mut payload = value.as_bytes().to_vec();
        payload.push(0);
        self.attr(kind, &payload)
    }

    fn begin(&mut self, kind: u16) -> &mut Self {
        self.nests.push(self.body.len());
        self.body.extend_from_slice(&[0, 0]);
        self.body.extend_from_slice(&kind.to_ne_bytes());
        self
    }

    fn end(&mut self) -> &mut Self {
        let start = self.nests.pop().expect("end matches a begin");
        let len = (self.body.len() - start) as u16;
        self.body[start..start + 2].copy_from_slice(&len.to_ne_bytes());
        self
    }

    fn pad(&mut self) {
        while !self.body.len().is_multiple_of(4) {
            self.body.push(0);
        }
    }
}

fn ifinfomsg(index: i32, flags: u32, change: u32) -> Vec<u8> {
    let mut out = vec![0u8; IFINFO_LEN];
    out[0] = libc::AF_UNSPEC as u8;
    out[4..8].copy_from_slice(&index.to_ne_bytes());
    out[8..12].copy_from_slice(&flags.to_ne_bytes());
    out[12..16].copy_from_slice(&change.to_ne_bytes());
    out
}

/// An IPv4 address on a link.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LinkAddress {
    pub index: u32,
    pub address: Ipv4Addr,
    pub prefix: u8,
}

pub struct Netlink {
    socket: OwnedFd,
    sequence: u32,
}

impl Netlink {
    /// A socket in the caller's network namespace.
    pub fn open() -> Result<Self> {
        // SAFETY: plain socket(2); the result is checked and owned below.
        let fd = unsafe {
            libc::socket(libc::AF_NETLINK, libc::SOCK_RAW | libc::SOCK_CLOEXEC, libc::NETLINK_ROUTE)
        };
        if fd < 0 {
            return Err(io_error("opening a NETLINK_ROUTE socket"));
        }
        // SAFETY: a fresh descriptor nothing else owns.
        let socket = unsafe { OwnedFd::from_raw_fd(fd) };
        Ok(Netlink { socket, sequence: 1 })
    }

    /// Sends a request and returns the replies up to the ack or the end
    /// of a dump; a kernel error becomes `Err(errno)`.
    fn exchange(&mut self, kind: u16, flags: u16, body: &[u8]) -> Result<Vec<(u16, Vec<u8>)>, i32> {
        self.sequence += 1;
        let sequence = self.sequence;
        let mut frame = Vec::with_capacity(HEADER_LEN + body.len());
        frame.extend_from_slice(&((HEADER_LEN + body.len()) as u32).to_ne_bytes());
        frame.extend_from_slice(&kind.to_ne_bytes());
        frame.extend_from_slice(&(flags | NLM_F_REQUEST | NLM_F_ACK).to_ne_bytes());
        frame.extend_from_slice(&sequence.to_ne_bytes());
        frame.extend_from_slice(&0u32.to_ne_bytes());
        frame.extend_from_slice(body);
        // SAFETY: send(2) reads `frame`, which we own.
        let sent =
            unsafe { libc::send(self.socket.as_raw_fd(), frame.as_ptr().cast(), frame.len(), 0) };
        if sent < 0 {
            return Err(std::io::Error::last_os_error().raw_os_error().unwrap_or(libc::EIO));
        }
        let mut replies = Vec::new();
        let mut buffer = vec![0u8; 64 * 1024];
        loop {
            // SAFETY: recv(2) writes at most `buffer.len()` bytes into it.
            let received = unsafe {
                libc::recv(self.socket.as_raw_fd(), buffer.as_mut_ptr().cast(), buffer.len(), 0)
            };
            if received < 0 {
                return Err(std::io::Error::last_os_error().raw_os_error().unwrap_or(libc::EIO));
            }
            let mut data = &buffer[..received as usize];
            while data.len() >= HEADER_LEN {
                let len = u32::from_ne_bytes(data[0..4].try_into().unwrap()) as usize;
                let kind = u16::from_ne_bytes(data[4..6].try_into().unwrap());
                let reply_sequence = u32::from_ne_bytes(data[8..12].try_into().unwrap());
                if len < HEADER_LEN || len > data.len() {
                    return Err(libc::EBADMSG);
                }
                let payload = &data[HEADER_LEN..len];
                data = &data[len.next_multiple_of(4).min(data.len())..];
                if reply_sequence != sequence {
                    continue;
                }
                match kind {
                    NLMSG_ERROR => {
                        let code = i32::from_ne_bytes(payload[0..4].try_into().unwrap());
                        return if code == 0 { Ok(replies) } else { Err(-code) };
                    }
                    NLMSG_DONE => return Ok(replies),
                    _ => replies.push((kind, payload.to_vec())),
                }
            }
        }
    }

    fn request(
        &mut self,
        what: impl FnOnce() -> String,
        kind: u16,
        flags: u16,
        body: &[u8],
    ) -> Result<()> {
        self.exchange(kind, flags, body).map(drop).map_err(|errno| errno_error(what(), errno))
    }

    /// The index of the link called `name`, if there is one.
    pub fn link_index(&mut self, name: &str) -> Result<Option<u32>> {
        let mut message = Message::new(&ifinfomsg(0, 0, 0));
        message.attr_str(IFLA_IFNAME, name);
        match self.exchange(RTM_GETLINK, 0, &message.body) {
            Ok(replies) => Ok(replies
                .iter()
                .find(|(kind, _)| *kind == RTM_NEWLINK)
                .map(|(_, body)| i32::from_ne_bytes(body[4..8].try_into().unwrap()) as u32)),
            Err(libc::ENODEV) => Ok(None),
            Err(errno) => Err(errno_error(format!("looking up link {name}"), errno)),
        }
    }

    pub fn create_bridge(&mut self, name: &str) -> Result<()> {
        let mut message = Message::new(&ifinfomsg(0, 0, 0));
        message
            .attr_str(IFLA_IFNAME, name)
            .begin(IFLA_LINKINFO)
            .attr_str(IFLA_INFO_KIND, "bridge")
            .end();
        self.request(
            || format!("creating bridge {name}"),
            RTM_NEWLINK,
            NLM_F_CREATE | NLM_F_EXCL,
            &message.body,
        )
    }

    /// A veth pair: `host` here, `peer` in the network namespace `netns`.
    pub fn create_veth(&mut self, host: &str, peer: &str, netns: &OwnedFd) -> Result<()> {
        let mut message = Message::new(&ifinfomsg(0, 0, 0));
        message
            .attr_str(IFLA_IFNAME, host)
            .begin(IFLA_LINKINFO)
            .attr_str(IFLA_INFO_KIND, "veth")
            .begin(IFLA_INFO_DATA)
            .begin(VETH_INFO_PEER);
        message.body.extend_from_slice(&ifinfomsg(0, 0, 0));
        message
            .attr_str(IFLA_IFNAME, peer)
            .attr(IFLA_NET_NS_FD, &netns.as_raw_fd().to_ne_bytes())
            .end()
            .end()
            .end();
        self.request(
            || format!("creating veth pair {host} / {peer}"),
            RTM_NEWLINK,
            NLM_F_CREATE | NLM_F_EXCL,
            &message.body,
        )
    }

    pub fn set_master(&mut self, index: u32, master: u32) -> Result<()> {
        let mut message = Message::new(&ifinfomsg(index as i32, 0, 0));
        message.attr(IFLA_MASTER, &master.to_ne_bytes());
        self.request(
            || format!("attaching link {index} to {master}"),
            RTM_NEWLINK,
            0,
            &message.body,
        )
    }

    pub fn set_up(&mut self, index: u32) -> Result<()> {
        let flags = libc::IFF_UP as u32;
        let message = Message::new(&ifinfomsg(index as i32, flags, flags));
        self.request(|| format!("bringing link {index} up"), RTM_NEWLINK, 0, &message.body)
    }

    /// Deletes the link; `false` if it was already gone.
    pub fn delete_link(&mut self, name: &str) -> Result<bool> {
        let Some(index) = self.link_index(name)? else { return Ok(false) };
        let message = Message::new(&ifinfomsg(index as i32, 0, 0));
        match self.exchange(RTM_DELLINK, 0, &message.body) {
            Ok(_) => Ok(true),
            Err(libc::ENODEV) => Ok(false),
            Err(errno) => Err(errno_error(format!("deleting link {name}"), errno)),
        }
    }

    pub fn add_address(&mut self, index: u32, address: Ipv4Addr, prefix: u8) -> Result<()> {
        let header = [libc::AF_INET as u8, prefix, 0, 0];
        let mut fixed = header.to_vec();
        fixed.extend_from_slice(&index.to_ne_bytes());
        let mut message = Message::new(&fixed);
        message.attr(IFA_LOCAL, &address.octets()).attr(IFA_ADDRESS, &address.octets());
        self.request(
            || format!("adding {address}/{prefix} to link {index}"),
            RTM_NEWADDR,
            NLM_F_CREATE | NLM_F_EXCL,
            &message.body,
        )
    }

    /// Every IPv4 address in this namespace.
    pub fn addresses(&mut self) -> Result<Vec<LinkAddress>> {
        let fixed = [libc::AF_INET as u8, 0, 0, 0, 0, 0, 0, 0];
        let replies = self
            .exchange(RTM_GETADDR, NLM_F_DUMP, &fixed)
            .map_err(|errno| errno_error("listing addresses".to_owned(), errno))?;
        let mut out = Vec::new();
        for (kind, body) in replies {
            if kind != RTM_NEWADDR || body.len() < 8 {
                continue;
            }
            let prefix = body[1];
            let index = u32::from_ne_bytes(body[4..8].try_into().unwrap());
            let mut attrs = &body[8..];
            while attrs.len() >= 4 {
                let len = u16::from_ne_bytes(attrs[0..2].try_into().unwrap()) as usize;
                let kind = u16::from_ne_bytes(attrs[2..4].try_into().unwrap());
                if len < 4 || len > attrs.len() {
                    break;
                }
                if (kind == IFA_LOCAL || kind == IFA_ADDRESS) && len == 8 {
                    let octets: [u8; 4] = attrs[4..8].try_into().unwrap();
                    out.push(LinkAddress { index, address: Ipv4Addr::from(octets), prefix });
                    break;
                }
                attrs = &attrs[len.next_multiple_of(4).min(attrs.len())..];
            }
        }
        Ok(out)
    }

    pub fn add_default_route(&mut self, gateway: Ipv4Addr) -> Result<()> {
        // rtmsg: family, dst_len, src_len, tos, table, protocol, scope, type, flags.
        let mut fixed =
            vec![libc::AF_INET as u8, 0, 0, 0, libc::RT_TABLE_MAIN, libc::RTPROT_BOOT, 0];
        fixed.push(libc::RTN_UNICAST);
        fixed.extend_from_slice(&0u32.to_ne_bytes());
        let mut message = Message::new(&fixed);
        message.attr(RTA_GATEWAY, &gateway.octets());
        self.request(
            || format!("adding the default route via {gateway}"),
            RTM_NEWROUTE,
            NLM_F_CREATE | NLM_F_EXCL,
            &message.body,
        )
    }
}

fn io_error(context: &str) -> Error {
    Error::Io { context: context.to_owned(), cause: std::io::Error::last_os_error() }
}

fn errno_error(context: String, errno: i32) -> Error {
    Error::Io { context, cause: std::io::Error::from_raw_os_error(errno) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nested_attributes_carry_their_length_and_padding() {
        let mut message = Message::new(&[]);
        message
            .attr_str(IFLA_IFNAME, "br0")
            .begin(IFLA_LINKINFO)
            .attr_str(IFLA_INFO_KIND, "veth")
            .end();
        let body = &message.body;
        // "br0\0": 4 + 4 bytes, aligned.
        assert_eq!(&body[0..4], &[8, 0, IFLA_IFNAME as u8, 0]);
        // The nest holds "veth\0" (4 + 5, padded to 12): 4 + 12.
        assert_eq!(u16::from_ne_bytes(body[8..10].try_into().unwrap()), 16);
        assert_eq!(body.len(), 24);
    }
}
