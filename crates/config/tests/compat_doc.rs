//! docs/COMPATIBILITY.md stays true: every directive not built yet is listed in its
//! "Directives accepted but not acted on" section, and no built one is.

use redoubt_config::{Support, DIRECTIVES};

fn section(doc: &str, heading: &str) -> String {
    let start = doc
        .find(heading)
        .unwrap_or_else(|| panic!("COMPATIBILITY.md lacks {heading:?}"));
    let rest = &doc[start + heading.len()..];
    let end = rest.find("\n## ").unwrap_or(rest.len());
    rest[..end].to_string()
}

#[test]
fn compatibility_doc_lists_exactly_the_directives_not_built() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/COMPATIBILITY.md");
    let doc = std::fs::read_to_string(path).expect("docs/COMPATIBILITY.md");
    let listed = section(&doc, "## Directives accepted but not acted on yet");
    let words: std::collections::HashSet<&str> = listed
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '-' || c == '_'))
        .collect();
    let mut missing = vec![];
    let mut wrongly_listed = vec![];
    for d in DIRECTIVES {
        let in_doc = words.contains(d.name);
        match d.support {
            Support::Yes if in_doc => wrongly_listed.push(d.name),
            Support::NotYet | Support::Never if !in_doc => missing.push(d.name),
            _ => {}
        }
    }
    assert!(
        missing.is_empty(),
        "not built but missing from the doc: {missing:?}"
    );
    assert!(
        wrongly_listed.is_empty(),
        "built but listed as not built: {wrongly_listed:?}"
    );
}
