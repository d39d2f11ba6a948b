//! `stringmatchlen` from Redis 7.0's `util.c`: the glob used by `CONFIG GET` (with `nocase`)
//! and, here, by wildcard `include` lines.
//!
//! `*`, `?`, `[...]` with `^` negation, `a-z` ranges (reversed ranges are swapped) and `\`
//! escapes. The early exit after a failed `*` (`skipLongerMatches`, 7.0.9) keeps the worst
//! case polynomial. Bytes are compared as C's signed `char`, so ranges with bytes above 0x7f
//! order the way they do in Redis.

/// Whether `string` matches `pattern`.
pub(crate) fn string_match(pattern: &[u8], string: &[u8], nocase: bool) -> bool {
    let mut skip_longer = false;
    match_impl(pattern, string, nocase, &mut skip_longer)
}

fn lower(c: u8) -> u8 {
    c.to_ascii_lowercase()
}

fn signed(c: u8) -> i32 {
    i32::from(c as i8)
}

fn match_impl(mut p: &[u8], mut s: &[u8], nocase: bool, skip_longer: &mut bool) -> bool {
    let at = |p: &[u8], i: usize| p.get(i).copied().unwrap_or(0);
    while !p.is_empty() && !s.is_empty() {
        match p[0] {
            b'*' => {
                while p.len() > 1 && p[1] == b'*' {
                    p = &p[1..];
                }
                if p.len() == 1 {
                    return true;
                }
                while !s.is_empty() {
                    if match_impl(&p[1..], s, nocase, skip_longer) {
                        return true;
                    }
                    if *skip_longer {
                        return false;
                    }
                    s = &s[1..];
                }
                *skip_longer = true;
                return false;
            }
            b'?' => s = &s[1..],
            b'[' => {
                p = &p[1..];
                let not = at(p, 0) == b'^';
                if not {
                    p = &p[1..];
                }
                let mut matched = false;
                // `consumed` mirrors C's "pattern--; patternLen++; break;" on an unclosed
                // class: the final `pattern++` below then lands on the end of the pattern.
                loop {
                    if at(p, 0) == b'\\' && p.len() >= 2 {
                        p = &p[1..];
                        if p[0] == s[0] {
                            matched = true;
                        }
                    } else if p.is_empty() || p[0] == b']' {
                        break;
                    } else if p.len() >= 3 && p[1] == b'-' {
                        let (mut start, mut end, mut c) =
                            (signed(p[0]), signed(p[2]), signed(s[0]));
                        if start > end {
                            std::mem::swap(&mut start, &mut end);
                        }
                        if nocase {
                            start = tolower_signed(start);
                            end = tolower_signed(end);
                            c = tolower_signed(c);
                        }
                        p = &p[2..];
                        if c >= start && c <= end {
                            matched = true;
                        }
                    } else if (nocase && lower(p[0]) == lower(s[0])) || p[0] == s[0] {
                        matched = true;
                    }
                    p = &p[1..];
                }
                if not {
                    matched = !matched;
                }
                if !matched {
                    return false;
                }
                s = &s[1..];
                if p.is_empty() {
                    // Unclosed class: C steps back one byte and then forward again, which
                    // leaves it at the end of the pattern.
                    return s.is_empty();
                }
            }
            c => {
                let c = if c == b'\\' && p.len() >= 2 {
                    p = &p[1..];
                    p[0]
                } else {
                    c
                };
                let equal = if nocase {
                    lower(c) == lower(s[0])
                } else {
                    c == s[0]
                };
                if !equal {
                    return false;
                }
                s = &s[1..];
            }
        }
        p = &p[1..];
        if s.is_empty() {
            while !p.is_empty() && p[0] == b'*' {
                p = &p[1..];
            }
            break;
        }
    }
    p.is_empty() && s.is_empty()
}

fn tolower_signed(c: i32) -> i32 {
    if (i32::from(b'A')..=i32::from(b'Z')).contains(&c) {
        c + 32
    } else {
        c
    }
}

#[cfg(test)]
mod tests {
    use super::string_match;

    fn m(p: &str, s: &str) -> bool {
        string_match(p.as_bytes(), s.as_bytes(), false)
    }

    #[test]
    fn basics() {
        assert!(m("*", "anything"));
        // Checked with KEYS on 7.0.15 (KEYS special-cases a lone "*", so "**" was used):
        // a star does not match the empty string.
        assert!(!m("*", ""));
        assert!(!m("**", ""));
        assert!(m("", ""));
        assert!(!m("", "a"));
        assert!(m("h?llo", "hello"));
        assert!(!m("h?llo", "hllo"));
        assert!(m("h*llo", "heeeello"));
        assert!(m("h[ae]llo", "hallo"));
        assert!(!m("h[ae]llo", "hillo"));
        assert!(m("h[^e]llo", "hallo"));
        assert!(!m("h[^e]llo", "hello"));
        assert!(m("h[a-b]llo", "hbllo"));
        assert!(m("h[b-a]llo", "hallo"));
        assert!(m("h\\*llo", "h*llo"));
        assert!(!m("h\\*llo", "hello"));
        assert!(m("a*", "a"));
        assert!(m("a**", "a"));
        assert!(m("*b*", "abc"));
        assert!(!m("a*c", "abd"));
        assert!(m("[\\]]", "]"));
        assert!(m("\\", "\\"));
    }

    #[test]
    fn unclosed_class() {
        // Redis treats the rest of an unclosed class as its members (KEYS on 7.0.15).
        assert!(m("[abc", "a"));
        assert!(m("[a", "a"));
        assert!(!m("[abc", "ab"));
        assert!(!m("x[", "x["));
        assert!(!m("a[", "a"));
    }

    #[test]
    fn nocase() {
        assert!(string_match(b"MAXMEM*", b"maxmemory", true));
        assert!(string_match(b"[A-Z]ort", b"port", true));
        assert!(!string_match(b"MAXMEM*", b"maxmemory", false));
    }

    #[test]
    fn pathological_patterns_finish() {
        let s = "a".repeat(60);
        assert!(!m("a*a*a*a*a*a*a*a*a*a*a*a*a*b", &s));
    }

    proptest::proptest! {
        #[test]
        fn never_panics(p in proptest::collection::vec(proptest::num::u8::ANY, 0..24),
                        s in proptest::collection::vec(proptest::num::u8::ANY, 0..24)) {
            let _ = string_match(&p, &s, true);
            let _ = string_match(&p, &s, false);
        }

        #[test]
        fn literal_matches_itself(s in "[a-z0-9-]{0,20}") {
            proptest::prop_assert!(m(&s, &s));
        }
    }
}
