//! Redis Sentinel as a sans-IO state machine.
//!
//! [`Sentinel`] holds every piece of Sentinel state: the monitored masters with their replicas
//! and the other Sentinels, flags (SDOWN, ODOWN, ...), epochs and votes, timers. It never
//! touches a socket, a file or the clock. A driver (the server crate's `sentinel_driver`, or a
//! simulation) feeds it inputs, each with an explicit `now_ms`:
//!
//! - [`Sentinel::tick`]: Redis's `sentinelTimer`, about every 100 ms;
//! - [`Sentinel::on_connected`], [`Sentinel::on_disconnect`]: a link's fate;
//! - [`Sentinel::on_reply`]: the next reply on a command link (replies come in order);
//! - [`Sentinel::on_message`]: a pub/sub frame on a pub/sub link;
//! - [`Sentinel::command`] and friends: SENTINEL, INFO's sentinel section, ROLE, PUBLISH from
//!   clients of this Sentinel;
//!
//! and then takes the resulting [`Action`]s with [`Sentinel::take_actions`]: open a link to
//! an address, send a command on a link, close a link, publish an event on the local pub/sub,
//! log a line, flush the config file. Random choices (Redis's `rand()` for timer jitter and the
//! election delay) come from a seeded RNG, so a simulation can replay a run exactly.
//!
//! The behaviour follows Redis 7.0.15's `sentinel.c`; each function names the Redis function
//! it mirrors. Replies and event texts are byte-identical to redis-sentinel's.
//!
//! Must not depend on: tokio, sockets, files, the system clock, the engine.
#![forbid(unsafe_code)]

mod commands;
pub mod config;
mod events;
pub mod failover;
pub mod hello;
pub mod info;
mod monitor;
pub mod safe;
pub mod scripts;
pub mod state;
#[cfg(test)]
mod tests;

pub use state::Sentinel;

/// Identifies one outgoing connection for the driver.
pub type LinkId = u64;

/// What a link is used for: commands (PING, INFO, PUBLISH, ...) or the hello subscription.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkKind {
    Cmd,
    PubSub,
}

/// Log levels, as Redis's LL_* (the driver renders them with Redis's marks).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    Debug,
    Verbose,
    Notice,
    Warning,
}

/// Something the driver must do on the core's behalf.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Open a TCP connection to `ip:port`; report `on_connected` or `on_disconnect`.
    /// Commands sent on the link before it is connected are queued by the driver.
    Connect {
        link: LinkId,
        ip: String,
        port: u16,
        kind: LinkKind,
    },
    /// Send one command; its reply must come back through `on_reply` in order
    /// (on a pub/sub link every frame goes to `on_message`).
    Send { link: LinkId, argv: Vec<Vec<u8>> },
    /// Close the link; no `on_disconnect` is expected for it.
    Close { link: LinkId },
    /// Publish `message` on `channel` to the local pub/sub clients (an event).
    Publish { channel: String, message: String },
    /// Write a line to the log.
    Log { level: Level, line: String },
    /// Rewrite the config file with [`config::rewrite_lines`] now; log
    /// "Sentinel new configuration saved on disk" as Redis does.
    FlushConfig,
    /// Exit the process now (SENTINEL SIMULATE-FAILURE), with this code.
    Exit { code: i32 },
    /// Start `argv[0]` with these arguments; report `on_script_started` (or
    /// `on_script_spawn_failed`) and later `on_script_exit`.
    RunScript { id: u64, argv: Vec<String> },
    /// SIGKILL the script started for job `id` (it ran too long).
    KillScript { id: u64 },
}

/// Sentinel's timing parameters (SENTINEL DEBUG can change them, as in Redis 7.0).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Timing {
    pub info_period: i64,
    pub ping_period: i64,
    pub ask_period: i64,
    pub publish_period: i64,
    pub default_down_after: i64,
    pub default_failover_timeout: i64,
    pub tilt_trigger: i64,
    pub tilt_period: i64,
    pub slave_reconf_timeout: i64,
    pub min_link_reconnect_period: i64,
    pub election_timeout: i64,
    pub script_max_runtime: i64,
    pub script_retry_delay: i64,
}

impl Default for Timing {
    fn default() -> Self {
        Timing {
            info_period: 10_000,
            ping_period: 1_000,
            ask_period: 1_000,
            publish_period: 2_000,
            default_down_after: 30_000,
            default_failover_timeout: 180_000,
            tilt_trigger: 2_000,
            tilt_period: 30_000,
            slave_reconf_timeout: 10_000,
            min_link_reconnect_period: 15_000,
            election_timeout: 10_000,
            script_max_runtime: 60_000,
            script_retry_delay: 30_000,
        }
    }
}

/// The channel Sentinels announce themselves on.
pub const HELLO_CHANNEL: &str = "__sentinel__:hello";
/// Redis's SENTINEL_MAX_PENDING_COMMANDS.
pub const MAX_PENDING_COMMANDS: u32 = 100;
/// Redis's SENTINEL_INFO_VALIDITY_TIME... kept for the failover step; IS-MASTER-DOWN replies
/// older than 5 ask periods are forgotten.
pub const DEFAULT_SLAVE_PRIORITY: i64 = 100;
