//! Bitmap commands (Redis 7.0 bitops.c): SETBIT GETBIT BITCOUNT BITPOS BITOP BITFIELD
//! BITFIELD_RO.
//!
//! Bit 0 is the most significant bit of the first byte. Writes grow the string with zero bytes
//! up to the highest bit addressed (at most `proto-max-bulk-len` bytes, 512MB by default, as in
//! Redis) and leave it `raw`. The order of checks, the error texts and when an effect is
//! recorded follow Redis 7.0.15, checked against a real server (see the tests).

use crate::commands::strings::{c_eq, must_obey, with_read_str, WrongType};
use crate::ctx::Ctx;
use crate::errors;
use crate::table::Handler;
use bytes::Bytes;
use redoubt_keyspace::num::string2ll;
use redoubt_keyspace::{StrVal, Value};
use redoubt_resp::ReplyBuf;
use std::borrow::Cow;

const BITFIELD_TYPE: &str = "ERR Invalid bitfield type. Use something like i16 u8. Note that u64 is not supported but i64 is.";

/// `getBitOffsetFromArgument`. With `hash` (BITFIELD), `#N` means N times the field width.
fn bit_offset(ctx: &mut Ctx<'_>, arg: &[u8], hash: bool, bits: u32) -> Option<u64> {
    let use_hash = hash && bits > 0 && arg.first() == Some(&b'#');
    let digits = if use_hash { &arg[1..] } else { arg };
    let parsed = string2ll(digits).map(|n| {
        if use_hash {
            // C's signed overflow wraps here; the range check below then refuses the result.
            n.wrapping_mul(i64::from(bits))
        } else {
            n
        }
    });
    match parsed {
        Some(n) if n >= 0 && (must_obey(ctx) || (n >> 3) < ctx.eng.conf.proto_max_bulk_len) => {
            Some(n as u64)
        }
        _ => {
            ctx.error(errors::BIT_OFFSET);
            None
        }
    }
}

/// `lookupStringForBitCommand`: the key's string made `raw` and zero-padded so that bit
/// `max_bit` exists, created when missing. Returns whether it was created or grew.
fn string_for_bits(ctx: &mut Ctx<'_>, key: &[u8], max_bit: u64) -> Result<bool, WrongType> {
    let need = (max_bit >> 3) as usize + 1;
    let db = ctx.client.db;
    match ctx.lookup_write(key) {
        None => {
            ctx.eng.dbs[db].insert_new(key, Value::Str(StrVal::raw(vec![0; need])));
            Ok(true)
        }
        Some(e) => match &mut e.value {
            Value::Str(s) => {
                let v = s.make_raw();
                let grew = v.len() < need;
                if grew {
                    v.resize(need, 0);
                }
                Ok(grew)
            }
            #[allow(unreachable_patterns)]
            _ => Err(WrongType),
        },
    }
}

fn raw_vec<'a>(ctx: &'a mut Ctx<'_>, key: &[u8]) -> &'a mut Vec<u8> {
    let db = ctx.client.db;
    crate::commands::strings::raw_bytes_mut(&mut ctx.eng.dbs[db], key)
        .expect("string_for_bits created the string")
}

fn propagate_argv(ctx: &mut Ctx<'_>, argv: &[Bytes]) {
    let args: Vec<&[u8]> = argv.iter().map(|a| &a[..]).collect();
    ctx.propagate(&args);
}

/// SETBIT: replies the old bit. Recorded only when the string was created, grew, or the bit
/// changed (Redis 7.0.15 skips `server.dirty` otherwise).
pub fn setbit(ctx: &mut Ctx<'_>, argv: &[Bytes]) {
    let key = &argv[1];
    let Some(offset) = bit_offset(ctx, &argv[2], false, 0) else {
        return;
    };
    let on = match string2ll(&argv[3]) {
        Some(on) if on & !1 == 0 => on as u8,
        _ => {
            ctx.error(errors::BIT_VALUE);
            return;
        }
    };
    let grew = match string_for_bits(ctx, key, offset) {
        Ok(g) => g,
        Err(WrongType) => {
            ctx.error(errors::WRONGTYPE);
            return;
        }
    };
    let v = raw_vec(ctx, key);
    let byte = (offset >> 3) as usize;
    let shift = 7 - (offset & 7) as u8;
    let old = (v[byte] >> shift) & 1;
    if grew || old != on {
        v[byte] = (v[byte] & !(1 << shift)) | (on << shift);
        let db = ctx.client.db;
        ctx.signal_modified(db, key);
        ctx.dirty(1);
        propagate_argv(ctx, argv);
    }
    ctx.out().int(i64::from(old));
}

pub fn getbit(ctx: &mut Ctx<'_>, argv: &[Bytes]) {
    let Some(offset) = bit_offset(ctx, &argv[2], false, 0) else {
        return;
    };
    let r = with_read_str(ctx, &argv[1], |v, out| {
        let v = v.unwrap_or_default();
        let byte = offset >> 3;
        let bit = usize::try_from(byte)
            .ok()
            .and_then(|b| v.get(b))
            .map_or(0, |&b| (b >> (7 - (offset & 7))) & 1);
        out.int(i64::from(bit));
    });
    if r.is_err() {
        ctx.error(errors::WRONGTYPE);
    }
}

/// A range argument of BITCOUNT/BITPOS (`getLongLongFromObjectOrReply`).
fn range_arg(out: &mut ReplyBuf, arg: &[u8]) -> Option<i64> {
    let v = string2ll(arg);
    if v.is_none() {
        out.error(errors::NOT_INTEGER);
    }
    v
}

/// The `BYTE|BIT` unit argument: true for BIT.
fn unit_arg(out: &mut ReplyBuf, arg: &[u8]) -> Option<bool> {
    if c_eq(arg, "bit") {
        Some(true)
    } else if c_eq(arg, "byte") {
        Some(false)
    } else {
        out.error(errors::SYNTAX);
        None
    }
}

/// BITCOUNT/BITPOS index rules: negative indexes count from the end, both ends are clamped
/// to the string, in bytes or (`is_bit`) bits. The bit range selected, or None when empty.
fn bit_range(len: i64, start: i64, end: i64, is_bit: bool) -> Option<(u64, u64)> {
    let total = if is_bit { len * 8 } else { len };
    let (mut start, mut end) = (start, end);
    if start < 0 {
        start += total;
    }
    if end < 0 {
        end += total;
    }
    start = start.max(0);
    end = end.max(0);
    if end >= total {
        end = total - 1;
    }
    if start > end {
        return None;
    }
    let (start, end) = (start as u64, end as u64);
    Some(if is_bit {
        (start, end)
    } else {
        (start * 8, end * 8 + 7)
    })
}

/// Set bits among bits `first..=last` of `v` (in range, first <= last).
fn count_bits(v: &[u8], first: u64, last: u64) -> u64 {
    let (fb, lb) = ((first >> 3) as usize, (last >> 3) as usize);
    let bytes = &v[fb..=lb];
    let (chunks, rest) = (bytes.chunks_exact(8), bytes.chunks_exact(8).remainder());
    let mut n: u64 = chunks
        .map(|c| u64::from(u64::from_ne_bytes(c.try_into().expect("8 bytes")).count_ones()))
        .sum();
    n += rest.iter().map(|b| u64::from(b.count_ones())).sum::<u64>();
    // Take away the bits of the edge bytes outside the range.
    let head = v[fb] & !(0xffu8 >> (first & 7));
    let tail = v[lb] & ((1u16 << (7 - (last & 7))) - 1) as u8;
    n - u64::from(head.count_ones()) - u64::from(tail.count_ones())
}

/// BITCOUNT: a missing key counts 0 before any argument is looked at, as in Redis 7.0.
pub fn bitcount(ctx: &mut Ctx<'_>, argv: &[Bytes]) {
    let argc = argv.len();
    let r = with_read_str(ctx, &argv[1], |v, out| {
        let Some(v) = v else {
            out.int(0);
            return;
        };
        let len = v.len() as i64;
        let range = if argc == 4 || argc == 5 {
            let Some(start) = range_arg(out, &argv[2]) else {
                return;
            };
            let Some(end) = range_arg(out, &argv[3]) else {
                return;
            };
            if start < 0 && end < 0 && start > end {
                out.int(0);
                return;
            }
            let is_bit = if argc == 5 {
                match unit_arg(out, &argv[4]) {
                    Some(b) => b,
                    None => return,
                }
            } else {
                false
            };
            bit_range(len, start, end, is_bit)
        } else if argc == 2 {
            bit_range(len, 0, -1, false)
        } else {
            out.error(errors::SYNTAX);
            return;
        };
        match range {
            Some((first, last)) => out.int(count_bits(v, first, last) as i64),
            None => out.int(0),
        }
    });
    if r.is_err() {
        ctx.error(errors::WRONGTYPE);
    }
}

/// The first bit equal to `bit` among bits `first..=last` of `v` (in range, first <= last).
fn find_bit(v: &[u8], first: u64, last: u64, bit: u8) -> Option<u64> {
    let (fb, lb) = ((first >> 3) as usize, (last >> 3) as usize);
    let in_byte = |i: usize, lo: u64, hi: u64| {
        (lo..=hi)
            .find(|k| (v[i] >> (7 - k)) & 1 == bit)
            .map(|k| i as u64 * 8 + k)
    };
    if fb == lb {
        return in_byte(fb, first & 7, last & 7);
    }
    if let Some(p) = in_byte(fb, first & 7, 7) {
        return Some(p);
    }
    // Whole bytes in between: skip those without the bit a word at a time.
    let skip = if bit == 1 { 0x00 } else { 0xff };
    let mid = &v[fb + 1..lb];
    if let Some(i) = first_byte_not(mid, skip) {
        return in_byte(fb + 1 + i, 0, 7);
    }
    in_byte(lb, 0, last & 7)
}

/// The index of the first byte of `v` that is not `skip`.
fn first_byte_not(v: &[u8], skip: u8) -> Option<usize> {
    let word = u64::from_ne_bytes([skip; 8]);
    let tail = v.chunks_exact(8).remainder();
    let whole = v
        .chunks_exact(8)
        .position(|c| u64::from_ne_bytes(c.try_into().expect("8 bytes")) != word)
        .unwrap_or(v.len() / 8);
    let start = whole * 8;
    let scan = if start < v.len() - tail.len() {
        &v[start..start + 8]
    } else {
        tail
    };
    scan.iter().position(|&b| b != skip).map(|i| start + i)
}

/// BITPOS. Without an explicit end, looking for a 0 past the last 1 answers the first bit
/// after the string (it is zero-padded on the right); with an end given, -1.
pub fn bitpos(ctx: &mut Ctx<'_>, argv: &[Bytes]) {
    let Some(bit) = ctx.parse_i64(&argv[2]) else {
        return;
    };
    if bit != 0 && bit != 1 {
        ctx.error("ERR The bit argument must be 1 or 0.");
        return;
    }
    let argc = argv.len();
    let r = with_read_str(ctx, &argv[1], |v, out| {
        let Some(v) = v else {
            out.int(if bit == 1 { -1 } else { 0 });
            return;
        };
        let len = v.len() as i64;
        let mut end_given = false;
        let range = if (4..=6).contains(&argc) {
            let Some(start) = range_arg(out, &argv[3]) else {
                return;
            };
            let is_bit = if argc == 6 {
                match unit_arg(out, &argv[5]) {
                    Some(b) => b,
                    None => return,
                }
            } else {
                false
            };
            let end = if argc >= 5 {
                end_given = true;
                match range_arg(out, &argv[4]) {
                    Some(e) => e,
                    None => return,
                }
            } else if is_bit {
                len * 8 + 7
            } else {
                len - 1
            };
            bit_range(len, start, end, is_bit)
        } else if argc == 3 {
            bit_range(len, 0, -1, false)
        } else {
            out.error(errors::SYNTAX);
            return;
        };
        let Some((first, last)) = range else {
            out.int(-1);
            return;
        };
        let pos = match find_bit(v, first, last, bit as u8) {
            Some(p) => p as i64,
            None if bit == 1 || end_given => -1,
            None => last as i64 + 1,
        };
        out.int(pos);
    });
    if r.is_err() {
        ctx.error(errors::WRONGTYPE);
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum BitOp {
    And,
    Or,
    Xor,
    Not,
}

/// BITOP: missing keys are empty strings (zeros). An empty result deletes the destination.
/// Propagated as written whenever the destination was set or deleted.
pub fn bitop(ctx: &mut Ctx<'_>, argv: &[Bytes]) {
    let op = match &argv[1] {
        a if c_eq(a, "and") => BitOp::And,
        a if c_eq(a, "or") => BitOp::Or,
        a if c_eq(a, "xor") => BitOp::Xor,
        a if c_eq(a, "not") => BitOp::Not,
        _ => {
            ctx.error(errors::SYNTAX);
            return;
        }
    };
    if op == BitOp::Not && argv.len() != 4 {
        ctx.error("ERR BITOP NOT must be called with a single source key.");
        return;
    }
    let target = &argv[2];
    let keys = &argv[3..];
    for key in keys {
        if with_read_str(ctx, key, |_, _| ()).is_err() {
            ctx.error(errors::WRONGTYPE);
            return;
        }
    }
    let db = ctx.client.db;
    let result = {
        let d = &ctx.eng.dbs[db];
        let srcs: Vec<Cow<'_, [u8]>> = keys
            .iter()
            .map(|k| match d.get_raw(k).map(|e| &e.value) {
                Some(Value::Str(StrVal::Int(n))) => Cow::Owned(n.to_string().into_bytes()),
                Some(Value::Str(sv)) => Cow::Borrowed(sv.stored_bytes().unwrap_or_default()),
                #[allow(unreachable_patterns)]
                _ => Cow::Borrowed(&[][..]),
            })
            .collect();
        bitop_compute(op, &srcs)
    };
    let n = result.len();
    if n > 0 {
        ctx.lookup_write(target);
        let old = ctx.eng.dbs[db].set(target, Value::Str(StrVal::raw(result)), false);
        ctx.eng.free_server_del(old);
        ctx.signal_modified(db, target);
        ctx.dirty(1);
        propagate_argv(ctx, argv);
    } else if let Some(e) = ctx.eng.dbs[db].remove(target) {
        ctx.eng.free_server_del(Some(e.value));
        // Redis's dbDelete: no expiry check first, so a logically expired destination is
        // deleted by the BITOP itself.
        ctx.signal_modified(db, target);
        ctx.dirty(1);
        propagate_argv(ctx, argv);
    }
    ctx.out().int(n as i64);
}

fn bitop_compute(op: BitOp, srcs: &[Cow<'_, [u8]>]) -> Vec<u8> {
    let max = srcs.iter().map(|s| s.len()).max().unwrap_or(0);
    let mut res = vec![0u8; max];
    let first = &srcs[0];
    res[..first.len()].copy_from_slice(first);
    match op {
        BitOp::Not => res.iter_mut().for_each(|b| *b = !*b),
        BitOp::And => {
            for s in &srcs[1..] {
                for (r, b) in res.iter_mut().zip(s.iter()) {
                    *r &= b;
                }
                res[s.len().min(max)..].iter_mut().for_each(|r| *r = 0);
            }
        }
        BitOp::Or | BitOp::Xor => {
            for s in &srcs[1..] {
                for (r, b) in res.iter_mut().zip(s.iter()) {
                    if op == BitOp::Or {
                        *r |= b;
                    } else {
                        *r ^= b;
                    }
                }
            }
        }
    }
    res
}

/// How BITFIELD treats a SET or INCRBY result that does not fit.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Overflow {
    Wrap,
    Sat,
    Fail,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum FieldOp {
    Get,
    Set,
    IncrBy,
}

#[derive(Clone, Copy)]
struct Field {
    op: FieldOp,
    offset: u64,
    value: i64,
    overflow: Overflow,
    bits: u32,
    signed: bool,
}

/// `getBitfieldTypeFromArgument`: `i1`..`i64` or `u1`..`u63` (lowercase; read as a C string).
fn field_type(ctx: &mut Ctx<'_>, arg: &[u8]) -> Option<(bool, u32)> {
    let signed = match arg.first() {
        Some(b'i') => true,
        Some(b'u') => false,
        _ => {
            ctx.error(BITFIELD_TYPE);
            return None;
        }
    };
    let rest = &arg[1..];
    let rest = &rest[..rest.iter().position(|&b| b == 0).unwrap_or(rest.len())];
    match string2ll(rest) {
        Some(n) if n >= 1 && ((signed && n <= 64) || (!signed && n <= 63)) => {
            Some((signed, n as u32))
        }
        _ => {
            ctx.error(BITFIELD_TYPE);
            None
        }
    }
}

fn get_unsigned(p: &[u8], mut offset: u64, bits: u32) -> u64 {
    let mut value = 0u64;
    for _ in 0..bits {
        let byte = p[(offset >> 3) as usize];
        let bit = (byte >> (7 - (offset & 7))) & 1;
        value = (value << 1) | u64::from(bit);
        offset += 1;
    }
    value
}

fn get_signed(p: &[u8], offset: u64, bits: u32) -> i64 {
    let mut value = get_unsigned(p, offset, bits);
    if bits < 64 && value & (1u64 << (bits - 1)) != 0 {
        value |= u64::MAX << bits;
    }
    value as i64
}

fn set_unsigned(p: &mut [u8], mut offset: u64, bits: u32, value: u64) {
    for j in 0..bits {
        let bit = ((value >> (bits - 1 - j)) & 1) as u8;
        let byte = &mut p[(offset >> 3) as usize];
        let shift = 7 - (offset & 7);
        *byte = (*byte & !(1 << shift)) | (bit << shift);
        offset += 1;
    }
}

/// `checkUnsignedBitfieldOverflow`, ported with C's wrapping conversions: the value to store
/// for `value + incr` in a `bits`-wide field (wrapped or saturated), or None when it does not
/// fit and the policy is FAIL.
fn unsigned_overflow(value: u64, incr: i64, bits: u32, ow: Overflow) -> Option<u64> {
    debug_assert!(bits < 64, "u64 fields are refused by the type parser");
    let max = (1u64 << bits) - 1;
    let max_incr = max.wrapping_sub(value) as i64;
    let min_incr = 0u64.wrapping_sub(value) as i64;
    let wrap = || value.wrapping_add(incr as u64) & !(u64::MAX << bits);
    if value > max || (incr > 0 && incr > max_incr) {
        match ow {
            Overflow::Wrap => Some(wrap()),
            Overflow::Sat => Some(max),
            Overflow::Fail => None,
        }
    } else if incr < 0 && incr < min_incr {
        match ow {
            Overflow::Wrap => Some(wrap()),
            Overflow::Sat => Some(0),
            Overflow::Fail => None,
        }
    } else {
        Some(value.wrapping_add(incr as u64))
    }
}

/// `checkSignedBitfieldOverflow`, ported with C's wrapping conversions.
fn signed_overflow(value: i64, incr: i64, bits: u32, ow: Overflow) -> Option<i64> {
    let max = if bits == 64 {
        i64::MAX
    } else {
        (1i64 << (bits - 1)) - 1
    };
    let min = -max - 1;
    let max_incr = (max as u64).wrapping_sub(value as u64) as i64;
    let min_incr = min.wrapping_sub(value);
    let wrap = || {
        let mut c = (value as u64).wrapping_add(incr as u64);
        if bits < 64 {
            let mask = u64::MAX << bits;
            if c & (1u64 << (bits - 1)) != 0 {
                c |= mask;
            } else {
                c &= !mask;
            }
        }
        c as i64
    };
    if value > max || (bits != 64 && incr > max_incr) || (value >= 0 && incr > 0 && incr > max_incr)
    {
        match ow {
            Overflow::Wrap => Some(wrap()),
            Overflow::Sat => Some(max),
            Overflow::Fail => None,
        }
    } else if value < min
        || (bits != 64 && incr < min_incr)
        || (value < 0 && incr < 0 && incr < min_incr)
    {
        match ow {
            Overflow::Wrap => Some(wrap()),
            Overflow::Sat => Some(min),
            Overflow::Fail => None,
        }
    } else {
        Some(value.wrapping_add(incr))
    }
}

/// Parses BITFIELD's subcommands (`bitfieldGeneric`'s first loop).
fn parse_fields(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> Option<Vec<Field>> {
    let mut fields = Vec::new();
    let mut overflow = Overflow::Wrap;
    let mut j = 2;
    while j < argv.len() {
        let remaining = argv.len() - j - 1;
        let sub = &argv[j];
        let op = if c_eq(sub, "get") && remaining >= 2 {
            FieldOp::Get
        } else if c_eq(sub, "set") && remaining >= 3 {
            FieldOp::Set
        } else if c_eq(sub, "incrby") && remaining >= 3 {
            FieldOp::IncrBy
        } else if c_eq(sub, "overflow") && remaining >= 1 {
            let name = &argv[j + 1];
            overflow = if c_eq(name, "wrap") {
                Overflow::Wrap
            } else if c_eq(name, "sat") {
                Overflow::Sat
            } else if c_eq(name, "fail") {
                Overflow::Fail
            } else {
                ctx.error("ERR Invalid OVERFLOW type specified");
                return None;
            };
            j += 2;
            continue;
        } else {
            ctx.error(errors::SYNTAX);
            return None;
        };
        let (signed, bits) = field_type(ctx, &argv[j + 1])?;
        let offset = bit_offset(ctx, &argv[j + 2], true, bits)?;
        let mut value = 0;
        if op != FieldOp::Get {
            value = ctx.parse_i64(&argv[j + 3])?;
            j += 4;
        } else {
            j += 3;
        }
        fields.push(Field {
            op,
            offset,
            value,
            overflow,
            bits,
            signed,
        });
    }
    Some(fields)
}

/// GET on a possibly short (or missing) string: reads through a zero-padded 9-byte window.
fn field_get(src: &[u8], f: &Field) -> i64 {
    let byte = f.offset >> 3;
    let mut buf = [0u8; 9];
    if let Ok(start) = usize::try_from(byte) {
        if start < src.len() {
            let n = (src.len() - start).min(9);
            buf[..n].copy_from_slice(&src[start..start + n]);
        }
    }
    let off = f.offset - byte * 8;
    if f.signed {
        get_signed(&buf, off, f.bits)
    } else {
        get_unsigned(&buf, off, f.bits) as i64
    }
}

/// What a SET or INCRBY did.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Written {
    /// OVERFLOW FAIL refused it (the reply is null).
    Refused,
    /// Stored; whether the bits changed.
    Stored(bool),
}

/// SET or INCRBY on a string long enough for the field: replies the old value (SET) or the
/// new one (INCRBY), or null when OVERFLOW FAIL refuses.
fn field_write(v: &mut [u8], f: &Field, out: &mut ReplyBuf) -> Written {
    let (old, stored) = if f.signed {
        let old = get_signed(v, f.offset, f.bits);
        let (target, incr) = match f.op {
            FieldOp::IncrBy => (old, f.value),
            _ => (f.value, 0),
        };
        let new = signed_overflow(target, incr, f.bits, f.overflow);
        (old as u64, new.map(|n| n as u64))
    } else {
        let old = get_unsigned(v, f.offset, f.bits);
        let (target, incr) = match f.op {
            FieldOp::IncrBy => (old, f.value),
            _ => (f.value as u64, 0),
        };
        (old, unsigned_overflow(target, incr, f.bits, f.overflow))
    };
    let Some(new) = stored else {
        out.null();
        return Written::Refused;
    };
    let reply = if f.op == FieldOp::IncrBy { new } else { old };
    // Signed values were sign-extended to 64 bits, so the cast gives back the i64.
    out.int(reply as i64);
    set_unsigned(v, f.offset, f.bits, new);
    Written::Stored(old != new)
}

/// BITFIELD and BITFIELD_RO (`bitfieldGeneric`).
fn bitfield_generic(ctx: &mut Ctx<'_>, argv: &[Bytes], read_only_cmd: bool) {
    let key = &argv[1];
    let Some(fields) = parse_fields(ctx, argv) else {
        return;
    };
    let highest = fields
        .iter()
        .filter(|f| f.op != FieldOp::Get)
        .map(|f| f.offset + u64::from(f.bits) - 1)
        .max();
    let Some(highest) = highest else {
        // Only GETs: a read, and a missing key reads as zeros.
        let r = with_read_str(ctx, key, |v, out| {
            let v = v.unwrap_or_default();
            out.array_len(fields.len());
            for f in &fields {
                out.int(field_get(v, f));
            }
        });
        if r.is_err() {
            ctx.error(errors::WRONGTYPE);
        }
        return;
    };
    if read_only_cmd {
        ctx.error("ERR BITFIELD_RO only supports the GET subcommand");
        return;
    }
    let grew = match string_for_bits(ctx, key, highest) {
        Ok(g) => g,
        Err(WrongType) => {
            ctx.error(errors::WRONGTYPE);
            return;
        }
    };
    let db = ctx.client.db;
    let out = &mut ctx.client.out;
    let v = crate::commands::strings::raw_bytes_mut(&mut ctx.eng.dbs[db], key)
        .expect("string_for_bits created the string");
    out.array_len(fields.len());
    let mut changes = 0u64;
    for f in &fields {
        if f.op == FieldOp::Get {
            out.int(field_get(v, f));
        } else if let Written::Stored(changed) = field_write(v, f, out) {
            if grew || changed {
                changes += 1;
            }
        }
    }
    if changes > 0 {
        ctx.signal_modified(db, key);
        ctx.dirty(changes);
        propagate_argv(ctx, argv);
    } else if grew {
        // Redis 7.0 creates or pads the string here without recording anything, so its
        // replicas and AOF miss the key. We record the command (it replays to the same
        // string) so that the stream rebuilds the same dataset. See docs/COMPATIBILITY.md.
        propagate_argv(ctx, argv);
    }
}

pub fn bitfield(ctx: &mut Ctx<'_>, argv: &[Bytes]) {
    bitfield_generic(ctx, argv, false);
}

pub fn bitfield_ro(ctx: &mut Ctx<'_>, argv: &[Bytes]) {
    bitfield_generic(ctx, argv, true);
}

/// This family's commands (see `commands::all`).
pub static HANDLERS: &[(&str, Handler)] = &[
    ("setbit", setbit),
    ("getbit", getbit),
    ("bitcount", bitcount),
    ("bitpos", bitpos),
    ("bitop", bitop),
    ("bitfield", bitfield),
    ("bitfield_ro", bitfield_ro),
];

#[cfg(test)]
#[path = "bits_tests.rs"]
mod tests;
