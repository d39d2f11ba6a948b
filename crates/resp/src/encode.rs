//! Reply encoding, the equivalent of Redis's `addReply*` family.
//!
//! A command writes its reply straight into the client's [`ReplyBuf`]; the connection flushes
//! the buffer after the batch. RESP3-only types degrade exactly as Redis 7.0 degrades them for
//! RESP2 clients (maps become flat arrays, doubles become bulk strings, booleans integers,
//! null becomes `$-1` or `*-1`).

use bytes::{BufMut, BytesMut};

/// The protocol a client speaks, chosen with `HELLO`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Protocol {
    #[default]
    Resp2,
    Resp3,
}

/// A client's pending output.
#[derive(Debug, Default)]
pub struct ReplyBuf {
    pub buf: BytesMut,
    pub proto: Protocol,
    /// Error replies written since the counter was last taken (INFO errorstats, EXECABORT).
    pub errors: u64,
    /// The code (first word) of each error written since last drained, for INFO errorstats.
    pub error_codes: Vec<String>,
}

/// Formats a double as C's `printf("%.17g")`, which Redis 7.0 uses for every double reply.
pub fn format_double(d: f64) -> String {
    if d.is_nan() {
        return "nan".into();
    }
    if d.is_infinite() {
        return if d > 0.0 { "inf".into() } else { "-inf".into() };
    }
    format_g(d, 17)
}

/// C's `%.<precision>g` for a finite double.
pub fn format_g(d: f64, precision: usize) -> String {
    let p = precision.max(1);
    if d == 0.0 {
        return if d.is_sign_negative() {
            "-0".into()
        } else {
            "0".into()
        };
    }
    // Rust's exponent formatting is correctly rounded, like glibc's printf.
    let sci = format!("{:.*e}", p - 1, d);
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    if exp < -4 || exp >= p as i32 {
        let m = strip_fraction_zeros(mantissa);
        let sign = if exp < 0 { '-' } else { '+' };
        format!("{m}e{sign}{:02}", exp.unsigned_abs())
    } else {
        let decimals = (p as i32 - 1 - exp).max(0) as usize;
        strip_fraction_zeros(&format!("{:.*}", decimals, d)).to_string()
    }
}

fn strip_fraction_zeros(s: &str) -> &str {
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.')
    } else {
        s
    }
}

impl ReplyBuf {
    pub fn new(proto: Protocol) -> Self {
        ReplyBuf {
            buf: BytesMut::with_capacity(256),
            proto,
            errors: 0,
            error_codes: Vec::new(),
        }
    }

    pub fn is_resp3(&self) -> bool {
        self.proto == Protocol::Resp3
    }

    pub fn len(&self) -> usize {
        self.buf.len()
    }

    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    /// Appends pre-encoded protocol bytes.
    pub fn raw(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    pub fn simple(&mut self, s: &str) {
        self.buf.reserve(s.len() + 3);
        self.buf.put_u8(b'+');
        self.buf.extend_from_slice(s.as_bytes());
        self.buf.extend_from_slice(b"\r\n");
    }

    pub fn ok(&mut self) {
        self.buf.extend_from_slice(b"+OK\r\n");
    }

    /// An error reply. `msg` carries its code (`ERR ...`, `WRONGTYPE ...`); a leading `-` is
    /// accepted. Newlines become spaces, as Redis's `addReplyErrorLength` does.
    pub fn error(&mut self, msg: &str) {
        self.error_bytes(msg.as_bytes());
    }

    /// An error reply from raw bytes: Redis echoes client bytes (an unknown command's name and
    /// arguments) into errors as they are, not as UTF-8.
    pub fn error_bytes(&mut self, msg: &[u8]) {
        let msg = msg.strip_prefix(b"-").unwrap_or(msg);
        self.buf.reserve(msg.len() + 3);
        self.buf.put_u8(b'-');
        for &b in msg {
            self.buf
                .put_u8(if b == b'\r' || b == b'\n' { b' ' } else { b });
        }
        self.buf.extend_from_slice(b"\r\n");
        self.errors += 1;
        let code = msg.split(|&b| b == b' ').next().unwrap_or(b"ERR");
        self.error_codes
            .push(String::from_utf8_lossy(code).into_owned());
    }

    fn header(&mut self, prefix: u8, n: i64) {
        let mut tmp = itoa::Buffer::new();
        let s = tmp.format(n);
        self.buf.reserve(s.len() + 3);
        self.buf.put_u8(prefix);
        self.buf.extend_from_slice(s.as_bytes());
        self.buf.extend_from_slice(b"\r\n");
    }

    pub fn int(&mut self, n: i64) {
        // Redis shares the most common integer replies; the bytes are the same.
        match n {
            0 => self.buf.extend_from_slice(b":0\r\n"),
            1 => self.buf.extend_from_slice(b":1\r\n"),
            _ => self.header(b':', n),
        }
    }

    pub fn bulk(&mut self, data: &[u8]) {
        self.header(b'$', data.len() as i64);
        self.buf.extend_from_slice(data);
        self.buf.extend_from_slice(b"\r\n");
    }

    pub fn bulk_str(&mut self, s: &str) {
        self.bulk(s.as_bytes());
    }

    /// A bulk string holding an integer's decimal form (`addReplyBulkLongLong`).
    pub fn bulk_int(&mut self, n: i64) {
        let mut tmp = itoa::Buffer::new();
        let s = tmp.format(n);
        self.bulk(s.as_bytes());
    }

    /// The null bulk string (`$-1` / `_`).
    pub fn null(&mut self) {
        self.buf.extend_from_slice(if self.is_resp3() {
            b"_\r\n"
        } else {
            b"$-1\r\n"
        });
    }

    /// The null array (`*-1` / `_`).
    pub fn null_array(&mut self) {
        self.buf.extend_from_slice(if self.is_resp3() {
            b"_\r\n"
        } else {
            b"*-1\r\n"
        });
    }

    pub fn array_len(&mut self, n: usize) {
        self.header(b'*', n as i64);
    }

    /// A map of `n` pairs; RESP2 sees a flat array of `2n` elements.
    pub fn map_len(&mut self, n: usize) {
        if self.is_resp3() {
            self.header(b'%', n as i64);
        } else {
            self.header(b'*', 2 * n as i64);
        }
    }

    pub fn set_len(&mut self, n: usize) {
        self.header(if self.is_resp3() { b'~' } else { b'*' }, n as i64);
    }

    /// Out-of-band push (`>`); RESP2 pub/sub messages are plain arrays.
    pub fn push_len(&mut self, n: usize) {
        self.header(if self.is_resp3() { b'>' } else { b'*' }, n as i64);
    }

    /// A pair inside a map reply: RESP3 map entries, or RESP2 two-element arrays where Redis
    /// uses `addReplyArrayLen(c,2)` only in RESP3 (`ZRANGE WITHSCORES` and friends).
    pub fn double(&mut self, d: f64) {
        if self.is_resp3() {
            let s = format_double(d);
            self.buf.reserve(s.len() + 3);
            self.buf.put_u8(b',');
            self.buf.extend_from_slice(s.as_bytes());
            self.buf.extend_from_slice(b"\r\n");
        } else {
            self.bulk(format_double(d).as_bytes());
        }
    }

    pub fn bool(&mut self, b: bool) {
        if self.is_resp3() {
            self.buf
                .extend_from_slice(if b { b"#t\r\n" } else { b"#f\r\n" });
        } else {
            self.int(i64::from(b));
        }
    }

    /// A big number (`(`); a bulk string in RESP2.
    pub fn bignum(&mut self, digits: &str) {
        if self.is_resp3() {
            self.buf.reserve(digits.len() + 3);
            self.buf.put_u8(b'(');
            self.buf.extend_from_slice(digits.as_bytes());
            self.buf.extend_from_slice(b"\r\n");
        } else {
            self.bulk(digits.as_bytes());
        }
    }

    /// An attribute map header (`|`), RESP3 only: callers skip it for RESP2.
    pub fn attribute_len(&mut self, n: usize) {
        self.header(b'|', n as i64);
    }

    /// Verbatim string (`=`) with a three-letter format (`txt`); a bulk string in RESP2.
    pub fn verbatim(&mut self, text: &[u8], format: &str) {
        if self.is_resp3() {
            self.header(b'=', (text.len() + 4) as i64);
            self.buf.extend_from_slice(format.as_bytes());
            self.buf.put_u8(b':');
            self.buf.extend_from_slice(text);
            self.buf.extend_from_slice(b"\r\n");
        } else {
            self.bulk(text);
        }
    }

    /// Starts an aggregate whose length is not known yet; finish with one of the `end_*`.
    pub fn begin_deferred(&mut self) -> usize {
        self.buf.len()
    }

    pub fn end_deferred_array(&mut self, at: usize, n: usize) {
        self.insert_header(at, b'*', n as i64);
    }

    pub fn end_deferred_map(&mut self, at: usize, n: usize) {
        if self.is_resp3() {
            self.insert_header(at, b'%', n as i64);
        } else {
            self.insert_header(at, b'*', 2 * n as i64);
        }
    }

    pub fn end_deferred_set(&mut self, at: usize, n: usize) {
        let p = if self.is_resp3() { b'~' } else { b'*' };
        self.insert_header(at, p, n as i64);
    }

    fn insert_header(&mut self, at: usize, prefix: u8, n: i64) {
        let tail = self.buf.split_off(at);
        self.header(prefix, n);
        self.buf.unsplit(tail);
    }

    /// Removes everything after `at` (used to drop a partial reply).
    pub fn truncate(&mut self, at: usize) {
        self.buf.truncate(at);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn g17_like_printf() {
        assert_eq!(format_double(0.1), "0.10000000000000001");
        assert_eq!(format_double(1.0), "1");
        assert_eq!(format_double(-2.5), "-2.5");
        assert_eq!(format_double(1e20), "1e+20");
        assert_eq!(format_double(1.5e-5), "1.5e-05");
        assert_eq!(
            format_double(123456789012345678.0),
            "1.2345678901234568e+17"
        );
        assert_eq!(format_double(0.0001), "0.0001");
        assert_eq!(format_double(3.0e-300), "3.0000000000000002e-300");
        assert_eq!(format_double(f64::INFINITY), "inf");
    }

    #[test]
    fn resp2_and_resp3_degrade_like_redis() {
        let mut r2 = ReplyBuf::new(Protocol::Resp2);
        let mut r3 = ReplyBuf::new(Protocol::Resp3);
        for r in [&mut r2, &mut r3] {
            r.map_len(1);
            r.bulk(b"a");
            r.double(1.5);
            r.null();
            r.bool(true);
        }
        assert_eq!(&r2.buf[..], b"*2\r\n$1\r\na\r\n$3\r\n1.5\r\n$-1\r\n:1\r\n");
        assert_eq!(&r3.buf[..], b"%1\r\n$1\r\na\r\n,1.5\r\n_\r\n#t\r\n");
    }

    #[test]
    fn deferred_and_errors() {
        let mut r = ReplyBuf::new(Protocol::Resp2);
        r.ok();
        let at = r.begin_deferred();
        r.int(5);
        r.end_deferred_array(at, 1);
        r.error("ERR bad\r\nthing");
        assert_eq!(&r.buf[..], b"+OK\r\n*1\r\n:5\r\n-ERR bad  thing\r\n");
        assert_eq!(r.errors, 1);
    }
}
