//! Redoubt's safe mode on the data nodes (docs/ARCHITECTURE.md, "Safe mode"): replies to
//! writes held until replicas acknowledged them, and `REPLCONF FREEZE` on a replica.
//!
//! **`replica-ack-before-reply <n>`** (a Redoubt-only directive, 0 = off). On a master, a
//! write command's reply (any command flagged `write`, or one that added to the replication
//! stream, EXEC and scripts included, PUBLISH excepted) is held until `n` replicas
//! acknowledged an offset at or past the stream's end after that command: an implicit
//! `WAIT n`; a blocked pop served later (`serve_blocked`) is held the same way for its
//! effect. The engine only records the hold ([`Hold`]: the byte ranges of the held
//! replies in the client's buffer, the target offset, the deadline) and registers the client
//! to be woken by ACKs; the connection holds the whole batch's output (as it does for
//! `appendfsync always`) until [`Engine::hold_status`] says released or failed, so a pipeline
//! costs one round trip per batch, not one per write. `REPLCONF GETACK *` goes out at the
//! end of the batch, so Redoubt and real Redis replicas alike ACK within a round trip. When
//! the ACKs arrive the output is written unchanged. When they do not arrive within
//! `min-replicas-max-lag` seconds (10 s if that is 0), each held reply is replaced by
//! `-NOREPLICAS Not enough good replicas to write.` ([`substitute`]); replies to other
//! commands of the batch are kept. As with WAIT, such a write has been applied on the master
//! and may or may not be on replicas: the client must treat it as "unknown", never as
//! refused. What the option guarantees is the converse: a success reply means `n` replicas
//! had the effect. If the server becomes a replica meanwhile the held replies get Redis's
//! `-UNBLOCKED ... (master -> replica?)` error. With fewer than `n` replicas attached a write
//! is refused before it runs (the same NOREPLICAS, as `min-replicas-to-write` refuses), so
//! nothing is applied then.
//!
//! **`REPLCONF FREEZE <epoch>`** on a replica: the link to the master is dropped (the link
//! task of the current generation stops, bytes read but not applied are discarded), no new
//! link is started and therefore no ACK is sent, until REPLICAOF/SLAVEOF reconfigures it
//! (even to the same master). The reply, `*2 $<replid> :<offset>`, is the replication id
//! and the offset applied, read in the same engine step that cut the link: no ACK of a
//! larger offset can have left before or leave after. The freeze is in memory only.

use crate::client::{Client, ClientId, ClientKind};
use crate::ctx::Ctx;
use crate::repl::{LinkState, Waiting};
use crate::Engine;
use bytes::Bytes;

/// The directive's name (Redoubt-only; hidden from `CONFIG GET *`).
pub const ACK_BEFORE_REPLY: &str = "replica-ack-before-reply";

/// A batch's replies held for replica ACKs (see the module header).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hold {
    /// Byte ranges of the held replies in the client's output buffer.
    pub ranges: Vec<(usize, usize)>,
    /// The stream offset the replicas must acknowledge.
    pub target: u64,
    /// How many replicas must.
    pub replicas: usize,
    /// Unix ms after which the held replies fail with NOREPLICAS.
    pub deadline_ms: i64,
}

/// What a held batch's output may do now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HoldStatus {
    /// Enough replicas acknowledged: write the output as it is.
    Released,
    /// Replace each held reply with this error (an error line without `-` and CRLF).
    Failed(&'static str),
    /// Wait for the client's wake-up (an ACK) or until this unix ms.
    Waiting(i64),
}

/// The error replacing held replies when the server turned into a replica meanwhile.
pub const ROLE_CHANGED: &str =
    "UNBLOCKED force unblock from blocking operation, instance state changed (master -> replica?)";

/// The batch output with each held reply replaced by `-<err>\r\n`.
pub fn substitute(out: &[u8], ranges: &[(usize, usize)], err: &str) -> Vec<u8> {
    let mut v = Vec::with_capacity(out.len());
    let mut at = 0;
    for &(start, end) in ranges {
        let (start, end) = (start.clamp(at, out.len()), end.clamp(at, out.len()));
        v.extend_from_slice(&out[at..start]);
        v.push(b'-');
        v.extend_from_slice(err.as_bytes());
        v.extend_from_slice(b"\r\n");
        at = end;
    }
    v.extend_from_slice(&out[at.min(out.len())..]);
    v
}

impl Engine {
    /// `replica-ack-before-reply`, or 0 when it does not apply (we are a replica).
    pub fn acks_before_reply(&self) -> usize {
        if self.is_replica() {
            return 0;
        }
        usize::try_from(self.config.get_int(ACK_BEFORE_REPLY)).unwrap_or(0)
    }

    /// Called after a top-level command ran and its effects were committed: records its
    /// reply (the bytes from `out_from` on) as held until enough replicas acknowledged the
    /// stream's end.
    pub(crate) fn hold_for_acks(
        &mut self,
        client: &mut Client,
        argv: &[Bytes],
        is_write: bool,
        offset_before: u64,
        out_from: usize,
        now_ms: i64,
    ) {
        // PUBLISH is propagated but is not data: Sentinel hellos must not wait for ACKs.
        let moved = self.stream.offset() != offset_before
            && !argv.first().is_some_and(|n| {
                n.eq_ignore_ascii_case(b"publish") || n.eq_ignore_ascii_case(b"spublish")
            });
        // A command that blocked (BLPOP...) wrote no reply now; MULTI's queued commands
        // are held at their EXEC.
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
        let range = (out_from.min(client.out.buf.len()), client.out.buf.len());
        match client.hold.as_mut() {
            Some(h) => {
                h.ranges.push(range);
                h.target = h.target.max(target);
                h.replicas = h.replicas.max(n);
            }
            None => {
                let lag = self.config.get_int("min-replicas-max-lag");
                let wait_ms = if lag > 0 {
                    lag.saturating_mul(1000)
                } else {
                    10_000
                };
                client.hold = Some(Hold {
                    ranges: vec![range],
                    target,
                    replicas: n,
                    deadline_ms: now_ms.saturating_add(wait_ms),
                });
            }
        }
        // Woken by the ACKs (`serve_waiting_replicas`) or a role change.
        self.repl
            .waiting
            .retain(|w| !(w.hold && w.client == client.id));
        self.repl.waiting.push(Waiting {
            client: client.id,
            offset: target,
            replicas: n as i64,
            hold: true,
        });
        self.repl.get_ack = true;
    }

    /// What the connection holding `hold` for `client` may do now. A failure is counted in
    /// INFO errorstats once per held reply.
    pub fn hold_status(&mut self, client: ClientId, hold: &Hold, now_ms: i64) -> HoldStatus {
        let status = if self.is_replica() {
            HoldStatus::Failed(ROLE_CHANGED)
        } else if self.replicas_acked(hold.target) >= hold.replicas {
            HoldStatus::Released
        } else if now_ms >= hold.deadline_ms {
            HoldStatus::Failed(crate::errors::NOREPLICAS)
        } else {
            return HoldStatus::Waiting(hold.deadline_ms);
        };
        self.repl
            .waiting
            .retain(|w| !(w.hold && w.client == client));
        if let HoldStatus::Failed(err) = status {
            let code = err.split(' ').next().unwrap_or(err);
            for _ in &hold.ranges {
                self.stats.count_error(code);
            }
        }
        status
    }

    /// Wakes every connection holding replies (a role change: they fail at once).
    pub(crate) fn wake_holds(&mut self) {
        for w in self.repl.waiting.iter().filter(|w| w.hold) {
            if let Some(c) = self.clients.get(&w.client) {
                c.io.notify.notify();
            }
        }
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
