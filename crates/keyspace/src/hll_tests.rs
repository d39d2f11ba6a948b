//! Codec tests. Expected bytes and counts come from a real redis-server 7.0.15
//! (`PFADD`, then `GET`/`STRLEN`/`PFDEBUG ENCODING`/`PFCOUNT` over redis-cli).

use super::*;

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Adds `e0..e{n-1}` as Redis got them: one PFADD per 1000 elements, default
/// `hll-sparse-max-bytes` 3000.
fn build(n: usize) -> Vec<u8> {
    let mut h = new_sparse();
    let mut changed = false;
    for i in 0..n {
        changed |= add(&mut h, format!("e{i}").as_bytes(), 3000).expect("valid");
        if (i + 1) % 1000 == 0 || i + 1 == n {
            if changed {
                invalidate_cache(&mut h);
            }
            changed = false;
        }
    }
    h
}

#[test]
fn empty_hll_is_one_xzero_with_a_valid_zero_cache() {
    let h = new_sparse();
    assert_eq!(
        hex(&h),
        "48594c4c010000000000000000000000".to_string() + "7fff"
    );
    assert!(is_valid(&h));
    assert_eq!(cached_card(&h), Some(0));
    assert_eq!(count(&h), Ok(0));
    assert_eq!(decode_sparse(&h), "Z:16384");
}

#[test]
fn three_elements_match_redis_bytes() {
    let mut h = new_sparse();
    for e in ["a", "b", "c"] {
        assert_eq!(add(&mut h, e.as_bytes(), 3000), Ok(true));
    }
    // Redis: PFADD h a b c; GET h
    assert_eq!(
        hex(&h),
        "48594c4c01000000000000000000008060f38050b1844bfb80425a"
    );
    assert_eq!(
        decode_sparse(&h),
        "Z:8436 v:1,1 Z:4274 v:2,1 Z:3068 v:1,1 Z:603"
    );
    assert_eq!(cached_card(&h), None);
    assert_eq!(count(&h), Ok(3));
    set_cached_card(&mut h, 3);
    assert_eq!(hex(&h[8..16]), "0300000000000000");
    assert_eq!(add(&mut h, b"a", 3000), Ok(false));
}

#[test]
fn counts_sizes_and_promotion_match_redis() {
    // (elements, STRLEN, encoding, PFCOUNT) from redis-server 7.0.15.
    let cases = [
        (1, 21, SPARSE, 1),
        (10, 48, SPARSE, 10),
        (100, 285, SPARSE, 100),
        (1000, 1906, SPARSE, 1008),
        (2000, DENSE_SIZE, DENSE, 2000),
        (5000, DENSE_SIZE, DENSE, 4968),
        (20000, DENSE_SIZE, DENSE, 19901),
        (100000, DENSE_SIZE, DENSE, 100853),
    ];
    for (n, len, enc, card) in cases {
        let h = build(n);
        assert_eq!(
            (h.len(), encoding(&h), count(&h)),
            (len, enc, Ok(card)),
            "n={n}"
        );
    }
}

#[test]
fn sparse_and_dense_agree_and_merge_is_the_union() {
    let a = build(700);
    let mut dense = a.clone();
    sparse_to_dense(&mut dense).expect("valid");
    assert_eq!(dense.len(), DENSE_SIZE);
    assert_eq!(count(&a), count(&dense));
    let mut max = vec![0u8; REGISTERS];
    merge(&mut max, &a).expect("valid");
    assert_eq!(max, dense_registers(&dense));
    assert_eq!(Ok(count_registers(&max)), count(&a));
    // The header is kept, encoding aside.
    assert_eq!(dense[..4], a[..4]);
    assert_eq!(dense[5..16], a[5..16]);
}

#[test]
fn big_register_values_promote() {
    let mut h = new_sparse();
    sparse_set(&mut h, 5, 33, 3000).expect("valid");
    assert_eq!(encoding(&h), DENSE);
    assert_eq!(dense_get(&h, 5), 33);
    // The last register sits across the end of the string (Redis reads the terminator).
    dense_put(&mut h, REGISTERS - 1, 63);
    assert_eq!(dense_get(&h, REGISTERS - 1), 63);
    assert_eq!(h.len(), DENSE_SIZE);
}

#[test]
fn sparse_max_bytes_promotes_when_a_split_would_grow_past_it() {
    let mut h = new_sparse();
    // 18 bytes now; splitting the XZERO in the middle needs 3 more.
    assert_eq!(sparse_set(&mut h, 100, 1, 20), Ok(true));
    assert_eq!(encoding(&h), DENSE);
    let mut h = new_sparse();
    assert_eq!(sparse_set(&mut h, 100, 1, 21), Ok(true));
    assert_eq!(encoding(&h), SPARSE);
    assert_eq!(decode_sparse(&h), "Z:100 v:1,1 Z:16283");
}

#[test]
fn adjacent_equal_values_merge() {
    let mut h = new_sparse();
    for i in [10, 11, 12, 13, 14] {
        sparse_set(&mut h, i, 3, 3000).expect("valid");
    }
    assert_eq!(decode_sparse(&h), "z:10 v:3,4 v:3,1 Z:16369");
    sparse_set(&mut h, 12, 5, 3000).expect("valid");
    assert_eq!(decode_sparse(&h), "z:10 v:3,2 v:5,1 v:3,2 Z:16369");
}

#[test]
fn corrupt_sparse_is_detected() {
    let mut h = new_sparse();
    h[17] = 0xfe; // XZERO of 16383: one register short.
    assert_eq!(count(&h), Err(Corrupt));
    assert_eq!(sparse_to_dense(&mut h.clone()), Err(Corrupt));
    let mut max = vec![0u8; REGISTERS];
    assert_eq!(merge(&mut max, &h), Err(Corrupt));
    assert_eq!(sparse_set(&mut h, 16383, 1, 3000), Err(Corrupt));
    // A truncated XZERO reads its second byte as 0.
    let mut t = new_sparse();
    t.pop();
    assert_eq!(decode_sparse(&t), "Z:16129");
    assert!(!is_valid(b"HYLL\x00"));
    let mut d = vec![0u8; DENSE_SIZE - 1];
    d[..4].copy_from_slice(b"HYLL");
    assert!(!is_valid(&d));
    d.push(0);
    assert!(is_valid(&d));
    d[4] = 2;
    assert!(!is_valid(&d));
}

#[test]
fn murmur_and_selftest() {
    assert_eq!(pat_len(b"a"), (12711, 2));
    assert_eq!(selftest(|| 0x1234_5678_9abc_def0, 3000, 10_000), Ok(()));
}

mod props {
    use super::super::*;
    use proptest::prelude::*;

    fn registers(h: &[u8]) -> Vec<u8> {
        let mut max = vec![0u8; REGISTERS];
        merge(&mut max, h).expect("valid HLL");
        max
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

        /// Whatever the order, the size limit and the promotions, the HLL holds exactly the
        /// register-wise maximum of what was set (a plain array is the model), its sparse
        /// form stays a valid cover of every register, and both forms count the same.
        #[test]
        fn sparse_set_matches_a_register_array(
            sets in proptest::collection::vec((0usize..REGISTERS, 1u8..40), 1..300),
            clustered in any::<bool>(),
            max_bytes in prop_oneof![Just(3000u64), 20u64..400],
        ) {
            let mut h = new_sparse();
            let mut model = vec![0u8; REGISTERS];
            for (i, c) in sets {
                // Clustered indexes exercise VAL splits and merges of neighbours.
                let i = if clustered { i % 64 } else { i };
                let changed = if h[4] == SPARSE {
                    sparse_set(&mut h, i, c, max_bytes).expect("valid")
                } else {
                    dense_set(&mut h, i, c)
                };
                prop_assert_eq!(changed, c > model[i]);
                model[i] = model[i].max(c);
                if h[4] == SPARSE {
                    prop_assert!(h.len() as u64 <= max_bytes.max(18));
                }
            }
            prop_assert_eq!(&registers(&h), &model);
            let mut dense = h.clone();
            sparse_to_dense(&mut dense).expect("valid");
            prop_assert_eq!(dense_registers(&dense), model.clone());
            prop_assert_eq!(count(&h), count(&dense));
            prop_assert_eq!(count(&h).expect("valid"), count_registers(&model));
        }

        /// Arbitrary bytes after a header never panic any operation.
        #[test]
        fn corrupt_bodies_never_panic(
            body in proptest::collection::vec(any::<u8>(), 0..40),
            enc in 0u8..2,
            ele in any::<u32>(),
        ) {
            let mut h = new_sparse();
            h.truncate(HDR_SIZE);
            h[4] = enc;
            h.extend_from_slice(&body);
            if enc == DENSE {
                h.resize(DENSE_SIZE, 0xff);
            }
            let _ = count(&h);
            let _ = decode_sparse(&h);
            let mut max = vec![0u8; REGISTERS];
            let _ = merge(&mut max, &h);
            let _ = add(&mut h.clone(), &ele.to_le_bytes(), 3000);
            let _ = add(&mut h.clone(), &ele.to_le_bytes(), 0);
            set_register(&mut h.clone(), ele as usize % REGISTERS, (ele % 63) as u8 + 1, 30);
            let _ = sparse_to_dense(&mut h);
        }
    }
}
