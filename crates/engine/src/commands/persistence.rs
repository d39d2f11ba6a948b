//! Persistence commands: DUMP, RESTORE, SAVE (Redis 7.0 cluster.c `dumpCommand`,
//! `restoreCommand`; rdb.c `saveCommand`), and the engine's side of RDB files: building the
//! image, loading one, and the save bookkeeping INFO persistence reports. The bytes come
//! from `redoubt_persist`; the file itself is the server's (`ServerHooks::write_rdb`), so the
//! engine stays free of I/O.
//!
//! Effects: RESTORE is propagated as written, except that a relative TTL becomes absolute
//! (the TTL argument rewritten and ABSTTL appended, as Redis's `rewriteClientCommandArgument`
//! does); a RESTORE REPLACE whose TTL is already in the past deletes the old key and is
//! propagated as DEL (UNLINK with `lazyfree-lazy-server-del`). DUMP and SAVE change nothing.

use crate::ctx::Ctx;
use crate::errors;
use crate::lru;
use crate::table::Handler;
use crate::Engine;
use bytes::Bytes;
use redoubt_keyspace::Entry;
use redoubt_persist::rdb::decode::{self, LoadOptions, LoadStats};
use redoubt_persist::rdb::encode::{self, Aux, SaveOptions};
use redoubt_persist::rdb::{RdbError, Thresholds};

/// What INFO persistence reports about saves and loads.
#[derive(Debug, Clone)]
pub struct RdbState {
    /// `rdb_saves`: successful saves since startup.
    pub saves: u64,
    /// `rdb_last_bgsave_status` (a successful SAVE sets it to ok, as `rdbSave` does).
    pub last_status_ok: bool,
    pub last_load_keys_loaded: u64,
    pub last_load_keys_expired: u64,
    /// `rdb_last_bgsave_time_sec` (-1 before the first BGSAVE).
    pub last_bgsave_time_s: i64,
    /// `rdb_last_cow_size`: bytes the last BGSAVE copied before changes.
    pub last_cow_bytes: u64,
    /// `lastbgsave_try`: unix seconds of the last BGSAVE attempt (retry delay).
    pub bgsave_try_s: i64,
    /// `rdb_bgsave_scheduled`.
    pub bgsave_scheduled: bool,
    /// `aof_rewrite_scheduled`, `aof_rewrites`, `aof_last_bgrewrite_status`,
    /// `aof_rewrites_consecutive_failures`, `aof_last_rewrite_time_sec`, `aof_last_cow_size`.
    pub aof_rewrite_scheduled: bool,
    pub aof_rewrites: u64,
    pub aof_last_rewrite_ok: bool,
    pub aof_rewrite_failures: u64,
    pub aof_last_rewrite_time_s: i64,
    pub aof_last_cow_bytes: u64,
}

impl Default for RdbState {
    fn default() -> Self {
        RdbState {
            saves: 0,
            last_status_ok: true,
            last_load_keys_loaded: 0,
            last_load_keys_expired: 0,
            last_bgsave_time_s: -1,
            last_cow_bytes: 0,
            bgsave_try_s: 0,
            bgsave_scheduled: false,
            aof_rewrite_scheduled: false,
            aof_rewrites: 0,
            aof_last_rewrite_ok: true,
            aof_rewrite_failures: 0,
            aof_last_rewrite_time_s: -1,
            aof_last_cow_bytes: 0,
        }
    }
}

/// `objectSetLRUOrLFU`: the access word for a FREQ counter under an LFU policy, or for an
/// IDLE time in seconds under any other policy; `None` leaves the new-key word.
pub(crate) fn set_lru_or_lfu(
    lfu: bool,
    freq: Option<u8>,
    idle: Option<u64>,
    now_ms: i64,
) -> Option<u32> {
    if lfu {
        freq.map(|f| (lru::lfu_minutes(now_ms) << 8) | u32::from(f))
    } else {
        idle.map(|s| {
            let clock = i64::from(lru::lru_clock(now_ms));
            let mut abs = clock - s.min(1 << 40) as i64;
            if abs < 0 {
                abs = abs.rem_euclid(i64::from(lru::LRU_CLOCK_MAX));
            }
            abs as u32 & lru::LRU_CLOCK_MAX
        })
    }
}

fn int_conf(eng: &Engine, name: &str) -> usize {
    usize::try_from(eng.config.get_int(name)).unwrap_or(0)
}

impl Engine {
    pub fn log_notice(&self, msg: &str) {
        self.hooks.log(false, msg);
    }

    pub fn log_warning(&self, msg: &str) {
        self.hooks.log(true, msg);
    }

    /// The encoding thresholds loaded values are built with.
    pub fn rdb_thresholds(&self) -> Thresholds {
        Thresholds {
            hash_max_listpack_entries: int_conf(self, "hash-max-listpack-entries"),
            hash_max_listpack_value: int_conf(self, "hash-max-listpack-value"),
            set_max_intset_entries: int_conf(self, "set-max-intset-entries"),
            zset_max_listpack_entries: int_conf(self, "zset-max-listpack-entries"),
            zset_max_listpack_value: int_conf(self, "zset-max-listpack-value"),
            list_max_listpack_size: self.config.get_int("list-max-listpack-size"),
        }
    }

    pub fn rdb_compression(&self) -> bool {
        self.config.get_bool("rdbcompression")
    }

    fn list_fill(&self) -> i64 {
        self.config.get_int("list-max-listpack-size")
    }

    /// A value's DUMP payload (also DEBUG OBJECT's serialized length source).
    pub fn dump_payload(&self, v: &redoubt_keyspace::Value) -> Vec<u8> {
        encode::dump_payload(v, self.rdb_compression(), self.list_fill())
    }

    pub fn serialized_length(&self, v: &redoubt_keyspace::Value) -> usize {
        encode::serialized_length(v, self.rdb_compression(), self.list_fill())
    }

    /// The IDLE seconds or FREQ counter to save with a key, as `maxmemory-policy` decides
    /// (`rdbSaveKeyValuePair`): LRU policies save idle time, LFU ones the frequency.
    pub fn rdb_key_meta(&self, now_ms: i64) -> impl Fn(&Entry) -> (Option<u64>, Option<u8>) {
        let policy = &self.conf.maxmemory_policy;
        let save_lru = policy.ends_with("-lru");
        let save_lfu = policy.ends_with("-lfu");
        let decay = self.conf.lfu_decay_time;
        move |e: &Entry| -> (Option<u64>, Option<u8>) {
            let idle = save_lru.then(|| lru::estimate_idle_ms(e.lru, now_ms) / 1000);
            let freq = save_lfu.then(|| lru::lfu_decr_and_return(e.lru, now_ms, decay) as u8);
            (idle, freq)
        }
    }

    /// The aux fields as Redis 7.0 writes them: `repl-stream-db`, `repl-id` and
    /// `repl-offset` only for a master with a backlog or a replica (`rdbPopulateSaveInfo`),
    /// so a restart can continue by partial resync.
    pub fn rdb_aux(&self, now_ms: i64) -> Vec<(&'static str, Aux)> {
        let used = (self.info.used_memory)().allocated as i64;
        let mut aux = vec![
            ("redis-ver", Aux::Str(crate::REDIS_VERSION.into())),
            ("redis-bits", Aux::Int(i64::from(self.info.arch_bits))),
            ("ctime", Aux::Int(now_ms / 1000)),
            ("used-mem", Aux::Int(used)),
        ];
        if let Some(db) = self.repl_stream_db() {
            aux.push(("repl-stream-db", Aux::Int(db as i64)));
            aux.push(("repl-id", Aux::Str(self.repl.ids.replid.clone())));
            aux.push(("repl-offset", Aux::Int(self.stream.offset() as i64)));
        }
        aux.push(("aof-base", Aux::Int(0)));
        aux
    }

    /// The dataset as an AOF base file (`aof-use-rdb-preamble yes`): an RDB whose
    /// `aof-base` aux field is 1, as Redis writes it.
    pub fn rdb_aof_base_image(&mut self, now_ms: i64) -> Vec<u8> {
        let key_meta = self.rdb_key_meta(now_ms);
        let mut aux = self.rdb_aux(now_ms);
        if let Some(a) = aux.iter_mut().find(|(k, _)| *k == "aof-base") {
            a.1 = Aux::Int(1);
        }
        let opts = SaveOptions {
            compress: self.rdb_compression(),
            checksum: self.config.get_bool("rdbchecksum"),
            list_fill: self.list_fill(),
            aux,
            key_meta: &key_meta,
        };
        encode::save(&self.dbs, &opts)
    }

    /// The whole dataset as an RDB file (`rdbSaveRio`).
    pub fn rdb_image(&mut self, now_ms: i64) -> Vec<u8> {
        let key_meta = self.rdb_key_meta(now_ms);
        let opts = SaveOptions {
            compress: self.rdb_compression(),
            checksum: self.config.get_bool("rdbchecksum"),
            list_fill: self.list_fill(),
            aux: self.rdb_aux(now_ms),
            key_meta: &key_meta,
        };
        encode::save(&self.dbs, &opts)
    }

    /// The start of a snapshot's file and its entry serializer (see `crate::snapshot`).
    /// `aof_base` sets the `aof-base` aux field (an AOF rewrite's base file).
    pub fn rdb_snapshot_parts(
        &self,
        now_ms: i64,
        aof_base: bool,
    ) -> (Vec<u8>, redoubt_keyspace::cow::EntryWriter) {
        let key_meta = self.rdb_key_meta(now_ms);
        let (compress, list_fill) = (self.rdb_compression(), self.list_fill());
        let mut aux = self.rdb_aux(now_ms);
        if aof_base {
            if let Some(a) = aux.iter_mut().find(|(k, _)| *k == "aof-base") {
                a.1 = Aux::Int(1);
            }
        }
        let header = encode::header(&SaveOptions {
            compress,
            checksum: true,
            list_fill,
            aux,
            key_meta: &key_meta,
        });
        let writer = std::sync::Arc::new(move |e: &Entry, out: &mut Vec<u8>| {
            let (idle, freq) = key_meta(e);
            encode::write_entry(out, e, idle, freq, compress, list_fill);
        });
        (header, writer)
    }

    /// Loads an RDB image into the (emptied) databases, as a master does at startup.
    pub fn load_rdb_image(&mut self, bytes: &[u8], now_ms: i64) -> Result<LoadStats, RdbError> {
        for db in &mut self.dbs {
            db.clear();
        }
        let policy = self.lru_policy();
        let access_word = move |idle: Option<u64>, freq: Option<u8>| -> Option<u32> {
            set_lru_or_lfu(policy.lfu, freq, idle, now_ms)
        };
        let opts = LoadOptions {
            thresholds: self.rdb_thresholds(),
            now_ms,
            // A replica keeps keys its master has not expired yet (`iAmMaster()` in rdbLoad).
            drop_expired: !self.is_replica(),
            verify_checksum: self.config.get_bool("rdbchecksum"),
            access_word: &access_word,
        };
        let lru_new = lru::new_object_word(policy, now_ms);
        for db in &mut self.dbs {
            db.lru_for_new = lru_new;
        }
        let res = decode::load(bytes, &opts, &mut self.dbs);
        match &res {
            Ok(st) => {
                self.rdb.last_load_keys_loaded = st.keys_loaded;
                self.rdb.last_load_keys_expired = st.keys_expired;
            }
            Err(_) => {
                // Never leave a half-loaded dataset behind.
                for db in &mut self.dbs {
                    db.clear();
                }
            }
        }
        res
    }

    /// SAVE's work (`rdbSave`): write the image through the server, then reset the change
    /// counter and record the time. The error is what the server logged.
    pub fn save_rdb(&mut self, now_ms: i64) -> Result<(), String> {
        let image = self.rdb_image(now_ms);
        let name = self.config.get_str("dbfilename").into_owned();
        let hooks = self.hooks.clone();
        match hooks.write_rdb(&name, &image) {
            Ok(()) => {
                self.log_notice("DB saved on disk");
                self.stats.dirty = 0;
                self.lastsave_s = now_ms / 1000;
                self.rdb.saves += 1;
                self.rdb.last_status_ok = true;
                Ok(())
            }
            // rdbSave leaves `lastbgsave_status` alone on failure (only a failed BGSAVE
            // sets it to err).
            Err(e) => Err(e),
        }
    }
}

impl Engine {
    /// `prepareForShutdown`'s save: with SAVE, or when save points are configured unless
    /// NOSAVE. A failure is logged; `false` means the server must not exit (unless FORCE).
    pub fn shutdown_save(&mut self, save: Option<bool>, force: bool, now_ms: i64) -> bool {
        // A Sentinel holds no dataset: redis-sentinel 7.0.15 writes no RDB on SHUTDOWN, even
        // SHUTDOWN SAVE.
        if self.sentinel.is_some() {
            return true;
        }
        // `save` is a list directive: read it as CONFIG GET renders it.
        let points = redoubt_config::lookup(b"save")
            .is_some_and(|m| !self.config.get_value_bytes(m.id).trim_ascii().is_empty());
        // prepareForShutdown: its first line, then an RDB child is killed before anything
        // else.
        self.log_warning("User requested shutdown...");
        if self.rdb_child() {
            self.log_warning("There is a child saving an .rdb. Killing it!");
        } else if self.aof_child() {
            self.log_warning("There is a child rewriting the AOF. Killing it!");
        }
        self.kill_job();
        if !save.unwrap_or(points) {
            return true;
        }
        self.log_notice("Saving the final RDB snapshot before exiting.");
        match self.save_rdb(now_ms) {
            Ok(()) => true,
            Err(e) => {
                self.log_warning(&e);
                if force {
                    self.log_warning("Error trying to save the DB. Exit anyway.");
                    true
                } else {
                    self.log_warning("Error trying to save the DB, can't exit.");
                    false
                }
            }
        }
    }
}

pub fn dump(ctx: &mut Ctx<'_>, argv: &[Bytes]) {
    let Some(e) = ctx.lookup_read(&argv[1]) else {
        ctx.out().null();
        return;
    };
    let v = e.value.clone();
    let payload = ctx.eng.dump_payload(&v);
    ctx.out().bulk(&payload);
}

pub fn restore(ctx: &mut Ctx<'_>, argv: &[Bytes]) {
    let (mut replace, mut absttl) = (false, false);
    let (mut idle, mut freq): (Option<i64>, Option<i64>) = (None, None);
    let mut j = 4;
    while j < argv.len() {
        let a = &argv[j];
        let more = j + 1 < argv.len();
        if a.eq_ignore_ascii_case(b"replace") {
            replace = true;
        } else if a.eq_ignore_ascii_case(b"absttl") {
            absttl = true;
        } else if a.eq_ignore_ascii_case(b"idletime") && more && freq.is_none() {
            let Some(n) = ctx.parse_i64(&argv[j + 1]) else {
                return;
            };
            if n < 0 {
                ctx.error("ERR Invalid IDLETIME value, must be >= 0");
                return;
            }
            idle = Some(n);
            j += 1;
        } else if a.eq_ignore_ascii_case(b"freq") && more && idle.is_none() {
            let Some(n) = ctx.parse_i64(&argv[j + 1]) else {
                return;
            };
            if !(0..=255).contains(&n) {
                ctx.error("ERR Invalid FREQ value, must be >= 0 and <= 255");
                return;
            }
            freq = Some(n);
            j += 1;
        } else {
            ctx.error(errors::SYNTAX);
            return;
        }
        j += 1;
    }
    let key = &argv[1][..];
    let db = ctx.client.db;
    if !replace && ctx.lookup_write(key).is_some() {
        ctx.error("BUSYKEY Target key name already exists.");
        return;
    }
    let Some(mut ttl) = ctx.parse_i64(&argv[2]) else {
        return;
    };
    if ttl < 0 {
        ctx.error("ERR Invalid TTL value, must be >= 0");
        return;
    }
    if !decode::verify_payload(&argv[3]) {
        ctx.error("ERR DUMP payload version or checksum are wrong");
        return;
    }
    let th = ctx.eng.rdb_thresholds();
    let value = match decode::payload_value(&argv[3], key, &th) {
        Ok(Some(v)) => v,
        _ => {
            ctx.error("ERR Bad data format");
            return;
        }
    };
    // dbDelete of the old value: freed off the command path under lazyfree-lazy-server-del.
    let lazy = ctx.eng.conf.lazyfree_lazy_server_del;
    let old = if replace {
        ctx.eng.dbs[db].remove(key)
    } else {
        None
    };
    let deleted = old.is_some();
    if let Some(old) = old {
        ctx.eng.free_value(old.value, lazy);
    }
    if ttl != 0 && !absttl {
        ttl = ttl.saturating_add(ctx.now_ms);
    }
    if ttl != 0 && ttl <= ctx.now_ms {
        if deleted {
            let verb: &[u8] = if lazy { b"UNLINK" } else { b"DEL" };
            ctx.signal_modified(db, key);
            ctx.dirty(1);
            ctx.propagate(&[verb, key]);
        }
        ctx.ok();
        return;
    }
    let d = &mut ctx.eng.dbs[db];
    d.insert_new(key, value);
    if ttl != 0 {
        d.set_expire(key, ttl);
    }
    // objectSetLRUOrLFU with the options given, under the policy that tracks them.
    let lfu = ctx.eng.lru_policy().lfu;
    let word = set_lru_or_lfu(
        lfu,
        freq.map(|f| f as u8),
        idle.map(|s| s as u64),
        ctx.now_ms,
    );
    if let Some(w) = word {
        if let Some(e) = ctx.eng.dbs[db].get_raw_mut(key) {
            e.lru = w;
        }
    }
    ctx.signal_modified(db, key);
    ctx.dirty(1);
    let mut eff: Vec<Vec<u8>> = argv.iter().map(|a| a.to_vec()).collect();
    if ttl != 0 && !absttl {
        eff[2] = ttl.to_string().into_bytes();
        eff.push(b"ABSTTL".to_vec());
    }
    let eff: Vec<&[u8]> = eff.iter().map(|a| &a[..]).collect();
    ctx.propagate(&eff);
    ctx.ok();
}

pub fn save(ctx: &mut Ctx<'_>, _argv: &[Bytes]) {
    if ctx.eng.rdb_child() {
        ctx.error("ERR Background save already in progress");
        return;
    }
    let now = ctx.now_ms;
    match ctx.eng.save_rdb(now) {
        Ok(()) => ctx.ok(),
        Err(e) => {
            ctx.eng.log_warning(&e);
            ctx.error("ERR");
        }
    }
}

pub static HANDLERS: &[(&str, Handler)] = &[("dump", dump), ("restore", restore), ("save", save)];

#[cfg(test)]
mod tests {
    //! Replies and effects compared with redis-server 7.0.15 (tests/diff/dump.txt covers the
    //! error replies; the effects here match a 7.0.15 replica's MONITOR).
    use crate::testing::{decode_stream, TestEngine};
    use bytes::Bytes;

    fn bulk(reply: &[u8]) -> Vec<u8> {
        let nl = reply.iter().position(|&b| b == b'\n').expect("bulk header");
        let n: usize = std::str::from_utf8(&reply[1..nl - 1])
            .expect("ascii")
            .parse()
            .expect("length");
        reply[nl + 1..nl + 1 + n].to_vec()
    }

    fn args(v: &[&[u8]]) -> Vec<Bytes> {
        v.iter().map(|a| Bytes::copy_from_slice(a)).collect()
    }

    #[test]
    fn restore_effects_make_ttls_absolute() {
        let mut t = TestEngine::new();
        t.run("SET k hello");
        let p = bulk(&t.run("DUMP k"));
        t.stream();
        assert_eq!(
            t.run_args(args(&[b"RESTORE", b"r", b"1000", &p])),
            b"+OK\r\n"
        );
        let s = decode_stream(&t.stream());
        let now = t.now_ms;
        let want: Vec<Bytes> = args(&[
            b"RESTORE",
            b"r",
            (now + 1000).to_string().as_bytes(),
            &p,
            b"ABSTTL",
        ]);
        assert_eq!(s.last(), Some(&want));
        // No TTL: as written.
        t.run_args(args(&[b"RESTORE", b"r2", b"0", &p, b"IDLETIME", b"5"]));
        let s = decode_stream(&t.stream());
        assert_eq!(
            s.last(),
            Some(&args(&[b"RESTORE", b"r2", b"0", &p, b"IDLETIME", b"5"]))
        );
        assert_eq!(t.text("OBJECT IDLETIME r2"), ":5|");
        // REPLACE with a TTL already past deletes the old key: propagated as DEL.
        assert_eq!(
            t.run_args(args(&[b"RESTORE", b"r", b"1", &p, b"ABSTTL", b"REPLACE"])),
            b"+OK\r\n"
        );
        assert_eq!(t.stream_cmds(), "DEL r");
        assert_eq!(t.text("EXISTS r"), ":0|");
        // Nothing to delete: no effect at all.
        t.run_args(args(&[b"RESTORE", b"r", b"1", &p, b"ABSTTL"]));
        assert_eq!(t.stream_cmds(), "");
    }

    #[test]
    fn dump_restore_round_trip_every_type() {
        let mut t = TestEngine::new();
        t.run("SET s 12345");
        t.run("SET s2 hello");
        t.run("RPUSH l a b 3");
        t.run("SADD si 1 2 3");
        t.run("SADD ss a b c");
        t.run("HSET h f v g 1");
        t.run("ZADD z 1 a 2.5 b");
        for k in ["s", "s2", "l", "si", "ss", "h", "z"] {
            let p = bulk(&t.run(&format!("DUMP {k}")));
            let copy = format!("{k}_copy");
            assert_eq!(
                t.run_args(args(&[b"RESTORE", copy.as_bytes(), b"0", &p])),
                b"+OK\r\n"
            );
            let d1 = t.text(&format!("DEBUG DIGEST-VALUE {k}"));
            let d2 = t.text(&format!("DEBUG DIGEST-VALUE {copy}"));
            assert_eq!(d1, d2, "{k}");
            assert_eq!(
                t.text(&format!("OBJECT ENCODING {k}")),
                t.text(&format!("OBJECT ENCODING {copy}"))
            );
        }
    }

    #[test]
    fn rdb_image_loads_back_and_drops_expired_keys() {
        let mut t = TestEngine::new();
        t.run("SET a 1");
        t.run("SET gone x");
        t.run("HSET h f v");
        t.run("SELECT 5");
        t.run("ZADD z 1 m");
        t.run("PEXPIRE z 100000");
        let digest = t.text("DEBUG DIGEST");
        let now = t.now_ms;
        // `gone` expires just after the image is taken.
        t.eng.dbs[0].set_expire(b"gone", now + 10);
        let image = t.eng.rdb_image(now);
        let mut u = TestEngine::new();
        let st = u.eng.load_rdb_image(&image, now + 20).expect("loads");
        assert_eq!((st.keys_loaded, st.keys_expired), (3, 1));
        t.eng.dbs[0].remove(b"gone");
        assert_eq!(u.text("DEBUG DIGEST"), t.text("DEBUG DIGEST"));
        assert_ne!(digest, t.text("DEBUG DIGEST"));
        // A damaged image loads nothing.
        let mut bad = image.clone();
        let mid = bad.len() / 2;
        bad[mid] ^= 0xff;
        assert!(u.eng.load_rdb_image(&bad, now).is_err());
        assert_eq!(u.text("DBSIZE"), ":0|");
    }
}
