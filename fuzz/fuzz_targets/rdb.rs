//! The RDB loader and the RESTORE payload decoder on arbitrary bytes: any input must end in
//! a value or an `RdbError` (with an offset inside the input), never a panic, a hang or an
//! allocation beyond a small multiple of the input. Loaded files are re-saved and loaded
//! again, which must succeed and find the same number of keys.
#![no_main]

use libfuzzer_sys::fuzz_target;
use redoubt_keyspace::Db;
use redoubt_persist::rdb::decode::{self, LoadOptions};
use redoubt_persist::rdb::encode::{self, SaveOptions};
use redoubt_persist::rdb::Thresholds;

fuzz_target!(|data: &[u8]| {
    let none = |_: Option<u64>, _: Option<u8>| None;
    let opts = LoadOptions {
        thresholds: Thresholds::default(),
        now_ms: 0,
        drop_expired: false,
        // Fuzzed files rarely carry a valid CRC: check the structure, not the checksum.
        verify_checksum: false,
        access_word: &none,
        on_key: None,
    };
    let mut dbs: Vec<Db> = (0..16).map(|_| Db::new()).collect();
    match decode::load(data, &opts, &mut dbs) {
        Ok(st) => {
            let meta = |_: &redoubt_keyspace::Entry| (None, None);
            let img = encode::save(
                &dbs,
                &SaveOptions {
                    compress: true,
                    checksum: true,
                    list_fill: -2,
                    aux: Vec::new(),
                    key_meta: &meta,
                },
            );
            let mut again: Vec<Db> = (0..16).map(|_| Db::new()).collect();
            let st2 = decode::load(&img, &opts, &mut again).expect("our own file loads");
            assert_eq!(st.keys_loaded, st2.keys_loaded);
        }
        Err(e) => assert!(e.offset <= data.len()),
    }
    let _ = decode::payload_value(data, b"k", &Thresholds::default());
});
