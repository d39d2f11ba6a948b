//! What `redoubt up` records about a running deployment, in `<dir>/redoubt.state`, so that
//! `down`, `status`, `watch`, `kill` and `start` work from the directory alone.
//!
//! Same `key = value` format as the topology file. PIDs are not in it: each process has its
//! own pid file in its own directory (`redis.pid` / `sentinel.pid`), as daemons do.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context};

pub const STATE_FILE: &str = "redoubt.state";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Node,
    Sentinel,
}

/// One process of the deployment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Member {
    pub name: String,
    pub kind: Kind,
    pub port: u16,
    /// Data nodes: the `replica-priority`, and whom it replicated from at `up` (`None` for
    /// the first master). Roles change with failovers; the live roles come from the nodes.
    pub priority: u32,
    pub replica_of: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Deployment {
    pub dir: PathBuf,
    pub master_name: String,
    pub password: String,
    pub quorum: usize,
    pub down_after_ms: u64,
    /// Binaries: the data nodes', and the Sentinels' with the arguments it needs after the
    /// config file (`--sentinel` unless it is `redis-sentinel`).
    pub server_bin: PathBuf,
    pub sentinel_bin: PathBuf,
    pub sentinel_args: Vec<String>,
    /// Arguments before the config file for both: `server` when the binary is `redoubt`
    /// itself (`redoubt server` is redoubt-server), else none.
    pub prefix_args: Vec<String>,
    pub members: Vec<Member>,
}

impl Member {
    pub fn conf_name(&self) -> &'static str {
        match self.kind {
            Kind::Node => "redis.conf",
            Kind::Sentinel => "sentinel.conf",
        }
    }

    pub fn log_name(&self) -> &'static str {
        match self.kind {
            Kind::Node => "redis.log",
            Kind::Sentinel => "sentinel.log",
        }
    }

    pub fn pid_name(&self) -> &'static str {
        match self.kind {
            Kind::Node => "redis.pid",
            Kind::Sentinel => "sentinel.pid",
        }
    }
}

impl Deployment {
    pub fn nodes(&self) -> impl Iterator<Item = &Member> {
        self.members.iter().filter(|m| m.kind == Kind::Node)
    }

    pub fn sentinels(&self) -> impl Iterator<Item = &Member> {
        self.members.iter().filter(|m| m.kind == Kind::Sentinel)
    }

    pub fn member(&self, name: &str) -> Option<&Member> {
        self.members.iter().find(|m| m.name == name)
    }

    pub fn node_by_port(&self, port: u16) -> Option<&Member> {
        self.nodes().find(|m| m.port == port)
    }

    pub fn member_dir(&self, m: &Member) -> PathBuf {
        self.dir.join(&m.name)
    }

    pub fn pid_file(&self, m: &Member) -> PathBuf {
        self.member_dir(m).join(m.pid_name())
    }

    pub fn pid(&self, m: &Member) -> Option<u32> {
        crate::procs::read_pid(&self.pid_file(m))
    }

    pub fn bin(&self, m: &Member) -> &Path {
        match m.kind {
            Kind::Node => &self.server_bin,
            Kind::Sentinel => &self.sentinel_bin,
        }
    }

    /// The command line after the binary: the prefix, the absolute config path, then the
    /// Sentinel's extra args.
    pub fn args(&self, m: &Member) -> Vec<String> {
        let mut a = self.prefix_args.clone();
        a.push(
            self.member_dir(m)
                .join(m.conf_name())
                .to_string_lossy()
                .into_owned(),
        );
        if m.kind == Kind::Sentinel {
            a.extend(self.sentinel_args.iter().cloned());
        }
        a
    }

    /// The live PID of `m` if it is still the process we started.
    pub fn live_pid(&self, m: &Member) -> Option<u32> {
        let pid = self.pid(m)?;
        crate::procs::is_ours(pid, self.bin(m), &self.member_dir(m)).then_some(pid)
    }

    pub fn save(&self) -> anyhow::Result<()> {
        let mut s = String::from(
            "# Written by `redoubt up`; read by redoubt down/status/watch/kill/start.\n",
        );
        let line = |s: &mut String, k: &str, v: &str| s.push_str(&format!("{k} = {v}\n"));
        line(&mut s, "master-name", &self.master_name);
        line(&mut s, "password", &self.password);
        line(&mut s, "quorum", &self.quorum.to_string());
        line(
            &mut s,
            "down-after-milliseconds",
            &self.down_after_ms.to_string(),
        );
        line(&mut s, "server-bin", &self.server_bin.to_string_lossy());
        line(&mut s, "sentinel-bin", &self.sentinel_bin.to_string_lossy());
        line(&mut s, "sentinel-args", &self.sentinel_args.join(" "));
        line(&mut s, "prefix-args", &self.prefix_args.join(" "));
        for m in &self.members {
            match m.kind {
                Kind::Node => line(
                    &mut s,
                    "node",
                    &format!(
                        "{} {} {} {}",
                        m.name,
                        m.port,
                        m.priority,
                        m.replica_of.as_deref().unwrap_or("-")
                    ),
                ),
                Kind::Sentinel => line(&mut s, "sentinel", &format!("{} {}", m.name, m.port)),
            }
        }
        let path = self.dir.join(STATE_FILE);
        crate::up::write_private(&path, &s)
    }

    /// Reads `<dir>/redoubt.state`; the error says how to get one.
    pub fn load(dir: &Path) -> anyhow::Result<Deployment> {
        let path = dir.join(STATE_FILE);
        let text = std::fs::read_to_string(&path).with_context(|| {
            format!(
                "no deployment in {} (reading {}): start one with `redoubt up --dir {}`",
                dir.display(),
                path.display(),
                dir.display()
            )
        })?;
        let dir = dir
            .canonicalize()
            .with_context(|| format!("resolving {}", dir.display()))?;
        let mut d = Deployment {
            dir,
            master_name: String::new(),
            password: String::new(),
            quorum: 0,
            down_after_ms: 0,
            server_bin: PathBuf::new(),
            sentinel_bin: PathBuf::new(),
            sentinel_args: Vec::new(),
            prefix_args: Vec::new(),
            members: Vec::new(),
        };
        for (n, raw) in text.lines().enumerate() {
            let line = raw.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let bad = || format!("{} line {}: {raw:?}", path.display(), n + 1);
            let Some((k, v)) = line.split_once(" = ").or_else(|| {
                // An empty value (no password) leaves `key =` with nothing after it.
                line.strip_suffix(" =").map(|k| (k, ""))
            }) else {
                bail!("{}", bad());
            };
            let words: Vec<&str> = v.split_whitespace().collect();
            let port = |s: &str| s.parse::<u16>().with_context(bad);
            match k {
                "master-name" => d.master_name = v.to_string(),
                "password" => d.password = v.to_string(),
                "quorum" => d.quorum = v.parse().with_context(bad)?,
                "down-after-milliseconds" => d.down_after_ms = v.parse().with_context(bad)?,
                "server-bin" => d.server_bin = PathBuf::from(v),
                "sentinel-bin" => d.sentinel_bin = PathBuf::from(v),
                "sentinel-args" => d.sentinel_args = words.iter().map(|s| s.to_string()).collect(),
                "prefix-args" => d.prefix_args = words.iter().map(|s| s.to_string()).collect(),
                "node" if words.len() == 4 => d.members.push(Member {
                    name: words[0].to_string(),
                    kind: Kind::Node,
                    port: port(words[1])?,
                    priority: words[2].parse().with_context(bad)?,
                    replica_of: (words[3] != "-").then(|| words[3].to_string()),
                }),
                "sentinel" if words.len() == 2 => d.members.push(Member {
                    name: words[0].to_string(),
                    kind: Kind::Sentinel,
                    port: port(words[1])?,
                    priority: 0,
                    replica_of: None,
                }),
                _ => bail!("{}", bad()),
            }
        }
        if d.master_name.is_empty() || d.nodes().count() == 0 || d.sentinels().count() == 0 {
            bail!("{} is incomplete", path.display());
        }
        Ok(d)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let dir = tmp.path().canonicalize().expect("canonical");
        let d = Deployment {
            dir: dir.clone(),
            master_name: "mymaster".into(),
            password: String::new(),
            quorum: 2,
            down_after_ms: 1500,
            server_bin: "/x/redoubt-server".into(),
            sentinel_bin: "/x/redoubt-server".into(),
            sentinel_args: vec!["--sentinel".into()],
            prefix_args: vec!["server".into()],
            members: vec![
                Member {
                    name: "node1".into(),
                    kind: Kind::Node,
                    port: 7000,
                    priority: 100,
                    replica_of: None,
                },
                Member {
                    name: "node2".into(),
                    kind: Kind::Node,
                    port: 7001,
                    priority: 90,
                    replica_of: Some("node1".into()),
                },
                Member {
                    name: "sentinel1".into(),
                    kind: Kind::Sentinel,
                    port: 7002,
                    priority: 0,
                    replica_of: None,
                },
            ],
        };
        d.save().expect("save");
        assert_eq!(Deployment::load(&dir).expect("load"), d);
    }
}
