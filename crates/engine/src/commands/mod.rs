//! Command handlers, one module per family. Each module lists its commands in its own
//! `HANDLERS`; arity, flags and key positions come from Redis's metadata (`crate::meta`).

pub mod client;
pub mod command;
pub mod connection;
pub mod info;
pub mod keys;
pub mod memory;
pub mod pubsub;
pub mod server;
pub mod strings;
pub mod transactions;

use crate::table::Handler;

/// Every implemented command (or `container|subcommand`) and its handler.
pub fn all() -> impl Iterator<Item = &'static (&'static str, Handler)> {
    [
        client::HANDLERS,
        command::HANDLERS,
        connection::HANDLERS,
        info::HANDLERS,
        keys::HANDLERS,
        memory::HANDLERS,
        pubsub::HANDLERS,
        server::HANDLERS,
        strings::HANDLERS,
        transactions::HANDLERS,
    ]
    .into_iter()
    .flatten()
}
