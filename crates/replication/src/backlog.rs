//! The backlog: the last `size` bytes of the replication stream, for partial resyncs.

use std::collections::VecDeque;

#[derive(Debug, Clone)]
pub struct Backlog {
    buf: VecDeque<u8>,
    size: usize,
    /// Offset of the first byte held (`repl_backlog_first_byte_offset`), 1-based.
    first_byte_offset: u64,
}

impl Backlog {
    /// A backlog for a stream whose last byte so far has offset `master_repl_offset`.
    pub fn new(size: usize, master_repl_offset: u64) -> Backlog {
        Backlog {
            buf: VecDeque::new(),
            size: size.max(1),
            first_byte_offset: master_repl_offset + 1,
        }
    }

    pub fn size(&self) -> usize {
        self.size
    }

    pub fn histlen(&self) -> u64 {
        self.buf.len() as u64
    }

    pub fn first_byte_offset(&self) -> u64 {
        self.first_byte_offset
    }

    /// Offset of the next byte to be fed (one past the last held).
    pub fn end_offset(&self) -> u64 {
        self.first_byte_offset + self.buf.len() as u64
    }

    /// Appends stream bytes, dropping the oldest beyond `size`.
    pub fn feed(&mut self, bytes: &[u8]) {
        let keep = bytes.len().min(self.size);
        let tail = &bytes[bytes.len() - keep..];
        // Bytes that never fit still count: the first offset moves past them.
        let skipped = (bytes.len() - keep) as u64;
        let overflow = (self.buf.len() + keep).saturating_sub(self.size);
        self.buf.drain(..overflow);
        self.buf.extend(tail);
        self.first_byte_offset += overflow as u64 + skipped;
    }

    /// `CONFIG SET repl-backlog-size`: keeps the newest bytes that still fit.
    pub fn resize(&mut self, size: usize) {
        self.size = size.max(1);
        let overflow = self.buf.len().saturating_sub(self.size);
        self.buf.drain(..overflow);
        self.first_byte_offset += overflow as u64;
    }

    /// Every held byte from `offset` (1-based) on, or `None` when the backlog no longer
    /// (or not yet) covers it. `offset == end_offset()` is an empty, valid answer.
    pub fn copy_from(&self, offset: u64) -> Option<Vec<u8>> {
        if offset < self.first_byte_offset || offset > self.end_offset() {
            return None;
        }
        let skip = (offset - self.first_byte_offset) as usize;
        Some(self.buf.range(skip..).copied().collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_track_what_is_held() {
        let mut b = Backlog::new(4, 10);
        assert_eq!((b.first_byte_offset(), b.histlen()), (11, 0));
        assert_eq!(b.copy_from(11), Some(vec![]));
        b.feed(b"abc");
        assert_eq!(b.copy_from(12), Some(b"bc".to_vec()));
        b.feed(b"de");
        assert_eq!((b.first_byte_offset(), b.histlen()), (12, 4));
        assert_eq!(b.copy_from(11), None);
        assert_eq!(b.copy_from(12), Some(b"bcde".to_vec()));
        assert_eq!(b.copy_from(17), None);
        b.feed(b"0123456789");
        assert_eq!(b.first_byte_offset(), 22);
        assert_eq!(b.copy_from(22), Some(b"6789".to_vec()));
        assert_eq!(b.end_offset(), 26);
        b.resize(2);
        assert_eq!(b.copy_from(24), Some(b"89".to_vec()));
        assert_eq!(b.copy_from(23), None);
    }
}
