//! The C library and `util.c` routines Redis's config code leans on, reproduced byte for byte
//! so that what Redis accepts, rejects or prints we do too: `string2ll`, `memtoull`,
//! `strtoll`/`strtol` (with their saturation and "no digits" quirks), `strtod` for
//! percentiles, `sdscatrepr` quoting, `sdssplitlen` on single spaces, and the memory and
//! double formatting used by `CONFIG REWRITE` and `CONFIG GET`.

/// C's `isspace` in the "C" locale.
pub(crate) fn is_c_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\x0b' | b'\x0c' | b'\r')
}

/// The bytes a C function sees: everything up to the first NUL.
pub(crate) fn cstr(s: &[u8]) -> &[u8] {
    match s.iter().position(|&b| b == 0) {
        Some(n) => &s[..n],
        None => s,
    }
}

/// `string2ll` from `util.c`: one implementation for the whole server.
pub(crate) use redoubt_keyspace::num::string2ll;

/// `strtoll(s, &end, base)`: skips leading spaces, takes an optional sign, reads digits and
/// saturates on overflow. Returns the value and the index of the first byte not consumed,
/// which is 0 when there were no digits (C sets `end` back to the start then).
pub(crate) fn strtoll(s: &[u8], base: u32) -> (i64, usize) {
    let s = cstr(s);
    let mut i = 0;
    while i < s.len() && is_c_space(s[i]) {
        i += 1;
    }
    let mut negative = false;
    if i < s.len() && (s[i] == b'+' || s[i] == b'-') {
        negative = s[i] == b'-';
        i += 1;
    }
    let start = i;
    let mut v: u128 = 0;
    while i < s.len() {
        let Some(digit) = (s[i] as char).to_digit(base) else {
            break;
        };
        v = (v * u128::from(base) + u128::from(digit)).min(u128::from(u64::MAX) + 1);
        i += 1;
    }
    if i == start {
        return (0, 0);
    }
    let value = if negative {
        if v > (i64::MAX as u128) + 1 {
            i64::MIN
        } else {
            (v as i128).wrapping_neg() as i64
        }
    } else if v > i64::MAX as u128 {
        i64::MAX
    } else {
        v as i64
    };
    (value, i)
}

/// `strtoll` that must consume the whole (C) string, as Redis checks `*eptr == '\0'`. An
/// empty string passes with 0, as it does in C.
pub(crate) fn strtoll_full(s: &[u8], base: u32) -> Option<i64> {
    let s = cstr(s);
    let (v, end) = strtoll(s, base);
    (end == s.len()).then_some(v)
}

/// `memtoull` from `util.c`: digits, then an optional case-insensitive unit; `-` is refused.
/// An empty digit run is 0 (glibc's `strtoull` does not flag it), so "kb" is 0; a number too
/// large for `strtoull` saturates to `ULLONG_MAX` before the unit overflow check.
pub(crate) fn memtoull(s: &[u8]) -> Option<u64> {
    let s = cstr(s);
    if s.first() == Some(&b'-') {
        return None;
    }
    let ndigits = s.iter().take_while(|b| b.is_ascii_digit()).count();
    let unit = s[ndigits..].to_ascii_lowercase();
    let mul: u64 = match unit.as_slice() {
        b"" | b"b" => 1,
        b"k" => 1000,
        b"kb" => 1024,
        b"m" => 1000 * 1000,
        b"mb" => 1024 * 1024,
        b"g" => 1000 * 1000 * 1000,
        b"gb" => 1024 * 1024 * 1024,
        _ => return None,
    };
    if ndigits >= 128 {
        return None;
    }
    let mut val: u64 = 0;
    for &c in &s[..ndigits] {
        val = val.saturating_mul(10).saturating_add(u64::from(c - b'0'));
    }
    if val > u64::MAX / mul {
        return None;
    }
    Some(val * mul)
}

/// `string2d`: `strtod` over the whole string, not starting with a space, not NaN, not an
/// overflow. Covers decimal and C99 hex floats (`0x10` is 16, as Redis accepts).
pub(crate) fn string2d(s: &[u8]) -> Option<f64> {
    let text = std::str::from_utf8(s).ok()?;
    if text.is_empty() || is_c_space(s[0]) {
        return None;
    }
    let (sign, body) = match text.as_bytes()[0] {
        b'+' => (1.0, &text[1..]),
        b'-' => (-1.0, &text[1..]),
        _ => (1.0, text),
    };
    let lower = body.to_ascii_lowercase();
    let v = if let Some(hex) = lower.strip_prefix("0x") {
        parse_hex_float(hex)?
    } else {
        if !lower
            .bytes()
            .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'+' | b'-'))
            && !matches!(lower.as_str(), "inf" | "infinity")
        {
            return None;
        }
        lower.parse::<f64>().ok()?
    };
    let v = sign * v;
    if v.is_nan() || v.is_infinite() && !matches!(lower.as_str(), "inf" | "infinity") {
        return None;
    }
    Some(v)
}

fn parse_hex_float(hex: &str) -> Option<f64> {
    let (mantissa, exp) = match hex.split_once('p') {
        Some((m, e)) => (m, e.parse::<i32>().ok()?),
        None => (hex, 0),
    };
    let (int_part, frac_part) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    if int_part.is_empty() && frac_part.is_empty() {
        return None;
    }
    let mut v = 0f64;
    for c in int_part.chars() {
        v = v * 16.0 + f64::from(c.to_digit(16)?);
    }
    let mut scale = 1.0 / 16.0;
    for c in frac_part.chars() {
        v += f64::from(c.to_digit(16)?) * scale;
        scale /= 16.0;
    }
    Some(v * 2f64.powi(exp))
}

/// `sprintf("%f")` followed by `trimDoubleString`: six decimals, trailing zeros and a bare
/// point removed.
pub(crate) fn format_percentile(v: f64) -> String {
    let mut s = format!("{v:.6}");
    if s.contains('.') {
        while s.ends_with('0') {
            s.pop();
        }
        if s.ends_with('.') {
            s.pop();
        }
    }
    s
}

/// `rewriteConfigFormatMemory`: the largest of gb/mb/kb dividing the value, as a `long long`
/// (so a value above `LLONG_MAX` prints negative, as Redis does).
pub(crate) fn format_memory(bytes: i64) -> String {
    const GB: i64 = 1024 * 1024 * 1024;
    const MB: i64 = 1024 * 1024;
    const KB: i64 = 1024;
    if bytes != 0 && bytes % GB == 0 {
        format!("{}gb", bytes / GB)
    } else if bytes != 0 && bytes % MB == 0 {
        format!("{}mb", bytes / MB)
    } else if bytes != 0 && bytes % KB == 0 {
        format!("{}kb", bytes / KB)
    } else {
        bytes.to_string()
    }
}

/// `sdscatrepr`: a double-quoted, escaped representation that `sdssplitargs` reads back.
pub fn repr(out: &mut Vec<u8>, s: &[u8]) {
    out.push(b'"');
    for &c in s {
        match c {
            b'\\' | b'"' => {
                out.push(b'\\');
                out.push(c);
            }
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            0x07 => out.extend_from_slice(b"\\a"),
            0x08 => out.extend_from_slice(b"\\b"),
            0x20..=0x7e => out.push(c),
            _ => out.extend_from_slice(format!("\\x{c:02x}").as_bytes()),
        }
    }
    out.push(b'"');
}

/// `sdssplitlen(s, len, " ", 1)`: splits on every single space, keeping empty pieces; an
/// empty string gives no pieces at all.
pub(crate) fn split_spaces(s: &[u8]) -> Vec<&[u8]> {
    if s.is_empty() {
        return Vec::new();
    }
    s.split(|&b| b == b' ').collect()
}

/// `sdstrim(s, " \t\r\n")`.
pub(crate) fn trim(s: &[u8]) -> &[u8] {
    let is_trim = |b: &u8| matches!(b, b' ' | b'\t' | b'\r' | b'\n');
    let start = s.iter().position(|b| !is_trim(b)).unwrap_or(s.len());
    let end = s.iter().rposition(|b| !is_trim(b)).map_or(start, |e| e + 1);
    &s[start..end]
}

/// C's `strcasecmp(a, b) == 0` on C strings.
pub(crate) fn eq_nocase(a: &[u8], b: &[u8]) -> bool {
    cstr(a).eq_ignore_ascii_case(cstr(b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn string2ll_is_strict() {
        assert_eq!(string2ll(b"0"), Some(0));
        assert_eq!(string2ll(b"-1"), Some(-1));
        assert_eq!(string2ll(b"9223372036854775807"), Some(i64::MAX));
        assert_eq!(string2ll(b"-9223372036854775808"), Some(i64::MIN));
        for bad in [
            "",
            "-",
            "01",
            "-0",
            "+1",
            " 1",
            "1 ",
            "1k",
            "9223372036854775808",
            "1.0",
        ] {
            assert_eq!(string2ll(bad.as_bytes()), None, "{bad}");
        }
    }

    #[test]
    fn memtoull_units() {
        // Each checked with CONFIG SET maxmemory on redis 7.0.15.
        assert_eq!(memtoull(b"1k"), Some(1000));
        assert_eq!(memtoull(b"1K"), Some(1000));
        assert_eq!(memtoull(b"1Kb"), Some(1024));
        assert_eq!(memtoull(b"1b"), Some(1));
        assert_eq!(memtoull(b"3MB"), Some(3 * 1024 * 1024));
        assert_eq!(memtoull(b"2g"), Some(2_000_000_000));
        assert_eq!(memtoull(b"2gb"), Some(2 << 30));
        assert_eq!(memtoull(b"kb"), Some(0));
        assert_eq!(memtoull(b"010"), Some(10));
        assert_eq!(memtoull(b"99999999999999999999999"), Some(u64::MAX));
        assert_eq!(memtoull(b"18446744073709551615"), Some(u64::MAX));
        assert_eq!(memtoull(b"18446744073709551615k"), None);
        for bad in ["-1", "abc", "1.5g", "1 k", "1kbb", " 1"] {
            assert_eq!(memtoull(bad.as_bytes()), None, "{bad}");
        }
    }

    #[test]
    fn strtoll_quirks() {
        assert_eq!(strtoll_full(b"+10", 10), Some(10));
        assert_eq!(strtoll_full(b"  5", 10), Some(5));
        assert_eq!(strtoll_full(b"", 10), Some(0));
        assert_eq!(strtoll_full(b" ", 10), None);
        assert_eq!(strtoll_full(b"0x10", 10), None);
        assert_eq!(strtoll_full(b"99999999999999999999", 10), Some(i64::MAX));
        assert_eq!(strtoll_full(b"-99999999999999999999", 10), Some(i64::MIN));
        assert_eq!(strtoll_full(b"0777", 8), Some(0o777));
        assert_eq!(strtoll_full(b"8", 8), None);
    }

    #[test]
    fn string2d_like_strtod() {
        assert_eq!(string2d(b"99.9"), Some(99.9));
        assert_eq!(string2d(b"1e1"), Some(10.0));
        assert_eq!(string2d(b".5"), Some(0.5));
        assert_eq!(string2d(b"0x10"), Some(16.0));
        for bad in ["", " 1", "x", "nan", "1,5", "1e999"] {
            assert_eq!(string2d(bad.as_bytes()), None, "{bad}");
        }
    }

    #[test]
    fn formatting() {
        assert_eq!(format_percentile(99.9), "99.9");
        assert_eq!(format_percentile(50.0), "50");
        assert_eq!(format_percentile(0.0000001), "0");
        assert_eq!(format_percentile(33.3333333), "33.333333");
        assert_eq!(format_memory(0), "0");
        assert_eq!(format_memory(1024), "1kb");
        assert_eq!(format_memory(64 << 20), "64mb");
        assert_eq!(format_memory(1 << 30), "1gb");
        assert_eq!(format_memory(1000), "1000");
        assert_eq!(format_memory(-1), "-1");
        let mut out = Vec::new();
        repr(&mut out, b"a\"b\\\n\x01\xff ");
        assert_eq!(out, b"\"a\\\"b\\\\\\n\\x01\\xff \"");
    }

    #[test]
    fn splitting_and_trimming() {
        assert_eq!(split_spaces(b""), Vec::<&[u8]>::new());
        assert_eq!(split_spaces(b"a  b"), vec![&b"a"[..], b"", b"b"]);
        assert_eq!(trim(b" \t x y \r\n"), b"x y");
        assert_eq!(trim(b"   "), b"");
    }
}
