//! Hash commands (Redis 7.0 t_hash.c): HSET HSETNX HGET HMGET HMSET HDEL HLEN HSTRLEN HEXISTS
//! HKEYS HVALS HGETALL HINCRBY HINCRBYFLOAT HRANDFIELD HSCAN.
//!
//! Checks run in Redis's order (numbers and options before the key's type). Encodings follow
//! t_hash.c: a `listpack` hash becomes a `hashtable` when a field or value longer than
//! `hash-max-listpack-value` is written or when it holds more than `hash-max-listpack-entries`
//! fields, and never goes back. Effects are propagated as Redis 7.0 does: the command as
//! written, except HINCRBYFLOAT, which becomes `HSET key field <new value>`. Expected replies
//! in the tests were taken from a real redis-server 7.0.15.

use crate::ctx::Ctx;
use crate::errors;
use crate::table::Handler;
use bytes::Bytes;
use redoubt_keyspace::hash::HashVal;
use redoubt_keyspace::num::{hincrbyfloat, hincrbyfloat_incr, string2ll};
use redoubt_keyspace::Value;
use redoubt_resp::ReplyBuf;

/// The thresholds of the two encodings, from the live configuration.
fn limits(ctx: &Ctx<'_>) -> (usize, usize) {
    let entries = ctx.eng.config.get_int("hash-max-listpack-entries");
    let value = ctx.eng.config.get_int("hash-max-listpack-value");
    (
        usize::try_from(entries).unwrap_or(0),
        usize::try_from(value).unwrap_or(0),
    )
}

/// `lookupKeyRead` + `checkType(OBJ_HASH)`: calls `f` with the hash (`None` when missing)
/// and the reply buffer; replies WRONGTYPE itself and returns `None` then.
fn with_read<R>(
    ctx: &mut Ctx<'_>,
    key: &[u8],
    f: impl FnOnce(Option<&HashVal>, &mut ReplyBuf) -> R,
) -> Option<R> {
    let found = ctx.lookup_read(key).is_some();
    let db = ctx.client.db;
    let out = &mut ctx.client.out;
    if !found {
        return Some(f(None, out));
    }
    match ctx.eng.dbs[db].get_raw(key).map(|e| &e.value) {
        Some(Value::Hash(h)) => Some(f(Some(h), out)),
        _ => {
            out.error(errors::WRONGTYPE);
            None
        }
    }
}

/// `lookupKeyWrite` + `checkType(OBJ_HASH)`: `Some(slot)` (`Some(None)` when the key is
/// missing), or `None` after replying WRONGTYPE.
fn lookup_write(ctx: &mut Ctx<'_>, key: &[u8]) -> Option<Option<u32>> {
    let Some(slot) = ctx.lookup_write_slot(key) else {
        return Some(None);
    };
    let db = ctx.client.db;
    if matches!(ctx.eng.dbs[db].at_mut(slot).value, Value::Hash(_)) {
        Some(Some(slot))
    } else {
        ctx.error(errors::WRONGTYPE);
        None
    }
}

/// The hash in `slot`, or a new empty one created at `key` (`hashTypeLookupWriteOrCreate`
/// after the type check); `slot` is updated so later calls find it directly.
fn hash_mut<'c>(ctx: &'c mut Ctx<'_>, key: &[u8], slot: &mut Option<u32>) -> &'c mut HashVal {
    let db = ctx.client.db;
    let d = &mut ctx.eng.dbs[db];
    let s = match *slot {
        Some(s) => s,
        None => {
            d.insert_new(key, Value::Hash(HashVal::new()));
            let s = d.find(key).expect("the key was just inserted");
            *slot = Some(s);
            s
        }
    };
    match &mut d.at_mut(s).value {
        Value::Hash(h) => h,
        _ => unreachable!("the slot was checked to hold a hash or created as one"),
    }
}

/// `hashTypeSet` with its conversions: a long field or value converts before the write, too
/// many fields after it.
fn hash_set(h: &mut HashVal, field: &[u8], value: &[u8], lim: (usize, usize)) -> bool {
    if h.is_listpack() && (field.len() > lim.1 || value.len() > lim.1) {
        h.convert_to_table();
    }
    let new = h.set(field, value);
    if new && h.is_listpack() && h.len() > lim.0 {
        h.convert_to_table();
    }
    new
}

/// HSET key field value [field value ...] and HMSET (the same, replying OK).
fn hset_generic(ctx: &mut Ctx<'_>, argv: &[Bytes], hmset: bool) {
    if argv.len() % 2 == 1 {
        let msg = errors::wrong_args(&ctx.cmd.name);
        ctx.error(&msg);
        return;
    }
    let key = &argv[1][..];
    let Some(mut slot) = lookup_write(ctx, key) else {
        return;
    };
    let lim = limits(ctx);
    let h = hash_mut(ctx, key, &mut slot);
    // hashTypeTryConversion: any long argument converts before the writes.
    if h.is_listpack() && argv[2..].iter().any(|a| a.len() > lim.1) {
        h.convert_to_table();
    }
    let mut created = 0;
    for pair in argv[2..].chunks(2) {
        if hash_set(h, &pair[0], &pair[1], lim) {
            created += 1;
        }
    }
    let db = ctx.client.db;
    ctx.signal_modified(db, key);
    ctx.dirty(((argv.len() - 2) / 2) as u64);
    let args: Vec<&[u8]> = argv.iter().map(|a| &a[..]).collect();
    ctx.propagate(&args);
    if hmset {
        ctx.ok();
    } else {
        ctx.out().int(created);
    }
}

fn hset(ctx: &mut Ctx<'_>, argv: &[Bytes]) {
    hset_generic(ctx, argv, false);
}

fn hmset(ctx: &mut Ctx<'_>, argv: &[Bytes]) {
    hset_generic(ctx, argv, true);
}

/// HSETNX key field value
fn hsetnx(ctx: &mut Ctx<'_>, argv: &[Bytes]) {
    let (key, field, value) = (&argv[1][..], &argv[2][..], &argv[3][..]);
    let Some(mut slot) = lookup_write(ctx, key) else {
        return;
    };
    if slot.is_some() && hash_mut(ctx, key, &mut slot).contains(field) {
        ctx.out().int(0);
        return;
    }
    let lim = limits(ctx);
    hash_set(hash_mut(ctx, key, &mut slot), field, value, lim);
    let db = ctx.client.db;
    ctx.signal_modified(db, key);
    ctx.dirty(1);
    ctx.propagate(&[b"HSETNX", key, field, value]);
    ctx.out().int(1);
}

/// HGET key field
fn hget(ctx: &mut Ctx<'_>, argv: &[Bytes]) {
    with_read(ctx, &argv[1], |h, out| {
        match h.and_then(|h| h.get(&argv[2])) {
            Some(v) => out.bulk(v),
            None => out.null(),
        }
    });
}

/// HMGET key field [field ...]
fn hmget(ctx: &mut Ctx<'_>, argv: &[Bytes]) {
    with_read(ctx, &argv[1], |h, out| {
        out.array_len(argv.len() - 2);
        for f in &argv[2..] {
            match h.and_then(|h| h.get(f)) {
                Some(v) => out.bulk(v),
                None => out.null(),
            }
        }
    });
}

/// HDEL key field [field ...]: deletes the key when the hash becomes empty.
fn hdel(ctx: &mut Ctx<'_>, argv: &[Bytes]) {
    let key = &argv[1][..];
    let Some(mut slot) = lookup_write(ctx, key) else {
        return;
    };
    if slot.is_none() {
        ctx.out().int(0);
        return;
    }
    let h = hash_mut(ctx, key, &mut slot);
    let mut deleted = 0;
    let mut emptied = false;
    for f in &argv[2..] {
        if h.remove(f) {
            deleted += 1;
            if h.is_empty() {
                emptied = true;
                break;
            }
        }
    }
    let db = ctx.client.db;
    if emptied {
        ctx.eng.dbs[db].remove(key);
    }
    if deleted > 0 {
        ctx.signal_modified(db, key);
        ctx.dirty(deleted);
        let args: Vec<&[u8]> = argv.iter().map(|a| &a[..]).collect();
        ctx.propagate(&args);
    }
    ctx.out().int(deleted as i64);
}

/// HLEN key
fn hlen(ctx: &mut Ctx<'_>, argv: &[Bytes]) {
    with_read(ctx, &argv[1], |h, out| {
        out.int(h.map_or(0, |h| h.len() as i64))
    });
}

/// HSTRLEN key field
fn hstrlen(ctx: &mut Ctx<'_>, argv: &[Bytes]) {
    with_read(ctx, &argv[1], |h, out| {
        out.int(
            h.and_then(|h| h.get(&argv[2]))
                .map_or(0, |v| v.len() as i64),
        );
    });
}

/// HEXISTS key field
fn hexists(ctx: &mut Ctx<'_>, argv: &[Bytes]) {
    with_read(ctx, &argv[1], |h, out| {
        out.int(i64::from(h.is_some_and(|h| h.contains(&argv[2]))));
    });
}

/// HKEYS, HVALS and HGETALL (`genericHgetallCommand`): a map for HGETALL in RESP3.
fn getall_generic(ctx: &mut Ctx<'_>, argv: &[Bytes], keys: bool, vals: bool) {
    with_read(ctx, &argv[1], |h, out| {
        let n = h.map_or(0, HashVal::len);
        if keys && vals {
            out.map_len(n);
        } else {
            out.array_len(n);
        }
        if let Some(h) = h {
            for (f, v) in h.iter() {
                if keys {
                    out.bulk(f);
                }
                if vals {
                    out.bulk(v);
                }
            }
        }
    });
}

fn hkeys(ctx: &mut Ctx<'_>, argv: &[Bytes]) {
    getall_generic(ctx, argv, true, false);
}

fn hvals(ctx: &mut Ctx<'_>, argv: &[Bytes]) {
    getall_generic(ctx, argv, false, true);
}

fn hgetall(ctx: &mut Ctx<'_>, argv: &[Bytes]) {
    getall_generic(ctx, argv, true, true);
}

/// HINCRBY key field increment
fn hincrby(ctx: &mut Ctx<'_>, argv: &[Bytes]) {
    let (key, field) = (&argv[1][..], &argv[2][..]);
    let Some(incr) = ctx.parse_i64(&argv[3]) else {
        return;
    };
    let Some(mut slot) = lookup_write(ctx, key) else {
        return;
    };
    let old = if slot.is_some() {
        hash_mut(ctx, key, &mut slot).get(field).map(<[u8]>::to_vec)
    } else {
        None
    };
    let value = match old {
        None => 0,
        Some(v) => match string2ll(&v) {
            Some(n) => n,
            None => {
                ctx.error("ERR hash value is not an integer");
                return;
            }
        },
    };
    let Some(new) = value.checked_add(incr) else {
        ctx.error(errors::OVERFLOW);
        return;
    };
    let digits = new.to_string();
    let lim = limits(ctx);
    hash_set(hash_mut(ctx, key, &mut slot), field, digits.as_bytes(), lim);
    let db = ctx.client.db;
    ctx.signal_modified(db, key);
    ctx.dirty(1);
    ctx.propagate(&[b"HINCRBY", key, field, &argv[3]]);
    ctx.out().int(new);
}

/// HINCRBYFLOAT key field increment: propagated as `HSET key field <new value>`, so float
/// formatting cannot differ downstream.
fn hincrbyfloat_cmd(ctx: &mut Ctx<'_>, argv: &[Bytes]) {
    let (key, field) = (&argv[1][..], &argv[2][..]);
    let incr = match hincrbyfloat_incr(&argv[3]) {
        Ok(v) => v,
        Err(e) => {
            ctx.error(e.message());
            return;
        }
    };
    let Some(mut slot) = lookup_write(ctx, key) else {
        return;
    };
    let old = if slot.is_some() {
        hash_mut(ctx, key, &mut slot).get(field).map(<[u8]>::to_vec)
    } else {
        None
    };
    let new = match hincrbyfloat(old.as_deref(), incr) {
        Ok(v) => v,
        Err(e) => {
            ctx.error(e.message());
            return;
        }
    };
    let lim = limits(ctx);
    hash_set(hash_mut(ctx, key, &mut slot), field, &new, lim);
    let db = ctx.client.db;
    ctx.signal_modified(db, key);
    ctx.dirty(1);
    ctx.propagate(&[b"HSET", key, field, &new]);
    ctx.out().bulk(&new);
}

/// HRANDFIELD key [count [WITHVALUES]]
fn hrandfield(ctx: &mut Ctx<'_>, argv: &[Bytes]) {
    if argv.len() < 3 {
        let db = ctx.client.db;
        let found = ctx.lookup_read(&argv[1]).is_some();
        let crate::Engine { dbs, rng, .. } = &mut *ctx.eng;
        let out = &mut ctx.client.out;
        if !found {
            out.null();
            return;
        }
        match dbs[db].get_raw(&argv[1]).map(|e| &e.value) {
            Some(Value::Hash(h)) => {
                let i = rng.below(h.len() as u64) as usize;
                let (f, _) = h.nth(i).expect("index below the hash's length");
                out.bulk(f);
            }
            _ => out.error(errors::WRONGTYPE),
        }
        return;
    }
    let count = match string2ll(&argv[2]) {
        None => {
            ctx.error(errors::NOT_INTEGER);
            return;
        }
        Some(i64::MIN) => {
            ctx.error(
                "ERR value is out of range, value must between -9223372036854775807 and \
                 9223372036854775807",
            );
            return;
        }
        Some(n) => n,
    };
    let withvalues = match argv.len() {
        3 => false,
        4 if argv[3].eq_ignore_ascii_case(b"withvalues") => true,
        _ => {
            ctx.error(errors::SYNTAX);
            return;
        }
    };
    if withvalues && !(-(i64::MAX / 2)..=i64::MAX / 2).contains(&count) {
        ctx.error("ERR value is out of range");
        return;
    }
    let db = ctx.client.db;
    let found = ctx.lookup_read(&argv[1]).is_some();
    let crate::Engine { dbs, rng, .. } = &mut *ctx.eng;
    let out = &mut ctx.client.out;
    if !found {
        out.array_len(0);
        return;
    }
    let h = match dbs[db].get_raw(&argv[1]).map(|e| &e.value) {
        Some(Value::Hash(h)) => h,
        _ => {
            out.error(errors::WRONGTYPE);
            return;
        }
    };
    if count == 0 {
        out.array_len(0);
        return;
    }
    let size = h.len();
    let resp3 = out.is_resp3();
    let emit = |out: &mut ReplyBuf, f: &[u8], v: &[u8]| {
        if withvalues && resp3 {
            out.array_len(2);
        }
        out.bulk(f);
        if withvalues {
            out.bulk(v);
        }
    };
    let header = |out: &mut ReplyBuf, n: usize| {
        out.array_len(if withvalues && !resp3 { n * 2 } else { n });
    };
    // Indexed once, so each pick is O(1) in either encoding.
    let pairs: Vec<(&[u8], &[u8])> = h.iter().collect();
    let pick = |i: usize| pairs[i];
    if count < 0 || count == 1 {
        // Repetitions allowed, in random order.
        let n = count.unsigned_abs() as usize;
        header(out, n);
        for _ in 0..n {
            let (f, v) = pick(rng.below(size as u64) as usize);
            emit(out, f, v);
        }
        return;
    }
    let count = count as usize;
    if count >= size {
        header(out, size);
        for (f, v) in h.iter() {
            emit(out, f, v);
        }
        return;
    }
    // Distinct fields: a partial Fisher-Yates shuffle of the indices.
    let mut idx: Vec<usize> = (0..size).collect();
    for i in 0..count {
        let j = i + rng.below((size - i) as u64) as usize;
        idx.swap(i, j);
    }
    let mut chosen = idx[..count].to_vec();
    chosen.sort_unstable();
    header(out, count);
    for i in chosen {
        let (f, v) = pick(i);
        emit(out, f, v);
    }
}

/// HSCAN key cursor [MATCH pattern] [COUNT count]. A `listpack` hash is returned whole with
/// cursor 0, as Redis does; a `hashtable` is walked by [`HashVal::scan`] (its cursors are not
/// Redis's, only 0 means the same thing).
fn hscan(ctx: &mut Ctx<'_>, argv: &[Bytes]) {
    let Some(cursor) = crate::commands::keys::parse_scan_cursor(&argv[2]) else {
        ctx.error("ERR invalid cursor");
        return;
    };
    let key = &argv[1][..];
    let found = ctx.lookup_read(key).is_some();
    if !found {
        let out = ctx.out();
        out.array_len(2);
        out.bulk(b"0");
        out.array_len(0);
        return;
    }
    let db = ctx.client.db;
    if !matches!(
        ctx.eng.dbs[db].get_raw(key).map(|e| &e.value),
        Some(Value::Hash(_))
    ) {
        ctx.error(errors::WRONGTYPE);
        return;
    }
    let Some(super::keys::ScanOpts { count, pattern, .. }) =
        super::keys::parse_scan_opts(ctx, argv, 3, false)
    else {
        return;
    };
    let h = match ctx.eng.dbs[db].get_raw(key).map(|e| &e.value) {
        Some(Value::Hash(h)) => h,
        _ => unreachable!("checked above"),
    };
    let step = h.scan(cursor, count);
    let out = &mut ctx.client.out;
    let kept: Vec<(&[u8], &[u8])> = step
        .pairs
        .into_iter()
        .filter(|(f, _)| pattern.is_none_or(|p| redoubt_keyspace::glob::glob_match(p, f, false)))
        .collect();
    out.array_len(2);
    out.bulk_int(step.next as i64);
    out.array_len(kept.len() * 2);
    for (f, v) in kept {
        out.bulk(f);
        out.bulk(v);
    }
}

/// This family's commands (see `commands::all`).
pub static HANDLERS: &[(&str, Handler)] = &[
    ("hset", hset),
    ("hmset", hmset),
    ("hsetnx", hsetnx),
    ("hget", hget),
    ("hmget", hmget),
    ("hdel", hdel),
    ("hlen", hlen),
    ("hstrlen", hstrlen),
    ("hexists", hexists),
    ("hkeys", hkeys),
    ("hvals", hvals),
    ("hgetall", hgetall),
    ("hincrby", hincrby),
    ("hincrbyfloat", hincrbyfloat_cmd),
    ("hrandfield", hrandfield),
    ("hscan", hscan),
];

#[cfg(test)]
#[path = "hashes_tests.rs"]
mod tests;
