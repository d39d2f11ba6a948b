//! Generic key commands (Redis 7.0 db.c and object.c): DEL UNLINK EXISTS TYPE KEYS SCAN
//! RANDOMKEY RENAME RENAMENX MOVE COPY TOUCH OBJECT. The TTL commands are in `expire.rs`.
//!
//! Effects: DEL, UNLINK, RENAME(NX), MOVE and COPY change data deterministically given the
//! same prior dataset, so each is propagated as written, once, when it changed something
//! (Redis's `call` propagates a command whose `server.dirty` moved). Lazy expiry met on the
//! way is propagated as DEL by `Ctx`.

use crate::ctx::Ctx;
use crate::errors;
use crate::lru;
use crate::table::Handler;
use bytes::Bytes;
use redoubt_keyspace::glob::glob_match;
use redoubt_keyspace::{Value, NO_EXPIRE};

/// Every argument, as the effect of a command propagated as written.
pub fn as_written(argv: &[Bytes]) -> Vec<&[u8]> {
    argv.iter().map(|a| &a[..]).collect()
}

/// DEL and UNLINK (`delGenericCommand`): values are freed synchronously for both.
/// `delGenericCommand`: UNLINK frees big values on the free thread, DEL does too with
/// `lazyfree-lazy-user-del yes`. Both are propagated as written.
fn del_generic(ctx: &mut Ctx<'_>, argv: &[Bytes], lazy: bool) {
    let db = ctx.client.db;
    let mut n = 0;
    for key in &argv[1..] {
        if ctx.delete(db, key, lazy) {
            n += 1;
        }
    }
    if n > 0 {
        ctx.dirty(n as u64);
        ctx.propagate(&as_written(argv));
    }
    ctx.out().int(n);
}

pub fn del(ctx: &mut Ctx<'_>, argv: &[Bytes]) {
    let lazy = ctx.eng.conf.lazyfree_lazy_user_del;
    del_generic(ctx, argv, lazy);
}

pub fn unlink(ctx: &mut Ctx<'_>, argv: &[Bytes]) {
    del_generic(ctx, argv, true);
}

/// EXISTS counts a key once per mention, and does not touch the access time.
pub fn exists(ctx: &mut Ctx<'_>, argv: &[Bytes]) {
    let mut n = 0;
    for key in &argv[1..] {
        if ctx.lookup_read_notouch(key).is_some() {
            n += 1;
        }
    }
    ctx.out().int(n);
}

pub fn type_(ctx: &mut Ctx<'_>, argv: &[Bytes]) {
    let name = ctx
        .lookup_read_notouch(&argv[1])
        .map_or("none", |e| e.value.type_name());
    ctx.out().simple(name);
}

/// TOUCH: a read lookup per key, counting the keys that exist.
pub fn touch(ctx: &mut Ctx<'_>, argv: &[Bytes]) {
    let mut n = 0;
    for key in &argv[1..] {
        if ctx.lookup_read(key).is_some() {
            n += 1;
        }
    }
    ctx.out().int(n);
}

/// KEYS: every matching key that is not logically expired. Like Redis 7.0 (`keysCommand`
/// uses `keyIsExpired`), expired keys are skipped but not deleted, so KEYS propagates nothing.
pub fn keys(ctx: &mut Ctx<'_>, argv: &[Bytes]) {
    let pattern = &argv[1][..];
    let all = pattern == b"*";
    let now = ctx.now_ms;
    let db = ctx.client.db;
    let found: Vec<Vec<u8>> = ctx.eng.dbs[db]
        .iter()
        .filter(|e| all || glob_match(pattern, &e.key, false))
        .filter(|e| e.expire_at_ms == NO_EXPIRE || now <= e.expire_at_ms)
        .map(|e| e.key.to_vec())
        .collect();
    let out = ctx.out();
    out.array_len(found.len());
    for k in &found {
        out.bulk(k);
    }
}

/// `parseScanCursorOrReply`: C's `strtoul(s, &end, 10)` on the argument as a C string,
/// refusing a leading space, trailing bytes and ERANGE. So "" is cursor 0, "+5" is 5 and "-1"
/// wraps to 2^64-1, as in Redis.
pub fn parse_scan_cursor(arg: &[u8]) -> Option<u64> {
    let s = &arg[..arg.iter().position(|&b| b == 0).unwrap_or(arg.len())];
    let Some(&first) = s.first() else {
        return Some(0);
    };
    if matches!(first, b' ' | b'\t' | b'\n' | b'\x0b' | b'\x0c' | b'\r') {
        return None;
    }
    let (neg, digits) = match first {
        b'-' => (true, &s[1..]),
        b'+' => (false, &s[1..]),
        _ => (false, s),
    };
    if digits.is_empty() {
        return None;
    }
    let mut v: u64 = 0;
    for &d in digits {
        if !d.is_ascii_digit() {
            return None;
        }
        v = v.checked_mul(10)?.checked_add(u64::from(d - b'0'))?;
    }
    Some(if neg { v.wrapping_neg() } else { v })
}

/// SCAN-family options (`scanGenericCommand`): COUNT (at least 1), MATCH (`*` means no
/// filter) and, for SCAN itself, TYPE. On a bad option the error is already replied.
pub struct ScanOpts<'a> {
    pub count: usize,
    pub pattern: Option<&'a [u8]>,
    pub type_name: Option<&'a [u8]>,
}

pub fn parse_scan_opts<'a>(
    ctx: &mut Ctx<'_>,
    argv: &'a [Bytes],
    first: usize,
    allow_type: bool,
) -> Option<ScanOpts<'a>> {
    let mut o = ScanOpts {
        count: 10,
        pattern: None,
        type_name: None,
    };
    let mut i = first;
    while i < argv.len() {
        let more = argv.len() - i >= 2;
        let opt = &argv[i][..];
        if opt.eq_ignore_ascii_case(b"count") && more {
            let n = ctx.parse_i64(&argv[i + 1])?;
            if n < 1 {
                ctx.error(errors::SYNTAX);
                return None;
            }
            o.count = usize::try_from(n).unwrap_or(usize::MAX);
        } else if opt.eq_ignore_ascii_case(b"match") && more {
            let p = &argv[i + 1][..];
            o.pattern = (p != b"*").then_some(p);
        } else if allow_type && opt.eq_ignore_ascii_case(b"type") && more {
            o.type_name = Some(&argv[i + 1][..]);
        } else {
            ctx.error(errors::SYNTAX);
            return None;
        }
        i += 2;
    }
    Some(o)
}

/// SCAN cursor [MATCH pattern] [COUNT count] [TYPE type] (`scanGenericCommand` for the
/// keyspace).
///
/// Our cursor is not Redis's reverse-binary bucket cursor: it is a slot number in the
/// database's stable slab (see `redoubt_keyspace::db`), so the same cursor value means
/// different positions on the two servers; only 0 (start/end) has a shared meaning. Redis's
/// guarantee holds, more strictly: a key present for the whole iteration is returned exactly
/// once, whatever the database does in between.
pub fn scan(ctx: &mut Ctx<'_>, argv: &[Bytes]) {
    let Some(cursor) = parse_scan_cursor(&argv[1]) else {
        ctx.error("ERR invalid cursor");
        return;
    };
    let Some(ScanOpts {
        count,
        pattern,
        type_name,
    }) = parse_scan_opts(ctx, argv, 2, true)
    else {
        return;
    };
    let db = ctx.client.db;
    let step = ctx.eng.dbs[db].scan(cursor, count);
    let next = step.next;
    let candidates: Vec<Vec<u8>> = step.keys.iter().map(|e| e.key.to_vec()).collect();
    let mut keys = Vec::with_capacity(candidates.len());
    for key in candidates {
        if let Some(p) = pattern {
            if !glob_match(p, &key, false) {
                continue;
            }
        }
        if let Some(t) = type_name {
            // Redis looks the key up (stats, lazy expiry) and compares the type name, "none"
            // for a missing key, without case; an unknown name matches nothing.
            let have = ctx
                .lookup_read_notouch(&key)
                .map_or("none", |e| e.value.type_name());
            if !t.eq_ignore_ascii_case(have.as_bytes()) {
                continue;
            }
        }
        if ctx.expire_if_needed(db, &key) {
            continue;
        }
        keys.push(key);
    }
    let out = ctx.out();
    out.array_len(2);
    // Redis replies the cursor with addReplyBulkLongLong on an unsigned long.
    out.bulk_int(next as i64);
    out.array_len(keys.len());
    for k in &keys {
        out.bulk(k);
    }
}

/// RANDOMKEY (`dbRandomKey`): keys found logically expired are deleted (and propagated as
/// DEL) and another is drawn.
pub fn randomkey(ctx: &mut Ctx<'_>, _argv: &[Bytes]) {
    let db = ctx.client.db;
    let mut maxtries = 100;
    loop {
        let all_volatile = ctx.eng.dbs[db].len() == ctx.eng.dbs[db].expires_len();
        let crate::Engine { dbs, rng, .. } = &mut *ctx.eng;
        let Some(e) = dbs[db].random_entry(rng) else {
            ctx.out().null();
            return;
        };
        let key = e.key.to_vec();
        if e.expire_at_ms != NO_EXPIRE {
            // On a replica expired keys are not deleted, so give up after some tries rather
            // than loop forever on a database of expired keys.
            if all_volatile && ctx.eng.is_replica() {
                maxtries -= 1;
                if maxtries == 0 {
                    ctx.out().bulk(&key);
                    return;
                }
            }
            if ctx.expire_if_needed(db, &key) {
                continue;
            }
        }
        ctx.out().bulk(&key);
        return;
    }
}

/// Moves an entry to `(dst_db, dst_key)`, keeping its value, TTL and access word, as Redis's
/// RENAME and MOVE re-add the same object. The destination must be free.
fn relink(ctx: &mut Ctx<'_>, src_db: usize, src_key: &[u8], dst_db: usize, dst_key: &[u8]) {
    let e = ctx.eng.dbs[src_db]
        .remove(src_key)
        .expect("relink source was looked up just before");
    put_entry(ctx, dst_db, dst_key, e.value, e.expire_at_ms, Some(e.lru));
}

fn put_entry(
    ctx: &mut Ctx<'_>,
    db: usize,
    key: &[u8],
    value: Value,
    expire: i64,
    lru: Option<u32>,
) {
    let d = &mut ctx.eng.dbs[db];
    d.insert_new(key, value);
    if expire != NO_EXPIRE {
        d.set_expire(key, expire);
    }
    if let Some(lru) = lru {
        if let Some(e) = d.get_raw_mut(key) {
            e.lru = lru;
        }
    }
}

/// RENAME and RENAMENX (`renameGenericCommand`).
fn rename_generic(ctx: &mut Ctx<'_>, argv: &[Bytes], nx: bool) {
    let (src, dst) = (&argv[1][..], &argv[2][..]);
    let db = ctx.client.db;
    if ctx.lookup_write(src).is_none() {
        ctx.error(errors::NO_SUCH_KEY);
        return;
    }
    if src == dst {
        if nx {
            ctx.out().int(0);
        } else {
            ctx.ok();
        }
        return;
    }
    if ctx.lookup_write(dst).is_some() {
        if nx {
            ctx.out().int(0);
            return;
        }
        // Redis's dbDelete: `lazyfree-lazy-server-del` governs the overwritten value.
        let old = ctx.eng.dbs[db].remove(dst).map(|e| e.value);
        ctx.eng.free_server_del(old);
    }
    relink(ctx, db, src, db, dst);
    ctx.signal_modified(db, src);
    ctx.signal_modified(db, dst);
    ctx.dirty(1);
    ctx.propagate(&as_written(argv));
    if nx {
        ctx.out().int(1);
    } else {
        ctx.ok();
    }
}

pub fn rename(ctx: &mut Ctx<'_>, argv: &[Bytes]) {
    rename_generic(ctx, argv, false);
}

pub fn renamenx(ctx: &mut Ctx<'_>, argv: &[Bytes]) {
    rename_generic(ctx, argv, true);
}

/// `getIntFromObjectOrReply` then `selectDb`'s range check: the database a MOVE or COPY
/// targets.
fn parse_db_index(ctx: &mut Ctx<'_>, arg: &[u8]) -> Option<usize> {
    let n = ctx.parse_i64(arg)?;
    let Ok(n) = i32::try_from(n) else {
        ctx.error("ERR value is out of range, value must between -2147483648 and 2147483647");
        return None;
    };
    match usize::try_from(n) {
        Ok(i) if i < ctx.eng.dbs.len() => Some(i),
        _ => {
            ctx.error(errors::DB_INDEX);
            None
        }
    }
}

/// MOVE key db (`moveCommand`).
pub fn move_(ctx: &mut Ctx<'_>, argv: &[Bytes]) {
    let key = &argv[1][..];
    let src = ctx.client.db;
    let Some(dst) = parse_db_index(ctx, &argv[2]) else {
        return;
    };
    if src == dst {
        ctx.error(errors::SAME_OBJECT);
        return;
    }
    if ctx.lookup_write(key).is_none() || ctx.lookup_write_in(dst, key).is_some() {
        ctx.out().int(0);
        return;
    }
    relink(ctx, src, key, dst, key);
    ctx.signal_modified(src, key);
    ctx.signal_modified(dst, key);
    ctx.dirty(1);
    ctx.propagate(&as_written(argv));
    ctx.out().int(1);
}

/// COPY source destination [DB db] [REPLACE] (`copyCommand`). The copy is a new object:
/// fresh access time, same encoding (`dupStringObject`).
pub fn copy(ctx: &mut Ctx<'_>, argv: &[Bytes]) {
    let (key, newkey) = (&argv[1][..], &argv[2][..]);
    let src = ctx.client.db;
    let mut dst = src;
    let mut replace = false;
    let mut j = 3;
    while j < argv.len() {
        let opt = &argv[j][..];
        if opt.eq_ignore_ascii_case(b"replace") {
            replace = true;
        } else if opt.eq_ignore_ascii_case(b"db") && j + 1 < argv.len() {
            let Some(d) = parse_db_index(ctx, &argv[j + 1]) else {
                return;
            };
            dst = d;
            j += 1;
        } else {
            ctx.error(errors::SYNTAX);
            return;
        }
        j += 1;
    }
    if src == dst && key == newkey {
        ctx.error(errors::SAME_OBJECT);
        return;
    }
    let Some(e) = ctx.lookup_read(key) else {
        ctx.out().int(0);
        return;
    };
    let (value, expire) = (e.value.clone(), e.expire_at_ms);
    if ctx.lookup_write_in(dst, newkey).is_some() {
        if !replace {
            ctx.out().int(0);
            return;
        }
        let old = ctx.eng.dbs[dst].remove(newkey).map(|e| e.value);
        ctx.eng.free_server_del(old);
    }
    put_entry(ctx, dst, newkey, value, expire, None);
    ctx.signal_modified(dst, newkey);
    ctx.dirty(1);
    ctx.propagate(&as_written(argv));
    ctx.out().int(1);
}

/// What OBJECT reports about a value.
struct ObjectInfo {
    encoding: &'static str,
    lru: u32,
    /// Its shared-integer slot, when Redis would hold it as a shared object.
    shared: Option<usize>,
}

/// `objectCommandLookupOrReply`: counts a hit or miss but does not touch the access time; a
/// missing key replies null.
fn object_lookup(ctx: &mut Ctx<'_>, key: &[u8]) -> Option<ObjectInfo> {
    let policy = ctx.eng.lru_policy();
    let info = ctx.lookup_read_notouch(key).map(|e| ObjectInfo {
        encoding: e.value.encoding_name(),
        lru: e.lru,
        shared: lru::shared_index(&e.value, policy),
    });
    if info.is_none() {
        ctx.out().null();
    }
    info
}

pub fn object_encoding(ctx: &mut Ctx<'_>, argv: &[Bytes]) {
    if let Some(o) = object_lookup(ctx, &argv[2]) {
        ctx.out().bulk_str(o.encoding);
    }
}

pub fn object_refcount(ctx: &mut Ctx<'_>, argv: &[Bytes]) {
    if let Some(o) = object_lookup(ctx, &argv[2]) {
        let n = if o.shared.is_some() {
            lru::OBJ_SHARED_REFCOUNT
        } else {
            1
        };
        ctx.out().int(n);
    }
}

pub fn object_idletime(ctx: &mut Ctx<'_>, argv: &[Bytes]) {
    let Some(o) = object_lookup(ctx, &argv[2]) else {
        return;
    };
    if ctx.eng.lru_policy().lfu {
        ctx.error("ERR An LFU maxmemory policy is selected, idle time not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.");
        return;
    }
    let now = ctx.now_ms;
    let word = ctx.eng.access_word(o.lru, o.shared, now);
    let idle_s = lru::estimate_idle_ms(word, now) / 1000;
    ctx.out().int(idle_s as i64);
}

pub fn object_freq(ctx: &mut Ctx<'_>, argv: &[Bytes]) {
    let Some(o) = object_lookup(ctx, &argv[2]) else {
        return;
    };
    if !ctx.eng.lru_policy().lfu {
        ctx.error("ERR An LFU maxmemory policy is not selected, access frequency not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.");
        return;
    }
    let now = ctx.now_ms;
    let decay = ctx.eng.conf.lfu_decay_time;
    let word = ctx.eng.access_word(o.lru, o.shared, now);
    ctx.out()
        .int(i64::from(lru::lfu_decr_and_return(word, now, decay)));
}

/// `addReplyHelp` for OBJECT: the header names the command as typed, upper-cased.
pub fn object_help(ctx: &mut Ctx<'_>, argv: &[Bytes]) {
    const LINES: &[&str] = &[
        "ENCODING <key>",
        "    Return the kind of internal representation used in order to store the value",
        "    associated with a <key>.",
        "FREQ <key>",
        "    Return the access frequency index of the <key>. The returned integer is",
        "    proportional to the logarithm of the recent access frequency of the key.",
        "IDLETIME <key>",
        "    Return the idle time of the <key>, that is the approximated number of",
        "    seconds elapsed since the last access to the key.",
        "REFCOUNT <key>",
        "    Return the number of references of the value associated with the specified",
        "    <key>.",
        "HELP",
        "    Prints this help.",
    ];
    let name = errors::c_str_trunc(&argv[0], usize::MAX).to_ascii_uppercase();
    let out = ctx.out();
    out.array_len(LINES.len() + 1);
    out.simple(&format!(
        "{name} <subcommand> [<arg> [value] [opt] ...]. Subcommands are:"
    ));
    for l in LINES {
        out.simple(l);
    }
}

/// This family's commands (see `commands::all`).
pub static HANDLERS: &[(&str, Handler)] = &[
    ("del", del),
    ("unlink", unlink),
    ("exists", exists),
    ("type", type_),
    ("touch", touch),
    ("keys", keys),
    ("scan", scan),
    ("randomkey", randomkey),
    ("rename", rename),
    ("renamenx", renamenx),
    ("move", move_),
    ("copy", copy),
    ("object|encoding", object_encoding),
    ("object|refcount", object_refcount),
    ("object|idletime", object_idletime),
    ("object|freq", object_freq),
    ("object|help", object_help),
];

#[cfg(test)]
mod tests {
    //! Replies checked byte for byte against redis-server 7.0.15 (see the commit message for
    //! the scripts); effects checked against a 7.0.15 replica's MONITOR.
    use super::parse_scan_cursor;
    use crate::testing::TestEngine;

    #[test]
    fn del_unlink_exists_type_touch() {
        let mut t = TestEngine::new();
        t.run("SET a 1");
        t.run("SET b 2");
        t.stream();
        assert_eq!(t.text("EXISTS a a b nokey"), ":3|");
        assert_eq!(t.text("TYPE a"), "+string|");
        assert_eq!(t.text("TYPE nokey"), "+none|");
        assert_eq!(t.text("TOUCH a nokey a"), ":2|");
        assert_eq!(t.stream_cmds(), "");
        // Propagated once, as written, including the keys that did not exist (as Redis does).
        assert_eq!(t.text("DEL a nokey b"), ":2|");
        assert_eq!(t.stream_cmds(), "DEL a nokey b");
        assert_eq!(t.text("DEL a"), ":0|");
        assert_eq!(t.stream_cmds(), "");
        t.run("SET c 1");
        t.stream();
        assert_eq!(t.text("unlink c c"), ":1|");
        assert_eq!(t.stream_cmds(), "unlink c c");
        assert_eq!(
            t.text("DEL"),
            "-ERR wrong number of arguments for 'del' command|"
        );
    }

    #[test]
    fn lazy_expiry_inside_a_write_is_wrapped_with_it() {
        let mut t = TestEngine::new();
        t.run("SET x 1 PX 10");
        t.run("SET b 1");
        t.stream();
        t.now_ms += 100;
        assert_eq!(t.text("DEL b x"), ":1|");
        assert_eq!(t.stream_cmds(), "MULTI\nDEL x\nDEL b x\nEXEC");
    }

    #[test]
    fn keys_skips_expired_keys_without_deleting_them() {
        let mut t = TestEngine::new();
        t.run("SET a 1");
        t.run("SET b 2 PX 50");
        t.run("SET cb 3");
        t.stream();
        t.now_ms += 200;
        let all = t.text("KEYS *");
        assert!(all == "*2|$1|a|$2|cb|" || all == "*2|$2|cb|$1|a|", "{all}");
        assert_eq!(t.text("KEYS c?"), "*1|$2|cb|");
        // An unterminated class matches as Redis's stringmatchlen does.
        assert_eq!(t.text("KEYS [a"), "*1|$1|a|");
        assert_eq!(t.text("DBSIZE"), ":3|");
        assert_eq!(t.stream_cmds(), "");
    }

    #[test]
    fn scan_cursor_is_parsed_like_strtoul() {
        assert_eq!(parse_scan_cursor(b""), Some(0));
        assert_eq!(parse_scan_cursor(b"+0"), Some(0));
        assert_eq!(parse_scan_cursor(b"-1"), Some(u64::MAX));
        assert_eq!(parse_scan_cursor(b"-18446744073709551615"), Some(1));
        assert_eq!(parse_scan_cursor(b"18446744073709551615"), Some(u64::MAX));
        assert_eq!(parse_scan_cursor(b"18446744073709551616"), None);
        assert_eq!(parse_scan_cursor(b"5\0junk"), Some(5));
        for bad in [&b" 0"[..], b"0x", b"+", b"-", b"abc", b"1 "] {
            assert_eq!(parse_scan_cursor(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn scan_options_and_errors() {
        let mut t = TestEngine::new();
        for i in 0..5 {
            t.run(&format!("SET k{i} v"));
        }
        assert_eq!(t.text("SCAN \" 0\""), "-ERR invalid cursor|");
        assert_eq!(t.text("SCAN abc COUNT 0"), "-ERR invalid cursor|");
        assert_eq!(t.text("SCAN 0 COUNT 0"), "-ERR syntax error|");
        assert_eq!(t.text("SCAN 0 COUNT -1"), "-ERR syntax error|");
        assert_eq!(
            t.text("SCAN 0 COUNT abc"),
            "-ERR value is not an integer or out of range|"
        );
        assert_eq!(t.text("SCAN 0 MATCH"), "-ERR syntax error|");
        assert_eq!(t.text("SCAN 0 foo bar"), "-ERR syntax error|");
        assert_eq!(t.text("SCAN 0 TYPE foo"), "*2|$1|0|*0|");
        assert_eq!(t.text("SCAN 0 MATCH k3"), "*2|$1|0|*1|$2|k3|");
        assert_eq!(t.text("SCAN 0 type STRING match k4"), "*2|$1|0|*1|$2|k4|");
        // A full iteration in small steps returns every key exactly once.
        let mut cursor = "0".to_string();
        let mut seen = Vec::new();
        loop {
            let reply = t.run(&format!("SCAN {cursor} COUNT 2"));
            let (v, _) = redoubt_resp::parse_value(&reply)
                .expect("valid reply")
                .expect("complete reply");
            let redoubt_resp::Value::Array(parts) = v else {
                panic!()
            };
            let (redoubt_resp::Value::Bulk(c), redoubt_resp::Value::Array(keys)) =
                (&parts[0], &parts[1])
            else {
                panic!()
            };
            for k in keys {
                if let redoubt_resp::Value::Bulk(k) = k {
                    seen.push(String::from_utf8_lossy(k).into_owned());
                }
            }
            cursor = String::from_utf8_lossy(c).into_owned();
            if cursor == "0" {
                break;
            }
        }
        seen.sort();
        assert_eq!(seen, ["k0", "k1", "k2", "k3", "k4"]);
    }

    #[test]
    fn scan_deletes_expired_keys_and_type_none_still_lists_them() {
        let mut t = TestEngine::new();
        t.run("SET a 1");
        t.run("SET b 2 PX 50");
        t.run("SET c 3 PX 50");
        t.stream();
        t.now_ms += 200;
        // Redis 7.0: the TYPE filter's lookup deletes the expired key, whose type is then
        // "none", and the later expiry check no longer sees it.
        assert_eq!(t.text("SCAN 0 TYPE none"), "*2|$1|0|*2|$1|b|$1|c|");
        // SCAN touches arbitrary keys: its DELs are not wrapped in MULTI/EXEC.
        assert_eq!(t.stream_cmds(), "DEL b\nDEL c");
        assert_eq!(t.text("DBSIZE"), ":1|");
        t.run("SET b 2 PX 50");
        t.stream();
        t.now_ms += 200;
        assert_eq!(t.text("SCAN 0"), "*2|$1|0|*1|$1|a|");
        assert_eq!(t.stream_cmds(), "DEL b");
    }

    #[test]
    fn randomkey_deletes_expired_keys_it_draws() {
        let mut t = TestEngine::new();
        assert_eq!(t.text("RANDOMKEY"), "$-1|");
        t.run("SET a 1 PX 10");
        t.run("SET b 1 PX 10");
        t.stream();
        t.now_ms += 100;
        assert_eq!(t.text("RANDOMKEY"), "$-1|");
        let s = t.stream_cmds();
        assert!(s == "DEL a\nDEL b" || s == "DEL b\nDEL a", "{s}");
        t.run("SET c 1");
        assert_eq!(t.text("RANDOMKEY"), "$1|c|");
        t.run("HELLO 3");
        t.run("DEL c");
        assert_eq!(t.text("RANDOMKEY"), "_|");
    }

    #[test]
    fn rename_and_renamenx() {
        let mut t = TestEngine::new();
        assert_eq!(t.text("RENAME nokey x"), "-ERR no such key|");
        assert_eq!(t.text("RENAME nokey nokey"), "-ERR no such key|");
        assert_eq!(t.text("RENAMENX nokey x"), "-ERR no such key|");
        t.run("SET a 1");
        t.run("SET b 2");
        t.stream();
        assert_eq!(t.text("RENAME a a"), "+OK|");
        assert_eq!(t.text("RENAMENX a a"), ":0|");
        assert_eq!(t.text("RENAMENX a b"), ":0|");
        assert_eq!(t.stream_cmds(), "");
        t.run("PEXPIRE a 100000");
        t.stream();
        assert_eq!(t.text("rename a b"), "+OK|");
        assert_eq!(t.stream_cmds(), "rename a b");
        assert_eq!(t.text("GET b"), "$1|1|");
        assert_eq!(t.text("EXISTS a"), ":0|");
        assert_eq!(t.text("PTTL b"), ":100000|");
        assert_eq!(t.text("RENAMENX b c"), ":1|");
        assert_eq!(t.stream_cmds(), "RENAMENX b c");
        assert_eq!(t.text("PTTL c"), ":100000|");
        // An expired source is deleted first and then missing.
        t.now_ms += 200_000;
        assert_eq!(t.text("RENAME c d"), "-ERR no such key|");
        assert_eq!(t.stream_cmds(), "DEL c");
    }

    #[test]
    fn move_between_databases() {
        let mut t = TestEngine::new();
        t.run("SET c v");
        t.run("PEXPIRE c 100000");
        t.stream();
        assert_eq!(
            t.text("MOVE c 0"),
            "-ERR source and destination objects are the same|"
        );
        assert_eq!(t.text("MOVE c 16"), "-ERR DB index is out of range|");
        assert_eq!(t.text("MOVE c -1"), "-ERR DB index is out of range|");
        assert_eq!(t.text("MOVE nokey 16"), "-ERR DB index is out of range|");
        assert_eq!(
            t.text("MOVE c abc"),
            "-ERR value is not an integer or out of range|"
        );
        assert_eq!(
            t.text("MOVE c 2147483648"),
            "-ERR value is out of range, value must between -2147483648 and 2147483647|"
        );
        assert_eq!(t.text("MOVE nokey 1"), ":0|");
        assert_eq!(t.text("MOVE c 1"), ":1|");
        assert_eq!(t.stream_cmds(), "MOVE c 1");
        t.run("SELECT 1");
        assert_eq!(t.text("PTTL c"), ":100000|");
        t.run("SET d other");
        t.run("SELECT 0");
        t.run("SET d mine");
        t.stream();
        assert_eq!(t.text("MOVE d 1"), ":0|");
        assert_eq!(t.stream_cmds(), "");
    }

    #[test]
    fn copy_options_errors_and_effects() {
        let mut t = TestEngine::new();
        t.run("SET c mine");
        t.run("SELECT 1");
        t.run("SET c other");
        t.run("SELECT 0");
        t.stream();
        let same = "-ERR source and destination objects are the same|";
        assert_eq!(t.text("COPY c c"), same);
        assert_eq!(t.text("COPY c c DB 0"), same);
        assert_eq!(t.text("COPY c c DB 1"), ":0|");
        assert_eq!(t.text("COPY c d DB"), "-ERR syntax error|");
        assert_eq!(t.text("COPY c d DB 16"), "-ERR DB index is out of range|");
        assert_eq!(
            t.text("COPY c d DB x"),
            "-ERR value is not an integer or out of range|"
        );
        assert_eq!(t.text("COPY c d foo"), "-ERR syntax error|");
        assert_eq!(
            t.text("COPY c d DB 16 foo"),
            "-ERR DB index is out of range|"
        );
        assert_eq!(t.text("COPY c d foo DB 16"), "-ERR syntax error|");
        assert_eq!(t.text("COPY nokey d"), ":0|");
        assert_eq!(t.stream_cmds(), "");
        assert_eq!(t.text("COPY c d REPLACE REPLACE"), ":1|");
        assert_eq!(t.text("COPY c d"), ":0|");
        assert_eq!(t.text("COPY c c DB 1 replace"), ":1|");
        assert_eq!(
            t.stream_cmds(),
            "SELECT 0\nCOPY c d REPLACE REPLACE\nCOPY c c DB 1 replace"
        );
        t.run("SELECT 1");
        assert_eq!(t.text("GET c"), "$4|mine|");
        // The TTL and the encoding are copied.
        t.run("SET r 123456789012345678901234567890123456789012345");
        t.run("SET i 12");
        t.run("PEXPIRE r 5000");
        t.run("COPY r r2");
        t.run("COPY i i2");
        assert_eq!(t.text("PTTL r2"), ":5000|");
        assert_eq!(t.text("OBJECT ENCODING r2"), "$3|raw|");
        assert_eq!(t.text("OBJECT ENCODING i2"), "$3|int|");
    }

    #[test]
    fn object_subcommands() {
        let mut t = TestEngine::new();
        t.run("SET k 100");
        t.run("SET big 10000");
        t.run("SET neg -1");
        t.run("SET e \"\"");
        t.run("SET s hello");
        assert_eq!(t.text("OBJECT ENCODING k"), "$3|int|");
        assert_eq!(t.text("OBJECT ENCODING e"), "$6|embstr|");
        assert_eq!(t.text("OBJECT ENCODING nokey"), "$-1|");
        assert_eq!(t.text("OBJECT REFCOUNT k"), ":2147483647|");
        assert_eq!(t.text("OBJECT REFCOUNT big"), ":1|");
        assert_eq!(t.text("OBJECT REFCOUNT neg"), ":1|");
        assert_eq!(t.text("OBJECT REFCOUNT s"), ":1|");
        assert_eq!(
            t.text("OBJECT ENCODING"),
            "-ERR wrong number of arguments for 'object|encoding' command|"
        );
        assert_eq!(
            t.text("OBJECT foo"),
            "-ERR unknown subcommand 'foo'. Try OBJECT HELP.|"
        );
        assert_eq!(
            t.text("OBJECT FREQ s"),
            "-ERR An LFU maxmemory policy is not selected, access frequency not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.|"
        );
        // Idle time: OBJECT itself does not touch; GET (a read lookup) does.
        t.now_ms += 10_000;
        assert_eq!(t.text("OBJECT IDLETIME s"), ":10|");
        assert_eq!(t.text("OBJECT IDLETIME s"), ":10|");
        assert_eq!(t.text("TYPE s"), "+string|");
        assert_eq!(t.text("TTL s"), ":-1|");
        assert_eq!(t.text("OBJECT IDLETIME s"), ":10|");
        assert_eq!(t.text("TOUCH s"), ":1|");
        assert_eq!(t.text("OBJECT IDLETIME s"), ":0|");
        // Shared integers share one access time: touching another key holding 100 counts.
        t.run("SET k2 100");
        t.now_ms += 3_000;
        t.run("TOUCH k2");
        t.now_ms += 2_000;
        assert_eq!(t.text("OBJECT IDLETIME k"), ":2|");
        // Under an LRU policy with maxmemory, integers are not shared.
        t.eng.conf.maxmemory = 100 << 20;
        t.eng.conf.maxmemory_policy = "allkeys-lru".into();
        assert_eq!(t.text("OBJECT REFCOUNT k"), ":1|");
        t.eng.conf.maxmemory_policy = "allkeys-random".into();
        assert_eq!(t.text("OBJECT REFCOUNT k"), ":2147483647|");
    }

    #[test]
    fn object_under_lfu() {
        let mut t = TestEngine::new();
        t.eng.conf.maxmemory_policy = "allkeys-lfu".into();
        t.run("SET s hello");
        assert_eq!(t.text("OBJECT FREQ s"), ":5|");
        t.run("GET s");
        // GET uses its own lookup in strings.rs; TOUCH certainly counts.
        t.run("TOUCH s");
        let f = t.text("OBJECT FREQ s");
        assert!(f == ":6|" || f == ":7|", "{f}");
        assert_eq!(
            t.text("OBJECT IDLETIME s"),
            "-ERR An LFU maxmemory policy is selected, idle time not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.|"
        );
        // One decay step per minute.
        t.now_ms += 3 * 60_000;
        let f = t.text("OBJECT FREQ s");
        assert!(f == ":3|" || f == ":4|", "{f}");
    }

    #[test]
    fn object_help_and_resp3() {
        let mut t = TestEngine::new();
        let help = t.text("object help");
        assert!(help.starts_with(
            "*15|+OBJECT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:|+ENCODING <key>|"
        ));
        assert!(help.ends_with("+HELP|+    Prints this help.|"));
        t.run("HELLO 3");
        assert_eq!(t.text("OBJECT ENCODING nokey"), "_|");
        assert_eq!(t.text("OBJECT REFCOUNT nokey"), "_|");
    }

    #[test]
    fn keyspace_hits_and_misses_like_redis() {
        // Redis 7.0.15 counted hits 9, misses 3 for this sequence (INFO stats after
        // CONFIG RESETSTAT).
        let mut t = TestEngine::new();
        t.run("SET a 1");
        t.run("SET b 1");
        let (h0, m0) = (t.eng.stats.keyspace_hits, t.eng.stats.keyspace_misses);
        for c in [
            "OBJECT ENCODING a",
            "OBJECT ENCODING zz",
            "TYPE a",
            "EXISTS a zz",
            "TTL a",
            "TOUCH a zz",
            "COPY a c",
            "SCAN 0 TYPE string",
            "RENAME a d",
            "MOVE d 1",
            "EXPIRE b 10",
            "PERSIST b",
            "KEYS *",
            "RANDOMKEY",
            "DEL c",
        ] {
            t.run(c);
        }
        assert_eq!(t.eng.stats.keyspace_hits - h0, 9);
        assert_eq!(t.eng.stats.keyspace_misses - m0, 3);
    }
}
