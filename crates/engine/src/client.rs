//! Per-connection state the engine keeps (Redis's `client` struct, minus the sockets).

use bytes::Bytes;
use hashbrown::HashSet;
use redoubt_resp::{Protocol, ReplyBuf};
use std::cell::Cell;

pub type ClientId = u64;

/// What kind of peer this is (CLIENT LIST `flags`, CLIENT KILL TYPE).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientKind {
    Normal,
    Replica,
    Master,
}

/// The part of a client shared with its connection task: a wake-up for output written by
/// other clients (pub/sub, MONITOR, unblocking) and the kill switch.
#[derive(Debug, Default)]
pub struct ClientIo {
    pub notify: tokio_notify::Notify,
    pub killed: Cell<bool>,
    /// A replica's full sync payload, written by the connection task before anything
    /// buffered after it (`crate::repl_sync`).
    pub bulk: std::cell::RefCell<crate::repl_sync::BulkQueue>,
    /// `repl-disable-tcp-nodelay`: set at a replica's full sync, for the connection task to
    /// turn TCP_NODELAY off on the socket before it writes the sync's output.
    pub disable_nodelay: Cell<bool>,
}

/// A tiny single-threaded notifier so this crate stays free of tokio: the server wraps it.
pub mod tokio_notify {
    use std::cell::{Cell, RefCell};
    use std::task::Waker;

    /// Remembers that output is pending and wakes the connection task once.
    #[derive(Debug, Default)]
    pub struct Notify {
        pending: Cell<bool>,
        waker: RefCell<Option<Waker>>,
    }

    impl Notify {
        pub fn notify(&self) {
            self.pending.set(true);
            if let Some(w) = self.waker.borrow_mut().take() {
                w.wake();
            }
        }

        /// Polls: ready once after one or more `notify` calls.
        pub fn poll_notified(&self, cx: &mut std::task::Context<'_>) -> std::task::Poll<()> {
            if self.pending.replace(false) {
                return std::task::Poll::Ready(());
            }
            *self.waker.borrow_mut() = Some(cx.waker().clone());
            std::task::Poll::Pending
        }

        pub fn notified(&self) -> Notified<'_> {
            Notified(self)
        }
    }

    pub struct Notified<'a>(&'a Notify);

    impl std::future::Future for Notified<'_> {
        type Output = ();
        fn poll(
            self: std::pin::Pin<&mut Self>,
            cx: &mut std::task::Context<'_>,
        ) -> std::task::Poll<()> {
            self.0.poll_notified(cx)
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplyMode {
    On,
    Off,
    /// Skip the next command's reply only.
    Skip,
    /// Set by CLIENT REPLY SKIP, becomes Skip after the current command.
    SkipNext,
}

/// One WATCHed key; `expired` records that it was already logically expired when watched.
#[derive(Debug, Clone)]
pub struct WatchedKey {
    pub db: usize,
    pub key: Vec<u8>,
    pub expired: bool,
}

pub struct Client {
    pub id: ClientId,
    pub kind: ClientKind,
    pub io: std::rc::Rc<ClientIo>,
    pub out: ReplyBuf,
    pub db: usize,
    pub name: Option<Bytes>,
    pub lib_name: Option<Bytes>,
    pub lib_ver: Option<Bytes>,
    pub authenticated: bool,
    pub addr: String,
    pub laddr: String,
    /// Connected over loopback or a unix socket (Redis's `islocalClient`).
    pub local: bool,
    pub fd: i64,
    pub created_ms: i64,
    pub last_interaction_ms: i64,
    /// Commands queued by MULTI; `None` outside a transaction.
    pub multi: Option<Vec<Vec<Bytes>>>,
    /// A queued command was refused: EXEC must answer EXECABORT.
    pub multi_dirty: bool,
    /// A watched key changed: EXEC must answer null.
    pub watch_dirty: bool,
    pub watched: Vec<WatchedKey>,
    pub channels: HashSet<Bytes>,
    pub patterns: HashSet<Bytes>,
    pub shard_channels: HashSet<Bytes>,
    pub reply_mode: ReplyMode,
    pub close_after_reply: bool,
    pub no_evict: bool,
    pub monitor: bool,
    /// The last command looked up (CLIENT LIST `cmd=`): set even when the command is then
    /// refused or queued, `NULL` after an unknown command, as Redis's `c->lastcmd`.
    pub last_cmd: std::rc::Rc<str>,
    /// Query buffer length and free space (CLIENT LIST `qbuf`, `qbuf-free`), kept by the
    /// connection: during a batch, the whole buffer the batch was decoded from.
    pub query_buf_len: usize,
    pub query_buf_free: usize,
    /// When the output buffer first went over the soft limit (client-output-buffer-limit).
    pub obuf_soft_since_ms: Option<i64>,
    /// Bytes of the arguments of the command being executed (`argv-mem`), 0 between them.
    pub argv_mem: usize,
    /// Connected through the unix socket (CLIENT LIST flag `U`).
    pub unix_socket: bool,
    /// Set while a blocking command waits (see [`crate::blocking`]): the connection runs
    /// nothing else for this client until it is served, times out or is unblocked.
    pub blocked: Option<crate::blocking::BlockState>,
    /// Set once this client is one of our replicas (SYNC/PSYNC).
    pub repl: Option<crate::repl::ReplicaInfo>,
    /// REPLCONF before SYNC: what the replica announced.
    pub repl_pending: Option<crate::repl::ReplicaInfo>,
    /// `master_repl_offset` after this client's last write (`c->woff`), for WAIT.
    pub woff: u64,
    /// Replies of this batch held until replicas acknowledged them
    /// (`replica-ack-before-reply`, see [`crate::safe`]); the connection takes it with the
    /// batch's output.
    pub hold: Option<crate::safe::Hold>,
}

impl Client {
    pub fn new(
        id: ClientId,
        kind: ClientKind,
        io: std::rc::Rc<ClientIo>,
        now_ms: i64,
        authenticated: bool,
    ) -> Self {
        Client {
            id,
            kind,
            io,
            out: ReplyBuf::new(Protocol::Resp2),
            db: 0,
            name: None,
            lib_name: None,
            lib_ver: None,
            authenticated,
            addr: String::new(),
            laddr: String::new(),
            local: true,
            fd: -1,
            created_ms: now_ms,
            last_interaction_ms: now_ms,
            multi: None,
            multi_dirty: false,
            watch_dirty: false,
            watched: Vec::new(),
            channels: HashSet::new(),
            patterns: HashSet::new(),
            shard_channels: HashSet::new(),
            reply_mode: ReplyMode::On,
            close_after_reply: false,
            no_evict: false,
            monitor: false,
            last_cmd: "NULL".into(),
            query_buf_len: 0,
            query_buf_free: 0,
            obuf_soft_since_ms: None,
            argv_mem: 0,
            unix_socket: false,
            blocked: None,
            repl: None,
            repl_pending: None,
            woff: 0,
            hold: None,
        }
    }

    pub fn subscriptions(&self) -> usize {
        self.channels.len() + self.patterns.len()
    }

    /// Redis's CLIENT_PUBSUB flag: subscribed to anything.
    pub fn in_pubsub(&self) -> bool {
        !self.channels.is_empty() || !self.patterns.is_empty() || !self.shard_channels.is_empty()
    }

    pub fn proto(&self) -> Protocol {
        self.out.proto
    }
}
