//! `CONFIG GET` and `CONFIG SET` as Redis 7.0.15's `configGetCommand` and `configSetCommand`.
//!
//! GET: a pattern without `*`, `?` or `[` is an exact, case-insensitive lookup (hidden
//! directives included) and the reply uses the client's spelling; a pattern is matched without
//! case against every name and alias except hidden ones, replying with the table's spelling.
//! A name already in the reply (compared without case) is not repeated. Redis builds the
//! reply in a dict whose order is randomised per process, so no order is promised; ours is
//! the order of first match, table order within a pattern.
//!
//! SET: all pairs are checked first (unknown name, immutable, protected, loading, duplicate),
//! then set one by one on a copy; the first failure leaves the configuration untouched, and
//! success swaps the copy in. The server then applies the returned [`Changes`] (rebinding,
//! resizing, ...) and, if that fails, calls [`Config::rollback`] and replies with
//! [`SetError::apply_failed`], as Redis restores its backup.

use std::collections::HashSet;

use crate::cnum::split_spaces;
use crate::table::{self, DirectiveId, NameMatch};
use crate::values::{Config, Origin, SetOutcome, Value, REPL_BACKLOG_MIN_SIZE};
use redoubt_keyspace::glob::glob_match as string_match;

/// The reply `CONFIG REWRITE` gets when the server was started without a file.
pub const NO_CONFIG_FILE_ERROR: &str = "ERR The server is running without a config file";

/// Who is asking, for the checks that depend on the client and the server state.
#[derive(Debug, Clone, Copy, Default)]
pub struct SetContext {
    /// `enable-protected-configs` allows this client (see
    /// [`Config::protected_action_allowed`]).
    pub protected_allowed: bool,
    /// A dataset is being loaded: directives flagged deny-loading are refused.
    pub loading: bool,
}

/// A refused `CONFIG SET`. `Display` is Redis's error reply without the leading `-`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SetError {
    /// An odd number of arguments after `CONFIG SET`.
    #[error("ERR syntax error")]
    Syntax,
    #[error("LOADING Redis is loading the dataset in memory")]
    Loading,
    #[error("ERR Unknown option or number of arguments for CONFIG SET - '{0}'")]
    Unknown(String),
    #[error("ERR CONFIG SET failed (possibly related to argument '{arg}'){}", reason_suffix(.reason))]
    Failed { arg: String, reason: Option<String> },
}

fn reason_suffix(reason: &Option<String>) -> String {
    match reason {
        Some(r) => format!(" - {r}"),
        None => String::new(),
    }
}

impl SetError {
    /// The error when the server's apply step for `name` fails (e.g. "Unable to listen on
    /// this port. Check server logs."); pass the [`Change::name`] of the change that failed.
    pub fn apply_failed(name: &str, reason: impl Into<String>) -> SetError {
        SetError::Failed {
            arg: name.to_owned(),
            reason: Some(reason.into()),
        }
    }
}

/// One directive a successful `CONFIG SET` changed.
#[derive(Debug, Clone)]
pub struct Change {
    pub id: DirectiveId,
    /// The table spelling that was used (an alias if the client used one); Redis names this
    /// in an apply failure.
    pub name: &'static str,
    old: Value,
}

/// The directives a `CONFIG SET` changed, in argument order. A directive set to its current
/// value is not listed (Redis skips its apply function), except the special ones (`bind`,
/// `save`, `dir`, ...), which Redis always re-applies.
#[derive(Debug, Clone, Default)]
pub struct Changes {
    pub items: Vec<Change>,
}

impl Changes {
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// Primary names of the changed directives.
    pub fn names(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.items.iter().map(|c| c.id.directive().name)
    }

    /// Whether the directive `name` (primary name or alias) changed.
    pub fn contains(&self, name: &str) -> bool {
        let id = table::must_lookup(name);
        self.items.iter().any(|c| c.id == id)
    }
}

impl Config {
    /// `CONFIG GET pattern [pattern ...]`: (name, value) pairs.
    pub fn config_get(&self, patterns: &[&[u8]]) -> Vec<(String, Vec<u8>)> {
        let mut seen: HashSet<String> = HashSet::new();
        let mut out = Vec::new();
        for pattern in patterns {
            if !pattern.iter().any(|b| matches!(b, b'[' | b'*' | b'?')) {
                let key = String::from_utf8_lossy(pattern).into_owned();
                if seen.contains(&key.to_ascii_lowercase()) {
                    continue;
                }
                if let Some(m) = table::lookup(pattern) {
                    seen.insert(key.to_ascii_lowercase());
                    out.push((key, self.get_value_bytes(m.id)));
                }
                continue;
            }
            for m in table::all_names() {
                if m.id.directive().is_hidden() || seen.contains(m.name) {
                    continue;
                }
                if string_match(pattern, m.name.as_bytes(), true) {
                    seen.insert(m.name.to_owned());
                    out.push((m.name.to_owned(), self.get_value_bytes(m.id)));
                }
            }
        }
        out
    }

    /// `CONFIG SET name value [name value ...]`; `args` are the arguments after `SET`.
    /// All or nothing: on error nothing changed.
    pub fn config_set(&mut self, args: &[&[u8]], ctx: &SetContext) -> Result<Changes, SetError> {
        if args.len() % 2 == 1 {
            return Err(SetError::Syntax);
        }
        let pairs: Vec<(&[u8], &[u8])> = args.chunks(2).map(|p| (p[0], p[1])).collect();
        let mut matches: Vec<NameMatch> = Vec::with_capacity(pairs.len());
        let mut unknown: Option<String> = None;
        let mut failed: Option<SetError> = None;
        let mut deny_loading = false;
        for (name, _) in &pairs {
            let given = || String::from_utf8_lossy(name).into_owned();
            let Some(m) = table::lookup(name) else {
                if unknown.is_none() && failed.is_none() && !deny_loading {
                    unknown = Some(given());
                }
                continue;
            };
            if unknown.is_some() || failed.is_some() || deny_loading {
                continue;
            }
            let dir = m.id.directive();
            if dir.is_immutable() || (dir.is_protected() && !ctx.protected_allowed) {
                let reason = if dir.is_immutable() {
                    "can't set immutable config"
                } else {
                    "can't set protected config"
                };
                failed = Some(SetError::Failed {
                    arg: given(),
                    reason: Some(reason.into()),
                });
                continue;
            }
            if ctx.loading && dir.denied_while_loading() {
                deny_loading = true;
                continue;
            }
            // Redis compares dict entries: an alias and its directive are distinct entries,
            // so `slave-priority 1 replica-priority 2` is accepted (checked on 7.0.15).
            if matches.contains(&m) {
                failed = Some(SetError::Failed {
                    arg: given(),
                    reason: Some("duplicate parameter".into()),
                });
                continue;
            }
            matches.push(m);
        }
        if deny_loading {
            return Err(SetError::Loading);
        }
        if let Some(name) = unknown {
            return Err(SetError::Unknown(name));
        }
        if let Some(err) = failed {
            return Err(err);
        }

        let mut next = self.clone();
        let mut changes = Changes::default();
        for (m, (_, value)) in matches.iter().zip(&pairs) {
            let dir = m.id.directive();
            let split;
            let args: &[&[u8]] = if dir.is_multi_arg() {
                split = split_spaces(value);
                &split
            } else {
                std::slice::from_ref(value)
            };
            let old = next.value(m.id).clone();
            match next.set_from_args(m.id, args, Origin::ConfigSet) {
                Err(reason) => {
                    return Err(SetError::Failed {
                        arg: m.name.to_owned(),
                        reason: Some(reason),
                    })
                }
                Ok(SetOutcome::Unchanged) => {}
                Ok(SetOutcome::Changed) => {
                    next.after_set(m.id);
                    changes.items.push(Change {
                        id: m.id,
                        name: m.name,
                        old,
                    });
                }
            }
        }
        *self = next;
        Ok(changes)
    }

    /// Adjustments Redis's apply functions make to the stored value.
    fn after_set(&mut self, id: DirectiveId) {
        match id.directive().name {
            "hz" => self.clamp_hz(),
            // applyWatchdogPeriod: a period shorter than two timer ticks is raised to that.
            // Redis uses the current (possibly dynamic) hz; we use the configured one.
            "watchdog-period" => {
                let min_period = (1000 / self.get_int("hz").max(1)) * 2;
                if let Value::Int(period) = *self.value(id) {
                    if period != 0 && period < min_period {
                        self.put(id, Value::Int(min_period));
                    }
                }
            }
            "repl-backlog-size" => {
                if let Value::Int(size) = *self.value(id) {
                    if size < REPL_BACKLOG_MIN_SIZE {
                        self.put(id, Value::Int(REPL_BACKLOG_MIN_SIZE));
                    }
                }
            }
            _ => {}
        }
    }

    /// Puts back the values a [`Config::config_set`] replaced, when applying them failed.
    pub fn rollback(&mut self, changes: &Changes) {
        for change in changes.items.iter().rev() {
            self.put(change.id, change.old.clone());
        }
    }
}

/// Indexes into the `CONFIG SET` arguments (after `SET`) whose values must be redacted from
/// SLOWLOG and MONITOR: those of sensitive directives, whether or not the set succeeds.
pub fn sensitive_value_positions(args: &[&[u8]]) -> Vec<usize> {
    if args.len() % 2 == 1 {
        return Vec::new();
    }
    (0..args.len() / 2)
        .filter(|i| table::lookup(args[2 * i]).is_some_and(|m| m.id.directive().is_sensitive()))
        .map(|i| 2 * i + 1)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(cfg: &mut Config, args: &[&str]) -> Result<Changes, String> {
        let args: Vec<&[u8]> = args.iter().map(|a| a.as_bytes()).collect();
        cfg.config_set(&args, &SetContext::default())
            .map_err(|e| e.to_string())
    }

    fn get(cfg: &Config, name: &str) -> String {
        let pairs = cfg.config_get(&[name.as_bytes()]);
        assert_eq!(pairs.len(), 1, "{name}");
        String::from_utf8(pairs[0].1.clone()).expect("utf8")
    }

    fn err(cfg: &mut Config, args: &[&str]) -> String {
        set(cfg, args).expect_err("must fail")
    }

    const FAILED: &str = "ERR CONFIG SET failed (possibly related to argument";

    #[test]
    fn error_texts_match_redis() {
        // Each reply as redis-server 7.0.15 gave it.
        let mut c = Config::new();
        let cases: &[(&[&str], String)] = &[
            (&["maxmemory", "abc"], format!("{FAILED} 'maxmemory') - argument must be a memory value")),
            (&["maxmemory", "-1"], format!("{FAILED} 'maxmemory') - argument must be a memory value")),
            (&["maxmemory", "1.5g"], format!("{FAILED} 'maxmemory') - argument must be a memory value")),
            (&["appendonly", "x"], format!("{FAILED} 'appendonly') - argument must be 'yes' or 'no'")),
            (&["daemonize", "yes"], format!("{FAILED} 'daemonize') - can't set immutable config")),
            (&["foo", "bar"], "ERR Unknown option or number of arguments for CONFIG SET - 'foo'".into()),
            (&["maxmemory", "1", "maxmemory", "2"], format!("{FAILED} 'maxmemory') - duplicate parameter")),
            (&["port", "abc"], format!("{FAILED} 'port') - argument couldn't be parsed into an integer")),
            (&["port", "70000"], format!("{FAILED} 'port') - argument must be between 0 and 65535 inclusive")),
            (&["dir", "/tmp"], format!("{FAILED} 'dir') - can't set protected config")),
            (&["dbfilename", "x.rdb"], format!("{FAILED} 'dbfilename') - can't set protected config")),
            (
                &["maxmemory-policy", "foo"],
                format!(
                    "{FAILED} 'maxmemory-policy') - argument(s) must be one of the following: \
                     volatile-lru, volatile-lfu, volatile-random, volatile-ttl, allkeys-lru, \
                     allkeys-lfu, allkeys-random, noeviction"
                ),
            ),
            (&["maxmemory", "1", "foo"], "ERR syntax error".into()),
            (&["foo", "1", "bar", "2"], "ERR Unknown option or number of arguments for CONFIG SET - 'foo'".into()),
            (&["slave-priority", "abc"], format!("{FAILED} 'slave-priority') - argument couldn't be parsed into an integer")),
            (&["replicaof", "a 1"], format!("{FAILED} 'replicaof') - can't set immutable config")),
            (&["slaveof", "no one"], format!("{FAILED} 'slaveof') - can't set immutable config")),
            (&["save", "100  1"], format!("{FAILED} 'save') - Invalid save parameters")),
            (&["save", "100 1 200"], format!("{FAILED} 'save') - Invalid save parameters")),
            (&["save", "0 1"], format!("{FAILED} 'save') - Invalid save parameters")),
            (&["save", "10 -1"], format!("{FAILED} 'save') - Invalid save parameters")),
            (&["save", " 10 1"], format!("{FAILED} 'save') - Invalid save parameters")),
            (&["save", "10 1 "], format!("{FAILED} 'save') - Invalid save parameters")),
            (
                &["notify-keyspace-events", "q"],
                format!("{FAILED} 'notify-keyspace-events') - Invalid event class character. Use 'Ag$lshzxeKEtmdn'."),
            ),
            (
                &["shutdown-on-sigint", "nosave force save"],
                format!("{FAILED} 'shutdown-on-sigint') - shutdown options SAVE and NOSAVE can't be used simultaneously"),
            ),
            (
                &["shutdown-on-sigint", ""],
                format!("{FAILED} 'shutdown-on-sigint') - argument(s) must be one of the following: default, save, nosave, now, force"),
            ),
            (
                &["shutdown-on-sigint", "save  now"],
                format!("{FAILED} 'shutdown-on-sigint') - argument(s) must be one of the following: default, save, nosave, now, force"),
            ),
            (
                &["latency-tracking-info-percentiles", "101"],
                format!("{FAILED} 'latency-tracking-info-percentiles') - latency-tracking-info-percentiles parameters should sit between [0.0,100.0]"),
            ),
            (
                &["latency-tracking-info-percentiles", "x"],
                format!("{FAILED} 'latency-tracking-info-percentiles') - Invalid latency-tracking-info-percentiles parameters"),
            ),
            (
                &["maxmemory-clients", "101%"],
                format!("{FAILED} 'maxmemory-clients') - percentage argument must be less or equal to 100"),
            ),
            (
                &["maxmemory-clients", "-5"],
                format!("{FAILED} 'maxmemory-clients') - argument must be a memory or percent value"),
            ),
            (
                &["client-output-buffer-limit", "normal 1 2 -3"],
                format!("{FAILED} 'client-output-buffer-limit') - Error in hard, soft or soft_seconds setting in buffer limit configuration."),
            ),
            (
                &["client-output-buffer-limit", "normal 1 2"],
                format!("{FAILED} 'client-output-buffer-limit') - Wrong number of arguments in buffer limit configuration."),
            ),
            (
                &["proc-title-template", "{title}"],
                format!("{FAILED} 'proc-title-template') - template format is invalid or contains unknown variables"),
            ),
            (
                &["cluster-announce-hostname", "a_b"],
                format!("{FAILED} 'cluster-announce-hostname') - Hostnames may only contain alphanumeric characters, hyphens or dots"),
            ),
            (
                &["activedefrag", "yes"],
                format!("{FAILED} 'activedefrag') - Active defragmentation cannot be enabled: it requires a Redis server compiled with a modified Jemalloc like the one shipped by default with the Redis source distribution"),
            ),
            (
                &["lua-enable-deprecated-api", "yes"],
                format!("{FAILED} 'lua-enable-deprecated-api') - can't set immutable config"),
            ),
            (
                &["loading-process-events-interval-bytes", "10"],
                format!("{FAILED} 'loading-process-events-interval-bytes') - argument must be between 1024 and 2147483647 inclusive"),
            ),
            (&["maxclients", "-1"], format!("{FAILED} 'maxclients') - argument must be between 1 and 4294967295 inclusive")),
            (&["slowlog-log-slower-than", "-9223372036854775808"], format!("{FAILED} 'slowlog-log-slower-than') - argument must be between -1 and 9223372036854775807 inclusive")),
            (&["proto-max-bulk-len", "18446744073709551615"], format!("{FAILED} 'proto-max-bulk-len') - argument must be between 1048576 and 9223372036854775807 inclusive")),
            (&["hash-max-listpack-entries", "-1"], format!("{FAILED} 'hash-max-listpack-entries') - argument must be between 0 and 9223372036854775807 inclusive")),
        ];
        for (args, want) in cases {
            let before = c.clone().values;
            assert_eq!(&err(&mut c, args), want, "{args:?}");
            assert_eq!(c.values, before, "{args:?} must change nothing");
        }
        assert_eq!(
            SetError::apply_failed("port", "Unable to listen on this port. Check server logs.")
                .to_string(),
            format!("{FAILED} 'port') - Unable to listen on this port. Check server logs.")
        );
        let mut loading = Config::new();
        let args: [&[u8]; 2] = [b"appendonly", b"yes"];
        let ctx = SetContext {
            loading: true,
            ..SetContext::default()
        };
        assert_eq!(
            loading.config_set(&args, &ctx).map(|_| ()),
            Err(SetError::Loading)
        );
    }

    #[test]
    fn first_error_wins() {
        let mut c = Config::new();
        assert_eq!(
            err(&mut c, &["daemonize", "yes", "foo", "1"]),
            format!("{FAILED} 'daemonize') - can't set immutable config")
        );
        assert_eq!(
            err(&mut c, &["foo", "1", "daemonize", "yes"]),
            "ERR Unknown option or number of arguments for CONFIG SET - 'foo'"
        );
        // An earlier pair's bad value is only seen after all names passed their checks.
        assert_eq!(
            err(&mut c, &["maxmemory", "x", "daemonize", "yes"]),
            format!("{FAILED} 'daemonize') - can't set immutable config")
        );
        // The name as typed for name checks, the table's spelling for value errors.
        assert_eq!(
            err(&mut c, &["DAEMONIZE", "yes"]),
            format!("{FAILED} 'DAEMONIZE') - can't set immutable config")
        );
        assert_eq!(
            err(&mut c, &["MAXMEMORY", "x"]),
            format!("{FAILED} 'maxmemory') - argument must be a memory value")
        );
    }

    #[test]
    fn values_read_back_as_redis_prints_them() {
        let mut c = Config::new();
        let cases: &[(&str, &str, &str)] = &[
            ("maxmemory", "kb", "0"),
            (
                "maxmemory",
                "99999999999999999999999",
                "18446744073709551615",
            ),
            ("maxmemory", "1K", "1000"),
            ("maxmemory", "1Kb", "1024"),
            ("maxmemory", "1b", "1"),
            ("maxmemory", "010", "10"),
            ("hz", "1000", "500"),
            ("hz", "0", "1"),
            ("maxmemory-policy", "ALLKEYS-LRU", "allkeys-lru"),
            ("activerehashing", "YES", "yes"),
            ("oom-score-adj", "relative", "yes"),
            ("maxmemory-clients", "10%", "10%"),
            ("maxmemory-clients", "1mb", "1048576"),
            ("maxmemory-clients", "0%", "0"),
            ("maxmemory-clients", "18446744073709551615", "1%"),
            ("repl-backlog-size", "1k", "16384"),
            ("save", "10 1 20 2", "10 1 20 2"),
            ("save", "+10 1", "10 1"),
            ("save", "", ""),
            ("shutdown-on-sigint", "save now", "save now"),
            ("shutdown-on-sigint", "default save", "save"),
            ("shutdown-on-sigint", "default", "default"),
            (
                "latency-tracking-info-percentiles",
                "50 99.99 100",
                "50 99.99 100",
            ),
            ("latency-tracking-info-percentiles", "", ""),
            (
                "latency-tracking-info-percentiles",
                "1e1 .5 0x10",
                "10 0.5 16",
            ),
            (
                "latency-tracking-info-percentiles",
                "0.0000001 33.3333333",
                "0 33.333333",
            ),
            (
                "client-output-buffer-limit",
                "normal 1mb 2k 3",
                "normal 1048576 2000 3 slave 268435456 67108864 60 pubsub 33554432 8388608 60",
            ),
            (
                "client-output-buffer-limit",
                "slave 1 2 3 pubsub 4 5 6 replica 7 8 9",
                "normal 1048576 2000 3 slave 7 8 9 pubsub 4 5 6",
            ),
            (
                "client-output-buffer-limit",
                "",
                "normal 1048576 2000 3 slave 7 8 9 pubsub 4 5 6",
            ),
            ("notify-keyspace-events", "KEA", "AKE"),
            ("bind", "127.0.0.1 ::1", "127.0.0.1 ::1"),
            ("bind", "", ""),
            ("key-load-delay", "-5", "-5"),
            ("cluster-announce-hostname", "ab.c-d", "ab.c-d"),
            ("ignore-warnings", "ARM64-COW-BUG x", "ARM64-COW-BUG x"),
        ];
        for (name, value, want) in cases {
            set(&mut c, &[name, value]).unwrap_or_else(|e| panic!("{name} {value}: {e}"));
            assert_eq!(get(&c, name), *want, "{name} {value}");
        }
        // Aliases set and read the same value; an alias plus its directive is no duplicate.
        set(&mut c, &["slave-priority", "1", "replica-priority", "2"]).expect("ok");
        assert_eq!(get(&c, "slave-priority"), "2");
    }

    #[test]
    fn get_patterns_and_dedup() {
        let c = Config::new();
        let names = |pats: &[&str]| -> Vec<String> {
            let pats: Vec<&[u8]> = pats.iter().map(|p| p.as_bytes()).collect();
            c.config_get(&pats).into_iter().map(|(n, _)| n).collect()
        };
        // Replies of redis 7.0.15, compared as sets since its order is random.
        let sorted = |mut v: Vec<String>| {
            v.sort();
            v
        };
        assert_eq!(names(&["MAXMEMORY"]), ["MAXMEMORY"]);
        assert_eq!(names(&["Maxmemory", "maxmemory"]), ["Maxmemory"]);
        assert_eq!(
            sorted(names(&["MAXMEM*"])),
            [
                "maxmemory",
                "maxmemory-clients",
                "maxmemory-eviction-tenacity",
                "maxmemory-policy",
                "maxmemory-samples"
            ]
        );
        assert_eq!(
            sorted(names(&["slave-prio*", "replica-prio*"])),
            ["replica-priority", "slave-priority"]
        );
        assert_eq!(names(&["key-load-delay"]), ["key-load-delay"]);
        assert!(names(&["key-load*"]).is_empty());
        assert_eq!(
            sorted(names(&["maxmemory", "maxmemory", "maxmem*"])).len(),
            5
        );
        assert!(names(&["nonexist"]).is_empty());
        assert!(names(&["include"]).is_empty());
        assert_eq!(names(&["*"]).len(), 192);
        assert_eq!(names(&["slaveof"]), ["slaveof"]);
        assert_eq!(get(&c, "slaveof"), "");
    }

    #[test]
    fn changes_and_rollback() {
        let mut c = Config::new();
        let changes = set(
            &mut c,
            &["maxmemory", "100mb", "timeout", "0", "bind", "* -::*"],
        )
        .expect("ok");
        // timeout kept its value; bind is special and always reported.
        assert_eq!(changes.names().collect::<Vec<_>>(), ["maxmemory", "bind"]);
        assert!(changes.contains("maxmemory"));
        assert_eq!(c.get_u64("maxmemory"), 100 << 20);
        let generation = c.generation();
        c.rollback(&changes);
        assert_eq!(c.get_u64("maxmemory"), 0);
        assert!(c.generation() > generation);
        assert_eq!(
            sensitive_value_positions(&[b"requirepass", b"x", b"port", b"1", b"MASTERAUTH", b"y"]),
            [1, 5]
        );
    }
}
