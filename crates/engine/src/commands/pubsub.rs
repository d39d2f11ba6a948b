//! SUBSCRIBE UNSUBSCRIBE PSUBSCRIBE PUNSUBSCRIBE PUBLISH PUBSUB SSUBSCRIBE SUNSUBSCRIBE
//! SPUBLISH (Redis 7.0 pubsub.c). Replies are pushes in RESP3 and arrays in RESP2.

use crate::client::Client;
use crate::ctx::Ctx;
use crate::pubsub::{write_message, write_pmessage};
use crate::table::Handler;
use crate::Engine;
use bytes::Bytes;
use redoubt_keyspace::glob::glob_match;
use redoubt_resp::ReplyBuf;

fn confirm(out: &mut ReplyBuf, kind: &[u8], name: Option<&[u8]>, count: usize) {
    out.push_len(3);
    out.bulk(kind);
    match name {
        Some(n) => out.bulk(n),
        None => out.null(),
    }
    out.int(count as i64);
}

pub fn subscribe(ctx: &mut Ctx<'_>, argv: &[Bytes]) {
    for ch in &argv[1..] {
        ctx.eng.pubsub.subscribe(ctx.client, ch);
        let n = ctx.client.subscriptions();
        confirm(&mut ctx.client.out, b"subscribe", Some(ch), n);
    }
}

pub fn unsubscribe(ctx: &mut Ctx<'_>, argv: &[Bytes]) {
    let targets: Vec<Bytes> = if argv.len() == 1 {
        ctx.client.channels.iter().cloned().collect()
    } else {
        argv[1..].to_vec()
    };
    if targets.is_empty() {
        let n = ctx.client.subscriptions();
        confirm(&mut ctx.client.out, b"unsubscribe", None, n);
        return;
    }
    for ch in &targets {
        ctx.eng.pubsub.unsubscribe(ctx.client, ch);
        let n = ctx.client.subscriptions();
        confirm(&mut ctx.client.out, b"unsubscribe", Some(ch), n);
    }
}

pub fn psubscribe(ctx: &mut Ctx<'_>, argv: &[Bytes]) {
    for p in &argv[1..] {
        ctx.eng.pubsub.psubscribe(ctx.client, p);
        let n = ctx.client.subscriptions();
        confirm(&mut ctx.client.out, b"psubscribe", Some(p), n);
    }
}

pub fn punsubscribe(ctx: &mut Ctx<'_>, argv: &[Bytes]) {
    let targets: Vec<Bytes> = if argv.len() == 1 {
        ctx.client.patterns.iter().cloned().collect()
    } else {
        argv[1..].to_vec()
    };
    if targets.is_empty() {
        let n = ctx.client.subscriptions();
        confirm(&mut ctx.client.out, b"punsubscribe", None, n);
        return;
    }
    for p in &targets {
        ctx.eng.pubsub.punsubscribe(ctx.client, p);
        let n = ctx.client.subscriptions();
        confirm(&mut ctx.client.out, b"punsubscribe", Some(p), n);
    }
}

pub fn ssubscribe(ctx: &mut Ctx<'_>, argv: &[Bytes]) {
    for ch in &argv[1..] {
        ctx.eng.pubsub.ssubscribe(ctx.client, ch);
        let n = ctx.client.shard_channels.len();
        confirm(&mut ctx.client.out, b"ssubscribe", Some(ch), n);
    }
}

pub fn sunsubscribe(ctx: &mut Ctx<'_>, argv: &[Bytes]) {
    let targets: Vec<Bytes> = if argv.len() == 1 {
        ctx.client.shard_channels.iter().cloned().collect()
    } else {
        argv[1..].to_vec()
    };
    if targets.is_empty() {
        confirm(&mut ctx.client.out, b"sunsubscribe", None, 0);
        return;
    }
    for ch in &targets {
        ctx.eng.pubsub.sunsubscribe(ctx.client, ch);
        let n = ctx.client.shard_channels.len();
        confirm(&mut ctx.client.out, b"sunsubscribe", Some(ch), n);
    }
}

/// Runs `f` on the client with `id`, which may be the one executing.
fn with_client(eng: &mut Engine, current: &mut Client, id: u64, f: impl FnOnce(&mut Client)) {
    if id == current.id {
        f(current);
    } else if let Some(mut c) = eng.clients.remove(&id) {
        f(&mut c);
        if eng.check_output_limits(&mut c, eng.now_ms) {
            eng.stats.client_output_buffer_limit_disconnections += 1;
        }
        c.io.notify.notify();
        eng.clients.insert(id, c);
    }
}

/// Delivers a message to channel and pattern subscribers; returns the receiver count.
pub fn publish_message(
    eng: &mut Engine,
    current: &mut Client,
    channel: &[u8],
    msg: &[u8],
    shard: bool,
) -> usize {
    let mut receivers = 0;
    let map = if shard {
        &eng.pubsub.shard_channels
    } else {
        &eng.pubsub.channels
    };
    let ids: Vec<u64> = map.get(channel).cloned().unwrap_or_default();
    let kind: &[u8] = if shard { b"smessage" } else { b"message" };
    for id in ids {
        with_client(eng, current, id, |c| {
            write_message(&mut c.out, kind, channel, msg)
        });
        receivers += 1;
    }
    if !shard {
        let matches: Vec<(Bytes, Vec<u64>)> = eng
            .pubsub
            .patterns
            .iter()
            .filter(|(p, _)| glob_match(p, channel, false))
            .map(|(p, ids)| (p.clone(), ids.clone()))
            .collect();
        for (pat, ids) in matches {
            for id in ids {
                with_client(eng, current, id, |c| {
                    write_pmessage(&mut c.out, &pat, channel, msg)
                });
                receivers += 1;
            }
        }
    }
    eng.stats.pubsub_messages += 1;
    receivers
}

pub fn publish(ctx: &mut Ctx<'_>, argv: &[Bytes]) {
    let n = publish_message(ctx.eng, ctx.client, &argv[1], &argv[2], false);
    ctx.out().int(n as i64);
}

pub fn spublish(ctx: &mut Ctx<'_>, argv: &[Bytes]) {
    let n = publish_message(ctx.eng, ctx.client, &argv[1], &argv[2], true);
    ctx.out().int(n as i64);
}

fn channels_matching(ctx: &mut Ctx<'_>, argv: &[Bytes], shard: bool) {
    if argv.len() > 3 {
        ctx.error_bytes(&crate::errors::subcommand_syntax(&argv[1], "pubsub"));
        return;
    }
    let pat = argv.get(2);
    let map = if shard {
        &ctx.eng.pubsub.shard_channels
    } else {
        &ctx.eng.pubsub.channels
    };
    let names: Vec<Bytes> = map
        .keys()
        .filter(|ch| pat.is_none_or(|p| glob_match(p, ch, false)))
        .cloned()
        .collect();
    let out = &mut ctx.client.out;
    out.array_len(names.len());
    for n in names {
        out.bulk(&n);
    }
}

pub fn pubsub_channels(ctx: &mut Ctx<'_>, argv: &[Bytes]) {
    channels_matching(ctx, argv, false);
}

pub fn pubsub_shardchannels(ctx: &mut Ctx<'_>, argv: &[Bytes]) {
    channels_matching(ctx, argv, true);
}

fn numsub(ctx: &mut Ctx<'_>, argv: &[Bytes], shard: bool) {
    let map = if shard {
        &ctx.eng.pubsub.shard_channels
    } else {
        &ctx.eng.pubsub.channels
    };
    let counts: Vec<(Bytes, usize)> = argv[2..]
        .iter()
        .map(|ch| (ch.clone(), map.get(ch).map_or(0, |v| v.len())))
        .collect();
    // A flat array in RESP3 too (Redis's addReplyArrayLen), not a map.
    let out = &mut ctx.client.out;
    out.array_len(counts.len() * 2);
    for (ch, n) in counts {
        out.bulk(&ch);
        out.int(n as i64);
    }
}

pub fn pubsub_numsub(ctx: &mut Ctx<'_>, argv: &[Bytes]) {
    numsub(ctx, argv, false);
}

pub fn pubsub_shardnumsub(ctx: &mut Ctx<'_>, argv: &[Bytes]) {
    numsub(ctx, argv, true);
}

pub fn pubsub_help(ctx: &mut Ctx<'_>, _argv: &[Bytes]) {
    crate::errors::write_help(
        ctx.out(),
        "pubsub",
        &[
            "CHANNELS [<pattern>]",
            "    Return the currently active channels matching a <pattern> (default: '*').",
            "NUMPAT",
            "    Return number of subscriptions to patterns.",
            "NUMSUB [<channel> ...]",
            "    Return the number of subscribers for the specified channels, excluding",
            "    pattern subscriptions(default: no channels).",
            "SHARDCHANNELS [<pattern>]",
            "    Return the currently active shard level channels matching a <pattern> (default: '*').",
            "SHARDNUMSUB [<shardchannel> ...]",
            "    Return the number of subscribers for the specified shard level channel(s)",
        ],
    );
}

pub fn pubsub_numpat(ctx: &mut Ctx<'_>, _argv: &[Bytes]) {
    let n = ctx.eng.pubsub.patterns.len();
    ctx.out().int(n as i64);
}

/// This family's commands (see `commands::all`).
pub static HANDLERS: &[(&str, Handler)] = &[
    ("subscribe", subscribe),
    ("unsubscribe", unsubscribe),
    ("psubscribe", psubscribe),
    ("punsubscribe", punsubscribe),
    ("ssubscribe", ssubscribe),
    ("sunsubscribe", sunsubscribe),
    ("publish", publish),
    ("spublish", spublish),
    ("pubsub|channels", pubsub_channels),
    ("pubsub|numsub", pubsub_numsub),
    ("pubsub|numpat", pubsub_numpat),
    ("pubsub|help", pubsub_help),
    ("pubsub|shardchannels", pubsub_shardchannels),
    ("pubsub|shardnumsub", pubsub_shardnumsub),
];
