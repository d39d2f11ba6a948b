//! redoubt-server as a library: sockets, tasks, timers, files and the process around the
//! engine. The binary (`main.rs`) only parses the command line and calls [`startup::main`].
//!
//! Owns: listeners and connection tasks ([`conn`]), the cron timer and signals
//! ([`server`]), the replica's link to its master ([`replica_link`]), Redis's log format
//! ([`log`]), allocator stats ([`mem`]), the Prometheus endpoint ([`metrics_http`],
//! [`metrics`]), and startup and shutdown ([`startup`]). Everything
//! about data and commands lives in `redoubt-engine`.

pub mod aof;
mod aof_load;
pub mod conn;
pub mod listeners;
pub mod loading;
pub mod log;
pub mod mem;
pub mod metrics;
pub mod metrics_http;
pub mod rdbfile;
pub mod repl_load;
pub mod repl_send;
pub mod replica_link;
pub mod safe_hold;
pub mod sentinel_driver;
pub mod sentinel_startup;
pub mod server;
pub mod startup;
pub mod sync_files;
mod sys;
