//! Tools over the exact bytes of replies: escaping for messages, the reply's *shape* (types
//! and aggregate lengths, for nondeterministic values such as TIME or CLIENT ID) and an
//! order-insensitive canonical form (for KEYS, SCAN, SMEMBERS, whose order depends on
//! hashing and legitimately differs between two servers, even two real Redis ones).

use redoubt_resp::parse_value;

/// Bytes as a double-quoted string, escaped as Redis's `sdscatrepr` does, so messages show
/// `"+OK\r\n"` and binary data stays readable.
pub fn escape(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() + 2);
    out.push('"');
    for &b in bytes {
        match b {
            b'\\' => out.push_str("\\\\"),
            b'"' => out.push_str("\\\""),
            b'\n' => out.push_str("\\n"),
            b'\r' => out.push_str("\\r"),
            b'\t' => out.push_str("\\t"),
            0x07 => out.push_str("\\a"),
            0x08 => out.push_str("\\b"),
            0x20..=0x7e => out.push(b as char),
            _ => out.push_str(&format!("\\x{b:02x}")),
        }
    }
    out.push('"');
    out
}

/// [`escape`], cut to about `max` bytes of input with the total length noted.
pub fn escape_trunc(bytes: &[u8], max: usize) -> String {
    if bytes.len() <= max {
        escape(bytes)
    } else {
        format!(
            "{}... ({} bytes in all)",
            escape(&bytes[..max]),
            bytes.len()
        )
    }
}

/// One reply split into its parts, borrowing the raw bytes.
#[derive(Debug)]
pub struct RawNode<'a> {
    /// The type byte: `+ - : $ * % ~ > _ , # ( = ! |`.
    pub kind: u8,
    /// The header line after the type byte, without CRLF (a length, or a simple value).
    pub head: &'a [u8],
    /// All the bytes of this reply.
    pub whole: &'a [u8],
    /// Elements of an aggregate; for a map, keys and values alternate; for an attribute,
    /// its pairs and then the reply it annotates.
    pub children: Vec<RawNode<'a>>,
}

impl RawNode<'_> {
    fn is_aggregate(&self) -> bool {
        matches!(self.kind, b'*' | b'~' | b'>' | b'%' | b'|')
    }

    fn is_negative(&self) -> bool {
        self.head.first() == Some(&b'-')
    }
}

/// Splits one complete reply (exactly `raw`, no trailing bytes) into a [`RawNode`] tree.
pub fn parse_raw(raw: &[u8]) -> Result<RawNode<'_>, String> {
    match parse_value(raw)? {
        Some((_, used)) if used == raw.len() => {}
        Some((_, used)) => return Err(format!("{} trailing bytes", raw.len() - used)),
        None => return Err("incomplete reply".into()),
    }
    let (node, used) = node_at(raw)?;
    debug_assert_eq!(used, raw.len());
    Ok(node)
}

fn node_at(buf: &[u8]) -> Result<(RawNode<'_>, usize), String> {
    let total = match parse_value(buf)? {
        Some((_, used)) => used,
        None => return Err("incomplete reply".into()),
    };
    let kind = buf[0];
    let eol = buf.windows(2).position(|w| w == b"\r\n").ok_or("no CRLF")?;
    let head = &buf[1..eol];
    let mut node = RawNode {
        kind,
        head,
        whole: &buf[..total],
        children: Vec::new(),
    };
    if node.is_aggregate() && !node.is_negative() {
        let n: usize = std::str::from_utf8(head)
            .ok()
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| format!("bad aggregate length {}", escape(head)))?;
        let count = match kind {
            b'%' => 2 * n,
            b'|' => 2 * n + 1,
            _ => n,
        };
        let mut pos = eol + 2;
        for _ in 0..count {
            let (child, used) = node_at(&buf[pos..total])?;
            node.children.push(child);
            pos += used;
        }
        debug_assert_eq!(pos, total);
    }
    Ok((node, total))
}

/// The shape of a reply: its RESP types and aggregate lengths, without scalar values.
/// `*2[$,:]` is an array of a bulk string and an integer; `$-1` a null bulk; `%7[...]` a map
/// of 7 pairs.
pub fn shape(raw: &[u8]) -> Result<String, String> {
    let node = parse_raw(raw)?;
    let mut out = String::new();
    shape_into(&node, &mut out);
    Ok(out)
}

fn shape_into(node: &RawNode<'_>, out: &mut String) {
    out.push(node.kind as char);
    let negative = node.is_negative();
    if node.is_aggregate() {
        out.push_str(&String::from_utf8_lossy(node.head));
        if !negative {
            out.push('[');
            for (i, c) in node.children.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                shape_into(c, out);
            }
            out.push(']');
        }
    } else if matches!(node.kind, b'$' | b'=' | b'!') && negative {
        out.push_str("-1");
    }
}

/// A canonical form that ignores element order: the elements of every array and set are
/// sorted (by their own canonical bytes), map pairs too; push messages keep their order
/// since their first element says what they are. Two replies with the same elements in
/// another order have the same canonical form, which is still a valid RESP reply.
pub fn canonical_sorted(raw: &[u8]) -> Result<Vec<u8>, String> {
    let node = parse_raw(raw)?;
    Ok(canon(&node))
}

fn canon(node: &RawNode<'_>) -> Vec<u8> {
    if !node.is_aggregate() || node.is_negative() {
        return node.whole.to_vec();
    }
    let mut out = Vec::with_capacity(node.whole.len());
    out.push(node.kind);
    out.extend_from_slice(node.head);
    out.extend_from_slice(b"\r\n");
    let kids: Vec<Vec<u8>> = node.children.iter().map(canon).collect();
    match node.kind {
        b'*' | b'~' => {
            let mut kids = kids;
            kids.sort();
            kids.iter().for_each(|k| out.extend_from_slice(k));
        }
        b'%' => {
            let mut pairs: Vec<Vec<u8>> = kids.chunks(2).map(|p| p.concat()).collect();
            pairs.sort();
            pairs.iter().for_each(|p| out.extend_from_slice(p));
        }
        _ => kids.iter().for_each(|k| out.extend_from_slice(k)),
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_like_sdscatrepr() {
        assert_eq!(escape(b"+OK\r\n"), r#""+OK\r\n""#);
        assert_eq!(escape(b"a\"b\\\x00\xff"), r#""a\"b\\\x00\xff""#);
        assert_eq!(escape_trunc(b"abcdef", 3), r#""abc"... (6 bytes in all)"#);
    }

    #[test]
    fn shapes() {
        assert_eq!(shape(b"*2\r\n$1\r\na\r\n:5\r\n").expect("valid"), "*2[$,:]");
        assert_eq!(shape(b"$-1\r\n").expect("valid"), "$-1");
        assert_eq!(shape(b"*-1\r\n").expect("valid"), "*-1");
        assert_eq!(shape(b"_\r\n").expect("valid"), "_");
        assert_eq!(shape(b"%1\r\n+a\r\n*0\r\n").expect("valid"), "%1[+,*0[]]");
        assert_eq!(shape(b"-ERR x\r\n").expect("valid"), "-");
        assert!(shape(b"*2\r\n:1\r\n").is_err());
        assert!(shape(b":1\r\n:2\r\n").is_err());
    }

    #[test]
    fn canonical_ignores_order_only() {
        let a = canonical_sorted(b"*2\r\n$1\r\n0\r\n*3\r\n$1\r\nb\r\n$1\r\na\r\n$1\r\nc\r\n");
        let b = canonical_sorted(b"*2\r\n$1\r\n0\r\n*3\r\n$1\r\nc\r\n$1\r\nb\r\n$1\r\na\r\n");
        assert_eq!(a, b);
        let c = canonical_sorted(b"*2\r\n$1\r\n0\r\n*3\r\n$1\r\nc\r\n$1\r\nb\r\n+a\r\n");
        assert_ne!(a, c);
        let m1 = canonical_sorted(b"%2\r\n+a\r\n:1\r\n+b\r\n:2\r\n");
        let m2 = canonical_sorted(b"%2\r\n+b\r\n:2\r\n+a\r\n:1\r\n");
        let m3 = canonical_sorted(b"%2\r\n+b\r\n:1\r\n+a\r\n:2\r\n");
        assert_eq!(m1, m2);
        assert_ne!(m1, m3);
        let canon = a.expect("valid");
        assert_eq!(
            parse_value(&canon).expect("valid").map(|(_, n)| n),
            Some(canon.len())
        );
    }
}
