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

fn timeval_us(tv: libc::timeval) -> u64 {
    tv.tv_sec as u64 * 1_000_000 + tv.tv_usec as u64
}

/// `getrusage` for one target, as (system, user) microseconds; zeros if it fails.
fn rusage(who: libc::c_int) -> (u64, u64) {
    // SAFETY: getrusage only writes into the zero-initialized struct we own; an all-zero
    // `rusage` is a valid value of that plain C struct.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: `ru` is a valid, writable rusage for the duration of the call.
    if unsafe { libc::getrusage(who, &mut ru) } != 0 {
        return (0, 0);
    }
    (timeval_us(ru.ru_stime), timeval_us(ru.ru_utime))
}

/// CPU time for INFO cpu: the process, its children, and the calling (main) thread,
/// as Redis reads them.
pub fn cpu_usage() -> redoubt_engine::CpuUsage {
    let (sys_us, user_us) = rusage(libc::RUSAGE_SELF);
    let (sys_children_us, user_children_us) = rusage(libc::RUSAGE_CHILDREN);
    let (sys_main_thread_us, user_main_thread_us) = rusage(libc::RUSAGE_THREAD);
    redoubt_engine::CpuUsage {
        sys_us,
        user_us,
        sys_children_us,
        user_children_us,
        sys_main_thread_us,
        user_main_thread_us,
    }
}

/// Physical memory in bytes (`total_system_memory`), as Redis's `zmalloc_get_memory_size`.
pub fn total_system_memory() -> u64 {
    // SAFETY: sysconf has no memory-safety preconditions.
    let (pages, page) = unsafe {
        (
            libc::sysconf(libc::_SC_PHYS_PAGES),
            libc::sysconf(libc::_SC_PAGESIZE),
        )
    };
    if pages <= 0 || page <= 0 {
        return 0;
    }
    pages as u64 * page as u64
}

/// jemalloc's own statistics report (`malloc_stats_print`), as MEMORY MALLOC-STATS gives it.
pub fn malloc_stats() -> String {
    unsafe extern "C" fn append(opaque: *mut libc::c_void, text: *const libc::c_char) {
        // SAFETY: `opaque` is the `&mut String` passed below, alive and unaliased for the
        // whole `malloc_stats_print` call; jemalloc passes a NUL-terminated string.
        let (out, text) = unsafe {
            (
                &mut *opaque.cast::<String>(),
                std::ffi::CStr::from_ptr(text),
            )
        };
        out.push_str(&text.to_string_lossy());
    }
    let mut out = String::new();
    // SAFETY: the callback only appends to `out`, which outlives the call; a null options
    // string asks for the default report.
    unsafe {
        tikv_jemalloc_sys::malloc_stats_print(
            Some(append),
            (&mut out as *mut String).cast(),
            std::ptr::null(),
        );
    }
    out
}

/// SIGKILL to a child we started (a Sentinel script that ran too long).
pub fn kill9(pid: u32) {
    if let Ok(pid) = libc::pid_t::try_from(pid) {
        // SAFETY: kill(2) has no memory-safety preconditions; a stale pid only fails.
        unsafe { libc::kill(pid, libc::SIGKILL) };
    }
}
