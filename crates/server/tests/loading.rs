//! The LOADING state at startup, on real redis-server 7.0.15 and on redoubt-server: the
//! server accepts connections while the RDB (or the AOF) loads, refuses commands without the
//! `loading` flag with `-LOADING Redis is loading the dataset in memory`, shows `loading:1`
//! and the `loading_*` fields in INFO persistence, then serves the whole dataset.
//!
//! `key-load-delay` (microseconds per key, Redis's own test knob) stretches the load of a
//! small dataset to about two seconds (Redis checks for clients every
//! 1024 AOF commands, and every `loading-process-events-interval-bytes` of an RDB), so the test stays short.

use redoubt_harness::{must_connect, wait_for, Flavor, RawConn, ServerProcess, Value};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const LOADING: &str = "LOADING Redis is loading the dataset in memory";

fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind port 0");
    l.local_addr().expect("local addr").port()
}

/// The server binary started by hand: the harness waits for the end of LOADING, we must not.
struct Raw {
    child: Child,
    port: u16,
}

impl Drop for Raw {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn spawn(flavor: Flavor, dir: &Path, extra: &[&str]) -> Raw {
    let port = free_port();
    let mut args: Vec<String> = [
        "--port",
        &port.to_string(),
        "--bind",
        "127.0.0.1",
        "--dir",
        &dir.display().to_string(),
        "--save",
        "",
        "--logfile",
        "loading.log",
        "--enable-debug-command",
        "yes",
        // Redis serves clients during a load only every this many bytes (2 MB by default,
        // more than the test's file); Redoubt accepts it and serves them all along.
        "--loading-process-events-interval-bytes",
        "1024",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    args.extend(extra.iter().map(|s| s.to_string()));
    let child = Command::new(flavor.binary().expect("binary"))
        .args(&args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn the server");
    Raw { child, port }
}

fn connect_soon(port: u16) -> RawConn {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Ok(c) = RawConn::connect(port) {
            return c;
        }
        assert!(Instant::now() < deadline, "no listener on {port}");
        std::thread::sleep(Duration::from_millis(2));
    }
}

fn info_field(info: &str, name: &str) -> Option<String> {
    info.lines()
        .find_map(|l| l.strip_prefix(&format!("{name}:")))
        .map(|v| v.trim().to_string())
}

fn bulk(v: Value) -> String {
    match v {
        Value::Bulk(b) => String::from_utf8_lossy(&b).into_owned(),
        other => panic!("expected a bulk reply, got {other:?}"),
    }
}

/// Connects during the load and checks what a client sees, then waits for the data.
fn check_loading(raw: &Raw, total_bytes: u64, keys: i64) {
    let mut c = connect_soon(raw.port);
    assert_eq!(c.cmd(&["GET", "key:1"]), Value::Error(LOADING.into()));
    assert_eq!(c.cmd(&["PING"]), Value::Error(LOADING.into()));
    // Commands flagged `loading` run.
    assert_eq!(c.cmd(&["ECHO", "x"]), Value::Bulk(b"x".to_vec().into()));
    let info = bulk(c.cmd(&["INFO", "persistence"]));
    assert_eq!(info_field(&info, "loading").as_deref(), Some("1"), "{info}");
    assert_eq!(info_field(&info, "async_loading").as_deref(), Some("0"));
    assert_eq!(
        info_field(&info, "loading_total_bytes"),
        Some(total_bytes.to_string()),
        "{info}"
    );
    for f in [
        "loading_start_time",
        "loading_rdb_used_mem",
        "loading_loaded_bytes",
        "loading_loaded_perc",
        "loading_eta_seconds",
    ] {
        assert!(info_field(&info, f).is_some(), "{f} missing: {info}");
    }
    // A write inside MULTI is refused and aborts the transaction.
    assert_eq!(c.cmd(&["MULTI"]), Value::Simple("OK".into()));
    assert_eq!(c.cmd(&["SET", "a", "b"]), Value::Error(LOADING.into()));
    assert!(matches!(c.cmd(&["EXEC"]), Value::Error(e) if e.starts_with("EXECABORT")));
    wait_for("the load to end", Duration::from_secs(60), || {
        c.cmd(&["DBSIZE"]) == Value::Int(keys)
    });
    let info = bulk(c.cmd(&["INFO", "persistence"]));
    assert_eq!(info_field(&info, "loading").as_deref(), Some("0"));
    assert!(info_field(&info, "loading_total_bytes").is_none(), "{info}");
}

fn rdb_case(flavor: Flavor) {
    let dir = tempfile::tempdir().expect("tempdir");
    {
        let s = ServerProcess::builder(flavor)
            .directive("dir", &dir.path().display().to_string())
            .directive("enable-debug-command", "yes")
            .start()
            .expect("start");
        let mut c = must_connect(&s);
        assert_eq!(
            c.cmd(&["DEBUG", "POPULATE", "20000"]),
            Value::Simple("OK".into())
        );
        assert_eq!(c.cmd(&["SAVE"]), Value::Simple("OK".into()));
    }
    let size = std::fs::metadata(dir.path().join("dump.rdb"))
        .expect("dump.rdb")
        .len();
    let raw = spawn(flavor, dir.path(), &["--key-load-delay", "100"]);
    check_loading(&raw, size, 20000);
    let log = std::fs::read_to_string(dir.path().join("loading.log")).unwrap_or_default();
    for line in [
        "Loading RDB produced by version 7.0.15",
        "RDB age ",
        "RDB memory usage when created ",
        "Done loading RDB, keys loaded: 20000, keys expired: 0.",
        "DB loaded from disk: ",
    ] {
        assert!(log.contains(line), "{flavor:?}: no {line:?} in\n{log}");
    }
    let done = log.find("DB loaded from disk").expect("checked");
    let ready = log.find("Ready to accept connections").expect("ready line");
    assert!(ready > done, "ready before the load ended:\n{log}");
}

fn aof_case(flavor: Flavor) {
    let dir = tempfile::tempdir().expect("tempdir");
    {
        let s = ServerProcess::builder(flavor)
            .directive("dir", &dir.path().display().to_string())
            .directive("appendonly", "yes")
            .directive("appendfsync", "no")
            .start()
            .expect("start");
        let mut c = must_connect(&s);
        let mut batch = Vec::new();
        for i in 0..20000 {
            let (k, v) = (format!("key:{i}"), format!("value:{i}"));
            batch.extend_from_slice(
                format!(
                    "*3\r\n$3\r\nSET\r\n${}\r\n{k}\r\n${}\r\n{v}\r\n",
                    k.len(),
                    v.len()
                )
                .as_bytes(),
            );
        }
        c.send(&batch).expect("send");
        for _ in 0..20000 {
            assert_eq!(
                c.read_reply(Instant::now() + Duration::from_secs(10)).ok(),
                Some(Value::Simple("OK".into()))
            );
        }
    }
    let aofdir = dir.path().join("appendonlydir");
    let total: u64 = std::fs::read_dir(&aofdir)
        .expect("appendonlydir")
        .filter_map(|e| e.ok())
        .filter(|e| !e.file_name().to_string_lossy().ends_with(".manifest"))
        .filter_map(|e| e.metadata().ok())
        .map(|m| m.len())
        .sum();
    let raw = spawn(
        flavor,
        dir.path(),
        &["--appendonly", "yes", "--key-load-delay", "100"],
    );
    check_loading(&raw, total, 20000);
    let log = std::fs::read_to_string(dir.path().join("loading.log")).unwrap_or_default();
    assert!(log.contains("DB loaded from append only file: "), "{log}");
}

/// SHUTDOWN during the load (with save points configured) exits without writing the
/// partial dataset over the file being loaded (shutdownCommand forces NOSAVE).
fn shutdown_case(flavor: Flavor) {
    let dir = tempfile::tempdir().expect("tempdir");
    {
        let s = ServerProcess::builder(flavor)
            .directive("dir", &dir.path().display().to_string())
            .directive("enable-debug-command", "yes")
            .start()
            .expect("start");
        let mut c = must_connect(&s);
        assert_eq!(
            c.cmd(&["DEBUG", "POPULATE", "20000"]),
            Value::Simple("OK".into())
        );
        assert_eq!(c.cmd(&["SAVE"]), Value::Simple("OK".into()));
    }
    let path = dir.path().join("dump.rdb");
    let before = std::fs::read(&path).expect("dump.rdb");
    let mut raw = spawn(
        flavor,
        dir.path(),
        &["--key-load-delay", "100", "--save", "3600 1"],
    );
    let mut c = connect_soon(raw.port);
    assert_eq!(c.cmd(&["GET", "key:1"]), Value::Error(LOADING.into()));
    c.send_cmd(&["SHUTDOWN"]).expect("send");
    assert!(
        c.is_closed(Instant::now() + Duration::from_secs(10)),
        "{flavor:?}: SHUTDOWN during the load"
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(st) = raw.child.try_wait().expect("wait") {
            break st;
        }
        assert!(Instant::now() < deadline, "{flavor:?} did not exit");
        std::thread::sleep(Duration::from_millis(5));
    };
    assert!(status.success(), "{flavor:?}: {status}");
    assert!(
        std::fs::read(&path).expect("dump.rdb") == before,
        "{flavor:?} rewrote the file"
    );
}

#[test]
fn shutdown_during_loading_does_not_save_redis() {
    shutdown_case(Flavor::Redis);
}

#[test]
fn shutdown_during_loading_does_not_save_redoubt() {
    shutdown_case(Flavor::Redoubt);
}

#[test]
fn loading_rdb_redis() {
    rdb_case(Flavor::Redis);
}

#[test]
fn loading_rdb_redoubt() {
    rdb_case(Flavor::Redoubt);
}

#[test]
fn loading_aof_redis() {
    aof_case(Flavor::Redis);
}

#[test]
fn loading_aof_redoubt() {
    aof_case(Flavor::Redoubt);
}
