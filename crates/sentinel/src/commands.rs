//! What clients of a Sentinel can ask: SENTINEL subcommands, INFO's sentinel section, ROLE,
//! and PUBLISH of hellos (Redis's `sentinelCommand` and friends). Arity and unknown
//! subcommands are checked before these run, from redis-sentinel's own command metadata.

use crate::state::{flags, Instance, Master, Role};
use crate::{Level, Sentinel, HELLO_CHANNEL};
use bytes::Bytes;
use redoubt_resp::ReplyBuf;

const HELP: &[&str] = &[
    "SENTINEL <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "CKQUORUM <master-name>",
    "    Check if the current Sentinel configuration is able to reach the quorum",
    "    needed to failover a master and the majority needed to authorize the",
    "    failover.",
    "CONFIG SET <param> <value>",
    "    Set a global Sentinel configuration parameter.",
    "CONFIG GET <param>",
    "    Get global Sentinel configuration parameter.",
    "DEBUG [<param> <value> ...]",
    "    Show a list of configurable time parameters and their values (milliseconds).",
    "    Or update current configurable parameters values (one or more).",
    "GET-MASTER-ADDR-BY-NAME <master-name>",
    "    Return the ip and port number of the master with that name.",
    "FAILOVER <master-name>",
    "    Manually failover a master node without asking for agreement from other",
    "    Sentinels",
    "FLUSHCONFIG",
    "    Force Sentinel to rewrite its configuration on disk, including the current",
    "    Sentinel state.",
    "INFO-CACHE <master-name>",
    "    Return last cached INFO output from masters and all its replicas.",
    "IS-MASTER-DOWN-BY-ADDR <ip> <port> <current-epoch> <runid>",
    "    Check if the master specified by ip:port is down from current Sentinel's",
    "    point of view.",
    "MASTER <master-name>",
    "    Show the state and info of the specified master.",
    "MASTERS",
    "    Show a list of monitored masters and their state.",
    "MONITOR <name> <ip> <port> <quorum>",
    "    Start monitoring a new master with the specified name, ip, port and quorum.",
    "MYID",
    "    Return the ID of the Sentinel instance.",
    "PENDING-SCRIPTS",
    "    Get pending scripts information.",
    "REMOVE <master-name>",
    "    Remove master from Sentinel's monitor list.",
    "REPLICAS <master-name>",
    "    Show a list of replicas for this master and their state.",
    "RESET <pattern>",
    "    Reset masters for specific master name matching this pattern.",
    "SENTINELS <master-name>",
    "    Show a list of Sentinel instances for this master and their state.",
    "SET <master-name> <option> <value> [<option> <value> ...]",
    "    Set configuration parameters for certain masters.",
    "SIMULATE-FAILURE [CRASH-AFTER-ELECTION] [CRASH-AFTER-PROMOTION] [HELP]",
    "    Simulate a Sentinel crash.",
    "HELP",
    "    Prints this help.",
];

/// Redis's SENTINEL_SIMFAILURE_* flags.
pub const SIMFAILURE_CRASH_AFTER_ELECTION: u64 = 1 << 0;
pub const SIMFAILURE_CRASH_AFTER_PROMOTION: u64 = 1 << 1;

fn text(b: &Bytes) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// `getLongLongFromObject`: the whole string must be a 64-bit integer.
fn parse_ll(b: &[u8]) -> Option<i64> {
    let s = std::str::from_utf8(b).ok()?;
    if s.is_empty() || s.starts_with('+') || (s.len() > 1 && s.starts_with('0')) {
        return None;
    }
    if s.starts_with("-0") {
        return None;
    }
    s.parse().ok()
}

const NOT_INTEGER: &str = "ERR value is not an integer or out of range";

impl Sentinel {
    /// `SENTINEL <subcommand> ...`.
    pub fn command(&mut self, argv: &[Bytes], now: i64, out: &mut ReplyBuf) {
        let Some(sub) = argv.get(1) else {
            out.error("ERR wrong number of arguments for 'sentinel' command");
            return;
        };
        let sub_lc = text(sub).to_ascii_lowercase();
        let argc = argv.len();
        let numargs = |out: &mut ReplyBuf| {
            out.error(&format!(
                "ERR Wrong number of arguments for 'sentinel {}'",
                text(sub)
            ))
        };
        match sub_lc.as_str() {
            "help" if argc == 2 => {
                out.array_len(HELP.len());
                for l in HELP {
                    out.simple(l);
                }
            }
            "masters" => {
                if argc != 2 {
                    return numargs(out);
                }
                out.array_len(self.masters.len());
                for m in &self.masters {
                    self.reply_instance(out, &m.inst, Some(m), now);
                }
            }
            "master" | "replicas" | "slaves" | "sentinels" => {
                if argc != 3 {
                    return numargs(out);
                }
                let Some(m) = self.master_or_error(&argv[2], out) else {
                    return;
                };
                match sub_lc.as_str() {
                    "master" => self.reply_instance(out, &m.inst, Some(m), now),
                    "sentinels" => {
                        out.array_len(m.sentinels.len());
                        for s in &m.sentinels {
                            self.reply_instance(out, s, None, now);
                        }
                    }
                    _ => {
                        out.array_len(m.replicas.len());
                        for r in &m.replicas {
                            self.reply_instance(out, r, None, now);
                        }
                    }
                }
            }
            "myid" if argc == 2 => out.bulk(self.myid.as_bytes()),
            "is-master-down-by-addr" => {
                if argc != 6 {
                    return numargs(out);
                }
                self.is_master_down_by_addr(argv, now, out);
            }
            "reset" => {
                if argc != 3 {
                    return numargs(out);
                }
                let pattern = argv[2].clone();
                let mut n = 0;
                for mi in 0..self.masters.len() {
                    let name = self.masters[mi].inst.name.clone();
                    if redoubt_keyspace::glob::glob_match(&pattern, name.as_bytes(), false) {
                        self.reset_master(mi, true, true, now);
                        n += 1;
                    }
                }
                out.int(n);
            }
            "get-master-addr-by-name" => {
                if argc != 3 {
                    return numargs(out);
                }
                match self.master(&text(&argv[2])) {
                    None => out.null_array(),
                    Some(m) => {
                        let (ip, port) = self.current_master_addr(m);
                        out.array_len(2);
                        out.bulk(self.announce_addr(ip).as_bytes());
                        out.bulk_int(port);
                    }
                }
            }
            "pending-scripts" => {
                if argc != 2 {
                    return numargs(out);
                }
                self.pending_scripts_reply(now, out);
            }
            "monitor" => {
                if argc != 6 {
                    return numargs(out);
                }
                self.monitor_command(argv, now, out);
            }
            "flushconfig" => {
                if argc != 2 {
                    return numargs(out);
                }
                self.flush_config();
                out.ok();
            }
            "remove" => {
                if argc != 3 {
                    return numargs(out);
                }
                let Some(mi) = self.master_index(&text(&argv[2])) else {
                    out.error("ERR No such master with that name");
                    return;
                };
                self.master_event(Level::Warning, "-monitor", mi, "");
                let mut m = self.masters.remove(mi);
                let mut ids = m.inst.link.take_all();
                for i in m.replicas.iter_mut().chain(m.sentinels.iter_mut()) {
                    ids.extend(i.link.take_all());
                }
                self.close_link_ids(ids);
                self.flush_config();
                out.ok();
            }
            "ckquorum" => {
                if argc != 3 {
                    return numargs(out);
                }
                let Some(m) = self.master_or_error(&argv[2], out) else {
                    return;
                };
                let (usable, noquorum, noauth) = quorum_reachable(m);
                if !noquorum && !noauth {
                    out.simple(&format!(
                        "OK {usable} usable Sentinels. Quorum and failover authorization can be reached"
                    ));
                } else {
                    let mut e = format!("NOQUORUM {usable} usable Sentinels. ");
                    if noquorum {
                        e.push_str("Not enough available Sentinels to reach the specified quorum for this master");
                    }
                    if noauth {
                        if noquorum {
                            e.push_str(". ");
                        }
                        e.push_str("Not enough available Sentinels to reach the majority and authorize a failover");
                    }
                    out.error(&e);
                }
            }
            "set" => {
                if argc < 3 {
                    return numargs(out);
                }
                self.set_command(argv, out);
            }
            "config" => {
                if argc < 3 {
                    return numargs(out);
                }
                let op = text(&argv[2]).to_ascii_lowercase();
                if op == "set" && argc == 5 {
                    self.config_set(argv, out);
                } else if op == "get" && argc == 4 {
                    self.config_get(&argv[3], out);
                } else {
                    out.error("ERR Only SENTINEL CONFIG GET <option> / SET <option> <value> are supported.");
                }
            }
            "info-cache" => self.info_cache(argv, now, out),
            "simulate-failure" => {
                self.simfailure_flags = 0;
                let mut help = false;
                for a in &argv[2..] {
                    match text(a).to_ascii_lowercase().as_str() {
                        "crash-after-election" => {
                            self.simfailure_flags |= SIMFAILURE_CRASH_AFTER_ELECTION;
                            self.log(Level::Warning, "Failure simulation: this Sentinel will crash after being successfully elected as failover leader".into());
                        }
                        "crash-after-promotion" => {
                            self.simfailure_flags |= SIMFAILURE_CRASH_AFTER_PROMOTION;
                            self.log(Level::Warning, "Failure simulation: this Sentinel will crash after promoting the selected replica to master".into());
                        }
                        "help" => {
                            out.array_len(2);
                            out.bulk(b"crash-after-election");
                            out.bulk(b"crash-after-promotion");
                            help = true;
                        }
                        _ => {
                            out.error("ERR Unknown failure simulation specified");
                            return;
                        }
                    }
                }
                // Redis replies +OK even after HELP's array (two replies to one command);
                // keep the stream well formed with one reply instead.
                if !help {
                    out.ok();
                }
            }
            "debug" => self.debug_command(argv, out),
            "failover" => {
                if argc != 3 {
                    return numargs(out);
                }
                let Some(mi) = self.master_index(&text(&argv[2])) else {
                    out.error("ERR No such master with that name");
                    return;
                };
                match self.failover_command(mi, now) {
                    Ok(()) => out.ok(),
                    Err(e) => out.raw(format!("{e}\r\n").as_bytes()),
                }
            }
            _ => out.error(&format!(
                "ERR unknown subcommand or wrong number of arguments for '{}'. Try SENTINEL HELP.",
                text(sub)
            )),
        }
    }

    fn master_or_error(&self, name: &Bytes, out: &mut ReplyBuf) -> Option<&Master> {
        let m = self.master(&text(name));
        if m.is_none() {
            out.error("ERR No such master with that name");
        }
        m
    }

    /// `addReplySentinelRedisInstance`.
    fn reply_instance(&self, out: &mut ReplyBuf, ri: &Instance, m: Option<&Master>, now: i64) {
        let at = out.begin_deferred();
        let mut n = 0;
        let mut field = |out: &mut ReplyBuf, k: &str| {
            out.bulk(k.as_bytes());
            n += 1;
        };
        field(out, "name");
        out.bulk(ri.name.as_bytes());
        field(out, "ip");
        out.bulk(self.announce_addr(&ri.ip).as_bytes());
        field(out, "port");
        out.bulk_int(ri.port);
        field(out, "runid");
        out.bulk(ri.runid.as_deref().unwrap_or("").as_bytes());
        field(out, "flags");
        let mut fl = Vec::new();
        if ri.has(flags::S_DOWN) {
            fl.push("s_down");
        }
        if ri.has(flags::O_DOWN) {
            fl.push("o_down");
        }
        fl.push(ri.type_str());
        if ri.link.disconnected {
            fl.push("disconnected");
        }
        if ri.has(flags::MASTER_DOWN) {
            fl.push("master_down");
        }
        if ri.has(flags::FAILOVER_IN_PROGRESS) {
            fl.push("failover_in_progress");
        }
        if ri.has(flags::PROMOTED) {
            fl.push("promoted");
        }
        if ri.has(flags::RECONF_SENT) {
            fl.push("reconf_sent");
        }
        if ri.has(flags::RECONF_INPROG) {
            fl.push("reconf_inprog");
        }
        if ri.has(flags::RECONF_DONE) {
            fl.push("reconf_done");
        }
        if ri.has(flags::FORCE_FAILOVER) {
            fl.push("force_failover");
        }
        if ri.has(flags::SCRIPT_KILL_SENT) {
            fl.push("script_kill_sent");
        }
        out.bulk(fl.join(",").as_bytes());
        field(out, "link-pending-commands");
        out.bulk_int(i64::from(ri.link.pending_commands));
        field(out, "link-refcount");
        out.bulk_int(1);
        if let Some(m) = m.filter(|_| ri.has(flags::FAILOVER_IN_PROGRESS)) {
            field(out, "failover-state");
            out.bulk(failover_state_str(m.failover_state).as_bytes());
        }
        field(out, "last-ping-sent");
        out.bulk_int(if ri.link.act_ping_time != 0 {
            now - ri.link.act_ping_time
        } else {
            0
        });
        field(out, "last-ok-ping-reply");
        out.bulk_int(now - ri.link.last_avail_time);
        field(out, "last-ping-reply");
        out.bulk_int(now - ri.link.last_pong_time);
        if ri.has(flags::S_DOWN) {
            field(out, "s-down-time");
            out.bulk_int(now - ri.s_down_since_time);
        }
        if ri.has(flags::O_DOWN) {
            field(out, "o-down-time");
            out.bulk_int(now - ri.o_down_since_time);
        }
        field(out, "down-after-milliseconds");
        out.bulk_int(ri.down_after_period);
        if ri.role != Role::Sentinel {
            field(out, "info-refresh");
            out.bulk_int(now - ri.info_refresh);
            field(out, "role-reported");
            out.bulk(if ri.role_reported == Some(Role::Master) {
                b"master"
            } else {
                b"slave"
            });
            field(out, "role-reported-time");
            out.bulk_int(now - ri.role_reported_time);
        }
        if let (Role::Master, Some(m)) = (ri.role, m) {
            field(out, "config-epoch");
            out.bulk_int(m.config_epoch as i64);
            field(out, "num-slaves");
            out.bulk_int(m.replicas.len() as i64);
            field(out, "num-other-sentinels");
            out.bulk_int(m.sentinels.len() as i64);
            field(out, "quorum");
            out.bulk_int(m.quorum);
            field(out, "failover-timeout");
            out.bulk_int(m.failover_timeout);
            field(out, "parallel-syncs");
            out.bulk_int(m.parallel_syncs);
            if let Some(s) = &m.notification_script {
                field(out, "notification-script");
                out.bulk(s.as_bytes());
            }
            if let Some(s) = &m.client_reconfig_script {
                field(out, "client-reconfig-script");
                out.bulk(s.as_bytes());
            }
        }
        if ri.role == Role::Replica {
            field(out, "master-link-down-time");
            out.bulk_int(ri.master_link_down_time);
            field(out, "master-link-status");
            out.bulk(if ri.slave_master_link_up {
                b"ok"
            } else {
                b"err"
            });
            field(out, "master-host");
            out.bulk(ri.slave_master_host.as_deref().unwrap_or("?").as_bytes());
            field(out, "master-port");
            out.bulk_int(ri.slave_master_port);
            field(out, "slave-priority");
            out.bulk_int(ri.slave_priority);
            field(out, "slave-repl-offset");
            out.bulk_int(ri.slave_repl_offset as i64);
            field(out, "replica-announced");
            out.bulk_int(i64::from(ri.replica_announced));
        }
        if ri.role == Role::Sentinel {
            field(out, "last-hello-message");
            out.bulk_int(now - ri.last_hello_time);
            field(out, "voted-leader");
            out.bulk(ri.leader.as_deref().unwrap_or("?").as_bytes());
            field(out, "voted-leader-epoch");
            out.bulk_int(ri.leader_epoch as i64);
        }
        out.end_deferred_map(at, n);
    }

    fn is_master_down_by_addr(&mut self, argv: &[Bytes], now: i64, out: &mut ReplyBuf) {
        let (Some(port), Some(req_epoch)) = (parse_ll(&argv[3]), parse_ll(&argv[4])) else {
            out.error(NOT_INTEGER);
            return;
        };
        let ip = text(&argv[2]);
        let mi = self
            .masters
            .iter()
            .position(|m| m.inst.port == port && m.inst.ip.eq_ignore_ascii_case(&ip));
        let isdown = !self.tilt && mi.is_some_and(|mi| self.masters[mi].inst.has(flags::S_DOWN));
        let runid = text(&argv[5]);
        let (mut leader, mut leader_epoch) = (None, 0);
        if let Some(mi) = mi {
            if runid != "*" {
                (leader, leader_epoch) = self.vote_leader(mi, req_epoch as u64, &runid, now);
            }
        }
        out.array_len(3);
        out.int(i64::from(isdown));
        out.bulk(leader.as_deref().unwrap_or("*").as_bytes());
        out.int(leader_epoch as i64);
    }

    fn monitor_command(&mut self, argv: &[Bytes], now: i64, out: &mut ReplyBuf) {
        let Some(quorum) = parse_ll(&argv[5]) else {
            out.error("ERR Invalid quorum");
            return;
        };
        let Some(port) = parse_ll(&argv[4]) else {
            out.error("ERR Invalid port");
            return;
        };
        if quorum <= 0 {
            out.error("ERR Quorum must be 1 or greater.");
            return;
        }
        let ip = text(&argv[3]);
        if !self.globals.resolve_hostnames && !crate::config::is_ip(&ip) {
            out.error("ERR Invalid IP address or hostname specified");
            return;
        }
        match self.create_master(&text(&argv[2]), &ip, port, quorum, now) {
            Err(e) => out.error(&format!("ERR {e}")),
            Ok(mi) => {
                self.flush_config();
                self.master_event(Level::Warning, "+monitor", mi, &format!(" quorum {quorum}"));
                out.ok();
            }
        }
    }

    /// `sentinelSetCommand`: options are applied in order; the first bad one stops with an
    /// error, the ones before it stay applied (and flushed), as in Redis.
    fn set_command(&mut self, argv: &[Bytes], out: &mut ReplyBuf) {
        let Some(mi) = self.master_index(&text(&argv[2])) else {
            out.error("ERR No such master with that name");
            return;
        };
        let mut changes = 0;
        let mut j = 3;
        let argc = argv.len();
        while j < argc {
            let moreargs = argc - 1 - j;
            let option = text(&argv[j]);
            let lc = option.to_ascii_lowercase();
            let old_j = j;
            let positive = |b: &Bytes| parse_ll(b).filter(|v| *v > 0);
            let badfmt = |out: &mut ReplyBuf, at: usize| {
                out.error(&format!(
                    "ERR Invalid argument '{}' for SENTINEL SET '{option}'",
                    text(&argv[at])
                ))
            };
            match lc.as_str() {
                "down-after-milliseconds" | "failover-timeout" | "parallel-syncs" | "quorum"
                    if moreargs > 0 =>
                {
                    j += 1;
                    let Some(v) = positive(&argv[j]) else {
                        badfmt(out, j);
                        break;
                    };
                    let m = &mut self.masters[mi];
                    match lc.as_str() {
                        "down-after-milliseconds" => {
                            m.inst.down_after_period = v;
                            self.propagate_down_after(mi);
                        }
                        "failover-timeout" => m.failover_timeout = v,
                        "parallel-syncs" => m.parallel_syncs = v,
                        _ => m.quorum = v,
                    }
                }
                // Redoubt only (crate::safe).
                "safe-failover" if moreargs > 0 => {
                    j += 1;
                    let v = text(&argv[j]);
                    let on = if v.eq_ignore_ascii_case("yes") {
                        true
                    } else if v.eq_ignore_ascii_case("no") {
                        false
                    } else {
                        badfmt(out, j);
                        break;
                    };
                    self.masters[mi].safe_failover = on;
                }
                "master-reboot-down-after-period" if moreargs > 0 => {
                    j += 1;
                    let Some(v) = parse_ll(&argv[j]).filter(|v| *v >= 0) else {
                        badfmt(out, j);
                        break;
                    };
                    self.masters[mi].master_reboot_down_after_period = v;
                }
                "notification-script" | "client-reconfig-script" if moreargs > 0 => {
                    j += 1;
                    let value = text(&argv[j]);
                    if self.globals.deny_scripts_reconfig {
                        out.error("ERR Reconfiguration of scripts path is denied for security reasons. Check the deny-scripts-reconfig configuration directive in your Sentinel configuration");
                        break;
                    }
                    if !value.is_empty() && !crate::config::is_executable(&value) {
                        out.error(if lc == "notification-script" {
                            "ERR Notification script seems non existing or non executable"
                        } else {
                            "ERR Client reconfiguration script seems non existing or non executable"
                        });
                        break;
                    }
                    let v = (!value.is_empty()).then_some(value);
                    if lc == "notification-script" {
                        self.masters[mi].notification_script = v;
                    } else {
                        self.masters[mi].client_reconfig_script = v;
                    }
                }
                "auth-pass" | "auth-user" if moreargs > 0 => {
                    j += 1;
                    let value = text(&argv[j]);
                    let v = (!value.is_empty()).then_some(value);
                    if lc == "auth-pass" {
                        self.masters[mi].auth_pass = v;
                    } else {
                        self.masters[mi].auth_user = v;
                    }
                }
                "rename-command" if moreargs > 1 => {
                    let (old, new) = (text(&argv[j + 1]), text(&argv[j + 2]));
                    j += 2;
                    if old.is_empty() || new.is_empty() {
                        badfmt(out, if new.is_empty() { j } else { j - 1 });
                        break;
                    }
                    let m = &mut self.masters[mi];
                    m.renamed_commands
                        .retain(|(o, _)| !o.eq_ignore_ascii_case(&old));
                    if !old.eq_ignore_ascii_case(&new) {
                        m.renamed_commands.push((old, new));
                    }
                }
                _ => {
                    out.error(&format!(
                        "ERR Unknown option or number of arguments for SENTINEL SET '{option}'"
                    ));
                    break;
                }
            }
            changes += 1;
            let mut words: Vec<String> = argv[old_j..=j].iter().map(text).collect();
            // The password never reaches the log or the event channel.
            if lc == "auth-pass" {
                words[1] = "******".into();
            }
            self.master_event(Level::Warning, "+set", mi, &format!(" {}", words.join(" ")));
            j += 1;
        }
        if changes > 0 {
            self.flush_config();
        }
        if j >= argc {
            out.ok();
        }
    }

    /// `sentinelConfigSetCommand`.
    fn config_set(&mut self, argv: &[Bytes], out: &mut ReplyBuf) {
        let opt = text(&argv[3]);
        let val = text(&argv[4]);
        let g = &mut self.globals;
        let yn = |v: &str| {
            if v.eq_ignore_ascii_case("yes") {
                Some(true)
            } else if v.eq_ignore_ascii_case("no") {
                Some(false)
            } else {
                None
            }
        };
        let mut drop_conns = false;
        let ok = match opt.to_ascii_lowercase().as_str() {
            "resolve-hostnames" => yn(&val).map(|v| g.resolve_hostnames = v).is_some(),
            "announce-hostnames" => yn(&val).map(|v| g.announce_hostnames = v).is_some(),
            "announce-ip" => {
                g.announce_ip = Some(val.clone());
                true
            }
            "announce-port" => match parse_ll(&argv[4]).filter(|p| (0..=65535).contains(p)) {
                Some(p) => {
                    g.announce_port = p;
                    true
                }
                None => false,
            },
            "sentinel-user" => {
                g.sentinel_auth_user = Some(val.clone());
                drop_conns = true;
                true
            }
            "sentinel-pass" => {
                g.sentinel_auth_pass = Some(val.clone());
                drop_conns = true;
                true
            }
            _ => {
                out.error(&format!(
                    "ERR Invalid argument '{opt}' to SENTINEL CONFIG SET"
                ));
                return;
            }
        };
        if !ok {
            out.error(&format!(
                "ERR Invalid value '{val}' to SENTINEL CONFIG SET '{opt}'"
            ));
            return;
        }
        self.flush_config();
        out.ok();
        if drop_conns {
            let mut ids = Vec::new();
            for m in self.masters.iter_mut() {
                for s in m.sentinels.iter_mut() {
                    ids.extend(s.link.take_all());
                }
            }
            self.close_link_ids(ids);
        }
    }

    /// `sentinelConfigGetCommand`.
    fn config_get(&self, pattern: &[u8], out: &mut ReplyBuf) {
        let g = &self.globals;
        let yn = |b: bool| if b { "yes" } else { "no" }.to_string();
        let items = [
            ("resolve-hostnames", yn(g.resolve_hostnames)),
            ("announce-hostnames", yn(g.announce_hostnames)),
            ("announce-ip", g.announce_ip.clone().unwrap_or_default()),
            ("announce-port", g.announce_port.to_string()),
            (
                "sentinel-user",
                g.sentinel_auth_user.clone().unwrap_or_default(),
            ),
            (
                "sentinel-pass",
                g.sentinel_auth_pass.clone().unwrap_or_default(),
            ),
        ];
        let matched: Vec<_> = items
            .iter()
            .filter(|(k, _)| redoubt_keyspace::glob::glob_match(pattern, k.as_bytes(), true))
            .collect();
        out.map_len(matched.len());
        for (k, v) in matched {
            out.bulk(k.as_bytes());
            out.bulk(v.as_bytes());
        }
    }

    fn info_cache(&self, argv: &[Bytes], now: i64, out: &mut ReplyBuf) {
        let chosen: Vec<&Master> = if argv.len() > 2 {
            let mut v: Vec<&Master> = Vec::new();
            for a in &argv[2..] {
                if let Some(m) = self.master(&text(a)) {
                    if !v.iter().any(|x| x.inst.name == m.inst.name) {
                        v.push(m);
                    }
                }
            }
            v
        } else {
            self.masters.iter().collect()
        };
        out.array_len(chosen.len() * 2);
        for m in chosen {
            out.bulk(m.inst.name.as_bytes());
            out.array_len(m.replicas.len() + 1);
            for i in std::iter::once(&m.inst).chain(m.replicas.iter()) {
                out.array_len(2);
                out.int(now - i.info_refresh);
                match &i.info {
                    Some(s) => out.bulk(s.as_bytes()),
                    None => out.null(),
                }
            }
        }
    }

    fn debug_command(&mut self, argv: &[Bytes], out: &mut ReplyBuf) {
        if argv.len() == 2 {
            let t = &self.timing;
            let items = [
                ("INFO-PERIOD", t.info_period),
                ("PING-PERIOD", t.ping_period),
                ("ASK-PERIOD", t.ask_period),
                ("PUBLISH-PERIOD", t.publish_period),
                ("DEFAULT-DOWN-AFTER", t.default_down_after),
                ("DEFAULT-FAILOVER-TIMEOUT", t.default_failover_timeout),
                ("TILT-TRIGGER", t.tilt_trigger),
                ("TILT-PERIOD", t.tilt_period),
                ("SLAVE-RECONF-TIMEOUT", t.slave_reconf_timeout),
                ("MIN-LINK-RECONNECT-PERIOD", t.min_link_reconnect_period),
                ("ELECTION-TIMEOUT", t.election_timeout),
                ("SCRIPT-MAX-RUNTIME", t.script_max_runtime),
                ("SCRIPT-RETRY-DELAY", t.script_retry_delay),
            ];
            out.map_len(items.len());
            for (k, v) in items {
                out.bulk(k.as_bytes());
                out.bulk_int(v);
            }
            return;
        }
        let mut j = 2;
        while j < argv.len() {
            let option = text(&argv[j]);
            let moreargs = argv.len() - 1 - j;
            let t = &mut self.timing;
            let slot = match option.to_ascii_lowercase().as_str() {
                "info-period" => &mut t.info_period,
                "ping-period" => &mut t.ping_period,
                "ask-period" => &mut t.ask_period,
                "publish-period" => &mut t.publish_period,
                "default-down-after" => &mut t.default_down_after,
                "default-failover-timeout" => &mut t.default_failover_timeout,
                "tilt-trigger" => &mut t.tilt_trigger,
                "tilt-period" => &mut t.tilt_period,
                "slave-reconf-timeout" => &mut t.slave_reconf_timeout,
                "min-link-reconnect-period" => &mut t.min_link_reconnect_period,
                "election-timeout" => &mut t.election_timeout,
                "script-max-runtime" => &mut t.script_max_runtime,
                "script-retry-delay" => &mut t.script_retry_delay,
                _ => {
                    out.error(&format!(
                        "ERR Unknown option or number of arguments for SENTINEL DEBUG '{option}'"
                    ));
                    return;
                }
            };
            if moreargs == 0 {
                out.error(&format!(
                    "ERR Unknown option or number of arguments for SENTINEL DEBUG '{option}'"
                ));
                return;
            }
            j += 1;
            match parse_ll(&argv[j]).filter(|v| *v > 0) {
                Some(v) => *slot = v,
                None => {
                    out.error(&format!(
                        "ERR Invalid argument '{}' for SENTINEL DEBUG '{option}'",
                        text(&argv[j])
                    ));
                    return;
                }
            }
            j += 1;
        }
        out.ok();
    }

    /// The `# Sentinel` INFO section (`sentinelInfoCommand`), lines ending in CRLF.
    pub fn info_section(&self, now: i64) -> String {
        let tilt_since = if self.tilt {
            (now - self.tilt_start_time) / 1000
        } else {
            -1
        };
        let mut s = format!(
            "# Sentinel\r\nsentinel_masters:{}\r\nsentinel_tilt:{}\r\nsentinel_tilt_since_seconds:{}\r\nsentinel_running_scripts:{}\r\nsentinel_scripts_queue_length:{}\r\nsentinel_simulate_failure_flags:{}\r\n",
            self.masters.len(),
            i32::from(self.tilt),
            tilt_since,
            self.running_scripts(),
            self.scripts.len(),
            self.simfailure_flags
        );
        for (i, m) in self.masters.iter().enumerate() {
            let status = if m.inst.has(flags::O_DOWN) {
                "odown"
            } else if m.inst.has(flags::S_DOWN) {
                "sdown"
            } else {
                "ok"
            };
            s.push_str(&format!(
                "master{i}:name={},status={status},address={}:{},slaves={},sentinels={}\r\n",
                m.inst.name,
                self.announce_addr(&m.inst.ip),
                m.inst.port,
                m.replicas.len(),
                m.sentinels.len() + 1
            ));
        }
        s
    }

    /// `sentinelGenerateInitialMonitorEvents`: `+monitor` for every configured master.
    pub fn initial_monitor_events(&mut self) {
        for mi in 0..self.masters.len() {
            let q = self.masters[mi].quorum;
            self.master_event(Level::Warning, "+monitor", mi, &format!(" quorum {q}"));
        }
    }

    /// ROLE in sentinel mode: `sentinel` and the monitored master names.
    pub fn role_reply(&self, out: &mut ReplyBuf) {
        out.array_len(2);
        out.bulk(b"sentinel");
        out.array_len(self.masters.len());
        for m in &self.masters {
            out.bulk(m.inst.name.as_bytes());
        }
    }

    /// PUBLISH in sentinel mode: only hellos, which are processed as if received.
    pub fn publish_command(&mut self, argv: &[Bytes], now: i64, out: &mut ReplyBuf) {
        if argv.len() < 3 || &argv[1][..] != HELLO_CHANNEL.as_bytes() {
            out.error("ERR Only HELLO messages are accepted by Sentinel instances.");
            return;
        }
        self.process_hello(&argv[2], now);
        out.int(1);
    }

    /// Used by tests and the driver: the sentinel's view of one instance by address.
    pub fn find_replica(&self, master: &str, ip: &str, port: i64) -> Option<&Instance> {
        let m = self.master(master)?;
        m.replica_index(ip, port).map(|i| &m.replicas[i])
    }
}

/// `sentinelIsQuorumReachable`: (usable, no quorum, no majority).
fn quorum_reachable(m: &Master) -> (i64, bool, bool) {
    let voters = m.sentinels.len() as i64 + 1;
    let usable = 1 + m
        .sentinels
        .iter()
        .filter(|s| !s.has(flags::S_DOWN | flags::O_DOWN))
        .count() as i64;
    (usable, usable < m.quorum, usable < voters / 2 + 1)
}

fn failover_state_str(s: u8) -> &'static str {
    match s {
        0 => "none",
        1 => "wait_start",
        2 => "select_slave",
        3 => "send_slaveof_noone",
        4 => "wait_promotion",
        5 => "reconf_slaves",
        6 => "update_config",
        _ => "unknown",
    }
}
