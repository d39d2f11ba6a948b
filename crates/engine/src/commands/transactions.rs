//! MULTI EXEC DISCARD WATCH UNWATCH (Redis 7.0 multi.c).

use crate::client::{Client, WatchedKey};
use crate::ctx::Ctx;
use crate::table::Handler;
use crate::table::Lookup;
use crate::Engine;
use bytes::Bytes;

pub fn multi(ctx: &mut Ctx<'_>, _argv: &[Bytes]) {
    if ctx.client.multi.is_some() {
        ctx.error("ERR MULTI calls can not be nested");
        return;
    }
    ctx.client.multi = Some(Vec::new());
    ctx.client.multi_dirty = false;
    ctx.ok();
}

pub fn discard(ctx: &mut Ctx<'_>, _argv: &[Bytes]) {
    if ctx.client.multi.is_none() {
        ctx.error("ERR DISCARD without MULTI");
        return;
    }
    discard_transaction(ctx.eng, ctx.client);
    ctx.ok();
}

fn discard_transaction(eng: &mut Engine, c: &mut Client) {
    c.multi = None;
    c.multi_dirty = false;
    unwatch_all(eng, c);
}

pub fn exec(ctx: &mut Ctx<'_>, _argv: &[Bytes]) {
    let Some(queue) = ctx.client.multi.take() else {
        ctx.error("ERR EXEC without MULTI");
        return;
    };
    if ctx.client.multi_dirty {
        ctx.error(crate::errors::EXECABORT);
        discard_transaction(ctx.eng, ctx.client);
        return;
    }
    if ctx.client.watch_dirty || watched_key_expired(ctx) {
        ctx.client.out.null_array();
        discard_transaction(ctx.eng, ctx.client);
        return;
    }
    // Keys can't be invalidated by our own commands from here on: unwatch first (Redis does
    // the same, so a transaction that touches its own watched keys still commits).
    unwatch_all(ctx.eng, ctx.client);
    ctx.client.multi_dirty = false;
    ctx.client.out.array_len(queue.len());
    let table = ctx.eng.table.clone();
    let now = ctx.now_ms;
    for argv in queue {
        match table.lookup(&argv) {
            Lookup::Found(cmd) => ctx.eng.call(ctx.client, cmd, &argv, now, true),
            // Validated when queued; the table does not change at run time.
            _ => unreachable!("queued command vanished from the table"),
        }
    }
}

/// A watched key that was alive at WATCH time and has logically expired since
/// (Redis 7.0.15 `isWatchedKeyExpired`).
fn watched_key_expired(ctx: &Ctx<'_>) -> bool {
    ctx.client
        .watched
        .iter()
        .any(|w| !w.expired && ctx.key_is_expired(w.db, &w.key))
}

pub fn watch(ctx: &mut Ctx<'_>, argv: &[Bytes]) {
    if ctx.client.multi.is_some() {
        ctx.error("ERR WATCH inside MULTI is not allowed");
        return;
    }
    // A dirty client need not watch more: EXEC will fail anyway (Redis 7.0 watchCommand).
    if ctx.client.watch_dirty {
        ctx.ok();
        return;
    }
    let db = ctx.client.db;
    for key in &argv[1..] {
        if ctx
            .client
            .watched
            .iter()
            .any(|w| w.db == db && w.key[..] == key[..])
        {
            continue;
        }
        let expired = ctx.key_is_expired(db, key);
        ctx.eng
            .watched
            .entry((db, key.to_vec()))
            .or_default()
            .push(ctx.client.id);
        ctx.client.watched.push(WatchedKey {
            db,
            key: key.to_vec(),
            expired,
        });
    }
    ctx.ok();
}

pub fn unwatch(ctx: &mut Ctx<'_>, _argv: &[Bytes]) {
    unwatch_all(ctx.eng, ctx.client);
    ctx.ok();
}

pub fn unwatch_all(eng: &mut Engine, c: &mut Client) {
    for w in std::mem::take(&mut c.watched) {
        let k = (w.db, w.key);
        if let Some(v) = eng.watched.get_mut(&k) {
            v.retain(|&id| id != c.id);
            if v.is_empty() {
                eng.watched.remove(&k);
            }
        }
    }
    c.watch_dirty = false;
}

/// `touchWatchedKey`: every client watching (db, key), the caller included, fails its EXEC.
pub fn touch_watched_key(eng: &mut Engine, current: &mut Client, db: usize, key: &[u8]) {
    if eng.watched.is_empty() {
        return;
    }
    let Some(ids) = eng.watched.get(&(db, key.to_vec())) else {
        return;
    };
    let exists = eng.dbs[db].get_raw(key).is_some();
    for &id in ids {
        let c = if id == current.id {
            &mut *current
        } else if let Some(c) = eng.clients.get_mut(&id) {
            &mut **c
        } else {
            continue;
        };
        if let Some(w) = c
            .watched
            .iter_mut()
            .find(|w| w.db == db && w.key[..] == *key)
        {
            if w.expired {
                // Already expired when watched: its deletion is no logical change.
                if !exists {
                    w.expired = false;
                    continue;
                }
            }
        }
        c.watch_dirty = true;
    }
}

/// `touchAllWatchedKeysInDb`: a flush or swap invalidates watchers of keys that existed.
pub fn touch_all_watched_in_db(
    eng: &mut Engine,
    current: &mut Client,
    db: usize,
    other: Option<usize>,
) {
    if eng.watched.is_empty() {
        return;
    }
    let keys: Vec<Vec<u8>> = eng
        .watched
        .keys()
        .filter(|(d, _)| *d == db)
        .map(|(_, k)| k.clone())
        .collect();
    for k in keys {
        let exists = eng.dbs[db].get_raw(&k).is_some()
            || other.is_some_and(|o| eng.dbs[o].get_raw(&k).is_some());
        if exists {
            touch_watched_key(eng, current, db, &k);
        }
    }
}

/// This family's commands (see `commands::all`).
pub static HANDLERS: &[(&str, Handler)] = &[
    ("multi", multi),
    ("exec", exec),
    ("discard", discard),
    ("watch", watch),
    ("unwatch", unwatch),
];
