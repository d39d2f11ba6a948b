//! The request decoder on arbitrary bytes, fed in arbitrary splits: it must never panic,
//! and decoding in pieces must give the same requests as decoding at once.
#![no_main]
use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use redoubt_resp::{DecodeLimits, RequestDecoder};

fn decode_all(chunks: &[&[u8]]) -> (Vec<Vec<bytes::Bytes>>, bool) {
    let mut d = RequestDecoder::new();
    let mut buf = BytesMut::new();
    let mut out = Vec::new();
    for c in chunks {
        buf.extend_from_slice(c);
        loop {
            match d.decode(&mut buf, &DecodeLimits::default()) {
                Ok(Some(r)) => out.push(r.args),
                Ok(None) => break,
                Err(_) => return (out, true),
            }
        }
    }
    (out, false)
}

fuzz_target!(|data: &[u8]| {
    let whole = decode_all(&[data]);
    let split = data.len() / 2;
    let pieces = decode_all(&[&data[..split], &data[split..]]);
    if !whole.1 && !pieces.1 {
        assert_eq!(whole.0, pieces.0);
    }
});
