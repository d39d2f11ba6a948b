//! The compact encodings Redis stores inside an RDB as strings: listpack (`listpack.c`),
//! ziplist (`ziplist.c`, read only: Redis 7.0 no longer writes it), intset (`intset.c`) and
//! zipmap (`zipmap.c`, read only). Readers validate every length against the blob and
//! return the reason on corruption; integers come back as their decimal text, as Redis's
//! iterators hand them to the object being built.

type Res<T> = Result<T, &'static str>;

fn le(b: &[u8]) -> u64 {
    b.iter().rev().fold(0, |acc, &x| (acc << 8) | u64::from(x))
}

fn sign_extend(v: u64, bits: u32) -> i64 {
    let shift = 64 - bits;
    ((v << shift) as i64) >> shift
}

fn get(b: &[u8], from: usize, n: usize) -> Res<&[u8]> {
    from.checked_add(n)
        .and_then(|end| b.get(from..end))
        .ok_or("blob entry runs past its end")
}

fn int_text(v: i64) -> Vec<u8> {
    v.to_string().into_bytes()
}

/// The entries of a listpack.
pub fn listpack_entries(b: &[u8]) -> Res<Vec<Vec<u8>>> {
    if b.len() < 7 {
        return Err("listpack shorter than its header");
    }
    if le(&b[..4]) as usize != b.len() {
        return Err("listpack total bytes mismatch");
    }
    let declared = le(&b[4..6]) as usize;
    let mut out = Vec::with_capacity(declared.min(b.len()));
    let mut p = 6;
    loop {
        let &enc = b.get(p).ok_or("listpack without terminator")?;
        if enc == 0xff {
            if p + 1 != b.len() {
                return Err("listpack terminator before its end");
            }
            break;
        }
        let start = p;
        let v: Vec<u8> = if enc & 0x80 == 0 {
            p += 1;
            int_text(i64::from(enc & 0x7f))
        } else if enc & 0xc0 == 0x80 {
            let n = usize::from(enc & 0x3f);
            let s = get(b, p + 1, n)?.to_vec();
            p += 1 + n;
            s
        } else if enc & 0xe0 == 0xc0 {
            let lo = *b.get(p + 1).ok_or("listpack int runs past its end")?;
            let uv = (u64::from(enc & 0x1f) << 8) | u64::from(lo);
            p += 2;
            int_text(sign_extend(uv, 13))
        } else if enc & 0xf0 == 0xe0 {
            let lo = *b.get(p + 1).ok_or("listpack string runs past its end")?;
            let n = (usize::from(enc & 0x0f) << 8) | usize::from(lo);
            let s = get(b, p + 2, n)?.to_vec();
            p += 2 + n;
            s
        } else {
            let (width, bits) = match enc {
                0xf0 => {
                    let n = le(get(b, p + 1, 4)?) as usize;
                    let s = get(b, p + 5, n)?.to_vec();
                    p += 5 + n;
                    let len = p - start;
                    p = skip_backlen(b, p, len)?;
                    out.push(s);
                    continue;
                }
                0xf1 => (2, 16),
                0xf2 => (3, 24),
                0xf3 => (4, 32),
                0xf4 => (8, 64),
                _ => return Err("listpack entry with an invalid encoding"),
            };
            let uv = le(get(b, p + 1, width)?);
            p += 1 + width;
            int_text(sign_extend(uv, bits))
        };
        let len = p - start;
        p = skip_backlen(b, p, len)?;
        out.push(v);
    }
    if declared != 0xffff && declared != out.len() {
        return Err("listpack element count mismatch");
    }
    Ok(out)
}

fn backlen_size(l: usize) -> usize {
    match l {
        0..=127 => 1,
        128..=16382 => 2,
        16383..=2097150 => 3,
        2097151..=268435454 => 4,
        _ => 5,
    }
}

fn skip_backlen(b: &[u8], p: usize, entry_len: usize) -> Res<usize> {
    let n = backlen_size(entry_len);
    let bytes = get(b, p, n)?;
    // Decoding from the last byte backwards must give the entry's length back.
    let mut v = 0usize;
    let mut shift = 0;
    for (i, &x) in bytes.iter().rev().enumerate() {
        v |= usize::from(x & 0x7f) << shift;
        shift += 7;
        let more = x & 0x80 != 0;
        if more != (i + 1 < n) {
            return Err("listpack entry with a bad back length");
        }
    }
    if v != entry_len {
        return Err("listpack entry with a bad back length");
    }
    Ok(p + n)
}

/// Appends one listpack entry: integers in Redis's integer encodings (`lpEncodeGetType`
/// uses `string2ll`'s rule), other strings as strings.
fn lp_append(out: &mut Vec<u8>, v: &[u8]) {
    let start = out.len();
    if let Some(n) = redoubt_keyspace::num::string2ll(v) {
        match n {
            0..=127 => out.push(n as u8),
            -4096..=4095 => {
                let u = (n as u64) & 0x1fff;
                out.push(0xc0 | (u >> 8) as u8);
                out.push(u as u8);
            }
            -32768..=32767 => {
                out.push(0xf1);
                out.extend_from_slice(&(n as i16).to_le_bytes());
            }
            -8388608..=8388607 => {
                out.push(0xf2);
                out.extend_from_slice(&(n as i32).to_le_bytes()[..3]);
            }
            -2147483648..=2147483647 => {
                out.push(0xf3);
                out.extend_from_slice(&(n as i32).to_le_bytes());
            }
            _ => {
                out.push(0xf4);
                out.extend_from_slice(&n.to_le_bytes());
            }
        }
    } else if v.len() < 64 {
        out.push(0x80 | v.len() as u8);
        out.extend_from_slice(v);
    } else if v.len() < 4096 {
        out.push(0xe0 | (v.len() >> 8) as u8);
        out.push(v.len() as u8);
        out.extend_from_slice(v);
    } else {
        out.push(0xf0);
        out.extend_from_slice(&(v.len() as u32).to_le_bytes());
        out.extend_from_slice(v);
    }
    let l = out.len() - start;
    // lpEncodeBacklen: most significant 7-bit group first; every byte after the first has
    // the high bit set, so the length reads back from the entry's last byte.
    let n = backlen_size(l);
    for i in (0..n).rev() {
        let group = ((l >> (7 * i)) & 0x7f) as u8;
        out.push(if i + 1 == n { group } else { group | 0x80 });
    }
}

/// Builds a listpack from its entries.
pub fn listpack<'a>(entries: impl IntoIterator<Item = &'a [u8]>) -> Vec<u8> {
    let mut out = vec![0u8; 6];
    let mut count = 0usize;
    for e in entries {
        lp_append(&mut out, e);
        count += 1;
    }
    out.push(0xff);
    let total = out.len() as u32;
    out[..4].copy_from_slice(&total.to_le_bytes());
    let c = count.min(0xffff) as u16;
    out[4..6].copy_from_slice(&c.to_le_bytes());
    out
}

/// The size an entry adds to a listpack (for quicklist node filling).
pub fn listpack_entry_size(v: &[u8]) -> usize {
    let mut tmp = Vec::new();
    lp_append(&mut tmp, v);
    tmp.len()
}

/// The entries of a ziplist.
pub fn ziplist_entries(b: &[u8]) -> Res<Vec<Vec<u8>>> {
    if b.len() < 11 {
        return Err("ziplist shorter than its header");
    }
    if le(&b[..4]) as usize != b.len() {
        return Err("ziplist total bytes mismatch");
    }
    let declared = le(&b[8..10]) as usize;
    let mut out = Vec::with_capacity(declared.min(b.len()));
    let mut p = 10;
    loop {
        let &first = b.get(p).ok_or("ziplist without terminator")?;
        if first == 0xff {
            if p + 1 != b.len() {
                return Err("ziplist terminator before its end");
            }
            break;
        }
        // prevlen: one byte, or 0xfe and four bytes.
        p += if first < 0xfe { 1 } else { 5 };
        let &enc = b.get(p).ok_or("ziplist entry runs past its end")?;
        let v = match enc >> 6 {
            0 => {
                let n = usize::from(enc & 0x3f);
                let s = get(b, p + 1, n)?.to_vec();
                p += 1 + n;
                s
            }
            1 => {
                let lo = *b.get(p + 1).ok_or("ziplist entry runs past its end")?;
                let n = (usize::from(enc & 0x3f) << 8) | usize::from(lo);
                let s = get(b, p + 2, n)?.to_vec();
                p += 2 + n;
                s
            }
            2 => {
                if enc != 0x80 {
                    return Err("ziplist entry with an invalid encoding");
                }
                let l = get(b, p + 1, 4)?;
                let n = u32::from_be_bytes([l[0], l[1], l[2], l[3]]) as usize;
                let s = get(b, p + 5, n)?.to_vec();
                p += 5 + n;
                s
            }
            _ => {
                let (width, bits) = match enc {
                    0xc0 => (2, 16),
                    0xd0 => (4, 32),
                    0xe0 => (8, 64),
                    0xf0 => (3, 24),
                    0xfe => (1, 8),
                    0xf1..=0xfd => {
                        p += 1;
                        out.push(int_text(i64::from(enc & 0x0f) - 1));
                        continue;
                    }
                    _ => return Err("ziplist entry with an invalid encoding"),
                };
                let uv = le(get(b, p + 1, width)?);
                p += 1 + width;
                int_text(sign_extend(uv, bits))
            }
        };
        out.push(v);
    }
    if declared != 0xffff && declared != out.len() {
        return Err("ziplist element count mismatch");
    }
    Ok(out)
}

/// The integers of an intset, validated sorted and unique as `intsetValidateIntegrity`.
pub fn intset_values(b: &[u8]) -> Res<Vec<i64>> {
    if b.len() < 8 {
        return Err("intset shorter than its header");
    }
    let width = le(&b[..4]) as usize;
    if !matches!(width, 2 | 4 | 8) {
        return Err("intset with an invalid encoding");
    }
    let count = le(&b[4..8]) as usize;
    if count == 0 || count.checked_mul(width) != Some(b.len() - 8) {
        return Err("intset length mismatch");
    }
    let mut out = Vec::with_capacity(count);
    for c in b[8..].chunks_exact(width) {
        let v = sign_extend(le(c), (width * 8) as u32);
        if out.last().is_some_and(|&prev| prev >= v) {
            return Err("intset not sorted");
        }
        out.push(v);
    }
    Ok(out)
}

/// An intset of sorted distinct integers, in the narrowest encoding holding them all.
pub fn intset(values: &[i64]) -> Vec<u8> {
    let width: usize = if values.iter().all(|&v| i16::try_from(v).is_ok()) {
        2
    } else if values.iter().all(|&v| i32::try_from(v).is_ok()) {
        4
    } else {
        8
    };
    let mut out = Vec::with_capacity(8 + width * values.len());
    out.extend_from_slice(&(width as u32).to_le_bytes());
    out.extend_from_slice(&(values.len() as u32).to_le_bytes());
    for v in values {
        out.extend_from_slice(&v.to_le_bytes()[..width]);
    }
    out
}

/// The (field, value) pairs of a zipmap.
pub fn zipmap_pairs(b: &[u8]) -> Res<Vec<(Vec<u8>, Vec<u8>)>> {
    let mut p = 1;
    if b.is_empty() {
        return Err("zipmap is empty");
    }
    let mut out = Vec::new();
    let read_len = |p: &mut usize| -> Res<Option<usize>> {
        let &f = b.get(*p).ok_or("zipmap without terminator")?;
        match f {
            0xff => Ok(None),
            0xfe => {
                let l = get(b, *p + 1, 4)?;
                *p += 5;
                Ok(Some(le(l) as usize))
            }
            n => {
                *p += 1;
                Ok(Some(usize::from(n)))
            }
        }
    };
    loop {
        let Some(klen) = read_len(&mut p)? else {
            if p + 1 != b.len() {
                return Err("zipmap terminator before its end");
            }
            break;
        };
        let k = get(b, p, klen)?.to_vec();
        p += klen;
        let vlen = read_len(&mut p)?.ok_or("zipmap key without value")?;
        let &free = b.get(p).ok_or("zipmap entry runs past its end")?;
        let v = get(b, p + 1, vlen)?.to_vec();
        p += 1 + vlen + usize::from(free);
        out.push((k, v));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listpack_round_trip_and_redis_bytes() {
        let long = vec![b'x'; 5000];
        let mid = vec![b'y'; 300];
        let items: Vec<&[u8]> = vec![
            b"0",
            b"127",
            b"128",
            b"-1",
            b"-4096",
            b"4095",
            b"-4097",
            b"32767",
            b"8388607",
            b"-8388609",
            b"2147483648",
            b"-9223372036854775808",
            b"01",
            b"",
            b"abc",
            &mid,
            &long,
        ];
        let lp = listpack(items.iter().copied());
        let back = listpack_entries(&lp).expect("valid");
        assert_eq!(back, items.iter().map(|v| v.to_vec()).collect::<Vec<_>>());
        // redis-server 7.0.15: HSET h a 1 then DUMP h holds this listpack.
        assert_eq!(
            listpack([&b"a"[..], b"1"]),
            vec![0x0c, 0, 0, 0, 0x02, 0, 0x81, b'a', 0x02, 0x01, 0x01, 0xff]
        );
    }

    #[test]
    fn listpack_corruption_is_an_error() {
        let lp = listpack([&b"hello"[..], b"12345"]);
        for cut in 0..lp.len() {
            assert!(listpack_entries(&lp[..cut]).is_err(), "cut {cut}");
        }
        let mut bad = lp.clone();
        bad[6] = 0xf5;
        assert!(listpack_entries(&bad).is_err());
    }

    #[test]
    fn ziplist_reads_every_encoding() {
        // Hand-built: "ab", 7 (immediate), 300 (int16), -2 (int8), 70000 (int24),
        // 1<<40 (int64), 100000000 (int32), a 70-byte string (14-bit length).
        let s70 = vec![b'z'; 70];
        let mut e: Vec<u8> = Vec::new();
        let mut ent = |body: &[u8]| {
            e.push(0); // prevlen (not checked by readers)
            e.extend_from_slice(body);
        };
        ent(&[0x02, b'a', b'b']);
        ent(&[0xf8]);
        ent(&[0xc0, 0x2c, 0x01]);
        ent(&[0xfe, 0xfe]);
        ent(&[0xf0, 0x70, 0x11, 0x01]);
        let mut i64e = vec![0xe0];
        i64e.extend_from_slice(&(1i64 << 40).to_le_bytes());
        ent(&i64e);
        let mut i32e = vec![0xd0];
        i32e.extend_from_slice(&100_000_000i32.to_le_bytes());
        ent(&i32e);
        let mut s = vec![0x40, 70];
        s.extend_from_slice(&s70);
        ent(&s);
        let mut zl = vec![0u8; 10];
        zl.extend_from_slice(&e);
        zl.push(0xff);
        let total = zl.len() as u32;
        zl[..4].copy_from_slice(&total.to_le_bytes());
        zl[8..10].copy_from_slice(&8u16.to_le_bytes());
        let got = ziplist_entries(&zl).expect("valid");
        let want: Vec<Vec<u8>> = vec![
            b"ab".to_vec(),
            b"7".to_vec(),
            b"300".to_vec(),
            b"-2".to_vec(),
            b"70000".to_vec(),
            (1i64 << 40).to_string().into_bytes(),
            b"100000000".to_vec(),
            s70,
        ];
        assert_eq!(got, want);
        for cut in 0..zl.len() {
            assert!(ziplist_entries(&zl[..cut]).is_err(), "cut {cut}");
        }
    }

    #[test]
    fn intset_and_zipmap() {
        let v = [-5i64, 3, 70000];
        let b = intset(&v);
        assert_eq!(&b[..4], &4u32.to_le_bytes());
        assert_eq!(intset_values(&b).expect("valid"), v);
        assert!(intset_values(&intset(&[3, 3])).is_err());
        assert_eq!(intset(&[1, 2])[..4], 2u32.to_le_bytes());
        assert_eq!(intset(&[1 << 40])[..4], 8u32.to_le_bytes());
        // zipmap: zmlen, "f" -> "vv" (free 1), terminator.
        let zm = [2u8, 1, b'f', 2, 1, b'v', b'v', 0, 0xff];
        assert_eq!(
            zipmap_pairs(&zm).expect("valid"),
            vec![(b"f".to_vec(), b"vv".to_vec())]
        );
        assert!(zipmap_pairs(&zm[..5]).is_err());
    }
}
