//! Assertions that panic with context, named `must_*` as in TiKV's test utilities.

use redoubt_resp::Value;

use crate::conn::RawConn;
use crate::server::{Flavor, ServerProcess};

/// Starts a server or panics with the reason (which includes the log tail).
#[track_caller]
pub fn must_start(flavor: Flavor, directives: &[(&str, &str)]) -> ServerProcess {
    match ServerProcess::start(flavor, directives) {
        Ok(s) => s,
        Err(e) => panic!("starting {}: {e:#}", flavor.name()),
    }
}

#[track_caller]
pub fn must_connect(server: &ServerProcess) -> RawConn {
    match server.connect() {
        Ok(c) => c,
        Err(e) => panic!("{e:#}"),
    }
}

#[track_caller]
pub fn must_ok(v: &Value) {
    match v {
        Value::Simple(s) if s == "OK" => {}
        other => panic!("expected +OK, got {other:?}"),
    }
}

#[track_caller]
pub fn must_simple(v: &Value) -> &str {
    match v {
        Value::Simple(s) => s,
        other => panic!("expected a simple string, got {other:?}"),
    }
}

#[track_caller]
pub fn must_int(v: &Value) -> i64 {
    match v {
        Value::Int(n) => *n,
        other => panic!("expected an integer, got {other:?}"),
    }
}

#[track_caller]
pub fn must_bulk(v: &Value) -> &[u8] {
    match v {
        Value::Bulk(b) => b,
        other => panic!("expected a bulk string, got {other:?}"),
    }
}

/// The error text (`ERR ...`, `WRONGTYPE ...`).
#[track_caller]
pub fn must_error(v: &Value) -> &str {
    match v {
        Value::Error(e) => e,
        other => panic!("expected an error, got {other:?}"),
    }
}
