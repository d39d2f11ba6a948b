//! `redoubt`: a local high-availability deployment in one command (issue 8).
//!
//! `redoubt up` writes a directory per process (config file, log, pid file) under one
//! deployment directory, starts a master, its replicas and the Sentinels as detached
//! processes on free loopback ports, records them in `redoubt.state`, and waits until the
//! deployment is healthy. Every other subcommand works from that directory alone: `status`
//! asks the nodes and the Sentinels, `watch` shows the same live with the Sentinels' events,
//! `kill` and `start` act on one process, `down` stops them all by their recorded PIDs.
//!
//! Invariants: a PID is only signalled after checking it still runs the binary we started in
//! the directory we gave it (`procs::is_ours`); every network call has a timeout; only
//! 127.0.0.1 is ever contacted.
//!
//! The library depends on `redoubt-resp` alone among our crates: the servers are separate
//! processes, driven over sockets like any client would. (The package also links
//! `redoubt-server` for the binary's `redoubt server` mode only; see main.rs.)

pub mod client;
pub mod control;
pub mod probe;
pub mod procs;
pub mod state;
pub mod topology;
pub mod tui;
pub mod up;
pub mod watch;
