//! Admission and execution: Redis 7.0's `processCommand` and `call`.
//!
//! [`Engine::execute`] runs one request for one client. The checks run in Redis's order:
//! unknown command / subcommand, arity, authentication, commands refused inside MULTI,
//! maxmemory, pub/sub context (RESP2), then MULTI queueing, then the call. A refusal inside
//! MULTI also marks the transaction so EXEC answers EXECABORT (`flagTransaction`).

use crate::client::{Client, ReplyMode};
use crate::ctx::Ctx;
use crate::errors;
use crate::table::{flags, Command, Lookup};
use crate::Engine;
use bytes::Bytes;

impl Engine {
    /// Executes one request. Replies land in `client.out`; effects in the stream.
    pub fn execute(&mut self, client: &mut Client, argv: Vec<Bytes>, now_ms: i64) {
        if argv.is_empty() {
            return;
        }
        client.last_interaction_ms = now_ms;
        self.now_ms = now_ms;
        client.argv_mem = argv.iter().map(|a| a.len()).sum();
        let reply_start = client.out.len();
        self.process(client, argv, now_ms);
        self.apply_reply_mode(client, reply_start);
        client.argv_mem = 0;
    }

    fn process(&mut self, client: &mut Client, argv: Vec<Bytes>, now_ms: i64) {
        let table = self.table.clone();
        let cmd = match table.lookup(&argv) {
            Lookup::Found(cmd) => cmd,
            Lookup::UnknownSubcommand(container) => {
                client.last_cmd = "NULL".into();
                let msg = errors::unknown_subcommand(&argv[1], &container.name);
                self.reject_bytes(client, &msg, None);
                return;
            }
            Lookup::Unknown => {
                client.last_cmd = "NULL".into();
                let msg = errors::unknown_command(&argv);
                self.reject_bytes(client, &msg, None);
                return;
            }
        };
        client.last_cmd = cmd.fullname.clone();
        if !cmd.arity_ok(argv.len()) {
            self.reject(client, &errors::wrong_args(&cmd.name), Some(cmd));
            return;
        }
        // CMD_PROTECTED is not part of COMMAND INFO, so the two protected commands are named.
        if cmd.name == "debug" || cmd.name == "module" {
            let (setting, name, option) = if cmd.name == "debug" {
                (
                    self.conf.enable_debug_command,
                    "DEBUG",
                    "enable-debug-command",
                )
            } else {
                (
                    self.conf.enable_module_command,
                    "MODULE",
                    "enable-module-command",
                )
            };
            if !setting.allows(client.local) {
                let msg = format!("ERR {name} command not allowed. If the {option} option is set to \"local\", you can run it from a local connection, otherwise you need to set this option in the configuration file, and then restart the server.");
                self.reject(client, &msg, Some(cmd));
                return;
            }
        }
        if !client.authenticated && !cmd.has(flags::NO_AUTH) {
            self.reject(client, errors::NOAUTH, Some(cmd));
            return;
        }
        if client.multi.is_some() && cmd.has(flags::NO_MULTI) {
            self.reject(
                client,
                "ERR Command not allowed inside a transaction",
                Some(cmd),
            );
            return;
        }
        let is_multi_ctl = matches!(
            cmd.name.as_str(),
            "exec" | "discard" | "multi" | "watch" | "quit" | "reset"
        );
        if self.conf.maxmemory > 0 && !client.no_evict_exempt() {
            let oom = crate::commands::server::perform_evictions(self, now_ms);
            let deny = cmd.has(flags::DENYOOM) || (client.multi.is_some() && !is_multi_ctl);
            if oom && deny {
                self.reject(client, errors::OOM, Some(cmd));
                return;
            }
        }
        let is_master = client.kind == crate::ClientKind::Master;
        let is_write = cmd.has(flags::WRITE) || (cmd.name == "exec" && self.queued_writes(client));
        // `writeCommandsDeniedByDiskError`: after a failed BGSAVE or AOF write, writes (and
        // PING, as Redis does, so monitoring notices) are refused with MISCONF; our master is
        // obeyed.
        if !is_master && (is_write || cmd.name == "ping") {
            if let Some(msg) = self.disk_error_reply() {
                self.reject(client, &msg, Some(cmd));
                return;
            }
        }
        if is_write && !is_master && !self.enough_good_replicas(now_ms) {
            self.reject(client, errors::NOREPLICAS, Some(cmd));
            return;
        }
        if self.is_replica() && is_write && !is_master && self.config.get_bool("replica-read-only")
        {
            self.reject(client, errors::READONLY_REPLICA, Some(cmd));
            return;
        }
        if client.in_pubsub()
            && client.out.proto == redoubt_resp::Protocol::Resp2
            && !matches!(
                cmd.name.as_str(),
                "ping"
                    | "subscribe"
                    | "ssubscribe"
                    | "unsubscribe"
                    | "sunsubscribe"
                    | "psubscribe"
                    | "punsubscribe"
                    | "quit"
                    | "reset"
            )
        {
            let msg = format!(
                "ERR Can't execute '{}': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context",
                cmd.name
            );
            self.reject(client, &msg, Some(cmd));
            return;
        }
        if self.is_replica()
            && !self.master_link_up()
            && !self.config.get_bool("replica-serve-stale-data")
            && !cmd.has(flags::STALE)
        {
            self.reject(client, errors::MASTERDOWN, Some(cmd));
            return;
        }
        // `is_denyloading_command`: only commands flagged `loading` run while the dataset
        // loads (EXEC of queued ones was refused when they were queued). The AOF's own
        // client is a master and is obeyed.
        if self.loading.is_some() && !is_master && !cmd.has(flags::LOADING) {
            self.reject(client, crate::loading::LOADING_ERR, Some(cmd));
            return;
        }
        if client.multi.is_some() && !is_multi_ctl {
            if let Some(q) = client.multi.as_mut() {
                q.push(argv);
            }
            client.out.simple("QUEUED");
            return;
        }
        let offset_before = self.stream.offset();
        let out_from = client.out.buf.len();
        self.call(client, cmd, &argv, now_ms, false);
        if cmd.has(flags::TOUCHES_ARBITRARY_KEYS) {
            // SCAN and RANDOMKEY may expire many unrelated keys: Redis 7.0 propagates those
            // DELs unwrapped, as active expiry does (`propagatePendingCommands`).
            self.stream.commit_staged_unwrapped();
        } else {
            self.stream.commit_staged();
        }
        if self.stream.offset() != offset_before {
            client.woff = self.stream.offset();
        }
        if !self.is_replica() {
            self.hold_for_acks(client, &argv, is_write, offset_before, out_from, now_ms);
        }
        if !self.blocking.ready.is_empty() && client.multi.is_none() {
            self.serve_blocked(now_ms);
        }
    }

    /// Runs a command's handler and does the bookkeeping around it (Redis's `call`).
    pub fn call(
        &mut self,
        client: &mut Client,
        cmd: &Command,
        argv: &[Bytes],
        now_ms: i64,
        in_exec: bool,
    ) {
        let Some(handler) = cmd.handler else {
            // Containers without a subcommand never pass the arity check.
            unreachable!("command {} has no handler", cmd.name);
        };
        let errors_before = client.out.errors;
        self.set_new_key_clock(now_ms);
        let clock = self.info.clock_us;
        let start_us = clock();
        // A writable replica remembers the keys its own clients give a TTL (Redis's
        // `setExpire` -> `rememberSlaveKeyWithExpire`), to expire them from its cron.
        let own_expires = self.tracks_own_expires(client.kind);
        if own_expires {
            self.own_expires_begin();
        }
        let mut ctx = Ctx {
            eng: self,
            client,
            cmd,
            now_ms,
            in_exec,
        };
        handler(&mut ctx, argv);
        if own_expires {
            self.own_expires_end();
        }
        let duration_us = clock().saturating_sub(start_us);
        let failed = client.out.errors > errors_before;
        // A command that blocked is counted once, when it is served, times out or is
        // unblocked (Redis's `updateStatsOnUnblock`).
        let blocked = client.blocked.is_some();
        let st = &cmd.stats;
        st.calls.set(st.calls.get() + u64::from(!blocked));
        st.usec.set(st.usec.get() + duration_us);
        if self.conf.latency_tracking {
            st.latency
                .borrow_mut()
                .record(duration_us.saturating_mul(1000));
        }
        if failed {
            st.failed_calls.set(st.failed_calls.get() + 1);
        }
        if !cmd.has(flags::SKIP_SLOWLOG) && !blocked {
            self.slowlog_push(client, cmd, argv, duration_us, now_ms);
        }
        self.stats.total_commands_processed += u64::from(!blocked);
        self.drain_errors(client);
        // After the command, as Redis's `call` does: the line shows the database the command
        // left selected, admin commands are not shown, and passwords are redacted.
        // A served blocked command was shown when it first ran.
        if !self.monitors.is_empty()
            && !self.blocking.reprocessing
            && !cmd.has(flags::SKIP_MONITOR)
            && !cmd.has(flags::ADMIN)
        {
            let redacted = crate::slowlog::redact(&cmd.name, argv);
            let shown = redacted.as_deref().unwrap_or(argv);
            crate::commands::server::feed_monitors(self, client, shown, now_ms);
        }
    }

    /// `slowlogPushCurrentCommand`, with AUTH and HELLO passwords redacted.
    fn slowlog_push(
        &mut self,
        client: &Client,
        cmd: &Command,
        argv: &[Bytes],
        duration_us: u64,
        now_ms: i64,
    ) {
        let threshold = self.conf.slowlog_log_slower_than;
        if threshold < 0 || (duration_us as i64) < threshold {
            return;
        }
        let redacted = crate::slowlog::redact(&cmd.name, argv);
        let name = client.name.as_deref().unwrap_or(b"");
        self.slowlog.push_if_needed(
            threshold,
            self.conf.slowlog_max_len,
            redacted.as_deref().unwrap_or(argv),
            duration_us,
            now_ms / 1000,
            &client.addr,
            name,
        );
    }

    fn drain_errors(&mut self, client: &mut Client) {
        for code in client.out.error_codes.drain(..) {
            self.stats.count_error(&code);
        }
    }

    /// Refuses a command (`rejectCommand`): the error reply, the rejected-calls counter, and
    /// inside MULTI the mark that makes EXEC abort.
    fn reject(&mut self, client: &mut Client, msg: &str, cmd: Option<&Command>) {
        self.reject_bytes(client, msg.as_bytes(), cmd);
    }

    fn reject_bytes(&mut self, client: &mut Client, msg: &[u8], cmd: Option<&Command>) {
        if cmd.is_some_and(|c| c.name == "exec") {
            // `execCommandAbort`: a refused EXEC discards the transaction and names why.
            let reason = msg.strip_prefix(b"ERR ").unwrap_or(msg);
            client.multi = None;
            client.multi_dirty = false;
            crate::commands::transactions::unwatch_all(self, client);
            let mut text = b"EXECABORT Transaction discarded because of: ".to_vec();
            text.extend_from_slice(reason);
            client.out.error_bytes(&text);
            self.drain_errors(client);
            if let Some(cmd) = cmd {
                cmd.stats
                    .rejected_calls
                    .set(cmd.stats.rejected_calls.get() + 1);
            }
            return;
        }
        client.out.error_bytes(msg);
        self.drain_errors(client);
        if let Some(cmd) = cmd {
            cmd.stats
                .rejected_calls
                .set(cmd.stats.rejected_calls.get() + 1);
        }
        if client.multi.is_some() {
            client.multi_dirty = true;
        }
    }

    fn apply_reply_mode(&mut self, client: &mut Client, reply_start: usize) {
        match client.reply_mode {
            ReplyMode::On => {}
            ReplyMode::Off => client.out.truncate(reply_start),
            ReplyMode::Skip => {
                client.out.truncate(reply_start);
                client.reply_mode = ReplyMode::On;
            }
            ReplyMode::SkipNext => client.reply_mode = ReplyMode::Skip,
        }
    }
}

impl Engine {
    /// EXEC of a transaction holding a write (`c->mstate.cmd_flags & CMD_WRITE`).
    fn queued_writes(&self, client: &Client) -> bool {
        client.multi.as_ref().is_some_and(|q| {
            q.iter().any(
                |argv| matches!(self.table.lookup(argv), Lookup::Found(c) if c.has(flags::WRITE)),
            )
        })
    }
}

impl Client {
    /// Clients that never trigger evictions before their commands: our master
    /// (`c->flags & CLIENT_MASTER` in `processCommand`).
    pub fn no_evict_exempt(&self) -> bool {
        self.kind == crate::ClientKind::Master
    }
}
