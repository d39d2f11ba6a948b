//! Sorted set commands (Redis 7.0 t_zset.c), part one: ZADD ZINCRBY ZSCORE ZMSCORE ZCARD ZREM
//! ZRANK ZREVRANK ZCOUNT ZLEXCOUNT ZREMRANGEBYRANK/SCORE/LEX ZPOPMIN ZPOPMAX ZMPOP ZRANDMEMBER
//! ZSCAN. The range reads live in `commands::zset_ranges`, the set operations in
//! `commands::zset_ops`.
//!
//! Checks run in Redis's order (options, numbers and ranges, then the key's type). Effects:
//! ZADD ZINCRBY ZREM ZREMRANGEBY* ZPOPMIN ZPOPMAX propagate as written (Redis 7.0 does not
//! rewrite them: each replays deterministically), ZMPOP as `ZPOPMIN|ZPOPMAX key count` as
//! `genericZpopCommand` rewrites it. Replies and effects in the tests were taken from a real
//! redis-server 7.0.15.

use crate::ctx::Ctx;
use crate::errors;
use crate::table::Handler;
use bytes::Bytes;
use redoubt_keyspace::num::string2d;
use redoubt_keyspace::zset::ZSetVal;
use redoubt_keyspace::{Db, Value};

/// `zset-max-listpack-entries` and `zset-max-listpack-value`.
pub(crate) fn limits(ctx: &Ctx<'_>) -> (usize, usize) {
    let e = ctx.eng.config.get_int("zset-max-listpack-entries").max(0);
    let v = ctx.eng.config.get_int("zset-max-listpack-value").max(0);
    (
        usize::try_from(e).unwrap_or(usize::MAX),
        usize::try_from(v).unwrap_or(usize::MAX),
    )
}

/// `lookupKeyRead` + `checkType(OBJ_ZSET)`: Some(found), or None after replying WRONGTYPE.
pub(crate) fn check_read(ctx: &mut Ctx<'_>, key: &[u8]) -> Option<bool> {
    let kind = ctx
        .lookup_read(key)
        .map(|e| matches!(e.value, Value::ZSet(_)));
    found_or_wrongtype(ctx, kind)
}

/// `lookupKeyWrite` + `checkType(OBJ_ZSET)`.
pub(crate) fn check_write(ctx: &mut Ctx<'_>, key: &[u8]) -> Option<bool> {
    let kind = ctx
        .lookup_write(key)
        .map(|e| matches!(e.value, Value::ZSet(_)));
    found_or_wrongtype(ctx, kind)
}

fn found_or_wrongtype(ctx: &mut Ctx<'_>, kind: Option<bool>) -> Option<bool> {
    match kind {
        None => Some(false),
        Some(true) => Some(true),
        Some(false) => {
            ctx.error(errors::WRONGTYPE);
            None
        }
    }
}

/// The sorted set at `key`, already checked to exist.
pub(crate) fn get<'a>(db: &'a Db, key: &[u8]) -> &'a ZSetVal {
    match db.get_raw(key).map(|e| &e.value) {
        Some(Value::ZSet(z)) => z,
        _ => unreachable!("the caller checked the key holds a sorted set"),
    }
}

pub(crate) fn get_mut<'a>(db: &'a mut Db, key: &[u8]) -> &'a mut ZSetVal {
    match db.get_raw_mut(key).map(|e| &mut e.value) {
        Some(Value::ZSet(z)) => z,
        _ => unreachable!("the caller checked the key holds a sorted set"),
    }
}

pub(crate) fn propagate_argv(ctx: &mut Ctx<'_>, argv: &[Bytes]) {
    let args: Vec<&[u8]> = argv.iter().map(|a| &a[..]).collect();
    ctx.propagate(&args);
}

/// After removing `n` members: deletes the key if empty, signals, counts and records.
fn finish_removal(ctx: &mut Ctx<'_>, key: &[u8], n: usize, argv: &[Bytes]) {
    if n == 0 {
        return;
    }
    let db = ctx.client.db;
    if get(&ctx.eng.dbs[db], key).is_empty() {
        ctx.eng.dbs[db].remove(key);
    }
    ctx.signal_modified(db, key);
    ctx.dirty(n as u64);
    propagate_argv(ctx, argv);
}

/// C's `strcasecmp` on an option word.
pub(crate) fn is_opt(arg: &[u8], word: &str) -> bool {
    crate::commands::strings::c_eq(arg, word)
}

/// A score range (`zrangespec`).
#[derive(Clone, Copy, Debug)]
pub(crate) struct ScoreRange {
    pub min: f64,
    pub max: f64,
    pub minex: bool,
    pub maxex: bool,
}

impl ScoreRange {
    pub fn gte_min(&self, s: f64) -> bool {
        if self.minex {
            s > self.min
        } else {
            s >= self.min
        }
    }
    pub fn lte_max(&self, s: f64) -> bool {
        if self.maxex {
            s < self.max
        } else {
            s <= self.max
        }
    }

    /// The ascending ranks `lo..hi` of the members in range, found in O(log n) (both bounds
    /// are monotone in the order, so each is a prefix count).
    pub fn ranks(&self, z: &ZSetVal) -> (usize, usize) {
        let lo = z.count_score_while(|s| !self.gte_min(s));
        let hi = z.count_score_while(|s| self.lte_max(s));
        (lo, hi.max(lo))
    }

    /// How many members are in range (ZCOUNT), in O(log n) as Redis's `zslGetRank` makes it.
    pub fn count(&self, z: &ZSetVal) -> usize {
        let (lo, hi) = self.ranks(z);
        hi - lo
    }

    /// Members in range, ascending.
    pub fn iter<'a>(&self, z: &'a ZSetVal) -> impl Iterator<Item = (&'a [u8], f64)> {
        let (lo, hi) = self.ranks(z);
        z.range(lo, hi)
    }

    /// Members in range, descending.
    pub fn iter_rev<'a>(&self, z: &'a ZSetVal) -> impl Iterator<Item = (&'a [u8], f64)> {
        let (lo, hi) = self.ranks(z);
        z.range(lo, hi).rev()
    }
}

/// C's `strtod(s, &eptr)` followed by Redis's `eptr[0] != '\0' || isnan` check: the argument
/// is read as a C string (up to a NUL), leading spaces are skipped, overflow gives infinity.
fn strtod_c(arg: &[u8]) -> Option<f64> {
    let s = &arg[..arg.iter().position(|&b| b == 0).unwrap_or(arg.len())];
    if s.is_empty() {
        return Some(0.0);
    }
    let start = s
        .iter()
        .position(|b| !matches!(b, b' ' | b'\t' | b'\n' | b'\x0b' | b'\x0c' | b'\r'))?;
    let t = &s[start..];
    let v = string2d(t).or_else(|| std::str::from_utf8(t).ok()?.parse::<f64>().ok())?;
    (!v.is_nan()).then_some(v)
}

/// `zslParseRange`.
pub(crate) fn parse_score_range(min: &[u8], max: &[u8]) -> Option<ScoreRange> {
    let one = |a: &[u8]| -> Option<(f64, bool)> {
        match a.first() {
            Some(b'(') => Some((strtod_c(&a[1..])?, true)),
            _ => Some((strtod_c(a)?, false)),
        }
    };
    let (min, minex) = one(min)?;
    let (max, maxex) = one(max)?;
    Some(ScoreRange {
        min,
        max,
        minex,
        maxex,
    })
}

/// One end of a lex range (`zslParseLexRangeItem`).
#[derive(Clone, Debug)]
pub(crate) enum LexBound {
    NegInf,
    PosInf,
    Incl(Vec<u8>),
    Excl(Vec<u8>),
}

#[derive(Clone, Debug)]
pub(crate) struct LexRange {
    pub min: LexBound,
    pub max: LexBound,
}

impl LexRange {
    pub fn gte_min(&self, m: &[u8]) -> bool {
        match &self.min {
            LexBound::NegInf => true,
            LexBound::PosInf => false,
            LexBound::Incl(v) => m >= &v[..],
            LexBound::Excl(v) => m > &v[..],
        }
    }
    pub fn lte_max(&self, m: &[u8]) -> bool {
        match &self.max {
            LexBound::NegInf => false,
            LexBound::PosInf => true,
            LexBound::Incl(v) => m <= &v[..],
            LexBound::Excl(v) => m < &v[..],
        }
    }

    /// `zzlIsInLexRange`: the last element must reach `min` and the first stay within `max`.
    /// With mixed scores (where Redis leaves lex results unspecified) this decides them.
    fn may_match(&self, z: &ZSetVal) -> bool {
        let last = z.iter().next_back();
        let first = z.iter().next();
        matches!((first, last), (Some((f, _)), Some((l, _))) if self.gte_min(l) && self.lte_max(f))
    }

    /// The ascending ranks `lo..hi` of the members in range, as Redis's walks find them:
    /// from the low end for an ascending range, from the high end for a descending one.
    /// When every score is equal the members are sorted and both ends are found in
    /// O(log n) (Redis's skiplist descent); with mixed scores, where Redis leaves the result
    /// unspecified, it is a linear walk, as Redis's listpack code does.
    fn ranks(&self, z: &ZSetVal, rev: bool) -> (usize, usize) {
        if !self.may_match(z) {
            return (0, 0);
        }
        let uniform = matches!(
            (z.iter().next(), z.iter().next_back()),
            (Some((_, a)), Some((_, b))) if a == b
        );
        if uniform {
            let lo = z.count_member_while(|m| !self.gte_min(m));
            let hi = z.count_member_while(|m| self.lte_max(m));
            return (lo, hi.max(lo));
        }
        let len = z.len();
        if rev {
            let above = z.iter().rev().take_while(|(m, _)| !self.lte_max(m)).count();
            let hi = len - above;
            let n = z
                .range(0, hi)
                .rev()
                .take_while(|(m, _)| self.gte_min(m))
                .count();
            (hi - n, hi)
        } else {
            let lo = z.iter().take_while(|(m, _)| !self.gte_min(m)).count();
            let n = z
                .range(lo, len)
                .take_while(|(m, _)| self.lte_max(m))
                .count();
            (lo, lo + n)
        }
    }

    /// Members in range, ascending.
    pub fn iter<'a>(&'a self, z: &'a ZSetVal) -> impl Iterator<Item = (&'a [u8], f64)> {
        let (lo, hi) = self.ranks(z, false);
        z.range(lo, hi)
    }

    pub fn iter_rev<'a>(&'a self, z: &'a ZSetVal) -> impl Iterator<Item = (&'a [u8], f64)> {
        let (lo, hi) = self.ranks(z, true);
        z.range(lo, hi).rev()
    }

    /// How many members are in range (ZLEXCOUNT).
    pub fn count(&self, z: &ZSetVal) -> usize {
        let (lo, hi) = self.ranks(z, false);
        hi - lo
    }
}

/// `zslParseLexRange`.
pub(crate) fn parse_lex_range(min: &[u8], max: &[u8]) -> Option<LexRange> {
    let one = |a: &[u8]| -> Option<LexBound> {
        let alone = a.len() == 1 || a.get(1) == Some(&0);
        match a.first() {
            Some(b'+') if alone => Some(LexBound::PosInf),
            Some(b'-') if alone => Some(LexBound::NegInf),
            Some(b'(') => Some(LexBound::Excl(a[1..].to_vec())),
            Some(b'[') => Some(LexBound::Incl(a[1..].to_vec())),
            _ => None,
        }
    };
    Some(LexRange {
        min: one(min)?,
        max: one(max)?,
    })
}

pub(crate) const NOT_FLOAT_RANGE: &str = "ERR min or max is not a float";
pub(crate) const NOT_LEX_RANGE: &str = "ERR min or max not valid string range item";

/// Replies one (member, score) as Redis does inside WITHSCORES lists: RESP3 nests a pair.
pub(crate) fn reply_pairs(ctx: &mut Ctx<'_>, items: &[(Box<[u8]>, f64)], withscores: bool) {
    let out = ctx.out();
    let resp3 = out.is_resp3();
    out.array_len(if withscores && !resp3 {
        items.len() * 2
    } else {
        items.len()
    });
    for (m, s) in items {
        if withscores && resp3 {
            out.array_len(2);
        }
        out.bulk(m);
        if withscores {
            out.double(*s);
        }
    }
}

/// ZADD and ZINCRBY (`zaddGenericCommand`).
fn zadd_generic(ctx: &mut Ctx<'_>, argv: &[Bytes], incr_cmd: bool) {
    let key = &argv[1][..];
    let (mut nx, mut xx, mut gt, mut lt, mut ch, mut incr) =
        (false, false, false, false, false, incr_cmd);
    let mut i = 2;
    if !incr_cmd {
        while i < argv.len() {
            let o = &argv[i][..];
            if is_opt(o, "nx") {
                nx = true;
            } else if is_opt(o, "xx") {
                xx = true;
            } else if is_opt(o, "ch") {
                ch = true;
            } else if is_opt(o, "incr") {
                incr = true;
            } else if is_opt(o, "gt") {
                gt = true;
            } else if is_opt(o, "lt") {
                lt = true;
            } else {
                break;
            }
            i += 1;
        }
    }
    let pairs = &argv[i..];
    if pairs.is_empty() || !pairs.len().is_multiple_of(2) {
        ctx.error(errors::SYNTAX);
        return;
    }
    if nx && xx {
        ctx.error("ERR XX and NX options at the same time are not compatible");
        return;
    }
    if ((gt || lt) && nx) || (gt && lt) {
        ctx.error("ERR GT, LT, and/or NX options at the same time are not compatible");
        return;
    }
    if incr && pairs.len() > 2 {
        ctx.error("ERR INCR option supports a single increment-element pair");
        return;
    }
    let mut scores = Vec::with_capacity(pairs.len() / 2);
    for p in pairs.chunks(2) {
        match string2d(&p[0]) {
            Some(s) => scores.push(s),
            None => {
                ctx.error(errors::NOT_FLOAT);
                return;
            }
        }
    }
    let Some(found) = check_write(ctx, key) else {
        return;
    };
    let db = ctx.client.db;
    let (mut added, mut updated, mut processed) = (0u64, 0u64, 0u64);
    let mut score = 0.0;
    let mut nan = false;
    if found || !xx {
        if !found {
            let z = ZSetVal::new();
            ctx.eng.dbs[db].insert_new(key, Value::ZSet(Box::new(z)));
        }
        let (max_entries, max_value) = limits(ctx);
        let z = get_mut(&mut ctx.eng.dbs[db], key);
        for (p, &s) in pairs.chunks(2).zip(&scores) {
            let member = &p[1][..];
            match z.score(member) {
                Some(cur) => {
                    if nx {
                        continue;
                    }
                    let mut new = s;
                    if incr {
                        new += cur;
                        if new.is_nan() {
                            nan = true;
                            break;
                        }
                    }
                    if (lt && new >= cur) || (gt && new <= cur) {
                        continue;
                    }
                    score = new;
                    processed += 1;
                    if new != cur {
                        z.update(member, new);
                        updated += 1;
                    }
                }
                None if !xx => {
                    z.insert_new(member, s, max_entries, max_value);
                    score = s;
                    added += 1;
                    processed += 1;
                }
                None => {}
            }
        }
    }
    ctx.dirty(added + updated);
    if nan {
        ctx.error("ERR resulting score is not a number (NaN)");
    } else if incr {
        if processed > 0 {
            ctx.out().double(score);
        } else {
            ctx.out().null();
        }
    } else {
        ctx.out()
            .int((if ch { added + updated } else { added }) as i64);
    }
    if added + updated > 0 {
        ctx.signal_modified(db, key);
        propagate_argv(ctx, argv);
    }
}

pub fn zadd(ctx: &mut Ctx<'_>, argv: &[Bytes]) {
    zadd_generic(ctx, argv, false);
}

pub fn zincrby(ctx: &mut Ctx<'_>, argv: &[Bytes]) {
    zadd_generic(ctx, argv, true);
}

pub fn zrem(ctx: &mut Ctx<'_>, argv: &[Bytes]) {
    let key = &argv[1][..];
    match check_write(ctx, key) {
        None => return,
        Some(false) => return ctx.out().int(0),
        Some(true) => {}
    }
    let db = ctx.client.db;
    let z = get_mut(&mut ctx.eng.dbs[db], key);
    let mut n = 0;
    for m in &argv[2..] {
        if z.remove(m).is_some() {
            n += 1;
            if z.is_empty() {
                break;
            }
        }
    }
    finish_removal(ctx, key, n, argv);
    ctx.out().int(n as i64);
}

pub fn zcard(ctx: &mut Ctx<'_>, argv: &[Bytes]) {
    match check_read(ctx, &argv[1]) {
        None => {}
        Some(false) => ctx.out().int(0),
        Some(true) => {
            let db = ctx.client.db;
            let n = get(&ctx.eng.dbs[db], &argv[1]).len();
            ctx.out().int(n as i64);
        }
    }
}

pub fn zscore(ctx: &mut Ctx<'_>, argv: &[Bytes]) {
    match check_read(ctx, &argv[1]) {
        None => {}
        Some(false) => ctx.out().null(),
        Some(true) => {
            let db = ctx.client.db;
            match get(&ctx.eng.dbs[db], &argv[1]).score(&argv[2]) {
                Some(s) => ctx.out().double(s),
                None => ctx.out().null(),
            }
        }
    }
}

pub fn zmscore(ctx: &mut Ctx<'_>, argv: &[Bytes]) {
    let Some(found) = check_read(ctx, &argv[1]) else {
        return;
    };
    let db = ctx.client.db;
    let scores: Vec<Option<f64>> = argv[2..]
        .iter()
        .map(|m| {
            if found {
                get(&ctx.eng.dbs[db], &argv[1]).score(m)
            } else {
                None
            }
        })
        .collect();
    let out = ctx.out();
    out.array_len(scores.len());
    for s in scores {
        match s {
            Some(s) => out.double(s),
            None => out.null(),
        }
    }
}

fn zrank_generic(ctx: &mut Ctx<'_>, argv: &[Bytes], rev: bool) {
    match check_read(ctx, &argv[1]) {
        None => {}
        Some(false) => ctx.out().null(),
        Some(true) => {
            let db = ctx.client.db;
            let z = get(&ctx.eng.dbs[db], &argv[1]);
            let len = z.len();
            match z.rank(&argv[2]) {
                Some(r) => ctx.out().int(if rev { len - 1 - r } else { r } as i64),
                None => ctx.out().null(),
            }
        }
    }
}

pub fn zrank(ctx: &mut Ctx<'_>, argv: &[Bytes]) {
    zrank_generic(ctx, argv, false);
}

pub fn zrevrank(ctx: &mut Ctx<'_>, argv: &[Bytes]) {
    zrank_generic(ctx, argv, true);
}

pub fn zcount(ctx: &mut Ctx<'_>, argv: &[Bytes]) {
    let Some(r) = parse_score_range(&argv[2], &argv[3]) else {
        return ctx.error(NOT_FLOAT_RANGE);
    };
    match check_read(ctx, &argv[1]) {
        None => {}
        Some(false) => ctx.out().int(0),
        Some(true) => {
            let db = ctx.client.db;
            let n = r.count(get(&ctx.eng.dbs[db], &argv[1]));
            ctx.out().int(n as i64);
        }
    }
}

pub fn zlexcount(ctx: &mut Ctx<'_>, argv: &[Bytes]) {
    let Some(r) = parse_lex_range(&argv[2], &argv[3]) else {
        return ctx.error(NOT_LEX_RANGE);
    };
    match check_read(ctx, &argv[1]) {
        None => {}
        Some(false) => ctx.out().int(0),
        Some(true) => {
            let db = ctx.client.db;
            let n = r.count(get(&ctx.eng.dbs[db], &argv[1]));
            ctx.out().int(n as i64);
        }
    }
}

enum RemRange {
    Rank(i64, i64),
    Score(ScoreRange),
    Lex(LexRange),
}

/// `zremrangeGenericCommand`.
fn zremrange_generic(ctx: &mut Ctx<'_>, argv: &[Bytes], range: RemRange) {
    let key = &argv[1][..];
    match check_write(ctx, key) {
        None => return,
        Some(false) => return ctx.out().int(0),
        Some(true) => {}
    }
    let db = ctx.client.db;
    let z = get(&ctx.eng.dbs[db], key);
    let doomed: Vec<Box<[u8]>> = match &range {
        RemRange::Rank(start, end) => {
            let llen = z.len() as i64;
            let mut start = if *start < 0 { llen + start } else { *start };
            let mut end = if *end < 0 { llen + end } else { *end };
            start = start.max(0);
            if start > end || start >= llen {
                return ctx.out().int(0);
            }
            end = end.min(llen - 1);
            z.range_by_rank(start as usize, end as usize, false)
                .into_iter()
                .map(|(m, _)| m.into())
                .collect()
        }
        RemRange::Score(r) => r.iter(z).map(|(m, _)| m.into()).collect(),
        RemRange::Lex(r) => r.iter(z).map(|(m, _)| m.into()).collect(),
    };
    let z = get_mut(&mut ctx.eng.dbs[db], key);
    for m in &doomed {
        z.remove(m);
    }
    finish_removal(ctx, key, doomed.len(), argv);
    ctx.out().int(doomed.len() as i64);
}

pub fn zremrangebyrank(ctx: &mut Ctx<'_>, argv: &[Bytes]) {
    let Some(start) = ctx.parse_i64(&argv[2]) else {
        return;
    };
    let Some(end) = ctx.parse_i64(&argv[3]) else {
        return;
    };
    zremrange_generic(ctx, argv, RemRange::Rank(start, end));
}

pub fn zremrangebyscore(ctx: &mut Ctx<'_>, argv: &[Bytes]) {
    let Some(r) = parse_score_range(&argv[2], &argv[3]) else {
        return ctx.error(NOT_FLOAT_RANGE);
    };
    zremrange_generic(ctx, argv, RemRange::Score(r));
}

pub fn zremrangebylex(ctx: &mut Ctx<'_>, argv: &[Bytes]) {
    let Some(r) = parse_lex_range(&argv[2], &argv[3]) else {
        return ctx.error(NOT_LEX_RANGE);
    };
    zremrange_generic(ctx, argv, RemRange::Lex(r));
}

/// `genericZpopCommand`. `count` is None for a plain single pop; `emit_key` is ZMPOP's shape
/// (`[key, [[member, score], ...]]`, a null array when nothing was popped).
pub(crate) fn zpop_generic(
    ctx: &mut Ctx<'_>,
    keys: &[Bytes],
    max: bool,
    count: Option<i64>,
    emit_key: bool,
) -> Option<(Bytes, i64)> {
    let mut chosen = None;
    for k in keys {
        match check_write(ctx, k) {
            None => return None,
            Some(false) => continue,
            Some(true) => {
                chosen = Some(k.clone());
                break;
            }
        }
    }
    let Some(key) = chosen else {
        if emit_key {
            ctx.out().null_array();
        } else {
            ctx.out().array_len(0);
        }
        return None;
    };
    if count == Some(0) {
        ctx.out().array_len(0);
        return None;
    }
    let count = count.unwrap_or(1);
    let nested = emit_key;
    let db = ctx.client.db;
    let z = get_mut(&mut ctx.eng.dbs[db], &key);
    let n = (count as u64).min(z.len() as u64) as usize;
    let mut popped = Vec::with_capacity(n);
    for _ in 0..n {
        if let Some(e) = z.pop(max) {
            popped.push(e);
        }
    }
    if z.is_empty() {
        ctx.eng.dbs[db].remove(&key);
    }
    ctx.signal_modified(db, &key);
    ctx.dirty(popped.len() as u64);
    let out = ctx.out();
    if emit_key {
        out.array_len(2);
        out.bulk(&key);
    }
    if nested {
        out.array_len(popped.len());
    } else {
        out.array_len(popped.len() * 2);
    }
    for (m, s) in &popped {
        if nested {
            out.array_len(2);
        }
        out.bulk(m);
        out.double(*s);
    }
    // Redis 7.0.15 rewrites ZMPOP to a pop of the number of elements it took.
    Some((key, popped.len() as i64))
}

fn zpop_minmax(ctx: &mut Ctx<'_>, argv: &[Bytes], max: bool) {
    if argv.len() > 3 {
        return ctx.error(errors::SYNTAX);
    }
    let mut count = None;
    if argv.len() == 3 {
        // `getPositiveLongFromObjectOrReply`: a non-integer gets the same error.
        match redoubt_keyspace::num::string2ll(&argv[2]) {
            Some(n) if n >= 0 => count = Some(n),
            _ => return ctx.error(errors::NOT_POSITIVE),
        }
    }
    if zpop_plain(ctx, &argv[1], max, count) {
        propagate_argv(ctx, argv);
    }
}

/// ZPOPMIN/ZPOPMAX's reply shapes: a flat list, except in RESP3 with COUNT (pairs).
fn zpop_plain(ctx: &mut Ctx<'_>, key: &Bytes, max: bool, count: Option<i64>) -> bool {
    match check_write(ctx, key) {
        None => return false,
        Some(false) => {
            ctx.out().array_len(0);
            return false;
        }
        Some(true) => {}
    }
    if count == Some(0) {
        ctx.out().array_len(0);
        return false;
    }
    // RESP3 nests pairs whenever COUNT was given (`use_nested_array`).
    let nested = ctx.out().is_resp3() && count.is_some();
    let db = ctx.client.db;
    let z = get_mut(&mut ctx.eng.dbs[db], key);
    let n = (count.unwrap_or(1) as u64).min(z.len() as u64) as usize;
    let popped: Vec<_> = (0..n).filter_map(|_| z.pop(max)).collect();
    if z.is_empty() {
        ctx.eng.dbs[db].remove(key);
    }
    ctx.signal_modified(db, key);
    ctx.dirty(popped.len() as u64);
    let out = ctx.out();
    out.array_len(if nested {
        popped.len()
    } else {
        popped.len() * 2
    });
    for (m, s) in &popped {
        if nested {
            out.array_len(2);
        }
        out.bulk(m);
        out.double(*s);
    }
    true
}

pub fn zpopmin(ctx: &mut Ctx<'_>, argv: &[Bytes]) {
    zpop_minmax(ctx, argv, false);
}

pub fn zpopmax(ctx: &mut Ctx<'_>, argv: &[Bytes]) {
    zpop_minmax(ctx, argv, true);
}

/// The arguments of ZMPOP and BZMPOP from `numkeys` on (`argv[first]`): the index of
/// MIN|MAX, whether it is MAX, and COUNT if given. Errors are replied, in Redis's order.
pub(crate) fn parse_mpop_args(
    ctx: &mut Ctx<'_>,
    argv: &[Bytes],
    first: usize,
) -> Option<(usize, bool, Option<i64>)> {
    let numkeys = ctx.parse_at_least(&argv[first], 1, "ERR numkeys should be greater than 0")?;
    let where_idx = match usize::try_from(numkeys)
        .ok()
        .and_then(|n| n.checked_add(first + 1))
    {
        Some(w) if w < argv.len() => w,
        _ => {
            ctx.error(errors::SYNTAX);
            return None;
        }
    };
    let max = if is_opt(&argv[where_idx], "min") {
        false
    } else if is_opt(&argv[where_idx], "max") {
        true
    } else {
        ctx.error(errors::SYNTAX);
        return None;
    };
    let mut count = None;
    let mut j = where_idx + 1;
    while j < argv.len() {
        if count.is_none() && is_opt(&argv[j], "count") && j + 1 < argv.len() {
            j += 1;
            count = Some(ctx.parse_at_least(&argv[j], 1, "ERR count should be greater than 0")?);
        } else {
            ctx.error(errors::SYNTAX);
            return None;
        }
        j += 1;
    }
    Some((where_idx, max, count))
}

/// ZMPOP numkeys key [key ...] MIN|MAX [COUNT count].
pub fn zmpop(ctx: &mut Ctx<'_>, argv: &[Bytes]) {
    let Some((where_idx, max, count)) = parse_mpop_args(ctx, argv, 1) else {
        return;
    };
    let count = count.unwrap_or(1);
    if let Some((key, count)) = zpop_generic(ctx, &argv[2..where_idx], max, Some(count), true) {
        let name: &[u8] = if max { b"ZPOPMAX" } else { b"ZPOPMIN" };
        let c = count.to_string();
        ctx.propagate(&[name, &key, c.as_bytes()]);
    }
}

/// ZRANDMEMBER key [count [WITHSCORES]].
pub fn zrandmember(ctx: &mut Ctx<'_>, argv: &[Bytes]) {
    if argv.len() == 2 {
        match check_read(ctx, &argv[1]) {
            None => {}
            Some(false) => ctx.out().null(),
            Some(true) => {
                let db = ctx.client.db;
                let z = get(&ctx.eng.dbs[db], &argv[1]);
                let i = ctx.eng.rng.below(z.len() as u64) as usize;
                let m = z.at_rank(i).0.to_vec();
                ctx.out().bulk(&m);
            }
        }
        return;
    }
    let withscores = match argv.len() {
        3 => false,
        4 if is_opt(&argv[3], "withscores") => true,
        _ => return ctx.error(errors::SYNTAX),
    };
    let l = match redoubt_keyspace::num::string2ll(&argv[2]) {
        None => return ctx.error(errors::NOT_INTEGER),
        Some(i64::MIN) => {
            return ctx.error(
                "ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807",
            )
        }
        Some(l) => l,
    };
    // Redis 7.0.15 refuses a negative count whose WITHSCORES reply length would overflow.
    if withscores && l < -(i64::MAX / 2) {
        return ctx.error("ERR value is out of range");
    }
    match check_read(ctx, &argv[1]) {
        None => return,
        Some(false) => return ctx.out().array_len(0),
        Some(true) => {}
    }
    if l == 0 {
        return ctx.out().array_len(0);
    }
    let db = ctx.client.db;
    let z = get(&ctx.eng.dbs[db], &argv[1]);
    let all: Vec<(Box<[u8]>, f64)> = z.iter().map(|(m, s)| (m.into(), s)).collect();
    let size = all.len();
    let rng = &mut ctx.eng.rng;
    let picked: Vec<(Box<[u8]>, f64)> = if l < 0 {
        let n = l.unsigned_abs();
        (0..n)
            .map(|_| all[rng.below(size as u64) as usize].clone())
            .collect()
    } else if l as u64 >= size as u64 {
        all
    } else {
        // Distinct members: a partial Fisher-Yates shuffle.
        let mut v = all;
        let n = l as usize;
        for i in 0..n {
            let j = i + rng.below((v.len() - i) as u64) as usize;
            v.swap(i, j);
        }
        v.truncate(n);
        v
    };
    reply_pairs(ctx, &picked, withscores);
}

/// ZSCAN key cursor [MATCH pattern] [COUNT count]. A `listpack` set is returned whole with
/// cursor 0 (as Redis answers one); a `skiplist` set is paged by [`ZSetVal::scan`], about
/// COUNT members per call, whose cursors are slab positions, not Redis's bucket cursors
/// (only 0 means the same thing on both). A member present for the whole iteration is
/// returned exactly once. Scores print as the encoding stores them: `d2string` for listpack
/// (1e17 as `100000000000000000`), `%.17g` for skiplist.
pub fn zscan(ctx: &mut Ctx<'_>, argv: &[Bytes]) {
    let Some(cursor) = crate::commands::keys::parse_scan_cursor(&argv[2]) else {
        return ctx.error("ERR invalid cursor");
    };
    // `zscanCommand` looks the key up before `scanGenericCommand` reads the options: a
    // missing key answers an empty scan whatever follows, another type WRONGTYPE.
    match check_read(ctx, &argv[1]) {
        None => return,
        Some(false) => {
            let out = ctx.out();
            out.array_len(2);
            out.bulk(b"0");
            out.array_len(0);
            return;
        }
        Some(true) => {}
    }
    let Some(super::keys::ScanOpts { count, pattern, .. }) =
        super::keys::parse_scan_opts(ctx, argv, 3, false)
    else {
        return;
    };
    let db = ctx.client.db;
    let z = get(&ctx.eng.dbs[db], &argv[1]);
    let lp = z.is_listpack();
    let (found, next): (Vec<(&[u8], f64)>, u64) = if lp {
        (z.iter().collect(), 0)
    } else {
        let step = z.scan(cursor, count);
        (step.items, step.next)
    };
    let items: Vec<(&[u8], Vec<u8>)> = found
        .into_iter()
        .filter(|(m, _)| pattern.is_none_or(|p| redoubt_keyspace::glob::glob_match(p, m, false)))
        .map(|(m, s)| {
            let score = if lp {
                redoubt_keyspace::num::d2string(s)
            } else {
                redoubt_resp::format_double(s).into_bytes()
            };
            (m, score)
        })
        .collect();
    let out = &mut ctx.client.out;
    out.array_len(2);
    out.bulk(next.to_string().as_bytes());
    out.array_len(items.len() * 2);
    for (m, s) in &items {
        out.bulk(m);
        out.bulk(s);
    }
}

/// This family's commands (see `commands::all`).
pub static HANDLERS: &[(&str, Handler)] = &[
    ("zadd", zadd),
    ("zincrby", zincrby),
    ("zrem", zrem),
    ("zcard", zcard),
    ("zscore", zscore),
    ("zmscore", zmscore),
    ("zrank", zrank),
    ("zrevrank", zrevrank),
    ("zcount", zcount),
    ("zlexcount", zlexcount),
    ("zremrangebyrank", zremrangebyrank),
    ("zremrangebyscore", zremrangebyscore),
    ("zremrangebylex", zremrangebylex),
    ("zpopmin", zpopmin),
    ("zpopmax", zpopmax),
    ("zmpop", zmpop),
    ("zrandmember", zrandmember),
    ("zscan", zscan),
];

#[cfg(test)]
#[path = "zsets_tests.rs"]
mod tests;
