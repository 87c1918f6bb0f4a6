//! The runtime spec version cradle implements, and `features`: the OCI
//! features document (runtime-spec `features.md`, as runc prints it) of
//! what this runtime accepts. It claims only what cradle implements; each
//! claim is exercised by a test (`tests/runtime_cli_contract.rs`). Fields
//! it leaves out mean "unknown" to a reader, as the spec allows.

use serde_json::{Value, json};

use crate::hooks::HOOK_NAMES;

/// The runtime spec version cradle implements: written in the configs and
/// states it makes, reported here and by `cradle --version`.
pub const SPEC_VERSION: &str = "1.0.2";

/// The namespace types a config may list, in the spec's names.
pub const NAMESPACES: [&str; 6] = ["pid", "network", "ipc", "uts", "mount", "cgroup"];

/// The seccomp actions the filter compiler accepts (NOTIFY with an agent
/// at `listenerPath`).
pub const SECCOMP_ACTIONS: [&str; 9] = [
    "SCMP_ACT_ALLOW",
    "SCMP_ACT_ERRNO",
    "SCMP_ACT_KILL",
    "SCMP_ACT_KILL_PROCESS",
    "SCMP_ACT_KILL_THREAD",
    "SCMP_ACT_LOG",
    "SCMP_ACT_NOTIFY",
    "SCMP_ACT_TRACE",
    "SCMP_ACT_TRAP",
];

pub const SECCOMP_OPERATORS: [&str; 7] = [
    "SCMP_CMP_EQ",
    "SCMP_CMP_GE",
    "SCMP_CMP_GT",
    "SCMP_CMP_LE",
    "SCMP_CMP_LT",
    "SCMP_CMP_MASKED_EQ",
    "SCMP_CMP_NE",
];

/// The architectures the compiled filter has a section for.
pub const SECCOMP_ARCHS: [&str; 3] = ["SCMP_ARCH_X86", "SCMP_ARCH_X86_64", "SCMP_ARCH_X32"];

pub fn document() -> Value {
    json!({
        "ociVersionMin": "1.0.0",
        "ociVersionMax": SPEC_VERSION,
        "hooks": HOOK_NAMES,
        "linux": {
            "namespaces": NAMESPACES,
            "cgroup": {
                "v1": true,
                "v2": true,
                "systemd": false,
                "systemdUser": false,
                "rdma": false,
            },
            "seccomp": {
                "enabled": true,
                "actions": SECCOMP_ACTIONS,
                "operators": SECCOMP_OPERATORS,
                "archs": SECCOMP_ARCHS,
            },
            "selinux": {"enabled": false},
            "intelRdt": {"enabled": false},
            "mountExtensions": {"idmap": {"enabled": false}},
        },
    })
}
