//! Reading RDB files and DUMP payloads (`rdbLoadRioWithLoadingCtx`, `rdbLoadObject`).
//!
//! Every length read from the input is checked against what remains before anything is
//! allocated, so a corrupt or hostile file costs at most its own size in memory and ends in
//! an [`RdbError`] carrying the offset where reading stopped, never a panic. Loaded values
//! get the encoding Redis 7.0 gives them after a load (compact forms stay compact within
//! the configured [`Thresholds`], larger ones are converted), so OBJECT ENCODING agrees.

use super::*;
use redoubt_keyspace::hash::HashVal;
use redoubt_keyspace::list::ListVal;
use redoubt_keyspace::set::SetVal;
use redoubt_keyspace::zset::ZSetVal;
use redoubt_keyspace::{Db, StrVal, Value};
use std::collections::HashSet;

type R<T> = Result<T, RdbError>;

/// A cursor over the input that reports errors at its position.
pub struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    pub fn new(buf: &'a [u8]) -> Self {
        Reader { buf, pos: 0 }
    }

    pub fn pos(&self) -> usize {
        self.pos
    }

    fn err_at(&self, offset: usize, kind: RdbErrorKind) -> RdbError {
        RdbError { offset, kind }
    }

    fn err(&self, kind: RdbErrorKind) -> RdbError {
        self.err_at(self.pos, kind)
    }

    fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    fn u8(&mut self) -> R<u8> {
        let b = *self
            .buf
            .get(self.pos)
            .ok_or_else(|| self.err(RdbErrorKind::Truncated))?;
        self.pos += 1;
        Ok(b)
    }

    fn take(&mut self, n: u64) -> R<&'a [u8]> {
        if n > self.remaining() as u64 {
            return Err(self.err(RdbErrorKind::Truncated));
        }
        let s = &self.buf[self.pos..self.pos + n as usize];
        self.pos += n as usize;
        Ok(s)
    }

    fn array<const N: usize>(&mut self) -> R<[u8; N]> {
        let s = self.take(N as u64)?;
        let mut a = [0u8; N];
        a.copy_from_slice(s);
        Ok(a)
    }

    /// `rdbLoadLenByRef`: (value, is an encoded special string).
    fn len_enc(&mut self) -> R<(u64, bool)> {
        let b = self.u8()?;
        Ok(match b >> 6 {
            0 => (u64::from(b & 0x3f), false),
            1 => (u64::from(b & 0x3f) << 8 | u64::from(self.u8()?), false),
            3 => (u64::from(b & 0x3f), true),
            _ => match b {
                LEN_32BIT => (u64::from(u32::from_be_bytes(self.array()?)), false),
                LEN_64BIT => (u64::from_be_bytes(self.array()?), false),
                _ => {
                    return Err(self.err_at(self.pos - 1, RdbErrorKind::Corrupt("length encoding")))
                }
            },
        })
    }

    pub fn length(&mut self) -> R<u64> {
        let at = self.pos;
        match self.len_enc()? {
            (n, false) => Ok(n),
            (_, true) => Err(self.err_at(at, RdbErrorKind::Corrupt("length"))),
        }
    }

    /// A count of items each taking at least `min_bytes` of input: refused when the input
    /// cannot hold that many, so it can size an allocation safely.
    fn count(&mut self, min_bytes: usize) -> R<usize> {
        let at = self.pos;
        let n = self.length()?;
        if n > (self.remaining() / min_bytes.max(1)) as u64 {
            return Err(self.err_at(at, RdbErrorKind::Truncated));
        }
        Ok(n as usize)
    }

    /// `rdbGenericLoadStringObject`: raw, integer-encoded or LZF strings.
    pub fn string(&mut self) -> R<Vec<u8>> {
        let at = self.pos;
        let (n, enc) = self.len_enc()?;
        if !enc {
            return Ok(self.take(n)?.to_vec());
        }
        match n as u8 {
            ENC_INT8 => Ok(i64::from(self.u8()? as i8).to_string().into_bytes()),
            ENC_INT16 => Ok(i64::from(i16::from_le_bytes(self.array()?))
                .to_string()
                .into_bytes()),
            ENC_INT32 => Ok(i64::from(i32::from_le_bytes(self.array()?))
                .to_string()
                .into_bytes()),
            ENC_LZF => {
                let clen = self.length()?;
                let ulen = self.length()?;
                let data = self.take(clen)?;
                // LZF expands at most 264 bytes per 3 input bytes: a larger claim is
                // corrupt, and refusing it bounds the allocation by the input size.
                if ulen == 0 || ulen > clen.saturating_mul(88).saturating_add(64) {
                    return Err(self.err_at(at, RdbErrorKind::Corrupt("LZF length")));
                }
                lzf::decompress(data, ulen as usize)
                    .ok_or_else(|| self.err_at(at, RdbErrorKind::Corrupt("LZF data")))
            }
            _ => Err(self.err_at(at, RdbErrorKind::Corrupt("string encoding"))),
        }
    }

    fn binary_double(&mut self) -> R<f64> {
        Ok(f64::from_le_bytes(self.array()?))
    }

    /// `rdbLoadDoubleValue`: the text encoding of RDB_TYPE_ZSET.
    fn text_double(&mut self) -> R<f64> {
        let at = self.pos;
        match self.u8()? {
            253 => Ok(f64::NAN),
            254 => Ok(f64::INFINITY),
            255 => Ok(f64::NEG_INFINITY),
            n => {
                let s = self.take(u64::from(n))?;
                std::str::from_utf8(s)
                    .ok()
                    .and_then(|t| t.trim().parse::<f64>().ok())
                    .ok_or_else(|| self.err_at(at, RdbErrorKind::Corrupt("double value")))
            }
        }
    }
}

/// One loaded value, or `None` for an empty collection (Redis skips those keys).
pub fn read_value(r: &mut Reader<'_>, ty: u8, key: &[u8], th: &Thresholds) -> R<Option<Value>> {
    let at = r.pos();
    let corrupt = |what: &'static str| RdbError {
        offset: at,
        kind: RdbErrorKind::Corrupt(what),
    };
    let unsupported = |what: String| RdbError {
        offset: at,
        kind: RdbErrorKind::Unsupported {
            what,
            key: show_key(key),
        },
    };
    let value = match ty {
        TYPE_STRING => Value::Str(StrVal::encode(&r.string()?)),
        TYPE_LIST => {
            let n = r.count(1)?;
            let mut l = ListVal::with_fill(th.list_max_listpack_size);
            for _ in 0..n {
                l.push(false, &r.string()?);
            }
            Value::List(Box::new(l))
        }
        TYPE_SET => {
            let n = r.count(1)?;
            let mut s = if n <= th.set_max_intset_entries {
                SetVal::new()
            } else {
                SetVal::new_for(b"not an integer")
            };
            for _ in 0..n {
                if !s.add(&r.string()?, th.set_max_intset_entries) {
                    return Err(corrupt("set with duplicate members"));
                }
            }
            Value::Set(Box::new(s))
        }
        TYPE_ZSET | TYPE_ZSET_2 => {
            let n = r.count(2)?;
            // Capacity hints stay small: a count is only as good as the data behind it.
            let mut members = Vec::with_capacity(n.min(4096));
            let mut seen = HashSet::with_capacity(n.min(4096));
            for _ in 0..n {
                let m = r.string()?;
                let s = if ty == TYPE_ZSET_2 {
                    r.binary_double()?
                } else {
                    r.text_double()?
                };
                if s.is_nan() {
                    return Err(corrupt("zset with a NaN score"));
                }
                if !seen.insert(m.clone()) {
                    return Err(corrupt("zset with duplicate members"));
                }
                members.push((m.into_boxed_slice(), s));
            }
            Value::ZSet(Box::new(ZSetVal::from_members(
                members,
                th.zset_max_listpack_entries,
                th.zset_max_listpack_value,
            )))
        }
        TYPE_HASH => {
            let n = r.count(2)?;
            let mut h = HashVal::new();
            if n > th.hash_max_listpack_entries {
                h.convert_to_table();
            }
            for _ in 0..n {
                let f = r.string()?;
                let v = r.string()?;
                if h.is_listpack()
                    && (f.len() > th.hash_max_listpack_value
                        || v.len() > th.hash_max_listpack_value)
                {
                    h.convert_to_table();
                }
                if !h.set(&f, &v) {
                    return Err(corrupt("hash with duplicate fields"));
                }
            }
            Value::Hash(h)
        }
        TYPE_LIST_QUICKLIST | TYPE_LIST_QUICKLIST_2 => {
            let n = r.count(2)?;
            let mut l = ListVal::with_fill(th.list_max_listpack_size);
            for _ in 0..n {
                let container = if ty == TYPE_LIST_QUICKLIST_2 {
                    r.length()?
                } else {
                    QUICKLIST_NODE_PACKED
                };
                let blob_at = r.pos();
                let blob = r.string()?;
                match container {
                    QUICKLIST_NODE_PLAIN => l.push(false, &blob),
                    QUICKLIST_NODE_PACKED => {
                        let items = if ty == TYPE_LIST_QUICKLIST {
                            blobs::ziplist_entries(&blob)
                        } else {
                            blobs::listpack_entries(&blob)
                        }
                        .map_err(|e| RdbError {
                            offset: blob_at,
                            kind: RdbErrorKind::Corrupt(e),
                        })?;
                        for v in items {
                            l.push(false, &v);
                        }
                    }
                    _ => return Err(corrupt("quicklist node container")),
                }
            }
            Value::List(Box::new(l))
        }
        TYPE_HASH_ZIPMAP | TYPE_LIST_ZIPLIST | TYPE_SET_INTSET | TYPE_ZSET_ZIPLIST
        | TYPE_HASH_ZIPLIST | TYPE_HASH_LISTPACK | TYPE_ZSET_LISTPACK => {
            let blob = r.string()?;
            let blob_err = |e: &'static str| RdbError {
                offset: at,
                kind: RdbErrorKind::Corrupt(e),
            };
            match ty {
                TYPE_SET_INTSET => {
                    let vals = blobs::intset_values(&blob).map_err(blob_err)?;
                    let mut s = SetVal::new();
                    if vals.len() > th.set_max_intset_entries {
                        s = SetVal::new_for(b"not an integer");
                    }
                    let mut buf = redoubt_keyspace::value::itoa_buf::Buf::default();
                    for v in vals {
                        s.add(buf.format(v), usize::MAX);
                    }
                    Value::Set(Box::new(s))
                }
                TYPE_LIST_ZIPLIST => {
                    let items = blobs::ziplist_entries(&blob).map_err(blob_err)?;
                    let mut l = ListVal::with_fill(th.list_max_listpack_size);
                    for v in items {
                        l.push(false, &v);
                    }
                    Value::List(Box::new(l))
                }
                TYPE_ZSET_ZIPLIST | TYPE_ZSET_LISTPACK => {
                    let items = if ty == TYPE_ZSET_ZIPLIST {
                        blobs::ziplist_entries(&blob)
                    } else {
                        blobs::listpack_entries(&blob)
                    }
                    .map_err(blob_err)?;
                    if items.len() % 2 != 0 {
                        return Err(corrupt("zset listpack with an odd entry count"));
                    }
                    let mut members = Vec::with_capacity(items.len() / 2);
                    let mut seen = HashSet::with_capacity(items.len() / 2);
                    let mut it = items.into_iter();
                    while let (Some(m), Some(s)) = (it.next(), it.next()) {
                        let score = redoubt_keyspace::num::string2d(&s)
                            .filter(|d| !d.is_nan())
                            .ok_or_else(|| corrupt("zset listpack score"))?;
                        if !seen.insert(m.clone()) {
                            return Err(corrupt("zset with duplicate members"));
                        }
                        members.push((m.into_boxed_slice(), score));
                    }
                    // zsetConvert happens only past the entry count (rdbLoadObject).
                    Value::ZSet(Box::new(ZSetVal::from_members(
                        members,
                        th.zset_max_listpack_entries,
                        usize::MAX,
                    )))
                }
                _ => {
                    let pairs: Vec<(Vec<u8>, Vec<u8>)> = if ty == TYPE_HASH_ZIPMAP {
                        blobs::zipmap_pairs(&blob).map_err(blob_err)?
                    } else {
                        let items = if ty == TYPE_HASH_ZIPLIST {
                            blobs::ziplist_entries(&blob)
                        } else {
                            blobs::listpack_entries(&blob)
                        }
                        .map_err(blob_err)?;
                        if items.len() % 2 != 0 {
                            return Err(corrupt("hash listpack with an odd entry count"));
                        }
                        let mut it = items.into_iter();
                        let mut v = Vec::new();
                        while let (Some(f), Some(x)) = (it.next(), it.next()) {
                            v.push((f, x));
                        }
                        v
                    };
                    let mut h = HashVal::new();
                    let longest = pairs
                        .iter()
                        .map(|(f, v)| f.len().max(v.len()))
                        .max()
                        .unwrap_or(0);
                    // rdbLoadObject converts a zipmap by entry count or value length, a
                    // ziplist or listpack hash by entry count only (checked with
                    // redis-server 7.0.15: a listpack hash with a value over
                    // hash-max-listpack-value stays listpack after a load).
                    let too_long = ty == TYPE_HASH_ZIPMAP && longest > th.hash_max_listpack_value;
                    if pairs.len() > th.hash_max_listpack_entries || too_long {
                        h.convert_to_table();
                    }
                    for (f, v) in pairs {
                        if !h.set(&f, &v) {
                            return Err(corrupt("hash with duplicate fields"));
                        }
                    }
                    Value::Hash(h)
                }
            }
        }
        TYPE_STREAM_LISTPACKS | TYPE_STREAM_LISTPACKS_2 => {
            return Err(unsupported("stream".into()));
        }
        TYPE_MODULE_PRE_GA | TYPE_MODULE_2 => {
            let id = r.length()?;
            return Err(unsupported(format!(
                "module value (module type '{}')",
                module_name(id)
            )));
        }
        other => return Err(r.err_at(at.saturating_sub(1), RdbErrorKind::UnknownType(other))),
    };
    let empty = match &value {
        Value::Str(_) => false,
        Value::List(l) => l.is_empty(),
        Value::Hash(h) => h.is_empty(),
        Value::Set(s) => s.is_empty(),
        Value::ZSet(z) => z.is_empty(),
    };
    Ok((!empty).then_some(value))
}

/// What a load found, for the log lines and INFO.
#[derive(Debug, Default, Clone)]
pub struct LoadStats {
    pub version: u32,
    pub aux: Vec<(Vec<u8>, Vec<u8>)>,
    pub keys_loaded: u64,
    pub keys_expired: u64,
    pub empty_keys_skipped: u64,
    /// The trailer was 0: the file was saved with `rdbchecksum no` (nothing verified).
    pub checksum_disabled: bool,
    /// Bytes the RDB took (an AOF with an RDB preamble continues with commands after them).
    pub consumed: usize,
}

impl LoadStats {
    pub fn aux(&self, name: &str) -> Option<&[u8]> {
        self.aux
            .iter()
            .find(|(k, _)| k == name.as_bytes())
            .map(|(_, v)| &v[..])
    }
}

/// See [`LoadOptions::on_key`].
pub type KeyHook<'a> = dyn Fn(usize, &LoadStats) + 'a;

/// Options of a file load.
pub struct LoadOptions<'a> {
    pub thresholds: Thresholds,
    pub now_ms: i64,
    /// Keys already expired are dropped (a master's load; a replica keeps them).
    pub drop_expired: bool,
    /// `rdbchecksum`: verify a non-zero trailer.
    pub verify_checksum: bool,
    /// The access word of a loaded key from its IDLE seconds or FREQ counter (or `None`
    /// for the word new keys get).
    pub access_word: &'a dyn Fn(Option<u64>, Option<u8>) -> Option<u32>,
    /// Called after each key read (loaded, expired or skipped) with the reader's offset and
    /// the stats so far: the LOADING progress in INFO, and `key-load-delay`.
    pub on_key: Option<&'a KeyHook<'a>>,
}

/// Loads a whole RDB file into `dbs` (which the caller has emptied).
pub fn load(buf: &[u8], opts: &LoadOptions<'_>, dbs: &mut [Db]) -> R<LoadStats> {
    let mut r = Reader::new(buf);
    let magic = r.take(9).map_err(|_| RdbError {
        offset: 0,
        kind: RdbErrorKind::BadMagic,
    })?;
    if &magic[..5] != b"REDIS" {
        return Err(r.err_at(0, RdbErrorKind::BadMagic));
    }
    let version = std::str::from_utf8(&magic[5..])
        .ok()
        .and_then(|s| s.parse::<u32>().ok())
        .unwrap_or(0);
    if !(1..=u32::from(RDB_VERSION)).contains(&version) {
        return Err(r.err_at(5, RdbErrorKind::BadVersion(version)));
    }
    let mut stats = LoadStats {
        version,
        ..LoadStats::default()
    };
    let mut db = 0usize;
    let mut expire_at: Option<i64> = None;
    let mut idle: Option<u64> = None;
    let mut freq: Option<u8> = None;
    loop {
        let op_at = r.pos();
        let ty = r.u8()?;
        match ty {
            OP_EXPIRETIME => {
                let s = i32::from_le_bytes(r.array()?);
                expire_at = Some(i64::from(s) * 1000);
                continue;
            }
            OP_EXPIRETIME_MS => {
                expire_at = Some(i64::from_le_bytes(r.array()?));
                continue;
            }
            OP_FREQ => {
                freq = Some(r.u8()?);
                continue;
            }
            OP_IDLE => {
                idle = Some(r.length()?);
                continue;
            }
            OP_EOF => break,
            OP_SELECTDB => {
                let n = r.length()?;
                if n >= dbs.len() as u64 {
                    return Err(r.err_at(op_at, RdbErrorKind::TooManyDbs(dbs.len())));
                }
                db = n as usize;
                continue;
            }
            OP_RESIZEDB => {
                let keys = r.length()?;
                r.length()?;
                // A hint only: capped by what the rest of the file could hold (a key
                // takes at least 3 bytes), so a corrupt one cannot reserve much.
                let cap = (r.remaining() / 3) as u64;
                dbs[db].reserve(keys.min(cap) as usize);
                continue;
            }
            OP_AUX => {
                let k = r.string()?;
                let v = r.string()?;
                stats.aux.push((k, v));
                continue;
            }
            OP_MODULE_AUX => {
                let id = r.length()?;
                let when_op = r.length()?;
                r.length()?;
                if when_op != 2 {
                    return Err(r.err_at(op_at, RdbErrorKind::Corrupt("module aux when_opcode")));
                }
                // Redis 7.0 exits when no loaded module claims the data; so do we.
                return Err(r.err_at(op_at, RdbErrorKind::Module(module_name(id))));
            }
            OP_FUNCTION | OP_FUNCTION2 => {
                return Err(r.err_at(op_at, RdbErrorKind::Functions));
            }
            _ => {}
        }
        let key = r.string()?;
        let value = read_value(&mut r, ty, &key, &opts.thresholds)?;
        let exp = expire_at.take();
        let (idle_v, freq_v) = (idle.take(), freq.take());
        if let Some(f) = opts.on_key {
            f(r.pos(), &stats);
        }
        let Some(value) = value else {
            stats.empty_keys_skipped += 1;
            continue;
        };
        if opts.drop_expired && exp.is_some_and(|t| t < opts.now_ms) {
            stats.keys_expired += 1;
            continue;
        }
        let d = &mut dbs[db];
        let Some(slot) = d.insert_loaded(&key, value, exp) else {
            return Err(r.err_at(
                op_at,
                RdbErrorKind::DuplicateKey {
                    key: show_key(&key),
                    db,
                },
            ));
        };
        if let Some(w) = (opts.access_word)(idle_v, freq_v) {
            d.at_mut(slot).lru = w;
        }
        stats.keys_loaded += 1;
    }
    if version >= 5 {
        let at = r.pos();
        let expected = crc64::crc64(0, &buf[..at]);
        let got = u64::from_le_bytes(r.array()?);
        stats.checksum_disabled = got == 0;
        if opts.verify_checksum && got != 0 && got != expected {
            return Err(r.err_at(at, RdbErrorKind::BadChecksum { expected, got }));
        }
    }
    stats.consumed = r.pos();
    Ok(stats)
}

/// Checks a DUMP payload's trailer (`verifyDumpPayload`): the RDB version (at most ours)
/// and the CRC64.
pub fn verify_payload(p: &[u8]) -> bool {
    verified_body(p).is_some()
}

fn verified_body(p: &[u8]) -> Option<&[u8]> {
    if p.len() < 10 {
        return None;
    }
    let (body, footer) = p.split_at(p.len() - 8);
    let ver = u16::from_le_bytes([body[body.len() - 2], body[body.len() - 1]]);
    if ver > RDB_VERSION {
        return None;
    }
    let crc = u64::from_le_bytes(footer.try_into().ok()?);
    (crc64::crc64(0, body) == crc).then_some(&body[..body.len() - 2])
}

/// Decodes a verified payload's value (RESTORE). As in Redis 7.0 the reader runs over the
/// whole payload: a value may extend into the version and checksum bytes, and bytes left
/// after it are ignored (checked with redis-server 7.0.15).
pub fn payload_value(payload: &[u8], key: &[u8], th: &Thresholds) -> R<Option<Value>> {
    let mut r = Reader::new(payload);
    let ty = r.u8()?;
    read_value(&mut r, ty, key, th)
}
