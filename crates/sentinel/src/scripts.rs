//! Notification and client-reconfig scripts: the queue, its limits, retries and time limit
//! (Redis's `sentinelScheduleScriptExecution`, `sentinelRunPendingScripts`,
//! `sentinelCollectTerminatedScripts`, `sentinelKillTimedoutScripts`). The driver starts
//! and kills processes; the core decides when.

use crate::{Action, Level, Sentinel};
use redoubt_resp::ReplyBuf;

/// SENTINEL_SCRIPT_MAX_QUEUE, _MAX_RUNNING, _MAX_RETRY.
const MAX_QUEUE: usize = 256;
const MAX_RUNNING: usize = 16;
const MAX_RETRY: u32 = 10;

#[derive(Debug, Clone)]
pub struct ScriptJob {
    pub id: u64,
    pub argv: Vec<String>,
    pub running: bool,
    pub retry_num: u32,
    /// While running: when it started; otherwise not before this time (0: any time).
    pub start_time: i64,
    pub pid: i64,
}

impl Sentinel {
    /// `sentinelScheduleScriptExecution`.
    pub(crate) fn schedule_script(&mut self, argv: Vec<String>) {
        self.next_script += 1;
        self.scripts.push(ScriptJob {
            id: self.next_script,
            argv,
            running: false,
            retry_num: 0,
            start_time: 0,
            pid: 0,
        });
        if self.scripts.len() > MAX_QUEUE {
            if let Some(i) = self.scripts.iter().position(|j| !j.running) {
                self.scripts.remove(i);
            }
        }
    }

    /// The notification script of master `mi` for a warning-level event.
    pub(crate) fn notify_script(&mut self, level: Level, mi: usize, kind: &str, msg: &str) {
        if level != Level::Warning {
            return;
        }
        if let Some(path) = self.masters[mi].notification_script.clone() {
            self.schedule_script(vec![path, kind.to_string(), msg.to_string()]);
        }
    }

    /// `sentinelCallClientReconfScript`.
    pub(crate) fn client_reconf_script(
        &mut self,
        mi: usize,
        leader: bool,
        from: (&str, i64),
        to: (&str, i64),
    ) {
        let m = &self.masters[mi];
        let Some(path) = m.client_reconfig_script.clone() else {
            return;
        };
        let argv = vec![
            path,
            m.inst.name.clone(),
            if leader { "leader" } else { "observer" }.to_string(),
            "start".to_string(),
            from.0.to_string(),
            from.1.to_string(),
            to.0.to_string(),
            to.1.to_string(),
        ];
        self.schedule_script(argv);
    }

    pub fn running_scripts(&self) -> usize {
        self.scripts.iter().filter(|j| j.running).count()
    }

    /// `sentinelRunPendingScripts` and `sentinelKillTimedoutScripts`, from the timer.
    pub(crate) fn run_scripts(&mut self, now: i64) {
        let mut running = self.running_scripts();
        for j in self.scripts.iter_mut() {
            if running >= MAX_RUNNING {
                break;
            }
            if j.running || (j.start_time != 0 && j.start_time > now) {
                continue;
            }
            j.running = true;
            j.start_time = now;
            j.retry_num += 1;
            running += 1;
            self.actions.push(Action::RunScript {
                id: j.id,
                argv: j.argv.clone(),
            });
        }
        let max = self.timing.script_max_runtime;
        let mut timed_out = Vec::new();
        for j in &self.scripts {
            if j.running && now - j.start_time > max {
                timed_out.push((j.id, j.argv[0].clone(), j.pid));
            }
        }
        for (id, path, pid) in timed_out {
            self.event(Level::Warning, "-script-timeout", format!("{path} {pid}"));
            self.actions.push(Action::KillScript { id });
        }
    }

    /// The driver started job `id` as process `pid`.
    pub fn on_script_started(&mut self, id: u64, pid: i64) {
        if let Some(j) = self.scripts.iter_mut().find(|j| j.id == id) {
            j.pid = pid;
        }
        self.event(Level::Debug, "+script-child", pid.to_string());
    }

    /// The driver could not start job `id` (Redis's fork failure).
    pub fn on_script_spawn_failed(&mut self, id: u64) {
        if let Some(j) = self.scripts.iter_mut().find(|j| j.id == id) {
            j.running = false;
            j.pid = 0;
            let path = j.argv[0].clone();
            self.event(Level::Warning, "-script-error", format!("{path} 99 0"));
        }
    }

    /// `sentinelCollectTerminatedScripts` for one process: exit code 1 or a signal means
    /// "retry" (up to 10 runs, the delay doubling from script-retry-delay).
    pub fn on_script_exit(&mut self, id: u64, exit_code: i32, signal: i32, now: i64) {
        let Some(i) = self.scripts.iter().position(|j| j.id == id) else {
            return;
        };
        let pid = self.scripts[i].pid;
        self.event(
            Level::Debug,
            "-script-child",
            format!("{pid} {exit_code} {signal}"),
        );
        let retry_delay = self.timing.script_retry_delay;
        let j = &mut self.scripts[i];
        if (signal != 0 || exit_code == 1) && j.retry_num != MAX_RETRY {
            j.running = false;
            j.pid = 0;
            let mut delay = retry_delay;
            for _ in 1..j.retry_num {
                delay = delay.saturating_mul(2);
            }
            j.start_time = now + delay;
        } else {
            let path = j.argv[0].clone();
            self.scripts.remove(i);
            if signal != 0 || exit_code != 0 {
                self.event(
                    Level::Warning,
                    "-script-error",
                    format!("{path} {signal} {exit_code}"),
                );
            }
        }
    }

    /// `sentinelPendingScriptsCommand`.
    pub(crate) fn pending_scripts_reply(&self, now: i64, out: &mut ReplyBuf) {
        out.array_len(self.scripts.len());
        for j in &self.scripts {
            out.map_len(5);
            out.bulk(b"argv");
            out.array_len(j.argv.len());
            for a in &j.argv {
                out.bulk(a.as_bytes());
            }
            out.bulk(b"flags");
            out.bulk(if j.running {
                &b"running"[..]
            } else {
                &b"scheduled"[..]
            });
            out.bulk(b"pid");
            out.bulk_int(j.pid);
            if j.running {
                out.bulk(b"run-time");
                out.bulk_int(now - j.start_time);
            } else {
                let delay = if j.start_time != 0 {
                    (j.start_time - now).max(0)
                } else {
                    0
                };
                out.bulk(b"run-delay");
                out.bulk_int(delay);
            }
            out.bulk(b"retry-num");
            out.bulk_int(i64::from(j.retry_num));
        }
    }
}
