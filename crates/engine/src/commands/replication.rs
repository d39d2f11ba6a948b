//! Replication commands: REPLCONF, SYNC, PSYNC (the master's side of the handshake),
//! REPLICAOF/SLAVEOF, ROLE, WAIT, and INFO's replication section (Redis 7.0 replication.c).
//!
//! A full sync's payload comes from the non-forking snapshot (`crate::repl_sync`). None of
//! these commands changes data; REPLICAOF changes the role (its effects on the stream are the
//! IDs' shift and forced SELECT).

use crate::ctx::Ctx;
use crate::errors;
use crate::repl::{peer_ip, LinkState, ReplicaInfo};
use crate::table::Handler;
use crate::Engine;
use bytes::Bytes;
use redoubt_replication::{psync_decision, PsyncDecision};
use std::fmt::Write as _;

fn replica_info_mut<'a>(ctx: &'a mut Ctx<'_>) -> &'a mut ReplicaInfo {
    let now = ctx.now_ms;
    let c = &mut *ctx.client;
    match &mut c.repl {
        Some(r) => r,
        None => c.repl_pending.get_or_insert_with(|| ReplicaInfo::new(now)),
    }
}

pub fn replconf(ctx: &mut Ctx<'_>, argv: &[Bytes]) {
    if argv.len().is_multiple_of(2) {
        ctx.error(errors::SYNTAX);
        return;
    }
    for pair in argv[1..].chunks(2) {
        let opt = String::from_utf8_lossy(&pair[0]).to_ascii_lowercase();
        let val = &pair[1];
        match opt.as_str() {
            "listening-port" => {
                let Some(port) = ctx.parse_i64(val) else {
                    return;
                };
                replica_info_mut(ctx).listening_port = port.clamp(0, 65535) as u16;
            }
            "ip-address" => {
                if val.len() >= 46 {
                    let msg = format!(
                        "ERR REPLCONF ip-address provided by replica instance is too long: {} bytes",
                        val.len()
                    );
                    ctx.error(&msg);
                    return;
                }
                replica_info_mut(ctx).ip_address = Some(String::from_utf8_lossy(val).into_owned());
            }
            "capa" => {
                let info = replica_info_mut(ctx);
                if val.eq_ignore_ascii_case(b"eof") {
                    info.capa_eof = true;
                } else if val.eq_ignore_ascii_case(b"psync2") {
                    info.capa_psync2 = true;
                }
            }
            "ack" => {
                // Only replicas ACK, and an ACK is never answered.
                let now = ctx.now_ms;
                let off = std::str::from_utf8(val)
                    .ok()
                    .and_then(|s| s.parse::<i64>().ok());
                let mut start_stream = None;
                if let (Some(r), Some(off)) = (ctx.client.repl.as_mut(), off) {
                    if off >= 0 && off as u64 > r.ack_offset {
                        r.ack_offset = off as u64;
                    }
                    r.ack_ms = now;
                    // Only once its payload was sent: an ACK before (a confused replica)
                    // must not release the stream ahead of the payload's end.
                    if r.state == crate::repl::ReplicaState::Online {
                        start_stream = r.wait_first_ack.take();
                    }
                }
                if let Some(held) = start_stream {
                    // `replicaStartCommandStream`: the payload is loaded, stream from now on.
                    held.write_to(&mut ctx.client.out);
                    let name = Engine::replica_name(ctx.client);
                    ctx.eng
                        .log_notice(&format!("Synchronization with replica {name} succeeded"));
                }
                return;
            }
            // Our master asks for an ACK: the link task answers it on its socket.
            "getack" => return,
            // Redoubt's safe mode: a Sentinel cuts us from our master (crate::safe).
            "freeze" if argv.len() == 3 => {
                crate::safe::freeze(ctx, val);
                return;
            }
            "rdb-only" | "rdb-filter-only" => {}
            _ => {
                let msg = format!(
                    "ERR Unrecognized REPLCONF option: {}",
                    String::from_utf8_lossy(&pair[0])
                );
                ctx.error(&msg);
                return;
            }
        }
    }
    ctx.ok();
}

pub fn sync(ctx: &mut Ctx<'_>, argv: &[Bytes]) {
    sync_generic(ctx, argv, false);
}

pub fn psync(ctx: &mut Ctx<'_>, argv: &[Bytes]) {
    sync_generic(ctx, argv, true);
}

/// `syncCommand`: a partial resync from the backlog when possible, else a full sync.
fn sync_generic(ctx: &mut Ctx<'_>, argv: &[Bytes], psync: bool) {
    if ctx.client.repl.is_some() {
        return;
    }
    // A failing-over master asks us to take over: our history must be its.
    if psync && argv.len() > 3 && argv[3].eq_ignore_ascii_case(b"failover") {
        if argv[1] == ctx.eng.repl.ids.replid.as_bytes() {
            ctx.eng.unset_master();
            let who = crate::commands::client::client_info_string(ctx.client, ctx.now_ms);
            ctx.eng.log_notice(&format!(
                "MASTER MODE enabled (failover request from '{who}')"
            ));
        } else {
            ctx.error("ERR PSYNC FAILOVER replid must match my replid.");
            return;
        }
    }
    if ctx.eng.repl.failover.state != crate::failover::FailoverState::None {
        ctx.error("NOMASTERLINK Can't SYNC while failing over");
        return;
    }
    if ctx.eng.is_replica() && !ctx.eng.master_link_up() {
        ctx.error("NOMASTERLINK Can't SYNC while not connected with my master");
        return;
    }
    let now = ctx.now_ms;
    let mut info = ctx
        .client
        .repl_pending
        .take()
        .unwrap_or_else(|| ReplicaInfo::new(now));
    info.ack_ms = now;
    ctx.client.repl = Some(info.clone());
    let name = Engine::replica_name(ctx.client);
    ctx.eng
        .log_notice(&format!("Replica {name} asks for synchronization"));
    if psync {
        let req_id = String::from_utf8_lossy(&argv[1]).into_owned();
        let req_off = std::str::from_utf8(&argv[2])
            .ok()
            .and_then(|s| s.parse::<i64>().ok());
        let decision = match req_off {
            Some(off) => psync_decision(
                &ctx.eng.repl.ids,
                ctx.eng.repl.backlog.as_ref(),
                &req_id,
                off,
            ),
            None => PsyncDecision::Full { reason: None },
        };
        match decision {
            PsyncDecision::Continue { backlog } => {
                let fed = ctx.eng.stream.offset() - ctx.eng.stream.pending_len() as u64;
                info.start_offset = fed;
                let line = if info.capa_psync2 {
                    format!("+CONTINUE {}\r\n", ctx.eng.repl.ids.replid)
                } else {
                    "+CONTINUE\r\n".to_string()
                };
                ctx.client.out.raw(line.as_bytes());
                ctx.client.out.raw(&backlog);
                ctx.eng.stats.sync_partial_ok += 1;
                ctx.eng.log_notice(&format!(
                    "Partial resynchronization request from {name} accepted. Sending {} bytes of backlog starting from offset {}.",
                    backlog.len(),
                    req_off.unwrap_or(0)
                ));
                attach(ctx, info);
                return;
            }
            PsyncDecision::Full { reason } => {
                match reason {
                    Some(r) => ctx.eng.log_notice(&r),
                    None => ctx
                        .eng
                        .log_notice(&format!("Full resync requested by replica {name}")),
                }
                if req_id != "?" {
                    ctx.eng.stats.sync_partial_err += 1;
                }
            }
        }
    } else {
        info.pre_psync = true;
    }
    ctx.eng.stats.sync_full += 1;
    // As `syncCommand`: a full sync only (a partial resync returned above keeps the option
    // off), read when the sync starts.
    if ctx.eng.config.get_bool("repl-disable-tcp-nodelay") {
        ctx.client.io.disable_nodelay.set(true);
    }
    ctx.eng.ensure_backlog();
    info.state = crate::repl::ReplicaState::WaitBgsaveStart;
    info.wait_since_ms = now;
    attach(ctx, info);
    ctx.eng.full_sync_requested(ctx.client);
}

fn attach(ctx: &mut Ctx<'_>, info: ReplicaInfo) {
    ctx.client.io.bulk.borrow_mut().last_queued = false;
    ctx.client.kind = crate::ClientKind::Replica;
    ctx.client.repl = Some(info);
    ctx.eng.repl.replicas.push(ctx.client.id);
}

/// REPLICAOF / SLAVEOF (`replicaofCommand`).
pub fn replicaof(ctx: &mut Ctx<'_>, argv: &[Bytes]) {
    let now = ctx.now_ms;
    if argv[1].eq_ignore_ascii_case(b"no") && argv[2].eq_ignore_ascii_case(b"one") {
        if ctx.eng.is_replica() {
            ctx.eng.unset_master();
            let who = crate::commands::client::client_info_string(ctx.client, now);
            ctx.eng
                .log_notice(&format!("MASTER MODE enabled (user request from '{who}')"));
        }
        ctx.ok();
        return;
    }
    if ctx.client.repl.is_some() {
        ctx.error("ERR Command is not valid when client is a replica.");
        return;
    }
    let port = std::str::from_utf8(&argv[2])
        .ok()
        .and_then(|s| s.parse::<i64>().ok())
        .filter(|p| (0..=65535).contains(p));
    let Some(port) = port else {
        ctx.error("ERR Invalid master port");
        return;
    };
    let host = String::from_utf8_lossy(&argv[1]).into_owned();
    if let Some(m) = &ctx.eng.repl.master {
        // A frozen replica is reconfigured even to the same master: that is its release.
        if m.frozen.is_none() && m.host.eq_ignore_ascii_case(&host) && i64::from(m.port) == port {
            ctx.eng.log_notice("REPLICAOF would result into synchronization with the master we are already connected with. No operation performed.");
            ctx.out().simple("OK Already connected to specified master");
            return;
        }
    }
    ctx.eng.set_master(host.clone(), port as u16, now);
    let who = crate::commands::client::client_info_string(ctx.client, now);
    ctx.eng.log_notice(&format!(
        "REPLICAOF {host}:{port} enabled (user request from '{who}')"
    ));
    ctx.ok();
}

/// ROLE (`roleCommand`).
pub fn role(ctx: &mut Ctx<'_>, _argv: &[Bytes]) {
    let eng = &*ctx.eng;
    if let Some(m) = &eng.repl.master {
        let host = m.host.clone();
        let port = i64::from(m.port);
        let state = m.state.role_name();
        let offset = if m.client.is_some() {
            eng.stream.offset() as i64
        } else {
            -1
        };
        let out = ctx.out();
        out.array_len(5);
        out.bulk(b"slave");
        out.bulk(host.as_bytes());
        out.int(port);
        out.bulk(state.as_bytes());
        out.int(offset);
        return;
    }
    let offset = eng.stream.offset() as i64;
    let rows: Vec<(String, String, String)> = eng
        .repl
        .replicas
        .iter()
        .filter_map(|id| eng.clients.get(id))
        .filter_map(|c| {
            // Online replicas only (`roleCommand`): one waiting for its sync is not listed.
            let r = c
                .repl
                .as_ref()
                .filter(|r| r.state == crate::repl::ReplicaState::Online)?;
            let ip = r.ip_address.clone().unwrap_or_else(|| peer_ip(&c.addr));
            Some((ip, r.listening_port.to_string(), r.ack_offset.to_string()))
        })
        .collect();
    let out = ctx.out();
    out.array_len(3);
    out.bulk(b"master");
    out.int(offset);
    out.array_len(rows.len());
    for (ip, port, off) in rows {
        out.array_len(3);
        out.bulk(ip.as_bytes());
        out.bulk(port.as_bytes());
        out.bulk(off.as_bytes());
    }
}

/// INFO's replication section, in Redis 7.0.15's order.
pub fn info_section(eng: &Engine, s: &mut String, now_ms: i64) {
    s.push_str("# Replication\r\n");
    let now_s = now_ms / 1000;
    match &eng.repl.master {
        None => s.push_str("role:master\r\n"),
        Some(m) => {
            let up = m.state == LinkState::Connected;
            let last_io = if m.client.is_some() {
                (now_ms - m.last_io_ms) / 1000
            } else {
                -1
            };
            let offset = eng.stream.offset();
            let _ = write!(
                s,
                "role:slave\r\n\
                 master_host:{}\r\n\
                 master_port:{}\r\n\
                 master_link_status:{}\r\n\
                 master_last_io_seconds_ago:{}\r\n\
                 master_sync_in_progress:{}\r\n\
                 slave_read_repl_offset:{}\r\n\
                 slave_repl_offset:{}\r\n",
                m.host,
                m.port,
                if up { "up" } else { "down" },
                last_io,
                u8::from(m.state == LinkState::Transfer),
                m.read_offset.max(offset),
                offset,
            );
            if m.state == LinkState::Transfer {
                let total = m.transfer_size.map_or(-1, |t| t as i64);
                let read = m.transfer_read as i64;
                // As Redis computes them, also for an EOF-marked payload (size -1): left
                // -1 - read, perc -0.00 then negative (redis-server 7.0.15 prints these).
                let left = total - read;
                let perc = if total != 0 {
                    read as f64 / total as f64 * 100.0
                } else {
                    0.0
                };
                let _ = write!(
                    s,
                    "master_sync_total_bytes:{total}\r\n\
                     master_sync_read_bytes:{read}\r\n\
                     master_sync_left_bytes:{left}\r\n\
                     master_sync_perc:{perc:.2}\r\n\
                     master_sync_last_io_seconds_ago:{}\r\n",
                    (now_ms - m.transfer_last_io_ms) / 1000
                );
            }
            if !up {
                let down = m.down_since_ms.map_or(-1, |d| now_s - d / 1000);
                let _ = write!(s, "master_link_down_since_seconds:{down}\r\n");
            }
            let _ = write!(
                s,
                "slave_priority:{}\r\n\
                 slave_read_only:{}\r\n\
                 replica_announced:{}\r\n",
                eng.config.get_int("replica-priority"),
                u8::from(eng.config.get_bool("replica-read-only")),
                u8::from(eng.config.get_bool("replica-announced")),
            );
        }
    }
    let _ = write!(s, "connected_slaves:{}\r\n", eng.repl.replicas.len());
    if eng.config.get_int("min-replicas-to-write") > 0
        && eng.config.get_int("min-replicas-max-lag") > 0
    {
        let _ = write!(
            s,
            "min_slaves_good_slaves:{}\r\n",
            eng.good_replicas(now_ms)
        );
    }
    // Redoubt's safe mode, shown only when set (INFO stays Redis's otherwise): Sentinels in
    // safe mode learn the master's setting here.
    let acks = eng.config.get_int(crate::safe::ACK_BEFORE_REPLY);
    if acks > 0 {
        let _ = write!(s, "replica_ack_before_reply:{acks}\r\n");
    }
    let mut n = 0;
    for id in &eng.repl.replicas {
        let Some(c) = eng.clients.get(id) else {
            continue;
        };
        let Some(r) = &c.repl else { continue };
        let ip = r.ip_address.clone().unwrap_or_else(|| peer_ip(&c.addr));
        // Redis computes the lag of online replicas only.
        let lag = if r.state == crate::repl::ReplicaState::Online {
            now_s - r.ack_ms / 1000
        } else {
            0
        };
        let _ = write!(
            s,
            "slave{n}:ip={ip},port={},state={},offset={},lag={lag}\r\n",
            r.listening_port,
            r.state.name(),
            r.ack_offset,
        );
        n += 1;
    }
    let (active, size, first, histlen) = match &eng.repl.backlog {
        Some(b) => (1, b.size() as i64, b.first_byte_offset(), b.histlen()),
        None => (0, eng.config.get_int("repl-backlog-size"), 0, 0),
    };
    let _ = write!(
        s,
        "master_failover_state:{}\r\n\
         master_replid:{}\r\n\
         master_replid2:{}\r\n\
         master_repl_offset:{}\r\n\
         second_repl_offset:{}\r\n\
         repl_backlog_active:{active}\r\n\
         repl_backlog_size:{size}\r\n\
         repl_backlog_first_byte_offset:{first}\r\n\
         repl_backlog_histlen:{histlen}\r\n",
        eng.repl.failover.state.name(),
        eng.repl.ids.replid,
        eng.repl.ids.replid2,
        eng.stream.offset(),
        eng.repl.ids.second_repl_offset,
    );
}

/// WAIT numreplicas timeout (`waitCommand`).
pub fn wait(ctx: &mut Ctx<'_>, argv: &[Bytes]) {
    if ctx.eng.is_replica() {
        ctx.error("ERR WAIT cannot be used with replica instances. Please also note that since Redis 4.0 if a replica is configured to be writable (which is not the default) writes to replicas are just local and are not propagated.");
        return;
    }
    let Some(numreplicas) = ctx.parse_i64(&argv[1]) else {
        return;
    };
    let Some(timeout) = redoubt_keyspace::num::string2ll(&argv[2]) else {
        ctx.error("ERR timeout is not an integer or out of range");
        return;
    };
    if timeout < 0 {
        ctx.error(errors::TIMEOUT_NEGATIVE);
        return;
    }
    let offset = ctx.client.woff;
    let acked = ctx.eng.replicas_acked(offset);
    if acked as i64 >= numreplicas || ctx.client.multi.is_some() || ctx.in_exec {
        ctx.out().int(acked as i64);
        return;
    }
    let deadline = (timeout > 0).then(|| ctx.now_ms.saturating_add(timeout));
    let st = crate::blocking::BlockState {
        db: ctx.client.db,
        keys: Vec::new(),
        deadline_ms: deadline,
        argv: argv.to_vec(),
    };
    ctx.eng.block_client(ctx.client, st);
    ctx.eng.repl.waiting.push(crate::repl::Waiting {
        client: ctx.client.id,
        offset,
        replicas: numreplicas,
        hold: false,
    });
    ctx.eng.repl.get_ack = true;
}

/// This family's commands (see `commands::all`).
pub static HANDLERS: &[(&str, Handler)] = &[
    ("replconf", replconf),
    ("sync", sync),
    ("psync", psync),
    ("replicaof", replicaof),
    ("slaveof", replicaof),
    ("role", role),
    ("wait", wait),
    ("failover", crate::failover::failover),
];
