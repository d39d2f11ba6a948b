//! The metrics endpoint's HTTP server: `GET /metrics` (and HEAD) on `--metrics-port`
//! (directive `redoubt-metrics-port`, 0 = off), on the server's `bind` addresses.
//!
//! A deliberately small HTTP/1.1 subset, hand-written on tokio rather than a web framework:
//! one request per connection, the request head bounded (`MAX_HEAD`) and read under a
//! deadline, then one response and the connection closes. Anything else is refused with
//! 400 (malformed, too large), 405 (another method) or 404 (another path); nothing a peer
//! sends can panic it. At most `MAX_CONNS` scrapes are served at once; more are closed at
//! accept, so a flood cannot grow our memory.
//!
//! The body is rendered by [`crate::metrics`] from INFO text built on the engine thread in one
//! borrow (as long as an INFO command takes), outside any client: a scrape counts no client,
//! no command and no network bytes in the INFO it reports.

use crate::metrics::{self, SentinelView};
use crate::sentinel_driver::Driver;
use crate::server::Shared;
use bytes::Bytes;
use std::cell::Cell;
use std::collections::BTreeMap;
use std::rc::{Rc, Weak};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// Request line and headers together; Prometheus sends a few hundred bytes.
const MAX_HEAD: usize = 8 * 1024;
/// Time a peer has to send its request head.
const HEAD_DEADLINE: Duration = Duration::from_secs(5);
/// Time to write a response before giving up on the peer.
const WRITE_DEADLINE: Duration = Duration::from_secs(10);
const MAX_CONNS: usize = 32;

/// Where a scrape reads from.
struct Source {
    shared: Weak<Shared>,
    sentinel: Option<Rc<Driver>>,
    conns: Cell<usize>,
}

/// Opens the listeners (every `bind` address, as the data port) and serves them. A port that
/// cannot be bound is an error: startup stops, as it does for the data port.
pub fn start(
    shared: &Rc<Shared>,
    sentinel: Option<Rc<Driver>>,
    bind: &[String],
    port: u16,
    backlog: i32,
) -> Result<(), String> {
    let opened = crate::listeners::bind_tcp_all(bind, port, backlog, &[])
        .map_err(|e| format!("{e}\nFailed listening on metrics port {port} (tcp), aborting."))?;
    let src = Rc::new(Source {
        shared: Rc::downgrade(shared),
        sentinel,
        conns: Cell::new(0),
    });
    let mut any = false;
    for (addr, l) in opened {
        if let Some(l) = l {
            crate::notice!("Metrics endpoint on http://{addr}/metrics");
            tokio::task::spawn_local(accept(src.clone(), l));
            any = true;
        }
    }
    if !any {
        return Err(format!(
            "Failed listening on metrics port {port}: no bind address could be used, aborting."
        ));
    }
    Ok(())
}

async fn accept(src: Rc<Source>, l: TcpListener) {
    loop {
        let Ok((stream, _)) = l.accept().await else {
            // EMFILE and friends: wait a little rather than spin.
            tokio::time::sleep(Duration::from_millis(10)).await;
            continue;
        };
        if src.conns.get() >= MAX_CONNS {
            drop(stream);
            continue;
        }
        src.conns.set(src.conns.get() + 1);
        let s = src.clone();
        tokio::task::spawn_local(async move {
            serve(&s, stream).await;
            s.conns.set(s.conns.get() - 1);
        });
    }
}

/// What a request head asks for.
#[derive(Debug, PartialEq, Eq)]
pub enum Request {
    /// GET (true) or HEAD (false) of /metrics.
    Metrics { body: bool },
    Refuse {
        status: &'static str,
        reason: &'static str,
    },
}

const BAD: Request = Request::Refuse {
    status: "400 Bad Request",
    reason: "bad request\n",
};

/// Parses a complete request head (up to and excluding the blank line).
pub fn parse_head(head: &[u8]) -> Request {
    let Ok(text) = std::str::from_utf8(head) else {
        return BAD;
    };
    let mut lines = text.split("\r\n");
    let Some(request_line) = lines.next() else {
        return BAD;
    };
    let parts: Vec<&str> = request_line.split(' ').collect();
    let [method, target, version] = parts[..] else {
        return BAD;
    };
    if !matches!(version, "HTTP/1.0" | "HTTP/1.1") || !target.starts_with('/') {
        return BAD;
    }
    for h in lines {
        // Header names are tokens: no whitespace before the colon.
        match h.split_once(':') {
            Some((name, _)) if !name.is_empty() && !name.contains([' ', '\t']) => {}
            _ => return BAD,
        }
    }
    let body = match method {
        "GET" => true,
        "HEAD" => false,
        _ => {
            return Request::Refuse {
                status: "405 Method Not Allowed",
                reason: "only GET and HEAD are served\n",
            }
        }
    };
    let path = target.split_once('?').map_or(target, |(p, _)| p);
    if path != "/metrics" {
        return Request::Refuse {
            status: "404 Not Found",
            reason: "not found: the metrics are at /metrics\n",
        };
    }
    Request::Metrics { body }
}

/// Reads the request head: `Ok(Some(head))`, `Ok(None)` when the peer left without sending
/// one, `Err(())` when it is too large or not complete in time.
async fn read_head(stream: &mut TcpStream) -> Result<Option<Vec<u8>>, ()> {
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 1024];
    let read = async {
        loop {
            let n = match stream.read(&mut chunk).await {
                Ok(0) | Err(_) => return Ok(None),
                Ok(n) => n,
            };
            buf.extend_from_slice(&chunk[..n]);
            if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                buf.truncate(end);
                return Ok(Some(std::mem::take(&mut buf)));
            }
            if buf.len() > MAX_HEAD {
                return Err(());
            }
        }
    };
    tokio::time::timeout(HEAD_DEADLINE, read)
        .await
        .unwrap_or(Err(()))
}

async fn serve(src: &Source, mut stream: TcpStream) {
    let req = match read_head(&mut stream).await {
        Ok(Some(head)) => parse_head(&head),
        Ok(None) => return,
        Err(()) => BAD,
    };
    let response = match req {
        Request::Metrics { body } => {
            let Some(text) = scrape(src) else { return };
            let mut r = head(
                "200 OK",
                "text/plain; version=0.0.4; charset=utf-8",
                text.len(),
            );
            if body {
                r.push_str(&text);
            }
            r
        }
        Request::Refuse { status, reason } => {
            let mut r = head(status, "text/plain; charset=utf-8", reason.len());
            if status.starts_with("405") {
                r.insert_str(r.len() - 2, "Allow: GET, HEAD\r\n");
            }
            r.push_str(reason);
            r
        }
    };
    let write = async {
        let _ = stream.write_all(response.as_bytes()).await;
        let _ = stream.shutdown().await;
    };
    let _ = tokio::time::timeout(WRITE_DEADLINE, write).await;
}

fn head(status: &str, content_type: &str, len: usize) -> String {
    format!(
        "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {len}\r\nConnection: close\r\n\r\n"
    )
}

/// The INFO sections a Sentinel prints (`sentinelInfoCommand`), and a server's default ones
/// plus the per-command and per-error counters.
const SENTINEL_SECTIONS: &[&str] = &["server", "clients", "stats", "cpu"];
const SERVER_SECTIONS: &[&str] = &["default", "commandstats"];

/// Builds the exposition; `None` once the server is going away.
fn scrape(src: &Source) -> Option<String> {
    let shared = src.shared.upgrade()?;
    let now = crate::log::now_ms();
    let info = {
        let mut eng = shared.engine.borrow_mut();
        let names = if src.sentinel.is_some() {
            SENTINEL_SECTIONS
        } else {
            SERVER_SECTIONS
        };
        let args: Vec<Bytes> = names
            .iter()
            .map(|n| Bytes::from_static(n.as_bytes()))
            .collect();
        let sections = redoubt_engine::commands::info::Sections::parse(&args);
        let mut text = redoubt_engine::commands::info::info_detached(&mut eng, &sections, now);
        if let Some(h) = eng.sentinel.clone() {
            // As the Sentinel's own INFO prints it.
            text = text.replace("redis_mode:standalone", "redis_mode:sentinel");
            text.push_str("\r\n");
            text.push_str(&h.info_section(now));
        }
        text
    };
    let view = src.sentinel.as_ref().map(|d| sentinel_view(d, now));
    Some(metrics::render(&info, view.as_ref()))
}

fn sentinel_view(d: &Driver, now: i64) -> SentinelView {
    let mut out = redoubt_resp::ReplyBuf::new(redoubt_resp::Protocol::Resp2);
    let argv = [
        Bytes::from_static(b"SENTINEL"),
        Bytes::from_static(b"MASTERS"),
    ];
    let current_epoch = {
        let mut core = d.core.borrow_mut();
        core.command(&argv, now, &mut out);
        core.current_epoch
    };
    let masters = match redoubt_resp::parse_value(&out.buf) {
        Ok(Some((redoubt_resp::Value::Array(list), _))) => list.iter().map(fields_of).collect(),
        _ => Vec::new(),
    };
    let (events, switches) = d.event_counts();
    SentinelView {
        masters,
        current_epoch,
        events,
        switches,
    }
}

/// A SENTINEL MASTERS entry (`name`, value, ...) as a map.
fn fields_of(v: &redoubt_resp::Value) -> BTreeMap<String, String> {
    let text = |v: &redoubt_resp::Value| match v {
        redoubt_resp::Value::Bulk(b) => Some(String::from_utf8_lossy(b).into_owned()),
        redoubt_resp::Value::Int(n) => Some(n.to_string()),
        redoubt_resp::Value::Simple(s) => Some(s.clone()),
        _ => None,
    };
    let mut m = BTreeMap::new();
    if let redoubt_resp::Value::Array(items) = v {
        for pair in items.chunks(2) {
            if let [k, v] = pair {
                if let (Some(k), Some(v)) = (text(k), text(v)) {
                    m.insert(k, v);
                }
            }
        }
    }
    m
}
