//! Replication IDs and the master's PSYNC decision (`masterTryPartialResynchronization`).

use crate::backlog::Backlog;

pub const NULL_ID: &str = "0000000000000000000000000000000000000000";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplIds {
    pub replid: String,
    pub replid2: String,
    /// Last offset + 1 of the history named by `replid2`, -1 without one.
    pub second_repl_offset: i64,
}

impl ReplIds {
    pub fn new(replid: String) -> ReplIds {
        ReplIds {
            replid,
            replid2: NULL_ID.to_string(),
            second_repl_offset: -1,
        }
    }

    /// `shiftReplicationId`: the current history becomes the second one, valid up to
    /// `master_repl_offset`, and `new_id` names what follows.
    pub fn shift(&mut self, new_id: String, master_repl_offset: u64) {
        self.replid2 = std::mem::replace(&mut self.replid, new_id);
        self.second_repl_offset = master_repl_offset as i64 + 1;
    }

    /// `clearReplicationId2`.
    pub fn clear_second(&mut self) {
        self.replid2 = NULL_ID.to_string();
        self.second_repl_offset = -1;
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PsyncDecision {
    /// Send `+CONTINUE` and these backlog bytes.
    Continue { backlog: Vec<u8> },
    /// A full resync; `reason` is the log line (None for `PSYNC ? -1`, which is not an error).
    Full { reason: Option<String> },
}

/// The master's answer to `PSYNC replid offset` (`masterTryPartialResynchronization`).
pub fn psync_decision(
    ids: &ReplIds,
    backlog: Option<&Backlog>,
    req_replid: &str,
    req_offset: i64,
) -> PsyncDecision {
    if req_replid != ids.replid
        && (req_replid != ids.replid2 || req_offset > ids.second_repl_offset)
    {
        if req_replid == "?" {
            return PsyncDecision::Full { reason: None };
        }
        let reason = if req_replid != ids.replid2 {
            format!(
                "Partial resynchronization not accepted: Replication ID mismatch (Replica asked for '{req_replid}', my replication IDs are '{}' and '{}')",
                ids.replid, ids.replid2
            )
        } else {
            format!(
                "Partial resynchronization not accepted: Requested offset for second ID was {req_offset}, but I can reply up to {}",
                ids.second_repl_offset
            )
        };
        return PsyncDecision::Full {
            reason: Some(reason),
        };
    }
    let data = backlog.and_then(|b| u64::try_from(req_offset).ok().and_then(|o| b.copy_from(o)));
    match data {
        Some(backlog) => PsyncDecision::Continue { backlog },
        None => PsyncDecision::Full {
            reason: Some(format!(
                "Unable to partial resync with replica for lack of backlog (Replica request was: {req_offset})."
            )),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(c: char) -> String {
        std::iter::repeat_n(c, 40).collect()
    }

    #[test]
    fn decision_table() {
        let mut ids = ReplIds::new(id('a'));
        let mut b = Backlog::new(100, 0);
        b.feed(b"0123456789");
        // Same ID, offsets inside the backlog (1..=11) continue.
        assert_eq!(
            psync_decision(&ids, Some(&b), &id('a'), 5),
            PsyncDecision::Continue {
                backlog: b"456789".to_vec()
            }
        );
        assert_eq!(
            psync_decision(&ids, Some(&b), &id('a'), 11),
            PsyncDecision::Continue { backlog: vec![] }
        );
        assert!(matches!(
            psync_decision(&ids, Some(&b), &id('a'), 12),
            PsyncDecision::Full { reason: Some(_) }
        ));
        assert!(matches!(
            psync_decision(&ids, None, &id('a'), 5),
            PsyncDecision::Full { reason: Some(_) }
        ));
        assert_eq!(
            psync_decision(&ids, Some(&b), "?", -1),
            PsyncDecision::Full { reason: None }
        );
        // After a promotion the old ID is served up to the switch point only.
        ids.shift(id('b'), 10);
        assert_eq!(ids.second_repl_offset, 11);
        assert!(matches!(
            psync_decision(&ids, Some(&b), &id('a'), 11),
            PsyncDecision::Continue { .. }
        ));
        b.feed(b"xy");
        assert!(matches!(
            psync_decision(&ids, Some(&b), &id('a'), 12),
            PsyncDecision::Full { reason: Some(r) } if r.contains("Requested offset for second ID was 12")
        ));
        assert!(matches!(
            psync_decision(&ids, Some(&b), &id('c'), 5),
            PsyncDecision::Full { reason: Some(r) } if r.contains("Replication ID mismatch")
        ));
    }
}
