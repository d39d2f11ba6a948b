//! Lazy freeing: which deletions hand their value to the free thread (Redis 7.0's
//! lazyfree.c rules, effort > 64 allocations) and how INFO counts it. The engine gets a test
//! sink whose receiver the test holds, so "freed in the background" is observed directly:
//! a value that arrives on the receiver was not freed inline.

use crate::lazyfree::{free_effort, Garbage, Job, LazyFree, LAZYFREE_THRESHOLD};
use crate::testing::TestEngine;
use bytes::Bytes;
use std::sync::mpsc::Receiver;

fn with_sink() -> (TestEngine, Receiver<Job>) {
    let mut t = TestEngine::new();
    let (tx, rx) = LazyFree::channel();
    t.eng.lazyfree = LazyFree::with_sink(tx);
    (t, rx)
}

/// Adds `member:0` .. `member:{n-1}` (with `pairs`, each preceded by its index as a score
/// or field) with one command per 10 members. One command each: Redis 7.0's HSET converts
/// a hash to a hashtable only when it grows past the limit across commands.
fn fill(t: &mut TestEngine, cmd: &str, key: &str, n: usize, pairs: bool) {
    for chunk in (0..n).collect::<Vec<_>>().chunks(10) {
        let mut args = vec![Bytes::from(cmd.to_string()), Bytes::from(key.to_string())];
        for i in chunk {
            if pairs {
                args.push(Bytes::from(i.to_string()));
            }
            args.push(Bytes::from(format!("member:{i}")));
        }
        t.run_args(args);
    }
}

fn info_field(t: &mut TestEngine, name: &str) -> String {
    let info = t.text("INFO memory");
    let prefix = format!("{name}:");
    info.split('|')
        .find_map(|l| l.strip_prefix(&prefix).map(str::to_string))
        .unwrap_or_else(|| panic!("INFO has no {name}"))
}

fn must_value_job(rx: &Receiver<Job>, type_name: &str) -> Job {
    let job = rx
        .try_recv()
        .expect("the value was handed to the free thread");
    match &job.garbage {
        Garbage::Value(v) => assert_eq!(v.type_name(), type_name),
        other => panic!("expected a value, got {other:?}"),
    }
    assert_eq!(job.objects, 1);
    job
}

#[test]
fn unlink_of_a_big_list_goes_to_the_free_thread_and_counts_as_redis() {
    let (mut t, rx) = with_sink();
    // One element per quicklist node: 100 nodes, effort 100.
    t.run("CONFIG SET list-max-listpack-size 1");
    fill(&mut t, "RPUSH", "l", 100, false);
    t.stream();
    assert_eq!(t.text("UNLINK l nosuch"), ":1|");
    assert_eq!(t.stream_cmds(), "UNLINK l nosuch");
    let job = must_value_job(&rx, "list");
    assert_eq!(info_field(&mut t, "lazyfree_pending_objects"), "1");
    assert_eq!(info_field(&mut t, "lazyfreed_objects"), "0");
    job.free();
    assert_eq!(info_field(&mut t, "lazyfree_pending_objects"), "0");
    assert_eq!(info_field(&mut t, "lazyfreed_objects"), "1");
    assert_eq!(t.text("EXISTS l"), ":0|");
    // CONFIG RESETSTAT clears lazyfreed_objects (Redis's lazyfreeResetStats).
    t.run("CONFIG RESETSTAT");
    assert_eq!(info_field(&mut t, "lazyfreed_objects"), "0");
}

#[test]
fn the_threshold_is_more_than_64_allocations() {
    let (mut t, rx) = with_sink();
    // Sets of strings are hashtables in 7.0: effort = members.
    fill(&mut t, "SADD", "s64", LAZYFREE_THRESHOLD, false);
    fill(&mut t, "SADD", "s65", LAZYFREE_THRESHOLD + 1, false);
    assert_eq!(t.text("UNLINK s64"), ":1|");
    assert!(rx.try_recv().is_err(), "effort 64 is freed inline");
    assert_eq!(t.text("UNLINK s65"), ":1|");
    must_value_job(&rx, "set").free();
    // Compact encodings and strings cost one allocation whatever their size.
    fill(&mut t, "HSET", "lp", 100, true);
    assert_eq!(t.text("OBJECT ENCODING lp"), "$8|listpack|");
    t.run_args(vec![
        "SET".into(),
        "str".into(),
        Bytes::from(vec![b'x'; 1 << 20]),
    ]);
    assert_eq!(t.text("UNLINK lp str"), ":2|");
    assert!(rx.try_recv().is_err(), "compact values are freed inline");
    assert_eq!(info_field(&mut t, "lazyfreed_objects"), "1");
}

#[test]
fn effort_per_encoding_follows_lazyfree_get_free_effort() {
    let mut t = TestEngine::new();
    // Past hash-max-listpack-entries (512) and zset-max-listpack-entries (128).
    fill(&mut t, "HSET", "h", 600, true);
    fill(&mut t, "ZADD", "z", 200, true);
    fill(&mut t, "ZADD", "zs", 10, true);
    t.run("SADD si 1 2 3");
    t.run("RPUSH l a b c");
    let effort = |t: &TestEngine, k: &[u8]| free_effort(&t.eng.dbs[0].get_raw(k).unwrap().value);
    assert_eq!(effort(&t, b"h"), 600, "hashtable: one per field");
    assert_eq!(effort(&t, b"z"), 200, "skiplist: one per member");
    assert_eq!(effort(&t, b"zs"), 1, "listpack");
    assert_eq!(effort(&t, b"si"), 1, "intset");
    assert_eq!(effort(&t, b"l"), 1, "quicklist: one per node");
}

#[test]
fn del_is_lazy_only_with_lazyfree_lazy_user_del() {
    let (mut t, rx) = with_sink();
    fill(&mut t, "ZADD", "a", 200, true);
    fill(&mut t, "ZADD", "b", 200, true);
    assert_eq!(t.text("DEL a"), ":1|");
    assert!(rx.try_recv().is_err(), "DEL frees inline by default");
    t.run("CONFIG SET lazyfree-lazy-user-del yes");
    t.stream();
    assert_eq!(t.text("DEL b"), ":1|");
    // Propagated as written, as Redis 7.0 does.
    assert_eq!(t.stream_cmds(), "DEL b");
    must_value_job(&rx, "zset").free();
}

#[test]
fn flushall_async_hands_every_database_over_whole() {
    let (mut t, rx) = with_sink();
    fill(&mut t, "HSET", "h", 20, true);
    t.run("SET s v EX 100");
    t.run("SELECT 3");
    t.run("SET x 1");
    t.stream();
    assert_eq!(t.text("FLUSHALL ASYNC"), "+OK|");
    assert_eq!(t.stream_cmds(), "FLUSHALL ASYNC");
    let jobs: Vec<Job> = rx.try_iter().collect();
    // Redis's emptyDbAsync runs for every database, counting its keys.
    assert_eq!(jobs.len(), 16);
    let keys: Vec<usize> = jobs
        .iter()
        .map(|j| match &j.garbage {
            Garbage::Db(db) => db.len(),
            other => panic!("expected a database, got {other:?}"),
        })
        .collect();
    assert_eq!(keys[0], 2);
    assert_eq!(keys[3], 1);
    assert_eq!(keys.iter().sum::<usize>(), 3);
    if let Garbage::Db(db) = &jobs[0].garbage {
        assert_eq!(
            db.expires_len(),
            1,
            "the expiry index travels with its database"
        );
    }
    assert_eq!(t.text("DBSIZE"), ":0|");
    assert_eq!(info_field(&mut t, "lazyfree_pending_objects"), "3");
    jobs.into_iter().for_each(Job::free);
    assert_eq!(info_field(&mut t, "lazyfree_pending_objects"), "0");
    assert_eq!(info_field(&mut t, "lazyfreed_objects"), "3");
    // The emptied databases work as before.
    t.run("SET again 1");
    assert_eq!(t.text("GET again"), "$1|1|");
}

#[test]
fn flush_mode_follows_lazyfree_lazy_user_flush_and_sync_overrides_it() {
    let (mut t, rx) = with_sink();
    t.run("SET k v");
    assert_eq!(t.text("FLUSHDB"), "+OK|");
    assert!(rx.try_recv().is_err(), "FLUSHDB frees inline by default");
    t.run("CONFIG SET lazyfree-lazy-user-flush yes");
    t.run("SET k v");
    assert_eq!(t.text("FLUSHDB"), "+OK|");
    let job = rx
        .try_recv()
        .expect("FLUSHDB with lazyfree-lazy-user-flush is async");
    assert_eq!(job.objects, 1);
    job.free();
    t.run("SET k v");
    assert_eq!(t.text("FLUSHALL SYNC"), "+OK|");
    assert!(rx.try_recv().is_err(), "SYNC overrides the directive");
    assert_eq!(t.text("FLUSHALL"), "+OK|");
    assert_eq!(rx.try_iter().count(), 16);
}

#[test]
fn implicit_deletes_follow_lazyfree_lazy_server_del() {
    let (mut t, rx) = with_sink();
    fill(&mut t, "SADD", "src", 100, false);
    fill(&mut t, "SADD", "dst", 100, false);
    // Off (the default): overwriting a big value frees it inline.
    t.run("SUNIONSTORE dst src");
    assert!(rx.try_recv().is_err());
    t.run("CONFIG SET lazyfree-lazy-server-del yes");
    assert_eq!(t.text("SET dst v"), "+OK|");
    must_value_job(&rx, "set").free();
    fill(&mut t, "ZADD", "z", 200, true);
    assert_eq!(t.text("ZUNIONSTORE z 1 src"), ":100|");
    must_value_job(&rx, "zset").free();
    fill(&mut t, "HSET", "h", 600, true);
    assert_eq!(t.text("RENAME src h"), "+OK|");
    must_value_job(&rx, "hash").free();
    fill(&mut t, "HSET", "h2", 600, true);
    assert_eq!(t.text("COPY h h2 REPLACE"), ":1|");
    must_value_job(&rx, "hash").free();
    // An empty STORE result deletes the destination (dbDelete).
    assert_eq!(t.text("SINTERSTORE h2 nosuch"), ":0|");
    must_value_job(&rx, "set").free();
    // SORT ... STORE replacing a big value, and an empty SORT result deleting one.
    fill(&mut t, "SADD", "s", 100, false);
    fill(&mut t, "SADD", "d", 100, false);
    assert_eq!(t.text("SORT s ALPHA STORE d"), ":100|");
    must_value_job(&rx, "set").free();
    fill(&mut t, "SADD", "d2", 100, false);
    assert_eq!(t.text("SORT nosuch STORE d2"), ":0|");
    must_value_job(&rx, "set").free();
    assert_eq!(info_field(&mut t, "lazyfreed_objects"), "7");
}

#[test]
fn expiry_is_lazy_with_lazyfree_lazy_expire() {
    let (mut t, rx) = with_sink();
    t.run("CONFIG SET lazyfree-lazy-expire yes");
    fill(&mut t, "ZADD", "z", 200, true);
    t.run("PEXPIRE z 10");
    t.stream();
    t.now_ms += 20;
    assert_eq!(t.text("EXISTS z"), ":0|");
    assert_eq!(t.stream_cmds(), "UNLINK z");
    must_value_job(&rx, "zset").free();
    // A TTL already in the past deletes at once (`checkAlreadyExpired`), lazily too.
    fill(&mut t, "ZADD", "z2", 200, true);
    t.stream();
    assert_eq!(t.text("PEXPIREAT z2 1"), ":1|");
    assert_eq!(t.stream_cmds(), "UNLINK z2");
    must_value_job(&rx, "zset").free();
}

#[test]
fn without_a_free_thread_everything_is_freed_inline() {
    let mut t = TestEngine::new();
    fill(&mut t, "SADD", "s", 1000, false);
    assert_eq!(t.text("UNLINK s"), ":1|");
    t.run("SET k v");
    assert_eq!(t.text("FLUSHALL ASYNC"), "+OK|");
    assert_eq!(info_field(&mut t, "lazyfree_pending_objects"), "0");
    assert_eq!(info_field(&mut t, "lazyfreed_objects"), "0");
}

#[test]
fn the_free_thread_frees_and_counts() {
    let mut t = TestEngine::new();
    t.eng.lazyfree = LazyFree::start_thread().expect("thread starts");
    fill(&mut t, "SADD", "s", 1000, false);
    assert_eq!(t.text("UNLINK s"), ":1|");
    t.run("SET a 1");
    t.run("SET b 2");
    assert_eq!(t.text("FLUSHALL ASYNC"), "+OK|");
    // Bounded wait: the thread has three objects to free.
    let mut spins = 0;
    while t.eng.lazyfree.freed() < 3 {
        spins += 1;
        assert!(spins < 10_000, "the free thread did not finish");
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
    assert_eq!(t.eng.lazyfree.pending(), 0);
    assert_eq!(info_field(&mut t, "lazyfreed_objects"), "3");
}

/// What `used_memory_fast` reports in the eviction test: always over the limit, as while a
/// big free is still pending on the thread.
fn always_over() -> u64 {
    1 << 40
}

#[test]
fn eviction_is_lazy_with_lazyfree_lazy_eviction_and_waits_only_briefly() {
    let (mut t, rx) = with_sink();
    fill(&mut t, "SADD", "big", 100, false);
    t.run("CONFIG SET maxmemory-policy allkeys-random");
    t.run("CONFIG SET lazyfree-lazy-eviction yes");
    t.run("CONFIG SET maxmemory 1000000");
    t.eng.info.used_memory_fast = always_over;
    t.stream();
    // The only key is evicted lazily; memory (as the allocator says) is still over, nothing
    // is left to evict, so after the short wait for the free thread the write is refused.
    assert_eq!(
        t.text("SET k v"),
        "-OOM command not allowed when used memory > 'maxmemory'.|"
    );
    assert_eq!(t.stream_cmds(), "UNLINK big");
    must_value_job(&rx, "set").free();
    assert_eq!(t.text("DBSIZE"), ":0|");
}
