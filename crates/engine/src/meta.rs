//! Redis 7.0.15's command metadata, captured as data by `scripts/gen-command-meta.py`.
//!
//! `COMMAND INFO` and `COMMAND DOCS` replies for every Redis command are stored in RESP3
//! (`commands/meta/*.resp3`). The command table takes each implemented command's arity,
//! flags and key positions from here, so they cannot drift from Redis's, and COMMAND
//! answers byte for byte in either protocol by re-encoding these values.

use hashbrown::HashMap;
use redoubt_resp::{parse_value, ReplyBuf, Value};

static INFO: &[u8] = include_bytes!("commands/meta/info.resp3");
static DOCS: &[u8] = include_bytes!("commands/meta/docs.resp3");
/// The same, captured from redis-sentinel 7.0.15: the table a Sentinel serves.
static SENTINEL_INFO: &[u8] = include_bytes!("commands/meta/sentinel-info.resp3");
static SENTINEL_DOCS: &[u8] = include_bytes!("commands/meta/sentinel-docs.resp3");

/// One command's (or subcommand's) metadata.
#[derive(Debug, Clone)]
pub struct Meta {
    pub name: String,
    pub arity: i64,
    pub flags: Vec<String>,
    pub first_key: i64,
    pub last_key: i64,
    pub step: i64,
    /// The full COMMAND INFO entry.
    pub info: Value,
    pub subcommands: Vec<Meta>,
}

fn text(v: &Value) -> String {
    match v {
        Value::Simple(s) => s.clone(),
        Value::Bulk(b) => String::from_utf8_lossy(b).into_owned(),
        _ => String::new(),
    }
}

fn int(v: &Value) -> i64 {
    match v {
        Value::Int(n) => *n,
        _ => 0,
    }
}

fn items(v: &Value) -> &[Value] {
    match v {
        Value::Array(a) | Value::Set(a) => a,
        _ => &[],
    }
}

fn meta_from(v: &Value) -> Meta {
    let f = items(v);
    assert!(f.len() >= 10, "COMMAND INFO entries have 10 fields");
    Meta {
        name: text(&f[0]),
        arity: int(&f[1]),
        flags: items(&f[2]).iter().map(text).collect(),
        first_key: int(&f[3]),
        last_key: int(&f[4]),
        step: int(&f[5]),
        info: v.clone(),
        subcommands: items(&f[9]).iter().map(meta_from).collect(),
    }
}

fn parse_all(mut data: &[u8]) -> Vec<Value> {
    let mut out = Vec::new();
    while !data.is_empty() {
        let (v, used) = parse_value(data)
            .expect("embedded metadata is valid RESP3")
            .expect("embedded metadata is complete");
        out.push(v);
        data = &data[used..];
    }
    out
}

/// Every top-level command's metadata, by lower-case name.
pub fn load_info() -> HashMap<String, Meta> {
    info_from(INFO)
}

/// redis-sentinel's command metadata.
pub fn load_sentinel_info() -> HashMap<String, Meta> {
    info_from(SENTINEL_INFO)
}

fn info_from(data: &[u8]) -> HashMap<String, Meta> {
    parse_all(data)
        .iter()
        .flat_map(|reply| items(reply).iter().map(meta_from).collect::<Vec<_>>())
        // The sentinel capture also asked for `container|sub` names; those live inside
        // their container's entry already.
        .filter(|m| !m.name.contains('|'))
        .map(|m| (m.name.clone(), m))
        .collect()
}

/// COMMAND DOCS entries: name -> the doc map value.
pub fn load_docs() -> HashMap<String, Value> {
    docs_from(DOCS)
}

/// redis-sentinel's COMMAND DOCS entries.
pub fn load_sentinel_docs() -> HashMap<String, Value> {
    docs_from(SENTINEL_DOCS)
}

fn docs_from(data: &[u8]) -> HashMap<String, Value> {
    let mut out = HashMap::new();
    for reply in parse_all(data) {
        if let Value::Map(pairs) = reply {
            for (k, v) in pairs {
                out.insert(text(&k), v);
            }
        }
    }
    out
}

/// Encodes a parsed value for a client, in its protocol.
pub fn write_value(out: &mut ReplyBuf, v: &Value) {
    match v {
        Value::Simple(s) => out.simple(s),
        Value::Error(e) => out.error(e),
        Value::Int(n) => out.int(*n),
        Value::Bulk(b) => out.bulk(b),
        Value::Nil => out.null(),
        Value::Array(a) => {
            out.array_len(a.len());
            a.iter().for_each(|x| write_value(out, x));
        }
        Value::Set(a) => {
            out.set_len(a.len());
            a.iter().for_each(|x| write_value(out, x));
        }
        Value::Push(a) => {
            out.push_len(a.len());
            a.iter().for_each(|x| write_value(out, x));
        }
        Value::Map(pairs) => {
            out.map_len(pairs.len());
            for (k, x) in pairs {
                write_value(out, k);
                write_value(out, x);
            }
        }
        Value::Double(d) => out.double(d.parse().unwrap_or(0.0)),
        Value::Bool(b) => out.bool(*b),
        Value::BigNumber(s) => out.bulk(s.as_bytes()),
        Value::Verbatim(_, b) => out.verbatim(b, "txt"),
    }
}
