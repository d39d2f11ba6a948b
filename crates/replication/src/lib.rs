//! Replication without I/O: replication IDs, the backlog ring, the PSYNC decision, and the
//! replica side's parsing of its master's handshake replies.
//!
//! ## The protocol (PSYNC2, as Redis 7.0's replication.c)
//! A master's history is named by a *replication ID* (40 hex digits) and measured by an
//! *offset*: the number of bytes of its replication stream so far (`master_repl_offset`).
//! A replica that connects sends `PSYNC <replid> <offset+1>` naming the history it has and the
//! next byte it wants (`PSYNC ? -1` when it has none). The master answers:
//! - `+CONTINUE <replid>` when it knows that history (its current ID, or its previous ID
//!   `replid2` up to `second_repl_offset`) and its backlog still holds every byte from the
//!   requested offset; the missing bytes follow, then the live stream.
//! - `+FULLRESYNC <replid> <offset>` otherwise; an RDB image of the dataset at `offset`
//!   follows (`$<len>\r\n<bytes>`, or `$EOF:<40 byte mark>\r\n<bytes><mark>` when diskless),
//!   then the live stream from that offset.
//!
//! When a replica is promoted (REPLICAOF NO ONE) it keeps its master's ID as `replid2` and
//! the offset where that history ends as `second_repl_offset`, then takes a new ID: the other
//! replicas of the old master continue from it with a partial resync. This is what makes a
//! Sentinel failover cheap.
//!
//! Offsets in the backlog are Redis's: the first byte of the stream has offset 1, so a
//! backlog created at `master_repl_offset = N` starts at `N + 1`.
//!
//! Must not depend on: tokio, sockets, files, the clock, the engine.
#![forbid(unsafe_code)]

pub mod backlog;
pub mod handshake;
pub mod ids;

pub use backlog::Backlog;
pub use ids::{psync_decision, PsyncDecision, ReplIds};
