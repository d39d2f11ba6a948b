//! Sentinel mode: the engine serves redis-sentinel's restricted command table, and SENTINEL,
//! INFO, ROLE and PUBLISH go to the Sentinel core through [`SentinelHooks`]. The engine does
//! not depend on the sentinel crate; the server crate joins them.

use crate::client::{Client, ClientIo, ClientKind};
use crate::ctx::Ctx;
use crate::table::Handler;
use crate::Engine;
use bytes::Bytes;
use redoubt_resp::ReplyBuf;
use std::rc::Rc;

/// What the engine asks of the Sentinel core.
pub trait SentinelHooks {
    /// `SENTINEL <subcommand> ...` (arity and subcommand already checked).
    fn command(&self, argv: &[Bytes], now_ms: i64, out: &mut ReplyBuf);
    /// The `# Sentinel` INFO section.
    fn info_section(&self, now_ms: i64) -> String;
    /// ROLE's reply.
    fn role(&self, out: &mut ReplyBuf);
    /// PUBLISH: only hellos are accepted.
    fn publish(&self, argv: &[Bytes], now_ms: i64, out: &mut ReplyBuf);
}

impl Engine {
    /// Publishes an event (`+sdown ...`) to this server's pub/sub clients, as Sentinel's
    /// `sentinelEvent` does, from outside any client's command.
    pub fn publish_event(&mut self, channel: &[u8], msg: &[u8]) {
        let mut nobody = Client::new(
            0,
            ClientKind::Normal,
            Rc::new(ClientIo::default()),
            self.now_ms,
            true,
        );
        crate::commands::pubsub::publish_message(self, &mut nobody, channel, msg, false);
    }
}

fn sentinel(ctx: &mut Ctx<'_>, argv: &[Bytes]) {
    let Some(h) = ctx.eng.sentinel.clone() else {
        ctx.out().error("ERR sentinel mode is not active");
        return;
    };
    let now = ctx.now_ms;
    h.command(argv, now, ctx.out());
}

/// `sentinelInfoCommand`: server, clients, stats, cpu and sentinel sections only, as one
/// bulk string (not verbatim, even in RESP3). Any number of section names; unknown ones add
/// nothing (`INFO a b` is an empty string, as in redis-sentinel 7.0).
fn info(ctx: &mut Ctx<'_>, argv: &[Bytes]) {
    let asked: Vec<String> = argv[1..]
        .iter()
        .map(|s| String::from_utf8_lossy(s).to_ascii_lowercase())
        .collect();
    let all = asked.is_empty()
        || asked
            .iter()
            .any(|s| matches!(s.as_str(), "all" | "default" | "everything"));
    let wants = |name: &str| all || asked.iter().any(|s| s == name);
    let mut text = String::new();
    // genRedisInfoString's order, as redis-sentinel 7.0 prints them.
    for name in ["server", "clients", "stats", "cpu"] {
        if wants(name) {
            let sections = crate::commands::info::Sections::parse(&[Bytes::from(name)]);
            let s = crate::commands::info::info_string(ctx, &sections)
                .replace("redis_mode:standalone", "redis_mode:sentinel");
            if !text.is_empty() {
                text.push_str("\r\n");
            }
            text.push_str(&s);
        }
    }
    if wants("sentinel") {
        if let Some(h) = ctx.eng.sentinel.clone() {
            if !text.is_empty() {
                text.push_str("\r\n");
            }
            text.push_str(&h.info_section(ctx.now_ms));
        }
    }
    ctx.out().bulk(text.as_bytes());
}

fn role(ctx: &mut Ctx<'_>, _argv: &[Bytes]) {
    if let Some(h) = ctx.eng.sentinel.clone() {
        h.role(ctx.out());
    }
}

fn publish(ctx: &mut Ctx<'_>, argv: &[Bytes]) {
    if let Some(h) = ctx.eng.sentinel.clone() {
        let now = ctx.now_ms;
        h.publish(argv, now, ctx.out());
    }
}

/// Commands whose sentinel-mode handler differs from the server's.
pub static OVERRIDES: &[(&str, Handler)] = &[("info", info), ("role", role), ("publish", publish)];

/// The SENTINEL subcommands served.
pub static SENTINEL_SUBCOMMANDS: &[&str] = &[
    "sentinel|master",
    "sentinel|help",
    "sentinel|sentinels",
    "sentinel|pending-scripts",
    "sentinel|flushconfig",
    "sentinel|is-master-down-by-addr",
    "sentinel|replicas",
    "sentinel|monitor",
    "sentinel|remove",
    "sentinel|slaves",
    "sentinel|reset",
    "sentinel|info-cache",
    "sentinel|myid",
    "sentinel|config",
    "sentinel|get-master-addr-by-name",
    "sentinel|simulate-failure",
    "sentinel|masters",
    "sentinel|set",
    "sentinel|ckquorum",
    "sentinel|debug",
    "sentinel|failover",
];

pub fn sentinel_handler() -> Handler {
    sentinel
}
