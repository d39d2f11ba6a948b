//! Server-level commands: DBSIZE FLUSHDB FLUSHALL SWAPDB TIME MONITOR DEBUG SLOWLOG SHUTDOWN
//! ROLE LASTSAVE, and the engine services they share (monitor feed, evictions).

use crate::client::Client;
use crate::ctx::Ctx;
use crate::errors;
use crate::table::Handler;
use crate::Engine;
use bytes::Bytes;

/// Redis's `sdscatrepr`: a quoted, escaped rendering of binary data (MONITOR, logs).
pub fn repr(s: &[u8]) -> String {
    let mut out = Vec::with_capacity(s.len() + 2);
    redoubt_config::repr(&mut out, s);
    // repr escapes every byte outside printable ASCII, so this never fails.
    String::from_utf8(out).unwrap_or_default()
}

/// Sends a command to every MONITOR client, in Redis's line format:
/// `+1700000000.123456 [0 127.0.0.1:5000] "set" "k" "v"`.
pub fn feed_monitors(eng: &mut Engine, client: &Client, argv: &[Bytes], now_ms: i64) {
    // Microseconds like Redis's `ustime()`; the server lends a wall clock for this line only.
    let now_us = (eng.info.wall_us)().max(now_ms * 1000);
    let mut line = format!(
        "{}.{:06} [{} {}]",
        now_us / 1_000_000,
        now_us % 1_000_000,
        client.db,
        client.addr
    );
    for a in argv {
        line.push(' ');
        line.push_str(&repr(a));
    }
    for id in eng.monitors.clone() {
        if id == client.id {
            continue;
        }
        if let Some(mut m) = eng.clients.remove(&id) {
            m.out.simple(&line);
            if eng.check_output_limits(&mut m, now_ms) {
                eng.stats.client_output_buffer_limit_disconnections += 1;
            }
            m.io.notify.notify();
            eng.clients.insert(id, m);
        }
    }
}

pub fn monitor(ctx: &mut Ctx<'_>, _argv: &[Bytes]) {
    if ctx.client.monitor {
        ctx.ok();
        return;
    }
    ctx.client.monitor = true;
    ctx.eng.monitors.push(ctx.client.id);
    ctx.ok();
}

/// Frees memory per `maxmemory-policy` until under `maxmemory` (see `crate::evict`).
/// Returns true when the server is still over the limit.
pub fn perform_evictions(eng: &mut Engine, _now_ms: i64) -> bool {
    // A replica's dataset is its master's: under `replica-ignore-maxmemory` it never evicts
    // (an eviction would also add our own DEL to a stream that must stay the master's).
    if eng.is_replica() && eng.config.get_bool("replica-ignore-maxmemory") {
        return false;
    }
    let used = eng.info.used_memory_fast;
    eng.evict_until_under(&used)
}

pub fn dbsize(ctx: &mut Ctx<'_>, _argv: &[Bytes]) {
    let n = ctx.db().len();
    ctx.out().int(n as i64);
}

/// Parses the optional ASYNC|SYNC flag of FLUSHDB/FLUSHALL (Redis's
/// `getFlushCommandFlags`): whether to free lazily. Without a flag,
/// `lazyfree-lazy-user-flush` decides.
fn flush_flag(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> Option<bool> {
    match argv.len() {
        1 => Some(ctx.eng.conf.lazyfree_lazy_user_flush),
        2 if argv[1].eq_ignore_ascii_case(b"ASYNC") => Some(true),
        2 if argv[1].eq_ignore_ascii_case(b"SYNC") => Some(false),
        _ => {
            ctx.error(errors::SYNTAX);
            None
        }
    }
}

pub fn flushdb(ctx: &mut Ctx<'_>, argv: &[Bytes]) {
    let Some(lazy) = flush_flag(ctx, argv) else {
        return;
    };
    let db = ctx.client.db;
    crate::commands::transactions::touch_all_watched_in_db(ctx.eng, ctx.client, db, None);
    let n = ctx.eng.dbs[db].len() as u64;
    ctx.eng.empty_db(db, lazy);
    ctx.dirty(n);
    // Propagated as the user wrote it (FLUSHDB [ASYNC|SYNC]), as Redis does.
    let args: Vec<&[u8]> = argv.iter().map(|a| &a[..]).collect();
    ctx.propagate(&args);
    ctx.ok();
}

pub fn flushall(ctx: &mut Ctx<'_>, argv: &[Bytes]) {
    let Some(lazy) = flush_flag(ctx, argv) else {
        return;
    };
    // `flushAllDataAndResetRDB`: a BGSAVE in progress is killed (its image would bring the
    // flushed data back), and with save points the empty dataset is saved right away.
    if ctx.eng.bgsave_kill() {
        ctx.eng
            .log_warning("Background saving terminated by signal 10");
    }
    let mut n = 0;
    for db in 0..ctx.eng.dbs.len() {
        crate::commands::transactions::touch_all_watched_in_db(ctx.eng, ctx.client, db, None);
        n += ctx.eng.dbs[db].len() as u64;
        ctx.eng.empty_db(db, lazy);
    }
    // `emptyData` -> `flushSlaveKeysWithExpireList`.
    ctx.eng.repl.own_expires.clear();
    ctx.dirty(n);
    if !ctx.eng.save_points().is_empty() {
        let now = ctx.now_ms;
        if let Err(e) = ctx.eng.save_rdb(now) {
            ctx.eng.log_warning(&e);
        }
    }
    ctx.dirty(1);
    let args: Vec<&[u8]> = argv.iter().map(|a| &a[..]).collect();
    ctx.propagate(&args);
    ctx.ok();
}

pub fn swapdb(ctx: &mut Ctx<'_>, argv: &[Bytes]) {
    let parse = |a: &[u8]| redoubt_keyspace::num::string2ll(a).and_then(|n| i32::try_from(n).ok());
    let Some(a) = parse(&argv[1]) else {
        ctx.error("ERR invalid first DB index");
        return;
    };
    let Some(b) = parse(&argv[2]) else {
        ctx.error("ERR invalid second DB index");
        return;
    };
    let n = ctx.eng.dbs.len() as i32;
    if a < 0 || a >= n || b < 0 || b >= n {
        ctx.error(errors::DB_INDEX);
        return;
    }
    let (a, b) = (a as usize, b as usize);
    if a != b {
        crate::commands::transactions::touch_all_watched_in_db(ctx.eng, ctx.client, a, Some(b));
        crate::commands::transactions::touch_all_watched_in_db(ctx.eng, ctx.client, b, Some(a));
        ctx.eng.dbs.swap(a, b);
        // Redis 7.0's dbSwapDatabases ends with scanDatabaseForReadyKeys on both: clients
        // blocked on a key that now holds data are served after this command.
        ctx.eng.scan_database_for_ready_keys(a);
        ctx.eng.scan_database_for_ready_keys(b);
    }
    ctx.dirty(1);
    let args: Vec<&[u8]> = argv.iter().map(|a| &a[..]).collect();
    ctx.propagate(&args);
    ctx.ok();
}

pub fn time(ctx: &mut Ctx<'_>, _argv: &[Bytes]) {
    let now_us = ctx.now_ms * 1000;
    let out = ctx.out();
    out.array_len(2);
    out.bulk_int(now_us / 1_000_000);
    out.bulk_int(now_us % 1_000_000);
}

pub fn slowlog_get(ctx: &mut Ctx<'_>, argv: &[Bytes]) {
    if argv.len() > 3 {
        let msg = format!(
            "ERR unknown subcommand or wrong number of arguments for '{}'. Try SLOWLOG HELP.",
            errors::c_str_trunc(&argv[1], 128)
        );
        ctx.error(&msg);
        return;
    }
    let mut count = 10usize;
    if let Some(arg) = argv.get(2) {
        match redoubt_keyspace::num::string2ll(arg) {
            Some(-1) => count = usize::MAX,
            Some(n) if n >= 0 => count = usize::try_from(n).unwrap_or(usize::MAX),
            _ => {
                ctx.error("ERR count should be greater than or equal to -1");
                return;
            }
        }
    }
    let entries: Vec<crate::slowlog::SlowLogEntry> = ctx
        .eng
        .slowlog
        .entries
        .iter()
        .take(count)
        .cloned()
        .collect();
    let out = ctx.out();
    out.array_len(entries.len());
    for e in entries {
        out.array_len(6);
        out.int(e.id as i64);
        out.int(e.time_s);
        out.int(e.duration_us as i64);
        out.array_len(e.argv.len());
        for a in &e.argv {
            out.bulk(a);
        }
        out.bulk_str(&e.peer);
        out.bulk(&e.name);
    }
}

pub fn slowlog_len(ctx: &mut Ctx<'_>, _argv: &[Bytes]) {
    let n = ctx.eng.slowlog.entries.len();
    ctx.out().int(n as i64);
}

pub fn slowlog_reset(ctx: &mut Ctx<'_>, _argv: &[Bytes]) {
    ctx.eng.slowlog.reset();
    ctx.ok();
}

const SLOWLOG_HELP: &[&str] = &[
    "SLOWLOG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "GET [<count>]",
    "    Return top <count> entries from the slowlog (default: 10, -1 mean all).",
    "    Entries are made of:",
    "    id, timestamp, time in microseconds, arguments array, client IP and port,",
    "    client name",
    "LEN",
    "    Return the length of the slowlog.",
    "RESET",
    "    Reset the slowlog.",
];

pub fn slowlog_help(ctx: &mut Ctx<'_>, _argv: &[Bytes]) {
    crate::commands::client::reply_help(ctx, SLOWLOG_HELP);
}

/// SHUTDOWN [NOSAVE|SAVE] [NOW] [FORCE] [ABORT] (Redis 7.0 `shutdownCommand`).
///
/// A successful SHUTDOWN sends no reply: the server closes every connection and exits
/// once the batch ends. Without replicas there is never a shutdown waiting on them, so
/// ABORT always finds none in progress.
pub fn shutdown(ctx: &mut Ctx<'_>, argv: &[Bytes]) {
    let (mut nosave, mut save, mut now, mut force, mut abort) = (false, false, false, false, false);
    for a in &argv[1..] {
        let a = a.to_ascii_lowercase();
        match a.as_slice() {
            b"nosave" => nosave = true,
            b"save" => save = true,
            b"now" => now = true,
            b"force" => force = true,
            b"abort" => abort = true,
            _ => {
                ctx.error(errors::SYNTAX);
                return;
            }
        }
    }
    if (abort && (nosave || save || now || force)) || (nosave && save) {
        ctx.error(errors::SYNTAX);
        return;
    }
    if abort {
        ctx.error("ERR No shutdown in progress.");
        return;
    }
    let save_opt = if nosave {
        Some(false)
    } else if save {
        Some(true)
    } else {
        None
    };
    let now_ms = ctx.now_ms;
    if !ctx.eng.shutdown_save(save_opt, force, now_ms) {
        ctx.error("ERR Errors trying to SHUTDOWN. Check logs.");
        return;
    }
    ctx.eng.shutdown = Some(crate::ShutdownRequest {
        save: save_opt,
        now,
        force,
    });
    ctx.client.close_after_reply = true;
}

pub fn lastsave(ctx: &mut Ctx<'_>, _argv: &[Bytes]) {
    let t = ctx.eng.lastsave_s;
    ctx.out().int(t);
}

/// This family's commands (see `commands::all`).
pub static HANDLERS: &[(&str, Handler)] = &[
    ("slowlog|get", slowlog_get),
    ("slowlog|len", slowlog_len),
    ("slowlog|reset", slowlog_reset),
    ("slowlog|help", slowlog_help),
    ("shutdown", shutdown),
    ("lastsave", lastsave),
    ("dbsize", dbsize),
    ("flushdb", flushdb),
    ("flushall", flushall),
    ("swapdb", swapdb),
    ("time", time),
    ("monitor", monitor),
];
