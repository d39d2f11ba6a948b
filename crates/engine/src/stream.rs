//! The replication stream: every effect, in order, as RESP bytes.
//!
//! `offset` counts the bytes appended; it is `master_repl_offset` (the engine takes back the
//! count of bytes handed out while no backlog exists, as Redis never counts those). Effects produced by
//! one top-level command are staged in `staged` and committed together by
//! [`ReplStream::commit_staged`]: more than one effect is wrapped in MULTI ... EXEC so the
//! group stays atomic downstream (Redis 7.0's `propagatePendingCommands`). A SELECT is emitted
//! whenever an effect's database differs from the last one written.

use bytes::{Bytes, BytesMut};

#[derive(Debug, Default)]
pub struct ReplStream {
    pending: BytesMut,
    offset: u64,
    /// Database of the last effect written; `None` forces a SELECT (new stream, new replica).
    selected_db: Option<usize>,
    /// Effects of the running command, encoded: (db, byte range in `staged_buf`).
    staged: Vec<(usize, std::ops::Range<usize>)>,
    staged_buf: BytesMut,
    /// Set while this server is a replica: effects of the commands it runs (its master's, or
    /// local writes on a writable replica) are dropped; the master's exact bytes are
    /// appended instead ([`ReplStream::append_verbatim`]).
    pub muted: bool,
    /// Byte ranges of `pending` that are replication heartbeats (PING, `REPLCONF GETACK`):
    /// replicas get them, the AOF does not (Redis feeds them to replicas only).
    heartbeats: Vec<std::ops::Range<usize>>,
    /// `heartbeats` of the bytes the last [`ReplStream::take_pending`] handed out.
    handed_heartbeats: Vec<std::ops::Range<usize>>,
}

fn encode_into(buf: &mut BytesMut, args: &[&[u8]]) {
    let mut n = itoa::Buffer::new();
    buf.extend_from_slice(b"*");
    buf.extend_from_slice(n.format(args.len()).as_bytes());
    buf.extend_from_slice(b"\r\n");
    for a in args {
        buf.extend_from_slice(b"$");
        buf.extend_from_slice(n.format(a.len()).as_bytes());
        buf.extend_from_slice(b"\r\n");
        buf.extend_from_slice(a);
        buf.extend_from_slice(b"\r\n");
    }
}

impl ReplStream {
    pub fn new() -> Self {
        Self::default()
    }

    /// `master_repl_offset`: bytes ever appended, including those not yet handed out.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// Stages one effect of the running command.
    pub fn stage(&mut self, db: usize, args: &[&[u8]]) {
        if self.muted {
            return;
        }
        let start = self.staged_buf.len();
        encode_into(&mut self.staged_buf, args);
        self.staged.push((db, start..self.staged_buf.len()));
    }

    pub fn staged_len(&self) -> usize {
        self.staged.len()
    }

    /// Commits the staged effects of one top-level command (or one EXEC).
    pub fn commit_staged(&mut self) {
        if self.staged.is_empty() {
            return;
        }
        let staged = std::mem::take(&mut self.staged);
        let buf = self.staged_buf.split();
        let wrap = staged.len() > 1;
        if wrap {
            // Redis 7.0's propagatePendingCommands gives MULTI the first effect's database,
            // so a needed SELECT comes before MULTI (redis-server 7.0.15 AOF: SELECT 0, MULTI,
            // LPUSH ...), not inside the transaction.
            self.write_raw(Some(staged[0].0), &[b"MULTI"]);
        }
        for (db, range) in staged {
            self.write_encoded(Some(db), &buf[range]);
        }
        if wrap {
            self.write_raw(None, &[b"EXEC"]);
        }
    }

    /// Commits the staged effects one by one, without MULTI/EXEC (commands flagged
    /// `TOUCHES_ARBITRARY_KEYS`, whose only effects are independent expiry DELs).
    pub fn commit_staged_unwrapped(&mut self) {
        let buf = self.staged_buf.split();
        for (db, range) in std::mem::take(&mut self.staged) {
            self.write_encoded(Some(db), &buf[range]);
        }
    }

    /// Writes one effect immediately, outside any command (active expiry, eviction).
    pub fn append_now(&mut self, db: usize, args: &[&[u8]]) {
        debug_assert!(
            self.staged.is_empty(),
            "effects outside a command while one is staged"
        );
        self.write_raw(Some(db), args);
    }

    fn write_raw(&mut self, db: Option<usize>, args: &[&[u8]]) {
        if self.muted {
            return;
        }
        self.write_select(db);
        let before = self.pending.len();
        encode_into(&mut self.pending, args);
        self.offset += (self.pending.len() - before) as u64;
    }

    fn write_select(&mut self, db: Option<usize>) {
        let Some(db) = db else { return };
        if self.selected_db != Some(db) {
            let before = self.pending.len();
            let mut n = itoa::Buffer::new();
            encode_into(&mut self.pending, &[b"SELECT", n.format(db).as_bytes()]);
            self.selected_db = Some(db);
            self.offset += (self.pending.len() - before) as u64;
        }
    }

    /// Appends one encoded effect, preceded by a SELECT when its database differs.
    fn write_encoded(&mut self, db: Option<usize>, encoded: &[u8]) {
        self.write_select(db);
        self.pending.extend_from_slice(encoded);
        self.offset += encoded.len() as u64;
    }

    /// The database of the last effect written (`server.slaveseldb`), if known.
    pub fn selected_db(&self) -> Option<usize> {
        self.selected_db
    }

    /// Bytes appended but not yet handed out.
    pub fn pending_len(&self) -> usize {
        self.pending.len()
    }

    /// Appends bytes of our master's stream as they are (a replica forwards them to its own
    /// replicas unchanged). Their SELECTs are not tracked: the next own effect names its db.
    pub fn append_verbatim(&mut self, bytes: &[u8]) {
        self.pending.extend_from_slice(bytes);
        self.offset += bytes.len() as u64;
        self.selected_db = None;
    }

    /// The master's PING to its replicas (`replicationCron`): part of the stream, no db.
    pub fn append_ping(&mut self) {
        let start = self.pending.len();
        self.write_raw(None, &[b"PING"]);
        self.mark_heartbeat(start);
    }

    fn mark_heartbeat(&mut self, start: usize) {
        if self.pending.len() > start {
            self.heartbeats.push(start..self.pending.len());
        }
    }

    /// A heartbeat of our master's stream, forwarded as it is (see `append_verbatim`).
    pub fn append_verbatim_heartbeat(&mut self, bytes: &[u8]) {
        let start = self.pending.len();
        self.pending.extend_from_slice(bytes);
        self.offset += bytes.len() as u64;
        self.mark_heartbeat(start);
    }

    /// The heartbeat ranges of the bytes the last `take_pending` returned (for the AOF,
    /// which leaves them out).
    pub fn handed_heartbeats(&self) -> &[std::ops::Range<usize>] {
        &self.handed_heartbeats
    }

    /// `REPLCONF GETACK *` for WAIT (`replicationRequestAckFromSlaves`): part of the stream.
    pub fn append_getack(&mut self) {
        let start = self.pending.len();
        self.write_raw(None, &[b"REPLCONF", b"GETACK", b"*"]);
        self.mark_heartbeat(start);
    }

    /// A full sync from a master: our stream continues its history at `offset`.
    pub fn reset_offset(&mut self, offset: u64) {
        self.pending.clear();
        self.heartbeats.clear();
        self.offset = offset;
        self.selected_db = None;
    }

    /// Takes back the count of bytes just handed out while no backlog exists (Redis counts
    /// `master_repl_offset` only while it has one).
    pub fn uncount(&mut self, n: usize) {
        debug_assert!(self.pending.is_empty(), "uncount after take_pending");
        self.offset -= n as u64;
    }

    /// Hands out the bytes appended since the last call (end of batch).
    pub fn take_pending(&mut self) -> Bytes {
        self.handed_heartbeats = std::mem::take(&mut self.heartbeats);
        self.pending.split().freeze()
    }

    /// Forgets the selected database, so the next effect starts with a SELECT (Redis does this
    /// when a new replica attaches or the AOF is rewritten).
    pub fn force_select(&mut self) {
        self.selected_db = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn select_wrap_and_offset() {
        let mut s = ReplStream::new();
        s.stage(0, &[b"SET", b"k", b"v"]);
        s.commit_staged();
        s.stage(1, &[b"DEL", b"a"]);
        s.stage(1, &[b"SET", b"b", b"1"]);
        s.commit_staged();
        let bytes = s.take_pending();
        let expect = b"*2\r\n$6\r\nSELECT\r\n$1\r\n0\r\n*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n\
*2\r\n$6\r\nSELECT\r\n$1\r\n1\r\n*1\r\n$5\r\nMULTI\r\n*2\r\n$3\r\nDEL\r\n$1\r\na\r\n\
*3\r\n$3\r\nSET\r\n$1\r\nb\r\n$1\r\n1\r\n*1\r\n$4\r\nEXEC\r\n";
        assert_eq!(&bytes[..], &expect[..]);
        assert_eq!(s.offset(), expect.len() as u64);
    }

    #[test]
    fn heartbeats_are_marked_for_the_aof_to_skip() {
        let mut s = ReplStream::new();
        s.append_now(0, &[b"DEL", b"k"]);
        s.append_ping();
        s.append_now(0, &[b"DEL", b"j"]);
        s.append_getack();
        s.append_verbatim_heartbeat(b"*1\r\n$4\r\nPING\r\n");
        let bytes = s.take_pending();
        let kept: Vec<u8> = {
            let mut pos = 0;
            let mut out = Vec::new();
            for r in s.handed_heartbeats() {
                out.extend_from_slice(&bytes[pos..r.start]);
                pos = r.end;
            }
            out.extend_from_slice(&bytes[pos..]);
            out
        };
        let text = String::from_utf8_lossy(&kept);
        assert!(!text.contains("PING") && !text.contains("GETACK"), "{text}");
        assert_eq!(text.matches("DEL").count(), 2, "{text}");
        assert_eq!(s.handed_heartbeats().len(), 3);
        // Every byte still counts in the offset: replicas get the heartbeats.
        assert_eq!(s.offset(), bytes.len() as u64);
        s.take_pending();
        assert!(s.handed_heartbeats().is_empty());
    }
}
