//! A disk that fills up under the AOF, on real redis-server 7.0.15 and on redoubt-server
//! alike: `dir` is a 1 MB tmpfs mounted for the test (the tests run as root) and nearly
//! filled; the write whose AOF append fails is still acknowledged (`appendfsync everysec`),
//! then writes and PING get `-MISCONF Errors writing to the AOF file: No space left on
//! device`, reads still work, INFO shows `aof_last_write_status:err` and the unwritten bytes
//! in `aof_buffer_length`; once space is freed the retried write succeeds, writes are
//! accepted again, and the AOF passes `redis-check-aof` and reloads with every acknowledged
//! write. The short write is truncated away, as Redis does.
//! With `appendfsync always` the server cannot take back the replies it promised and exits
//! (status 1) with Redis's line, before replying to the write that failed.
//!
//! Set REDOUBT_SKIP_MOUNT_TESTS=1 where mounting is impossible (no CAP_SYS_ADMIN).

use redoubt_harness::{wait_for, Flavor, RawConn, ServerProcess, Value};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

const MISCONF: &str = "MISCONF Errors writing to the AOF file: No space left on device";

/// A tmpfs mounted for one test, unmounted when dropped.
struct Tmpfs {
    path: PathBuf,
    _dir: tempfile::TempDir,
}

impl Tmpfs {
    fn mount(size: &str) -> Tmpfs {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("mnt");
        std::fs::create_dir(&path).expect("mkdir");
        let st = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(&path)
            .status()
            .expect("run mount");
        assert!(
            st.success(),
            "mount -t tmpfs failed (these tests need root); set REDOUBT_SKIP_MOUNT_TESTS=1 to skip"
        );
        Tmpfs { path, _dir: dir }
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.path).status();
    }
}

fn free_bytes(p: &Path) -> u64 {
    let out = Command::new("df")
        .args(["--output=avail", "-B1"])
        .arg(p)
        .output()
        .expect("df");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .nth(1)
        .and_then(|l| l.trim().parse().ok())
        .expect("df output")
}

fn info_field(c: &mut RawConn, name: &str) -> String {
    let Value::Bulk(b) = c.cmd(&["INFO", "persistence"]) else {
        panic!("INFO is a bulk reply");
    };
    String::from_utf8_lossy(&b)
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{name}:")).map(str::to_string))
        .unwrap_or_else(|| panic!("no {name} in INFO"))
}

fn full_disk_case(flavor: Flavor) {
    if std::env::var_os("REDOUBT_SKIP_MOUNT_TESTS").is_some() {
        eprintln!("skipped: REDOUBT_SKIP_MOUNT_TESTS is set");
        return;
    }
    let fs = Tmpfs::mount("1m");
    let mut s = ServerProcess::builder(flavor)
        .directive("dir", &fs.path.display().to_string())
        .directive("appendonly", "yes")
        .directive("appendfsync", "everysec")
        .start()
        .expect("start");
    let mut c = s.connect().expect("connect");
    // Leave about 100 KB: a few 30 KB values fit, then a write is cut short.
    let filler = fs.path.join("filler");
    let free = free_bytes(&fs.path);
    std::fs::write(&filler, vec![b'x'; (free - 100 * 1024) as usize]).expect("fill");
    let value = "v".repeat(30_000);
    let mut acked = 0;
    let mut refused = false;
    for i in 0..20 {
        match c.cmd(&["SET", &format!("k{i}"), &value]) {
            Value::Simple(ok) if ok == "OK" => acked += 1,
            Value::Error(e) => {
                assert_eq!(e, MISCONF, "{flavor:?}");
                refused = true;
                break;
            }
            other => panic!("{other:?}"),
        }
    }
    assert!(refused, "{flavor:?}: the disk never filled up");
    assert!(acked >= 1, "{flavor:?}");
    assert_eq!(c.cmd(&["PING"]), Value::Error(MISCONF.into()));
    assert!(matches!(c.cmd(&["GET", "k0"]), Value::Bulk(b) if b.len() == 30_000));
    assert_eq!(info_field(&mut c, "aof_last_write_status"), "err");
    assert_ne!(info_field(&mut c, "aof_buffer_length"), "0");
    std::fs::remove_file(&filler).expect("free space");
    wait_for("writes accepted again", Duration::from_secs(10), || {
        c.cmd(&["SET", "after", "1"]) == Value::Simple("OK".into())
    });
    assert_eq!(info_field(&mut c, "aof_last_write_status"), "ok");
    assert_eq!(info_field(&mut c, "aof_buffer_length"), "0");
    assert_eq!(c.cmd(&["DBSIZE"]), Value::Int(acked + 1));
    s.stop().expect("stop");
    let manifest = fs
        .path
        .join("appendonlydir")
        .join("appendonly.aof.manifest");
    let out = Command::new("redis-check-aof")
        .arg(&manifest)
        .output()
        .expect("redis-check-aof");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("All AOF files and manifest are valid"),
        "{flavor:?}: {text}"
    );
    s.restart().expect("restart");
    let mut c = s.connect().expect("connect");
    assert_eq!(c.cmd(&["DBSIZE"]), Value::Int(acked + 1), "{flavor:?}");
    let log = s.log();
    assert!(
        log.contains("Short write while writing to the AOF file")
            || log.contains("Error writing to the AOF file"),
        "{log}"
    );
    assert!(
        log.contains("AOF write error looks solved, Redis can write again."),
        "{log}"
    );
    s.stop().expect("stop");
}

#[test]
fn aof_full_disk_redis() {
    full_disk_case(Flavor::Redis);
}

#[test]
fn aof_full_disk_redoubt() {
    full_disk_case(Flavor::Redoubt);
}

fn always_case(flavor: Flavor) {
    if std::env::var_os("REDOUBT_SKIP_MOUNT_TESTS").is_some() {
        eprintln!("skipped: REDOUBT_SKIP_MOUNT_TESTS is set");
        return;
    }
    let fs = Tmpfs::mount("1m");
    let mut s = ServerProcess::builder(flavor)
        .directive("dir", &fs.path.display().to_string())
        .directive("appendonly", "yes")
        .directive("appendfsync", "always")
        .start()
        .expect("start");
    let mut c = s.connect().expect("connect");
    let free = free_bytes(&fs.path);
    std::fs::write(
        fs.path.join("filler"),
        vec![b'x'; (free - 100 * 1024) as usize],
    )
    .expect("fill");
    let value = "v".repeat(30_000);
    let mut closed = false;
    for i in 0..20 {
        c.send_cmd(&["SET", &format!("k{i}"), &value])
            .expect("send");
        match c.read_reply(std::time::Instant::now() + Duration::from_secs(10)) {
            Ok(Value::Simple(ok)) if ok == "OK" => {}
            Ok(other) => panic!("{flavor:?}: {other:?}"),
            Err(_) => {
                closed = true;
                break;
            }
        }
    }
    assert!(closed, "{flavor:?}: the server kept replying");
    let st = s.wait_exit(Duration::from_secs(10)).expect("exit");
    assert_eq!(st.code(), Some(1), "{flavor:?}");
    assert!(
        s.log().contains(
            "Can't recover from AOF write error when the AOF fsync policy is 'always'. Exiting..."
        ),
        "{}",
        s.log()
    );
}

#[test]
fn aof_full_disk_always_exits_redis() {
    always_case(Flavor::Redis);
}

#[test]
fn aof_full_disk_always_exits_redoubt() {
    always_case(Flavor::Redoubt);
}
