//! Running redis-cli (the specification) and redoubt-cli side by side.

#![allow(dead_code)]

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};

pub fn ours() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_redoubt-cli"))
}

/// `redis-cli` from PATH, or `$REDIS_CLI_BIN`; missing is a failure, never a skip.
pub fn theirs() -> PathBuf {
    if let Some(p) = std::env::var_os("REDIS_CLI_BIN") {
        return PathBuf::from(p);
    }
    let paths = std::env::var_os("PATH").expect("PATH is set");
    std::env::split_paths(&paths)
        .map(|d| d.join("redis-cli"))
        .find(|p| p.is_file())
        .expect("redis-cli 7.0 (the specification) must be installed for the golden tests")
}

#[derive(Debug, PartialEq, Eq)]
pub struct Outcome {
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
    pub status: Option<i32>,
}

/// Single-quotes a word for `sh -c`.
fn sh_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

/// Runs `bin args` with `stdin`; with `tty`, stdout and stderr are a pseudo-terminal (through
/// util-linux `script`, which merges them) so the program sees a terminal as a user's would.
pub fn run(bin: &PathBuf, args: &[&str], stdin: &[u8], tty: bool) -> Outcome {
    let mut cmd = if tty {
        let mut line = sh_quote(&bin.to_string_lossy());
        for a in args {
            line.push(' ');
            line.push_str(&sh_quote(a));
        }
        let mut c = Command::new("script");
        c.args(["-qec", &line, "/dev/null"]);
        c
    } else {
        let mut c = Command::new(bin);
        c.args(args);
        c
    };
    cmd.env_remove("REDISCLI_AUTH")
        .env("REDISCLI_HISTFILE", "/dev/null")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("spawn the client");
    if let Some(mut i) = child.stdin.take() {
        let _ = i.write_all(stdin);
    }
    let out = child.wait_with_output().expect("wait for the client");
    Outcome {
        stdout: out.stdout,
        stderr: out.stderr,
        status: out.status.code(),
    }
}

fn show(b: &[u8]) -> String {
    String::from_utf8_lossy(b).escape_debug().to_string()
}

/// Runs both clients on the same arguments; returns a description of any difference.
pub fn compare(args: &[&str], stdin: &[u8], tty: bool) -> Option<String> {
    let a = run(&theirs(), args, stdin, tty);
    let b = run(&ours(), args, stdin, tty);
    if a == b {
        return None;
    }
    Some(format!(
        "{} {:?}:\n  redis-cli:   status {:?} out \"{}\" err \"{}\"\n  redoubt-cli: status {:?} out \"{}\" err \"{}\"",
        if tty { "tty" } else { "pipe" },
        args,
        a.status,
        show(&a.stdout),
        show(&a.stderr),
        b.status,
        show(&b.stdout),
        show(&b.stderr)
    ))
}

/// Compares every case in both output settings and fails with all differences at once.
pub fn compare_all(port: u16, cases: &[&[&str]], both: bool) {
    let p = port.to_string();
    let mut problems = Vec::new();
    for case in cases {
        let mut args = vec!["-p", p.as_str()];
        args.extend_from_slice(case);
        for tty in [false, true] {
            if tty && !both {
                continue;
            }
            if let Some(d) = compare(&args, b"", tty) {
                problems.push(d);
            }
        }
    }
    assert!(
        problems.is_empty(),
        "{} differences:\n{}",
        problems.len(),
        problems.join("\n")
    );
}
