//! The fields Sentinel reads from an instance's INFO (Redis's `sentinelRefreshInstanceInfo`,
//! parsing half).

use crate::config::{atoi, strtoull};
use crate::state::Role;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InfoFields {
    pub run_id: Option<String>,
    /// `slaveN:` lines of a master: (ip, port).
    pub replicas: Vec<(String, i64)>,
    pub master_link_down_since_ms: i64,
    pub role: Option<Role>,
    pub master_host: Option<String>,
    pub master_port: Option<i64>,
    pub master_link_up: Option<bool>,
    pub slave_priority: Option<i64>,
    pub slave_repl_offset: Option<u64>,
    pub replica_announced: Option<bool>,
    pub master_repl_offset: Option<u64>,
    pub master_replid: Option<String>,
    /// Redoubt's `replica_ack_before_reply` (shown only when set).
    pub replica_ack_before_reply: Option<i64>,
}

/// Reads INFO as Redis does: line by line, by prefix, in one pass; the replica fields only
/// once `role:slave` was seen.
pub fn parse(info: &str) -> InfoFields {
    let mut f = InfoFields::default();
    for l in info.split("\r\n") {
        if l.len() >= 47 && l.starts_with("run_id:") {
            f.run_id = l.get(7..47).map(str::to_string);
        }
        let b = l.as_bytes();
        if b.len() >= 7 && l.starts_with("slave") && b[5].is_ascii_digit() {
            if let Some(addr) = replica_addr(l) {
                f.replicas.push(addr);
            }
        }
        if l.len() >= 32 && l.starts_with("master_link_down_since_seconds") {
            f.master_link_down_since_ms = strtoll(&l[31..]).saturating_mul(1000);
        }
        if l.starts_with("role:master") {
            f.role = Some(Role::Master);
        } else if l.starts_with("role:slave") {
            f.role = Some(Role::Replica);
        }
        if let Some(v) = l.strip_prefix("master_repl_offset:") {
            f.master_repl_offset = Some(strtoull(v));
        }
        if let Some(v) = l.strip_prefix("master_replid:") {
            f.master_replid = Some(v.to_string());
        }
        if let Some(v) = l.strip_prefix("replica_ack_before_reply:") {
            f.replica_ack_before_reply = Some(atoi(v));
        }
        if f.role == Some(Role::Replica) {
            if let Some(v) = l.strip_prefix("master_host:") {
                f.master_host = Some(v.to_string());
            }
            if let Some(v) = l.strip_prefix("master_port:") {
                f.master_port = Some(atoi(v));
            }
            if let Some(v) = l.strip_prefix("master_link_status:") {
                f.master_link_up = Some(v.eq_ignore_ascii_case("up"));
            }
            if let Some(v) = l.strip_prefix("slave_priority:") {
                f.slave_priority = Some(atoi(v));
            }
            if let Some(v) = l.strip_prefix("slave_repl_offset:") {
                f.slave_repl_offset = Some(strtoull(v));
            }
            if let Some(v) = l.strip_prefix("replica_announced:") {
                f.replica_announced = Some(atoi(v) != 0);
            }
        }
    }
    f
}

fn strtoll(s: &str) -> i64 {
    let t = s.trim_start();
    let (neg, digits) = match t.as_bytes().first() {
        Some(b'-') => (true, &t[1..]),
        Some(b'+') => (false, &t[1..]),
        _ => (false, t),
    };
    let mut n: i64 = 0;
    for b in digits.bytes().take_while(u8::is_ascii_digit) {
        n = n.saturating_mul(10).saturating_add(i64::from(b - b'0'));
    }
    if neg {
        -n
    } else {
        n
    }
}

/// `slave0:ip=127.0.0.1,port=9999,...` (or the old `slave0:<ip>,<port>,<state>`).
fn replica_addr(l: &str) -> Option<(String, i64)> {
    if !l.contains("ip=") {
        let rest = &l[l.find(':')? + 1..];
        let mut it = rest.splitn(3, ',');
        let ip = it.next()?;
        let port = it.next()?;
        it.next()?;
        return Some((ip.to_string(), atoi(port)));
    }
    let ip_start = l.find("ip=")? + 3;
    let port_start = l.find("port=")? + 5;
    let ip = l[ip_start..].split(',').next()?;
    let port = l[port_start..].split(',').next()?;
    Some((ip.to_string(), atoi(port)))
}
