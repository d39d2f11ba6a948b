//! The Prometheus endpoint (`--metrics-port`, a Redoubt addition with no Redis counterpart):
//! scraped over TCP and compared with INFO read on the same server around the scrape, and
//! fed malformed requests, after which it must still serve both metrics and clients.
//! tests/clients/test_metrics.py parses the same output with the real Prometheus parser.

use redoubt_harness::{must_connect, wait_for, Flavor, ServerProcess, Value};
use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr").port()
}

fn start_with_metrics() -> (ServerProcess, u16) {
    // The port is free when chosen; a lost race only fails startup, retried once.
    for _ in 0..2 {
        let mport = free_port();
        let s = ServerProcess::builder(Flavor::Redoubt)
            .arg("--metrics-port")
            .arg(&mport.to_string())
            .start();
        if let Ok(s) = s {
            return (s, mport);
        }
    }
    panic!("could not start redoubt-server with a metrics port");
}

/// Sends `request` as is and returns the whole response (the server closes after it).
fn http(port: u16, request: &[u8]) -> String {
    let mut c = TcpStream::connect(("127.0.0.1", port)).expect("connect to the metrics port");
    c.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    // The server may answer and close before reading everything of a hostile request.
    let _ = c.write_all(request);
    let mut out = Vec::new();
    let _ = c.read_to_end(&mut out);
    String::from_utf8_lossy(&out).into_owned()
}

fn scrape(port: u16) -> (String, BTreeMap<String, f64>) {
    let resp = http(port, b"GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
    let (head, body) = resp.split_once("\r\n\r\n").expect("a response head");
    assert!(head.starts_with("HTTP/1.1 200 OK\r\n"), "{head}");
    assert!(
        head.contains("\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\n"),
        "{head}"
    );
    assert!(
        head.contains(&format!("\r\nContent-Length: {}\r\n", body.len())),
        "{head}"
    );
    let mut samples = BTreeMap::new();
    for line in body.lines().filter(|l| !l.starts_with('#')) {
        let (series, value) = line.rsplit_once(' ').expect("series and value");
        let v: f64 = value
            .parse()
            .unwrap_or_else(|_| panic!("value in {line:?}"));
        samples.insert(series.to_string(), v);
    }
    (body.to_string(), samples)
}

fn info_map(c: &mut redoubt_harness::RawConn) -> BTreeMap<String, String> {
    let text = match c.cmd(&["INFO", "everything"]) {
        Value::Bulk(b) | Value::Verbatim(_, b) => String::from_utf8_lossy(&b).into_owned(),
        other => panic!("INFO gave {other:?}"),
    };
    text.lines()
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.to_string(), v.trim_end().to_string()))
        .collect()
}

fn num(info: &BTreeMap<String, String>, field: &str) -> f64 {
    info.get(field)
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("INFO {field}"))
}

#[test]
fn scrape_matches_info() {
    let (s, mport) = start_with_metrics();
    let mut c = must_connect(&s);
    for k in ["a", "b", "c"] {
        c.cmd(&["SET", k, "v"]);
    }
    c.cmd(&["EXPIRE", "a", "1000"]);
    c.cmd(&["SELECT", "2"]);
    c.cmd(&["SET", "x", "1"]);
    c.cmd(&["GET", "x"]);
    c.cmd(&["GET", "missing"]);

    let (body, m1) = scrape(mport);
    let info = info_map(&mut c);
    let (_, m2) = scrape(mport);

    // Keys per database are exact; empty databases have no series, as INFO has no line.
    assert_eq!(m1[r#"redoubt_db_keys{db="0"}"#], 3.0);
    assert_eq!(m1[r#"redoubt_db_keys_expiring{db="0"}"#], 1.0);
    assert_eq!(m1[r#"redoubt_db_keys{db="2"}"#], 1.0);
    assert!(!m1.contains_key(r#"redoubt_db_keys{db="1"}"#));
    // A scrape is not a client: the one connected is ours, as INFO says.
    assert_eq!(
        m1["redoubt_connected_clients"],
        num(&info, "connected_clients")
    );
    assert_eq!(m1["redoubt_connected_clients"], 1.0);
    assert_eq!(m1[r#"redoubt_role{role="master"}"#], 1.0);
    assert_eq!(m1[r#"redoubt_role{role="slave"}"#], 0.0);
    assert_eq!(
        m1["redoubt_keyspace_hits_total"],
        num(&info, "keyspace_hits")
    );
    assert_eq!(
        m1["redoubt_keyspace_misses_total"],
        num(&info, "keyspace_misses")
    );
    assert_eq!(m1[r#"redoubt_commands_total{cmd="set"}"#], 4.0);
    // Counters around INFO: the scrape before sees no more than INFO, the one after no less,
    // and scrapes themselves are not commands.
    for (metric, field) in [
        (
            "redoubt_commands_processed_total",
            "total_commands_processed",
        ),
        ("redoubt_net_input_bytes_total", "total_net_input_bytes"),
        (
            "redoubt_connections_received_total",
            "total_connections_received",
        ),
    ] {
        let v = num(&info, field);
        assert!(
            m1[metric] <= v && v <= m2[metric],
            "{metric}: {} {v} {}",
            m1[metric],
            m2[metric]
        );
    }
    assert_eq!(
        m2["redoubt_commands_processed_total"],
        num(&info, "total_commands_processed") + 1.0,
        "only INFO ran between the scrapes"
    );
    assert_eq!(
        m1["redoubt_rdb_changes_since_last_save"],
        num(&info, "rdb_changes_since_last_save")
    );
    assert_eq!(
        m1["redoubt_master_repl_offset_bytes"],
        num(&info, "master_repl_offset")
    );
    assert!(m1["redoubt_memory_used_bytes"] > 0.0);
    assert!(m1.contains_key("redoubt_memory_rss_bytes"));
    assert!(m1.contains_key("redoubt_uptime_seconds"));
    assert_eq!(m1["redoubt_aof_enabled"], 0.0);
    assert_eq!(m1["redoubt_aof_last_write_ok"], 1.0);
    assert!(body.contains("# TYPE redoubt_commands_processed_total counter\n"));
    assert!(body.contains("# TYPE redoubt_connected_clients gauge\n"));

    // HEAD: the same head, no body.
    let head = http(mport, b"HEAD /metrics HTTP/1.0\r\n\r\n");
    assert!(head.starts_with("HTTP/1.1 200 OK\r\n"), "{head}");
    assert!(head.ends_with("\r\n\r\n"), "{head}");
}

#[test]
fn bad_requests_are_refused_and_the_server_keeps_serving() {
    let (s, mport) = start_with_metrics();
    let status = |req: &[u8]| {
        let r = http(mport, req);
        r.split("\r\n").next().unwrap_or_default().to_string()
    };
    assert_eq!(status(b"GET / HTTP/1.1\r\n\r\n"), "HTTP/1.1 404 Not Found");
    assert_eq!(
        status(b"POST /metrics HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc"),
        "HTTP/1.1 405 Method Not Allowed"
    );
    for bad in [
        &b"garbage\r\n\r\n"[..],
        b"GET /metrics HTTP/9.9\r\n\r\n",
        b"GET /metrics HTTP/1.1\r\nno-colon-here\r\n\r\n",
        b"\xff\xfe\x00\x01\r\n\r\n",
        b"*1\r\n$4\r\nPING\r\n\r\n",
    ] {
        assert_eq!(status(bad), "HTTP/1.1 400 Bad Request", "{bad:?}");
    }
    // A head that never ends is cut at its size bound.
    let huge = vec![b'A'; 64 * 1024];
    assert_eq!(status(&huge), "HTTP/1.1 400 Bad Request");
    // Peers that connect and leave, or send half a head and leave.
    for partial in [&b""[..], b"GET /metr"] {
        let mut c = TcpStream::connect(("127.0.0.1", mport)).expect("connect");
        let _ = c.write_all(partial);
        drop(c);
    }
    // Still serving, both the metrics and the clients.
    let (_, m) = scrape(mport);
    assert!(m.contains_key("redoubt_uptime_seconds"));
    let mut c = must_connect(&s);
    assert_eq!(c.cmd(&["PING"]), Value::Simple("PONG".into()));
    wait_for(
        "the server is still running",
        Duration::from_secs(2),
        || TcpStream::connect(("127.0.0.1", s.port())).is_ok(),
    );
}

#[test]
fn metrics_port_is_off_by_default_and_immutable() {
    let s = ServerProcess::start(Flavor::Redoubt, &[]).expect("start");
    let mut c = must_connect(&s);
    assert_eq!(
        c.cmd(&["CONFIG", "GET", "redoubt-metrics-port"]),
        Value::Array(vec![
            Value::Bulk("redoubt-metrics-port".into()),
            Value::Bulk("0".into())
        ])
    );
    // Hidden: `CONFIG GET *` lists exactly what Redis lists.
    let Value::Array(all) = c.cmd(&["CONFIG", "GET", "*"]) else {
        panic!("array")
    };
    assert!(!all.contains(&Value::Bulk("redoubt-metrics-port".into())));
    assert_eq!(
        c.cmd(&["CONFIG", "SET", "redoubt-metrics-port", "1234"]),
        Value::Error(
            "ERR CONFIG SET failed (possibly related to argument 'redoubt-metrics-port') - can't set immutable config"
                .into()
        )
    );
}
