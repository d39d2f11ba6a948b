//! BZPOPMIN BZPOPMAX BZMPOP: with data they pop at once and are recorded as ZPOPMIN/ZPOPMAX
//! (`ZPOPMIN key`, BZMPOP as `ZPOPMIN key <popped>`), as Redis 7.0.15 does; without, the
//! client blocks (see [`crate::blocking`]), or gets the null array inside MULTI.

use super::lists::{block_or_null, timeout_or_reply};
use super::zsets::{check_write, get_mut, zpop_generic};
use crate::ctx::Ctx;
use crate::table::Handler;
use bytes::Bytes;

/// The first key holding a sorted set; `Err` after a WRONGTYPE reply.
fn first_ready(ctx: &mut Ctx<'_>, keys: &[Bytes]) -> Result<Option<Bytes>, ()> {
    for k in keys {
        match check_write(ctx, k) {
            None => return Err(()),
            Some(false) => continue,
            Some(true) => return Ok(Some(k.clone())),
        }
    }
    Ok(None)
}

/// BZPOPMIN / BZPOPMAX key [key ...] timeout: `[key, member, score]`.
fn bzpop(ctx: &mut Ctx<'_>, argv: &[Bytes], max: bool) {
    let Some(deadline) = timeout_or_reply(ctx, &argv[argv.len() - 1]) else {
        return;
    };
    let keys = &argv[1..argv.len() - 1];
    let key = match first_ready(ctx, keys) {
        Err(()) => return,
        Ok(None) => return block_or_null(ctx, keys, deadline, argv, false),
        Ok(Some(k)) => k,
    };
    let db = ctx.client.db;
    let z = get_mut(&mut ctx.eng.dbs[db], &key);
    let Some((member, score)) = z.pop(max) else {
        return ctx.out().null_array();
    };
    if z.is_empty() {
        ctx.eng.dbs[db].remove(&key);
    }
    ctx.signal_modified(db, &key);
    ctx.dirty(1);
    let out = ctx.out();
    out.array_len(3);
    out.bulk(&key);
    out.bulk(&member);
    out.double(score);
    let name: &[u8] = if max { b"ZPOPMAX" } else { b"ZPOPMIN" };
    ctx.propagate(&[name, &key]);
}

pub fn bzpopmin(ctx: &mut Ctx<'_>, argv: &[Bytes]) {
    bzpop(ctx, argv, false)
}

pub fn bzpopmax(ctx: &mut Ctx<'_>, argv: &[Bytes]) {
    bzpop(ctx, argv, true)
}

/// BZMPOP timeout numkeys key [key ...] MIN|MAX [COUNT count]; the timeout is parsed after
/// the other arguments, as Redis 7.0's `zmpopGenericCommand`.
pub fn bzmpop(ctx: &mut Ctx<'_>, argv: &[Bytes]) {
    let Some((where_idx, max, count)) = super::zsets::parse_mpop_args(ctx, argv, 2) else {
        return;
    };
    let Some(deadline) = timeout_or_reply(ctx, &argv[1]) else {
        return;
    };
    let keys = &argv[3..where_idx];
    match first_ready(ctx, keys) {
        Err(()) => {}
        Ok(None) => block_or_null(ctx, keys, deadline, argv, false),
        Ok(Some(_)) => {
            let count = count.unwrap_or(1);
            if let Some((key, n)) = zpop_generic(ctx, keys, max, Some(count), true) {
                let name: &[u8] = if max { b"ZPOPMAX" } else { b"ZPOPMIN" };
                let c = n.to_string();
                ctx.propagate(&[name, &key, c.as_bytes()]);
            }
        }
    }
}

/// This family's commands (see `commands::all`).
pub static HANDLERS: &[(&str, Handler)] = &[
    ("bzpopmin", bzpopmin),
    ("bzpopmax", bzpopmax),
    ("bzmpop", bzmpop),
];
