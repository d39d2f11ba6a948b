//! Redis's log format: `pid:role dd Mon yyyy hh:mm:ss.mmm <level> message`.
//!
//! Role letters are Redis's: `M` master, `S` replica, `C` before the role is known, `X`
//! sentinel. Level marks: `.` debug, `-` verbose, `*` notice, `#` warning. Times are UTC
//! (Redis uses local time; containers run in UTC, and we avoid reading the TZ database).

use std::cell::RefCell;
use std::fs::OpenOptions;
use std::io::Write;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    Debug,
    Verbose,
    Notice,
    Warning,
}

impl Level {
    pub fn parse(s: &str) -> Option<Level> {
        match s.to_ascii_lowercase().as_str() {
            "debug" => Some(Level::Debug),
            "verbose" => Some(Level::Verbose),
            "notice" => Some(Level::Notice),
            "warning" => Some(Level::Warning),
            _ => None,
        }
    }

    fn mark(self) -> char {
        match self {
            Level::Debug => '.',
            Level::Verbose => '-',
            Level::Notice => '*',
            Level::Warning => '#',
        }
    }
}

struct Logger {
    level: Level,
    /// Empty: stdout.
    file: String,
    role: char,
}

thread_local! {
    static LOGGER: RefCell<Logger> =
        const { RefCell::new(Logger { level: Level::Notice, file: String::new(), role: 'C' }) };
}

pub fn configure(level: Level, file: &str) {
    LOGGER.with(|l| {
        let mut l = l.borrow_mut();
        l.level = level;
        l.file = file.to_string();
    });
}

pub fn set_role(role: char) {
    LOGGER.with(|l| l.borrow_mut().role = role);
}

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
fn civil(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// `25 Nov 2026 13:09:27.306`
pub fn timestamp(unix_ms: i64) -> String {
    let secs = unix_ms.div_euclid(1000);
    let ms = unix_ms.rem_euclid(1000);
    let (y, m, d) = civil(secs.div_euclid(86_400));
    let sod = secs.rem_euclid(86_400);
    format!(
        "{:02} {} {} {:02}:{:02}:{:02}.{:03}",
        d,
        MONTHS[(m - 1) as usize],
        y,
        sod / 3600,
        (sod / 60) % 60,
        sod % 60,
        ms
    )
}

/// Microseconds on a monotonic clock since its first use: for measuring durations only.
pub fn monotonic_us() -> u64 {
    static START: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();
    START
        .get_or_init(std::time::Instant::now)
        .elapsed()
        .as_micros() as u64
}

pub fn now_us() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_micros() as i64)
        .unwrap_or(0)
}

pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

pub fn log(level: Level, msg: &str) {
    LOGGER.with(|l| {
        let l = l.borrow();
        if level < l.level {
            return;
        }
        let line = format!(
            "{}:{} {} {} {}\n",
            std::process::id(),
            l.role,
            timestamp(now_ms()),
            level.mark(),
            msg
        );
        write_line(&l.file, &line);
    });
}

/// Lines written outside the normal format (the signal handler's), as Redis does.
pub fn raw(msg: &str) {
    LOGGER.with(|l| write_line(&l.borrow().file, &format!("{msg}\n")));
}

fn write_line(file: &str, line: &str) {
    if file.is_empty() {
        let mut out = std::io::stdout().lock();
        let _ = out.write_all(line.as_bytes());
        let _ = out.flush();
    } else if let Ok(mut f) = OpenOptions::new().create(true).append(true).open(file) {
        let _ = f.write_all(line.as_bytes());
    }
}

#[macro_export]
macro_rules! notice { ($($t:tt)*) => { $crate::log::log($crate::log::Level::Notice, &format!($($t)*)) } }
#[macro_export]
macro_rules! warning { ($($t:tt)*) => { $crate::log::log($crate::log::Level::Warning, &format!($($t)*)) } }
#[macro_export]
macro_rules! verbose { ($($t:tt)*) => { $crate::log::log($crate::log::Level::Verbose, &format!($($t)*)) } }

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redis_timestamp_format() {
        // 2026-11-25 13:09:27.306 UTC
        assert_eq!(timestamp(1_795_612_167_306), "25 Nov 2026 13:09:27.306");
        assert_eq!(timestamp(0), "01 Jan 1970 00:00:00.000");
        assert_eq!(timestamp(951_782_400_000), "29 Feb 2000 00:00:00.000");
    }
}
