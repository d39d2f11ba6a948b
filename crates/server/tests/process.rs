//! The process around the engine: config files and CONFIG REWRITE across restarts, the log
//! format and shutdown lines, pidfile and daemonize, unix sockets, maxclients and timeout.
//! Where Redis's behaviour is the spec, the same scenario runs against redis-server 7.0.15.

use redoubt_harness::{must_connect, wait_for, Flavor, RawConn, ServerProcess, Value};
use std::time::Duration;

fn start(flavor: Flavor, conf: &str, directives: &[(&str, &str)]) -> ServerProcess {
    ServerProcess::builder(flavor)
        .config_file(conf)
        .directives(directives)
        .start()
        .unwrap_or_else(|e| panic!("starting {}: {e:#}", flavor.name()))
}

fn get(c: &mut RawConn, name: &str) -> Vec<u8> {
    match c.cmd(&["CONFIG", "GET", name]) {
        Value::Array(a) if a.len() == 2 => match &a[1] {
            Value::Bulk(b) => b.to_vec(),
            other => panic!("CONFIG GET {name}: {other:?}"),
        },
        other => panic!("CONFIG GET {name}: {other:?}"),
    }
}

/// Directives and the values a user sets at run time; each must survive REWRITE + restart.
const CHANGES: &[(&str, &str)] = &[
    ("maxmemory", "104857600"),
    ("maxmemory-policy", "allkeys-lru"),
    ("timeout", "300"),
    ("tcp-keepalive", "60"),
    ("hz", "20"),
    ("slowlog-log-slower-than", "5000"),
    ("slowlog-max-len", "64"),
    ("maxclients", "500"),
    ("requirepass", "s3cret"),
    (
        "client-output-buffer-limit",
        "normal 0 0 0 replica 128mb 32mb 30 pubsub 16mb 4mb 30",
    ),
    ("lazyfree-lazy-expire", "yes"),
    ("proto-max-bulk-len", "1048576"),
    ("appendfsync", "always"),
    ("replica-priority", "90"),
    ("min-replicas-to-write", "1"),
    ("min-replicas-max-lag", "10"),
    ("notify-keyspace-events", "KEA"),
    ("list-max-listpack-size", "-3"),
    ("zset-max-listpack-entries", "64"),
];

fn all_values(c: &mut RawConn) -> Vec<(String, String)> {
    CHANGES
        .iter()
        .map(|(n, _)| {
            (
                n.to_string(),
                String::from_utf8_lossy(&get(c, n)).into_owned(),
            )
        })
        .collect()
}

fn rewrite_round_trip(flavor: Flavor) -> Vec<(String, String)> {
    let mut s = start(
        flavor,
        "# my redis\n# keep this comment\nloglevel notice\n",
        &[],
    );
    let mut c = must_connect(&s);
    for (name, value) in CHANGES {
        let r = c.cmd(&["CONFIG", "SET", name, value]);
        assert_eq!(
            r,
            Value::Simple("OK".into()),
            "{} CONFIG SET {name} {value}",
            flavor.name()
        );
    }
    assert_eq!(c.cmd(&["CONFIG", "REWRITE"]), Value::Simple("OK".into()));
    let before = all_values(&mut c);
    let text = std::fs::read_to_string(s.dir().join("server.conf")).expect("config file");
    assert!(
        text.starts_with("# my redis\n"),
        "comments kept in place:\n{text}"
    );
    assert!(
        text.contains("# keep this comment\n"),
        "comments kept:\n{text}"
    );
    drop(c);
    s.stop().expect("stop");
    s.restart().expect("restart");
    let mut c = must_connect(&s);
    assert_eq!(c.cmd(&["AUTH", "s3cret"]), Value::Simple("OK".into()));
    let after = all_values(&mut c);
    assert_eq!(
        before,
        after,
        "{}: values survive CONFIG REWRITE and a restart",
        flavor.name()
    );
    after
}

#[test]
fn config_rewrite_survives_restart_like_redis() {
    let redis = rewrite_round_trip(Flavor::Redis);
    let redoubt = rewrite_round_trip(Flavor::Redoubt);
    assert_eq!(redoubt, redis);
}

#[test]
fn log_lines_and_sigterm_shutdown() {
    let mut s = start(Flavor::Redoubt, "", &[("pidfile", "redoubt.pid")]);
    let pidfile = s.dir().join("redoubt.pid");
    wait_for("the pidfile", Duration::from_secs(5), || pidfile.exists());
    assert_eq!(
        std::fs::read_to_string(&pidfile).expect("pidfile").trim(),
        s.pid().to_string()
    );
    let pid = s.pid();
    s.stop().expect("stop");
    let log = s.log();
    for want in [
        format!("{pid}:C "),
        "# oO0OoO0OoO0Oo Redis is starting oO0OoO0OoO0Oo".to_string(),
        "* Ready to accept connections".to_string(),
        "Received SIGTERM scheduling shutdown...".to_string(),
        "# User requested shutdown...".to_string(),
        "* Removing the pid file.".to_string(),
        "# Redis is now ready to exit, bye bye...".to_string(),
    ] {
        assert!(log.contains(&want), "log lacks {want:?}:\n{log}");
    }
    // `pid:role dd Mon yyyy hh:mm:ss.mmm <mark> msg`
    let line = log
        .lines()
        .find(|l| l.contains("Ready to accept"))
        .expect("ready line");
    let parts: Vec<&str> = line.splitn(7, ' ').collect();
    assert_eq!(parts[0], format!("{pid}:M"));
    assert_eq!(parts[1].len(), 2, "day of month: {line}");
    assert_eq!(parts[2].len(), 3, "month name: {line}");
    assert_eq!(parts[4].len(), "13:09:27.306".len(), "time: {line}");
    assert!(!pidfile.exists(), "pidfile removed on shutdown");
}

#[test]
fn bad_config_file_reports_like_redis() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("bad.conf");
    std::fs::write(&path, "port 7000\nmaxmemory lots\n").expect("write");
    let run = |bin: std::path::PathBuf| {
        std::process::Command::new(bin)
            .arg(&path)
            .output()
            .expect("run")
    };
    let redis = run(redoubt_harness::redis_binary().expect("redis-server"));
    let ours = run(redoubt_harness::redoubt_binary().expect("redoubt-server"));
    assert_eq!(ours.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&ours.stderr),
        String::from_utf8_lossy(&redis.stderr)
    );
}

#[test]
fn unix_socket_with_permissions() {
    let s = start(
        Flavor::Redoubt,
        "",
        &[("unixsocket", "redoubt.sock"), ("unixsocketperm", "700")],
    );
    let path = s.dir().join("redoubt.sock");
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&path)
        .expect("socket exists")
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(mode, 0o700);
    let mut sock = std::os::unix::net::UnixStream::connect(&path).expect("connect");
    use std::io::{Read, Write};
    sock.write_all(b"PING\r\n").expect("write");
    let mut buf = [0u8; 7];
    sock.read_exact(&mut buf).expect("read");
    assert_eq!(&buf, b"+PONG\r\n");
}

#[test]
fn maxclients_refuses_like_redis() {
    for flavor in [Flavor::Redis, Flavor::Redoubt] {
        let s = start(flavor, "", &[("maxclients", "2")]);
        let mut a = must_connect(&s);
        let mut b = must_connect(&s);
        assert_eq!(a.cmd(&["PING"]), Value::Simple("PONG".into()));
        assert_eq!(b.cmd(&["PING"]), Value::Simple("PONG".into()));
        let mut c = must_connect(&s);
        let got = c
            .read_until_closed(std::time::Instant::now() + Duration::from_secs(5))
            .expect("refused and closed");
        assert_eq!(
            String::from_utf8_lossy(&got),
            "-ERR max number of clients reached\r\n",
            "{}",
            flavor.name()
        );
    }
}

#[test]
fn idle_clients_time_out() {
    let s = start(Flavor::Redoubt, "", &[("timeout", "1")]);
    let mut idle = must_connect(&s);
    assert_eq!(idle.cmd(&["PING"]), Value::Simple("PONG".into()));
    let mut sub = must_connect(&s);
    sub.cmd(&["SUBSCRIBE", "ch"]);
    wait_for(
        "the idle client to be closed",
        Duration::from_secs(10),
        || idle.is_closed(std::time::Instant::now() + Duration::from_millis(200)),
    );
    // Pub/sub clients never time out (as in Redis).
    let mut p = must_connect(&s);
    assert_eq!(p.cmd(&["PUBLISH", "ch", "still here"]), Value::Int(1));
}

#[test]
fn config_set_port_and_bind_rebind_listeners() {
    let s = start(Flavor::Redoubt, "", &[]);
    let mut c = must_connect(&s);
    let new_port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("free port");
        l.local_addr().expect("addr").port()
    };
    let r = c.cmd(&["CONFIG", "SET", "port", &new_port.to_string()]);
    assert_eq!(r, Value::Simple("OK".into()));
    let mut moved = RawConn::connect(new_port).expect("the new port answers");
    assert_eq!(moved.cmd(&["PING"]), Value::Simple("PONG".into()));
    wait_for("the old port to close", Duration::from_secs(5), || {
        std::net::TcpStream::connect(("127.0.0.1", s.port())).is_err()
    });
    // A port that is taken is refused, and nothing changes.
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let taken_port = taken.local_addr().expect("addr").port().to_string();
    let r = moved.cmd(&["CONFIG", "SET", "port", &taken_port]);
    assert_eq!(
        r,
        Value::Error(
            "ERR CONFIG SET failed (possibly related to argument 'port') - Unable to listen on this port. Check server logs."
                .into()
        )
    );
    assert_eq!(get(&mut moved, "port"), new_port.to_string().into_bytes());
    let r = moved.cmd(&["CONFIG", "SET", "bind", "10.9.9.9"]);
    assert_eq!(
        r,
        Value::Error(
            "ERR CONFIG SET failed (possibly related to argument 'bind') - Failed to bind to specified addresses."
                .into()
        ),
        "an address this host does not have (checked against redis-server 7.0.15)"
    );
    assert_eq!(moved.cmd(&["PING"]), Value::Simple("PONG".into()));
    // Settings the server owns follow CONFIG SET: an idle timeout now applies.
    assert_eq!(
        moved.cmd(&["CONFIG", "SET", "timeout", "1"]),
        Value::Simple("OK".into())
    );
    let mut idle = RawConn::connect(new_port).expect("connect");
    assert_eq!(idle.cmd(&["PING"]), Value::Simple("PONG".into()));
    wait_for(
        "the idle client to be closed",
        Duration::from_secs(10),
        || idle.is_closed(std::time::Instant::now() + Duration::from_millis(200)),
    );
}

#[test]
fn daemonize_forks_writes_the_pidfile_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().expect("tempdir");
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("free port");
        l.local_addr().expect("addr").port()
    };
    let pidfile = dir.path().join("d.pid");
    let status = std::process::Command::new(redoubt_harness::redoubt_binary().expect("binary"))
        .args([
            "--daemonize",
            "yes",
            "--bind",
            "127.0.0.1",
            "--port",
            &port.to_string(),
        ])
        .arg("--pidfile")
        .arg(&pidfile)
        .arg("--logfile")
        .arg(dir.path().join("d.log"))
        // SIGTERM saves (default save points) into the working directory: keep it temporary.
        .current_dir(dir.path())
        .status()
        .expect("run");
    assert!(
        status.success(),
        "the foreground process exits 0 after forking"
    );
    wait_for("the pidfile", Duration::from_secs(10), || {
        std::fs::read_to_string(&pidfile).is_ok_and(|s| s.trim().parse::<i32>().is_ok())
    });
    let pid: i32 = std::fs::read_to_string(&pidfile)
        .expect("pid")
        .trim()
        .parse()
        .expect("pid");
    // If an assertion fails, the daemon must not outlive the test.
    struct KillOnDrop(i32);
    impl Drop for KillOnDrop {
        fn drop(&mut self) {
            let _ = std::process::Command::new("kill")
                .args(["-9", &self.0.to_string()])
                .status();
        }
    }
    let _guard = KillOnDrop(pid);
    let mut c = None;
    wait_for("the daemon to answer", Duration::from_secs(10), || {
        c = RawConn::connect(port).ok();
        c.is_some()
    });
    let mut c = c.expect("connected");
    assert_eq!(c.cmd(&["PING"]), Value::Simple("PONG".into()));
    // Stop the daemon by the PID it wrote.
    let st = std::process::Command::new("kill")
        .arg(pid.to_string())
        .status()
        .expect("kill");
    assert!(st.success());
    wait_for(
        "the daemon to exit and remove its pidfile",
        Duration::from_secs(10),
        || !pidfile.exists() && RawConn::connect(port).is_err(),
    );
}
