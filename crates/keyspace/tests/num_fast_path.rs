//! `string2d`'s fast path for plain decimals (`[+-]?digits[.digits]`, no exponent) must give
//! exactly what its exact big-integer path gives. The same literal with `e0` appended has the
//! same value under `strtod` and always takes the exact path, so the two are compared bit for
//! bit on random and on known-hard literals (halfway cases, 17+ digits, leading zeros).

use redoubt_keyspace::num::string2d;

fn both(s: &str) {
    let fast = string2d(s.as_bytes()).map(f64::to_bits);
    let exact = string2d(format!("{s}e0").as_bytes()).map(f64::to_bits);
    assert_eq!(fast, exact, "{s:?}");
}

#[test]
fn plain_decimals_parse_as_the_exact_path() {
    for s in [
        "0",
        "-0",
        "+0",
        "1",
        "1.",
        ".5",
        "-.5",
        "+1.5",
        "0.1",
        "0.3",
        "00012.5000",
        "9007199254740993",
        "9007199254740992.5",
        "123456789012345678901234567890",
        "0.000000000000000000000000000000000001",
        "1.7976931348623157",
        "4.35",
        "2.2250738585072014",
        "0.30000000000000004",
        "99999999999999999999999999999999999999",
        "1.00000000000000011102230246251565404236316680908203125",
    ] {
        both(s);
    }
    for bad in [".", "-", "+", "", "1.2.3", "--1", "1-", " 1", "1 "] {
        assert_eq!(string2d(bad.as_bytes()), None, "{bad:?}");
    }
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    for _ in 0..100_000 {
        let len = 1 + next() % 38;
        let mut s = String::new();
        match next() % 4 {
            0 => s.push('-'),
            1 => s.push('+'),
            _ => {}
        }
        let point = next() % (len + 2);
        for i in 0..len {
            if i == point {
                s.push('.');
            }
            // Mostly 0/9 runs and halfway-ish tails, some random digits.
            let d = match next() % 5 {
                0 => 0,
                1 => 9,
                2 => 5,
                _ => next() % 10,
            };
            s.push(char::from(b'0' + d as u8));
        }
        both(&s);
    }
}
