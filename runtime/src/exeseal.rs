//! The runtime runs from a sealed copy of its own binary (CVE-2019-5736).
//!
//! The init and `exec`'s child are forks of the runtime: their
//! `/proc/PID/exe` is the runtime's binary, and so is `/proc/self/exe` to
//! any program they exec (a container's `/bin/sh` may be `#!/proc/self/exe`,
//! which runs the runtime's binary inside the container with the
//! container's `ld.so.preload`). A root of the container that can open that
//! file for writing overwrites the host's cradle, which the host's root
//! runs next. So before a command that enters a container does anything,
//! the runtime re-executes itself from a copy that cannot be written:
//!
//! - a read-only overlayfs mount made with `fsopen` and never attached
//!   anywhere, whose lower layer is the binary's directory: zero copy, a
//!   few syscalls (runc's first choice too); writing through it is EROFS
//!   and there is no path to unwrap it;
//! - otherwise (no overlayfs, no privilege) a memfd copy sealed against
//!   writes, growing and shrinking (F_SEAL_WRITE and friends, EPERM).
//!
//! A privileged runtime also makes itself non-dumpable, so the processes
//! that enter the container (which inherit it) cannot be opened through
//! `/proc/PID/{exe,fd,root}` by the container's processes until their
//! final `execve`, which makes the workload dumpable again. An
//! unprivileged runtime stays dumpable: its init's id maps are written by
//! the runtime or `newuidmap`, which need that; its container's root is the
//! calling user, who owns nothing more than the user's own files.

use std::{
    ffi::{CString, OsStr, OsString},
    os::{
        fd::{AsRawFd, OwnedFd},
        unix::ffi::{OsStrExt, OsStringExt},
    },
    path::{Path, PathBuf},
};

use rustix::{
    fs::{MemfdFlags, Mode, OFlags, SealFlags},
    mount::{FsMountFlags, FsOpenFlags, MountAttrFlags},
};

use crate::error::{Context, Error, Result};

/// Set for the re-executed copy only, and removed by it at once.
const SEALED_MARK: &str = "_CRADLE_EXE_SEALED";

/// The seals a memfd copy must carry (runc's set).
const MEMFD_SEALS: SealFlags =
    SealFlags::SEAL.union(SealFlags::SHRINK).union(SealFlags::GROW).union(SealFlags::WRITE);

const OVERLAYFS_SUPER_MAGIC: i64 = 0x794c_7630;

/// The lower layer under the binary's directory: overlayfs with no upper
/// layer needs two, and this one must not contain the binary's directory
/// (overlapping layers are refused). Only the binary's name is looked up,
/// and the top layer has it.
const SECOND_LAYER: &str = "/dev";

/// Re-executes this process from a sealed copy of its binary, unless it
/// already runs from one; then makes it non-dumpable when privileged.
/// Must run before the process starts a thread or opens anything it needs.
pub fn run_sealed() -> Result<()> {
    if std::env::var_os(SEALED_MARK).is_some() {
        // SAFETY: called first thing by the single-threaded binary, before
        // anything reads the environment concurrently.
        unsafe { std::env::remove_var(SEALED_MARK) };
        if !runs_sealed()? {
            return Err(Error::Init(
                "re-executed from a sealed copy, but /proc/self/exe is not sealed".into(),
            ));
        }
        restore_name();
        if rustix::process::geteuid().is_root() {
            rustix::process::set_dumpable_behavior(rustix::process::DumpableBehavior::NotDumpable)
                .map_err(std::io::Error::from)
                .context(|| "making the runtime non-dumpable".to_owned())?;
        }
        return Ok(());
    }
    let sealed = sealed_copy()?;
    reexec(&sealed)
}

/// Whether `/proc/self/exe` is a sealed memfd or a file on a read-only
/// overlayfs.
pub fn runs_sealed() -> Result<bool> {
    let exe = rustix::fs::open("/proc/self/exe", OFlags::RDONLY | OFlags::CLOEXEC, Mode::empty())
        .map_err(std::io::Error::from)
        .context(|| "opening /proc/self/exe".to_owned())?;
    if rustix::fs::fcntl_get_seals(&exe).is_ok_and(|seals| seals.contains(MEMFD_SEALS)) {
        return Ok(true);
    }
    let stat = rustix::fs::fstatfs(&exe)
        .map_err(std::io::Error::from)
        .context(|| "statfs of /proc/self/exe".to_owned())?;
    let read_only = stat.f_flags.cast_unsigned() & libc::ST_RDONLY != 0;
    Ok(stat.f_type as i64 == OVERLAYFS_SUPER_MAGIC && read_only)
}

/// An `O_PATH` (overlay) or sealed memfd descriptor of this binary.
fn sealed_copy() -> Result<OwnedFd> {
    let binary = std::fs::read_link("/proc/self/exe")
        .context(|| "finding the runtime's own binary".to_owned())?;
    match read_only_overlay(&binary) {
        Ok(fd) => return Ok(fd),
        Err(err) => tracing::debug!("no read-only overlay of {}: {err}", binary.display()),
    }
    sealed_memfd()
}

fn read_only_overlay(binary: &Path) -> std::io::Result<OwnedFd> {
    let (Some(dir), Some(name)) = (binary.parent(), binary.file_name()) else {
        return Err(std::io::Error::other("the binary has no directory"));
    };
    // overlayfs splits lowerdir at ':' (and older kernels the whole
    // option string at ','); such a path takes the memfd path instead.
    if dir.as_os_str().as_bytes().iter().any(|byte| b":,\\".contains(byte)) {
        return Err(std::io::Error::other("the binary's directory needs escaping"));
    }
    let context = rustix::mount::fsopen("overlay", FsOpenFlags::FSOPEN_CLOEXEC)?;
    let mut layers = OsString::from(dir);
    layers.push(":");
    layers.push(SECOND_LAYER);
    rustix::mount::fsconfig_set_string(&context, "lowerdir", layers.as_os_str())?;
    // Only spares the kernel log a line about inode numbers.
    let _ = rustix::mount::fsconfig_set_string(&context, "xino", "off");
    rustix::mount::fsconfig_create(&context)?;
    let mount = rustix::mount::fsmount(
        &context,
        FsMountFlags::FSMOUNT_CLOEXEC,
        MountAttrFlags::MOUNT_ATTR_RDONLY
            | MountAttrFlags::MOUNT_ATTR_NODEV
            | MountAttrFlags::MOUNT_ATTR_NOSUID,
    )?;
    Ok(rustix::fs::openat(
        &mount,
        name,
        OFlags::PATH | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::empty(),
    )?)
}

fn sealed_memfd() -> Result<OwnedFd> {
    let io = |what: &'static str| {
        move |err: rustix::io::Errno| Error::Io {
            context: format!("sealed copy of the runtime: {what}"),
            cause: err.into(),
        }
    };
    let flags = MemfdFlags::CLOEXEC | MemfdFlags::ALLOW_SEALING;
    // MFD_EXEC (Linux 6.3) keeps it executable where vm.memfd_noexec
    // would not; older kernels refuse the flag and need none.
    let memfd = rustix::fs::memfd_create("cradle", flags | MemfdFlags::EXEC)
        .or_else(|_| rustix::fs::memfd_create("cradle", flags))
        .map_err(io("memfd_create"))?;
    let source =
        rustix::fs::open("/proc/self/exe", OFlags::RDONLY | OFlags::CLOEXEC, Mode::empty())
            .map_err(io("opening /proc/self/exe"))?;
    // A regular file's size is never negative.
    let size = rustix::fs::fstat(&source).map_err(io("fstat"))?.st_size.cast_unsigned();
    let mut copied = 0u64;
    while copied < size {
        let chunk = usize::try_from(size - copied).unwrap_or(usize::MAX);
        match rustix::fs::sendfile(&memfd, &source, None, chunk).map_err(io("copying"))? {
            0 => break,
            n => copied += n as u64,
        }
    }
    if copied != size {
        return Err(Error::Init(format!("sealed copy of the runtime: {copied} of {size} bytes")));
    }
    rustix::fs::fchmod(&memfd, Mode::from_raw_mode(0o511)).map_err(io("fchmod"))?;
    // F_SEAL_EXEC (Linux 6.3) keeps the mode as it is; older kernels lack it.
    let _ = rustix::fs::fcntl_add_seals(&memfd, SealFlags::EXEC);
    rustix::fs::fcntl_add_seals(&memfd, MEMFD_SEALS).map_err(io("sealing"))?;
    Ok(memfd)
}

/// execveat(fd, "", argv, envp + the mark, AT_EMPTY_PATH); returns only
/// on failure.
fn reexec(sealed: &OwnedFd) -> Result<()> {
    let to_c = |bytes: Vec<u8>| CString::new(bytes).map_err(|_| Error::Init("NUL in argv".into()));
    let argv: Vec<CString> =
        std::env::args_os().map(|arg| to_c(arg.into_vec())).collect::<Result<_>>()?;
    let mut envp: Vec<CString> = std::env::vars_os()
        .map(|(key, value)| {
            let mut entry = key.into_vec();
            entry.push(b'=');
            entry.extend(value.into_vec());
            to_c(entry)
        })
        .collect::<Result<_>>()?;
    envp.push(to_c(format!("{SEALED_MARK}=1").into_bytes())?);
    let argv_ptrs: Vec<*mut libc::c_char> =
        argv.iter().map(|arg| arg.as_ptr().cast_mut()).chain([std::ptr::null_mut()]).collect();
    let envp_ptrs: Vec<*mut libc::c_char> =
        envp.iter().map(|entry| entry.as_ptr().cast_mut()).chain([std::ptr::null_mut()]).collect();
    // SAFETY: both arrays are NULL-terminated arrays of pointers to
    // NUL-terminated strings that outlive the call; an empty path with
    // AT_EMPTY_PATH executes `sealed` itself.
    unsafe {
        libc::execveat(
            sealed.as_raw_fd(),
            c"".as_ptr(),
            argv_ptrs.as_ptr(),
            envp_ptrs.as_ptr(),
            libc::AT_EMPTY_PATH,
        )
    };
    Err(Error::Io {
        context: "re-executing the runtime from its sealed copy".into(),
        cause: std::io::Error::last_os_error(),
    })
}

/// The kernel names a process run through a descriptor after the
/// descriptor's number; `ps` and the tracer should still see the binary's
/// own name.
fn restore_name() {
    let Some(arg0) = std::env::args_os().next() else { return };
    let name = Path::new(&arg0).file_name().map(OsStr::to_owned).unwrap_or(arg0);
    let mut name: Vec<u8> = PathBuf::from(name).into_os_string().into_vec();
    name.truncate(15);
    if let Ok(name) = CString::new(name) {
        let _ = rustix::thread::set_name(&name);
    }
}
