//! CLIENT ID SETNAME GETNAME LIST INFO KILL PAUSE UNPAUSE REPLY NO-EVICT GETREDIR HELP
//! (Redis 7.0 networking.c `clientCommand`).
//!
//! The calling client is lent to the handler (it is not in `eng.clients` while it runs), so
//! every "all clients" walk here joins it back in, in id order: Redis lists clients in
//! creation order, which is id order.

use crate::client::{Client, ClientKind, ReplyMode};
use crate::commands::connection::{valid_client_name, BAD_CLIENT_NAME};
use crate::ctx::Ctx;
use crate::errors;
use crate::pause::PauseMode;
use crate::table::Handler;
use crate::Engine;
use bytes::Bytes;
use redoubt_keyspace::num::string2ll;
use redoubt_resp::Protocol;
use std::fmt::Write;

/// Redis's client types (`getClientType`), as CLIENT LIST/KILL TYPE filter them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientType {
    Normal,
    Replica,
    PubSub,
    Master,
}

/// `getClientTypeByName`.
pub fn client_type_by_name(name: &[u8]) -> Option<ClientType> {
    let n = name.to_ascii_lowercase();
    match n.as_slice() {
        b"normal" => Some(ClientType::Normal),
        b"slave" | b"replica" => Some(ClientType::Replica),
        b"pubsub" => Some(ClientType::PubSub),
        b"master" => Some(ClientType::Master),
        _ => None,
    }
}

/// `getClientType`: a MONITOR client is a replica in Redis's flags but counts as normal.
pub fn client_type(c: &Client) -> ClientType {
    match c.kind {
        ClientKind::Master => ClientType::Master,
        ClientKind::Replica if !c.monitor => ClientType::Replica,
        _ if c.in_pubsub() => ClientType::PubSub,
        _ => ClientType::Normal,
    }
}

/// The `flags=` letters, in Redis 7.0's order.
fn client_flags(c: &Client) -> String {
    let mut f = String::new();
    if c.monitor {
        f.push('O');
    } else if c.kind == ClientKind::Replica {
        f.push('S');
    }
    if c.kind == ClientKind::Master {
        f.push('M');
    }
    if c.in_pubsub() {
        f.push('P');
    }
    if c.multi.is_some() {
        f.push('x');
    }
    if c.blocked.is_some() {
        f.push('b');
    }
    if c.watch_dirty {
        f.push('d');
    }
    if c.close_after_reply {
        f.push('c');
    }
    if c.io.killed.get() {
        f.push('A');
    }
    if c.unix_socket {
        f.push('U');
    }
    if c.no_evict {
        f.push('e');
    }
    if f.is_empty() {
        f.push('N');
    }
    f
}

/// Memory of the queued MULTI commands (`multi-mem`): each command's argument bytes plus
/// one pointer per argument, as Redis's `mstate.argv_len_sums`.
fn multi_mem(c: &Client) -> usize {
    c.multi.as_ref().map_or(0, |q| {
        q.iter()
            .map(|argv| argv.iter().map(|a| a.len()).sum::<usize>() + 8 * argv.len())
            .sum()
    })
}

/// `tot-mem`: what this client holds: its struct, query and reply buffers, the current
/// arguments and queued commands.
pub fn client_memory(c: &Client) -> usize {
    std::mem::size_of::<Client>()
        + c.query_buf_len
        + c.query_buf_free
        + c.out.buf.capacity()
        + c.argv_mem
        + multi_mem(c)
}

/// One CLIENT LIST line (`catClientInfoString`), without the trailing newline.
pub fn client_info_string(c: &Client, now_ms: i64) -> String {
    let now_s = now_ms / 1000;
    let mut s = String::with_capacity(300);
    let name = c
        .name
        .as_ref()
        .map(|n| String::from_utf8_lossy(n).into_owned())
        .unwrap_or_default();
    let resp = if c.out.proto == Protocol::Resp3 { 3 } else { 2 };
    let rbs = c.out.buf.capacity();
    let _ = write!(
        s,
        "id={} addr={} laddr={} fd={} name={} age={} idle={} flags={} db={} sub={} psub={} ssub={} multi={} qbuf={} qbuf-free={} argv-mem={} multi-mem={} rbs={} rbp={} obl={} oll=0 omem=0 tot-mem={} events=r cmd={} user=default redir=-1 resp={}",
        c.id,
        c.addr,
        c.laddr,
        c.fd,
        name,
        now_s - c.created_ms / 1000,
        now_s - c.last_interaction_ms / 1000,
        client_flags(c),
        c.db,
        c.channels.len(),
        c.patterns.len(),
        c.shard_channels.len(),
        c.multi.as_ref().map_or(-1, |q| q.len() as i64),
        c.query_buf_len,
        c.query_buf_free,
        c.argv_mem,
        multi_mem(c),
        rbs,
        rbs,
        c.out.len(),
        client_memory(c),
        c.last_cmd,
        resp,
    );
    s
}

/// Every client including the calling one, in id (creation) order.
fn all_clients<'a>(eng: &'a Engine, me: &'a Client) -> Vec<&'a Client> {
    let mut v: Vec<&Client> = eng.clients.values().map(|b| &**b).collect();
    v.push(me);
    v.sort_by_key(|c| c.id);
    v
}

pub fn client_id(ctx: &mut Ctx<'_>, _argv: &[Bytes]) {
    let id = ctx.client.id as i64;
    ctx.out().int(id);
}

pub fn client_setname(ctx: &mut Ctx<'_>, argv: &[Bytes]) {
    let name = &argv[2];
    if !valid_client_name(name) {
        ctx.error(BAD_CLIENT_NAME);
        return;
    }
    ctx.client.name = if name.is_empty() {
        None
    } else {
        Some(name.clone())
    };
    ctx.ok();
}

pub fn client_getname(ctx: &mut Ctx<'_>, _argv: &[Bytes]) {
    match ctx.client.name.clone() {
        Some(n) => ctx.out().bulk(&n),
        None => ctx.out().null(),
    }
}

pub fn client_info(ctx: &mut Ctx<'_>, _argv: &[Bytes]) {
    let mut s = client_info_string(ctx.client, ctx.now_ms);
    s.push('\n');
    ctx.out().verbatim(s.as_bytes(), "txt");
}

pub fn client_list(ctx: &mut Ctx<'_>, argv: &[Bytes]) {
    let now = ctx.now_ms;
    let mut text = String::new();
    if argv.len() == 4 && argv[2].eq_ignore_ascii_case(b"type") {
        let Some(t) = client_type_by_name(&argv[3]) else {
            let msg = format!(
                "ERR Unknown client type '{}'",
                errors::c_str_trunc(&argv[3], usize::MAX)
            );
            ctx.error(&msg);
            return;
        };
        for c in all_clients(ctx.eng, ctx.client) {
            if client_type(c) == t {
                text.push_str(&client_info_string(c, now));
                text.push('\n');
            }
        }
    } else if argv.len() > 3 && argv[2].eq_ignore_ascii_case(b"id") {
        let mut ids = Vec::with_capacity(argv.len() - 3);
        for a in &argv[3..] {
            match string2ll(a) {
                Some(id) => ids.push(id),
                None => {
                    ctx.error("ERR Invalid client ID");
                    return;
                }
            }
        }
        // In the order asked, repeats included, as Redis does.
        for id in ids {
            let c = if id == ctx.client.id as i64 {
                Some(&*ctx.client)
            } else {
                u64::try_from(id)
                    .ok()
                    .and_then(|id| ctx.eng.clients.get(&id).map(|b| &**b))
            };
            if let Some(c) = c {
                text.push_str(&client_info_string(c, now));
                text.push('\n');
            }
        }
    } else if argv.len() != 2 {
        ctx.error(errors::SYNTAX);
        return;
    } else {
        for c in all_clients(ctx.eng, ctx.client) {
            text.push_str(&client_info_string(c, now));
            text.push('\n');
        }
    }
    ctx.out().verbatim(text.as_bytes(), "txt");
}

/// The filters of CLIENT KILL's new form.
#[derive(Default)]
struct KillFilter {
    addr: Option<Bytes>,
    laddr: Option<Bytes>,
    ctype: Option<ClientType>,
    id: Option<u64>,
    skipme: bool,
}

impl KillFilter {
    fn matches(&self, c: &Client, me: u64) -> bool {
        if self
            .addr
            .as_ref()
            .is_some_and(|a| a[..] != *c.addr.as_bytes())
        {
            return false;
        }
        if self
            .laddr
            .as_ref()
            .is_some_and(|a| a[..] != *c.laddr.as_bytes())
        {
            return false;
        }
        if self.ctype.is_some_and(|t| client_type(c) != t) {
            return false;
        }
        if self.id.is_some_and(|id| c.id != id) {
            return false;
        }
        !(self.skipme && c.id == me)
    }
}

/// Parses the new form's options; replies the error and returns None when invalid.
fn parse_kill_filter(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> Option<KillFilter> {
    let mut f = KillFilter {
        skipme: true,
        ..KillFilter::default()
    };
    let mut i = 2;
    while i < argv.len() {
        let opt = argv[i].to_ascii_lowercase();
        let Some(val) = argv.get(i + 1) else {
            ctx.error(errors::SYNTAX);
            return None;
        };
        match opt.as_slice() {
            b"id" => match string2ll(val) {
                Some(id) if id >= 1 => f.id = Some(id as u64),
                _ => {
                    ctx.error("ERR client-id should be greater than 0");
                    return None;
                }
            },
            b"type" => match client_type_by_name(val) {
                Some(t) => f.ctype = Some(t),
                None => {
                    let msg = format!(
                        "ERR Unknown client type '{}'",
                        errors::c_str_trunc(val, usize::MAX)
                    );
                    ctx.error(&msg);
                    return None;
                }
            },
            b"addr" => f.addr = Some(val.clone()),
            b"laddr" => f.laddr = Some(val.clone()),
            // Only the default user exists until ACLs land; every client is logged in as it.
            b"user" => {
                if &val[..] != b"default" {
                    let msg = format!(
                        "ERR No such user '{}'",
                        errors::c_str_trunc(val, usize::MAX)
                    );
                    ctx.error(&msg);
                    return None;
                }
            }
            b"skipme" => {
                if val.eq_ignore_ascii_case(b"yes") {
                    f.skipme = true;
                } else if val.eq_ignore_ascii_case(b"no") {
                    f.skipme = false;
                } else {
                    ctx.error(errors::SYNTAX);
                    return None;
                }
            }
            _ => {
                ctx.error(errors::SYNTAX);
                return None;
            }
        }
        i += 2;
    }
    Some(f)
}

/// Disconnects another client at once, as `freeClient` does: it leaves the engine now
/// (so the next CLIENT LIST no longer shows it) and its connection task closes the socket.
pub fn kill_client(eng: &mut Engine, id: u64) {
    if let Some(c) = eng.clients.get(&id) {
        c.io.killed.set(true);
        c.io.notify.notify();
    }
    eng.remove_client(id);
}

pub fn client_kill(ctx: &mut Ctx<'_>, argv: &[Bytes]) {
    // The old form `CLIENT KILL addr:port` may kill the caller itself.
    let old_form = argv.len() == 3;
    let filter = if old_form {
        KillFilter {
            addr: Some(argv[2].clone()),
            ..KillFilter::default()
        }
    } else {
        match parse_kill_filter(ctx, argv) {
            Some(f) => f,
            None => return,
        }
    };
    let me = ctx.client.id;
    let victims: Vec<u64> = ctx
        .eng
        .clients
        .values()
        .filter(|c| filter.matches(c, me))
        .map(|c| c.id)
        .collect();
    let kill_me = filter.matches(ctx.client, me);
    for &id in &victims {
        kill_client(ctx.eng, id);
    }
    let killed = victims.len() + usize::from(kill_me);
    if old_form {
        if killed == 0 {
            ctx.error("ERR No such client");
        } else {
            ctx.ok();
        }
    } else {
        ctx.out().int(killed as i64);
    }
    // Our own connection closes once this reply is written.
    if kill_me {
        ctx.client.close_after_reply = true;
    }
}

pub fn client_pause(ctx: &mut Ctx<'_>, argv: &[Bytes]) {
    if argv.len() > 4 {
        subcommand_syntax_error(ctx, &argv[1]);
        return;
    }
    let mut mode = PauseMode::All;
    if let Some(m) = argv.get(3) {
        if m.eq_ignore_ascii_case(b"write") {
            mode = PauseMode::Write;
        } else if m.eq_ignore_ascii_case(b"all") {
            mode = PauseMode::All;
        } else {
            ctx.error("ERR CLIENT PAUSE mode must be WRITE or ALL");
            return;
        }
    }
    let Some(timeout) = parse_timeout_ms(ctx, &argv[2]) else {
        return;
    };
    // A zero timeout sets an end already in the past: the pause is over at once.
    let end = if timeout > 0 {
        ctx.now_ms.saturating_add(timeout)
    } else {
        0
    };
    ctx.eng.pause.pause(mode, end);
    ctx.ok();
}

/// `getTimeoutFromObjectOrReply` in milliseconds.
fn parse_timeout_ms(ctx: &mut Ctx<'_>, arg: &[u8]) -> Option<i64> {
    let Some(t) = string2ll(arg) else {
        ctx.error("ERR timeout is not an integer or out of range");
        return None;
    };
    if t < 0 {
        ctx.error(errors::TIMEOUT_NEGATIVE);
        return None;
    }
    Some(t)
}

/// `addReplySubcommandSyntaxError`.
fn subcommand_syntax_error(ctx: &mut Ctx<'_>, sub: &[u8]) {
    let msg = format!(
        "ERR unknown subcommand or wrong number of arguments for '{}'. Try {} HELP.",
        errors::c_str_trunc(sub, 128),
        ctx.cmd
            .name
            .split('|')
            .next()
            .unwrap_or_default()
            .to_ascii_uppercase()
    );
    ctx.error(&msg);
}

pub fn client_unpause(ctx: &mut Ctx<'_>, _argv: &[Bytes]) {
    ctx.eng.pause.unpause();
    ctx.ok();
}

pub fn client_reply(ctx: &mut Ctx<'_>, argv: &[Bytes]) {
    let v = &argv[2];
    if v.eq_ignore_ascii_case(b"on") {
        ctx.client.reply_mode = ReplyMode::On;
        ctx.ok();
    } else if v.eq_ignore_ascii_case(b"off") {
        ctx.client.reply_mode = ReplyMode::Off;
    } else if v.eq_ignore_ascii_case(b"skip") {
        if ctx.client.reply_mode != ReplyMode::Off {
            ctx.client.reply_mode = ReplyMode::SkipNext;
        }
    } else {
        ctx.error(errors::SYNTAX);
    }
}

pub fn client_no_evict(ctx: &mut Ctx<'_>, argv: &[Bytes]) {
    let v = &argv[2];
    if v.eq_ignore_ascii_case(b"on") {
        ctx.client.no_evict = true;
    } else if v.eq_ignore_ascii_case(b"off") {
        ctx.client.no_evict = false;
    } else {
        ctx.error(errors::SYNTAX);
        return;
    }
    ctx.ok();
}

/// CLIENT UNBLOCK id [TIMEOUT|ERROR]: ends another client's blocking command with its
/// timeout reply or the UNBLOCKED error; 1 when it was blocked.
pub fn client_unblock(ctx: &mut Ctx<'_>, argv: &[Bytes]) {
    if argv.len() > 4 {
        return ctx.error(
            "ERR unknown subcommand or wrong number of arguments for 'unblock'. Try CLIENT HELP.",
        );
    }
    let mut error = false;
    if let Some(r) = argv.get(3) {
        if r.eq_ignore_ascii_case(b"error") {
            error = true;
        } else if !r.eq_ignore_ascii_case(b"timeout") {
            return ctx.error("ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR");
        }
    }
    let Some(id) = ctx.parse_i64(&argv[2]) else {
        return;
    };
    let done = u64::try_from(id).is_ok_and(|id| ctx.eng.unblock(id, error));
    ctx.out().int(i64::from(done));
}

/// Client-side caching is not built: no client ever redirects.
pub fn client_getredir(ctx: &mut Ctx<'_>, _argv: &[Bytes]) {
    ctx.out().int(-1);
}

const CLIENT_HELP: &[&str] = &[
    "CLIENT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "CACHING (YES|NO)",
    "    Enable/disable tracking of the keys for next command in OPTIN/OPTOUT modes.",
    "GETREDIR",
    "    Return the client ID we are redirecting to when tracking is enabled.",
    "GETNAME",
    "    Return the name of the current connection.",
    "ID",
    "    Return the ID of the current connection.",
    "INFO",
    "    Return information about the current client connection.",
    "KILL <ip:port>",
    "    Kill connection made from <ip:port>.",
    "KILL <option> <value> [<option> <value> [...]]",
    "    Kill connections. Options are:",
    "    * ADDR (<ip:port>|<unixsocket>:0)",
    "      Kill connections made from the specified address",
    "    * LADDR (<ip:port>|<unixsocket>:0)",
    "      Kill connections made to specified local address",
    "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
    "      Kill connections by type.",
    "    * USER <username>",
    "      Kill connections authenticated by <username>.",
    "    * SKIPME (YES|NO)",
    "      Skip killing current connection (default: yes).",
    "LIST [options ...]",
    "    Return information about client connections. Options:",
    "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
    "      Return clients of specified type.",
    "UNPAUSE",
    "    Stop the current client pause, resuming traffic.",
    "PAUSE <timeout> [WRITE|ALL]",
    "    Suspend all, or just write, clients for <timeout> milliseconds.",
    "REPLY (ON|OFF|SKIP)",
    "    Control the replies sent to the current connection.",
    "SETNAME <name>",
    "    Assign the name <name> to the current connection.",
    "UNBLOCK <clientid> [TIMEOUT|ERROR]",
    "    Unblock the specified blocked client.",
    "TRACKING (ON|OFF) [REDIRECT <id>] [BCAST] [PREFIX <prefix> [...]]",
    "         [OPTIN] [OPTOUT] [NOLOOP]",
    "    Control server assisted client side caching.",
    "TRACKINGINFO",
    "    Report tracking status for the current connection.",
    "NO-EVICT (ON|OFF)",
    "    Protect current client connection from eviction.",
];

/// `addReplyHelp`: the given lines as status replies, then Redis's closing two.
pub fn reply_help(ctx: &mut Ctx<'_>, lines: &[&str]) {
    let out = ctx.out();
    out.array_len(lines.len() + 2);
    for l in lines {
        out.simple(l);
    }
    out.simple("HELP");
    out.simple("    Prints this help.");
}

pub fn client_help(ctx: &mut Ctx<'_>, _argv: &[Bytes]) {
    reply_help(ctx, CLIENT_HELP);
}

/// This family's commands (see `commands::all`).
pub static HANDLERS: &[(&str, Handler)] = &[
    ("client|id", client_id),
    ("client|setname", client_setname),
    ("client|getname", client_getname),
    ("client|info", client_info),
    ("client|list", client_list),
    ("client|kill", client_kill),
    ("client|pause", client_pause),
    ("client|unpause", client_unpause),
    ("client|reply", client_reply),
    ("client|no-evict", client_no_evict),
    ("client|getredir", client_getredir),
    ("client|unblock", client_unblock),
    ("client|help", client_help),
];

#[cfg(test)]
mod tests {
    use crate::testing::TestEngine;

    #[test]
    fn id_name_and_errors() {
        let mut t = TestEngine::new();
        assert_eq!(t.text("CLIENT ID"), ":1|");
        assert_eq!(t.text("CLIENT GETNAME"), "$-1|");
        assert_eq!(
            t.text("CLIENT SETNAME 'a b'"),
            "-ERR Client names cannot contain spaces, newlines or special characters.|"
        );
        assert_eq!(t.text("CLIENT SETNAME foo"), "+OK|");
        assert_eq!(t.text("CLIENT GETNAME"), "$3|foo|");
        assert_eq!(t.text("CLIENT SETNAME ''"), "+OK|");
        assert_eq!(t.text("CLIENT GETNAME"), "$-1|");
        assert_eq!(
            t.text("CLIENT ID x"),
            "-ERR wrong number of arguments for 'client|id' command|"
        );
        assert_eq!(
            t.text("CLIENT FOO"),
            "-ERR unknown subcommand 'FOO'. Try CLIENT HELP.|"
        );
        assert_eq!(t.text("CLIENT GETREDIR"), ":-1|");
        assert_eq!(t.text("CLIENT NO-EVICT maybe"), "-ERR syntax error|");
        assert_eq!(t.text("CLIENT NO-EVICT on"), "+OK|");
    }

    #[test]
    fn help_has_redis_lines() {
        let mut t = TestEngine::new();
        let h = t.text("CLIENT HELP");
        assert!(h.starts_with(
            "*48|+CLIENT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:|+CACHING (YES|NO)|"
        ));
        assert!(h.ends_with("+NO-EVICT (ON|OFF)|+    Protect current client connection from eviction.|+HELP|+    Prints this help.|"));
    }

    #[test]
    fn list_and_info_format() {
        let mut t = TestEngine::new();
        t.run("SELECT 3");
        t.run("CLIENT SETNAME alpha");
        t.run("CLIENT NO-EVICT on");
        let l = String::from_utf8_lossy(&t.run("CLIENT LIST")).into_owned();
        let line = l.split_once("\r\n").map(|x| x.1).unwrap_or_default();
        assert!(
            line.starts_with("id=1 addr= laddr= fd=-1 name=alpha age=")
                && line.contains(" flags=e db=3 sub=0 psub=0 ssub=0 multi=-1 qbuf=0 ")
                && line.contains(" argv-mem=10 multi-mem=0 rbs=")
                && line.ends_with(" events=r cmd=client|list user=default redir=-1 resp=2\n\r\n"),
            "{line}"
        );
        let i = t.text("CLIENT INFO");
        assert!(i.contains("cmd=client|info"), "{i}");
        assert_eq!(
            t.text("CLIENT LIST TYPE foo"),
            "-ERR Unknown client type 'foo'|"
        );
        assert_eq!(t.text("CLIENT LIST TYPE"), "-ERR syntax error|");
        assert_eq!(t.text("CLIENT LIST ID x"), "-ERR Invalid client ID|");
        assert_eq!(t.text("CLIENT LIST ID 0 -1"), "$0||");
        assert_eq!(t.text("CLIENT LIST TYPE pubsub"), "$0||");
        assert_eq!(t.text("CLIENT LIST foo"), "-ERR syntax error|");
        let two = t.text("CLIENT LIST ID 1 1");
        assert_eq!(two.matches("id=1 ").count(), 2);
        t.run("HELLO 3");
        assert!(t.text("CLIENT INFO").starts_with("="), "RESP3 verbatim");
    }

    #[test]
    fn multi_and_last_command_show_in_list() {
        let mut t = TestEngine::new();
        t.run("MULTI");
        t.run("SET foo bar");
        t.run("GET foo");
        let c = t.eng.take_client(t.id).expect("client");
        let line = super::client_info_string(&c, t.now_ms);
        t.eng.put_client(c);
        assert!(line.contains(" flags=x "), "{line}");
        assert!(line.contains(" multi=2 "), "{line}");
        // 3 args (9 bytes) + 2 args (6 bytes) + 8 bytes per argument, as Redis counts.
        assert!(line.contains(" multi-mem=55 "), "{line}");
        assert!(line.contains(" cmd=get "), "{line}");
        t.run("DISCARD");
        t.run("NOPE");
        let l = t.text("CLIENT LIST ID 1");
        assert!(l.contains("cmd=client|list"));
    }

    #[test]
    fn kill_forms_and_errors() {
        let mut t = TestEngine::new();
        assert_eq!(t.text("CLIENT KILL 1.2.3.4:5"), "-ERR No such client|");
        assert_eq!(t.text("CLIENT KILL ID"), "-ERR No such client|");
        assert_eq!(
            t.text("CLIENT KILL ID abc"),
            "-ERR client-id should be greater than 0|"
        );
        assert_eq!(
            t.text("CLIENT KILL ID 0"),
            "-ERR client-id should be greater than 0|"
        );
        assert_eq!(t.text("CLIENT KILL ID 99"), ":0|");
        assert_eq!(
            t.text("CLIENT KILL TYPE foo"),
            "-ERR Unknown client type 'foo'|"
        );
        assert_eq!(t.text("CLIENT KILL TYPE normal ID"), "-ERR syntax error|");
        assert_eq!(t.text("CLIENT KILL SKIPME maybe"), "-ERR syntax error|");
        // MAXAGE arrived in Redis 7.4; 7.0 refuses it.
        assert_eq!(t.text("CLIENT KILL MAXAGE 10"), "-ERR syntax error|");
        assert_eq!(
            t.text("CLIENT KILL USER nobody"),
            "-ERR No such user 'nobody'|"
        );
        assert_eq!(t.text("CLIENT KILL USER default"), ":0|");
        assert_eq!(t.text("CLIENT KILL ID 1 ID 2"), ":0|");
    }

    #[test]
    fn kill_others_and_self() {
        let mut t = TestEngine::new();
        let io = std::rc::Rc::new(crate::ClientIo::default());
        let other = t.eng.add_client(crate::ClientKind::Normal, io.clone(), 0);
        let text = format!("CLIENT KILL ID {other}");
        assert_eq!(t.text(&text), ":1|");
        assert!(io.killed.get());
        assert!(!t.eng.clients.contains_key(&other));
        assert_eq!(t.text("CLIENT KILL TYPE normal"), ":0|");
        assert_eq!(t.text("CLIENT KILL TYPE normal SKIPME no"), ":1|");
        let c = t.eng.take_client(t.id).expect("client");
        assert!(c.close_after_reply);
        t.eng.put_client(c);
    }

    #[test]
    fn pause_parsing() {
        let mut t = TestEngine::new();
        assert_eq!(
            t.text("CLIENT PAUSE x"),
            "-ERR timeout is not an integer or out of range|"
        );
        assert_eq!(t.text("CLIENT PAUSE -1"), "-ERR timeout is negative|");
        assert_eq!(
            t.text("CLIENT PAUSE 10 foo"),
            "-ERR CLIENT PAUSE mode must be WRITE or ALL|"
        );
        assert_eq!(
            t.text("CLIENT PAUSE 10 WRITE extra"),
            "-ERR unknown subcommand or wrong number of arguments for 'PAUSE'. Try CLIENT HELP.|"
        );
        assert_eq!(t.text("CLIENT PAUSE 0"), "+OK|");
        assert_eq!(t.eng.pause.active(t.now_ms), crate::pause::PauseMode::Off);
        assert_eq!(t.text("CLIENT PAUSE 1000 WRITE"), "+OK|");
        let c = t.eng.take_client(t.id).expect("client");
        let set = |s: &str| -> Vec<bytes::Bytes> {
            s.split(' ')
                .map(|a| bytes::Bytes::copy_from_slice(a.as_bytes()))
                .collect()
        };
        let now = t.now_ms;
        assert!(t.eng.is_paused_for(&c, &set("SET k v"), now));
        // PUBLISH has no may_replicate flag in Redis 7.0: it is not paused by WRITE.
        assert!(!t.eng.is_paused_for(&c, &set("PUBLISH c m"), now));
        assert!(t.eng.is_paused_for(&c, &set("DEL k"), now));
        assert!(!t.eng.is_paused_for(&c, &set("GET k"), now));
        assert!(
            !t.eng.is_paused_for(&c, &set("SET k"), now),
            "arity errors answer at once"
        );
        assert!(!t.eng.is_paused_for(&c, &set("NOPE"), now));
        // WRITE then ALL: the stricter mode wins; the later end wins.
        t.eng.put_client(c);
        assert_eq!(t.text("CLIENT PAUSE 10 ALL"), "+OK|");
        let c = t.eng.take_client(t.id).expect("client");
        assert!(t.eng.is_paused_for(&c, &set("GET k"), now + 500));
        assert!(!t.eng.is_paused_for(&c, &set("GET k"), now + 1001));
        t.eng.put_client(c);
        assert_eq!(t.eng.pause.active(now + 1001), crate::pause::PauseMode::Off);
        assert_eq!(t.text("CLIENT PAUSE 100"), "+OK|");
        assert_eq!(t.text("CLIENT UNPAUSE"), "+OK|");
        assert_eq!(t.eng.pause.active(now), crate::pause::PauseMode::Off);
    }

    #[test]
    fn pause_keeps_expired_keys() {
        let mut t = TestEngine::new();
        t.run("SET k v PX 10");
        t.stream();
        t.run("CLIENT PAUSE 100000 WRITE");
        t.now_ms += 20;
        assert_eq!(t.text("EXISTS k"), ":0|");
        assert_eq!(t.text("GET k"), "$-1|");
        assert!(
            t.eng.dbs[0].get_raw(b"k").is_some(),
            "not deleted while paused"
        );
        assert_eq!(t.stream(), b"");
        t.run("CLIENT UNPAUSE");
        assert_eq!(t.text("EXISTS k"), ":0|");
        assert!(t.eng.dbs[0].get_raw(b"k").is_none());
    }

    #[test]
    fn reply_modes() {
        let mut t = TestEngine::new();
        assert_eq!(t.text("CLIENT REPLY foo"), "-ERR syntax error|");
        assert_eq!(t.text("CLIENT REPLY SKIP"), "");
        assert_eq!(t.text("PING"), "");
        assert_eq!(t.text("PING"), "+PONG|");
        assert_eq!(t.text("CLIENT REPLY OFF"), "");
        assert_eq!(t.text("PING"), "");
        assert_eq!(t.text("CLIENT REPLY SKIP"), "");
        assert_eq!(t.text("CLIENT REPLY ON"), "+OK|");
        assert_eq!(t.text("PING"), "+PONG|");
    }
}
