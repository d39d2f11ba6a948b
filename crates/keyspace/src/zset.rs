//! Sorted sets. Redis 7.0 stores small ones as a `listpack` and larger ones as a
//! `skiplist` plus dict (`zset-max-listpack-entries` / `-value`); OBJECT ENCODING reports
//! which.
//!
//! One representation serves both encodings here: an ordered set of (score, member) for rank
//! and range walks, and a member -> score map for lookups. `listpack` only records which
//! encoding Redis would be using: a set starts compact, becomes `skiplist` when an insertion
//! passes a threshold (Redis's `zsetAdd`), and never converts back (7.0 converts back only
//! when a whole result is stored: ZUNIONSTORE and friends, see [`ZSetVal::fits_listpack`]).
//! Ranks are counted by walking the ordered set (O(rank)), unlike Redis's O(log n) skiplist
//! spans.

use std::cmp::Ordering;
use std::collections::BTreeSet;

/// A score as ordered in a sorted set: NaN is never stored, and -0 equals 0 (as Redis's
/// `<` / `==` comparisons treat them).
#[derive(Clone, Copy, Debug)]
pub struct Score(pub f64);

impl PartialEq for Score {
    fn eq(&self, o: &Self) -> bool {
        self.cmp(o) == Ordering::Equal
    }
}
impl Eq for Score {}
impl PartialOrd for Score {
    fn partial_cmp(&self, o: &Self) -> Option<Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for Score {
    fn cmp(&self, o: &Self) -> Ordering {
        self.0.partial_cmp(&o.0).unwrap_or(Ordering::Equal)
    }
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct ZSetVal {
    /// (score, member), ordered by score then member bytes (Redis's `sdscmp`).
    tree: BTreeSet<(Score, Box<[u8]>)>,
    dict: hashbrown::HashMap<Box<[u8]>, f64>,
    listpack: bool,
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
        self.dict.len()
    }

    pub fn is_empty(&self) -> bool {
        self.dict.is_empty()
    }

    /// (member, score) in rank order.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = (&[u8], f64)> {
        self.tree.iter().map(|(s, m)| (&m[..], s.0))
    }

    /// Elements with score >= `min` (any member), ascending.
    pub fn iter_score_from(&self, min: f64) -> impl Iterator<Item = (&[u8], f64)> {
        let lo: (Score, Box<[u8]>) = (Score(min), Box::default());
        self.tree.range(lo..).map(|(s, m)| (&m[..], s.0))
    }

    /// Elements with score <= `max`, descending.
    pub fn iter_score_down_from(&self, max: f64) -> impl Iterator<Item = (&[u8], f64)> {
        // Every member of score `max` sorts before (the next double up, "").
        let it: Box<dyn Iterator<Item = &(Score, Box<[u8]>)>> = if max == f64::INFINITY {
            Box::new(self.tree.iter().rev())
        } else {
            let hi: (Score, Box<[u8]>) = (Score(next_up(max)), Box::default());
            Box::new(self.tree.range(..hi).rev())
        };
        it.map(|(s, m)| (&m[..], s.0))
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

    pub fn score(&self, member: &[u8]) -> Option<f64> {
        self.dict.get(member).copied()
    }

    /// Inserts a member that is not in the set, first converting to `skiplist` as Redis's
    /// `zsetAdd` does when the set would exceed `max_entries` or the member `max_value`.
    pub fn insert_new(&mut self, member: &[u8], score: f64, max_entries: usize, max_value: usize) {
        debug_assert!(!score.is_nan(), "a sorted set never stores NaN");
        if self.listpack && (self.len() + 1 > max_entries || member.len() > max_value) {
            self.listpack = false;
        }
        let score = self.stored(score);
        let m: Box<[u8]> = member.into();
        let fresh = self.dict.insert(m.clone(), score).is_none();
        debug_assert!(fresh, "insert_new of an existing member");
        self.tree.insert((Score(score), m));
    }

    /// Changes the score of an existing member.
    pub fn update(&mut self, member: &[u8], score: f64) {
        let score = self.stored(score);
        if let Some(old) = self.dict.get_mut(member) {
            let key = (Score(*old), Box::<[u8]>::from(member));
            let (_, m) = self
                .tree
                .take(&key)
                .expect("dict and tree hold the same members");
            *old = score;
            self.tree.insert((Score(score), m));
        }
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

    pub fn remove(&mut self, member: &[u8]) -> Option<f64> {
        let score = self.dict.remove(member)?;
        self.tree.remove(&(Score(score), Box::<[u8]>::from(member)));
        Some(score)
    }

    /// Removes and returns the lowest (or highest, `max`) element.
    pub fn pop(&mut self, max: bool) -> Option<(Box<[u8]>, f64)> {
        let (s, m) = if max {
            self.tree.pop_last()?
        } else {
            self.tree.pop_first()?
        };
        self.dict.remove(&m);
        Some((m, s.0))
    }

    /// 0-based rank of a member in ascending order. Counts from both ends at once, so the
    /// cost is O(min(rank, len - rank)).
    pub fn rank(&self, member: &[u8]) -> Option<usize> {
        let score = self.score(member)?;
        let key = (Score(score), Box::<[u8]>::from(member));
        let mut below = self.tree.range(..&key);
        let mut from = self.tree.range(&key..);
        let (mut n_below, mut n_from) = (0, 0);
        loop {
            if below.next().is_none() {
                return Some(n_below);
            }
            n_below += 1;
            if from.next().is_none() {
                return Some(self.len() - n_from);
            }
            n_from += 1;
        }
    }

    /// Elements of ascending ranks `start..=end` (within bounds), in ascending order, or in
    /// descending order of the reversed ranks when `rev` (ZREVRANGE). Walks from the nearer end.
    pub fn range_by_rank(&self, start: usize, end: usize, rev: bool) -> Vec<(&[u8], f64)> {
        let len = self.len();
        debug_assert!(start <= end && end < len);
        let n = end - start + 1;
        // In ascending terms, rev asks for ranks len-1-end ..= len-1-start, descending.
        let (lo, asc_out) = if rev {
            (len - 1 - end, false)
        } else {
            (start, true)
        };
        let mut v: Vec<(&[u8], f64)> = if lo <= len - (lo + n) {
            self.iter().skip(lo).take(n).collect()
        } else {
            let mut v: Vec<_> = self.iter().rev().skip(len - (lo + n)).take(n).collect();
            v.reverse();
            v
        };
        if !asc_out {
            v.reverse();
        }
        v
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
        for (m, s) in members {
            let s = z.stored(s);
            z.tree.insert((Score(s), m.clone()));
            z.dict.insert(m, s);
        }
        z
    }
}

/// The smallest double greater than `x` (finite, not NaN).
fn next_up(x: f64) -> f64 {
    if x == 0.0 {
        return f64::from_bits(1);
    }
    let b = x.to_bits();
    f64::from_bits(if x > 0.0 { b + 1 } else { b - 1 })
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
