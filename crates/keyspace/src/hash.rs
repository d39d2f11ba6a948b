//! Hashes. Redis 7.0 stores small hashes as a `listpack` and larger ones as a `hashtable`
//! (`hash-max-listpack-entries` / `-value`); OBJECT ENCODING reports which.
//!
//! The small form is one byte buffer of length-prefixed fields and values in insertion order,
//! as a listpack keeps them: HGETALL and HKEYS on a small hash answer in the same order as
//! Redis, and a small hash costs about what Redis's listpack does (one allocation, a byte or
//! two of header per string). An update keeps the field's place, a delete closes the gap;
//! lookups scan, as Redis's do (the size limit keeps them short). The buffer is the only
//! allocation of a small hash: `HashVal` is 16 bytes and sits inline in the key's `Value`,
//! and the pair count is not stored but counted (HLEN scans, as lookups do; keeping it would
//! push a `Value` past 24 bytes or need a header that moves a 10-pair hash up a size
//! class). The large form is a hash table; a hash never converts back (Redis 7.0 does not
//! either). The thresholds are the caller's (they are directives).

use crate::bytestr::ByteStr;
use core::hash::BuildHasher;

/// A field or value of the `hashtable` form: inline up to 22 bytes (one allocation fewer per
/// short string, and a lookup compares the field in the slab slot it already loaded).
type Field = ByteStr;

#[derive(Clone, Debug)]
enum Repr {
    /// Pairs, each `varint(len) field varint(len) value`, with no spare capacity.
    Listpack(Box<[u8]>),
    // Boxed: a small hash (the common case) then costs 32 bytes, not the table's 100+.
    Table(Box<Table>),
}

/// The `hashtable` form: pairs in a slab that never moves them, found through an index of
/// slot numbers (as `Db` keeps keys), so an HSCAN cursor can be a slot number.
#[derive(Clone, Debug, Default)]
struct Table {
    index: hashbrown::HashTable<u32>,
    slots: Vec<Option<(Field, Field)>>,
    free: Vec<u32>,
    len: usize,
    hasher: hashbrown::DefaultHashBuilder,
}

impl Table {
    fn find(&self, field: &[u8]) -> Option<u32> {
        let h = self.hasher.hash_one(field);
        let slots = &self.slots;
        self.index
            .find(h, |&s| {
                slots[s as usize].as_ref().is_some_and(|p| &*p.0 == field)
            })
            .copied()
    }

    fn get(&self, field: &[u8]) -> Option<&[u8]> {
        let s = self.find(field)?;
        self.slots[s as usize].as_ref().map(|p| &p.1[..])
    }

    fn insert_new(&mut self, field: &[u8], value: &[u8]) {
        let pair = Some((Field::new(field), Field::new(value)));
        let slot = match self.free.pop() {
            Some(s) => {
                self.slots[s as usize] = pair;
                s
            }
            None => {
                let s = u32::try_from(self.slots.len()).expect("fewer than 2^32 fields");
                self.slots.push(pair);
                s
            }
        };
        let h = self.hasher.hash_one(field);
        let (slots, hasher) = (&self.slots, &self.hasher);
        self.index.insert_unique(h, slot, |&s| {
            hasher.hash_one(&*slots[s as usize].as_ref().expect("indexed slot is used").0)
        });
        self.len += 1;
    }

    /// Sets a field; true when it is new. One hash of `field` serves the lookup and the
    /// insertion.
    fn set(&mut self, field: &[u8], value: &[u8]) -> bool {
        let h = self.hasher.hash_one(field);
        let (slots, hasher) = (&self.slots, &self.hasher);
        let found = self
            .index
            .find(h, |&s| {
                slots[s as usize].as_ref().is_some_and(|p| &*p.0 == field)
            })
            .copied();
        if let Some(s) = found {
            if let Some(p) = self.slots[s as usize].as_mut() {
                p.1 = Field::new(value);
            }
            return false;
        }
        let slot = match self.free.last() {
            Some(&s) => s,
            None => u32::try_from(self.slots.len()).expect("fewer than 2^32 fields"),
        };
        self.index.insert_unique(h, slot, |&s| {
            hasher.hash_one(&*slots[s as usize].as_ref().expect("indexed slot is used").0)
        });
        let pair = Some((Field::new(field), Field::new(value)));
        if self.free.pop().is_some() {
            self.slots[slot as usize] = pair;
        } else {
            self.slots.push(pair);
        }
        self.len += 1;
        true
    }

    fn remove(&mut self, field: &[u8]) -> bool {
        let h = self.hasher.hash_one(field);
        let slots = &self.slots;
        let Ok(found) = self.index.find_entry(h, |&s| {
            slots[s as usize].as_ref().is_some_and(|p| &*p.0 == field)
        }) else {
            return false;
        };
        let (slot, _) = found.remove();
        self.slots[slot as usize] = None;
        self.free.push(slot);
        self.len -= 1;
        true
    }

    fn iter(&self) -> impl Iterator<Item = (&[u8], &[u8])> {
        self.slots
            .iter()
            .filter_map(|p| p.as_ref().map(|(f, v)| (&f[..], &v[..])))
    }
}

#[derive(Clone, Debug)]
pub struct HashVal {
    repr: Repr,
}

/// Equal contents, whatever the encodings and orders.
impl PartialEq for HashVal {
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len() && self.iter().all(|(f, v)| other.get(f) == Some(v))
    }
}

impl Eq for HashVal {}

impl Default for HashVal {
    fn default() -> Self {
        Self::new()
    }
}

/// One HSCAN step over a `hashtable` hash.
pub struct ScanStep<'a> {
    pub pairs: Vec<(&'a [u8], &'a [u8])>,
    /// 0 when the iteration is complete.
    pub next: u64,
}

impl HashVal {
    pub fn new() -> Self {
        HashVal {
            repr: Repr::Listpack(Box::default()),
        }
    }

    pub fn len(&self) -> usize {
        match &self.repr {
            Repr::Listpack(buf) => LpIter { buf, pos: 0 }.count(),
            Repr::Table(t) => t.len,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// (field, value) pairs, in storage order (insertion order while `listpack`).
    pub fn iter(&self) -> Box<dyn Iterator<Item = (&[u8], &[u8])> + '_> {
        match &self.repr {
            Repr::Listpack(buf) => Box::new(LpIter { buf, pos: 0 }),
            Repr::Table(t) => Box::new(t.iter()),
        }
    }

    pub fn encoding_name(&self) -> &'static str {
        match &self.repr {
            Repr::Listpack(_) => "listpack",
            Repr::Table(_) => "hashtable",
        }
    }

    pub fn is_listpack(&self) -> bool {
        matches!(self.repr, Repr::Listpack(_))
    }

    pub fn get(&self, field: &[u8]) -> Option<&[u8]> {
        match &self.repr {
            Repr::Listpack(buf) => lp_find(buf, field).map(|at| {
                let (n, p) = read_len(buf, at.value);
                &buf[p..p + n]
            }),
            Repr::Table(t) => t.get(field),
        }
    }

    pub fn contains(&self, field: &[u8]) -> bool {
        self.get(field).is_some()
    }

    /// Sets a field; true when it is new. An existing field keeps its place.
    pub fn set(&mut self, field: &[u8], value: &[u8]) -> bool {
        match &mut self.repr {
            Repr::Listpack(boxed) => {
                let mut buf = std::mem::take(boxed).into_vec();
                let new = match lp_find(&buf, field) {
                    Some(at) => {
                        let mut enc = Vec::with_capacity(value.len() + 10);
                        put_str(&mut enc, value);
                        buf.splice(at.value..at.end, enc);
                        false
                    }
                    None => {
                        buf.reserve_exact(field.len() + value.len() + 20);
                        put_str(&mut buf, field);
                        put_str(&mut buf, value);
                        true
                    }
                };
                *boxed = buf.into_boxed_slice();
                new
            }
            Repr::Table(t) => t.set(field, value),
        }
    }

    /// Removes a field; true when it was there.
    pub fn remove(&mut self, field: &[u8]) -> bool {
        match &mut self.repr {
            Repr::Listpack(boxed) => match lp_find(boxed, field) {
                Some(at) => {
                    let mut buf = std::mem::take(boxed).into_vec();
                    buf.drain(at.start..at.end);
                    *boxed = buf.into_boxed_slice();
                    true
                }
                None => false,
            },
            Repr::Table(t) => t.remove(field),
        }
    }

    /// `hashTypeConvert(o, OBJ_ENCODING_HT)`; a no-op on a `hashtable`.
    pub fn convert_to_table(&mut self) {
        if let Repr::Listpack(buf) = &self.repr {
            let mut t = Table {
                slots: Vec::with_capacity(self.len()),
                ..Table::default()
            };
            for (f, v) in (LpIter { buf, pos: 0 }) {
                t.insert_new(f, v);
            }
            self.repr = Repr::Table(Box::new(t));
        }
    }

    /// The `i`th pair in storage order (i < len).
    pub fn nth(&self, i: usize) -> Option<(&[u8], &[u8])> {
        self.iter().nth(i)
    }

    /// Heap bytes held, each block rounded by `round` (the allocator's size classes): the
    /// listpack buffer, or the boxed table, its slab, index and strings.
    pub fn heap_bytes(&self, round: impl Fn(usize) -> usize) -> usize {
        match &self.repr {
            Repr::Listpack(buf) => round(buf.len()),
            Repr::Table(t) => {
                let data: usize = t
                    .slots
                    .iter()
                    .flatten()
                    .map(|(f, v)| round(f.heap_size()) + round(v.heap_size()))
                    .sum();
                data + round(std::mem::size_of::<Table>())
                    + round(t.slots.capacity() * std::mem::size_of::<Option<(Field, Field)>>())
                    + round(t.index.capacity() * (std::mem::size_of::<u32>() + 1))
                    + round(t.free.capacity() * std::mem::size_of::<u32>())
            }
        }
    }

    /// One HSCAN step: on a `listpack` the whole hash with cursor 0 (as Redis replies); on a
    /// `hashtable` about `count` pairs from the cursor. The cursor packs the slab length when
    /// the iteration began (high 32 bits) and the next slot (low 32 bits), as `Db::scan`
    /// does: a pair never moves, so one present for the whole iteration is returned exactly
    /// once, and slots appended later are not visited, so the iteration ends.
    pub fn scan(&self, cursor: u64, count: usize) -> ScanStep<'_> {
        let Repr::Table(t) = &self.repr else {
            return ScanStep {
                pairs: self.iter().collect(),
                next: 0,
            };
        };
        let mut pairs = Vec::new();
        let next = crate::slab_scan::scan_slots(cursor, t.slots.len(), count, |i| {
            let Some((f, v)) = &t.slots[i] else {
                return false;
            };
            pairs.push((&f[..], &v[..]));
            true
        });
        ScanStep { pairs, next }
    }
}

/// LEB128 length prefix.
fn put_str(buf: &mut Vec<u8>, s: &[u8]) {
    let mut n = s.len();
    while n >= 0x80 {
        buf.push((n as u8 & 0x7f) | 0x80);
        n >>= 7;
    }
    buf.push(n as u8);
    buf.extend_from_slice(s);
}

/// Reads a length prefix at `pos`: (length, position of the bytes).
fn read_len(buf: &[u8], mut pos: usize) -> (usize, usize) {
    let mut n = 0usize;
    let mut shift = 0;
    loop {
        let b = buf[pos];
        pos += 1;
        n |= usize::from(b & 0x7f) << shift;
        if b < 0x80 {
            return (n, pos);
        }
        shift += 7;
    }
}

/// Where a pair lies in the buffer: its start, its value's length prefix, its end.
struct LpAt {
    start: usize,
    value: usize,
    end: usize,
}

fn lp_find(buf: &[u8], field: &[u8]) -> Option<LpAt> {
    let mut pos = 0;
    while pos < buf.len() {
        let (fl, fp) = read_len(buf, pos);
        let value = fp + fl;
        let (vl, vp) = read_len(buf, value);
        let end = vp + vl;
        if &buf[fp..value] == field {
            return Some(LpAt {
                start: pos,
                value,
                end,
            });
        }
        pos = end;
    }
    None
}

struct LpIter<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Iterator for LpIter<'a> {
    type Item = (&'a [u8], &'a [u8]);

    fn next(&mut self) -> Option<Self::Item> {
        if self.pos >= self.buf.len() {
            return None;
        }
        let (fl, fp) = read_len(self.buf, self.pos);
        let (vl, vp) = read_len(self.buf, fp + fl);
        self.pos = vp + vl;
        Some((&self.buf[fp..fp + fl], &self.buf[vp..vp + vl]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_small_hash_is_one_allocation_inline_in_its_value() {
        assert_eq!(std::mem::size_of::<HashVal>(), 16);
        assert_eq!(std::mem::size_of::<crate::Value>(), 24);
        let mut h = HashVal::new();
        for f in 0..10 {
            h.set(format!("field{f}").as_bytes(), b"00000000");
        }
        // 10 x (1 + 6 + 1 + 8): exactly jemalloc's 160-byte class.
        assert_eq!(h.heap_bytes(|n| n), 160);
        assert_eq!(h.len(), 10);
    }

    #[test]
    fn listpack_keeps_insertion_order_and_converts() {
        let mut h = HashVal::new();
        assert!(h.set(b"b", b"1"));
        assert!(h.set(b"a", b"2"));
        assert!(!h.set(b"b", b"3"));
        let got: Vec<_> = h.iter().collect();
        assert_eq!(got, vec![(&b"b"[..], &b"3"[..]), (&b"a"[..], &b"2"[..])]);
        assert!(h.remove(b"b"));
        assert!(!h.remove(b"b"));
        assert_eq!(h.encoding_name(), "listpack");
        h.convert_to_table();
        assert_eq!(h.encoding_name(), "hashtable");
        assert_eq!(h.get(b"a"), Some(&b"2"[..]));
    }

    proptest::proptest! {
        /// Both encodings against a model (a vector in insertion order), through conversion.
        #[test]
        fn matches_a_model(
            ops in proptest::collection::vec((0u8..3, 0u8..12, 0usize..200), 0..200),
            convert_at in 0usize..200,
        ) {
            let mut h = HashVal::new();
            let mut model: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
            for (i, (op, f, vlen)) in ops.into_iter().enumerate() {
                if i == convert_at {
                    h.convert_to_table();
                }
                let field = vec![b'f', f];
                let value = vec![b'v'; vlen];
                match op {
                    0 | 1 => {
                        let new = h.set(&field, &value);
                        match model.iter_mut().find(|(mf, _)| *mf == field) {
                            Some(p) => { proptest::prop_assert!(!new); p.1 = value; }
                            None => { proptest::prop_assert!(new); model.push((field, value)); }
                        }
                    }
                    _ => {
                        let had = model.iter().position(|(mf, _)| *mf == field);
                        proptest::prop_assert_eq!(h.remove(&field), had.is_some());
                        if let Some(i) = had { model.remove(i); }
                    }
                }
                proptest::prop_assert_eq!(h.len(), model.len());
            }
            if h.is_listpack() {
                let got: Vec<(Vec<u8>, Vec<u8>)> =
                    h.iter().map(|(f, v)| (f.to_vec(), v.to_vec())).collect();
                proptest::prop_assert_eq!(&got, &model);
            }
            for (f, v) in &model {
                proptest::prop_assert_eq!(h.get(f), Some(&v[..]));
            }
        }
    }

    #[test]
    fn table_scan_returns_every_field_once() {
        let mut h = HashVal::new();
        h.convert_to_table();
        for i in 0..1000 {
            h.set(format!("f{i}").as_bytes(), b"v");
        }
        let mut seen = std::collections::HashSet::new();
        let mut cursor = 0;
        loop {
            let step = h.scan(cursor, 7);
            for (f, _) in step.pairs {
                assert!(seen.insert(f.to_vec()));
            }
            cursor = step.next;
            if cursor == 0 {
                break;
            }
        }
        assert_eq!(seen.len(), 1000);
    }
}
