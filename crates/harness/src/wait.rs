//! Polling with a deadline: the only way tests wait for something to happen.

use std::time::{Duration, Instant};

/// Polls `cond` until it returns true or `deadline` has passed; returns whether it did.
///
/// The pause between polls starts at 1 ms and doubles up to 50 ms, so a fast condition costs
/// almost nothing and a slow one does not spin.
pub fn try_wait_for(deadline: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    let mut pause = Duration::from_millis(1);
    loop {
        if cond() {
            return true;
        }
        let elapsed = start.elapsed();
        if elapsed >= deadline {
            return false;
        }
        std::thread::sleep(pause.min(deadline - elapsed));
        pause = (pause * 2).min(Duration::from_millis(50));
    }
}

/// Polls `cond` until it returns true; panics naming `what` if `deadline` passes first.
#[track_caller]
pub fn wait_for(what: &str, deadline: Duration, cond: impl FnMut() -> bool) {
    if !try_wait_for(deadline, cond) {
        panic!("timed out after {deadline:?} waiting for {what}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn returns_as_soon_as_true() {
        let mut n = 0;
        assert!(try_wait_for(Duration::from_secs(5), || {
            n += 1;
            n == 3
        }));
        assert_eq!(n, 3);
    }

    #[test]
    fn gives_up_at_the_deadline() {
        let start = Instant::now();
        assert!(!try_wait_for(Duration::from_millis(30), || false));
        assert!(start.elapsed() >= Duration::from_millis(30));
    }

    #[test]
    #[should_panic(expected = "waiting for the moon")]
    fn wait_for_panics_with_context() {
        wait_for("the moon", Duration::from_millis(5), || false);
    }
}
