//! The order-statistic index of a large sorted set: a counted B+tree of `(score, slot id)`
//! keys kept in the sorted set's order (score, then member bytes, as Redis's `zslInsert`).
//!
//! Members live once, in the sorted set's slab; the tree stores only their score (so most
//! comparisons never touch the slab) and their slot number. Ties on score are broken by a
//! member comparator the caller passes in, which reads the slab.
//!
//! Shape: nodes in an arena (`nodes`, freed ones reused). Leaves hold up to `LEAF_MAX` keys
//! in two parallel arrays and are linked both ways for in-order walks. Inner nodes hold, for
//! each child, its element count (so rank and select are O(log n), as Redis's skiplist spans
//! make them) and its exact minimum key (so a descent can route without keys of its own).
//! Invariants, checked by `check` in the tests: every leaf is at the same depth, no node is
//! empty, counts and minimums equal what they summarize, and the leaf chain visits keys in
//! ascending order.
//!
//! Splits are even except at the tree's right (or left) edge, where the full node stays full:
//! appending ascending scores (a leaderboard fed in order, the benchmark's load) then fills
//! leaves completely instead of half. Removal merges or evens out a node that falls under a
//! quarter full with a sibling.

use std::cmp::Ordering;

pub(crate) const NIL: u32 = u32::MAX;
// Small nodes under test, so that a few hundred keys already build a deep tree and exercise
// every split, merge and redistribution.
#[cfg(not(test))]
const LEAF_MAX: usize = 128;
#[cfg(not(test))]
const INNER_MAX: usize = 64;
#[cfg(test)]
const LEAF_MAX: usize = 16;
#[cfg(test)]
const INNER_MAX: usize = 8;

/// A key: score and the member's slot in the slab.
pub(crate) type Key = (f64, u32);

#[derive(Clone, Debug, Default)]
struct Leaf {
    scores: Vec<f64>,
    ids: Vec<u32>,
    prev: u32,
    next: u32,
}

#[derive(Clone, Debug, Default)]
struct Inner {
    children: Vec<u32>,
    counts: Vec<u32>,
    min_scores: Vec<f64>,
    min_ids: Vec<u32>,
}

#[derive(Clone, Debug, Default)]
enum Node {
    Leaf(Leaf),
    Inner(Inner),
    #[default]
    Free,
}

/// Scores compare as Redis's `<` and `==` do: -0 equals 0; NaN is never stored.
fn score_cmp(a: f64, b: f64) -> Ordering {
    a.partial_cmp(&b).unwrap_or(Ordering::Equal)
}

/// Full key order: score, then member (through `m`, which compares two slots' members).
pub(crate) fn key_cmp<M: Fn(u32, u32) -> Ordering>(a: Key, b: Key, m: &M) -> Ordering {
    score_cmp(a.0, b.0).then_with(|| {
        if a.1 == b.1 {
            Ordering::Equal
        } else {
            m(a.1, b.1)
        }
    })
}

/// Number of leading positions in `0..n` for which `pred` holds (it holds, then stops).
fn partition(n: usize, pred: impl Fn(usize) -> bool) -> usize {
    let (mut lo, mut hi) = (0, n);
    while lo < hi {
        let mid = (lo + hi) / 2;
        if pred(mid) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    lo
}

/// Grows a leaf array by at most doubling and never past what a leaf can hold, so a leaf
/// costs at most `LEAF_MAX + 1` entries however it was filled.
fn reserve_leaf<T>(v: &mut Vec<T>) {
    if v.len() == v.capacity() {
        let extra = v.len().max(4).min(LEAF_MAX + 1 - v.len()).max(1);
        v.reserve_exact(extra);
    }
}

#[derive(Clone, Debug)]
pub(crate) struct Tree {
    nodes: Vec<Node>,
    free: Vec<u32>,
    root: u32,
    len: usize,
}

impl Default for Tree {
    fn default() -> Self {
        Tree {
            nodes: Vec::new(),
            free: Vec::new(),
            root: NIL,
            len: 0,
        }
    }
}

/// A position in the leaf chain: (leaf node, index in it).
pub(crate) type Cursor = (u32, u32);

impl Tree {
    pub fn len(&self) -> usize {
        self.len
    }

    fn alloc(&mut self, n: Node) -> u32 {
        match self.free.pop() {
            Some(i) => {
                self.nodes[i as usize] = n;
                i
            }
            None => {
                let i = u32::try_from(self.nodes.len()).expect("fewer than 2^32 tree nodes");
                self.nodes.push(n);
                i
            }
        }
    }

    fn release(&mut self, i: u32) {
        self.nodes[i as usize] = Node::Free;
        self.free.push(i);
    }

    fn leaf(&self, i: u32) -> &Leaf {
        match &self.nodes[i as usize] {
            Node::Leaf(l) => l,
            _ => unreachable!("node {i} is a leaf"),
        }
    }

    fn leaf_mut(&mut self, i: u32) -> &mut Leaf {
        match &mut self.nodes[i as usize] {
            Node::Leaf(l) => l,
            _ => unreachable!("node {i} is a leaf"),
        }
    }

    fn inner_mut(&mut self, i: u32) -> &mut Inner {
        match &mut self.nodes[i as usize] {
            Node::Inner(n) => n,
            _ => unreachable!("node {i} is an inner node"),
        }
    }

    /// The smallest key under node `i` (never empty).
    fn node_min(&self, i: u32) -> Key {
        match &self.nodes[i as usize] {
            Node::Leaf(l) => (l.scores[0], l.ids[0]),
            Node::Inner(n) => (n.min_scores[0], n.min_ids[0]),
            Node::Free => unreachable!("a live node"),
        }
    }

    fn node_count(&self, i: u32) -> u32 {
        match &self.nodes[i as usize] {
            Node::Leaf(l) => l.ids.len() as u32,
            Node::Inner(n) => n.counts.iter().sum(),
            Node::Free => 0,
        }
    }

    /// Entries directly in node `i` (keys of a leaf, children of an inner node).
    fn node_width(&self, i: u32) -> usize {
        match &self.nodes[i as usize] {
            Node::Leaf(l) => l.ids.len(),
            Node::Inner(n) => n.children.len(),
            Node::Free => 0,
        }
    }

    /// The child of inner node `n` whose range holds `key`.
    fn route<M: Fn(u32, u32) -> Ordering>(n: &Inner, key: Key, m: &M) -> usize {
        let k = n.children.len();
        partition(k - 1, |j| {
            key_cmp((n.min_scores[j + 1], n.min_ids[j + 1]), key, m) != Ordering::Greater
        })
    }

    pub fn insert<M: Fn(u32, u32) -> Ordering>(&mut self, key: Key, m: &M) {
        self.len += 1;
        if self.root == NIL {
            let mut l = Leaf {
                prev: NIL,
                next: NIL,
                ..Leaf::default()
            };
            l.scores.push(key.0);
            l.ids.push(key.1);
            self.root = self.alloc(Node::Leaf(l));
            return;
        }
        if let Some(right) = self.insert_rec(self.root, key, m, (true, true)) {
            let left = self.root;
            let (lc, rc) = (self.node_count(left), self.node_count(right));
            let (lm, rm) = (self.node_min(left), self.node_min(right));
            self.root = self.alloc(Node::Inner(Inner {
                children: vec![left, right],
                counts: vec![lc, rc],
                min_scores: vec![lm.0, rm.0],
                min_ids: vec![lm.1, rm.1],
            }));
        }
    }

    /// Inserts under node `n`; returns a new right sibling if `n` split. `edge` says whether
    /// `n` is the leftmost / rightmost node of its level.
    fn insert_rec<M: Fn(u32, u32) -> Ordering>(
        &mut self,
        n: u32,
        key: Key,
        m: &M,
        edge: (bool, bool),
    ) -> Option<u32> {
        if let Node::Leaf(l) = &mut self.nodes[n as usize] {
            let pos = partition(l.ids.len(), |j| {
                key_cmp((l.scores[j], l.ids[j]), key, m) == Ordering::Less
            });
            reserve_leaf(&mut l.scores);
            reserve_leaf(&mut l.ids);
            l.scores.insert(pos, key.0);
            l.ids.insert(pos, key.1);
            let len = l.ids.len();
            if len <= LEAF_MAX {
                return None;
            }
            let at = if edge.1 && pos == len - 1 {
                LEAF_MAX
            } else if edge.0 && pos == 0 {
                1
            } else {
                len / 2
            };
            let right = Leaf {
                scores: l.scores.split_off(at),
                ids: l.ids.split_off(at),
                prev: n,
                next: l.next,
            };
            let after = right.next;
            let r = self.alloc(Node::Leaf(right));
            self.leaf_mut(n).next = r;
            if after != NIL {
                self.leaf_mut(after).prev = r;
            }
            return Some(r);
        }
        let (i, child, last) = {
            let inner = self.inner_mut(n);
            let i = Self::route(inner, key, m);
            (i, inner.children[i], inner.children.len() - 1)
        };
        let split = self.insert_rec(child, key, m, (edge.0 && i == 0, edge.1 && i == last));
        let cmin = self.node_min(child);
        let split = split.map(|r| (r, self.node_count(r), self.node_min(r)));
        let inner = self.inner_mut(n);
        inner.counts[i] += 1;
        inner.min_scores[i] = cmin.0;
        inner.min_ids[i] = cmin.1;
        let (r, rc, rmin) = split?;
        inner.counts[i] -= rc;
        inner.children.insert(i + 1, r);
        inner.counts.insert(i + 1, rc);
        inner.min_scores.insert(i + 1, rmin.0);
        inner.min_ids.insert(i + 1, rmin.1);
        let len = inner.children.len();
        if len <= INNER_MAX {
            return None;
        }
        let at = if edge.1 && i + 1 == len - 1 {
            INNER_MAX
        } else if edge.0 && i == 0 {
            1
        } else {
            len / 2
        };
        let right = Inner {
            children: inner.children.split_off(at),
            counts: inner.counts.split_off(at),
            min_scores: inner.min_scores.split_off(at),
            min_ids: inner.min_ids.split_off(at),
        };
        Some(self.alloc(Node::Inner(right)))
    }

    /// Removes `key`; false if it was not there.
    pub fn remove<M: Fn(u32, u32) -> Ordering>(&mut self, key: Key, m: &M) -> bool {
        if self.root == NIL || !self.remove_rec(self.root, key, m) {
            return false;
        }
        self.len -= 1;
        if self.len == 0 {
            // Nothing left: drop the arena rather than keep freed nodes.
            *self = Tree::default();
            return true;
        }
        while let Node::Inner(n) = &self.nodes[self.root as usize] {
            if n.children.len() != 1 {
                break;
            }
            let old = self.root;
            self.root = n.children[0];
            self.release(old);
        }
        true
    }

    fn remove_rec<M: Fn(u32, u32) -> Ordering>(&mut self, n: u32, key: Key, m: &M) -> bool {
        if let Node::Leaf(l) = &mut self.nodes[n as usize] {
            let pos = partition(l.ids.len(), |j| {
                key_cmp((l.scores[j], l.ids[j]), key, m) == Ordering::Less
            });
            if pos == l.ids.len() || l.ids[pos] != key.1 {
                return false;
            }
            l.scores.remove(pos);
            l.ids.remove(pos);
            return true;
        }
        let (i, child) = {
            let inner = self.inner_mut(n);
            let i = Self::route(inner, key, m);
            (i, inner.children[i])
        };
        if !self.remove_rec(child, key, m) {
            return false;
        }
        self.inner_mut(n).counts[i] -= 1;
        self.fix_child(n, i);
        true
    }

    /// After a removal under child `i` of `n`: drops it if empty, rebalances it with a
    /// sibling if under a quarter full, and refreshes its minimum.
    fn fix_child(&mut self, n: u32, i: usize) {
        let child = self.inner_mut(n).children[i];
        let (width, min_width) = match &self.nodes[child as usize] {
            Node::Leaf(l) => (l.ids.len(), LEAF_MAX / 4),
            Node::Inner(c) => (c.children.len(), INNER_MAX / 4),
            Node::Free => unreachable!("a live child"),
        };
        if width == 0 {
            self.unlink_leaf(child);
            self.release(child);
            let inner = self.inner_mut(n);
            inner.children.remove(i);
            inner.counts.remove(i);
            inner.min_scores.remove(i);
            inner.min_ids.remove(i);
            return;
        }
        let siblings = self.inner_mut(n).children.len();
        if width < min_width && siblings > 1 {
            let (a, b) = if i + 1 < siblings {
                (i, i + 1)
            } else {
                (i - 1, i)
            };
            self.rebalance(n, a, b);
            return;
        }
        let cmin = self.node_min(child);
        let inner = self.inner_mut(n);
        inner.min_scores[i] = cmin.0;
        inner.min_ids[i] = cmin.1;
    }

    /// Detaches leaf `i` (if it is one) from the leaf chain.
    fn unlink_leaf(&mut self, i: u32) {
        let Node::Leaf(l) = &self.nodes[i as usize] else {
            return;
        };
        let (prev, next) = (l.prev, l.next);
        if prev != NIL {
            self.leaf_mut(prev).next = next;
        }
        if next != NIL {
            self.leaf_mut(next).prev = prev;
        }
    }

    /// Merges children `a` and `b = a + 1` of `n` if they fit in one node, else evens them.
    fn rebalance(&mut self, n: u32, a: usize, b: usize) {
        let (na, nb) = {
            let inner = self.inner_mut(n);
            (inner.children[a], inner.children[b])
        };
        let (wa, wb) = (self.node_width(na), self.node_width(nb));
        let max = match &self.nodes[na as usize] {
            Node::Leaf(_) => LEAF_MAX,
            _ => INNER_MAX,
        };
        let mut left = std::mem::take(&mut self.nodes[na as usize]);
        let mut right = std::mem::take(&mut self.nodes[nb as usize]);
        let merge = wa + wb <= max;
        match (&mut left, &mut right) {
            (Node::Leaf(l), Node::Leaf(r)) => {
                if merge {
                    l.scores.append(&mut r.scores);
                    l.ids.append(&mut r.ids);
                    l.next = r.next;
                } else if wa < wb {
                    let k = (wb - wa) / 2;
                    l.scores.extend(r.scores.drain(..k));
                    l.ids.extend(r.ids.drain(..k));
                } else {
                    let k = (wa - wb) / 2;
                    let at = wa - k;
                    r.scores.splice(0..0, l.scores.drain(at..));
                    r.ids.splice(0..0, l.ids.drain(at..));
                }
            }
            (Node::Inner(l), Node::Inner(r)) => {
                if merge {
                    l.children.append(&mut r.children);
                    l.counts.append(&mut r.counts);
                    l.min_scores.append(&mut r.min_scores);
                    l.min_ids.append(&mut r.min_ids);
                } else if wa < wb {
                    let k = (wb - wa) / 2;
                    l.children.extend(r.children.drain(..k));
                    l.counts.extend(r.counts.drain(..k));
                    l.min_scores.extend(r.min_scores.drain(..k));
                    l.min_ids.extend(r.min_ids.drain(..k));
                } else {
                    let at = wa - (wa - wb) / 2;
                    r.children.splice(0..0, l.children.drain(at..));
                    r.counts.splice(0..0, l.counts.drain(at..));
                    r.min_scores.splice(0..0, l.min_scores.drain(at..));
                    r.min_ids.splice(0..0, l.min_ids.drain(at..));
                }
            }
            _ => unreachable!("siblings are at the same depth"),
        }
        let merged_next = match &left {
            Node::Leaf(l) if merge => Some(l.next),
            _ => None,
        };
        self.nodes[na as usize] = left;
        self.nodes[nb as usize] = right;
        if merge {
            if let Some(next) = merged_next {
                if next != NIL {
                    self.leaf_mut(next).prev = na;
                }
            }
            self.release(nb);
            let ca = self.node_count(na);
            let amin = self.node_min(na);
            let inner = self.inner_mut(n);
            inner.children.remove(b);
            inner.counts.remove(b);
            inner.min_scores.remove(b);
            inner.min_ids.remove(b);
            inner.counts[a] = ca;
            inner.min_scores[a] = amin.0;
            inner.min_ids[a] = amin.1;
        } else {
            let (ca, cb) = (self.node_count(na), self.node_count(nb));
            let (amin, bmin) = (self.node_min(na), self.node_min(nb));
            let inner = self.inner_mut(n);
            inner.counts[a] = ca;
            inner.counts[b] = cb;
            inner.min_scores[a] = amin.0;
            inner.min_ids[a] = amin.1;
            inner.min_scores[b] = bmin.0;
            inner.min_ids[b] = bmin.1;
        }
    }

    /// How many leading keys satisfy `pred`, which must hold for a prefix of the order and
    /// then never again (a rank for "key < x", a bound for "score < min", ...).
    pub fn count_while(&self, pred: impl Fn(f64, u32) -> bool) -> usize {
        let mut n = self.root;
        let mut acc = 0usize;
        if n == NIL {
            return 0;
        }
        loop {
            match &self.nodes[n as usize] {
                Node::Leaf(l) => {
                    return acc + partition(l.ids.len(), |j| pred(l.scores[j], l.ids[j]));
                }
                Node::Inner(inner) => {
                    let k = partition(inner.children.len(), |j| {
                        pred(inner.min_scores[j], inner.min_ids[j])
                    });
                    if k == 0 {
                        return acc;
                    }
                    acc += inner.counts[..k - 1]
                        .iter()
                        .map(|&c| c as usize)
                        .sum::<usize>();
                    n = inner.children[k - 1];
                }
                Node::Free => unreachable!("a live node"),
            }
        }
    }

    /// The position of the key of rank `rank` (< len).
    pub fn select(&self, mut rank: usize) -> Cursor {
        debug_assert!(rank < self.len);
        let mut n = self.root;
        loop {
            match &self.nodes[n as usize] {
                Node::Leaf(_) => return (n, rank as u32),
                Node::Inner(inner) => {
                    let mut i = 0;
                    while rank >= inner.counts[i] as usize {
                        rank -= inner.counts[i] as usize;
                        i += 1;
                    }
                    n = inner.children[i];
                }
                Node::Free => unreachable!("a live node"),
            }
        }
    }

    pub fn get(&self, c: Cursor) -> Key {
        let l = self.leaf(c.0);
        (l.scores[c.1 as usize], l.ids[c.1 as usize])
    }

    pub fn next(&self, c: Cursor) -> Cursor {
        let l = self.leaf(c.0);
        if (c.1 as usize) + 1 < l.ids.len() {
            (c.0, c.1 + 1)
        } else {
            (l.next, 0)
        }
    }

    pub fn prev(&self, c: Cursor) -> Cursor {
        if c.1 > 0 {
            (c.0, c.1 - 1)
        } else {
            let p = self.leaf(c.0).prev;
            (p, self.leaf(p).ids.len() as u32 - 1)
        }
    }

    /// Heap bytes of the arena and the nodes' arrays, each block rounded by `round`.
    pub fn heap_bytes(&self, round: &impl Fn(usize) -> usize) -> usize {
        let mut n = round(self.nodes.capacity() * std::mem::size_of::<Node>())
            + round(self.free.capacity() * 4);
        for node in &self.nodes {
            n += match node {
                Node::Leaf(l) => round(l.scores.capacity() * 8) + round(l.ids.capacity() * 4),
                Node::Inner(i) => {
                    round(i.children.capacity() * 4)
                        + round(i.counts.capacity() * 4)
                        + round(i.min_scores.capacity() * 8)
                        + round(i.min_ids.capacity() * 4)
                }
                Node::Free => 0,
            };
        }
        n
    }

    /// Leaves and the keys a full set of them would hold (tests of the fill rate).
    #[cfg(test)]
    pub fn leaf_fill(&self) -> (usize, usize) {
        let leaves = self
            .nodes
            .iter()
            .filter(|n| matches!(n, Node::Leaf(_)))
            .count();
        (leaves, leaves * LEAF_MAX)
    }

    /// Checks every invariant in the header (tests only); returns the keys in leaf order.
    #[cfg(test)]
    pub fn check<M: Fn(u32, u32) -> Ordering>(&self, m: &M) -> Vec<Key> {
        fn walk<M: Fn(u32, u32) -> Ordering>(
            t: &Tree,
            n: u32,
            depth: usize,
            leaf_depth: &mut Option<usize>,
            m: &M,
        ) -> (usize, Key) {
            match &t.nodes[n as usize] {
                Node::Leaf(l) => {
                    assert!(!l.ids.is_empty() && l.ids.len() <= LEAF_MAX);
                    assert_eq!(l.scores.len(), l.ids.len());
                    assert_eq!(
                        *leaf_depth.get_or_insert(depth),
                        depth,
                        "leaves at one depth"
                    );
                    (l.ids.len(), (l.scores[0], l.ids[0]))
                }
                Node::Inner(i) => {
                    assert!(!i.children.is_empty() && i.children.len() <= INNER_MAX);
                    let mut total = 0;
                    for (j, &c) in i.children.iter().enumerate() {
                        let (cnt, min) = walk(t, c, depth + 1, leaf_depth, m);
                        assert_eq!(cnt, i.counts[j] as usize, "count of child {j}");
                        assert_eq!(min.1, i.min_ids[j], "min of child {j}");
                        assert_eq!(
                            key_cmp(min, (i.min_scores[j], i.min_ids[j]), m),
                            Ordering::Equal
                        );
                        total += cnt;
                    }
                    (total, (i.min_scores[0], i.min_ids[0]))
                }
                Node::Free => panic!("a freed node is reachable"),
            }
        }
        if self.root == NIL {
            assert_eq!(self.len, 0);
            return Vec::new();
        }
        let (total, _) = walk(self, self.root, 0, &mut None, m);
        assert_eq!(total, self.len);
        let mut out = Vec::with_capacity(self.len);
        let mut c = self.select(0);
        let mut prev_leaf = NIL;
        for r in 0..self.len {
            assert_eq!(
                self.select(r),
                c,
                "select agrees with the chain at rank {r}"
            );
            out.push(self.get(c));
            if c.1 == 0 {
                assert_eq!(self.leaf(c.0).prev, prev_leaf, "back links");
            }
            prev_leaf = c.0;
            c = self.next(c);
        }
        assert_eq!(c.0, NIL, "the chain ends at the last key");
        for w in out.windows(2) {
            assert_eq!(key_cmp(w[0], w[1], m), Ordering::Less, "ascending keys");
        }
        out
    }
}
