//! HyperLogLog commands (Redis 7.0 hyperloglog.c): PFADD PFCOUNT PFMERGE PFDEBUG PFSELFTEST.
//!
//! An HLL is a plain string in Redis's byte layout (`redoubt_keyspace::hll`), so it moves
//! to and from Redis unchanged. What each command records matches what Redis 7.0 propagates
//! (checked in a 7.0.15 AOF): PFADD as written when a register (or the key) changed; PFMERGE
//! always; PFCOUNT of one key as written when it refreshed the cached cardinality in the
//! header (the stored bytes changed, and replaying it recomputes the same cache); PFDEBUG
//! GETREG/TODENSE as written when they converted a sparse HLL to dense. Each mutating
//! command first makes the string `raw` (`dbUnshareStringValue`), which OBJECT ENCODING
//! shows.

use crate::commands::strings::raw_bytes_mut;
use crate::ctx::Ctx;
use crate::errors;
use crate::table::Handler;
use bytes::Bytes;
use redoubt_keyspace::{hll, StrVal, Value};

/// `isHLLObjectOrReply`'s error for a string that is not an HLL.
const NOT_HLL: &str = "WRONGTYPE Key is not a valid HyperLogLog string value.";
/// `invalid_hll_err`.
const CORRUPT: &str = "INVALIDOBJ Corrupted HLL object detected";

/// A refusal already replied to the client.
struct Replied;

/// Looks `key` up (`lookupKeyRead`, or `lookupKeyWrite` when `write`) and checks it as
/// `isHLLObjectOrReply` does. `Ok(false)` when the key is missing.
fn lookup_hll(ctx: &mut Ctx<'_>, key: &[u8], write: bool) -> Result<bool, Replied> {
    let found = if write {
        ctx.lookup_write(key).is_some()
    } else {
        ctx.lookup_read(key).is_some()
    };
    if !found {
        return Ok(false);
    }
    let db = ctx.client.db;
    let valid = match ctx.eng.dbs[db].get_raw(key).map(|e| &e.value) {
        // An integer-encoded string is not an sds: never an HLL.
        Some(Value::Str(s)) => s.stored_bytes().is_some_and(hll::is_valid),
        _ => {
            ctx.error(errors::WRONGTYPE);
            return Err(Replied);
        }
    };
    if !valid {
        ctx.error(NOT_HLL);
        return Err(Replied);
    }
    Ok(true)
}

/// The bytes of a key already checked by [`lookup_hll`].
fn hll_bytes<'a>(ctx: &'a Ctx<'_>, key: &[u8]) -> &'a [u8] {
    match ctx.eng.dbs[ctx.client.db].get_raw(key).map(|e| &e.value) {
        Some(Value::Str(s)) => s.stored_bytes().unwrap_or_default(),
        _ => unreachable!("HLL key checked by lookup_hll"),
    }
}

/// The bytes of a checked HLL key, made `raw` for an in-place edit.
fn hll_mut<'a>(ctx: &'a mut Ctx<'_>, key: &[u8]) -> &'a mut Vec<u8> {
    let db = ctx.client.db;
    raw_bytes_mut(&mut ctx.eng.dbs[db], key).expect("HLL key checked by lookup_hll")
}

/// Creates an empty HLL at `key` (`createHLLObject` + `dbAdd`): a `raw` string.
fn create_hll(ctx: &mut Ctx<'_>, key: &[u8]) {
    let db = ctx.client.db;
    ctx.eng.dbs[db].insert_new(key, Value::Str(StrVal::raw(hll::new_sparse())));
}

fn sparse_max_bytes(ctx: &Ctx<'_>) -> u64 {
    ctx.eng.config.get_int("hll-sparse-max-bytes").max(0) as u64
}

fn propagate_argv(ctx: &mut Ctx<'_>, argv: &[Bytes]) {
    let args: Vec<&[u8]> = argv.iter().map(|a| &a[..]).collect();
    ctx.propagate(&args);
}

/// PFADD key [element ...]: 1 when the key was created or a register changed. A corrupt
/// sparse HLL stops at the element that found it, keeping the registers already raised but
/// recording nothing, as Redis 7.0 does.
pub fn pfadd(ctx: &mut Ctx<'_>, argv: &[Bytes]) {
    let key = &argv[1];
    let Ok(exists) = lookup_hll(ctx, key, true) else {
        return;
    };
    let mut updated = 0u64;
    if !exists {
        create_hll(ctx, key);
        updated += 1;
    }
    let max_bytes = sparse_max_bytes(ctx);
    let h = hll_mut(ctx, key);
    let added = argv[2..].iter().try_fold(0u64, |n, ele| {
        hll::add(h, ele, max_bytes).map(|changed| n + u64::from(changed))
    });
    match added {
        Ok(n) => updated += n,
        Err(hll::Corrupt) => {
            ctx.error(CORRUPT);
            return;
        }
    }
    if updated > 0 {
        hll::invalidate_cache(hll_mut(ctx, key));
        let db = ctx.client.db;
        ctx.signal_modified(db, key);
        ctx.dirty(updated);
        propagate_argv(ctx, argv);
    }
    ctx.out().int(i64::from(updated > 0));
}

/// PFCOUNT key [key ...]. One key: the cached cardinality, or a fresh count written back
/// into the header (a change, recorded). Several keys: the count of their union, computed
/// on the side without touching any of them.
pub fn pfcount(ctx: &mut Ctx<'_>, argv: &[Bytes]) {
    if argv.len() > 2 {
        let mut max = vec![0u8; hll::REGISTERS];
        for key in &argv[1..] {
            match lookup_hll(ctx, key, false) {
                Err(Replied) => return,
                Ok(false) => continue,
                Ok(true) => {}
            }
            if hll::merge(&mut max, hll_bytes(ctx, key)).is_err() {
                ctx.error(CORRUPT);
                return;
            }
        }
        let card = hll::count_registers(&max);
        ctx.out().int(card as i64);
        return;
    }
    let key = &argv[1];
    match lookup_hll(ctx, key, false) {
        Err(Replied) => return,
        Ok(false) => {
            ctx.out().int(0);
            return;
        }
        Ok(true) => {}
    }
    let h = hll_mut(ctx, key);
    // (cardinality, whether the cache was refreshed)
    let counted = match hll::cached_card(h) {
        Some(card) => Ok((card, false)),
        None => hll::count(h).map(|card| {
            hll::set_cached_card(h, card);
            (card, true)
        }),
    };
    let Ok((card, refreshed)) = counted else {
        ctx.error(CORRUPT);
        return;
    };
    if refreshed {
        let db = ctx.client.db;
        ctx.signal_modified(db, key);
        ctx.dirty(1);
        propagate_argv(ctx, argv);
    }
    ctx.out().int(card as i64);
}

/// PFMERGE destkey [sourcekey ...]: the destination (itself one of the sources) gets the
/// register-wise maximum. It turns dense when any source is dense, else stays sparse until
/// a register or its size needs dense. Always a change, as in Redis.
pub fn pfmerge(ctx: &mut Ctx<'_>, argv: &[Bytes]) {
    let mut max = vec![0u8; hll::REGISTERS];
    let mut use_dense = false;
    for key in &argv[1..] {
        match lookup_hll(ctx, key, false) {
            Err(Replied) => return,
            Ok(false) => continue,
            Ok(true) => {}
        }
        let h = hll_bytes(ctx, key);
        use_dense |= hll::encoding(h) == hll::DENSE;
        if hll::merge(&mut max, h).is_err() {
            ctx.error(CORRUPT);
            return;
        }
    }
    let dest = &argv[1];
    if ctx.lookup_write(dest).is_none() {
        create_hll(ctx, dest);
    }
    let max_bytes = sparse_max_bytes(ctx);
    let h = hll_mut(ctx, dest);
    if use_dense && hll::sparse_to_dense(h).is_err() {
        ctx.error(CORRUPT);
        return;
    }
    for (index, &count) in max.iter().enumerate() {
        if count != 0 {
            hll::set_register(h, index, count, max_bytes);
        }
    }
    hll::invalidate_cache(h);
    let db = ctx.client.db;
    ctx.signal_modified(db, dest);
    ctx.dirty(1);
    propagate_argv(ctx, argv);
    ctx.ok();
}

/// PFDEBUG <GETREG|DECODE|ENCODING|TODENSE> key. The key is checked before the
/// subcommand, as Redis does. A sparse-to-dense conversion is recorded as written; Redis
/// does not signal it to WATCH (no `signalModifiedKey` in `pfdebugCommand`), nor do we.
pub fn pfdebug(ctx: &mut Ctx<'_>, argv: &[Bytes]) {
    let sub = &argv[1];
    let key = &argv[2];
    match lookup_hll(ctx, key, true) {
        Err(Replied) => return,
        Ok(false) => {
            ctx.error("ERR The specified key does not exist");
            return;
        }
        Ok(true) => {}
    }
    let h = hll_mut(ctx, key);
    let sub_lc = sub.to_ascii_lowercase();
    match &sub_lc[..] {
        b"getreg" | b"todense" => {
            let converted = hll::encoding(h) == hll::SPARSE;
            if converted && hll::sparse_to_dense(h).is_err() {
                ctx.error(CORRUPT);
                return;
            }
            let regs = (sub_lc == b"getreg").then(|| hll::dense_registers(h));
            if converted {
                ctx.dirty(1);
                propagate_argv(ctx, argv);
            }
            match regs {
                Some(regs) => {
                    let out = ctx.out();
                    out.array_len(regs.len());
                    for r in regs {
                        out.int(i64::from(r));
                    }
                }
                None => ctx.out().int(i64::from(converted)),
            }
        }
        b"decode" => {
            if hll::encoding(h) != hll::SPARSE {
                ctx.error("ERR HLL encoding is not sparse");
                return;
            }
            let decoded = hll::decode_sparse(h);
            ctx.out().bulk(decoded.as_bytes());
        }
        b"encoding" => {
            let name = if hll::encoding(h) == hll::DENSE {
                "dense"
            } else {
                "sparse"
            };
            ctx.out().simple(name);
        }
        _ => {
            let mut msg = b"ERR Unknown PFDEBUG subcommand '".to_vec();
            msg.extend_from_slice(sub);
            msg.push(b'\'');
            ctx.error_bytes(&msg);
        }
    }
}

/// PFSELFTEST: the codec's self-test (`hll::selftest`) with Redis's 10 million elements.
pub fn pfselftest(ctx: &mut Ctx<'_>, _argv: &[Bytes]) {
    let max_bytes = sparse_max_bytes(ctx);
    let rng = &mut ctx.eng.rng;
    match hll::selftest(|| rng.next_u64(), max_bytes, 10_000_000) {
        Ok(()) => ctx.ok(),
        Err(msg) => ctx.error(&msg),
    }
}

pub static HANDLERS: &[(&str, Handler)] = &[
    ("pfadd", pfadd),
    ("pfcount", pfcount),
    ("pfmerge", pfmerge),
    ("pfdebug", pfdebug),
    ("pfselftest", pfselftest),
];

#[cfg(test)]
#[path = "hyperloglog_tests.rs"]
mod tests;
