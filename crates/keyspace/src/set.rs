//! Sets. Redis 7.0 stores integer-only small sets as an `intset` and others as a
//! `hashtable` (`set-max-intset-entries`); OBJECT ENCODING reports which.
//!
//! - `intset`: the integers sorted ascending, as Redis's intset keeps them, so SMEMBERS,
//!   SSCAN and the STORE commands list them in the same order as Redis. A set starts as an
//!   intset when its first member is an integer (`setTypeCreate`, Redis's `string2ll` rule)
//!   and becomes a hashtable when a non-integer is added or it grows past the limit; it never
//!   converts back (as in Redis 7.0).
//! - `hashtable`: the members in a dense vector (short ones inline, as [`ByteStr`] keeps
//!   them: a lookup then touches the index and one vector slot, not also a heap block) plus
//!   a hash index of their positions. A
//!   random member is a uniform pick of a position (SPOP, SRANDMEMBER). A removal moves the
//!   last member into the hole, and SSCAN walks positions from the end downwards, so a member
//!   present for a whole scan is returned at least once (Redis's guarantee): a member only
//!   moves from the last position to a lower one, i.e. from the scanned part to the pending
//!   part (a possible duplicate, which Redis allows too), never the other way.

use crate::bytestr::ByteStr;
use hashbrown::HashTable;
use std::borrow::Cow;
use std::hash::BuildHasher;
use std::sync::OnceLock;

/// Redis 7.0 caps an intset at 2^30 entries whatever `set-max-intset-entries` says.
const INTSET_HARD_MAX: usize = 1 << 30;

fn hasher() -> &'static hashbrown::DefaultHashBuilder {
    static H: OnceLock<hashbrown::DefaultHashBuilder> = OnceLock::new();
    H.get_or_init(hashbrown::DefaultHashBuilder::default)
}

fn hash(m: &[u8]) -> u64 {
    hasher().hash_one(m)
}

/// The `hashtable` encoding.
#[derive(Clone, Debug, Default)]
pub struct Table {
    members: Vec<ByteStr>,
    index: HashTable<u32>,
}

impl Table {
    fn find(&self, m: &[u8]) -> Option<u32> {
        let members = &self.members;
        self.index
            .find(hash(m), |&i| &*members[i as usize] == m)
            .copied()
    }

    /// One hash of `m` serves both the lookup and the insertion.
    fn insert(&mut self, m: &[u8]) -> bool {
        let h = hash(m);
        let i = u32::try_from(self.members.len()).expect("fewer than 2^32 set members");
        let members = &self.members;
        match self.index.entry(
            h,
            |&j| &*members[j as usize] == m,
            |&j| hash(&members[j as usize]),
        ) {
            hashbrown::hash_table::Entry::Occupied(_) => false,
            hashbrown::hash_table::Entry::Vacant(v) => {
                v.insert(i);
                self.members.push(ByteStr::new(m));
                true
            }
        }
    }

    fn remove(&mut self, m: &[u8]) -> bool {
        let h = hash(m);
        let members = &self.members;
        let Ok(entry) = self.index.find_entry(h, |&i| &*members[i as usize] == m) else {
            return false;
        };
        let (i, _) = entry.remove();
        self.remove_at_index(i);
        true
    }

    /// Removes and returns the member at position `i` (SPOP's pick), unindexing it by
    /// position so no member bytes are compared.
    fn take_at(&mut self, i: u32) -> ByteStr {
        let h = hash(&self.members[i as usize]);
        if let Ok(e) = self.index.find_entry(h, |&j| j == i) {
            e.remove();
        }
        self.remove_at_index(i)
    }

    /// Drops the member at position `i`, already unindexed, moving the last one into it.
    fn remove_at_index(&mut self, i: u32) -> ByteStr {
        let last = (self.members.len() - 1) as u32;
        if i != last {
            let h = hash(&self.members[last as usize]);
            let slot = self
                .index
                .find_mut(h, |&j| j == last)
                .expect("the last member is indexed");
            *slot = i;
        }
        let m = self.members.swap_remove(i as usize);
        if self.members.capacity() > 64 && self.members.len() * 4 < self.members.capacity() {
            self.members.shrink_to(self.members.len() * 2);
            let members = &self.members;
            self.index.shrink_to(0, |&j| hash(&members[j as usize]));
        }
        m
    }
}

/// The `intset` encoding, laid out as Redis's intset.c contents: sorted integers stored
/// little-endian in 2, 4 or 8 bytes each, the width growing (never shrinking) to fit the
/// widest member, with no spare capacity kept (Redis reallocates on every change).
#[derive(Clone, Debug)]
pub struct IntSet {
    width: usize,
    data: Vec<u8>,
}

impl Default for IntSet {
    fn default() -> Self {
        IntSet {
            width: 2,
            data: Vec::new(),
        }
    }
}

fn width_for(n: i64) -> usize {
    if i16::try_from(n).is_ok() {
        2
    } else if i32::try_from(n).is_ok() {
        4
    } else {
        8
    }
}

impl IntSet {
    pub fn len(&self) -> usize {
        self.data.len() / self.width
    }

    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    pub fn get(&self, i: usize) -> i64 {
        let b = &self.data[i * self.width..(i + 1) * self.width];
        match self.width {
            2 => i64::from(i16::from_le_bytes([b[0], b[1]])),
            4 => i64::from(i32::from_le_bytes([b[0], b[1], b[2], b[3]])),
            _ => i64::from_le_bytes(b.try_into().expect("8-byte member")),
        }
    }

    fn search(&self, n: i64) -> Result<usize, usize> {
        if width_for(n) > self.width {
            return Err(if n < 0 { 0 } else { self.len() });
        }
        let (mut lo, mut hi) = (0, self.len());
        while lo < hi {
            let mid = (lo + hi) / 2;
            match self.get(mid).cmp(&n) {
                std::cmp::Ordering::Less => lo = mid + 1,
                std::cmp::Ordering::Greater => hi = mid,
                std::cmp::Ordering::Equal => return Ok(mid),
            }
        }
        Err(lo)
    }

    pub fn contains(&self, n: i64) -> bool {
        self.search(n).is_ok()
    }

    fn encode(width: usize, n: i64, out: &mut Vec<u8>) {
        out.extend_from_slice(&n.to_le_bytes()[..width]);
    }

    /// True when `n` was added.
    pub fn insert(&mut self, n: i64) -> bool {
        let Err(pos) = self.search(n) else {
            return false;
        };
        let w = width_for(n);
        if w > self.width {
            let mut data = Vec::with_capacity((self.len() + 1) * w);
            for i in 0..self.len() {
                Self::encode(w, self.get(i), &mut data);
            }
            self.data = data;
            self.width = w;
        }
        let mut bytes = Vec::with_capacity(8);
        Self::encode(self.width, n, &mut bytes);
        self.data.reserve_exact(self.width);
        let at = pos * self.width;
        self.data.splice(at..at, bytes);
        true
    }

    /// True when `n` was there.
    pub fn remove(&mut self, n: i64) -> bool {
        let Ok(pos) = self.search(n) else {
            return false;
        };
        self.data.drain(pos * self.width..(pos + 1) * self.width);
        if self.data.capacity() - self.data.len() > 64 {
            self.data.shrink_to_fit();
        }
        true
    }

    pub fn iter(&self) -> impl Iterator<Item = i64> + '_ {
        (0..self.len()).map(|i| self.get(i))
    }
}

#[derive(Clone, Debug)]
pub enum SetVal {
    IntSet(IntSet),
    HashTable(Table),
}

impl Default for SetVal {
    fn default() -> Self {
        SetVal::IntSet(IntSet::default())
    }
}

impl PartialEq for SetVal {
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len() && self.iter().all(|m| other.contains(&m))
    }
}

/// A member as stored: an intset integer or hashtable bytes.
pub enum Member<'a> {
    Int(i64),
    Bytes(&'a [u8]),
}

impl Member<'_> {
    pub fn to_vec(&self) -> Vec<u8> {
        match self {
            Member::Int(n) => n.to_string().into_bytes(),
            Member::Bytes(b) => b.to_vec(),
        }
    }
}

impl SetVal {
    /// An empty intset (`createIntsetObject`), as the STORE commands start their result.
    pub fn new() -> Self {
        Self::default()
    }

    /// Redis's `setTypeCreate`: an intset if the first member is an integer.
    pub fn new_for(first: &[u8]) -> Self {
        if crate::num::string2ll(first).is_some() {
            SetVal::IntSet(IntSet::default())
        } else {
            SetVal::HashTable(Table::default())
        }
    }

    pub fn len(&self) -> usize {
        match self {
            SetVal::IntSet(v) => v.len(),
            SetVal::HashTable(t) => t.members.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn encoding_name(&self) -> &'static str {
        match self {
            SetVal::IntSet(_) => "intset",
            SetVal::HashTable(_) => "hashtable",
        }
    }

    pub fn contains(&self, m: &[u8]) -> bool {
        match self {
            SetVal::IntSet(v) => crate::num::string2ll(m).is_some_and(|n| v.contains(n)),
            SetVal::HashTable(t) => t.find(m).is_some(),
        }
    }

    /// Membership of a member taken from another set, without formatting integers when
    /// both are intsets.
    pub fn contains_member(&self, m: &Member<'_>) -> bool {
        match (self, m) {
            (SetVal::IntSet(v), Member::Int(n)) => v.contains(*n),
            (_, Member::Int(n)) => {
                let mut buf = crate::value::itoa_buf::Buf::default();
                self.contains(buf.format(*n))
            }
            (_, Member::Bytes(b)) => self.contains(b),
        }
    }

    /// Adds a member taken from another set.
    pub fn add_member(&mut self, m: &Member<'_>, max_intset: usize) -> bool {
        match m {
            Member::Int(n) => {
                let mut buf = crate::value::itoa_buf::Buf::default();
                self.add(buf.format(*n), max_intset)
            }
            Member::Bytes(b) => self.add(b, max_intset),
        }
    }

    /// Redis's `setTypeAdd`: true when the member was new. `max_intset` is
    /// `set-max-intset-entries`.
    pub fn add(&mut self, m: &[u8], max_intset: usize) -> bool {
        match self {
            SetVal::IntSet(v) => {
                if let Some(n) = crate::num::string2ll(m) {
                    if !v.insert(n) {
                        return false;
                    }
                    if v.len() > max_intset.min(INTSET_HARD_MAX) {
                        self.convert();
                    }
                    true
                } else {
                    self.convert();
                    self.add(m, max_intset)
                }
            }
            SetVal::HashTable(t) => t.insert(m),
        }
    }

    /// Redis's `setTypeRemove`: true when the member was there.
    pub fn remove(&mut self, m: &[u8]) -> bool {
        match self {
            SetVal::IntSet(v) => crate::num::string2ll(m).is_some_and(|n| v.remove(n)),
            SetVal::HashTable(t) => t.remove(m),
        }
    }

    /// Converts an intset to a hashtable (`setTypeConvert`).
    fn convert(&mut self) {
        if let SetVal::IntSet(v) = self {
            let mut t = Table::default();
            t.members.reserve(v.len() + 1);
            let mut buf = crate::value::itoa_buf::Buf::default();
            for n in v.iter() {
                t.insert(buf.format(n));
            }
            *self = SetVal::HashTable(t);
        }
    }

    /// The member at position `i` (`i < len`), in storage order.
    pub fn member_at(&self, i: usize) -> Member<'_> {
        match self {
            SetVal::IntSet(v) => Member::Int(v.get(i)),
            SetVal::HashTable(t) => Member::Bytes(&t.members[i]),
        }
    }

    /// Removes and returns the member at position `i` (`i < len`, storage order): SPOP's
    /// random pick, without looking the member up again.
    pub fn take_at(&mut self, i: usize) -> Vec<u8> {
        match self {
            SetVal::IntSet(v) => {
                let n = v.get(i);
                v.remove(n);
                n.to_string().into_bytes()
            }
            SetVal::HashTable(t) => t.take_at(i as u32).to_vec(),
        }
    }

    /// Members, in storage order (ascending for an intset), as bytes.
    pub fn iter(&self) -> impl Iterator<Item = Cow<'_, [u8]>> {
        (0..self.len()).map(move |i| match self.member_at(i) {
            Member::Int(n) => Cow::Owned(n.to_string().into_bytes()),
            Member::Bytes(b) => Cow::Borrowed(b),
        })
    }

    /// One SSCAN step from `cursor` (0 starts), returning up to about `count` members and
    /// the next cursor (0 when done). An intset is returned whole in one step, as Redis does.
    pub fn scan(&self, cursor: u64, count: usize) -> (u64, Vec<Vec<u8>>) {
        match self {
            SetVal::IntSet(v) => (0, v.iter().map(|n| n.to_string().into_bytes()).collect()),
            SetVal::HashTable(t) => {
                let len = t.members.len() as u64;
                let start = if cursor == 0 { len } else { cursor.min(len) };
                let end = start.saturating_sub(count.max(1) as u64);
                let out = (end..start)
                    .rev()
                    .map(|i| t.members[i as usize].to_vec())
                    .collect();
                (end, out)
            }
        }
    }

    /// Heap bytes owned by the set (MEMORY USAGE), excluding the box itself.
    pub fn heap_bytes(&self) -> usize {
        match self {
            SetVal::IntSet(v) => v.data.capacity(),
            SetVal::HashTable(t) => {
                t.members.capacity() * std::mem::size_of::<ByteStr>()
                    + t.index.capacity() * 5
                    + t.members.iter().map(|m| m.heap_size()).sum::<usize>()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intset_converts_on_non_integer_and_size() {
        let mut s = SetVal::new_for(b"1");
        assert!(s.add(b"3", 2));
        assert!(s.add(b"1", 2));
        assert!(!s.add(b"1", 2));
        assert_eq!(s.encoding_name(), "intset");
        assert!(s.add(b"2", 2));
        assert_eq!(s.encoding_name(), "hashtable");
        assert_eq!(s.len(), 3);
        assert!(s.contains(b"2"));
        let mut s = SetVal::new_for(b"007");
        assert_eq!(s.encoding_name(), "hashtable");
        s.add(b"007", 512);
        assert!(!s.contains(b"7"));
    }

    #[test]
    fn intset_widths_and_order() {
        let mut v = IntSet::default();
        for n in [5, -3, 70000, i64::MIN, 2, i64::MAX, -40000, 5] {
            v.insert(n);
        }
        let all: Vec<i64> = v.iter().collect();
        assert_eq!(all, [i64::MIN, -40000, -3, 2, 5, 70000, i64::MAX]);
        assert_eq!(v.width, 8);
        assert!(v.remove(i64::MIN) && !v.remove(i64::MIN));
        assert!(v.contains(70000) && !v.contains(70001) && !v.contains(1 << 40));
        let mut small = IntSet::default();
        small.insert(1);
        small.insert(-1);
        assert_eq!((small.width, small.data.len()), (2, 4));
        assert!(!small.contains(1 << 20));
    }

    #[test]
    fn hashtable_remove_keeps_index_consistent() {
        let mut s = SetVal::new_for(b"a");
        for i in 0..1000 {
            s.add(format!("m{i}").as_bytes(), 512);
        }
        for i in (0..1000).step_by(3) {
            assert!(s.remove(format!("m{i}").as_bytes()));
        }
        for i in 0..1000 {
            assert_eq!(s.contains(format!("m{i}").as_bytes()), i % 3 != 0);
        }
        assert_eq!(s.len(), 666);
        // SPOP's removal by position, from the middle and the end.
        let mut left: std::collections::HashSet<Vec<u8>> = s.iter().map(|m| m.to_vec()).collect();
        for i in 0..600 {
            let pos = (i * 7919) % s.len();
            let m = s.take_at(pos);
            assert!(left.remove(&m), "{m:?} was a member");
            assert!(!s.contains(&m));
        }
        assert_eq!(s.len(), 66);
        assert!(left.iter().all(|m| s.contains(m)));
        let long = [b'x'; 40];
        assert!(s.add(&long, 512) && s.contains(&long) && !s.add(&long, 512));
    }

    #[test]
    fn scan_returns_stable_members_despite_removals() {
        let mut s = SetVal::new_for(b"a");
        for i in 0..100 {
            s.add(format!("m{i}").as_bytes(), 512);
        }
        let mut seen = std::collections::HashSet::new();
        let mut cursor = 0;
        let mut round = 0;
        loop {
            let (next, got) = s.scan(cursor, 7);
            seen.extend(got);
            // Remove members 0..50 over time; 50..100 stay throughout.
            if round < 10 {
                for i in round * 5..round * 5 + 5 {
                    s.remove(format!("m{i}").as_bytes());
                }
            }
            round += 1;
            cursor = next;
            if cursor == 0 {
                break;
            }
        }
        for i in 50..100 {
            assert!(seen.contains(format!("m{i}").as_bytes()), "m{i} missed");
        }
    }
}
