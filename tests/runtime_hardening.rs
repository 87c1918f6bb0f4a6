//! Docker's default hardening, as `cradle bundle` writes it, seen from
//! inside the container: one test per mechanism.

#[path = "common/runtime.rs"]
mod runtime;

use runtime::{Sandbox, stderr, stdout};
use serde_json::json;

/// Runs `script` in a fresh `cradle bundle` container, after `edit`.
fn run_script(name: &str, script: &str, edit: impl FnOnce(&mut serde_json::Value)) -> String {
    let sandbox = Sandbox::new();
    let bundle = sandbox.bundle("b", &["sh", "-c", script]);
    sandbox.edit_config(&bundle, edit);
    let out = sandbox.output(&["run", "--bundle", bundle.to_str().unwrap(), &sandbox.id(name)]);
    assert!(out.status.success(), "run failed: {}", stderr(&out));
    stdout(&out)
}

fn status_field(text: &str, field: &str) -> String {
    text.lines()
        .find_map(|line| line.strip_prefix(&format!("{field}:")))
        .unwrap_or_else(|| panic!("no {field} in:\n{text}"))
        .trim()
        .to_owned()
}

/// Docker's 14 capabilities, by number (capability.h).
const DOCKER_CAPABILITY_BITS: [u32; 14] = [
    0,  // CHOWN
    1,  // DAC_OVERRIDE
    3,  // FOWNER
    4,  // FSETID
    5,  // KILL
    6,  // SETGID
    7,  // SETUID
    8,  // SETPCAP
    10, // NET_BIND_SERVICE
    13, // NET_RAW
    18, // SYS_CHROOT
    27, // MKNOD
    29, // AUDIT_WRITE
    31, // SETFCAP
];

#[test]
fn cannot_mount_or_load_modules() {
    let text = run_script(
        "nomount",
        "mount -t tmpfs none /mnt 2>&1; echo mount=$?; \
         echo junk > /tmp/m.ko; insmod /tmp/m.ko 2>&1; echo insmod=$?; \
         ls /mnt | wc -l",
        |_| {},
    );
    assert!(text.contains("mount=1") || text.contains("mount=255"), "{text}");
    assert!(text.contains("insmod=1"), "{text}");
    // Refused for lack of privilege, not for a bad module image.
    assert!(text.contains("Operation not permitted"), "{text}");
    assert!(!text.contains("Exec format error") && !text.contains("Invalid module"), "{text}");
}

#[test]
fn capability_sets_are_dockers() {
    let text = run_script("caps", "grep Cap /proc/self/status", |_| {});
    let expected = DOCKER_CAPABILITY_BITS.iter().fold(0u64, |mask, bit| mask | 1 << bit);
    let expected = format!("{expected:016x}");
    assert_eq!(status_field(&text, "CapEff"), expected, "{text}");
    assert_eq!(status_field(&text, "CapBnd"), expected, "{text}");
    assert_eq!(status_field(&text, "CapPrm"), expected, "{text}");
    assert_eq!(status_field(&text, "CapInh"), "0000000000000000", "{text}");
    assert_eq!(status_field(&text, "CapAmb"), "0000000000000000", "{text}");
}

/// A non-root user keeps exactly what the spec grants across the switch
/// from root: an ambient capability survives execve.
#[test]
fn ambient_capability_of_a_non_root_user() {
    let text = run_script("ambient", "id -u; grep Cap /proc/self/status", |config| {
        config["process"]["user"] = json!({"uid": 65534, "gid": 65534});
        let one = json!(["CAP_NET_BIND_SERVICE"]);
        let caps = &mut config["process"]["capabilities"];
        caps["inheritable"] = one.clone();
        caps["ambient"] = one.clone();
    });
    let net_bind_service = format!("{:016x}", 1u64 << 10);
    assert!(text.starts_with("65534\n"), "{text}");
    assert_eq!(status_field(&text, "CapAmb"), net_bind_service, "{text}");
    assert_eq!(status_field(&text, "CapEff"), net_bind_service, "{text}");
}

#[test]
fn no_new_privileges_when_asked() {
    let text = run_script("nnp-off", "grep NoNewPrivs /proc/self/status", |_| {});
    assert_eq!(status_field(&text, "NoNewPrivs"), "0");
    let text = run_script("nnp-on", "grep NoNewPrivs /proc/self/status", |config| {
        config["process"]["noNewPrivileges"] = json!(true);
    });
    assert_eq!(status_field(&text, "NoNewPrivs"), "1");
}

#[test]
fn seccomp_filter_with_a_chosen_errno() {
    // EDQUOT is what no mkdir in /tmp would fail with on its own.
    let script = "grep Seccomp: /proc/self/status; mkdir /tmp/x 2>&1; echo mkdir=$?; \
                  touch /tmp/y && echo touch-ok";
    for nnp in [false, true] {
        let text = run_script("seccomp", script, |config| {
            config["process"]["noNewPrivileges"] = json!(nnp);
            let rules = config["linux"]["seccomp"]["syscalls"].as_array_mut().unwrap();
            rules.insert(
                0,
                json!({"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO",
                       "errnoRet": libc::EDQUOT}),
            );
        });
        assert_eq!(status_field(&text, "Seccomp"), "2", "{text}");
        assert!(text.contains("Disk quota exceeded"), "nnp={nnp}: {text}");
        assert!(text.contains("mkdir=1") && text.contains("touch-ok"), "nnp={nnp}: {text}");
    }
}

#[test]
fn masked_paths_read_empty() {
    let text = run_script(
        "masked",
        "for f in /proc/kcore /proc/keys /proc/timer_list; do \
           test -e $f && echo \"$f $(cat $f | wc -c)\"; done; \
         echo acpi $(ls /proc/acpi | wc -l); (echo > /proc/acpi/x) 2>/dev/null || echo acpi-ro",
        |_| {},
    );
    // /proc/kcore exists only on kernels built with it; where it does, it
    // is masked like the others.
    let host_has = |path: &str| std::path::Path::new(path).exists();
    for path in ["/proc/kcore", "/proc/keys", "/proc/timer_list"] {
        if host_has(path) {
            assert!(text.contains(&format!("{path} 0\n")), "{path} not masked: {text}");
        }
    }
    assert!(host_has("/proc/keys"), "this test needs at least one masked file on the host");
    assert!(text.contains("acpi 0\n") && text.contains("acpi-ro"), "{text}");
}

#[test]
fn proc_sys_is_read_only() {
    let text = run_script(
        "procsys",
        "(echo 1 > /proc/sys/kernel/ns_last_pid) 2>&1; echo write=$?; \
         grep ' /proc/sys ' /proc/self/mountinfo | cut -d' ' -f6",
        |_| {},
    );
    assert!(text.contains("Read-only file system"), "{text}");
    assert!(text.contains("write=1"), "{text}");
    assert!(text.lines().last().unwrap().split(',').any(|flag| flag == "ro"), "{text}");
}

#[test]
fn sysctl_is_written_in_the_container_only() {
    let host = std::fs::read_to_string("/proc/sys/net/ipv4/ip_unprivileged_port_start").unwrap();
    let text =
        run_script("sysctl", "cat /proc/sys/net/ipv4/ip_unprivileged_port_start", |config| {
            config["linux"]["sysctl"] = json!({"net.ipv4.ip_unprivileged_port_start": "99"});
        });
    assert_eq!(text.trim(), "99");
    let after = std::fs::read_to_string("/proc/sys/net/ipv4/ip_unprivileged_port_start").unwrap();
    assert_eq!(after, host, "the host's value changed");
}

#[test]
fn read_only_root() {
    let text = run_script("roroot", "touch /x 2>&1; echo touch=$?", |config| {
        config["root"]["readonly"] = json!(true);
    });
    assert!(text.contains("Read-only file system") && text.contains("touch=1"), "{text}");
}
