//! DEBUG DIGEST and DEBUG DIGEST-VALUE, computed exactly as Redis 7.0's debug.c does, so a
//! dataset can be compared between Redoubt and Redis.
//!
//! `xor(d, data)`: d ^= SHA1(data). `mix(d, data)`: xor(d, data), then d = SHA1(d). A key's digest is
//! mix(key), mix(type as big-endian u32), mix(value), then xor("!!expire!!") if it has a TTL;
//! the dataset digest mixes in each non-empty db's number, then xors in each key's digest.

use crate::Engine;
use redoubt_keyspace::{value::itoa_buf, Entry, Value, NO_EXPIRE};
use sha1::{Digest, Sha1};

pub type Digest20 = [u8; 20];

pub fn mix(d: &mut Digest20, data: &[u8]) {
    xor(d, data);
    let h = Sha1::digest(&d[..]);
    d.copy_from_slice(&h);
}

pub fn xor(d: &mut Digest20, data: &[u8]) {
    let h = Sha1::digest(data);
    for (a, b) in d.iter_mut().zip(h.iter()) {
        *a ^= b;
    }
}

pub fn hex(d: &Digest20) -> String {
    d.iter().map(|b| format!("{b:02x}")).collect()
}

/// `xorObjectDigest` for one value (with its expiry).
pub fn value_digest(d: &mut Digest20, entry: &Entry) {
    mix(d, &entry.value.type_id().to_be_bytes());
    match &entry.value {
        Value::Str(s) => {
            let mut t = itoa_buf::Buf::default();
            mix(d, s.as_bytes(&mut t));
        }
        // The collection rules are debug.c's: list elements are mixed in order; set members
        // are xored (order-free); hash fields and zset members each get their own digest
        // (member then value or `%.17g` score) xored in.
        Value::List(l) => l.iter().for_each(|e| mix(d, e)),
        Value::Set(s) => s.iter().for_each(|m| xor(d, &m)),
        Value::Hash(h) => {
            for (f, v) in h.iter() {
                let mut e = [0u8; 20];
                mix(&mut e, f);
                mix(&mut e, v);
                xor(d, &e);
            }
        }
        Value::ZSet(z) => {
            for (m, score) in z.iter() {
                let mut e = [0u8; 20];
                mix(&mut e, m);
                mix(&mut e, redoubt_resp::format_double(score).as_bytes());
                xor(d, &e);
            }
        }
    }
    if entry.expire_at_ms != NO_EXPIRE {
        xor(d, b"!!expire!!");
    }
}

/// `computeDatasetDigest`: like Redis, it covers what is stored, including keys that are
/// logically expired but not yet deleted.
pub fn dataset_digest(eng: &Engine) -> Digest20 {
    let mut fin = [0u8; 20];
    for (j, db) in eng.dbs.iter().enumerate() {
        if db.is_empty() {
            continue;
        }
        mix(&mut fin, &(j as u32).to_be_bytes());
        for e in db.iter() {
            let mut d = [0u8; 20];
            mix(&mut d, &e.key);
            value_digest(&mut d, e);
            xor(&mut fin, &d);
        }
    }
    fin
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn string_value_digest_matches_redis() {
        // redis-server 7.0.15: SET k v; DEBUG DIGEST-VALUE k
        let mut d = [0u8; 20];
        mix(&mut d, &0u32.to_be_bytes());
        mix(&mut d, b"v");
        assert_eq!(hex(&d), "d79ee9fe5d5ad902d7f6620efc3b07b75ddd742f");
    }
}
