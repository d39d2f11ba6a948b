//! The exposition rendered from INFO text, and the HTTP request parser.

use super::*;
use crate::metrics_http::{parse_head, Request};

const INFO: &str = "# Server\r\nredis_version:7.0.15\r\nredoubt_version:0.1.0\r\nredis_mode:standalone\r\nrun_id:abc\r\nuptime_in_seconds:12\r\n\r\n# Clients\r\nconnected_clients:3\r\nblocked_clients:1\r\n\r\n# Memory\r\nused_memory:1000\r\nmem_fragmentation_ratio:1.49\r\n\r\n# Persistence\r\nrdb_last_bgsave_status:err\r\naof_last_write_status:ok\r\n\r\n# Stats\r\ntotal_commands_processed:42\r\ninstantaneous_input_kbps:0.50\r\nexpire_cycle_cpu_milliseconds:1500\r\n\r\n# Replication\r\nrole:master\r\nconnected_slaves:1\r\nslave0:ip=127.0.0.1,port=7001,state=online,offset=90,lag=1\r\nmaster_repl_offset:100\r\n\r\n# Commandstats\r\ncmdstat_config|get:calls=2,usec=30,usec_per_call=15.00,rejected_calls=0,failed_calls=1\r\n\r\n# Errorstats\r\nerrorstat_ERR:count=1\r\n\r\n# Keyspace\r\ndb0:keys=5,expires=2,avg_ttl=1500\r\ndb3:keys=1,expires=0,avg_ttl=0\r\n";

fn sample<'a>(text: &'a str, series: &str) -> Option<&'a str> {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' '))
}

#[test]
fn server_fields_become_metrics_with_units() {
    let t = render(INFO, None);
    assert_eq!(sample(&t, "redoubt_connected_clients"), Some("3"));
    assert_eq!(sample(&t, "redoubt_blocked_clients"), Some("1"));
    assert_eq!(sample(&t, "redoubt_memory_used_bytes"), Some("1000"));
    assert_eq!(
        sample(&t, "redoubt_memory_fragmentation_ratio"),
        Some("1.49")
    );
    assert_eq!(sample(&t, "redoubt_rdb_last_bgsave_ok"), Some("0"));
    assert_eq!(sample(&t, "redoubt_aof_last_write_ok"), Some("1"));
    assert_eq!(sample(&t, "redoubt_commands_processed_total"), Some("42"));
    assert_eq!(
        sample(&t, "redoubt_instantaneous_input_bytes_per_second"),
        Some("512")
    );
    assert_eq!(
        sample(&t, "redoubt_expire_cycle_cpu_seconds_total"),
        Some("1.5")
    );
    assert_eq!(sample(&t, "redoubt_role{role=\"master\"}"), Some("1"));
    assert_eq!(sample(&t, "redoubt_role{role=\"slave\"}"), Some("0"));
    let replica = "{replica=\"0\",addr=\"127.0.0.1:7001\",state=\"online\"}";
    assert_eq!(
        sample(
            &t,
            &format!("redoubt_connected_replica_offset_bytes{replica}")
        ),
        Some("90")
    );
    assert_eq!(
        sample(&t, &format!("redoubt_connected_replica_lag_bytes{replica}")),
        Some("10")
    );
    assert_eq!(
        sample(
            &t,
            &format!("redoubt_connected_replica_lag_seconds{replica}")
        ),
        Some("1")
    );
    assert_eq!(sample(&t, "redoubt_db_keys{db=\"0\"}"), Some("5"));
    assert_eq!(sample(&t, "redoubt_db_keys{db=\"3\"}"), Some("1"));
    assert_eq!(sample(&t, "redoubt_db_keys_expiring{db=\"0\"}"), Some("2"));
    assert_eq!(
        sample(&t, "redoubt_db_avg_ttl_seconds{db=\"0\"}"),
        Some("1.5")
    );
    assert_eq!(
        sample(&t, "redoubt_commands_total{cmd=\"config|get\"}"),
        Some("2")
    );
    assert_eq!(
        sample(
            &t,
            "redoubt_commands_duration_seconds_total{cmd=\"config|get\"}"
        ),
        Some("0.00003")
    );
    assert_eq!(sample(&t, "redoubt_errors_total{err=\"ERR\"}"), Some("1"));
    // Absent INFO fields give no series (a master has no link to a master).
    assert_eq!(sample(&t, "redoubt_master_link_up"), None);
}

#[test]
fn families_are_contiguous_with_help_and_type_first() {
    let t = render(INFO, None);
    let mut seen: Vec<String> = Vec::new();
    let mut current = String::new();
    for l in t.lines() {
        if let Some(rest) = l.strip_prefix("# HELP ") {
            let name = rest.split(' ').next().unwrap_or_default().to_string();
            assert!(!seen.contains(&name), "{name} twice");
            seen.push(name.clone());
            current = name;
        } else if let Some(rest) = l.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').expect("type line");
            assert_eq!(name, current);
            assert!(kind == "counter" || kind == "gauge");
            if name.ends_with("_total") {
                assert_eq!(kind, "counter", "{name}");
            }
        } else {
            let name = l.split(['{', ' ']).next().unwrap_or_default();
            assert_eq!(name, current, "sample outside its family: {l}");
            assert!(name.starts_with("redoubt_"));
        }
    }
    assert!(t.ends_with('\n'));
}

#[test]
fn label_values_are_escaped() {
    assert_eq!(escape_label("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    let info = "# Sentinel\r\nsentinel_masters:1\r\nmaster0:name=my\"m\\x,status=odown,address=127.0.0.1:6379,slaves=2,sentinels=3\r\n";
    let mut view = SentinelView {
        current_epoch: 7,
        ..Default::default()
    };
    view.switches.insert("my\"m\\x".into(), 2);
    let mut m = BTreeMap::new();
    m.insert("name".to_string(), "my\"m\\x".to_string());
    m.insert("quorum".to_string(), "2".to_string());
    m.insert(
        "flags".to_string(),
        "o_down,master,failover_in_progress".to_string(),
    );
    view.masters.push(m);
    view.events.insert("+odown".into(), 1);
    let t = render(info, Some(&view));
    let name = "master=\"my\\\"m\\\\x\"";
    assert_eq!(
        sample(&t, &format!("redoubt_sentinel_master_status{{{name},address=\"127.0.0.1:6379\",status=\"odown\"}}")),
        Some("1")
    );
    assert_eq!(
        sample(
            &t,
            &format!(
                "redoubt_sentinel_master_status{{{name},address=\"127.0.0.1:6379\",status=\"ok\"}}"
            )
        ),
        Some("0")
    );
    assert_eq!(
        sample(&t, &format!("redoubt_sentinel_master_replicas{{{name}}}")),
        Some("2")
    );
    assert_eq!(
        sample(&t, &format!("redoubt_sentinel_master_sentinels{{{name}}}")),
        Some("3")
    );
    assert_eq!(
        sample(&t, &format!("redoubt_sentinel_master_quorum{{{name}}}")),
        Some("2")
    );
    assert_eq!(
        sample(
            &t,
            &format!("redoubt_sentinel_master_failover_in_progress{{{name}}}")
        ),
        Some("1")
    );
    assert_eq!(
        sample(
            &t,
            &format!("redoubt_sentinel_master_failovers_total{{{name}}}")
        ),
        Some("2")
    );
    assert_eq!(sample(&t, "redoubt_sentinel_current_epoch"), Some("7"));
    assert_eq!(sample(&t, "redoubt_sentinel_masters"), Some("1"));
    assert_eq!(
        sample(&t, "redoubt_sentinel_events_total{event=\"+odown\"}"),
        Some("1")
    );
}

#[test]
fn garbage_info_lines_are_skipped() {
    let t = render(
        "x\r\n:\r\nused_memory:abc\r\nslave0:junk\r\ndb0:keys=\r\nconnected_clients:NaN\r\n",
        None,
    );
    assert_eq!(sample(&t, "redoubt_memory_used_bytes"), None);
    assert_eq!(sample(&t, "redoubt_connected_clients"), None);
    assert!(t.contains("redoubt_build_info"));
}

#[test]
fn request_heads() {
    let ok = Request::Metrics { body: true };
    assert_eq!(
        parse_head(b"GET /metrics HTTP/1.1\r\nHost: x\r\nAccept: */*"),
        ok
    );
    assert_eq!(parse_head(b"GET /metrics?x=1 HTTP/1.0"), ok);
    assert_eq!(
        parse_head(b"HEAD /metrics HTTP/1.1"),
        Request::Metrics { body: false }
    );
    let status = |r: Request| match r {
        Request::Refuse { status, .. } => status,
        Request::Metrics { .. } => "200",
    };
    assert_eq!(
        status(parse_head(b"POST /metrics HTTP/1.1")),
        "405 Method Not Allowed"
    );
    assert_eq!(status(parse_head(b"GET / HTTP/1.1")), "404 Not Found");
    assert_eq!(
        status(parse_head(b"GET /metricsx HTTP/1.1")),
        "404 Not Found"
    );
    for bad in [
        &b""[..],
        b"GET",
        b"GET /metrics",
        b"GET /metrics HTTP/2.0",
        b"GET  /metrics HTTP/1.1",
        b"GET metrics HTTP/1.1",
        b"GET /metrics HTTP/1.1\r\nno colon",
        b"GET /metrics HTTP/1.1\r\nBad Name: x",
        b"GET /metrics HTTP/1.1\r\n\xff: x",
        b"\x00\x01\x02",
    ] {
        assert_eq!(status(parse_head(bad)), "400 Bad Request", "{bad:?}");
    }
}
