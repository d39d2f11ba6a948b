//! Set commands (Redis 7.0 t_set.c): SADD SREM SISMEMBER SMISMEMBER SCARD SMEMBERS SPOP
//! SRANDMEMBER SMOVE SINTER SINTERCARD SUNION SDIFF SINTERSTORE SUNIONSTORE SDIFFSTORE SSCAN.
//!
//! Checks run in Redis's order (numbers and options first where Redis parses them first, then
//! the keys' types). Effects, as checked in a real 7.0.15's AOF:
//! - SADD SREM SMOVE and the STORE commands: as written, when they changed something
//!   (a STORE whose empty result deleted the destination included).
//! - SPOP key: `SREM key <member>`. SPOP key count: one `SREM key <member>` per member popped
//!   (wrapped in MULTI/EXEC by the stream when more than one), or `DEL key` when the count
//!   takes the whole set.
//! - SRANDMEMBER never propagates.
//!
//! As in 7.0, SMEMBERS is SINTER of one key: a RESP3 set, members in storage order (ascending
//! for an intset).

use crate::commands::keys::{as_written, parse_scan_cursor};
use crate::ctx::Ctx;
use crate::errors;
use crate::table::Handler;
use crate::Engine;
use bytes::Bytes;
use redoubt_keyspace::glob::glob_match;
use redoubt_keyspace::set::{Member, SetVal};
use redoubt_keyspace::Value;
use redoubt_resp::ReplyBuf;

/// Redis's SPOP_MOVE_STRATEGY_MUL.
const SPOP_MOVE_STRATEGY_MUL: u64 = 5;

fn max_intset(ctx: &Ctx<'_>) -> usize {
    usize::try_from(ctx.eng.config.get_int("set-max-intset-entries")).unwrap_or(0)
}

/// Looks a key up (lazy expiry, stats): `Ok(true)` for a set, `Ok(false)` when missing,
/// `Err(())` after replying WRONGTYPE.
fn lookup(ctx: &mut Ctx<'_>, key: &[u8], write: bool) -> Result<bool, ()> {
    let found = if write {
        ctx.lookup_write(key).map(|e| &*e)
    } else {
        ctx.lookup_read(key)
    };
    match found.map(|e| matches!(e.value, Value::Set(_))) {
        None => Ok(false),
        Some(true) => Ok(true),
        Some(false) => {
            ctx.error(errors::WRONGTYPE);
            Err(())
        }
    }
}

fn set_ref<'a>(eng: &'a Engine, db: usize, key: &[u8]) -> Option<&'a SetVal> {
    match eng.dbs[db].get_raw(key).map(|e| &e.value) {
        Some(Value::Set(s)) => Some(s),
        _ => None,
    }
}

fn set_mut<'a>(eng: &'a mut Engine, db: usize, key: &[u8]) -> Option<&'a mut SetVal> {
    match eng.dbs[db].get_raw_mut(key).map(|e| &mut e.value) {
        Some(Value::Set(s)) => Some(s),
        _ => None,
    }
}

fn reply_member(out: &mut ReplyBuf, m: &Member<'_>) {
    match m {
        Member::Int(n) => out.bulk_int(*n),
        Member::Bytes(b) => out.bulk(b),
    }
}

/// Replies a whole set in storage order, as a RESP3 set.
fn reply_set(out: &mut ReplyBuf, s: &SetVal) {
    out.set_len(s.len());
    for i in 0..s.len() {
        reply_member(out, &s.member_at(i));
    }
}

pub fn sadd(ctx: &mut Ctx<'_>, argv: &[Bytes]) {
    let key = &argv[1];
    let max = max_intset(ctx);
    let db = ctx.client.db;
    match lookup(ctx, key, true) {
        Err(()) => return,
        Ok(false) => {
            let s = SetVal::new_for(&argv[2]);
            ctx.eng.dbs[db].insert_new(key, Value::Set(Box::new(s)));
        }
        Ok(true) => {}
    }
    let set = set_mut(ctx.eng, db, key).expect("the set was just found or created");
    let added = argv[2..].iter().filter(|m| set.add(m, max)).count();
    if added > 0 {
        ctx.signal_modified(db, key);
        ctx.dirty(added as u64);
        ctx.propagate(&as_written(argv));
    }
    ctx.out().int(added as i64);
}

pub fn srem(ctx: &mut Ctx<'_>, argv: &[Bytes]) {
    let key = &argv[1];
    let db = ctx.client.db;
    match lookup(ctx, key, true) {
        Err(()) => return,
        Ok(false) => return ctx.out().int(0),
        Ok(true) => {}
    }
    let set = set_mut(ctx.eng, db, key).expect("the set was just found");
    let mut removed = 0;
    let mut emptied = false;
    for m in &argv[2..] {
        if set.remove(m) {
            removed += 1;
            if set.is_empty() {
                emptied = true;
                break;
            }
        }
    }
    if emptied {
        ctx.eng.dbs[db].remove(key);
    }
    if removed > 0 {
        ctx.signal_modified(db, key);
        ctx.dirty(removed);
        ctx.propagate(&as_written(argv));
    }
    ctx.out().int(removed as i64);
}

pub fn sismember(ctx: &mut Ctx<'_>, argv: &[Bytes]) {
    let db = ctx.client.db;
    match lookup(ctx, &argv[1], false) {
        Err(()) => {}
        Ok(false) => ctx.out().int(0),
        Ok(true) => {
            let found = set_ref(ctx.eng, db, &argv[1]).is_some_and(|s| s.contains(&argv[2]));
            ctx.out().int(i64::from(found));
        }
    }
}

pub fn smismember(ctx: &mut Ctx<'_>, argv: &[Bytes]) {
    let db = ctx.client.db;
    if lookup(ctx, &argv[1], false).is_err() {
        return;
    }
    let set = set_ref(ctx.eng, db, &argv[1]);
    let out = &mut ctx.client.out;
    out.array_len(argv.len() - 2);
    for m in &argv[2..] {
        out.int(i64::from(set.is_some_and(|s| s.contains(m))));
    }
}

pub fn scard(ctx: &mut Ctx<'_>, argv: &[Bytes]) {
    let db = ctx.client.db;
    if lookup(ctx, &argv[1], false).is_err() {
        return;
    }
    let n = set_ref(ctx.eng, db, &argv[1]).map_or(0, SetVal::len);
    ctx.out().int(n as i64);
}

pub fn smembers(ctx: &mut Ctx<'_>, argv: &[Bytes]) {
    sinter_generic(ctx, &argv[1..], None, false, 0);
}

/// Distinct random positions in `0..n`, `count < n`, in random order.
fn distinct_positions(rng: &mut redoubt_keyspace::rand::Rng, n: usize, count: usize) -> Vec<usize> {
    if count * 3 > n {
        // Partial Fisher-Yates over every position.
        let mut all: Vec<usize> = (0..n).collect();
        for i in 0..count {
            let j = i + rng.below((n - i) as u64) as usize;
            all.swap(i, j);
        }
        all.truncate(count);
        all
    } else {
        let mut seen = hashbrown::HashSet::with_capacity(count);
        let mut out = Vec::with_capacity(count);
        while out.len() < count {
            let p = rng.below(n as u64) as usize;
            if seen.insert(p) {
                out.push(p);
            }
        }
        out
    }
}

pub fn spop(ctx: &mut Ctx<'_>, argv: &[Bytes]) {
    if argv.len() == 3 {
        return spop_with_count(ctx, argv);
    }
    if argv.len() > 3 {
        return ctx.error(errors::SYNTAX);
    }
    let key = &argv[1];
    let db = ctx.client.db;
    match lookup(ctx, key, true) {
        Err(()) => return,
        Ok(false) => return ctx.out().null(),
        Ok(true) => {}
    }
    let Engine { dbs, rng, .. } = &mut *ctx.eng;
    let set = match dbs[db].get_raw_mut(key).map(|e| &mut e.value) {
        Some(Value::Set(s)) => s,
        _ => unreachable!("the set was just found"),
    };
    let pos = rng.below(set.len() as u64) as usize;
    let member = set.take_at(pos);
    if set.is_empty() {
        dbs[db].remove(key);
    }
    ctx.propagate(&[b"SREM", key, &member]);
    ctx.out().bulk(&member);
    ctx.signal_modified(db, key);
    ctx.dirty(1);
}

fn spop_with_count(ctx: &mut Ctx<'_>, argv: &[Bytes]) {
    let key = &argv[1];
    // `getPositiveLongFromObjectOrReply`: a non-integer gets the same error as a negative.
    let count = match redoubt_keyspace::num::string2ll(&argv[2]) {
        Some(n) if n >= 0 => n as u64,
        _ => return ctx.error(errors::NOT_POSITIVE),
    };
    let db = ctx.client.db;
    match lookup(ctx, key, true) {
        Err(()) => return,
        Ok(false) => return ctx.out().set_len(0),
        Ok(true) => {}
    }
    if count == 0 {
        return ctx.out().set_len(0);
    }
    let max = max_intset(ctx);
    let Engine {
        dbs, rng, stats, ..
    } = &mut *ctx.eng;
    let set = match dbs[db].get_raw_mut(key).map(|e| &mut e.value) {
        Some(Value::Set(s)) => s,
        _ => unreachable!("the set was just found"),
    };
    let size = set.len() as u64;
    if count >= size {
        // Redis replies through SUNION of the key, whose read lookup counts a keyspace hit.
        stats.keyspace_hits += 1;
    }
    let out = &mut ctx.client.out;
    if count >= size {
        // The whole set, replied as SUNION of it would (storage order), then DEL.
        reply_set(out, set);
        dbs[db].remove(key);
        ctx.propagate(&[b"DEL", key]);
    } else {
        let remaining = size - count;
        let mut popped: Vec<Vec<u8>> = Vec::with_capacity(count as usize);
        if remaining * SPOP_MOVE_STRATEGY_MUL > count {
            for _ in 0..count {
                let pos = rng.below(set.len() as u64) as usize;
                popped.push(set.take_at(pos));
            }
        } else {
            // Redis builds a new set of the members that stay (`setTypeCreate` from the
            // first of them, so a hashtable may become an intset) and pops the rest in the
            // old set's storage order.
            let mut keep: Option<SetVal> = None;
            for _ in 0..remaining {
                let pos = rng.below(set.len() as u64) as usize;
                let m = set.take_at(pos);
                keep.get_or_insert_with(|| SetVal::new_for(&m)).add(&m, max);
            }
            popped.extend(set.iter().map(|m| m.into_owned()));
            **set = keep.expect("at least one member stays");
        }
        out.set_len(popped.len());
        for m in &popped {
            out.bulk(m);
        }
        for m in &popped {
            ctx.propagate(&[b"SREM", key, m]);
        }
    }
    ctx.signal_modified(db, key);
    ctx.dirty(1);
}

pub fn srandmember(ctx: &mut Ctx<'_>, argv: &[Bytes]) {
    if argv.len() == 3 {
        return srandmember_with_count(ctx, argv);
    }
    if argv.len() > 3 {
        return ctx.error(errors::SYNTAX);
    }
    let db = ctx.client.db;
    match lookup(ctx, &argv[1], false) {
        Err(()) => {}
        Ok(false) => ctx.out().null(),
        Ok(true) => {
            let Engine { dbs, rng, .. } = &mut *ctx.eng;
            let set = match dbs[db].get_raw(&argv[1]).map(|e| &e.value) {
                Some(Value::Set(s)) => s,
                _ => unreachable!("the set was just found"),
            };
            let pos = rng.below(set.len() as u64) as usize;
            reply_member(&mut ctx.client.out, &set.member_at(pos));
        }
    }
}

fn srandmember_with_count(ctx: &mut Ctx<'_>, argv: &[Bytes]) {
    let Some(l) = ctx.parse_i64(&argv[2]) else {
        return;
    };
    if l == i64::MIN {
        return ctx.error(
            "ERR value is out of range, value must between -9223372036854775807 and \
             9223372036854775807",
        );
    }
    let (count, uniq) = (l.unsigned_abs(), l >= 0);
    let db = ctx.client.db;
    match lookup(ctx, &argv[1], false) {
        Err(()) => return,
        Ok(false) => return ctx.out().array_len(0),
        Ok(true) => {}
    }
    if count == 0 {
        return ctx.out().array_len(0);
    }
    let Engine { dbs, rng, .. } = &mut *ctx.eng;
    let set = match dbs[db].get_raw(&argv[1]).map(|e| &e.value) {
        Some(Value::Set(s)) => s,
        _ => unreachable!("the set was just found"),
    };
    let out = &mut ctx.client.out;
    let size = set.len() as u64;
    if !uniq || count == 1 {
        out.array_len(count as usize);
        for _ in 0..count {
            let pos = rng.below(size) as usize;
            reply_member(out, &set.member_at(pos));
        }
    } else if count >= size {
        out.array_len(size as usize);
        for i in 0..set.len() {
            reply_member(out, &set.member_at(i));
        }
    } else {
        let picks = distinct_positions(rng, set.len(), count as usize);
        out.array_len(picks.len());
        for p in picks {
            reply_member(out, &set.member_at(p));
        }
    }
}

pub fn smove(ctx: &mut Ctx<'_>, argv: &[Bytes]) {
    let (src, dst, member) = (&argv[1], &argv[2], &argv[3]);
    let db = ctx.client.db;
    let src_kind = ctx
        .lookup_write(src)
        .map(|e| matches!(e.value, Value::Set(_)));
    let dst_kind = ctx
        .lookup_write(dst)
        .map(|e| matches!(e.value, Value::Set(_)));
    let Some(src_is_set) = src_kind else {
        return ctx.out().int(0);
    };
    if !src_is_set || dst_kind == Some(false) {
        return ctx.error(errors::WRONGTYPE);
    }
    if src == dst {
        let found = set_ref(ctx.eng, db, src).is_some_and(|s| s.contains(member));
        return ctx.out().int(i64::from(found));
    }
    let set = set_mut(ctx.eng, db, src).expect("the source set was just found");
    if !set.remove(member) {
        return ctx.out().int(0);
    }
    if set.is_empty() {
        ctx.eng.dbs[db].remove(src);
    }
    if dst_kind.is_none() {
        let s = SetVal::new_for(member);
        ctx.eng.dbs[db].insert_new(dst, Value::Set(Box::new(s)));
    }
    ctx.signal_modified(db, src);
    ctx.signal_modified(db, dst);
    ctx.dirty(1);
    let max = max_intset(ctx);
    if set_mut(ctx.eng, db, dst)
        .expect("the destination set exists")
        .add(member, max)
    {
        ctx.dirty(1);
    }
    ctx.propagate(&as_written(argv));
    ctx.out().int(1);
}

/// Looks every source key up, replying WRONGTYPE (and returning None) if one is not a set.
/// Returns which keys exist. The STORE variants read their sources too (keyspace hits and
/// misses counted, as a 7.0.15's INFO stats showed).
fn lookup_sources(ctx: &mut Ctx<'_>, keys: &[Bytes]) -> Option<Vec<bool>> {
    let mut exists = Vec::with_capacity(keys.len());
    for k in keys {
        exists.push(lookup(ctx, k, false).ok()?);
    }
    Some(exists)
}

/// Stores a STORE command's result (`setKey`, dropping any TTL) or deletes the destination
/// when it is empty, replies its size and propagates the command as written if it changed
/// anything.
fn store_result(ctx: &mut Ctx<'_>, argv: &[Bytes], dst: &[u8], result: SetVal) {
    let db = ctx.client.db;
    if result.is_empty() {
        ctx.out().int(0);
        let lazy = ctx.eng.conf.lazyfree_lazy_server_del;
        if ctx.delete(db, dst, lazy) {
            ctx.dirty(1);
            ctx.propagate(&as_written(argv));
        }
        return;
    }
    let n = result.len();
    ctx.lookup_write(dst);
    let old = ctx.eng.dbs[db].set(dst, Value::Set(Box::new(result)), false);
    ctx.eng.free_server_del(old);
    ctx.signal_modified(db, dst);
    ctx.dirty(1);
    ctx.propagate(&as_written(argv));
    ctx.out().int(n as i64);
}

/// `sinterGenericCommand`. `store` is the STORE command's argv (its destination is argv[1]).
fn sinter_generic(
    ctx: &mut Ctx<'_>,
    keys: &[Bytes],
    store: Option<&[Bytes]>,
    cardinality_only: bool,
    limit: u64,
) {
    let db = ctx.client.db;
    let Some(exists) = lookup_sources(ctx, keys) else {
        return;
    };
    if exists.iter().any(|e| !e) {
        if let Some(argv) = store {
            return store_result(ctx, argv, &argv[1], SetVal::new());
        }
        if cardinality_only {
            return ctx.out().int(0);
        }
        return ctx.out().set_len(0);
    }
    let max = max_intset(ctx);
    let dbref = &ctx.eng.dbs[db];
    let mut sets: Vec<&SetVal> = keys
        .iter()
        .map(|k| match dbref.get_raw(k).map(|e| &e.value) {
            Some(Value::Set(s)) => &**s,
            _ => unreachable!("every source was just found"),
        })
        .collect();
    sets.sort_by_key(|s| s.len());
    let first = sets[0];
    let mut found: Vec<Member<'_>> = Vec::new();
    let mut cardinality: u64 = 0;
    for i in 0..first.len() {
        let m = first.member_at(i);
        let in_all = sets[1..]
            .iter()
            .all(|s| std::ptr::eq(*s, first) || s.contains_member(&m));
        if !in_all {
            continue;
        }
        cardinality += 1;
        if cardinality_only {
            if limit != 0 && cardinality >= limit {
                break;
            }
        } else {
            found.push(m);
        }
    }
    if cardinality_only {
        return ctx.client.out.int(cardinality as i64);
    }
    if let Some(argv) = store {
        let mut result = SetVal::new();
        for m in &found {
            result.add_member(m, max);
        }
        drop(found);
        return store_result(ctx, argv, &argv[1], result);
    }
    let out = &mut ctx.client.out;
    out.set_len(found.len());
    for m in &found {
        reply_member(out, m);
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum SetOp {
    Union,
    Diff,
}

/// `sunionDiffGenericCommand`.
fn sunion_diff_generic(ctx: &mut Ctx<'_>, keys: &[Bytes], store: Option<&[Bytes]>, op: SetOp) {
    let db = ctx.client.db;
    let Some(_) = lookup_sources(ctx, keys) else {
        return;
    };
    let max = max_intset(ctx);
    let dbref = &ctx.eng.dbs[db];
    let mut sets: Vec<Option<&SetVal>> = keys
        .iter()
        .map(|k| match dbref.get_raw(k).map(|e| &e.value) {
            Some(Value::Set(s)) => Some(&**s),
            _ => None,
        })
        .collect();
    let first = sets[0];
    let same = |a: Option<&SetVal>, b: Option<&SetVal>| match (a, b) {
        (Some(a), Some(b)) => std::ptr::eq(a, b),
        _ => false,
    };
    let sameset = sets[1..].iter().any(|s| same(*s, first));
    let mut result = SetVal::new();
    match (op, first) {
        (SetOp::Union, _) => {
            for s in sets.iter().flatten() {
                for i in 0..s.len() {
                    result.add_member(&s.member_at(i), max);
                }
            }
        }
        (SetOp::Diff, None) => {}
        (SetOp::Diff, Some(_)) if sameset => {}
        (SetOp::Diff, Some(first)) => {
            // Redis picks the algorithm by estimated work; it decides the result's encoding
            // (algorithm 2 adds then removes, so it can leave a hashtable of integers).
            let (mut one, mut two) = (0u64, 0u64);
            for s in sets.iter().flatten() {
                one += first.len() as u64;
                two += s.len() as u64;
            }
            one /= 2;
            if one <= two {
                sets[1..].sort_by_key(|s| std::cmp::Reverse(s.map_or(0, SetVal::len)));
                for i in 0..first.len() {
                    let m = first.member_at(i);
                    if !sets[1..].iter().flatten().any(|s| s.contains_member(&m)) {
                        result.add_member(&m, max);
                    }
                }
            } else {
                for i in 0..first.len() {
                    result.add_member(&first.member_at(i), max);
                }
                'outer: for s in sets[1..].iter().flatten() {
                    for i in 0..s.len() {
                        let m = s.member_at(i).to_vec();
                        result.remove(&m);
                        if result.is_empty() {
                            break 'outer;
                        }
                    }
                }
            }
        }
    }
    match store {
        Some(argv) => store_result(ctx, argv, &argv[1], result),
        None => reply_set(&mut ctx.client.out, &result),
    }
}

pub fn sinter(ctx: &mut Ctx<'_>, argv: &[Bytes]) {
    sinter_generic(ctx, &argv[1..], None, false, 0);
}

pub fn sinterstore(ctx: &mut Ctx<'_>, argv: &[Bytes]) {
    sinter_generic(ctx, &argv[2..], Some(argv), false, 0);
}

pub fn sintercard(ctx: &mut Ctx<'_>, argv: &[Bytes]) {
    const NUMKEYS: &str = "ERR numkeys should be greater than 0";
    let numkeys = match redoubt_keyspace::num::string2ll(&argv[1]) {
        Some(n) if n >= 1 => n as u64,
        _ => return ctx.error(NUMKEYS),
    };
    if numkeys > (argv.len() - 2) as u64 {
        return ctx.error("ERR Number of keys can't be greater than number of args");
    }
    let numkeys = numkeys as usize;
    let mut limit = 0u64;
    let mut j = 2 + numkeys;
    while j < argv.len() {
        let more = argv.len() - 1 - j;
        if argv[j].eq_ignore_ascii_case(b"limit") && more > 0 {
            j += 1;
            match redoubt_keyspace::num::string2ll(&argv[j]) {
                Some(n) if n >= 0 => limit = n as u64,
                _ => return ctx.error("ERR LIMIT can't be negative"),
            }
        } else {
            return ctx.error(errors::SYNTAX);
        }
        j += 1;
    }
    sinter_generic(ctx, &argv[2..2 + numkeys], None, true, limit);
}

pub fn sunion(ctx: &mut Ctx<'_>, argv: &[Bytes]) {
    sunion_diff_generic(ctx, &argv[1..], None, SetOp::Union);
}

pub fn sunionstore(ctx: &mut Ctx<'_>, argv: &[Bytes]) {
    sunion_diff_generic(ctx, &argv[2..], Some(argv), SetOp::Union);
}

pub fn sdiff(ctx: &mut Ctx<'_>, argv: &[Bytes]) {
    sunion_diff_generic(ctx, &argv[1..], None, SetOp::Diff);
}

pub fn sdiffstore(ctx: &mut Ctx<'_>, argv: &[Bytes]) {
    sunion_diff_generic(ctx, &argv[2..], Some(argv), SetOp::Diff);
}

/// SSCAN key cursor [MATCH pattern] [COUNT count] (`scanGenericCommand` on a set). An intset
/// is returned whole in one step, as Redis does; a hashtable's cursor is our own (see
/// `redoubt_keyspace::set`), so only 0 means the same on both servers.
pub fn sscan(ctx: &mut Ctx<'_>, argv: &[Bytes]) {
    let Some(cursor) = parse_scan_cursor(&argv[2]) else {
        return ctx.error("ERR invalid cursor");
    };
    let db = ctx.client.db;
    match lookup(ctx, &argv[1], false) {
        Err(()) => return,
        Ok(false) => {
            let out = ctx.out();
            out.array_len(2);
            out.bulk(b"0");
            return out.array_len(0);
        }
        Ok(true) => {}
    }
    let Some(super::keys::ScanOpts { count, pattern, .. }) =
        super::keys::parse_scan_opts(ctx, argv, 3, false)
    else {
        return;
    };
    let set = set_ref(ctx.eng, db, &argv[1]).expect("the set was just found");
    let (next, members) = set.scan(cursor, count);
    let out = &mut ctx.client.out;
    out.array_len(2);
    out.bulk_int(next as i64);
    let keep: Vec<&Vec<u8>> = members
        .iter()
        .filter(|m| pattern.is_none_or(|p| glob_match(p, m, false)))
        .collect();
    out.array_len(keep.len());
    for m in keep {
        out.bulk(m);
    }
}

/// This family's commands (see `commands::all`).
pub static HANDLERS: &[(&str, Handler)] = &[
    ("sadd", sadd),
    ("srem", srem),
    ("sismember", sismember),
    ("smismember", smismember),
    ("scard", scard),
    ("smembers", smembers),
    ("spop", spop),
    ("srandmember", srandmember),
    ("smove", smove),
    ("sinter", sinter),
    ("sintercard", sintercard),
    ("sunion", sunion),
    ("sdiff", sdiff),
    ("sinterstore", sinterstore),
    ("sunionstore", sunionstore),
    ("sdiffstore", sdiffstore),
    ("sscan", sscan),
];

#[cfg(test)]
#[path = "sets_tests.rs"]
mod tests;
