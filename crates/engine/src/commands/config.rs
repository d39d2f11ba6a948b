//! CONFIG GET / SET / RESETSTAT / REWRITE / HELP, on top of the config crate's table.
//!
//! The engine applies what it owns right away (the hot settings in `RuntimeConf`); side
//! effects needing files or sockets go through the server's `ServerHooks` (chdir for `dir`,
//! rebinding for `port`/`bind`, the atomic file write for REWRITE). Settings owned by the server (listeners, log
//! level, timeouts) are re-read by the server when `config.generation()` changes.

use crate::ctx::Ctx;
use crate::table::Handler;
use crate::RuntimeConf;
use bytes::Bytes;
use redoubt_config::{SetContext, SetError, NO_CONFIG_FILE_ERROR};

pub fn config_get(ctx: &mut Ctx<'_>, argv: &[Bytes]) {
    let patterns: Vec<&[u8]> = argv[2..].iter().map(|a| &a[..]).collect();
    let pairs = ctx.eng.config.config_get(&patterns);
    let out = ctx.out();
    out.map_len(pairs.len());
    for (name, value) in pairs {
        out.bulk(name.as_bytes());
        out.bulk(&value);
    }
}

pub fn config_set(ctx: &mut Ctx<'_>, argv: &[Bytes]) {
    let args: Vec<&[u8]> = argv[2..].iter().map(|a| &a[..]).collect();
    let sctx = SetContext {
        protected_allowed: ctx
            .eng
            .config
            .protected_action_allowed("enable-protected-configs", ctx.client.local),
        loading: false,
    };
    let changes = match ctx.eng.config.config_set(&args, &sctx) {
        Ok(c) => c,
        Err(e) => {
            ctx.error(&set_error_text(&e));
            return;
        }
    };
    if changes.contains("dir") {
        let dir = ctx.eng.config.get_str("dir").into_owned();
        match ctx.eng.hooks.clone().chdir(&dir) {
            Ok(abs) => ctx.eng.config.set_dir_resolved(abs),
            Err(msg) => {
                ctx.eng.config.rollback(&changes);
                ctx.error(&SetError::apply_failed("dir", &msg).to_string());
                return;
            }
        }
    }
    if changes.contains("appendonly") {
        // `updateAppendonly`: on starts a rewrite whose base begins the AOF; off closes it.
        if ctx.eng.config.get_bool("appendonly") {
            let (now, in_exec) = (ctx.now_ms, ctx.in_exec);
            if let Err(msg) = ctx.eng.aof_turn_on(now, in_exec) {
                ctx.eng.config.rollback(&changes);
                ctx.error(&SetError::apply_failed("appendonly", &msg).to_string());
                return;
            }
        } else {
            ctx.eng.aof_turn_off();
        }
    }
    let listeners_changed = changes.contains("port") || changes.contains("bind");
    if listeners_changed && ctx.eng.hooks.clone().rebind(&ctx.eng.config).is_err() {
        // Redis's texts for its two apply functions (`updatePort`, `updateBind`).
        let (name, msg) = if changes.contains("port") {
            ("port", "Unable to listen on this port. Check server logs.")
        } else {
            ("bind", "Failed to bind to specified addresses.")
        };
        ctx.eng.config.rollback(&changes);
        ctx.error(&SetError::apply_failed(name, msg).to_string());
        return;
    }
    apply_runtime(ctx);
    ctx.eng.hooks.clone().settings_changed(&ctx.eng.config);
    ctx.ok();
}

fn set_error_text(e: &SetError) -> String {
    e.to_string()
}

/// Re-reads the hot settings after a change, keeping state that is not configuration.
fn apply_runtime(ctx: &mut Ctx<'_>) {
    let mut fresh = RuntimeConf::from_config(&ctx.eng.config);
    fresh.active_expire_enabled = ctx.eng.conf.active_expire_enabled;
    // The number of databases is fixed at startup (the directive is immutable).
    fresh.databases = ctx.eng.conf.databases;
    // So are the protected-command switches; keeping the running values also keeps what a
    // test engine set directly (it enables DEBUG without a config file).
    fresh.enable_debug_command = ctx.eng.conf.enable_debug_command;
    fresh.enable_module_command = ctx.eng.conf.enable_module_command;
    ctx.eng.conf = fresh;
    // `repl-backlog-size` applies at once (`resizeReplicationBacklog`).
    let size = ctx.eng.backlog_size();
    if let Some(b) = ctx.eng.repl.backlog.as_mut() {
        if b.size() != size {
            b.resize(size);
        }
    }
}

pub fn config_resetstat(ctx: &mut Ctx<'_>, _argv: &[Bytes]) {
    ctx.eng.reset_stats();
    ctx.ok();
}

pub fn config_rewrite(ctx: &mut Ctx<'_>, _argv: &[Bytes]) {
    let Some(path) = ctx.eng.config_file.clone() else {
        ctx.error(NO_CONFIG_FILE_ERROR);
        return;
    };
    match ctx.eng.hooks.clone().rewrite_config(&path, &ctx.eng.config) {
        Ok(()) => ctx.ok(),
        Err(msg) => ctx.error(&msg),
    }
}

const HELP: &[&str] = &[
    "CONFIG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "GET <pattern>",
    "    Return parameters matching the glob-like <pattern> and their values.",
    "SET <directive> <value>",
    "    Set the configuration <directive> to <value>.",
    "RESETSTAT",
    "    Reset statistics reported by the INFO command.",
    "REWRITE",
    "    Rewrite the configuration file.",
    "HELP",
    "    Prints this help.",
];

pub fn config_help(ctx: &mut Ctx<'_>, _argv: &[Bytes]) {
    let out = ctx.out();
    out.array_len(HELP.len());
    for line in HELP {
        out.simple(line);
    }
}

/// This family's commands (see `commands::all`).
pub static HANDLERS: &[(&str, Handler)] = &[
    ("config|get", config_get),
    ("config|set", config_set),
    ("config|resetstat", config_resetstat),
    ("config|rewrite", config_rewrite),
    ("config|help", config_help),
];
