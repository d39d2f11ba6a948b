//! `ByteStr`: an immutable byte string that keeps short contents inline.
//!
//! Keys and small string values are mostly short; keeping up to 22 bytes inside the
//! 24-byte value avoids one allocation and one cache miss per lookup (the bench in
//! STYLE.md found hash lookups on boxed keys a third of the CPU). Longer contents are boxed.

use std::borrow::Borrow;
use std::hash::{Hash, Hasher};
use std::ops::Deref;

const INLINE_CAP: usize = 22;

#[derive(Clone)]
pub enum ByteStr {
    Inline { len: u8, data: [u8; INLINE_CAP] },
    Heap(Box<[u8]>),
}

impl ByteStr {
    pub fn new(bytes: &[u8]) -> Self {
        if bytes.len() <= INLINE_CAP {
            let mut data = [0u8; INLINE_CAP];
            data[..bytes.len()].copy_from_slice(bytes);
            ByteStr::Inline {
                len: bytes.len() as u8,
                data,
            }
        } else {
            ByteStr::Heap(bytes.into())
        }
    }

    pub fn as_bytes(&self) -> &[u8] {
        match self {
            ByteStr::Inline { len, data } => &data[..*len as usize],
            ByteStr::Heap(b) => b,
        }
    }

    /// Heap bytes owned beyond the struct itself (for MEMORY USAGE and accounting).
    pub fn heap_size(&self) -> usize {
        match self {
            ByteStr::Inline { .. } => 0,
            ByteStr::Heap(b) => b.len(),
        }
    }
}

impl Deref for ByteStr {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        self.as_bytes()
    }
}

impl Borrow<[u8]> for ByteStr {
    fn borrow(&self) -> &[u8] {
        self.as_bytes()
    }
}

impl PartialEq for ByteStr {
    fn eq(&self, other: &Self) -> bool {
        self.as_bytes() == other.as_bytes()
    }
}
impl Eq for ByteStr {}

impl Hash for ByteStr {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.as_bytes().hash(state)
    }
}

impl std::fmt::Debug for ByteStr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}", String::from_utf8_lossy(self.as_bytes()))
    }
}

impl From<&[u8]> for ByteStr {
    fn from(b: &[u8]) -> Self {
        ByteStr::new(b)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inline_and_heap() {
        assert_eq!(std::mem::size_of::<ByteStr>(), 24);
        let short = ByteStr::new(b"key:000000000001");
        assert!(matches!(short, ByteStr::Inline { .. }));
        let long = ByteStr::new(&[7u8; 23]);
        assert!(matches!(long, ByteStr::Heap(_)));
        assert_eq!(long.as_bytes(), &[7u8; 23]);
        assert_eq!(&*short, b"key:000000000001");
    }
}
