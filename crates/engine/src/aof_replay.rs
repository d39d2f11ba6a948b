//! Replaying an AOF's commands (`loadSingleAppendOnlyFile`), a slice at a time so the server
//! can serve clients between slices while the dataset loads.
//!
//! Commands run as Redis's fake AOF client: a master-kind client (obeyed, no LOADING or
//! size refusals), kept outside `Engine::clients` between slices so CLIENT LIST never shows
//! it; replies are dropped. Lines starting with `#` are annotations (`aof-timestamp-enabled`'s
//! `#TS:<unix time>`) and are skipped, as Redis 7.0 skips them. A file that ends inside a
//! MULTI is valid only up to that MULTI (Redis reverts an incomplete transaction).

use crate::{Client, ClientIo, ClientKind, Engine};
use bytes::BytesMut;
use std::rc::Rc;

/// How a replay ended: `Ok((valid prefix, complete))`, or `Err(offset)` of bad input.
pub type Outcome = Result<(usize, bool), usize>;

pub struct AofReplayer {
    client: Option<Box<Client>>,
    buf: BytesMut,
    /// The input's length: complete means every byte was a whole command or annotation.
    len: usize,
    decoder: redoubt_resp::RequestDecoder,
    /// Bytes consumed: the valid prefix so far.
    done: usize,
    /// Where the MULTI being replayed began.
    multi_at: Option<usize>,
    commands: u64,
}

impl AofReplayer {
    pub fn new(eng: &mut Engine, bytes: &[u8], now_ms: i64) -> AofReplayer {
        let id = eng.add_client(ClientKind::Master, Rc::new(ClientIo::default()), now_ms);
        let mut c = eng.take_client(id).expect("just added");
        c.authenticated = true;
        AofReplayer {
            client: Some(c),
            buf: BytesMut::from(bytes),
            len: bytes.len(),
            decoder: redoubt_resp::RequestDecoder::new(),
            done: 0,
            multi_at: None,
            commands: 0,
        }
    }

    /// Bytes consumed so far (INFO's `loading_loaded_bytes`).
    pub fn consumed(&self) -> usize {
        self.done
    }

    /// Runs commands while `more()` says so; `None` while there is more to do.
    pub fn step(
        &mut self,
        eng: &mut Engine,
        now_ms: i64,
        more: &mut dyn FnMut() -> bool,
    ) -> Option<Outcome> {
        let Some(c) = self.client.as_mut() else {
            return Some(Err(self.done));
        };
        // No eviction or OOM refusal while the dataset loads (eviction starts with the
        // first client command).
        let maxmemory = std::mem::replace(&mut eng.conf.maxmemory, 0);
        let delay = eng.config.get_int("key-load-delay");
        let limits = redoubt_resp::DecodeLimits::default();
        let outcome = loop {
            if !more() {
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
                        crate::loading::key_load_delay(delay, self.commands);
                    }
                }
                Ok(None) => {
                    // Not `buf.is_empty()`: the decoder may have taken a cut command's
                    // first bytes out of the buffer already (fuzz/aof found it).
                    let complete = self.done == self.len;
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

    /// Replays everything at once (tests, fuzzing).
    pub fn run(eng: &mut Engine, bytes: &[u8], now_ms: i64) -> Outcome {
        let mut r = AofReplayer::new(eng, bytes, now_ms);
        loop {
            if let Some(o) = r.step(eng, now_ms, &mut || true) {
                return o;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::TestEngine;

    fn replay(bytes: &[u8]) -> (Outcome, TestEngine) {
        let mut t = TestEngine::new();
        let o = AofReplayer::run(&mut t.eng, bytes, 1_700_000_000_000);
        (o, t)
    }

    #[test]
    fn annotations_are_skipped() {
        let aof = b"#TS:1700000000\r\n*3\r\n$3\r\nSET\r\n$1\r\na\r\n$1\r\n1\r\n#TS:1700000001\r\n";
        let (o, mut t) = replay(aof);
        assert_eq!(o, Ok((aof.len(), true)));
        assert_eq!(t.text("GET a"), "$1|1|");
    }

    /// fuzz/artifacts crash-8aaa0757: a command cut inside its last argument was reported
    /// complete (the decoder had already consumed its first bytes), so a truncated AOF
    /// loaded without the cut being noticed or truncated.
    #[test]
    fn a_command_cut_in_its_arguments_is_not_complete() {
        let set = b"*2\r\n$6\r\nSELECT\r\n$1\r\n0\r\n";
        let mut aof = set.to_vec();
        aof.extend_from_slice(b"*3\r\n$3\r\nset\r\n$1\r\ne\r\n$1\r\n");
        let (o, _) = replay(&aof);
        assert_eq!(o, Ok((set.len(), false)));
    }

    #[test]
    fn a_cut_multi_is_valid_up_to_its_start() {
        let set = b"*3\r\n$3\r\nSET\r\n$1\r\na\r\n$1\r\n1\r\n";
        let mut aof = set.to_vec();
        aof.extend_from_slice(b"*1\r\n$5\r\nMULTI\r\n*3\r\n$3\r\nSET\r\n$1\r\nb\r\n$1\r\n2\r\n");
        let (o, _) = replay(&aof);
        assert_eq!(o, Ok((set.len(), false)));
        let (o, _) = replay(b"*1\r\n$4\r\nPI");
        assert_eq!(o, Ok((0, false)));
        let (o, _) = replay(b"*3\r\n$3\r\nSET\r\n$1\r\na\r\n$1\r\n1\r\nGARBAGE\r\n");
        assert_eq!(o, Err(set.len()));
    }
}
