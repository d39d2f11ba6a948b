//! The `sentinel ...` directives: loading them (Redis's `sentinelHandleConfiguration`, with
//! its three-pass order) and the lines `CONFIG REWRITE` writes for the Sentinel's state
//! (`rewriteConfigSentinelOption`).

use crate::state::{Instance, Master, Role};
use crate::Sentinel;

/// Directives loaded before any `monitor` line (Redis's `preMonitorCfgName`), so their
/// position in the file does not matter.
const PRE_MONITOR: &[&str] = &[
    "announce-ip",
    "announce-port",
    "deny-scripts-reconfig",
    "sentinel-user",
    "sentinel-pass",
    "current-epoch",
    "myid",
    "resolve-hostnames",
    "announce-hostnames",
];

/// A `sentinel` line that Redis would refuse: the report to print before exiting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub line_no: usize,
    pub line: String,
    pub msg: &'static str,
}

impl std::fmt::Display for ConfigError {
    /// `loadSentinelConfigFromQueue`'s report, byte for byte.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "\n*** FATAL CONFIG FILE ERROR (Redis 7.0.15) ***\nReading the configuration file, at line {}\n>>> '{}'\n{}\n",
            self.line_no, self.line, self.msg
        )
    }
}

/// One line as the config parser kept it.
pub struct Line<'a> {
    pub args: &'a [Vec<u8>],
    pub line_no: usize,
    pub line: &'a [u8],
}

/// C's `atoi`: leading blanks, a sign, digits; anything else stops it; no digits gives 0.
pub fn atoi(s: &str) -> i64 {
    let t = s.trim_start_matches([' ', '\t', '\n', '\r', '\x0b', '\x0c']);
    let (neg, digits) = match t.as_bytes().first() {
        Some(b'-') => (true, &t[1..]),
        Some(b'+') => (false, &t[1..]),
        _ => (false, t),
    };
    let mut n: i64 = 0;
    for b in digits.bytes().take_while(u8::is_ascii_digit) {
        n = n.wrapping_mul(10).wrapping_add(i64::from(b - b'0'));
    }
    // atoi returns an int: keep C's truncation for absurd values.
    let n = if neg { n.wrapping_neg() } else { n };
    i64::from(n as i32)
}

/// C's `strtoull(s, NULL, 10)`: negative numbers wrap, overflow saturates.
pub fn strtoull(s: &str) -> u64 {
    let t = s.trim_start_matches([' ', '\t', '\n', '\r', '\x0b', '\x0c']);
    let (neg, digits) = match t.as_bytes().first() {
        Some(b'-') => (true, &t[1..]),
        Some(b'+') => (false, &t[1..]),
        _ => (false, t),
    };
    let mut n: u64 = 0;
    for b in digits.bytes().take_while(u8::is_ascii_digit) {
        match n
            .checked_mul(10)
            .and_then(|x| x.checked_add(u64::from(b - b'0')))
        {
            Some(v) => n = v,
            None => return u64::MAX,
        }
    }
    if neg {
        n.wrapping_neg()
    } else {
        n
    }
}

/// Redis's `yesnotoi`.
fn yesno(s: &str) -> Option<bool> {
    if s.eq_ignore_ascii_case("yes") {
        Some(true)
    } else if s.eq_ignore_ascii_case("no") {
        Some(false)
    } else {
        None
    }
}

/// Whether `ip` is an address Sentinel can use without resolving a name
/// (`anetResolve(..., ANET_IP_ONLY)`).
pub fn is_ip(ip: &str) -> bool {
    ip.parse::<std::net::IpAddr>().is_ok()
}

impl Sentinel {
    /// Loads every `sentinel` line in Redis's order: pre-monitor directives, then `monitor`
    /// lines, then the rest. Afterwards, if no `myid` was given, one is generated.
    pub fn load_config(&mut self, lines: &[Line<'_>], now: i64) -> Result<(), ConfigError> {
        let name = |l: &Line<'_>| String::from_utf8_lossy(&l.args[0]).to_ascii_lowercase();
        let pre: Vec<&Line<'_>> = lines
            .iter()
            .filter(|l| PRE_MONITOR.contains(&name(l).as_str()))
            .collect();
        let monitor: Vec<&Line<'_>> = lines.iter().filter(|l| name(l) == "monitor").collect();
        let post: Vec<&Line<'_>> = lines
            .iter()
            .filter(|l| {
                let n = name(l);
                n != "monitor" && !PRE_MONITOR.contains(&n.as_str())
            })
            .collect();
        for l in pre.into_iter().chain(monitor).chain(post) {
            let argv: Vec<String> = l
                .args
                .iter()
                .map(|a| String::from_utf8_lossy(a).into_owned())
                .collect();
            if let Err(msg) = self.handle_config(&argv, now) {
                return Err(ConfigError {
                    line_no: l.line_no,
                    line: String::from_utf8_lossy(l.line).into_owned(),
                    msg,
                });
            }
        }
        Ok(())
    }

    /// Generates the id on first start (`sentinelIsRunning`). Returns true when it did,
    /// so the caller flushes the config as Redis does.
    pub fn ensure_myid(&mut self) -> bool {
        if self.myid.is_empty() || self.myid.bytes().all(|b| b == b'0') {
            self.myid = self.random_hex40();
            true
        } else {
            false
        }
    }

    /// `sentinelHandleConfiguration` for one line (argv without the leading `sentinel`).
    pub fn handle_config(&mut self, argv: &[String], now: i64) -> Result<(), &'static str> {
        let argc = argv.len();
        let Some(first) = argv.first() else {
            return Err("Unrecognized sentinel configuration statement.");
        };
        let opt = first.to_ascii_lowercase();
        let master = |s: &mut Sentinel, name: &str| {
            s.master_index(name)
                .ok_or("No such master with specified name.")
        };
        match (opt.as_str(), argc) {
            ("monitor", 5) => {
                let quorum = atoi(&argv[4]);
                if quorum <= 0 {
                    return Err("Quorum must be 1 or greater.");
                }
                self.create_master(&argv[1], &argv[2], atoi(&argv[3]), quorum, now)?;
            }
            ("down-after-milliseconds", 3) => {
                let mi = master(self, &argv[1])?;
                let v = atoi(&argv[2]);
                self.masters[mi].inst.down_after_period = v;
                if v <= 0 {
                    return Err("negative or zero time parameter.");
                }
                self.propagate_down_after(mi);
            }
            ("failover-timeout", 3) => {
                let mi = master(self, &argv[1])?;
                let v = atoi(&argv[2]);
                self.masters[mi].failover_timeout = v;
                if v <= 0 {
                    return Err("negative or zero time parameter.");
                }
            }
            ("parallel-syncs", 3) => {
                let mi = master(self, &argv[1])?;
                self.masters[mi].parallel_syncs = atoi(&argv[2]);
            }
            // Redoubt only (crate::safe): written back only when set.
            ("safe-failover", 3) => {
                let mi = master(self, &argv[1])?;
                self.masters[mi].safe_failover = match yesno(&argv[2]) {
                    Some(v) => v,
                    None => return Err("Please specify yes or no for safe-failover."),
                };
            }
            ("notification-script", 3) => {
                let mi = master(self, &argv[1])?;
                if !is_executable(&argv[2]) {
                    return Err("Notification script seems non existing or non executable.");
                }
                self.masters[mi].notification_script = Some(argv[2].clone());
            }
            ("client-reconfig-script", 3) => {
                let mi = master(self, &argv[1])?;
                if !is_executable(&argv[2]) {
                    return Err(
                        "Client reconfiguration script seems non existing or non executable.",
                    );
                }
                self.masters[mi].client_reconfig_script = Some(argv[2].clone());
            }
            ("auth-pass", 3) => {
                let mi = master(self, &argv[1])?;
                self.masters[mi].auth_pass = Some(argv[2].clone());
            }
            ("auth-user", 3) => {
                let mi = master(self, &argv[1])?;
                self.masters[mi].auth_user = Some(argv[2].clone());
            }
            ("current-epoch", 2) => {
                let e = strtoull(&argv[1]);
                if e > self.current_epoch {
                    self.current_epoch = e;
                }
            }
            ("myid", 2) => {
                if argv[1].len() != 40 {
                    return Err("Malformed Sentinel id in myid option.");
                }
                self.myid = argv[1].clone();
            }
            ("config-epoch", 3) => {
                let mi = master(self, &argv[1])?;
                let e = strtoull(&argv[2]);
                self.masters[mi].config_epoch = e;
                if e > self.current_epoch {
                    self.current_epoch = e;
                }
            }
            ("leader-epoch", 3) => {
                let mi = master(self, &argv[1])?;
                self.masters[mi].leader_epoch = strtoull(&argv[2]);
            }
            ("known-slave" | "known-replica", 4) => {
                let mi = master(self, &argv[1])?;
                self.create_replica(mi, &argv[2], atoi(&argv[3]), now)?;
            }
            ("known-sentinel", 4) => {
                // The old form without a run id is ignored, as Redis does.
            }
            ("known-sentinel", 5) => {
                let mi = master(self, &argv[1])?;
                self.create_sentinel(mi, &argv[4], &argv[2], atoi(&argv[3]), now)?;
            }
            ("rename-command", 4) => {
                let mi = master(self, &argv[1])?;
                let m = &mut self.masters[mi];
                if m.renamed_commands
                    .iter()
                    .any(|(old, _)| old.eq_ignore_ascii_case(&argv[2]))
                {
                    return Err("Same command renamed multiple times with rename-command.");
                }
                m.renamed_commands.push((argv[2].clone(), argv[3].clone()));
            }
            ("announce-ip", 2) => {
                if !argv[1].is_empty() {
                    self.globals.announce_ip = Some(argv[1].clone());
                }
            }
            ("announce-port", 2) => self.globals.announce_port = atoi(&argv[1]),
            ("deny-scripts-reconfig", 2) => {
                self.globals.deny_scripts_reconfig = yesno(&argv[1])
                    .ok_or("Please specify yes or no for the deny-scripts-reconfig options.")?;
            }
            ("sentinel-user", 2) => {
                if !argv[1].is_empty() {
                    self.globals.sentinel_auth_user = Some(argv[1].clone());
                }
            }
            ("sentinel-pass", 2) => {
                if !argv[1].is_empty() {
                    self.globals.sentinel_auth_pass = Some(argv[1].clone());
                }
            }
            ("resolve-hostnames", 2) => {
                self.globals.resolve_hostnames = yesno(&argv[1])
                    .ok_or("Please specify yes or not for the resolve-hostnames option.")?;
            }
            ("announce-hostnames", 2) => {
                self.globals.announce_hostnames = yesno(&argv[1])
                    .ok_or("Please specify yes or not for the announce-hostnames option.")?;
            }
            ("master-reboot-down-after-period", 3) => {
                let mi = master(self, &argv[1])?;
                let v = atoi(&argv[2]);
                self.masters[mi].master_reboot_down_after_period = v;
                if v < 0 {
                    return Err("negative time parameter.");
                }
            }
            _ => return Err("Unrecognized sentinel configuration statement."),
        }
        Ok(())
    }

    /// `sentinelPropagateDownAfterPeriod`.
    pub(crate) fn propagate_down_after(&mut self, mi: usize) {
        let m = &mut self.masters[mi];
        let d = m.inst.down_after_period;
        for i in m.replicas.iter_mut().chain(m.sentinels.iter_mut()) {
            i.down_after_period = d;
        }
    }

    /// Checks an address as `createSentinelAddr` does.
    fn check_addr(&self, host: &str, port: i64) -> Result<(), &'static str> {
        if !(0..=65535).contains(&port) {
            return Err("Invalid port number.");
        }
        if !self.globals.resolve_hostnames && !is_ip(host) {
            return Err("Can't resolve instance hostname.");
        }
        Ok(())
    }

    /// `createSentinelRedisInstance(..., SRI_MASTER, ...)`.
    pub fn create_master(
        &mut self,
        name: &str,
        host: &str,
        port: i64,
        quorum: i64,
        now: i64,
    ) -> Result<usize, &'static str> {
        self.check_addr(host, port)?;
        if self.master_index(name).is_some() {
            return Err("Duplicate master name.");
        }
        self.masters
            .push(Master::new(name, host, port, quorum, &self.timing, now));
        Ok(self.masters.len() - 1)
    }

    /// `createSentinelRedisInstance(NULL, SRI_SLAVE, ...)`.
    pub fn create_replica(
        &mut self,
        mi: usize,
        host: &str,
        port: i64,
        now: i64,
    ) -> Result<usize, &'static str> {
        self.check_addr(host, port)?;
        let m = &mut self.masters[mi];
        if m.replica_index(host, port).is_some() {
            return Err("Duplicate hostname and port for replica.");
        }
        let name = if host.contains(':') {
            format!("[{host}]:{port}")
        } else {
            format!("{host}:{port}")
        };
        let down_after = m.inst.down_after_period;
        m.replicas.push(Instance::new(
            Role::Replica,
            name,
            host.to_string(),
            port,
            down_after,
            now,
        ));
        Ok(m.replicas.len() - 1)
    }

    /// `createSentinelRedisInstance(runid, SRI_SENTINEL, ...)` with the run id set.
    pub fn create_sentinel(
        &mut self,
        mi: usize,
        runid: &str,
        host: &str,
        port: i64,
        now: i64,
    ) -> Result<usize, &'static str> {
        self.check_addr(host, port)?;
        let m = &mut self.masters[mi];
        if m.sentinels.iter().any(|s| s.name == runid) {
            return Err("Duplicate runid for sentinel.");
        }
        let mut inst = Instance::new(
            Role::Sentinel,
            runid.to_string(),
            host.to_string(),
            port,
            m.inst.down_after_period,
            now,
        );
        inst.runid = Some(runid.to_string());
        m.sentinels.push(inst);
        Ok(m.sentinels.len() - 1)
    }

    /// `announceSentinelAddr`: with announce-hostnames the configured name, else the address.
    pub(crate) fn announce_addr<'a>(&self, ip: &'a str) -> &'a str {
        ip
    }

    /// The lines CONFIG REWRITE gives each `sentinel <option>`, in Redis's order
    /// (`rewriteConfigSentinelOption`). Each entry is (option key, lines, force): with force
    /// off a line only replaces an existing one.
    pub fn rewrite_lines(&self) -> Vec<(String, Vec<Vec<u8>>, bool)> {
        let mut out: Vec<(String, Vec<Vec<u8>>, bool)> = Vec::new();
        let mut push = |key: &str, line: String, force: bool| {
            let key = format!("sentinel {key}");
            match out.iter_mut().find(|(k, _, _)| *k == key) {
                Some((_, lines, f)) => {
                    lines.push(line.into_bytes());
                    *f |= force;
                }
                None => out.push((key, vec![line.into_bytes()], force)),
            }
        };
        let g = &self.globals;
        push("myid", format!("sentinel myid {}", self.myid), true);
        let yn = |b: bool| if b { "yes" } else { "no" };
        push(
            "deny-scripts-reconfig",
            format!(
                "sentinel deny-scripts-reconfig {}",
                yn(g.deny_scripts_reconfig)
            ),
            !g.deny_scripts_reconfig,
        );
        push(
            "resolve-hostnames",
            format!("sentinel resolve-hostnames {}", yn(g.resolve_hostnames)),
            g.resolve_hostnames,
        );
        push(
            "announce-hostnames",
            format!("sentinel announce-hostnames {}", yn(g.announce_hostnames)),
            g.announce_hostnames,
        );
        for m in &self.masters {
            let name = m.name();
            let (mip, mport) = self.current_master_addr(m);
            push(
                "monitor",
                format!("sentinel monitor {name} {mip} {mport} {}", m.quorum),
                true,
            );
            if m.inst.down_after_period != self.timing.default_down_after {
                push(
                    "down-after-milliseconds",
                    format!(
                        "sentinel down-after-milliseconds {name} {}",
                        m.inst.down_after_period
                    ),
                    true,
                );
            }
            if m.failover_timeout != self.timing.default_failover_timeout {
                push(
                    "failover-timeout",
                    format!("sentinel failover-timeout {name} {}", m.failover_timeout),
                    true,
                );
            }
            if m.parallel_syncs != 1 {
                push(
                    "parallel-syncs",
                    format!("sentinel parallel-syncs {name} {}", m.parallel_syncs),
                    true,
                );
            }
            if m.safe_failover {
                push(
                    "safe-failover",
                    format!("sentinel safe-failover {name} yes"),
                    true,
                );
            }
            if let Some(s) = &m.notification_script {
                push(
                    "notification-script",
                    format!("sentinel notification-script {name} {s}"),
                    true,
                );
            }
            if let Some(s) = &m.client_reconfig_script {
                push(
                    "client-reconfig-script",
                    format!("sentinel client-reconfig-script {name} {s}"),
                    true,
                );
            }
            if let Some(p) = &m.auth_pass {
                push("auth-pass", format!("sentinel auth-pass {name} {p}"), true);
            }
            if let Some(u) = &m.auth_user {
                push("auth-user", format!("sentinel auth-user {name} {u}"), true);
            }
            if m.master_reboot_down_after_period != 0 {
                push(
                    "master-reboot-down-after-period",
                    format!(
                        "sentinel master-reboot-down-after-period {name} {}",
                        m.master_reboot_down_after_period
                    ),
                    true,
                );
            }
            push(
                "config-epoch",
                format!("sentinel config-epoch {name} {}", m.config_epoch),
                true,
            );
            push(
                "leader-epoch",
                format!("sentinel leader-epoch {name} {}", m.leader_epoch),
                true,
            );
            for r in &m.replicas {
                // A replica already promoted during a failover is written with the old
                // master's address, as Redis does.
                let (ip, port) = if r.ip == mip && r.port == mport {
                    (m.inst.ip.as_str(), m.inst.port)
                } else {
                    (r.ip.as_str(), r.port)
                };
                push(
                    "known-replica",
                    format!("sentinel known-replica {name} {ip} {port}"),
                    true,
                );
            }
            for s in &m.sentinels {
                let Some(runid) = &s.runid else { continue };
                push(
                    "known-sentinel",
                    format!("sentinel known-sentinel {name} {} {} {runid}", s.ip, s.port),
                    true,
                );
            }
            for (old, new) in &m.renamed_commands {
                push(
                    "rename-command",
                    format!("sentinel rename-command {name} {old} {new}"),
                    true,
                );
            }
        }
        push(
            "current-epoch",
            format!("sentinel current-epoch {}", self.current_epoch),
            true,
        );
        let mut optional = |key: &str, v: Option<String>| {
            if let Some(line) = v {
                push(key, line, true);
            }
        };
        optional(
            "announce-ip",
            g.announce_ip.as_ref().map(|ip| {
                let mut l = b"sentinel announce-ip ".to_vec();
                redoubt_config::repr(&mut l, ip.as_bytes());
                String::from_utf8_lossy(&l).into_owned()
            }),
        );
        optional(
            "announce-port",
            (g.announce_port != 0).then(|| format!("sentinel announce-port {}", g.announce_port)),
        );
        optional(
            "sentinel-user",
            g.sentinel_auth_user
                .as_ref()
                .map(|u| format!("sentinel sentinel-user {u}")),
        );
        optional(
            "sentinel-pass",
            g.sentinel_auth_pass
                .as_ref()
                .map(|p| format!("sentinel sentinel-pass {p}")),
        );
        // Options with no line left are still "processed": their old lines are removed.
        let mut keys: Vec<(String, Vec<Vec<u8>>, bool)> = out;
        for k in [
            "monitor",
            "down-after-milliseconds",
            "failover-timeout",
            "parallel-syncs",
            "safe-failover",
            "notification-script",
            "client-reconfig-script",
            "auth-pass",
            "auth-user",
            "master-reboot-down-after-period",
            "config-epoch",
            "leader-epoch",
            "known-replica",
            "known-slave",
            "known-sentinel",
            "rename-command",
            "announce-ip",
            "announce-port",
            "sentinel-user",
            "sentinel-pass",
        ] {
            let key = format!("sentinel {k}");
            if !keys.iter().any(|(kk, _, _)| *kk == key) {
                keys.push((key, Vec::new(), false));
            }
        }
        keys
    }

    /// `sentinelGetCurrentMasterAddress`: the promoted replica's address once the failover
    /// reached the reconfiguration of replicas, else the master's.
    pub fn current_master_addr<'a>(&self, m: &'a Master) -> (&'a str, i64) {
        if m.inst.has(crate::state::flags::FAILOVER_IN_PROGRESS)
            && m.failover_state >= crate::failover::state::RECONF_SLAVES
        {
            if let Some(p) = m
                .promoted_slave
                .as_ref()
                .and_then(|n| m.replicas.iter().find(|r| &r.name == n))
            {
                return (p.ip.as_str(), p.port);
            }
        }
        (m.inst.ip.as_str(), m.inst.port)
    }
}

/// `access(path, X_OK) == 0`, through std (the core does not otherwise touch files; this is
/// the one check Redis makes while loading, and SENTINEL SET repeats it).
pub fn is_executable(path: &str) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::metadata(path)
            .map(|m| m.permissions().mode() & 0o111 != 0)
            .unwrap_or(false)
    }
    #[cfg(not(unix))]
    {
        std::path::Path::new(path).exists()
    }
}
