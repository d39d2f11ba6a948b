//! `Db::insert_loaded` (the RDB loader's one-probe insert) behaves as the find + insert_new +
//! set_expire it replaced: a duplicate changes nothing, the TTL is indexed as set_expire would
//! (PERSIST and removal find it), keys without a TTL stay out of the expires index.

use redoubt_keyspace::db::Db;
use redoubt_keyspace::value::{StrVal, Value};

fn v(s: &str) -> Value {
    Value::Str(StrVal::encode(s.as_bytes()))
}

#[test]
fn insert_loaded_is_find_insert_and_set_expire() {
    let mut d = Db::new();
    let a = d.insert_loaded(b"a", v("1"), Some(5_000)).expect("new key");
    assert!(d.insert_loaded(b"b", v("2"), None).is_some());
    assert!(d.insert_loaded(b"c", v("3"), Some(7_000)).is_some());
    // A duplicate: refused, the first value and TTL kept.
    assert_eq!(d.insert_loaded(b"a", v("other"), None), None);
    assert_eq!(d.len(), 3);
    assert_eq!(d.expires_len(), 2);
    assert_eq!(d.find(b"a"), Some(a));
    assert_eq!(d.get_raw(b"a").map(|e| e.expire_at_ms), Some(5_000));
    assert!(matches!(d.get_raw(b"a").map(|e| &e.value), Some(Value::Str(s)) if s.to_vec() == b"1"));
    assert!(!d.persist(b"b"));
    assert!(d.persist(b"a"));
    assert_eq!(d.expires_len(), 1);
    assert!(d.remove(b"c").is_some());
    assert_eq!(d.expires_len(), 0);
    assert_eq!(d.len(), 2);
}
