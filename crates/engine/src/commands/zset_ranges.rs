//! Sorted set range reads (Redis 7.0 `zrangeGenericCommand`): ZRANGE (BYSCORE BYLEX REV
//! LIMIT WITHSCORES), ZRANGESTORE, ZREVRANGE, ZRANGEBYSCORE, ZREVRANGEBYSCORE, ZRANGEBYLEX,
//! ZREVRANGEBYLEX. ZRANGESTORE propagates as written.

use super::zsets::{
    check_read, get, is_opt, limits, parse_lex_range, parse_score_range, propagate_argv,
    reply_pairs, NOT_FLOAT_RANGE, NOT_LEX_RANGE,
};
use crate::ctx::Ctx;
use crate::errors;
use crate::table::Handler;
use bytes::Bytes;
use redoubt_keyspace::zset::ZSetVal;
use redoubt_keyspace::Value;

#[derive(Clone, Copy, PartialEq, Eq)]
enum RangeType {
    Auto,
    Rank,
    Score,
    Lex,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Direction {
    Auto,
    Forward,
    Reverse,
}

/// `zrangeGenericCommand`: `start` is the index of the source key; `store` is ZRANGESTORE.
fn zrange_generic(
    ctx: &mut Ctx<'_>,
    argv: &[Bytes],
    start: usize,
    store: bool,
    mut rangetype: RangeType,
    mut direction: Direction,
) {
    let key = &argv[start][..];
    let (mut minidx, mut maxidx) = (start + 1, start + 2);
    let mut withscores = false;
    let (mut offset, mut limit): (i64, i64) = (0, -1);
    let mut j = start + 3;
    while j < argv.len() {
        let left = argv.len() - j - 1;
        let a = &argv[j][..];
        if !store && is_opt(a, "withscores") {
            withscores = true;
        } else if is_opt(a, "limit") && left >= 2 {
            let Some(o) = ctx.parse_i64(&argv[j + 1]) else {
                return;
            };
            let Some(l) = ctx.parse_i64(&argv[j + 2]) else {
                return;
            };
            offset = o;
            limit = l;
            j += 2;
        } else if direction == Direction::Auto && is_opt(a, "rev") {
            direction = Direction::Reverse;
        } else if rangetype == RangeType::Auto && is_opt(a, "bylex") {
            rangetype = RangeType::Lex;
        } else if rangetype == RangeType::Auto && is_opt(a, "byscore") {
            rangetype = RangeType::Score;
        } else {
            return ctx.error(errors::SYNTAX);
        }
        j += 1;
    }
    if direction == Direction::Auto {
        direction = Direction::Forward;
    }
    if rangetype == RangeType::Auto {
        rangetype = RangeType::Rank;
    }
    if limit != -1 && rangetype == RangeType::Rank {
        return ctx.error(
            "ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX",
        );
    }
    if withscores && rangetype == RangeType::Lex {
        return ctx.error("ERR syntax error, WITHSCORES not supported in combination with BYLEX");
    }
    let rev = direction == Direction::Reverse;
    if rev && rangetype != RangeType::Rank {
        std::mem::swap(&mut minidx, &mut maxidx);
    }
    enum Parsed {
        Rank(i64, i64),
        Score(super::zsets::ScoreRange),
        Lex(super::zsets::LexRange),
    }
    let parsed = match rangetype {
        RangeType::Score => match parse_score_range(&argv[minidx], &argv[maxidx]) {
            Some(r) => Parsed::Score(r),
            None => return ctx.error(NOT_FLOAT_RANGE),
        },
        RangeType::Lex => match parse_lex_range(&argv[minidx], &argv[maxidx]) {
            Some(r) => Parsed::Lex(r),
            None => return ctx.error(NOT_LEX_RANGE),
        },
        _ => {
            let Some(s) = ctx.parse_i64(&argv[minidx]) else {
                return;
            };
            let Some(e) = ctx.parse_i64(&argv[maxidx]) else {
                return;
            };
            Parsed::Rank(s, e)
        }
    };
    let found = match check_read(ctx, key) {
        None => return,
        Some(f) => f,
    };
    let mut items: Vec<(Box<[u8]>, f64)> = Vec::new();
    if found {
        let db = ctx.client.db;
        let z = get(&ctx.eng.dbs[db], key);
        let take = |it: &mut dyn Iterator<Item = (&[u8], f64)>| -> Vec<(Box<[u8]>, f64)> {
            if offset < 0 || (offset > 0 && offset as u64 >= z.len() as u64) {
                return Vec::new();
            }
            let lim = if limit < 0 {
                usize::MAX
            } else {
                limit as usize
            };
            it.skip(offset as usize)
                .take(lim)
                .map(|(m, s)| (m.into(), s))
                .collect()
        };
        items = match &parsed {
            Parsed::Rank(s, e) => {
                let llen = z.len() as i64;
                let mut s = if *s < 0 { llen + s } else { *s };
                let mut e = if *e < 0 { llen + e } else { *e };
                s = s.max(0);
                if s > e || s >= llen {
                    Vec::new()
                } else {
                    e = e.min(llen - 1);
                    z.range_by_rank(s as usize, e as usize, rev)
                        .into_iter()
                        .map(|(m, sc)| (m.into(), sc))
                        .collect()
                }
            }
            Parsed::Score(r) if rev => take(&mut r.iter_rev(z)),
            Parsed::Score(r) => take(&mut r.iter(z)),
            Parsed::Lex(r) if rev => take(&mut r.iter_rev(z)),
            Parsed::Lex(r) => take(&mut r.iter(z)),
        };
    }
    if !store {
        return reply_pairs(ctx, &items, withscores);
    }
    // `zrangeResultFinalizeStore`.
    let dst = &argv[1][..];
    let db = ctx.client.db;
    if items.is_empty() {
        ctx.out().int(0);
        let lazy = ctx.eng.conf.lazyfree_lazy_server_del;
        if ctx.delete(db, dst, lazy) {
            ctx.dirty(1);
            propagate_argv(ctx, argv);
        }
        return;
    }
    let n = items.len();
    let (e, v) = limits(ctx);
    // `zrangeResultBeginStore` starts a listpack unless a rank range is known to be too long,
    // then adds in reply order, converting on the way: elements added while it was a
    // listpack keep the listpack's score (-0 stored as 0).
    let mut z = ZSetVal::with_encoding(!(rangetype == RangeType::Rank && n > e));
    for (m, s) in &items {
        z.insert_new(m, *s, e, v);
    }
    let old = ctx.eng.dbs[db].set(dst, Value::ZSet(Box::new(z)), false);
    ctx.eng.free_server_del(old);
    ctx.signal_modified(db, dst);
    ctx.dirty(1);
    propagate_argv(ctx, argv);
    ctx.out().int(n as i64);
}

pub fn zrange(ctx: &mut Ctx<'_>, argv: &[Bytes]) {
    zrange_generic(ctx, argv, 1, false, RangeType::Auto, Direction::Auto);
}

pub fn zrangestore(ctx: &mut Ctx<'_>, argv: &[Bytes]) {
    zrange_generic(ctx, argv, 2, true, RangeType::Auto, Direction::Auto);
}

pub fn zrevrange(ctx: &mut Ctx<'_>, argv: &[Bytes]) {
    zrange_generic(ctx, argv, 1, false, RangeType::Rank, Direction::Reverse);
}

pub fn zrangebyscore(ctx: &mut Ctx<'_>, argv: &[Bytes]) {
    zrange_generic(ctx, argv, 1, false, RangeType::Score, Direction::Forward);
}

pub fn zrevrangebyscore(ctx: &mut Ctx<'_>, argv: &[Bytes]) {
    zrange_generic(ctx, argv, 1, false, RangeType::Score, Direction::Reverse);
}

pub fn zrangebylex(ctx: &mut Ctx<'_>, argv: &[Bytes]) {
    zrange_generic(ctx, argv, 1, false, RangeType::Lex, Direction::Forward);
}

pub fn zrevrangebylex(ctx: &mut Ctx<'_>, argv: &[Bytes]) {
    zrange_generic(ctx, argv, 1, false, RangeType::Lex, Direction::Reverse);
}

/// This family's commands (see `commands::all`).
pub static HANDLERS: &[(&str, Handler)] = &[
    ("zrange", zrange),
    ("zrangestore", zrangestore),
    ("zrevrange", zrevrange),
    ("zrangebyscore", zrangebyscore),
    ("zrevrangebyscore", zrevrangebyscore),
    ("zrangebylex", zrangebylex),
    ("zrevrangebylex", zrevrangebylex),
];
