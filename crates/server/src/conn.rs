//! One client connection: read, decode every complete request, execute the batch under one
//! borrow of the engine, write all replies in one write.
//!
//! The engine lives in an `Rc<RefCell<_>>` on a single-threaded runtime: a batch borrows it
//! for the whole batch and never across an `.await`, so there is no lock and no channel hop
//! per request (see docs/ARCHITECTURE.md for the measurements behind this choice).
//! Output written by other clients (pub/sub messages, MONITOR) lands in this client's buffer
//! and wakes this task through `ClientIo::notify`.

use crate::server::Shared;
use bytes::Bytes;
use bytes::BytesMut;
use redoubt_engine::{ClientIo, ClientKind};
use redoubt_resp::{DecodeLimits, RequestDecoder};
use std::os::fd::AsFd;
use std::rc::Rc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// Replies past this size are flushed before decoding more requests, so a client that
/// pipelines without reading cannot grow our buffer without bound: TCP pushes back instead.
const FLUSH_THRESHOLD: usize = 64 * 1024;
const READ_CHUNK: usize = 16 * 1024;

pub struct Peer {
    pub addr: String,
    pub laddr: String,
    /// Loopback or unix socket: allowed in protected mode.
    pub local: bool,
    pub unix: bool,
    pub fd: i64,
}

/// How often a client held by CLIENT PAUSE re-checks whether it may run.
const PAUSE_POLL: Duration = Duration::from_millis(10);

const MAXCLIENTS: &[u8] = b"-ERR max number of clients reached\r\n";

const PROTECTED: &str = "-DENIED Redis is running in protected mode because protected mode is enabled and no password is set for the default user. In this mode connections are only accepted from the loopback interface. If you want to connect from external computers to Redis you may adopt one of the following solutions: 1) Just disable protected mode sending the command 'CONFIG SET protected-mode no' from the loopback interface by connecting to Redis from the same host the server is running, however MAKE SURE Redis is not publicly accessible from internet if you do so. Use CONFIG REWRITE to make this change permanent. 2) Alternatively you can just disable the protected mode by editing the Redis configuration file, and setting the protected mode option to 'no', and then restarting the server. 3) If you started the server manually just for testing, restart it with the '--protected-mode no' option. 4) Setup a an authentication password for the default user. NOTE: You only need to do one of the above things in order for the server to start accepting connections from the outside.\r\n";

/// Socket changes the engine asked for (it owns no sockets): `repl-disable-tcp-nodelay` at
/// a replica's full sync. Non critical if it fails, as Redis says (a Unix socket has no
/// TCP_NODELAY).
pub(crate) fn apply_socket_options<S: AsFd>(stream: &S, io: &ClientIo) {
    if io.disable_nodelay.replace(false) {
        let _ = socket2::SockRef::from(stream).set_tcp_nodelay(false);
    }
}

/// Writes `out` fully, unless the client is killed meanwhile (CLIENT KILL, output buffer
/// limits, timeout): a client that does not read must not pin its task in a write forever.
/// `write` is cancel-safe (a dropped write wrote nothing), so progress is never lost.
pub(crate) async fn write_or_killed<S: AsyncWrite + Unpin>(
    stream: &mut S,
    out: &[u8],
    io: &ClientIo,
) -> bool {
    let mut pos = 0;
    while pos < out.len() {
        tokio::select! {
            r = stream.write(&out[pos..]) => match r {
                Ok(0) | Err(_) => return false,
                Ok(n) => pos += n,
            },
            _ = io.notify.notified() => {
                if io.killed.get() {
                    return false;
                }
            }
        }
    }
    true
}

pub async fn serve<S>(shared: Rc<Shared>, mut stream: S, peer: Peer)
where
    S: AsyncRead + AsyncWrite + Unpin + AsFd,
{
    let io = Rc::new(ClientIo::default());
    let admitted = {
        let mut eng = shared.engine.borrow_mut();
        let now = crate::log::now_ms();
        let protected = shared.settings.borrow().protected_mode;
        if eng.connected_clients() >= eng.conf.maxclients {
            eng.stats.rejected_connections += 1;
            Err(MAXCLIENTS)
        } else if protected && eng.conf.requirepass.is_none() && !peer.local {
            eng.stats.rejected_connections += 1;
            Err(PROTECTED.as_bytes())
        } else {
            let id = eng.add_client(ClientKind::Normal, io.clone(), now);
            if let Some(c) = eng.clients.get_mut(&id) {
                c.addr = peer.addr.clone();
                c.laddr = peer.laddr.clone();
                c.local = peer.local;
                c.fd = peer.fd;
                c.unix_socket = peer.unix;
            }
            Ok(id)
        }
    };
    let id = match admitted {
        Ok(id) => id,
        Err(refusal) => {
            let _ = stream.write_all(refusal).await;
            return;
        }
    };
    let mut inbuf = BytesMut::with_capacity(READ_CHUNK);
    let mut decoder = RequestDecoder::new();
    // Requests may remain buffered after a flush; process them before reading again.
    let mut more = false;
    // A decoded request held back by CLIENT PAUSE; it runs first once the pause allows.
    // While one is held we stop reading: like Redis's postponed clients, nothing after it
    // runs, and TCP pushes back on the sender.
    let mut postponed: Option<Vec<Bytes>> = None;
    loop {
        // Output queued by others while we were writing (its wake-up may have been consumed
        // by `write_or_killed`) is flushed without waiting.
        let pending = shared
            .engine
            .borrow()
            .clients
            .get(&id)
            .is_some_and(|c| !c.out.is_empty())
            || crate::repl_send::has_work(&io);
        let blocked_until = shared
            .engine
            .borrow()
            .clients
            .get(&id)
            .and_then(|c| c.blocked.as_ref().map(|b| b.deadline_ms));
        if let (Some(deadline), false) = (blocked_until, pending) {
            // Blocked (BLPOP...): run nothing, but keep reading so a disconnect is seen;
            // the engine notifies us when the client is served, and we end the wait ourselves
            // at its deadline.
            let wait = deadline.map_or(Duration::from_secs(3600), |d| {
                Duration::from_millis((d - crate::log::now_ms()).max(0) as u64)
            });
            if inbuf.capacity() - inbuf.len() < READ_CHUNK / 2 {
                inbuf.reserve(READ_CHUNK);
            }
            tokio::select! {
                biased;
                _ = io.notify.notified() => {}
                _ = tokio::time::sleep(wait) => {
                    let mut eng = shared.engine.borrow_mut();
                    let now = crate::log::now_ms();
                    eng.blocked_timeouts(now);
                }
                r = stream.read_buf(&mut inbuf) => match r {
                    Ok(0) | Err(_) => break,
                    Ok(n) => {
                        let mut eng = shared.engine.borrow_mut();
                        eng.stats.total_net_input_bytes += n as u64;
                        eng.stats.total_reads_processed += 1;
                    }
                },
            }
            if io.killed.get() {
                break;
            }
            more = true;
            continue;
        } else if postponed.is_some() && !pending {
            tokio::select! {
                biased;
                _ = io.notify.notified() => {}
                _ = tokio::time::sleep(PAUSE_POLL) => {}
            }
        } else if !more && !pending {
            if inbuf.capacity() - inbuf.len() < READ_CHUNK / 2 {
                inbuf.reserve(READ_CHUNK);
            }
            tokio::select! {
                biased;
                _ = io.notify.notified() => {}
                r = stream.read_buf(&mut inbuf) => match r {
                    Ok(0) | Err(_) => break,
                    Ok(n) => {
                        let mut eng = shared.engine.borrow_mut();
                        eng.stats.total_net_input_bytes += n as u64;
                        eng.stats.total_reads_processed += 1;
                    }
                },
            }
        }
        if io.killed.get() {
            break;
        }
        let (out, close, hold) = {
            let mut guard = shared.engine.borrow_mut();
            let eng = &mut *guard;
            let Some(mut client) = eng.take_client(id) else {
                break;
            };
            let now = crate::log::now_ms();
            more = false;
            let qbuf_limit = shared.settings.borrow().client_query_buffer_limit;
            // During the batch `qbuf` is the whole buffer it was decoded from, as Redis
            // trims its query buffer only after processing it.
            client.query_buf_len = inbuf.len();
            client.query_buf_free = inbuf.capacity() - inbuf.len();
            loop {
                if client.close_after_reply || client.blocked.is_some() {
                    break;
                }
                let limits = DecodeLimits {
                    proto_max_bulk_len: eng.conf.proto_max_bulk_len,
                    auth_required: !client.authenticated,
                    is_master: false,
                };
                let next = match postponed.take() {
                    Some(args) => Ok(Some(args)),
                    None => decoder
                        .decode(&mut inbuf, &limits)
                        .map(|r| r.map(|req| req.args)),
                };
                match next {
                    Ok(Some(args)) => {
                        if eng.is_paused_for(&client, &args, now) {
                            postponed = Some(args);
                            break;
                        }
                        eng.execute(&mut client, args, now)
                    }
                    Ok(None) => break,
                    Err(e) => {
                        crate::verbose!(
                            "Protocol error ({}) from client: id={} addr={}",
                            e.0,
                            id,
                            client.addr
                        );
                        client.out.error(&format!("ERR {e}"));
                        client.close_after_reply = true;
                        break;
                    }
                }
                if client.out.len() >= FLUSH_THRESHOLD {
                    more = true;
                    break;
                }
                if eng.shutdown.is_some() {
                    break;
                }
            }
            client.query_buf_len = inbuf.len();
            client.query_buf_free = inbuf.capacity() - inbuf.len();
            let mut close = client.close_after_reply;
            if inbuf.len() > qbuf_limit {
                crate::warning!(
                    "Closing client that reached max query buffer length: id={} addr={} (qbuf initial bytes: {:?})",
                    id,
                    client.addr,
                    String::from_utf8_lossy(&inbuf[..inbuf.len().min(64)])
                );
                eng.stats.client_query_buffer_limit_disconnections += 1;
                close = true;
            }
            let out = client.out.buf.split().freeze();
            let hold = client.hold.take();
            eng.put_client(client);
            shared.end_batch(eng);
            eng.stats.total_net_output_bytes += out.len() as u64;
            (out, close, hold)
        };
        // `replica-ack-before-reply`: the batch's replies wait for the replicas' ACKs.
        let out = match hold {
            Some(h) => crate::safe_hold::wait(&shared, id, &io, h, out).await,
            None => out,
        };
        apply_socket_options(&stream, &io);
        if !out.is_empty() {
            shared.engine.borrow_mut().stats.total_writes_processed += 1;
            // `appendfsync always`: no reply leaves before the fsync of this batch's writes.
            shared.wait_aof_durable().await;
            if !write_or_killed(&mut stream, &out, &io).await {
                break;
            }
        }
        // A replica's full sync payload (written after the `+FULLRESYNC` reply above).
        if crate::repl_send::has_work(&io)
            && !crate::repl_send::send_payload(&shared, &mut stream, &io, id).await
        {
            break;
        }
        if close || shared.engine.borrow().shutdown.is_some() {
            break;
        }
    }
    let _ = stream.shutdown().await;
    shared.engine.borrow_mut().remove_client(id);
    shared.wake_shutdown_if_requested();
}

#[cfg(test)]
mod tests {
    use super::*;

    /// TCP_NODELAY is not observable from the peer, so the switch is checked on a real
    /// loopback socket pair here (the engine side, which sets the request only at a full
    /// sync with the option on, is tested in the engine).
    #[tokio::test(flavor = "current_thread")]
    async fn disable_nodelay_request_turns_the_option_off_once() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let client = tokio::net::TcpStream::connect(addr).await.expect("connect");
        let (server, _) = listener.accept().await.expect("accept");
        server.set_nodelay(true).expect("nodelay");
        let io = ClientIo::default();
        apply_socket_options(&server, &io);
        assert!(server.nodelay().expect("get"), "no request: unchanged");
        io.disable_nodelay.set(true);
        apply_socket_options(&server, &io);
        assert!(!server.nodelay().expect("get"));
        assert!(!io.disable_nodelay.get(), "the request is consumed");
        drop(client);
    }
}
