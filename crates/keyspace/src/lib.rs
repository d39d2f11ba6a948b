//! The data: databases, values and their encodings, the expiry index, and the number and
//! pattern rules Redis applies to them.
//!
//! No I/O, no RESP, no clock: time is passed in as `now_ms`. Depends on nothing in the
//! workspace, so persistence, replication and the engine can all share these types.
#![forbid(unsafe_code)]

pub mod bytestr;
pub mod cow;
pub mod db;
pub mod glob;
pub mod hash;
pub mod hll;
pub mod list;
pub mod num;
pub mod rand;
pub mod set;
pub mod slab_scan;
pub mod value;
pub mod zset;
mod zset_tree;

pub use bytestr::ByteStr;
pub use db::{Db, Entry, NO_EXPIRE};
pub use value::{StrVal, Value};
