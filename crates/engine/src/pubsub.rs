//! Pub/sub registry: channel and pattern subscribers, and message delivery.
//!
//! Delivery writes into each receiver's output buffer and wakes its connection task; the
//! publishing client itself is lent out to the running `Ctx`, so it is handled by the caller.

use crate::client::{Client, ClientId};
use bytes::Bytes;
use hashbrown::HashMap;
use redoubt_resp::ReplyBuf;

#[derive(Default)]
pub struct PubSub {
    pub channels: HashMap<Bytes, Vec<ClientId>>,
    pub patterns: HashMap<Bytes, Vec<ClientId>>,
    pub shard_channels: HashMap<Bytes, Vec<ClientId>>,
}

fn remove_id(map: &mut HashMap<Bytes, Vec<ClientId>>, key: &Bytes, id: ClientId) {
    if let Some(v) = map.get_mut(key) {
        v.retain(|&c| c != id);
        if v.is_empty() {
            map.remove(key);
        }
    }
}

impl PubSub {
    pub fn subscribe(&mut self, c: &mut Client, ch: &Bytes) -> bool {
        if c.channels.insert(ch.clone()) {
            self.channels.entry(ch.clone()).or_default().push(c.id);
            true
        } else {
            false
        }
    }

    pub fn unsubscribe(&mut self, c: &mut Client, ch: &Bytes) -> bool {
        if c.channels.remove(ch) {
            remove_id(&mut self.channels, ch, c.id);
            true
        } else {
            false
        }
    }

    pub fn psubscribe(&mut self, c: &mut Client, pat: &Bytes) -> bool {
        if c.patterns.insert(pat.clone()) {
            self.patterns.entry(pat.clone()).or_default().push(c.id);
            true
        } else {
            false
        }
    }

    pub fn punsubscribe(&mut self, c: &mut Client, pat: &Bytes) -> bool {
        if c.patterns.remove(pat) {
            remove_id(&mut self.patterns, pat, c.id);
            true
        } else {
            false
        }
    }

    pub fn ssubscribe(&mut self, c: &mut Client, ch: &Bytes) -> bool {
        if c.shard_channels.insert(ch.clone()) {
            self.shard_channels
                .entry(ch.clone())
                .or_default()
                .push(c.id);
            true
        } else {
            false
        }
    }

    pub fn sunsubscribe(&mut self, c: &mut Client, ch: &Bytes) -> bool {
        if c.shard_channels.remove(ch) {
            remove_id(&mut self.shard_channels, ch, c.id);
            true
        } else {
            false
        }
    }

    pub fn unsubscribe_all(&mut self, c: &mut Client) {
        for ch in std::mem::take(&mut c.channels) {
            remove_id(&mut self.channels, &ch, c.id);
        }
        for p in std::mem::take(&mut c.patterns) {
            remove_id(&mut self.patterns, &p, c.id);
        }
        for ch in std::mem::take(&mut c.shard_channels) {
            remove_id(&mut self.shard_channels, &ch, c.id);
        }
    }
}

/// Writes a `message` push.
pub fn write_message(out: &mut ReplyBuf, kind: &[u8], channel: &[u8], msg: &[u8]) {
    out.push_len(3);
    out.bulk(kind);
    out.bulk(channel);
    out.bulk(msg);
}

/// Writes a `pmessage` push.
pub fn write_pmessage(out: &mut ReplyBuf, pattern: &[u8], channel: &[u8], msg: &[u8]) {
    out.push_len(4);
    out.bulk(b"pmessage");
    out.bulk(pattern);
    out.bulk(channel);
    out.bulk(msg);
}
