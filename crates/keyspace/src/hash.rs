//! Hashes. Redis 7.0 stores small hashes as a `listpack` and larger ones as a `hashtable`
//! (`hash-max-listpack-entries` / `-value`); OBJECT ENCODING reports which.
//!
//! The small form is a vector of pairs in insertion order, as a listpack keeps them: HGETALL
//! and HKEYS on a small hash answer in the same order as Redis. An update keeps the field's
//! place, a delete closes the gap. The large form is a hash table; a hash never converts
//! back (Redis 7.0 does not either). The thresholds are the caller's (they are directives).

use core::hash::BuildHasher;

type Field = Box<[u8]>;

#[derive(Clone, Debug, PartialEq, Eq)]
enum Repr {
    Listpack(Vec<(Field, Field)>),
    Table(hashbrown::HashMap<Field, Field>),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HashVal {
    repr: Repr,
}

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
            repr: Repr::Listpack(Vec::new()),
        }
    }

    pub fn len(&self) -> usize {
        match &self.repr {
            Repr::Listpack(v) => v.len(),
            Repr::Table(m) => m.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// (field, value) pairs, in storage order (insertion order while `listpack`).
    pub fn iter(&self) -> Box<dyn Iterator<Item = (&[u8], &[u8])> + '_> {
        match &self.repr {
            Repr::Listpack(v) => Box::new(v.iter().map(|(f, v)| (&f[..], &v[..]))),
            Repr::Table(m) => Box::new(m.iter().map(|(f, v)| (&f[..], &v[..]))),
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
            Repr::Listpack(v) => v.iter().find(|(f, _)| &f[..] == field).map(|(_, v)| &v[..]),
            Repr::Table(m) => m.get(field).map(|v| &v[..]),
        }
    }

    pub fn contains(&self, field: &[u8]) -> bool {
        self.get(field).is_some()
    }

    /// Sets a field; true when it is new. An existing field keeps its place.
    pub fn set(&mut self, field: &[u8], value: &[u8]) -> bool {
        match &mut self.repr {
            Repr::Listpack(v) => {
                if let Some(p) = v.iter_mut().find(|(f, _)| &f[..] == field) {
                    p.1 = value.into();
                    false
                } else {
                    v.push((field.into(), value.into()));
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
            Repr::Listpack(v) => match v.iter().position(|(f, _)| &f[..] == field) {
                Some(i) => {
                    v.remove(i);
                    true
                }
                None => false,
            },
            Repr::Table(m) => m.remove(field).is_some(),
        }
    }

    /// `hashTypeConvert(o, OBJ_ENCODING_HT)`; a no-op on a `hashtable`.
    pub fn convert_to_table(&mut self) {
        if let Repr::Listpack(v) = &mut self.repr {
            let pairs = std::mem::take(v);
            let mut m = hashbrown::HashMap::with_capacity(pairs.len());
            m.extend(pairs);
            self.repr = Repr::Table(m);
        }
    }

    /// The `i`th pair in storage order (i < len). O(1) while `listpack`.
    pub fn nth(&self, i: usize) -> Option<(&[u8], &[u8])> {
        match &self.repr {
            Repr::Listpack(v) => v.get(i).map(|(f, v)| (&f[..], &v[..])),
            Repr::Table(m) => m.iter().nth(i).map(|(f, v)| (&f[..], &v[..])),
        }
    }

    /// Heap bytes held (an estimate for MEMORY USAGE: the pairs' blocks and the table).
    pub fn heap_bytes(&self) -> usize {
        let data: usize = self.iter().map(|(f, v)| f.len() + v.len()).sum();
        match &self.repr {
            Repr::Listpack(v) => data + v.capacity() * std::mem::size_of::<(Field, Field)>(),
            Repr::Table(m) => data + m.capacity() * (std::mem::size_of::<(Field, Field)>() + 1),
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
