//! Values and their encodings.
//!
//! Strings follow Redis 7.0's three encodings because `OBJECT ENCODING` exposes them and
//! memory depends on them: `int` (a decimal that round-trips through i64), `embstr`
//! (at most 44 bytes, never modified in place) and `raw` (anything else, or any string that
//! was modified in place by APPEND/SETRANGE/SETBIT). The rules are `tryObjectEncoding` and
//! `createStringObject` in Redis's object.c.

use crate::num::string2ll;

/// Longest string Redis creates as `embstr` (OBJ_ENCODING_EMBSTR_SIZE_LIMIT).
pub const EMBSTR_SIZE_LIMIT: usize = 44;

/// A string value in one of Redis's encodings, in 24 bytes so an [`crate::Entry`] fills
/// exactly one 64-byte cache line (key 24 + value 24 + TTL and access data 16).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StrVal {
    /// `int`: a decimal that round-trips through i64.
    Int(i64),
    /// `embstr` of at most 22 bytes, stored inline.
    EmbInline { len: u8, data: [u8; EMB_INLINE_CAP] },
    /// `embstr` of 23 to 44 bytes.
    EmbHeap(Box<[u8]>),
    /// `raw` written whole (SET of a long value): exact-size, no spare capacity.
    Raw(Box<[u8]>),
    /// `raw` edited in place (APPEND, SETRANGE, SETBIT): growable, like an sds with free
    /// space. Boxed so the enum stays 24 bytes.
    Grow(Box<Vec<u8>>),
}

const EMB_INLINE_CAP: usize = 22;

impl StrVal {
    /// The encoding a freshly written string gets (Redis's `tryObjectEncoding`).
    pub fn encode(bytes: &[u8]) -> StrVal {
        if bytes.len() <= 20 {
            if let Some(n) = string2ll(bytes) {
                return StrVal::Int(n);
            }
        }
        Self::no_int(bytes)
    }

    /// A string that Redis creates without trying the integer encoding
    /// (`createStringObject`: GETRANGE results, keys turned into values...).
    pub fn no_int(bytes: &[u8]) -> StrVal {
        if bytes.len() <= EMB_INLINE_CAP {
            let mut data = [0u8; EMB_INLINE_CAP];
            data[..bytes.len()].copy_from_slice(bytes);
            StrVal::EmbInline {
                len: bytes.len() as u8,
                data,
            }
        } else if bytes.len() <= EMBSTR_SIZE_LIMIT {
            StrVal::EmbHeap(bytes.into())
        } else {
            StrVal::Raw(bytes.into())
        }
    }

    pub fn from_int(n: i64) -> StrVal {
        StrVal::Int(n)
    }

    /// A growable `raw` string (a value built in place, e.g. by SETBIT or BITOP).
    pub fn raw(bytes: Vec<u8>) -> StrVal {
        StrVal::Grow(Box::new(bytes))
    }

    /// The bytes, unless the value is integer-encoded (no formatting needed).
    pub fn stored_bytes(&self) -> Option<&[u8]> {
        match self {
            StrVal::Int(_) => None,
            StrVal::EmbInline { len, data } => Some(&data[..*len as usize]),
            StrVal::EmbHeap(b) | StrVal::Raw(b) => Some(b),
            StrVal::Grow(v) => Some(v),
        }
    }

    /// Writes the string form into `out`, returning the bytes to use.
    pub fn as_bytes<'a>(&'a self, tmp: &'a mut itoa_buf::Buf) -> &'a [u8] {
        match self {
            StrVal::Int(n) => tmp.format(*n),
            other => other.stored_bytes().unwrap_or_default(),
        }
    }

    pub fn to_vec(&self) -> Vec<u8> {
        let mut tmp = itoa_buf::Buf::default();
        self.as_bytes(&mut tmp).to_vec()
    }

    pub fn len(&self) -> usize {
        match self {
            StrVal::Int(n) => itoa_buf::Buf::default().format(*n).len(),
            other => other.stored_bytes().map_or(0, <[u8]>::len),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Heap bytes owned by the value (MEMORY USAGE), excluding the 24 bytes of the enum.
    pub fn heap_bytes(&self) -> usize {
        match self {
            StrVal::Int(_) | StrVal::EmbInline { .. } => 0,
            StrVal::EmbHeap(b) | StrVal::Raw(b) => b.len(),
            StrVal::Grow(v) => v.capacity() + std::mem::size_of::<Vec<u8>>(),
        }
    }

    pub fn encoding_name(&self) -> &'static str {
        match self {
            StrVal::Int(_) => "int",
            StrVal::EmbInline { .. } | StrVal::EmbHeap(_) => "embstr",
            StrVal::Raw(_) | StrVal::Grow(_) => "raw",
        }
    }

    /// Turns the value into a growable `raw` string for in-place edits
    /// (Redis's `dbUnshareStringValue`).
    pub fn make_raw(&mut self) -> &mut Vec<u8> {
        if !matches!(self, StrVal::Grow(_)) {
            *self = StrVal::Grow(Box::new(self.to_vec()));
        }
        match self {
            StrVal::Grow(v) => v,
            _ => unreachable!("just converted to raw"),
        }
    }
}

/// A tiny stack buffer for integer formatting, so callers need not allocate.
pub mod itoa_buf {
    #[derive(Default)]
    pub struct Buf {
        data: [u8; 20],
        len: usize,
    }
    impl Buf {
        pub fn format(&mut self, n: i64) -> &[u8] {
            let mut v = n.unsigned_abs();
            let mut tmp = [0u8; 20];
            let mut i = tmp.len();
            loop {
                i -= 1;
                tmp[i] = b'0' + (v % 10) as u8;
                v /= 10;
                if v == 0 {
                    break;
                }
            }
            let mut out = 0;
            if n < 0 {
                self.data[0] = b'-';
                out = 1;
            }
            let digits = tmp.len() - i;
            // i64::MIN has 19 digits plus a sign: fits in 20.
            self.data[out..out + digits].copy_from_slice(&tmp[i..]);
            self.len = out + digits;
            &self.data[..self.len]
        }
    }
}

/// Every value type. Collections are boxed so a value stays 24 bytes and a key one cache
/// line; strings, the most common values, stay inline, and so does a hash's 16-byte handle
/// (a small hash is then one allocation, its listpack buffer).
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Str(StrVal),
    List(Box<crate::list::ListVal>),
    Hash(crate::hash::HashVal),
    Set(Box<crate::set::SetVal>),
    ZSet(Box<crate::zset::ZSetVal>),
}

impl Value {
    /// The name TYPE reports.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Str(_) => "string",
            Value::List(_) => "list",
            Value::Hash(_) => "hash",
            Value::Set(_) => "set",
            Value::ZSet(_) => "zset",
        }
    }

    /// Redis's OBJ_* type number (OBJ_STRING 0, OBJ_LIST 1, OBJ_SET 2, OBJ_ZSET 3,
    /// OBJ_HASH 4), used by DEBUG DIGEST.
    pub fn type_id(&self) -> u32 {
        match self {
            Value::Str(_) => 0,
            Value::List(_) => 1,
            Value::Set(_) => 2,
            Value::ZSet(_) => 3,
            Value::Hash(_) => 4,
        }
    }

    pub fn encoding_name(&self) -> &'static str {
        match self {
            Value::Str(s) => s.encoding_name(),
            Value::List(l) => l.encoding_name(),
            Value::Hash(h) => h.encoding_name(),
            Value::Set(s) => s.encoding_name(),
            Value::ZSet(z) => z.encoding_name(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodings_like_redis() {
        assert_eq!(StrVal::encode(b"123").encoding_name(), "int");
        assert_eq!(
            StrVal::encode(b"-9223372036854775808").encoding_name(),
            "int"
        );
        assert_eq!(StrVal::encode(b"0123").encoding_name(), "embstr");
        assert_eq!(StrVal::encode(b" 1").encoding_name(), "embstr");
        assert_eq!(StrVal::encode(&[b'a'; 44]).encoding_name(), "embstr");
        assert_eq!(StrVal::encode(&[b'a'; 45]).encoding_name(), "raw");
        let mut t = itoa_buf::Buf::default();
        assert_eq!(
            StrVal::Int(i64::MIN).as_bytes(&mut t),
            b"-9223372036854775808"
        );
    }
}
