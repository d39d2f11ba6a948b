//! Differential testing: replay a script of commands against real Redis (the oracle) and
//! against the server under test, in lockstep, and compare the raw replies byte for byte.
//!
//! # Script format
//!
//! One step per line. Blank lines and lines starting with `#` are ignored.
//!
//! - **Commands** are written as in redis-cli and split with Redis's own tokenizer
//!   (`sdssplitargs`, [`redoubt_resp::split_args`]): `SET k "a b\x00c"` sends three
//!   arguments, the last one with a NUL byte. Each is sent as a RESP multibulk and its reply
//!   compared byte for byte.
//! - **Modifiers**, before the command, change how it is compared:
//!   - `~` (alone or glued, `~TIME`): compare only the shape, that is RESP types and aggregate
//!     lengths (`*2[$,$]`), for TIME, CLIENT ID, RANDOMKEY and other nondeterministic replies;
//!   - `@sorted`: compare arrays, sets and maps as multisets (KEYS, SCAN, SMEMBERS...: their
//!     order depends on hashing and differs even between two real Redis servers);
//!   - `@mask=f1,f2`: hide the values of these fields (in RESP3 maps, RESP2 key/value arrays
//!     and `k=v` text such as CLIENT INFO) and compare the rest exactly;
//!   - `@replies=N`: the command gets N replies (SUBSCRIBE a b c gets 3; 0 after CLIENT REPLY
//!     OFF);
//!   - `@if-resp2`, `@if-resp3`: run the line only when the connection speaks that protocol.
//! - **Directives**:
//!   - `@resp3`, `@resp2`: switch the current connection with HELLO 3 / HELLO 2; the HELLO
//!     reply is compared with `server`, `version` and `id` masked;
//!   - `@conn NAME`: later lines use connection NAME (opened on first use; `main` at start),
//!     for WATCH invalidated by another client or PUBLISH to a subscriber;
//!   - `@close`: closes the current connection;
//!   - `@read [N]`: reads N (default 1) replies without sending anything (messages pushed to
//!     a subscriber);
//!   - `@raw "<bytes>"`: sends the bytes as they are (escaped as in a quoted argument), then
//!     `PING diff-barrier`; compares everything the server sends up to that PING's reply. For
//!     inline commands and protocol cases that keep the connection open;
//!   - `@raw-close "<bytes>"`: sends the bytes and compares everything until the server
//!     closes the connection (protocol errors). The next line reconnects;
//!   - `@wait MS`: a fixed pause of at most 200 ms. The only pause allowed, and only for
//!     expiry tests that need a key to pass its deadline; prefer keys already expired (a
//!     PEXPIREAT in the past) when the test allows.
//! - **Headers**, before the first step: `@resp2-only` or `@resp3-only` (by default every
//!   file runs twice, once per protocol: in the RESP3 pass each new connection starts with
//!   HELLO 3), and `@config NAME VALUE` (a startup directive for both servers).
//!
//! Each script runs on a fresh pair of servers. At the end, every open connection gets RESET,
//! and a reply still unread then is reported: reply counts must be exact.
//!
//! A difference on the oracle's side (it closed when the script did not expect it, sent
//! fewer replies than `@replies` says) is a *script error*: the script is wrong, not the
//! server. `DIFF_AGAINST=redis` runs real Redis against real Redis to find those.

mod compare;
mod run;
mod script;

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};

pub use compare::render;
pub use run::{run_script, Outcome, Problem, ProblemKind, RunOptions, MAIN_CONN};
pub use script::{parse_script, Action, Compare, Script, Step, MAX_WAIT};

use crate::server::Flavor;

/// Directives every differential server starts with (on top of the harness defaults).
pub const SUITE_DIRECTIVES: &[(&str, &str)] = &[("enable-debug-command", "yes")];

/// A set of scripts to run, usually configured from the environment:
/// - `DIFF_ONLY=a.txt,b`: only these files (with or without `.txt`);
/// - `DIFF_AGAINST=redis`: compare Redis with a second Redis (a self-check of the scripts);
/// - `DIFF_PROTO=2` or `3`: only that protocol pass;
/// - `DIFF_THREADS=N`: files run in parallel (default 3);
/// - `DIFF_SHOW=N` or `all`: problems printed per file and protocol (default 40, all with
///   `DIFF_ONLY`);
/// - `DIFF_TRANSCRIPT_DIR=path`: write each run's exchanges with the oracle's replies there
///   (`<file>.resp<N>.log`), to review what a script really tests.
#[derive(Clone, Debug)]
pub struct Suite {
    pub dir: PathBuf,
    pub only: Vec<String>,
    pub subject: Flavor,
    /// The subject's binary, instead of the flavor's usual lookup.
    pub subject_binary: Option<PathBuf>,
    pub protos: Vec<u8>,
    pub threads: usize,
    pub reply_timeout: Duration,
    pub transcript_dir: Option<PathBuf>,
    /// How many problems to print per file and protocol (`None`: all).
    pub show_per_run: Option<usize>,
}

/// What a suite run found.
#[derive(Debug)]
pub struct Report {
    pub files: usize,
    pub runs: usize,
    pub compared: usize,
    pub problems: Vec<Problem>,
    pub elapsed: Duration,
    pub subject: Flavor,
    /// One entry per file and protocol pass, in file order.
    pub per_run: Vec<RunSummary>,
}

/// What one file's run in one protocol found.
#[derive(Clone, Debug)]
pub struct RunSummary {
    pub file: String,
    pub proto: u8,
    pub compared: usize,
    pub problems: usize,
}

impl Report {
    pub fn summary(&self) -> String {
        let against = match self.subject {
            Flavor::Redis => "redis-server vs redis-server (self-check)",
            Flavor::Redoubt => "redis-server vs redoubt-server",
        };
        format!(
            "differential: {} exchanges compared in {} files ({} runs), {}, {} problems, {:.1}s",
            self.compared,
            self.files,
            self.runs,
            against,
            self.problems.len(),
            self.elapsed.as_secs_f64()
        )
    }
}

impl Report {
    /// The problems (at most `max_per_run` for each file and protocol, all when `None`),
    /// then one line per run and the summary line.
    pub fn render(&self, max_per_run: Option<usize>) -> String {
        let mut out = String::new();
        let mut shown: std::collections::HashMap<(&str, u8), usize> = Default::default();
        for p in &self.problems {
            let n = shown.entry((p.file.as_str(), p.proto)).or_default();
            *n += 1;
            if max_per_run.is_none_or(|max| *n <= max) {
                out.push_str(&format!("{p}\n"));
            }
        }
        for r in &self.per_run {
            let hidden = match max_per_run {
                Some(max) if r.problems > max => {
                    format!(
                        " ({} not shown; DIFF_ONLY={} DIFF_SHOW=all)",
                        r.problems - max,
                        r.file
                    )
                }
                _ => String::new(),
            };
            out.push_str(&format!(
                "  {} RESP{}: {} compared, {} problems{hidden}\n",
                r.file, r.proto, r.compared, r.problems
            ));
        }
        out.push_str(&self.summary());
        out.push('\n');
        out
    }
}

impl Suite {
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Suite {
            dir: dir.into(),
            only: Vec::new(),
            subject: Flavor::Redoubt,
            subject_binary: None,
            protos: vec![2, 3],
            threads: 3,
            reply_timeout: Duration::from_secs(5),
            transcript_dir: None,
            show_per_run: Some(40),
        }
    }

    /// [`Suite::new`] with the `DIFF_*` environment variables applied.
    pub fn from_env(dir: impl Into<PathBuf>) -> anyhow::Result<Self> {
        let mut s = Suite::new(dir);
        if let Ok(only) = std::env::var("DIFF_ONLY") {
            s.only = only
                .split(',')
                .map(str::trim)
                .filter(|x| !x.is_empty())
                .map(String::from)
                .collect();
        }
        match std::env::var("DIFF_AGAINST").as_deref() {
            Err(_) | Ok("") | Ok("redoubt") => {}
            Ok("redis") => s.subject = Flavor::Redis,
            Ok(other) => bail!("DIFF_AGAINST={other:?}: expected redis or redoubt"),
        }
        match std::env::var("DIFF_PROTO").as_deref() {
            Err(_) | Ok("") => {}
            Ok("2") => s.protos = vec![2],
            Ok("3") => s.protos = vec![3],
            Ok(other) => bail!("DIFF_PROTO={other:?}: expected 2 or 3"),
        }
        if !s.only.is_empty() {
            s.show_per_run = None;
        }
        match std::env::var("DIFF_SHOW").as_deref() {
            Err(_) | Ok("") => {}
            Ok("all") => s.show_per_run = None,
            Ok(n) => s.show_per_run = Some(n.parse().with_context(|| format!("DIFF_SHOW={n:?}"))?),
        }
        if let Some(d) = std::env::var_os("DIFF_TRANSCRIPT_DIR") {
            s.transcript_dir = Some(d.into());
        }
        if let Ok(t) = std::env::var("DIFF_THREADS") {
            s.threads = t.parse().with_context(|| format!("DIFF_THREADS={t:?}"))?;
            if s.threads == 0 {
                bail!("DIFF_THREADS must be at least 1");
            }
        }
        Ok(s)
    }

    /// Loads the selected scripts, sorted by name. A name in `only` that matches no file is
    /// an error, as is any script that does not parse.
    pub fn load(&self) -> anyhow::Result<Vec<Script>> {
        let mut paths: Vec<PathBuf> = std::fs::read_dir(&self.dir)
            .with_context(|| format!("reading {}", self.dir.display()))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "txt"))
            .collect();
        paths.sort();
        let file_name = |p: &Path| {
            p.file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default()
        };
        if !self.only.is_empty() {
            for want in &self.only {
                if !paths.iter().any(|p| matches_name(&file_name(p), want)) {
                    bail!(
                        "DIFF_ONLY names {want:?}, which is not a script in {}",
                        self.dir.display()
                    );
                }
            }
            paths.retain(|p| self.only.iter().any(|w| matches_name(&file_name(p), w)));
        }
        if paths.is_empty() {
            bail!("no scripts (*.txt) in {}", self.dir.display());
        }
        let mut scripts = Vec::new();
        let mut errors = Vec::new();
        for p in paths {
            let text =
                std::fs::read_to_string(&p).with_context(|| format!("reading {}", p.display()))?;
            match parse_script(&file_name(&p), &text) {
                Ok(s) => scripts.push(s),
                Err(e) => errors.push(e),
            }
        }
        if !errors.is_empty() {
            bail!("scripts that do not parse:\n{}", errors.join("\n"));
        }
        Ok(scripts)
    }

    /// Runs every selected script in every pass it allows, `threads` at a time.
    pub fn run(&self) -> anyhow::Result<Report> {
        let started = Instant::now();
        // Fail loudly and once if a binary is missing, rather than once per file.
        Flavor::Redis.binary()?;
        match &self.subject_binary {
            Some(p) if !p.is_file() => {
                bail!("{} not found at {}", self.subject.name(), p.display())
            }
            Some(_) => {}
            None => {
                self.subject.binary()?;
            }
        }
        let scripts = self.load()?;
        let mut jobs: VecDeque<(usize, u8)> = VecDeque::new();
        for (i, s) in scripts.iter().enumerate() {
            for p in s.passes() {
                if self.protos.contains(&p) {
                    jobs.push_back((i, p));
                }
            }
        }
        // Longest scripts first, so the last thread to finish does not start a long one.
        jobs.make_contiguous()
            .sort_by_key(|&(i, p)| (std::cmp::Reverse(scripts[i].steps.len()), p));
        let runs = jobs.len();
        let queue = Mutex::new(jobs);
        let results = Mutex::new(Vec::new());
        std::thread::scope(|scope| {
            for _ in 0..self.threads.min(runs.max(1)) {
                scope.spawn(|| loop {
                    let job = queue.lock().expect("no panics while held").pop_front();
                    let Some((i, proto)) = job else { break };
                    let mut opts = RunOptions::new(self.subject, proto);
                    opts.reply_timeout = self.reply_timeout;
                    opts.subject_binary = self.subject_binary.clone();
                    opts.directives = SUITE_DIRECTIVES
                        .iter()
                        .map(|(n, v)| (n.to_string(), v.to_string()))
                        .collect();
                    let outcome = run_script(&scripts[i], &opts);
                    results.lock().expect("no panics while held").push(outcome);
                });
            }
        });
        let mut outcomes = results.into_inner().expect("threads joined");
        outcomes.sort_by(|a, b| (&a.file, a.proto).cmp(&(&b.file, b.proto)));
        let mut report = Report {
            files: scripts.len(),
            runs,
            compared: 0,
            problems: Vec::new(),
            elapsed: Duration::ZERO,
            subject: self.subject,
            per_run: Vec::new(),
        };
        if let Some(dir) = &self.transcript_dir {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
            for o in &outcomes {
                let path = dir.join(format!("{}.resp{}.log", o.file, o.proto));
                std::fs::write(&path, o.transcript.join("\n") + "\n")
                    .with_context(|| format!("writing {}", path.display()))?;
            }
        }
        for o in outcomes {
            report.compared += o.compared;
            report.per_run.push(RunSummary {
                file: o.file.clone(),
                proto: o.proto,
                compared: o.compared,
                problems: o.problems.len(),
            });
            report.problems.extend(o.problems);
        }
        report.elapsed = started.elapsed();
        Ok(report)
    }
}

fn matches_name(file: &str, want: &str) -> bool {
    file == want || file.strip_suffix(".txt") == Some(want)
}
