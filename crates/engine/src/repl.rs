//! The engine's replication state: who we replicate from, who replicates from us, the
//! replication IDs and the backlog (Redis's `server.master*`, `server.slaves`,
//! `server.repl_*`). Protocol decisions live in `redoubt_replication`; sockets in the server.
//!
//! Replicas are clients whose output buffer receives the stream: [`Engine::end_batch`]
//! appends each batch's new stream bytes to the backlog and to every replica's buffer, and
//! the replica's own connection task writes them out. A replica that attached in the middle
//! of a batch (PSYNC during the batch) only gets the bytes past the offset it synced at.
//!
//! When we are a replica, the server's link task applies our master's stream through
//! [`Engine::apply_from_master`]: the commands run as the master client with our own effects
//! muted, and the master's exact bytes are appended to our stream instead, so our offset is
//! our master's and our sub-replicas get the same bytes at the same offsets.

use crate::client::{Client, ClientId, ClientKind};
use crate::Engine;
use bytes::Bytes;
use redoubt_replication::{Backlog, ReplIds};

/// A replica's state as its master sees it (`slave->replstate`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplicaState {
    /// Waits for a snapshot to start (`SLAVE_STATE_WAIT_BGSAVE_START`): nothing is sent.
    WaitBgsaveStart,
    /// Got `+FULLRESYNC`; its snapshot is being produced (streamed, for a diskless sync).
    WaitBgsaveEnd,
    /// The snapshot's file is being sent (disk target).
    SendBulk,
    /// Streaming: the full sync payload (or the backlog) was sent.
    Online,
}

impl ReplicaState {
    /// INFO's `state=` word (`replstateToString`).
    pub fn name(self) -> &'static str {
        match self {
            ReplicaState::WaitBgsaveStart | ReplicaState::WaitBgsaveEnd => "wait_bgsave",
            ReplicaState::SendBulk => "send_bulk",
            ReplicaState::Online => "online",
        }
    }
}

/// What a master knows about one replica client (REPLCONF and ACKs).
#[derive(Debug, Clone)]
pub struct ReplicaInfo {
    pub state: ReplicaState,
    pub listening_port: u16,
    pub ip_address: Option<String>,
    pub capa_eof: bool,
    pub capa_psync2: bool,
    /// Old protocol (SYNC): no ACKs, so never timed out for lack of them.
    pub pre_psync: bool,
    pub ack_offset: u64,
    pub ack_ms: i64,
    /// The stream offset its data starts after: it gets only later bytes.
    pub start_offset: u64,
    /// Attached in the running batch: its buffer still holds the sync payload, which Redis
    /// does not count against `client-output-buffer-limit replica` (it sends the RDB apart).
    pub fresh: bool,
    /// The stream from the snapshot's offset, held while the payload is produced and sent
    /// and, after a diskless (EOF-marked) payload, until the replica's first ACK: a replica
    /// finds the mark only at the end of what it read, so nothing may follow it until it
    /// has loaded (`repl_start_cmd_stream_on_ack`).
    pub wait_first_ack: Option<crate::repl_sync::HeldStream>,
    /// When it started waiting for a snapshot (`repl-diskless-sync-delay`).
    pub wait_since_ms: i64,
}

impl ReplicaInfo {
    pub fn new(now_ms: i64) -> ReplicaInfo {
        ReplicaInfo {
            state: ReplicaState::Online,
            listening_port: 0,
            ip_address: None,
            capa_eof: false,
            capa_psync2: false,
            pre_psync: false,
            ack_offset: 0,
            ack_ms: now_ms,
            start_offset: 0,
            fresh: true,
            wait_first_ack: None,
            wait_since_ms: now_ms,
        }
    }
}

/// The replica side's link state (`server.repl_state`), as ROLE names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkState {
    Connect,
    Connecting,
    Handshake,
    Transfer,
    Connected,
}

impl LinkState {
    /// ROLE's state word (`roleCommand`).
    pub fn role_name(self) -> &'static str {
        match self {
            LinkState::Connect => "connect",
            LinkState::Connecting => "connecting",
            LinkState::Handshake => "handshake",
            LinkState::Transfer => "sync",
            LinkState::Connected => "connected",
        }
    }
}

/// Our master, when we are a replica.
#[derive(Debug, Clone)]
pub struct MasterLink {
    pub host: String,
    pub port: u16,
    pub state: LinkState,
    pub last_io_ms: i64,
    /// Unix ms the link went down (`repl_down_since`); `None` if it never was up.
    pub down_since_ms: Option<i64>,
    /// Bytes of the master stream received, applied or not (`read_reploff`).
    pub read_offset: u64,
    /// The master client while the link streams.
    pub client: Option<ClientId>,
    /// Full sync transfer progress: total (None for EOF-marked payloads) and read bytes.
    pub transfer_size: Option<u64>,
    pub transfer_read: u64,
    pub transfer_last_io_ms: i64,
    /// The master client's database, kept across reconnections (Redis keeps the cached
    /// master client): a partially resynced stream continues without a SELECT.
    pub stream_db: usize,
    /// REPLCONF FREEZE's epoch while frozen: no link, no ACK until REPLICAOF (see
    /// [`crate::safe`]).
    pub frozen: Option<u64>,
}

#[derive(Debug)]
pub struct Repl {
    pub ids: ReplIds,
    pub backlog: Option<Backlog>,
    /// Replica clients, in attach order (INFO's slaveN numbering).
    pub replicas: Vec<ClientId>,
    pub master: Option<MasterLink>,
    /// Bumped whenever the master changes; a link task of an older generation stops.
    pub generation: u64,
    /// Since when we had no replica (repl-backlog-ttl).
    pub no_replicas_since_ms: i64,
    pub last_ping_ms: i64,
    /// Clients blocked in WAIT.
    pub waiting: Vec<Waiting>,
    /// A WAIT started this batch: ask the replicas for an ACK at its end.
    pub get_ack: bool,
    /// `repl-stream-db` of the RDB loaded at startup, for the first master link.
    pub restored_stream_db: Option<usize>,
    pub failover: crate::failover::Failover,
    /// Full syncs from the snapshot (`crate::repl_sync`).
    pub sync: crate::repl_sync::SyncState,
    /// A writable replica's own keys with a TTL (`crate::replica_expire`).
    pub own_expires: crate::replica_expire::OwnExpires,
}

/// A client blocked in WAIT until `replicas` replicas acknowledged `offset`.
#[derive(Debug, Clone, Copy)]
pub struct Waiting {
    pub client: ClientId,
    pub offset: u64,
    pub replicas: i64,
    /// Not WAIT but a write's reply held by `replica-ack-before-reply` ([`crate::safe`]).
    pub hold: bool,
}

impl Default for Repl {
    fn default() -> Self {
        Repl {
            ids: ReplIds::new(redoubt_replication::ids::NULL_ID.to_string()),
            backlog: None,
            replicas: Vec::new(),
            master: None,
            generation: 0,
            no_replicas_since_ms: 0,
            last_ping_ms: 0,
            waiting: Vec::new(),
            get_ack: false,
            restored_stream_db: None,
            failover: crate::failover::Failover::default(),
            sync: crate::repl_sync::SyncState::default(),
            own_expires: Default::default(),
        }
    }
}

/// 40 random hex digits (`getRandomHexChars`).
pub fn random_id(rng: &mut redoubt_keyspace::rand::Rng) -> String {
    let mut s = String::with_capacity(40);
    while s.len() < 40 {
        s.push_str(&format!("{:016x}", rng.next_u64()));
    }
    s.truncate(40);
    s
}

impl Engine {
    /// True while this server replicates from a master (`server.masterhost`).
    pub fn is_replica(&self) -> bool {
        self.repl.master.is_some()
    }

    /// The link is up (`repl_state == REPL_STATE_CONNECTED`).
    pub fn master_link_up(&self) -> bool {
        self.repl
            .master
            .as_ref()
            .is_some_and(|m| m.state == LinkState::Connected)
    }

    /// Feeds a batch's stream bytes (already counted in the offset) to the backlog and to
    /// every replica.
    pub(crate) fn feed_replicas(&mut self, bytes: &Bytes) {
        let end = self.stream.offset() - self.stream.pending_len() as u64;
        let start = end.saturating_sub(bytes.len() as u64);
        if let Some(b) = self.repl.backlog.as_mut() {
            b.feed(bytes);
        }
        let now = self.now_ms;
        for i in 0..self.repl.replicas.len() {
            let id = self.repl.replicas[i];
            let Some(mut c) = self.clients.remove(&id) else {
                continue;
            };
            if let Some(r) = c
                .repl
                .as_mut()
                .filter(|r| r.state != ReplicaState::WaitBgsaveStart)
            {
                let skip = r.start_offset.saturating_sub(start).min(bytes.len() as u64) as usize;
                let fresh = std::mem::replace(&mut r.fresh, false);
                if let (Some(held), true) = (r.wait_first_ack.as_mut(), skip < bytes.len()) {
                    held.push(bytes.slice(skip..));
                    // Held bytes count against the limits as buffered output would.
                    let used = held.len() as u64;
                    if self.held_over_limit(&mut c, used, now) {
                        self.log_warning(&format!(
                            "Client {} scheduled to be closed ASAP for overcoming of output buffer limits.",
                            crate::commands::client::client_info_string(&c, now)
                        ));
                        c.io.killed.set(true);
                        c.io.notify.notify();
                    }
                } else if skip < bytes.len() {
                    c.out.raw(&bytes[skip..]);
                    c.io.notify.notify();
                    if !fresh && self.output_limit_reached(&mut c, now) {
                        // Described before it is marked and emptied, as Redis logs it.
                        let info = crate::commands::client::client_info_string(&c, now);
                        Self::close_for_output_limit(&mut c);
                        self.log_warning(&format!(
                            "Client {info} scheduled to be closed ASAP for overcoming of output buffer limits."
                        ));
                    }
                }
            }
            self.clients.insert(id, c);
        }
    }

    /// `createReplicationBacklog` with the new history Redis starts then: the first replica
    /// of a master without a backlog gets a new replication ID (nobody can continue the old
    /// one without a backlog anyway).
    pub fn ensure_backlog(&mut self) {
        if self.repl.backlog.is_some() {
            return;
        }
        let fed = self.stream.offset() - self.stream.pending_len() as u64;
        let size = self.backlog_size();
        if self.repl.master.is_none() {
            self.repl.ids.replid = random_id(&mut self.rng);
            self.repl.ids.clear_second();
            self.repl.backlog = Some(Backlog::new(size, fed));
            self.log_notice(&format!(
                "Replication backlog created, my new replication IDs are '{}' and '{}'",
                self.repl.ids.replid, self.repl.ids.replid2
            ));
        } else {
            self.repl.backlog = Some(Backlog::new(size, fed));
        }
    }

    pub fn backlog_size(&self) -> usize {
        usize::try_from(self.config.get_int("repl-backlog-size")).unwrap_or(1 << 20)
    }

    /// Disconnects every replica (`disconnectSlaves`): they reconnect and learn our new ID.
    pub fn disconnect_replicas(&mut self) {
        for id in std::mem::take(&mut self.repl.replicas) {
            crate::commands::client::kill_client(self, id);
        }
    }

    /// Unblocks every blocked client with the UNBLOCKED error (`disconnectAllBlockedClients`),
    /// when this server becomes a replica: their keys now change only by the master's will.
    pub fn unblock_all_role_change(&mut self) {
        let blocked: Vec<ClientId> = self
            .clients
            .values()
            .filter(|c| c.blocked.is_some())
            .map(|c| c.id)
            .collect();
        for id in blocked {
            let Some(mut c) = self.clients.remove(&id) else {
                continue;
            };
            if self.unregister_blocked(&mut c).is_some() {
                c.out.error(
                    "UNBLOCKED force unblock from blocking operation, instance state changed (master -> replica?)",
                );
                for code in c.out.error_codes.drain(..) {
                    self.stats.count_error(&code);
                }
                c.io.notify.notify();
            }
            self.clients.insert(id, c);
        }
    }

    /// `replicationSetMaster`: start replicating from host:port.
    pub fn set_master(&mut self, host: String, port: u16, now_ms: i64) {
        let was_master = self.repl.master.is_none();
        // Redis caches the master client when it frees it (`replicationCacheMaster`), so a
        // partial resync with the next master continues in the database the old stream had
        // selected; only a promoted replica's new stream is sure to start with a SELECT.
        let cached_db = self.repl.master.as_ref().map(|m| {
            m.client
                .and_then(|id| self.clients.get(&id))
                .map_or(m.stream_db, |c| c.db)
        });
        self.drop_master_client();
        self.unblock_all_role_change();
        // Held replies fail at once: no replica will acknowledge them now.
        self.wake_holds();
        self.disconnect_replicas();
        if was_master {
            // `replicationCacheMasterUsingMyself`: our own history is what we ask to continue,
            // and our stream continues the master's from here on.
            self.log_notice("Before turning into a replica, using my own master parameters to synthesize a cached master: I may be able to synchronize with the new master with just a partial transfer.");
            self.stream.force_select();
        }
        self.log_notice(&format!("Connecting to MASTER {host}:{port}"));
        self.log_notice("MASTER <-> REPLICA sync started");
        self.repl.generation += 1;
        self.config.set_replicaof(Some((&host, port)));
        // Our stream is our master's from now on: our own effects (writes on a writable
        // replica, evictions) are applied locally and never propagated, as Redis's
        // `replicationFeedSlaves` returns early on a replica.
        self.stream.muted = true;
        self.repl.master = Some(MasterLink {
            host,
            port,
            state: LinkState::Connect,
            last_io_ms: now_ms,
            down_since_ms: None,
            read_offset: self.stream.offset(),
            client: None,
            transfer_size: None,
            transfer_read: 0,
            transfer_last_io_ms: now_ms,
            stream_db: self
                .repl
                .restored_stream_db
                .take()
                .or(cached_db)
                .unwrap_or(0),
            frozen: None,
        });
        self.hooks
            .replication_changed(self.repl.generation, self.repl.master.is_some());
    }

    /// `replicationUnsetMaster`: promotion. The master's history stays continuable as our
    /// second ID up to the current offset.
    pub fn unset_master(&mut self) {
        if self.repl.master.is_none() {
            return;
        }
        self.drop_master_client();
        self.repl.master = None;
        self.repl.generation += 1;
        self.config.set_replicaof(None);
        self.stream.muted = false;
        let new_id = random_id(&mut self.rng);
        let offset = self.stream.offset();
        self.repl.ids.shift(new_id, offset);
        self.log_notice(&format!(
            "Setting secondary replication ID to {}, valid up to offset: {}. New replication ID is {}",
            self.repl.ids.replid2, self.repl.ids.second_repl_offset, self.repl.ids.replid
        ));
        self.disconnect_replicas();
        // The next effect must name its database: our replicas' last SELECT came from the
        // old master's stream.
        self.stream.force_select();
        self.repl.no_replicas_since_ms = self.now_ms;
        self.hooks
            .replication_changed(self.repl.generation, self.repl.master.is_some());
    }

    fn drop_master_client(&mut self) {
        if let Some(id) = self.repl.master.as_mut().and_then(|m| m.client.take()) {
            crate::commands::client::kill_client(self, id);
        }
    }

    /// Registers the master client once the link streams (`replicationCreateMasterClient`).
    pub fn attach_master_client(
        &mut self,
        io: std::rc::Rc<crate::ClientIo>,
        addr: String,
        now_ms: i64,
    ) -> ClientId {
        let id = self.add_client(ClientKind::Master, io, now_ms);
        let db = self.repl.master.as_ref().map_or(0, |m| m.stream_db);
        if let Some(c) = self.clients.get_mut(&id) {
            c.authenticated = true;
            c.addr = addr;
            c.db = db;
        }
        if let Some(m) = self.repl.master.as_mut() {
            m.client = Some(id);
            m.state = LinkState::Connected;
            m.last_io_ms = now_ms;
        }
        id
    }

    /// Runs one request from our master: effects muted, the master's bytes appended instead.
    /// A transaction's bytes are held in `held` until its EXEC ran, so our offset, backlog
    /// and sub-replicas never stop inside one (Redis advances `reploff` only outside MULTI):
    /// a sub-replica syncing from us mid-transaction would otherwise get an EXEC without
    /// its MULTI. `REPLCONF GETACK` is answered by the caller (it writes to the socket).
    pub fn apply_from_master(
        &mut self,
        client: &mut Client,
        argv: Vec<Bytes>,
        raw: &[u8],
        held: &mut Vec<u8>,
        now_ms: i64,
    ) {
        debug_assert!(self.stream.muted, "a replica's own effects are muted");
        let errors_before = client.out.errors;
        let name = argv.first().cloned().unwrap_or_default();
        self.execute(client, argv, now_ms);
        if client.out.errors > errors_before {
            // A master's command must never fail here: the datasets have diverged
            // (`afterErrorReply`).
            let text = String::from_utf8_lossy(&client.out.buf);
            let err = text
                .lines()
                .find_map(|l| l.strip_prefix('-'))
                .unwrap_or("")
                .to_string();
            self.log_warning(&format!(
                "== CRITICAL == This replica is sending an error to its master: '{err}' after processing the command '{}'",
                String::from_utf8_lossy(&name).to_ascii_lowercase()
            ));
        }
        client.out.buf.clear();
        client.out.error_codes.clear();
        // The master's PINGs and GETACKs go on to our replicas but not into our AOF.
        let heartbeat = held.is_empty()
            && client.multi.is_none()
            && (name.eq_ignore_ascii_case(b"ping") || name.eq_ignore_ascii_case(b"replconf"));
        if heartbeat {
            self.stream.append_verbatim_heartbeat(raw);
            return;
        }
        held.extend_from_slice(raw);
        if client.multi.is_none() {
            self.stream.append_verbatim(held);
            held.clear();
        }
    }

    /// After a full sync: the master's history is ours, from `offset` on.
    pub fn adopt_master_history(&mut self, replid: String, offset: u64, stream_db: usize) {
        if let Some(m) = self.repl.master.as_mut() {
            m.stream_db = stream_db;
        }
        self.repl.ids = ReplIds::new(replid);
        self.stream.reset_offset(offset);
        self.repl.backlog = Some(Backlog::new(self.backlog_size(), offset));
        self.disconnect_replicas();
    }

    /// `+CONTINUE <id>` with a new ID: our master was promoted; its old history (ours) stays
    /// continuable up to here.
    pub fn master_id_changed(&mut self, new_id: String) {
        let offset = self.stream.offset();
        self.repl.ids.shift(new_id, offset);
        self.log_notice(&format!(
            "Master replication ID changed to {}",
            self.repl.ids.replid
        ));
        self.disconnect_replicas();
        if self.repl.backlog.is_none() {
            self.repl.backlog = Some(Backlog::new(self.backlog_size(), offset));
        }
    }

    /// `repl-stream-db` for an RDB (`rdbPopulateSaveInfo`): `None` when the file carries no
    /// replication info (a master without a backlog, a replica never synced).
    pub fn repl_stream_db(&self) -> Option<usize> {
        match &self.repl.master {
            None => self
                .repl
                .backlog
                .as_ref()
                .map(|_| self.stream.selected_db().unwrap_or(0)),
            Some(m) => {
                let live = m.client.and_then(|id| self.clients.get(&id)).map(|c| c.db);
                self.repl
                    .backlog
                    .as_ref()
                    .map(|_| live.unwrap_or(m.stream_db))
            }
        }
    }

    /// Restores the replication ID and offset an RDB file carries (`loadDataFromDisk`): a
    /// replica can then continue from its master, and a master's replicas from it.
    pub fn restore_repl_info(
        &mut self,
        stats: &redoubt_persist::rdb::decode::LoadStats,
        now_ms: i64,
    ) {
        let parse = |k: &str| {
            stats
                .aux(k)
                .and_then(|v| std::str::from_utf8(v).ok())
                .map(str::to_string)
        };
        let (Some(id), Some(offset)) = (
            parse("repl-id").filter(|i| i.len() == 40),
            parse("repl-offset").and_then(|o| o.parse::<u64>().ok()),
        ) else {
            return;
        };
        let db = parse("repl-stream-db")
            .and_then(|d| d.parse::<usize>().ok())
            .unwrap_or(0);
        if self.config.replicaof().is_some() {
            // Our own history is the cached master's (`replicationCacheMasterUsingMyself`).
            self.repl.ids = ReplIds::new(id);
        } else {
            // A restarted master keeps a new ID but serves the old one as its second, so its
            // replicas continue (7.0's `loadDataFromDisk`).
            self.repl.ids.replid2 = id;
            self.repl.ids.second_repl_offset = offset as i64 + 1;
        }
        self.stream.reset_offset(offset);
        self.repl.backlog = Some(Backlog::new(self.backlog_size(), offset));
        self.repl.restored_stream_db = Some(db);
        self.repl.no_replicas_since_ms = now_ms;
    }

    /// `replicationGetSlaveName`.
    pub fn replica_name(c: &Client) -> String {
        let ip = c
            .repl
            .as_ref()
            .and_then(|r| r.ip_address.clone())
            .unwrap_or_else(|| peer_ip(&c.addr));
        match c.repl.as_ref().map(|r| r.listening_port) {
            Some(p) if p != 0 => format!("{ip}:{p}"),
            _ => format!("{ip}:<unknown-replica-port>"),
        }
    }

    /// Replicas that acknowledged at least `offset` (`replicationCountAcksByOffset`).
    pub fn replicas_acked(&self, offset: u64) -> usize {
        self.repl
            .replicas
            .iter()
            .filter_map(|id| self.clients.get(id))
            .filter_map(|c| c.repl.as_ref())
            .filter(|r| r.state == ReplicaState::Online && r.ack_offset >= offset)
            .count()
    }

    /// Releases WAITing clients whose count is reached (`processClientsWaitingReplicas`).
    pub(crate) fn serve_waiting_replicas(&mut self) {
        let ready: Vec<(ClientId, usize, bool)> = self
            .repl
            .waiting
            .iter()
            .map(|w| (w.client, w.replicas, self.replicas_acked(w.offset), w.hold))
            .filter(|&(_, want, got, _)| got as i64 >= want)
            .map(|(id, _, got, hold)| (id, got, hold))
            .collect();
        for (id, got, hold) in ready {
            let Some(mut c) = self.clients.remove(&id) else {
                self.repl.waiting.retain(|w| w.client != id);
                continue;
            };
            if hold {
                // The connection holding the replies re-checks (`Engine::hold_status`).
                self.repl.waiting.retain(|w| !(w.hold && w.client == id));
                c.io.notify.notify();
            } else if self.unregister_blocked(&mut c).is_some() {
                c.out.int(got as i64);
                if let crate::table::Lookup::Found(cmd) =
                    self.table.clone().lookup(&[Bytes::from_static(b"wait")])
                {
                    cmd.stats.calls.set(cmd.stats.calls.get() + 1);
                    self.stats.total_commands_processed += 1;
                }
                c.io.notify.notify();
            }
            self.clients.insert(id, c);
        }
    }

    /// Replicas whose last ACK is at most `min-replicas-max-lag` seconds old
    /// (`refreshGoodSlavesCount`).
    pub fn good_replicas(&self, now_ms: i64) -> usize {
        let max_lag = self.config.get_int("min-replicas-max-lag");
        self.repl
            .replicas
            .iter()
            .filter_map(|id| self.clients.get(id))
            .filter_map(|c| c.repl.as_ref())
            .filter(|r| {
                r.state == ReplicaState::Online && (now_ms / 1000 - r.ack_ms / 1000) <= max_lag
            })
            .count()
    }

    /// `checkGoodReplicasStatus`: may a write run under min-replicas-to-write?
    pub fn enough_good_replicas(&self, now_ms: i64) -> bool {
        let to_write = self.config.get_int("min-replicas-to-write");
        let max_lag = self.config.get_int("min-replicas-max-lag");
        // `replica-ack-before-reply`: a write that cannot be acknowledged is not applied.
        let acks = self.acks_before_reply();
        if acks > 0 && self.repl.replicas.len() < acks {
            return false;
        }
        self.is_replica()
            || to_write == 0
            || max_lag == 0
            || self.good_replicas(now_ms) >= to_write as usize
    }

    /// Replication chores from the cron (`replicationCron`): pings to replicas, replica
    /// timeouts, backlog expiry.
    pub fn replication_cron(&mut self, now_ms: i64) {
        let period = self.config.get_int("repl-ping-replica-period").max(1) * 1000;
        self.update_failover(now_ms);
        // No pings while clients are paused: the offset must hold still for FAILOVER and
        // CLIENT PAUSE (`replicationCron`).
        let paused = self.pause.active(now_ms) != crate::pause::PauseMode::Off;
        if !self.is_replica()
            && !paused
            && !self.repl.replicas.is_empty()
            && now_ms - self.repl.last_ping_ms >= period
        {
            self.repl.last_ping_ms = now_ms;
            self.stream.append_ping();
        }
        self.sync_cron(now_ms);
        let timeout = self.config.get_int("repl-timeout").max(1) * 1000;
        let expired: Vec<ClientId> = self
            .repl
            .replicas
            .iter()
            .filter_map(|id| self.clients.get(id))
            .filter(|c| {
                c.repl.as_ref().is_some_and(|r| {
                    r.state == ReplicaState::Online && !r.pre_psync && now_ms - r.ack_ms > timeout
                })
            })
            .map(|c| c.id)
            .collect();
        for id in expired {
            if let Some(c) = self.clients.get(&id) {
                let name = Self::replica_name(c);
                self.log_warning(&format!(
                    "Disconnecting timedout replica (streaming sync): {name}"
                ));
            }
            self.repl.replicas.retain(|&r| r != id);
            crate::commands::client::kill_client(self, id);
        }
        if self.repl.replicas.is_empty() && !self.is_replica() {
            let ttl = self.config.get_int("repl-backlog-ttl");
            if ttl > 0
                && self.repl.backlog.is_some()
                && now_ms - self.repl.no_replicas_since_ms > ttl * 1000
            {
                // A new ID as Redis does: our history can no longer be continued.
                self.repl.ids.replid = random_id(&mut self.rng);
                self.repl.ids.clear_second();
                self.repl.backlog = None;
                self.log_notice(&format!(
                    "Replication backlog freed after {ttl} seconds without connected replicas."
                ));
            }
        }
    }
}

/// The IP part of `ip:port` (IPv6 addresses keep their colons).
pub fn peer_ip(addr: &str) -> String {
    match addr.rfind(':') {
        Some(i) => addr[..i]
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_string(),
        None => addr.to_string(),
    }
}
