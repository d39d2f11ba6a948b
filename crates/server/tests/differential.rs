//! The differential suite: every script in `tests/diff/*.txt` is replayed against a real
//! `redis-server` 7.0 (the oracle) and against `redoubt-server`, in lockstep, and the raw
//! replies are compared byte for byte, in RESP2 and again in RESP3.
//!
//! Run it: `cargo test -p redoubt-server --test differential`. Knobs (environment):
//! - `DIFF_ONLY=strings.txt,keys`: only these scripts;
//! - `DIFF_AGAINST=redis`: real Redis against a second real Redis. This self-check must
//!   always pass; it proves each script line is deterministic (two Redis servers even hash
//!   with different seeds, so an order-dependent line shows up);
//! - `DIFF_PROTO=2` or `3`: one protocol pass only;
//! - `DIFF_THREADS=N`: scripts run in parallel (default 3);
//! - `DIFF_SHOW=N` or `all`: problems printed per script and protocol (default 40; all
//!   with `DIFF_ONLY`);
//! - `DIFF_TRANSCRIPT_DIR=dir`: write every exchange with the oracle's reply, for review.
//!
//! A missing `redis-server` or `redoubt-server` fails the test with an explanation: a
//! missing oracle is never a skip.
//!
//! # Script format
//!
//! One step per line; blank lines and `#` comments are ignored.
//!
//! ```text
//! SET k "a b\x00c"           a command, tokenized like redis-cli (sdssplitargs), sent as a
//!                            multibulk; its reply is compared byte for byte
//! ~TIME                      ~: compare only the shape (RESP types, aggregate lengths)
//! @sorted KEYS *             compare arrays/sets/maps as multisets (hash order differs)
//! @mask=id,addr CLIENT INFO  hide these fields' values (maps, RESP2 pairs, k=v text)
//! @replies=3 SUBSCRIBE a b c the command gets 3 replies (default 1; 0 is allowed)
//! @if-resp3 PUBLISH a x      only when the connection speaks RESP3 (@if-resp2 likewise)
//! @resp3 / @resp2            HELLO 3 / HELLO 2 on this connection (server, version, id masked)
//! @conn other                switch connection (opened on first use; the first is `main`)
//! @close                     close the current connection
//! @read 2                    read 2 replies without sending (messages to a subscriber)
//! @raw "GET k\r\n"           send bytes as they are, then PING diff-barrier; compare all
//!                            replies up to the barrier's (connection must stay open)
//! @raw-close "*1\r\n$x\r\n"  send bytes; compare all until the server closes (must close)
//! @wait 50                   fixed pause, at most 200 ms: expiry tests only, and only where
//!                            a key already expired (PEXPIREAT in the past) will not do
//! @resp2-only / @resp3-only  header: run one pass only (default: both)
//! @config name value         header: startup directive for both servers
//! ```
//!
//! Each script runs on a fresh pair of servers started with `enable-debug-command yes` on top
//! of the harness defaults. At the end each open connection gets RESET, and any reply still
//! unread is reported. Problems are listed as `file:line [RESPn, conn]: command` with both
//! replies escaped; all are collected and the test fails at the end. Intended differences
//! belong in `docs/COMPATIBILITY.md`, not in silenced lines.

use std::io::Write;
use std::path::Path;

use redoubt_harness::diff::Suite;
use redoubt_harness::Flavor;

#[test]
fn differential() {
    // DIFF_DIR runs another folder of scripts (e.g. tests/diff-pending against real Redis).
    let dir = match std::env::var_os("DIFF_DIR") {
        Some(d) => std::path::PathBuf::from(d),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/diff"),
    };
    let mut suite = Suite::from_env(&dir).unwrap_or_else(|e| panic!("{e:#}"));
    if suite.subject == Flavor::Redoubt && std::env::var_os("REDOUBT_SERVER_BIN").is_none() {
        // Cargo builds the binary for integration tests and says where it is.
        suite.subject_binary = Some(env!("CARGO_BIN_EXE_redoubt-server").into());
    }
    let report = suite.run().unwrap_or_else(|e| panic!("{e:#}"));

    // Written straight to stderr, past the test harness's capture, so the count shows on
    // success too.
    let _ = std::io::stderr().write_all(report.render(suite.show_per_run).as_bytes());
    let summary = report.summary();
    assert!(report.compared > 0, "no exchange compared");
    assert!(
        report.problems.is_empty(),
        "{summary}; the problems are listed above"
    );
}
