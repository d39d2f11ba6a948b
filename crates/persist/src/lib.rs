//! Persistence: the RDB codec (files, DUMP/RESTORE payloads), byte-compatible with Redis 7.0,
//! and the multi-part AOF's manifest (`aof`).
//!
//! No I/O and no clock: the codec turns databases into bytes and bytes into databases; the
//! server crate owns files (temp file, fsync, rename) and passes `now` in. Depends only on
//! `keyspace`; must not depend on the engine, RESP or the config crate (thresholds come in as
//! plain numbers).
#![forbid(unsafe_code)]

pub mod aof;
pub mod rdb;

pub use rdb::{RdbError, RdbErrorKind};
