//! The shape of a deployment: how many replicas (and whose replicas they are), how many
//! Sentinels, the quorum, the timings and the password. The embedded defaults are the classic
//! deployment of the README; a topology file changes any of them.
//!
//! The file format is deliberately tiny, one `key = value` per line, `#` starts a comment:
//!
//! ```text
//! master-name = mymaster
//! password = s3cret                 # omitted: a random one; empty: no password at all
//! replicas = 2                      # data nodes besides the master
//! replica-priorities = 90, 100      # node2, node3, ... (missing ones get 100)
//! chain = 3:2                       # node3 replicates from node2 instead of the master
//! sentinels = 3
//! quorum = 2
//! down-after-milliseconds = 5000
//! failover-timeout = 10000
//! parallel-syncs = 1
//! min-replicas-to-write = 1
//! min-replicas-max-lag = 10
//! appendonly = yes
//! ```
//!
//! Nodes are named `node1` (the first master), `node2`, ...; Sentinels `sentinel1`, ...

use anyhow::{bail, Context};

/// One data node besides the first master.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReplicaSpec {
    pub priority: u32,
    /// 1-based index of the node it replicates from (1 = the master).
    pub replica_of: usize,
}

/// Everything `redoubt up` needs to know about the deployment's shape.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Topology {
    pub master_name: String,
    /// `None`: generate one at `up`. `Some("")`: no password at all.
    pub password: Option<String>,
    pub replicas: Vec<ReplicaSpec>,
    pub sentinels: usize,
    pub quorum: usize,
    pub down_after_ms: u64,
    pub failover_timeout_ms: u64,
    pub parallel_syncs: u32,
    pub min_replicas_to_write: u32,
    pub min_replicas_max_lag: u32,
    pub appendonly: bool,
}

/// The classic deployment: two replicas of different priorities (so the failover's choice is
/// predictable: node2 wins), three Sentinels, quorum 2. 5 s of silence marks a node down,
/// quick enough for a demo, slow enough not to fire on a loaded laptop.
impl Default for Topology {
    fn default() -> Self {
        Topology {
            master_name: "mymaster".into(),
            password: None,
            replicas: vec![
                ReplicaSpec {
                    priority: 90,
                    replica_of: 1,
                },
                ReplicaSpec {
                    priority: 100,
                    replica_of: 1,
                },
            ],
            sentinels: 3,
            quorum: 2,
            down_after_ms: 5000,
            failover_timeout_ms: 10_000,
            parallel_syncs: 1,
            min_replicas_to_write: 1,
            min_replicas_max_lag: 10,
            appendonly: true,
        }
    }
}

impl Topology {
    /// Reads a topology file over the defaults.
    pub fn parse(text: &str) -> anyhow::Result<Topology> {
        let mut t = Topology::default();
        let mut replicas: Option<usize> = None;
        let mut priorities: Vec<u32> = Vec::new();
        let mut chains: Vec<(usize, usize)> = Vec::new();
        for (n, raw) in text.lines().enumerate() {
            let line = raw.split('#').next().unwrap_or("").trim();
            if line.is_empty() {
                continue;
            }
            let ctx = || format!("topology line {}: {raw:?}", n + 1);
            let Some((key, value)) = line.split_once('=') else {
                bail!("{}: expected key = value", ctx());
            };
            let (key, value) = (key.trim(), value.trim());
            match key {
                "master-name" => {
                    if value.is_empty() || value.contains(char::is_whitespace) {
                        bail!("{}: a master name is one word", ctx());
                    }
                    t.master_name = value.to_string();
                }
                "password" => t.password = Some(value.to_string()),
                "replicas" => replicas = Some(number(value).with_context(ctx)?),
                "replica-priorities" => {
                    priorities = list(value)
                        .map(number)
                        .collect::<anyhow::Result<_>>()
                        .with_context(ctx)?
                }
                "chain" => {
                    for item in list(value) {
                        let Some((a, b)) = item.split_once(':') else {
                            bail!("{}: chain items are REPLICA:SOURCE node numbers", ctx());
                        };
                        let a = number(a.trim()).with_context(ctx)?;
                        let b = number(b.trim()).with_context(ctx)?;
                        chains.push((a, b));
                    }
                }
                "sentinels" => t.sentinels = number(value).with_context(ctx)?,
                "quorum" => t.quorum = number(value).with_context(ctx)?,
                "down-after-milliseconds" => t.down_after_ms = number(value).with_context(ctx)?,
                "failover-timeout" => t.failover_timeout_ms = number(value).with_context(ctx)?,
                "parallel-syncs" => t.parallel_syncs = number(value).with_context(ctx)?,
                "min-replicas-to-write" => {
                    t.min_replicas_to_write = number(value).with_context(ctx)?
                }
                "min-replicas-max-lag" => {
                    t.min_replicas_max_lag = number(value).with_context(ctx)?
                }
                "appendonly" => {
                    t.appendonly = match value {
                        "yes" => true,
                        "no" => false,
                        _ => bail!("{}: appendonly is yes or no", ctx()),
                    }
                }
                _ => bail!("{}: unknown key {key:?}", ctx()),
            }
        }
        let count = replicas.unwrap_or(if priorities.is_empty() {
            t.replicas.len()
        } else {
            priorities.len()
        });
        if priorities.len() > count {
            bail!(
                "topology: {} replica-priorities for {count} replicas",
                priorities.len()
            );
        }
        let defaults: Vec<u32> = t.replicas.iter().map(|r| r.priority).collect();
        t.replicas = (0..count)
            .map(|i| ReplicaSpec {
                priority: priorities
                    .get(i)
                    .copied()
                    .or(if priorities.is_empty() {
                        defaults.get(i).copied()
                    } else {
                        None
                    })
                    .unwrap_or(100),
                replica_of: 1,
            })
            .collect();
        for (replica, source) in chains {
            if replica < 2 || replica > count + 1 {
                bail!("topology: chain {replica}:{source}: node{replica} is not a replica");
            }
            if source < 1 || source > count + 1 || source == replica {
                bail!("topology: chain {replica}:{source}: no node{source} to replicate from");
            }
            t.replicas[replica - 2].replica_of = source;
        }
        t.validate()?;
        Ok(t)
    }

    pub fn validate(&self) -> anyhow::Result<()> {
        if self.sentinels == 0 {
            bail!("topology: at least one Sentinel is needed");
        }
        if self.quorum == 0 || self.quorum > self.sentinels {
            bail!(
                "topology: quorum {} must be between 1 and the number of Sentinels ({})",
                self.quorum,
                self.sentinels
            );
        }
        if let Some(pw) = &self.password {
            // It goes into config files and onto command lines: keep it one plain word.
            if pw
                .chars()
                .any(|c| c.is_whitespace() || c.is_control() || "\"'\\$`".contains(c))
            {
                bail!("topology: the password may not contain spaces, quotes, \\, $ or `");
            }
        }
        if self.down_after_ms == 0 {
            bail!("topology: down-after-milliseconds must be positive");
        }
        // A chain must lead back to the master, or those nodes replicate from each other.
        for start in 0..self.replicas.len() {
            let mut node = start + 2;
            for _ in 0..=self.replicas.len() {
                if node == 1 {
                    break;
                }
                node = self.replicas[node - 2].replica_of;
            }
            if node != 1 {
                bail!("topology: node{} is in a replication loop", start + 2);
            }
        }
        Ok(())
    }

    /// Data nodes in all, the master included.
    pub fn node_count(&self) -> usize {
        self.replicas.len() + 1
    }

    /// Replicas of the master itself: the only ones Sentinel discovers (from the master's
    /// INFO), so the `slaves=` count a healthy Sentinel reports.
    pub fn direct_replicas(&self) -> usize {
        self.replicas.iter().filter(|r| r.replica_of == 1).count()
    }
}

fn number<T: std::str::FromStr>(s: &str) -> anyhow::Result<T> {
    s.parse()
        .map_err(|_| anyhow::anyhow!("{s:?} is not a non-negative number"))
}

fn list(s: &str) -> impl Iterator<Item = &str> {
    s.split(',').map(str::trim).filter(|x| !x.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_file_is_the_default() {
        assert_eq!(
            Topology::parse("# nothing\n\n").ok(),
            Some(Topology::default())
        );
    }

    #[test]
    fn shapes() {
        let t = Topology::parse(
            "replicas = 3\nreplica-priorities = 10, 20\nchain = 4:3\nsentinels = 5\n\
             quorum = 3 # majority\ndown-after-milliseconds = 1500\npassword =\n",
        )
        .expect("valid");
        let prio: Vec<u32> = t.replicas.iter().map(|r| r.priority).collect();
        assert_eq!(prio, [10, 20, 100]);
        assert_eq!(t.replicas[2].replica_of, 3);
        assert_eq!(t.direct_replicas(), 2);
        assert_eq!((t.sentinels, t.quorum, t.down_after_ms), (5, 3, 1500));
        assert_eq!(t.password.as_deref(), Some(""));
    }

    #[test]
    fn readme_example_parses() {
        let readme = include_str!("../../../README.md");
        let start = readme
            .find("```ini\n")
            .expect("the README's topology example")
            + 7;
        let len = readme[start..].find("```").expect("end of the example");
        let t = Topology::parse(&readme[start..start + len]).expect("the README's example");
        assert_eq!((t.replicas.len(), t.sentinels, t.quorum), (3, 5, 3));
        assert_eq!(t.replicas[2].replica_of, 3);
        assert_eq!(t.password.as_deref(), Some("s3cret"));
    }

    #[test]
    fn errors_name_the_line() {
        let e = |text: &str| format!("{:#}", Topology::parse(text).expect_err(text));
        assert!(e("quorum = 4").contains("quorum 4"));
        assert!(e("x = 1").contains("line 1"));
        assert!(e("\nsentinels = many").contains("line 2"));
        assert!(e("chain = 2:2").contains("no node2"));
        assert!(e("chain = 2:3, 3:2").contains("loop"));
        assert!(e("replicas = 1\nreplica-priorities = 1,2").contains("2 replica-priorities"));
        assert!(e("appendonly = maybe").contains("yes or no"));
    }
}
