//! COMMAND [COUNT INFO DOCS LIST GETKEYS GETKEYSANDFLAGS HELP] (Redis 7.0 server.c).
//!
//! Replies are Redis's own metadata (`crate::meta`) re-encoded for the client's protocol,
//! restricted to what the table holds: a container lists only the subcommands we
//! implement. Key extraction follows the key specs (`getKeysUsingKeySpecs`), falling back
//! to Redis's hand-written key finders for the commands whose specs cannot say it all
//! (SET and BITFIELD flags, SORT's STORE).

use crate::commands::client::reply_help;
use crate::ctx::Ctx;
use crate::errors;
use crate::meta::write_value;
use crate::table::{Command, Handler, Lookup};
use crate::Engine;
use bytes::Bytes;
use redoubt_keyspace::glob::glob_match;
use redoubt_keyspace::num::string2ll;
use redoubt_resp::Value;

/// Top-level commands in name order (Redis walks its hash table; any order is valid).
fn sorted_commands(eng: &Engine) -> Vec<&Command> {
    let mut v: Vec<&Command> = eng.table.iter().collect();
    v.sort_by(|a, b| a.name.cmp(&b.name));
    v
}

fn is_key(v: &Value, key: &str) -> bool {
    match v {
        Value::Bulk(b) => &b[..] == key.as_bytes(),
        Value::Simple(s) => s == key,
        _ => false,
    }
}

fn map_get<'a>(v: &'a Value, key: &str) -> Option<&'a Value> {
    match v {
        Value::Map(pairs) => pairs.iter().find(|(k, _)| is_key(k, key)).map(|(_, v)| v),
        _ => None,
    }
}

fn text(v: &Value) -> String {
    match v {
        Value::Simple(s) => s.clone(),
        Value::Bulk(b) => String::from_utf8_lossy(b).into_owned(),
        _ => String::new(),
    }
}

fn items(v: &Value) -> &[Value] {
    match v {
        Value::Array(a) | Value::Set(a) => a,
        _ => &[],
    }
}

/// A command's COMMAND INFO entry, its subcommand list cut down to the implemented ones.
fn command_info_value(cmd: &Command) -> Value {
    let Value::Array(fields) = &cmd.meta.info else {
        return cmd.meta.info.clone();
    };
    let mut fields = fields.clone();
    if let Some(Value::Array(subs)) = fields.get_mut(9) {
        subs.retain(|s| {
            items(s)
                .first()
                .is_some_and(|n| cmd.subcommands.contains_key(text(n).as_str()))
        });
    }
    Value::Array(fields)
}

/// A command's COMMAND DOCS entry, its subcommand docs cut down to the implemented ones.
fn command_docs_value(cmd: &Command) -> Value {
    let Some(Value::Map(pairs)) = &cmd.docs else {
        return Value::Map(Vec::new());
    };
    let mut pairs = pairs.clone();
    for (k, v) in pairs.iter_mut() {
        if is_key(k, "subcommands") {
            if let Value::Map(subs) = v {
                subs.retain(|(name, _)| cmd.subcommands.contains_key(text(name).as_str()));
            }
        }
    }
    Value::Map(pairs)
}

/// `lookupCommandBySds`: `get` or `config|get`, case-insensitive.
fn lookup_by_name<'a>(eng: &'a Engine, name: &[u8]) -> Option<&'a Command> {
    let name = std::str::from_utf8(name).ok()?.to_ascii_lowercase();
    eng.table.get(&name)
}

pub fn command(ctx: &mut Ctx<'_>, _argv: &[Bytes]) {
    let table = ctx.eng.table.clone();
    let mut cmds: Vec<&Command> = table.iter().collect();
    cmds.sort_by(|a, b| a.name.cmp(&b.name));
    let out = &mut ctx.client.out;
    out.array_len(cmds.len());
    for c in cmds {
        write_value(out, &command_info_value(c));
    }
}

pub fn command_count(ctx: &mut Ctx<'_>, _argv: &[Bytes]) {
    let n = ctx.eng.table.commands.len();
    ctx.out().int(n as i64);
}

pub fn command_info(ctx: &mut Ctx<'_>, argv: &[Bytes]) {
    if argv.len() == 2 {
        command(ctx, argv);
        return;
    }
    let values: Vec<Option<Value>> = argv[2..]
        .iter()
        .map(|n| lookup_by_name(ctx.eng, n).map(command_info_value))
        .collect();
    let out = ctx.out();
    out.array_len(values.len());
    for v in values {
        match v {
            Some(v) => write_value(out, &v),
            None => out.null(),
        }
    }
}

pub fn command_docs(ctx: &mut Ctx<'_>, argv: &[Bytes]) {
    let found: Vec<(String, Value)> = if argv.len() == 2 {
        sorted_commands(ctx.eng)
            .into_iter()
            .map(|c| (c.name.clone(), command_docs_value(c)))
            .collect()
    } else {
        argv[2..]
            .iter()
            .filter_map(|n| lookup_by_name(ctx.eng, n))
            .map(|c| (c.name.clone(), command_docs_value(c)))
            .collect()
    };
    let out = ctx.out();
    out.map_len(found.len());
    for (name, docs) in found {
        out.bulk_str(&name);
        write_value(out, &docs);
    }
}

enum ListFilter {
    None,
    /// No modules exist, so this filter matches nothing.
    Module,
    AclCat(String),
    Pattern(Bytes),
}

fn acl_categories(cmd: &Command) -> Vec<String> {
    match &cmd.meta.info {
        Value::Array(f) => f
            .get(6)
            .map(|v| {
                items(v)
                    .iter()
                    .map(|c| text(c).trim_start_matches('@').to_ascii_lowercase())
                    .collect()
            })
            .unwrap_or_default(),
        _ => Vec::new(),
    }
}

fn list_passes(cmd: &Command, filter: &ListFilter) -> bool {
    match filter {
        ListFilter::None => true,
        ListFilter::Module => false,
        ListFilter::AclCat(cat) => acl_categories(cmd).iter().any(|c| c == cat),
        ListFilter::Pattern(p) => glob_match(p, cmd.name.as_bytes(), true),
    }
}

pub fn command_list(ctx: &mut Ctx<'_>, argv: &[Bytes]) {
    let filter = match argv.len() {
        2 => ListFilter::None,
        5 if argv[2].eq_ignore_ascii_case(b"filterby") => {
            let kind = argv[3].to_ascii_lowercase();
            match kind.as_slice() {
                b"module" => ListFilter::Module,
                b"aclcat" => {
                    ListFilter::AclCat(String::from_utf8_lossy(&argv[4]).to_ascii_lowercase())
                }
                b"pattern" => ListFilter::Pattern(argv[4].clone()),
                _ => {
                    ctx.error(errors::SYNTAX);
                    return;
                }
            }
        }
        _ => {
            ctx.error(errors::SYNTAX);
            return;
        }
    };
    let mut names = Vec::new();
    for c in sorted_commands(ctx.eng) {
        if list_passes(c, &filter) {
            names.push(c.name.clone());
        }
        let mut subs: Vec<&Command> = c.subcommands.values().collect();
        subs.sort_by(|a, b| a.name.cmp(&b.name));
        for s in subs {
            if list_passes(s, &filter) {
                names.push(s.name.clone());
            }
        }
    }
    let out = ctx.out();
    out.array_len(names.len());
    for n in names {
        out.bulk_str(&n);
    }
}

/// Key-spec flags (Redis's CMD_KEY_*), in the order COMMAND GETKEYSANDFLAGS prints them.
const KEY_FLAG_NAMES: [&str; 11] = [
    "RO",
    "RW",
    "OW",
    "RM",
    "access",
    "update",
    "insert",
    "delete",
    "not_key",
    "incomplete",
    "variable_flags",
];
const KEY_RO: u32 = 1;
const KEY_RW: u32 = 1 << 1;
const KEY_OW: u32 = 1 << 2;
const KEY_ACCESS: u32 = 1 << 4;
const KEY_UPDATE: u32 = 1 << 5;
const KEY_NOT_KEY: u32 = 1 << 8;
const KEY_INCOMPLETE: u32 = 1 << 9;
const KEY_VARIABLE_FLAGS: u32 = 1 << 10;

fn key_flags(v: &Value) -> u32 {
    items(v).iter().fold(0, |acc, f| {
        let name = text(f);
        acc | KEY_FLAG_NAMES
            .iter()
            .position(|n| n.eq_ignore_ascii_case(&name))
            .map_or(0, |i| 1 << i)
    })
}

enum BeginSearch {
    Index(i64),
    Keyword { keyword: String, startfrom: i64 },
    Unknown,
}

enum FindKeys {
    Range {
        lastkey: i64,
        keystep: i64,
        limit: i64,
    },
    KeyNum {
        keynumidx: i64,
        firstkey: i64,
        keystep: i64,
    },
    Unknown,
}

struct KeySpec {
    flags: u32,
    begin: BeginSearch,
    find: FindKeys,
}

fn spec_int(v: Option<&Value>, key: &str) -> i64 {
    match v.and_then(|s| map_get(s, key)) {
        Some(Value::Int(n)) => *n,
        _ => 0,
    }
}

fn key_specs(cmd: &Command) -> Vec<KeySpec> {
    let Value::Array(fields) = &cmd.meta.info else {
        return Vec::new();
    };
    let Some(specs) = fields.get(8) else {
        return Vec::new();
    };
    items(specs)
        .iter()
        .map(|s| {
            let flags = map_get(s, "flags").map_or(0, key_flags);
            let bs = map_get(s, "begin_search");
            let bs_spec = bs.and_then(|b| map_get(b, "spec"));
            let begin = match bs.and_then(|b| map_get(b, "type")).map(text).as_deref() {
                Some("index") => BeginSearch::Index(spec_int(bs_spec, "index")),
                Some("keyword") => BeginSearch::Keyword {
                    keyword: bs_spec
                        .and_then(|b| map_get(b, "keyword"))
                        .map(text)
                        .unwrap_or_default(),
                    startfrom: spec_int(bs_spec, "startfrom"),
                },
                _ => BeginSearch::Unknown,
            };
            let fk = map_get(s, "find_keys");
            let fk_spec = fk.and_then(|f| map_get(f, "spec"));
            let find = match fk.and_then(|f| map_get(f, "type")).map(text).as_deref() {
                Some("range") => FindKeys::Range {
                    lastkey: spec_int(fk_spec, "lastkey"),
                    keystep: spec_int(fk_spec, "keystep"),
                    limit: spec_int(fk_spec, "limit"),
                },
                Some("keynum") => FindKeys::KeyNum {
                    keynumidx: spec_int(fk_spec, "keynumidx"),
                    firstkey: spec_int(fk_spec, "firstkey"),
                    keystep: spec_int(fk_spec, "keystep"),
                },
                _ => FindKeys::Unknown,
            };
            KeySpec { flags, begin, find }
        })
        .collect()
}

/// `getKeysUsingKeySpecs`: (argument index, flags) of each key, or None when a spec is
/// invalid or incomplete for these arguments.
fn keys_from_specs(cmd: &Command, specs: &[KeySpec], argv: &[Bytes]) -> Option<Vec<(usize, u32)>> {
    let argc = argv.len() as i64;
    let mut keys = Vec::new();
    for spec in specs {
        if spec.flags & KEY_NOT_KEY != 0 {
            continue;
        }
        let first = match &spec.begin {
            BeginSearch::Index(pos) => *pos,
            BeginSearch::Keyword { keyword, startfrom } => {
                let (start, end) = if *startfrom > 0 {
                    (*startfrom, argc - 1)
                } else {
                    (argc + startfrom, 1)
                };
                let mut found = 0;
                let mut i = start;
                while i != end {
                    if i >= argc || i < 1 {
                        break;
                    }
                    if argv[i as usize].eq_ignore_ascii_case(keyword.as_bytes()) {
                        found = i + 1;
                        break;
                    }
                    i = if start <= end { i + 1 } else { i - 1 };
                }
                if found == 0 {
                    continue;
                }
                found
            }
            BeginSearch::Unknown => return None,
        };
        let (first, last, step) = match &spec.find {
            FindKeys::Range {
                lastkey,
                keystep,
                limit,
            } => {
                let last = if *lastkey >= 0 {
                    first + lastkey
                } else if *limit == 0 {
                    argc + lastkey
                } else {
                    first + ((argc - first) / limit + lastkey)
                };
                (first, last, *keystep)
            }
            FindKeys::KeyNum {
                keynumidx,
                firstkey,
                keystep,
            } => {
                let idx = first + keynumidx;
                if *keynumidx >= argc || idx >= argc {
                    return None;
                }
                let numkeys = string2ll(&argv[idx as usize]).filter(|n| *n >= 0)?;
                let first = first + firstkey;
                (first, first + numkeys - 1, *keystep)
            }
            FindKeys::Unknown => return None,
        };
        if last >= argc || last < first || first >= argc {
            return None;
        }
        let mut i = first;
        while i <= last {
            if i >= argc || i < first {
                // Only variadic commands get here with too few arguments.
                debug_assert!(cmd.arity < 0, "{} key spec exceeds its arity", cmd.name);
                i += step.max(1);
                continue;
            }
            keys.push((i as usize, spec.flags));
            i += step.max(1);
        }
        if spec.flags & KEY_INCOMPLETE != 0 {
            return None;
        }
    }
    Some(keys)
}

/// Redis's hand-written key finders (`getkeys_proc`), for the commands whose key specs are
/// incomplete or whose flags depend on the arguments. None: the command has none.
fn keys_from_proc(cmd: &Command, argv: &[Bytes]) -> Option<Vec<(usize, u32)>> {
    match cmd.name.as_str() {
        // setGetKeys: GET turns an overwrite into a read-modify-write.
        "set" => {
            let get = argv.iter().skip(3).any(|a| a.eq_ignore_ascii_case(b"get"));
            let f = if get {
                KEY_RW | KEY_ACCESS | KEY_UPDATE
            } else {
                KEY_OW | KEY_UPDATE
            };
            Some(vec![(1, f)])
        }
        // bitfieldGetKeys: read-only unless a SET or INCRBY (or anything unparsable) appears.
        "bitfield" => {
            let mut readonly = true;
            let mut i = 2;
            while i < argv.len() {
                let rem = argv.len() - i - 1;
                let a = &argv[i];
                if a.eq_ignore_ascii_case(b"get") && rem >= 2 {
                    i += 3;
                } else if (a.eq_ignore_ascii_case(b"set") || a.eq_ignore_ascii_case(b"incrby"))
                    && rem >= 3
                {
                    readonly = false;
                    break;
                } else if a.eq_ignore_ascii_case(b"overflow") && rem >= 1 {
                    i += 2;
                } else {
                    readonly = false;
                    break;
                }
            }
            let f = if readonly {
                KEY_RO | KEY_ACCESS
            } else {
                KEY_RW | KEY_ACCESS | KEY_UPDATE
            };
            Some(vec![(1, f)])
        }
        "sort_ro" => Some(vec![(1, KEY_RO | KEY_ACCESS)]),
        // sortGetKeys: the last STORE wins; LIMIT, GET and BY take arguments.
        "sort" => {
            let mut keys = vec![(1, KEY_RO | KEY_ACCESS)];
            let mut store = None;
            let mut i = 2;
            while i < argv.len() {
                let a = &argv[i];
                if a.eq_ignore_ascii_case(b"limit") {
                    i += 2;
                } else if a.eq_ignore_ascii_case(b"get") || a.eq_ignore_ascii_case(b"by") {
                    i += 1;
                } else if a.eq_ignore_ascii_case(b"store") && i + 1 < argv.len() {
                    store = Some(i + 1);
                }
                i += 1;
            }
            if let Some(s) = store {
                keys.push((s, KEY_OW | KEY_UPDATE));
            }
            Some(keys)
        }
        _ => None,
    }
}

/// `getKeysFromCommandWithSpecs`.
fn command_keys(cmd: &Command, argv: &[Bytes]) -> Vec<(usize, u32)> {
    let specs = key_specs(cmd);
    let has_keyspec = specs.iter().any(|s| s.flags & KEY_NOT_KEY == 0);
    let has_varflags = specs.iter().any(|s| s.flags & KEY_VARIABLE_FLAGS != 0);
    if has_keyspec && !has_varflags {
        if let Some(keys) = keys_from_specs(cmd, &specs, argv) {
            return keys;
        }
    }
    keys_from_proc(cmd, argv).unwrap_or_default()
}

fn getkeys_generic(ctx: &mut Ctx<'_>, argv: &[Bytes], with_flags: bool) {
    let target = &argv[2..];
    let table = ctx.eng.table.clone();
    let cmd = match table.lookup(target) {
        Lookup::Found(c) => c,
        _ => {
            ctx.error("ERR Invalid command specified");
            return;
        }
    };
    let specs = key_specs(cmd);
    let has_keys =
        keys_from_proc(cmd, target).is_some() || specs.iter().any(|s| s.flags & KEY_NOT_KEY == 0);
    if !has_keys {
        ctx.error("ERR The command has no key arguments");
        return;
    }
    if !cmd.arity_ok(target.len()) {
        ctx.error("ERR Invalid number of arguments specified for command");
        return;
    }
    let keys = command_keys(cmd, target);
    if keys.is_empty() {
        if cmd.meta.flags.iter().any(|f| f == "no_mandatory_keys") {
            ctx.out().array_len(0);
        } else {
            ctx.error("ERR Invalid arguments specified for command");
        }
        return;
    }
    let out = ctx.out();
    out.array_len(keys.len());
    for (pos, f) in keys {
        if with_flags {
            out.array_len(2);
            out.bulk(&target[pos]);
            let names: Vec<&str> = KEY_FLAG_NAMES
                .iter()
                .enumerate()
                .filter(|(i, _)| f & (1 << i) != 0)
                .map(|(_, n)| *n)
                .collect();
            out.set_len(names.len());
            for n in names {
                out.simple(n);
            }
        } else {
            out.bulk(&target[pos]);
        }
    }
}

pub fn command_getkeys(ctx: &mut Ctx<'_>, argv: &[Bytes]) {
    getkeys_generic(ctx, argv, false);
}

pub fn command_getkeysandflags(ctx: &mut Ctx<'_>, argv: &[Bytes]) {
    getkeys_generic(ctx, argv, true);
}

const COMMAND_HELP: &[&str] = &[
    "COMMAND <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "(no subcommand)",
    "    Return details about all Redis commands.",
    "COUNT",
    "    Return the total number of commands in this Redis server.",
    "LIST",
    "    Return a list of all commands in this Redis server.",
    "INFO [<command-name> ...]",
    "    Return details about multiple Redis commands.",
    "    If no command names are given, documentation details for all",
    "    commands are returned.",
    "DOCS [<command-name> ...]",
    "    Return documentation details about multiple Redis commands.",
    "    If no command names are given, documentation details for all",
    "    commands are returned.",
    "GETKEYS <full-command>",
    "    Return the keys from a full Redis command.",
    "GETKEYSANDFLAGS <full-command>",
    "    Return the keys and the access flags from a full Redis command.",
];

pub fn command_help(ctx: &mut Ctx<'_>, _argv: &[Bytes]) {
    reply_help(ctx, COMMAND_HELP);
}

/// This family's commands (see `commands::all`).
pub static HANDLERS: &[(&str, Handler)] = &[
    ("command", command),
    ("command|count", command_count),
    ("command|info", command_info),
    ("command|docs", command_docs),
    ("command|list", command_list),
    ("command|getkeys", command_getkeys),
    ("command|getkeysandflags", command_getkeysandflags),
    ("command|help", command_help),
];

#[cfg(test)]
mod tests {
    use crate::testing::TestEngine;

    #[test]
    fn count_matches_listing() {
        let mut t = TestEngine::new();
        let n = t.eng.table.commands.len();
        assert_eq!(t.text("COMMAND COUNT"), format!(":{n}|"));
        assert!(t.text("COMMAND").starts_with(&format!("*{n}|")));
        assert!(t.text("COMMAND INFO").starts_with(&format!("*{n}|")));
        assert_eq!(
            t.text("COMMAND COUNT x"),
            "-ERR wrong number of arguments for 'command|count' command|"
        );
    }

    #[test]
    fn info_is_redis_metadata() {
        let mut t = TestEngine::new();
        // Captured from Redis 7.0.15: COMMAND INFO get nope
        assert_eq!(
            t.text("COMMAND INFO get nope"),
            "*2|*10|$3|get|:2|*2|+readonly|+fast|:1|:1|:1|*3|+@read|+@string|+@fast|*0|*1|*6|$5|flags|*2|+RO|+access|$12|begin_search|*4|$4|type|$5|index|$4|spec|*2|$5|index|:1|$9|find_keys|*4|$4|type|$5|range|$4|spec|*6|$7|lastkey|:0|$7|keystep|:1|$5|limit|:0|*0|$-1|"
        );
        let c = t.text("COMMAND INFO client");
        assert!(
            c.contains("client|list") && !c.contains("client|tracking|"),
            "{c}"
        );
        assert!(t
            .text("COMMAND INFO CLIENT|LIST")
            .starts_with("*1|*10|$11|client|list|:-2|"));
        assert_eq!(t.text("COMMAND DOCS nope"), "*0|");
        let d = t.text("COMMAND DOCS get GET");
        assert!(
            d.starts_with("*4|$3|get|*10|$7|summary|$22|Get the value of a key|"),
            "{d}"
        );
        let d = t.text("COMMAND DOCS client");
        assert!(
            d.contains("client|list") && !d.contains("client|caching"),
            "{d}"
        );
    }

    #[test]
    fn list_filters() {
        let mut t = TestEngine::new();
        assert_eq!(t.text("COMMAND LIST FILTERBY"), "-ERR syntax error|");
        assert_eq!(
            t.text("COMMAND LIST FILTERBY foo bar"),
            "-ERR syntax error|"
        );
        assert_eq!(t.text("COMMAND LIST foo"), "-ERR syntax error|");
        assert_eq!(t.text("COMMAND LIST FILTERBY aclcat nope"), "*0|");
        assert_eq!(t.text("COMMAND LIST FILTERBY module x"), "*0|");
        assert_eq!(
            t.text("COMMAND LIST FILTERBY pattern client|s*"),
            "*1|$14|client|setname|"
        );
        assert_eq!(t.text("COMMAND LIST FILTERBY PATTERN GET"), "*1|$3|get|");
        let read = t.text("COMMAND LIST FILTERBY aclcat read");
        assert!(
            read.contains("|$3|get|") && !read.contains("|$3|set|"),
            "{read}"
        );
        let all = t.text("COMMAND LIST");
        assert!(all.contains("|$6|client|$14|client|getname|"), "{all}");
    }

    #[test]
    fn getkeys_like_redis() {
        let mut t = TestEngine::new();
        assert_eq!(
            t.text("COMMAND GETKEYS"),
            "-ERR wrong number of arguments for 'command|getkeys' command|"
        );
        assert_eq!(
            t.text("COMMAND GETKEYS nope a"),
            "-ERR Invalid command specified|"
        );
        assert_eq!(
            t.text("COMMAND GETKEYS get a b"),
            "-ERR Invalid number of arguments specified for command|"
        );
        assert_eq!(t.text("COMMAND GETKEYS del a b c"), "*3|$1|a|$1|b|$1|c|");
        assert_eq!(t.text("COMMAND GETKEYS set a b"), "*1|$1|a|");
        assert_eq!(
            t.text("COMMAND GETKEYSANDFLAGS set a b"),
            "*1|*2|$1|a|*2|+OW|+update|"
        );
        assert_eq!(
            t.text("COMMAND GETKEYSANDFLAGS set a b GET"),
            "*1|*2|$1|a|*3|+RW|+access|+update|"
        );
        assert_eq!(
            t.text("COMMAND GETKEYSANDFLAGS del a b"),
            "*2|*2|$1|a|*2|+RM|+delete|*2|$1|b|*2|+RM|+delete|"
        );
        assert_eq!(
            t.text("COMMAND GETKEYS client list"),
            "-ERR The command has no key arguments|"
        );
        assert_eq!(
            t.text("COMMAND GETKEYS client nope"),
            "-ERR Invalid command specified|"
        );
        assert_eq!(t.text("COMMAND GETKEYS memory usage k"), "*1|$1|k|");
        t.run("HELLO 3");
        assert_eq!(
            t.text("COMMAND GETKEYSANDFLAGS set a b"),
            "*1|*2|$1|a|~2|+OW|+update|"
        );
    }

    #[test]
    fn help_lines() {
        let mut t = TestEngine::new();
        let h = t.text("COMMAND HELP");
        assert!(h.starts_with("*21|+COMMAND <subcommand> [<arg> [value] [opt] ...]. Subcommands are:|+(no subcommand)|"));
        assert!(h.ends_with("|+HELP|+    Prints this help.|"));
    }
}
