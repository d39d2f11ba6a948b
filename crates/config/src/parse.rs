//! Loading `redis.conf` text: `loadServerConfigFromString` from Redis 7.0.15's `config.c`.
//!
//! The text is split on `\n`; each line is trimmed of spaces, tabs, CR and LF; lines starting
//! with `#` and blank lines are skipped; the rest is tokenized by `sdssplitargs`
//! ([`redoubt_resp::split_args`]) and its first word lower-cased. Then, in Redis's order:
//! a table directive (exactly one argument unless it takes several); a deprecated one that is
//! ignored; `include`, `rename-command`, `user`, `loadmodule`; a module option (a dot in the
//! name); `sentinel`. Anything else is "Bad directive or wrong number of arguments". The
//! first error stops the load with Redis's FATAL report.
//!
//! Side effects Redis performs while loading (reading an included file, `chdir` for `dir`,
//! checking the command table for `rename-command`, the ACL parser for `user`, opening the
//! log file) go through [`LoadEnv`], so parsing itself stays pure and testable.

use redoubt_resp::split_args;

use crate::cnum::{cstr, eq_nocase, trim};
use crate::table::{self, Kind, Special};
use crate::values::{Config, Origin, SentinelLine, Value, HZ_RANGE};

/// The version Redoubt reports in the FATAL banner, as Redis prints `REDIS_VERSION` there.
pub const REDIS_VERSION: &str = "7.0.15";

/// `include` lines nested deeper than this fail; Redis recurses until its stack runs out.
pub const MAX_INCLUDE_DEPTH: usize = 32;

/// Why a configuration could not be loaded. `Display` gives exactly what Redis 7.0.15 writes:
/// for [`LoadError::Line`] and [`LoadError::Global`], the block it prints to stderr before
/// `exit(1)` (leading and trailing newlines included, so print it with `eprint!`); for
/// [`LoadError::OpenFile`], the message Redis logs at warning level before `exit(1)`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LoadError {
    #[error(
        "\n*** FATAL CONFIG FILE ERROR (Redis {REDIS_VERSION}) ***\n\
         Reading the configuration file, at line {line_no}\n>>> '{}'\n{msg}\n",
        String::from_utf8_lossy(line)
    )]
    Line {
        /// The file (or "(command line)") the text came from; not part of Redis's report.
        origin: String,
        /// 1-based, counted in the text being parsed (an included file counts its own).
        line_no: usize,
        /// The line after trimming, as Redis quotes it.
        line: Vec<u8>,
        msg: String,
    },
    /// A check made once all lines are read: the log file cannot be opened, or `replicaof`
    /// with `cluster-enabled`.
    #[error("\n*** FATAL CONFIG FILE ERROR (Redis {REDIS_VERSION}) ***\n{msg}\n")]
    Global { msg: String },
    /// The configuration file or an included one could not be read.
    #[error("Fatal error, can't open config file '{path}': {reason}")]
    OpenFile {
        path: String,
        /// `strerror` text, e.g. "No such file or directory".
        reason: String,
    },
}

impl LoadError {
    /// Whether Redis reports this through its logger rather than the FATAL block.
    pub fn is_log_message(&self) -> bool {
        matches!(self, LoadError::OpenFile { .. })
    }
}

/// What loading needs from the outside world. Every method has a default that keeps loading
/// pure: includes fail, `dir` is recorded as given, every command exists, every `user` line is
/// accepted, the log file opens. `crate::fsio::FsEnv` is the real one.
pub trait LoadEnv {
    /// The text of an `include`d path, resolved against the current directory. A path with
    /// `*`, `?` or `[` is a glob: the matching files, sorted, concatenated; no match is an
    /// empty text, not an error.
    fn read_include(&mut self, path: &[u8]) -> Result<Vec<u8>, LoadError> {
        Err(LoadError::OpenFile {
            path: String::from_utf8_lossy(path).into_owned(),
            reason: "includes are not read when parsing text alone".into(),
        })
    }

    /// Changes the working directory for `dir` and returns the new one as `getcwd` reports it;
    /// the error is the `strerror` text.
    fn chdir(&mut self, dir: &[u8]) -> Result<String, String> {
        Ok(String::from_utf8_lossy(dir).into_owned())
    }

    /// Whether a command of this name is in the command table (before any renames; the loader
    /// tracks renames itself). Case-insensitive, as Redis's command dict is.
    fn command_exists(&mut self, _name: &[u8]) -> bool {
        true
    }

    /// Checks a `user` line (`argv[0]` is "user"); an error names the index of the offending
    /// argument and ACL's message.
    fn check_user(&mut self, _argv: &[Vec<u8>]) -> Result<(), (usize, String)> {
        Ok(())
    }

    /// Checks that a non-empty `logfile` can be opened for appending; the error is the
    /// `strerror` text.
    fn check_logfile(&mut self, _path: &[u8]) -> Result<(), String> {
        Ok(())
    }

    /// In sentinel mode `sentinel ...` lines are kept; otherwise they are an error.
    fn sentinel_mode(&self) -> bool {
        false
    }
}

/// A [`LoadEnv`] with every default: no file system, no command table.
#[derive(Debug, Default, Clone, Copy)]
pub struct PureEnv {
    pub sentinel_mode: bool,
}

impl LoadEnv for PureEnv {
    fn sentinel_mode(&self) -> bool {
        self.sentinel_mode
    }
}

/// Parses configuration text over the defaults, without touching the file system (an
/// `include` fails with [`LoadError::OpenFile`]). `source_name` is recorded in errors.
pub fn parse_config_text(text: &[u8], source_name: &str) -> Result<Config, LoadError> {
    let mut cfg = Config::default();
    cfg.load_text(text, source_name, &mut PureEnv::default())?;
    Ok(cfg)
}

impl Config {
    /// Loads configuration text on top of the current values, as one call of Redis's
    /// `loadServerConfigFromString` (including its end-of-load checks).
    pub fn load_text(
        &mut self,
        text: &[u8],
        source_name: &str,
        env: &mut dyn LoadEnv,
    ) -> Result<(), LoadError> {
        self.load_inner(text, source_name, env, 0)
    }

    fn load_inner(
        &mut self,
        text: &[u8],
        origin: &str,
        env: &mut dyn LoadEnv,
        depth: usize,
    ) -> Result<(), LoadError> {
        self.reading_file = true;
        // The text is a C string here: a NUL ends it.
        let text = cstr(text);
        let lines: Vec<&[u8]> = if text.is_empty() {
            Vec::new()
        } else {
            text.split(|&b| b == b'\n').collect()
        };
        for (i, raw) in lines.iter().enumerate() {
            let line = trim(raw);
            if line.is_empty() || line[0] == b'#' {
                continue;
            }
            let fail = |msg: String| LoadError::Line {
                origin: origin.to_owned(),
                line_no: i + 1,
                line: line.to_vec(),
                msg,
            };
            let Ok(mut argv) = split_args(line) else {
                return Err(fail("Unbalanced quotes in configuration line".into()));
            };
            if argv.is_empty() {
                continue;
            }
            argv[0].make_ascii_lowercase();
            self.load_line(&argv, i + 1, line, env, depth)
                .map_err(|e| match e {
                    LineError::Msg(msg) => fail(msg),
                    LineError::Load(err) => err,
                })?;
        }
        self.reading_file = false;
        self.finish_load(env)
    }

    fn load_line(
        &mut self,
        argv: &[Vec<u8>],
        line_no: usize,
        line: &[u8],
        env: &mut dyn LoadEnv,
        depth: usize,
    ) -> Result<(), LineError> {
        let name = argv[0].as_slice();
        if let Some(m) = table::lookup(name) {
            let dir = m.id.directive();
            if !dir.is_multi_arg() && argv.len() != 2 {
                return Err(LineError::Msg("wrong number of arguments".into()));
            }
            if dir.kind.is_special(Special::Dir) {
                // Redis chdirs right away, so later relative paths (includes, the log file)
                // resolve against the new directory.
                let cwd = env.chdir(cstr(&argv[1])).map_err(LineError::Msg)?;
                self.put(m.id, Value::Dir(cwd));
                return Ok(());
            }
            // A multi-argument directive given as one non-empty argument is split by spaces
            // (Redis 7.0: so `--save "900 1"` and `--client-output-buffer-limit "pubsub ..."`
            // work from the command line).
            if dir.is_multi_arg() && argv.len() == 2 && !argv[1].is_empty() {
                let split = split_args(&argv[1]).unwrap_or_default();
                let args: Vec<&[u8]> = split.iter().map(Vec::as_slice).collect();
                self.set_from_args(m.id, &args, Origin::File)
                    .map_err(LineError::Msg)?;
                return Ok(());
            }
            let args: Vec<&[u8]> = argv[1..].iter().map(Vec::as_slice).collect();
            self.set_from_args(m.id, &args, Origin::File)
                .map_err(LineError::Msg)?;
            return Ok(());
        }
        if argv.len() == 2
            && table::DEPRECATED
                .iter()
                .any(|d| eq_nocase(name, d.as_bytes()))
        {
            return Ok(());
        }
        match (name, argv.len()) {
            (b"include", 2) => {
                if depth >= MAX_INCLUDE_DEPTH {
                    return Err(LineError::Msg("Too many nested include directives".into()));
                }
                let text = env.read_include(&argv[1]).map_err(LineError::Load)?;
                let inner_origin = String::from_utf8_lossy(&argv[1]).into_owned();
                self.load_inner(&text, &inner_origin, env, depth + 1)
                    .map_err(LineError::Load)
            }
            (b"rename-command", 3) => self.rename_command(&argv[1], &argv[2], env),
            (b"user", n) if n >= 2 => {
                if let Err((index, msg)) = env.check_user(argv) {
                    let arg = argv
                        .get(index)
                        .map(|a| String::from_utf8_lossy(cstr(a)).into_owned());
                    return Err(LineError::Msg(format!(
                        "Error in user declaration '{}': {msg}",
                        arg.unwrap_or_default()
                    )));
                }
                self.users.push(argv[1..].to_vec());
                Ok(())
            }
            (b"loadmodule", n) if n >= 2 => {
                self.modules.push((argv[1].clone(), argv[2..].to_vec()));
                Ok(())
            }
            _ if cstr(name).contains(&b'.') => {
                if argv.len() != 2 {
                    return Err(LineError::Msg(
                        "Module config specified without value".into(),
                    ));
                }
                match self.module_configs.iter_mut().find(|(n, _)| n == name) {
                    Some(slot) => slot.1 = argv[1].clone(),
                    None => self.module_configs.push((name.to_vec(), argv[1].clone())),
                }
                Ok(())
            }
            (b"sentinel", n) => {
                // A bare `sentinel` is main()'s business (it selects sentinel mode).
                if n != 1 {
                    if !env.sentinel_mode() {
                        return Err(LineError::Msg(
                            "sentinel directive while not in sentinel mode".into(),
                        ));
                    }
                    self.sentinel_lines.push(SentinelLine {
                        args: argv[1..].to_vec(),
                        line_no,
                        line: line.to_vec(),
                    });
                }
                Ok(())
            }
            _ => Err(LineError::Msg(
                "Bad directive or wrong number of arguments".into(),
            )),
        }
    }

    /// Applies `rename-command` to the command table as Redis does: the old name must exist
    /// (after earlier renames), is removed, and the new one (unless empty) must not exist.
    fn rename_command(
        &mut self,
        from: &[u8],
        to: &[u8],
        env: &mut dyn LoadEnv,
    ) -> Result<(), LineError> {
        if !self.command_present(from, env) {
            return Err(LineError::Msg("No such command in rename-command".into()));
        }
        if !to.is_empty() && !eq_nocase(from, to) && self.command_present(to, env) {
            return Err(LineError::Msg("Target command name already exists".into()));
        }
        self.rename_commands.push((from.to_vec(), to.to_vec()));
        Ok(())
    }

    fn command_present(&self, name: &[u8], env: &mut dyn LoadEnv) -> bool {
        let mut present = env.command_exists(name);
        for (from, to) in &self.rename_commands {
            if eq_nocase(from, name) {
                present = false;
            }
            if !to.is_empty() && eq_nocase(to, name) {
                present = true;
            }
        }
        present
    }

    /// The checks at the end of every `loadServerConfigFromString`, included files too.
    fn finish_load(&mut self, env: &mut dyn LoadEnv) -> Result<(), LoadError> {
        let logfile = self.get_bytes("logfile").to_vec();
        if !logfile.is_empty() {
            env.check_logfile(&logfile)
                .map_err(|reason| LoadError::Global {
                    msg: format!("Can't open the log file: {reason}"),
                })?;
        }
        if self.get_bool("cluster-enabled") && self.replicaof().is_some() {
            return Err(LoadError::Global {
                msg: "replicaof directive not allowed in cluster mode".into(),
            });
        }
        self.clamp_hz();
        Ok(())
    }

    /// `hz` out of 1..=500 is accepted but capped (Redis's `updateHZ` and the end of load).
    pub(crate) fn clamp_hz(&mut self) {
        let id = table::must_lookup("hz");
        if let Value::Int(hz) = *self.value(id) {
            let clamped = hz.clamp(HZ_RANGE.0, HZ_RANGE.1);
            if clamped != hz {
                self.put(id, Value::Int(clamped));
            }
        }
    }
}

enum LineError {
    /// Reported against the current line.
    Msg(String),
    /// Already a complete error (from an included file).
    Load(LoadError),
}

impl Kind {
    pub(crate) fn is_special(&self, special: Special) -> bool {
        matches!(self, Kind::Special(s) if *s == special)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fatal(text: &str) -> String {
        parse_config_text(text.as_bytes(), "test.conf")
            .expect_err("must fail")
            .to_string()
    }

    fn banner(line_no: usize, line: &str, msg: &str) -> String {
        format!(
            "\n*** FATAL CONFIG FILE ERROR (Redis 7.0.15) ***\n\
             Reading the configuration file, at line {line_no}\n>>> '{line}'\n{msg}\n"
        )
    }

    #[test]
    fn fatal_reports_match_redis() {
        // Each text and report as printed by redis-server 7.0.15 for a file with that text.
        let cases: &[(&str, usize, &str, &str)] = &[
            (
                "port 1\nfoo bar\n",
                2,
                "foo bar",
                "Bad directive or wrong number of arguments",
            ),
            (
                "# c\n\n  appendonly maybe  \n",
                3,
                "appendonly maybe",
                "argument must be 'yes' or 'no'",
            ),
            (
                "port \"abc\n",
                1,
                "port \"abc",
                "Unbalanced quotes in configuration line",
            ),
            ("port 1 2\n", 1, "port 1 2", "wrong number of arguments"),
            ("save 10\n", 1, "save 10", "Invalid save parameters"),
            (
                "maxmemory -5\n",
                1,
                "maxmemory -5",
                "argument must be a memory value",
            ),
            (
                "port 99999\n",
                1,
                "port 99999",
                "argument must be between 0 and 65535 inclusive",
            ),
            (
                "maxmemory-policy nope\n",
                1,
                "maxmemory-policy nope",
                "argument(s) must be one of the following: volatile-lru, volatile-lfu, \
                 volatile-random, volatile-ttl, allkeys-lru, allkeys-lfu, allkeys-random, \
                 noeviction",
            ),
            (
                "sentinel monitor a b c\n",
                1,
                "sentinel monitor a b c",
                "sentinel directive while not in sentinel mode",
            ),
            (
                "Port 6390\nbind 127.0.0.1\nFOO\n",
                3,
                "FOO",
                "Bad directive or wrong number of arguments",
            ),
            (
                "mod.cfg\n",
                1,
                "mod.cfg",
                "Module config specified without value",
            ),
            ("slaveof a\n", 1, "slaveof a", "wrong number of arguments"),
            ("replicaof a b\n", 1, "replicaof a b", "Invalid master port"),
            (
                "user\n",
                1,
                "user",
                "Bad directive or wrong number of arguments",
            ),
            (
                "bind 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17\n",
                1,
                "bind 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17",
                "Too many bind addresses specified.",
            ),
            (
                "client-output-buffer-limit normal 1 2\n",
                1,
                "client-output-buffer-limit normal 1 2",
                "Wrong number of arguments in buffer limit configuration.",
            ),
            (
                "client-output-buffer-limit master 1 2 3\n",
                1,
                "client-output-buffer-limit master 1 2 3",
                "Invalid client class specified in buffer limit configuration.",
            ),
            (
                "client-output-buffer-limit normal 1 2 x\n",
                1,
                "client-output-buffer-limit normal 1 2 x",
                "Error in hard, soft or soft_seconds setting in buffer limit configuration.",
            ),
            (
                "notify-keyspace-events KEq\n",
                1,
                "notify-keyspace-events KEq",
                "Invalid event class character. Use 'Ag$lshzxeKEtmdn'.",
            ),
            (
                "notify-keyspace-events\n",
                1,
                "notify-keyspace-events",
                "wrong number of arguments",
            ),
            (
                "oom-score-adj-values 1 2\n",
                1,
                "oom-score-adj-values 1 2",
                "wrong number of arguments",
            ),
            (
                "oom-score-adj-values 1 2 9999\nfoo\n",
                1,
                "oom-score-adj-values 1 2 9999",
                "Invalid oom-score-adj-values, elements must be between -2000 and 2000.",
            ),
            (
                "unixsocketperm 1777\n",
                1,
                "unixsocketperm 1777",
                "argument must be between 0 and 777 inclusive",
            ),
            (
                "unixsocketperm 8\n",
                1,
                "unixsocketperm 8",
                "argument couldn't be parsed as an octal number",
            ),
            (
                "unixsocketperm -1\n",
                1,
                "unixsocketperm -1",
                "argument must be between 0 and 777 inclusive",
            ),
            (
                "socket-mark-id -1\n",
                1,
                "socket-mark-id -1",
                "argument must be between 0 and 4294967295 inclusive",
            ),
            (
                "io-threads 200\n",
                1,
                "io-threads 200",
                "argument must be between 1 and 128 inclusive",
            ),
            (
                "databases 0\n",
                1,
                "databases 0",
                "argument must be between 1 and 2147483647 inclusive",
            ),
            (
                "tcp-backlog -1\n",
                1,
                "tcp-backlog -1",
                "argument must be between 0 and 2147483647 inclusive",
            ),
            (
                "maxmemory-policy allkeys-lru volatile-lru\n",
                1,
                "maxmemory-policy allkeys-lru volatile-lru",
                "wrong number of arguments",
            ),
            (
                "include\n",
                1,
                "include",
                "Bad directive or wrong number of arguments",
            ),
            (
                "include a b\n",
                1,
                "include a b",
                "Bad directive or wrong number of arguments",
            ),
            (
                "loadmodule\n",
                1,
                "loadmodule",
                "Bad directive or wrong number of arguments",
            ),
            (
                "rename-command get\n",
                1,
                "rename-command get",
                "Bad directive or wrong number of arguments",
            ),
            (
                "list-max-ziplist-value 5 6\n",
                1,
                "list-max-ziplist-value 5 6",
                "Bad directive or wrong number of arguments",
            ),
            (
                "hz 5 # comment\n",
                1,
                "hz 5 # comment",
                "wrong number of arguments",
            ),
            (
                "\u{feff}port 1\n",
                1,
                "\u{feff}port 1",
                "Bad directive or wrong number of arguments",
            ),
        ];
        for (text, line_no, line, msg) in cases {
            assert_eq!(fatal(text), banner(*line_no, line, msg), "{text:?}");
        }
    }

    #[test]
    fn global_errors() {
        assert_eq!(
            fatal("cluster-enabled yes\nreplicaof a 1\n"),
            "\n*** FATAL CONFIG FILE ERROR (Redis 7.0.15) ***\n\
             replicaof directive not allowed in cluster mode\n"
        );
        struct NoLog;
        impl LoadEnv for NoLog {
            fn check_logfile(&mut self, _: &[u8]) -> Result<(), String> {
                Err("No such file or directory".into())
            }
        }
        let err = Config::new()
            .load_text(b"logfile /nonexistent/dir/x.log\n", "t", &mut NoLog)
            .expect_err("log file");
        assert_eq!(
            err.to_string(),
            "\n*** FATAL CONFIG FILE ERROR (Redis 7.0.15) ***\n\
             Can't open the log file: No such file or directory\n"
        );
    }

    #[test]
    fn accepted_quirks() {
        // All started a real redis-server 7.0.15.
        let cfg = parse_config_text(
            b"list-max-ziplist-entries 5\nlua-replicate-commands yes\nLIST-MAX-ZIPLIST-VALUE x\n\
              sentinel\nAPPENDONLY YES\nshutdown-on-sigint save now\nhz 100000\n\
              unixsocketperm 0777\nrepl-backlog-size 1k\n\x0b\x0c\n",
            "t",
        )
        .expect("loads");
        assert!(cfg.get_bool("appendonly"));
        assert_eq!(cfg.get_enum("shutdown-on-sigint"), "save now");
        assert_eq!(cfg.get_int("hz"), 500);
        assert_eq!(cfg.get_int("unixsocketperm"), 0o777);
        assert_eq!(
            cfg.get_value_bytes(table::must_lookup("unixsocketperm")),
            b"777"
        );
        // No 16k minimum from a file, unlike CONFIG SET.
        assert_eq!(cfg.get_int("repl-backlog-size"), 1000);
        assert_eq!(
            parse_config_text(b"hz 0\n", "t")
                .expect("loads")
                .get_int("hz"),
            1
        );
    }

    #[test]
    fn repeated_directives() {
        // Each result read back with CONFIG GET from redis-server 7.0.15.
        let get = |text: &str, name: &str| {
            let cfg = parse_config_text(text.as_bytes(), "t").expect("loads");
            String::from_utf8(cfg.get_value_bytes(table::must_lookup(name))).expect("utf8")
        };
        assert_eq!(get("save 100 1\nsave 200 2\n", "save"), "100 1 200 2");
        assert_eq!(get("save 100 1 200 2\n", "save"), "100 1 200 2");
        assert_eq!(get("save 100 1\nsave \"\"\n", "save"), "");
        assert_eq!(get("save \"\"\nsave 100 1\n", "save"), "100 1");
        assert_eq!(get("\nsave 100 1\n\nsave \"\"", "save"), "");
        assert_eq!(get("", "save"), "3600 1 300 100 60 10000");
        assert_eq!(
            get("bind 127.0.0.1 ::1\nbind 127.0.0.1\n", "bind"),
            "127.0.0.1"
        );
        assert_eq!(
            get("client-output-buffer-limit pubsub 1 2 3\nclient-output-buffer-limit normal 4 5 6\n", "client-output-buffer-limit"),
            "normal 4 5 6 slave 268435456 67108864 60 pubsub 1 2 3"
        );
        assert_eq!(
            get("maxmemory 10mb\nmaxmemory 20mb\n", "maxmemory"),
            "20971520"
        );
        assert_eq!(
            get("slave-priority 5\nreplica-priority 7\n", "slave-priority"),
            "7"
        );
    }

    #[test]
    fn save_after_include_replaces() {
        // Redis clears `reading_config_file` when an included file ends, so later `save`
        // lines each replace the list: a file with an include then "save 100 1" and
        // "save 200 2" read back "200 2" on redis-server 7.0.15.
        struct Inc;
        impl LoadEnv for Inc {
            fn read_include(&mut self, _: &[u8]) -> Result<Vec<u8>, LoadError> {
                Ok(b"maxmemory-samples 7\n".to_vec())
            }
        }
        let mut cfg = Config::new();
        cfg.load_text(b"include x.conf\nsave 100 1\nsave 200 2\n", "t", &mut Inc)
            .expect("loads");
        assert_eq!(cfg.save_points().len(), 1);
        assert_eq!(cfg.get_int("maxmemory-samples"), 7);
    }

    #[test]
    fn include_errors_use_the_included_line_numbers() {
        struct Inc;
        impl LoadEnv for Inc {
            fn read_include(&mut self, _: &[u8]) -> Result<Vec<u8>, LoadError> {
                Ok(b"port 1\nbadinc x\n".to_vec())
            }
        }
        let err = Config::new().load_text(b"# x\ninclude d/b*.conf\n", "t", &mut Inc);
        assert_eq!(
            err.expect_err("bad include").to_string(),
            banner(2, "badinc x", "Bad directive or wrong number of arguments")
        );
    }

    struct Commands;
    impl LoadEnv for Commands {
        fn command_exists(&mut self, name: &[u8]) -> bool {
            ["get", "set", "flushall"]
                .iter()
                .any(|c| eq_nocase(c.as_bytes(), name))
        }
    }

    #[test]
    fn file_only_directives_are_collected() {
        let mut cfg = Config::new();
        cfg.load_text(
            b"rename-command FLUSHALL \"\"\nrename-command get GET2\nrename-command GET2 get3\n\
              user alice on >pw ~* +@all\nloadmodule /x/m.so a b\nmod.opt 1\nmod.opt 2\n",
            "t",
            &mut Commands,
        )
        .expect("loads");
        assert_eq!(cfg.rename_commands().len(), 3);
        assert_eq!(cfg.users().len(), 1);
        assert_eq!(cfg.modules()[0].1.len(), 2);
        assert_eq!(
            cfg.module_configs(),
            &[(b"mod.opt".to_vec(), b"2".to_vec())]
        );
        let fatal_with_commands = |text: &[u8]| {
            Config::new()
                .load_text(text, "t", &mut Commands)
                .expect_err("fails")
                .to_string()
        };
        assert_eq!(
            fatal_with_commands(b"rename-command NOSUCH foo\n"),
            banner(
                1,
                "rename-command NOSUCH foo",
                "No such command in rename-command"
            )
        );
        assert!(
            fatal_with_commands(b"rename-command get x\nrename-command get y\n")
                .ends_with("No such command in rename-command\n")
        );
        assert!(fatal_with_commands(b"rename-command get set\n")
            .ends_with("Target command name already exists\n"));
        // Redis removes the old name before adding the new one, so renaming to itself works.
        Config::new()
            .load_text(b"rename-command get GET\n", "t", &mut Commands)
            .expect("loads");
        let cfg = parse_config_text(b"sentinel monitor m 127.0.0.1 6379 2\n", "t");
        assert!(cfg.is_err());
        let mut cfg = Config::new();
        cfg.load_text(
            b"sentinel monitor m 127.0.0.1 6379 2\n",
            "t",
            &mut PureEnv {
                sentinel_mode: true,
            },
        )
        .expect("sentinel mode");
        assert_eq!(cfg.sentinel_lines()[0].args.len(), 5);
    }
}
