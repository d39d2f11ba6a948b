//! RESP, the Redis protocol, with no knowledge of any server.
//!
//! This crate owns the bytes on the wire and nothing else:
//! - [`RequestDecoder`]: turns a client's query buffer into commands, both multibulk
//!   (`*2\r\n$3\r\nGET\r\n$1\r\nk\r\n`) and inline (`GET k\n`), incrementally and with
//!   Redis 7.0's limits and exact protocol error texts (`networking.c`).
//! - [`ReplyBuf`]: appends replies in RESP2 or RESP3 to an output buffer, the way Redis's
//!   `addReply*` family does; commands write straight into it, no reply tree is built.
//! - [`Value`] and [`parse_value`]: the client side, for tools, tests and replica links.
//! - [`split_args`]: Redis's `sdssplitargs`, the tokenizer shared by inline commands and
//!   `redis.conf` lines (quotes, `\xHH` escapes).
//!
//! Invariants: decoding never panics and never buffers more than the caller allows; it
//! depends on no server crate (Dragonfly's protocol library is the model).
#![forbid(unsafe_code)]

mod decode;
mod encode;
mod split;
mod value;

pub use decode::{DecodeLimits, ProtocolError, Request, RequestDecoder};
pub use encode::{format_double, format_g, Protocol, ReplyBuf};
pub use split::{split_args, UnbalancedQuotes};
pub use value::{encode_command, parse_value, Value};
