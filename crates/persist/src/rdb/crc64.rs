//! CRC-64/Jones as Redis's `crc64.c`: reflected polynomial 0xad93d23594c935a9, initial value
//! 0, no final xor. Used for the RDB trailer and DUMP payloads.

const POLY_REFLECTED: u64 = 0x95ac_9329_ac4b_c9b5;

const fn table() -> [[u64; 256]; 8] {
    let mut t = [[0u64; 256]; 8];
    let mut i = 0;
    while i < 256 {
        let mut c = i as u64;
        let mut k = 0;
        while k < 8 {
            c = if c & 1 == 1 {
                (c >> 1) ^ POLY_REFLECTED
            } else {
                c >> 1
            };
            k += 1;
        }
        t[0][i] = c;
        i += 1;
    }
    // Slicing-by-8 tables: t[k][i] is the CRC of byte i followed by k zero bytes.
    let mut k = 1;
    while k < 8 {
        let mut i = 0;
        while i < 256 {
            let prev = t[k - 1][i];
            t[k][i] = t[0][(prev & 0xff) as usize] ^ (prev >> 8);
            i += 1;
        }
        k += 1;
    }
    t
}

static TABLE: [[u64; 256]; 8] = table();

/// Continues `crc` over `data` (start with 0).
pub fn crc64(mut crc: u64, data: &[u8]) -> u64 {
    let mut chunks = data.chunks_exact(8);
    for c in &mut chunks {
        let mut w = [0u8; 8];
        w.copy_from_slice(c);
        let v = crc ^ u64::from_le_bytes(w);
        crc = TABLE[7][(v & 0xff) as usize]
            ^ TABLE[6][((v >> 8) & 0xff) as usize]
            ^ TABLE[5][((v >> 16) & 0xff) as usize]
            ^ TABLE[4][((v >> 24) & 0xff) as usize]
            ^ TABLE[3][((v >> 32) & 0xff) as usize]
            ^ TABLE[2][((v >> 40) & 0xff) as usize]
            ^ TABLE[1][((v >> 48) & 0xff) as usize]
            ^ TABLE[0][(v >> 56) as usize];
    }
    for &b in chunks.remainder() {
        crc = TABLE[0][((crc ^ u64::from(b)) & 0xff) as usize] ^ (crc >> 8);
    }
    crc
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redis_test_vector() {
        assert_eq!(crc64(0, b"123456789"), 0xe9c6_d914_c4b8_d9ca);
        // Incremental equals one-shot, across the 8-byte fast path.
        let data: Vec<u8> = (0..1000u32).map(|i| (i * 31 % 251) as u8).collect();
        let whole = crc64(0, &data);
        let split = crc64(crc64(0, &data[..333]), &data[333..]);
        assert_eq!(whole, split);
        let bytewise = data
            .iter()
            .fold(0, |c, b| crc64(c, std::slice::from_ref(b)));
        assert_eq!(whole, bytewise);
    }
}
