//! SORT and SORT_RO (Redis 7.0 sort.c): lists, sets and sorted sets, with BY (weights from
//! string keys or hash fields, or a constant pattern for no sorting), GET (`#` and patterns),
//! LIMIT, ASC/DESC, ALPHA and STORE.
//!
//! Order, as 7.0 computes it (and the tests against redis-server 7.0.15 check):
//! - Numeric weights come from `strtod` (leading blanks, hex floats, `inf`; trailing bytes,
//!   NaN and out-of-range values are "One or more scores can't be converted into double");
//!   a missing BY key weighs 0. Equal weights compare the elements themselves (binary), so
//!   numeric order is total.
//! - ALPHA compares the elements, or the BY values with a missing one first. Without STORE it
//!   is `strcoll`, byte order in the C and C.UTF-8 locales, stopping at a NUL as a C string
//!   does; with STORE a binary compare.
//! - Equal ALPHA BY values keep their input order (glibc's `qsort` is a stable merge sort),
//!   except that BY with a LIMIT narrower than the input runs Redis's `pqsort`, a partial
//!   Bentley-McIlroy quicksort, reproduced step for step here so ties land where Redis puts
//!   them.
//! - BY a pattern without `*` skips sorting: lists and sorted sets come in their own order
//!   (reversed by DESC, LIMIT as a range), sets in storage order; but a set with STORE is
//!   sorted ALPHA instead, so that the stored list, and its replay, are deterministic.
//!   (7.0 does the same inside scripts; we have none.)
//! - A sorted set read by SORT is converted to `skiplist` first, as 7.0's `zsetConvert`.
//!
//! Effects: SORT ... STORE is propagated as written when it stored a list or deleted the
//! destination (Redis's `call` propagates it because `server.dirty` moved); SORT without
//! STORE and SORT_RO never propagate.

use crate::commands::keys::as_written;
use crate::ctx::Ctx;
use crate::errors;
use crate::table::Handler;
use bytes::Bytes;
use redoubt_keyspace::list::ListVal;
use redoubt_keyspace::Value;
use std::cmp::Ordering;

const SCORE_ERROR: &str = "ERR One or more scores can't be converted into double";

/// One element to sort (Redis's `redisSortObject`).
struct Item {
    obj: Vec<u8>,
    /// Numeric weight (0 when the BY key is missing).
    score: f64,
    /// ALPHA with BY: the BY value, None when missing.
    cmp: Option<Vec<u8>>,
}

impl Item {
    fn new(obj: Vec<u8>) -> Self {
        Item {
            obj,
            score: 0.0,
            cmp: None,
        }
    }
}

/// The options after parsing.
struct Options<'a> {
    desc: bool,
    alpha: bool,
    limit_start: i64,
    limit_count: i64,
    dontsort: bool,
    sortby: Option<&'a [u8]>,
    store: Option<&'a [u8]>,
    gets: Vec<&'a [u8]>,
}

/// The bytes a C string sees: up to the first NUL.
fn c_str(s: &[u8]) -> &[u8] {
    match s.iter().position(|&b| b == 0) {
        Some(i) => &s[..i],
        None => s,
    }
}

/// Parses the options in Redis's order; replies the error and returns None on a bad one.
fn parse_options<'a>(ctx: &mut Ctx<'_>, argv: &'a [Bytes], readonly: bool) -> Option<Options<'a>> {
    let mut o = Options {
        desc: false,
        alpha: false,
        limit_start: 0,
        limit_count: -1,
        dontsort: false,
        sortby: None,
        store: None,
        gets: Vec::new(),
    };
    let mut j = 2;
    while j < argv.len() {
        let left = argv.len() - j - 1;
        let a = &argv[j][..];
        if a.eq_ignore_ascii_case(b"asc") {
            o.desc = false;
        } else if a.eq_ignore_ascii_case(b"desc") {
            o.desc = true;
        } else if a.eq_ignore_ascii_case(b"alpha") {
            o.alpha = true;
        } else if a.eq_ignore_ascii_case(b"limit") && left >= 2 {
            o.limit_start = ctx.parse_i64(&argv[j + 1])?;
            o.limit_count = ctx.parse_i64(&argv[j + 2])?;
            j += 2;
        } else if !readonly && a.eq_ignore_ascii_case(b"store") && left >= 1 {
            o.store = Some(&argv[j + 1]);
            j += 1;
        } else if a.eq_ignore_ascii_case(b"by") && left >= 1 {
            let pattern = &argv[j + 1][..];
            // A constant pattern names no per-element key: nothing to sort by. As in 7.0 this
            // sticks: a later BY with a `*` does not turn sorting back on.
            if !c_str(pattern).contains(&b'*') {
                o.dontsort = true;
            }
            o.sortby = Some(pattern);
            j += 1;
        } else if a.eq_ignore_ascii_case(b"get") && left >= 1 {
            o.gets.push(&argv[j + 1]);
            j += 1;
        } else {
            ctx.error(errors::SYNTAX);
            return None;
        }
        j += 1;
    }
    Some(o)
}

/// Redis's `lookupKeyByPattern`: `#` is the element itself; otherwise the first `*` takes the
/// element, and a `->field` after it reads that hash field. A pattern without `*`, a missing
/// key, or a key of another type gives None. Lookups count as reads (stats, lazy expiry).
fn lookup_by_pattern(ctx: &mut Ctx<'_>, pattern: &[u8], subst: &[u8]) -> Option<Vec<u8>> {
    // Redis scans the pattern as a C string (an sds with its NUL) for `#`, `*` and `->`.
    let cpat = c_str(pattern);
    if cpat == b"#" {
        return Some(subst.to_vec());
    }
    let star = cpat.iter().position(|&b| b == b'*')?;
    let arrow = cpat[star + 1..]
        .windows(2)
        .position(|w| w == b"->")
        .map(|i| star + 1 + i)
        .filter(|&f| f + 2 < cpat.len());
    let (postfix, field) = match arrow {
        Some(f) => (&pattern[star + 1..f], Some(&pattern[f + 2..])),
        None => (&pattern[star + 1..], None),
    };
    let mut key = Vec::with_capacity(star + subst.len() + postfix.len());
    key.extend_from_slice(&pattern[..star]);
    key.extend_from_slice(subst);
    key.extend_from_slice(postfix);
    let entry = ctx.lookup_read(&key)?;
    match (&entry.value, field) {
        (Value::Hash(h), Some(f)) => h.get(f).map(<[u8]>::to_vec),
        (Value::Str(s), None) => Some(s.to_vec()),
        _ => None,
    }
}

/// What `strtod` + SORT's checks make of a weight: None for the conversion error (bytes left
/// over, NaN, or ERANGE: overflow, or underflow to zero or a subnormal).
fn parse_weight(s: &[u8]) -> Option<f64> {
    let s = c_str(s);
    let mut i = 0;
    while i < s.len() && matches!(s[i], b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r') {
        i += 1;
    }
    let num_start = i;
    let neg = i < s.len() && s[i] == b'-';
    if i < s.len() && (s[i] == b'+' || s[i] == b'-') {
        i += 1;
    }
    let rest = &s[i..];
    let sign = if neg { -1.0 } else { 1.0 };
    let starts = |p: &[u8]| rest.len() >= p.len() && rest[..p.len()].eq_ignore_ascii_case(p);
    if starts(b"inf") {
        let len = if starts(b"infinity") { 8 } else { 3 };
        return (i + len == s.len()).then_some(sign * f64::INFINITY);
    }
    if starts(b"nan") {
        return None;
    }
    if starts(b"0x") {
        return match parse_hex(&rest[2..]) {
            Some((v, len)) => (i + 2 + len == s.len()).then_some(sign * v?),
            // "0x" without hex digits: strtod reads the "0" and stops at the 'x'.
            None => None,
        };
    }
    let digits = |from: usize| s[from..].iter().take_while(|b| b.is_ascii_digit()).count();
    let int_digits = digits(i);
    let mut end = i + int_digits;
    let mut frac_digits = 0;
    if end < s.len() && s[end] == b'.' {
        frac_digits = digits(end + 1);
        end += 1 + frac_digits;
    }
    if int_digits + frac_digits == 0 {
        // No conversion: strtod's end is the string's start, so only "" passes (as 0).
        return s.is_empty().then_some(0.0);
    }
    let mantissa_end = end;
    if end < s.len() && (s[end] | 0x20) == b'e' {
        let mut k = end + 1;
        if k < s.len() && (s[k] == b'+' || s[k] == b'-') {
            k += 1;
        }
        let exp_digits = digits(k);
        if exp_digits > 0 {
            end = k + exp_digits;
        }
    }
    if end != s.len() {
        return None;
    }
    let text = std::str::from_utf8(&s[num_start..end]).ok()?;
    let v: f64 = text.parse().ok()?;
    let nonzero = s[i..mantissa_end].iter().any(|b| matches!(b, b'1'..=b'9'));
    if v.is_infinite() || (nonzero && v.abs() < f64::MIN_POSITIVE) {
        return None;
    }
    Some(v)
}

/// A hex float's digits after "0x": (value or None on ERANGE, bytes used), or None when no
/// hex digit follows. The first 15 significant digits are kept exactly (60 bits, more than a
/// double holds); later ones only count as "inexact" for glibc's underflow rule (ERANGE for
/// a subnormal result that lost bits, not for an exact one such as `0x1p-1074`).
fn parse_hex(s: &[u8]) -> Option<(Option<f64>, usize)> {
    let mut mant: u64 = 0;
    let mut exp: i64 = 0;
    let mut kept = 0;
    let mut seen = 0;
    let mut dropped_nonzero = false;
    let mut i = 0;
    let mut dot = false;
    while i < s.len() {
        let c = s[i];
        if c == b'.' && !dot {
            dot = true;
        } else if let Some(d) = (c as char).to_digit(16) {
            seen += 1;
            if mant == 0 && d == 0 {
                if dot {
                    exp -= 4;
                }
            } else if kept < 15 {
                mant = mant * 16 + u64::from(d);
                kept += 1;
                if dot {
                    exp -= 4;
                }
            } else {
                dropped_nonzero |= d != 0;
                if !dot {
                    exp += 4;
                }
            }
        } else {
            break;
        }
        i += 1;
    }
    if seen == 0 {
        return None;
    }
    if i < s.len() && (s[i] | 0x20) == b'p' {
        let mut k = i + 1;
        let neg = k < s.len() && s[k] == b'-';
        if k < s.len() && (s[k] == b'+' || s[k] == b'-') {
            k += 1;
        }
        let n = s[k..].iter().take_while(|b| b.is_ascii_digit()).count();
        if n > 0 {
            let mut e: i64 = 0;
            for &b in &s[k..k + n] {
                e = (e * 10 + i64::from(b - b'0')).min(100_000);
            }
            exp += if neg { -e } else { e };
            i = k + n;
        }
    }
    let exp = exp.clamp(-5000, 5000);
    let v = scale_pow2(mant as f64, exp);
    let erange = if v.is_infinite() || (mant != 0 && v == 0.0) {
        true
    } else if v != 0.0 && v.abs() < f64::MIN_POSITIVE {
        // Scaling a subnormal back up is exact: it differs from the digits iff bits were lost.
        dropped_nonzero || mant >= 1 << 53 || scale_pow2(v, -exp) != mant as f64
    } else {
        false
    };
    Some(((!erange).then_some(v), i))
}

/// `v * 2^e`, in steps that keep each factor a normal double.
fn scale_pow2(mut v: f64, mut e: i64) -> f64 {
    while e != 0 {
        let step = e.clamp(-1000, 1000);
        v *= 2f64.powi(step as i32);
        e -= step;
    }
    v
}

/// Redis's `sortCompare`.
fn sort_compare(a: &Item, b: &Item, alpha: bool, bypattern: bool, store: bool) -> Ordering {
    if !alpha {
        if a.score > b.score {
            Ordering::Greater
        } else if a.score < b.score {
            Ordering::Less
        } else {
            a.obj.cmp(&b.obj)
        }
    } else if bypattern {
        match (&a.cmp, &b.cmp) {
            (None, None) => Ordering::Equal,
            (None, Some(_)) => Ordering::Less,
            (Some(_), None) => Ordering::Greater,
            (Some(x), Some(y)) if store => x.cmp(y),
            (Some(x), Some(y)) => c_str(x).cmp(c_str(y)),
        }
    } else if store {
        a.obj.cmp(&b.obj)
    } else {
        c_str(&a.obj).cmp(c_str(&b.obj))
    }
}

/// Redis's `pqsort`: NetBSD's quicksort (Bentley & McIlroy) that skips the partitions lying
/// wholly outside the ranks `lrange..=rrange`. Kept step for step, because with ties its
/// result order is part of SORT's reply.
fn pqsort<T>(v: &mut [T], cmp: &mut impl FnMut(&T, &T) -> Ordering, lrange: i64, rrange: i64) {
    pqsort_part(v, 0, v.len(), cmp, lrange, rrange);
}

fn med3<T>(
    v: &[T],
    a: usize,
    b: usize,
    c: usize,
    cmp: &mut impl FnMut(&T, &T) -> Ordering,
) -> usize {
    if cmp(&v[a], &v[b]) == Ordering::Less {
        if cmp(&v[b], &v[c]) == Ordering::Less {
            b
        } else if cmp(&v[a], &v[c]) == Ordering::Less {
            c
        } else {
            a
        }
    } else if cmp(&v[b], &v[c]) == Ordering::Greater {
        b
    } else if cmp(&v[a], &v[c]) == Ordering::Less {
        a
    } else {
        c
    }
}

fn insertion_sort<T>(v: &mut [T], a: usize, n: usize, cmp: &mut impl FnMut(&T, &T) -> Ordering) {
    for m in a + 1..a + n {
        let mut l = m;
        while l > a && cmp(&v[l - 1], &v[l]) == Ordering::Greater {
            v.swap(l, l - 1);
            l -= 1;
        }
    }
}

/// True when the partition `lo..lo+n` holds none of the wanted ranks.
fn outside(lo: usize, n: usize, lrange: i64, rrange: i64) -> bool {
    let (lo, hi) = (lo as i64, (lo + n) as i64);
    (lrange < lo && rrange < lo) || (lrange >= hi && rrange >= hi)
}

fn pqsort_part<T>(
    v: &mut [T],
    mut a: usize,
    mut n: usize,
    cmp: &mut impl FnMut(&T, &T) -> Ordering,
    lrange: i64,
    rrange: i64,
) {
    loop {
        if n < 7 {
            insertion_sort(v, a, n, cmp);
            return;
        }
        let mut pm = a + n / 2;
        if n > 7 {
            let mut pl = a;
            let mut pn = a + n - 1;
            if n > 40 {
                let d = n / 8;
                pl = med3(v, pl, pl + d, pl + 2 * d, cmp);
                pm = med3(v, pm - d, pm, pm + d, cmp);
                pn = med3(v, pn - 2 * d, pn - d, pn, cmp);
            }
            pm = med3(v, pl, pm, pn, cmp);
        }
        v.swap(a, pm);
        let mut swapped = false;
        let (mut pa, mut pb) = (a + 1, a + 1);
        let (mut pc, mut pd) = (a + n - 1, a + n - 1);
        loop {
            while pb <= pc {
                let r = cmp(&v[pb], &v[a]);
                if r == Ordering::Greater {
                    break;
                }
                if r == Ordering::Equal {
                    swapped = true;
                    v.swap(pa, pb);
                    pa += 1;
                }
                pb += 1;
            }
            while pb <= pc {
                let r = cmp(&v[pc], &v[a]);
                if r == Ordering::Less {
                    break;
                }
                if r == Ordering::Equal {
                    swapped = true;
                    v.swap(pc, pd);
                    pd -= 1;
                }
                pc -= 1;
            }
            if pb > pc {
                break;
            }
            v.swap(pb, pc);
            swapped = true;
            pb += 1;
            pc -= 1;
        }
        if !swapped {
            insertion_sort(v, a, n, cmp);
            return;
        }
        let pn = a + n;
        let r = (pa - a).min(pb - pa);
        for k in 0..r {
            v.swap(a + k, pb - r + k);
        }
        let r = (pd - pc).min(pn - pd - 1);
        for k in 0..r {
            v.swap(pb + k, pn - r + k);
        }
        let r = pb - pa;
        if r > 1 && !outside(a, r, lrange, rrange) {
            pqsort_part(v, a, r, cmp, lrange, rrange);
        }
        let r = pd - pc;
        if r > 1 {
            a = pn - r;
            n = r;
            if !outside(a, n, lrange, rrange) {
                continue;
            }
        }
        return;
    }
}

/// `sortCommandGeneric`.
fn sort_generic(ctx: &mut Ctx<'_>, argv: &[Bytes], readonly: bool) {
    let Some(mut o) = parse_options(ctx, argv, readonly) else {
        return;
    };
    let key = &argv[1][..];
    let db = ctx.client.db;

    // Load the elements: each type in its own order, and for lists and sorted sets that need
    // no sorting only the LIMIT range (Redis's direct-load optimisation, which decides DESC
    // order there).
    enum Kind {
        List,
        Set,
        ZSet,
    }
    let kind = match ctx.lookup_read(key).map(|e| &e.value) {
        None | Some(Value::List(_)) => Kind::List,
        Some(Value::Set(_)) => Kind::Set,
        Some(Value::ZSet(_)) => Kind::ZSet,
        Some(_) => {
            ctx.error(errors::WRONGTYPE);
            return;
        }
    };
    if matches!(kind, Kind::Set) && o.dontsort && o.store.is_some() {
        // Deterministic stored order for replicas and the AOF: sort the set ALPHA.
        o.dontsort = false;
        o.alpha = true;
        o.sortby = None;
    }
    let entry = ctx.eng.dbs[db].get_raw_mut(key).map(|e| &mut e.value);
    if let Some(Value::ZSet(z)) = entry {
        z.convert_to_skiplist();
    }
    let value = ctx.eng.dbs[db].get_raw(key).map(|e| &e.value);
    let len = match value {
        Some(Value::List(l)) => l.len(),
        Some(Value::Set(s)) => s.len(),
        Some(Value::ZSet(z)) => z.len(),
        _ => 0,
    } as i64;

    // LIMIT clamping, as 7.0 does it.
    let mut start = o.limit_start.max(0).min(len);
    let count = o.limit_count.max(-1).min(len);
    let mut end = if count < 0 {
        len - 1
    } else {
        start + count - 1
    };
    if start >= len {
        start = len - 1;
        end = len - 2;
    }
    if end >= len {
        end = len - 1;
    }
    let ranged = o.dontsort && !matches!(kind, Kind::Set) && (start != 0 || end != len - 1);
    let want = if ranged { end - start + 1 } else { len };
    let want = usize::try_from(want).unwrap_or(0);

    let mut vector: Vec<Item> = Vec::with_capacity(want);
    match value {
        Some(Value::List(l)) if o.dontsort && end >= start => {
            let from = start as usize;
            if o.desc {
                let it = l.iter().rev().skip(from);
                vector.extend(it.take(want).map(|e| Item::new(e.to_vec())));
            } else {
                let it = l.iter_from(from);
                vector.extend(it.take(want).map(|e| Item::new(e.to_vec())));
            }
            end -= start;
            start = 0;
        }
        // An empty range: nothing to load, and start/end stay as they are (as in Redis).
        Some(Value::List(_)) if o.dontsort => {}
        Some(Value::List(l)) => vector.extend(l.iter().map(|e| Item::new(e.to_vec()))),
        Some(Value::Set(s)) => vector.extend(s.iter().map(|m| Item::new(m.into_owned()))),
        Some(Value::ZSet(z)) if o.dontsort => {
            if want > 0 {
                let (lo, hi) = (start as usize, start as usize + want - 1);
                let range = z.range_by_rank(lo, hi, o.desc);
                vector.extend(range.into_iter().map(|(m, _)| Item::new(m.to_vec())));
            }
            end -= start;
            start = 0;
        }
        Some(Value::ZSet(z)) => vector.extend(z.iter().map(|(m, _)| Item::new(m.to_vec()))),
        _ => {}
    }
    debug_assert_eq!(vector.len(), want, "loaded exactly the vector's length");

    let mut score_error = false;
    if !o.dontsort {
        for item in &mut vector {
            let by = match o.sortby {
                Some(p) => match lookup_by_pattern(ctx, p, &item.obj) {
                    Some(v) => v,
                    None => continue,
                },
                None => {
                    if !o.alpha {
                        match parse_weight(&item.obj) {
                            Some(s) => item.score = s,
                            None => score_error = true,
                        }
                    }
                    continue;
                }
            };
            if o.alpha {
                item.cmp = Some(by);
            } else {
                match parse_weight(&by) {
                    Some(s) => item.score = s,
                    None => score_error = true,
                }
            }
        }
        // With a conversion error only the error is replied: no need to order (and NaN
        // weights would make the order inconsistent).
        if !score_error {
            let (alpha, bypattern, store, desc) =
                (o.alpha, o.sortby.is_some(), o.store.is_some(), o.desc);
            let mut cmp = |a: &Item, b: &Item| {
                let c = sort_compare(a, b, alpha, bypattern, store);
                if desc {
                    c.reverse()
                } else {
                    c
                }
            };
            if bypattern && (start != 0 || end != vector.len() as i64 - 1) {
                pqsort(&mut vector, &mut cmp, start, end);
            } else {
                // glibc's qsort is a merge sort: stable, like this one.
                vector.sort_by(cmp);
            }
        }
    }

    if score_error {
        ctx.error(SCORE_ERROR);
        return;
    }
    let picked: &[Item] = match (usize::try_from(start), usize::try_from(end)) {
        (Ok(s), Ok(e)) if e >= s => vector.get(s..=e).unwrap_or(&[]),
        _ => &[],
    };
    let per = o.gets.len().max(1);
    let outputlen = picked.len() * per;
    let Some(dst) = o.store else {
        ctx.out().array_len(outputlen);
        for item in picked {
            if o.gets.is_empty() {
                ctx.out().bulk(&item.obj);
            }
            for &g in &o.gets {
                match lookup_by_pattern(ctx, g, &item.obj) {
                    Some(v) => ctx.out().bulk(&v),
                    None => ctx.out().null(),
                }
            }
        }
        return;
    };

    let mut list = ListVal::with_fill(ctx.eng.config.get_int("list-max-listpack-size"));
    for item in picked {
        if o.gets.is_empty() {
            list.push(false, &item.obj);
        }
        for &g in &o.gets {
            // A missing GET stores an empty string.
            let v = lookup_by_pattern(ctx, g, &item.obj).unwrap_or_default();
            list.push(false, &v);
        }
    }
    if outputlen > 0 {
        ctx.lookup_write(dst);
        let old = ctx.eng.dbs[db].set(dst, Value::List(Box::new(list)), false);
        ctx.eng.free_server_del(old);
        ctx.signal_modified(db, dst);
        ctx.dirty(outputlen as u64);
        ctx.propagate(&as_written(argv));
    } else if ctx.delete(db, dst, ctx.eng.conf.lazyfree_lazy_server_del) {
        ctx.dirty(1);
        ctx.propagate(&as_written(argv));
    }
    ctx.out().int(outputlen as i64);
}

pub fn sort(ctx: &mut Ctx<'_>, argv: &[Bytes]) {
    sort_generic(ctx, argv, false);
}

pub fn sort_ro(ctx: &mut Ctx<'_>, argv: &[Bytes]) {
    sort_generic(ctx, argv, true);
}

/// This family's commands (see `commands::all`).
pub static HANDLERS: &[(&str, Handler)] = &[("sort", sort), ("sort_ro", sort_ro)];

#[cfg(test)]
#[path = "sort_tests.rs"]
mod tests;
