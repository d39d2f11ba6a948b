//! The RDB format of Redis 7.0 (`rdb.h`, `rdb.c`): version 10 written, versions 1..=10 read.
//!
//! - [`encode`]: whole files ([`encode::save`]) and single values (DUMP, DEBUG OBJECT's
//!   `serializedlength`), written as Redis 7.0 writes them.
//! - [`decode`]: files ([`decode::load`]) and single values (RESTORE), every length
//!   bounds-checked against the input so a corrupt file gives an error with its offset.
//! - [`blobs`]: the compact encodings stored as strings (listpack, ziplist, intset, zipmap).
//! - [`lzf`], [`crc64`]: the compression and checksum Redis uses.

pub mod blobs;
pub mod crc64;
pub mod decode;
pub mod encode;
pub mod lzf;

/// The version we write (Redis 7.0's `RDB_VERSION`).
pub const RDB_VERSION: u16 = 10;

// Value types (`RDB_TYPE_*`).
pub const TYPE_STRING: u8 = 0;
pub const TYPE_LIST: u8 = 1;
pub const TYPE_SET: u8 = 2;
pub const TYPE_ZSET: u8 = 3;
pub const TYPE_HASH: u8 = 4;
pub const TYPE_ZSET_2: u8 = 5;
pub const TYPE_MODULE_PRE_GA: u8 = 6;
pub const TYPE_MODULE_2: u8 = 7;
pub const TYPE_HASH_ZIPMAP: u8 = 9;
pub const TYPE_LIST_ZIPLIST: u8 = 10;
pub const TYPE_SET_INTSET: u8 = 11;
pub const TYPE_ZSET_ZIPLIST: u8 = 12;
pub const TYPE_HASH_ZIPLIST: u8 = 13;
pub const TYPE_LIST_QUICKLIST: u8 = 14;
pub const TYPE_STREAM_LISTPACKS: u8 = 15;
pub const TYPE_HASH_LISTPACK: u8 = 16;
pub const TYPE_ZSET_LISTPACK: u8 = 17;
pub const TYPE_LIST_QUICKLIST_2: u8 = 18;
pub const TYPE_STREAM_LISTPACKS_2: u8 = 19;

// Opcodes (`RDB_OPCODE_*`).
pub const OP_FUNCTION2: u8 = 245;
pub const OP_FUNCTION: u8 = 246;
pub const OP_MODULE_AUX: u8 = 247;
pub const OP_IDLE: u8 = 248;
pub const OP_FREQ: u8 = 249;
pub const OP_AUX: u8 = 250;
pub const OP_RESIZEDB: u8 = 251;
pub const OP_EXPIRETIME_MS: u8 = 252;
pub const OP_EXPIRETIME: u8 = 253;
pub const OP_SELECTDB: u8 = 254;
pub const OP_EOF: u8 = 255;

// Length encodings.
pub const LEN_6BIT: u8 = 0;
pub const LEN_14BIT: u8 = 1;
pub const LEN_32BIT: u8 = 0x80;
pub const LEN_64BIT: u8 = 0x81;
pub const LEN_ENCVAL: u8 = 3;
pub const ENC_INT8: u8 = 0;
pub const ENC_INT16: u8 = 1;
pub const ENC_INT32: u8 = 2;
pub const ENC_LZF: u8 = 3;

/// quicklist node containers in LIST_QUICKLIST_2.
pub const QUICKLIST_NODE_PLAIN: u64 = 1;
pub const QUICKLIST_NODE_PACKED: u64 = 2;

/// The encoding thresholds (directives) that decide a loaded value's encoding, as
/// `rdbLoadObject` applies them.
#[derive(Debug, Clone, Copy)]
pub struct Thresholds {
    pub hash_max_listpack_entries: usize,
    pub hash_max_listpack_value: usize,
    pub set_max_intset_entries: usize,
    pub zset_max_listpack_entries: usize,
    pub zset_max_listpack_value: usize,
    pub list_max_listpack_size: i64,
}

impl Default for Thresholds {
    /// Redis's defaults.
    fn default() -> Self {
        Thresholds {
            hash_max_listpack_entries: 512,
            hash_max_listpack_value: 64,
            set_max_intset_entries: 512,
            zset_max_listpack_entries: 128,
            zset_max_listpack_value: 64,
            list_max_listpack_size: -2,
        }
    }
}

/// A decoding failure at a byte offset of the input.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{kind} at offset {offset}")]
pub struct RdbError {
    pub offset: usize,
    pub kind: RdbErrorKind,
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum RdbErrorKind {
    #[error("unexpected end of file")]
    Truncated,
    #[error("wrong signature trying to load DB from file")]
    BadMagic,
    #[error("can't handle RDB format version {0}")]
    BadVersion(u32),
    #[error("wrong RDB checksum expected: ({expected:016x}) got: ({got:016x})")]
    BadChecksum { expected: u64, got: u64 },
    #[error("unknown RDB encoding type {0}")]
    UnknownType(u8),
    #[error("{what} of key '{key}' cannot be loaded: Redoubt has no {what}")]
    Unsupported { what: String, key: String },
    #[error("the RDB file contains AUX module data I can't load: no matching module '{0}'")]
    Module(String),
    #[error(
        "the RDB file contains functions (Redis functions library), which Redoubt does not \
         support"
    )]
    Functions,
    #[error("corrupt {0}")]
    Corrupt(&'static str),
    #[error("RDB has duplicated key '{key}' in DB {db}")]
    DuplicateKey { key: String, db: usize },
    #[error(
        "FATAL: Data file was created with a Redis server configured to handle more than {0} \
         databases"
    )]
    TooManyDbs(usize),
}

/// Redis's module type name for a 64-bit module id (`moduleTypeNameByID`).
pub fn module_name(id: u64) -> String {
    const CHARSET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut id = id >> 10;
    let mut name = [0u8; 9];
    for j in 0..9 {
        name[8 - j] = CHARSET[(id & 63) as usize];
        id >>= 6;
    }
    String::from_utf8_lossy(&name).into_owned()
}

/// A key for an error message: printable bytes as they are, others escaped.
pub(crate) fn show_key(k: &[u8]) -> String {
    k.escape_ascii().to_string()
}

#[cfg(test)]
mod tests;
