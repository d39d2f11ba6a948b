//! Replies and effects checked against a real redis-server 7.0.15.

use crate::testing::TestEngine;

#[test]
fn placeholder() {
    let mut t = TestEngine::new();
    assert_eq!(t.text("SETBIT k 1 1"), ":0|");
}
