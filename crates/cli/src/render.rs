//! Reply rendering, byte for byte as redis-cli 7.0 prints replies.
//!
//! redis-cli has five printers (`cliFormatReplyTTY`, `...Raw`, `...CSV`, `...Json` in two
//! flavours) over hiredis's reply types. hiredis 7.0 parses RESP3 big numbers but redis-cli has
//! no printer for them ("Unknown reply type: 13", exit 1), and it rejects attributes as a
//! protocol error; both quirks are reproduced (the second in `conn`), because scripts that parse
//! redis-cli's output see exactly that.

use redoubt_resp::Value;

/// How replies are printed (`config.output`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Output {
    Standard,
    Raw,
    Csv,
    Json,
    QuotedJson,
}

/// A reply type redis-cli cannot print: it says so on stderr and exits 1.
#[derive(Debug)]
pub struct Unprintable(pub u8);

/// hiredis's type numbers, as redis-cli prints them in "Unknown reply type: %d".
const REDIS_REPLY_BIGNUM: u8 = 13;

/// `sdscatrepr`: quoted, with C escapes for everything outside printable ASCII.
pub fn repr(out: &mut Vec<u8>, s: &[u8]) {
    out.push(b'"');
    for &c in s {
        match c {
            b'\\' | b'"' => {
                out.push(b'\\');
                out.push(c);
            }
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            0x07 => out.extend_from_slice(b"\\a"),
            0x08 => out.extend_from_slice(b"\\b"),
            0x20..=0x7e => out.push(c),
            _ => out.extend_from_slice(format!("\\x{c:02x}").as_bytes()),
        }
    }
    out.push(b'"');
}

/// The TTY printer (`cliFormatReplyTTY`), with `prefix` the indentation of nested levels.
pub fn tty(out: &mut Vec<u8>, v: &Value, prefix: &[u8]) -> Result<(), Unprintable> {
    match v {
        Value::Error(e) => {
            out.extend_from_slice(b"(error) ");
            out.extend_from_slice(e.as_bytes());
            out.push(b'\n');
        }
        Value::Simple(s) => {
            out.extend_from_slice(s.as_bytes());
            out.push(b'\n');
        }
        Value::Int(i) => out.extend_from_slice(format!("(integer) {i}\n").as_bytes()),
        Value::Double(d) => out.extend_from_slice(format!("(double) {d}\n").as_bytes()),
        Value::Bulk(b) => {
            repr(out, b);
            out.push(b'\n');
        }
        // Verbatim strings are meant to be shown as they are, so no quoting.
        Value::Verbatim(_, b) => {
            out.extend_from_slice(b);
            out.push(b'\n');
        }
        Value::Nil => out.extend_from_slice(b"(nil)\n"),
        Value::Bool(b) => out.extend_from_slice(if *b { b"(true)\n" } else { b"(false)\n" }),
        Value::BigNumber(_) => return Err(Unprintable(REDIS_REPLY_BIGNUM)),
        Value::Array(items) | Value::Set(items) | Value::Push(items) => {
            let (sep, empty): (u8, &[u8]) = match v {
                Value::Array(_) => (b')', b"(empty array)\n"),
                Value::Set(_) => (b'~', b"(empty set)\n"),
                _ => (b')', b"(empty push)\n"),
            };
            if items.is_empty() {
                out.extend_from_slice(empty);
                return Ok(());
            }
            let (width, inner) = nested_prefix(prefix, items.len());
            for (i, item) in items.iter().enumerate() {
                index(out, if i == 0 { b"" } else { prefix }, i + 1, width, sep);
                tty(out, item, &inner)?;
            }
        }
        Value::Map(pairs) => {
            if pairs.is_empty() {
                out.extend_from_slice(b"(empty hash)\n");
                return Ok(());
            }
            let (width, inner) = nested_prefix(prefix, pairs.len());
            for (i, (k, val)) in pairs.iter().enumerate() {
                index(out, if i == 0 { b"" } else { prefix }, i + 1, width, b'#');
                tty(out, k, &inner)?;
                // The key's newline is replaced by the arrow.
                out.pop();
                out.extend_from_slice(b" => ");
                tty(out, val, &inner)?;
            }
        }
    }
    Ok(())
}

/// Width of the largest index, and the prefix for the levels below (width + 2 spaces more).
fn nested_prefix(prefix: &[u8], n: usize) -> (usize, Vec<u8>) {
    let width = n.to_string().len();
    let mut inner = prefix.to_vec();
    inner.resize(prefix.len() + width + 2, b' ');
    (width, inner)
}

fn index(out: &mut Vec<u8>, prefix: &[u8], i: usize, width: usize, sep: u8) {
    out.extend_from_slice(prefix);
    out.extend_from_slice(format!("{i:>width$}").as_bytes());
    out.push(sep);
    out.push(b' ');
}

/// The raw printer (`cliFormatReplyRaw`): no quoting, `mb_delim` between elements.
pub fn raw(out: &mut Vec<u8>, v: &Value, mb_delim: &[u8]) -> Result<(), Unprintable> {
    match v {
        Value::Nil => {}
        Value::Error(s) | Value::Simple(s) => {
            out.extend_from_slice(s.as_bytes());
            if matches!(v, Value::Error(_)) {
                out.push(b'\n');
            }
        }
        Value::Bulk(b) | Value::Verbatim(_, b) => out.extend_from_slice(b),
        Value::Int(i) => out.extend_from_slice(i.to_string().as_bytes()),
        Value::Double(d) => out.extend_from_slice(d.as_bytes()),
        Value::Bool(b) => out.extend_from_slice(if *b { b"(true)" } else { b"(false)" }),
        Value::BigNumber(_) => return Err(Unprintable(REDIS_REPLY_BIGNUM)),
        Value::Array(items) | Value::Set(items) | Value::Push(items) => {
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.extend_from_slice(mb_delim);
                }
                raw(out, item, mb_delim)?;
            }
        }
        Value::Map(pairs) => {
            for (i, (k, val)) in pairs.iter().enumerate() {
                if i > 0 {
                    out.extend_from_slice(mb_delim);
                }
                raw(out, k, mb_delim)?;
                out.push(b' ');
                raw(out, val, mb_delim)?;
            }
        }
    }
    Ok(())
}

/// The CSV printer (`cliFormatReplyCSV`): aggregates are flattened into one line.
pub fn csv(out: &mut Vec<u8>, v: &Value) -> Result<(), Unprintable> {
    match v {
        Value::Error(e) => {
            out.extend_from_slice(b"ERROR,");
            repr(out, e.as_bytes());
        }
        Value::Simple(s) => repr(out, s.as_bytes()),
        Value::Int(i) => out.extend_from_slice(i.to_string().as_bytes()),
        Value::Double(d) => out.extend_from_slice(d.as_bytes()),
        Value::Bulk(b) | Value::Verbatim(_, b) => repr(out, b),
        Value::Nil => out.extend_from_slice(b"NULL"),
        Value::Bool(b) => out.extend_from_slice(if *b { b"true" } else { b"false" }),
        Value::BigNumber(_) => return Err(Unprintable(REDIS_REPLY_BIGNUM)),
        Value::Array(items) | Value::Set(items) | Value::Push(items) => {
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                csv(out, item)?;
            }
        }
        Value::Map(pairs) => {
            for (i, (k, val)) in pairs.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                csv(out, k)?;
                out.push(b',');
                csv(out, val)?;
            }
        }
    }
    Ok(())
}

/// JSON string escaping as redis-cli's `escapeJsonString` (bytes >= 0x20 pass through).
fn json_escape(out: &mut Vec<u8>, s: &[u8]) {
    out.push(b'"');
    for &c in s {
        match c {
            b'\\' | b'"' => {
                out.push(b'\\');
                out.push(c);
            }
            b'\n' => out.extend_from_slice(b"\\n"),
            0x0c => out.extend_from_slice(b"\\f"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            0x08 => out.extend_from_slice(b"\\b"),
            0..=0x1f => out.extend_from_slice(format!("\\u{c:04x}").as_bytes()),
            _ => out.push(c),
        }
    }
    out.push(b'"');
}

/// A string in `--json` (escaped) or `--quoted-json` (the C repr, its backslashes doubled, so
/// binary data stays ASCII).
fn json_string(out: &mut Vec<u8>, s: &[u8], mode: Output) {
    if mode == Output::QuotedJson {
        let mut r = Vec::with_capacity(s.len() + 2);
        repr(&mut r, s);
        for c in r {
            if c == b'\\' {
                out.push(b'\\');
            }
            out.push(c);
        }
    } else {
        json_escape(out, s);
    }
}

/// The JSON printers (`cliFormatReplyJson`).
pub fn json(out: &mut Vec<u8>, v: &Value, mode: Output) -> Result<(), Unprintable> {
    match v {
        Value::Error(e) => {
            out.extend_from_slice(b"error:");
            json_string(out, e.as_bytes(), mode);
        }
        Value::Simple(s) => json_string(out, s.as_bytes(), mode),
        Value::Bulk(b) | Value::Verbatim(_, b) => json_string(out, b, mode),
        Value::Int(i) => out.extend_from_slice(i.to_string().as_bytes()),
        Value::Double(d) => out.extend_from_slice(d.as_bytes()),
        Value::Nil => out.extend_from_slice(b"null"),
        Value::Bool(b) => out.extend_from_slice(if *b { b"true" } else { b"false" }),
        Value::BigNumber(_) => return Err(Unprintable(REDIS_REPLY_BIGNUM)),
        Value::Array(items) | Value::Set(items) | Value::Push(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                json(out, item, mode)?;
            }
            out.push(b']');
        }
        Value::Map(pairs) => {
            out.push(b'{');
            for (i, (k, val)) in pairs.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                match k {
                    Value::Error(s) | Value::Simple(s) => json_string(out, s.as_bytes(), mode),
                    Value::Bulk(b) | Value::Verbatim(_, b) => json_string(out, b, mode),
                    // JSON keys must be strings: other types are printed, then quoted.
                    other => {
                        let mut key = Vec::new();
                        json(&mut key, other, mode)?;
                        if key.first() == Some(&b'"') {
                            out.extend_from_slice(&key);
                        } else {
                            out.push(b'"');
                            out.extend_from_slice(&key);
                            out.push(b'"');
                        }
                    }
                }
                out.push(b':');
                json(out, val, mode)?;
            }
            out.push(b'}');
        }
    }
    Ok(())
}

/// `cliFormatReply`: one reply as the current mode prints it, including its terminator.
/// `verbatim` is redis-cli's raw-string override for INFO, CLIENT LIST and the like.
pub fn format(
    v: &Value,
    mode: Output,
    verbatim: bool,
    mb_delim: &[u8],
    cmd_delim: &[u8],
) -> Result<Vec<u8>, Unprintable> {
    let mut out = Vec::new();
    if verbatim {
        raw(&mut out, v, mb_delim)?;
        return Ok(out);
    }
    match mode {
        Output::Standard => tty(&mut out, v, b"")?,
        Output::Raw => {
            raw(&mut out, v, mb_delim)?;
            out.extend_from_slice(cmd_delim);
        }
        Output::Csv => {
            csv(&mut out, v)?;
            out.push(b'\n');
        }
        Output::Json | Output::QuotedJson => {
            json(&mut out, v, mode)?;
            out.push(b'\n');
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    fn bulk(s: &str) -> Value {
        Value::Bulk(Bytes::copy_from_slice(s.as_bytes()))
    }

    #[test]
    fn tty_nests_with_aligned_indexes() {
        let items: Vec<Value> = (0..10).map(Value::Int).collect();
        let v = Value::Array(vec![
            Value::Array(vec![bulk("a"), Value::Nil]),
            Value::Array(items),
        ]);
        let mut out = Vec::new();
        tty(&mut out, &v, b"").expect("printable");
        let text = String::from_utf8(out).expect("ascii");
        assert!(text.starts_with("1) 1) \"a\"\n   2) (nil)\n2)  1) (integer) 0\n"));
        assert!(text.ends_with("   10) (integer) 9\n"));
    }

    #[test]
    fn repr_escapes_like_sdscatrepr() {
        let mut out = Vec::new();
        repr(&mut out, b"a\"\\\n\x07\x01\xc3");
        assert_eq!(out, b"\"a\\\"\\\\\\n\\a\\x01\\xc3\"");
    }
}
