//! The redis.conf parser on arbitrary text: it must accept or report an error, never panic.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let _ = redoubt_config::fuzz_parse(&text);
});
