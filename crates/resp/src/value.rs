//! The client side: parsing replies (RESP2 and RESP3) and encoding commands.
//! Used by tools, tests, and links to other servers.

use crate::decode::string2ll;
use bytes::Bytes;

/// One reply as a client sees it.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Simple(String),
    Error(String),
    Int(i64),
    Bulk(Bytes),
    /// `$-1`, `*-1` or `_`.
    Nil,
    Array(Vec<Value>),
    Map(Vec<(Value, Value)>),
    Set(Vec<Value>),
    Push(Vec<Value>),
    Double(String),
    Bool(bool),
    BigNumber(String),
    Verbatim(String, Bytes),
}

/// Maximum nesting accepted from a peer, so a hostile server cannot overflow our stack.
const MAX_DEPTH: usize = 128;

/// Parses one reply from the front of `buf`. `Ok(None)` when incomplete; on success returns
/// the value and the number of bytes it used.
pub fn parse_value(buf: &[u8]) -> Result<Option<(Value, usize)>, String> {
    let mut pos = 0;
    match parse_at(buf, &mut pos, 0)? {
        Some(v) => Ok(Some((v, pos))),
        None => Ok(None),
    }
}

fn line<'a>(buf: &'a [u8], pos: &mut usize) -> Option<&'a [u8]> {
    let start = *pos;
    let rel = memchr::memmem::find(&buf[start..], b"\r\n")?;
    *pos = start + rel + 2;
    Some(&buf[start..start + rel])
}

fn num(l: &[u8]) -> Result<i64, String> {
    string2ll(l).ok_or_else(|| format!("bad number {:?}", String::from_utf8_lossy(l)))
}

fn parse_at(buf: &[u8], pos: &mut usize, depth: usize) -> Result<Option<Value>, String> {
    if depth > MAX_DEPTH {
        return Err("reply nested too deeply".into());
    }
    let Some(&kind) = buf.get(*pos) else {
        return Ok(None);
    };
    let mut p = *pos + 1;
    let Some(l) = line(buf, &mut p) else {
        return Ok(None);
    };
    let text = || String::from_utf8_lossy(l).into_owned();
    let v = match kind {
        b'+' => Value::Simple(text()),
        b'-' => Value::Error(text()),
        b':' => Value::Int(num(l)?),
        b',' => Value::Double(text()),
        b'(' => Value::BigNumber(text()),
        b'#' => match l {
            b"t" => Value::Bool(true),
            b"f" => Value::Bool(false),
            _ => return Err(format!("bad boolean {:?}", text())),
        },
        b'_' => Value::Nil,
        b'$' | b'=' | b'!' => {
            let n = num(l)?;
            if n < 0 {
                Value::Nil
            } else {
                let n = n as usize;
                if buf.len() < p + n + 2 {
                    return Ok(None);
                }
                // The two bytes after the payload are skipped unchecked, as hiredis does
                // (redoubt-cli's output must match redis-cli's: crates/cli/tests/golden.rs).
                let data = Bytes::copy_from_slice(&buf[p..p + n]);
                p += n + 2;
                match kind {
                    b'$' => Value::Bulk(data),
                    b'!' => Value::Error(String::from_utf8_lossy(&data).into_owned()),
                    _ => {
                        let (fmt, body) = if data.len() >= 4 {
                            (
                                String::from_utf8_lossy(&data[..3]).into_owned(),
                                data.slice(4..),
                            )
                        } else {
                            (String::new(), data)
                        };
                        Value::Verbatim(fmt, body)
                    }
                }
            }
        }
        b'*' | b'~' | b'>' | b'%' | b'|' => {
            let n = num(l)?;
            if n < 0 {
                Value::Nil
            } else {
                let count = if kind == b'%' || kind == b'|' {
                    2 * n as usize
                } else {
                    n as usize
                };
                let mut items = Vec::with_capacity(count.min(1024));
                for _ in 0..count {
                    match parse_at(buf, &mut p, depth + 1)? {
                        Some(v) => items.push(v),
                        None => return Ok(None),
                    }
                }
                match kind {
                    b'*' => Value::Array(items),
                    b'~' => Value::Set(items),
                    b'>' => Value::Push(items),
                    b'|' => {
                        // Attributes precede the real reply; we skip them.
                        *pos = p;
                        return parse_at(buf, pos, depth + 1);
                    }
                    _ => {
                        let mut pairs = Vec::with_capacity(items.len() / 2);
                        let mut it = items.into_iter();
                        while let (Some(k), Some(v)) = (it.next(), it.next()) {
                            pairs.push((k, v));
                        }
                        Value::Map(pairs)
                    }
                }
            }
        }
        other => return Err(format!("unknown reply type byte {other:#04x}")),
    };
    *pos = p;
    Ok(Some(v))
}

/// Encodes a command as a RESP multibulk.
pub fn encode_command<A: AsRef<[u8]>>(args: &[A]) -> Vec<u8> {
    let mut out =
        Vec::with_capacity(16 + args.iter().map(|a| a.as_ref().len() + 16).sum::<usize>());
    out.extend_from_slice(format!("*{}\r\n", args.len()).as_bytes());
    for a in args {
        let a = a.as_ref();
        out.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
        out.extend_from_slice(a);
        out.extend_from_slice(b"\r\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_nested_and_incomplete() {
        let full = b"*3\r\n:1\r\n$3\r\nabc\r\n%1\r\n+k\r\n,1.5\r\n";
        let (v, used) = parse_value(full).expect("valid").expect("complete");
        assert_eq!(used, full.len());
        assert_eq!(
            v,
            Value::Array(vec![
                Value::Int(1),
                Value::Bulk(Bytes::from_static(b"abc")),
                Value::Map(vec![(
                    Value::Simple("k".into()),
                    Value::Double("1.5".into())
                )]),
            ])
        );
        for cut in 0..full.len() {
            assert_eq!(parse_value(&full[..cut]).expect("valid prefix"), None);
        }
    }

    #[test]
    fn rejects_malformed_booleans_and_skips_bulk_terminators_as_hiredis() {
        assert_eq!(
            parse_value(b"#t\r\n").expect("valid"),
            Some((Value::Bool(true), 4))
        );
        assert_eq!(
            parse_value(b"#f\r\n").expect("valid"),
            Some((Value::Bool(false), 4))
        );
        assert!(parse_value(b"#T\r\n").is_err());
        assert!(parse_value(b"#\r\n").is_err());
        // hiredis skips the two bytes after a bulk payload without checking them.
        assert_eq!(
            parse_value(b"$3\r\nabcXY").expect("valid"),
            Some((Value::Bulk(Bytes::from_static(b"abc")), 9))
        );
    }
}
