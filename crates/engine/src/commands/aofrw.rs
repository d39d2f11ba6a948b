//! BGREWRITEAOF (Redis 7.0 aof.c `bgrewriteaofCommand`, `rewriteAppendOnlyFileBackground`,
//! `backgroundRewriteDoneHandler`). The new base file is a point-in-time snapshot taken
//! exactly like BGSAVE's (`crate::snapshot`), as an RDB (`aof-base` aux field 1), or with
//! `aof-use-rdb-preamble no` as commands (`crate::aof_base`), so a rewrite costs what a
//! BGSAVE costs. The server does the file work through
//! `ServerHooks`: at the start it opens a new incremental file (the stream goes there from
//! now on) and hands a sink writing the new base; at the end it switches the manifest to the
//! new base and the new increment and deletes the files that became history. Nothing is
//! propagated: the dataset does not change.

use crate::commands::bgsave::Job;
use crate::ctx::Ctx;
use crate::table::Handler;
use crate::Engine;
use bytes::Bytes;

impl Engine {
    /// `rewriteAppendOnlyFileBackground`: true when started.
    pub fn aof_rewrite_start(&mut self, now_ms: i64) -> bool {
        if self.bgsave.is_some() {
            return false;
        }
        self.rdb.aof_rewrite_scheduled = false;
        let checksum = self.config.get_bool("rdbchecksum");
        let rdb = self.config.get_bool("aof-use-rdb-preamble");
        // Effects up to this offset are in the snapshot about to begin; later ones go to
        // the new increment.
        let split = self.stream.offset();
        let sink = match self.hooks.clone().aof_rewrite_sink(checksum, split, rdb) {
            Ok(s) => s,
            Err(e) => {
                self.log_warning(&format!(
                    "Can't rewrite append only file in background: fork: {e}"
                ));
                self.rdb.aof_last_rewrite_ok = false;
                self.rdb.aof_rewrite_failures += 1;
                return false;
            }
        };
        let (header, writer) = if rdb {
            self.rdb_snapshot_parts(now_ms, true)
        } else {
            self.aof_snapshot_parts(now_ms)
        };
        // Counted when started, as `stat_aof_rewrites` in Redis 7.0.
        self.rdb.aof_rewrites += 1;
        self.log_notice(&format!(
            "Background append only file rewriting started by pid {}",
            self.info.pid
        ));
        self.begin_job(Job::AofRewrite, now_ms, sink, header, writer);
        if let Some(bg) = self.bgsave.as_mut() {
            bg.snap.aof_format = !rdb;
        }
        // The increments start afresh: their first effect carries a SELECT.
        self.stream.force_select();
        true
    }

    /// The start and entry writer of an AOF-format base (`crate::aof_base`): with
    /// `aof-timestamp-enabled` the file opens with a `#TS` annotation, as
    /// `rewriteAppendOnlyFileRio` forces one.
    fn aof_snapshot_parts(&self, now_ms: i64) -> (Vec<u8>, redoubt_keyspace::cow::EntryWriter) {
        let header = if self.config.get_bool("aof-timestamp-enabled") {
            format!("#TS:{}\r\n", now_ms / 1000).into_bytes()
        } else {
            Vec::new()
        };
        let writer = std::sync::Arc::new(|e: &redoubt_keyspace::Entry, out: &mut Vec<u8>| {
            crate::aof_base::write_entry(out, e);
        });
        (header, writer)
    }

    /// CONFIG SET appendonly yes (`startAppendOnly`): the AOF is on once a rewrite has
    /// written its base; writes from that rewrite's start are kept.
    pub fn aof_turn_on(&mut self, now_ms: i64, in_exec: bool) -> Result<(), String> {
        const FAILED: &str = "Unable to turn on AOF. Check server logs.";
        if let Err(e) = self.hooks.clone().aof_open(&self.config) {
            self.log_warning(&format!("Can't open the append-only file: {e}"));
            return Err(FAILED.into());
        }
        self.aof = Some(crate::AofStats {
            last_write_ok: true,
            ..crate::AofStats::default()
        });
        if self.bgsave.is_some() {
            self.rdb.aof_rewrite_scheduled = true;
            self.log_warning("AOF was enabled but there is already another background operation. An AOF background was scheduled to start when possible.");
        } else if in_exec {
            self.rdb.aof_rewrite_scheduled = true;
            self.log_warning("AOF was enabled during a transaction. An AOF background was scheduled to start when possible.");
        } else if !self.aof_rewrite_start(now_ms) {
            self.hooks.clone().aof_close();
            self.aof = None;
            self.log_warning("Redis needs to enable the AOF but can't trigger a background AOF rewrite operation. Check the above logs for more info about the error.");
            return Err(FAILED.into());
        }
        Ok(())
    }

    /// CONFIG SET appendonly no (`stopAppendOnly`).
    pub fn aof_turn_off(&mut self) {
        if self.aof_child() {
            self.log_notice(&format!(
                "Killing running AOF rewrite child: {}",
                self.info.pid
            ));
            self.kill_job();
        }
        self.rdb.aof_rewrite_scheduled = false;
        self.hooks.clone().aof_close();
        self.aof = None;
    }

    /// `serverCron`'s automatic rewrite: when the AOF has grown by
    /// `auto-aof-rewrite-percentage` since the last rewrite (or the load) and is larger than
    /// `auto-aof-rewrite-min-size`.
    pub(crate) fn aof_auto_rewrite(&mut self, now_ms: i64) -> bool {
        let perc = self.config.get_int("auto-aof-rewrite-percentage");
        let min = self.config.get_u64("auto-aof-rewrite-min-size");
        let Some(a) = self.aof.as_ref() else {
            return false;
        };
        if perc <= 0 || a.current_size <= min {
            return false;
        }
        let base = a.rewrite_base_size.max(1);
        let growth = (a.current_size * 100 / base) as i64 - 100;
        if growth < perc {
            return false;
        }
        self.log_notice(&format!(
            "Starting automatic rewriting of AOF on {growth}% growth"
        ));
        self.aof_rewrite_start(now_ms)
    }

    /// `backgroundRewriteDoneHandler`.
    pub(crate) fn aof_rewrite_done(
        &mut self,
        res: Result<(), String>,
        now_ms: i64,
        start_ms: i64,
        cow: u64,
    ) {
        self.rdb.aof_last_rewrite_time_s = now_ms / 1000 - start_ms / 1000;
        self.rdb.aof_last_cow_bytes = cow;
        let res = res.and_then(|()| {
            self.log_notice(&format!(
                "Successfully created the temporary AOF base file temp-rewriteaof-bg-{}.aof",
                self.info.pid
            ));
            self.log_notice("Background AOF rewrite terminated with success");
            self.hooks.clone().aof_rewrite_installed()
        });
        match res {
            Ok((base, incr)) => {
                self.log_notice("Background AOF rewrite finished successfully");
                self.rdb.aof_last_rewrite_ok = true;
                self.rdb.aof_rewrite_failures = 0;
                if let Some(a) = self.aof.as_mut() {
                    a.base_size = base;
                    a.current_size = base + incr;
                    a.rewrite_base_size = a.current_size;
                }
            }
            Err(e) => {
                self.log_warning(&e);
                self.log_warning("Background AOF rewrite terminated with error");
                self.rdb.aof_last_rewrite_ok = false;
                self.rdb.aof_rewrite_failures += 1;
            }
        }
    }
}

/// BGREWRITEAOF.
pub fn bgrewriteaof(ctx: &mut Ctx<'_>, _argv: &[Bytes]) {
    if ctx.eng.aof_child() {
        ctx.error("ERR Background append only file rewriting already in progress");
    } else if ctx.eng.bgsave.is_some() || ctx.in_exec {
        ctx.eng.rdb.aof_rewrite_scheduled = true;
        ctx.eng.rdb.aof_rewrite_failures = 0;
        ctx.out()
            .simple("Background append only file rewriting scheduled");
    } else if ctx.eng.aof_rewrite_start(ctx.now_ms) {
        ctx.out()
            .simple("Background append only file rewriting started");
    } else {
        ctx.error("ERR Can't execute an AOF background rewriting. Please check the server logs for more information.");
    }
}

pub static HANDLERS: &[(&str, Handler)] = &[("bgrewriteaof", bgrewriteaof)];
