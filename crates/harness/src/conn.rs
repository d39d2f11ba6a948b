//! A blocking raw RESP client: exact reply bytes for comparisons, parsed values for asserts.

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use redoubt_resp::{encode_command, parse_value, Value};

use crate::reply::escape;

/// How long the convenience methods ([`RawConn::cmd`], [`RawConn::read_raw_reply`]) wait.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// Why a reply could not be read. `partial` holds the bytes received that did not make up a
/// complete reply, so a message can show what the server did send.
#[derive(Debug)]
pub enum ReadError {
    /// The server closed the connection (EOF or reset).
    Closed {
        partial: Vec<u8>,
    },
    /// The deadline passed before a complete reply arrived.
    Timeout {
        partial: Vec<u8>,
    },
    /// The bytes are not valid RESP.
    Malformed {
        reason: String,
        partial: Vec<u8>,
    },
    Io(io::Error),
}

impl std::fmt::Display for ReadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ReadError::Closed { partial } => {
                write!(
                    f,
                    "connection closed by the server (unparsed: {})",
                    escape(partial)
                )
            }
            ReadError::Timeout { partial } => {
                write!(
                    f,
                    "no complete reply before the deadline (received: {})",
                    escape(partial)
                )
            }
            ReadError::Malformed { reason, partial } => {
                write!(
                    f,
                    "malformed reply: {reason} (received: {})",
                    escape(partial)
                )
            }
            ReadError::Io(e) => write!(f, "i/o error: {e}"),
        }
    }
}

impl std::error::Error for ReadError {}

/// One client connection to a server on 127.0.0.1.
pub struct RawConn {
    stream: TcpStream,
    /// Received bytes not yet returned to the caller.
    buf: Vec<u8>,
    /// The server closed its side; nothing more will arrive.
    eof: bool,
    timeout: Duration,
}

impl RawConn {
    pub fn connect(port: u16) -> anyhow::Result<Self> {
        Self::connect_addr(SocketAddr::from(([127, 0, 0, 1], port)))
    }

    pub fn connect_addr(addr: SocketAddr) -> anyhow::Result<Self> {
        assert!(
            addr.ip().is_loopback(),
            "tests only talk to loopback, not {addr}"
        );
        let stream = TcpStream::connect_timeout(&addr, Duration::from_secs(2))
            .map_err(|e| anyhow::anyhow!("connecting to {addr}: {e}"))?;
        stream.set_nodelay(true)?;
        Ok(RawConn {
            stream,
            buf: Vec::new(),
            eof: false,
            timeout: DEFAULT_TIMEOUT,
        })
    }

    /// Wraps a stream connected by the caller: one made inside a test's network namespace
    /// ([`crate::netns`]), whose private addresses have no route out of the namespaces.
    pub fn from_stream(stream: TcpStream) -> io::Result<Self> {
        stream.set_nodelay(true)?;
        Ok(RawConn {
            stream,
            buf: Vec::new(),
            eof: false,
            timeout: DEFAULT_TIMEOUT,
        })
    }

    /// Changes the timeout of the convenience methods.
    pub fn set_timeout(&mut self, timeout: Duration) {
        self.timeout = timeout;
    }

    /// Writes bytes as they are.
    pub fn send(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.stream.write_all(bytes)
    }

    /// Writes one command as a RESP multibulk.
    pub fn send_cmd<A: AsRef<[u8]>>(&mut self, args: &[A]) -> io::Result<()> {
        self.send(&encode_command(args))
    }

    /// Sends a command and returns its parsed reply; panics with context on any failure.
    #[track_caller]
    pub fn cmd<A: AsRef<[u8]>>(&mut self, args: &[A]) -> Value {
        let shown = || {
            args.iter()
                .map(|a| escape(a.as_ref()))
                .collect::<Vec<_>>()
                .join(" ")
        };
        if let Err(e) = self.send_cmd(args) {
            panic!("sending {}: {e}", shown());
        }
        match self.read_reply(Instant::now() + self.timeout) {
            Ok(v) => v,
            Err(e) => panic!("reply to {}: {e}", shown()),
        }
    }

    /// Reads and parses one reply.
    pub fn read_reply(&mut self, deadline: Instant) -> Result<Value, ReadError> {
        let raw = self.try_read_raw_reply(deadline)?;
        match parse_value(&raw) {
            Ok(Some((v, _))) => Ok(v),
            _ => unreachable!("try_read_raw_reply returns exactly one complete reply"),
        }
    }

    /// The exact bytes of one reply; panics with context after the default timeout.
    #[track_caller]
    pub fn read_raw_reply(&mut self) -> Vec<u8> {
        match self.try_read_raw_reply(Instant::now() + self.timeout) {
            Ok(raw) => raw,
            Err(e) => panic!("reading a reply: {e}"),
        }
    }

    /// The exact bytes of one reply (an attribute `|` is kept with the reply it precedes).
    pub fn try_read_raw_reply(&mut self, deadline: Instant) -> Result<Vec<u8>, ReadError> {
        loop {
            match parse_value(&self.buf) {
                Ok(Some((_, used))) => return Ok(self.buf.drain(..used).collect()),
                Ok(None) => {}
                Err(reason) => {
                    return Err(ReadError::Malformed {
                        reason,
                        partial: self.buf.clone(),
                    })
                }
            }
            if self.eof {
                return Err(ReadError::Closed {
                    partial: self.buf.clone(),
                });
            }
            if !self.fill(deadline)? {
                return Err(ReadError::Timeout {
                    partial: self.buf.clone(),
                });
            }
        }
    }

    /// Reads everything until the server closes the connection, and returns it (including
    /// bytes already buffered). `Timeout` if the connection is still open at the deadline.
    pub fn read_until_closed(&mut self, deadline: Instant) -> Result<Vec<u8>, ReadError> {
        while !self.eof {
            if !self.fill(deadline)? {
                return Err(ReadError::Timeout {
                    partial: std::mem::take(&mut self.buf),
                });
            }
        }
        Ok(std::mem::take(&mut self.buf))
    }

    /// Whether the server has closed the connection, waiting for it up to `deadline`. Bytes
    /// that arrive meanwhile stay buffered.
    pub fn is_closed(&mut self, deadline: Instant) -> bool {
        while !self.eof {
            match self.fill(deadline) {
                Ok(true) => {}
                Ok(false) => return false,
                Err(_) => return true,
            }
        }
        true
    }

    /// Bytes received but not returned yet.
    pub fn buffered(&self) -> &[u8] {
        &self.buf
    }

    /// Closes our side for writing (the server sees EOF) while replies can still be read.
    pub fn shutdown_write(&mut self) -> io::Result<()> {
        self.stream.shutdown(Shutdown::Write)
    }

    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.stream.local_addr()
    }

    /// One read into the buffer. `Ok(false)` when the deadline passed with nothing read;
    /// EOF and a reset both mark the connection closed and return `Ok(true)`.
    fn fill(&mut self, deadline: Instant) -> Result<bool, ReadError> {
        let mut chunk = [0u8; 64 * 1024];
        loop {
            let now = Instant::now();
            if now >= deadline {
                return Ok(false);
            }
            // A zero read timeout means "block forever", so never pass zero.
            let wait = (deadline - now).max(Duration::from_millis(1));
            self.stream
                .set_read_timeout(Some(wait))
                .map_err(ReadError::Io)?;
            match self.stream.read(&mut chunk) {
                Ok(0) => {
                    self.eof = true;
                    return Ok(true);
                }
                Ok(n) => {
                    self.buf.extend_from_slice(&chunk[..n]);
                    return Ok(true);
                }
                Err(e) => match e.kind() {
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => {}
                    io::ErrorKind::Interrupted => {}
                    io::ErrorKind::ConnectionReset | io::ErrorKind::ConnectionAborted => {
                        self.eof = true;
                        return Ok(true);
                    }
                    _ => return Err(ReadError::Io(e)),
                },
            }
        }
    }
}
