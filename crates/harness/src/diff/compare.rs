//! Turning a raw reply into the bytes that get compared, per [`Compare`] mode and mask.

use crate::diff::script::Compare;
use crate::reply::{parse_raw, shape, RawNode};

/// What a masked value becomes (its RESP type byte is kept in front).
const MASKED: &[u8] = b"<masked>\r\n";

/// The bytes compared for one reply. `Exact` without a mask is the reply itself.
///
/// The mask names fields whose values legitimately differ between servers (`id`,
/// `version`...): in a RESP3 map, the value of a masked key; in an array, the element after a
/// masked key at an even position (RESP2's flattened maps, as HELLO 2 sends); in a bulk string
/// of `key=value` words (CLIENT INFO, CLIENT LIST), the masked words' values.
pub fn render(raw: &[u8], compare: Compare, mask: &[Vec<u8>]) -> Vec<u8> {
    if compare == Compare::Exact && mask.is_empty() {
        return raw.to_vec();
    }
    let Ok(node) = parse_raw(raw) else {
        // Readers only return complete replies; keep the bytes if one is odd anyway.
        return raw.to_vec();
    };
    match compare {
        Compare::Shape => shape(raw)
            .map(String::into_bytes)
            .unwrap_or_else(|_| raw.to_vec()),
        Compare::Exact => transform(&node, false, mask),
        Compare::Sorted => transform(&node, true, mask),
    }
}

fn transform(node: &RawNode<'_>, sorted: bool, mask: &[Vec<u8>]) -> Vec<u8> {
    let aggregate = matches!(node.kind, b'*' | b'~' | b'>' | b'%' | b'|');
    if !aggregate || node.head.first() == Some(&b'-') {
        if !mask.is_empty() && matches!(node.kind, b'$' | b'=') && node.head.first() != Some(&b'-')
        {
            let content = bulk_content(node);
            // A verbatim string starts with its format, `txt:`.
            let skip = if node.kind == b'=' {
                content.len().min(4)
            } else {
                0
            };
            let mut masked = content[..skip].to_vec();
            masked.extend(mask_words(&content[skip..], mask));
            let mut out = format!("{}{}\r\n", node.kind as char, masked.len()).into_bytes();
            out.extend_from_slice(&masked);
            out.extend_from_slice(b"\r\n");
            return out;
        }
        return node.whole.to_vec();
    }
    let is_key = |n: &RawNode<'_>| -> bool {
        let text = match n.kind {
            b'$' => bulk_content(n),
            b'+' => n.head,
            _ => return false,
        };
        mask.iter().any(|m| m.as_slice() == text)
    };
    let masked = |n: &RawNode<'_>| -> Vec<u8> {
        let mut v = vec![n.kind];
        v.extend_from_slice(MASKED);
        v
    };
    let mut kids: Vec<Vec<u8>> = Vec::with_capacity(node.children.len());
    for (i, child) in node.children.iter().enumerate() {
        let after_masked_key =
            i % 2 == 1 && matches!(node.kind, b'%' | b'*') && is_key(&node.children[i - 1]);
        kids.push(if after_masked_key {
            masked(child)
        } else {
            transform(child, sorted, mask)
        });
    }
    let mut out = vec![node.kind];
    out.extend_from_slice(node.head);
    out.extend_from_slice(b"\r\n");
    match node.kind {
        b'*' | b'~' if sorted => {
            kids.sort();
            kids.iter().for_each(|k| out.extend_from_slice(k));
        }
        b'%' if sorted => {
            let mut pairs: Vec<Vec<u8>> = kids.chunks(2).map(|p| p.concat()).collect();
            pairs.sort();
            pairs.iter().for_each(|p| out.extend_from_slice(p));
        }
        _ => kids.iter().for_each(|k| out.extend_from_slice(k)),
    }
    out
}

/// The payload of a `$` or `=` reply.
fn bulk_content<'a>(node: &RawNode<'a>) -> &'a [u8] {
    let start = 1 + node.head.len() + 2;
    &node.whole[start..node.whole.len() - 2]
}

/// Replaces the value of each `key=value` word whose key is masked; words are separated by
/// spaces and newlines, which are kept.
fn mask_words(text: &[u8], mask: &[Vec<u8>]) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len());
    let push_word = |out: &mut Vec<u8>, word: &[u8]| match word.iter().position(|&b| b == b'=') {
        Some(eq) if mask.iter().any(|m| m.as_slice() == &word[..eq]) => {
            out.extend_from_slice(&word[..=eq]);
            out.extend_from_slice(b"<masked>");
        }
        _ => out.extend_from_slice(word),
    };
    let mut start = 0;
    for (i, &b) in text.iter().enumerate() {
        if b == b' ' || b == b'\n' {
            push_word(&mut out, &text[start..i]);
            out.push(b);
            start = i + 1;
        }
    }
    push_word(&mut out, &text[start..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(names: &[&str]) -> Vec<Vec<u8>> {
        names.iter().map(|n| n.as_bytes().to_vec()).collect()
    }

    #[test]
    fn masks_resp3_maps_and_resp2_pairs() {
        let a = b"%2\r\n$2\r\nid\r\n:5\r\n$5\r\nproto\r\n:3\r\n";
        let b = b"%2\r\n$2\r\nid\r\n:9\r\n$5\r\nproto\r\n:3\r\n";
        let c = b"%2\r\n$2\r\nid\r\n:9\r\n$5\r\nproto\r\n:2\r\n";
        let mask = m(&["id"]);
        assert_eq!(
            render(a, Compare::Exact, &mask),
            render(b, Compare::Exact, &mask)
        );
        assert_ne!(
            render(a, Compare::Exact, &mask),
            render(c, Compare::Exact, &mask)
        );
        let a2 = b"*4\r\n$2\r\nid\r\n:5\r\n$5\r\nproto\r\n:2\r\n";
        let b2 = b"*4\r\n$2\r\nid\r\n:7\r\n$5\r\nproto\r\n:2\r\n";
        assert_eq!(
            render(a2, Compare::Exact, &mask),
            render(b2, Compare::Exact, &mask)
        );
        // A masked value keeps its type.
        let b3 = b"*4\r\n$2\r\nid\r\n$1\r\n7\r\n$5\r\nproto\r\n:2\r\n";
        assert_ne!(
            render(a2, Compare::Exact, &mask),
            render(b3, Compare::Exact, &mask)
        );
    }

    #[test]
    fn masks_key_value_words() {
        let mask = m(&["id", "addr"]);
        let a = b"$32\r\nid=3 addr=1.2.3.4:5 name=x db=0\n\r\n";
        let out = render(a, Compare::Exact, &mask);
        assert_eq!(out, b"$38\r\nid=<masked> addr=<masked> name=x db=0\n\r\n");
        let v = b"=36\r\ntxt:id=3 addr=1.2.3.4:5 name=x db=0\n\r\n";
        let out = render(v, Compare::Exact, &mask);
        assert_eq!(
            out,
            b"=42\r\ntxt:id=<masked> addr=<masked> name=x db=0\n\r\n"
        );
    }

    #[test]
    fn sorted_and_shape() {
        let a = b"*2\r\n$1\r\na\r\n$1\r\nb\r\n";
        let b = b"*2\r\n$1\r\nb\r\n$1\r\na\r\n";
        assert_eq!(
            render(a, Compare::Sorted, &[]),
            render(b, Compare::Sorted, &[])
        );
        assert_ne!(
            render(a, Compare::Exact, &[]),
            render(b, Compare::Exact, &[])
        );
        assert_eq!(render(a, Compare::Shape, &[]), b"*2[$,$]");
    }
}
