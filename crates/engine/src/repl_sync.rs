//! Full sync from the non-forking snapshot (Redis 7.0 replication.c: `syncCommand`'s full
//! branch, `startBgsaveForReplication`, `replicationStartPendingFork`,
//! `updateSlavesWaitingBgsave`; rdb.c `rdbSaveToSlavesSockets`).
//!
//! A replica that needs a full sync waits (`WaitBgsaveStart`) until a snapshot starts for it:
//! at once, or for a diskless sync after `repl-diskless-sync-delay` seconds or when
//! `repl-diskless-sync-max-replicas` replicas wait (the cron decides, as Redis's
//! `replicationCron` does). Every replica waiting then shares that one snapshot: it gets
//! `+FULLRESYNC <id> <offset>` with the offset at the snapshot's start, and from then on the
//! stream past that offset is held in its `ReplicaInfo::wait_first_ack` (bounded by
//! `client-output-buffer-limit replica`) as a [`HeldStream`]: slices of the batches every
//! replica is handed, so replicas waiting together share one copy (Redis 7.0's shared
//! replication buffer).
//!
//! The snapshot is the BGSAVE machinery (`commands::bgsave`), walked in slices between
//! batches, so the engine never stops for more than one slice:
//! - disk target (`repl-diskless-sync no`, or a replica without `capa eof`): a BGSAVE of
//!   `dbfilename`; when it succeeds each waiting replica's connection task sends
//!   `$<len>\r\n` and the file ([`BulkItem::File`]), then the held stream.
//! - sockets target: [`SocketSink`] hands each slice to every waiting replica's
//!   [`BulkQueue`] (one shared `Bytes` per slice) framed as `$EOF:<mark>\r\n` ... `<mark>`;
//!   the held stream follows the replica's first ACK.
//!
//! The payload never enters a client's reply buffer: the connection task writes the queue
//! itself (server `repl_send`), so the output buffer limit counts only the stream, as
//! Redis's does.

use crate::client::{ClientId, ClientIo};
use crate::repl::ReplicaState;
use crate::snapshot::SnapshotSink;
use crate::Engine;
use bytes::Bytes;
use std::collections::VecDeque;
use std::rc::Rc;

/// Bytes queued to one replica past which the snapshot waits for it (the slowest replica
/// paces a diskless sync, as Redis's pipe to the child does).
const QUEUE_MAX: usize = 4 << 20;

/// Part of a full sync payload, for the replica's connection task to write.
#[derive(Debug)]
pub enum BulkItem {
    Bytes(Bytes),
    /// `$<len>\r\n` and the contents of this file (relative to the working directory).
    File(String),
}

/// A replica's payload not yet written (see the module doc).
#[derive(Debug, Default)]
pub struct BulkQueue {
    pub items: VecDeque<BulkItem>,
    pub queued_bytes: usize,
    /// The payload's last item is queued: once the queue is empty the connection task calls
    /// [`Engine::replica_payload_sent`].
    pub last_queued: bool,
}

impl BulkQueue {
    pub fn push(&mut self, item: BulkItem) {
        if let BulkItem::Bytes(b) = &item {
            self.queued_bytes += b.len();
        }
        self.items.push_back(item);
    }

    pub fn pop(&mut self) -> Option<BulkItem> {
        let item = self.items.pop_front()?;
        if let BulkItem::Bytes(b) = &item {
            self.queued_bytes = self.queued_bytes.saturating_sub(b.len());
        }
        Some(item)
    }
}

/// The stream held for one replica during its full sync (see the module doc).
#[derive(Debug, Clone, Default)]
pub struct HeldStream {
    parts: Vec<Bytes>,
    len: usize,
}

impl HeldStream {
    pub fn push(&mut self, b: Bytes) {
        self.len += b.len();
        self.parts.push(b);
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Releases it into the replica's output, in order.
    pub fn write_to(&self, out: &mut redoubt_resp::ReplyBuf) {
        for p in &self.parts {
            out.raw(p);
        }
    }
}

/// Engine-wide full sync state.
#[derive(Debug, Default)]
pub struct SyncState {
    /// A PSYNC asked for a snapshot to start now: done at the end of its batch, when the
    /// replica is back among the clients and the stream's offset is settled.
    pub kick: bool,
    /// Last keepalive newline sent to waiting replicas (once a second, as Redis).
    pub last_newline_ms: i64,
    /// Redis's `RDBGeneratedByReplication`: `dbfilename` was last written to feed replicas
    /// (a disk-target sync), so `rdb-del-sync-files` may remove it once no replica needs it.
    pub rdb_generated_by_replication: bool,
}

/// The sockets target of a diskless sync: every slice goes to each replica's queue.
pub struct SocketSink {
    targets: Vec<(ClientId, Rc<ClientIo>)>,
    checksum: bool,
    crc: u64,
    mark: String,
    finished: bool,
}

impl SocketSink {
    /// Alive: its client still exists (the engine and its connection task hold the io too).
    fn prune(&mut self) {
        self.targets
            .retain(|(_, io)| !io.killed.get() && Rc::strong_count(io) > 1);
    }

    fn push_all(&self, b: &Bytes, last: bool) {
        for (_, io) in &self.targets {
            let mut q = io.bulk.borrow_mut();
            q.push(BulkItem::Bytes(b.clone()));
            q.last_queued |= last;
            drop(q);
            io.notify.notify();
        }
    }
}

impl SnapshotSink for SocketSink {
    fn write(&mut self, chunk: Vec<u8>) -> Result<(), Vec<u8>> {
        self.prune();
        let full = self
            .targets
            .iter()
            .any(|(_, io)| io.bulk.borrow().queued_bytes >= QUEUE_MAX);
        if full {
            return Err(chunk);
        }
        if self.checksum {
            self.crc = redoubt_persist::rdb::crc64::crc64(self.crc, &chunk);
        }
        self.push_all(&Bytes::from(chunk), false);
        Ok(())
    }

    fn finish(&mut self) {
        self.prune();
        let mut tail = self.crc.to_le_bytes().to_vec();
        tail.extend_from_slice(self.mark.as_bytes());
        self.push_all(&Bytes::from(tail), true);
        self.finished = true;
    }

    fn poll(&mut self) -> Option<Result<(), String>> {
        self.prune();
        if self.targets.is_empty() {
            return Some(Err(
                "Diskless rdb transfer, last replica dropped, killing fork child.".into(),
            ));
        }
        // Done once every replica got every byte (Redis's child exits after its pipe drained).
        let drained = self
            .targets
            .iter()
            .all(|(_, io)| io.bulk.borrow().items.is_empty());
        (self.finished && drained).then_some(Ok(()))
    }

    fn abort(&mut self) {
        for (_, io) in &self.targets {
            let mut q = io.bulk.borrow_mut();
            q.items.clear();
            q.queued_bytes = 0;
        }
    }
}

impl Engine {
    /// Replicas in `state`, in attach order.
    /// Whether a replica still waits for a full sync payload or receives one.
    pub fn replicas_syncing(&self) -> bool {
        self.repl.replicas.iter().any(|id| {
            self.clients
                .get(id)
                .and_then(|c| c.repl.as_ref())
                .is_some_and(|r| r.state != ReplicaState::Online)
        })
    }

    fn replicas_in(&self, state: ReplicaState) -> Vec<ClientId> {
        self.repl
            .replicas
            .iter()
            .copied()
            .filter(|id| {
                self.clients
                    .get(id)
                    .and_then(|c| c.repl.as_ref())
                    .is_some_and(|r| r.state == state)
            })
            .collect()
    }

    /// The full branch of PSYNC/SYNC for `c` (already attached, `WaitBgsaveStart`): join the
    /// disk BGSAVE in progress when another replica waits for it, else wait for the next
    /// snapshot (`syncCommand`).
    pub(crate) fn full_sync_requested(&mut self, c: &mut crate::Client) {
        let diskless = self.config.get_bool("repl-diskless-sync");
        let capa_eof = c.repl.as_ref().is_some_and(|r| r.capa_eof);
        // Redis's three cases: a disk BGSAVE runs, a sockets one runs, none does (an AOF
        // rewrite counts as none, but delays the start).
        let rdb_job = self
            .bgsave
            .as_deref()
            .filter(|b| b.job == crate::commands::bgsave::Job::Rdb)
            .map(|b| b.sockets);
        match rdb_job {
            Some(false) => {
                // `Waiting for end of BGSAVE`: the first replica waiting for this file has
                // the offset and the stream since; share them (Redis copies its buffer).
                let peer = self
                    .replicas_in(ReplicaState::WaitBgsaveEnd)
                    .into_iter()
                    .find_map(|id| {
                        let r = self.clients.get(&id)?.repl.as_ref()?;
                        Some((r.start_offset, r.wait_first_ack.clone()?))
                    });
                if let Some((offset, held)) = peer {
                    if let Some(r) = c.repl.as_mut() {
                        r.state = ReplicaState::WaitBgsaveEnd;
                        r.start_offset = offset;
                        r.wait_first_ack = Some(held);
                    }
                    self.send_fullresync(c, offset);
                    self.log_notice("Waiting for end of BGSAVE for SYNC");
                } else {
                    self.log_notice(
                        "Can't attach the replica to the current BGSAVE. Waiting for next BGSAVE for SYNC",
                    );
                }
            }
            Some(true) => self
                .log_notice("Current BGSAVE has socket target. Waiting for next BGSAVE for SYNC"),
            None if diskless && capa_eof && self.config.get_int("repl-diskless-sync-delay") > 0 => {
                // The cron starts it (`replicationStartPendingFork`).
                self.log_notice("Delay next BGSAVE for diskless SYNC");
            }
            None if self.bgsave.is_some() => self.log_notice(
                "No BGSAVE in progress, but another BG operation is active. BGSAVE for replication delayed",
            ),
            None => self.repl.sync.kick = true,
        }
    }

    /// `replicationSetupSlaveForFullResync`: the replica's stream starts at `offset`, with a
    /// SELECT.
    fn send_fullresync(&mut self, c: &mut crate::Client, offset: u64) {
        let Some(r) = c.repl.as_mut() else { return };
        if !r.pre_psync {
            let line = format!("+FULLRESYNC {} {}\r\n", self.repl.ids.replid, offset);
            c.out.raw(line.as_bytes());
            c.io.notify.notify();
        }
    }

    /// Starts a snapshot for the replicas waiting, if it is time (`shouldStartChildForReplication`
    /// and `startBgsaveForReplication`). `force`: a PSYNC asked for it now.
    pub fn start_pending_sync(&mut self, now_ms: i64, force: bool) {
        if self.bgsave.is_some() {
            return;
        }
        let waiting = self.replicas_in(ReplicaState::WaitBgsaveStart);
        if waiting.is_empty() {
            return;
        }
        let infos: Vec<(bool, i64)> = waiting
            .iter()
            .filter_map(|id| self.clients.get(id)?.repl.as_ref())
            .map(|r| (r.capa_eof, r.wait_since_ms))
            .collect();
        let all_eof = infos.iter().all(|&(eof, _)| eof);
        let max_idle_s = infos
            .iter()
            .map(|&(_, since)| now_ms / 1000 - since / 1000)
            .max()
            .unwrap_or(0);
        let diskless = self.config.get_bool("repl-diskless-sync");
        let max_replicas = self.config.get_int("repl-diskless-sync-max-replicas");
        let delay = self.config.get_int("repl-diskless-sync-delay");
        let due = force
            || !diskless
            || (max_replicas > 0 && waiting.len() as i64 >= max_replicas)
            || max_idle_s >= delay;
        if !due {
            return;
        }
        let sockets = diskless && all_eof;
        self.log_notice(&format!(
            "Starting BGSAVE for SYNC with target: {}",
            if sockets { "replicas sockets" } else { "disk" }
        ));
        // The stream each replica gets starts here, with a SELECT.
        let offset = self.stream.offset();
        self.stream.force_select();
        let started = if sockets {
            self.start_socket_job(&waiting, now_ms)
        } else {
            let ok = self.bgsave_start(now_ms);
            self.repl.sync.rdb_generated_by_replication |= ok;
            ok
        };
        if !started {
            self.log_warning("BGSAVE for replication failed");
            for id in waiting {
                if let Some(mut c) = self.clients.remove(&id) {
                    c.out.error("ERR BGSAVE failed, replication can't continue");
                    c.close_after_reply = true;
                    c.repl = None;
                    c.io.notify.notify();
                    self.clients.insert(id, c);
                }
                self.repl.replicas.retain(|&r| r != id);
            }
            return;
        }
        for id in waiting {
            let Some(mut c) = self.clients.remove(&id) else {
                continue;
            };
            if let Some(r) = c.repl.as_mut() {
                r.state = ReplicaState::WaitBgsaveEnd;
                r.start_offset = offset;
                r.wait_first_ack = Some(HeldStream::default());
            }
            self.send_fullresync(&mut c, offset);
            self.clients.insert(id, c);
        }
    }

    /// `rdbSaveToSlavesSockets`: a snapshot whose slices go to the replicas' sockets.
    fn start_socket_job(&mut self, waiting: &[ClientId], now_ms: i64) -> bool {
        let mark = crate::repl::random_id(&mut self.rng);
        let head = Bytes::from(format!("$EOF:{mark}\r\n"));
        let mut targets = Vec::new();
        for id in waiting {
            if let Some(c) = self.clients.get(id) {
                let mut q = c.io.bulk.borrow_mut();
                q.items.clear();
                q.queued_bytes = 0;
                q.last_queued = false;
                q.push(BulkItem::Bytes(head.clone()));
                drop(q);
                targets.push((*id, c.io.clone()));
            }
        }
        let sink = SocketSink {
            targets,
            checksum: self.config.get_bool("rdbchecksum"),
            crc: 0,
            mark,
            finished: false,
        };
        let (header, writer) = self.rdb_snapshot_parts(now_ms, false);
        self.log_notice(&format!(
            "Background RDB transfer started by pid {}",
            self.info.pid
        ));
        self.begin_job(
            crate::commands::bgsave::Job::Rdb,
            now_ms,
            Box::new(sink),
            header,
            writer,
        );
        if let Some(bg) = self.bgsave.as_deref_mut() {
            bg.sockets = true;
        }
        true
    }

    /// A disk BGSAVE ended (`updateSlavesWaitingBgsave` for the disk target): the replicas
    /// that waited for it get the file, or are dropped.
    pub(crate) fn sync_disk_done(&mut self, ok: bool) {
        let file = self.config.get_str("dbfilename").into_owned();
        for id in self.replicas_in(ReplicaState::WaitBgsaveEnd) {
            let Some(c) = self.clients.get_mut(&id) else {
                continue;
            };
            if !ok {
                self.log_warning("SYNC failed. BGSAVE child returned an error");
                crate::commands::client::kill_client(self, id);
                self.repl.replicas.retain(|&r| r != id);
                continue;
            }
            if let Some(r) = c.repl.as_mut() {
                r.state = ReplicaState::SendBulk;
            }
            let mut q = c.io.bulk.borrow_mut();
            q.push(BulkItem::File(file.clone()));
            q.last_queued = true;
            drop(q);
            c.io.notify.notify();
        }
    }

    /// A diskless transfer ended (`backgroundSaveDoneHandlerSocket` and
    /// `updateSlavesWaitingBgsave` for sockets): its replicas wait for their first ACK.
    pub(crate) fn sync_sockets_done(&mut self, res: Result<(), String>, now_ms: i64) {
        let waiting = self.replicas_in(ReplicaState::WaitBgsaveEnd);
        match res {
            Ok(()) => {
                self.log_warning(&format!(
                    "Diskless rdb transfer, done reading from pipe, {} replicas still up.",
                    waiting.len()
                ));
                self.log_notice("Background RDB transfer terminated with success");
            }
            Err(e) => {
                self.log_warning(&e);
                self.log_warning("Background transfer error");
            }
        }
        for id in waiting {
            let Some(c) = self.clients.get_mut(&id) else {
                continue;
            };
            let drained = c.io.bulk.borrow().items.is_empty();
            if !drained || c.io.killed.get() {
                self.log_warning("SYNC failed. BGSAVE child returned an error");
                crate::commands::client::kill_client(self, id);
                self.repl.replicas.retain(|&r| r != id);
                continue;
            }
            if let Some(r) = c.repl.as_mut() {
                r.state = ReplicaState::Online;
                r.ack_ms = now_ms;
            }
            let name = Engine::replica_name(c);
            self.log_notice(&format!(
                "Streamed RDB transfer with replica {name} succeeded (socket). Waiting for REPLCONF ACK from slave to enable streaming"
            ));
        }
    }

    /// A snapshot job was killed (FLUSHALL, SHUTDOWN): the replicas waiting for it are
    /// dropped and sync again, as after Redis's killed child.
    pub(crate) fn sync_job_killed(&mut self) {
        for id in self.replicas_in(ReplicaState::WaitBgsaveEnd) {
            self.log_warning("SYNC failed. BGSAVE child returned an error");
            crate::commands::client::kill_client(self, id);
            self.repl.replicas.retain(|&r| r != id);
        }
    }

    /// The connection task wrote a replica's whole payload. After a file (disk target) the
    /// replica is online and its held stream follows (`sendBulkToSlave`'s end).
    pub fn replica_payload_sent(&mut self, id: ClientId, now_ms: i64) {
        let Some(c) = self.clients.get_mut(&id) else {
            return;
        };
        let Some(r) = c
            .repl
            .as_mut()
            .filter(|r| r.state == ReplicaState::SendBulk)
        else {
            return;
        };
        r.state = ReplicaState::Online;
        r.ack_ms = now_ms;
        if let Some(held) = r.wait_first_ack.take() {
            held.write_to(&mut c.out);
            c.io.notify.notify();
        }
        let name = Engine::replica_name(c);
        self.log_notice(&format!("Synchronization with replica {name} succeeded"));
    }

    /// `client-output-buffer-limit replica` (hard, and soft for its seconds) applied to
    /// `used` bytes held for `c` (`checkClientOutputBufferLimits`).
    pub(crate) fn held_over_limit(&self, c: &mut crate::Client, used: u64, now_ms: i64) -> bool {
        self.conf.obuf_limits[crate::OBUF_REPLICA].reached(c, used, now_ms) && !c.io.killed.get()
    }

    /// The full sync part of `replicationCron`: keepalive newlines to replicas waiting for a
    /// snapshot (so they do not time out) and the start of pending snapshots.
    pub(crate) fn sync_cron(&mut self, now_ms: i64) {
        if now_ms - self.repl.sync.last_newline_ms >= 1000 {
            self.repl.sync.last_newline_ms = now_ms;
            let disk_job = self.bgsave.as_deref().is_some_and(|b| !b.sockets);
            for id in self.repl.replicas.clone() {
                let Some(c) = self.clients.get_mut(&id) else {
                    continue;
                };
                let state = c.repl.as_ref().map(|r| r.state);
                let waiting = state == Some(ReplicaState::WaitBgsaveStart)
                    || (state == Some(ReplicaState::WaitBgsaveEnd) && disk_job);
                if waiting {
                    c.out.raw(b"\n");
                    c.io.notify.notify();
                }
            }
        }
        self.start_pending_sync(now_ms, false);
    }
}
