//! Writing RDB version 10 as Redis 7.0 writes it (`rdbSaveRio`, `rdbSaveObject`): the same
//! types for the same encodings, strings as integers where Redis does (`rdbTryIntegerEncoding`)
//! and LZF-compressed above 20 bytes when that saves space (`rdbSaveLzfStringObject`), so a
//! DUMP of a value with the same encoding is byte-identical to Redis's.

use super::*;
use redoubt_keyspace::list::ListVal;
use redoubt_keyspace::set::SetVal;
use redoubt_keyspace::{Db, Entry, StrVal, Value};

/// `rdbSaveLen`.
pub fn write_len(out: &mut Vec<u8>, n: u64) {
    if n < 1 << 6 {
        out.push(n as u8);
    } else if n < 1 << 14 {
        out.push((n >> 8) as u8 | 0x40);
        out.push(n as u8);
    } else if n <= u64::from(u32::MAX) {
        out.push(LEN_32BIT);
        out.extend_from_slice(&(n as u32).to_be_bytes());
    } else {
        out.push(LEN_64BIT);
        out.extend_from_slice(&n.to_be_bytes());
    }
}

/// `rdbEncodeInteger`: the special encoding when `v` fits 32 bits.
fn write_encoded_int(out: &mut Vec<u8>, v: i64) -> bool {
    if let Ok(b) = i8::try_from(v) {
        out.push(0xc0 | ENC_INT8);
        out.push(b as u8);
    } else if let Ok(h) = i16::try_from(v) {
        out.push(0xc0 | ENC_INT16);
        out.extend_from_slice(&h.to_le_bytes());
    } else if let Ok(w) = i32::try_from(v) {
        out.push(0xc0 | ENC_INT32);
        out.extend_from_slice(&w.to_le_bytes());
    } else {
        return false;
    }
    true
}

/// `rdbSaveRawString`: integer encoding for short canonical integers, LZF above 20 bytes
/// when `compress` and it saves at least 4 bytes, else length and bytes.
pub fn write_string(out: &mut Vec<u8>, s: &[u8], compress: bool) {
    if s.len() <= 11 {
        if let Some(v) = redoubt_keyspace::num::string2ll(s) {
            if write_encoded_int(out, v) {
                return;
            }
        }
    }
    if compress && s.len() > 20 {
        if let Some(c) = lzf::compress(s, s.len() - 4) {
            out.push(0xc0 | ENC_LZF);
            write_len(out, c.len() as u64);
            write_len(out, s.len() as u64);
            out.extend_from_slice(&c);
            return;
        }
    }
    write_len(out, s.len() as u64);
    out.extend_from_slice(s);
}

/// `rdbSaveLongLongAsStringObject`.
pub fn write_int_string(out: &mut Vec<u8>, v: i64) {
    if !write_encoded_int(out, v) {
        let t = v.to_string();
        write_len(out, t.len() as u64);
        out.extend_from_slice(t.as_bytes());
    }
}

fn write_str_val(out: &mut Vec<u8>, s: &StrVal, compress: bool) {
    match s {
        StrVal::Int(n) => write_int_string(out, *n),
        other => write_string(out, &other.to_vec(), compress),
    }
}

/// `rdbSaveObjectType`.
pub fn value_type(v: &Value) -> u8 {
    match v {
        Value::Str(_) => TYPE_STRING,
        Value::List(_) => TYPE_LIST_QUICKLIST_2,
        Value::Set(s) => match **s {
            SetVal::IntSet(_) => TYPE_SET_INTSET,
            SetVal::HashTable(_) => TYPE_SET,
        },
        Value::ZSet(z) => {
            if z.is_listpack() {
                TYPE_ZSET_LISTPACK
            } else {
                TYPE_ZSET_2
            }
        }
        Value::Hash(h) => {
            if h.is_listpack() {
                TYPE_HASH_LISTPACK
            } else {
                TYPE_HASH
            }
        }
    }
}

/// quicklist's `optimization_level` byte caps for fill -1..-5.
const OPTIMIZATION_LEVEL: [usize; 5] = [4096, 8192, 16384, 32768, 65536];
const SIZE_SAFETY_LIMIT: usize = 8192;
/// quicklist's `packed_threshold`: larger elements get a plain node of their own.
const PACKED_THRESHOLD: usize = 1 << 30;

/// quicklist's `SIZE_ESTIMATE_OVERHEAD`: what one more entry is assumed to add beyond its
/// bytes.
const SIZE_ESTIMATE_OVERHEAD: usize = 8;

/// `_quicklistNodeAllowInsert` of Redis 7.0.15 (`quicklistNodeExceedsLimit`): may a node of
/// `node_sz` bytes and `count` entries take one more element of `sz` bytes? Checked
/// against DUMP of RPUSHed lists from redis-server 7.0.15 (node boundaries agree).
fn node_allows(node_sz: usize, count: usize, fill: i64, sz: usize) -> bool {
    let new_sz = node_sz + sz + SIZE_ESTIMATE_OVERHEAD;
    if fill < 0 {
        let level = (fill.unsigned_abs() as usize).min(5) - 1;
        new_sz <= OPTIMIZATION_LEVEL[level]
    } else {
        new_sz <= SIZE_SAFETY_LIMIT && (count as i64) < fill
    }
}

/// A list's quicklist nodes as Redis would have filled them by pushing at the tail:
/// (plain, elements).
fn quicklist_nodes(l: &ListVal, fill: i64) -> Vec<(bool, Vec<&[u8]>)> {
    let fill = fill.clamp(-5, 1 << 15);
    let mut nodes: Vec<(bool, Vec<&[u8]>)> = Vec::new();
    let mut node_sz = 0usize;
    for v in l.iter() {
        if v.len() >= PACKED_THRESHOLD {
            nodes.push((true, vec![v]));
            continue;
        }
        match nodes.last_mut() {
            Some((false, items)) if node_allows(node_sz, items.len(), fill, v.len()) => {
                items.push(v);
                node_sz += blobs::listpack_entry_size(v);
            }
            _ => {
                nodes.push((false, vec![v]));
                node_sz = 7 + blobs::listpack_entry_size(v);
            }
        }
    }
    nodes
}

/// Writes a value's body (`rdbSaveObject`); its type byte is [`value_type`].
/// `list_fill` is `list-max-listpack-size`, which decides the quicklist nodes.
pub fn write_value(out: &mut Vec<u8>, v: &Value, compress: bool, list_fill: i64) {
    match v {
        Value::Str(s) => write_str_val(out, s, compress),
        Value::List(l) => {
            let nodes = quicklist_nodes(l, list_fill);
            write_len(out, nodes.len() as u64);
            for (plain, items) in nodes {
                if plain {
                    write_len(out, QUICKLIST_NODE_PLAIN);
                    write_string(out, items[0], compress);
                } else {
                    write_len(out, QUICKLIST_NODE_PACKED);
                    write_string(out, &blobs::listpack(items), compress);
                }
            }
        }
        Value::Set(s) => match &**s {
            SetVal::IntSet(is) => {
                let vals: Vec<i64> = is.iter().collect();
                write_string(out, &blobs::intset(&vals), compress);
            }
            SetVal::HashTable(_) => {
                write_len(out, s.len() as u64);
                for m in s.iter() {
                    write_string(out, &m, compress);
                }
            }
        },
        Value::ZSet(z) => {
            if z.is_listpack() {
                let scores: Vec<Vec<u8>> = z
                    .iter()
                    .map(|(_, s)| redoubt_keyspace::num::d2string(s))
                    .collect();
                let items = z
                    .iter()
                    .zip(scores.iter())
                    .flat_map(|((m, _), s)| [m, &s[..]]);
                write_string(out, &blobs::listpack(items), compress);
            } else {
                // Tail to head, as Redis does so that loading inserts at the head cheaply.
                write_len(out, z.len() as u64);
                for (m, s) in z.iter().rev() {
                    write_string(out, m, compress);
                    out.extend_from_slice(&s.to_le_bytes());
                }
            }
        }
        Value::Hash(h) => {
            if h.is_listpack() {
                let items = h.iter().flat_map(|(f, v)| [f, v]);
                write_string(out, &blobs::listpack(items), compress);
            } else {
                write_len(out, h.len() as u64);
                for (f, v) in h.iter() {
                    write_string(out, f, compress);
                    write_string(out, v, compress);
                }
            }
        }
    }
}

/// DEBUG OBJECT's `serializedlength` (`rdbSavedObjectLen`): the body's size.
pub fn serialized_length(v: &Value, compress: bool, list_fill: i64) -> usize {
    let mut out = Vec::new();
    write_value(&mut out, v, compress, list_fill);
    out.len()
}

/// A DUMP payload (`createDumpPayload`): type, body, RDB version (2 bytes LE), CRC64 LE.
pub fn dump_payload(v: &Value, compress: bool, list_fill: i64) -> Vec<u8> {
    let mut out = vec![value_type(v)];
    write_value(&mut out, v, compress, list_fill);
    out.extend_from_slice(&RDB_VERSION.to_le_bytes());
    let crc = crc64::crc64(0, &out);
    out.extend_from_slice(&crc.to_le_bytes());
    out
}

/// An aux field's value: Redis writes numbers through `rdbSaveAuxFieldStrInt`.
pub enum Aux {
    Str(String),
    Int(i64),
}

/// A key's (IDLE seconds, FREQ counter) to write, if any.
pub type KeyMeta = dyn Fn(&Entry) -> (Option<u64>, Option<u8>);

/// How to write a file.
pub struct SaveOptions<'a> {
    pub compress: bool,
    pub checksum: bool,
    pub list_fill: i64,
    /// Aux fields in order (redis-ver, redis-bits, ctime, used-mem, ...).
    pub aux: Vec<(&'static str, Aux)>,
    /// The IDLE seconds or FREQ counter to write before a key, as `maxmemory-policy`
    /// decides (LRU policies save idle time, LFU ones the frequency).
    pub key_meta: &'a KeyMeta,
}

/// A whole RDB file (`rdbSaveRio`).
pub fn save(dbs: &[Db], opts: &SaveOptions<'_>) -> Vec<u8> {
    let mut out = header(opts);
    for (i, db) in dbs.iter().enumerate() {
        if db.is_empty() {
            continue;
        }
        select_db(&mut out, i, db.len(), db.expires_len());
        for e in db.iter() {
            let (idle, freq) = (opts.key_meta)(e);
            write_entry(&mut out, e, idle, freq, opts.compress, opts.list_fill);
        }
    }
    out.push(OP_EOF);
    let crc = if opts.checksum {
        crc64::crc64(0, &out)
    } else {
        0
    };
    out.extend_from_slice(&crc.to_le_bytes());
    out
}

/// The magic string and the aux fields: what precedes the first database.
pub fn header(opts: &SaveOptions<'_>) -> Vec<u8> {
    let mut out = Vec::with_capacity(4096);
    out.extend_from_slice(format!("REDIS{RDB_VERSION:04}").as_bytes());
    for (k, v) in &opts.aux {
        out.push(OP_AUX);
        write_string(&mut out, k.as_bytes(), opts.compress);
        match v {
            Aux::Str(s) => write_string(&mut out, s.as_bytes(), opts.compress),
            Aux::Int(n) => write_string(&mut out, n.to_string().as_bytes(), opts.compress),
        }
    }
    out
}

/// SELECTDB and the RESIZEDB hint that open a database's entries.
pub fn select_db(out: &mut Vec<u8>, index: usize, keys: usize, expires: usize) {
    out.push(OP_SELECTDB);
    write_len(out, index as u64);
    out.push(OP_RESIZEDB);
    write_len(out, keys as u64);
    write_len(out, expires as u64);
}

/// The opcode that ends the data; the 8-byte checksum follows it.
pub fn eof(out: &mut Vec<u8>) {
    out.push(OP_EOF);
}

/// `rdbSaveKeyValuePair`: TTL, IDLE or FREQ, type, key, value.
pub fn write_entry(
    out: &mut Vec<u8>,
    e: &Entry,
    idle: Option<u64>,
    freq: Option<u8>,
    compress: bool,
    list_fill: i64,
) {
    if e.expire_at_ms != redoubt_keyspace::NO_EXPIRE {
        out.push(OP_EXPIRETIME_MS);
        out.extend_from_slice(&e.expire_at_ms.to_le_bytes());
    }
    if let Some(idle) = idle {
        out.push(OP_IDLE);
        write_len(out, idle);
    }
    if let Some(f) = freq {
        out.push(OP_FREQ);
        out.push(f);
    }
    out.push(value_type(&e.value));
    write_string(out, &e.key, compress);
    write_value(out, &e.value, compress, list_fill);
}
