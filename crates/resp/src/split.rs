//! `sdssplitargs` from Redis's `sds.c`, byte for byte.
//!
//! Used by inline commands and by every `redis.conf` line. Rules worth knowing:
//! - The input is treated as a C string: a NUL byte ends it.
//! - Between tokens any `isspace` byte is skipped; inside an unquoted token only
//!   space, `\n`, `\r`, `\t` end it (so `\v` and `\f` are part of the token, as in Redis).
//! - In double quotes: `\xHH`, `\n \r \t \b \a`, and `\<any>` for that byte.
//! - In single quotes only `\'` is an escape.
//! - A closing quote must be followed by whitespace or the end, else the line is invalid.

/// The line had an unterminated quote or a closing quote glued to the next character.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UnbalancedQuotes;

fn is_space(b: u8) -> bool {
    // C's isspace in the "C" locale.
    matches!(b, b' ' | b'\t' | b'\n' | b'\x0b' | b'\x0c' | b'\r')
}

fn hex_val(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Splits a line into arguments as Redis's `sdssplitargs` does.
pub fn split_args(line: &[u8]) -> Result<Vec<Vec<u8>>, UnbalancedQuotes> {
    // Everything after a NUL is invisible to the C implementation.
    let line = match memchr::memchr(0, line) {
        Some(n) => &line[..n],
        None => line,
    };
    let at = |i: usize| -> u8 { line.get(i).copied().unwrap_or(0) };
    let mut args = Vec::new();
    let mut p = 0usize;
    loop {
        while p < line.len() && is_space(line[p]) {
            p += 1;
        }
        if p >= line.len() {
            return Ok(args);
        }
        let mut in_dq = false;
        let mut in_sq = false;
        let mut cur = Vec::new();
        loop {
            let c = at(p);
            if in_dq {
                if c == b'\\' && at(p + 1) == b'x' {
                    if let (Some(h), Some(l)) = (hex_val(at(p + 2)), hex_val(at(p + 3))) {
                        cur.push(h * 16 + l);
                        p += 4;
                        continue;
                    }
                }
                if c == b'\\' && at(p + 1) != 0 {
                    p += 1;
                    cur.push(match at(p) {
                        b'n' => b'\n',
                        b'r' => b'\r',
                        b't' => b'\t',
                        b'b' => 0x08,
                        b'a' => 0x07,
                        other => other,
                    });
                } else if c == b'"' {
                    if at(p + 1) != 0 && !is_space(at(p + 1)) {
                        return Err(UnbalancedQuotes);
                    }
                    p += 1;
                    break;
                } else if c == 0 {
                    return Err(UnbalancedQuotes);
                } else {
                    cur.push(c);
                }
            } else if in_sq {
                if c == b'\\' && at(p + 1) == b'\'' {
                    p += 1;
                    cur.push(b'\'');
                } else if c == b'\'' {
                    if at(p + 1) != 0 && !is_space(at(p + 1)) {
                        return Err(UnbalancedQuotes);
                    }
                    p += 1;
                    break;
                } else if c == 0 {
                    return Err(UnbalancedQuotes);
                } else {
                    cur.push(c);
                }
            } else {
                match c {
                    b' ' | b'\n' | b'\r' | b'\t' | 0 => {
                        if c != 0 {
                            p += 1;
                        }
                        break;
                    }
                    b'"' => in_dq = true,
                    b'\'' => in_sq = true,
                    _ => cur.push(c),
                }
            }
            p += 1;
        }
        args.push(cur);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(line: &str) -> Vec<String> {
        split_args(line.as_bytes())
            .expect("balanced")
            .into_iter()
            .map(|a| String::from_utf8_lossy(&a).into_owned())
            .collect()
    }

    #[test]
    fn plain_and_quoted() {
        assert_eq!(s("set  k v"), ["set", "k", "v"]);
        assert_eq!(s("  set \"a b\" 'c d'  "), ["set", "a b", "c d"]);
        assert_eq!(s("\"\\x41\\n\" 'it\\'s'"), ["A\n", "it's"]);
        assert_eq!(s("\"\\xzz\""), ["xzz"]);
        assert_eq!(s("a\x0bb"), ["a\x0bb"]);
        assert_eq!(s(""), Vec::<String>::new());
        assert_eq!(s("\"\""), [""]);
        assert_eq!(s("a\0b c"), ["a"]);
    }

    #[test]
    fn unbalanced() {
        for bad in ["\"abc", "'abc", "\"a\"b", "'a'b", "\"a\\"] {
            assert_eq!(split_args(bad.as_bytes()), Err(UnbalancedQuotes), "{bad}");
        }
    }

    proptest::proptest! {
        #[test]
        fn never_panics(line in proptest::collection::vec(proptest::num::u8::ANY, 0..64)) {
            let _ = split_args(&line);
        }
    }
}
