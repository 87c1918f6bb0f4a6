//! `linux.sysctl`: only parameters that belong to a namespace the
//! container has its own of, so that none changes the host; written to
//! `/proc/sys` inside the container.

use std::collections::BTreeMap;

use crate::{
    config::{NamespaceConfig, NamespaceKind},
    error::{Context, Error, Result},
};

/// The namespace a sysctl belongs to, or `None` if it is host-wide.
fn owning_namespace(key: &str) -> Option<NamespaceKind> {
    const IPC: [&str; 8] = [
        "kernel.msgmax",
        "kernel.msgmnb",
        "kernel.msgmni",
        "kernel.sem",
        "kernel.shmall",
        "kernel.shmmax",
        "kernel.shmmni",
        "kernel.shm_rmid_forced",
    ];
    if key.starts_with("net.") {
        Some(NamespaceKind::Network)
    } else if IPC.contains(&key) || key.starts_with("fs.mqueue.") {
        Some(NamespaceKind::Ipc)
    } else if matches!(key, "kernel.hostname" | "kernel.domainname") {
        Some(NamespaceKind::Uts)
    } else {
        None
    }
}

pub fn validate(sysctl: &BTreeMap<String, String>, namespaces: &[NamespaceConfig]) -> Result<()> {
    for key in sysctl.keys() {
        let field = format!("linux.sysctl ({key})");
        let well_formed = !key.is_empty()
            && key.split('.').all(|part| !part.is_empty() && part != "..")
            && key.bytes().all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b));
        if !well_formed {
            return Err(Error::invalid(field, "is not a sysctl name"));
        }
        let Some(kind) = owning_namespace(key) else {
            return Err(Error::invalid(field, "is not namespaced: it would change the host"));
        };
        let Some(namespace) = namespaces.iter().find(|ns| ns.kind == kind) else {
            return Err(Error::invalid(
                field,
                format!("needs the container to have a {} namespace", kind.proc_name()),
            ));
        };
        // A joined namespace counts only if it is not the host's (runc's
        // checkHostNs).
        if namespace.is_runtimes_own()? {
            return Err(Error::invalid(
                field,
                format!(
                    "the {} namespace it would be set in is the runtime's own: it would change \
                     the host",
                    kind.proc_name()
                ),
            ));
        }
    }
    Ok(())
}

/// Run in the init after the root switch, with /proc mounted.
pub fn apply(sysctl: &BTreeMap<String, String>) -> Result<()> {
    for (key, value) in sysctl {
        let path = format!("/proc/sys/{}", key.replace('.', "/"));
        std::fs::write(&path, value)
            .context(|| format!("linux.sysctl: writing {value:?} to {path}"))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_namespaced_parameters_with_their_namespace() {
        let net = [NamespaceConfig { kind: NamespaceKind::Network, path: None }];
        let one = |key: &str| BTreeMap::from([(key.to_owned(), "1".to_owned())]);
        validate(&one("net.ipv4.ip_forward"), &net).unwrap();
        let err = validate(&one("kernel.sem"), &net).unwrap_err();
        assert!(err.to_string().contains("ipc namespace"), "{err}");
        let err = validate(&one("vm.swappiness"), &net).unwrap_err();
        assert!(err.to_string().contains("not namespaced"), "{err}");
        let host_net = [NamespaceConfig {
            kind: NamespaceKind::Network,
            path: Some("/proc/self/ns/net".into()),
        }];
        let err = validate(&one("net.ipv4.ip_forward"), &host_net).unwrap_err();
        assert!(err.to_string().contains("runtime's own"), "{err}");
        let err = validate(&one("net/../x"), &net).unwrap_err();
        assert!(err.to_string().contains("not a sysctl name"), "{err}");
    }
}
