//! Redis's argument tokenizer (`sdssplitargs`) on arbitrary lines: no panic, and every
//! token it returns came from the input's bytes.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(args) = redoubt_resp::split_args(data) {
        let total: usize = args.iter().map(|a| a.len()).sum();
        assert!(total <= data.len());
    }
});
