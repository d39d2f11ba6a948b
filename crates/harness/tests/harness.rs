//! The harness against the real redis-server (the oracle must be installed: a missing one
//! fails these tests, as everywhere).

use std::net::TcpListener;
use std::path::Path;
use std::time::{Duration, Instant};

use redoubt_harness::diff::{parse_script, run_script, ProblemKind, RunOptions};
use redoubt_harness::{
    must_bulk, must_connect, must_error, must_int, must_ok, must_start, wait_for, Flavor,
    ReadError, ServerProcess, Value,
};

fn config_get(conn: &mut redoubt_harness::RawConn, name: &str) -> Vec<u8> {
    match conn.cmd(&["CONFIG", "GET", name]) {
        Value::Array(items) if items.len() == 2 => must_bulk(&items[1]).to_vec(),
        other => panic!("CONFIG GET {name}: {other:?}"),
    }
}

#[test]
fn starts_redis_with_the_defaults_and_stops_it() {
    let mut server = must_start(Flavor::Redis, &[]);
    let mut c = must_connect(&server);
    assert_eq!(c.cmd(&["PING"]), Value::Simple("PONG".into()));
    assert_eq!(
        config_get(&mut c, "port"),
        server.port().to_string().into_bytes()
    );
    assert_eq!(config_get(&mut c, "bind"), b"127.0.0.1");
    assert_eq!(config_get(&mut c, "save"), b"");
    assert_eq!(config_get(&mut c, "appendonly"), b"no");
    let dir = config_get(&mut c, "dir");
    assert_eq!(
        Path::new(std::str::from_utf8(&dir).expect("utf-8 dir"))
            .canonicalize()
            .expect("dir"),
        server.dir().canonicalize().expect("dir")
    );
    wait_for("the ready line in the log", Duration::from_secs(5), || {
        server.log().contains("Ready to accept connections")
    });
    let status = server.stop().expect("stops on SIGTERM");
    assert!(status.success(), "{status}");
    assert!(c.is_closed(Instant::now() + Duration::from_secs(5)));
    assert!(
        server.stop().is_err(),
        "a second stop reports that nothing runs"
    );
}

#[test]
fn directives_override_the_defaults_and_config_files_are_written() {
    let server = ServerProcess::builder(Flavor::Redis)
        .config_file("# a comment\nhz 42\nmaxmemory 1mb\n")
        .directive("maxmemory-policy", "allkeys-lru")
        .directive("appendonly", "yes")
        .start()
        .expect("starts");
    let mut c = must_connect(&server);
    assert_eq!(config_get(&mut c, "hz"), b"42");
    assert_eq!(config_get(&mut c, "maxmemory"), b"1048576");
    assert_eq!(config_get(&mut c, "maxmemory-policy"), b"allkeys-lru");
    assert_eq!(config_get(&mut c, "appendonly"), b"yes");
    assert!(server.dir().join("server.conf").is_file());
}

#[test]
fn restart_keeps_port_and_dir_and_kill9_is_a_crash() {
    let mut server = must_start(Flavor::Redis, &[("appendonly", "yes")]);
    let port = server.port();
    let mut c = must_connect(&server);
    must_ok(&c.cmd(&["SET", "k", "v"]));
    let first_pid = server.pid();
    let status = server.kill9().expect("kill -9");
    assert!(!status.success());
    assert!(!server.is_running());
    server.restart().expect("restarts");
    assert_eq!(server.port(), port);
    assert_ne!(server.pid(), first_pid);
    let mut c = must_connect(&server);
    // appendfsync everysec may lose the last second; the AOF itself must be there.
    let _ = c.cmd(&["GET", "k"]);
    assert!(server.dir().join("appendonlydir").is_dir());
}

#[test]
fn drop_kills_the_process() {
    let server = must_start(Flavor::Redis, &[]);
    let proc_dir = format!("/proc/{}", server.pid());
    assert!(Path::new(&proc_dir).exists());
    drop(server);
    assert!(
        !Path::new(&proc_dir).exists(),
        "the process was killed and reaped"
    );
}

#[test]
fn a_taken_fixed_port_is_an_error_with_the_log() {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port().to_string();
    let err = ServerProcess::start(Flavor::Redis, &[("port", &port)])
        .err()
        .expect("the port is taken");
    let msg = format!("{err:#}");
    assert!(msg.contains("exited during startup"), "{msg}");
    assert!(msg.contains("Address already in use"), "{msg}");
}

#[test]
fn a_binary_that_exits_at_once_fails_fast() {
    let started = Instant::now();
    let err = ServerProcess::builder(Flavor::Redoubt)
        .binary("/bin/true")
        .start()
        .err()
        .expect("/bin/true is no server");
    assert!(
        format!("{err:#}").contains("exited during startup"),
        "{err:#}"
    );
    assert!(started.elapsed() < Duration::from_secs(5));
    let err = ServerProcess::builder(Flavor::Redoubt)
        .binary("/nonexistent/redoubt-server")
        .start()
        .err()
        .expect("no such file");
    assert!(format!("{err:#}").contains("spawning"), "{err:#}");
}

#[test]
fn raw_conn_returns_exact_bytes_and_sees_closes() {
    let server = must_start(Flavor::Redis, &[]);
    let mut c = must_connect(&server);
    c.send(b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$3\r\na\x00b\r\n*2\r\n$3\r\nGET\r\n$1\r\nk\r\n")
        .expect("send");
    assert_eq!(c.read_raw_reply(), b"+OK\r\n");
    assert_eq!(c.read_raw_reply(), b"$3\r\na\x00b\r\n");
    assert_eq!(must_int(&c.cmd(&["DEL", "k"])), 1);
    assert!(must_error(&c.cmd(&["NOSUCH"])).starts_with("ERR unknown command"));
    let deadline = Instant::now() + Duration::from_millis(50);
    assert!(matches!(
        c.read_reply(deadline),
        Err(ReadError::Timeout { .. })
    ));
    c.send(b"*1\r\n$x\r\n").expect("send");
    let rest = c
        .read_until_closed(Instant::now() + Duration::from_secs(5))
        .expect("closed");
    assert_eq!(rest, b"-ERR Protocol error: invalid bulk length\r\n");
    let mut c = must_connect(&server);
    c.send(b"QUIT\r\n").expect("send");
    assert_eq!(c.read_raw_reply(), b"+OK\r\n");
    assert!(matches!(
        c.try_read_raw_reply(Instant::now() + Duration::from_secs(5)),
        Err(ReadError::Closed { .. })
    ));
}

#[test]
fn the_runner_passes_redis_against_redis_and_flags_script_errors() {
    let script = parse_script(
        "t.txt",
        "SET k v\n@sorted KEYS *\n~TIME\n@replies=2 SUBSCRIBE a b\n@conn p\nPUBLISH a x\n\
         @conn main\n@read\n@raw-close \"*1\\r\\n$x\\r\\n\"\nGET k\n",
    )
    .expect("parses");
    for proto in [2, 3] {
        let outcome = run_script(&script, &RunOptions::new(Flavor::Redis, proto));
        assert!(outcome.problems.is_empty(), "{:#?}", outcome.problems);
        assert!(outcome.compared >= 9);
    }
    // SUBSCRIBE a b gets two replies; a script claiming one leaves one unread.
    let wrong = parse_script("w.txt", "SUBSCRIBE a b\n").expect("parses");
    let outcome = run_script(&wrong, &RunOptions::new(Flavor::Redis, 2));
    assert_eq!(outcome.problems.len(), 1, "{:#?}", outcome.problems);
    assert_eq!(outcome.problems[0].kind, ProblemKind::ScriptError);
}
