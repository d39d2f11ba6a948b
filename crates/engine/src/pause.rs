//! CLIENT PAUSE (Redis 7.0 networking.c `pauseClients`, server.c `processCommand`).
//!
//! The engine only keeps the state and answers "would this command be postponed now?";
//! the server's connection loop holds a paused client's request (and everything after it)
//! until the answer changes, polling at most every 10 ms. While any pause is active, keys
//! do not expire: lazy expiry reports them missing without deleting them, and the active
//! cycle skips, so a paused master emits no DEL (Redis's
//! `checkClientPauseTimeoutAndReturnIfPaused`).

use crate::client::Client;
use crate::table::{flags, Lookup};
use crate::Engine;
use bytes::Bytes;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub enum PauseMode {
    #[default]
    Off,
    /// Only commands that may replicate (write or may_replicate flags) wait.
    Write,
    /// Every command waits.
    All,
}

#[derive(Debug, Clone, Copy, Default)]
pub struct ClientPause {
    pub mode: PauseMode,
    /// Unix ms; the pause is over once `now` passes it.
    pub end_ms: i64,
}

impl ClientPause {
    /// `pauseClients`: the more restrictive mode and the later end win.
    pub fn pause(&mut self, mode: PauseMode, end_ms: i64) {
        self.mode = self.mode.max(mode);
        self.end_ms = self.end_ms.max(end_ms);
    }

    pub fn unpause(&mut self) {
        *self = ClientPause::default();
    }

    /// The mode in force at `now`, ending an expired pause.
    pub fn active(&mut self, now_ms: i64) -> PauseMode {
        if self.mode != PauseMode::Off && self.end_ms < now_ms {
            self.unpause();
        }
        self.mode
    }
}

impl Engine {
    /// True while a pause stops key expiry (any pause mode).
    pub fn expire_paused(&mut self, now_ms: i64) -> bool {
        self.pause.active(now_ms) != PauseMode::Off
    }

    /// Whether `processCommand` would postpone this request now. Requests that would be
    /// refused anyway (unknown command, wrong arity, not authenticated) are not postponed:
    /// Redis answers them at once. Replicas and MONITOR clients are never paused.
    pub fn is_paused_for(&mut self, client: &Client, argv: &[Bytes], now_ms: i64) -> bool {
        let mode = self.pause.active(now_ms);
        if mode == PauseMode::Off || argv.is_empty() {
            return false;
        }
        if client.kind == crate::ClientKind::Replica || client.monitor {
            return false;
        }
        let Lookup::Found(cmd) = self.table.lookup(argv) else {
            return false;
        };
        if !cmd.arity_ok(argv.len()) || (!client.authenticated && !cmd.has(flags::NO_AUTH)) {
            return false;
        }
        match mode {
            PauseMode::All => true,
            PauseMode::Write => {
                let may_replicate = |f: u32| f & (flags::WRITE | flags::MAY_REPLICATE) != 0;
                if may_replicate(cmd.flags) {
                    return true;
                }
                // EXEC waits when the transaction holds a command that may replicate.
                cmd.name == "exec"
                    && client.multi.as_ref().is_some_and(|queue| {
                        queue.iter().any(|q| match self.table.lookup(q) {
                            Lookup::Found(c) => may_replicate(c.flags),
                            _ => false,
                        })
                    })
            }
            PauseMode::Off => false,
        }
    }
}
