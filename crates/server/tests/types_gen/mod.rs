//! Command generators for types_prop.rs: random commands of each collection type on a few
//! keys, with values, indexes, scores and ranges chosen to hit encodings' thresholds, integer
//! and float edges, and equal scores.

use proptest::prelude::*;
use proptest::sample::select;
use proptest::strategy::Union;

pub type Cmd = Vec<String>;

pub fn cmd(parts: &[&str]) -> Cmd {
    parts.iter().map(|s| s.to_string()).collect()
}

// ---------------------------------------------------------------------------------------------
// Value generators
// ---------------------------------------------------------------------------------------------

/// Short strings, integers (intset and integer listpack entries, "007" is not one), and long
/// strings around the `*-max-listpack-value` thresholds.
pub fn val() -> BoxedStrategy<String> {
    prop_oneof![
        6 => select(vec!["a", "b", "c", "d", "e", "007", ""]).prop_map(String::from),
        5 => (-3i64..12).prop_map(|n| n.to_string()),
        // Exactly at and one past each `*-max-listpack-value` (8 small, 64 default), and the
        // edges of a 64-bit integer (intset members or not).
        2 => select(vec![
            "x".repeat(12),
            "y".repeat(70),
            "abcdefgh".to_string(),
            "abcdefghi".to_string(),
            "v".repeat(64),
            "w".repeat(65),
            "9223372036854775807".to_string(),
            "-9223372036854775808".to_string(),
            "9223372036854775808".to_string(),
            "123456789012".to_string(),
        ]),
    ]
    .boxed()
}

pub fn vals(max: usize) -> BoxedStrategy<Vec<String>> {
    prop::collection::vec(val(), 1..=max).boxed()
}

/// Small indexes mostly, and now and then the edges of a 64-bit integer or not a number.
pub fn idx() -> BoxedStrategy<String> {
    prop_oneof![
        30 => (-6i64..7).prop_map(|n| n.to_string()),
        1 => select(vec![
            "9223372036854775807",
            "-9223372036854775808",
            "abc",
            "1.5",
            "+3",
        ])
        .prop_map(String::from),
    ]
    .boxed()
}

pub fn count() -> BoxedStrategy<Option<String>> {
    prop::option::of((0i64..5).prop_map(|n| n.to_string())).boxed()
}

pub fn key(names: &'static [&'static str]) -> BoxedStrategy<String> {
    select(names).prop_map(String::from).boxed()
}

pub fn keys(names: &'static [&'static str]) -> BoxedStrategy<Vec<String>> {
    prop::collection::vec(key(names), 1..=3).boxed()
}

pub fn side() -> BoxedStrategy<String> {
    select(vec!["LEFT", "RIGHT"]).prop_map(String::from).boxed()
}

/// `numkeys key...`, with a wrong count now and then for the error path.
pub fn numkeys(ks: Vec<String>, off: bool) -> Vec<String> {
    let n = if off { ks.len() + 1 } else { ks.len() };
    let mut out = vec![n.to_string()];
    out.extend(ks);
    out
}

// ---------------------------------------------------------------------------------------------
// Lists
// ---------------------------------------------------------------------------------------------

pub const LIST_KEYS: &[&str] = &["l1", "l2", "l3"];

pub fn list_cmd() -> BoxedStrategy<Cmd> {
    let k = || key(LIST_KEYS);
    Union::new(vec![
        (
            select(vec!["LPUSH", "RPUSH", "LPUSH", "RPUSH", "LPUSHX", "RPUSHX"]),
            k(),
            vals(5),
        )
            .prop_map(|(c, k, vs)| [cmd(&[c, &k]), vs].concat())
            .boxed(),
        (select(vec!["LPOP", "RPOP"]), k(), count())
            .prop_map(|(c, k, n)| [cmd(&[c, &k]), n.into_iter().collect()].concat())
            .boxed(),
        (k(), idx())
            .prop_map(|(k, i)| cmd(&["LINDEX", &k, &i]))
            .boxed(),
        (k(), idx(), val())
            .prop_map(|(k, i, v)| cmd(&["LSET", &k, &i, &v]))
            .boxed(),
        (k(), select(vec!["BEFORE", "AFTER"]), val(), val())
            .prop_map(|(k, w, p, v)| cmd(&["LINSERT", &k, w, &p, &v]))
            .boxed(),
        (k(), -2i64..3, val())
            .prop_map(|(k, n, v)| cmd(&["LREM", &k, &n.to_string(), &v]))
            .boxed(),
        (k(), idx(), idx())
            .prop_map(|(k, a, b)| cmd(&["LTRIM", &k, &a, &b]))
            .boxed(),
        (
            k(),
            val(),
            prop::option::of(-2i64..3),
            prop::option::of(0i64..3),
            prop::option::of(0i64..4),
        )
            .prop_map(|(k, v, rank, cnt, maxlen)| {
                let mut c = cmd(&["LPOS", &k, &v]);
                if let Some(r) = rank {
                    c.extend(cmd(&["RANK", &r.to_string()]));
                }
                if let Some(n) = cnt {
                    c.extend(cmd(&["COUNT", &n.to_string()]));
                }
                if let Some(m) = maxlen {
                    c.extend(cmd(&["MAXLEN", &m.to_string()]));
                }
                c
            })
            .boxed(),
        (k(), k(), side(), side())
            .prop_map(|(a, b, x, y)| cmd(&["LMOVE", &a, &b, &x, &y]))
            .boxed(),
        (k(), k())
            .prop_map(|(a, b)| cmd(&["RPOPLPUSH", &a, &b]))
            .boxed(),
        (k(), idx(), idx())
            .prop_map(|(k, a, b)| cmd(&["LRANGE", &k, &a, &b]))
            .boxed(),
        k().prop_map(|k| cmd(&["LLEN", &k])).boxed(),
        (keys(LIST_KEYS), side(), count(), prop::bool::weighted(0.05))
            .prop_map(|(ks, s, n, off)| {
                let mut c = cmd(&["LMPOP"]);
                c.extend(numkeys(ks, off));
                c.push(s);
                if let Some(n) = n {
                    c.extend(cmd(&["COUNT", &n]));
                }
                c
            })
            .boxed(),
    ])
    .boxed()
}

// ---------------------------------------------------------------------------------------------
// Hashes
// ---------------------------------------------------------------------------------------------

pub const HASH_KEYS: &[&str] = &["h1", "h2"];

pub fn field() -> BoxedStrategy<String> {
    prop_oneof![
        8 => select(vec!["f", "g", "h", "i", "j", "1", "2"]).prop_map(String::from),
        1 => select(vec![
            "long-field-name".to_string(),
            "fieldnam".to_string(),
            "z".repeat(64),
            "z".repeat(70),
        ]),
    ]
    .boxed()
}

pub fn float_incr() -> BoxedStrategy<String> {
    select(vec![
        "1.5", "-0.25", "3", "1e3", "0.1", "abc", "-1", "5e-3", "inf", "-0", "1e400", "nan",
        "0x10", "17e307",
    ])
    .prop_map(String::from)
    .boxed()
}

pub fn hash_cmd() -> BoxedStrategy<Cmd> {
    let k = || key(HASH_KEYS);
    Union::new(vec![
        (k(), prop::collection::vec((field(), val()), 1..4))
            .prop_map(|(k, pairs)| {
                let mut c = cmd(&["HSET", &k]);
                for (f, v) in pairs {
                    c.push(f);
                    c.push(v);
                }
                c
            })
            .boxed(),
        (k(), field(), val())
            .prop_map(|(k, f, v)| cmd(&["HSETNX", &k, &f, &v]))
            .boxed(),
        (k(), prop::collection::vec(field(), 1..3))
            .prop_map(|(k, fs)| [cmd(&["HDEL", &k]), fs].concat())
            .boxed(),
        (
            k(),
            field(),
            prop_oneof![
                20 => (-5i64..20).prop_map(|n| n.to_string()),
                1 => select(vec!["9223372036854775807", "-9223372036854775808", "x", "1.0"])
                    .prop_map(String::from),
            ],
        )
            .prop_map(|(k, f, n)| cmd(&["HINCRBY", &k, &f, &n]))
            .boxed(),
        (k(), field(), float_incr())
            .prop_map(|(k, f, x)| cmd(&["HINCRBYFLOAT", &k, &f, &x]))
            .boxed(),
        (select(vec!["HGET", "HSTRLEN", "HEXISTS"]), k(), field())
            .prop_map(|(c, k, f)| cmd(&[c, &k, &f]))
            .boxed(),
        (k(), prop::collection::vec(field(), 1..4))
            .prop_map(|(k, fs)| [cmd(&["HMGET", &k]), fs].concat())
            .boxed(),
        k().prop_map(|k| cmd(&["HLEN", &k])).boxed(),
        // Unordered replies (a hashtable's order is its hash function's): compared sorted.
        (select(vec!["HKEYS", "HVALS", "HGETALL"]), k())
            .prop_map(|(c, k)| cmd(&[c, &k]))
            .boxed(),
    ])
    .boxed()
}

// ---------------------------------------------------------------------------------------------
// Sets
// ---------------------------------------------------------------------------------------------

pub const SET_KEYS: &[&str] = &["s1", "s2", "s3"];

pub fn set_cmd() -> BoxedStrategy<Cmd> {
    let k = || key(SET_KEYS);
    Union::new_weighted(vec![
        (
            4,
            (k(), vals(5))
                .prop_map(|(k, vs)| [cmd(&["SADD", &k]), vs].concat())
                .boxed(),
        ),
        (
            2,
            (k(), vals(3))
                .prop_map(|(k, vs)| [cmd(&["SREM", &k]), vs].concat())
                .boxed(),
        ),
        (
            1,
            (k(), k(), val())
                .prop_map(|(a, b, m)| cmd(&["SMOVE", &a, &b, &m]))
                .boxed(),
        ),
        (
            2,
            (
                select(vec!["SINTERSTORE", "SUNIONSTORE", "SDIFFSTORE"]),
                k(),
                keys(SET_KEYS),
            )
                .prop_map(|(c, d, ks)| [cmd(&[c, &d]), ks].concat())
                .boxed(),
        ),
        (
            1,
            (
                keys(SET_KEYS),
                prop::option::of(0i64..3),
                prop::bool::weighted(0.05),
            )
                .prop_map(|(ks, limit, off)| {
                    let mut c = cmd(&["SINTERCARD"]);
                    c.extend(numkeys(ks, off));
                    if let Some(l) = limit {
                        c.extend(cmd(&["LIMIT", &l.to_string()]));
                    }
                    c
                })
                .boxed(),
        ),
        (
            1,
            (k(), val())
                .prop_map(|(k, m)| cmd(&["SISMEMBER", &k, &m]))
                .boxed(),
        ),
        (
            1,
            (k(), vals(3))
                .prop_map(|(k, ms)| [cmd(&["SMISMEMBER", &k]), ms].concat())
                .boxed(),
        ),
        (1, k().prop_map(|k| cmd(&["SCARD", &k])).boxed()),
        // Unordered replies: compared sorted.
        (1, k().prop_map(|k| cmd(&["SMEMBERS", &k])).boxed()),
        (
            1,
            (select(vec!["SINTER", "SUNION", "SDIFF"]), keys(SET_KEYS))
                .prop_map(|(c, ks)| [cmd(&[c]), ks].concat())
                .boxed(),
        ),
    ])
    .boxed()
}

// ---------------------------------------------------------------------------------------------
// Sorted sets
// ---------------------------------------------------------------------------------------------

/// Keys with any scores. Lex ranges are left out on these: with unequal scores the answer
/// depends on the skiplist's random levels, even between two runs of Redis.
pub const ZSET_KEYS: &[&str] = &["z1", "z2", "z3"];
/// Keys whose members all have score 0, where lex ranges are defined.
pub const LEX_KEYS: &[&str] = &["x1", "x2"];

/// Repeated values so equal scores (ordered by member) are common.
pub fn score() -> BoxedStrategy<String> {
    select(vec![
        "1",
        "2",
        "2",
        "3",
        "-1",
        "0",
        "1.5",
        "0.1",
        "3e2",
        "+inf",
        "-inf",
        "1",
        "2",
        "-0",
        "1e400",
        "nan",
        "0x10",
        "1.0000000000000002",
        "inf",
        "abc",
        "17e307",
    ])
    .prop_map(String::from)
    .boxed()
}

pub fn score_bound() -> BoxedStrategy<String> {
    select(vec![
        "-inf", "+inf", "0", "1", "(1", "2", "(2", "1.5", "(3", "-1", "(0", "(inf", "(-inf", "x",
        "(", "nan",
    ])
    .prop_map(String::from)
    .boxed()
}

pub fn lex_bound() -> BoxedStrategy<String> {
    select(vec![
        "-", "+", "[a", "(b", "[c", "(d", "[1", "(2", "[e", "[", "x",
    ])
    .prop_map(String::from)
    .boxed()
}

/// A key of either family and whether it is a lex one.
pub fn zkey() -> BoxedStrategy<(String, bool)> {
    prop_oneof![
        3 => key(ZSET_KEYS).prop_map(|k| (k, false)),
        2 => key(LEX_KEYS).prop_map(|k| (k, true)),
    ]
    .boxed()
}

/// `min max` and the flags of one ZRANGE form: by rank, BYSCORE or (on lex keys) BYLEX, maybe
/// REV and LIMIT.
pub fn zrange_spec(lex: bool) -> BoxedStrategy<Vec<String>> {
    (
        0u8..if lex { 3 } else { 2 },
        idx(),
        idx(),
        score_bound(),
        score_bound(),
        lex_bound(),
        lex_bound(),
        any::<bool>(),
        prop::option::of((0i64..3, -1i64..3)),
    )
        .prop_map(|(by, r1, r2, s1, s2, l1, l2, rev, limit)| {
            let mut c = match by {
                0 => vec![r1, r2],
                1 => vec![s1, s2, "BYSCORE".to_string()],
                _ => vec![l1, l2, "BYLEX".to_string()],
            };
            if rev {
                c.push("REV".to_string());
            }
            // LIMIT with a rank range is an error in Redis; keep it rare there.
            if let Some((o, n)) = limit {
                if by != 0 || o == 2 {
                    c.extend(cmd(&["LIMIT", &o.to_string(), &n.to_string()]));
                }
            }
            c
        })
        .boxed()
}

pub fn zadd() -> BoxedStrategy<Cmd> {
    (
        zkey(),
        prop::option::of(select(vec!["NX", "XX"])),
        prop::option::of(select(vec!["GT", "LT"])),
        any::<bool>(),
        prop::bool::weighted(0.2),
        prop::collection::vec((score(), val()), 1..4),
    )
        .prop_map(|((k, lex), nx, gt, ch, incr, pairs)| {
            let mut c = cmd(&["ZADD", &k]);
            c.extend(nx.map(String::from));
            c.extend(gt.map(String::from));
            if ch {
                c.push("CH".to_string());
            }
            // INCR takes one pair; more is an error that is worth comparing now and then.
            let pairs = if incr {
                c.push("INCR".to_string());
                pairs[..1.max(pairs.len() / 3)].to_vec()
            } else {
                pairs
            };
            for (s, m) in pairs {
                c.push(if lex { "0".to_string() } else { s });
                c.push(m);
            }
            c
        })
        .boxed()
}

/// ZUNIONSTORE/ZINTERSTORE/ZDIFFSTORE within one family (weights and sums of zeros stay 0).
pub fn zset_algebra() -> BoxedStrategy<Cmd> {
    (
        select(vec!["ZUNIONSTORE", "ZINTERSTORE", "ZDIFFSTORE"]),
        any::<bool>(),
        key(ZSET_KEYS),
        keys(ZSET_KEYS),
        key(LEX_KEYS),
        keys(LEX_KEYS),
        prop::option::of(prop::collection::vec(
            select(vec!["1", "2", "-1", "0.5", "0", "inf"]),
            3,
        )),
        prop::option::of(select(vec!["SUM", "MIN", "MAX"])),
        prop::bool::weighted(0.05),
    )
        .prop_map(|(c, lex, zd, zks, xd, xks, weights, agg, off)| {
            let (d, ks) = if lex { (xd, xks) } else { (zd, zks) };
            let n = ks.len();
            let mut out = cmd(&[c, &d]);
            out.extend(numkeys(ks, off));
            // ZDIFFSTORE takes neither option: Redis answers a syntax error, compared too.
            if let Some(w) = weights {
                out.push("WEIGHTS".to_string());
                out.extend(w[..n].iter().map(|s| s.to_string()));
            }
            if let Some(a) = agg {
                out.extend(cmd(&["AGGREGATE", a]));
            }
            out
        })
        .boxed()
}

pub fn zset_cmd() -> BoxedStrategy<Cmd> {
    let k = || key(ZSET_KEYS);
    let x = || key(LEX_KEYS);
    let any_key = || zkey().prop_map(|(k, _)| k);
    let range_store = (any::<bool>(), k(), k(), x(), x())
        .prop_flat_map(|(lex, zd, zs, xd, xs)| {
            let (d, s) = if lex { (xd, xs) } else { (zd, zs) };
            zrange_spec(lex).prop_map(move |spec| [cmd(&["ZRANGESTORE", &d, &s]), spec].concat())
        })
        .boxed();
    let range = (zkey(), any::<bool>())
        .prop_flat_map(|((k, lex), ws)| {
            zrange_spec(lex).prop_map(move |spec| {
                let mut c = [cmd(&["ZRANGE", &k]), spec].concat();
                if ws {
                    c.push("WITHSCORES".to_string());
                }
                c
            })
        })
        .boxed();
    Union::new_weighted(vec![
        (6, zadd()),
        (
            2,
            (k(), score(), val())
                .prop_map(|(k, s, m)| cmd(&["ZINCRBY", &k, &s, &m]))
                .boxed(),
        ),
        (
            2,
            (any_key(), vals(3))
                .prop_map(|(k, ms)| [cmd(&["ZREM", &k]), ms].concat())
                .boxed(),
        ),
        (
            1,
            (any_key(), idx(), idx())
                .prop_map(|(k, a, b)| cmd(&["ZREMRANGEBYRANK", &k, &a, &b]))
                .boxed(),
        ),
        (
            1,
            (any_key(), score_bound(), score_bound())
                .prop_map(|(k, a, b)| cmd(&["ZREMRANGEBYSCORE", &k, &a, &b]))
                .boxed(),
        ),
        (
            1,
            (x(), lex_bound(), lex_bound())
                .prop_map(|(k, a, b)| cmd(&["ZREMRANGEBYLEX", &k, &a, &b]))
                .boxed(),
        ),
        (
            2,
            (select(vec!["ZPOPMIN", "ZPOPMAX"]), any_key(), count())
                .prop_map(|(c, k, n)| [cmd(&[c, &k]), n.into_iter().collect()].concat())
                .boxed(),
        ),
        (2, range_store),
        (2, zset_algebra()),
        (3, range),
        (
            1,
            (
                select(vec!["ZRANK", "ZREVRANK", "ZSCORE"]),
                any_key(),
                val(),
            )
                .prop_map(|(c, k, m)| cmd(&[c, &k, &m]))
                .boxed(),
        ),
        (
            1,
            (any_key(), score_bound(), score_bound())
                .prop_map(|(k, a, b)| cmd(&["ZCOUNT", &k, &a, &b]))
                .boxed(),
        ),
        (
            1,
            (x(), lex_bound(), lex_bound())
                .prop_map(|(k, a, b)| cmd(&["ZLEXCOUNT", &k, &a, &b]))
                .boxed(),
        ),
        (
            1,
            (any_key(), vals(3))
                .prop_map(|(k, ms)| [cmd(&["ZMSCORE", &k]), ms].concat())
                .boxed(),
        ),
        (1, any_key().prop_map(|k| cmd(&["ZCARD", &k])).boxed()),
        (
            1,
            (
                select(vec!["ZUNION", "ZINTER", "ZDIFF"]),
                keys(ZSET_KEYS),
                any::<bool>(),
                prop::option::of(select(vec!["MIN", "MAX"])),
            )
                .prop_map(|(c, ks, ws, agg)| {
                    let mut out = cmd(&[c]);
                    out.extend(numkeys(ks, false));
                    if let Some(a) = agg {
                        out.extend(cmd(&["AGGREGATE", a]));
                    }
                    if ws {
                        out.push("WITHSCORES".to_string());
                    }
                    out
                })
                .boxed(),
        ),
        (
            1,
            (keys(ZSET_KEYS), prop::option::of(0i64..3))
                .prop_map(|(ks, limit)| {
                    let mut c = cmd(&["ZINTERCARD"]);
                    c.extend(numkeys(ks, false));
                    if let Some(l) = limit {
                        c.extend(cmd(&["LIMIT", &l.to_string()]));
                    }
                    c
                })
                .boxed(),
        ),
        (
            1,
            (keys(ZSET_KEYS), select(vec!["MIN", "MAX"]), count())
                .prop_map(|(ks, w, n)| {
                    let mut c = cmd(&["ZMPOP"]);
                    c.extend(numkeys(ks, false));
                    c.push(w.to_string());
                    if let Some(n) = n {
                        c.extend(cmd(&["COUNT", &n]));
                    }
                    c
                })
                .boxed(),
        ),
        (
            1,
            (
                select(vec!["ZRANGEBYSCORE", "ZREVRANGEBYSCORE"]),
                any_key(),
                score_bound(),
                score_bound(),
                any::<bool>(),
                prop::option::of((0i64..3, -1i64..3)),
            )
                .prop_map(|(c, k, a, b, ws, limit)| {
                    let mut out = cmd(&[c, &k, &a, &b]);
                    if ws {
                        out.push("WITHSCORES".to_string());
                    }
                    if let Some((o, n)) = limit {
                        out.extend(cmd(&["LIMIT", &o.to_string(), &n.to_string()]));
                    }
                    out
                })
                .boxed(),
        ),
        (
            1,
            (
                select(vec!["ZRANGEBYLEX", "ZREVRANGEBYLEX"]),
                x(),
                lex_bound(),
                lex_bound(),
                prop::option::of((0i64..3, -1i64..3)),
            )
                .prop_map(|(c, k, a, b, limit)| {
                    let mut out = cmd(&[c, &k, &a, &b]);
                    if let Some((o, n)) = limit {
                        out.extend(cmd(&["LIMIT", &o.to_string(), &n.to_string()]));
                    }
                    out
                })
                .boxed(),
        ),
        (
            1,
            (any_key(), idx(), idx(), any::<bool>())
                .prop_map(|(k, a, b, ws)| {
                    let mut c = cmd(&["ZREVRANGE", &k, &a, &b]);
                    if ws {
                        c.push("WITHSCORES".to_string());
                    }
                    c
                })
                .boxed(),
        ),
    ])
    .boxed()
}

// ---------------------------------------------------------------------------------------------
// All types on shared keys
// ---------------------------------------------------------------------------------------------

pub const MIXED_KEYS: &[&str] = &["k1", "k2", "k3"];

/// Every type's commands on the same three keys (WRONGTYPE and type changes through DEL,
/// COPY, RENAME), plus generic commands that copy or move values of any encoding. The lex
/// keys keep their own names: lex ranges need equal scores.
pub fn mixed_cmd() -> BoxedStrategy<Cmd> {
    let rename = |c: Cmd| -> Cmd {
        c.into_iter()
            .map(|a| match a.as_str() {
                "l1" | "h1" | "s1" | "z1" => "k1".to_string(),
                "l2" | "h2" | "s2" | "z2" => "k2".to_string(),
                "l3" | "s3" | "z3" => "k3".to_string(),
                _ => a,
            })
            .collect()
    };
    let k = || key(MIXED_KEYS);
    Union::new_weighted(vec![
        (3, list_cmd().prop_map(rename).boxed()),
        (3, hash_cmd().prop_map(rename).boxed()),
        (3, set_cmd().prop_map(rename).boxed()),
        (3, zset_cmd().prop_map(rename).boxed()),
        (
            1,
            (
                select(vec!["DEL", "TYPE", "EXISTS", "OBJECT ENCODING"]),
                k(),
            )
                .prop_map(|(c, k)| {
                    let mut out: Cmd = c.split(' ').map(String::from).collect();
                    out.push(k);
                    out
                })
                .boxed(),
        ),
        (
            1,
            (
                select(vec!["COPY", "RENAME", "RENAMENX"]),
                k(),
                k(),
                any::<bool>(),
            )
                .prop_map(|(c, a, b, replace)| {
                    let mut out = cmd(&[c, &a, &b]);
                    if c == "COPY" && replace {
                        out.push("REPLACE".to_string());
                    }
                    out
                })
                .boxed(),
        ),
    ])
    .boxed()
}
