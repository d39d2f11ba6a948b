//! Redis's `sentinelEvent`: one event is a log line and, unless it is a debug event, a
//! message on the local pub/sub channel named after the event type.

use crate::state::{Instance, Master, Role};
use crate::{Action, Level, Sentinel};

/// The `%@` prefix: `<type> <name> <ip> <port>` and, for replicas and Sentinels,
/// ` @ <master-name> <master-ip> <master-port>`.
pub(crate) fn describe(inst: &Instance, master: Option<&Master>) -> String {
    let mut s = format!(
        "{} {} {} {}",
        inst.type_str(),
        inst.name,
        inst.ip,
        inst.port
    );
    if inst.role != Role::Master {
        if let Some(m) = master {
            s.push_str(&format!(" @ {} {} {}", m.inst.name, m.inst.ip, m.inst.port));
        }
    }
    s
}

impl Sentinel {
    /// Emits `<type> <msg>` to the log and publishes `<msg>` on channel `<type>`.
    pub(crate) fn event(&mut self, level: Level, kind: &str, msg: String) {
        self.actions.push(Action::Log {
            level,
            line: format!("{kind} {msg}"),
        });
        if level != Level::Debug {
            self.actions.push(Action::Publish {
                channel: kind.to_string(),
                message: msg,
            });
        }
    }

    /// An event about master `mi` itself, `%@` followed by `extra` (which starts with a
    /// space when not empty).
    pub(crate) fn master_event(&mut self, level: Level, kind: &str, mi: usize, extra: &str) {
        let msg = format!("{}{}", describe(&self.masters[mi].inst, None), extra);
        self.event_of(level, kind, mi, msg);
    }

    /// An event about master `mi`'s group with a free-form message; warnings also go to
    /// the master's notification script, as every `sentinelEvent` with an instance does.
    pub(crate) fn event_of(&mut self, level: Level, kind: &str, mi: usize, msg: String) {
        self.notify_script(level, mi, kind, &msg);
        self.event(level, kind, msg);
    }

    pub(crate) fn replica_event(
        &mut self,
        level: Level,
        kind: &str,
        mi: usize,
        ri: usize,
        extra: &str,
    ) {
        let m = &self.masters[mi];
        let msg = format!("{}{}", describe(&m.replicas[ri], Some(m)), extra);
        self.event_of(level, kind, mi, msg);
    }
}
