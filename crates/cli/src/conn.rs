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
                if let Some(msg) = hiredis_check(window) {
                    return Err(ConnError::Protocol(msg));
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

/// hiredis's `chrtos`: how a bad type byte is named in its error.
fn chrtos(c: u8) -> String {
    match c {
        b'\r' => "\"\\r\"".into(),
        b'\n' => "\"\\n\"".into(),
        0x20..=0x7e => format!("\"{}\"", char::from(c)),
        _ => format!("\"\\x{c:02x}\"",),
    }
}

/// Parses a decimal as Redis's `string2ll` does (no `+`, no spaces, no leading zeros).
fn string2ll(s: &[u8]) -> Option<i64> {
    let t = std::str::from_utf8(s).ok()?;
    let digits = t.strip_prefix('-').unwrap_or(t);
    if digits.is_empty() || (digits.len() > 1 && digits.starts_with('0')) || t.starts_with('+') {
        return None;
    }
    t.parse().ok()
}

/// The checks hiredis 1.0 (bundled with redis-cli 7.0) makes while reading, which our own
/// parser does not make or makes differently: it knows no attribute (`|`) or blob error (`!`)
/// type, and rejects malformed integers, booleans, nulls, doubles, big numbers, lengths and
/// verbatim headers with its own texts. Walks the complete or partial reply at the front of
/// `buf`; returns hiredis's error text for the first problem.
fn hiredis_check(buf: &[u8]) -> Option<String> {
    let mut pos = 0;
    let mut pending: u64 = 1;
    while pending > 0 {
        let &kind = buf.get(pos)?;
        let eol = memchr_crlf(&buf[pos..])?;
        let line = buf.get(pos + 1..pos + eol).unwrap_or_default();
        pos += eol + 2;
        pending -= 1;
        let bad = |msg: &str| Some(msg.to_string());
        match kind {
            b'+' | b'-' => {}
            b':' if string2ll(line).is_none() => return bad("Bad integer value"),
            b'_' if !line.is_empty() => return bad("Bad nil value"),
            b'#' if line.len() != 1 || !b"tTfF".contains(&line[0]) => return bad("Bad bool value"),
            b',' => {
                let t = String::from_utf8_lossy(line).to_ascii_lowercase();
                let special = ["inf", "-inf", "nan", "-nan"].contains(&t.as_str());
                if !special && t.parse::<f64>().is_err() {
                    return bad("Bad double value");
                }
            }
            b'(' => {
                let digits = line.strip_prefix(b"-").unwrap_or(line);
                if !digits.iter().all(u8::is_ascii_digit) {
                    return bad("Bad bignum value");
                }
            }
            b':' | b'_' | b'#' => {}
            b'$' | b'=' => {
                let Some(n) = string2ll(line) else {
                    return bad("Bad bulk string length");
                };
                if n < -1 {
                    return bad("Bulk string length out of range");
                }
                if n >= 0 {
                    let body = pos.checked_add(n as usize)?;
                    if kind == b'=' && buf.len() >= body + 2 && (n < 4 || buf[pos + 3] != b':') {
                        return bad(
                            "Verbatim string 4 bytes of content type are missing or incorrectly \
                             encoded.",
                        );
                    }
                    pos = body.checked_add(2)?;
                }
            }
            b'*' | b'~' | b'>' | b'%' => {
                let Some(n) = string2ll(line) else {
                    return bad("Bad multi-bulk length");
                };
                if n < -1 {
                    return bad("Multi-bulk length out of range");
                }
                let n = n.max(0) as u64;
                pending += if kind == b'%' { 2 * n } else { n };
            }
            other => {
                return Some(format!(
                    "Protocol error, got {} as reply type byte",
                    chrtos(other)
                ))
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hiredis_rejects_what_it_cannot_read() {
        let proto = |c: &str| Some(format!("Protocol error, got \"{c}\" as reply type byte"));
        assert_eq!(hiredis_check(b"|1\r\n+a\r\n+b\r\n+c\r\n"), proto("|"));
        assert_eq!(hiredis_check(b"*2\r\n$1\r\nx\r\n|1\r\n"), proto("|"));
        assert_eq!(hiredis_check(b"*2\r\n$0\r\n\r\n|1\r\n"), proto("|"));
        assert_eq!(hiredis_check(b"!5\r\nERR x\r\n"), proto("!"));
        assert_eq!(
            hiredis_check(b"\r\n"),
            Some("Protocol error, got \"\\r\" as reply type byte".into())
        );
        assert_eq!(hiredis_check(b"%1\r\n+a\r\n*1\r\n:1\r\n"), None);
        assert_eq!(hiredis_check(b"*3\r\n:1\r\n"), None);
        assert_eq!(
            hiredis_check(b":abc\r\n").as_deref(),
            Some("Bad integer value")
        );
        assert_eq!(hiredis_check(b"#x\r\n").as_deref(), Some("Bad bool value"));
        assert_eq!(
            hiredis_check(b"$x\r\n").as_deref(),
            Some("Bad bulk string length")
        );
        assert_eq!(
            hiredis_check(b"*x\r\n").as_deref(),
            Some("Bad multi-bulk length")
        );
        assert_eq!(hiredis_check(b",1.5\r\n"), None);
    }
}
