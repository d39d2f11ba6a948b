//! redoubt-cli: a command-line client that behaves as redis-cli 7.0 does, so that a machine
//! with only Redoubt installed is complete and a Redis user relearns nothing.
//!
//! Modules: `opts` (redis-cli's option parser), `conn` (one blocking connection with hiredis's
//! error texts), `render` (the TTY, raw, CSV and JSON printers), `session` (connect, AUTH,
//! SELECT, HELLO and sending one command the way `cliSendCommand` does), `modes` (--pipe,
//! --scan, --bigkeys, --memkeys, --stat, --latency, --rdb, --eval), `repl` (the interactive
//! loop). redis-cli is the specification: every text and exit code is copied from its
//! behaviour and checked by tests/golden.rs against the real binary.
//!
//! Not implemented yet (redis-cli 7.0 accepts these; we answer "Unrecognized option"): `-c`
//! and `--cluster*`, the TLS options, `--functions-rdb`, `--hotkeys`,
//! `--latency-dist`, `--intrinsic-latency`, `--lru-test`, `--ldb`, `--mono` (`--verbose` is accepted and, outside cluster mode, does nothing).
//! redis-cli 7.0 has no `--count`/`--type` for `--scan` (7.2 added them), so neither do we.

// The texts are redis-cli's printf formats, kept whole (newline included) so they can be
// compared with the C source at a glance.
#![allow(clippy::print_with_newline)]

mod conn;
mod modes;
mod opts;
mod render;
mod repl;
mod session;
mod sync;

use opts::{Exit, Options};
use std::io::{Read, Write};
use std::process::ExitCode;

/// The redis-cli version we mirror; `--version` prints it as redis-cli does, since scripts
/// parse it.
pub const VERSION: &str = "7.0.15";

fn main() -> ExitCode {
    let argv: Vec<String> = std::env::args_os()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    let mut o = match Options::parse(&argv) {
        Ok(o) => o,
        Err(Exit::Stdout(s)) => {
            print!("{s}");
            return ExitCode::SUCCESS;
        }
        Err(Exit::Stderr(s)) => {
            eprint!("{s}");
            return ExitCode::from(1);
        }
        Err(Exit::Usage) => {
            print!("{}", usage());
            return ExitCode::SUCCESS;
        }
    };
    if o.auth.is_none() {
        if let Ok(a) = std::env::var("REDISCLI_AUTH") {
            o.auth = Some(a);
        }
    }
    if o.askpass {
        o.auth = Some(repl::ask_password());
    }
    let code = run(o);
    let _ = std::io::stdout().flush();
    ExitCode::from(code)
}

fn run(o: Options) -> u8 {
    if o.latency
        || o.stat
        || o.scan
        || o.bigkeys
        || o.memkeys
        || o.rdb.is_some()
        || o.pipe
        || o.replica
    {
        let Some(s) = session::Session::connect(&o) else {
            return 1;
        };
        return modes::run(s);
    }
    if o.command.is_empty() && o.eval.is_none() {
        return repl::run(o);
    }
    if let (Some(tag), false) = (&o.stdin_tag, o.stdin_lastarg) {
        if !o.command.iter().any(|a| a == tag) {
            eprint!("Using -X option but stdin tag not match.\n");
            return 1;
        }
    }
    let Some(mut s) = session::Session::connect(&o) else {
        return 1;
    };
    if let Some(file) = &o.eval {
        return modes::eval(&mut s, file);
    }
    // HELP is answered by the client itself, from the server's COMMAND DOCS.
    if o.command[0].eq_ignore_ascii_case("help") || o.command[0] == "?" {
        let entries = repl::load_help(&mut s);
        repl::help(&entries, &o.command[1..]);
        return 0;
    }
    let mut args: Vec<Vec<u8>> = Vec::with_capacity(o.command.len() + 1);
    for a in &o.command {
        if o.quoted_input {
            match opts::unquote(a) {
                Some(v) => args.push(v),
                None => {
                    print!("Invalid quoted string\n");
                    return 1;
                }
            }
        } else {
            args.push(a.as_bytes().to_vec());
        }
    }
    if o.stdin_lastarg || o.stdin_tag.is_some() {
        let mut input = Vec::new();
        if let Err(e) = std::io::stdin().read_to_end(&mut input) {
            eprint!("Reading from standard input: {}\n", conn::os_message(&e));
            return 1;
        }
        match &o.stdin_tag {
            Some(tag) if !o.stdin_lastarg => match args.iter().position(|a| a == tag.as_bytes()) {
                Some(i) => args[i] = input,
                None => {
                    eprint!("Using -X option but stdin tag not match.\n");
                    return 1;
                }
            },
            _ => args.push(input),
        }
    }
    match s.issue(&args, o.repeat) {
        Ok(()) => 0,
        Err(code) => code,
    }
}

fn usage() -> String {
    format!(
        "redis-cli {VERSION}\n\n\
Usage: redis-cli [OPTIONS] [cmd [arg [arg ...]]]\n{}",
        include_str!("usage.txt")
    )
}
