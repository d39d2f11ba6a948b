//! A small blocking RESP client for the nodes and Sentinels of a deployment, with short
//! timeouts everywhere: a status or a live view must never hang on a stopped process.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context};
use redoubt_resp::{encode_command, parse_value, Value};

pub struct Conn {
    stream: TcpStream,
    buf: Vec<u8>,
    timeout: Duration,
}

impl Conn {
    /// Connects to 127.0.0.1:`port` and authenticates when `password` is not empty.
    pub fn connect(port: u16, password: &str, timeout: Duration) -> anyhow::Result<Conn> {
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let stream = TcpStream::connect_timeout(&addr, timeout)
            .with_context(|| format!("connecting to 127.0.0.1:{port}"))?;
        stream.set_nodelay(true)?;
        let mut c = Conn {
            stream,
            buf: Vec::new(),
            timeout,
        };
        if !password.is_empty() {
            match c.cmd(&["AUTH", password])? {
                Value::Simple(_) => {}
                other => bail!("AUTH on 127.0.0.1:{port}: {}", text(&other)),
            }
        }
        Ok(c)
    }

    pub fn send(&mut self, args: &[&str]) -> anyhow::Result<()> {
        self.stream.write_all(&encode_command(args))?;
        Ok(())
    }

    /// Sends a command and reads its reply; a Redis error reply is a value, not an `Err`.
    pub fn cmd(&mut self, args: &[&str]) -> anyhow::Result<Value> {
        self.send(args)?;
        self.read(Instant::now() + self.timeout)?
            .ok_or_else(|| anyhow!("{} timed out", args.first().copied().unwrap_or("")))
    }

    /// Reads one reply, waiting until `deadline`; `Ok(None)` when none came by then.
    pub fn read(&mut self, deadline: Instant) -> anyhow::Result<Option<Value>> {
        loop {
            if let Some((v, used)) = parse_value(&self.buf).map_err(|e| anyhow!(e))? {
                self.buf.drain(..used);
                return Ok(Some(v));
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Ok(None);
            }
            self.stream.set_read_timeout(Some(left))?;
            let mut chunk = [0u8; 16 * 1024];
            match self.stream.read(&mut chunk) {
                Ok(0) => bail!("connection closed"),
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) =>
                {
                    return Ok(None)
                }
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// `INFO section` as `field -> value` pairs, in order.
    pub fn info(&mut self, section: &str) -> anyhow::Result<Vec<(String, String)>> {
        let v = self.cmd(&["INFO", section])?;
        match v {
            Value::Bulk(b) => Ok(parse_info(&String::from_utf8_lossy(&b))),
            Value::Verbatim(_, b) => Ok(parse_info(&String::from_utf8_lossy(&b))),
            other => bail!("INFO {section}: {}", text(&other)),
        }
    }
}

pub fn parse_info(text: &str) -> Vec<(String, String)> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.to_string(), v.trim_end().to_string()))
        .collect()
}

/// `a=1,b=2` (INFO's `slave0:` and `master0:` values) as pairs.
pub fn parse_kv_list(text: &str) -> Vec<(&str, &str)> {
    text.split(',')
        .filter_map(|kv| kv.split_once('='))
        .collect()
}

/// A reply as one line of text, for messages and for flat string replies.
pub fn text(v: &Value) -> String {
    match v {
        Value::Simple(s) | Value::Error(s) | Value::Double(s) | Value::BigNumber(s) => s.clone(),
        Value::Bulk(b) | Value::Verbatim(_, b) => String::from_utf8_lossy(b).into_owned(),
        Value::Int(i) => i.to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Nil => "(nil)".into(),
        Value::Array(a) | Value::Set(a) | Value::Push(a) => {
            a.iter().map(text).collect::<Vec<_>>().join(" ")
        }
        Value::Map(m) => m
            .iter()
            .map(|(k, v)| format!("{} {}", text(k), text(v)))
            .collect::<Vec<_>>()
            .join(" "),
    }
}

/// A flat `[field, value, field, value...]` reply (SENTINEL MASTER) as pairs.
pub fn pairs(v: &Value) -> Vec<(String, String)> {
    match v {
        Value::Array(a) => a
            .chunks(2)
            .filter(|c| c.len() == 2)
            .map(|c| (text(&c[0]), text(&c[1])))
            .collect(),
        Value::Map(m) => m.iter().map(|(k, v)| (text(k), text(v))).collect(),
        _ => Vec::new(),
    }
}

pub fn field<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn info_fields() {
        let info = parse_info("# Replication\r\nrole:master\r\nslave0:ip=1,port=2\r\n\r\n");
        assert_eq!(field(&info, "role"), Some("master"));
        assert_eq!(
            parse_kv_list(field(&info, "slave0").unwrap_or_default()),
            [("ip", "1"), ("port", "2")]
        );
    }
}
