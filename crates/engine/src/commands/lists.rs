//! List commands (Redis 7.0 t_list.c), the non-blocking ones: LPUSH RPUSH LPUSHX RPUSHX LPOP
//! RPOP LLEN LRANGE LINDEX LSET LINSERT LREM LTRIM LPOS LMOVE RPOPLPUSH LMPOP.
//!
//! Checks run in Redis's order (numbers before the key lookup where 7.0 parses them first,
//! the key's type before the index for LINDEX/LSET), since the first failing check decides
//! the error. Effects are the commands as written, except LMPOP, which Redis 7.0 rewrites to
//! `LPOP|RPOP key <popped count>`; a command that changes nothing (LTRIM keeping every
//! element, LREM finding none) records no effect, as Redis propagates only when
//! `server.dirty` moved. Replies and effects in the tests come from redis-server 7.0.15.

use crate::ctx::Ctx;
use crate::errors;
use crate::table::Handler;
use crate::Engine;
use bytes::Bytes;
use redoubt_keyspace::list::ListVal;
use redoubt_keyspace::Value;

const HEAD: bool = true;
const TAIL: bool = false;

/// What a key holds, for a command that needs a list.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Found {
    Missing,
    WrongType,
    List,
}

fn classify(e: Option<&redoubt_keyspace::Entry>) -> Found {
    match e.map(|e| &e.value) {
        None => Found::Missing,
        Some(Value::List(_)) => Found::List,
        Some(_) => Found::WrongType,
    }
}

/// `lookupKeyRead` + `checkType(OBJ_LIST)`.
fn lookup_read(ctx: &mut Ctx<'_>, key: &[u8]) -> Found {
    classify(ctx.lookup_read(key))
}

/// `lookupKeyWrite` + `checkType(OBJ_LIST)`.
fn lookup_write(ctx: &mut Ctx<'_>, key: &[u8]) -> Found {
    classify(ctx.lookup_write(key).map(|e| &*e))
}

/// The list at `key`, which the caller found with one of the lookups above.
fn list_mut<'a>(eng: &'a mut Engine, db: usize, key: &[u8]) -> &'a mut ListVal {
    match eng.dbs[db].get_raw_mut(key).map(|e| &mut e.value) {
        Some(Value::List(l)) => l,
        _ => unreachable!("the key was looked up as a list just before"),
    }
}

/// `createQuicklistObject` + `quicklistSetOptions`: a new list takes the current
/// `list-max-listpack-size`.
fn new_list(ctx: &Ctx<'_>) -> Value {
    let fill = ctx.eng.config.get_int("list-max-listpack-size");
    Value::List(Box::new(ListVal::with_fill(fill)))
}

fn propagate_argv(ctx: &mut Ctx<'_>, argv: &[Bytes]) {
    let args: Vec<&[u8]> = argv.iter().map(|a| &a[..]).collect();
    ctx.propagate(&args);
}

/// Deletes the key if its list became empty (Redis never keeps an empty list).
fn delete_if_empty(ctx: &mut Ctx<'_>, db: usize, key: &[u8]) {
    if list_mut(ctx.eng, db, key).is_empty() {
        ctx.eng.dbs[db].remove(key);
    }
}

/// `getListPositionFromObjectOrReply`: LEFT or RIGHT, else a syntax error.
fn parse_where(ctx: &mut Ctx<'_>, arg: &[u8]) -> Option<bool> {
    if arg.eq_ignore_ascii_case(b"left") {
        Some(HEAD)
    } else if arg.eq_ignore_ascii_case(b"right") {
        Some(TAIL)
    } else {
        ctx.error(errors::SYNTAX);
        None
    }
}

/// Redis's list index: negative counts from the tail.
fn resolve_index(len: usize, i: i64) -> Option<usize> {
    let len = len as i64;
    let i = if i < 0 { len + i } else { i };
    (0..len).contains(&i).then_some(i as usize)
}

fn push_generic(ctx: &mut Ctx<'_>, argv: &[Bytes], head: bool, xx: bool) {
    let key = &argv[1];
    let db = ctx.db_index();
    match lookup_write(ctx, key) {
        Found::WrongType => return ctx.error(errors::WRONGTYPE),
        Found::Missing if xx => return ctx.out().int(0),
        Found::Missing => {
            let l = new_list(ctx);
            ctx.eng.dbs[db].insert_new(key, l)
        }
        Found::List => {}
    }
    let l = list_mut(ctx.eng, db, key);
    for v in &argv[2..] {
        l.push(head, v);
    }
    let len = l.len() as i64;
    ctx.signal_modified(db, key);
    ctx.dirty(argv.len() as u64 - 2);
    propagate_argv(ctx, argv);
    ctx.out().int(len);
}

pub fn lpush(ctx: &mut Ctx<'_>, argv: &[Bytes]) {
    push_generic(ctx, argv, HEAD, false)
}

pub fn rpush(ctx: &mut Ctx<'_>, argv: &[Bytes]) {
    push_generic(ctx, argv, TAIL, false)
}

pub fn lpushx(ctx: &mut Ctx<'_>, argv: &[Bytes]) {
    push_generic(ctx, argv, HEAD, true)
}

pub fn rpushx(ctx: &mut Ctx<'_>, argv: &[Bytes]) {
    push_generic(ctx, argv, TAIL, true)
}

/// `popGenericCommand`: one element, or with a count an array of up to `count`.
fn pop_generic(ctx: &mut Ctx<'_>, argv: &[Bytes], head: bool) {
    if argv.len() > 3 {
        return ctx.error(&errors::wrong_args(&ctx.cmd.fullname));
    }
    let count = match argv.get(2) {
        Some(a) => match ctx.parse_at_least(a, 0, errors::NOT_POSITIVE) {
            Some(n) => Some(n),
            None => return,
        },
        None => None,
    };
    let key = &argv[1];
    match lookup_write(ctx, key) {
        Found::WrongType => return ctx.error(errors::WRONGTYPE),
        Found::Missing if count.is_some() => return ctx.out().null_array(),
        Found::Missing => return ctx.out().null(),
        Found::List => {}
    }
    let db = ctx.db_index();
    let popped = match count {
        Some(0) => return ctx.out().array_len(0),
        None => {
            let v = list_mut(ctx.eng, db, key)
                .pop(head)
                .expect("a stored list is never empty");
            ctx.out().bulk(&v);
            1
        }
        Some(n) => {
            let l = list_mut(ctx.eng, db, key);
            let n = (n as u64).min(l.len() as u64) as usize;
            ctx.client.out.array_len(n);
            for _ in 0..n {
                let v = l.pop(head).expect("n is at most the length");
                ctx.client.out.bulk(&v);
            }
            n
        }
    };
    delete_if_empty(ctx, db, key);
    ctx.signal_modified(db, key);
    ctx.dirty(popped as u64);
    propagate_argv(ctx, argv);
}

pub fn lpop(ctx: &mut Ctx<'_>, argv: &[Bytes]) {
    pop_generic(ctx, argv, HEAD)
}

pub fn rpop(ctx: &mut Ctx<'_>, argv: &[Bytes]) {
    pop_generic(ctx, argv, TAIL)
}

pub fn llen(ctx: &mut Ctx<'_>, argv: &[Bytes]) {
    let key = &argv[1];
    match lookup_read(ctx, key) {
        Found::WrongType => ctx.error(errors::WRONGTYPE),
        Found::Missing => ctx.out().int(0),
        Found::List => {
            let db = ctx.db_index();
            let n = list_mut(ctx.eng, db, key).len() as i64;
            ctx.out().int(n);
        }
    }
}

pub fn lindex(ctx: &mut Ctx<'_>, argv: &[Bytes]) {
    let key = &argv[1];
    match lookup_read(ctx, key) {
        Found::WrongType => return ctx.error(errors::WRONGTYPE),
        Found::Missing => return ctx.out().null(),
        Found::List => {}
    }
    let Some(i) = ctx.parse_i64(&argv[2]) else {
        return;
    };
    let db = ctx.db_index();
    let Ctx { eng, client, .. } = ctx;
    let l = list_mut(eng, db, key);
    match resolve_index(l.len(), i).and_then(|i| l.get(i)) {
        Some(v) => client.out.bulk(v),
        None => client.out.null(),
    }
}

pub fn lset(ctx: &mut Ctx<'_>, argv: &[Bytes]) {
    let key = &argv[1];
    match lookup_write(ctx, key) {
        Found::WrongType => return ctx.error(errors::WRONGTYPE),
        Found::Missing => return ctx.error(errors::NO_SUCH_KEY),
        Found::List => {}
    }
    let Some(i) = ctx.parse_i64(&argv[2]) else {
        return;
    };
    let db = ctx.db_index();
    let l = list_mut(ctx.eng, db, key);
    let done = resolve_index(l.len(), i).is_some_and(|i| l.set(i, &argv[3]));
    if !done {
        return ctx.error("ERR index out of range");
    }
    ctx.signal_modified(db, key);
    ctx.dirty(1);
    propagate_argv(ctx, argv);
    ctx.ok();
}

/// The `[start, end]` range LRANGE replies, or None when it is empty.
fn clamp_range(len: usize, mut start: i64, mut end: i64) -> Option<(usize, usize)> {
    let len = len as i64;
    if start < 0 {
        start += len;
    }
    if end < 0 {
        end += len;
    }
    if start < 0 {
        start = 0;
    }
    if start > end || start >= len {
        return None;
    }
    Some((start as usize, end.min(len - 1) as usize))
}

pub fn lrange(ctx: &mut Ctx<'_>, argv: &[Bytes]) {
    let Some(start) = ctx.parse_i64(&argv[2]) else {
        return;
    };
    let Some(end) = ctx.parse_i64(&argv[3]) else {
        return;
    };
    let key = &argv[1];
    match lookup_read(ctx, key) {
        Found::WrongType => return ctx.error(errors::WRONGTYPE),
        Found::Missing => return ctx.out().array_len(0),
        Found::List => {}
    }
    let db = ctx.db_index();
    let Ctx { eng, client, .. } = ctx;
    let l = list_mut(eng, db, key);
    match clamp_range(l.len(), start, end) {
        None => client.out.array_len(0),
        Some((s, e)) => {
            client.out.array_len(e - s + 1);
            for v in l.iter_from(s).take(e - s + 1) {
                client.out.bulk(v);
            }
        }
    }
}

pub fn ltrim(ctx: &mut Ctx<'_>, argv: &[Bytes]) {
    let Some(start) = ctx.parse_i64(&argv[2]) else {
        return;
    };
    let Some(end) = ctx.parse_i64(&argv[3]) else {
        return;
    };
    let key = &argv[1];
    match lookup_write(ctx, key) {
        Found::WrongType => return ctx.error(errors::WRONGTYPE),
        Found::Missing => return ctx.ok(),
        Found::List => {}
    }
    let db = ctx.db_index();
    let l = list_mut(ctx.eng, db, key);
    let len = l.len();
    let (ltrim, rtrim) = match clamp_range(len, start, end) {
        None => (len, 0),
        Some((s, e)) => (s, len - e - 1),
    };
    l.trim(ltrim, rtrim);
    delete_if_empty(ctx, db, key);
    // Redis signals even when nothing was removed, but propagates only a change.
    ctx.signal_modified(db, key);
    if ltrim + rtrim > 0 {
        ctx.dirty((ltrim + rtrim) as u64);
        propagate_argv(ctx, argv);
    }
    ctx.ok();
}

pub fn linsert(ctx: &mut Ctx<'_>, argv: &[Bytes]) {
    let after = if argv[2].eq_ignore_ascii_case(b"after") {
        true
    } else if argv[2].eq_ignore_ascii_case(b"before") {
        false
    } else {
        return ctx.error(errors::SYNTAX);
    };
    let key = &argv[1];
    match lookup_write(ctx, key) {
        Found::WrongType => return ctx.error(errors::WRONGTYPE),
        Found::Missing => return ctx.out().int(0),
        Found::List => {}
    }
    let db = ctx.db_index();
    let l = list_mut(ctx.eng, db, key);
    let Some(at) = l.iter().position(|v| v == &argv[3][..]) else {
        return ctx.out().int(-1);
    };
    l.insert(at + usize::from(after), &argv[4]);
    let len = l.len() as i64;
    ctx.signal_modified(db, key);
    ctx.dirty(1);
    propagate_argv(ctx, argv);
    ctx.out().int(len);
}

pub fn lrem(ctx: &mut Ctx<'_>, argv: &[Bytes]) {
    let Some(count) = ctx.parse_i64(&argv[2]) else {
        return;
    };
    let key = &argv[1];
    match lookup_write(ctx, key) {
        Found::WrongType => return ctx.error(errors::WRONGTYPE),
        Found::Missing => return ctx.out().int(0),
        Found::List => {}
    }
    let db = ctx.db_index();
    let limit = usize::try_from(count.unsigned_abs()).unwrap_or(usize::MAX);
    let removed = list_mut(ctx.eng, db, key).remove_matching(&argv[3], count >= 0, limit);
    if removed > 0 {
        delete_if_empty(ctx, db, key);
        ctx.signal_modified(db, key);
        ctx.dirty(removed as u64);
        propagate_argv(ctx, argv);
    }
    ctx.out().int(removed as i64);
}

pub fn lpos(ctx: &mut Ctx<'_>, argv: &[Bytes]) {
    let mut rank: i64 = 1;
    let mut count: i64 = -1;
    let mut maxlen: i64 = 0;
    let mut j = 3;
    while j < argv.len() {
        let opt = &argv[j][..];
        let more = j + 1 < argv.len();
        if more && opt.eq_ignore_ascii_case(b"rank") {
            j += 1;
            let Some(r) = ctx.parse_i64(&argv[j]) else {
                return;
            };
            if r == 0 {
                return ctx.error(
                    "ERR RANK can't be zero: use 1 to start from the first match, 2 from the \
                     second ... or use negative to start from the end of the list",
                );
            }
            rank = r;
        } else if more && opt.eq_ignore_ascii_case(b"count") {
            j += 1;
            let Some(c) = ctx.parse_at_least(&argv[j], 0, "ERR COUNT can't be negative") else {
                return;
            };
            count = c;
        } else if more && opt.eq_ignore_ascii_case(b"maxlen") {
            j += 1;
            let Some(m) = ctx.parse_at_least(&argv[j], 0, "ERR MAXLEN can't be negative") else {
                return;
            };
            maxlen = m;
        } else {
            return ctx.error(errors::SYNTAX);
        }
        j += 1;
    }
    // A negative rank scans from the tail. Like Redis (C wrap-around), RANK LONG_MIN stays
    // negative and so accepts the first match.
    let from_head = rank > 0;
    if rank < 0 {
        rank = rank.wrapping_neg();
    }
    let key = &argv[1];
    match lookup_read(ctx, key) {
        Found::WrongType => return ctx.error(errors::WRONGTYPE),
        Found::Missing if count != -1 => return ctx.out().array_len(0),
        Found::Missing => return ctx.out().null(),
        Found::List => {}
    }
    let db = ctx.db_index();
    let Ctx { eng, client, .. } = ctx;
    let l = list_mut(eng, db, key);
    let len = l.len();
    let out = &mut client.out;
    let deferred = (count != -1).then(|| out.begin_deferred());
    let mut found = 0usize;
    let mut matches: i64 = 0;
    let it: Box<dyn Iterator<Item = &[u8]>> = if from_head {
        Box::new(l.iter())
    } else {
        Box::new(l.iter().rev())
    };
    for (index, v) in it.enumerate() {
        if maxlen != 0 && index as i64 >= maxlen {
            break;
        }
        if v != &argv[2][..] {
            continue;
        }
        matches += 1;
        if matches < rank {
            continue;
        }
        let pos = if from_head { index } else { len - index - 1 };
        out.int(pos as i64);
        found += 1;
        if deferred.is_none() {
            break;
        }
        if count != 0 && matches.wrapping_sub(rank).wrapping_add(1) >= count {
            break;
        }
    }
    match deferred {
        Some(at) => out.end_deferred_array(at, found),
        None if found == 0 => out.null(),
        None => {}
    }
}

/// `lmoveGenericCommand`: pops from `src`, pushes onto `dst`, replies the element.
fn lmove_generic(ctx: &mut Ctx<'_>, argv: &[Bytes], from_head: bool, to_head: bool) {
    let (src, dst) = (&argv[1], &argv[2]);
    match lookup_write(ctx, src) {
        Found::WrongType => return ctx.error(errors::WRONGTYPE),
        Found::Missing => return ctx.out().null(),
        Found::List => {}
    }
    let db = ctx.db_index();
    match lookup_write(ctx, dst) {
        Found::WrongType => return ctx.error(errors::WRONGTYPE),
        Found::Missing => {
            let l = new_list(ctx);
            ctx.eng.dbs[db].insert_new(dst, l)
        }
        Found::List => {}
    }
    let v = list_mut(ctx.eng, db, src)
        .pop(from_head)
        .expect("a stored list is never empty");
    list_mut(ctx.eng, db, dst).push(to_head, &v);
    ctx.signal_modified(db, dst);
    ctx.out().bulk(&v);
    delete_if_empty(ctx, db, src);
    ctx.signal_modified(db, src);
    ctx.dirty(1);
    propagate_argv(ctx, argv);
}

pub fn lmove(ctx: &mut Ctx<'_>, argv: &[Bytes]) {
    let Some(from) = parse_where(ctx, &argv[3]) else {
        return;
    };
    let Some(to) = parse_where(ctx, &argv[4]) else {
        return;
    };
    lmove_generic(ctx, argv, from, to)
}

pub fn rpoplpush(ctx: &mut Ctx<'_>, argv: &[Bytes]) {
    lmove_generic(ctx, argv, TAIL, HEAD)
}

/// LMPOP numkeys key [key ...] LEFT|RIGHT [COUNT count]: pops from the first non-empty list,
/// replies `[key, [elements]]`, and records `LPOP|RPOP key <popped>` as Redis 7.0 does.
pub fn lmpop(ctx: &mut Ctx<'_>, argv: &[Bytes]) {
    lmpop_generic(ctx, argv, 1, false)
}

/// LMPOP and BLMPOP: `base` is the index of numkeys. Blocking parses the timeout after the
/// other arguments, as Redis 7.0's `lmpopGenericCommand`.
fn lmpop_generic(ctx: &mut Ctx<'_>, argv: &[Bytes], base: usize, blocking: bool) {
    let Some(numkeys) = ctx.parse_at_least(&argv[base], 1, "ERR numkeys should be greater than 0")
    else {
        return;
    };
    let where_idx = match usize::try_from(numkeys)
        .ok()
        .and_then(|n| n.checked_add(base + 1))
    {
        Some(i) if i < argv.len() => i,
        _ => return ctx.error(errors::SYNTAX),
    };
    let Some(head) = parse_where(ctx, &argv[where_idx]) else {
        return;
    };
    let mut count: i64 = -1;
    let mut j = where_idx + 1;
    while j < argv.len() {
        if count == -1 && j + 1 < argv.len() && argv[j].eq_ignore_ascii_case(b"count") {
            j += 1;
            match ctx.parse_at_least(&argv[j], 1, "ERR count should be greater than 0") {
                Some(c) => count = c,
                None => return,
            }
        } else {
            return ctx.error(errors::SYNTAX);
        }
        j += 1;
    }
    let deadline = if blocking {
        match timeout_or_reply(ctx, &argv[1]) {
            Some(d) => d,
            None => return,
        }
    } else {
        None
    };
    let count = if count == -1 { 1 } else { count as u64 };
    let db = ctx.db_index();
    let keys = &argv[base + 1..where_idx];
    for key in keys {
        match lookup_write(ctx, key) {
            Found::WrongType => return ctx.error(errors::WRONGTYPE),
            Found::Missing => continue,
            Found::List => {}
        }
        let l = list_mut(ctx.eng, db, key);
        let n = count.min(l.len() as u64) as usize;
        let out = &mut ctx.client.out;
        out.array_len(2);
        out.bulk(key);
        out.array_len(n);
        for _ in 0..n {
            let v = l.pop(head).expect("n is at most the length");
            out.bulk(&v);
        }
        delete_if_empty(ctx, db, key);
        ctx.signal_modified(db, key);
        ctx.dirty(n as u64);
        let cmd: &[u8] = if head { b"LPOP" } else { b"RPOP" };
        ctx.propagate(&[cmd, key, n.to_string().as_bytes()]);
        return;
    }
    if blocking {
        block_or_null(ctx, keys, deadline, argv, false);
    } else {
        ctx.out().null_array();
    }
}

/// The timeout argument, or `None` after replying its error; `Some(None)` waits forever.
pub(crate) fn timeout_or_reply(ctx: &mut Ctx<'_>, arg: &[u8]) -> Option<Option<i64>> {
    match crate::blocking::parse_timeout(arg, ctx.now_ms) {
        Ok(d) => Some(d),
        Err(e) => {
            ctx.error(e);
            None
        }
    }
}

/// No data: inside MULTI the null reply (Redis's CLIENT_DENY_BLOCKING), else the client
/// blocks on `keys` with no reply now.
pub(crate) fn block_or_null(
    ctx: &mut Ctx<'_>,
    keys: &[Bytes],
    deadline_ms: Option<i64>,
    argv: &[Bytes],
    null_bulk: bool,
) {
    if ctx.in_exec {
        return if null_bulk {
            ctx.out().null()
        } else {
            ctx.out().null_array()
        };
    }
    let st = crate::blocking::BlockState {
        db: ctx.db_index(),
        keys: keys.to_vec(),
        deadline_ms,
        argv: argv.to_vec(),
    };
    ctx.eng.block_client(ctx.client, st);
}

/// BLPOP / BRPOP key [key ...] timeout: `[key, element]` from the first non-empty list,
/// recorded as `LPOP key` / `RPOP key`.
fn bpop_generic(ctx: &mut Ctx<'_>, argv: &[Bytes], head: bool) {
    let Some(deadline) = timeout_or_reply(ctx, &argv[argv.len() - 1]) else {
        return;
    };
    let db = ctx.db_index();
    let keys = &argv[1..argv.len() - 1];
    for key in keys {
        match lookup_write(ctx, key) {
            Found::WrongType => return ctx.error(errors::WRONGTYPE),
            Found::Missing => continue,
            Found::List => {}
        }
        let v = list_mut(ctx.eng, db, key)
            .pop(head)
            .expect("a stored list is never empty");
        let out = ctx.out();
        out.array_len(2);
        out.bulk(key);
        out.bulk(&v);
        delete_if_empty(ctx, db, key);
        ctx.signal_modified(db, key);
        ctx.dirty(1);
        let cmd: &[u8] = if head { b"LPOP" } else { b"RPOP" };
        ctx.propagate(&[cmd, key]);
        return;
    }
    block_or_null(ctx, keys, deadline, argv, false);
}

pub fn blpop(ctx: &mut Ctx<'_>, argv: &[Bytes]) {
    bpop_generic(ctx, argv, HEAD)
}

pub fn brpop(ctx: &mut Ctx<'_>, argv: &[Bytes]) {
    bpop_generic(ctx, argv, TAIL)
}

/// BLMOVE / BRPOPLPUSH with data: runs as LMOVE / RPOPLPUSH (and is recorded as such).
fn bmove_generic(ctx: &mut Ctx<'_>, argv: &[Bytes], effect: Vec<Bytes>, from: bool, to: bool) {
    let Some(deadline) = timeout_or_reply(ctx, &argv[argv.len() - 1]) else {
        return;
    };
    match lookup_write(ctx, &argv[1]) {
        Found::WrongType => ctx.error(errors::WRONGTYPE),
        Found::Missing => block_or_null(ctx, &argv[1..2], deadline, argv, true),
        Found::List => lmove_generic(ctx, &effect, from, to),
    }
}

pub fn blmove(ctx: &mut Ctx<'_>, argv: &[Bytes]) {
    let Some(from) = parse_where(ctx, &argv[3]) else {
        return;
    };
    let Some(to) = parse_where(ctx, &argv[4]) else {
        return;
    };
    // Served at once, Redis rewrites the command keeping the client's words; served later
    // (serveClientBlockedOnList), it writes its shared "left"/"right" (redis-server 7.0.15
    // AOF: `LMOVE s d right left` for a served `BLMOVE s d RIGHT LEFT 0`).
    let word = |head: bool, given: &Bytes| {
        if !ctx.eng.blocking.reprocessing {
            given.clone()
        } else if head {
            Bytes::from_static(b"left")
        } else {
            Bytes::from_static(b"right")
        }
    };
    let effect = vec![
        Bytes::from_static(b"LMOVE"),
        argv[1].clone(),
        argv[2].clone(),
        word(from, &argv[3]),
        word(to, &argv[4]),
    ];
    bmove_generic(ctx, argv, effect, from, to)
}

pub fn brpoplpush(ctx: &mut Ctx<'_>, argv: &[Bytes]) {
    let effect = vec![
        Bytes::from_static(b"RPOPLPUSH"),
        argv[1].clone(),
        argv[2].clone(),
    ];
    bmove_generic(ctx, argv, effect, TAIL, HEAD)
}

pub fn blmpop(ctx: &mut Ctx<'_>, argv: &[Bytes]) {
    lmpop_generic(ctx, argv, 2, true)
}

/// This family's commands (see `commands::all`).
pub static HANDLERS: &[(&str, Handler)] = &[
    ("lpush", lpush),
    ("rpush", rpush),
    ("lpushx", lpushx),
    ("rpushx", rpushx),
    ("lpop", lpop),
    ("rpop", rpop),
    ("llen", llen),
    ("lindex", lindex),
    ("lset", lset),
    ("lrange", lrange),
    ("ltrim", ltrim),
    ("linsert", linsert),
    ("lrem", lrem),
    ("lpos", lpos),
    ("lmove", lmove),
    ("rpoplpush", rpoplpush),
    ("lmpop", lmpop),
    ("blpop", blpop),
    ("brpop", brpop),
    ("blmove", blmove),
    ("brpoplpush", brpoplpush),
    ("blmpop", blmpop),
];

#[cfg(test)]
#[path = "lists_tests.rs"]
mod tests;
