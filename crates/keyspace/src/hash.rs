//! Hashes. Redis 7.0 stores small hashes as a `listpack` and larger ones as a `hashtable`
//! (`hash-max-listpack-entries` / `-value`); OBJECT ENCODING reports which.
//!
//! The small form is one byte buffer of length-prefixed fields and values in insertion order,
//! as a listpack keeps them: HGETALL and HKEYS on a small hash answer in the same order as
//! Redis, and a small hash costs about what Redis's listpack does (one allocation, a byte or
//! two of header per string). An update keeps the field's place, a delete closes the gap;
//! lookups scan, as Redis's do (the size limit keeps them short). The large form is a hash table; a hash never converts
//! back (Redis 7.0 does not either). The thresholds are the caller's (they are directives).

use core::hash::BuildHasher;

type Field = Box<[u8]>;

#[derive(Clone, Debug)]
enum Repr {
    /// `count` pairs, each `varint(len) field varint(len) value`.
    Listpack {
        buf: Vec<u8>,
        count: usize,
    },
    Table(hashbrown::HashMap<Field, Field>),
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
            repr: Repr::Listpack {
                buf: Vec::new(),
                count: 0,
            },
        }
    }

    pub fn len(&self) -> usize {
        match &self.repr {
            Repr::Listpack { count, .. } => *count,
            Repr::Table(m) => m.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// (field, value) pairs, in storage order (insertion order while `listpack`).
    pub fn iter(&self) -> Box<dyn Iterator<Item = (&[u8], &[u8])> + '_> {
        match &self.repr {
            Repr::Listpack { buf, .. } => Box::new(LpIter { buf, pos: 0 }),
            Repr::Table(m) => Box::new(m.iter().map(|(f, v)| (&f[..], &v[..]))),
        }
    }

    pub fn encoding_name(&self) -> &'static str {
        match &self.repr {
            Repr::Listpack { .. } => "listpack",
            Repr::Table(_) => "hashtable",
        }
    }

    pub fn is_listpack(&self) -> bool {
        matches!(self.repr, Repr::Listpack { .. })
    }

    pub fn get(&self, field: &[u8]) -> Option<&[u8]> {
        match &self.repr {
            Repr::Listpack { buf, .. } => lp_find(buf, field).map(|at| {
                let (n, p) = read_len(buf, at.value);
                &buf[p..p + n]
            }),
            Repr::Table(m) => m.get(field).map(|v| &v[..]),
        }
    }

    pub fn contains(&self, field: &[u8]) -> bool {
        self.get(field).is_some()
    }

    /// Sets a field; true when it is new. An existing field keeps its place.
    pub fn set(&mut self, field: &[u8], value: &[u8]) -> bool {
        match &mut self.repr {
            Repr::Listpack { buf, count } => {
                let mut enc = Vec::with_capacity(value.len() + 10);
                if let Some(at) = lp_find(buf, field) {
                    put_str(&mut enc, value);
                    buf.splice(at.value..at.end, enc);
                    buf.shrink_to_fit();
                    false
                } else {
                    buf.reserve_exact(field.len() + value.len() + 20);
                    put_str(buf, field);
                    put_str(buf, value);
                    buf.shrink_to_fit();
                    *count += 1;
                    true
                }
            }
            Repr::Table(m) => {
                if let Some(old) = m.get_mut(field) {
                    *old = value.into();
                    false
                } else {
                    m.insert(field.into(), value.into());
                    true
                }
            }
        }
    }

    /// Removes a field; true when it was there.
    pub fn remove(&mut self, field: &[u8]) -> bool {
        match &mut self.repr {
            Repr::Listpack { buf, count } => match lp_find(buf, field) {
                Some(at) => {
                    buf.drain(at.start..at.end);
                    buf.shrink_to_fit();
                    *count -= 1;
                    true
                }
                None => false,
            },
            Repr::Table(m) => m.remove(field).is_some(),
        }
    }

    /// `hashTypeConvert(o, OBJ_ENCODING_HT)`; a no-op on a `hashtable`.
    pub fn convert_to_table(&mut self) {
        if let Repr::Listpack { buf, count } = &self.repr {
            let mut m = hashbrown::HashMap::with_capacity(*count);
            m.extend(LpIter { buf, pos: 0 }.map(|(f, v)| (Field::from(f), Field::from(v))));
            self.repr = Repr::Table(m);
        }
    }

    /// The `i`th pair in storage order (i < len).
    pub fn nth(&self, i: usize) -> Option<(&[u8], &[u8])> {
        self.iter().nth(i)
    }

    /// Heap bytes held (an estimate for MEMORY USAGE: the pairs' blocks and the table).
    pub fn heap_bytes(&self) -> usize {
        match &self.repr {
            Repr::Listpack { buf, .. } => buf.capacity(),
            Repr::Table(m) => {
                let data: usize = m.iter().map(|(f, v)| f.len() + v.len()).sum();
                data + m.capacity() * (std::mem::size_of::<(Field, Field)>() + 1)
            }
        }
    }

    /// One HSCAN step on a `hashtable`: the cursor is a position in the order of the fields'
    /// 64-bit hashes (fixed for this value's life), so a field present for the whole
    /// iteration is returned at least once whatever happens to the others in between, as
    /// Redis guarantees. Fields sharing a hash are returned together. On a `listpack` the
    /// whole hash is returned with cursor 0.
    pub fn scan(&self, cursor: u64, count: usize) -> ScanStep<'_> {
        let Repr::Table(m) = &self.repr else {
            return ScanStep {
                pairs: self.iter().collect(),
                next: 0,
            };
        };
        let hasher = m.hasher();
        let mut cands: Vec<(u64, &[u8], &[u8])> = m
            .iter()
            .map(|(f, v)| (hasher.hash_one(&f[..]), &f[..], &v[..]))
            .filter(|(h, _, _)| *h >= cursor)
            .collect();
        let count = count.max(1);
        if cands.len() > count {
            cands.select_nth_unstable_by_key(count, |c| c.0);
            let limit = cands[count].0;
            // Keep every field whose hash is below the first excluded one.
            cands.retain(|c| c.0 < limit);
            if cands.is_empty() {
                // count fields or more share one hash: take them all.
                cands = m
                    .iter()
                    .map(|(f, v)| (hasher.hash_one(&f[..]), &f[..], &v[..]))
                    .filter(|(h, _, _)| *h == limit)
                    .collect();
                let next = limit.checked_add(1).unwrap_or(0);
                return ScanStep {
                    pairs: cands.into_iter().map(|(_, f, v)| (f, v)).collect(),
                    next,
                };
            }
            cands.sort_unstable_by_key(|c| c.0);
            ScanStep {
                pairs: cands.into_iter().map(|(_, f, v)| (f, v)).collect(),
                next: limit,
            }
        } else {
            cands.sort_unstable_by_key(|c| c.0);
            ScanStep {
                pairs: cands.into_iter().map(|(_, f, v)| (f, v)).collect(),
                next: 0,
            }
        }
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
