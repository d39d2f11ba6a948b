//! Command handlers, one module per family. Each module lists its commands in its own
//! `HANDLERS`; arity, flags and key positions come from Redis's metadata (`crate::meta`).

pub mod aofrw;
pub mod bgsave;
pub mod bits;
pub mod client;
pub mod command;
pub mod config;
pub mod connection;
pub mod debug;
pub mod expire;
pub mod hashes;
pub mod hyperloglog;
pub mod info;
pub mod keys;
pub mod lcs;
pub mod lists;
pub mod memory;
pub mod persistence;
pub mod pubsub;
#[cfg(test)]
mod replay_tests;
pub mod replication;
pub mod server;
pub mod sets;
pub mod sort;
pub mod strings;
pub mod transactions;
pub mod zset_blocking;
pub mod zset_ops;
pub mod zset_ranges;
pub mod zsets;

use crate::table::Handler;

/// Every implemented command (or `container|subcommand`) and its handler.
pub fn all() -> impl Iterator<Item = &'static (&'static str, Handler)> {
    [
        aofrw::HANDLERS,
        bgsave::HANDLERS,
        bits::HANDLERS,
        client::HANDLERS,
        command::HANDLERS,
        config::HANDLERS,
        connection::HANDLERS,
        debug::HANDLERS,
        expire::HANDLERS,
        hashes::HANDLERS,
        hyperloglog::HANDLERS,
        info::HANDLERS,
        keys::HANDLERS,
        lcs::HANDLERS,
        lists::HANDLERS,
        memory::HANDLERS,
        persistence::HANDLERS,
        pubsub::HANDLERS,
        replication::HANDLERS,
        server::HANDLERS,
        sets::HANDLERS,
        sort::HANDLERS,
        strings::HANDLERS,
        transactions::HANDLERS,
        zsets::HANDLERS,
        zset_blocking::HANDLERS,
        zset_ranges::HANDLERS,
        zset_ops::HANDLERS,
    ]
    .into_iter()
    .flatten()
}
