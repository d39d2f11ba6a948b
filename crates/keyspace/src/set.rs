//! Sets. Redis 7.0 stores integer-only small sets as an `intset` and others as a
//! `hashtable` (`set-max-intset-entries`); OBJECT ENCODING reports which.

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SetVal {
    members: hashbrown::HashSet<Box<[u8]>>,
}

impl SetVal {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn len(&self) -> usize {
        self.members.len()
    }

    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }

    /// Members, in storage order.
    pub fn iter(&self) -> impl Iterator<Item = &[u8]> {
        self.members.iter().map(|m| &m[..])
    }

    pub fn encoding_name(&self) -> &'static str {
        "hashtable"
    }
}
