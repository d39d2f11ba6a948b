//! Redis's number rules for string values, byte for byte as redis-server 7.0.15 on x86-64
//! Linux with glibc.
//!
//! - Integers: `string2ll`, `string2l` and `ll2string` (util.c). A valid integer has no spaces,
//!   no `+`, no leading zeros and no `-0`, and fits in 64 bits.
//! - Doubles: `string2d` (util.c, what `getDoubleFromObject` uses for ZADD, ZINCRBY, ...) and
//!   `d2string`/`double2ll` (util.c and util.h, what a listpack zset stores as a score).
//! - Long doubles: `string2ld` and `ld2string` (util.c), used by INCRBYFLOAT and HINCRBYFLOAT.
//!   There C's `long double` is the x87 80-bit format: a 64-bit mantissa with an explicit
//!   integer bit, a 15-bit exponent, subnormals down to 2^-16445. [`LongDouble`] is a software
//!   copy of it with exactly the arithmetic Redis does: glibc's correctly rounded `strtold`,
//!   one round-to-nearest-even addition (the x87 `fadd` under Linux's default control word:
//!   64-bit precision, nearest), and glibc's exact `printf` (`%.17Lf`, `%.17Lg`), which
//!   expands the binary value to decimal exactly and rounds half to even.
//!
//! Parsing follows C's `strtod` grammar, and Redis requires the whole argument to be consumed
//! (an embedded NUL fails too), so only a full match counts: optional sign, then decimal
//! (`1`, `1.`, `.5`, `1e5`), hexadecimal (`0x1.8p1`, `0x10`), `inf`/`infinity` or `nan(...)`,
//! case-insensitively. Leading or trailing spaces, NaN, overflow to infinity and underflow to
//! exactly zero are refused; a literal `inf` is accepted (INCRBYFLOAT then refuses the sum).
//! Conversions are exact: big-integer arithmetic on the decimal digits, then one rounding.
//!
//! `d2string`'s `%.17g` is the same text as `redoubt_resp::encode::format_double` (RESP2
//! double replies); it is repeated here because keyspace may not depend on resp.
//!
//! Checked against a real redis-server 7.0.15: `tests/num_vs_redis.rs` holds literal
//! INCRBYFLOAT, HINCRBYFLOAT, ZADD/ZSCAN and INCRBY replies taken from it, and during
//! development 180,000 random INCRBYFLOAT and ZADD cases agreed with the server and with
//! glibc's `strtold`/`printf` on every byte. `%.17Lg` (LD_STR_AUTO), which no 7.0 command
//! replies with, is checked against glibc only (unit tests below).

use std::cmp::Ordering;

/// Redis's `MAX_LONG_DOUBLE_CHARS`: `string2ld` refuses input this long or longer, and
/// `ld2string` fails on output that does not fit (with its NUL) in this many bytes.
pub const MAX_LONG_DOUBLE_CHARS: usize = 5 * 1024;

/// Redis's `LONG_STR_SIZE`: `string2ll` refuses input this long or longer.
pub const LONG_STR_SIZE: usize = 21;

/// `string2ll`: the whole of `s` as a signed 64-bit decimal, or `None`.
pub fn string2ll(s: &[u8]) -> Option<i64> {
    if s.is_empty() || s.len() >= LONG_STR_SIZE {
        return None;
    }
    if s == b"0" {
        return Some(0);
    }
    let (negative, digits) = match s.split_first() {
        Some((b'-', rest)) => (true, rest),
        _ => (false, s),
    };
    if !matches!(digits.first(), Some(b'1'..=b'9')) {
        return None;
    }
    let mut v: u64 = 0;
    for &c in digits {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v.checked_mul(10)?.checked_add(u64::from(c - b'0'))?;
    }
    if negative {
        // -(2^63) is the one magnitude that fits only when negative.
        (v <= 1 << 63).then(|| 0u64.wrapping_sub(v) as i64)
    } else {
        i64::try_from(v).ok()
    }
}

/// `string2l`: `long` is 64 bits on LP64 Linux, so this is `string2ll`.
pub fn string2l(s: &[u8]) -> Option<i64> {
    string2ll(s)
}

/// `ll2string`: the decimal digits of `value`.
pub fn ll2string(value: i64) -> Vec<u8> {
    let mut buf = [0u8; 20];
    let mut at = buf.len();
    let mut v = value.unsigned_abs();
    loop {
        at -= 1;
        buf[at] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    let mut out = Vec::with_capacity(buf.len() - at + 1);
    if value < 0 {
        out.push(b'-');
    }
    out.extend_from_slice(&buf[at..]);
    out
}

/// `string2d`: the whole of `s` as a double (glibc `strtod`, correctly rounded), or `None` for
/// empty input, leading space, trailing bytes, NaN, overflow, or a nonzero value that
/// underflows to zero. Infinity spelled out (`inf`, `-Infinity`) is accepted.
pub fn string2d(s: &[u8]) -> Option<f64> {
    if let Some(d) = plain_decimal_fast(s) {
        return Some(d);
    }
    string2d_exact(s)
}

/// The common case of [`string2d`] (scores like `1.5` or `-42`, parsed for every zset
/// member an RDB load reads): `[+-]?digits[.digits]` of at most 40 bytes, no exponent. On that
/// grammar C's `strtod` and Rust's `f64::from_str` accept the same strings and are both
/// correctly rounded (nearest, ties to even), so they agree bit for bit; and such a literal
/// can neither overflow nor underflow to zero (|x| < 1e40, nonzero |x| >= 1e-39), so no
/// refusal of [`string2d`] applies. Anything else takes the exact path.
fn plain_decimal_fast(s: &[u8]) -> Option<f64> {
    if s.len() > 40 {
        return None;
    }
    let body = match s.first() {
        Some(b'-' | b'+') => &s[1..],
        _ => s,
    };
    let mut digits = 0;
    let mut points = 0;
    for &c in body {
        match c {
            b'0'..=b'9' => digits += 1,
            b'.' => points += 1,
            _ => return None,
        }
    }
    if digits == 0 || points > 1 {
        return None;
    }
    std::str::from_utf8(s).ok()?.parse::<f64>().ok()
}

/// [`string2d`] by exact big-integer conversion, for every grammar `strtod` accepts.
fn string2d_exact(s: &[u8]) -> Option<f64> {
    if s.is_empty() {
        return None;
    }
    // 800 significant digits decide the rounding of any double (767 can be needed); longer
    // input is cut with a sticky digit so a huge argument costs linear time.
    let (negative, literal) = parse_literal(s, 800)?;
    let magnitude = match literal.convert(&F64)? {
        Converted::Inf => f64::INFINITY,
        Converted::Finite { mant, exp } => f64_from_parts(mant, exp),
    };
    Some(if negative { -magnitude } else { magnitude })
}

/// `string2ld`: the whole of `s` as an x87 long double (glibc `strtold`), with the same
/// refusals as [`string2d`], and also any input of [`MAX_LONG_DOUBLE_CHARS`] bytes or more.
pub fn string2ld(s: &[u8]) -> Option<LongDouble> {
    if s.is_empty() || s.len() >= MAX_LONG_DOUBLE_CHARS {
        return None;
    }
    let (negative, literal) = parse_literal(s, usize::MAX)?;
    let v = match literal.convert(&X87)? {
        Converted::Inf => LongDouble::INFINITY,
        Converted::Finite { mant, exp } => LongDouble::finite(false, mant, exp),
    };
    Some(if negative { -v } else { v })
}

/// `double2ll` (util.h): `d` as an integer when it is one and lies within ±`LLONG_MAX/2`.
pub fn double2ll(d: f64) -> Option<i64> {
    const LIMIT: f64 = (i64::MAX / 2) as f64;
    if d.is_nan() || !(-LIMIT..=LIMIT).contains(&d) {
        return None;
    }
    let ll = d as i64;
    (ll as f64 == d).then_some(ll)
}

/// `d2string`: `nan`, `inf`, `-inf`, `0`, `-0`, an integer through [`double2ll`], else `%.17g`.
/// Redis 7.0.15 shows it in ZSCAN of a listpack zset: a score of 1e17 reads back as
/// `100000000000000000`, 0.1 as `0.10000000000000001`.
pub fn d2string(value: f64) -> Vec<u8> {
    if value.is_nan() {
        return b"nan".to_vec();
    }
    if value.is_infinite() {
        return if value < 0.0 {
            b"-inf".to_vec()
        } else {
            b"inf".to_vec()
        };
    }
    if value == 0.0 {
        return if value.is_sign_negative() {
            b"-0".to_vec()
        } else {
            b"0".to_vec()
        };
    }
    if let Some(ll) = double2ll(value) {
        return ll2string(ll);
    }
    let v = LongDouble::from_f64(value);
    let mut out = Vec::new();
    if v.negative {
        out.push(b'-');
    }
    out.extend_from_slice(&format_general(v.mant, i64::from(v.exp), 17));
    out
}

/// Why INCRBYFLOAT or HINCRBYFLOAT refused; [`IncrFloatError::message`] is Redis's reply.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IncrFloatError {
    /// `-ERR value is not a valid float`: the stored value (INCRBYFLOAT) or the increment
    /// (both commands) is not a long double by [`string2ld`].
    NotAFloat,
    /// `-ERR increment would produce NaN or Infinity`: the sum is not finite.
    NanOrInfinity,
    /// `-ERR value is NaN or Infinity`: HINCRBYFLOAT's increment is `inf` (checked before
    /// the key is looked up, so before WRONGTYPE).
    IncrNanOrInfinity,
    /// `-ERR hash value is not a float`: HINCRBYFLOAT's stored field is not a long double.
    HashValueNotAFloat,
}

impl IncrFloatError {
    /// The error reply text without the leading `-`.
    pub fn message(self) -> &'static str {
        match self {
            IncrFloatError::NotAFloat => "ERR value is not a valid float",
            IncrFloatError::NanOrInfinity => "ERR increment would produce NaN or Infinity",
            IncrFloatError::IncrNanOrInfinity => "ERR value is NaN or Infinity",
            IncrFloatError::HashValueNotAFloat => "ERR hash value is not a float",
        }
    }
}

/// INCRBYFLOAT's arithmetic (`incrbyfloatCommand`, t_string.c): `current` is the stored string
/// (an integer-encoded value as its decimal digits; a missing key as `b"0"`). Returns the new
/// value exactly as Redis stores and replies it (`ld2string` with `LD_STR_HUMAN`).
///
/// The stored value is parsed before the increment; both failures are the same
/// [`IncrFloatError::NotAFloat`]. The caller checks WRONGTYPE first.
pub fn incrbyfloat(current: &[u8], incr: &[u8]) -> Result<Vec<u8>, IncrFloatError> {
    let value = string2ld(current).ok_or(IncrFloatError::NotAFloat)?;
    let incr = string2ld(incr).ok_or(IncrFloatError::NotAFloat)?;
    add_and_format(value, incr)
}

/// HINCRBYFLOAT's first step (`hincrbyfloatCommand`, t_hash.c): the increment, parsed and
/// checked before the key is looked up.
pub fn hincrbyfloat_incr(incr: &[u8]) -> Result<LongDouble, IncrFloatError> {
    let incr = string2ld(incr).ok_or(IncrFloatError::NotAFloat)?;
    if incr.is_nan() || incr.is_infinite() {
        return Err(IncrFloatError::IncrNanOrInfinity);
    }
    Ok(incr)
}

/// HINCRBYFLOAT's second step: `current` is the field's value (`None` when the field or the
/// key is missing). Returns the field's new value.
pub fn hincrbyfloat(current: Option<&[u8]>, incr: LongDouble) -> Result<Vec<u8>, IncrFloatError> {
    let value = match current {
        Some(s) => string2ld(s).ok_or(IncrFloatError::HashValueNotAFloat)?,
        None => LongDouble::ZERO,
    };
    add_and_format(value, incr)
}

fn add_and_format(value: LongDouble, incr: LongDouble) -> Result<Vec<u8>, IncrFloatError> {
    let sum = value + incr;
    if sum.is_nan() || sum.is_infinite() {
        return Err(IncrFloatError::NanOrInfinity);
    }
    // createStringObjectFromLongDouble stores an empty string when ld2string fails; a finite
    // x87 value never needs more than 4952 bytes, so that cannot happen here.
    Ok(ld2string(sum, LdStrMode::Human).unwrap_or_default())
}

/// `ld2string`'s modes (`ld2string_mode`, util.h). `LD_STR_HEX` (`%La`) is not provided.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LdStrMode {
    /// `LD_STR_AUTO`: `%.17Lg`.
    Auto,
    /// `LD_STR_HUMAN`: `%.17Lf`, then trailing fraction zeros and a bare `.` removed, and `-0`
    /// printed as `0`.
    Human,
}

/// `ld2string`: `None` where Redis returns 0 (output of [`MAX_LONG_DOUBLE_CHARS`] bytes or
/// more, which no finite x87 value reaches). Infinity is `inf`/`-inf` in both modes.
pub fn ld2string(value: LongDouble, mode: LdStrMode) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    match value.class {
        Class::Inf => {
            out.extend_from_slice(if value.negative { b"-inf" } else { b"inf" });
            return Some(out);
        }
        Class::Nan => {
            // glibc prints the sign of a NaN; Redis never stores one.
            out.extend_from_slice(if value.negative { b"-nan" } else { b"nan" });
            return Some(out);
        }
        Class::Finite => {}
    }
    if value.negative {
        out.push(b'-');
    }
    match mode {
        LdStrMode::Auto => out.extend_from_slice(&format_general(value.mant, value.exp.into(), 17)),
        LdStrMode::Human => {
            out.extend_from_slice(&format_fixed(value.mant, value.exp.into(), 17));
            if out.len() + 1 > MAX_LONG_DOUBLE_CHARS {
                return None;
            }
            strip_fraction_zeros(&mut out);
            if out == b"-0" {
                out = b"0".to_vec();
            }
        }
    }
    (out.len() < MAX_LONG_DOUBLE_CHARS).then_some(out)
}

/// An x87 80-bit extended-precision value, as C's `long double` on x86-64.
///
/// A finite value is `mant * 2^exp`. Normal values have bit 63 of `mant` set; subnormals have
/// `exp == -16445` and a smaller `mant`; zero has `mant == 0` and keeps its sign.
///
/// `==` and `<` are C's: `0 == -0`, and NaN equals nothing, itself included.
#[derive(Clone, Copy, Debug)]
pub struct LongDouble {
    negative: bool,
    class: Class,
    mant: u64,
    exp: i32,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Class {
    Finite,
    Inf,
    Nan,
}

impl LongDouble {
    pub const ZERO: LongDouble = LongDouble {
        negative: false,
        class: Class::Finite,
        mant: 0,
        exp: 0,
    };
    pub const INFINITY: LongDouble = LongDouble {
        negative: false,
        class: Class::Inf,
        mant: 0,
        exp: 0,
    };
    /// The x87 "real indefinite" that `inf + -inf` produces: a NaN with the sign bit set.
    pub const NAN: LongDouble = LongDouble {
        negative: true,
        class: Class::Nan,
        mant: 0,
        exp: 0,
    };

    /// Exact: every `i64` fits the 64-bit mantissa (the conversion for int-encoded strings).
    pub fn from_i64(v: i64) -> Self {
        if v == 0 {
            return Self::ZERO;
        }
        let m = v.unsigned_abs();
        let shift = m.leading_zeros();
        Self::finite(v < 0, m << shift, -i64::from(shift))
    }

    /// Exact: every double is a long double.
    pub fn from_f64(d: f64) -> Self {
        if d.is_nan() {
            return Self::NAN;
        }
        let negative = d.is_sign_negative();
        if d.is_infinite() {
            return Self {
                negative,
                ..Self::INFINITY
            };
        }
        let bits = d.to_bits();
        let biased = ((bits >> 52) & 0x7ff) as i64;
        let fraction = bits & ((1 << 52) - 1);
        let (m, e) = if biased == 0 {
            (fraction, -1074)
        } else {
            (fraction | 1 << 52, biased - 1075)
        };
        if m == 0 {
            return Self {
                negative,
                ..Self::ZERO
            };
        }
        let shift = m.leading_zeros();
        Self::finite(negative, m << shift, e - i64::from(shift))
    }

    fn finite(negative: bool, mant: u64, exp: i64) -> Self {
        debug_assert!(mant == 0 || mant >> 63 == 1 || exp == X87.min_exp);
        debug_assert!((X87.min_exp..=X87.max_exp).contains(&exp) || mant == 0);
        Self {
            negative,
            class: Class::Finite,
            mant,
            exp: exp as i32,
        }
    }

    pub fn is_nan(self) -> bool {
        self.class == Class::Nan
    }

    pub fn is_infinite(self) -> bool {
        self.class == Class::Inf
    }

    pub fn is_finite(self) -> bool {
        self.class == Class::Finite
    }

    pub fn is_zero(self) -> bool {
        self.class == Class::Finite && self.mant == 0
    }

    pub fn is_sign_negative(self) -> bool {
        self.negative
    }
}

impl std::ops::Neg for LongDouble {
    type Output = Self;

    fn neg(self) -> Self {
        Self {
            negative: !self.negative,
            ..self
        }
    }
}

impl std::ops::Add for LongDouble {
    type Output = Self;

    /// `self + other` rounded once to nearest-even, as the x87 `fadd` does.
    fn add(self, other: Self) -> Self {
        match (self.class, other.class) {
            (Class::Nan, _) | (_, Class::Nan) => return Self::NAN,
            (Class::Inf, Class::Inf) if self.negative != other.negative => return Self::NAN,
            (Class::Inf, _) => return self,
            (_, Class::Inf) => return other,
            (Class::Finite, Class::Finite) => {}
        }
        if other.mant == 0 {
            // -0 + -0 is -0; every other sum with a zero is the other operand (+0 for 0 + -0).
            return if self.mant == 0 {
                Self {
                    negative: self.negative && other.negative,
                    ..Self::ZERO
                }
            } else {
                self
            };
        }
        if self.mant == 0 {
            return other;
        }
        let e = self.exp.min(other.exp);
        let a = BigUint::from_u128(self.mant.into()).shl((self.exp - e) as u64);
        let b = BigUint::from_u128(other.mant.into()).shl((other.exp - e) as u64);
        let (negative, magnitude) = if self.negative == other.negative {
            (self.negative, a.add(&b))
        } else {
            match a.cmp(&b) {
                Ordering::Greater => (self.negative, a.sub(&b)),
                Ordering::Less => (other.negative, b.sub(&a)),
                // x - x is +0 when rounding to nearest.
                Ordering::Equal => return Self::ZERO,
            }
        };
        match round_to_format(&magnitude, e.into(), false, &X87) {
            Some(Converted::Finite { mant, exp }) => Self::finite(negative, mant, exp),
            Some(Converted::Inf) => Self {
                negative,
                ..Self::INFINITY
            },
            // The exact sum is a nonzero multiple of the smallest subnormal.
            None => unreachable!("an exact x87 sum cannot underflow to zero"),
        }
    }
}

impl PartialEq for LongDouble {
    fn eq(&self, other: &Self) -> bool {
        self.partial_cmp(other) == Some(Ordering::Equal)
    }
}

impl PartialOrd for LongDouble {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        if self.is_nan() || other.is_nan() {
            return None;
        }
        if self.is_zero() && other.is_zero() {
            return Some(Ordering::Equal);
        }
        if self.negative != other.negative {
            return Some(if self.negative {
                Ordering::Less
            } else {
                Ordering::Greater
            });
        }
        let magnitude = match (self.class, other.class) {
            (Class::Inf, Class::Inf) => Ordering::Equal,
            (Class::Inf, _) => Ordering::Greater,
            (_, Class::Inf) => Ordering::Less,
            _ if self.mant == 0 || other.mant == 0 => self.mant.cmp(&other.mant),
            // Normalised: a larger exponent is a larger magnitude, except among subnormals,
            // which share the minimum exponent and compare by mantissa.
            _ => self.exp.cmp(&other.exp).then(self.mant.cmp(&other.mant)),
        };
        Some(if self.negative {
            magnitude.reverse()
        } else {
            magnitude
        })
    }
}

/// A binary floating-point format: `precision` mantissa bits; `min_exp` is the exponent of
/// the lowest mantissa bit of a subnormal, `max_exp` that of the largest finite value.
/// `dec_min`/`dec_max` bound the decimal magnitude `m` (value in `[10^(m-1), 10^m)`) beyond
/// which a value surely underflows to zero or overflows, so exact arithmetic is skipped.
struct BinaryFormat {
    precision: u64,
    min_exp: i64,
    max_exp: i64,
    dec_min: i64,
    dec_max: i64,
}

/// x87 extended: LDBL_MANT_DIG 64, smallest subnormal 2^-16445 (3.6e-4951), largest value
/// just under 2^16384 (1.19e4932).
const X87: BinaryFormat = BinaryFormat {
    precision: 64,
    min_exp: -16445,
    max_exp: 16384 - 64,
    dec_min: -4953,
    dec_max: 4935,
};

/// IEEE double: smallest subnormal 2^-1074 (4.9e-324), largest just under 2^1024 (1.8e308).
const F64: BinaryFormat = BinaryFormat {
    precision: 53,
    min_exp: -1074,
    max_exp: 1024 - 53,
    dec_min: -326,
    dec_max: 311,
};

enum Converted {
    /// `mant * 2^exp`, normalised as in [`LongDouble`] for the format.
    Finite {
        mant: u64,
        exp: i64,
    },
    Inf,
}

/// Rounds `n * 2^e` (plus a positive amount below the lowest bit of `n` when `sticky`) to the
/// format, nearest-even, with gradual underflow. `None` when a nonzero value rounds to zero
/// (where `strtod` sets ERANGE and returns 0); `Inf` on overflow.
fn round_to_format(n: &BigUint, e: i64, sticky: bool, format: &BinaryFormat) -> Option<Converted> {
    assert!(!n.is_zero(), "round_to_format of zero");
    let len = n.bitlen() as i64;
    let precision = format.precision as i64;
    let shift = (len - precision).max(format.min_exp - e);
    let (mut mant, mut exp) = if shift <= 0 {
        assert!(
            !sticky,
            "sticky bits need a rounding position below the value"
        );
        (n.low_u128() << (-shift), e + shift)
    } else {
        let shift = shift as u64;
        let mant = n.shr(shift).low_u128();
        let guard = n.bit(shift - 1);
        let rest = sticky || n.any_bit_below(shift - 1);
        let odd = mant & 1 == 1;
        let mant = if guard && (rest || odd) {
            mant + 1
        } else {
            mant
        };
        (mant, e + shift as i64)
    };
    if mant == 1 << precision {
        mant >>= 1;
        exp += 1;
    }
    if mant == 0 {
        return None;
    }
    if exp > format.max_exp {
        return Some(Converted::Inf);
    }
    debug_assert!(mant < 1 << precision);
    Some(Converted::Finite {
        mant: mant as u64,
        exp,
    })
}

fn f64_from_parts(mant: u64, exp: i64) -> f64 {
    if mant < 1 << 52 {
        debug_assert!(mant == 0 || exp == F64.min_exp);
        f64::from_bits(mant)
    } else {
        f64::from_bits((((exp + 1075) as u64) << 52) | (mant & ((1 << 52) - 1)))
    }
}

/// A float literal that matched C's `strtod` grammar in full.
enum Literal {
    Nan,
    Inf,
    Zero,
    /// Significant decimal digits (no leading or trailing zeros) times `10^exp10`.
    Decimal {
        digits: Vec<u8>,
        exp10: i64,
    },
    /// `mant * 2^exp2`, with `sticky` for nonzero hex digits cut off below `mant`.
    Hex {
        mant: BigUint,
        exp2: i64,
        sticky: bool,
    },
}

/// Exponents are saturated here; anything this large has long overflowed or underflowed.
const EXP_LIMIT: i64 = 1 << 40;

/// Parses all of `s` as C's `strtod` would, returning the sign and the literal, or `None`
/// when `strtod` would stop before the end. Decimal digits past `max_digits` are replaced by
/// a single `1` when any is nonzero, which keeps rounding exact if `max_digits` is enough.
fn parse_literal(s: &[u8], max_digits: usize) -> Option<(bool, Literal)> {
    let (negative, body) = match s.first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let lower = body.to_ascii_lowercase();
    if lower == b"inf" || lower == b"infinity" {
        return Some((negative, Literal::Inf));
    }
    if lower == b"nan" {
        return Some((negative, Literal::Nan));
    }
    if let Some(inner) = lower
        .strip_prefix(b"nan(")
        .and_then(|r| r.strip_suffix(b")"))
    {
        if inner
            .iter()
            .all(|&c| c.is_ascii_alphanumeric() || c == b'_')
        {
            return Some((negative, Literal::Nan));
        }
        return None;
    }
    if lower.starts_with(b"0x") {
        // "0x" without a hex digit is the literal "0" followed by garbage.
        return parse_hex(&body[2..]).map(|lit| (negative, lit));
    }
    parse_decimal(body, max_digits).map(|lit| (negative, lit))
}

/// Splits `s` into digits (by `is_digit`), an optional `.` and more digits. Returns the
/// integer digits, the fraction digits and the rest.
fn split_mantissa(s: &[u8], is_digit: fn(&u8) -> bool) -> (&[u8], &[u8], &[u8]) {
    let int_len = s.iter().take_while(|c| is_digit(c)).count();
    let (int, rest) = s.split_at(int_len);
    match rest.split_first() {
        Some((b'.', after)) => {
            let frac_len = after.iter().take_while(|c| is_digit(c)).count();
            let (frac, rest) = after.split_at(frac_len);
            (int, frac, rest)
        }
        _ => (int, &[], rest),
    }
}

/// An exponent suffix (`e`/`p` already removed): sign and at least one decimal digit,
/// nothing after. Saturates at ±`EXP_LIMIT`.
fn parse_exponent(s: &[u8]) -> Option<i64> {
    let (negative, digits) = match s.first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let v = digits.iter().fold(0i64, |acc, &c| {
        (acc * 10 + i64::from(c - b'0')).min(EXP_LIMIT)
    });
    Some(if negative { -v } else { v })
}

fn parse_decimal(s: &[u8], max_digits: usize) -> Option<Literal> {
    let (int, frac, rest) = split_mantissa(s, u8::is_ascii_digit);
    if int.is_empty() && frac.is_empty() {
        return None;
    }
    let exp = match rest.split_first() {
        None => 0,
        Some((b'e' | b'E', e)) => parse_exponent(e)?,
        Some(_) => return None,
    };
    let all: Vec<u8> = int.iter().chain(frac).copied().collect();
    let mut exp10 = exp - frac.len() as i64;
    let lead = all.iter().take_while(|&&c| c == b'0').count();
    let mut digits = all[lead..].to_vec();
    if digits.is_empty() {
        return Some(Literal::Zero);
    }
    while digits.last() == Some(&b'0') {
        digits.pop();
        exp10 += 1;
    }
    if digits.len() > max_digits {
        // The last digit is nonzero, so the cut part is nonzero.
        exp10 += (digits.len() - max_digits) as i64 - 1;
        digits.truncate(max_digits);
        digits.push(b'1');
    }
    Some(Literal::Decimal { digits, exp10 })
}

fn parse_hex(s: &[u8]) -> Option<Literal> {
    let (int, frac, rest) = split_mantissa(s, u8::is_ascii_hexdigit);
    if int.is_empty() && frac.is_empty() {
        return None;
    }
    let exp = match rest.split_first() {
        None => 0,
        Some((b'p' | b'P', e)) => parse_exponent(e)?,
        Some(_) => return None,
    };
    let all: Vec<u8> = int.iter().chain(frac).copied().collect();
    let lead = all.iter().take_while(|&&c| c == b'0').count();
    let significant = &all[lead..];
    if significant.is_empty() {
        return Some(Literal::Zero);
    }
    // 40 hex digits (157+ bits) decide the rounding of a 64-bit mantissa; the rest only
    // matters as "nonzero or not".
    let kept = significant.len().min(40);
    let sticky = significant[kept..].iter().any(|&c| c != b'0');
    let mut mant = BigUint::zero();
    for &c in &significant[..kept] {
        let digit = (c as char)
            .to_digit(16)
            .expect("is_ascii_hexdigit checked it");
        mant.mul_small_add(16, digit);
    }
    let exp2 = exp + 4 * ((significant.len() - kept) as i64 - frac.len() as i64);
    Some(Literal::Hex { mant, exp2, sticky })
}

impl Literal {
    /// The magnitude in `format`, or `None` where `strtod` fails for Redis: NaN, or a nonzero
    /// value rounding to zero. Overflow is `Inf` only for a literal infinity; an overflowing
    /// number is `None` too (ERANGE with HUGE_VAL).
    fn convert(&self, format: &BinaryFormat) -> Option<Converted> {
        let rounded = match self {
            Literal::Nan => return None,
            Literal::Inf => return Some(Converted::Inf),
            Literal::Zero => return Some(Converted::Finite { mant: 0, exp: 0 }),
            Literal::Decimal { digits, exp10 } => {
                let magnitude = digits.len() as i64 + exp10;
                if magnitude > format.dec_max || magnitude < format.dec_min {
                    return None;
                }
                decimal_to_binary(digits, *exp10, format)
            }
            Literal::Hex { mant, exp2, sticky } => {
                let top = mant.bitlen() as i64 + exp2;
                if top > format.max_exp + format.precision as i64 + 1 || top < format.min_exp - 2 {
                    return None;
                }
                round_to_format(mant, *exp2, *sticky, format)
            }
        };
        match rounded {
            Some(Converted::Inf) | None => None,
            finite => finite,
        }
    }
}

/// `digits * 10^exp10`, correctly rounded: exactly as an integer when `exp10 >= 0`, else as a
/// 66-67 bit quotient of an exact division with the remainder as the sticky bit.
fn decimal_to_binary(digits: &[u8], exp10: i64, format: &BinaryFormat) -> Option<Converted> {
    let d = BigUint::from_decimal(digits);
    if exp10 >= 0 {
        let n = d.mul(&BigUint::pow10(exp10 as u64));
        return round_to_format(&n, 0, false, format);
    }
    let den = BigUint::pow10(exp10.unsigned_abs());
    let k = d.bitlen() as i64 - den.bitlen() as i64;
    let (num, den, e) = if k < 66 {
        (d.shl((66 - k) as u64), den, k - 66)
    } else {
        (d, den.shl((k - 66) as u64), k - 66)
    };
    let (q, r) = num.div_rem_small_quotient(&den);
    debug_assert!(q >> 65 != 0 && q >> 67 == 0);
    round_to_format(&BigUint::from_u128(q), e, !r.is_zero(), format)
}

/// glibc's `%.<precision>f` of `mant * 2^exp` (magnitude only): exact, ties to even.
fn format_fixed(mant: u64, exp: i64, precision: usize) -> Vec<u8> {
    let scaled = if exp >= 0 {
        BigUint::from_u128(mant.into())
            .shl(exp as u64)
            .mul(&BigUint::pow10(precision as u64))
    } else {
        let x = BigUint::from_u128(mant.into()).mul(&BigUint::pow10(precision as u64));
        let s = exp.unsigned_abs();
        let mut q = x.shr(s);
        let guard = x.bit(s - 1);
        if guard && (x.any_bit_below(s - 1) || q.bit(0)) {
            q = q.add(&BigUint::from_u128(1));
        }
        q
    };
    let mut digits = scaled.to_decimal();
    if digits.len() <= precision {
        let mut padded = vec![b'0'; precision + 1 - digits.len()];
        padded.extend_from_slice(&digits);
        digits = padded;
    }
    if precision > 0 {
        digits.insert(digits.len() - precision, b'.');
    }
    digits
}

/// glibc's `%.<precision>g` of `mant * 2^exp` (magnitude only, `#` flag off).
fn format_general(mant: u64, exp: i64, precision: usize) -> Vec<u8> {
    let p = precision.max(1) as i64;
    if mant == 0 {
        return b"0".to_vec();
    }
    // Decimal exponent x of the first significant digit: an estimate, then fixed up so that
    // the scaled value lies in [10^(p-1), 10^p).
    let log10 = ((mant as f64).log2() + exp as f64) * std::f64::consts::LOG10_2;
    let mut x = log10.floor() as i64;
    let low = 10u128.pow(p as u32 - 1);
    let high = 10u128.pow(p as u32);
    let (mut q, half) = loop {
        let (q, half) = scaled_round_parts(mant, exp, p - 1 - x);
        if q < low {
            x -= 1;
        } else if q >= high {
            x += 1;
        } else {
            break (q, half);
        }
    };
    if half == Ordering::Greater || (half == Ordering::Equal && q & 1 == 1) {
        q += 1;
        if q == high {
            q = low;
            x += 1;
        }
    }
    let digits = q.to_string().into_bytes();
    debug_assert_eq!(digits.len() as i64, p);
    let mut out = Vec::with_capacity(digits.len() + 8);
    if x < -4 || x >= p {
        out.push(digits[0]);
        out.push(b'.');
        out.extend_from_slice(&digits[1..]);
        strip_fraction_zeros(&mut out);
        out.push(b'e');
        out.push(if x < 0 { b'-' } else { b'+' });
        let e = x.unsigned_abs().to_string();
        if e.len() < 2 {
            out.push(b'0');
        }
        out.extend_from_slice(e.as_bytes());
    } else if x >= 0 {
        let point = x as usize + 1;
        out.extend_from_slice(&digits[..point]);
        out.push(b'.');
        out.extend_from_slice(&digits[point..]);
        strip_fraction_zeros(&mut out);
    } else {
        out.extend_from_slice(b"0.");
        out.resize(out.len() + (-x - 1) as usize, b'0');
        out.extend_from_slice(&digits);
        strip_fraction_zeros(&mut out);
    }
    out
}

/// `floor(mant * 2^exp * 10^t)` and how the discarded fraction compares with one half.
fn scaled_round_parts(mant: u64, exp: i64, t: i64) -> (u128, Ordering) {
    let mut num = BigUint::from_u128(mant.into());
    let mut den = BigUint::from_u128(1);
    if exp >= 0 {
        num = num.shl(exp as u64);
    } else {
        den = den.shl(exp.unsigned_abs());
    }
    if t >= 0 {
        num = num.mul(&BigUint::pow10(t as u64));
    } else {
        den = den.mul(&BigUint::pow10(t.unsigned_abs()));
    }
    let (q, r) = num.div_rem_small_quotient(&den);
    (q, r.shl(1).cmp(&den))
}

/// Removes trailing zeros after a `.`, then the `.` itself if nothing follows it.
fn strip_fraction_zeros(s: &mut Vec<u8>) {
    if !s.contains(&b'.') {
        return;
    }
    while s.last() == Some(&b'0') {
        s.pop();
    }
    if s.last() == Some(&b'.') {
        s.pop();
    }
}

/// An unsigned integer of any size, little-endian 32-bit limbs without high zero limbs: just
/// enough arithmetic for exact conversions, on numbers below about 40,000 bits.
#[derive(Clone, Debug, PartialEq, Eq)]
struct BigUint {
    limbs: Vec<u32>,
}

impl BigUint {
    fn zero() -> Self {
        Self { limbs: Vec::new() }
    }

    fn from_u128(mut v: u128) -> Self {
        let mut limbs = Vec::new();
        while v != 0 {
            limbs.push(v as u32);
            v >>= 32;
        }
        Self { limbs }
    }

    fn from_decimal(digits: &[u8]) -> Self {
        let mut n = Self::zero();
        for chunk in digits.chunks(9) {
            let value = chunk
                .iter()
                .fold(0u32, |acc, &c| acc * 10 + u32::from(c - b'0'));
            n.mul_small_add(10u32.pow(chunk.len() as u32), value);
        }
        n
    }

    fn pow10(mut n: u64) -> Self {
        if n <= 38 {
            return Self::from_u128(10u128.pow(n as u32));
        }
        let mut result = Self::from_u128(1);
        let mut base = Self::from_u128(10);
        while n > 0 {
            if n & 1 == 1 {
                result = result.mul(&base);
            }
            n >>= 1;
            if n > 0 {
                base = base.mul(&base);
            }
        }
        result
    }

    fn trim(&mut self) {
        while self.limbs.last() == Some(&0) {
            self.limbs.pop();
        }
    }

    fn is_zero(&self) -> bool {
        self.limbs.is_empty()
    }

    fn bitlen(&self) -> u64 {
        match self.limbs.last() {
            None => 0,
            Some(&top) => self.limbs.len() as u64 * 32 - u64::from(top.leading_zeros()),
        }
    }

    fn bit(&self, i: u64) -> bool {
        self.limbs
            .get((i / 32) as usize)
            .is_some_and(|&l| (l >> (i % 32)) & 1 == 1)
    }

    /// Whether any bit below position `i` is set.
    fn any_bit_below(&self, i: u64) -> bool {
        let whole = ((i / 32) as usize).min(self.limbs.len());
        if self.limbs[..whole].iter().any(|&l| l != 0) {
            return true;
        }
        let partial = i % 32;
        partial != 0
            && self
                .limbs
                .get(whole)
                .is_some_and(|&l| l & ((1u32 << partial) - 1) != 0)
    }

    fn low_u128(&self) -> u128 {
        self.limbs
            .iter()
            .take(4)
            .enumerate()
            .fold(0u128, |acc, (i, &l)| acc | u128::from(l) << (32 * i))
    }

    fn shl(&self, n: u64) -> Self {
        if self.is_zero() {
            return Self::zero();
        }
        let words = (n / 32) as usize;
        let bits = (n % 32) as u32;
        let mut limbs = vec![0u32; words];
        limbs.reserve(self.limbs.len() + 1);
        if bits == 0 {
            limbs.extend_from_slice(&self.limbs);
        } else {
            let mut carry = 0u32;
            for &l in &self.limbs {
                limbs.push((l << bits) | carry);
                carry = l >> (32 - bits);
            }
            limbs.push(carry);
        }
        let mut r = Self { limbs };
        r.trim();
        r
    }

    fn shr(&self, n: u64) -> Self {
        let words = (n / 32) as usize;
        if words >= self.limbs.len() {
            return Self::zero();
        }
        let bits = (n % 32) as u32;
        let src = &self.limbs[words..];
        let limbs = if bits == 0 {
            src.to_vec()
        } else {
            (0..src.len())
                .map(|i| {
                    let high = src.get(i + 1).map_or(0, |&h| h << (32 - bits));
                    (src[i] >> bits) | high
                })
                .collect()
        };
        let mut r = Self { limbs };
        r.trim();
        r
    }

    fn mul_small_add(&mut self, m: u32, a: u32) {
        let mut carry = u64::from(a);
        for l in &mut self.limbs {
            let v = u64::from(*l) * u64::from(m) + carry;
            *l = v as u32;
            carry = v >> 32;
        }
        if carry != 0 {
            self.limbs.push(carry as u32);
        }
        self.trim();
    }

    fn mul(&self, other: &Self) -> Self {
        if self.is_zero() || other.is_zero() {
            return Self::zero();
        }
        let mut limbs = vec![0u32; self.limbs.len() + other.limbs.len()];
        for (i, &a) in self.limbs.iter().enumerate() {
            let mut carry = 0u64;
            for (j, &b) in other.limbs.iter().enumerate() {
                let v = u64::from(a) * u64::from(b) + u64::from(limbs[i + j]) + carry;
                limbs[i + j] = v as u32;
                carry = v >> 32;
            }
            limbs[i + other.limbs.len()] = carry as u32;
        }
        let mut r = Self { limbs };
        r.trim();
        r
    }

    fn add(&self, other: &Self) -> Self {
        let (long, short) = if self.limbs.len() >= other.limbs.len() {
            (self, other)
        } else {
            (other, self)
        };
        let mut limbs = Vec::with_capacity(long.limbs.len() + 1);
        let mut carry = 0u64;
        for (i, &l) in long.limbs.iter().enumerate() {
            let v = u64::from(l) + u64::from(short.limbs.get(i).copied().unwrap_or(0)) + carry;
            limbs.push(v as u32);
            carry = v >> 32;
        }
        if carry != 0 {
            limbs.push(carry as u32);
        }
        Self { limbs }
    }

    /// `self - other`; `self >= other` is the caller's invariant.
    fn sub(&self, other: &Self) -> Self {
        let mut r = self.clone();
        r.sub_assign(other);
        r
    }

    fn sub_assign(&mut self, other: &Self) {
        assert!(*self >= *other, "BigUint subtraction would go negative");
        let mut borrow = 0i64;
        for i in 0..self.limbs.len() {
            let v = i64::from(self.limbs[i])
                - i64::from(other.limbs.get(i).copied().unwrap_or(0))
                - borrow;
            borrow = i64::from(v < 0);
            self.limbs[i] = (v + (borrow << 32)) as u32;
        }
        self.trim();
    }

    /// `(self / den, self % den)` for a quotient below 2^127.
    fn div_rem_small_quotient(&self, den: &Self) -> (u128, Self) {
        assert!(!den.is_zero(), "division by zero");
        let mut rem = self.clone();
        if *self < *den {
            return (0, rem);
        }
        let k = self.bitlen() - den.bitlen();
        assert!(k < 127, "quotient too large: {k} bits");
        let mut d = den.shl(k);
        let mut q = 0u128;
        for i in (0..=k).rev() {
            if rem >= d {
                rem.sub_assign(&d);
                q |= 1 << i;
            }
            d.shr1_in_place();
        }
        (q, rem)
    }

    fn shr1_in_place(&mut self) {
        let mut carry = 0u32;
        for l in self.limbs.iter_mut().rev() {
            let next = *l << 31;
            *l = (*l >> 1) | carry;
            carry = next;
        }
        self.trim();
    }

    fn to_decimal(&self) -> Vec<u8> {
        if self.is_zero() {
            return b"0".to_vec();
        }
        let mut n = self.limbs.clone();
        let mut chunks = Vec::new();
        while !n.is_empty() {
            let mut rem = 0u64;
            for l in n.iter_mut().rev() {
                let v = (rem << 32) | u64::from(*l);
                *l = (v / 1_000_000_000) as u32;
                rem = v % 1_000_000_000;
            }
            while n.last() == Some(&0) {
                n.pop();
            }
            chunks.push(rem as u32);
        }
        let mut out = Vec::with_capacity(chunks.len() * 9);
        if let Some((top, rest)) = chunks.split_last() {
            out.extend_from_slice(top.to_string().as_bytes());
            for c in rest.iter().rev() {
                out.extend_from_slice(format!("{c:09}").as_bytes());
            }
        }
        out
    }
}

impl PartialOrd for BigUint {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for BigUint {
    fn cmp(&self, other: &Self) -> Ordering {
        self.limbs
            .len()
            .cmp(&other.limbs.len())
            .then_with(|| self.limbs.iter().rev().cmp(other.limbs.iter().rev()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ld(s: &str) -> LongDouble {
        string2ld(s.as_bytes()).expect("test literal is a valid long double")
    }

    fn auto(v: LongDouble) -> String {
        String::from_utf8(ld2string(v, LdStrMode::Auto).expect("fits")).expect("ascii")
    }

    fn human(v: LongDouble) -> String {
        String::from_utf8(ld2string(v, LdStrMode::Human).expect("fits")).expect("ascii")
    }

    #[test]
    fn ll2string_round_trips() {
        for v in [0, 1, -1, 9, 10, -10, 123456789, i64::MAX, i64::MIN] {
            assert_eq!(ll2string(v), v.to_string().into_bytes());
            assert_eq!(string2ll(&ll2string(v)), Some(v));
            assert_eq!(string2l(&ll2string(v)), Some(v));
        }
    }

    /// `%.17Lg`, as printed by glibc 2.36's printf on the values `strtold` gives for these
    /// literals (no Redis 7.0 command replies with LD_STR_AUTO, so glibc is the oracle).
    #[test]
    fn ld2string_auto_matches_glibc() {
        let cases = [
            ("0", "0"),
            ("-0", "-0"),
            ("1", "1"),
            ("-1.5", "-1.5"),
            ("0.1", "0.1"),
            ("1e16", "10000000000000000"),
            ("1e17", "1e+17"),
            ("123456789012345678", "1.2345678901234568e+17"),
            ("100000000000000005", "1e+17"),
            ("100000000000000015", "1.0000000000000002e+17"),
            ("1e-5", "1e-05"),
            ("0.0001", "0.0001"),
            ("0.00001234", "1.234e-05"),
            ("1e4932", "1e+4932"),
            ("-3.6e-4951", "-3.6451995318824746e-4951"),
            ("0.000003814697265625", "3.814697265625e-06"),
            ("99999999999999999.5", "1e+17"),
            ("9.99999999999999999e22", "1e+23"),
            ("1.18973149535723176502e4932", "1.1897314953572318e+4932"),
            ("3.14159265358979323846", "3.1415926535897932"),
            ("inf", "inf"),
            ("-inf", "-inf"),
        ];
        for (input, expected) in cases {
            assert_eq!(auto(ld(input)), expected, "{input}");
        }
    }

    #[test]
    fn human_format_rounds_half_even_and_hides_negative_zero() {
        // 2^-18 has 18 fraction digits, so the 17th is a tie: 0.0000038146972656|25.
        assert_eq!(human(ld("0.000003814697265625")), "0.00000381469726562");
        assert_eq!(human(ld("0.000011444091796875")), "0.00001144409179688");
        assert_eq!(human(ld("-1e-30")), "0");
        assert_eq!(human(ld("-0")), "0");
        assert_eq!(human(ld("5.0e3")), "5000");
        assert_eq!(human(ld("0x1p-16445")), "0");
    }

    #[test]
    fn d2string_special_values() {
        assert_eq!(d2string(f64::NAN), b"nan");
        assert_eq!(d2string(f64::INFINITY), b"inf");
        assert_eq!(d2string(f64::NEG_INFINITY), b"-inf");
        assert_eq!(d2string(-0.0), b"-0");
        assert_eq!(d2string(0.0), b"0");
        assert_eq!(d2string(1e17), b"100000000000000000");
        assert_eq!(d2string(1e19), b"1e+19");
        assert_eq!(d2string(0.1), b"0.10000000000000001");
        assert_eq!(d2string(f64::MIN_POSITIVE), b"2.2250738585072014e-308");
        assert_eq!(double2ll(4611686018427387904.0), Some(4611686018427387904));
        assert_eq!(double2ll(4611686018427388928.0), None);
        assert_eq!(double2ll(0.5), None);
        assert_eq!(double2ll(f64::NAN), None);
    }

    #[test]
    fn string2d_agrees_with_rust_on_plain_decimals() {
        // Rust's parser is correctly rounded too; on the syntax both accept they must agree.
        for s in [
            "0.1",
            "1e23",
            "2.2250738585072011e-308",
            "4.9e-324",
            "1.7976931348623157e308",
            "9007199254740993",
            "0.30000000000000004",
            "123456.789e-3",
            "5e-324",
            "1e-310",
        ] {
            let ours = string2d(s.as_bytes()).map(f64::to_bits);
            let rust = s.parse::<f64>().ok().map(f64::to_bits);
            assert_eq!(ours, rust, "{s}");
        }
    }

    #[test]
    fn strtod_grammar() {
        for ok in [
            "1",
            "+1",
            "-1",
            "1.",
            ".5",
            "1e5",
            "1E+5",
            "1e-5",
            "0x10",
            "0X1P-2",
            "0x.8",
            "0x1.",
            "inf",
            "-INF",
            "Infinity",
            "00",
            "0e0",
            "0x0p99999999999",
        ] {
            assert!(string2ld(ok.as_bytes()).is_some(), "{ok} should parse");
            assert!(string2d(ok.as_bytes()).is_some(), "{ok} should parse");
        }
        for bad in [
            "", " 1", "1 ", "\t1", "1\n", ".", "e5", "1e", "1e+", "0x", "0x.", "0xp1", "0x1p",
            "nan", "-nan", "NaN(123)", "nan(", "infin", "1_0", "1,5", "--1", "+-1", "1\0", "\x001",
            "0x1.8p1e", "1e5.5",
        ] {
            assert!(
                string2ld(bad.as_bytes()).is_none(),
                "{bad:?} should not parse"
            );
            assert!(
                string2d(bad.as_bytes()).is_none(),
                "{bad:?} should not parse"
            );
        }
    }

    #[test]
    fn long_double_limits() {
        let max = ld("1.18973149535723176502e4932");
        assert_eq!(max.mant, u64::MAX);
        assert_eq!(max.exp, 16320);
        assert!(string2ld(b"1.18973149535723176509e4932").is_none());
        let min = ld("0x1p-16445");
        assert_eq!((min.mant, min.exp), (1, -16445));
        // Exactly half the smallest subnormal ties to even, which is zero: refused.
        assert!(string2ld(b"0x1p-16446").is_none());
        assert_eq!(ld("0x1.8p-16446"), min);
        assert!((max + max).is_infinite());
        assert!((LongDouble::INFINITY + -LongDouble::INFINITY).is_nan());
        assert_eq!(min + min, ld("0x1p-16444"));
        // The largest subnormal plus the smallest is the smallest normal.
        let largest_subnormal = ld("0x0.fffffffffffffffep-16382");
        assert_eq!(largest_subnormal + min, ld("0x1p-16382"));
    }

    #[test]
    fn addition_rounds_once_to_nearest_even() {
        // 2^64 + 1 is a tie between 2^64 and 2^64 + 2: even mantissa wins.
        assert_eq!(
            ld("18446744073709551616") + ld("1"),
            ld("18446744073709551616")
        );
        assert_eq!(
            ld("18446744073709551618") + ld("1"),
            ld("18446744073709551620")
        );
        // A tiny addend only nudges the sticky bit.
        assert_eq!(
            ld("18446744073709551616") + ld("1.0000001"),
            ld("18446744073709551618")
        );
        assert_eq!(ld("1") + ld("-1"), LongDouble::ZERO);
        assert!((ld("-0") + ld("-0")).is_sign_negative());
        assert!(!(ld("-0") + ld("0")).is_sign_negative());
    }

    #[test]
    fn conversions_and_ordering() {
        assert_eq!(LongDouble::from_i64(i64::MIN), ld("-9223372036854775808"));
        assert_eq!(LongDouble::from_i64(0), LongDouble::ZERO);
        assert_eq!(
            LongDouble::from_f64(0.1),
            ld("0.1000000000000000055511151231257827")
        );
        assert_eq!(LongDouble::from_f64(5e-324), ld("0x1p-1074"));
        assert!(ld("1") > ld("0.5"));
        assert!(ld("-1") < ld("-0.5"));
        assert!(ld("0x1p-16382") > ld("0x0.8p-16382"));
        assert_eq!(ld("0").partial_cmp(&ld("-0")), Some(Ordering::Equal));
        assert_eq!(ld("0"), ld("-0"));
        assert_ne!(LongDouble::NAN, LongDouble::NAN);
        assert!(LongDouble::INFINITY > ld("1e4932"));
        assert_eq!(LongDouble::NAN.partial_cmp(&ld("1")), None);
    }

    #[test]
    fn big_uint_arithmetic() {
        let a = BigUint::pow10(40);
        assert_eq!(a.to_decimal(), format!("1{}", "0".repeat(40)).into_bytes());
        let b = BigUint::from_decimal(b"123456789012345678901234567890");
        assert_eq!(b.to_decimal(), b"123456789012345678901234567890");
        assert_eq!(b.shl(100).shr(100), b);
        assert_eq!(b.add(&a).sub(&a), b);
        let (q, r) = a
            .mul(&b)
            .add(&BigUint::from_u128(7))
            .div_rem_small_quotient(&a);
        assert_eq!(q, 123456789012345678901234567890);
        assert_eq!(r, BigUint::from_u128(7));
        assert!(BigUint::from_u128(0b1000).any_bit_below(4));
        assert!(!BigUint::from_u128(0b1000).any_bit_below(3));
        assert_eq!(BigUint::from_u128(1).shl(64).bitlen(), 65);
    }
}
