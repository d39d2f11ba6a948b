//! HyperLogLog registers in Redis 7.0's exact byte layout (hyperloglog.c), so an HLL is a
//! plain string that moves between Redoubt and Redis unchanged (GET/SET, DUMP/RESTORE, RDB,
//! replication) and PFCOUNT gives the same number on both.
//!
//! Layout: a 16-byte header `"HYLL"`, one encoding byte (0 dense, 1 sparse), three unused
//! bytes, and the cached cardinality as 8 little-endian bytes whose most significant bit set
//! means "stale". Then either 16384 6-bit registers packed LSB first (dense, 12288 bytes), or
//! a run-length code (sparse) of three opcodes:
//! - `ZERO`  `00xxxxxx`: 1..=64 registers at 0;
//! - `XZERO` `01xxxxxx yyyyyyyy`: 1..=16384 registers at 0 (14-bit length minus one);
//! - `VAL`   `1vvvvvxx`: 1..=4 registers at value 1..=32.
//!
//! Every function here mirrors the Redis function named in its comment step by step,
//! including how it treats corrupted input (a byte read past the end is the sds terminator,
//! i.e. 0), because a byte-identical result is the point: the same PFADDs must leave the same
//! bytes, and the same corrupt value must get the same answer.

/// Header bytes (`HLL_HDR_SIZE`).
pub const HDR_SIZE: usize = 16;
/// `HLL_P`: index bits.
const P: u32 = 14;
/// `HLL_Q`: bits left for the run of zeroes.
const Q: usize = 64 - P as usize;
pub const REGISTERS: usize = 1 << P;
const P_MASK: u64 = REGISTERS as u64 - 1;
const BITS: usize = 6;
const REGISTER_MAX: u8 = (1 << BITS) - 1;
/// Length of a dense HLL string (`HLL_DENSE_SIZE`).
pub const DENSE_SIZE: usize = HDR_SIZE + (REGISTERS * BITS).div_ceil(8);
pub const DENSE: u8 = 0;
pub const SPARSE: u8 = 1;
const MAX_ENCODING: u8 = 1;
/// Largest register value a sparse `VAL` opcode can hold.
pub const SPARSE_VAL_MAX_VALUE: u8 = 32;
const SPARSE_VAL_MAX_LEN: usize = 4;
const SPARSE_ZERO_MAX_LEN: usize = 64;
const SPARSE_XZERO_MAX_LEN: usize = 16384;
/// `HLL_ALPHA_INF`: 1 / (2 ln 2).
const ALPHA_INF: f64 = 0.721_347_520_444_481_7;
const SEED: u32 = 0xadc8_3b19;

/// The representation is corrupt (Redis's `-INVALIDOBJ Corrupted HLL object detected`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Corrupt;

/// `createHLLObject`: an empty sparse HLL, one XZERO covering every register, and a cached
/// cardinality of 0 marked valid.
pub fn new_sparse() -> Vec<u8> {
    let mut h = vec![0u8; HDR_SIZE];
    h[..4].copy_from_slice(b"HYLL");
    h[4] = SPARSE;
    let mut left = REGISTERS;
    while left > 0 {
        let n = left.min(SPARSE_XZERO_MAX_LEN);
        h.extend_from_slice(&xzero_op(n));
        left -= n;
    }
    h
}

/// The checks of `isHLLObjectOrReply` after the type check: the caller has already
/// refused integer-encoded strings (not `sdsEncodedObject`).
pub fn is_valid(h: &[u8]) -> bool {
    h.len() >= HDR_SIZE
        && &h[..4] == b"HYLL"
        && h[4] <= MAX_ENCODING
        && (h[4] != DENSE || h.len() == DENSE_SIZE)
}

pub fn encoding(h: &[u8]) -> u8 {
    h[4]
}

/// The cached cardinality when it is valid (`HLL_VALID_CACHE`).
pub fn cached_card(h: &[u8]) -> Option<u64> {
    let card: [u8; 8] = h[8..16].try_into().expect("header checked by is_valid");
    (card[7] & 0x80 == 0).then(|| u64::from_le_bytes(card))
}

pub fn set_cached_card(h: &mut [u8], card: u64) {
    h[8..16].copy_from_slice(&card.to_le_bytes());
}

/// `HLL_INVALIDATE_CACHE`.
pub fn invalidate_cache(h: &mut [u8]) {
    h[15] |= 0x80;
}

/// `MurmurHash64A` as Redis ships it: 8-byte blocks read little endian on every platform.
pub fn murmur64a(key: &[u8], seed: u32) -> u64 {
    const M: u64 = 0xc6a4_a793_5bd1_e995;
    const R: u32 = 47;
    let mut h = u64::from(seed) ^ (key.len() as u64).wrapping_mul(M);
    let mut blocks = key.chunks_exact(8);
    for b in &mut blocks {
        let mut k = u64::from_le_bytes(b.try_into().expect("chunks of 8"));
        k = k.wrapping_mul(M);
        k ^= k >> R;
        k = k.wrapping_mul(M);
        h ^= k;
        h = h.wrapping_mul(M);
    }
    let tail = blocks.remainder();
    if !tail.is_empty() {
        for (i, &b) in tail.iter().enumerate() {
            h ^= u64::from(b) << (8 * i);
        }
        h = h.wrapping_mul(M);
    }
    h ^= h >> R;
    h = h.wrapping_mul(M);
    h ^= h >> R;
    h
}

/// `hllPatLen`: the register an element maps to and the length of its run of zeroes
/// plus one (1..=51).
pub fn pat_len(ele: &[u8]) -> (usize, u8) {
    let hash = murmur64a(ele, SEED);
    let index = (hash & P_MASK) as usize;
    // The sentinel bit bounds the count at Q+1 when every other bit is zero.
    let rest = (hash >> P) | (1u64 << Q);
    (index, rest.trailing_zeros() as u8 + 1)
}

// ---- dense ----

/// `HLL_DENSE_GET_REGISTER` on the whole string (header included). The last register
/// reads one byte past the end: Redis reads the sds terminator there, here a 0.
fn dense_get(h: &[u8], regnum: usize) -> u8 {
    let byte = HDR_SIZE + regnum * BITS / 8;
    let fb = (regnum * BITS) & 7;
    let b0 = u16::from(h[byte]);
    let b1 = u16::from(h.get(byte + 1).copied().unwrap_or(0));
    (((b0 >> fb) | (b1 << (8 - fb))) & u16::from(REGISTER_MAX)) as u8
}

/// `HLL_DENSE_SET_REGISTER`.
fn dense_put(h: &mut [u8], regnum: usize, val: u8) {
    let byte = HDR_SIZE + regnum * BITS / 8;
    let fb = (regnum * BITS) & 7;
    let fb8 = 8 - fb;
    let v = u16::from(val);
    let m = u16::from(REGISTER_MAX);
    h[byte] = ((u16::from(h[byte]) & !(m << fb)) | (v << fb)) as u8;
    // For the last register the high part is empty (63 >> fb8 == 0): nothing to write.
    if let Some(b1) = h.get_mut(byte + 1) {
        *b1 = ((u16::from(*b1) & !(m >> fb8)) | (v >> fb8)) as u8;
    }
}

/// `hllDenseSet`: raises the register to `count` if it is lower.
fn dense_set(h: &mut [u8], index: usize, count: u8) -> bool {
    if count > dense_get(h, index) {
        dense_put(h, index, count);
        true
    } else {
        false
    }
}

// ---- sparse opcodes ----

fn is_zero(b: u8) -> bool {
    b & 0xc0 == 0
}
fn is_xzero(b: u8) -> bool {
    b & 0xc0 == 0x40
}
fn is_val(b: u8) -> bool {
    b & 0x80 != 0
}
fn zero_len(b: u8) -> usize {
    usize::from(b & 0x3f) + 1
}
fn xzero_len(b: u8, next: u8) -> usize {
    ((usize::from(b & 0x3f) << 8) | usize::from(next)) + 1
}
fn val_value(b: u8) -> u8 {
    ((b >> 2) & 0x1f) + 1
}
fn val_len(b: u8) -> usize {
    usize::from(b & 0x3) + 1
}
fn val_op(val: u8, len: usize) -> u8 {
    debug_assert!((1..=SPARSE_VAL_MAX_VALUE).contains(&val) && (1..=4).contains(&len));
    ((val - 1) << 2) | (len - 1) as u8 | 0x80
}
fn zero_op(len: usize) -> u8 {
    debug_assert!((1..=SPARSE_ZERO_MAX_LEN).contains(&len));
    (len - 1) as u8
}
fn xzero_op(len: usize) -> [u8; 2] {
    debug_assert!((1..=SPARSE_XZERO_MAX_LEN).contains(&len));
    let l = len - 1;
    [(l >> 8) as u8 | 0x40, (l & 0xff) as u8]
}

/// The byte at `i`, or the sds terminator (0) past the end.
fn byte_at(h: &[u8], i: usize) -> u8 {
    h.get(i).copied().unwrap_or(0)
}

/// One decoded opcode: (registers covered, value, bytes used).
enum Op {
    Zero(usize),
    Xzero(usize),
    Val(u8, usize),
}

fn op_at(h: &[u8], p: usize) -> Op {
    let b = h[p];
    if is_zero(b) {
        Op::Zero(zero_len(b))
    } else if is_xzero(b) {
        Op::Xzero(xzero_len(b, byte_at(h, p + 1)))
    } else {
        Op::Val(val_value(b), val_len(b))
    }
}

/// Walks the sparse opcodes as `hllSparseToDense` and `hllMerge` do, calling `f(index,
/// value, run)` for each VAL run; a VAL run overflowing the register count stops the walk.
/// Corrupt unless the runs cover exactly [`REGISTERS`].
fn sparse_walk(h: &[u8], mut f: impl FnMut(usize, u8, usize)) -> Result<(), Corrupt> {
    let mut idx = 0usize;
    let mut p = HDR_SIZE;
    while p < h.len() {
        match op_at(h, p) {
            Op::Zero(n) => {
                idx += n;
                p += 1;
            }
            Op::Xzero(n) => {
                idx += n;
                p += 2;
            }
            Op::Val(v, n) => {
                if n + idx > REGISTERS {
                    break;
                }
                f(idx, v, n);
                idx += n;
                p += 1;
            }
        }
    }
    if idx == REGISTERS {
        Ok(())
    } else {
        Err(Corrupt)
    }
}

/// `hllSparseToDense`: the header (magic, unused bytes, cached cardinality) is kept, the
/// encoding becomes dense. A dense HLL is left alone.
pub fn sparse_to_dense(h: &mut Vec<u8>) -> Result<(), Corrupt> {
    if h[4] == DENSE {
        return Ok(());
    }
    let mut dense = vec![0u8; DENSE_SIZE];
    dense[..HDR_SIZE].copy_from_slice(&h[..HDR_SIZE]);
    dense[4] = DENSE;
    sparse_walk(h, |idx, v, n| {
        for r in idx..idx + n {
            dense_put(&mut dense, r, v);
        }
    })?;
    *h = dense;
    Ok(())
}

/// `hllSparseSet`: raises register `index` to `count` in a sparse HLL, splitting the
/// opcode that covers it and merging equal neighbours afterwards. Promotes to dense when
/// the value does not fit a VAL opcode or the string would grow past `sparse_max_bytes`.
/// True when a register changed.
fn sparse_set(
    h: &mut Vec<u8>,
    index: usize,
    count: u8,
    sparse_max_bytes: u64,
) -> Result<bool, Corrupt> {
    if count > SPARSE_VAL_MAX_VALUE {
        return promote(h, index, count);
    }
    // Step 1: find the opcode covering `index`.
    let mut end = h.len();
    let mut p = HDR_SIZE;
    let mut first = 0usize;
    let mut prev: Option<usize> = None;
    let mut span = 0usize;
    while p < end {
        let oplen;
        (span, oplen) = match op_at(h, p) {
            Op::Zero(n) => (n, 1),
            Op::Val(_, n) => (n, 1),
            Op::Xzero(n) => (n, 2),
        };
        if index < first + span {
            break;
        }
        prev = Some(p);
        p += oplen;
        first += span;
    }
    if span == 0 || p >= end {
        return Err(Corrupt);
    }
    let b = h[p];
    let runlen = span;

    // Step 2: the trivial in-place updates, then the general split.
    let mut updated_in_place = false;
    if is_val(b) {
        if val_value(b) >= count {
            return Ok(false);
        }
        if runlen == 1 {
            h[p] = val_op(count, 1);
            updated_in_place = true;
        }
    } else if is_zero(b) && runlen == 1 {
        h[p] = val_op(count, 1);
        updated_in_place = true;
    }

    if !updated_in_place {
        let mut seq: Vec<u8> = Vec::with_capacity(5);
        let last = first + span - 1;
        if is_val(b) {
            let curval = val_value(b);
            if index != first {
                seq.push(val_op(curval, index - first));
            }
            seq.push(val_op(count, 1));
            if index != last {
                seq.push(val_op(curval, last - index));
            }
        } else {
            let zeros = |seq: &mut Vec<u8>, len: usize| {
                if len > SPARSE_ZERO_MAX_LEN {
                    seq.extend_from_slice(&xzero_op(len));
                } else {
                    seq.push(zero_op(len));
                }
            };
            if index != first {
                zeros(&mut seq, index - first);
            }
            seq.push(val_op(count, 1));
            if index != last {
                zeros(&mut seq, last - index);
            }
        }
        // Step 3: put the new sequence in place of the old opcode.
        let oldlen = if is_xzero(b) { 2 } else { 1 };
        let new_len = (end + seq.len()) as i64 - oldlen as i64;
        if seq.len() > oldlen && new_len as u64 > sparse_max_bytes {
            return promote(h, index, count);
        }
        // An XZERO cut short by the end of the string had its second byte read as the
        // terminator; Redis then keeps `len + delta` bytes, which the truncate reproduces.
        let tail = (p + oldlen).min(end);
        h.splice(p..tail, seq);
        h.truncate(new_len as usize);
        end = h.len();
    }

    // Step 4: merge adjacent VAL opcodes of equal value, scanning up to 5 opcodes from the
    // one before the change.
    let mut p = prev.unwrap_or(HDR_SIZE);
    let mut scanlen = 5;
    while p < end {
        if scanlen == 0 {
            break;
        }
        scanlen -= 1;
        let b = h[p];
        if is_xzero(b) {
            p += 2;
            continue;
        }
        if is_zero(b) {
            p += 1;
            continue;
        }
        if p + 1 < end && is_val(h[p + 1]) {
            let v1 = val_value(b);
            let next = h[p + 1];
            if v1 == val_value(next) {
                let len = val_len(b) + val_len(next);
                if len <= SPARSE_VAL_MAX_LEN {
                    h[p + 1] = val_op(v1, len);
                    h.remove(p);
                    end -= 1;
                    continue;
                }
            }
        }
        p += 1;
    }
    invalidate_cache(h);
    Ok(true)
}

/// The `promote:` tail of `hllSparseSet`.
fn promote(h: &mut Vec<u8>, index: usize, count: u8) -> Result<bool, Corrupt> {
    sparse_to_dense(h)?;
    let changed = dense_set(h, index, count);
    // The register needed raising in the sparse form, so it does in the dense one.
    debug_assert!(changed, "promotion without a register change");
    Ok(changed)
}

/// `hllAdd`: true when a register changed. The caller invalidates the cached cardinality
/// (PFADD does it once per command, as Redis).
pub fn add(h: &mut Vec<u8>, ele: &[u8], sparse_max_bytes: u64) -> Result<bool, Corrupt> {
    let (index, count) = pat_len(ele);
    match h[4] {
        DENSE => Ok(dense_set(h, index, count)),
        SPARSE => sparse_set(h, index, count, sparse_max_bytes),
        _ => Err(Corrupt),
    }
}

/// Raises register `index` to `count` (PFMERGE's write into its destination), in whatever
/// encoding the HLL has. A sparse error is ignored, as PFMERGE ignores `hllSparseSet`'s.
pub fn set_register(h: &mut Vec<u8>, index: usize, count: u8, sparse_max_bytes: u64) {
    debug_assert!(count > 0, "PFMERGE skips registers at zero");
    match h[4] {
        DENSE => {
            dense_set(h, index, count);
        }
        SPARSE => {
            let _ = sparse_set(h, index, count, sparse_max_bytes);
        }
        _ => {}
    }
}

/// `hllMerge`: `max[i] = max(max[i], register i)`.
pub fn merge(max: &mut [u8], h: &[u8]) -> Result<(), Corrupt> {
    assert_eq!(max.len(), REGISTERS);
    if h[4] == DENSE {
        for (i, m) in max.iter_mut().enumerate() {
            *m = (*m).max(dense_get(h, i));
        }
        return Ok(());
    }
    sparse_walk(h, |idx, v, n| {
        for m in &mut max[idx..idx + n] {
            *m = (*m).max(v);
        }
    })
}

/// The 16384 register values of a dense HLL (PFDEBUG GETREG).
pub fn dense_registers(h: &[u8]) -> Vec<u8> {
    debug_assert_eq!(h[4], DENSE);
    (0..REGISTERS).map(|i| dense_get(h, i)).collect()
}

// ---- the estimator ----

/// `hllSigma` (Ertl's improved estimator).
fn sigma(mut x: f64) -> f64 {
    if x == 1.0 {
        return f64::INFINITY;
    }
    let mut y = 1.0;
    let mut z = x;
    loop {
        x *= x;
        let z_prime = z;
        z += x * y;
        y += y;
        if z_prime == z {
            return z;
        }
    }
}

/// `hllTau`.
fn tau(mut x: f64) -> f64 {
    if x == 0.0 || x == 1.0 {
        return 0.0;
    }
    let mut y = 1.0;
    let mut z = 1.0 - x;
    loop {
        x = x.sqrt();
        let z_prime = z;
        y *= 0.5;
        z -= (1.0 - x).powf(2.0) * y;
        if z_prime == z {
            return z / 3.0;
        }
    }
}

/// The tail of `hllCount` from the register histogram.
fn count_histo(reghisto: &[i64; 64]) -> u64 {
    let m = REGISTERS as f64;
    let mut z = m * tau((m - reghisto[Q + 1] as f64) / m);
    for j in (1..=Q).rev() {
        z += reghisto[j] as f64;
        z *= 0.5;
    }
    z += m * sigma(reghisto[0] as f64 / m);
    // llroundl of a double: halves round away from zero, as f64::round.
    (ALPHA_INF * m * m / z).round() as u64
}

/// `hllCount` of one stored HLL. Corrupt when sparse runs do not cover every register.
pub fn count(h: &[u8]) -> Result<u64, Corrupt> {
    let mut reghisto = [0i64; 64];
    if h[4] == DENSE {
        for i in 0..REGISTERS {
            reghisto[usize::from(dense_get(h, i))] += 1;
        }
    } else {
        // `hllSparseRegHisto`: unlike the walk above, an overflowing VAL run still counts.
        let mut idx = 0usize;
        let mut p = HDR_SIZE;
        while p < h.len() {
            match op_at(h, p) {
                Op::Zero(n) => {
                    idx += n;
                    reghisto[0] += n as i64;
                    p += 1;
                }
                Op::Xzero(n) => {
                    idx += n;
                    reghisto[0] += n as i64;
                    p += 2;
                }
                Op::Val(v, n) => {
                    idx += n;
                    reghisto[usize::from(v)] += n as i64;
                    p += 1;
                }
            }
        }
        if idx != REGISTERS {
            return Err(Corrupt);
        }
    }
    Ok(count_histo(&reghisto))
}

/// `hllCount` of merged registers (the internal `HLL_RAW` encoding of multi-key PFCOUNT).
pub fn count_registers(max: &[u8]) -> u64 {
    let mut reghisto = [0i64; 64];
    for &r in max {
        reghisto[usize::from(r)] += 1;
    }
    count_histo(&reghisto)
}

/// PFDEBUG DECODE: the opcodes of a sparse HLL as `z:N`, `Z:N` and `v:VAL,N`.
pub fn decode_sparse(h: &[u8]) -> String {
    let mut parts = Vec::new();
    let mut p = HDR_SIZE;
    while p < h.len() {
        match op_at(h, p) {
            Op::Zero(n) => {
                parts.push(format!("z:{n}"));
                p += 1;
            }
            Op::Xzero(n) => {
                parts.push(format!("Z:{n}"));
                p += 2;
            }
            Op::Val(v, n) => {
                parts.push(format!("v:{v},{n}"));
                p += 1;
            }
        }
    }
    parts.join(" ")
}

/// PFSELFTEST: the dense register codec against a plain array, then a sparse HLL (promoted
/// at `sparse_max_bytes` as PFADD would) and a dense one fed the same `elements` distinct
/// elements, agreeing with each other and with the true count within six standard errors
/// at every power of ten. `Err` carries Redis's `TESTFAILED ...` message.
pub fn selftest(
    mut rand: impl FnMut() -> u64,
    sparse_max_bytes: u64,
    elements: u64,
) -> Result<(), String> {
    let mut h = vec![0u8; DENSE_SIZE];
    let mut expect = vec![0u8; REGISTERS];
    for _ in 0..1000 {
        for (i, e) in expect.iter_mut().enumerate() {
            let r = (rand() & u64::from(REGISTER_MAX)) as u8;
            *e = r;
            dense_put(&mut h, i, r);
        }
        for (i, &e) in expect.iter().enumerate() {
            if dense_get(&h, i) != e {
                return Err(format!("TESTFAILED Register error at {i}"));
            }
        }
    }
    let mut dense = new_sparse();
    sparse_to_dense(&mut dense).map_err(|_| "TESTFAILED dense conversion".to_string())?;
    let mut sparse = new_sparse();
    let relerr = 1.04 / (REGISTERS as f64).sqrt();
    let seed = rand();
    let mut checkpoint = 1u64;
    for j in 1..=elements {
        let ele = (j ^ seed).to_le_bytes();
        let corrupt = |_| "TESTFAILED corrupt HLL".to_string();
        add(&mut dense, &ele, sparse_max_bytes).map_err(corrupt)?;
        add(&mut sparse, &ele, sparse_max_bytes).map_err(corrupt)?;
        if j != checkpoint {
            continue;
        }
        if j < sparse_max_bytes / 2 && sparse[4] != SPARSE {
            return Err("TESTFAILED sparse encoding not used".into());
        }
        let d = count(&dense).map_err(corrupt)?;
        if d != count(&sparse).map_err(corrupt)? {
            return Err("TESTFAILED dense/sparse disagree".into());
        }
        // Cardinality 10 collides now and then: Redis allows an error of one there.
        let maxerr = if j == 10 {
            1
        } else {
            (relerr * 6.0 * checkpoint as f64).ceil() as u64
        };
        let abserr = checkpoint.abs_diff(d);
        if abserr > maxerr {
            return Err(format!(
                "TESTFAILED Too big error. card:{checkpoint} abserr:{abserr}"
            ));
        }
        checkpoint *= 10;
    }
    Ok(())
}

#[cfg(test)]
#[path = "hll_tests.rs"]
mod tests;
