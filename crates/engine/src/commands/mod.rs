//! Command handlers, one module per family, and the list that registers them.

pub mod connection;
pub mod keys;
pub mod pubsub;
pub mod server;
pub mod strings;
pub mod transactions;

use crate::table::Handler;

/// Every implemented command (or `container|subcommand`) and its handler. Arity, flags and
/// key positions come from Redis's metadata (see `crate::meta`).
pub static HANDLERS: &[(&str, Handler)] = &[
    // connection
    ("ping", connection::ping),
    ("echo", connection::echo),
    ("quit", connection::quit),
    ("select", connection::select),
    ("auth", connection::auth),
    ("hello", connection::hello),
    ("reset", connection::reset),
    // transactions
    ("multi", transactions::multi),
    ("exec", transactions::exec),
    ("discard", transactions::discard),
    ("watch", transactions::watch),
    ("unwatch", transactions::unwatch),
    // pub/sub
    ("subscribe", pubsub::subscribe),
    ("unsubscribe", pubsub::unsubscribe),
    ("psubscribe", pubsub::psubscribe),
    ("punsubscribe", pubsub::punsubscribe),
    ("ssubscribe", pubsub::ssubscribe),
    ("sunsubscribe", pubsub::sunsubscribe),
    ("publish", pubsub::publish),
    ("spublish", pubsub::spublish),
    ("pubsub|channels", pubsub::pubsub_channels),
    ("pubsub|numsub", pubsub::pubsub_numsub),
    ("pubsub|numpat", pubsub::pubsub_numpat),
    ("pubsub|shardchannels", pubsub::pubsub_shardchannels),
    ("pubsub|shardnumsub", pubsub::pubsub_shardnumsub),
    // server
    ("dbsize", server::dbsize),
    ("flushdb", server::flushdb),
    ("flushall", server::flushall),
    ("swapdb", server::swapdb),
    ("time", server::time),
    ("monitor", server::monitor),
    ("debug", server::debug),
    // keys
    ("del", keys::del),
    ("unlink", keys::unlink),
    ("exists", keys::exists),
    ("type", keys::type_),
    // strings
    ("get", strings::get),
    ("set", strings::set),
    ("setnx", strings::setnx),
    ("setex", strings::setex),
    ("psetex", strings::psetex),
    ("incr", strings::incr),
    ("decr", strings::decr),
    ("incrby", strings::incrby),
    ("decrby", strings::decrby),
];
