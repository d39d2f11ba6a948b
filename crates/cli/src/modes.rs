//! redis-cli's special modes: --pipe, --scan, --bigkeys/--memkeys, --stat, --latency,
//! --latency-history, --rdb and --eval. Texts and formats are redis-cli 7.0's (`pipeMode`,
//! `scanMode`, `findBigKeys`, `statMode`, `latencyMode`, `getRDB`, `evalMode`).

use crate::conn::{os_message, Conn, ConnError};
use crate::render::{repr, Output};
use crate::session::Session;
use redoubt_resp::Value;
use std::io::{Read, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Runs the mode the options selected, in redis-cli's order of precedence.
pub fn run(mut s: Session) -> u8 {
    let o = s.o.clone();
    if o.latency {
        return latency(&mut s);
    }
    let Some(c) = s.conn.as_mut() else { return 1 };
    if let Some(file) = &o.rdb {
        return crate::sync::rdb(c, file);
    }
    if o.replica {
        return crate::sync::replica(c, true);
    }
    if o.pipe {
        return pipe(c, o.pipe_timeout);
    }
    if o.bigkeys || o.memkeys {
        return bigkeys(c, &o, o.memkeys);
    }
    if o.stat {
        return stat(c, o.interval_us);
    }
    scan(c, &o)
}

pub fn io_error() -> u8 {
    eprint!("\nI/O error\n");
    1
}

/// `sendScan`: one SCAN step; exits on anything but a two-element array.
fn scan_step(
    c: &mut Conn,
    cursor: &str,
    pattern: Option<&[u8]>,
) -> Result<(String, Vec<Value>), u8> {
    let reply = match pattern {
        Some(p) => c.call(&[&b"SCAN"[..], cursor.as_bytes(), b"MATCH", p]),
        None => c.call(&["SCAN", cursor]),
    };
    match reply {
        Err(_) => Err(io_error()),
        Ok(Value::Error(e)) => {
            eprint!("SCAN error: {e}\n");
            Err(1)
        }
        Ok(Value::Array(mut items)) if items.len() == 2 => {
            let keys = match items.pop() {
                Some(Value::Array(k)) => k,
                _ => Vec::new(),
            };
            let next = match items.pop() {
                Some(Value::Bulk(b)) => String::from_utf8_lossy(&b).into_owned(),
                _ => "0".into(),
            };
            Ok((next, keys))
        }
        Ok(Value::Array(_)) => {
            eprint!("Invalid element count from SCAN!\n");
            Err(1)
        }
        Ok(_) => {
            eprint!("Non ARRAY response from SCAN!\n");
            Err(1)
        }
    }
}

fn bytes_of(v: &Value) -> &[u8] {
    match v {
        Value::Bulk(b) => b,
        Value::Simple(s) => s.as_bytes(),
        _ => b"",
    }
}

/// `--scan`: every key, one per line (quoted on a terminal).
fn scan(c: &mut Conn, o: &crate::opts::Options) -> u8 {
    let mut cursor = String::from("0");
    let mut out = std::io::stdout().lock();
    loop {
        let (next, keys) = match scan_step(c, &cursor, o.pattern.as_deref()) {
            Ok(r) => r,
            Err(code) => return code,
        };
        for k in &keys {
            let mut line = Vec::new();
            if o.output == Output::Standard {
                repr(&mut line, bytes_of(k));
            } else {
                line.extend_from_slice(bytes_of(k));
            }
            line.push(b'\n');
            let _ = out.write_all(&line);
        }
        if o.interval_us > 0 {
            std::thread::sleep(Duration::from_micros(o.interval_us));
        }
        cursor = next;
        if cursor == "0" {
            return 0;
        }
    }
}

/// Key types in the order redis-cli's types dict iterates them, with their size command
/// and unit.
const TYPES: [(&str, &str, &str); 6] = [
    ("list", "LLEN", "items"),
    ("hash", "HLEN", "fields"),
    ("string", "STRLEN", "bytes"),
    ("stream", "XLEN", "entries"),
    ("set", "SCARD", "members"),
    ("zset", "ZCARD", "members"),
];

/// `--bigkeys` / `--memkeys`: scan the keyspace, report the biggest key per type.
fn bigkeys(c: &mut Conn, o: &crate::opts::Options, memkeys: bool) -> u8 {
    let total = match c.call(&["DBSIZE"]) {
        Ok(Value::Int(n)) => n.max(0) as u64,
        _ => {
            eprint!("Couldn't determine DBSIZE!\n");
            return 1;
        }
    };
    print!("\n# Scanning the entire keyspace to find biggest keys as well as\n");
    print!("# average sizes per key type.  You can use -i 0.1 to sleep 0.1 sec\n");
    print!("# per 100 SCAN commands (not usually needed).\n\n");
    // Per type: biggest size, its key (quoted), count, total size.
    let mut stats: Vec<(u64, Option<Vec<u8>>, u64, u64)> = vec![(0, None, 0, 0); TYPES.len()];
    let (mut sampled, mut totlen, mut loops) = (0u64, 0u64, 0u64);
    let mut cursor = String::from("0");
    let samples = o.memkeys_samples.to_string();
    loop {
        let pct = if total == 0 {
            f64::NAN
        } else {
            100.0 * sampled as f64 / total as f64
        };
        let (next, keys) = match scan_step(c, &cursor, o.pattern.as_deref()) {
            Ok(r) => r,
            Err(code) => return code,
        };
        loops += 1;
        for k in &keys {
            let key = bytes_of(k);
            let Ok(Value::Simple(t)) = c.call(&[&b"TYPE"[..], key]) else {
                continue;
            };
            let Some(ti) = TYPES.iter().position(|(name, _, _)| *name == t) else {
                continue;
            };
            let size = if memkeys {
                let r = if o.memkeys_samples > 0 {
                    c.call(&[
                        &b"MEMORY"[..],
                        b"USAGE",
                        key,
                        b"SAMPLES",
                        samples.as_bytes(),
                    ])
                } else {
                    c.call(&[&b"MEMORY"[..], b"USAGE", key])
                };
                match r {
                    Ok(Value::Int(n)) => n.max(0) as u64,
                    _ => 0,
                }
            } else {
                match c.call(&[TYPES[ti].1.as_bytes(), key]) {
                    Ok(Value::Int(n)) => n.max(0) as u64,
                    Ok(Value::Error(_)) => {
                        eprint!(
                            "Warning:  {} on '{}' failed (may have changed type)\n",
                            TYPES[ti].1,
                            String::from_utf8_lossy(key)
                        );
                        0
                    }
                    _ => 0,
                }
            };
            let st = &mut stats[ti];
            st.3 += size;
            st.2 += 1;
            totlen += key.len() as u64;
            sampled += 1;
            if st.0 < size {
                let mut q = Vec::new();
                repr(&mut q, key);
                print!(
                    "[{pct:05.2}%] Biggest {:<6} found so far '{}' with {size} {}\n",
                    TYPES[ti].0,
                    String::from_utf8_lossy(&q),
                    if memkeys { "bytes" } else { TYPES[ti].2 }
                );
                st.1 = Some(q);
                st.0 = size;
            }
            if sampled.is_multiple_of(1_000_000) {
                print!("[{pct:05.2}%] Sampled {sampled} keys so far\n");
            }
        }
        if o.interval_us > 0 && loops.is_multiple_of(100) {
            std::thread::sleep(Duration::from_micros(o.interval_us));
        }
        cursor = next;
        if cursor == "0" {
            break;
        }
    }
    print!("\n-------- summary -------\n\n");
    print!("Sampled {sampled} keys in the keyspace!\n");
    let avg = if totlen > 0 {
        totlen as f64 / sampled as f64
    } else {
        0.0
    };
    print!("Total key length in bytes is {totlen} (avg len {avg:.2})\n\n");
    for (ti, st) in stats.iter().enumerate() {
        if let Some(k) = &st.1 {
            print!(
                "Biggest {:>6} found '{}' has {} {}\n",
                TYPES[ti].0,
                String::from_utf8_lossy(k),
                st.0,
                if memkeys { "bytes" } else { TYPES[ti].2 }
            );
        }
    }
    print!("\n");
    for (ti, st) in stats.iter().enumerate() {
        let share = if sampled > 0 {
            100.0 * st.2 as f64 / sampled as f64
        } else {
            0.0
        };
        let avg = if st.2 > 0 {
            st.3 as f64 / st.2 as f64
        } else {
            0.0
        };
        print!(
            "{} {}s with {} {} ({share:05.2}% of keys, avg size {avg:.2})\n",
            st.2,
            TYPES[ti].0,
            st.3,
            if memkeys { "bytes" } else { TYPES[ti].2 }
        );
    }
    0
}

/// `bytesToHuman`.
fn human(n: i64) -> String {
    let n = n.max(0) as f64;
    let k = 1024.0;
    if n < k {
        format!("{n}B")
    } else if n < k * k {
        format!("{:.2}K", n / k)
    } else if n < k * k * k {
        format!("{:.2}M", n / (k * k))
    } else if n < k * k * k * k {
        format!("{:.2}G", n / (k * k * k))
    } else if n < k * k * k * k * k {
        format!("{:.2}T", n / (k * k * k * k))
    } else {
        format!("{:.2}P", n / (k * k * k * k * k))
    }
}

fn info_field(info: &str, name: &str) -> Option<i64> {
    info.lines().find_map(|l| {
        let v = l.strip_prefix(name)?.strip_prefix(':')?;
        Some(crate::opts::atoi(v))
    })
}

/// `--stat`: one line of rolling server statistics per interval (default 1 s).
fn stat(c: &mut Conn, interval_us: u64) -> u8 {
    let interval = Duration::from_micros(if interval_us == 0 {
        1_000_000
    } else {
        interval_us
    });
    let mut requests: i64 = 0;
    let mut lines = 0u64;
    loop {
        let info = match c.call(&["INFO"]) {
            Ok(Value::Bulk(b)) => String::from_utf8_lossy(&b).into_owned(),
            Ok(Value::Verbatim(_, b)) => String::from_utf8_lossy(&b).into_owned(),
            Ok(Value::Error(e)) => {
                print!("ERROR: {e}\n");
                return 1;
            }
            _ => return io_error(),
        };
        if lines.is_multiple_of(20) {
            print!(
                "------- data ------ --------------------- load -------------------- - child -\n\
                 keys       mem      clients blocked requests            connections          \n"
            );
        }
        lines += 1;
        let keys: i64 = (0..20).filter_map(|j| db_keys(&info, j)).sum();
        let f = |n: &str| info_field(&info, n).unwrap_or(0);
        let mut line = format!("{:<11}", keys);
        line.push_str(&format!("{:<8}", human(f("used_memory"))));
        line.push_str(&format!(" {:<8}", f("connected_clients")));
        line.push_str(&format!("{:<8}", f("blocked_clients")));
        let total = f("total_commands_processed");
        let delta = if requests == 0 { 0 } else { total - requests };
        line.push_str(&format!("{:<19}", format!("{total} (+{delta})")));
        requests = total;
        line.push_str(&format!(" {:<12}", f("total_connections_received")));
        let child = f("bgsave_in_progress") | f("aof_rewrite_in_progress") << 1 | f("loading") << 2;
        line.push_str(match child {
            1 => "SAVE",
            2 => "AOF",
            3 => "SAVE+AOF",
            4 => "LOAD",
            _ => "",
        });
        print!("{line}\n");
        let _ = std::io::stdout().flush();
        std::thread::sleep(interval);
    }
}

/// Keys of `db<j>` from the keyspace section (`db0:keys=3,expires=0,...`).
fn db_keys(info: &str, j: usize) -> Option<i64> {
    let prefix = format!("db{j}:keys=");
    info.lines()
        .find_map(|l| l.strip_prefix(prefix.as_str()).map(crate::opts::atoi))
}

fn latency_print(out: Output, min: i64, max: i64, avg: f64, count: i64) {
    match out {
        Output::Standard => {
            print!("min: {min}, max: {max}, avg: {avg:.2} ({count} samples)");
            let _ = std::io::stdout().flush();
        }
        Output::Csv => print!("{min},{max},{avg:.2},{count}\n"),
        Output::Raw => print!("{min} {max} {avg:.2} {count}\n"),
        Output::Json | Output::QuotedJson => {
            print!("{{\"min\": {min}, \"max\": {max}, \"avg\": {avg:.2}, \"count\": {count}}}\n")
        }
    }
}

/// `--latency` and `--latency-history`: PING every 10 ms and report min/max/avg in ms. On a
/// terminal it runs until interrupted; otherwise one line after the interval (default 1 s).
fn latency(s: &mut Session) -> u8 {
    let out = s.o.output;
    let history = s.o.latency_history;
    let history_interval = if s.o.interval_us > 0 {
        s.o.interval_us as u128 / 1000
    } else {
        15_000
    };
    let interval = if s.o.interval_us == 0 {
        1000
    } else {
        s.o.interval_us as u128 / 1000
    };
    let (mut min, mut max, mut tot, mut count) = (0i64, 0i64, 0i64, 0i64);
    let mut history_start = Instant::now();
    loop {
        let start = Instant::now();
        let mut tries = 0;
        // reconnectingRedisCommand: a lost link is retried every second.
        loop {
            let r = match s.conn.as_mut() {
                Some(c) => c.call(&["PING"]),
                None => Err(ConnError::Io(String::new())),
            };
            match r {
                Ok(_) => break,
                Err(_) => {
                    tries += 1;
                    print!("\r\x1b[0KReconnecting... {tries}\r");
                    let _ = std::io::stdout().flush();
                    s.conn = Conn::open(&s.o.target()).ok();
                    std::thread::sleep(Duration::from_secs(1));
                }
            }
        }
        if tries > 0 {
            print!("\r\x1b[0K");
        }
        let latency = start.elapsed().as_millis() as i64;
        count += 1;
        let avg;
        if count == 1 {
            min = latency;
            max = latency;
            tot = latency;
            avg = latency as f64;
        } else {
            min = min.min(latency);
            max = max.max(latency);
            tot += latency;
            avg = tot as f64 / count as f64;
        }
        if out == Output::Standard {
            print!("\x1b[0G\x1b[2K");
            latency_print(out, min, max, avg, count);
        } else if history {
            latency_print(out, min, max, avg, count);
        } else if history_start.elapsed().as_millis() > interval {
            latency_print(out, min, max, avg, count);
            return 0;
        }
        if history && history_start.elapsed().as_millis() > history_interval {
            print!(
                " -- {:.2} seconds range\n",
                history_start.elapsed().as_secs_f32()
            );
            history_start = Instant::now();
            (min, max, tot, count) = (0, 0, 0, 0);
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// `--pipe`: stream stdin to the server while counting replies; an ECHO of a random marker
/// after the last byte tells when the server has answered everything.
fn pipe(c: &mut Conn, timeout_s: i64) -> u8 {
    let magic = marker();
    let eof = Arc::new(AtomicBool::new(false));
    let mut writer = match c.writer() {
        Ok(w) => w,
        Err(e) => {
            eprint!("Error writing to the server: {}\n", os_message(&e));
            return 1;
        }
    };
    let eof_w = Arc::clone(&eof);
    let echo = redoubt_resp::encode_command(&[&b"ECHO"[..], magic.as_bytes()]);
    std::thread::spawn(move || {
        let mut stdin = std::io::stdin().lock();
        let mut buf = vec![0u8; 16 * 1024];
        loop {
            match stdin.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    if writer.write_all(&buf[..n]).is_err() {
                        eprint!("Error writing to the server: connection lost\n");
                        std::process::exit(1);
                    }
                }
            }
        }
        eof_w.store(true, Ordering::SeqCst);
        // Printed before the marker goes out, so it always precedes "Last reply received".
        print!("All data transferred. Waiting for the last reply...\n");
        let _ = std::io::stdout().flush();
        if writer.write_all(&echo).is_err() {
            std::process::exit(1);
        }
    });
    let (mut errors, mut replies) = (0i64, 0i64);
    let mut last_reply = Instant::now();
    if timeout_s > 0 {
        c.set_read_timeout(Some(Duration::from_millis(200)));
    }
    loop {
        match c.read_reply() {
            Ok(v) => {
                last_reply = Instant::now();
                match &v {
                    Value::Error(e) => {
                        eprint!("{e}\n");
                        errors += 1;
                    }
                    Value::Bulk(b) if eof.load(Ordering::SeqCst) && b[..] == *magic.as_bytes() => {
                        let _ = std::io::stdout().flush();
                        print!("Last reply received from server.\n");
                        replies += 1;
                        break;
                    }
                    _ => {}
                }
                replies += 1;
            }
            Err(ConnError::Io(e)) if e.contains("temporarily") || e.contains("timed out") => {
                if eof.load(Ordering::SeqCst)
                    && last_reply.elapsed() > Duration::from_secs(timeout_s as u64)
                {
                    eprint!("No replies for {timeout_s} seconds: exiting.\n");
                    errors += 1;
                    break;
                }
            }
            Err(e) => {
                eprint!("Error reading replies from server: {e}\n");
                return 1;
            }
        }
    }
    replies -= 1;
    print!("errors: {errors}, replies: {replies}\n");
    u8::from(errors > 0)
}

/// 20 characters no payload will echo by chance.
fn marker() -> String {
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0)
        ^ u128::from(std::process::id()) << 64;
    let mut x = seed as u64 | 1;
    (0..20)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            char::from(b"0123456789abcdefghijklmnopqrstuvwxyz"[(x % 36) as usize])
        })
        .collect()
}

/// `--eval <file> keys... , args...`: EVAL with the file as the script. A server without
/// EVAL answers with its unknown-command error, printed like any error reply.
pub fn eval(s: &mut Session, file: &str) -> u8 {
    let script = match std::fs::read(file) {
        Ok(b) => b,
        Err(e) => {
            eprint!("Can't open file '{file}': {}\n", os_message(&e));
            return 1;
        }
    };
    let mut keys = Vec::new();
    let mut argv = Vec::new();
    let mut comma = false;
    for a in &s.o.command {
        if !comma && a == "," {
            comma = true;
            continue;
        }
        if comma {
            argv.push(a.as_bytes().to_vec());
        } else {
            keys.push(a.as_bytes().to_vec());
        }
    }
    let mut args = vec![
        b"EVAL".to_vec(),
        script,
        keys.len().to_string().into_bytes(),
    ];
    args.extend(keys);
    args.extend(argv);
    let repeat = s.o.repeat;
    match s.issue(&args, repeat) {
        Ok(()) => 0,
        Err(code) => code,
    }
}
