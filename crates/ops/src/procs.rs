//! Processes of a deployment: started detached, known afterwards only by the PID recorded in
//! their directory, and stopped by that PID.
//!
//! A recorded PID can outlive its process and be reused by an unrelated one, so before
//! signalling we check that the PID still runs the binary we started (`/proc/PID/exe`) in the
//! directory we gave it (`/proc/PID/cwd`). A zombie counts as gone: it is already dead and
//! only waits for its parent (init, once `redoubt up` has exited) to reap it.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::Context;

/// Starts `bin args...` in `dir`, detached: its own process group (a Ctrl-C in the terminal
/// that ran `redoubt up` does not reach it), stdin closed, stdout and stderr appended to
/// `stdio_log` (the server logs to its own file; this catches what comes before or instead,
/// such as a config error). Returns the PID, written to `pid_file` too.
pub fn spawn_detached(
    bin: &Path,
    args: &[String],
    dir: &Path,
    stdio_log: &Path,
    pid_file: &Path,
) -> anyhow::Result<u32> {
    use std::os::unix::process::CommandExt;
    let out = File::options()
        .create(true)
        .append(true)
        .open(stdio_log)
        .with_context(|| format!("opening {}", stdio_log.display()))?;
    let err = out.try_clone()?;
    let child = Command::new(bin)
        .args(args)
        .current_dir(dir)
        .process_group(0)
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .spawn()
        .with_context(|| format!("starting {}", bin.display()))?;
    let pid = child.id();
    // Not waited for: the process outlives us; init reaps it once we have exited.
    drop(child);
    std::fs::write(pid_file, format!("{pid}\n"))
        .with_context(|| format!("writing {}", pid_file.display()))?;
    Ok(pid)
}

pub fn read_pid(pid_file: &Path) -> Option<u32> {
    std::fs::read_to_string(pid_file).ok()?.trim().parse().ok()
}

/// Whether `pid` is a live (not zombie) process.
pub fn alive(pid: u32) -> bool {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return false;
    };
    // The state follows the command name, which is in parentheses and may contain spaces.
    let state = stat
        .rfind(')')
        .and_then(|i| stat[i + 1..].split_whitespace().next());
    !matches!(state, Some("Z") | Some("X") | None)
}

/// Whether `pid` is alive and is the process we started: `bin` running in `dir`.
pub fn is_ours(pid: u32, bin: &Path, dir: &Path) -> bool {
    if !alive(pid) {
        return false;
    }
    let same = |link: PathBuf, want: &Path| match (link.read_link(), want.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    };
    same(PathBuf::from(format!("/proc/{pid}/exe")), bin)
        && same(PathBuf::from(format!("/proc/{pid}/cwd")), dir)
}

/// Sends `sig` to `pid`.
#[allow(unsafe_code)]
pub fn signal(pid: u32, sig: i32) -> std::io::Result<()> {
    let pid = libc::pid_t::try_from(pid).map_err(|_| std::io::Error::other("pid out of range"))?;
    // SAFETY: kill(2) takes two integers and touches no memory of ours. Callers check with
    // `is_ours` first that the PID is still the process we started.
    let rc = unsafe { libc::kill(pid, sig) };
    if rc == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

/// Polls until none of `pids` is alive or `deadline` passes; returns the survivors.
pub fn wait_gone(pids: &[u32], deadline: Duration) -> Vec<u32> {
    let start = Instant::now();
    let mut pause = Duration::from_millis(2);
    loop {
        let left: Vec<u32> = pids.iter().copied().filter(|p| alive(*p)).collect();
        if left.is_empty() || start.elapsed() >= deadline {
            return left;
        }
        std::thread::sleep(pause);
        pause = (pause * 2).min(Duration::from_millis(50));
    }
}

/// SIGTERM (a server's clean shutdown: AOF flushed, Sentinel config saved), then SIGKILL for
/// whatever is still alive after `grace`. Returns the PIDs that survived even SIGKILL.
pub fn stop_all(pids: &[u32], grace: Duration) -> Vec<u32> {
    for &p in pids {
        let _ = signal(p, libc::SIGTERM);
    }
    let left = wait_gone(pids, grace);
    for &p in &left {
        let _ = signal(p, libc::SIGKILL);
    }
    wait_gone(&left, Duration::from_secs(5))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_process_is_alive_and_ours() {
        let me = std::process::id();
        assert!(alive(me));
        let exe = std::env::current_exe().expect("test executable");
        let cwd = std::env::current_dir().expect("cwd");
        assert!(is_ours(me, &exe, &cwd));
        assert!(!is_ours(me, Path::new("/bin/sh"), &cwd));
        assert!(!alive(u32::MAX));
    }
}
