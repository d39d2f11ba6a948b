//! The command table: one entry per implemented command, joining Redis's metadata
//! (arity, flags, key positions: see [`crate::meta`]) with our handler.
//!
//! A command Redis has but we have not built is absent, so it gets Redis's "unknown command"
//! error and COMMAND does not list it: the table never claims what the server cannot do.

use crate::ctx::Ctx;
use crate::meta::{load_docs, load_info, load_sentinel_docs, load_sentinel_info, Meta};
use bytes::Bytes;
use hashbrown::HashMap;
use redoubt_resp::Value;
use std::cell::{Cell, RefCell};

pub type Handler = fn(&mut Ctx<'_>, &[Bytes]);

/// Command flags we act on (Redis's CMD_*).
pub mod flags {
    pub const WRITE: u32 = 1 << 0;
    pub const READONLY: u32 = 1 << 1;
    pub const DENYOOM: u32 = 1 << 2;
    pub const ADMIN: u32 = 1 << 3;
    pub const PUBSUB: u32 = 1 << 4;
    pub const NOSCRIPT: u32 = 1 << 5;
    pub const LOADING: u32 = 1 << 6;
    pub const STALE: u32 = 1 << 7;
    pub const SKIP_MONITOR: u32 = 1 << 8;
    pub const SKIP_SLOWLOG: u32 = 1 << 9;
    pub const FAST: u32 = 1 << 10;
    pub const NO_AUTH: u32 = 1 << 11;
    pub const MAY_REPLICATE: u32 = 1 << 12;
    pub const NO_MULTI: u32 = 1 << 13;
    pub const ALLOW_BUSY: u32 = 1 << 14;
    /// Redis's internal `CMD_TOUCHES_ARBITRARY_KEYS` (SCAN, RANDOMKEY). COMMAND INFO in 7.0.15
    /// does not list it, so the table sets it by name.
    pub const TOUCHES_ARBITRARY_KEYS: u32 = 1 << 15;

    pub fn parse(names: &[String]) -> u32 {
        names.iter().fold(0, |acc, n| {
            acc | match n.as_str() {
                "write" => WRITE,
                "readonly" => READONLY,
                "denyoom" => DENYOOM,
                "admin" => ADMIN,
                "pubsub" => PUBSUB,
                "noscript" => NOSCRIPT,
                "loading" => LOADING,
                "stale" => STALE,
                "skip_monitor" => SKIP_MONITOR,
                "skip_slowlog" => SKIP_SLOWLOG,
                "fast" => FAST,
                "no_auth" => NO_AUTH,
                "may_replicate" => MAY_REPLICATE,
                "no_multi" => NO_MULTI,
                "allow_busy" => ALLOW_BUSY,
                _ => 0,
            }
        })
    }
}

/// Per-command counters for INFO commandstats.
#[derive(Debug, Default)]
pub struct CommandStats {
    pub calls: Cell<u64>,
    pub usec: Cell<u64>,
    pub rejected_calls: Cell<u64>,
    pub failed_calls: Cell<u64>,
    pub latency: RefCell<crate::latency::LatencyHistogram>,
}

impl CommandStats {
    pub fn reset(&self) {
        self.calls.set(0);
        self.usec.set(0);
        self.rejected_calls.set(0);
        self.failed_calls.set(0);
        self.latency.replace(Default::default());
    }

    /// Listed by INFO commandstats (Redis skips commands never called, failed or rejected).
    pub fn any(&self) -> bool {
        self.calls.get() > 0 || self.failed_calls.get() > 0 || self.rejected_calls.get() > 0
    }
}

pub struct Command {
    /// Redis's `fullname`: `get`, or `config|get` for a subcommand.
    pub name: String,
    /// The same name, shared cheaply with clients (CLIENT LIST `cmd=`).
    pub fullname: std::rc::Rc<str>,
    pub arity: i64,
    pub flags: u32,
    pub first_key: i64,
    pub last_key: i64,
    pub step: i64,
    pub handler: Option<Handler>,
    pub subcommands: HashMap<String, Command>,
    pub meta: Meta,
    pub docs: Option<Value>,
    pub stats: CommandStats,
}

impl Command {
    pub fn has(&self, flag: u32) -> bool {
        self.flags & flag != 0
    }

    pub fn is_container(&self) -> bool {
        !self.subcommands.is_empty()
    }
}

pub enum Lookup<'a> {
    Found(&'a Command),
    /// A container command with an unknown subcommand.
    UnknownSubcommand(&'a Command),
    Unknown,
}

pub struct Table {
    pub commands: HashMap<String, Command>,
}

/// Lower-cases a command name without allocating when it is short (all real names are).
pub fn lower(name: &[u8], buf: &mut [u8; 32]) -> Option<usize> {
    if name.len() > buf.len() {
        return None;
    }
    for (d, s) in buf.iter_mut().zip(name) {
        *d = s.to_ascii_lowercase();
    }
    Some(name.len())
}

impl Table {
    /// Builds the table from the handler list and Redis's metadata.
    pub fn build() -> Table {
        Table::build_from(
            &load_info(),
            &load_docs(),
            crate::commands::all().copied().collect(),
        )
    }

    /// Sentinel mode: exactly the commands redis-sentinel serves (its own metadata), with
    /// SENTINEL, INFO, ROLE and PUBLISH going to the Sentinel core.
    pub fn build_sentinel() -> Table {
        use crate::sentinel_mode::{sentinel_handler, OVERRIDES, SENTINEL_SUBCOMMANDS};
        let info = load_sentinel_info();
        let wanted = |name: &str| {
            let top = name.split('|').next().unwrap_or(name);
            let Some(m) = info.get(top) else {
                return false;
            };
            !name.contains('|') || m.subcommands.iter().any(|s| s.name == name)
        };
        let mut handlers: Vec<(&'static str, Handler)> = crate::commands::all()
            .copied()
            .filter(|(n, _)| wanted(n) && !OVERRIDES.iter().any(|(o, _)| o == n))
            .collect();
        handlers.extend(OVERRIDES.iter().copied());
        handlers.extend(
            SENTINEL_SUBCOMMANDS
                .iter()
                .map(|n| (*n, sentinel_handler())),
        );
        Table::build_from(&info, &load_sentinel_docs(), handlers)
    }

    fn build_from(
        info: &HashMap<String, Meta>,
        docs: &HashMap<String, Value>,
        handlers: Vec<(&'static str, Handler)>,
    ) -> Table {
        let mut commands: HashMap<String, Command> = HashMap::new();
        for (name, handler) in handlers {
            let (top, sub) = match name.split_once('|') {
                Some((t, s)) => (t, Some(s)),
                None => (name, None),
            };
            let top_meta = info
                .get(top)
                .unwrap_or_else(|| panic!("handler {name} has no Redis metadata"));
            let entry = commands
                .entry(top.to_string())
                .or_insert_with(|| Command::from_meta(top_meta, docs.get(top).cloned(), None));
            match sub {
                None => entry.handler = Some(handler),
                Some(_) => {
                    let sub_meta = top_meta
                        .subcommands
                        .iter()
                        .find(|m| m.name == name)
                        .unwrap_or_else(|| panic!("subcommand {name} has no Redis metadata"));
                    let sub_docs = docs.get(top).and_then(|d| subcommand_docs(d, name));
                    entry.subcommands.insert(
                        sub_meta.name.clone(),
                        Command::from_meta(sub_meta, sub_docs, Some(handler)),
                    );
                }
            }
        }
        Table { commands }
    }

    pub fn get(&self, name: &str) -> Option<&Command> {
        match name.split_once('|') {
            Some((t, _)) => self.commands.get(t)?.subcommands.get(name),
            None => self.commands.get(name),
        }
    }

    /// Redis's `lookupCommand`: a container with one argument is the container itself.
    pub fn lookup(&self, argv: &[Bytes]) -> Lookup<'_> {
        let mut buf = [0u8; 32];
        let Some(n) = lower(&argv[0], &mut buf) else {
            return Lookup::Unknown;
        };
        let Ok(name) = std::str::from_utf8(&buf[..n]) else {
            return Lookup::Unknown;
        };
        let Some(cmd) = self.commands.get(name) else {
            return Lookup::Unknown;
        };
        if argv.len() == 1 || !cmd.is_container() {
            return Lookup::Found(cmd);
        }
        let mut sbuf = [0u8; 32];
        let sub = lower(&argv[1], &mut sbuf)
            .and_then(|n| std::str::from_utf8(&sbuf[..n]).ok())
            .and_then(|s| cmd.subcommands.get(format!("{name}|{s}").as_str()));
        match sub {
            Some(s) => Lookup::Found(s),
            None => Lookup::UnknownSubcommand(cmd),
        }
    }

    pub fn iter(&self) -> impl Iterator<Item = &Command> {
        self.commands.values()
    }
}

fn subcommand_docs(container_docs: &Value, full: &str) -> Option<Value> {
    let Value::Map(pairs) = container_docs else {
        return None;
    };
    let subs = pairs
        .iter()
        .find(|(k, _)| matches!(k, Value::Bulk(b) if &b[..] == b"subcommands"))?;
    let Value::Map(sub_pairs) = &subs.1 else {
        return None;
    };
    sub_pairs
        .iter()
        .find(|(k, _)| matches!(k, Value::Bulk(b) if &b[..] == full.as_bytes()))
        .map(|(_, v)| v.clone())
}

impl Command {
    fn from_meta(m: &Meta, docs: Option<Value>, handler: Option<Handler>) -> Command {
        Command {
            name: m.name.clone(),
            fullname: m.name.as_str().into(),
            arity: m.arity,
            flags: flags::parse(&m.flags)
                | if matches!(m.name.as_str(), "scan" | "randomkey") {
                    flags::TOUCHES_ARBITRARY_KEYS
                } else {
                    0
                },
            first_key: m.first_key,
            last_key: m.last_key,
            step: m.step,
            handler,
            subcommands: HashMap::new(),
            meta: m.clone(),
            docs,
            stats: CommandStats::default(),
        }
    }

    /// Redis's arity rule: positive is exact, negative is a minimum.
    pub fn arity_ok(&self, argc: usize) -> bool {
        let argc = argc as i64;
        (self.arity > 0 && self.arity == argc) || (self.arity < 0 && argc >= -self.arity)
    }
}
