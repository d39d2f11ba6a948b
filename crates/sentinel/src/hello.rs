//! The hello message Sentinels publish on `__sentinel__:hello`:
//! `ip,port,runid,current_epoch,master_name,master_ip,master_port,master_config_epoch`.

use crate::config::{atoi, strtoull};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hello {
    pub ip: String,
    pub port: i64,
    pub runid: String,
    pub current_epoch: u64,
    pub master_name: String,
    pub master_ip: String,
    pub master_port: i64,
    pub master_config_epoch: u64,
}

/// Splits as `sdssplitlen(hello, len, ",", 1)`: exactly 8 tokens or nothing. Numbers are read
/// with C's `atoi`/`strtoull`, so garbage reads as 0 there as it does in Redis.
pub fn parse(payload: &[u8]) -> Option<Hello> {
    let text = String::from_utf8_lossy(payload);
    let t: Vec<&str> = text.split(',').collect();
    if t.len() != 8 {
        return None;
    }
    Some(Hello {
        ip: t[0].to_string(),
        port: atoi(t[1]),
        runid: t[2].to_string(),
        current_epoch: strtoull(t[3]),
        master_name: t[4].to_string(),
        master_ip: t[5].to_string(),
        master_port: atoi(t[6]),
        master_config_epoch: strtoull(t[7]),
    })
}

impl Hello {
    pub fn format(&self) -> String {
        format!(
            "{},{},{},{},{},{},{},{}",
            self.ip,
            self.port,
            self.runid,
            self.current_epoch,
            self.master_name,
            self.master_ip,
            self.master_port,
            self.master_config_epoch
        )
    }
}
