//! An AOF rewrite's base in AOF format (`aof-use-rdb-preamble no`): Redis 7.0's
//! `rewriteAppendOnlyFileRio` (aof.c). The point-in-time walk is the snapshot's
//! (`crate::snapshot`); only the serialization differs: per database a SELECT, per key the
//! commands that rebuild it (at most `AOF_REWRITE_ITEMS_PER_CMD` items each), then a
//! PEXPIREAT for a TTL.

use redoubt_keyspace::set::SetVal;
use redoubt_keyspace::{Entry, Value, NO_EXPIRE};

/// `AOF_REWRITE_ITEMS_PER_CMD`.
const ITEMS_PER_CMD: usize = 64;

fn bulk(out: &mut Vec<u8>, b: &[u8]) {
    out.push(b'$');
    out.extend_from_slice(b.len().to_string().as_bytes());
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(b);
    out.extend_from_slice(b"\r\n");
}

fn count(out: &mut Vec<u8>, n: usize) {
    out.push(b'*');
    out.extend_from_slice(n.to_string().as_bytes());
    out.extend_from_slice(b"\r\n");
}

/// `SELECT <db>` as the rewrite writes it.
pub fn select(out: &mut Vec<u8>, db: usize) {
    out.extend_from_slice(b"*2\r\n$6\r\nSELECT\r\n");
    bulk(out, db.to_string().as_bytes());
}

/// Splits a key's items into `cmd key item...` commands of at most `ITEMS_PER_CMD` items,
/// as `rewriteListObject` and its siblings batch them: call [`Batch::item`] before writing
/// each item's `per_item` bulk strings.
struct Batch<'a> {
    cmd: &'a [u8],
    key: &'a [u8],
    per_item: usize,
    left: usize,
    in_cmd: usize,
}

impl<'a> Batch<'a> {
    fn new(cmd: &'a [u8], key: &'a [u8], total: usize, per_item: usize) -> Self {
        Batch {
            cmd,
            key,
            per_item,
            left: total,
            in_cmd: 0,
        }
    }

    fn item(&mut self, out: &mut Vec<u8>) {
        if self.in_cmd == 0 {
            let n = self.left.min(ITEMS_PER_CMD);
            count(out, 2 + n * self.per_item);
            bulk(out, self.cmd);
            bulk(out, self.key);
        }
        self.in_cmd += 1;
        if self.in_cmd == ITEMS_PER_CMD {
            self.in_cmd = 0;
        }
        self.left = self.left.saturating_sub(1);
    }
}

/// One key as commands (the snapshot's `EntryWriter` for an AOF-format base).
pub fn write_entry(out: &mut Vec<u8>, e: &Entry) {
    let key: &[u8] = &e.key;
    match &e.value {
        Value::Str(s) => {
            out.extend_from_slice(b"*3\r\n$3\r\nSET\r\n");
            bulk(out, key);
            bulk(out, &s.to_vec());
        }
        Value::List(l) => {
            let mut b = Batch::new(b"RPUSH", key, l.len(), 1);
            for v in l.iter() {
                b.item(out);
                bulk(out, v);
            }
        }
        Value::Set(s) => {
            let mut b = Batch::new(b"SADD", key, s.len(), 1);
            match &**s {
                SetVal::IntSet(is) => {
                    for v in is.iter() {
                        b.item(out);
                        bulk(out, v.to_string().as_bytes());
                    }
                }
                SetVal::HashTable(_) => {
                    for m in s.iter() {
                        b.item(out);
                        bulk(out, &m);
                    }
                }
            }
        }
        Value::ZSet(z) => {
            // `rioWriteBulkDouble`: `%.17g`, score before member.
            let mut b = Batch::new(b"ZADD", key, z.len(), 2);
            for (m, sc) in z.iter() {
                b.item(out);
                bulk(out, redoubt_resp::format_double(sc).as_bytes());
                bulk(out, m);
            }
        }
        Value::Hash(h) => {
            let mut b = Batch::new(b"HMSET", key, h.len(), 2);
            for (f, v) in h.iter() {
                b.item(out);
                bulk(out, f);
                bulk(out, v);
            }
        }
    }
    if e.expire_at_ms != NO_EXPIRE {
        out.extend_from_slice(b"*3\r\n$9\r\nPEXPIREAT\r\n");
        bulk(out, key);
        bulk(out, e.expire_at_ms.to_string().as_bytes());
    }
}

#[cfg(test)]
mod tests {
    use crate::testing::TestEngine;

    fn entry_commands(t: &TestEngine, key: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        let e = t.eng.dbs[0].get_raw(key).expect("key");
        super::write_entry(&mut out, e);
        out
    }

    #[test]
    fn items_are_batched_by_64_with_the_remainder_last() {
        let mut t = TestEngine::new();
        let args: Vec<String> = (0..130).map(|i| i.to_string()).collect();
        t.run(&format!("RPUSH l {}", args.join(" ")));
        let out = entry_commands(&t, b"l");
        // 64 + 64 + 2 items: `*66`, `*66`, `*4`.
        let heads: Vec<&[u8]> = out
            .split(|&b| b == b'\n')
            .filter(|l| l.starts_with(b"*"))
            .collect();
        assert_eq!(heads, [&b"*66\r"[..], b"*66\r", b"*4\r"]);
        assert!(out.ends_with(b"$3\r\n128\r\n$3\r\n129\r\n"));
    }

    #[test]
    fn scores_use_17g_and_a_ttl_follows_as_pexpireat() {
        let mut t = TestEngine::new();
        t.run("ZADD z 0.1 a 1e17 b");
        t.run("PEXPIREAT z 4102444800000");
        let out = entry_commands(&t, b"z");
        assert_eq!(
            out,
            b"*6\r\n$4\r\nZADD\r\n$1\r\nz\r\n$19\r\n0.10000000000000001\r\n$1\r\na\r\n\
$5\r\n1e+17\r\n$1\r\nb\r\n*3\r\n$9\r\nPEXPIREAT\r\n$1\r\nz\r\n$13\r\n4102444800000\r\n"
        );
    }
}
