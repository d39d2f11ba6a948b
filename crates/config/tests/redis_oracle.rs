//! Comparisons with answers recorded from a real redis-server 7.0.15 (Debian
//! 7.0.15-1~deb12u10): its `CONFIG GET *` defaults, and a `CONFIG REWRITE` of Debian's stock
//! redis.conf after a series of `CONFIG SET`s.

use redoubt_config::{
    assemble_config_text, lookup, parse_config_text, parse_server_args, rewrite_config_text,
    Config, Invocation, RewriteOptions, SetContext, DIRECTIVES, REWRITE_SIGNATURE,
};

/// Output of `redis-cli -p PORT config get '*'` from `redis-server --port PORT --bind
/// 127.0.0.1`, one reply element per line (names and values alternate), with the pairs for
/// `dir`, `port` and `bind` removed: those were the machine's and the command line's.
const CONFIG_GET_ALL: &str = include_str!("fixtures/redis-7.0.15-config-get-all.txt");

#[test]
fn defaults_match_config_get_all() {
    let lines: Vec<&str> = CONFIG_GET_ALL
        .strip_suffix('\n')
        .expect("newline")
        .split('\n')
        .collect();
    assert_eq!(lines.len() % 2, 0);
    let redis: Vec<(&str, &str)> = lines.chunks(2).map(|p| (p[0], p[1])).collect();
    let cfg = Config::new();
    let ours: Vec<(String, Vec<u8>)> = cfg.config_get(&[b"*"]);
    let machine_dependent = ["dir", "port", "bind"];
    let ours: Vec<(String, String)> = ours
        .into_iter()
        .filter(|(n, _)| !machine_dependent.contains(&n.as_str()))
        .map(|(n, v)| (n, String::from_utf8(v).expect("utf8")))
        .collect();
    let mut want: Vec<(String, String)> = redis
        .iter()
        .map(|(n, v)| (n.to_string(), v.to_string()))
        .collect();
    let mut got = ours.clone();
    want.sort();
    got.sort();
    for (w, g) in want.iter().zip(&got) {
        assert_eq!(w, g);
    }
    assert_eq!(want.len(), got.len());
    // The three left out have Redis's defaults when nothing is given.
    let get = |name: &str| String::from_utf8(cfg.config_get(&[name.as_bytes()])[0].1.clone());
    assert_eq!(get("port").expect("utf8"), "6379");
    assert_eq!(get("bind").expect("utf8"), "* -::*");
    assert_eq!(
        get("dir").expect("utf8"),
        "",
        "the server records its cwd at startup"
    );
}

#[test]
fn stock_conf_rewrite_matches_redis() {
    let original = include_bytes!("fixtures/debian-redis-7.0.15.conf");
    let redis_wrote = include_str!("fixtures/debian-redis-7.0.15.conf.rewritten");
    // The real server ran as
    //   redis-server stock.conf --port 36990 --bind 127.0.0.1 --daemonize no --logfile ""
    //       --pidfile "" --dir /tmp/rc/stock
    // then got these CONFIG SETs, one per command, then CONFIG REWRITE.
    let argv = [
        "redis-server",
        "stock.conf",
        "--port",
        "36990",
        "--bind",
        "127.0.0.1",
        "--daemonize",
        "no",
        "--logfile",
        "",
        "--pidfile",
        "",
        "--dir",
        "/tmp/rc/stock",
    ];
    let Invocation::Run(args) = parse_server_args(&argv) else {
        panic!("a normal start")
    };
    let text = assemble_config_text(Some(original), None, &args.options);
    let mut cfg = parse_config_text(&text, "stock.conf").expect("the stock file loads");
    let sets: &[(&str, &str)] = &[
        ("maxmemory", "100mb"),
        ("maxmemory-policy", "allkeys-lru"),
        ("save", "900 1 300 10"),
        ("hz", "20"),
        ("notify-keyspace-events", "KEx"),
        ("client-output-buffer-limit", "pubsub 64mb 16mb 90"),
        ("slowlog-max-len", "256"),
        ("replica-priority", "50"),
        ("timeout", "30"),
        ("maxmemory-clients", "5%"),
        ("latency-tracking-info-percentiles", "50 99"),
        ("list-max-ziplist-size", "-3"),
        ("lua-time-limit", "6000"),
        ("masteruser", "repl user"),
        ("proto-max-bulk-len", "1gb"),
        ("repl-backlog-size", "3000000"),
        ("loglevel", "verbose"),
        ("shutdown-on-sigterm", "save now"),
        ("replica-announce-ip", "10.1.2.3"),
    ];
    for (name, value) in sets {
        cfg.config_set(&[name.as_bytes(), value.as_bytes()], &SetContext::default())
            .unwrap_or_else(|e| panic!("{name}: {e}"));
    }
    cfg.set_dir_resolved("/tmp/rc/stock".into());
    let users = [b"user default on nopass ~* &* +@all".to_vec()];
    let opts = RewriteOptions {
        users: Some(&users),
        ..RewriteOptions::default()
    };
    let ours = String::from_utf8(rewrite_config_text(original, &cfg, &opts)).expect("utf8");
    let (our_head, our_tail) = ours.split_once(REWRITE_SIGNATURE).expect("signature");
    let (redis_head, redis_tail) = redis_wrote
        .split_once(REWRITE_SIGNATURE)
        .expect("signature");
    assert_eq!(our_head, redis_head);
    // Redis appends in its dict's random order.
    fn sorted(s: &str) -> Vec<&str> {
        let mut v: Vec<&str> = s.lines().collect();
        v.sort_unstable();
        v
    }
    assert_eq!(sorted(our_tail), sorted(redis_tail));
}

#[test]
fn every_alias_is_in_the_table() {
    // The aliases Redis 7.0.15 answers CONFIG GET for.
    let aliases = [
        ("cluster-slave-no-failover", "cluster-replica-no-failover"),
        (
            "cluster-slave-validity-factor",
            "cluster-replica-validity-factor",
        ),
        ("hash-max-ziplist-entries", "hash-max-listpack-entries"),
        ("hash-max-ziplist-value", "hash-max-listpack-value"),
        ("list-max-ziplist-size", "list-max-listpack-size"),
        ("lua-time-limit", "busy-reply-threshold"),
        ("min-slaves-max-lag", "min-replicas-max-lag"),
        ("min-slaves-to-write", "min-replicas-to-write"),
        ("repl-ping-slave-period", "repl-ping-replica-period"),
        ("slave-announce-ip", "replica-announce-ip"),
        ("slave-announce-port", "replica-announce-port"),
        ("slave-ignore-maxmemory", "replica-ignore-maxmemory"),
        ("slave-lazy-flush", "replica-lazy-flush"),
        ("slave-priority", "replica-priority"),
        ("slave-read-only", "replica-read-only"),
        ("slave-serve-stale-data", "replica-serve-stale-data"),
        ("slaveof", "replicaof"),
        ("zset-max-ziplist-entries", "zset-max-listpack-entries"),
        ("zset-max-ziplist-value", "zset-max-listpack-value"),
    ];
    for (alias, primary) in aliases {
        let m = lookup(alias.as_bytes()).unwrap_or_else(|| panic!("{alias}"));
        assert!(m.is_alias);
        assert_eq!(m.id.directive().name, primary);
    }
    assert_eq!(
        DIRECTIVES.iter().filter(|d| d.alias.is_some()).count(),
        aliases.len()
    );
}
