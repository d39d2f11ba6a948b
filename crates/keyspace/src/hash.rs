//! Hashes. Redis 7.0 stores small hashes as a `listpack` and larger ones as a `hashtable`
//! (`hash-max-listpack-entries` / `-value`); OBJECT ENCODING reports which.

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HashVal {
    fields: hashbrown::HashMap<Box<[u8]>, Box<[u8]>>,
}

impl HashVal {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn len(&self) -> usize {
        self.fields.len()
    }

    pub fn is_empty(&self) -> bool {
        self.fields.is_empty()
    }

    /// (field, value) pairs, in storage order.
    pub fn iter(&self) -> impl Iterator<Item = (&[u8], &[u8])> {
        self.fields.iter().map(|(f, v)| (&f[..], &v[..]))
    }

    pub fn encoding_name(&self) -> &'static str {
        "hashtable"
    }
}
