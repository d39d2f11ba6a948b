//! The slow log (Redis 7.0 slowlog.c): commands that ran at least `slowlog-log-slower-than`
//! microseconds, newest first, at most `slowlog-max-len` entries.

use bytes::Bytes;
use std::collections::VecDeque;

/// Arguments kept per entry; the last one kept says how many more there were.
pub const ENTRY_MAX_ARGC: usize = 32;
/// Bytes kept per argument; the rest is summarized.
pub const ENTRY_MAX_STRING: usize = 128;

#[derive(Debug, Clone)]
pub struct SlowLogEntry {
    pub id: u64,
    /// Unix time in seconds when the command ran.
    pub time_s: i64,
    pub duration_us: u64,
    pub argv: Vec<Bytes>,
    pub peer: String,
    pub name: Bytes,
}

#[derive(Debug, Default)]
pub struct SlowLog {
    /// Newest first.
    pub entries: VecDeque<SlowLogEntry>,
    next_id: u64,
}

/// What a slow log entry records of a command: at most 32 arguments and 128 bytes per
/// argument, as `slowlogCreateEntry` trims them.
pub fn trim_argv(argv: &[Bytes]) -> Vec<Bytes> {
    let argc = argv.len();
    let kept = argc.min(ENTRY_MAX_ARGC);
    let mut out = Vec::with_capacity(kept);
    for (j, a) in argv.iter().take(kept).enumerate() {
        if kept != argc && j == kept - 1 {
            let more = argc - kept + 1;
            out.push(Bytes::from(format!("... ({more} more arguments)")));
        } else if a.len() > ENTRY_MAX_STRING {
            let mut s = a[..ENTRY_MAX_STRING].to_vec();
            s.extend_from_slice(
                format!("... ({} more bytes)", a.len() - ENTRY_MAX_STRING).as_bytes(),
            );
            out.push(Bytes::from(s));
        } else {
            out.push(a.clone());
        }
    }
    out
}

impl SlowLog {
    /// `slowlogPushEntryIfNeeded`: a negative threshold disables the log.
    #[allow(clippy::too_many_arguments)]
    pub fn push_if_needed(
        &mut self,
        slower_than_us: i64,
        max_len: usize,
        argv: &[Bytes],
        duration_us: u64,
        time_s: i64,
        peer: &str,
        name: &[u8],
    ) {
        if slower_than_us < 0 || (duration_us as i64) < slower_than_us {
            return;
        }
        let entry = SlowLogEntry {
            id: self.next_id,
            time_s,
            duration_us,
            argv: trim_argv(argv),
            peer: peer.to_string(),
            name: Bytes::copy_from_slice(name),
        };
        self.next_id += 1;
        self.entries.push_front(entry);
        self.entries.truncate(max_len);
    }

    pub fn reset(&mut self) {
        self.entries.clear();
    }
}

/// Arguments Redis replaces with `(redacted)` before logging (`redactClientCommandArgument`
/// in AUTH and HELLO): passwords never reach the slow log.
pub fn redact(cmd: &str, argv: &[Bytes]) -> Option<Vec<Bytes>> {
    let redacted = || Bytes::from_static(b"(redacted)");
    match cmd {
        "auth" => {
            let mut v = argv.to_vec();
            v.iter_mut().skip(1).for_each(|a| *a = redacted());
            Some(v)
        }
        "hello" if argv.len() >= 2 => {
            // HELLO returns before reading options when the version is invalid.
            let ver = redoubt_keyspace::num::string2ll(&argv[1]);
            if !matches!(ver, Some(2) | Some(3)) {
                return None;
            }
            let mut v = argv.to_vec();
            let mut j = 2;
            let mut changed = false;
            while j < v.len() {
                let more = v.len() - 1 - j;
                if v[j].eq_ignore_ascii_case(b"AUTH") && more >= 2 {
                    v[j + 1] = redacted();
                    v[j + 2] = redacted();
                    changed = true;
                    j += 3;
                } else if v[j].eq_ignore_ascii_case(b"SETNAME") && more >= 1 {
                    j += 2;
                } else {
                    break;
                }
            }
            changed.then_some(v)
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trims_like_redis() {
        let long = Bytes::from(vec![b'x'; 130]);
        let t = trim_argv(&[Bytes::from_static(b"SET"), long]);
        assert_eq!(t[1].len(), 128 + "... (2 more bytes)".len());
        assert!(t[1].ends_with(b"x... (2 more bytes)"));
        let many: Vec<Bytes> = (0..40).map(|i| Bytes::from(i.to_string())).collect();
        let t = trim_argv(&many);
        assert_eq!(t.len(), 32);
        assert_eq!(&t[31][..], b"... (9 more arguments)");
        assert_eq!(&t[30][..], b"30");
    }

    #[test]
    fn bounded_and_newest_first() {
        let mut s = SlowLog::default();
        for i in 0..5 {
            s.push_if_needed(0, 3, &[Bytes::from(i.to_string())], 1, 0, "", b"");
        }
        let ids: Vec<u64> = s.entries.iter().map(|e| e.id).collect();
        assert_eq!(ids, [4, 3, 2]);
        s.push_if_needed(-1, 3, &[], 100, 0, "", b"");
        s.push_if_needed(10, 3, &[], 9, 0, "", b"");
        assert_eq!(s.entries.len(), 3);
    }
}
