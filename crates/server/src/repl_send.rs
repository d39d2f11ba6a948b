//! Writes a replica's full sync payload (`redoubt_engine::repl_sync`): the queued slices of
//! a diskless transfer, or `$<len>\r\n` and the BGSAVE's file (Redis's `sendBulkToSlave`).
//! Runs in the replica's connection task, so a slow replica paces only itself.

use crate::conn::write_or_killed;
use crate::server::Shared;
use redoubt_engine::repl_sync::BulkItem;
use redoubt_engine::{ClientId, ClientIo};
use std::io::Read;
use std::rc::Rc;
use tokio::io::AsyncWrite;

/// File reads per write: large enough to keep the socket busy, small enough that one read
/// never holds the (single) thread long.
const FILE_CHUNK: usize = 256 * 1024;

/// Whether the connection task has payload to write.
pub fn has_work(io: &ClientIo) -> bool {
    !io.bulk.borrow().items.is_empty()
}

/// Writes what is queued; false when the connection must close.
pub async fn send_payload<S: AsyncWrite + Unpin>(
    shared: &Rc<Shared>,
    stream: &mut S,
    io: &ClientIo,
    id: ClientId,
) -> bool {
    loop {
        // Replies queued before the payload (`+FULLRESYNC`, keepalive newlines) go first;
        // while the payload is written the engine queues nothing else for this client.
        let before = {
            let mut eng = shared.engine.borrow_mut();
            eng.clients.get_mut(&id).map(|c| c.out.buf.split().freeze())
        };
        if let Some(b) = before.filter(|b| !b.is_empty()) {
            if !write_or_killed(stream, &b, io).await {
                return false;
            }
        }
        let item = io.bulk.borrow_mut().pop();
        let Some(item) = item else {
            return true;
        };
        let written = match item {
            BulkItem::Bytes(b) => write_or_killed(stream, &b, io).await,
            BulkItem::File(name) => send_file(stream, io, &name).await,
        };
        if !written {
            return false;
        }
        // Writes to a fast reader never wait: let other clients run between two slices.
        tokio::task::yield_now().await;
        let complete = {
            let mut q = io.bulk.borrow_mut();
            let done = q.items.is_empty() && q.last_queued;
            if done {
                q.last_queued = false;
            }
            done
        };
        if complete {
            let mut eng = shared.engine.borrow_mut();
            eng.replica_payload_sent(id, crate::log::now_ms());
        }
    }
}

async fn send_file<S: AsyncWrite + Unpin>(stream: &mut S, io: &ClientIo, name: &str) -> bool {
    let opened = std::fs::File::open(name).and_then(|f| {
        let len = f.metadata()?.len();
        Ok((f, len))
    });
    let (mut file, len) = match opened {
        Ok(x) => x,
        Err(e) => {
            crate::warning!(
                "SYNC failed. Can't open/stat DB after BGSAVE: {}",
                redoubt_config::fsio::strerror(&e)
            );
            return false;
        }
    };
    if !write_or_killed(stream, format!("${len}\r\n").as_bytes(), io).await {
        return false;
    }
    let mut left = len;
    let mut buf = vec![0u8; FILE_CHUNK];
    while left > 0 {
        let want = (left as usize).min(FILE_CHUNK);
        if let Err(e) = file.read_exact(&mut buf[..want]) {
            crate::warning!(
                "Read error sending DB to replica: {}",
                redoubt_config::fsio::strerror(&e)
            );
            return false;
        }
        if !write_or_killed(stream, &buf[..want], io).await {
            return false;
        }
        left -= want as u64;
        tokio::task::yield_now().await;
    }
    true
}
