//! Lists. Redis 7.0 stores every list as a `quicklist`: a linked list of listpack nodes of at
//! most `list-max-listpack-size` (default 8 KB). Unlike 7.2 it never reports `listpack` for a
//! list, so OBJECT ENCODING is always `quicklist` (checked against redis-server 7.0.15).
//!
//! We keep the same shape for the same memory: a ring of nodes, each one byte buffer of
//! packed entries `varint(len) bytes reverse-varint(len)`, so an entry of a few bytes costs
//! two bytes of framing (as a listpack's encoding byte and backlen) and both ends of a node
//! are reachable without scanning it. Nodes are filled as quicklist fills them, by the
//! `list-max-listpack-size` the list was created with (negative: 4 KB to 64 KB per node;
//! positive: that many entries, within 8 KB); an element bigger than a node gets its own.

use std::collections::VecDeque;

/// quicklist's `SIZE_SAFETY_LIMIT`: the byte cap of a node filled by entry count.
const SIZE_SAFETY_LIMIT: usize = 8192;

/// Redis's default `list-max-listpack-size`.
pub const DEFAULT_FILL: i64 = -2;

#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct Node {
    buf: Vec<u8>,
    count: usize,
}

fn varint_len(mut n: usize) -> usize {
    let mut k = 1;
    while n >= 0x80 {
        n >>= 7;
        k += 1;
    }
    k
}

fn entry_size(len: usize) -> usize {
    len + 2 * varint_len(len)
}

/// Appends one framed entry.
fn encode_entry(out: &mut Vec<u8>, v: &[u8]) {
    let mut fwd = [0u8; 10];
    let mut k = 0;
    let mut n = v.len();
    loop {
        let b = (n & 0x7f) as u8;
        n >>= 7;
        if n == 0 {
            fwd[k] = b;
            k += 1;
            break;
        }
        fwd[k] = b | 0x80;
        k += 1;
    }
    out.extend_from_slice(&fwd[..k]);
    out.extend_from_slice(v);
    out.extend(fwd[..k].iter().rev());
}

fn framed(v: &[u8]) -> Vec<u8> {
    let mut e = Vec::with_capacity(entry_size(v.len()));
    encode_entry(&mut e, v);
    e
}

impl Node {
    /// The entry starting at `off`: (data start, data end, next entry's offset).
    fn entry_at(&self, off: usize) -> (usize, usize, usize) {
        let mut n = 0usize;
        let mut shift = 0;
        let mut p = off;
        loop {
            let b = self.buf[p];
            p += 1;
            n |= usize::from(b & 0x7f) << shift;
            shift += 7;
            if b & 0x80 == 0 {
                break;
            }
        }
        (p, p + n, p + n + (p - off))
    }

    /// The entry ending at `end`: (entry start, data start, data end).
    fn entry_before(&self, end: usize) -> (usize, usize, usize) {
        let mut n = 0usize;
        let mut shift = 0;
        let mut p = end;
        loop {
            p -= 1;
            let b = self.buf[p];
            n |= usize::from(b & 0x7f) << shift;
            shift += 7;
            if b & 0x80 == 0 {
                break;
            }
        }
        let hdr = end - p;
        let data_end = p;
        let data_start = data_end - n;
        (data_start - hdr, data_start, data_end)
    }

    /// Byte offset of entry `i` of this node, walking from the nearer end.
    fn offset_of(&self, i: usize) -> usize {
        if i <= self.count / 2 {
            let mut off = 0;
            for _ in 0..i {
                off = self.entry_at(off).2;
            }
            off
        } else {
            let mut end = self.buf.len();
            for _ in i..self.count {
                end = self.entry_before(end).0;
            }
            end
        }
    }

    /// Offsets of every entry start, plus the buffer's end.
    fn offsets(&self) -> Vec<usize> {
        let mut v = Vec::with_capacity(self.count + 1);
        let mut off = 0;
        while off < self.buf.len() {
            v.push(off);
            off = self.entry_at(off).2;
        }
        v.push(off);
        v
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListVal {
    nodes: VecDeque<Node>,
    len: usize,
    /// `list-max-listpack-size` when the list was created (quicklist keeps its own `fill`).
    fill: i32,
}

impl Default for ListVal {
    fn default() -> Self {
        Self::with_fill(DEFAULT_FILL)
    }
}

impl ListVal {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn with_fill(fill: i64) -> Self {
        ListVal {
            nodes: VecDeque::new(),
            len: 0,
            fill: fill.clamp(i64::from(i32::MIN), i64::from(i32::MAX)) as i32,
        }
    }

    /// (byte cap, entry cap) of a node, as `_quicklistNodeAllowInsert` applies `fill`.
    fn node_limits(&self) -> (usize, usize) {
        if self.fill >= 0 {
            (SIZE_SAFETY_LIMIT, (self.fill as usize).max(1))
        } else {
            let level = (self.fill.unsigned_abs() as usize).min(5);
            (4096 << (level - 1), usize::MAX)
        }
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Quicklist nodes (Redis's `ql->len`), the allocations freeing the list releases.
    pub fn node_count(&self) -> usize {
        self.nodes.len()
    }

    /// Elements from head to tail.
    pub fn iter(&self) -> Iter<'_> {
        Iter {
            list: self,
            front: (0, 0),
            // (node index + 1, end offset; 0 = the node's whole buffer)
            back: (self.nodes.len(), 0),
            remaining: self.len,
        }
    }

    /// Elements from index `start` (at most `len`) to the tail, found without walking the
    /// elements before it (LRANGE deep in a long list).
    pub fn iter_from(&self, start: usize) -> Iter<'_> {
        if start == 0 || start >= self.len {
            let mut it = self.iter();
            it.remaining = self.len - start.min(self.len);
            return it;
        }
        let (n, k) = self.locate(start);
        Iter {
            list: self,
            front: (n, self.nodes[n].offset_of(k)),
            back: (self.nodes.len(), 0),
            remaining: self.len - start,
        }
    }

    pub fn encoding_name(&self) -> &'static str {
        "quicklist"
    }

    pub fn push(&mut self, head: bool, v: &[u8]) {
        let need = entry_size(v.len());
        let (max_bytes, max_count) = self.node_limits();
        let node = if head {
            self.nodes.front()
        } else {
            self.nodes.back()
        };
        let fits = node.is_some_and(|n| n.buf.len() + need <= max_bytes && n.count < max_count);
        if !fits {
            if self.nodes.capacity() == 0 {
                // Most lists stay in one node: no ring slack for them.
                self.nodes.reserve_exact(1);
            }
            let n = Node {
                buf: Vec::with_capacity(need.next_power_of_two().max(16)),
                count: 0,
            };
            if head {
                self.nodes.push_front(n);
            } else {
                self.nodes.push_back(n);
            }
        }
        let node = if head {
            self.nodes.front_mut()
        } else {
            self.nodes.back_mut()
        }
        .expect("a node was just ensured");
        if head {
            node.buf.splice(0..0, framed(v));
        } else {
            encode_entry(&mut node.buf, v);
        }
        node.count += 1;
        self.len += 1;
    }

    pub fn pop(&mut self, head: bool) -> Option<Box<[u8]>> {
        let idx = if head {
            0
        } else {
            self.nodes.len().checked_sub(1)?
        };
        let node = &mut self.nodes[idx];
        let v: Box<[u8]> = if head {
            let (s, e, next) = node.entry_at(0);
            let v = Box::from(&node.buf[s..e]);
            node.buf.drain(..next);
            v
        } else {
            let (start, s, e) = node.entry_before(node.buf.len());
            let v = Box::from(&node.buf[s..e]);
            node.buf.truncate(start);
            v
        };
        node.count -= 1;
        self.len -= 1;
        if node.count == 0 {
            self.nodes.remove(idx);
        } else if node.buf.capacity() > 2 * node.buf.len().max(64) {
            node.buf.shrink_to_fit();
        }
        Some(v)
    }

    /// (node index, entry index inside it) of element `i < len`.
    fn locate(&self, mut i: usize) -> (usize, usize) {
        debug_assert!(i < self.len);
        if i < self.len / 2 {
            for (n, node) in self.nodes.iter().enumerate() {
                if i < node.count {
                    return (n, i);
                }
                i -= node.count;
            }
        } else {
            let mut from_end = self.len - 1 - i;
            for (n, node) in self.nodes.iter().enumerate().rev() {
                if from_end < node.count {
                    return (n, node.count - 1 - from_end);
                }
                from_end -= node.count;
            }
        }
        unreachable!("index {i} is below the length")
    }

    pub fn get(&self, i: usize) -> Option<&[u8]> {
        if i >= self.len {
            return None;
        }
        let (n, k) = self.locate(i);
        let node = &self.nodes[n];
        let (s, e, _) = node.entry_at(node.offset_of(k));
        Some(&node.buf[s..e])
    }

    /// Replaces element `i`; false when out of range.
    pub fn set(&mut self, i: usize, v: &[u8]) -> bool {
        if i >= self.len {
            return false;
        }
        let (n, k) = self.locate(i);
        let node = &mut self.nodes[n];
        let off = node.offset_of(k);
        let next = node.entry_at(off).2;
        node.buf.splice(off..next, framed(v));
        self.split_if_big(n);
        true
    }

    /// Inserts so that the new element ends up at index `i` (`i <= len`).
    pub fn insert(&mut self, i: usize, v: &[u8]) {
        assert!(i <= self.len, "insert position within the list");
        if i == 0 || i == self.len {
            return self.push(i == 0, v);
        }
        let (n, k) = self.locate(i);
        let node = &mut self.nodes[n];
        let off = node.offset_of(k);
        node.buf.splice(off..off, framed(v));
        node.count += 1;
        self.len += 1;
        self.split_if_big(n);
    }

    /// Keeps nodes near their fill target after edits in the middle.
    fn split_if_big(&mut self, n: usize) {
        let (max_bytes, max_count) = self.node_limits();
        let node = &mut self.nodes[n];
        let big = node.buf.len() > 2 * max_bytes || node.count > max_count.saturating_mul(2);
        if !big || node.count < 2 {
            return;
        }
        let half = node.count / 2;
        let off = node.offset_of(half);
        let tail = Node {
            buf: node.buf[off..].to_vec(),
            count: node.count - half,
        };
        node.buf.truncate(off);
        node.buf.shrink_to_fit();
        node.count = half;
        self.nodes.insert(n + 1, tail);
    }

    /// Removes `ltrim` elements from the head and `rtrim` from the tail.
    pub fn trim(&mut self, ltrim: usize, rtrim: usize) {
        if ltrim + rtrim >= self.len {
            self.nodes.clear();
            self.len = 0;
            return;
        }
        self.len -= ltrim + rtrim;
        let mut left = ltrim;
        while left > 0 {
            let node = self.nodes.front_mut().expect("elements remain");
            if node.count <= left {
                left -= node.count;
                self.nodes.pop_front();
            } else {
                let off = node.offset_of(left);
                node.buf.drain(..off);
                node.count -= left;
                left = 0;
            }
        }
        let mut right = rtrim;
        while right > 0 {
            let node = self.nodes.back_mut().expect("elements remain");
            if node.count <= right {
                right -= node.count;
                self.nodes.pop_back();
            } else {
                let off = node.offset_of(node.count - right);
                node.buf.truncate(off);
                node.count -= right;
                right = 0;
            }
        }
    }

    /// Removes up to `limit` (0 = all) elements equal to `v`, scanning from the head or the
    /// tail; returns how many were removed.
    pub fn remove_matching(&mut self, v: &[u8], from_head: bool, limit: usize) -> usize {
        let mut removed = 0;
        let order: Vec<usize> = if from_head {
            (0..self.nodes.len()).collect()
        } else {
            (0..self.nodes.len()).rev().collect()
        };
        for n in order {
            if limit != 0 && removed >= limit {
                break;
            }
            let node = &mut self.nodes[n];
            let offs = node.offsets();
            let mut drop = vec![false; node.count];
            let idxs: Box<dyn Iterator<Item = usize>> = if from_head {
                Box::new(0..node.count)
            } else {
                Box::new((0..node.count).rev())
            };
            let mut any = false;
            for k in idxs {
                if limit != 0 && removed >= limit {
                    break;
                }
                let (s, e, _) = node.entry_at(offs[k]);
                if &node.buf[s..e] == v {
                    drop[k] = true;
                    removed += 1;
                    any = true;
                }
            }
            if any {
                let mut buf = Vec::with_capacity(node.buf.len());
                for k in 0..node.count {
                    if !drop[k] {
                        buf.extend_from_slice(&node.buf[offs[k]..offs[k + 1]]);
                    }
                }
                let gone = drop.iter().filter(|d| **d).count();
                node.buf = buf;
                node.count -= gone;
                self.len -= gone;
            }
        }
        self.nodes.retain(|n| n.count > 0);
        removed
    }

    /// Heap bytes owned: the node ring's slots and each node's buffer.
    pub fn heap_bytes(&self) -> (usize, impl Iterator<Item = usize> + '_) {
        (
            self.nodes.capacity() * std::mem::size_of::<Node>(),
            self.nodes.iter().map(|n| n.buf.capacity()),
        )
    }
}

/// Head-to-tail iterator; also walks backwards (LPOS with a negative RANK).
pub struct Iter<'a> {
    list: &'a ListVal,
    /// (node, offset of the next entry to yield from the front)
    front: (usize, usize),
    /// (node index + 1, end offset in that node; 0 = the node's whole buffer)
    back: (usize, usize),
    remaining: usize,
}

impl<'a> Iterator for Iter<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        if self.remaining == 0 {
            return None;
        }
        let list = self.list;
        let mut node = &list.nodes[self.front.0];
        if self.front.1 >= node.buf.len() {
            self.front = (self.front.0 + 1, 0);
            node = &list.nodes[self.front.0];
        }
        let (s, e, next) = node.entry_at(self.front.1);
        self.front.1 = next;
        self.remaining -= 1;
        Some(&node.buf[s..e])
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.remaining, Some(self.remaining))
    }
}

impl<'a> DoubleEndedIterator for Iter<'a> {
    fn next_back(&mut self) -> Option<&'a [u8]> {
        if self.remaining == 0 {
            return None;
        }
        let list = self.list;
        let ni = self.back.0 - 1;
        let node = &list.nodes[ni];
        let end = if self.back.1 == 0 {
            node.buf.len()
        } else {
            self.back.1
        };
        let (start, s, e) = node.entry_before(end);
        self.remaining -= 1;
        self.back = if start == 0 { (ni, 0) } else { (ni + 1, start) };
        Some(&node.buf[s..e])
    }
}

impl ExactSizeIterator for Iter<'_> {}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::VecDeque as Model;

    fn items(l: &ListVal) -> Vec<Vec<u8>> {
        l.iter().map(|b| b.to_vec()).collect()
    }

    fn check(l: &ListVal, m: &Model<Vec<u8>>) {
        let fwd: Vec<Vec<u8>> = m.iter().cloned().collect();
        assert_eq!(items(l), fwd);
        let rev: Vec<Vec<u8>> = l.iter().rev().map(|b| b.to_vec()).collect();
        assert_eq!(rev, fwd.iter().rev().cloned().collect::<Vec<_>>());
        assert_eq!(l.len(), m.len());
        assert_eq!(l.nodes.iter().map(|n| n.count).sum::<usize>(), l.len());
        assert!(l.nodes.iter().all(|n| n.count > 0));
        for (i, v) in fwd.iter().enumerate() {
            assert_eq!(l.get(i), Some(&v[..]));
            assert_eq!(l.iter_from(i).next(), Some(&v[..]));
            assert_eq!(l.iter_from(i).len(), fwd.len() - i);
        }
        assert_eq!(l.iter_from(fwd.len()).next(), None);
    }

    #[test]
    fn trim_and_remove_matching() {
        let mut l = ListVal::new();
        for i in ["a", "b", "a", "c", "a"] {
            l.push(false, i.as_bytes());
        }
        assert_eq!(l.remove_matching(b"a", false, 2), 2);
        assert_eq!(items(&l), [b"a".to_vec(), b"b".to_vec(), b"c".to_vec()]);
        l.trim(1, 1);
        assert_eq!(items(&l), [b"b".to_vec()]);
        l.trim(5, 5);
        assert!(l.is_empty());
    }

    /// Random operations against a VecDeque model, with elements of every framing size and
    /// enough of them to span many nodes.
    #[test]
    fn matches_a_model() {
        for fill in [-2, -1, -5, 0, 1, 3, 100] {
            model_check(fill);
        }
    }

    fn model_check(fill: i64) {
        let mut seed = 7u64;
        let mut rnd = |n: u64| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed % n
        };
        let mut l = ListVal::with_fill(fill);
        let mut m: Model<Vec<u8>> = Model::new();
        for step in 0..8_000 {
            let size = match rnd(10) {
                0 => rnd(300) as usize,
                1 => rnd(20_000) as usize,
                _ => rnd(4) as usize,
            };
            let v: Vec<u8> = (0..size)
                .map(|i| (i as u8).wrapping_add(rnd(3) as u8))
                .collect();
            match rnd(9) {
                0..=2 => {
                    let head = rnd(2) == 0;
                    l.push(head, &v);
                    if head {
                        m.push_front(v)
                    } else {
                        m.push_back(v)
                    }
                }
                3 | 4 => {
                    let head = rnd(2) == 0;
                    let want = if head { m.pop_front() } else { m.pop_back() };
                    assert_eq!(l.pop(head).map(|b| b.to_vec()), want);
                }
                5 if !m.is_empty() => {
                    let i = rnd(m.len() as u64) as usize;
                    assert!(l.set(i, &v));
                    m[i] = v;
                }
                6 => {
                    let i = rnd(m.len() as u64 + 1) as usize;
                    l.insert(i, &v);
                    m.insert(i, v);
                }
                7 if step % 50 == 0 => {
                    let target = vec![0u8; rnd(2) as usize];
                    let head = rnd(2) == 0;
                    let limit = rnd(3) as usize;
                    let got = l.remove_matching(&target, head, limit);
                    let mut removed = 0;
                    let idx: Vec<usize> = if head {
                        (0..m.len()).collect()
                    } else {
                        (0..m.len()).rev().collect()
                    };
                    let mut del = Vec::new();
                    for i in idx {
                        if limit != 0 && removed >= limit {
                            break;
                        }
                        if m[i] == target {
                            del.push(i);
                            removed += 1;
                        }
                    }
                    del.sort_unstable();
                    for i in del.into_iter().rev() {
                        m.remove(i);
                    }
                    assert_eq!(got, removed);
                }
                8 if step % 100 == 0 => {
                    let a = rnd(5) as usize;
                    let b = rnd(5) as usize;
                    l.trim(a, b);
                    if a + b >= m.len() {
                        m.clear();
                    } else {
                        m.drain(..a);
                        m.truncate(m.len() - b);
                    }
                }
                _ => {}
            }
            if step % 500 == 0 {
                check(&l, &m);
            }
        }
        check(&l, &m);
    }
}
