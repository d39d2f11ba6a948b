//! One blocking connection to the server, over TCP or a unix socket, with hiredis's view of
//! replies and its error texts (redis-cli prints them as they are).

use redoubt_resp::{encode_command, parse_value, Value};
use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::os::unix::net::UnixStream;
use std::time::Duration;

/// Where to connect.
#[derive(Debug, Clone)]
pub enum Target {
    Tcp(String, i64),
    Unix(String),
}

impl Target {
    /// As redis-cli names the address in "Could not connect to Redis at ...".
    pub fn describe(&self) -> String {
        match self {
            Target::Tcp(h, p) => format!("{h}:{p}"),
            Target::Unix(path) => path.clone(),
        }
    }
}

enum Stream {
    Tcp(TcpStream),
    Unix(UnixStream),
}

/// Why a reply could not be read. The text is hiredis's `errstr`.
#[derive(Debug)]
pub enum ConnError {
    /// The server closed the connection or the socket failed: a REPL reconnects.
    Io(String),
    /// The bytes were not RESP hiredis accepts.
    Protocol(String),
}

impl std::fmt::Display for ConnError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ConnError::Io(s) | ConnError::Protocol(s) => f.write_str(s),
        }
    }
}

/// `strerror` text of an io error: Rust adds " (os error N)", the C library does not.
pub fn os_message(e: &std::io::Error) -> String {
    let s = e.to_string();
    match s.rfind(" (os error ") {
        Some(i) => s[..i].to_string(),
        None => s,
    }
}

pub struct Conn {
    stream: Stream,
    buf: Vec<u8>,
    /// Bytes of `buf` already consumed by parsed replies.
    pos: usize,
}

impl Conn {
    /// Connects; the error is the text after "Could not connect to Redis at ADDR: ".
    pub fn open(target: &Target) -> Result<Conn, String> {
        let stream = match target {
            Target::Unix(path) => {
                Stream::Unix(UnixStream::connect(path).map_err(|e| os_message(&e))?)
            }
            Target::Tcp(host, port) => {
                let addrs = (host.as_str(), *port as u16)
                    .to_socket_addrs()
                    .map_err(|e| {
                        // getaddrinfo's message, without Rust's preamble.
                        let s = e.to_string();
                        s.strip_prefix("failed to lookup address information: ")
                            .unwrap_or(&s)
                            .to_string()
                    })?;
                let mut last = String::from("Name or service not known");
                let mut found = None;
                for a in addrs {
                    match TcpStream::connect(a) {
                        Ok(s) => {
                            found = Some(s);
                            break;
                        }
                        Err(e) => last = os_message(&e),
                    }
                }
                let s = found.ok_or(last)?;
                let _ = s.set_nodelay(true);
                Stream::Tcp(s)
            }
        };
        Ok(Conn {
            stream,
            buf: Vec::with_capacity(16 * 1024),
            pos: 0,
        })
    }

    pub fn set_read_timeout(&self, t: Option<Duration>) {
        let _ = match &self.stream {
            Stream::Tcp(s) => s.set_read_timeout(t),
            Stream::Unix(s) => s.set_read_timeout(t),
        };
    }

    pub fn write_all(&mut self, data: &[u8]) -> Result<(), ConnError> {
        let r = match &mut self.stream {
            Stream::Tcp(s) => s.write_all(data),
            Stream::Unix(s) => s.write_all(data),
        };
        r.map_err(|e| ConnError::Io(os_message(&e)))
    }

    /// A second handle on the socket for a writer thread (`--pipe`).
    pub fn writer(&self) -> std::io::Result<Box<dyn Write + Send>> {
        Ok(match &self.stream {
            Stream::Tcp(s) => Box::new(s.try_clone()?),
            Stream::Unix(s) => Box::new(s.try_clone()?),
        })
    }

    pub fn send<A: AsRef<[u8]>>(&mut self, args: &[A]) -> Result<(), ConnError> {
        self.write_all(&encode_command(args))
    }

    /// Reads more bytes into the buffer; `Ok(0)` is EOF.
    pub fn fill(&mut self) -> std::io::Result<usize> {
        if self.pos > 0 && self.pos == self.buf.len() {
            self.buf.clear();
            self.pos = 0;
        }
        let mut chunk = [0u8; 16 * 1024];
        let n = match &mut self.stream {
            Stream::Tcp(s) => s.read(&mut chunk)?,
            Stream::Unix(s) => s.read(&mut chunk)?,
        };
        self.buf.extend_from_slice(&chunk[..n]);
        Ok(n)
    }

    /// Bytes received but not parsed yet (for the RDB transfer, which is not RESP).
    pub fn take_buffered(&mut self) -> Vec<u8> {
        let rest = self.buf[self.pos..].to_vec();
        self.buf.clear();
        self.pos = 0;
        rest
    }

    /// Puts bytes back in front of the unparsed input (what followed a SYNC payload).
    pub fn push_back(&mut self, bytes: &[u8]) {
        let mut v = bytes.to_vec();
        v.extend_from_slice(&self.buf[self.pos..]);
        self.buf = v;
        self.pos = 0;
    }

    /// Reads one line ending in CRLF, without it (the `$<len>` of a SYNC payload).
    pub fn read_line(&mut self) -> Result<Vec<u8>, ConnError> {
        loop {
            if let Some(i) = memchr_crlf(&self.buf[self.pos..]) {
                let line = self.buf[self.pos..self.pos + i].to_vec();
                self.pos += i + 2;
                return Ok(line);
            }
            self.fill_or_eof()?;
        }
    }

    fn fill_or_eof(&mut self) -> Result<(), ConnError> {
        match self.fill() {
            Ok(0) => Err(ConnError::Io("Server closed the connection".into())),
            Ok(_) => Ok(()),
            Err(e) => Err(ConnError::Io(os_message(&e))),
        }
    }

    /// Reads one reply.
    pub fn read_reply(&mut self) -> Result<Value, ConnError> {
        loop {
            let window = &self.buf[self.pos..];
            if !window.is_empty() {
                if let Some(bad) = unsupported_type(window) {
                    return Err(ConnError::Protocol(format!(
                        "Protocol error, got \"{}\" as reply type byte",
                        char::from(bad)
                    )));
                }
                match parse_value(window) {
                    Ok(Some((v, used))) => {
                        self.pos += used;
                        return Ok(v);
                    }
                    Ok(None) => {}
                    Err(e) => return Err(ConnError::Protocol(format!("Protocol error: {e}"))),
                }
            }
            self.fill_or_eof()?;
        }
    }

    /// Sends one command and reads its reply.
    pub fn call<A: AsRef<[u8]>>(&mut self, args: &[A]) -> Result<Value, ConnError> {
        self.send(args)?;
        self.read_reply()
    }
}

fn memchr_crlf(b: &[u8]) -> Option<usize> {
    b.windows(2).position(|w| w == b"\r\n")
}

/// hiredis (as bundled with redis-cli 7.0) knows no attribute type: finding one at any element
/// start is a protocol error, as is any byte that is not a type. Walks the type bytes of the
/// complete or partial reply at the front of `buf`; returns the first offending byte.
fn unsupported_type(buf: &[u8]) -> Option<u8> {
    let mut pos = 0;
    let mut pending: u64 = 1;
    while pending > 0 {
        let &kind = buf.get(pos)?;
        let eol = memchr_crlf(&buf[pos..])?;
        let line = buf.get(pos + 1..pos + eol).unwrap_or_default();
        pos += eol + 2;
        pending -= 1;
        let n: i64 = std::str::from_utf8(line)
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(-1);
        match kind {
            b'+' | b'-' | b':' | b',' | b'(' | b'#' | b'_' => {}
            b'$' | b'=' | b'!' => {
                if n >= 0 {
                    pos = pos.checked_add(n as usize + 2)?;
                }
            }
            b'*' | b'~' | b'>' => pending += n.max(0) as u64,
            b'%' => pending += 2 * n.max(0) as u64,
            other => return Some(other),
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attributes_are_refused_anywhere() {
        assert_eq!(unsupported_type(b"|1\r\n+a\r\n+b\r\n+c\r\n"), Some(b'|'));
        assert_eq!(unsupported_type(b"*2\r\n$1\r\nx\r\n|1\r\n"), Some(b'|'));
        assert_eq!(unsupported_type(b"%1\r\n+a\r\n*1\r\n:1\r\n"), None);
        assert_eq!(unsupported_type(b"*3\r\n:1\r\n"), None);
        assert_eq!(unsupported_type(b"*2\r\n$0\r\n\r\n|1\r\n"), Some(b'|'));
        assert_eq!(unsupported_type(b"\r\n"), Some(b'\r'));
    }
}
