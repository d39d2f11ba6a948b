//! Redoubt's safe mode on the data nodes (docs/ARCHITECTURE.md, "Safe mode"): replies to
//! writes held until replicas acknowledged them, and `REPLCONF FREEZE` on a replica.
//!
//! **`replica-ack-before-reply <n>`** (a Redoubt-only directive, 0 = off). On a master, a
//! write command's reply (any command flagged `write`, or one that added to the replication
//! stream, EXEC and scripts included, PUBLISH excepted) is held until `n` replicas acknowledged an offset at
//! or past the stream's end after that command: an implicit `WAIT n`. The reply bytes are
//! cut from the client's buffer and the client is blocked exactly as WAIT blocks it (nothing
//! pipelined after it runs meanwhile); `REPLCONF GETACK *` goes out at the end of the batch,
//! so Redoubt and real Redis replicas alike ACK within a round trip. When the ACKs arrive the
//! held reply is released unchanged. When they do not arrive within `min-replicas-max-lag`
//! seconds (10 s if that is 0), the client gets `-NOREPLICAS Not enough good replicas to
//! write.` instead. As with WAIT, the write has then been applied on the master and may or
//! may not be on replicas: the client must treat it as "unknown", never as refused. What the
//! option guarantees is the converse: a success reply means `n` replicas had the effect.
//! With fewer than `n` replicas attached a write is refused before it runs (the same
//! NOREPLICAS, as `min-replicas-to-write` refuses), so nothing is applied then.
//!
//! **`REPLCONF FREEZE <epoch>`** on a replica: the link to the master is dropped (the link
//! task of the current generation stops, bytes read but not applied are discarded), no new
//! link is started and therefore no ACK is sent, until REPLICAOF/SLAVEOF reconfigures it
//! (even to the same master). The reply, `*2 $<replid> :<offset>`, is the replication id
//! and the offset applied, read in the same engine step that cut the link: no ACK of a
//! larger offset can have left before or leave after. The freeze is in memory only.

use crate::blocking::BlockState;
use crate::client::{Client, ClientKind};
use crate::ctx::Ctx;
use crate::repl::{LinkState, Waiting};
use crate::Engine;
use bytes::Bytes;

/// The directive's name (Redoubt-only; hidden from `CONFIG GET *`).
pub const ACK_BEFORE_REPLY: &str = "replica-ack-before-reply";

impl Engine {
    /// `replica-ack-before-reply`, or 0 when it does not apply (we are a replica).
    pub fn acks_before_reply(&self) -> usize {
        if self.is_replica() {
            return 0;
        }
        usize::try_from(self.config.get_int(ACK_BEFORE_REPLY)).unwrap_or(0)
    }

    /// Called after a top-level command ran and its effects were committed: holds its reply
    /// (the bytes from `out_from` on) until enough replicas acknowledged the stream's end.
    pub(crate) fn hold_for_acks(
        &mut self,
        client: &mut Client,
        argv: &[Bytes],
        is_write: bool,
        offset_before: u64,
        out_from: usize,
        now_ms: i64,
    ) {
        // PUBLISH is propagated but is not data: Sentinel hellos must not wait for ACKs
        // (a held PUBLISH would delay the PINGs behind it on the Sentinel's link).
        let moved = self.stream.offset() != offset_before
            && !argv.first().is_some_and(|n| {
                n.eq_ignore_ascii_case(b"publish") || n.eq_ignore_ascii_case(b"spublish")
            });
        if !(is_write || moved)
            || client.kind != ClientKind::Normal
            || client.blocked.is_some()
            || client.multi.is_some()
        {
            return;
        }
        let n = self.acks_before_reply();
        if n == 0 {
            return;
        }
        let target = self.stream.offset();
        if self.replicas_acked(target) >= n {
            return;
        }
        let held = client.out.buf.split_off(out_from.min(client.out.buf.len()));
        client.held_reply = Some(held.freeze());
        let lag = self.config.get_int("min-replicas-max-lag");
        let wait_ms = if lag > 0 {
            lag.saturating_mul(1000)
        } else {
            10_000
        };
        let st = BlockState {
            db: client.db,
            keys: Vec::new(),
            deadline_ms: Some(now_ms.saturating_add(wait_ms)),
            argv: argv.to_vec(),
        };
        self.block_client(client, st);
        self.repl.waiting.push(Waiting {
            client: client.id,
            offset: target,
            replicas: n as i64,
            hold: true,
        });
        self.repl.get_ack = true;
    }

    /// A held reply's fate: released as it was when the ACKs came, or replaced by
    /// NOREPLICAS (timeout, CLIENT UNBLOCK). The command was counted when it ran.
    pub(crate) fn release_held(&mut self, c: &mut Client, acked: bool) {
        let Some(reply) = c.held_reply.take() else {
            return;
        };
        if acked {
            c.out.raw(&reply);
        } else {
            c.out.error(crate::errors::NOREPLICAS);
            for code in c.out.error_codes.drain(..) {
                self.stats.count_error(&code);
            }
        }
        c.io.notify.notify();
    }

    /// True while a REPLCONF FREEZE holds this replica away from its master.
    pub fn is_frozen(&self) -> bool {
        self.repl
            .master
            .as_ref()
            .is_some_and(|m| m.frozen.is_some())
    }
}

/// `REPLCONF FREEZE <epoch>` (the REPLCONF handler passes the epoch argument).
pub(crate) fn freeze(ctx: &mut Ctx<'_>, epoch: &[u8]) {
    let Some(epoch) = std::str::from_utf8(epoch)
        .ok()
        .and_then(|s| s.parse::<u64>().ok())
    else {
        ctx.error("ERR REPLCONF FREEZE epoch is not a valid number");
        return;
    };
    if !ctx.eng.is_replica() {
        ctx.error("ERR REPLCONF FREEZE is only valid on a replica");
        return;
    }
    let now = ctx.now_ms;
    let first = !ctx.eng.is_frozen();
    if first {
        // Cut the link first: the link task of this generation stops at its next step
        // (its `apply` and ACK paths check the generation), and none is started for the new
        // one until REPLICAOF/SLAVEOF.
        if let Some(id) = ctx.eng.repl.master.as_ref().and_then(|m| m.client) {
            crate::commands::client::kill_client(ctx.eng, id);
        }
        ctx.eng.repl.generation += 1;
    }
    let Some(m) = ctx.eng.repl.master.as_mut() else {
        return;
    };
    if m.state == LinkState::Connected {
        m.down_since_ms = Some(now);
    }
    m.state = LinkState::Connect;
    let frozen = m.frozen.map_or(epoch, |e| e.max(epoch));
    m.frozen = Some(frozen);
    let replid = ctx.eng.repl.ids.replid.clone();
    let offset = ctx.eng.stream.offset();
    if first {
        ctx.eng.log_warning(&format!(
            "Replication FROZEN by a Sentinel (epoch {frozen}) at offset {offset}: not reconnecting to my master nor acknowledging anything until reconfigured with REPLICAOF"
        ));
    }
    let out = ctx.out();
    out.array_len(2);
    out.bulk(replid.as_bytes());
    out.int(offset as i64);
}
