//! The directive table: every configuration directive Redis 7.0.15 knows, with its legacy
//! alias, type, bounds, default and flags, as `config.c`'s `static_configs[]` declares them.
//!
//! Checked against a real `redis-server` 7.0.15 (Debian 7.0.15-1~deb12u10, built with TLS):
//! `CONFIG GET *` gives the visible names and defaults (see the fixture test), exact-name
//! `CONFIG GET` found the hidden ones, and a `CONFIG SET` of every directive to its current
//! value found the immutable and protected ones. The bounds are the ones in Redis's
//! "argument must be between X and Y inclusive" replies.

use std::collections::HashMap;
use std::sync::OnceLock;

/// Index of a directive in [`DIRECTIVES`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DirectiveId(pub u16);

impl DirectiveId {
    pub fn directive(self) -> &'static Directive {
        &DIRECTIVES[self.0 as usize]
    }
}

/// Directive flags, as in `config.c` (`IMMUTABLE_CONFIG`, ...).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Flags(u16);

const IMM: u16 = 1;
const SENS: u16 = 2;
const PROT: u16 = 4;
const HID: u16 = 8;
const DENY: u16 = 16;
const MULTI: u16 = 32;
const RDT: u16 = 64;

impl Flags {
    /// `CONFIG SET` refuses it: "can't set immutable config".
    pub const IMMUTABLE: Flags = Flags(IMM);
    /// Its value is redacted from SLOWLOG and MONITOR when set by `CONFIG SET`.
    pub const SENSITIVE: Flags = Flags(SENS);
    /// `CONFIG SET` needs `enable-protected-configs`: "can't set protected config".
    pub const PROTECTED: Flags = Flags(PROT);
    /// Not matched by `CONFIG GET` patterns, only by its exact name.
    pub const HIDDEN: Flags = Flags(HID);
    /// `CONFIG SET` is refused with -LOADING while a dataset is loading.
    pub const DENY_LOADING: Flags = Flags(DENY);
    /// Takes several arguments; `CONFIG SET` splits its value on single spaces.
    pub const MULTI_ARG: Flags = Flags(MULTI);
    /// Redoubt's own directive, unknown to Redis 7.0 (always hidden too, so `CONFIG GET *`
    /// lists exactly Redis's names).
    pub const REDOUBT_ONLY: Flags = Flags(RDT);

    pub const fn contains(self, other: Flags) -> bool {
        self.0 & other.0 == other.0
    }
}

/// Whether Redoubt acts on a directive yet. Every directive is accepted, stored, shown by
/// `CONFIG GET` and rewritten whatever its status, as Redis does; the server uses this to warn
/// at startup about a non-default value that will have no effect.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Support {
    /// The server honours it.
    Yes,
    /// Planned, not built yet.
    NotYet,
    /// A feature Redoubt does not plan to have (TLS, cluster, modules, io-threads,
    /// jemalloc tuning, ...).
    Never,
}

/// How an integer directive's text is read and shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IntFormat {
    /// `string2ll`: strict decimal.
    Plain,
    /// `memtoull`: decimal with an optional unit (`k`, `kb`, `m`, `mb`, `g`, `gb`, `b`).
    Memory,
    /// Memory, or `N%` stored as `-N` (`maxmemory-clients`).
    MemoryOrPercent,
    /// `strtoll(.., 8)`, shown in octal (`unixsocketperm`).
    Octal,
}

#[derive(Debug, Clone, Copy)]
pub struct IntSpec {
    /// Bounds as `long long`; when `unsigned`, compared as `unsigned long long` (Redis does
    /// so for its `unsigned int`, `unsigned long long` and `size_t` configs).
    pub min: i64,
    pub max: i64,
    pub default: i64,
    pub unsigned: bool,
    pub format: IntFormat,
}

#[derive(Debug, Clone, Copy)]
pub struct EnumSpec {
    /// Names in Redis's order; several names may share a value (`oom-score-adj`: `yes` and
    /// `relative`), and the first one is what `CONFIG GET` shows.
    pub values: &'static [(&'static str, i32)],
    pub default: i32,
    /// A multi-argument enum whose values are bit flags (`shutdown-on-sigint`).
    pub bitflags: bool,
}

#[derive(Debug, Clone, Copy)]
pub struct StrSpec {
    /// `None` is C's NULL: shown as "", and the directive is left out of a rewritten file.
    pub default: Option<&'static str>,
    /// `EMPTY_STRING_IS_NULL`: setting "" stores NULL.
    pub empty_is_null: bool,
    /// An sds config (`masterauth`, `requirepass`): binary safe. Others are C strings and stop
    /// at the first NUL byte.
    pub binary: bool,
}

/// Directives with their own parser, printer and rewriter in `config.c`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Special {
    Dir,
    Save,
    ClientOutputBufferLimit,
    OomScoreAdjValues,
    NotifyKeyspaceEvents,
    Bind,
    ReplicaOf,
    LatencyTrackingInfoPercentiles,
}

#[derive(Debug, Clone, Copy)]
pub enum Kind {
    Bool { default: bool },
    Int(IntSpec),
    Enum(EnumSpec),
    Str(StrSpec),
    Special(Special),
}

/// Extra validation a directive gets after its type's parsing (`is_valid_fn` in Redis).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Check {
    None,
    /// This Redis 7.0.15 build (Debian, system jemalloc) cannot enable active defrag, and
    /// neither can Redoubt.
    ActiveDefrag,
    DbFilename,
    AofFilename,
    AofDirname,
    Hostname,
    ProcTitle,
    ShutdownFlags,
}

#[derive(Debug)]
pub struct Directive {
    pub name: &'static str,
    /// The legacy name; 7.0 has at most one per directive.
    pub alias: Option<&'static str>,
    pub kind: Kind,
    pub flags: Flags,
    pub support: Support,
    pub(crate) check: Check,
}

impl Directive {
    pub fn is_immutable(&self) -> bool {
        self.flags.contains(Flags::IMMUTABLE)
    }
    pub fn is_sensitive(&self) -> bool {
        self.flags.contains(Flags::SENSITIVE)
    }
    pub fn is_protected(&self) -> bool {
        self.flags.contains(Flags::PROTECTED)
    }
    pub fn is_hidden(&self) -> bool {
        self.flags.contains(Flags::HIDDEN)
    }
    pub fn is_multi_arg(&self) -> bool {
        self.flags.contains(Flags::MULTI_ARG)
    }
    pub fn denied_while_loading(&self) -> bool {
        self.flags.contains(Flags::DENY_LOADING)
    }
    pub fn is_redoubt_only(&self) -> bool {
        self.flags.contains(Flags::REDOUBT_ONLY)
    }
}

const INT_MAX: i64 = i32::MAX as i64;
const INT_MIN: i64 = i32::MIN as i64;
const UINT_MAX: i64 = u32::MAX as i64;
const LONG_MAX: i64 = i64::MAX;
/// `ULLONG_MAX` as a `long long` bit pattern; only meaningful with `unsigned: true`.
const ULLONG_MAX: i64 = -1;

use Support::{Never, NotYet};

const fn d(
    name: &'static str,
    alias: Option<&'static str>,
    flags: u16,
    kind: Kind,
    support: Support,
    check: Check,
) -> Directive {
    Directive {
        name,
        alias,
        kind,
        flags: Flags(flags),
        support,
        check,
    }
}

const fn b(
    name: &'static str,
    alias: Option<&'static str>,
    flags: u16,
    def: bool,
    s: Support,
) -> Directive {
    d(
        name,
        alias,
        flags,
        Kind::Bool { default: def },
        s,
        Check::None,
    )
}

#[allow(clippy::too_many_arguments)]
const fn n(
    name: &'static str,
    alias: Option<&'static str>,
    flags: u16,
    min: i64,
    max: i64,
    default: i64,
    unsigned: bool,
    format: IntFormat,
    s: Support,
) -> Directive {
    d(
        name,
        alias,
        flags,
        Kind::Int(IntSpec {
            min,
            max,
            default,
            unsigned,
            format,
        }),
        s,
        Check::None,
    )
}

/// A signed plain integer (`int`, `long`, `long long`, `time_t`, `off_t` in Redis).
const fn int(
    name: &'static str,
    alias: Option<&'static str>,
    flags: u16,
    min: i64,
    max: i64,
    def: i64,
    s: Support,
) -> Directive {
    n(
        name,
        alias,
        flags,
        min,
        max,
        def,
        false,
        IntFormat::Plain,
        s,
    )
}

/// An unsigned plain integer (`unsigned int`, `size_t`).
const fn uint(
    name: &'static str,
    alias: Option<&'static str>,
    flags: u16,
    min: i64,
    max: i64,
    def: i64,
    s: Support,
) -> Directive {
    n(name, alias, flags, min, max, def, true, IntFormat::Plain, s)
}

const fn mem(
    name: &'static str,
    alias: Option<&'static str>,
    min: i64,
    max: i64,
    def: i64,
    unsigned: bool,
    s: Support,
) -> Directive {
    n(
        name,
        alias,
        0,
        min,
        max,
        def,
        unsigned,
        IntFormat::Memory,
        s,
    )
}

const fn e(
    name: &'static str,
    flags: u16,
    values: &'static [(&'static str, i32)],
    def: i32,
    s: Support,
) -> Directive {
    d(
        name,
        None,
        flags,
        Kind::Enum(EnumSpec {
            values,
            default: def,
            bitflags: false,
        }),
        s,
        Check::None,
    )
}

const fn s(
    name: &'static str,
    alias: Option<&'static str>,
    flags: u16,
    empty_is_null: bool,
    def: Option<&'static str>,
    sup: Support,
) -> Directive {
    d(
        name,
        alias,
        flags,
        Kind::Str(StrSpec {
            default: def,
            empty_is_null,
            binary: false,
        }),
        sup,
        Check::None,
    )
}

const fn sp(
    name: &'static str,
    alias: Option<&'static str>,
    flags: u16,
    special: Special,
    sup: Support,
) -> Directive {
    d(name, alias, flags, Kind::Special(special), sup, Check::None)
}

const fn with_check(mut dir: Directive, check: Check) -> Directive {
    dir.check = check;
    dir
}

const NULL: Option<&str> = None;
const NUL: bool = true; // EMPTY_STRING_IS_NULL
const ALLOW: bool = false; // ALLOW_EMPTY_STRING

pub const MAXMEMORY_POLICY: &[(&str, i32)] = &[
    ("volatile-lru", 1),
    ("volatile-lfu", 2),
    ("volatile-random", 3),
    ("volatile-ttl", 4),
    ("allkeys-lru", 5),
    ("allkeys-lfu", 6),
    ("allkeys-random", 7),
    ("noeviction", 8),
];
const SYSLOG_FACILITY: &[(&str, i32)] = &[
    ("user", 8),
    ("local0", 128),
    ("local1", 136),
    ("local2", 144),
    ("local3", 152),
    ("local4", 160),
    ("local5", 168),
    ("local6", 176),
    ("local7", 184),
];
pub const LOGLEVEL: &[(&str, i32)] = &[("debug", 0), ("verbose", 1), ("notice", 2), ("warning", 3)];
const SUPERVISED: &[(&str, i32)] = &[("upstart", 1), ("systemd", 2), ("auto", 3), ("no", 0)];
pub const APPENDFSYNC: &[(&str, i32)] = &[("everysec", 2), ("always", 1), ("no", 0)];
pub const REPL_DISKLESS_LOAD: &[(&str, i32)] =
    &[("disabled", 0), ("on-empty-db", 1), ("swapdb", 2)];
const TLS_AUTH_CLIENTS: &[(&str, i32)] = &[("no", 0), ("yes", 1), ("optional", 2)];
const OOM_SCORE_ADJ: &[(&str, i32)] = &[("no", 0), ("yes", 1), ("relative", 1), ("absolute", 2)];
pub const ACL_PUBSUB_DEFAULT: &[(&str, i32)] = &[("allchannels", 1), ("resetchannels", 0)];
pub const SANITIZE_DUMP_PAYLOAD: &[(&str, i32)] = &[("no", 0), ("yes", 1), ("clients", 2)];
pub const PROTECTED_ACTION: &[(&str, i32)] = &[("no", 0), ("yes", 1), ("local", 2)];
const ENDPOINT_TYPE: &[(&str, i32)] = &[("ip", 0), ("hostname", 1), ("unknown-endpoint", 2)];
pub const PROPAGATION_ERROR_BEHAVIOR: &[(&str, i32)] =
    &[("ignore", 0), ("panic", 1), ("panic-on-replicas", 2)];
/// `shutdown-on-sigint`/`-sigterm` flags (`SHUTDOWN_SAVE`, ... in `server.h`).
pub const SHUTDOWN_ON_SIG: &[(&str, i32)] = &[
    ("default", 0),
    ("save", 1),
    ("nosave", 2),
    ("now", 4),
    ("force", 8),
];

const fn shutdown_on(name: &'static str) -> Directive {
    let kind = Kind::Enum(EnumSpec {
        values: SHUTDOWN_ON_SIG,
        default: 0,
        bitflags: true,
    });
    d(name, None, MULTI, kind, NotYet, Check::ShutdownFlags)
}

const fn sds(name: &'static str, support: Support) -> Directive {
    let kind = Kind::Str(StrSpec {
        default: None,
        empty_is_null: true,
        binary: true,
    });
    d(name, None, SENS, kind, support, Check::None)
}

/// Every directive of Redis 7.0.15, in `static_configs[]` order (7.0.15's additions and the
/// TLS block last). Redis's own `CONFIG GET` and `CONFIG REWRITE` order is its dict's, which is
/// randomised per process; ours is this table's.
#[rustfmt::skip]
pub static DIRECTIVES: &[Directive] = &[
    // Bool configs.
    b("rdbchecksum", None, IMM, true, Support::Yes),
    b("daemonize", None, IMM, false, Support::Yes),
    b("io-threads-do-reads", None, IMM, false, Never),
    b("always-show-logo", None, IMM, false, NotYet),
    b("protected-mode", None, 0, true, Support::Yes),
    b("rdbcompression", None, 0, true, Support::Yes),
    b("rdb-del-sync-files", None, 0, false, Support::Yes),
    b("activerehashing", None, 0, true, Never),
    b("stop-writes-on-bgsave-error", None, 0, true, Support::Yes),
    b("set-proc-title", None, IMM, true, Never),
    b("dynamic-hz", None, 0, true, NotYet),
    b("lazyfree-lazy-eviction", None, 0, false, Support::Yes),
    b("lazyfree-lazy-expire", None, 0, false, Support::Yes),
    b("lazyfree-lazy-server-del", None, 0, false, Support::Yes),
    b("lazyfree-lazy-user-del", None, 0, false, Support::Yes),
    b("lazyfree-lazy-user-flush", None, 0, false, Support::Yes),
    b("repl-disable-tcp-nodelay", None, 0, false, Support::Yes),
    b("repl-diskless-sync", None, 0, true, Support::Yes),
    b("aof-rewrite-incremental-fsync", None, 0, true, NotYet),
    b("no-appendfsync-on-rewrite", None, 0, false, NotYet),
    b("cluster-require-full-coverage", None, 0, true, Never),
    b("rdb-save-incremental-fsync", None, 0, true, NotYet),
    b("aof-load-truncated", None, 0, true, Support::Yes),
    b("aof-use-rdb-preamble", None, 0, true, Support::Yes),
    b("aof-timestamp-enabled", None, 0, false, Support::Yes),
    b("cluster-replica-no-failover", Some("cluster-slave-no-failover"), 0, false, Never),
    b("replica-lazy-flush", Some("slave-lazy-flush"), 0, false, NotYet),
    b("replica-serve-stale-data", Some("slave-serve-stale-data"), 0, true, Support::Yes),
    b("replica-read-only", Some("slave-read-only"), 0, true, Support::Yes),
    b("replica-ignore-maxmemory", Some("slave-ignore-maxmemory"), 0, true, Support::Yes),
    b("jemalloc-bg-thread", None, 0, true, Never),
    with_check(b("activedefrag", None, 0, false, Never), Check::ActiveDefrag),
    b("syslog-enabled", None, IMM, false, Never),
    b("cluster-enabled", None, IMM, false, Never),
    b("appendonly", None, DENY, false, Support::Yes),
    b("cluster-allow-reads-when-down", None, 0, false, Never),
    b("cluster-allow-pubsubshard-when-down", None, 0, true, Never),
    b("crash-log-enabled", None, 0, true, Never),
    b("crash-memcheck-enabled", None, 0, true, Never),
    b("use-exit-on-panic", None, HID, false, Never),
    b("disable-thp", None, IMM, true, Never),
    b("cluster-allow-replica-migration", None, 0, true, Never),
    b("replica-announced", None, 0, true, Support::Yes),
    b("latency-tracking", None, 0, true, Support::Yes),
    b("aof-disable-auto-gc", None, 0, false, NotYet),

    // String configs.
    s("aclfile", None, IMM, ALLOW, Some(""), NotYet),
    s("unixsocket", None, IMM, NUL, NULL, Support::Yes),
    s("pidfile", None, IMM, NUL, NULL, Support::Yes),
    s("replica-announce-ip", Some("slave-announce-ip"), 0, NUL, NULL, Support::Yes),
    s("masteruser", None, SENS, NUL, NULL, Support::Yes),
    s("cluster-announce-ip", None, 0, NUL, NULL, Never),
    s("cluster-config-file", None, IMM, ALLOW, Some("nodes.conf"), Never),
    with_check(s("cluster-announce-hostname", None, 0, NUL, NULL, Never), Check::Hostname),
    s("syslog-ident", None, IMM, ALLOW, Some("redis"), Never),
    with_check(s("dbfilename", None, PROT, ALLOW, Some("dump.rdb"), Support::Yes), Check::DbFilename),
    with_check(s("appendfilename", None, IMM, ALLOW, Some("appendonly.aof"), Support::Yes), Check::AofFilename),
    with_check(s("appenddirname", None, IMM, ALLOW, Some("appendonlydir"), Support::Yes), Check::AofDirname),
    s("server_cpulist", None, IMM, NUL, NULL, Never),
    s("bio_cpulist", None, IMM, NUL, NULL, Never),
    s("aof_rewrite_cpulist", None, IMM, NUL, NULL, Never),
    s("bgsave_cpulist", None, IMM, NUL, NULL, Never),
    s("ignore-warnings", None, 0, ALLOW, Some(""), NotYet),
    with_check(s("proc-title-template", None, 0, ALLOW, Some("{title} {listen-addr} {server-mode}"), Never), Check::ProcTitle),
    s("bind-source-addr", None, 0, NUL, NULL, NotYet),
    s("logfile", None, IMM, ALLOW, Some(""), Support::Yes),

    // SDS configs.
    sds("masterauth", Support::Yes),
    sds("requirepass", Support::Yes),

    // Enum configs.
    e("supervised", IMM, SUPERVISED, 0, NotYet),
    e("syslog-facility", IMM, SYSLOG_FACILITY, 128, Never),
    e("repl-diskless-load", DENY, REPL_DISKLESS_LOAD, 0, Support::Yes),
    e("loglevel", 0, LOGLEVEL, 2, Support::Yes),
    e("maxmemory-policy", 0, MAXMEMORY_POLICY, 8, Support::Yes),
    e("appendfsync", 0, APPENDFSYNC, 2, Support::Yes),
    e("oom-score-adj", 0, OOM_SCORE_ADJ, 0, Never),
    e("acl-pubsub-default", 0, ACL_PUBSUB_DEFAULT, 0, NotYet),
    e("sanitize-dump-payload", 0, SANITIZE_DUMP_PAYLOAD, 0, NotYet),
    e("enable-protected-configs", IMM, PROTECTED_ACTION, 0, Support::Yes),
    e("enable-debug-command", IMM, PROTECTED_ACTION, 0, Support::Yes),
    e("enable-module-command", IMM, PROTECTED_ACTION, 0, Never),
    e("cluster-preferred-endpoint-type", 0, ENDPOINT_TYPE, 0, Never),
    e("propagation-error-behavior", 0, PROPAGATION_ERROR_BEHAVIOR, 0, NotYet),
    shutdown_on("shutdown-on-sigint"),
    shutdown_on("shutdown-on-sigterm"),

    // Integer configs.
    int("databases", None, IMM, 1, INT_MAX, 16, Support::Yes),
    int("port", None, 0, 0, 65535, 6379, Support::Yes),
    int("io-threads", None, IMM, 1, 128, 1, Never),
    int("auto-aof-rewrite-percentage", None, 0, 0, INT_MAX, 100, Support::Yes),
    int("cluster-replica-validity-factor", Some("cluster-slave-validity-factor"), 0, 0, INT_MAX, 10, Never),
    int("list-max-listpack-size", Some("list-max-ziplist-size"), 0, INT_MIN, INT_MAX, -2, Support::Yes),
    int("tcp-keepalive", None, 0, 0, INT_MAX, 300, Support::Yes),
    int("cluster-migration-barrier", None, 0, 0, INT_MAX, 1, Never),
    int("active-defrag-cycle-min", None, 0, 1, 99, 1, Never),
    int("active-defrag-cycle-max", None, 0, 1, 99, 25, Never),
    int("active-defrag-threshold-lower", None, 0, 0, 1000, 10, Never),
    int("active-defrag-threshold-upper", None, 0, 0, 1000, 100, Never),
    int("lfu-log-factor", None, 0, 0, INT_MAX, 10, Support::Yes),
    int("lfu-decay-time", None, 0, 0, INT_MAX, 1, Support::Yes),
    int("replica-priority", Some("slave-priority"), 0, 0, INT_MAX, 100, Support::Yes),
    int("repl-diskless-sync-delay", None, 0, 0, INT_MAX, 5, Support::Yes),
    int("maxmemory-samples", None, 0, 1, INT_MAX, 5, Support::Yes),
    int("maxmemory-eviction-tenacity", None, 0, 0, 100, 10, NotYet),
    int("timeout", None, 0, 0, INT_MAX, 0, Support::Yes),
    int("replica-announce-port", Some("slave-announce-port"), 0, 0, 65535, 0, Support::Yes),
    int("tcp-backlog", None, IMM, 0, INT_MAX, 511, Support::Yes),
    int("cluster-port", None, IMM, 0, 65535, 0, Never),
    int("cluster-announce-bus-port", None, 0, 0, 65535, 0, Never),
    int("cluster-announce-port", None, 0, 0, 65535, 0, Never),
    int("cluster-announce-tls-port", None, 0, 0, 65535, 0, Never),
    int("repl-timeout", None, 0, 1, INT_MAX, 60, Support::Yes),
    int("repl-ping-replica-period", Some("repl-ping-slave-period"), 0, 1, INT_MAX, 10, Support::Yes),
    int("list-compress-depth", None, 0, 0, INT_MAX, 0, NotYet),
    int("rdb-key-save-delay", None, HID, INT_MIN, INT_MAX, 0, Support::Yes),
    int("key-load-delay", None, HID, INT_MIN, INT_MAX, 0, Support::Yes),
    int("active-expire-effort", None, 0, 1, 10, 1, NotYet),
    int("hz", None, 0, 0, INT_MAX, 10, Support::Yes),
    int("min-replicas-to-write", Some("min-slaves-to-write"), 0, 0, INT_MAX, 0, Support::Yes),
    int("min-replicas-max-lag", Some("min-slaves-max-lag"), 0, 0, INT_MAX, 10, Support::Yes),
    int("watchdog-period", None, HID, 0, INT_MAX, 0, Never),
    // Redoubt's safe mode (docs/ARCHITECTURE.md "Safe mode"): a write's reply waits until
    // this many replicas acknowledged its effect.
    int("replica-ack-before-reply", None, HID | RDT, 0, INT_MAX, 0, Support::Yes),
    int("shutdown-timeout", None, 0, 0, INT_MAX, 10, NotYet),
    int("repl-diskless-sync-max-replicas", None, 0, 0, INT_MAX, 0, Support::Yes),

    // Unsigned int configs.
    uint("maxclients", None, 0, 1, UINT_MAX, 10000, Support::Yes),
    n("unixsocketperm", None, IMM, 0, 0o777, 0, true, IntFormat::Octal, Support::Yes),
    uint("socket-mark-id", None, IMM, 0, UINT_MAX, 0, Never),

    // Unsigned long configs: Redis bounds-checks these as signed.
    int("active-defrag-max-scan-fields", None, 0, 1, LONG_MAX, 1000, Never),
    int("slowlog-max-len", None, 0, 0, LONG_MAX, 128, Support::Yes),
    int("acllog-max-len", None, 0, 0, LONG_MAX, 128, NotYet),

    // Long long configs.
    int("busy-reply-threshold", Some("lua-time-limit"), 0, 0, LONG_MAX, 5000, NotYet),
    int("cluster-node-timeout", None, 0, 0, LONG_MAX, 15000, Never),
    int("slowlog-log-slower-than", None, 0, -1, LONG_MAX, 10000, Support::Yes),
    int("latency-monitor-threshold", None, 0, 0, LONG_MAX, 0, NotYet),
    mem("proto-max-bulk-len", None, 1024 * 1024, LONG_MAX, 512 * 1024 * 1024, false, Support::Yes),
    int("stream-node-max-entries", None, 0, 0, LONG_MAX, 100, NotYet),
    mem("repl-backlog-size", None, 1, LONG_MAX, 1024 * 1024, false, Support::Yes),

    // Unsigned long long configs.
    mem("maxmemory", None, 0, ULLONG_MAX, 0, true, Support::Yes),
    mem("cluster-link-sendbuf-limit", None, 0, ULLONG_MAX, 0, true, Never),

    // size_t and ssize_t configs.
    uint("hash-max-listpack-entries", Some("hash-max-ziplist-entries"), 0, 0, LONG_MAX, 512, Support::Yes),
    uint("set-max-intset-entries", None, 0, 0, LONG_MAX, 512, Support::Yes),
    uint("zset-max-listpack-entries", Some("zset-max-ziplist-entries"), 0, 0, LONG_MAX, 128, Support::Yes),
    mem("active-defrag-ignore-bytes", None, 1, LONG_MAX, 100 << 20, true, Never),
    mem("hash-max-listpack-value", Some("hash-max-ziplist-value"), 0, LONG_MAX, 64, true, Support::Yes),
    mem("stream-node-max-bytes", None, 0, LONG_MAX, 4096, true, NotYet),
    mem("zset-max-listpack-value", Some("zset-max-ziplist-value"), 0, LONG_MAX, 64, true, Support::Yes),
    mem("hll-sparse-max-bytes", None, 0, LONG_MAX, 3000, true, Support::Yes),
    uint("tracking-table-max-keys", None, 0, 0, LONG_MAX, 1_000_000, NotYet),
    mem("client-query-buffer-limit", None, 1024 * 1024, LONG_MAX, 1024 * 1024 * 1024, true, Support::Yes),
    n("maxmemory-clients", None, 0, -100, LONG_MAX, 0, false, IntFormat::MemoryOrPercent, NotYet),

    // time_t and off_t configs.
    int("repl-backlog-ttl", None, 0, 0, LONG_MAX, 3600, Support::Yes),
    mem("auto-aof-rewrite-min-size", None, 0, LONG_MAX, 64 * 1024 * 1024, false, Support::Yes),
    int("loading-process-events-interval-bytes", None, HID, 1024, INT_MAX, 2 * 1024 * 1024, NotYet),

    // Special configs.
    sp("dir", None, PROT | DENY, Special::Dir, Support::Yes),
    sp("save", None, MULTI, Special::Save, Support::Yes),
    sp("client-output-buffer-limit", None, MULTI, Special::ClientOutputBufferLimit, Support::Yes),
    sp("oom-score-adj-values", None, MULTI, Special::OomScoreAdjValues, Never),
    sp("notify-keyspace-events", None, 0, Special::NotifyKeyspaceEvents, NotYet),
    sp("bind", None, MULTI, Special::Bind, Support::Yes),
    sp("replicaof", Some("slaveof"), IMM | MULTI, Special::ReplicaOf, Support::Yes),
    sp("latency-tracking-info-percentiles", None, MULTI, Special::LatencyTrackingInfoPercentiles, Support::Yes),

    // Added during the 7.0 series after the table above was laid out.
    b("replica-ignore-disk-write-errors", None, 0, false, NotYet),
    // A hidden, immutable switch from Debian's security backport (CVE fixes for Lua); the
    // oracle binary has it.
    b("lua-enable-deprecated-api", None, HID | IMM, false, Never),

    // Redoubt's own: the Prometheus endpoint's port (0: off). Hidden, so `CONFIG GET *` stays
    // Redis's list; immutable, as the listener is opened once at startup.
    int("redoubt-metrics-port", None, HID | IMM | RDT, 0, 65535, 0, Support::Yes),

    // TLS configs: the oracle is built with TLS, so `CONFIG GET *` lists them.
    int("tls-port", None, 0, 0, 65535, 0, Never),
    int("tls-session-cache-size", None, 0, 0, INT_MAX, 20 * 1024, Never),
    int("tls-session-cache-timeout", None, 0, 0, INT_MAX, 300, Never),
    b("tls-cluster", None, 0, false, Never),
    b("tls-replication", None, 0, false, Never),
    e("tls-auth-clients", 0, TLS_AUTH_CLIENTS, 1, Never),
    b("tls-prefer-server-ciphers", None, 0, false, Never),
    b("tls-session-caching", None, 0, true, Never),
    s("tls-cert-file", None, 0, NUL, NULL, Never),
    s("tls-key-file", None, 0, NUL, NULL, Never),
    s("tls-key-file-pass", None, 0, NUL, NULL, Never),
    s("tls-client-cert-file", None, 0, NUL, NULL, Never),
    s("tls-client-key-file", None, 0, NUL, NULL, Never),
    s("tls-client-key-file-pass", None, 0, NUL, NULL, Never),
    s("tls-dh-params-file", None, 0, NUL, NULL, Never),
    s("tls-ca-cert-file", None, 0, NUL, NULL, Never),
    s("tls-ca-cert-dir", None, 0, NUL, NULL, Never),
    s("tls-protocols", None, 0, NUL, NULL, Never),
    s("tls-ciphers", None, 0, NUL, NULL, Never),
    s("tls-ciphersuites", None, 0, NUL, NULL, Never),
];

/// Directives that are only lines of a file: they have no value of their own in `CONFIG GET`.
pub const FILE_ONLY_DIRECTIVES: &[&str] = &[
    "include",
    "rename-command",
    "user",
    "loadmodule",
    "sentinel",
];

/// Accepted and ignored at load (`deprecated_configs[]`), when given exactly one argument.
pub(crate) const DEPRECATED: &[&str] = &[
    "list-max-ziplist-entries",
    "list-max-ziplist-value",
    "lua-replicate-commands",
];

/// What a looked-up name resolved to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NameMatch {
    pub id: DirectiveId,
    /// The table's spelling of the name that matched: the alias when an alias was used.
    /// Redis reports errors and replies with this spelling.
    pub name: &'static str,
    pub is_alias: bool,
}

fn index() -> &'static HashMap<String, NameMatch> {
    static INDEX: OnceLock<HashMap<String, NameMatch>> = OnceLock::new();
    INDEX.get_or_init(|| {
        let mut map = HashMap::with_capacity(DIRECTIVES.len() * 2);
        for (i, dir) in DIRECTIVES.iter().enumerate() {
            let id = DirectiveId(u16::try_from(i).expect("the table has fewer than 65536 entries"));
            let old = map.insert(
                dir.name.to_owned(),
                NameMatch {
                    id,
                    name: dir.name,
                    is_alias: false,
                },
            );
            assert!(old.is_none(), "duplicate directive {}", dir.name);
            if let Some(alias) = dir.alias {
                let old = map.insert(
                    alias.to_owned(),
                    NameMatch {
                        id,
                        name: alias,
                        is_alias: true,
                    },
                );
                assert!(old.is_none(), "duplicate directive {alias}");
            }
        }
        map
    })
}

/// Finds a directive by name or alias, ignoring ASCII case, as Redis's `configs` dict does.
pub fn lookup(name: &[u8]) -> Option<NameMatch> {
    let name = std::str::from_utf8(name).ok()?;
    // The typed getters pass lower-case literals on every command (SADD reads
    // `set-max-intset-entries`): look those up without allocating a lowered copy.
    if !name.bytes().any(|b| b.is_ascii_uppercase()) {
        return index().get(name).copied();
    }
    index().get(&name.to_ascii_lowercase()).copied()
}

/// Finds a directive by its name or alias; panics on a name not in the table, which is a bug
/// in the caller (the typed getters take literal names).
pub(crate) fn must_lookup(name: &str) -> DirectiveId {
    match lookup(name.as_bytes()) {
        Some(m) => m.id,
        None => panic!("no directive named {name:?} in the 7.0 table"),
    }
}

/// Every name `CONFIG GET` can match, in table order: each directive, then its alias.
pub(crate) fn all_names() -> impl Iterator<Item = NameMatch> {
    DIRECTIVES.iter().enumerate().flat_map(|(i, dir)| {
        let id = DirectiveId(i as u16);
        let primary = NameMatch {
            id,
            name: dir.name,
            is_alias: false,
        };
        let alias = dir.alias.map(|a| NameMatch {
            id,
            name: a,
            is_alias: true,
        });
        std::iter::once(primary).chain(alias)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_match_redis_7_0_15() {
        // 192 names from `CONFIG GET *` (173 directives + 19 aliases) plus 6 hidden ones,
        // plus Redoubt's own (hidden) directives.
        let visible = DIRECTIVES.iter().filter(|d| !d.is_hidden()).count();
        let aliases = DIRECTIVES.iter().filter(|d| d.alias.is_some()).count();
        let ours = DIRECTIVES.iter().filter(|d| d.is_redoubt_only()).count();
        assert_eq!(visible, 173);
        assert_eq!(aliases, 19);
        assert_eq!(DIRECTIVES.len() - ours, 179);
        let mut ours: Vec<&str> = DIRECTIVES
            .iter()
            .filter(|d| d.is_redoubt_only())
            .map(|d| d.name)
            .collect();
        ours.sort_unstable();
        assert_eq!(ours, ["redoubt-metrics-port", "replica-ack-before-reply"]);
        assert!(DIRECTIVES
            .iter()
            .filter(|d| d.is_redoubt_only())
            .all(|d| d.is_hidden()));
    }

    #[test]
    fn lookup_ignores_case_and_knows_aliases() {
        let m = lookup(b"SLAVEOF").expect("alias");
        assert_eq!(m.name, "slaveof");
        assert!(m.is_alias);
        assert_eq!(m.id.directive().name, "replicaof");
        assert_eq!(lookup(b"Maxmemory").map(|m| m.name), Some("maxmemory"));
        assert!(lookup(b"include").is_none());
        assert!(lookup(b"\xff").is_none());
    }

    #[test]
    fn defaults_are_within_bounds() {
        for dir in DIRECTIVES {
            if let Kind::Int(spec) = dir.kind {
                if spec.unsigned {
                    let (v, lo, hi) = (spec.default as u64, spec.min as u64, spec.max as u64);
                    assert!(lo <= v && v <= hi, "{}", dir.name);
                } else {
                    assert!(
                        spec.min <= spec.default && spec.default <= spec.max,
                        "{}",
                        dir.name
                    );
                }
            }
        }
    }
}
