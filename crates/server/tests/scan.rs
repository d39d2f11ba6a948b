//! SCAN's guarantee over TCP: a key present for the whole iteration is returned, while other
//! clients add enough keys to grow the table many times and delete others.

use redoubt_harness::{must_connect, must_start, Flavor, Value};
use std::collections::HashMap;

fn scan_step(c: &mut redoubt_harness::RawConn, cursor: &str) -> (String, Vec<String>) {
    match c.cmd(&["SCAN", cursor, "COUNT", "7"]) {
        Value::Array(a) if a.len() == 2 => {
            let next = match &a[0] {
                Value::Bulk(b) => String::from_utf8_lossy(b).into_owned(),
                other => panic!("cursor {other:?}"),
            };
            let keys = match &a[1] {
                Value::Array(keys) => keys
                    .iter()
                    .map(|k| match k {
                        Value::Bulk(b) => String::from_utf8_lossy(b).into_owned(),
                        other => panic!("key {other:?}"),
                    })
                    .collect(),
                other => panic!("keys {other:?}"),
            };
            (next, keys)
        }
        other => panic!("SCAN reply {other:?}"),
    }
}

#[test]
fn keys_present_throughout_are_returned_across_growth() {
    let s = must_start(Flavor::Redoubt, &[]);
    let mut c = must_connect(&s);
    let mut other = must_connect(&s);
    for i in 0..2000 {
        c.cmd(&["SET", &format!("stable:{i}"), "1"]);
    }
    for i in 0..2000 {
        c.cmd(&["SET", &format!("doomed:{i}"), "1"]);
    }
    let mut seen: HashMap<String, u32> = HashMap::new();
    let mut cursor = "0".to_string();
    let mut step = 0;
    loop {
        let (next, keys) = scan_step(&mut c, &cursor);
        for k in keys {
            *seen.entry(k).or_default() += 1;
        }
        // Churn between steps: 40 new keys (the table grows 10x over the scan) and deletions.
        for j in 0..40 {
            other.cmd(&["SET", &format!("new:{step}:{j}"), "x"]);
        }
        other.cmd(&["DEL", &format!("doomed:{step}")]);
        step += 1;
        cursor = next;
        if cursor == "0" {
            break;
        }
        assert!(step < 100_000, "SCAN must terminate");
    }
    for i in 0..2000 {
        let k = format!("stable:{i}");
        assert!(
            seen.contains_key(&k),
            "{k} was present throughout and must be returned"
        );
    }
    // Redoubt promises more than Redis: no duplicates for keys present throughout.
    let dups: Vec<_> = seen
        .iter()
        .filter(|(k, n)| k.starts_with("stable:") && **n > 1)
        .collect();
    assert!(dups.is_empty(), "duplicates: {dups:?}");
}
