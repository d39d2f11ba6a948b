//! The SCAN cursor over a slab (the keyspace, `hashtable` hashes, `skiplist` sorted sets).
//!
//! The cursor packs the slab length when the iteration began (high 32 bits) and the next slot
//! (low 32 bits). An element keeps its slot while it exists, so one present for the whole
//! iteration sits below that bound and is returned exactly once; slots appended later are not
//! visited, so an iteration ends even while writers outpace it (a plain slot cursor would
//! chase the growing end forever).

/// Visits slots from `cursor` until `count` (at least 1) of them produced an item or the
/// bound is reached; `take(slot)` says whether the slot held one. Returns the next cursor,
/// 0 when the iteration is complete.
pub fn scan_slots(
    cursor: u64,
    len: usize,
    count: usize,
    mut take: impl FnMut(usize) -> bool,
) -> u64 {
    let (bound, mut i) = if cursor == 0 {
        (len, 0)
    } else {
        ((cursor >> 32) as usize, (cursor & 0xffff_ffff) as usize)
    };
    let end = bound.min(len);
    let mut taken = 0;
    while i < end && taken < count.max(1) {
        if take(i) {
            taken += 1;
        }
        i += 1;
    }
    if i >= end {
        0
    } else {
        ((bound as u64) << 32) | i as u64
    }
}

#[cfg(test)]
mod tests {
    use super::scan_slots;

    #[test]
    fn slots_appended_during_the_scan_are_not_visited() {
        let mut seen = Vec::new();
        let mut cursor = scan_slots(0, 10, 4, |i| {
            seen.push(i);
            true
        });
        // The slab grows to 100 slots; the scan still ends at the first 10.
        while cursor != 0 {
            cursor = scan_slots(cursor, 100, 4, |i| {
                seen.push(i);
                true
            });
        }
        assert_eq!(seen, (0..10).collect::<Vec<_>>());
    }

    #[test]
    fn empty_slots_do_not_count() {
        let mut seen = Vec::new();
        let next = scan_slots(0, 10, 2, |i| {
            seen.push(i);
            i % 3 == 0
        });
        assert_eq!(seen, vec![0, 1, 2, 3]);
        assert_eq!(next, (10 << 32) | 4);
    }
}
