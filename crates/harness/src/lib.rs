//! Test harness shared by the integration suites (dev-only; never linked into a binary).
//!
//! What it owns:
//! - [`ServerProcess`]: starts `redis-server` (the oracle, Redis 7.0) or `redoubt-server` in a
//!   private temp dir on a free loopback port, waits until it answers PING, and stops it
//!   (SIGTERM, then SIGKILL after a deadline). Drop always kills, so a panicking test leaves
//!   no process behind. Both binaries take the same command line, so one builder serves both.
//! - [`RawConn`]: a blocking RESP client over `std::net::TcpStream` that returns replies either
//!   parsed ([`redoubt_resp::Value`]) or as the exact bytes the server sent, which is what
//!   byte-for-byte comparison needs.
//! - [`wait_for`] and the `must_*` helpers: polling with a deadline (tests never sleep blindly)
//!   and assertions that panic with context.
//! - [`reply`]: raw-reply tools (escaping for messages, shape, order-insensitive canonical form).
//! - [`deployment`]: a Sentinel deployment (data nodes and Sentinels, each with its own config
//!   file, log and port), [`events`] (every Sentinel event as clients see it) and [`writer`]
//!   (a Sentinel-aware writer and the count of acknowledged writes lost in a failover).
//! - [`proxy`]: a fault-injecting TCP proxy (delay, blackhole/half-open, throttle, cut, heal)
//!   to put between a replica and its master.
//! - [`netns`]: hosts with their own addresses in network namespaces, and partitions between
//!   them (nftables; root only).
//! - [`diff`]: the differential script format and the lockstep runner that replays a script
//!   against two servers and reports every reply that differs.
//!
//! Failing loudly is the rule: a missing `redis-server` (the oracle) or a missing
//! `redoubt-server` binary is an error with an explanation, never a skipped test.
//!
//! Only 127.0.0.1 is ever contacted, and the private addresses of the network namespaces a
//! test creates ([`netns`]), which have no route out. This crate may depend on `redoubt-resp`
//! and nothing else in the workspace: the server under test is always a separate process.

pub mod diff;
pub mod reply;

pub mod deployment;
pub mod events;
pub mod netns;
pub mod proxy;
pub mod writer;

mod conn;
mod must;
mod server;
mod wait;

pub use conn::{RawConn, ReadError, DEFAULT_TIMEOUT};
pub use must::{must_bulk, must_connect, must_error, must_int, must_ok, must_simple, must_start};
pub use server::{redis_binary, redoubt_binary, Flavor, ServerBuilder, ServerProcess};
pub use wait::{try_wait_for, wait_for};

pub use redoubt_resp::Value;
