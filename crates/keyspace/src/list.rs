//! Lists. Redis 7.0 stores small lists as one `listpack` and larger ones as a `quicklist`
//! (`list-max-listpack-size`); OBJECT ENCODING reports which.

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
    pub fn iter(&self) -> impl Iterator<Item = &[u8]> {
        self.items.iter().map(|b| &b[..])
    }

    pub fn encoding_name(&self) -> &'static str {
        "quicklist"
    }
}
