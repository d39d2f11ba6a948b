//! The connection's side of `replica-ack-before-reply` (docs/ARCHITECTURE.md, "Safe mode";
//! the engine's side is `redoubt_engine::safe`): a batch whose output holds write replies
//! waits, before it is written, until enough replicas acknowledged them, or their deadline.

use crate::server::Shared;
use bytes::Bytes;
use redoubt_engine::safe::{substitute, Hold, HoldStatus};
use redoubt_engine::{ClientId, ClientIo};
use std::time::Duration;

/// Returns the output to write: unchanged once the replicas acknowledged, or with every
/// held reply replaced by the engine's error (NOREPLICAS after the deadline, UNBLOCKED after
/// a role change). Wakes on the client's notify (ACKs, role change) and at the deadline.
pub async fn wait(shared: &Shared, id: ClientId, io: &ClientIo, hold: Hold, out: Bytes) -> Bytes {
    loop {
        // A notify between the check and the wait is not lost: the engine's notifier keeps
        // a pending flag.
        let status = {
            let now = crate::log::now_ms();
            shared.engine.borrow_mut().hold_status(id, &hold, now)
        };
        match status {
            HoldStatus::Released => return out,
            HoldStatus::Failed(err) => return Bytes::from(substitute(&out, &hold.ranges, err)),
            HoldStatus::Waiting(deadline) => {
                if io.killed.get() {
                    return out;
                }
                let left = (deadline - crate::log::now_ms()).max(0) as u64;
                tokio::select! {
                    _ = io.notify.notified() => {}
                    _ = tokio::time::sleep(Duration::from_millis(left)) => {}
                }
            }
        }
    }
}
