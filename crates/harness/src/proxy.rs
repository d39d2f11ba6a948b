//! A fault-injecting TCP proxy (TiKV's transport filters, as a process-level tool): it listens
//! on 127.0.0.1 on a port the OS picks, forwards every connection to a target, and can be told
//! at run time to delay, blackhole, throttle or cut the traffic, and to heal.
//!
//! Put it between a replica and its master (`REPLICAOF 127.0.0.1 <proxy port>`) and the link
//! misbehaves as a network does, while both servers are untouched:
//! - [`FaultProxy::delay`]: every chunk is delivered `d` after it was read (order kept), so a
//!   round trip costs at least `2d`.
//! - [`FaultProxy::blackhole`]: nothing is forwarded in either direction, but every socket
//!   stays open and no FIN or RST is passed on: a half-open link, as a partition or a dead
//!   router makes. Bytes sent meanwhile wait (in the proxy and the kernel's buffers, which
//!   then push back on the sender) and are delivered in order on [`FaultProxy::heal`], as TCP
//!   retransmission would after a short partition. New connections are accepted and get the
//!   same treatment.
//! - [`FaultProxy::throttle`]: at most `n` bytes a second in each direction.
//! - [`FaultProxy::cut`]: every open connection is closed on both sides at once (new ones
//!   are accepted as usual): a reset link.
//! - [`FaultProxy::heal`]: back to plain forwarding.
//!
//! Each connection has a reader and a writer thread per direction joined by a bounded queue,
//! so a paused writer pushes back on the reader and the sender's kernel buffer, instead of
//! buffering without limit. Dropping the proxy closes everything.

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, SyncSender};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::Context;

/// How the proxy treats traffic now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LinkMode {
    /// Forward as fast as possible.
    Pass,
    /// Deliver each chunk this long after it was read.
    Delay(Duration),
    /// Forward nothing, keep every socket open.
    Blackhole,
    /// At most this many bytes a second per direction.
    Throttle(u64),
}

/// Chunks queued per direction before the reader stops reading (and the kernel pushes back).
const QUEUE_CHUNKS: usize = 16;
const CHUNK_BYTES: usize = 16 * 1024;
/// How often a blocked thread looks at the stop flag.
const POLL: Duration = Duration::from_millis(50);

struct State {
    mode: LinkMode,
    stopped: bool,
}

struct Shared {
    state: Mutex<State>,
    changed: Condvar,
    /// Both sockets of every connection still open, for [`FaultProxy::cut`].
    conns: Mutex<Vec<(u64, TcpStream, TcpStream)>>,
    next_id: AtomicU64,
    accepted: AtomicU64,
    /// Bytes forwarded towards the target and back.
    to_target: AtomicU64,
    to_client: AtomicU64,
}

/// A running proxy; dropping it closes the listener and every connection.
pub struct FaultProxy {
    port: u16,
    target: SocketAddr,
    shared: Arc<Shared>,
    stop: Arc<AtomicBool>,
    acceptor: Option<JoinHandle<()>>,
}

impl FaultProxy {
    /// Starts a proxy to `127.0.0.1:target_port`.
    pub fn start(target_port: u16) -> anyhow::Result<FaultProxy> {
        let target = SocketAddr::from(([127, 0, 0, 1], target_port));
        let listener = TcpListener::bind("127.0.0.1:0").context("binding the proxy")?;
        let port = listener.local_addr()?.port();
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                mode: LinkMode::Pass,
                stopped: false,
            }),
            changed: Condvar::new(),
            conns: Mutex::new(Vec::new()),
            next_id: AtomicU64::new(0),
            accepted: AtomicU64::new(0),
            to_target: AtomicU64::new(0),
            to_client: AtomicU64::new(0),
        });
        let stop = Arc::new(AtomicBool::new(false));
        let (sh, st) = (Arc::clone(&shared), Arc::clone(&stop));
        let acceptor = std::thread::Builder::new()
            .name(format!("proxy-{port}"))
            .spawn(move || accept_loop(&listener, target, &sh, &st))
            .context("spawning the proxy thread")?;
        Ok(FaultProxy {
            port,
            target,
            shared,
            stop,
            acceptor: Some(acceptor),
        })
    }

    /// The port clients connect to instead of the target's.
    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn target(&self) -> SocketAddr {
        self.target
    }

    pub fn mode(&self) -> LinkMode {
        lock(&self.shared.state).mode
    }

    pub fn set_mode(&self, mode: LinkMode) {
        lock(&self.shared.state).mode = mode;
        self.shared.changed.notify_all();
    }

    pub fn delay(&self, d: Duration) {
        self.set_mode(LinkMode::Delay(d));
    }

    pub fn blackhole(&self) {
        self.set_mode(LinkMode::Blackhole);
    }

    pub fn throttle(&self, bytes_per_sec: u64) {
        assert!(bytes_per_sec > 0, "a zero throttle is a blackhole");
        self.set_mode(LinkMode::Throttle(bytes_per_sec));
    }

    pub fn heal(&self) {
        self.set_mode(LinkMode::Pass);
    }

    /// Closes every open connection on both sides; returns how many there were.
    pub fn cut(&self) -> usize {
        let conns = std::mem::take(&mut *lock(&self.shared.conns));
        for (_, a, b) in &conns {
            let _ = a.shutdown(Shutdown::Both);
            let _ = b.shutdown(Shutdown::Both);
        }
        conns.len()
    }

    /// Connections open now.
    pub fn open_connections(&self) -> usize {
        lock(&self.shared.conns).len()
    }

    /// Connections accepted since the start.
    pub fn accepted(&self) -> u64 {
        self.shared.accepted.load(Ordering::Relaxed)
    }

    /// Bytes forwarded so far: (client to target, target to client).
    pub fn forwarded(&self) -> (u64, u64) {
        (
            self.shared.to_target.load(Ordering::Relaxed),
            self.shared.to_client.load(Ordering::Relaxed),
        )
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        lock(&self.shared.state).stopped = true;
        self.shared.changed.notify_all();
        self.cut();
        // Wake the blocking accept so its thread sees the flag.
        let _ = TcpStream::connect_timeout(
            &SocketAddr::from(([127, 0, 0, 1], self.port)),
            Duration::from_secs(1),
        );
        if let Some(h) = self.acceptor.take() {
            let _ = h.join();
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn accept_loop(
    listener: &TcpListener,
    target: SocketAddr,
    shared: &Arc<Shared>,
    stop: &AtomicBool,
) {
    for client in listener.incoming() {
        if stop.load(Ordering::Relaxed) {
            return;
        }
        let Ok(client) = client else { continue };
        shared.accepted.fetch_add(1, Ordering::Relaxed);
        let upstream = match TcpStream::connect_timeout(&target, Duration::from_secs(2)) {
            Ok(s) => s,
            // The target is down: the client sees its connection closed, as with no proxy
            // it would see a refusal.
            Err(_) => {
                let _ = client.shutdown(Shutdown::Both);
                continue;
            }
        };
        if let Err(e) = spawn_connection(client, upstream, shared) {
            eprintln!("fault proxy: dropping a connection: {e}");
        }
    }
}

fn spawn_connection(
    client: TcpStream,
    upstream: TcpStream,
    shared: &Arc<Shared>,
) -> io::Result<()> {
    let _ = client.set_nodelay(true);
    let _ = upstream.set_nodelay(true);
    let id = shared.next_id.fetch_add(1, Ordering::Relaxed);
    lock(&shared.conns).push((id, client.try_clone()?, upstream.try_clone()?));
    // Each direction ends on its own; the pair is forgotten when both have.
    let open = Arc::new(AtomicU64::new(2));
    for (from, to, up) in [
        (client.try_clone()?, upstream.try_clone()?, true),
        (upstream, client, false),
    ] {
        let (tx, rx) = mpsc::sync_channel(QUEUE_CHUNKS);
        let sh = Arc::clone(shared);
        let reader_from = from.try_clone()?;
        std::thread::Builder::new()
            .name("proxy-read".into())
            .spawn(move || read_side(reader_from, &tx))?;
        let open = Arc::clone(&open);
        std::thread::Builder::new()
            .name("proxy-write".into())
            .spawn(move || {
                write_side(&rx, &to, &sh, up);
                // The writer is done: nothing more goes either way on this direction.
                let _ = from.shutdown(Shutdown::Read);
                if open.fetch_sub(1, Ordering::AcqRel) == 1 {
                    lock(&sh.conns).retain(|(i, _, _)| *i != id);
                }
            })?;
    }
    Ok(())
}

enum Chunk {
    Data(Instant, Vec<u8>),
    /// The sender closed its side (or the socket failed): pass the close on.
    Eof,
}

fn read_side(mut from: TcpStream, tx: &SyncSender<Chunk>) {
    let mut buf = vec![0u8; CHUNK_BYTES];
    loop {
        match from.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                if tx
                    .send(Chunk::Data(Instant::now(), buf[..n].to_vec()))
                    .is_err()
                {
                    return;
                }
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => break,
        }
    }
    let _ = tx.send(Chunk::Eof);
}

/// Waits while the link is blackholed; returns the mode to apply, or `None` when stopping.
fn wait_open(shared: &Shared) -> Option<LinkMode> {
    let mut st = lock(&shared.state);
    loop {
        if st.stopped {
            return None;
        }
        if st.mode != LinkMode::Blackhole {
            return Some(st.mode);
        }
        st = match shared.changed.wait_timeout(st, POLL) {
            Ok((g, _)) => g,
            Err(p) => p.into_inner().0,
        };
    }
}

fn write_side(rx: &Receiver<Chunk>, to: &TcpStream, shared: &Shared, up: bool) {
    let mut to = to;
    loop {
        let chunk = match rx.recv_timeout(POLL) {
            Ok(c) => c,
            Err(RecvTimeoutError::Timeout) => {
                if lock(&shared.state).stopped {
                    return;
                }
                continue;
            }
            Err(RecvTimeoutError::Disconnected) => return,
        };
        // A blackhole holds everything, the close included: a partition passes no FIN.
        let Some(mut mode) = wait_open(shared) else {
            return;
        };
        let (read_at, data) = match chunk {
            Chunk::Eof => {
                let _ = to.shutdown(Shutdown::Write);
                return;
            }
            Chunk::Data(at, data) => (at, data),
        };
        if let LinkMode::Delay(d) = mode {
            // Sleep in slices so a heal or a blackhole applies to chunks already waiting.
            loop {
                let due = read_at + d;
                let now = Instant::now();
                if now >= due {
                    break;
                }
                std::thread::sleep((due - now).min(POLL));
                match wait_open(shared) {
                    Some(LinkMode::Delay(_)) => {}
                    Some(m) => {
                        mode = m;
                        break;
                    }
                    None => return,
                }
            }
        }
        let mut sent = 0;
        while sent < data.len() {
            let end = match mode {
                LinkMode::Throttle(rate) => {
                    // Slices of a tenth of a second's worth keep the rate smooth.
                    let slice = usize::try_from(rate / 10).unwrap_or(usize::MAX).max(1);
                    (sent + slice).min(data.len())
                }
                _ => data.len(),
            };
            if to.write_all(&data[sent..end]).is_err() {
                return;
            }
            let n = (end - sent) as u64;
            let counter = if up {
                &shared.to_target
            } else {
                &shared.to_client
            };
            counter.fetch_add(n, Ordering::Relaxed);
            if let LinkMode::Throttle(rate) = mode {
                std::thread::sleep(Duration::from_secs_f64(n as f64 / rate as f64));
            }
            sent = end;
            if sent < data.len() {
                match wait_open(shared) {
                    Some(m) => mode = m,
                    None => return,
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An echo server on a free port; it runs until the process ends.
    fn echo_server() -> u16 {
        let l = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = l.local_addr().expect("addr").port();
        std::thread::spawn(move || {
            for s in l.incoming().flatten() {
                std::thread::spawn(move || {
                    let mut s = s;
                    let mut buf = [0u8; 4096];
                    while let Ok(n) = s.read(&mut buf) {
                        if n == 0 || s.write_all(&buf[..n]).is_err() {
                            break;
                        }
                    }
                });
            }
        });
        port
    }

    fn roundtrip(c: &mut TcpStream, msg: &[u8], timeout: Duration) -> io::Result<Vec<u8>> {
        c.set_read_timeout(Some(timeout))?;
        c.write_all(msg)?;
        let mut got = vec![0u8; msg.len()];
        c.read_exact(&mut got)?;
        Ok(got)
    }

    #[test]
    fn forwards_delays_blackholes_heals_and_cuts() {
        let proxy = FaultProxy::start(echo_server()).expect("proxy");
        let mut c = TcpStream::connect(("127.0.0.1", proxy.port())).expect("connect");
        let t = Duration::from_secs(5);
        assert_eq!(roundtrip(&mut c, b"hello", t).expect("pass"), b"hello");

        proxy.delay(Duration::from_millis(100));
        let start = Instant::now();
        assert_eq!(roundtrip(&mut c, b"slow", t).expect("delay"), b"slow");
        assert!(
            start.elapsed() >= Duration::from_millis(200),
            "a round trip through two 100 ms delays took {:?}",
            start.elapsed()
        );

        proxy.blackhole();
        let err = roundtrip(&mut c, b"lost?", Duration::from_millis(300));
        assert!(err.is_err(), "a blackholed link answered: {err:?}");
        proxy.heal();
        // What was held arrives after the heal, in order.
        let mut got = vec![0u8; 5];
        c.set_read_timeout(Some(t)).expect("timeout");
        c.read_exact(&mut got).expect("held bytes after heal");
        assert_eq!(got, b"lost?");

        assert_eq!(proxy.cut(), 1);
        let mut buf = [0u8; 8];
        let n = c.read(&mut buf).unwrap_or(0);
        assert_eq!(n, 0, "a cut connection still delivered data");
        let mut c2 = TcpStream::connect(("127.0.0.1", proxy.port())).expect("reconnect");
        assert_eq!(
            roundtrip(&mut c2, b"again", t).expect("after cut"),
            b"again"
        );
        assert_eq!(proxy.accepted(), 2);
    }

    #[test]
    fn throttle_limits_the_rate() {
        let proxy = FaultProxy::start(echo_server()).expect("proxy");
        proxy.throttle(100_000);
        let mut c = TcpStream::connect(("127.0.0.1", proxy.port())).expect("connect");
        let msg = vec![b'x'; 50_000];
        let start = Instant::now();
        let got = roundtrip(&mut c, &msg, Duration::from_secs(10)).expect("throttled");
        assert_eq!(got.len(), msg.len());
        // 50 kB each way at 100 kB/s: at least a quarter second per direction.
        assert!(
            start.elapsed() >= Duration::from_millis(400),
            "throttled echo of 50 kB took only {:?}",
            start.elapsed()
        );
    }
}
