//! Configuration, as Redis 7.0.15's `config.c` has it: the directive table, `redis.conf`
//! parsing, the `redis-server` command line, typed values, and `CONFIG GET`, `CONFIG SET` and
//! `CONFIG REWRITE`.
//!
//! One table drives everything ([`table::DIRECTIVES`]): each directive's name, legacy alias,
//! type, bounds, default and flags (immutable, protected, sensitive, hidden, ...). Raw lines
//! become typed values through it, and the same per-type code serves the file loader and
//! `CONFIG SET`, so both accept, refuse and word their errors exactly as Redis does; `CONFIG
//! GET` and `CONFIG REWRITE` print through it.
//!
//! How a start goes: [`parse_server_args`] turns `argv` into a file name, a stdin flag and
//! option text, the way `main()` does; [`fsio::load_server_config`] reads the file (and its
//! `include`s) and parses file, stdin and options as one text with
//! [`Config::load_text`]. A bad line yields a [`LoadError`] whose `Display` is Redis's FATAL
//! report, byte for byte. At run time the server keeps one [`Config`], reads typed values
//! from it ([`Config::get_int`], [`Config::save_points`], ...), calls
//! [`Config::config_set`] (all or nothing) and applies the [`Changes`] it returns, or
//! [`Config::rollback`]s them if applying fails, as Redis restores its backup. CONFIG
//! REWRITE is [`rewrite_config_text`] plus [`fsio::write_config_atomic`].
//!
//! Invariants: every value in a [`Config`] is one its directive's parser accepted; a failed
//! `config_set` changes nothing; parsing never panics on any input (property tests check
//! this; `fuzz/corpus/config` holds seeds for a fuzz target).
//!
//! Every behaviour here was checked against a running redis-server 7.0.15 and the tests
//! record its answers as literals; where Redis's answer depends on a random dict order
//! (`CONFIG GET` reply order, the order of lines `CONFIG REWRITE` appends) we use table order.
//!
//! Depends only on `resp` (for `sdssplitargs`). No sockets, no clock, no server state;
//! only [`fsio`] touches the file system and the working directory.
#![forbid(unsafe_code)]

mod argv;
mod cnum;
pub mod fsio;
mod get_set;
mod parse;
mod rewrite;
pub mod table;
mod values;

pub use argv::{assemble_config_text, parse_server_args, Invocation, ServerArgs};
pub use cnum::repr;
pub use get_set::{
    sensitive_value_positions, Change, Changes, SetContext, SetError, NO_CONFIG_FILE_ERROR,
};
pub use parse::{parse_config_text, LoadEnv, LoadError, PureEnv, MAX_INCLUDE_DEPTH, REDIS_VERSION};
pub use rewrite::{rewrite_config_text, RewriteOptions, REWRITE_SIGNATURE};
pub use table::{lookup, Directive, DirectiveId, Flags, Kind, NameMatch, Support, DIRECTIVES};
pub use values::{
    keyspace_events_from_str, keyspace_events_to_string, notify, ClientBufferLimit, ClientClass,
    Config, SavePoint, SentinelLine, Value,
};
