//! The replica side's stream applier without I/O: the bytes read from the master go in, each
//! complete request runs as the master client, and the ACKs it owes come out. The server's
//! link task (`replica_link.rs`) wraps it with a socket; the simulated-network test
//! (`tests/repl_sim.rs`) drives the very same code with its own network.

use crate::client::Client;
use crate::Engine;
use bytes::BytesMut;
use redoubt_resp::{DecodeLimits, RequestDecoder};

/// What applying the stream keeps between reads.
#[derive(Default)]
pub struct StreamApplier {
    decoder: RequestDecoder,
    /// Bytes read since the last complete request: the decoder consumes a partial request
    /// as it arrives, so each request's exact bytes (`wire_len`) are cut from here.
    carry: BytesMut,
    /// Bytes at the start of `buf` already copied into `carry` (left there undecoded).
    seen: usize,
    /// Bytes of a transaction not yet executed (see `Engine::apply_from_master`).
    held: Vec<u8>,
}

impl StreamApplier {
    /// Runs every complete request in `buf` (what was read and not yet decoded) as the
    /// master client `client`. ACKs owed to `REPLCONF GETACK` are appended to `to_send`.
    /// The caller ends the batch afterwards (our own replicas get the bytes then).
    pub fn apply(
        &mut self,
        eng: &mut Engine,
        client: &mut Client,
        buf: &mut BytesMut,
        to_send: &mut Vec<u8>,
        now_ms: i64,
    ) -> Result<(), String> {
        self.carry
            .extend_from_slice(&buf[self.seen.min(buf.len())..]);
        let limits = DecodeLimits {
            proto_max_bulk_len: eng.conf.proto_max_bulk_len,
            auth_required: false,
            is_master: true,
        };
        let mut result = Ok(());
        loop {
            match self.decoder.decode(buf, &limits) {
                Ok(Some(req)) => {
                    if req.wire_len > self.carry.len() {
                        result =
                            Err("Protocol error from MASTER: request longer than its input".into());
                        break;
                    }
                    let raw = self.carry.split_to(req.wire_len);
                    let getack = req.args.len() >= 2
                        && req.args[0].eq_ignore_ascii_case(b"replconf")
                        && req.args[1].eq_ignore_ascii_case(b"getack");
                    if getack {
                        // The ACK counts what was applied before this request, as Redis's
                        // `replicationSendAck` inside the command does.
                        to_send.extend_from_slice(&ack_bytes(eng.stream.offset()));
                    }
                    eng.apply_from_master(client, req.args, &raw, &mut self.held, now_ms);
                }
                Ok(None) => break,
                Err(e) => {
                    result = Err(format!("Protocol error from MASTER: {e}"));
                    break;
                }
            }
        }
        self.seen = buf.len();
        result
    }
}

/// `REPLCONF ACK <offset>` as the replica sends it.
pub fn ack_bytes(offset: u64) -> Vec<u8> {
    let off = offset.to_string();
    format!(
        "*3\r\n$8\r\nREPLCONF\r\n$3\r\nACK\r\n${}\r\n{}\r\n",
        off.len(),
        off
    )
    .into_bytes()
}
