//! The few system calls std does not wrap.
#![allow(unsafe_code)]

/// Forks into the background (`daemonize yes`): the parent exits, the child starts a new
/// session and points stdio at /dev/null, as Redis's `daemonize()` does.
pub fn daemonize() -> std::io::Result<()> {
    // SAFETY: called before the runtime or any other thread starts, so the child inherits a
    // single-threaded process and may keep running Rust code after fork.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return Err(std::io::Error::last_os_error());
    }
    if pid > 0 {
        std::process::exit(0);
    }
    // SAFETY: setsid has no memory-safety preconditions.
    unsafe { libc::setsid() };
    let devnull = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/null")?;
    use std::os::fd::AsRawFd;
    for fd in 0..3 {
        // SAFETY: dup2 onto the standard descriptors with a valid open descriptor.
        unsafe { libc::dup2(devnull.as_raw_fd(), fd) };
    }
    Ok(())
}
