//! LZF, as Redis's bundled liblzf 3.6 (`lzf_c.c`, `lzf_d.c` with Redis's `lzfP.h`:
//! HLOG 16, VERY_FAST, offsets into the input). The compressor follows the C loop step by
//! step so that our output is byte-identical to Redis's (DUMP payloads, RDB files); the only
//! difference is that our hash table starts zeroed where Redis's is uninitialized stack
//! memory (INIT_HTAB 0), which at worst makes Redis find a few matches we do not.

const HLOG: u32 = 16;
const HSIZE: usize = 1 << HLOG;
const MAX_LIT: usize = 1 << 5;
const MAX_OFF: usize = 1 << 13;
const MAX_REF: usize = (1 << 8) + (1 << 3);

#[inline]
fn idx(h: u32) -> usize {
    // VERY_FAST: ((h >> (3*8 - HLOG)) - h*5) & (HSIZE - 1)
    ((h >> (24 - HLOG)).wrapping_sub(h.wrapping_mul(5)) as usize) & (HSIZE - 1)
}

/// Compresses `input` into at most `out_len` bytes; `None` when it does not fit (as
/// `lzf_compress` returning 0).
pub fn compress(input: &[u8], out_len: usize) -> Option<Vec<u8>> {
    let in_len = input.len();
    if in_len == 0 || out_len == 0 {
        return None;
    }
    let mut out = vec![0u8; out_len];
    HTAB.with(|t| {
        let mut t = t.borrow_mut();
        let (gen, slots) = &mut *t;
        // A new generation makes every slot read as 0 without clearing 256 KB per call.
        *gen = gen.wrapping_add(1);
        if *gen == 0 {
            slots.iter_mut().for_each(|s| *s = 0);
            *gen = 1;
        }
        let mut htab = Table { gen: *gen, slots };
        compress_into(input, &mut out, &mut htab)
    })
    .map(|n| {
        out.truncate(n);
        out
    })
}

thread_local! {
    /// The hash table, kept between calls: (generation, slots of `generation << 32 | pos`).
    static HTAB: std::cell::RefCell<(u32, Vec<u64>)> =
        std::cell::RefCell::new((0, vec![0u64; HSIZE]));
}

struct Table<'a> {
    gen: u32,
    slots: &'a mut [u64],
}

impl Table<'_> {
    /// The input offset stored in a slot by this call, else 0 (as a zeroed table).
    fn get(&self, i: usize) -> usize {
        let v = self.slots[i];
        if (v >> 32) as u32 == self.gen {
            (v & 0xffff_ffff) as usize
        } else {
            0
        }
    }

    fn set(&mut self, i: usize, pos: usize) {
        self.slots[i] = (u64::from(self.gen) << 32) | pos as u64;
    }
}

/// The compressor proper; `None` when the output does not fit in `out`.
fn compress_into(input: &[u8], out: &mut [u8], htab: &mut Table<'_>) -> Option<usize> {
    let in_len = input.len();
    let out_len = out.len();
    let frst = |p: usize| (u32::from(input[p]) << 8) | u32::from(input[p + 1]);
    let next = |v: u32, p: usize| (v << 8) | u32::from(input[p + 2]);
    let mut ip = 0usize;
    let mut op = 1usize; // start run
    let mut lit = 0usize;
    let mut hval = if in_len >= 2 { frst(0) } else { 0 };
    while in_len >= 3 && ip < in_len - 2 {
        hval = next(hval, ip);
        let slot = idx(hval);
        let r = htab.get(slot);
        htab.set(slot, ip);
        let matched = r < ip && {
            let off = ip - r - 1;
            off < MAX_OFF
                && r > 0
                && input[r + 2] == input[ip + 2]
                && input[r] == input[ip]
                && input[r + 1] == input[ip + 1]
        };
        if matched {
            let off = ip - r - 1;
            let mut len = 2usize;
            let maxlen = (in_len - ip - len).min(MAX_REF);
            if op + 3 + 1 >= out_len && op - usize::from(lit == 0) + 3 + 1 >= out_len {
                return None;
            }
            out[op - lit - 1] = (lit as u8).wrapping_sub(1); // stop run
            op -= usize::from(lit == 0); // undo run if length is zero
            'scan: {
                if maxlen > 16 {
                    for _ in 0..16 {
                        len += 1;
                        if input[r + len] != input[ip + len] {
                            break 'scan;
                        }
                    }
                }
                loop {
                    len += 1;
                    if !(len < maxlen && input[r + len] == input[ip + len]) {
                        break;
                    }
                }
            }
            len -= 2; // len is now #octets - 1
            ip += 1;
            if len < 7 {
                out[op] = ((off >> 8) + (len << 5)) as u8;
                op += 1;
            } else {
                out[op] = ((off >> 8) + (7 << 5)) as u8;
                out[op + 1] = (len - 7) as u8;
                op += 2;
            }
            out[op] = off as u8;
            op += 1;
            lit = 0;
            op += 1; // start run
            ip += len + 1;
            if ip >= in_len - 2 {
                break;
            }
            ip -= 2;
            hval = frst(ip);
            hval = next(hval, ip);
            htab.set(idx(hval), ip);
            ip += 1;
            hval = next(hval, ip);
            htab.set(idx(hval), ip);
            ip += 1;
        } else {
            if op >= out_len {
                return None;
            }
            lit += 1;
            out[op] = input[ip];
            op += 1;
            ip += 1;
            if lit == MAX_LIT {
                out[op - lit - 1] = (lit - 1) as u8;
                lit = 0;
                op += 1;
            }
        }
    }
    if op + 3 > out_len {
        return None;
    }
    while ip < in_len {
        // The C code relies on the check above: at most 3 bytes remain here.
        if op >= out_len {
            return None;
        }
        lit += 1;
        out[op] = input[ip];
        op += 1;
        ip += 1;
        if lit == MAX_LIT {
            out[op - lit - 1] = (lit - 1) as u8;
            lit = 0;
            op += 1;
        }
    }
    if op > out_len {
        return None;
    }
    out[op - lit - 1] = (lit as u8).wrapping_sub(1); // end run
    op -= usize::from(lit == 0);
    Some(op)
}

/// Decompresses into exactly `out_len` bytes; `None` on corrupt input or a size mismatch.
pub fn decompress(input: &[u8], out_len: usize) -> Option<Vec<u8>> {
    let mut out: Vec<u8> = Vec::with_capacity(out_len);
    let mut ip = 0usize;
    while ip < input.len() {
        let ctrl = usize::from(input[ip]);
        ip += 1;
        if ctrl < (1 << 5) {
            let n = ctrl + 1;
            if out.len() + n > out_len || ip + n > input.len() {
                return None;
            }
            out.extend_from_slice(&input[ip..ip + n]);
            ip += n;
        } else {
            let mut len = ctrl >> 5;
            if len == 7 {
                len += usize::from(*input.get(ip)?);
                ip += 1;
            }
            let back = ((ctrl & 0x1f) << 8) + usize::from(*input.get(ip)?) + 1;
            ip += 1;
            let n = len + 2;
            if out.len() + n > out_len || back > out.len() {
                return None;
            }
            let start = out.len() - back;
            if back >= n {
                out.extend_from_within(start..start + n);
            } else {
                // Overlapping copies repeat the pattern, byte by byte as in C.
                for i in 0..n {
                    let b = out[start + i];
                    out.push(b);
                }
            }
        }
    }
    (out.len() == out_len).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        let mut seed = 7u64;
        for n in [0usize, 1, 2, 3, 4, 5, 21, 100, 1000, 70_000] {
            let mut v = Vec::with_capacity(n);
            for i in 0..n {
                seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1);
                // Half repetitive, half random: both match and literal paths.
                v.push(if i % 64 < 32 {
                    b'a' + (i % 7) as u8
                } else {
                    (seed >> 33) as u8
                });
            }
            if let Some(c) = compress(&v, n + n / 16 + 64) {
                assert_eq!(decompress(&c, n).as_deref(), Some(&v[..]), "n={n}");
            } else {
                assert!(n == 0, "n={n}");
            }
        }
    }

    #[test]
    fn known_vectors() {
        // From redis-server 7.0.15: DUMP of SET k <"a" x 30> holds c3 09 1e and these 9 bytes.
        let a30 = vec![b'a'; 30];
        let c = [0x01, 0x61, 0x61, 0xe0, 0x11, 0x00, 0x01, 0x61, 0x61];
        assert_eq!(compress(&a30, 26).as_deref(), Some(&c[..]));
        assert_eq!(decompress(&c, 30).as_deref(), Some(&a30[..]));
        let s = b"abcabcabcabcabcabcabcabcxyz123abcabcabc";
        let c = [
            0x03, 0x61, 0x62, 0x63, 0x61, 0xe0, 0x0b, 0x02, 0x05, 0x78, 0x79, 0x7a, 0x31, 0x32,
            0x33, 0xa0, 0x1a, 0x01, 0x62, 0x63,
        ];
        assert_eq!(compress(s, s.len() - 4).as_deref(), Some(&c[..]));
        assert_eq!(decompress(&c, s.len()).as_deref(), Some(&s[..]));
    }

    #[test]
    fn refuses_what_does_not_fit_and_bad_input() {
        assert_eq!(compress(b"abcdefghij", 5), None);
        assert_eq!(decompress(&[0x05, b'a'], 6), None);
        assert_eq!(decompress(&[0x20, 0x05], 3), None); // reference before the start
        assert_eq!(decompress(&[0x00, b'a'], 2), None); // length mismatch
    }
}
