//! Lists. Redis 7.0 stores every list as a `quicklist` (a linked list of listpack nodes sized
//! by `list-max-listpack-size`); unlike 7.2 it never reports `listpack` for a list, so OBJECT
//! ENCODING is always `quicklist` (checked against redis-server 7.0.15). The node layout is
//! invisible to clients, so one ring buffer of boxed elements serves every size.

use std::collections::VecDeque;

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ListVal {
    items: VecDeque<Box<[u8]>>,
}

impl ListVal {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn len(&self) -> usize {
        self.items.len()
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// Elements from head to tail.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = &[u8]> + ExactSizeIterator {
        self.items.iter().map(|b| &b[..])
    }

    pub fn encoding_name(&self) -> &'static str {
        "quicklist"
    }

    pub fn push(&mut self, head: bool, v: &[u8]) {
        if head {
            self.items.push_front(v.into());
        } else {
            self.items.push_back(v.into());
        }
    }

    pub fn pop(&mut self, head: bool) -> Option<Box<[u8]>> {
        if head {
            self.items.pop_front()
        } else {
            self.items.pop_back()
        }
    }

    pub fn get(&self, i: usize) -> Option<&[u8]> {
        self.items.get(i).map(|b| &b[..])
    }

    /// Replaces element `i`; false when out of range.
    pub fn set(&mut self, i: usize, v: &[u8]) -> bool {
        match self.items.get_mut(i) {
            Some(slot) => {
                *slot = v.into();
                true
            }
            None => false,
        }
    }

    /// Inserts so that the new element ends up at index `i` (`i <= len`).
    pub fn insert(&mut self, i: usize, v: &[u8]) {
        self.items.insert(i, v.into());
    }

    pub fn remove(&mut self, i: usize) {
        self.items.remove(i);
    }

    /// Removes `ltrim` elements from the head and `rtrim` from the tail.
    pub fn trim(&mut self, ltrim: usize, rtrim: usize) {
        let n = self.items.len();
        self.items.truncate(n.saturating_sub(rtrim));
        let l = ltrim.min(self.items.len());
        self.items.drain(..l);
    }

    /// Removes up to `limit` (0 = all) elements equal to `v`, scanning from the head or the
    /// tail; returns how many were removed.
    pub fn remove_matching(&mut self, v: &[u8], from_head: bool, limit: usize) -> usize {
        let mut removed = 0;
        if from_head {
            let mut i = 0;
            while i < self.items.len() && (limit == 0 || removed < limit) {
                if &self.items[i][..] == v {
                    self.items.remove(i);
                    removed += 1;
                } else {
                    i += 1;
                }
            }
        } else {
            let mut i = self.items.len();
            while i > 0 && (limit == 0 || removed < limit) {
                i -= 1;
                if &self.items[i][..] == v {
                    self.items.remove(i);
                    removed += 1;
                }
            }
        }
        removed
    }

    /// Heap bytes owned: the ring's slots and each element's block (unrounded).
    pub fn heap_bytes(&self) -> (usize, impl Iterator<Item = usize> + '_) {
        (
            self.items.capacity() * std::mem::size_of::<Box<[u8]>>(),
            self.items.iter().map(|b| b.len()),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(items: &[&str]) -> ListVal {
        let mut l = ListVal::new();
        for i in items {
            l.push(false, i.as_bytes());
        }
        l
    }

    fn items(l: &ListVal) -> Vec<String> {
        l.iter()
            .map(|b| String::from_utf8_lossy(b).into_owned())
            .collect()
    }

    #[test]
    fn trim_and_remove_matching() {
        let mut l = list(&["a", "b", "a", "c", "a"]);
        assert_eq!(l.remove_matching(b"a", false, 2), 2);
        assert_eq!(items(&l), ["a", "b", "c"]);
        l.trim(1, 1);
        assert_eq!(items(&l), ["b"]);
        l.trim(5, 5);
        assert!(l.is_empty());
    }
}
