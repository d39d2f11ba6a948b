//! Every directive survives CONFIG REWRITE: set to a non-default value, rewritten, parsed
//! back, it reads the same.

use redoubt_config::table::{IntFormat, IntSpec};
use redoubt_config::{
    parse_config_text, repr, rewrite_config_text, Config, DirectiveId, Kind, RewriteOptions,
    SetContext, DIRECTIVES,
};

/// Directives left at their default, and why.
const EXEMPT: &[&str] = &[
    // Cannot be enabled in this build (nor in Redis 7.0.15 as Debian builds it).
    "activedefrag",
    // Refused together with replicaof, which is set; see `cluster_mode_drops_replicaof`.
    "cluster-enabled",
];

fn int_text(spec: &IntSpec) -> String {
    match spec.format {
        IntFormat::MemoryOrPercent => "7%".into(),
        IntFormat::Octal => "755".into(),
        IntFormat::Memory => {
            // A multiple of 1024 away from the default, so the rewrite uses a unit.
            let v = if spec
                .default
                .checked_add(1024)
                .is_some_and(|v| v <= spec.max || spec.unsigned)
            {
                spec.default + 1024
            } else {
                spec.default - 1024
            };
            v.to_string()
        }
        IntFormat::Plain => {
            let v = if spec.default < spec.max
                || spec.unsigned && (spec.max as u64) > spec.default as u64
            {
                spec.default + 1
            } else {
                spec.default - 1
            };
            v.to_string()
        }
    }
}

/// A value different from the default, as CONFIG SET or a config line takes it.
fn non_default(name: &str, kind: &Kind) -> Vec<u8> {
    let s: &str = match (name, kind) {
        ("dbfilename", _) => "other dump.rdb",
        ("appendfilename", _) => "a \"b\".aof",
        ("appenddirname", _) => "aof\tdir",
        ("cluster-announce-hostname", _) => "host-1.example",
        ("proc-title-template", _) => "{title} {port} x",
        ("save", _) => "100 5 200 6",
        ("client-output-buffer-limit", _) => "normal 1mb 2mb 3 replica 4 5 6 pubsub 7gb 8 9",
        ("oom-score-adj-values", _) => "10 20 30",
        ("notify-keyspace-events", _) => "Kgx",
        ("bind", _) => "127.0.0.1 ::1",
        ("replicaof", _) => "10.0.0.9 7000",
        ("latency-tracking-info-percentiles", _) => "1.5 99.99",
        ("masterauth" | "requirepass", _) => return b"p a\"s\\s\n\x01\xff".to_vec(),
        ("shutdown-on-sigint" | "shutdown-on-sigterm", _) => "save now",
        (_, Kind::Bool { default }) => return (if *default { "no" } else { "yes" }).into(),
        (_, Kind::Int(spec)) => return int_text(spec).into_bytes(),
        (_, Kind::Enum(spec)) => {
            let (n, _) = spec
                .values
                .iter()
                .find(|(_, v)| *v != spec.default)
                .expect("two values");
            n
        }
        (_, Kind::Str(_)) => "v a\"l\tue 'x'",
        (name, kind) => panic!("no value chosen for {name}: {kind:?}"),
    };
    s.as_bytes().to_vec()
}

fn every_directive_changed() -> Config {
    let mut cfg = Config::new();
    let mut file = Vec::new();
    let ctx = SetContext {
        protected_allowed: true,
        loading: false,
    };
    for dir in DIRECTIVES {
        if EXEMPT.contains(&dir.name) || dir.name == "dir" {
            continue;
        }
        let value = non_default(dir.name, &dir.kind);
        if dir.is_immutable() {
            // Immutable directives only come from the file.
            file.extend_from_slice(dir.name.as_bytes());
            file.push(b' ');
            if dir.is_multi_arg() {
                file.extend_from_slice(&value);
            } else {
                repr(&mut file, &value);
            }
            file.push(b'\n');
        } else {
            cfg.config_set(&[dir.name.as_bytes(), &value], &ctx)
                .unwrap_or_else(|e| panic!("{}: {e}", dir.name));
        }
    }
    cfg.load_text(&file, "immutables", &mut redoubt_config::PureEnv::default())
        .expect("loads");
    cfg.set_dir_resolved("/var/lib/redoubt data".into());
    cfg
}

fn values(cfg: &Config) -> Vec<(&'static str, Vec<u8>)> {
    (0..DIRECTIVES.len())
        .map(|i| {
            let id = DirectiveId(i as u16);
            (id.directive().name, cfg.get_value_bytes(id))
        })
        .collect()
}

#[test]
fn every_directive_differs_from_its_default() {
    let cfg = every_directive_changed();
    let defaults = values(&Config::new());
    for ((name, got), (_, default)) in values(&cfg).iter().zip(&defaults) {
        if !EXEMPT.contains(name) {
            assert_ne!(got, default, "{name} is still at its default");
        }
    }
}

#[test]
fn rewrite_then_parse_gives_the_same_values() {
    let cfg = every_directive_changed();
    for old in [
        &b""[..],
        include_bytes!("fixtures/debian-redis-7.0.15.conf"),
    ] {
        let text = rewrite_config_text(old, &cfg, &RewriteOptions::default());
        let back = parse_config_text(&text, "rewritten").unwrap_or_else(|e| {
            panic!("{e}\n---\n{}", String::from_utf8_lossy(&text));
        });
        for ((name, want), (_, got)) in values(&cfg).iter().zip(values(&back)) {
            assert_eq!(
                String::from_utf8_lossy(want),
                String::from_utf8_lossy(&got),
                "{name} after rewrite of a {}-byte file",
                old.len()
            );
        }
        // Rewriting is stable once the file ends in a blank line: the text's final newline
        // reads as one more (empty) line, as in Redis, so the first pass over a file ending
        // in "\n" adds a blank line at the end and later passes change nothing.
        let second = rewrite_config_text(&text, &back, &RewriteOptions::default());
        let third = rewrite_config_text(&second, &back, &RewriteOptions::default());
        assert_eq!(
            String::from_utf8_lossy(&second),
            String::from_utf8_lossy(&third)
        );
    }
}

#[test]
fn defaults_rewrite_to_the_forced_lines_only() {
    let mut cfg = Config::new();
    cfg.set_dir_resolved("/d".into());
    let text = rewrite_config_text(b"", &cfg, &RewriteOptions::default());
    assert_eq!(
        String::from_utf8(text).expect("utf8"),
        "# Generated by CONFIG REWRITE\ndir \"/d\"\nsave 3600 1\nsave 300 100\nsave 60 10000\n\
         latency-tracking-info-percentiles 50 99 99.9\n"
    );
}

#[test]
fn cluster_mode_drops_replicaof() {
    let mut cfg = parse_config_text(b"cluster-enabled yes\n", "t").expect("loads");
    cfg.set_dir_resolved("/d".into());
    let text = rewrite_config_text(
        b"replicaof 1.2.3.4 5\nslaveof 1.2.3.4 5\n",
        &cfg,
        &RewriteOptions::default(),
    );
    let text = String::from_utf8(text).expect("utf8");
    assert!(
        !text.contains("replicaof") && !text.contains("slaveof"),
        "{text}"
    );
    assert!(parse_config_text(text.as_bytes(), "t")
        .expect("loads")
        .get_bool("cluster-enabled"));
}

/// Differential check against a live redis-server 7.0.15: every mutable directive gets the
/// same CONFIG SETs (the non-default value above and a list of awkward values) on both sides,
/// and the replies and the values read back must be equal. The test starts its own
/// redis-server (the oracle; missing it is a failure) on a free loopback port.
#[test]
fn config_set_matches_a_live_redis() {
    use redoubt_resp::{encode_command, parse_value, Value as Reply};
    use std::io::{Read, Write};

    let oracle = redoubt_harness::ServerProcess::start(redoubt_harness::Flavor::Redis, &[])
        .expect("the oracle redis-server 7.0.15 starts");
    let port = oracle.port();
    let mut conn = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect");
    let mut buf = Vec::new();
    let mut call = |args: &[&[u8]]| -> Reply {
        conn.write_all(&encode_command(args)).expect("write");
        loop {
            if let Some((v, used)) = parse_value(&buf).expect("valid reply") {
                buf.drain(..used);
                return v;
            }
            let mut chunk = [0u8; 4096];
            let n = conn.read(&mut chunk).expect("read");
            assert!(n > 0, "connection closed");
            buf.extend_from_slice(&chunk[..n]);
        }
    };
    // Changing these would cut the connection, need files or privileges, or lock us out.
    let skip = [
        "port",
        "bind",
        "dir",
        "dbfilename",
        "requirepass",
        "oom-score-adj",
        "oom-score-adj-values",
    ];
    let probes: &[&[u8]] = &[
        b"0",
        b"1",
        b"-1",
        b"1k",
        b"1kb",
        b"5%",
        b"100%",
        b"yes",
        b"NO",
        b"",
        b" ",
        b"abc",
        b"010",
        b"9223372036854775807",
        b"18446744073709551615",
        b"-9223372036854775808",
        b"100 1",
        b"10 20 30",
        b"normal 1 2 3",
        b"KEA",
        b"a b",
        b"0777",
        b"1.5",
        b"save nosave",
        b"x\"y",
    ];
    let mut ours = Config::new();
    let ctx = SetContext::default();
    let mut mismatches = Vec::new();
    for dir in DIRECTIVES {
        // Redoubt's own directives are unknown to Redis by design.
        if dir.is_immutable()
            || dir.is_redoubt_only()
            || skip.contains(&dir.name)
            || dir.name.starts_with("tls-")
        {
            continue;
        }
        let chosen = non_default(dir.name, &dir.kind);
        let mut values: Vec<&[u8]> = vec![&chosen];
        values.extend_from_slice(probes);
        for value in values {
            let name = dir.name.as_bytes();
            let theirs = match call(&[b"CONFIG", b"SET", name, value]) {
                Reply::Simple(s) => Ok(s),
                Reply::Error(e) => Err(e),
                other => panic!("unexpected {other:?}"),
            };
            let mine = ours
                .config_set(&[name, value], &ctx)
                .map(|_| "OK".to_owned())
                .map_err(|e| e.to_string());
            if theirs != mine {
                mismatches.push(format!(
                    "SET {} {:?}: redis {theirs:?}, ours {mine:?}",
                    dir.name,
                    String::from_utf8_lossy(value)
                ));
            }
            let Reply::Array(got) = call(&[b"CONFIG", b"GET", name]) else {
                panic!("array")
            };
            let theirs = match &got[1] {
                Reply::Bulk(b) => b.to_vec(),
                other => panic!("unexpected {other:?}"),
            };
            let mine = ours.config_get(&[name]).remove(0).1;
            if theirs != mine {
                mismatches.push(format!(
                    "GET {} after {:?}: redis {:?}, ours {:?}",
                    dir.name,
                    String::from_utf8_lossy(value),
                    String::from_utf8_lossy(&theirs),
                    String::from_utf8_lossy(&mine)
                ));
            }
        }
    }
    // Patterns, several at once: the same names (as sets: Redis's order is random) and, for
    // the directives both sides have set alike, the same values.
    // The probes left tiny output buffer limits for normal clients; lift them on both sides
    // so the big replies below are not cut.
    let reset: [&[u8]; 2] = [b"client-output-buffer-limit", b"normal 0 0 0"];
    assert!(matches!(
        call(&[b"CONFIG", b"SET", reset[0], reset[1]]),
        Reply::Simple(_)
    ));
    ours.config_set(&reset, &ctx).expect("valid");
    let pattern_sets: &[&[&[u8]]] = &[
        &[b"*"],
        &[b"*max*", b"maxmemory", b"MAXMEMORY"],
        &[b"[a-c]*", b"SLAVE*"],
        &[b"*-?o*", b"x[", b"\\*", b"[^a-s]*"],
        &[
            b"Maxmemory",
            b"maxmemory",
            b"maxmem*",
            b"key-load-delay",
            b"*load*",
        ],
    ];
    for patterns in pattern_sets {
        let mut args: Vec<&[u8]> = vec![b"CONFIG", b"GET"];
        args.extend_from_slice(patterns);
        let Reply::Array(got) = call(&args) else {
            panic!("array")
        };
        let mut theirs: Vec<(Vec<u8>, Vec<u8>)> = got
            .chunks(2)
            .map(|p| match (&p[0], &p[1]) {
                (Reply::Bulk(n), Reply::Bulk(v)) => (n.to_vec(), v.to_vec()),
                other => panic!("unexpected {other:?}"),
            })
            .collect();
        let mut mine: Vec<(Vec<u8>, Vec<u8>)> = ours
            .config_get(patterns)
            .into_iter()
            .map(|(n, v)| (n.into_bytes(), v))
            .collect();
        let differs_by_design = |n: &[u8]| {
            let n = String::from_utf8_lossy(n).to_ascii_lowercase();
            // `logfile`: the harness starts the oracle with a log file of its own.
            skip.contains(&n.as_str())
                || n.starts_with("tls-")
                || n == "unixsocketperm"
                || n == "logfile"
        };
        for list in [&mut theirs, &mut mine] {
            for (n, v) in list.iter_mut() {
                if differs_by_design(n) {
                    v.clear();
                }
            }
            list.sort();
        }
        if theirs != mine {
            let show = |l: &[(Vec<u8>, Vec<u8>)], o: &[(Vec<u8>, Vec<u8>)]| {
                l.iter()
                    .filter(|p| !o.contains(p))
                    .map(|(n, v)| {
                        format!(
                            "{}={}",
                            String::from_utf8_lossy(n),
                            String::from_utf8_lossy(v)
                        )
                    })
                    .collect::<Vec<_>>()
                    .join(" ")
            };
            mismatches.push(format!(
                "GET {patterns:?}: redis {} pairs, ours {}; only redis: {}; only ours: {}",
                theirs.len(),
                mine.len(),
                show(&theirs, &mine),
                show(&mine, &theirs)
            ));
        }
    }
    assert!(
        mismatches.is_empty(),
        "{} mismatches:\n{}",
        mismatches.len(),
        mismatches.join("\n")
    );
}
