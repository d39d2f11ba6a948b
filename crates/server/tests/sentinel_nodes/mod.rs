//! Shared by the small Sentinel tests over real redis-server data nodes: a data node with a
//! priority (and `replicaof`), and the binary to start as a Sentinel.

use redoubt_harness::{redis_binary, redoubt_binary, Flavor, ServerProcess};
use std::path::PathBuf;

pub fn data_node(master: Option<u16>, priority: u32) -> ServerProcess {
    let mut conf = format!("replica-priority {priority}\n");
    if let Some(p) = master {
        conf.push_str(&format!("replicaof 127.0.0.1 {p}\n"));
    }
    ServerProcess::builder(Flavor::Redis)
        .config_file(&conf)
        .start()
        .expect("start redis-server")
}

/// The binary to start as a Sentinel: redis-sentinel, or redoubt-server through a link named
/// `redis-sentinel` (sentinel mode by name, as issue 7 asks).
pub fn sentinel_binary(flavor: Flavor, links: &tempfile::TempDir) -> PathBuf {
    match flavor {
        Flavor::Redis => {
            let server = redis_binary().expect("redis-server");
            let dir = server.parent().map(PathBuf::from).unwrap_or_default();
            let candidate = dir.join("redis-sentinel");
            if candidate.exists() {
                candidate
            } else {
                PathBuf::from("redis-sentinel")
            }
        }
        _ => {
            let target = redoubt_binary().expect("redoubt-server");
            let link = links.path().join("redis-sentinel");
            if !link.exists() {
                std::os::unix::fs::symlink(&target, &link).expect("symlink");
            }
            link
        }
    }
}
