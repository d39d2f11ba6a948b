//! Loading the AOF's files at startup (`loadSingleAppendOnlyFile`) while clients are served
//! with LOADING replies: an RDB base (or preamble) decodes on a blocking thread
//! (`crate::loading::load_rdb_bytes`), commands replay through the engine in slices of about
//! a millisecond, and between two slices every connection task runs.
//!
//! Lines starting with `#` are annotations (`aof-timestamp-enabled`'s `#TS:<unix time>`) and
//! are skipped, as Redis 7.0 skips them.

use crate::server::Shared;
use crate::{notice, warning};
use bytes::BytesMut;
use redoubt_engine::{Client, ClientIo, ClientKind};
use std::path::Path;
use std::rc::Rc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

fn strerror(e: &std::io::Error) -> String {
    redoubt_config::fsio::strerror(e)
}

/// Replays AOF commands as a client whose replies are dropped, a slice at a time.
struct Replayer {
    client: Option<Box<Client>>,
    buf: BytesMut,
    decoder: redoubt_resp::RequestDecoder,
    /// Bytes consumed: the valid prefix so far.
    done: usize,
    /// Where the MULTI being replayed began: a file cut inside a transaction is cut back to
    /// it, as Redis reverts an incomplete MULTI/EXEC.
    multi_at: Option<usize>,
    commands: u64,
}

/// How a replay ended: `Ok((valid prefix, complete))`, or `Err(offset)` of bad input.
type Outcome = Result<(usize, bool), usize>;

impl Replayer {
    fn new(shared: &Shared, bytes: &[u8], now_ms: i64) -> Replayer {
        let mut eng = shared.engine.borrow_mut();
        // Redis's AOF client is a fake client called directly: as our master link, it is
        // obeyed (no size limits, no LOADING refusal) and not listed by CLIENT LIST, since
        // it is kept outside the engine between slices.
        let id = eng.add_client(ClientKind::Master, Rc::new(ClientIo::default()), now_ms);
        let mut c = eng.take_client(id).expect("just added");
        c.authenticated = true;
        Replayer {
            client: Some(c),
            buf: BytesMut::from(bytes),
            decoder: redoubt_resp::RequestDecoder::new(),
            done: 0,
            multi_at: None,
            commands: 0,
        }
    }

    /// Runs commands for about `budget`; `None` while there is more to do.
    fn step(&mut self, shared: &Shared, now_ms: i64, budget: Duration) -> Option<Outcome> {
        let mut guard = shared.engine.borrow_mut();
        let eng = &mut *guard;
        let Some(c) = self.client.as_mut() else {
            return Some(Err(self.done));
        };
        // No eviction or OOM refusal while the dataset loads (eviction starts with the
        // first client command).
        let maxmemory = std::mem::replace(&mut eng.conf.maxmemory, 0);
        let delay = eng.config.get_int("key-load-delay");
        let start = Instant::now();
        let limits = redoubt_resp::DecodeLimits::default();
        let outcome = loop {
            if start.elapsed() >= budget {
                break None;
            }
            if self.buf.first() == Some(&b'#') {
                // An annotation line; one cut at the end of the file counts as read, as
                // `fgets` returns it.
                let n = self
                    .buf
                    .iter()
                    .position(|&b| b == b'\n')
                    .map_or(self.buf.len(), |p| p + 1);
                let _ = self.buf.split_to(n);
                self.done += n;
                continue;
            }
            match self.decoder.decode(&mut self.buf, &limits) {
                Ok(Some(req)) => {
                    if req.inline {
                        break Some(Err(self.done));
                    }
                    let start_at = self.done;
                    self.done += req.wire_len;
                    let name = req.args.first().map(|a| a.to_ascii_lowercase());
                    match name.as_deref() {
                        Some(b"multi") => self.multi_at = Some(start_at),
                        Some(b"exec") => self.multi_at = None,
                        _ => {}
                    }
                    eng.execute(c, req.args, now_ms);
                    c.out.buf.clear();
                    let _ = eng.end_batch();
                    self.commands += 1;
                    if delay != 0 {
                        redoubt_engine::loading::key_load_delay(delay, self.commands);
                    }
                }
                Ok(None) => {
                    let complete = self.buf.is_empty();
                    break Some(match self.multi_at {
                        Some(at) => Ok((at, false)),
                        None => Ok((self.done, complete)),
                    });
                }
                Err(_) => break Some(Err(self.done)),
            }
        };
        eng.conf.maxmemory = maxmemory;
        if outcome.is_some() {
            if let Some(mut c) = self.client.take() {
                let id = c.id;
                c.multi = None;
                eng.put_client(c);
                eng.remove_client(id);
            }
        }
        outcome
    }
}

/// Replays `bytes` (commands), yielding to the connection tasks between slices.
/// `base_bytes` is what the load consumed before them (INFO's `loading_loaded_bytes`).
async fn replay(shared: &Rc<Shared>, bytes: &[u8], now_ms: i64, base_bytes: u64) -> Outcome {
    let mut r = Replayer::new(shared, bytes, now_ms);
    let progress = shared
        .engine
        .borrow()
        .loading
        .as_ref()
        .map(|l| l.progress.clone());
    loop {
        let out = r.step(shared, now_ms, Duration::from_millis(2));
        if let Some(p) = &progress {
            p.bytes.store(base_bytes + r.done as u64, Ordering::Relaxed);
        }
        match out {
            Some(o) => return o,
            None => tokio::task::yield_now().await,
        }
    }
}

/// Loads one file of the AOF (an RDB base or commands, or an RDB preamble followed by
/// commands). A cut last command is dropped (and the file truncated to the valid prefix)
/// when `truncated_ok` and the file is the last one, as `aof-load-truncated` says.
/// Returns the file's size.
pub async fn load_file(
    shared: &Rc<Shared>,
    path: &Path,
    name: &str,
    last: bool,
    truncated_ok: bool,
    base_bytes: u64,
) -> Result<u64, String> {
    let bytes = std::fs::read(path)
        .map_err(|e| format!("Unable to open the AOF file {name}: {}", strerror(&e)))?;
    let now_ms = crate::log::now_ms();
    let mut from = 0;
    let bytes = if bytes.starts_with(b"REDIS") {
        notice!("Reading RDB base file on AOF loading...");
        let (st, bytes) = crate::loading::load_rdb_bytes(shared, bytes, base_bytes, true)
            .await
            .map_err(|e| format!("Bad file format reading the append only file {name}: {e}"))?;
        from = st.consumed;
        bytes
    } else {
        bytes
    };
    let outcome = replay(shared, &bytes[from..], now_ms, base_bytes + from as u64).await;
    let size = bytes.len() as u64;
    match outcome {
        Ok((_, true)) => Ok(size),
        Ok((valid, false)) if last && truncated_ok => {
            let valid = from + valid;
            warning!("!!! Warning: short read while loading the AOF file {name}!!!");
            warning!("!!! Truncating the AOF {name} at offset {valid} !!!");
            let f = std::fs::OpenOptions::new()
                .write(true)
                .open(path)
                .and_then(|f| f.set_len(valid as u64).map(|()| f))
                .and_then(|f| f.sync_all());
            if let Err(e) = f {
                return Err(format!(
                    "Error truncating the AOF file {name}: {}",
                    strerror(&e)
                ));
            }
            warning!("AOF {name} loaded anyway because aof-load-truncated is enabled");
            Ok(size)
        }
        Ok((valid, false)) => Err(format!(
            "Unexpected end of file reading the append only file {name} (offset {}). You can: 1) Make a backup of your AOF file, then use ./redis-check-aof --fix <filename.manifest>. 2) Alternatively you can set the 'aof-load-truncated' configuration option to yes and restart the server.",
            from + valid
        )),
        Err(at) => Err(format!(
            "Bad file format reading the append only file {name} (offset {}): make a backup of your AOF file, then use ./redis-check-aof --fix <filename.manifest>",
            from + at
        )),
    }
}
