//! PING ECHO QUIT SELECT AUTH HELLO RESET (Redis 7.0 server.c / networking.c / acl.c).

use crate::client::ReplyMode;
use crate::ctx::Ctx;
use crate::errors;
use crate::table::Handler;
use bytes::Bytes;
use redoubt_resp::Protocol;

pub fn ping(ctx: &mut Ctx<'_>, argv: &[Bytes]) {
    if argv.len() > 2 {
        ctx.error(&errors::wrong_args("ping"));
        return;
    }
    // A RESP2 subscribed client gets PONG as a two-element array (Redis's pingCommand).
    if ctx.client.in_pubsub() && ctx.client.proto() == Protocol::Resp2 {
        let out = ctx.out();
        out.array_len(2);
        out.bulk(b"pong");
        out.bulk(argv.get(1).map_or(&b""[..], |a| &a[..]));
    } else if let Some(msg) = argv.get(1) {
        ctx.out().bulk(msg);
    } else {
        ctx.out().simple("PONG");
    }
}

pub fn echo(ctx: &mut Ctx<'_>, argv: &[Bytes]) {
    ctx.out().bulk(&argv[1]);
}

pub fn quit(ctx: &mut Ctx<'_>, _argv: &[Bytes]) {
    ctx.ok();
    ctx.client.close_after_reply = true;
}

/// Redis's `getIntFromObjectOrReply`: a 32-bit integer.
pub fn parse_i32(ctx: &mut Ctx<'_>, arg: &[u8]) -> Option<i32> {
    match redoubt_keyspace::num::string2ll(arg).and_then(|n| i32::try_from(n).ok()) {
        Some(n) => Some(n),
        None => {
            ctx.error(errors::NOT_INTEGER);
            None
        }
    }
}

pub fn select(ctx: &mut Ctx<'_>, argv: &[Bytes]) {
    let Some(id) = parse_i32(ctx, &argv[1]) else {
        return;
    };
    if id < 0 || id as usize >= ctx.eng.dbs.len() {
        ctx.error(errors::DB_INDEX);
        return;
    }
    ctx.client.db = id as usize;
    ctx.ok();
}

/// Checks a username/password pair against the default user (the only user until ACLs).
fn authenticate(ctx: &Ctx<'_>, user: &[u8], pass: &[u8]) -> bool {
    if user != b"default" {
        return false;
    }
    match &ctx.eng.conf.requirepass {
        None => true,
        Some(p) => constant_time_eq(p, pass),
    }
}

/// Compares without an early exit, so timing does not reveal a password prefix.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    let mut diff = a.len() ^ b.len();
    for i in 0..a.len().max(b.len()) {
        diff |= usize::from(a.get(i).copied().unwrap_or(0) ^ b.get(i).copied().unwrap_or(0));
    }
    diff == 0
}

pub fn auth(ctx: &mut Ctx<'_>, argv: &[Bytes]) {
    if argv.len() > 3 {
        ctx.error(errors::SYNTAX);
        return;
    }
    let (user, pass): (&[u8], &[u8]) = if argv.len() == 2 {
        if ctx.eng.conf.requirepass.is_none() {
            ctx.error(
                "ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?",
            );
            return;
        }
        (b"default", &argv[1])
    } else {
        (&argv[1], &argv[2])
    };
    if authenticate(ctx, user, pass) {
        ctx.client.authenticated = true;
        ctx.ok();
    } else {
        ctx.error(errors::WRONGPASS);
    }
}

/// Redis's client name rule: printable ASCII without spaces.
pub fn valid_client_name(name: &[u8]) -> bool {
    name.iter().all(|&b| (b'!'..=b'~').contains(&b))
}

pub const BAD_CLIENT_NAME: &str =
    "ERR Client names cannot contain spaces, newlines or special characters.";

pub fn hello(ctx: &mut Ctx<'_>, argv: &[Bytes]) {
    let mut ver = None;
    let mut next = 1;
    if argv.len() >= 2 {
        next = 2;
        match redoubt_keyspace::num::string2ll(&argv[1]) {
            None => {
                ctx.error("ERR Protocol version is not an integer or out of range");
                return;
            }
            Some(v) if !(2..=3).contains(&v) => {
                ctx.error("NOPROTO unsupported protocol version");
                return;
            }
            Some(v) => ver = Some(v),
        }
    }
    let mut creds: Option<(&Bytes, &Bytes)> = None;
    let mut name: Option<&Bytes> = None;
    let mut j = next;
    while j < argv.len() {
        let more = argv.len() - 1 - j;
        let opt = &argv[j];
        if opt.eq_ignore_ascii_case(b"AUTH") && more >= 2 {
            creds = Some((&argv[j + 1], &argv[j + 2]));
            j += 3;
        } else if opt.eq_ignore_ascii_case(b"SETNAME") && more >= 1 {
            name = Some(&argv[j + 1]);
            j += 2;
        } else {
            ctx.error(&format!(
                "ERR Syntax error in HELLO option '{}'",
                errors::c_str_trunc(opt, usize::MAX)
            ));
            return;
        }
    }
    if let Some((u, p)) = creds {
        if authenticate(ctx, u, p) {
            ctx.client.authenticated = true;
        } else {
            ctx.error(errors::WRONGPASS);
            return;
        }
    }
    if !ctx.client.authenticated {
        ctx.error("NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time");
        return;
    }
    if let Some(n) = name {
        if !valid_client_name(n) {
            ctx.error(BAD_CLIENT_NAME);
            return;
        }
        ctx.client.name = if n.is_empty() { None } else { Some(n.clone()) };
    }
    if let Some(v) = ver {
        ctx.client.out.proto = if v == 3 {
            Protocol::Resp3
        } else {
            Protocol::Resp2
        };
    }
    let id = ctx.client.id as i64;
    let proto = if ctx.client.proto() == Protocol::Resp3 {
        3
    } else {
        2
    };
    let role = if ctx.eng.is_replica() {
        "replica"
    } else {
        "master"
    };
    // A Sentinel reports its mode and no role (redis-sentinel 7.0).
    let sentinel = ctx.eng.sentinel.is_some();
    let out = ctx.out();
    out.map_len(if sentinel { 6 } else { 7 });
    out.bulk(b"server");
    out.bulk(b"redis");
    out.bulk(b"version");
    out.bulk(crate::REDIS_VERSION.as_bytes());
    out.bulk(b"proto");
    out.int(proto);
    out.bulk(b"id");
    out.int(id);
    out.bulk(b"mode");
    if sentinel {
        out.bulk(b"sentinel");
    } else {
        out.bulk(b"standalone");
        out.bulk(b"role");
        out.bulk(role.as_bytes());
    }
    out.bulk(b"modules");
    out.array_len(0);
}

pub fn reset(ctx: &mut Ctx<'_>, _argv: &[Bytes]) {
    let eng = &mut *ctx.eng;
    let c = &mut *ctx.client;
    if c.monitor {
        c.monitor = false;
        eng.monitors.retain(|&m| m != c.id);
    }
    c.db = 0;
    c.out.proto = Protocol::Resp2;
    c.authenticated = eng.conf.requirepass.is_none();
    c.multi = None;
    c.multi_dirty = false;
    crate::commands::transactions::unwatch_all(eng, c);
    eng.pubsub.unsubscribe_all(c);
    c.name = None;
    // Redis 7.0's clearClientConnectionState keeps CLIENT NO-EVICT (flag `e`).
    c.reply_mode = ReplyMode::On;
    ctx.out().simple("RESET");
}

/// This family's commands (see `commands::all`).
pub static HANDLERS: &[(&str, Handler)] = &[
    ("ping", ping),
    ("echo", echo),
    ("quit", quit),
    ("select", select),
    ("auth", auth),
    ("hello", hello),
    ("reset", reset),
];
