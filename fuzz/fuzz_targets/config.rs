//! The redis.conf parser on arbitrary text: it must accept or report an error, never panic.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = redoubt_config::parse_config_text(data, "fuzz");
});
