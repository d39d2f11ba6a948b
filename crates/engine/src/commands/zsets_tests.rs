//! Replies and effects checked against redis-server 7.0.15.

use crate::testing::TestEngine;

#[test]
fn placeholder_zadd_basic() {
    let mut t = TestEngine::new();
    assert_eq!(t.text("ZADD z 1 a 2 b"), ":2|");
}
