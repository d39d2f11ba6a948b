//! Incremental request decoding, as Redis 7.0's `processInlineBuffer` and
//! `processMultibulkBuffer` do it.
//!
//! The decoder keeps the partially read multibulk state between calls, so a command split
//! across any number of reads costs one pass over its bytes. A request's type is chosen by
//! its first byte: `*` is multibulk, anything else is an inline line.
//!
//! Error texts are Redis's, and every one of them closes the connection after the reply
//! (`CLIENT_CLOSE_AFTER_REPLY`). Commands fully decoded before the bad bytes still run.

use bytes::{Buf, Bytes, BytesMut};

/// Redis's `PROTO_INLINE_MAX_SIZE`: an inline line or a count line may not grow past it.
const INLINE_MAX_SIZE: usize = 64 * 1024;
/// Unauthenticated clients may send at most this many arguments...
const UNAUTH_MAX_MULTIBULK: i64 = 10;
/// ...each at most this long (Redis 7.0, `networking.c`).
const UNAUTH_MAX_BULK: i64 = 16384;

/// Limits that come from configuration and client state.
#[derive(Debug, Clone, Copy)]
pub struct DecodeLimits {
    /// `proto-max-bulk-len`; not applied to a master link.
    pub proto_max_bulk_len: i64,
    /// The client must still authenticate: tighter limits apply.
    pub auth_required: bool,
    /// The connection is our master: bulk length is not capped.
    pub is_master: bool,
}

impl Default for DecodeLimits {
    fn default() -> Self {
        DecodeLimits {
            proto_max_bulk_len: 512 * 1024 * 1024,
            auth_required: false,
            is_master: false,
        }
    }
}

/// One decoded command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub args: Vec<Bytes>,
    /// Bytes this request occupied in the input, for replication offsets.
    pub wire_len: usize,
    /// True when it came as an inline line.
    pub inline: bool,
}

/// A protocol violation. The text follows `-ERR Protocol error: `.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProtocolError(pub String);

impl std::fmt::Display for ProtocolError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Protocol error: {}", self.0)
    }
}

/// Stateful decoder for one connection.
#[derive(Debug, Default)]
pub struct RequestDecoder {
    /// Arguments still expected in the current multibulk, 0 when between requests.
    multibulk_left: usize,
    /// Length of the bulk being waited for, or `None` when the `$` line is next.
    bulk_len: Option<usize>,
    args: Vec<Bytes>,
    consumed: usize,
}

/// Parses a signed decimal as Redis's `string2ll`: no leading `+`, no spaces, no leading zeros
/// (except "0" itself), fits in an i64.
pub(crate) fn string2ll(s: &[u8]) -> Option<i64> {
    if s.is_empty() || s.len() > 20 {
        return None;
    }
    if s == b"0" {
        return Some(0);
    }
    let (neg, digits) = match s[0] {
        b'-' => (true, &s[1..]),
        _ => (false, s),
    };
    if digits.is_empty() || digits[0] == b'0' {
        return None;
    }
    let mut v: u64 = 0;
    for &d in digits {
        if !d.is_ascii_digit() {
            return None;
        }
        v = v.checked_mul(10)?.checked_add(u64::from(d - b'0'))?;
    }
    if neg {
        if v > (i64::MAX as u64) + 1 {
            return None;
        }
        Some((v as i64).wrapping_neg())
    } else {
        i64::try_from(v).ok()
    }
}

fn err(s: &str) -> ProtocolError {
    ProtocolError(s.to_string())
}

impl RequestDecoder {
    pub fn new() -> Self {
        Self::default()
    }

    /// True when part of a request has been consumed but not completed.
    pub fn in_progress(&self) -> bool {
        self.multibulk_left > 0
    }

    /// Decodes the next complete request from `buf`, consuming its bytes.
    ///
    /// `Ok(None)` means more bytes are needed (or only empty requests were seen, which Redis
    /// skips silently). On `Err` the connection must be closed after the error reply.
    pub fn decode(
        &mut self,
        buf: &mut BytesMut,
        limits: &DecodeLimits,
    ) -> Result<Option<Request>, ProtocolError> {
        loop {
            if self.multibulk_left == 0 {
                if buf.is_empty() {
                    return Ok(None);
                }
                if buf[0] == b'*' {
                    match self.start_multibulk(buf, limits)? {
                        Start::NeedMore => return Ok(None),
                        Start::Empty => continue,
                        Start::Started => {}
                    }
                } else {
                    match self.inline(buf)? {
                        Some(req) => return Ok(Some(req)),
                        None if buf.is_empty() || !buf.contains(&b'\n') => return Ok(None),
                        None => continue,
                    }
                }
            }
            match self.bulks(buf, limits)? {
                Some(req) => return Ok(Some(req)),
                None => return Ok(None),
            }
        }
    }

    fn inline(&mut self, buf: &mut BytesMut) -> Result<Option<Request>, ProtocolError> {
        let Some(nl) = memchr::memchr(b'\n', buf) else {
            if buf.len() > INLINE_MAX_SIZE {
                return Err(err("too big inline request"));
            }
            return Ok(None);
        };
        let line_end = if nl > 0 && buf[nl - 1] == b'\r' {
            nl - 1
        } else {
            nl
        };
        let args =
            crate::split_args(&buf[..line_end]).map_err(|_| err("unbalanced quotes in request"))?;
        buf.advance(nl + 1);
        if args.is_empty() {
            return Ok(None);
        }
        Ok(Some(Request {
            args: args.into_iter().map(Bytes::from).collect(),
            wire_len: nl + 1,
            inline: true,
        }))
    }

    fn start_multibulk(
        &mut self,
        buf: &mut BytesMut,
        limits: &DecodeLimits,
    ) -> Result<Start, ProtocolError> {
        let Some(cr) = memchr::memchr(b'\r', buf) else {
            if buf.len() > INLINE_MAX_SIZE {
                return Err(err("too big mbulk count string"));
            }
            return Ok(Start::NeedMore);
        };
        // Redis assumes the '\n' follows the '\r' and waits until it is buffered.
        if cr + 1 >= buf.len() {
            return Ok(Start::NeedMore);
        }
        let n = match string2ll(&buf[1..cr]) {
            Some(n) if n <= i64::from(i32::MAX) => n,
            _ => return Err(err("invalid multibulk length")),
        };
        if n > UNAUTH_MAX_MULTIBULK && limits.auth_required {
            return Err(err("unauthenticated multibulk length"));
        }
        buf.advance(cr + 2);
        self.consumed = cr + 2;
        if n <= 0 {
            return Ok(Start::Empty);
        }
        self.multibulk_left = n as usize;
        self.bulk_len = None;
        // Do not trust the declared count for allocation (Redis caps it at 1024 too).
        self.args = Vec::with_capacity(self.multibulk_left.min(1024));
        Ok(Start::Started)
    }

    fn bulks(
        &mut self,
        buf: &mut BytesMut,
        limits: &DecodeLimits,
    ) -> Result<Option<Request>, ProtocolError> {
        while self.multibulk_left > 0 {
            let len = match self.bulk_len {
                Some(len) => len,
                None => {
                    let Some(cr) = memchr::memchr(b'\r', buf) else {
                        if buf.len() > INLINE_MAX_SIZE {
                            return Err(err("too big bulk count string"));
                        }
                        return Ok(None);
                    };
                    if cr + 1 >= buf.len() {
                        return Ok(None);
                    }
                    if buf[0] != b'$' {
                        let got = match buf[0] {
                            // Error replies may not contain newlines: Redis turns them into spaces.
                            b'\r' | b'\n' => ' ',
                            c => c as char,
                        };
                        return Err(ProtocolError(format!("expected '$', got '{got}'")));
                    }
                    let n = match string2ll(&buf[1..cr]) {
                        Some(n)
                            if n >= 0 && (limits.is_master || n <= limits.proto_max_bulk_len) =>
                        {
                            n
                        }
                        _ => return Err(err("invalid bulk length")),
                    };
                    if n > UNAUTH_MAX_BULK && limits.auth_required {
                        return Err(err("unauthenticated bulk length"));
                    }
                    buf.advance(cr + 2);
                    self.consumed += cr + 2;
                    let n = usize::try_from(n).map_err(|_| err("invalid bulk length"))?;
                    self.bulk_len = Some(n);
                    // Big arguments: reserve room so reads land in place (Redis's
                    // PROTO_MBULK_BIG_ARG trick), but at most 1 MiB ahead of the bytes that
                    // actually arrived: a declared length alone must not allocate memory.
                    if n >= 32 * 1024 {
                        let want = (n + 2).min(buf.len() + (1 << 20));
                        if buf.capacity() < want {
                            buf.reserve(want - buf.len());
                        }
                    }
                    n
                }
            };
            if buf.len() < len + 2 {
                return Ok(None);
            }
            // Redis does not check that the two bytes after the payload are CRLF.
            let arg = buf.split_to(len).freeze();
            buf.advance(2);
            self.consumed += len + 2;
            self.args.push(arg);
            self.bulk_len = None;
            self.multibulk_left -= 1;
        }
        let args = std::mem::take(&mut self.args);
        let wire_len = std::mem::take(&mut self.consumed);
        Ok(Some(Request {
            args,
            wire_len,
            inline: false,
        }))
    }
}

enum Start {
    NeedMore,
    Empty,
    Started,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all(input: &[u8]) -> (Vec<Vec<String>>, Option<String>) {
        let mut d = RequestDecoder::new();
        let mut buf = BytesMut::from(input);
        let mut out = vec![];
        loop {
            match d.decode(&mut buf, &DecodeLimits::default()) {
                Ok(Some(r)) => out.push(
                    r.args
                        .iter()
                        .map(|a| String::from_utf8_lossy(a).into_owned())
                        .collect(),
                ),
                Ok(None) => return (out, None),
                Err(e) => return (out, Some(e.to_string())),
            }
        }
    }

    #[test]
    fn multibulk_and_inline_pipelined() {
        let (cmds, e) = all(b"*2\r\n$3\r\nGET\r\n$1\r\nk\r\nPING\r\n\r\n*0\r\nset a \"b c\"\n");
        assert_eq!(e, None);
        assert_eq!(
            cmds,
            vec![vec!["GET", "k"], vec!["PING"], vec!["set", "a", "b c"]]
        );
    }

    #[test]
    fn byte_by_byte_equals_whole() {
        let input = b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$5\r\nhello\r\nECHO x\r\n";
        let mut d = RequestDecoder::new();
        let mut buf = BytesMut::new();
        let mut got = vec![];
        for &b in input.iter() {
            buf.extend_from_slice(&[b]);
            while let Some(r) = d.decode(&mut buf, &DecodeLimits::default()).expect("valid") {
                got.push(r.args);
            }
        }
        assert_eq!(got.len(), 2);
        assert_eq!(got[0][2].as_ref(), b"hello");
    }

    #[test]
    fn redis_error_texts() {
        assert_eq!(
            all(b"*x\r\n").1.as_deref(),
            Some("Protocol error: invalid multibulk length")
        );
        assert_eq!(
            all(b"*3000000000\r\n").1.as_deref(),
            Some("Protocol error: invalid multibulk length")
        );
        assert_eq!(
            all(b"*1\r\n+a\r\n").1.as_deref(),
            Some("Protocol error: expected '$', got '+'")
        );
        assert_eq!(
            all(b"*1\r\n$-1\r\n").1.as_deref(),
            Some("Protocol error: invalid bulk length")
        );
        assert_eq!(
            all(b"*1\r\n$600000000\r\n").1.as_deref(),
            Some("Protocol error: invalid bulk length")
        );
        assert_eq!(
            all(b"set \"a\n").1.as_deref(),
            Some("Protocol error: unbalanced quotes in request")
        );
        let big = vec![b'a'; 70 * 1024];
        assert_eq!(
            all(&big).1.as_deref(),
            Some("Protocol error: too big inline request")
        );
    }

    #[test]
    fn unauthenticated_limits() {
        let mut d = RequestDecoder::new();
        let lim = DecodeLimits {
            auth_required: true,
            ..Default::default()
        };
        let mut buf = BytesMut::from(&b"*11\r\n"[..]);
        assert_eq!(
            d.decode(&mut buf, &lim).expect_err("refused").0,
            "unauthenticated multibulk length"
        );
        let mut d = RequestDecoder::new();
        let mut buf = BytesMut::from(&b"*1\r\n$16385\r\n"[..]);
        assert_eq!(
            d.decode(&mut buf, &lim).expect_err("refused").0,
            "unauthenticated bulk length"
        );
    }

    #[test]
    fn string2ll_matches_redis() {
        assert_eq!(string2ll(b"0"), Some(0));
        assert_eq!(string2ll(b"-1"), Some(-1));
        assert_eq!(string2ll(b"9223372036854775807"), Some(i64::MAX));
        assert_eq!(string2ll(b"-9223372036854775808"), Some(i64::MIN));
        for bad in [
            &b""[..],
            b"01",
            b"+1",
            b" 1",
            b"-",
            b"-0",
            b"9223372036854775808",
            b"1a",
        ] {
            assert_eq!(string2ll(bad), None, "{:?}", bad);
        }
    }

    proptest::proptest! {
        #[test]
        fn never_panics_and_consumes(input in proptest::collection::vec(proptest::num::u8::ANY, 0..256)) {
            let mut d = RequestDecoder::new();
            let mut buf = BytesMut::from(&input[..]);
            for _ in 0..300 {
                match d.decode(&mut buf, &DecodeLimits::default()) {
                    Ok(Some(_)) => continue,
                    _ => break,
                }
            }
        }
    }
}
