//! Sorted sets. Redis 7.0 stores small ones as a `listpack` and larger ones as a
//! `skiplist` plus dict (`zset-max-listpack-entries` / `-value`); OBJECT ENCODING reports
//! which.
//!
//! One representation serves both encodings here, and keeps each member once:
//! - a slab of slots `{member, score}`; a slot never moves while its member exists (a score
//!   change keeps it), so a ZSCAN cursor can be a slot number, as `Db::scan` uses one;
//! - a hash index of slot numbers by member bytes (ZSCORE, ZADD's lookup);
//! - a counted B+tree of `(score, slot)` in Redis's order (score, then member bytes), see
//!   `zset_tree`: rank, select-by-rank, insert and remove are O(log n), as Redis's skiplist
//!   with spans makes them.
//!
//! `listpack` only records which encoding Redis would be using: a set starts compact,
//! becomes `skiplist` when an insertion passes a threshold (Redis's `zsetAdd`), and never
//! converts back (7.0 converts back only when a whole result is stored: ZUNIONSTORE and
//! friends, see [`ZSetVal::fits_listpack`]).

use crate::bytestr::ByteStr;
use crate::zset_tree::{key_cmp, Cursor, Tree, NIL};
use hashbrown::HashTable;
use std::cmp::Ordering;
use std::hash::BuildHasher;
use std::sync::OnceLock;

fn hash(m: &[u8]) -> u64 {
    static H: OnceLock<hashbrown::DefaultHashBuilder> = OnceLock::new();
    H.get_or_init(hashbrown::DefaultHashBuilder::default)
        .hash_one(m)
}

/// One member. A free slot holds an empty member and a NaN score (never a stored score).
#[derive(Clone, Debug)]
struct Slot {
    member: ByteStr,
    score: f64,
}

#[derive(Clone, Debug, Default)]
pub struct ZSetVal {
    slots: Vec<Slot>,
    free: Vec<u32>,
    index: HashTable<u32>,
    tree: Tree,
    listpack: bool,
}

/// Equal contents (scores compared with `==`, so -0 equals 0) and encoding.
impl PartialEq for ZSetVal {
    fn eq(&self, o: &Self) -> bool {
        self.listpack == o.listpack
            && self.len() == o.len()
            && self.iter().all(|(m, s)| o.score(m) == Some(s))
    }
}

/// Members of ranks `front..back` of a sorted set, walked along the leaf chain.
pub struct Iter<'a> {
    z: &'a ZSetVal,
    front: Cursor,
    back: Cursor,
    front_rank: usize,
    back_rank: usize,
}

impl<'a> Iter<'a> {
    fn item(&self, c: Cursor) -> (&'a [u8], f64) {
        let (score, id) = self.z.tree.get(c);
        (&self.z.slots[id as usize].member, score)
    }
}

impl<'a> Iterator for Iter<'a> {
    type Item = (&'a [u8], f64);

    fn next(&mut self) -> Option<Self::Item> {
        if self.front_rank >= self.back_rank {
            return None;
        }
        let it = self.item(self.front);
        self.front_rank += 1;
        if self.front_rank < self.back_rank {
            self.front = self.z.tree.next(self.front);
        }
        Some(it)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = self.back_rank - self.front_rank;
        (n, Some(n))
    }

    /// Skips by rank in O(log n) (ZRANGE ... LIMIT offset, ZRANDMEMBER).
    fn nth(&mut self, n: usize) -> Option<Self::Item> {
        if n >= self.back_rank - self.front_rank {
            self.front_rank = self.back_rank;
            return None;
        }
        if n > 0 {
            self.front_rank += n;
            self.front = self.z.tree.select(self.front_rank);
        }
        self.next()
    }
}

impl DoubleEndedIterator for Iter<'_> {
    fn next_back(&mut self) -> Option<Self::Item> {
        if self.front_rank >= self.back_rank {
            return None;
        }
        let it = self.item(self.back);
        self.back_rank -= 1;
        if self.front_rank < self.back_rank {
            self.back = self.z.tree.prev(self.back);
        }
        Some(it)
    }
}

impl ExactSizeIterator for Iter<'_> {}

/// One ZSCAN step over a `skiplist` set.
pub struct ScanStep<'a> {
    pub items: Vec<(&'a [u8], f64)>,
    /// 0 when the iteration is complete.
    pub next: u64,
}

impl ZSetVal {
    /// An empty set in the compact encoding.
    pub fn new() -> Self {
        Self::with_encoding(true)
    }

    pub fn with_encoding(listpack: bool) -> Self {
        ZSetVal {
            listpack,
            ..Self::default()
        }
    }

    pub fn len(&self) -> usize {
        self.tree.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Member order for the tree's ties on score.
    fn member_cmp(slots: &[Slot]) -> impl Fn(u32, u32) -> Ordering + '_ {
        move |a, b| slots[a as usize].member.cmp(&slots[b as usize].member)
    }

    /// Members of ascending ranks `lo..hi` (`hi <= len`).
    pub fn range(&self, lo: usize, hi: usize) -> Iter<'_> {
        debug_assert!(hi <= self.len());
        let (front, back) = if lo < hi {
            (self.tree.select(lo), self.tree.select(hi - 1))
        } else {
            ((NIL, 0), (NIL, 0))
        };
        Iter {
            z: self,
            front,
            back,
            front_rank: lo,
            back_rank: hi.max(lo),
        }
    }

    /// (member, score) in rank order.
    pub fn iter(&self) -> Iter<'_> {
        self.range(0, self.len())
    }

    /// How many leading elements (in rank order) have a score satisfying `pred`, which must
    /// hold for a prefix of the order (e.g. `s < min`, `s <= max`). O(log n).
    pub fn count_score_while(&self, pred: impl Fn(f64) -> bool) -> usize {
        self.tree.count_while(|s, _| pred(s))
    }

    /// How many leading elements have a member satisfying `pred`, which must hold for a
    /// prefix of the order: meaningful when all scores are equal (lex ranges). O(log n).
    pub fn count_member_while(&self, pred: impl Fn(&[u8]) -> bool) -> usize {
        self.tree
            .count_while(|_, id| pred(&self.slots[id as usize].member))
    }

    /// Elements with score >= `min` (any member), ascending.
    pub fn iter_score_from(&self, min: f64) -> Iter<'_> {
        let lo = self.count_score_while(|s| s < min);
        self.range(lo, self.len())
    }

    /// Elements with score <= `max`, descending.
    pub fn iter_score_down_from(&self, max: f64) -> std::iter::Rev<Iter<'_>> {
        let hi = self.count_score_while(|s| s <= max);
        self.range(0, hi).rev()
    }

    pub fn encoding_name(&self) -> &'static str {
        if self.listpack {
            "listpack"
        } else {
            "skiplist"
        }
    }

    pub fn is_listpack(&self) -> bool {
        self.listpack
    }

    /// `zsetConvert(zobj, OBJ_ENCODING_SKIPLIST)`: SORT converts a listpack set before
    /// reading it, so OBJECT ENCODING reports `skiplist` afterwards (redis-server 7.0.15).
    pub fn convert_to_skiplist(&mut self) {
        self.listpack = false;
    }

    fn find(&self, member: &[u8]) -> Option<u32> {
        let slots = &self.slots;
        self.index
            .find(hash(member), |&i| &*slots[i as usize].member == member)
            .copied()
    }

    pub fn score(&self, member: &[u8]) -> Option<f64> {
        self.find(member).map(|i| self.slots[i as usize].score)
    }

    /// Inserts a member that is not in the set, first converting to `skiplist` as Redis's
    /// `zsetAdd` does when the set would exceed `max_entries` or the member `max_value`.
    pub fn insert_new(&mut self, member: &[u8], score: f64, max_entries: usize, max_value: usize) {
        debug_assert!(!score.is_nan(), "a sorted set never stores NaN");
        debug_assert!(
            self.find(member).is_none(),
            "insert_new of an existing member"
        );
        if self.listpack && (self.len() + 1 > max_entries || member.len() > max_value) {
            self.listpack = false;
        }
        let score = self.stored(score);
        let slot = Slot {
            member: ByteStr::new(member),
            score,
        };
        let id = match self.free.pop() {
            Some(id) => {
                self.slots[id as usize] = slot;
                id
            }
            None => {
                let id = u32::try_from(self.slots.len()).expect("fewer than 2^32 members");
                self.slots.push(slot);
                id
            }
        };
        let slots = &self.slots;
        self.index
            .insert_unique(hash(member), id, |&j| hash(&slots[j as usize].member));
        self.tree
            .insert((score, id), &Self::member_cmp(&self.slots));
    }

    /// Changes the score of an existing member.
    pub fn update(&mut self, member: &[u8], score: f64) {
        let score = self.stored(score);
        let Some(id) = self.find(member) else {
            return;
        };
        let old = self.slots[id as usize].score;
        {
            let cmp = Self::member_cmp(&self.slots);
            let had = self.tree.remove((old, id), &cmp);
            debug_assert!(had, "index and tree hold the same members");
            self.tree.insert((score, id), &cmp);
        }
        self.slots[id as usize].score = score;
    }

    /// The score as the encoding keeps it: a listpack stores -0 as 0 (redis-server 7.0.15:
    /// `ZADD k -0 m` then `ZSCORE k m` is `0` in a listpack, `-0` in a skiplist).
    fn stored(&self, score: f64) -> f64 {
        if self.listpack && score == 0.0 {
            0.0
        } else {
            score
        }
    }

    /// Unlinks slot `id` from the index and the tree and frees it.
    fn remove_id(&mut self, id: u32) -> (ByteStr, f64) {
        let slots = &self.slots;
        let member = &slots[id as usize].member;
        if let Ok(e) = self.index.find_entry(hash(member), |&i| i == id) {
            e.remove();
        }
        let score = slots[id as usize].score;
        let had = self
            .tree
            .remove((score, id), &Self::member_cmp(&self.slots));
        debug_assert!(had, "index and tree hold the same members");
        let freed = std::mem::replace(
            &mut self.slots[id as usize],
            Slot {
                member: ByteStr::new(b""),
                score: f64::NAN,
            },
        );
        if self.tree.len() == 0 {
            *self = Self::with_encoding(self.listpack);
        } else {
            self.free.push(id);
        }
        (freed.member, freed.score)
    }

    pub fn remove(&mut self, member: &[u8]) -> Option<f64> {
        let id = self.find(member)?;
        Some(self.remove_id(id).1)
    }

    /// Removes and returns the lowest (or highest, `max`) element.
    pub fn pop(&mut self, max: bool) -> Option<(Box<[u8]>, f64)> {
        if self.is_empty() {
            return None;
        }
        let rank = if max { self.len() - 1 } else { 0 };
        let (_, id) = self.tree.get(self.tree.select(rank));
        let (m, s) = self.remove_id(id);
        Some((Box::from(&*m), s))
    }

    /// 0-based rank of a member in ascending order. O(log n).
    pub fn rank(&self, member: &[u8]) -> Option<usize> {
        let id = self.find(member)?;
        let key = (self.slots[id as usize].score, id);
        let cmp = Self::member_cmp(&self.slots);
        Some(
            self.tree
                .count_while(|s, i| key_cmp((s, i), key, &cmp) == Ordering::Less),
        )
    }

    /// The element of ascending rank `rank` (< len). O(log n).
    pub fn at_rank(&self, rank: usize) -> (&[u8], f64) {
        let (score, id) = self.tree.get(self.tree.select(rank));
        (&self.slots[id as usize].member, score)
    }

    /// Elements of ascending ranks `start..=end` (within bounds), in ascending order, or in
    /// descending order of the reversed ranks when `rev` (ZREVRANGE).
    pub fn range_by_rank(&self, start: usize, end: usize, rev: bool) -> Vec<(&[u8], f64)> {
        let len = self.len();
        debug_assert!(start <= end && end < len);
        if rev {
            self.range(len - 1 - end, len - start).rev().collect()
        } else {
            self.range(start, end + 1).collect()
        }
    }

    /// Redis's `zsetConvertToListpackIfNeeded` rule for a stored result.
    pub fn fits_listpack(
        len: usize,
        max_member_len: usize,
        max_entries: usize,
        max_value: usize,
    ) -> bool {
        len <= max_entries && max_member_len <= max_value
    }

    /// Builds a set from distinct members, choosing the encoding by [`ZSetVal::fits_listpack`].
    pub fn from_members(
        members: impl IntoIterator<Item = (Box<[u8]>, f64)>,
        max_entries: usize,
        max_value: usize,
    ) -> Self {
        let members: Vec<(Box<[u8]>, f64)> = members.into_iter().collect();
        let longest = members.iter().map(|(m, _)| m.len()).max().unwrap_or(0);
        let mut z = ZSetVal::with_encoding(Self::fits_listpack(
            members.len(),
            longest,
            max_entries,
            max_value,
        ));
        z.slots.reserve_exact(members.len());
        for (m, s) in members {
            z.insert_new(&m, s, usize::MAX, usize::MAX);
        }
        z
    }

    /// One ZSCAN step over the slab from `cursor` (0 starts), visiting about `count` members;
    /// the cursor is [`crate::slab_scan`]'s, as for `Db::scan`.
    pub fn scan(&self, cursor: u64, count: usize) -> ScanStep<'_> {
        let mut items = Vec::new();
        let next = crate::slab_scan::scan_slots(cursor, self.slots.len(), count, |i| {
            let s = &self.slots[i];
            if s.score.is_nan() {
                return false;
            }
            items.push((&s.member[..], s.score));
            true
        });
        ScanStep { items, next }
    }

    /// Heap bytes owned by the set (MEMORY USAGE), excluding the box itself, each block
    /// rounded by `round` (the allocator's size classes).
    pub fn heap_bytes(&self, round: impl Fn(usize) -> usize) -> usize {
        let members: usize = self.slots.iter().map(|s| round(s.member.heap_size())).sum();
        members
            + round(self.slots.capacity() * std::mem::size_of::<Slot>())
            + round(self.free.capacity() * 4)
            + round(self.index.capacity() * 5)
            + self.tree.heap_bytes(&round)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_rank_and_conversion() {
        let mut z = ZSetVal::new();
        z.insert_new(b"b", 1.0, 2, 64);
        z.insert_new(b"a", 1.0, 2, 64);
        assert_eq!(z.encoding_name(), "listpack");
        z.insert_new(b"c", -0.0, 2, 64);
        assert_eq!(z.encoding_name(), "skiplist");
        let order: Vec<_> = z.iter().map(|(m, _)| m.to_vec()).collect();
        assert_eq!(order, vec![b"c".to_vec(), b"a".to_vec(), b"b".to_vec()]);
        assert_eq!(z.rank(b"b"), Some(2));
        assert_eq!(z.rank(b"c"), Some(0));
        assert_eq!(z.rank(b"a"), Some(1));
        let names = |v: Vec<(&[u8], f64)>| v.iter().map(|(m, _)| m.to_vec()).collect::<Vec<_>>();
        assert_eq!(
            names(z.range_by_rank(1, 2, false)),
            vec![b"a".to_vec(), b"b".to_vec()]
        );
        assert_eq!(
            names(z.range_by_rank(0, 1, true)),
            vec![b"b".to_vec(), b"a".to_vec()]
        );
        assert_eq!(names(z.range_by_rank(2, 2, true)), vec![b"c".to_vec()]);
        z.update(b"b", -5.0);
        assert_eq!(z.rank(b"b"), Some(0));
        assert_eq!(z.pop(true).map(|(m, _)| m.to_vec()), Some(b"a".to_vec()));
        assert_eq!(z.remove(b"c"), Some(-0.0));
        assert_eq!(z.len(), 1);
        let down: Vec<_> = z.iter_score_down_from(0.0).collect();
        assert_eq!(down.len(), 1);
    }
}

#[cfg(test)]
mod model_tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::{BTreeSet, HashMap};

    /// The model's order key: Redis's (score, member) with -0 == 0.
    #[derive(Clone, Debug, PartialEq)]
    struct K(f64, Vec<u8>);
    impl Eq for K {}
    impl PartialOrd for K {
        fn partial_cmp(&self, o: &Self) -> Option<Ordering> {
            Some(self.cmp(o))
        }
    }
    impl Ord for K {
        fn cmp(&self, o: &Self) -> Ordering {
            self.0
                .partial_cmp(&o.0)
                .expect("no NaN")
                .then_with(|| self.1.cmp(&o.1))
        }
    }

    const SCORES: [f64; 8] = [
        0.0,
        -0.0,
        1.0,
        -1.5,
        f64::INFINITY,
        f64::NEG_INFINITY,
        2.5,
        1e300,
    ];

    fn member(i: u16) -> Vec<u8> {
        // Mix inline (short) and boxed (long) members.
        if i.is_multiple_of(7) {
            format!("a-long-member-name-over-22-bytes-{i}").into_bytes()
        } else {
            format!("m{i}").into_bytes()
        }
    }

    fn check(z: &ZSetVal, model: &BTreeSet<K>, scores: &HashMap<Vec<u8>, f64>) {
        let cmp = ZSetVal::member_cmp(&z.slots);
        let keys = z.tree.check(&cmp);
        assert_eq!(keys.len(), model.len());
        let got: Vec<(Vec<u8>, f64)> = z.iter().map(|(m, s)| (m.to_vec(), s)).collect();
        let want: Vec<(Vec<u8>, f64)> = model.iter().map(|k| (k.1.clone(), k.0)).collect();
        assert_eq!(got.len(), want.len());
        for (g, w) in got.iter().zip(&want) {
            assert_eq!(g.0, w.0);
            assert_eq!(g.1.to_bits(), w.1.to_bits(), "score of {:?}", g.0);
        }
        let back: Vec<Vec<u8>> = z.iter().rev().map(|(m, _)| m.to_vec()).collect();
        let mut fwd: Vec<Vec<u8>> = want.iter().map(|w| w.0.clone()).collect();
        fwd.reverse();
        assert_eq!(back, fwd);
        assert_eq!(z.len(), scores.len());
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        /// Random inserts, updates, removes and pops against a BTreeSet model, with rank,
        /// select, score bounds and rank ranges checked along the way.
        #[test]
        fn matches_a_btreeset_model(
            ops in proptest::collection::vec((0u8..6, 0u16..600, 0usize..8), 1..1500),
        ) {
            let mut z = ZSetVal::with_encoding(false);
            let mut model: BTreeSet<K> = BTreeSet::new();
            let mut scores: HashMap<Vec<u8>, f64> = HashMap::new();
            for (step, (op, m, si)) in ops.into_iter().enumerate() {
                let mem = member(m);
                let sc = SCORES[si];
                match op {
                    0..=2 => match scores.get(&mem).copied() {
                        None => {
                            z.insert_new(&mem, sc, usize::MAX, usize::MAX);
                            model.insert(K(sc, mem.clone()));
                            scores.insert(mem, sc);
                        }
                        Some(old) => {
                            z.update(&mem, sc);
                            model.remove(&K(old, mem.clone()));
                            model.insert(K(sc, mem.clone()));
                            scores.insert(mem, sc);
                        }
                    },
                    3 => {
                        let want = scores.remove(&mem);
                        if let Some(old) = want {
                            model.remove(&K(old, mem.clone()));
                        }
                        prop_assert_eq!(z.remove(&mem).map(f64::to_bits), want.map(f64::to_bits));
                    }
                    4 => {
                        let max = si % 2 == 0;
                        let want = if max { model.pop_last() } else { model.pop_first() };
                        if let Some(k) = &want {
                            scores.remove(&k.1);
                        }
                        let got = z.pop(max);
                        prop_assert_eq!(got.map(|(m, s)| (m.to_vec(), s.to_bits())),
                            want.map(|k| (k.1, k.0.to_bits())));
                    }
                    _ => {
                        // Queries: rank, at_rank, score bounds, rank ranges.
                        if let Some(&s) = scores.get(&mem) {
                            let r = model.range(..K(s, mem.clone())).count();
                            prop_assert_eq!(z.rank(&mem), Some(r));
                            prop_assert_eq!(z.at_rank(r).0, &mem[..]);
                        } else {
                            prop_assert_eq!(z.rank(&mem), None);
                        }
                        let below = model.iter().filter(|k| k.0 < sc).count();
                        prop_assert_eq!(z.count_score_while(|s| s < sc), below);
                        let upto = model.iter().filter(|k| k.0 <= sc).count();
                        let down: Vec<Vec<u8>> =
                            z.iter_score_down_from(sc).map(|(m, _)| m.to_vec()).collect();
                        let want: Vec<Vec<u8>> =
                            model.iter().take(upto).rev().map(|k| k.1.clone()).collect();
                        prop_assert_eq!(down, want);
                        let from: Vec<Vec<u8>> =
                            z.iter_score_from(sc).map(|(m, _)| m.to_vec()).collect();
                        let want: Vec<Vec<u8>> =
                            model.iter().skip(below).map(|k| k.1.clone()).collect();
                        prop_assert_eq!(from, want);
                        if !model.is_empty() {
                            let n = model.len();
                            let (a, b) = ((m as usize) % n, (m as usize * 31 + si) % n);
                            let (a, b) = (a.min(b), a.max(b));
                            let names = |v: Vec<(&[u8], f64)>| {
                                v.into_iter().map(|(m, _)| m.to_vec()).collect::<Vec<_>>()
                            };
                            let asc: Vec<Vec<u8>> =
                                model.iter().skip(a).take(b - a + 1).map(|k| k.1.clone()).collect();
                            prop_assert_eq!(names(z.range_by_rank(a, b, false)), asc);
                            let desc: Vec<Vec<u8>> = model.iter().rev().skip(a)
                                .take(b - a + 1).map(|k| k.1.clone()).collect();
                            prop_assert_eq!(names(z.range_by_rank(a, b, true)), desc);
                            let mut it = z.iter();
                            prop_assert_eq!(it.nth(a).map(|(m, _)| m.to_vec()),
                                model.iter().nth(a).map(|k| k.1.clone()));
                            prop_assert_eq!(it.len(), n - a - 1);
                        }
                    }
                }
                if step % 50 == 0 {
                    check(&z, &model, &scores);
                }
            }
            check(&z, &model, &scores);
        }
    }

    #[test]
    fn ascending_and_descending_loads_fill_leaves() {
        for desc in [false, true] {
            let mut z = ZSetVal::with_encoding(false);
            for i in 0..100_000u32 {
                let s = if desc { -f64::from(i) } else { f64::from(i) };
                z.insert_new(format!("member:{i:010}").as_bytes(), s, 0, 0);
            }
            assert_eq!(z.tree.check(&ZSetVal::member_cmp(&z.slots)).len(), 100_000);
            // Full leaves, not the half-full ones of even splits.
            let (leaves, room) = z.tree.leaf_fill();
            assert!(
                room - 100_000 < room / 50,
                "{leaves} leaves for 100000 keys (desc {desc})"
            );
            for i in (0..100_000u32).step_by(3) {
                assert!(z.remove(format!("member:{i:010}").as_bytes()).is_some());
            }
            z.tree.check(&ZSetVal::member_cmp(&z.slots));
            assert_eq!(
                z.rank(b"member:0000099998"),
                Some(if desc { 0 } else { 66_665 })
            );
        }
    }

    #[test]
    fn scan_returns_every_stable_member_despite_inserts_and_removes() {
        let mut z = ZSetVal::with_encoding(false);
        for i in 0..2000 {
            z.insert_new(format!("s{i}").as_bytes(), f64::from(i % 10), 0, 0);
        }
        let mut seen = std::collections::HashSet::new();
        let (mut cursor, mut round, mut calls) = (0u64, 0u32, 0);
        loop {
            let step = z.scan(cursor, 10);
            calls += 1;
            assert!(step.items.len() <= 10);
            for (m, _) in step.items {
                seen.insert(m.to_vec());
            }
            cursor = step.next;
            // Between calls: remove s0..s999 gradually, add new members (reusing freed
            // slots), and change scores of the stable ones.
            for k in 0..5 {
                let r = round * 5 + k;
                if r < 1000 {
                    z.remove(format!("s{r}").as_bytes());
                }
                z.insert_new(format!("n{round}-{k}").as_bytes(), -1.0, 0, 0);
            }
            z.update(format!("s{}", 1000 + round % 1000).as_bytes(), 99.0);
            round += 1;
            if cursor == 0 {
                break;
            }
        }
        for i in 1000..2000 {
            assert!(seen.contains(format!("s{i}").as_bytes()), "s{i} missed");
        }
        // Paged: about 2000 / 10 calls, not one.
        assert!(calls >= 150, "{calls} calls");
    }
}
