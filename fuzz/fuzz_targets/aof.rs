//! The AOF loader on arbitrary bytes: the manifest parser, and the command replay that
//! loads base and incremental files (`redoubt_engine::aof_replay`). Any input ends in a
//! loaded prefix or an error offset inside the input, never a panic; the valid prefix
//! replays again without error, to the same dataset when it is whole (what
//! `aof-load-truncated` relies on).
//!
//! Inputs naming DEBUG or SHUTDOWN, or holding numbers of 8 digits or more, are skipped: a
//! real AOF can make Redis sleep or allocate gigabytes too, which is no loader bug and only
//! slows the fuzzer.
#![no_main]

use libfuzzer_sys::fuzz_target;
use redoubt_engine::aof_replay::AofReplayer;
use redoubt_engine::table::Table;
use redoubt_engine::testing::TestEngine;
use std::rc::Rc;

thread_local! {
    static TABLE: Rc<Table> = Rc::new(Table::build());
}

fn engine() -> TestEngine {
    TestEngine::with_table(TABLE.with(Rc::clone))
}

fn skipped(data: &[u8]) -> bool {
    let lower = data.to_ascii_lowercase();
    let has = |w: &[u8]| lower.windows(w.len()).any(|x| x == w);
    if has(b"debug") || has(b"shutdown") || has(b"failover") || has(b"replicaof") || has(b"slaveof") {
        return true;
    }
    let mut run = 0;
    for &b in data {
        run = if b.is_ascii_digit() { run + 1 } else { 0 };
        if run >= 8 {
            return true;
        }
    }
    false
}

fuzz_target!(|data: &[u8]| {
    let _ = redoubt_persist::aof::Manifest::parse(data);
    if skipped(data) {
        return;
    }
    let now = 1_700_000_000_000;
    let mut t = engine();
    match AofReplayer::run(&mut t.eng, data, now) {
        Ok((valid, complete)) => {
            assert!(valid <= data.len());
            assert!(!complete || valid == data.len());
            let digest = t.text("DEBUG DIGEST");
            let mut again = engine();
            // A nested MULTI moves the cut point to the inner one, as in Redis, so the
            // prefix may be cut again, never past it and never found corrupt.
            match AofReplayer::run(&mut again.eng, &data[..valid], now) {
                Ok((v2, c2)) => {
                    assert!(v2 <= valid);
                    if v2 == valid {
                        assert!(c2, "the valid prefix replays whole");
                        assert_eq!(again.text("DEBUG DIGEST"), digest);
                    }
                }
                Err(at) => panic!("the valid prefix fails at {at}"),
            }
        }
        Err(at) => assert!(at <= data.len()),
    }
});
