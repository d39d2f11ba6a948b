//! TTL commands (Redis 7.0 expire.c): EXPIRE PEXPIRE EXPIREAT PEXPIREAT with NX XX GT LT,
//! TTL PTTL EXPIRETIME PEXPIRETIME, PERSIST.
//!
//! Effects: a new deadline is propagated as `PEXPIREAT key <absolute ms> [options as
//! written]` (PEXPIREAT itself as written), so it replays to the same instant anywhere; a
//! deadline already in the past deletes the key on a master and is propagated as `DEL key`
//! (`UNLINK key` with `lazyfree-lazy-expire`); PERSIST that removed a TTL is propagated as
//! written.

use crate::commands::keys::as_written;
use crate::ctx::Ctx;
use crate::errors;
use crate::table::Handler;
use bytes::Bytes;
use redoubt_keyspace::NO_EXPIRE;

#[derive(Default, Clone, Copy)]
struct ExpireFlags {
    nx: bool,
    xx: bool,
    gt: bool,
    lt: bool,
}

/// `parseExtendedExpireArgumentsOrReply`: options are checked before the time argument.
fn parse_expire_flags(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> Option<ExpireFlags> {
    let mut f = ExpireFlags::default();
    for opt in &argv[3..] {
        let o = &opt[..];
        if o.eq_ignore_ascii_case(b"nx") {
            f.nx = true;
        } else if o.eq_ignore_ascii_case(b"xx") {
            f.xx = true;
        } else if o.eq_ignore_ascii_case(b"gt") {
            f.gt = true;
        } else if o.eq_ignore_ascii_case(b"lt") {
            f.lt = true;
        } else {
            let msg = format!(
                "ERR Unsupported option {}",
                errors::c_str_trunc(o, usize::MAX)
            );
            ctx.error(&msg);
            return None;
        }
    }
    if f.nx && (f.xx || f.gt || f.lt) {
        ctx.error("ERR NX and XX, GT or LT options at the same time are not compatible");
        return None;
    }
    if f.gt && f.lt {
        ctx.error("ERR GT and LT options at the same time are not compatible");
        return None;
    }
    Some(f)
}

/// `expireGenericCommand`. `basetime_ms` is 0 for the *AT forms, else now.
fn expire_generic(ctx: &mut Ctx<'_>, argv: &[Bytes], basetime_ms: i64, seconds: bool) {
    let key = &argv[1][..];
    let Some(flags) = parse_expire_flags(ctx, argv) else {
        return;
    };
    let Some(mut when) = ctx.parse_i64(&argv[2]) else {
        return;
    };
    // Negative times are allowed (they delete the key); only overflow is refused.
    if seconds {
        if !(i64::MIN / 1000..=i64::MAX / 1000).contains(&when) {
            let msg = errors::invalid_expire(&ctx.cmd.name);
            ctx.error(&msg);
            return;
        }
        when *= 1000;
    }
    if when > i64::MAX - basetime_ms {
        let msg = errors::invalid_expire(&ctx.cmd.name);
        ctx.error(&msg);
        return;
    }
    when += basetime_ms;

    if ctx.lookup_write(key).is_none() {
        ctx.out().int(0);
        return;
    }
    let db = ctx.client.db;
    let current = ctx.eng.dbs[db].expire_of(key);
    // GT treats "no TTL" as infinite (never greater); LT lets any deadline beat it.
    let refused = (flags.nx && current != NO_EXPIRE)
        || (flags.xx && current == NO_EXPIRE)
        || (flags.gt && (current == NO_EXPIRE || when <= current))
        || (flags.lt && current != NO_EXPIRE && when >= current);
    if refused {
        ctx.out().int(0);
        return;
    }

    // `checkAlreadyExpired`: a replica keeps the key and waits for its master's DEL.
    if when <= ctx.now_ms && !ctx.eng.is_replica() {
        let lazy = ctx.eng.conf.lazyfree_lazy_expire;
        ctx.remove_and_propagate(db, key, lazy);
        ctx.out().int(1);
        return;
    }
    ctx.eng.dbs[db].set_expire(key, when);
    ctx.out().int(1);
    if ctx.cmd.name == "pexpireat" {
        ctx.propagate(&as_written(argv));
    } else {
        let mut t = itoa::Buffer::new();
        let ms = t.format(when).as_bytes();
        let mut effect: Vec<&[u8]> = vec![b"PEXPIREAT", key, ms];
        effect.extend(argv[3..].iter().map(|a| &a[..]));
        ctx.propagate(&effect);
    }
    ctx.signal_modified(db, key);
    ctx.dirty(1);
}

pub fn expire(ctx: &mut Ctx<'_>, argv: &[Bytes]) {
    let now = ctx.now_ms;
    expire_generic(ctx, argv, now, true);
}

pub fn pexpire(ctx: &mut Ctx<'_>, argv: &[Bytes]) {
    let now = ctx.now_ms;
    expire_generic(ctx, argv, now, false);
}

pub fn expireat(ctx: &mut Ctx<'_>, argv: &[Bytes]) {
    expire_generic(ctx, argv, 0, true);
}

pub fn pexpireat(ctx: &mut Ctx<'_>, argv: &[Bytes]) {
    expire_generic(ctx, argv, 0, false);
}

/// `ttlGenericCommand`: -2 without the key, -1 without a TTL; the relative forms never go
/// below 0 and TTL rounds to the nearest second.
fn ttl_generic(ctx: &mut Ctx<'_>, argv: &[Bytes], ms: bool, absolute: bool) {
    let Some(e) = ctx.lookup_read_notouch(&argv[1]) else {
        ctx.out().int(-2);
        return;
    };
    let at = e.expire_at_ms;
    if at == NO_EXPIRE {
        ctx.out().int(-1);
        return;
    }
    let ttl = if absolute {
        at
    } else {
        at.saturating_sub(ctx.now_ms)
    }
    .max(0);
    // Rounded as if without overflow: Redis's C `(ttl+500)/1000` on LLONG_MAX gives
    // 9223372036854776 as compiled (verified against 7.0.15).
    let secs = ((i128::from(ttl) + 500) / 1000) as i64;
    ctx.out().int(if ms { ttl } else { secs });
}

pub fn ttl(ctx: &mut Ctx<'_>, argv: &[Bytes]) {
    ttl_generic(ctx, argv, false, false);
}

pub fn pttl(ctx: &mut Ctx<'_>, argv: &[Bytes]) {
    ttl_generic(ctx, argv, true, false);
}

pub fn expiretime(ctx: &mut Ctx<'_>, argv: &[Bytes]) {
    ttl_generic(ctx, argv, false, true);
}

pub fn pexpiretime(ctx: &mut Ctx<'_>, argv: &[Bytes]) {
    ttl_generic(ctx, argv, true, true);
}

pub fn persist(ctx: &mut Ctx<'_>, argv: &[Bytes]) {
    let key = &argv[1][..];
    if ctx.lookup_write(key).is_none() {
        ctx.out().int(0);
        return;
    }
    let db = ctx.client.db;
    if !ctx.eng.dbs[db].persist(key) {
        ctx.out().int(0);
        return;
    }
    ctx.signal_modified(db, key);
    ctx.dirty(1);
    ctx.propagate(&as_written(argv));
    ctx.out().int(1);
}

/// This family's commands (see `commands::all`).
pub static HANDLERS: &[(&str, Handler)] = &[
    ("expire", expire),
    ("pexpire", pexpire),
    ("expireat", expireat),
    ("pexpireat", pexpireat),
    ("ttl", ttl),
    ("pttl", pttl),
    ("expiretime", expiretime),
    ("pexpiretime", pexpiretime),
    ("persist", persist),
];

#[cfg(test)]
mod tests {
    //! Replies checked byte for byte against redis-server 7.0.15; effects against a 7.0.15
    //! replica's MONITOR (`EXPIRE a 100 nx` -> `PEXPIREAT a <ms> nx`, `EXPIRE a -5` -> `DEL a`).
    use crate::testing::TestEngine;

    const NOW: i64 = 1_700_000_000_000;

    #[test]
    fn option_conflicts_come_before_the_time_argument() {
        let mut t = TestEngine::new();
        t.run("SET k v");
        let nx = "-ERR NX and XX, GT or LT options at the same time are not compatible|";
        let gtlt = "-ERR GT and LT options at the same time are not compatible|";
        assert_eq!(t.text("EXPIRE k 100 NX XX"), nx);
        assert_eq!(t.text("EXPIRE k 100 NX GT"), nx);
        assert_eq!(t.text("EXPIRE k abc nx lt"), nx);
        assert_eq!(t.text("EXPIRE k 100 GT LT"), gtlt);
        assert_eq!(t.text("EXPIRE k 100 XX GT LT"), gtlt);
        assert_eq!(t.text("EXPIRE k abc foo"), "-ERR Unsupported option foo|");
        assert_eq!(t.text("Expire k 5 6"), "-ERR Unsupported option 6|");
        assert_eq!(
            t.text("EXPIRE k 5 \"fo\\x00o\""),
            "-ERR Unsupported option fo|"
        );
        assert_eq!(
            t.text("EXPIRE k 5 \"a\\nb\""),
            "-ERR Unsupported option a b|"
        );
        assert_eq!(t.text("EXPIRE nokey 50 NX XX"), nx);
        for bad in ["abc", "\"+5\"", "\" 5\"", "05", "\"\""] {
            assert_eq!(
                t.text(&format!("EXPIRE k {bad}")),
                "-ERR value is not an integer or out of range|"
            );
        }
        assert_eq!(t.stream_cmds(), "SELECT 0\nSET k v");
    }

    #[test]
    fn overflow_is_refused_per_command_name() {
        let mut t = TestEngine::new();
        t.run("SET k v");
        for (cmd, name) in [
            ("EXPIRE k 9223372036854775", "expire"),
            ("EXPIRE k 9223372036854776", "expire"),
            ("EXPIRE k -9223372036854776", "expire"),
            ("PEXPIRE k 9223372036854775807", "pexpire"),
            ("EXPIREAT k 9223372036854776", "expireat"),
            ("expireat k -9223372036854776", "expireat"),
        ] {
            assert_eq!(
                t.text(cmd),
                format!("-ERR invalid expire time in '{name}' command|"),
                "{cmd}"
            );
        }
        assert_eq!(t.text("EXISTS k"), ":1|");
        // The largest deadlines are accepted.
        assert_eq!(t.text("PEXPIREAT k 9223372036854775807"), ":1|");
        assert_eq!(t.text("PEXPIRETIME k"), ":9223372036854775807|");
        assert_eq!(t.text("EXPIRETIME k"), ":9223372036854776|");
        assert_eq!(t.text("EXPIREAT k 9223372036854775"), ":1|");
        assert_eq!(t.text("PEXPIRETIME k"), ":9223372036854775000|");
    }

    #[test]
    fn effects_are_absolute_pexpireat_keeping_options() {
        let mut t = TestEngine::new();
        t.run("SET a 1");
        t.stream();
        assert_eq!(t.text("EXPIRE a 100 nx"), ":1|");
        assert_eq!(t.stream_cmds(), format!("PEXPIREAT a {} nx", NOW + 100_000));
        assert_eq!(t.text("expireat a 4000000000 gt"), ":1|");
        assert_eq!(t.stream_cmds(), "PEXPIREAT a 4000000000000 gt");
        assert_eq!(t.text("pexpire a 100000 XX"), ":1|");
        assert_eq!(t.stream_cmds(), format!("PEXPIREAT a {} XX", NOW + 100_000));
        // PEXPIREAT is propagated as written.
        assert_eq!(
            t.text("pexpireat a +4000000000001"),
            "-ERR value is not an integer or out of range|"
        );
        assert_eq!(t.text("pexpireat a 4000000000001"), ":1|");
        assert_eq!(t.stream_cmds(), "pexpireat a 4000000000001");
        // Refused conditions and missing keys change nothing.
        assert_eq!(t.text("EXPIRE a 100 NX"), ":0|");
        assert_eq!(t.text("EXPIRE nokey 10"), ":0|");
        assert_eq!(t.stream_cmds(), "");
    }

    #[test]
    fn a_deadline_in_the_past_deletes_the_key() {
        let mut t = TestEngine::new();
        for cmd in [
            "EXPIRE k -5",
            "EXPIRE k 0",
            "PEXPIREAT k 1",
            "EXPIREAT k -9223372036854775",
            "PEXPIRE k -9223372036854775808",
        ] {
            t.run("SET k v");
            t.stream();
            assert_eq!(t.text(cmd), ":1|", "{cmd}");
            assert_eq!(t.text("EXISTS k"), ":0|");
            assert_eq!(t.stream_cmds(), "DEL k", "{cmd}");
        }
        // The deadline "now" itself is already past (`when <= now`).
        t.run("SET k v");
        t.stream();
        assert_eq!(t.text(&format!("PEXPIREAT k {NOW}")), ":1|");
        assert_eq!(t.stream_cmds(), "DEL k");
        t.eng.conf.lazyfree_lazy_expire = true;
        t.run("SET k v");
        t.stream();
        assert_eq!(t.text("EXPIRE k -1 LT"), ":1|");
        assert_eq!(t.stream_cmds(), "UNLINK k");
    }

    #[test]
    fn nx_xx_gt_lt() {
        let mut t = TestEngine::new();
        t.run("SET k v");
        assert_eq!(t.text("EXPIRE k 100 XX"), ":0|");
        assert_eq!(
            t.text("EXPIRE k 100 GT"),
            ":0|",
            "no TTL counts as infinite"
        );
        assert_eq!(
            t.text("EXPIRE k 100 LT"),
            ":1|",
            "any TTL is less than none"
        );
        assert_eq!(t.text("EXPIRE k 200 NX"), ":0|");
        assert_eq!(t.text("EXPIRE k 100 GT"), ":0|", "equal is not greater");
        assert_eq!(t.text("EXPIRE k 200 gt"), ":1|");
        assert_eq!(t.text("EXPIRE k 200 LT"), ":0|");
        assert_eq!(t.text("EXPIRE k 50 xx lt"), ":1|");
        assert_eq!(t.text("TTL k"), ":50|");
        assert_eq!(t.text("PERSIST k"), ":1|");
        assert_eq!(t.text("EXPIRE k 50 nx nx"), ":1|");
    }

    #[test]
    fn ttl_family_values_and_rounding() {
        let mut t = TestEngine::new();
        for cmd in ["TTL", "PTTL", "EXPIRETIME", "PEXPIRETIME"] {
            assert_eq!(t.text(&format!("{cmd} nokey")), ":-2|");
        }
        t.run("SET k v");
        for cmd in ["TTL", "PTTL", "EXPIRETIME", "PEXPIRETIME"] {
            assert_eq!(t.text(&format!("{cmd} k")), ":-1|");
        }
        t.run("PEXPIRE k 1500");
        assert_eq!(t.text("TTL k"), ":2|");
        assert_eq!(t.text("PTTL k"), ":1500|");
        assert_eq!(t.text("PEXPIRETIME k"), format!(":{}|", NOW + 1500));
        assert_eq!(
            t.text("EXPIRETIME k"),
            format!(":{}|", (NOW + 1500 + 500) / 1000)
        );
        t.run("PEXPIRE k 1499");
        assert_eq!(t.text("TTL k"), ":1|");
        // At the deadline the key still exists (expiry is strictly after) with TTL 0.
        t.now_ms += 1499;
        assert_eq!(t.text("PTTL k"), ":0|");
        t.stream();
        t.now_ms += 1;
        assert_eq!(t.text("PTTL k"), ":-2|");
        assert_eq!(t.stream_cmds(), "DEL k");
        assert_eq!(
            t.text("TTL a b"),
            "-ERR wrong number of arguments for 'ttl' command|"
        );
    }

    #[test]
    fn persist() {
        let mut t = TestEngine::new();
        assert_eq!(t.text("PERSIST nokey"), ":0|");
        t.run("SET k v EX 100");
        t.stream();
        assert_eq!(t.text("persist k"), ":1|");
        assert_eq!(t.stream_cmds(), "persist k");
        assert_eq!(t.text("PERSIST k"), ":0|");
        assert_eq!(t.text("TTL k"), ":-1|");
        assert_eq!(t.stream_cmds(), "");
    }
}
