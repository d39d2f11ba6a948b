//! Sorted set algebra (Redis 7.0 `zunionInterDiffGenericCommand`): ZUNION ZINTER ZDIFF,
//! ZUNIONSTORE ZINTERSTORE ZDIFFSTORE (WEIGHTS, AGGREGATE), ZINTERCARD (LIMIT). Plain sets
//! are accepted as inputs with every score 1. The STORE variants propagate as written.

use super::zsets::{is_opt, limits, propagate_argv, reply_pairs};
use crate::ctx::Ctx;
use crate::errors;
use crate::table::Handler;
use bytes::Bytes;
use redoubt_keyspace::num::string2d;
use redoubt_keyspace::zset::ZSetVal;
use redoubt_keyspace::Value;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Op {
    Union,
    Inter,
    Diff,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Aggregate {
    Sum,
    Min,
    Max,
}

/// `zunionInterAggregate`.
fn aggregate(target: &mut f64, val: f64, agg: Aggregate) {
    match agg {
        Aggregate::Sum => {
            *target += val;
            // +inf + -inf is NaN: Redis keeps 0 instead.
            if target.is_nan() {
                *target = 0.0;
            }
        }
        Aggregate::Min => {
            if val < *target {
                *target = val;
            }
        }
        Aggregate::Max => {
            if val > *target {
                *target = val;
            }
        }
    }
}

/// One input, borrowed from the keyspace.
enum Src<'a> {
    Missing,
    Z(&'a ZSetVal),
    // Set members come as Cow: intset members are formatted on the fly.
    S(
        Vec<std::borrow::Cow<'a, [u8]>>,
        hashbrown::HashSet<std::borrow::Cow<'a, [u8]>>,
    ),
}

impl<'a> Src<'a> {
    fn len(&self) -> usize {
        match self {
            Src::Missing => 0,
            Src::Z(z) => z.len(),
            Src::S(v, _) => v.len(),
        }
    }
    fn iter(&self) -> Box<dyn Iterator<Item = (&[u8], f64)> + '_> {
        match self {
            Src::Missing => Box::new(std::iter::empty()),
            Src::Z(z) => Box::new(z.iter()),
            Src::S(v, _) => Box::new(v.iter().map(|m| (&m[..], 1.0))),
        }
    }
    fn find(&self, m: &[u8]) -> Option<f64> {
        match self {
            Src::Missing => None,
            Src::Z(z) => z.score(m),
            Src::S(_, h) => h.contains(m).then_some(1.0),
        }
    }
}

/// `numkeys_idx` is where numkeys is; `dst` the destination of a STORE variant.
fn generic(
    ctx: &mut Ctx<'_>,
    argv: &[Bytes],
    numkeys_idx: usize,
    dst: Option<&[u8]>,
    op: Op,
    card_only: bool,
) {
    let Some(setnum) = ctx.parse_i64(&argv[numkeys_idx]) else {
        return;
    };
    if setnum < 1 {
        let msg = format!(
            "ERR at least 1 input key is needed for '{}' command",
            ctx.cmd.fullname
        );
        return ctx.error(&msg);
    }
    if setnum > (argv.len() - (numkeys_idx + 1)) as i64 {
        return ctx.error(errors::SYNTAX);
    }
    let setnum = setnum as usize;
    let keys = &argv[numkeys_idx + 1..numkeys_idx + 1 + setnum];
    // 0 missing, 1 zset, 2 set.
    let mut kinds = Vec::with_capacity(setnum);
    for k in keys {
        let kind = match ctx.lookup_read(k).map(|e| &e.value) {
            None => 0u8,
            Some(Value::ZSet(_)) => 1,
            Some(Value::Set(_)) => 2,
            Some(_) => return ctx.error(errors::WRONGTYPE),
        };
        kinds.push(kind);
    }
    let mut weights = vec![1.0f64; setnum];
    let mut agg = Aggregate::Sum;
    let mut withscores = false;
    let mut limit: u64 = 0;
    let mut j = numkeys_idx + 1 + setnum;
    while j < argv.len() {
        let remaining = argv.len() - j;
        let a = &argv[j][..];
        if op != Op::Diff && !card_only && remaining > setnum && is_opt(a, "weights") {
            j += 1;
            for w in weights.iter_mut() {
                match string2d(&argv[j]) {
                    Some(v) => *w = v,
                    None => return ctx.error("ERR weight value is not a float"),
                }
                j += 1;
            }
        } else if op != Op::Diff && !card_only && remaining >= 2 && is_opt(a, "aggregate") {
            let v = &argv[j + 1][..];
            agg = if is_opt(v, "sum") {
                Aggregate::Sum
            } else if is_opt(v, "min") {
                Aggregate::Min
            } else if is_opt(v, "max") {
                Aggregate::Max
            } else {
                return ctx.error(errors::SYNTAX);
            };
            j += 2;
        } else if dst.is_none() && !card_only && is_opt(a, "withscores") {
            withscores = true;
            j += 1;
        } else if card_only && remaining >= 2 && is_opt(a, "limit") {
            match redoubt_keyspace::num::string2ll(&argv[j + 1]) {
                Some(n) if n >= 0 => limit = n as u64,
                _ => return ctx.error("ERR LIMIT can't be negative"),
            }
            j += 2;
        } else {
            return ctx.error(errors::SYNTAX);
        }
    }
    let db = ctx.client.db;
    let dbr = &ctx.eng.dbs[db];
    let mut srcs: Vec<(Src<'_>, f64)> = keys
        .iter()
        .zip(&kinds)
        .zip(&weights)
        .map(|((k, kind), w)| {
            let src = match (kind, dbr.get_raw(k).map(|e| &e.value)) {
                (1, Some(Value::ZSet(z))) => Src::Z(z),
                (2, Some(Value::Set(s))) => {
                    let v: Vec<std::borrow::Cow<'_, [u8]>> = s.iter().collect();
                    let h = v.iter().cloned().collect();
                    Src::S(v, h)
                }
                _ => Src::Missing,
            };
            (src, *w)
        })
        .collect();
    if op != Op::Diff {
        // glibc's qsort is a stable merge sort here: equal sizes keep their order, which
        // decides the order scores are summed in.
        srcs.sort_by_key(|(s, _)| s.len());
    }
    let mut result: Vec<(Box<[u8]>, f64)> = Vec::new();
    let mut cardinality: u64 = 0;
    match op {
        Op::Inter => {
            if srcs[0].0.len() > 0 {
                for (m, s0) in srcs[0].0.iter() {
                    let mut score = srcs[0].1 * s0;
                    if score.is_nan() {
                        score = 0.0;
                    }
                    let mut all = true;
                    for (src, w) in &srcs[1..] {
                        match src.find(m) {
                            Some(v) => aggregate(&mut score, v * w, agg),
                            None => {
                                all = false;
                                break;
                            }
                        }
                    }
                    if !all {
                        continue;
                    }
                    if card_only {
                        cardinality += 1;
                        if limit > 0 && cardinality >= limit {
                            break;
                        }
                    } else {
                        result.push((m.into(), score));
                    }
                }
            }
        }
        Op::Union => {
            let mut acc: hashbrown::HashMap<&[u8], f64> = hashbrown::HashMap::new();
            let mut order: Vec<&[u8]> = Vec::new();
            for (src, w) in &srcs {
                for (m, s) in src.iter() {
                    let mut score = w * s;
                    if score.is_nan() {
                        score = 0.0;
                    }
                    match acc.get_mut(m) {
                        Some(t) => aggregate(t, score, agg),
                        None => {
                            acc.insert(m, score);
                            order.push(m);
                        }
                    }
                }
            }
            result = order.into_iter().map(|m| (m.into(), acc[m])).collect();
        }
        Op::Diff => {
            for (m, s) in srcs[0].0.iter() {
                if srcs[1..].iter().all(|(src, _)| src.find(m).is_none()) {
                    result.push((m.into(), s));
                }
            }
        }
    }
    drop(srcs);
    if card_only {
        return ctx.out().int(cardinality as i64);
    }
    // A reply comes from Redis's skiplist result (keeping -0); a stored result may become a
    // listpack.
    let (e, v) = if dst.is_some() { limits(ctx) } else { (0, 0) };
    let z = ZSetVal::from_members(result, e, v);
    match dst {
        None => {
            let items: Vec<(Box<[u8]>, f64)> = z.iter().map(|(m, s)| (m.into(), s)).collect();
            reply_pairs(ctx, &items, withscores);
        }
        Some(dst) => {
            if z.is_empty() {
                ctx.out().int(0);
                let lazy = ctx.eng.conf.lazyfree_lazy_server_del;
                if ctx.delete(db, dst, lazy) {
                    ctx.dirty(1);
                    propagate_argv(ctx, argv);
                }
            } else {
                let n = z.len();
                let old = ctx.eng.dbs[db].set(dst, Value::ZSet(Box::new(z)), false);
                ctx.eng.free_server_del(old);
                ctx.signal_modified(db, dst);
                ctx.dirty(1);
                propagate_argv(ctx, argv);
                ctx.out().int(n as i64);
            }
        }
    }
}

pub fn zunion(ctx: &mut Ctx<'_>, argv: &[Bytes]) {
    generic(ctx, argv, 1, None, Op::Union, false);
}

pub fn zinter(ctx: &mut Ctx<'_>, argv: &[Bytes]) {
    generic(ctx, argv, 1, None, Op::Inter, false);
}

pub fn zdiff(ctx: &mut Ctx<'_>, argv: &[Bytes]) {
    generic(ctx, argv, 1, None, Op::Diff, false);
}

pub fn zintercard(ctx: &mut Ctx<'_>, argv: &[Bytes]) {
    generic(ctx, argv, 1, None, Op::Inter, true);
}

pub fn zunionstore(ctx: &mut Ctx<'_>, argv: &[Bytes]) {
    let dst = argv[1].clone();
    generic(ctx, argv, 2, Some(&dst), Op::Union, false);
}

pub fn zinterstore(ctx: &mut Ctx<'_>, argv: &[Bytes]) {
    let dst = argv[1].clone();
    generic(ctx, argv, 2, Some(&dst), Op::Inter, false);
}

pub fn zdiffstore(ctx: &mut Ctx<'_>, argv: &[Bytes]) {
    let dst = argv[1].clone();
    generic(ctx, argv, 2, Some(&dst), Op::Diff, false);
}

/// This family's commands (see `commands::all`).
pub static HANDLERS: &[(&str, Handler)] = &[
    ("zunion", zunion),
    ("zinter", zinter),
    ("zdiff", zdiff),
    ("zintercard", zintercard),
    ("zunionstore", zunionstore),
    ("zinterstore", zinterstore),
    ("zdiffstore", zdiffstore),
];
