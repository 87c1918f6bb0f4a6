//! `--net bridge`: a veth pair per container, its host end on a bridge
//! (created when missing, removed with the last container cradle put on
//! it), its other end `eth0` in the container's network namespace with an
//! address from a private subnet, and a default route via the bridge.
//! Everything goes over rtnetlink ([`netlink`]).
//!
//! Addresses are leased as files under [`LEASE_ROOT`], one directory per
//! bridge and network namespace, locked with `flock` while a container is
//! added or removed; the bridge's own address is the subnet's first.

pub mod netlink;

use std::{
    fs::{self, File},
    io::ErrorKind,
    net::Ipv4Addr,
    os::{
        fd::{AsFd, AsRawFd, OwnedFd},
        unix::fs::MetadataExt,
    },
    path::{Path, PathBuf},
};

use nix::{
    fcntl::{Flock, FlockArg, OFlag, open},
    sched::{CloneFlags, setns},
    sys::stat::Mode,
};
use serde::{Deserialize, Serialize};

use self::netlink::Netlink;
use crate::error::{Context, Error, Result};

pub const LEASE_ROOT: &str = "/run/cradle-net";
pub const DEFAULT_BRIDGE: &str = "cradle0";
pub const DEFAULT_SUBNET: &str = "10.89.0.0/24";
/// `IFNAMSIZ` less the terminating NUL.
const MAX_LINK_NAME: usize = 15;
/// Marks a lease directory whose bridge cradle created.
const CREATED_MARK: &str = "bridge-created-by-cradle";

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BridgeOptions {
    pub bridge: String,
    pub network: Ipv4Addr,
    pub prefix: u8,
}

impl BridgeOptions {
    /// Checks the bridge name and the subnet (a private IPv4 range).
    pub fn new(bridge: &str, subnet: &str) -> Result<Self> {
        if bridge.is_empty()
            || bridge.len() > MAX_LINK_NAME
            || bridge.contains(['/', ':'])
            || bridge.chars().any(char::is_whitespace)
            || bridge == "."
            || bridge == ".."
        {
            return Err(Error::invalid(
                "--bridge",
                format!(
                    "{bridge:?} is not a link name (1 to {MAX_LINK_NAME} bytes, no '/', ':' or spaces)"
                ),
            ));
        }
        let invalid = |reason: &str| Error::invalid("--subnet", format!("{subnet:?}: {reason}"));
        let (address, prefix) =
            subnet.split_once('/').ok_or_else(|| invalid("not ADDRESS/PREFIX"))?;
        let address: Ipv4Addr = address.parse().map_err(|_| invalid("not an IPv4 address"))?;
        let prefix: u8 = prefix.parse().map_err(|_| invalid("bad prefix length"))?;
        if !(16..=29).contains(&prefix) {
            return Err(invalid("prefix length must be between 16 and 29"));
        }
        if !address.is_private() {
            return Err(invalid("not a private range (10/8, 172.16/12, 192.168/16)"));
        }
        let network = Ipv4Addr::from(u32::from(address) & mask(prefix));
        Ok(BridgeOptions { bridge: bridge.to_owned(), network, prefix })
    }

    fn gateway(&self) -> Ipv4Addr {
        Ipv4Addr::from(u32::from(self.network) + 1)
    }

    fn host_count(&self) -> u32 {
        (1u32 << (32 - self.prefix)) - 2
    }
}

fn mask(prefix: u8) -> u32 {
    if prefix == 0 { 0 } else { u32::MAX << (32 - prefix) }
}

fn overlaps(a: Ipv4Addr, a_prefix: u8, b: Ipv4Addr, b_prefix: u8) -> bool {
    let common = mask(a_prefix.min(b_prefix));
    u32::from(a) & common == u32::from(b) & common
}

/// What a container got, kept in its state for `delete`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attachment {
    pub bridge: String,
    pub host_veth: String,
    pub address: Ipv4Addr,
    pub prefix: u8,
    /// The lease directory; the lease file in it is named by `address`.
    pub lease_dir: PathBuf,
}

/// The host end's name: short enough for IFNAMSIZ, stable for an id.
pub fn host_veth_name(id: &str) -> String {
    // FNV-1a: a fixed hash, so the name does not change between builds.
    let hash = id
        .bytes()
        .fold(0x811c_9dc5u32, |hash, byte| (hash ^ u32::from(byte)).wrapping_mul(0x0100_0193));
    format!("crv{hash:08x}")
}

/// The lease directory of a bridge, locked until dropped. The directory
/// may be removed by whoever holds the lock, so a lock on one that has
/// since been removed is retried.
struct LockedLeases {
    dir: PathBuf,
    _lock: Flock<File>,
}

impl LockedLeases {
    fn lock(dir: &Path) -> Result<Self> {
        loop {
            fs::create_dir_all(dir).context(|| format!("creating {}", dir.display()))?;
            let file = match File::open(dir) {
                Ok(file) => file,
                Err(err) if err.kind() == ErrorKind::NotFound => continue,
                Err(err) => return Err(err).context(|| format!("opening {}", dir.display())),
            };
            let lock = Flock::lock(file, FlockArg::LockExclusive)
                .map_err(|(_, err)| err)
                .context(|| format!("locking {}", dir.display()))?;
            let locked = lock.metadata().context(|| format!("stat {}", dir.display()))?;
            match fs::metadata(dir) {
                Ok(now) if now.ino() == locked.ino() && now.dev() == locked.dev() => {
                    return Ok(LockedLeases { dir: dir.to_path_buf(), _lock: lock });
                }
                _ => continue,
            }
        }
    }

    fn leases(&self) -> Vec<Ipv4Addr> {
        fs::read_dir(&self.dir)
            .map(|entries| {
                entries.flatten().filter_map(|e| e.file_name().to_str()?.parse().ok()).collect()
            })
            .unwrap_or_default()
    }

    fn take(&self, options: &BridgeOptions, id: &str) -> Result<Ipv4Addr> {
        for offset in 2..=options.host_count() {
            let address = Ipv4Addr::from(u32::from(options.network) + offset);
            let path = self.dir.join(address.to_string());
            match fs::OpenOptions::new().write(true).create_new(true).open(&path) {
                Ok(_) => {
                    fs::write(&path, id).context(|| format!("writing {}", path.display()))?;
                    return Ok(address);
                }
                Err(err) if err.kind() == ErrorKind::AlreadyExists => continue,
                Err(err) => return Err(err).context(|| format!("creating {}", path.display())),
            }
        }
        Err(Error::Init(format!("no free address left on bridge {}", options.bridge)))
    }

    fn release(&self, address: Ipv4Addr) {
        let _ = fs::remove_file(self.dir.join(address.to_string()));
    }

    /// With no lease left: the bridge goes if cradle made it, then the directory.
    fn remove_bridge_if_unused(&self, netlink: &mut Netlink, bridge: &str) -> Result<()> {
        if !self.leases().is_empty() {
            return Ok(());
        }
        if self.dir.join(CREATED_MARK).exists() {
            netlink.delete_link(bridge)?;
        }
        let _ = fs::remove_file(self.dir.join(CREATED_MARK));
        let _ = fs::remove_dir(&self.dir);
        Ok(())
    }
}

/// Where this network namespace's leases for `bridge` live.
fn lease_dir(bridge: &str) -> Result<PathBuf> {
    let netns =
        fs::metadata("/proc/self/ns/net").context(|| "stat /proc/self/ns/net".to_owned())?;
    Ok(Path::new(LEASE_ROOT).join(format!("{bridge}@{}", netns.ino())))
}

/// Connects the container whose init is `pid` to the bridge.
pub fn attach(options: &BridgeOptions, id: &str, pid: i32) -> Result<Attachment> {
    let leases = LockedLeases::lock(&lease_dir(&options.bridge)?)?;
    let mut host = Netlink::open()?;
    let bridge = ensure_bridge(&mut host, options, &leases)?;
    let address = match leases.take(options, id) {
        Ok(address) => address,
        Err(err) => {
            let _ = leases.remove_bridge_if_unused(&mut host, &options.bridge);
            return Err(err);
        }
    };
    let attachment = Attachment {
        bridge: options.bridge.clone(),
        host_veth: host_veth_name(id),
        address,
        prefix: options.prefix,
        lease_dir: leases.dir.clone(),
    };
    let wired = wire(&mut host, options, &attachment, bridge, pid);
    if let Err(err) = wired {
        let _ = host.delete_link(&attachment.host_veth);
        leases.release(address);
        let _ = leases.remove_bridge_if_unused(&mut host, &options.bridge);
        return Err(err);
    }
    Ok(attachment)
}

fn ensure_bridge(
    host: &mut Netlink,
    options: &BridgeOptions,
    leases: &LockedLeases,
) -> Result<u32> {
    let gateway = options.gateway();
    let addresses = host.addresses()?;
    if let Some(index) = host.link_index(&options.bridge)? {
        let own: Vec<_> = addresses.iter().filter(|a| a.index == index).collect();
        if own.iter().any(|a| a.address == gateway && a.prefix == options.prefix) {
            return Ok(index);
        }
        if let Some(other) = own.first() {
            return Err(Error::invalid(
                "--bridge",
                format!(
                    "bridge {} has address {}/{}, not {gateway}/{}",
                    options.bridge, other.address, other.prefix, options.prefix
                ),
            ));
        }
        check_conflicts(&addresses, options)?;
        host.add_address(index, gateway, options.prefix)?;
        host.set_up(index)?;
        return Ok(index);
    }
    check_conflicts(&addresses, options)?;
    host.create_bridge(&options.bridge)?;
    fs::write(leases.dir.join(CREATED_MARK), "")
        .context(|| format!("marking {}", leases.dir.display()))?;
    let index = host
        .link_index(&options.bridge)?
        .ok_or_else(|| Error::Init(format!("bridge {} vanished", options.bridge)))?;
    let configured =
        host.add_address(index, gateway, options.prefix).and_then(|()| host.set_up(index));
    if let Err(err) = configured {
        let _ = leases.remove_bridge_if_unused(host, &options.bridge);
        return Err(err);
    }
    Ok(index)
}

/// The subnet must not overlap any address already in this namespace.
fn check_conflicts(addresses: &[netlink::LinkAddress], options: &BridgeOptions) -> Result<()> {
    if let Some(clash) =
        addresses.iter().find(|a| overlaps(a.address, a.prefix, options.network, options.prefix))
    {
        return Err(Error::invalid(
            "--subnet",
            format!(
                "{}/{} overlaps {}/{} already on link {}",
                options.network, options.prefix, clash.address, clash.prefix, clash.index
            ),
        ));
    }
    Ok(())
}

fn wire(
    host: &mut Netlink,
    options: &BridgeOptions,
    attachment: &Attachment,
    bridge: u32,
    pid: i32,
) -> Result<()> {
    let netns_path = format!("/proc/{pid}/ns/net");
    let netns = open(netns_path.as_str(), OFlag::O_RDONLY | OFlag::O_CLOEXEC, Mode::empty())
        .context(|| format!("opening {netns_path}"))?;
    host.create_veth(&attachment.host_veth, "eth0", &netns)?;
    let veth = host
        .link_index(&attachment.host_veth)?
        .ok_or_else(|| Error::Init(format!("veth {} vanished", attachment.host_veth)))?;
    host.set_master(veth, bridge)?;
    host.set_up(veth)?;
    let mut inside = netlink_in(&netns)?;
    let eth0 = inside
        .link_index("eth0")?
        .ok_or_else(|| Error::Init("eth0 is missing in the container".to_owned()))?;
    inside.add_address(eth0, attachment.address, options.prefix)?;
    inside.set_up(eth0)?;
    if let Some(lo) = inside.link_index("lo")? {
        inside.set_up(lo)?;
    }
    inside.add_default_route(options.gateway())
}

/// A netlink socket inside `netns`: the caller (single-threaded) steps
/// into the namespace, opens it, and steps back; the socket stays there.
fn netlink_in(netns: &OwnedFd) -> Result<Netlink> {
    let own = open("/proc/self/ns/net", OFlag::O_RDONLY | OFlag::O_CLOEXEC, Mode::empty())
        .context(|| "opening /proc/self/ns/net".to_owned())?;
    setns(netns.as_fd(), CloneFlags::CLONE_NEWNET)
        .context(|| "entering the container's network namespace".to_owned())?;
    let socket = Netlink::open();
    setns(own.as_fd(), CloneFlags::CLONE_NEWNET).unwrap_or_else(|err| {
        // Staying in the container's namespace would misplace everything after.
        panic!("returning to the runtime's network namespace (fd {}): {err}", own.as_raw_fd())
    });
    socket
}

/// Undoes [`attach`]: the veth (usually gone with the namespace already),
/// the lease, and the bridge with its last container.
pub fn detach(attachment: &Attachment) -> Result<()> {
    let leases = LockedLeases::lock(&attachment.lease_dir)?;
    let mut host = Netlink::open()?;
    host.delete_link(&attachment.host_veth)?;
    leases.release(attachment.address);
    leases.remove_bridge_if_unused(&mut host, &attachment.bridge)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_are_checked() {
        let options = BridgeOptions::new("cradle0", "10.89.3.7/24").unwrap();
        assert_eq!(options.network, Ipv4Addr::new(10, 89, 3, 0));
        assert_eq!(options.gateway(), Ipv4Addr::new(10, 89, 3, 1));
        assert_eq!(options.host_count(), 254);
        let err = BridgeOptions::new("a-bridge-name-too-long", "10.89.0.0/24").unwrap_err();
        assert!(err.to_string().contains("15 bytes"), "{err}");
        assert!(BridgeOptions::new("br", "8.8.8.0/24").is_err());
        assert!(BridgeOptions::new("br", "10.0.0.0/8").is_err());
    }

    #[test]
    fn overlap_and_veth_names() {
        let net = Ipv4Addr::new(10, 89, 0, 0);
        assert!(overlaps(Ipv4Addr::new(10, 89, 0, 77), 32, net, 24));
        assert!(overlaps(Ipv4Addr::new(10, 0, 0, 1), 8, net, 24));
        assert!(!overlaps(Ipv4Addr::new(10, 89, 1, 1), 24, net, 24));
        let name = host_veth_name("some-container-id");
        assert!(name.len() <= MAX_LINK_NAME && name.starts_with("crv"), "{name}");
        assert_ne!(name, host_veth_name("some-container-id2"));
    }
}
