//! String commands (Redis 7.0 t_string.c): GET SET SETNX SETEX PSETEX GETSET GETDEL GETEX
//! MGET MSET MSETNX APPEND STRLEN SETRANGE GETRANGE SUBSTR INCR DECR INCRBY DECRBY INCRBYFLOAT.
//! LCS lives in `commands::lcs`, the bitmap commands in `commands::bits`.
//!
//! Every check runs in Redis's order (option syntax, then numbers, then the key's type), since
//! the first failing check decides the error a client sees. A command records its effect
//! exactly when Redis increments `server.dirty`, in the form Redis 7.0 propagates it; the
//! expected replies and effects in the tests were taken from a real redis-server 7.0.15.

use crate::client::ClientKind;
use crate::ctx::Ctx;
use crate::errors;
use crate::table::Handler;
use bytes::Bytes;
use redoubt_keyspace::value::itoa_buf;
use redoubt_keyspace::{Db, StrVal, Value};
use redoubt_resp::ReplyBuf;

/// Outcome of looking up a key that must hold a string.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StrKey {
    Missing,
    WrongType,
    Found,
}

/// Outcome of reading a key that must hold a string, with a copy of its bytes.
pub enum StrLookup {
    Missing,
    WrongType,
    Found(Vec<u8>),
}

/// The key holds another type (the caller replies WRONGTYPE).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WrongType;

/// `lookupKeyRead` + `checkType(OBJ_STRING)` with one hash lookup: calls `f` with the
/// string's bytes (`None` when the key is missing) and the client's reply buffer.
pub fn with_read_str<R>(
    ctx: &mut Ctx<'_>,
    key: &[u8],
    f: impl FnOnce(Option<&[u8]>, &mut ReplyBuf) -> R,
) -> Result<R, WrongType> {
    let db = ctx.client.db;
    let now = ctx.now_ms;
    if ctx.expire_if_needed(db, key) {
        // Expired (and, during CLIENT PAUSE, kept until the pause ends): a miss.
        ctx.eng.stats.keyspace_misses += 1;
        return Ok(f(None, &mut ctx.client.out));
    }
    let policy = ctx.eng.lru_policy();
    let shared_init = ctx.eng.shared_initial_word(policy, now);
    let crate::Engine {
        dbs,
        rng,
        shared_ints,
        stats,
        ..
    } = &mut *ctx.eng;
    let out = &mut ctx.client.out;
    match dbs[db].get_raw_mut(key) {
        None => {
            stats.keyspace_misses += 1;
            Ok(f(None, out))
        }
        Some(e) => {
            stats.keyspace_hits += 1;
            // A read is an access for LRU/LFU (Redis's lookupKey), done in place.
            crate::lru::touch(shared_ints, shared_init, e, policy, rng, now);
            match &e.value {
                Value::Str(s) => {
                    let mut tmp = itoa_buf::Buf::default();
                    Ok(f(Some(s.as_bytes(&mut tmp)), out))
                }
                #[allow(unreachable_patterns)]
                _ => Err(WrongType),
            }
        }
    }
}

/// `lookupKeyRead` + `checkType(OBJ_STRING)`, without replying.
pub fn lookup_read_str(ctx: &mut Ctx<'_>, key: &[u8]) -> StrKey {
    match ctx.lookup_read(key) {
        None => StrKey::Missing,
        Some(e) => match &e.value {
            Value::Str(_) => StrKey::Found,
            #[allow(unreachable_patterns)]
            _ => StrKey::WrongType,
        },
    }
}

/// `lookupKeyWrite` + `checkType(OBJ_STRING)`, without replying.
pub fn lookup_write_str(ctx: &mut Ctx<'_>, key: &[u8]) -> StrKey {
    match ctx.lookup_write(key) {
        None => StrKey::Missing,
        Some(e) => match &e.value {
            Value::Str(_) => StrKey::Found,
            #[allow(unreachable_patterns)]
            _ => StrKey::WrongType,
        },
    }
}

/// The bytes of a string key already looked up (empty when absent or not a string).
/// Integer-encoded values are formatted into `tmp`, as Redis's `getObjectReadOnlyString`.
pub fn str_bytes<'a>(db: &'a Db, key: &[u8], tmp: &'a mut itoa_buf::Buf) -> &'a [u8] {
    match db.get_raw(key).map(|e| &e.value) {
        Some(Value::Str(s)) => s.as_bytes(tmp),
        #[allow(unreachable_patterns)]
        _ => &[],
    }
}

/// The growable bytes of a string key already checked to exist as a string, made `raw` as
/// Redis's `dbUnshareStringValue` does before an in-place edit.
pub fn raw_bytes_mut<'a>(db: &'a mut Db, key: &[u8]) -> Option<&'a mut Vec<u8>> {
    match db.get_raw_mut(key).map(|e| &mut e.value) {
        Some(Value::Str(s)) => Some(s.make_raw()),
        #[allow(unreachable_patterns)]
        _ => None,
    }
}

/// The length of a string key (`stringObjectLen`; 0 when absent or not a string).
pub fn str_len(db: &Db, key: &[u8]) -> usize {
    match db.get_raw(key).map(|e| &e.value) {
        Some(Value::Str(s)) => s.len(),
        #[allow(unreachable_patterns)]
        _ => 0,
    }
}

/// Reads a string value (lookupKeyRead + type check), copying it out.
pub fn read_string(ctx: &mut Ctx<'_>, key: &[u8]) -> StrLookup {
    match with_read_str(ctx, key, |v, _| v.map(<[u8]>::to_vec)) {
        Ok(None) => StrLookup::Missing,
        Ok(Some(v)) => StrLookup::Found(v),
        Err(WrongType) => StrLookup::WrongType,
    }
}

/// C's `strcasecmp(arg, word) == 0`: the argument is read up to its first NUL, as Redis
/// compares option names.
pub fn c_eq(arg: &[u8], word: &str) -> bool {
    let end = arg.iter().position(|&b| b == 0).unwrap_or(arg.len());
    arg[..end].eq_ignore_ascii_case(word.as_bytes())
}

/// Redis's `mustObeyClient`: the master link is exempt from size limits.
pub fn must_obey(ctx: &Ctx<'_>) -> bool {
    ctx.client.kind == ClientKind::Master
}

/// `checkStringLength`: refuses a string that would grow past `proto-max-bulk-len`.
pub fn check_string_length(ctx: &mut Ctx<'_>, size: i64, append: i64) -> bool {
    if must_obey(ctx) {
        return true;
    }
    let total = (size as u64).wrapping_add(append as u64) as i64;
    if total > ctx.eng.conf.proto_max_bulk_len || total < size || total < append {
        ctx.error(errors::STRING_TOO_BIG);
        return false;
    }
    true
}

fn propagate_argv(ctx: &mut Ctx<'_>, argv: &[Bytes]) {
    let args: Vec<&[u8]> = argv.iter().map(|a| &a[..]).collect();
    ctx.propagate(&args);
}

/// `getGenericCommand`: replies the value or null. False when the key is not a string.
fn get_generic(ctx: &mut Ctx<'_>, key: &[u8]) -> bool {
    let r = with_read_str(ctx, key, |v, out| match v {
        None => out.null(),
        Some(v) => out.bulk(v),
    });
    if r.is_err() {
        ctx.error(errors::WRONGTYPE);
    }
    r.is_ok()
}

pub fn get(ctx: &mut Ctx<'_>, argv: &[Bytes]) {
    get_generic(ctx, &argv[1]);
}

/// The expiry options of SET and GETEX.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ExpireKind {
    Ex,
    Px,
    ExAt,
    PxAt,
}

impl ExpireKind {
    fn in_seconds(self) -> bool {
        matches!(self, ExpireKind::Ex | ExpireKind::ExAt)
    }
    fn relative(self) -> bool {
        matches!(self, ExpireKind::Ex | ExpireKind::Px)
    }
}

#[derive(Default)]
struct ExtOpts {
    nx: bool,
    xx: bool,
    get: bool,
    keepttl: bool,
    persist: bool,
    /// The expiry kind and the index of its argument (the last one given wins, as in Redis).
    expire: Option<(ExpireKind, usize)>,
}

/// `parseExtendedStringArgumentsOrReply`: SET's options from argv[3], GETEX's from argv[2].
/// Repeating the same expiry option is accepted (the last value wins), as in Redis 7.0.
fn parse_ext_opts(ctx: &mut Ctx<'_>, argv: &[Bytes], is_set: bool) -> Option<ExtOpts> {
    let mut o = ExtOpts::default();
    let mut j = if is_set { 3 } else { 2 };
    while j < argv.len() {
        let a = &argv[j];
        let has_next = j + 1 < argv.len();
        let kind = o.expire.map(|(k, _)| k);
        let other_expire = |k: ExpireKind| kind.is_some_and(|have| have != k);
        let expire_ok = |k: ExpireKind| !o.keepttl && !o.persist && !other_expire(k) && has_next;
        let expire_kind = [
            ("EX", ExpireKind::Ex),
            ("PX", ExpireKind::Px),
            ("EXAT", ExpireKind::ExAt),
            ("PXAT", ExpireKind::PxAt),
        ]
        .into_iter()
        .find(|(w, _)| c_eq(a, w))
        .map(|(_, k)| k);
        if is_set && c_eq(a, "NX") && !o.xx {
            o.nx = true;
        } else if is_set && c_eq(a, "XX") && !o.nx {
            o.xx = true;
        } else if is_set && c_eq(a, "GET") {
            o.get = true;
        } else if is_set && c_eq(a, "KEEPTTL") && !o.persist && kind.is_none() {
            o.keepttl = true;
        } else if !is_set && c_eq(a, "PERSIST") && kind.is_none() && !o.keepttl {
            o.persist = true;
        } else if let Some(k) = expire_kind.filter(|&k| expire_ok(k)) {
            o.expire = Some((k, j + 1));
            j += 1;
        } else {
            ctx.error(errors::SYNTAX);
            return None;
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
        // C's signed overflow here wraps to a negative number, which the next check refuses.
        ms = ms.wrapping_add(ctx.now_ms);
    }
    if ms <= 0 {
        ctx.error(&errors::invalid_expire(&cmd));
        return None;
    }
    Some(ms)
}

/// What SETNX answers instead of SET's `+OK` / null.
#[derive(Clone, Copy, PartialEq, Eq)]
enum SetReplies {
    OkNull,
    OneZero,
}

/// `setGenericCommand`, shared by SET SETNX SETEX PSETEX. `val` is argv[val_at].
fn set_generic(ctx: &mut Ctx<'_>, argv: &[Bytes], val_at: usize, o: &ExtOpts, r: SetReplies) {
    let key = &argv[1];
    let val = &argv[val_at];
    let expire = match o.expire {
        Some((kind, at)) => match expire_ms(ctx, &argv[at], kind.in_seconds(), !kind.relative()) {
            Some(ms) => Some(ms),
            None => return,
        },
        None => None,
    };
    if o.get && !get_generic(ctx, key) {
        return;
    }
    let slot = ctx.lookup_write_slot(key);
    let found = slot.is_some();
    if (o.nx && found) || (o.xx && !found) {
        if !o.get {
            match r {
                SetReplies::OkNull => ctx.out().null(),
                SetReplies::OneZero => ctx.out().int(0),
            }
        }
        return;
    }
    let db = ctx.client.db;
    let value = Value::Str(StrVal::encode(val));
    // One probe per SET: the slot found above is overwritten, or the key inserted.
    match slot {
        Some(s) => {
            // setKey's dbOverwrite: the old value (maybe a big list) is freed per
            // `lazyfree-lazy-server-del`.
            let old = ctx.eng.dbs[db].overwrite_at(s, value, o.keepttl);
            ctx.eng.free_server_del(Some(old));
        }
        None => ctx.eng.dbs[db].insert_new(key, value),
    }
    ctx.signal_modified(db, key);
    ctx.dirty(1);
    if let Some(ms) = expire {
        ctx.eng.dbs[db].set_expire(key, ms);
        let mut t = itoa::Buffer::new();
        ctx.propagate(&[b"SET", key, val, b"PXAT", t.format(ms).as_bytes()]);
    } else if o.get {
        // Propagated without GET (which may be repeated); the rest as written.
        let args: Vec<&[u8]> = argv
            .iter()
            .enumerate()
            .filter(|(i, a)| !(*i >= 3 && c_eq(a, "GET")))
            .map(|(_, a)| &a[..])
            .collect();
        ctx.propagate(&args);
    } else {
        propagate_argv(ctx, argv);
    }
    if !o.get {
        match r {
            SetReplies::OkNull => ctx.ok(),
            SetReplies::OneZero => ctx.out().int(1),
        }
    }
}

pub fn set(ctx: &mut Ctx<'_>, argv: &[Bytes]) {
    let Some(o) = parse_ext_opts(ctx, argv, true) else {
        return;
    };
    set_generic(ctx, argv, 2, &o, SetReplies::OkNull);
}

pub fn setnx(ctx: &mut Ctx<'_>, argv: &[Bytes]) {
    let o = ExtOpts {
        nx: true,
        ..Default::default()
    };
    set_generic(ctx, argv, 2, &o, SetReplies::OneZero);
}

pub fn setex(ctx: &mut Ctx<'_>, argv: &[Bytes]) {
    let o = ExtOpts {
        expire: Some((ExpireKind::Ex, 2)),
        ..Default::default()
    };
    set_generic(ctx, argv, 3, &o, SetReplies::OkNull);
}

pub fn psetex(ctx: &mut Ctx<'_>, argv: &[Bytes]) {
    let o = ExtOpts {
        expire: Some((ExpireKind::Px, 2)),
        ..Default::default()
    };
    set_generic(ctx, argv, 3, &o, SetReplies::OkNull);
}

/// GETSET: the old value, then SET; propagated as `SET key value`.
pub fn getset(ctx: &mut Ctx<'_>, argv: &[Bytes]) {
    let key = &argv[1];
    if !get_generic(ctx, key) {
        return;
    }
    let db = ctx.client.db;
    let old = ctx.eng.dbs[db].set(key, Value::Str(StrVal::encode(&argv[2])), false);
    ctx.eng.free_server_del(old);
    ctx.signal_modified(db, key);
    ctx.dirty(1);
    ctx.propagate(&[b"SET", key, &argv[2]]);
}

/// GETDEL: the value, then the key is deleted; propagated as DEL (UNLINK with
/// `lazyfree-lazy-user-del yes`).
pub fn getdel(ctx: &mut Ctx<'_>, argv: &[Bytes]) {
    let key = &argv[1];
    if !get_generic(ctx, key) {
        return;
    }
    let db = ctx.client.db;
    if ctx.eng.dbs[db].get_raw(key).is_some() {
        let lazy = ctx.eng.conf.lazyfree_lazy_user_del;
        ctx.remove_and_propagate(db, key, lazy);
    }
}

/// GETEX: the value, then the TTL change, propagated as PEXPIREAT, PERSIST, or DEL when an
/// absolute time has already passed.
pub fn getex(ctx: &mut Ctx<'_>, argv: &[Bytes]) {
    let key = &argv[1];
    let Some(o) = parse_ext_opts(ctx, argv, false) else {
        return;
    };
    match lookup_read_str(ctx, key) {
        StrKey::Missing => {
            ctx.out().null();
            return;
        }
        StrKey::WrongType => {
            ctx.error(errors::WRONGTYPE);
            return;
        }
        StrKey::Found => {}
    }
    let expire = match o.expire {
        Some((kind, at)) => match expire_ms(ctx, &argv[at], kind.in_seconds(), !kind.relative()) {
            Some(ms) => Some((kind, ms)),
            None => return,
        },
        None => None,
    };
    let db = ctx.client.db;
    let mut tmp = itoa_buf::Buf::default();
    let v = str_bytes(&ctx.eng.dbs[db], key, &mut tmp);
    ctx.client.out.bulk(v);
    match expire {
        Some((kind, ms)) if !kind.relative() && ms <= ctx.now_ms && !ctx.eng.is_replica() => {
            let lazy = ctx.eng.conf.lazyfree_lazy_expire;
            ctx.remove_and_propagate(db, key, lazy);
        }
        Some((_, ms)) => {
            ctx.eng.dbs[db].set_expire(key, ms);
            let mut t = itoa::Buffer::new();
            ctx.propagate(&[b"PEXPIREAT", key, t.format(ms).as_bytes()]);
            ctx.signal_modified(db, key);
            ctx.dirty(1);
        }
        None if o.persist && ctx.eng.dbs[db].persist(key) => {
            ctx.propagate(&[b"PERSIST", key]);
            ctx.signal_modified(db, key);
            ctx.dirty(1);
        }
        None => {}
    }
}

/// MGET: a null for every missing key or key of another type.
pub fn mget(ctx: &mut Ctx<'_>, argv: &[Bytes]) {
    ctx.out().array_len(argv.len() - 1);
    for key in &argv[1..] {
        let found = with_read_str(ctx, key, |v, out| match v {
            Some(v) => out.bulk(v),
            None => out.null(),
        });
        if found.is_err() {
            ctx.out().null();
        }
    }
}

/// MSET and MSETNX (`msetGenericCommand`), propagated as written.
fn mset_generic(ctx: &mut Ctx<'_>, argv: &[Bytes], nx: bool) {
    if argv.len().is_multiple_of(2) {
        let msg = errors::wrong_args(&ctx.cmd.name);
        ctx.error(&msg);
        return;
    }
    if nx {
        for pair in argv[1..].chunks_exact(2) {
            if ctx.lookup_write(&pair[0]).is_some() {
                ctx.out().int(0);
                return;
            }
        }
    }
    let db = ctx.client.db;
    for pair in argv[1..].chunks_exact(2) {
        let old = ctx.eng.dbs[db].set(&pair[0], Value::Str(StrVal::encode(&pair[1])), false);
        ctx.eng.free_server_del(old);
        ctx.signal_modified(db, &pair[0]);
    }
    ctx.dirty((argv.len() as u64 - 1) / 2);
    propagate_argv(ctx, argv);
    if nx {
        ctx.out().int(1);
    } else {
        ctx.ok();
    }
}

pub fn mset(ctx: &mut Ctx<'_>, argv: &[Bytes]) {
    mset_generic(ctx, argv, false);
}

pub fn msetnx(ctx: &mut Ctx<'_>, argv: &[Bytes]) {
    mset_generic(ctx, argv, true);
}

/// APPEND: a new key gets the argument's normal encoding; an existing one becomes `raw`.
/// Always propagated as written, even when appending nothing.
pub fn append(ctx: &mut Ctx<'_>, argv: &[Bytes]) {
    let key = &argv[1];
    let add = &argv[2];
    let db = ctx.client.db;
    let total = match lookup_write_str(ctx, key) {
        StrKey::WrongType => {
            ctx.error(errors::WRONGTYPE);
            return;
        }
        StrKey::Missing => {
            ctx.eng.dbs[db].insert_new(key, Value::Str(StrVal::encode(add)));
            add.len()
        }
        StrKey::Found => {
            let old_len = str_len(&ctx.eng.dbs[db], key);
            if !check_string_length(ctx, old_len as i64, add.len() as i64) {
                return;
            }
            match raw_bytes_mut(&mut ctx.eng.dbs[db], key) {
                Some(v) => {
                    v.extend_from_slice(add);
                    v.len()
                }
                None => unreachable!("APPEND target checked to be a string"),
            }
        }
    };
    ctx.signal_modified(db, key);
    ctx.dirty(1);
    propagate_argv(ctx, argv);
    ctx.out().int(total as i64);
}

pub fn strlen(ctx: &mut Ctx<'_>, argv: &[Bytes]) {
    match with_read_str(ctx, &argv[1], |v, out| {
        out.int(v.map_or(0, |v| v.len() as i64))
    }) {
        Ok(()) => {}
        Err(WrongType) => ctx.error(errors::WRONGTYPE),
    }
}

/// SETRANGE: zero-pads up to the offset. Writing nothing changes nothing (and records
/// nothing); a new key is created `raw`, as Redis's `createObject` does.
pub fn setrange(ctx: &mut Ctx<'_>, argv: &[Bytes]) {
    let key = &argv[1];
    let value = &argv[3];
    let Some(offset) = ctx.parse_i64(&argv[2]) else {
        return;
    };
    if offset < 0 {
        ctx.error("ERR offset is out of range");
        return;
    }
    let db = ctx.client.db;
    match lookup_write_str(ctx, key) {
        StrKey::WrongType => {
            ctx.error(errors::WRONGTYPE);
            return;
        }
        StrKey::Missing => {
            if value.is_empty() {
                ctx.out().int(0);
                return;
            }
            if !check_string_length(ctx, offset, value.len() as i64) {
                return;
            }
            ctx.eng.dbs[db].insert_new(key, Value::Str(StrVal::raw(Vec::new())));
        }
        StrKey::Found => {
            let old_len = str_len(&ctx.eng.dbs[db], key);
            if value.is_empty() {
                ctx.out().int(old_len as i64);
                return;
            }
            if !check_string_length(ctx, offset, value.len() as i64) {
                return;
            }
        }
    }
    let Some(v) = raw_bytes_mut(&mut ctx.eng.dbs[db], key) else {
        unreachable!("SETRANGE target exists as a string");
    };
    // The length check bounds `offset + len` by proto-max-bulk-len; only the master link is
    // trusted past it.
    let start = offset as usize;
    let end = start.saturating_add(value.len());
    if v.len() < end {
        v.resize(end, 0);
    }
    v[start..end].copy_from_slice(value);
    let total = v.len();
    ctx.signal_modified(db, key);
    ctx.dirty(1);
    propagate_argv(ctx, argv);
    ctx.out().int(total as i64);
}

/// GETRANGE and SUBSTR.
pub fn getrange(ctx: &mut Ctx<'_>, argv: &[Bytes]) {
    let Some(start) = ctx.parse_i64(&argv[2]) else {
        return;
    };
    let Some(end) = ctx.parse_i64(&argv[3]) else {
        return;
    };
    let r = with_read_str(ctx, &argv[1], |v, out| {
        let v = v.unwrap_or_default();
        match string_range(v.len(), start, end) {
            Some((a, b)) => out.bulk(&v[a..=b]),
            None => out.bulk(b""),
        }
    });
    if r.is_err() {
        ctx.error(errors::WRONGTYPE);
    }
}

/// GETRANGE's index rules: negative indexes count from the end, both are clamped, and an
/// empty result is `None`.
fn string_range(len: usize, mut start: i64, mut end: i64) -> Option<(usize, usize)> {
    let len = len as i64;
    if start < 0 && end < 0 && start > end {
        return None;
    }
    if start < 0 {
        start += len;
    }
    if end < 0 {
        end += len;
    }
    start = start.max(0);
    end = end.max(0);
    if end >= len {
        end = len - 1;
    }
    if start > end || len == 0 {
        return None;
    }
    Some((start as usize, end as usize))
}

/// The integer value of a string for INCR and friends (`getLongLongFromObjectOrReply`).
fn int_value(s: &StrVal) -> Option<i64> {
    match s {
        StrVal::Int(n) => Some(*n),
        other => {
            let mut tmp = itoa_buf::Buf::default();
            redoubt_keyspace::num::string2ll(other.as_bytes(&mut tmp))
        }
    }
}

/// INCR DECR INCRBY DECRBY (`incrDecrCommand`): the TTL is kept; propagated as written.
fn incr_generic(ctx: &mut Ctx<'_>, argv: &[Bytes], by: i64) {
    let key = &argv[1];
    let db = ctx.client.db;
    let slot = ctx.lookup_write_slot(key);
    let cur = match slot.map(|s| &ctx.eng.dbs[db].at_mut(s).value) {
        None => 0,
        Some(Value::Str(s)) => match int_value(s) {
            Some(n) => n,
            None => {
                ctx.error(errors::NOT_INTEGER);
                return;
            }
        },
        #[allow(unreachable_patterns)]
        Some(_) => {
            ctx.error(errors::WRONGTYPE);
            return;
        }
    };
    let Some(new) = cur.checked_add(by) else {
        ctx.error(errors::OVERFLOW);
        return;
    };
    let value = Value::Str(StrVal::from_int(new));
    // One probe: the slot found above is updated in place, keeping its TTL.
    match slot {
        Some(s) => {
            // A string replacing a string: one allocation, always freed inline.
            ctx.eng.dbs[db].overwrite_at(s, value, true);
        }
        None => ctx.eng.dbs[db].insert_new(key, value),
    }
    ctx.signal_modified(db, key);
    ctx.dirty(1);
    propagate_argv(ctx, argv);
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

/// INCRBYFLOAT: x87 long-double arithmetic and formatting (`redoubt_keyspace::num`), the TTL
/// kept, the result stored as a plain string (never `int`-encoded); propagated as
/// `SET key result KEEPTTL` so replicas need not repeat the arithmetic.
pub fn incrbyfloat(ctx: &mut Ctx<'_>, argv: &[Bytes]) {
    let key = &argv[1];
    let current = match ctx.lookup_write(key) {
        None => b"0".to_vec(),
        Some(e) => match &e.value {
            Value::Str(s) => s.to_vec(),
            #[allow(unreachable_patterns)]
            _ => {
                ctx.error(errors::WRONGTYPE);
                return;
            }
        },
    };
    let new = match redoubt_keyspace::num::incrbyfloat(&current, &argv[2]) {
        Ok(v) => v,
        Err(e) => {
            ctx.error(e.message());
            return;
        }
    };
    let db = ctx.client.db;
    ctx.eng.dbs[db].set(key, Value::Str(StrVal::no_int(&new)), true);
    ctx.signal_modified(db, key);
    ctx.dirty(1);
    ctx.propagate(&[b"SET", key, &new, b"KEEPTTL"]);
    ctx.out().bulk(&new);
}

/// This family's commands (see `commands::all`).
pub static HANDLERS: &[(&str, Handler)] = &[
    ("get", get),
    ("set", set),
    ("setnx", setnx),
    ("setex", setex),
    ("psetex", psetex),
    ("getset", getset),
    ("getdel", getdel),
    ("getex", getex),
    ("mget", mget),
    ("mset", mset),
    ("msetnx", msetnx),
    ("append", append),
    ("strlen", strlen),
    ("setrange", setrange),
    ("getrange", getrange),
    ("substr", getrange),
    ("incr", incr),
    ("decr", decr),
    ("incrby", incrby),
    ("decrby", decrby),
    ("incrbyfloat", incrbyfloat),
];

#[cfg(test)]
#[path = "strings_tests.rs"]
pub(crate) mod tests;
