//! The write-path proof for the key and expiry commands: a random mixed workload runs on one
//! engine while time moves on (lazy and active expiry fire), then its replication stream is
//! replayed into an empty engine, which must hold the same dataset: same DEBUG DIGEST, and
//! the same keys, values and absolute deadlines in every database.
//!
//! The replay runs at the workload's start time, so no deadline the stream carries is past
//! there: every PEXPIREAT/PXAT was in the future when it was written, and keys the source
//! expired arrive as explicit DELs.

use crate::testing::{decode_stream, TestEngine};
use redoubt_keyspace::rand::Rng;

const KEYS: &[&str] = &["a", "b", "c", "d", "n1", "n2"];

fn pick<'a>(rng: &mut Rng, items: &[&'a str]) -> &'a str {
    items[rng.below(items.len() as u64) as usize]
}

/// A time argument around now: past, near future, far future, relative or absolute.
fn time_arg(rng: &mut Rng, now_ms: i64, cmd: &str) -> String {
    let rel_ms: i64 = match rng.below(10) {
        0 => -(rng.below(5000) as i64),
        1 => 0,
        2 | 3 => rng.below(100_000) as i64 + 1,
        _ => rng.below(4000) as i64 + 1,
    };
    match cmd {
        "EXPIRE" => (rel_ms / 1000).to_string(),
        "PEXPIRE" => rel_ms.to_string(),
        "EXPIREAT" => ((now_ms + rel_ms) / 1000).to_string(),
        _ => (now_ms + rel_ms).to_string(),
    }
}

fn random_command(rng: &mut Rng, now_ms: i64) -> String {
    let k = pick(rng, KEYS);
    let k2 = pick(rng, KEYS);
    match rng.below(26) {
        0 | 1 | 24 | 25 => format!("SET {k} v{}", rng.below(100)),
        2 => format!("SET {k} {} PX {}", rng.below(20000), rng.below(3000) + 1),
        3 => format!("INCR {k}"),
        4 => format!("DEL {k} {k2}"),
        5 => format!("UNLINK {k}"),
        6..=9 => {
            let cmd = pick(rng, &["EXPIRE", "PEXPIRE", "EXPIREAT", "PEXPIREAT"]);
            let opt = pick(rng, &["", "", "NX", "XX", "GT", "LT", "XX GT", "XX LT"]);
            format!("{cmd} {k} {} {opt}", time_arg(rng, now_ms, cmd))
        }
        10 => format!("PERSIST {k}"),
        11 => format!("RENAME {k} {k2}"),
        12 => format!("RENAMENX {k} {k2}"),
        13 => format!("MOVE {k} {}", rng.below(3)),
        14 => {
            let db = if rng.below(2) == 0 {
                format!(" DB {}", rng.below(3))
            } else {
                String::new()
            };
            let replace = if rng.below(2) == 0 { " REPLACE" } else { "" };
            format!("COPY {k} {k2}{db}{replace}")
        }
        15 => format!("SELECT {}", rng.below(3)),
        16 => format!(
            "{} {k}",
            pick(
                rng,
                &[
                    "TTL",
                    "PTTL",
                    "EXPIRETIME",
                    "PEXPIRETIME",
                    "TYPE",
                    "EXISTS",
                    "TOUCH"
                ]
            )
        ),
        17 => pick(
            rng,
            &[
                "SCAN 0",
                "SCAN 0 TYPE string",
                "SCAN 0 TYPE none COUNT 3",
                "SCAN 0 MATCH n*",
            ],
        )
        .into(),
        18 => "RANDOMKEY".into(),
        19 => "KEYS *".into(),
        20 => format!("OBJECT ENCODING {k}"),
        21 => format!("GET {k}"),
        22 => format!("SETEX {k} {} x", rng.below(3) + 1),
        _ => {
            if rng.below(8) == 0 {
                "FLUSHDB".into()
            } else {
                format!("SET {k2} {k}")
            }
        }
    }
}

/// Every database's keys with their value (and its encoding) and deadline, sorted.
fn dataset(t: &TestEngine) -> Vec<(usize, Vec<u8>, String, i64)> {
    let mut out = Vec::new();
    for (i, db) in t.eng.dbs.iter().enumerate() {
        for e in db.iter() {
            out.push((i, e.key.to_vec(), format!("{:?}", e.value), e.expire_at_ms));
        }
    }
    out.sort();
    out
}

fn digest(t: &mut TestEngine) -> String {
    t.text("DEBUG DIGEST")
}

fn run_workload(seed: u64, steps: usize) {
    // Rng::new ignores the low bit: spread the seeds.
    let mut rng = Rng::new(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15));
    let mut src = TestEngine::new();
    let start = src.now_ms;
    let mut stream = Vec::new();
    let mut log = Vec::new();
    for _ in 0..steps {
        if rng.below(4) == 0 {
            src.now_ms += rng.below(1500) as i64;
        }
        if rng.below(10) == 0 {
            // The active cycle runs between commands, as the server's cron does.
            let now = src.now_ms;
            src.eng.active_expire_cycle(now, u64::MAX, &|| 0);
            log.push("<active expire cycle>".to_string());
        }
        if rng.below(12) == 0 {
            let n = rng.below(4) + 1;
            src.run("MULTI");
            log.push("MULTI".into());
            for _ in 0..n {
                let c = random_command(&mut rng, src.now_ms);
                src.run(&c);
                log.push(c);
            }
            src.run("EXEC");
            log.push("EXEC".into());
        } else {
            let c = random_command(&mut rng, src.now_ms);
            src.run(&c);
            log.push(c);
        }
        stream.extend_from_slice(&src.stream());
    }

    let mut replica = TestEngine::new();
    replica.now_ms = start;
    for cmd in decode_stream(&stream) {
        let reply = replica.run_args(cmd.clone());
        assert!(
            !reply.starts_with(b"-"),
            "seed {seed}: replaying {cmd:?} failed: {}",
            String::from_utf8_lossy(&reply)
        );
    }
    let (a, b) = (dataset(&src), dataset(&replica));
    if std::env::var("REPLAY_STATS").is_ok() {
        let cmds = decode_stream(&stream);
        let count = |n: &[u8]| cmds.iter().filter(|c| c[0].eq_ignore_ascii_case(n)).count();
        eprintln!(
            "seed {seed}: {} effects, DEL {} PEXPIREAT {} MULTI {} MOVE {} COPY {} RENAME {} PERSIST {}; final keys {} with ttl {}",
            cmds.len(), count(b"DEL"), count(b"PEXPIREAT"), count(b"MULTI"), count(b"MOVE"), count(b"COPY"),
            count(b"RENAME") + count(b"RENAMENX"), count(b"PERSIST"),
            a.len(), a.iter().filter(|x| x.3 != -1).count()
        );
    }
    assert_eq!(
        a,
        b,
        "seed {seed}: datasets differ after replay\nworkload:\n{}",
        log.join("\n")
    );
    assert_eq!(digest(&mut src), digest(&mut replica), "seed {seed}");
    // Effects replay as themselves: the replica's own stream is the source's, byte for byte
    // (so a chain of replicas agrees on offsets).
    assert!(
        replica.stream() == stream,
        "seed {seed}: the replayed stream differs from the source stream"
    );
}

#[test]
fn random_key_and_expiry_workloads_replay_to_the_same_dataset() {
    for seed in 1..=60 {
        run_workload(seed, 400);
    }
}
