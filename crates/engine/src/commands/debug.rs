//! DEBUG: the subcommands tests and operators use (Redis 7.0 debug.c). Refused unless
//! `enable-debug-command` allows it (checked at admission, see exec.rs).

use crate::ctx::Ctx;
use crate::errors;
use crate::table::Handler;
use bytes::Bytes;
use redoubt_keyspace::{StrVal, Value};

const HELP: &[&str] = &[
    "AOF-FLUSH-SLEEP <microsec>",
    "    Server will sleep before flushing the AOF, this is used for testing.",
    "ASSERT",
    "    Crash by assertion failed.",
    "CHANGE-REPL-ID",
    "    Change the replication IDs of the instance.",
    "    Dangerous: should be used only for testing the replication subsystem.",
    "CONFIG-REWRITE-FORCE-ALL",
    "    Like CONFIG REWRITE but writes all configuration options, including",
    "    keywords not listed in original configuration file or default values.",
    "CRASH-AND-RECOVER [<milliseconds>]",
    "    Hard crash and restart after a <milliseconds> delay (default 0).",
    "DIGEST",
    "    Output a hex signature representing the current DB content.",
    "DIGEST-VALUE <key> [<key> ...]",
    "    Output a hex signature of the values of all the specified keys.",
    "ERROR <string>",
    "    Return a Redis protocol error with <string> as message. Useful for clients",
    "    unit tests to simulate Redis errors.",
    "LEAK <string>",
    "    Create a memory leak of the input string.",
    "LOG <message>",
    "    Write <message> to the server log.",
    "HTSTATS <dbid>",
    "    Return hash table statistics of the specified Redis database.",
    "HTSTATS-KEY <key>",
    "    Like HTSTATS but for the hash table stored at <key>'s value.",
    "LOADAOF",
    "    Flush the AOF buffers on disk and reload the AOF in memory.",
    "REPLICATE <string>",
    "    Replicates the provided string to replicas, allowing data divergence.",
    "MALLCTL <key> [<val>]",
    "    Get or set a malloc tuning integer.",
    "MALLCTL-STR <key> [<val>]",
    "    Get or set a malloc tuning string.",
    "OBJECT <key>",
    "    Show low level info about `key` and associated value.",
    "DROP-CLUSTER-PACKET-FILTER <packet-type>",
    "    Drop all packets that match the filtered type. Set to -1 allow all packets.",
    "OOM",
    "    Crash the server simulating an out-of-memory error.",
    "PANIC",
    "    Crash the server simulating a panic.",
    "POPULATE <count> [<prefix>] [<size>]",
    "    Create <count> string keys named key:<num>. If <prefix> is specified then",
    "    it is used instead of the 'key' prefix. These are not propagated to",
    "    replicas. Cluster slots are not respected so keys not belonging to the",
    "    current node can be created in cluster mode.",
    "PROTOCOL <type>",
    "    Reply with a test value of the specified type. <type> can be: string,",
    "    integer, double, bignum, null, array, set, map, attrib, push, verbatim,",
    "    true, false.",
    "RELOAD [option ...]",
    "    Save the RDB on disk and reload it back to memory. Valid <option> values:",
    "    * MERGE: conflicting keys will be loaded from RDB.",
    "    * NOFLUSH: the existing database will not be removed before load, but",
    "      conflicting keys will generate an exception and kill the server.",
    "    * NOSAVE: the database will be loaded from an existing RDB file.",
    "    Examples:",
    "    * DEBUG RELOAD: verify that the server is able to persist, flush and reload",
    "      the database.",
    "    * DEBUG RELOAD NOSAVE: replace the current database with the contents of an",
    "      existing RDB file.",
    "    * DEBUG RELOAD NOSAVE NOFLUSH MERGE: add the contents of an existing RDB",
    "      file to the database.",
    "RESTART [<milliseconds>]",
    "    Graceful restart: save config, db, restart after a <milliseconds> delay (default 0).",
    "SDSLEN <key>",
    "    Show low level SDS string info representing `key` and value.",
    "SEGFAULT",
    "    Crash the server with sigsegv.",
    "SET-ACTIVE-EXPIRE <0|1>",
    "    Setting it to 0 disables expiring keys in background when they are not",
    "    accessed (otherwise the Redis behavior). Setting it to 1 reenables back the",
    "    default.",
    "QUICKLIST-PACKED-THRESHOLD <size>",
    "    Sets the threshold for elements to be inserted as plain vs packed nodes",
    "    Default value is 1GB, allows values up to 4GB. Setting to 0 restores to default.",
    "SET-SKIP-CHECKSUM-VALIDATION <0|1>",
    "    Enables or disables checksum checks for RDB files and RESTORE's payload.",
    "SLEEP <seconds>",
    "    Stop the server for <seconds>. Decimals allowed.",
    "STRINGMATCH-TEST",
    "    Run a fuzz tester against the stringmatchlen() function.",
    "STRUCTSIZE",
    "    Return the size of different Redis core C structures.",
    "LISTPACK <key>",
    "    Show low level info about the listpack encoding of <key>.",
    "QUICKLIST <key> [<0|1>]",
    "    Show low level info about the quicklist encoding of <key>.",
    "    The optional argument (0 by default) sets the level of detail",
    "CLIENT-EVICTION",
    "    Show low level client eviction pools info (maxmemory-clients).",
    "PAUSE-CRON <0|1>",
    "    Stop periodic cron job processing.",
    "REPLYBUFFER PEAK-RESET-TIME <NEVER||RESET|time>",
    "    Sets the time (in milliseconds) to wait between client reply buffer peak resets.",
    "    In case NEVER is provided the last observed peak will never be reset",
    "    In case RESET is provided the peak reset time will be restored to the default value",
    "REPLYBUFFER RESIZING <0|1>",
    "    Enable or disable the reply buffer resize cron job",
    "CLUSTERLINK KILL <to|from|all> <node-id>",
    "    Kills the link based on the direction to/from (both) with the provided node.",
];

/// Redis's `atof`/`atoi` leniency: a leading number, anything else reads as 0.
fn lenient_f64(arg: &[u8]) -> f64 {
    let s = String::from_utf8_lossy(arg);
    let t = s.trim_start();
    let end = t
        .char_indices()
        .take_while(|(i, c)| {
            c.is_ascii_digit() || *c == '.' || ((*c == '-' || *c == '+') && *i == 0)
        })
        .map(|(i, c)| i + c.len_utf8())
        .last()
        .unwrap_or(0);
    t[..end].parse().unwrap_or(0.0)
}

/// DEBUG RELOAD [MERGE] [NOFLUSH] [NOSAVE] (`debugCommand`): save (unless NOSAVE), empty
/// the dataset (unless NOFLUSH), load the file back. With NOFLUSH the file's keys join the
/// current ones; MERGE lets a file key replace a current one. Without MERGE a key present
/// on both sides makes Redis 7.0 panic ("Duplicated key found in RDB file"); we refuse the
/// reload with its error reply before changing anything, and log the key as Redis does.
fn reload(ctx: &mut Ctx<'_>, opts: &[Bytes]) {
    let (mut save, mut flush, mut merge) = (true, true, false);
    for o in opts {
        if o.eq_ignore_ascii_case(b"NOSAVE") {
            save = false;
        } else if o.eq_ignore_ascii_case(b"NOFLUSH") {
            flush = false;
        } else if o.eq_ignore_ascii_case(b"MERGE") {
            merge = true;
        } else {
            ctx.error("ERR DEBUG RELOAD only supports the MERGE, NOFLUSH and NOSAVE options.");
            return;
        }
    }
    let now = ctx.now_ms;
    if save {
        if let Err(e) = ctx.eng.save_rdb(now) {
            ctx.eng.log_warning(&e);
            ctx.error("ERR");
            return;
        }
    }
    const LOAD_FAILED: &str = "ERR Error trying to load the RDB dump, check server logs.";
    let name = ctx.eng.config.get_str("dbfilename").into_owned();
    let hooks = ctx.eng.hooks.clone();
    let bytes = match hooks.read_rdb(&name) {
        Ok(b) => b,
        Err(e) => {
            ctx.eng.log_warning(&e);
            if flush {
                // Redis empties the dataset before finding the file missing.
                empty_data(ctx);
            }
            ctx.error(LOAD_FAILED);
            return;
        }
    };
    if flush {
        empty_data(ctx);
        match ctx.eng.load_rdb_image(&bytes, now) {
            Ok(_) => {}
            Err(e) => {
                ctx.eng.log_warning(&format!("{name}: {e}"));
                ctx.error(LOAD_FAILED);
                return;
            }
        }
    } else {
        let loaded =
            ctx.eng
                .rdb_loader(now)
                .load(&bytes, &crate::loading::LoadProgress::default(), 0);
        let (fresh, st) = match loaded {
            Ok(x) => x,
            Err(e) => {
                ctx.eng.log_warning(&format!("{name}: {e}"));
                ctx.error(LOAD_FAILED);
                return;
            }
        };
        if !merge {
            for (i, db) in fresh.iter().enumerate() {
                if let Some(e) = db.iter().find(|e| ctx.eng.dbs[i].find(&e.key).is_some()) {
                    let msg = format!(
                        "RDB has duplicated key '{}' in DB {i}",
                        String::from_utf8_lossy(&e.key)
                    );
                    ctx.eng.log_warning(&msg);
                    ctx.error(LOAD_FAILED);
                    return;
                }
            }
        }
        merge_dbs(ctx, fresh);
        ctx.eng.rdb.last_load_keys_loaded = st.keys_loaded;
        ctx.eng.rdb.last_load_keys_expired = st.keys_expired;
    }
    ctx.eng.log_warning("DB reloaded by DEBUG RELOAD");
    ctx.ok();
}

/// `emptyData`: every watcher of a key that existed sees it change, as FLUSHALL does.
fn empty_data(ctx: &mut Ctx<'_>) {
    for db in 0..ctx.eng.dbs.len() {
        crate::commands::transactions::touch_all_watched_in_db(ctx.eng, ctx.client, db, None);
    }
    for db in &mut ctx.eng.dbs {
        db.clear();
    }
}

/// Moves every key of `fresh` into the dataset, a file key replacing a current one
/// (`dbSyncDelete` + `dbAddRDBLoad` under RDBFLAGS_ALLOW_DUP).
fn merge_dbs(ctx: &mut Ctx<'_>, mut fresh: Vec<redoubt_keyspace::Db>) {
    for (i, src) in fresh.iter_mut().enumerate() {
        let keys: Vec<Vec<u8>> = src.iter().map(|e| e.key.to_vec()).collect();
        let dst = &mut ctx.eng.dbs[i];
        for key in keys {
            let Some(e) = src.remove(&key) else {
                continue;
            };
            dst.remove(&key);
            dst.insert_new(&key, e.value);
            if e.expire_at_ms != redoubt_keyspace::NO_EXPIRE {
                dst.set_expire(&key, e.expire_at_ms);
            }
            if let Some(d) = dst.get_raw_mut(&key) {
                d.lru = e.lru;
            }
        }
    }
}

fn object(ctx: &mut Ctx<'_>, key: &[u8]) {
    let db = ctx.client.db;
    let now = ctx.now_ms;
    let policy = ctx.eng.lru_policy();
    let Some(e) = ctx.eng.dbs[db].get_raw(key) else {
        ctx.error(errors::NO_SUCH_KEY);
        return;
    };
    let addr = std::ptr::from_ref(e) as usize;
    let shared = crate::lru::shared_index(&e.value, policy);
    let head = format!(
        "Value at:{:#x} refcount:{} encoding:{} serializedlength:{}",
        addr,
        if shared.is_some() {
            crate::lru::OBJ_SHARED_REFCOUNT
        } else {
            1
        },
        e.value.encoding_name(),
        ctx.eng.serialized_length(&e.value),
    );
    // Shared integers carry the shared object's access word, as in Redis.
    let word = ctx.eng.access_word(e.lru, shared, now);
    let line = format!(
        "{head} lru:{} lru_seconds_idle:{}",
        word & crate::lru::LRU_CLOCK_MAX,
        crate::lru::estimate_idle_ms(word, now) / 1000
    );
    ctx.out().simple(&line);
}

fn populate(ctx: &mut Ctx<'_>, argv: &[Bytes]) {
    if argv.len() > 5 {
        ctx.error_bytes(&errors::subcommand_syntax(&argv[1], "debug"));
        return;
    }
    let Some(count) = ctx.parse_at_least(&argv[2], 0, errors::NOT_POSITIVE) else {
        return;
    };
    let size = match argv.get(4) {
        Some(a) => match ctx.parse_at_least(a, 0, errors::NOT_POSITIVE) {
            Some(n) => n as usize,
            None => return,
        },
        None => 0,
    };
    let prefix: &[u8] = argv.get(3).map_or(&b"key"[..], |p| &p[..]);
    let db = ctx.client.db;
    for j in 0..count {
        let mut key = prefix.to_vec();
        key.extend_from_slice(format!(":{j}").as_bytes());
        if ctx.lookup_write(&key).is_some() {
            continue;
        }
        let base = format!("value:{j}").into_bytes();
        let val = if size == 0 {
            base
        } else {
            let mut v = vec![0u8; size];
            let n = base.len().min(size);
            v[..n].copy_from_slice(&base[..n]);
            v
        };
        // createStringObject: never the int encoding.
        ctx.eng.dbs[db].insert_new(&key, Value::Str(StrVal::no_int(&val)));
        ctx.signal_modified(db, &key);
    }
    // Like Redis, DEBUG POPULATE is not propagated (its help says so).
    ctx.ok();
}

fn protocol(ctx: &mut Ctx<'_>, kind: &[u8]) {
    let out = ctx.out();
    match kind.to_ascii_lowercase().as_slice() {
        b"string" => out.bulk(b"Hello World"),
        b"integer" => out.int(12345),
        // Redis's literal, not an approximation of pi.
        #[allow(clippy::approx_constant)]
        b"double" => out.double(3.141),
        b"bignum" => out.bignum("1234567999999999999999999999999999999"),
        b"null" => out.null(),
        b"array" => {
            out.array_len(3);
            (0..3).for_each(|j| out.int(j));
        }
        b"set" => {
            out.set_len(3);
            (0..3).for_each(|j| out.int(j));
        }
        b"map" => {
            out.map_len(3);
            for j in 0..3 {
                out.int(j);
                out.bool(j == 1);
            }
        }
        b"attrib" => {
            if out.is_resp3() {
                out.attribute_len(1);
                out.bulk(b"key-popularity");
                out.array_len(2);
                out.bulk(b"key:123");
                out.int(90);
            }
            out.bulk(b"Some real reply following the attribute");
        }
        b"push" => {
            if !out.is_resp3() {
                out.error("ERR RESP2 is not supported by this command");
                return;
            }
            out.push_len(2);
            out.bulk(b"server-cpu-usage");
            out.int(42);
            out.bulk(b"Some real reply following the push reply");
        }
        b"true" => out.bool(true),
        b"false" => out.bool(false),
        b"verbatim" => out.verbatim(b"This is a verbatim\nstring", "txt"),
        _ => out.error("ERR Wrong protocol type name. Please use one of the following: string|integer|double|bignum|null|array|set|map|attrib|push|verbatim|true|false"),
    }
}

pub fn debug(ctx: &mut Ctx<'_>, argv: &[Bytes]) {
    let sub = argv[1].to_ascii_lowercase();
    match (sub.as_slice(), argv.len()) {
        (b"help", 2) => {
            let out = ctx.out();
            out.array_len(HELP.len() + 3);
            out.simple("DEBUG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:");
            HELP.iter().for_each(|l| out.simple(l));
            out.simple("HELP");
            out.simple("    Prints this help.");
        }
        (b"digest", 2) => {
            let d = crate::digest::dataset_digest(ctx.eng);
            ctx.out().simple(&crate::digest::hex(&d));
        }
        (b"digest-value", _) => {
            let db = ctx.client.db;
            let mut lines = Vec::new();
            for key in &argv[2..] {
                let mut d = [0u8; 20];
                if let Some(e) = ctx.eng.dbs[db].get_raw(key) {
                    crate::digest::value_digest(&mut d, e);
                }
                lines.push(crate::digest::hex(&d));
            }
            let out = ctx.out();
            out.array_len(lines.len());
            for l in lines {
                out.simple(&l);
            }
        }
        (b"object", 3) => object(ctx, &argv[2]),
        (b"reload", _) => reload(ctx, &argv[2..]),
        (b"populate", n) if n >= 3 => populate(ctx, argv),
        (b"protocol", 3) => protocol(ctx, &argv[2]),
        (b"error", 3) => {
            let msg = String::from_utf8_lossy(&argv[2]).into_owned();
            ctx.error(&msg);
        }
        (b"log", 3) => {
            ctx.eng
                .log_requests
                .push(String::from_utf8_lossy(&argv[2]).into_owned());
            ctx.ok();
        }
        (b"sleep", 3) => {
            // Like Redis, DEBUG SLEEP blocks the whole server: that is its purpose.
            let secs = lenient_f64(&argv[2]);
            if secs > 0.0 && secs.is_finite() {
                std::thread::sleep(std::time::Duration::from_secs_f64(secs.min(3600.0)));
            }
            ctx.ok();
        }
        (b"set-active-expire", 3) => {
            ctx.eng.conf.active_expire_enabled = lenient_f64(&argv[2]) as i64 != 0;
            ctx.ok();
        }
        _ => ctx.error_bytes(&errors::subcommand_syntax(&argv[1], "debug")),
    }
}

/// This family's commands (see `commands::all`).
pub static HANDLERS: &[(&str, Handler)] = &[("debug", debug)];
