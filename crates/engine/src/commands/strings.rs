//! String commands (Redis 7.0 t_string.c).

use crate::ctx::Ctx;
use crate::errors;
use crate::table::Handler;
use bytes::Bytes;
use redoubt_keyspace::value::itoa_buf;
use redoubt_keyspace::{StrVal, Value};

/// Outcome of reading a key that must hold a string.
pub enum StrLookup {
    Missing,
    WrongType,
    Found(Vec<u8>),
}

/// Reads a string value (lookupKeyRead + type check), copying it out.
pub fn read_string(ctx: &mut Ctx<'_>, key: &[u8]) -> StrLookup {
    match ctx.lookup_read(key) {
        None => StrLookup::Missing,
        Some(e) => match &e.value {
            Value::Str(s) => StrLookup::Found(s.to_vec()),
            #[allow(unreachable_patterns)]
            _ => StrLookup::WrongType,
        },
    }
}

pub fn get(ctx: &mut Ctx<'_>, argv: &[Bytes]) {
    let db = ctx.client.db;
    ctx.expire_if_needed(db, &argv[1]);
    let eng = &mut *ctx.eng;
    match eng.dbs[db].get_raw(&argv[1]) {
        None => {
            eng.stats.keyspace_misses += 1;
            ctx.client.out.null();
        }
        Some(e) => {
            eng.stats.keyspace_hits += 1;
            match &e.value {
                Value::Str(s) => {
                    let mut t = itoa_buf::Buf::default();
                    ctx.client.out.bulk(s.as_bytes(&mut t));
                }
                #[allow(unreachable_patterns)]
                _ => ctx.client.out.error(errors::WRONGTYPE),
            }
        }
    }
}

#[derive(Default)]
struct SetOpts {
    nx: bool,
    xx: bool,
    get: bool,
    keepttl: bool,
    /// (unit is seconds, absolute, argument)
    expire: Option<(bool, bool, Bytes)>,
}

fn parse_set_opts(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> Option<SetOpts> {
    let mut o = SetOpts::default();
    let mut j = 3;
    while j < argv.len() {
        let opt = argv[j].to_ascii_uppercase();
        let next = argv.get(j + 1);
        let has_exp = o.expire.is_some();
        match opt.as_slice() {
            b"NX" if !o.xx => o.nx = true,
            b"XX" if !o.nx => o.xx = true,
            b"GET" => o.get = true,
            b"KEEPTTL" if !has_exp => o.keepttl = true,
            b"EX" | b"PX" | b"EXAT" | b"PXAT" if !o.keepttl && !has_exp && next.is_some() => {
                let secs = opt == b"EX" || opt == b"EXAT";
                let abs = opt.ends_with(b"AT");
                o.expire = next.map(|n| (secs, abs, n.clone()));
                j += 1;
            }
            _ => {
                ctx.error(errors::SYNTAX);
                return None;
            }
        }
        j += 1;
    }
    Some(o)
}

/// Redis's `getExpireMillisecondsOrReply`: an absolute unix-ms deadline.
pub fn expire_ms(ctx: &mut Ctx<'_>, arg: &[u8], secs: bool, abs: bool) -> Option<i64> {
    let n = ctx.parse_i64(arg)?;
    let cmd = ctx.cmd.name.clone();
    if n <= 0 || (secs && n > i64::MAX / 1000) {
        ctx.error(&errors::invalid_expire(&cmd));
        return None;
    }
    let mut ms = if secs { n * 1000 } else { n };
    if !abs {
        match ms.checked_add(ctx.now_ms) {
            Some(v) => ms = v,
            None => {
                ctx.error(&errors::invalid_expire(&cmd));
                return None;
            }
        }
    }
    if ms <= 0 {
        ctx.error(&errors::invalid_expire(&cmd));
        return None;
    }
    Some(ms)
}

/// `setGenericCommand`, shared by SET SETNX SETEX PSETEX.
fn set_generic(
    ctx: &mut Ctx<'_>,
    key: &Bytes,
    val: &Bytes,
    o: &SetOpts,
    orig: &[Bytes],
    nx_reply_int: bool,
) {
    let expire = match &o.expire {
        Some((secs, abs, arg)) => match expire_ms(ctx, arg, *secs, *abs) {
            Some(ms) => Some((ms, *abs && !*secs)),
            None => return,
        },
        None => None,
    };
    if o.get {
        match read_string(ctx, key) {
            StrLookup::WrongType => {
                ctx.error(errors::WRONGTYPE);
                return;
            }
            StrLookup::Missing => ctx.out().null(),
            StrLookup::Found(v) => ctx.out().bulk(&v),
        }
    }
    let db = ctx.client.db;
    let found = ctx.lookup_write(key).is_some();
    if (o.nx && found) || (o.xx && !found) {
        if !o.get {
            if nx_reply_int {
                ctx.out().int(0);
            } else {
                ctx.out().null();
            }
        }
        return;
    }
    ctx.eng.dbs[db].set(key, Value::Str(StrVal::encode(val)), o.keepttl);
    ctx.signal_modified(db, key);
    ctx.dirty(1);
    match expire {
        Some((ms, given_as_pxat)) => {
            ctx.eng.dbs[db].set_expire(key, ms);
            if given_as_pxat {
                let args: Vec<&[u8]> = orig.iter().map(|a| &a[..]).collect();
                ctx.propagate(&args);
            } else {
                let mut t = itoa::Buffer::new();
                let ms = t.format(ms).as_bytes().to_vec();
                ctx.propagate(&[b"SET", key, val, b"PXAT", &ms]);
            }
        }
        None => {
            let args: Vec<&[u8]> = orig
                .iter()
                .enumerate()
                .filter(|(i, a)| !(o.get && *i >= 3 && a.eq_ignore_ascii_case(b"GET")))
                .map(|(_, a)| &a[..])
                .collect();
            ctx.propagate(&args);
        }
    }
    if !o.get {
        if nx_reply_int {
            ctx.out().int(1);
        } else {
            ctx.ok();
        }
    }
}

pub fn set(ctx: &mut Ctx<'_>, argv: &[Bytes]) {
    let Some(o) = parse_set_opts(ctx, argv) else {
        return;
    };
    set_generic(ctx, &argv[1], &argv[2], &o, argv, false);
}

pub fn setnx(ctx: &mut Ctx<'_>, argv: &[Bytes]) {
    let o = SetOpts {
        nx: true,
        ..Default::default()
    };
    set_generic(ctx, &argv[1], &argv[2], &o, argv, true);
}

pub fn setex(ctx: &mut Ctx<'_>, argv: &[Bytes]) {
    let o = SetOpts {
        expire: Some((true, false, argv[2].clone())),
        ..Default::default()
    };
    set_generic(ctx, &argv[1], &argv[3], &o, argv, false);
}

pub fn psetex(ctx: &mut Ctx<'_>, argv: &[Bytes]) {
    let o = SetOpts {
        expire: Some((false, false, argv[2].clone())),
        ..Default::default()
    };
    set_generic(ctx, &argv[1], &argv[3], &o, argv, false);
}

/// INCR DECR INCRBY DECRBY (`incrDecrCommand`).
fn incr_generic(ctx: &mut Ctx<'_>, argv: &[Bytes], by: i64) {
    let key = &argv[1];
    let db = ctx.client.db;
    let cur = match ctx.lookup_write(key) {
        None => 0,
        Some(e) => match &e.value {
            Value::Str(StrVal::Int(n)) => *n,
            Value::Str(s) => {
                let v = s.to_vec();
                match (v.len() <= 20)
                    .then(|| redoubt_keyspace::num::string2ll(&v))
                    .flatten()
                {
                    Some(n) => n,
                    None => {
                        ctx.error(errors::NOT_INTEGER);
                        return;
                    }
                }
            }
            #[allow(unreachable_patterns)]
            _ => {
                ctx.error(errors::WRONGTYPE);
                return;
            }
        },
    };
    let Some(new) = cur.checked_add(by) else {
        ctx.error(errors::OVERFLOW);
        return;
    };
    ctx.eng.dbs[db].set(key, Value::Str(StrVal::from_int(new)), true);
    ctx.signal_modified(db, key);
    ctx.dirty(1);
    // Deterministic given the same prior value, so propagated as written (as Redis does).
    let args: Vec<&[u8]> = argv.iter().map(|a| &a[..]).collect();
    ctx.propagate(&args);
    ctx.out().int(new);
}

pub fn incr(ctx: &mut Ctx<'_>, argv: &[Bytes]) {
    incr_generic(ctx, argv, 1);
}

pub fn decr(ctx: &mut Ctx<'_>, argv: &[Bytes]) {
    incr_generic(ctx, argv, -1);
}

pub fn incrby(ctx: &mut Ctx<'_>, argv: &[Bytes]) {
    let Some(by) = ctx.parse_i64(&argv[2]) else {
        return;
    };
    incr_generic(ctx, argv, by);
}

pub fn decrby(ctx: &mut Ctx<'_>, argv: &[Bytes]) {
    let Some(by) = ctx.parse_i64(&argv[2]) else {
        return;
    };
    if by == i64::MIN {
        ctx.error("ERR decrement would overflow");
        return;
    }
    incr_generic(ctx, argv, -by);
}

/// This family's commands (see `commands::all`).
pub static HANDLERS: &[(&str, Handler)] = &[
    ("get", get),
    ("set", set),
    ("setnx", setnx),
    ("setex", setex),
    ("psetex", psetex),
    ("incr", incr),
    ("decr", decr),
    ("incrby", incrby),
    ("decrby", decrby),
];
