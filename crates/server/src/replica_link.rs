//! The replica's link to its master: connect, handshake, full or partial sync, then apply
//! the master's stream and ACK it every second (Redis 7.0 `connectWithMaster`,
//! `syncWithMaster`, `readSyncBulkPayload`, `replicationCron`).
//!
//! One task per master generation ([`redoubt_engine::repl::Repl::generation`]): REPLICAOF
//! bumps the generation and starts a new task; an older task notices and returns. The
//! engine is borrowed only between awaits: to record state, to load the RDB, and to apply
//! each chunk of the stream, after which the end-of-batch step forwards the master's bytes
//! to our own replicas.

use crate::server::Shared;
use crate::{notice, warning};
use bytes::BytesMut;
use redoubt_engine::repl::LinkState;
use redoubt_engine::repl_apply::{ack_bytes, StreamApplier};
use redoubt_engine::ClientIo;
use redoubt_replication::handshake::{self, Payload, PsyncReply};
use std::rc::Rc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// How often an unconnected replica retries (Redis's replicationCron runs once a second).
const RETRY: Duration = Duration::from_secs(1);

/// Starts the link task for master generation `gen` (it returns at once when that
/// generation has no master, i.e. after REPLICAOF NO ONE).
pub fn spawn(shared: &Rc<Shared>, gen: u64) {
    tokio::task::spawn_local(run(shared.clone(), gen));
}

fn current(shared: &Shared, gen: u64) -> Option<(String, u16)> {
    let eng = shared.engine.borrow();
    if eng.repl.generation != gen {
        return None;
    }
    eng.repl.master.as_ref().map(|m| (m.host.clone(), m.port))
}

fn set_state(shared: &Shared, gen: u64, state: LinkState) {
    let mut eng = shared.engine.borrow_mut();
    if eng.repl.generation == gen {
        if let Some(m) = eng.repl.master.as_mut() {
            m.state = state;
        }
    }
}

fn timeout(shared: &Shared) -> Duration {
    let secs = shared.engine.borrow().config.get_int("repl-timeout").max(1);
    Duration::from_secs(secs as u64)
}

/// How the previous connection attempt ended, which decides the wait and the log line.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Ended {
    /// No attempt yet: REPLICAOF already logged "Connecting to MASTER".
    Never,
    /// The connection could not be made: retry from the once-a-second cron.
    ConnectFailed,
    /// The handshake or the transfer failed.
    Failure,
    /// A streaming link was lost: Redis 7.0 reconnects at once, so the backlog is less
    /// likely to be recycled meanwhile (`replicationHandleMasterDisconnection`).
    Lost,
}

async fn run(shared: Rc<Shared>, gen: u64) {
    let mut previous = Ended::Never;
    loop {
        if matches!(previous, Ended::ConnectFailed | Ended::Failure) {
            tokio::time::sleep(RETRY).await;
        }
        let Some((host, port)) = current(&shared, gen) else {
            return;
        };
        match previous {
            Ended::Never => {}
            Ended::ConnectFailed => notice!("Connecting to MASTER {host}:{port}"),
            Ended::Failure => notice!("Reconnecting to MASTER {host}:{port} after failure"),
            Ended::Lost => notice!("Reconnecting to MASTER {host}:{port}"),
        }
        if previous != Ended::Never {
            notice!("MASTER <-> REPLICA sync started");
        }
        previous = Ended::ConnectFailed;
        set_state(&shared, gen, LinkState::Connecting);
        let lim = timeout(&shared);
        let stream =
            match tokio::time::timeout(lim, TcpStream::connect((host.as_str(), port))).await {
                Ok(Ok(s)) => s,
                Ok(Err(e)) => {
                    warning!(
                        "Error condition on socket for SYNC: {}",
                        redoubt_config::fsio::strerror(&e)
                    );
                    set_state(&shared, gen, LinkState::Connect);
                    continue;
                }
                Err(_) => {
                    warning!("Timeout connecting to the MASTER...");
                    set_state(&shared, gen, LinkState::Connect);
                    continue;
                }
            };
        // Small request/reply round trips (handshake, ACKs): Nagle would hold each one back
        // behind the peer's delayed ACK (~40 ms).
        let _ = stream.set_nodelay(true);
        notice!("Non blocking connect for SYNC fired the event.");
        let mut link = Link {
            stream,
            buf: BytesMut::with_capacity(16 * 1024),
            timeout: lim,
        };
        match sync(&shared, gen, &mut link).await {
            Ok(()) => {
                stream_from_master(&shared, gen, link).await;
                previous = Ended::Lost;
            }
            Err(msg) => {
                if !msg.is_empty() {
                    warning!("{msg}");
                }
                previous = Ended::Failure;
            }
        }
        let mut eng = shared.engine.borrow_mut();
        if eng.repl.generation != gen {
            return;
        }
        let now = crate::log::now_ms();
        if let Some(m) = eng.repl.master.as_mut() {
            if m.state == LinkState::Connected {
                m.down_since_ms = Some(now);
            }
            m.state = LinkState::Connect;
            m.client = None;
        }
    }
}

struct Link {
    stream: TcpStream,
    buf: BytesMut,
    timeout: Duration,
}

impl Link {
    async fn fill(&mut self) -> Result<(), String> {
        match tokio::time::timeout(self.timeout, self.stream.read_buf(&mut self.buf)).await {
            Ok(Ok(0)) => Err("Master closed the connection".into()),
            Ok(Ok(_)) => Ok(()),
            Ok(Err(e)) => Err(redoubt_config::fsio::strerror(&e)),
            Err(_) => Err("Timeout".into()),
        }
    }

    /// One reply line without its CRLF; the master's keepalive newlines are skipped.
    async fn line(&mut self) -> Result<Vec<u8>, String> {
        loop {
            if let Some(i) = self.buf.iter().position(|&b| b == b'\n') {
                let line = self.buf.split_to(i + 1);
                let text = line
                    .strip_suffix(b"\r\n")
                    .or_else(|| line.strip_suffix(b"\n"));
                let text = text.unwrap_or(&line[..]);
                if text.is_empty() {
                    continue;
                }
                return Ok(text.to_vec());
            }
            if self.buf.len() > 64 * 1024 {
                return Err("Reply line too long".into());
            }
            self.fill().await?;
        }
    }

    async fn command(&mut self, args: &[&[u8]]) -> Result<String, String> {
        let mut out = Vec::new();
        out.extend_from_slice(format!("*{}\r\n", args.len()).as_bytes());
        for a in args {
            out.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
            out.extend_from_slice(a);
            out.extend_from_slice(b"\r\n");
        }
        self.stream
            .write_all(&out)
            .await
            .map_err(|e| redoubt_config::fsio::strerror(&e))?;
        let line = self.line().await?;
        Ok(String::from_utf8_lossy(&line).into_owned())
    }
}

/// The handshake and the sync; on success the link is ready to stream.
async fn sync(shared: &Rc<Shared>, gen: u64, link: &mut Link) -> Result<(), String> {
    set_state(shared, gen, LinkState::Handshake);
    let pong = link
        .command(&[b"PING"])
        .await
        .map_err(|e| format!("Error reply to PING from master: '{e}'"))?;
    if pong.starts_with('-')
        && !pong.starts_with("-NOAUTH")
        && !pong.starts_with("-NOPERM")
        && !pong.starts_with("-ERR operation not permitted")
    {
        return Err(format!("Error reply to PING from master: '{pong}'"));
    }
    notice!("Master replied to PING, replication can continue...");
    let (auth, user, port, announce_ip) = {
        let eng = shared.engine.borrow();
        let c = &eng.config;
        let announce = c.get_int("replica-announce-port");
        let port = if announce > 0 {
            announce
        } else {
            i64::from(shared.settings.borrow().port)
        };
        (
            c.get_opt_bytes("masterauth").map(|p| p.to_vec()),
            c.get_opt_bytes("masteruser").map(|p| p.to_vec()),
            port,
            c.get_opt_bytes("replica-announce-ip").map(|p| p.to_vec()),
        )
    };
    if let Some(pass) = auth {
        let mut args: Vec<&[u8]> = vec![b"AUTH"];
        if let Some(u) = user.as_deref() {
            args.push(u);
        }
        args.push(&pass);
        let r = link.command(&args).await?;
        if r.starts_with('-') {
            return Err(format!("Unable to AUTH to MASTER: {r}"));
        }
    }
    let r = link
        .command(&[b"REPLCONF", b"listening-port", port.to_string().as_bytes()])
        .await?;
    if r.starts_with('-') {
        notice!("(Non critical) Master does not understand REPLCONF listening-port: {r}");
    }
    if let Some(ip) = announce_ip {
        let r = link.command(&[b"REPLCONF", b"ip-address", &ip]).await?;
        if r.starts_with('-') {
            notice!("(Non critical) Master does not understand REPLCONF ip-address: {r}");
        }
    }
    let r = link
        .command(&[b"REPLCONF", b"capa", b"eof", b"capa", b"psync2"])
        .await?;
    if r.starts_with('-') {
        notice!("(Non critical) Master does not understand REPLCONF capa: {r}");
    }
    // Our own history is the cached master (`replicationCacheMasterUsingMyself`).
    let (my_id, my_offset) = {
        let eng = shared.engine.borrow();
        (eng.repl.ids.replid.clone(), eng.stream.offset())
    };
    let args = handshake::psync_args(Some((&my_id, my_offset)));
    notice!(
        "Trying a partial resynchronization (request {}:{}).",
        args[1],
        args[2]
    );
    let mut argv: Vec<&[u8]> = args.iter().map(|a| a.as_bytes()).collect();
    let failing_over = shared.engine.borrow().repl.failover.state
        == redoubt_engine::failover::FailoverState::InProgress;
    if failing_over {
        argv.push(b"FAILOVER");
    }
    let reply = link.command(&argv).await;
    if failing_over {
        let accepted = matches!(
            reply.as_deref().map(handshake::parse_psync_reply),
            Ok(PsyncReply::Continue { .. } | PsyncReply::FullResync { .. })
        );
        shared.engine.borrow_mut().failover_psync_answered(accepted);
        if !accepted {
            return Err(String::new());
        }
    }
    match handshake::parse_psync_reply(&reply?) {
        PsyncReply::Continue { new_replid } => {
            notice!("Successful partial resynchronization with master.");
            let mut eng = shared.engine.borrow_mut();
            if let Some(id) = new_replid {
                if id != eng.repl.ids.replid {
                    eng.master_id_changed(id);
                }
            }
            notice!("MASTER <-> REPLICA sync: Master accepted a Partial Resynchronization.");
            Ok(())
        }
        PsyncReply::FullResync { replid, offset } => {
            notice!("Full resync from master: {replid}:{offset}");
            full_sync(shared, gen, link, replid, offset).await
        }
        PsyncReply::TryLater(r) => Err(format!(
            "Master is currently unable to PSYNC but should be in the future: {r}"
        )),
        PsyncReply::Error(r) => Err(format!("Unexpected reply to PSYNC from master: {r}")),
    }
}

/// Receives the RDB and loads it (`readSyncBulkPayload`); nothing half-loaded stays behind.
async fn full_sync(
    shared: &Rc<Shared>,
    gen: u64,
    link: &mut Link,
    replid: String,
    offset: u64,
) -> Result<(), String> {
    set_state(shared, gen, LinkState::Transfer);
    if let Some(m) = shared.engine.borrow_mut().repl.master.as_mut() {
        // A new transfer: nothing known yet (Redis's `repl_transfer_size` -1, read 0).
        m.transfer_size = None;
        m.transfer_read = 0;
        m.transfer_last_io_ms = crate::log::now_ms();
    }
    let header = link.line().await?;
    if header.first() == Some(&b'-') {
        return Err(format!(
            "MASTER aborted replication with an error: {}",
            String::from_utf8_lossy(&header[1..])
        ));
    }
    let Some(payload) = handshake::parse_payload_header(&header) else {
        return Err(format!(
            "Bad protocol from MASTER, the first byte is not '$' (we received '{}'), are you sure the host and port are right?",
            String::from_utf8_lossy(&header)
        ));
    };
    let progress = |shared: &Shared, read: u64, total: Option<u64>| {
        let mut eng = shared.engine.borrow_mut();
        if let Some(m) = eng.repl.master.as_mut() {
            m.transfer_size = total;
            m.transfer_read = read;
            m.transfer_last_io_ms = crate::log::now_ms();
        }
    };
    let to_parser = crate::repl_load::diskless_load(shared);
    let target = if to_parser { "to parser" } else { "to disk" };
    let image: Vec<u8> = match payload {
        Payload::Len(n) => {
            notice!("MASTER <-> REPLICA sync: receiving {n} bytes from master {target}");
            while (link.buf.len() as u64) < n {
                progress(shared, link.buf.len() as u64, Some(n));
                link.buf.reserve(1 << 20);
                link.fill()
                    .await
                    .map_err(|e| format!("I/O error trying to sync with MASTER: {e}"))?;
            }
            link.buf.split_to(n as usize).to_vec()
        }
        Payload::Eof(mark) => {
            notice!(
                "MASTER <-> REPLICA sync: receiving streamed RDB from master with EOF {target}"
            );
            // Where the mark may start that was not searched yet: each read is scanned once.
            let mut from = 0usize;
            loop {
                if let Some(pos) = find(&link.buf[from..], &mark) {
                    let data = link.buf.split_to(from + pos).to_vec();
                    let _ = link.buf.split_to(40);
                    break data;
                }
                from = link.buf.len().saturating_sub(39);
                progress(shared, link.buf.len() as u64, None);
                link.buf.reserve(1 << 20);
                link.fill()
                    .await
                    .map_err(|e| format!("I/O error trying to sync with MASTER: {e}"))?;
            }
        }
    };
    if shared.engine.borrow().repl.generation != gen {
        return Err(String::new());
    }
    let stats = crate::repl_load::load(shared, gen, image, to_parser).await?;
    let mut eng = shared.engine.borrow_mut();
    if eng.repl.generation != gen {
        return Err(String::new());
    }
    // A master that is itself a replica forwards its master's stream from the middle: the
    // RDB names the database that stream is in (`replicationCreateMasterClient`).
    let stream_db = stats
        .aux("repl-stream-db")
        .and_then(|v| std::str::from_utf8(v).ok()?.parse::<usize>().ok())
        .unwrap_or(0);
    eng.adopt_master_history(replid, offset, stream_db);
    notice!("MASTER <-> REPLICA sync: Finished with success");
    Ok(())
}

/// The first position of the EOF mark. Redis checks the last 40 bytes only; this also
/// tolerates stream bytes arriving in the same read after the mark.
fn find(hay: &[u8], needle: &[u8; 40]) -> Option<usize> {
    hay.windows(40).position(|w| w == needle)
}

/// Applies the master's stream until the link is lost or the master changes.
async fn stream_from_master(shared: &Rc<Shared>, gen: u64, link: Link) {
    let Link {
        mut stream,
        mut buf,
        timeout,
    } = link;
    let io = Rc::new(ClientIo::default());
    let id = {
        let mut eng = shared.engine.borrow_mut();
        let now = crate::log::now_ms();
        let addr = stream
            .peer_addr()
            .map(|a| a.to_string())
            .unwrap_or_default();
        let id = eng.attach_master_client(io.clone(), addr, now);
        let read = eng.stream.offset() + buf.len() as u64;
        if let Some(m) = eng.repl.master.as_mut() {
            m.read_offset = read;
        }
        id
    };
    let mut st = StreamApplier::default();
    let mut ticker = tokio::time::interval(Duration::from_secs(1));
    let mut last_io = tokio::time::Instant::now();
    let mut to_send: Vec<u8> = ack_bytes(shared.engine.borrow().stream.offset());
    loop {
        if !to_send.is_empty() {
            if stream.write_all(&to_send).await.is_err() {
                break;
            }
            to_send.clear();
        }
        if !buf.is_empty() {
            match apply(shared, gen, id, &mut st, &mut buf, &mut to_send) {
                Ok(()) => {}
                Err(msg) => {
                    if !msg.is_empty() {
                        warning!("{msg}");
                    }
                    break;
                }
            }
            if !to_send.is_empty() {
                continue;
            }
        }
        if buf.capacity() - buf.len() < 8 * 1024 {
            buf.reserve(16 * 1024);
        }
        tokio::select! {
            r = stream.read_buf(&mut buf) => match r {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    last_io = tokio::time::Instant::now();
                    let mut eng = shared.engine.borrow_mut();
                    let now = crate::log::now_ms();
                    if let Some(m) = eng.repl.master.as_mut() {
                        m.read_offset += n as u64;
                        m.last_io_ms = now;
                    }
                }
            },
            _ = ticker.tick() => {
                if last_io.elapsed() > timeout {
                    warning!("MASTER timeout: no data nor PING received...");
                    break;
                }
                to_send = ack_bytes(shared.engine.borrow().stream.offset());
            }
            _ = io.notify.notified() => {}
        }
        if io.killed.get() || current(shared, gen).is_none() {
            break;
        }
    }
    let mut eng = shared.engine.borrow_mut();
    if eng.repl.generation == gen {
        warning!("Connection with master lost.");
        notice!("Caching the disconnected master state.");
    }
    if eng.clients.contains_key(&id) {
        eng.remove_client(id);
    }
}

/// Runs every complete request in `buf` as the master client (the engine's sans-IO
/// [`StreamApplier`]), then ends the batch.
fn apply(
    shared: &Rc<Shared>,
    gen: u64,
    id: redoubt_engine::ClientId,
    st: &mut StreamApplier,
    buf: &mut BytesMut,
    to_send: &mut Vec<u8>,
) -> Result<(), String> {
    let mut guard = shared.engine.borrow_mut();
    let eng = &mut *guard;
    if eng.repl.generation != gen {
        return Err(String::new());
    }
    let Some(mut client) = eng.take_client(id) else {
        return Err(String::new());
    };
    let result = st.apply(eng, &mut client, buf, to_send, crate::log::now_ms());
    eng.put_client(client);
    shared.end_batch(eng);
    result
}
