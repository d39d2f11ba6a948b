//! Sorted sets. Redis 7.0 stores small ones as a `listpack` and larger ones as a
//! `skiplist` plus dict (`zset-max-listpack-entries` / `-value`); OBJECT ENCODING reports
//! which.

#[derive(Clone, Debug, Default, PartialEq)]
pub struct ZSetVal {
    /// (score, member), ordered by score then member.
    members: Vec<(f64, Box<[u8]>)>,
}

impl ZSetVal {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn len(&self) -> usize {
        self.members.len()
    }

    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }

    /// (member, score) in rank order.
    pub fn iter(&self) -> impl Iterator<Item = (&[u8], f64)> {
        self.members.iter().map(|(s, m)| (&m[..], *s))
    }

    pub fn encoding_name(&self) -> &'static str {
        "skiplist"
    }
}
