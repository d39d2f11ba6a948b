//! Running one script against two servers in lockstep.

use std::collections::BTreeMap;
use std::fmt;
use std::time::{Duration, Instant};

use redoubt_resp::{encode_command, parse_value};

use crate::conn::{RawConn, ReadError};
use crate::diff::compare::render;
use crate::diff::script::{Action, Compare, Script, Step};
use crate::reply::escape_trunc;
use crate::server::{Flavor, ServerProcess};

/// The argument of the PING that `@raw` sends after its bytes: its reply marks the end.
const BARRIER: &[u8] = b"diff-barrier";
/// The connection used until a script says `@conn`.
pub const MAIN_CONN: &str = "main";
/// How much of a reply a message shows.
const SHOW_BYTES: usize = 800;

/// How a script is run.
#[derive(Clone, Debug)]
pub struct RunOptions {
    /// The reference side: real Redis.
    pub oracle: Flavor,
    /// The side under test: Redoubt, or Redis again for a self-check.
    pub subject: Flavor,
    /// The subject's binary, instead of the flavor's usual lookup.
    pub subject_binary: Option<std::path::PathBuf>,
    /// The protocol every connection starts in (2, or 3 via HELLO 3).
    pub proto: u8,
    /// Startup directives for both servers; the script's `@config` lines are added after.
    pub directives: Vec<(String, String)>,
    /// How long to wait for each expected reply.
    pub reply_timeout: Duration,
}

impl RunOptions {
    pub fn new(subject: Flavor, proto: u8) -> Self {
        RunOptions {
            oracle: Flavor::Redis,
            subject,
            subject_binary: None,
            proto,
            directives: Vec::new(),
            reply_timeout: Duration::from_secs(5),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProblemKind {
    /// The two servers replied differently.
    Mismatch,
    /// The oracle itself did not behave as the script expects: fix the script.
    ScriptError,
    /// The rest of the script could not run (the subject stopped answering, or a server did
    /// not start).
    Aborted,
}

/// One thing that went wrong, with enough context to find and reproduce it.
#[derive(Clone, Debug)]
pub struct Problem {
    pub kind: ProblemKind,
    pub file: String,
    pub line: usize,
    pub proto: u8,
    pub conn: String,
    /// The script line (or a description of the implicit step).
    pub text: String,
    /// What the oracle sent, rendered as compared, escaped.
    pub oracle: String,
    /// What the subject sent, or an explanation.
    pub subject: String,
    pub oracle_name: String,
    pub subject_name: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self.kind {
            ProblemKind::Mismatch => "MISMATCH",
            ProblemKind::ScriptError => "SCRIPT ERROR",
            ProblemKind::Aborted => "ABORTED",
        };
        writeln!(
            f,
            "{kind} {}:{} [RESP{}, conn {}]: {}",
            self.file, self.line, self.proto, self.conn, self.text
        )?;
        let width = self.oracle_name.len().max(self.subject_name.len()) + 1;
        writeln!(
            f,
            "    {:<width$} {}",
            format!("{}:", self.oracle_name),
            self.oracle
        )?;
        write!(
            f,
            "    {:<width$} {}",
            format!("{}:", self.subject_name),
            self.subject
        )
    }
}

/// The result of one script in one protocol pass.
#[derive(Debug)]
pub struct Outcome {
    pub file: String,
    pub proto: u8,
    /// Exchanges compared (script lines that send or read, plus implicit HELLOs and the
    /// final RESET of each connection).
    pub compared: usize,
    pub problems: Vec<Problem>,
    /// Every exchange with the oracle's reply as compared, for reviewing scripts.
    pub transcript: Vec<String>,
}

/// How a read ended after the replies it got.
#[derive(Clone, Debug, PartialEq)]
enum End {
    /// All expected replies arrived.
    Done,
    /// The server closed the connection; any bytes that were not a whole reply.
    Closed(Vec<u8>),
    Timeout(Vec<u8>),
    Malformed(String, Vec<u8>),
    Io(String),
}

#[derive(Clone, Debug)]
struct Observed {
    replies: Vec<Vec<u8>>,
    end: End,
}

impl Observed {
    fn failed(end: End) -> Self {
        Observed {
            replies: Vec::new(),
            end,
        }
    }

    fn render(&self, compare: Compare, mask: &[Vec<u8>]) -> Vec<u8> {
        let mut out = Vec::new();
        for (i, r) in self.replies.iter().enumerate() {
            if i > 0 && compare == Compare::Shape {
                out.push(b' ');
            }
            out.extend(render(r, compare, mask));
        }
        let mut note = |text: &str, partial: &[u8]| {
            out.extend_from_slice(text.as_bytes());
            out.extend_from_slice(partial);
        };
        match &self.end {
            End::Done => {}
            End::Closed(p) => note("<connection closed>", p),
            End::Timeout(p) => note("<no reply before the deadline>", p),
            End::Malformed(why, p) => note(&format!("<malformed: {why}>"), p),
            End::Io(e) => note(&format!("<i/o error: {e}>"), b""),
        }
        out
    }

    fn closed(&self) -> bool {
        matches!(self.end, End::Closed(_))
    }

    /// The subject stopped answering: later lines would only repeat the failure.
    fn stuck(&self) -> bool {
        matches!(self.end, End::Timeout(_) | End::Io(_) | End::Malformed(..))
    }
}

struct Side {
    server: ServerProcess,
    name: String,
    conns: BTreeMap<String, RawConn>,
}

impl Side {
    fn conn(&mut self, name: &str) -> Result<&mut RawConn, End> {
        if !self.conns.contains_key(name) {
            let c = self
                .server
                .connect()
                .map_err(|e| End::Io(format!("{e:#}")))?;
            self.conns.insert(name.to_string(), c);
        }
        Ok(self.conns.get_mut(name).expect("inserted above"))
    }

    fn send(&mut self, conn: &str, bytes: &[u8]) -> Result<(), End> {
        self.conn(conn)?
            .send(bytes)
            .map_err(|e| End::Io(format!("write: {e}")))
    }

    fn read_n(&mut self, conn: &str, n: usize, deadline: Instant) -> Observed {
        let c = match self.conn(conn) {
            Ok(c) => c,
            Err(end) => return Observed::failed(end),
        };
        let mut obs = Observed {
            replies: Vec::new(),
            end: End::Done,
        };
        for _ in 0..n {
            match c.try_read_raw_reply(deadline) {
                Ok(r) => obs.replies.push(r),
                Err(e) => {
                    obs.end = end_of(e);
                    break;
                }
            }
        }
        obs
    }

    /// Reads replies until the barrier PING's reply (included) or the connection closes.
    fn read_to_barrier(&mut self, conn: &str, deadline: Instant) -> Observed {
        let c = match self.conn(conn) {
            Ok(c) => c,
            Err(end) => return Observed::failed(end),
        };
        let plain = format!(
            "${}\r\n{}\r\n",
            BARRIER.len(),
            String::from_utf8_lossy(BARRIER)
        );
        let subscribed = format!("*2\r\n$4\r\npong\r\n{plain}");
        let mut obs = Observed {
            replies: Vec::new(),
            end: End::Done,
        };
        loop {
            match c.try_read_raw_reply(deadline) {
                Ok(r) => {
                    let done = r == plain.as_bytes() || r == subscribed.as_bytes();
                    obs.replies.push(r);
                    if done {
                        return obs;
                    }
                }
                Err(e) => {
                    obs.end = end_of(e);
                    return obs;
                }
            }
        }
    }

    /// Reads everything until the server closes the connection, split into replies.
    fn read_to_close(&mut self, conn: &str, deadline: Instant) -> Observed {
        let c = match self.conn(conn) {
            Ok(c) => c,
            Err(end) => return Observed::failed(end),
        };
        let (bytes, closed) = match c.read_until_closed(deadline) {
            Ok(b) => (b, true),
            Err(ReadError::Timeout { partial }) => (partial, false),
            Err(e) => return Observed::failed(end_of(e)),
        };
        let mut obs = Observed {
            replies: Vec::new(),
            end: End::Done,
        };
        let mut rest = bytes.as_slice();
        loop {
            match parse_value(rest) {
                Ok(Some((_, used))) => {
                    obs.replies.push(rest[..used].to_vec());
                    rest = &rest[used..];
                }
                Ok(None) => break,
                Err(why) => {
                    obs.end = End::Malformed(why, rest.to_vec());
                    return obs;
                }
            }
        }
        obs.end = if closed {
            End::Closed(rest.to_vec())
        } else {
            End::Timeout(rest.to_vec())
        };
        obs
    }
}

fn end_of(e: ReadError) -> End {
    match e {
        ReadError::Closed { partial } => End::Closed(partial),
        ReadError::Timeout { partial } => End::Timeout(partial),
        ReadError::Malformed { reason, partial } => End::Malformed(reason, partial),
        ReadError::Io(e) => End::Io(e.to_string()),
    }
}

/// Starts a fresh pair of servers, replays `script` on both in lockstep, compares every
/// exchange, and stops the servers.
pub fn run_script(script: &Script, opts: &RunOptions) -> Outcome {
    let mut outcome = Outcome {
        file: script.name.clone(),
        proto: opts.proto,
        compared: 0,
        problems: Vec::new(),
        transcript: Vec::new(),
    };
    let oracle_name = opts.oracle.name().trim_end_matches("-server").to_string();
    let mut subject_name = opts.subject.name().trim_end_matches("-server").to_string();
    if subject_name == oracle_name {
        subject_name.push_str("#2");
    }
    let problem = |kind, line, conn: &str, text: &str, oracle: String, subject: String| Problem {
        kind,
        file: script.name.clone(),
        line,
        proto: opts.proto,
        conn: conn.to_string(),
        text: text.to_string(),
        oracle,
        subject,
        oracle_name: oracle_name.clone(),
        subject_name: subject_name.clone(),
    };

    let mut directives = opts.directives.clone();
    directives.extend(script.config.iter().cloned());
    let start = |flavor: Flavor, binary: Option<&std::path::PathBuf>| {
        let mut b = ServerProcess::builder(flavor);
        if let Some(bin) = binary {
            b = b.binary(bin);
        }
        for (n, v) in &directives {
            b = b.directive(n, v);
        }
        b.start()
    };
    let oracle = match start(opts.oracle, None) {
        Ok(s) => s,
        Err(e) => {
            outcome.problems.push(problem(
                ProblemKind::ScriptError,
                0,
                "-",
                "(starting the oracle)",
                format!("{e:#}"),
                String::new(),
            ));
            return outcome;
        }
    };
    let subject = match start(opts.subject, opts.subject_binary.as_ref()) {
        Ok(s) => s,
        Err(e) => {
            outcome.problems.push(problem(
                ProblemKind::Aborted,
                0,
                "-",
                "(starting the subject)",
                "started".into(),
                format!("{e:#}"),
            ));
            return outcome;
        }
    };
    let mut sides = [
        Side {
            server: oracle,
            name: oracle_name.clone(),
            conns: BTreeMap::new(),
        },
        Side {
            server: subject,
            name: subject_name.clone(),
            conns: BTreeMap::new(),
        },
    ];
    // The protocol of each open connection, as the oracle's replies say.
    let mut protos: BTreeMap<String, u8> = BTreeMap::new();
    let mut current = MAIN_CONN.to_string();
    let hello_mask: Vec<Vec<u8>> = ["server", "version", "id"]
        .iter()
        .map(|s| s.as_bytes().to_vec())
        .collect();

    let steps = &script.steps;
    for (idx, step) in steps.iter().enumerate() {
        match &step.action {
            Action::Conn(name) => {
                current = name.clone();
                continue;
            }
            Action::Close => {
                for side in sides.iter_mut() {
                    side.conns.remove(&current);
                }
                protos.remove(&current);
                continue;
            }
            Action::Wait(d) => {
                std::thread::sleep(*d);
                continue;
            }
            _ => {}
        }

        // Open the connection on both sides if needed, in the pass's protocol.
        if !protos.contains_key(&current) {
            for side in sides.iter_mut() {
                side.conns.remove(&current);
            }
            protos.insert(current.clone(), 2);
            if opts.proto == 3 {
                let hello = Step {
                    line: step.line,
                    text: "(new connection: HELLO 3)".into(),
                    action: Action::Hello(3),
                    compare: Compare::Exact,
                    replies: 1,
                    mask: Vec::new(),
                    only_proto: None,
                };
                let (a, b) = exchange(&mut sides, &current, &hello, opts.reply_timeout);
                outcome.compared += 1;
                if let Some(p) = judge(&hello, &a, &b, &hello_mask) {
                    let (kind, oracle, subject) = p;
                    outcome.problems.push(problem(
                        kind,
                        step.line,
                        &current,
                        &hello.text,
                        oracle,
                        subject,
                    ));
                }
                if b.stuck() || b.closed() {
                    abort(&mut outcome, &problem, step, steps.len() - idx, &current);
                    return outcome;
                }
                // A refused HELLO (NOAUTH) leaves the connection in RESP2.
                if a.replies.first().is_some_and(|r| !r.starts_with(b"-")) {
                    protos.insert(current.clone(), 3);
                }
            }
        }
        if let Some(p) = step.only_proto {
            if protos.get(&current) != Some(&p) {
                continue;
            }
        }

        let mut mask = step.mask.clone();
        if matches!(step.action, Action::Hello(_)) {
            mask.extend(hello_mask.iter().cloned());
        }
        let (a, b) = exchange(&mut sides, &current, step, opts.reply_timeout);
        outcome.compared += 1;
        outcome.transcript.push(format!(
            "{}:{} [{}] {}\n    {}",
            script.name,
            step.line,
            current,
            step.text,
            escape_trunc(&a.render(step.compare, &mask), SHOW_BYTES)
        ));
        if let Some((kind, oracle, subject)) = judge(step, &a, &b, &mask) {
            outcome.problems.push(problem(
                kind, step.line, &current, &step.text, oracle, subject,
            ));
        }

        // Follow the protocol switches the oracle accepted.
        let accepted = a.replies.first().is_some_and(|r| !r.starts_with(b"-"));
        match &step.action {
            Action::Hello(p) if accepted => {
                protos.insert(current.clone(), *p);
            }
            Action::Command(argv) if accepted => {
                let name = argv[0].to_ascii_uppercase();
                if name == b"HELLO" {
                    if let Some(p) = argv.get(1).and_then(|v| std::str::from_utf8(v).ok()) {
                        if let Ok(p) = p.parse::<u8>() {
                            protos.insert(current.clone(), p);
                        }
                    }
                } else if name == b"RESET" {
                    protos.insert(current.clone(), 2);
                }
            }
            _ => {}
        }
        if b.stuck() {
            abort(
                &mut outcome,
                &problem,
                step,
                steps.len() - idx - 1,
                &current,
            );
            return outcome;
        }
        if a.closed() || b.closed() {
            for side in sides.iter_mut() {
                side.conns.remove(&current);
            }
            protos.remove(&current);
        }
    }

    // End of script: RESET every open connection; whatever comes before +RESET was never
    // read by the script (a wrong @replies count, or an extra reply from the subject).
    let last_line = steps.last().map_or(0, |s| s.line);
    let open: Vec<String> = protos.keys().cloned().collect();
    for name in open {
        let deadline = Instant::now() + opts.reply_timeout;
        let mut obs = Vec::new();
        for side in sides.iter_mut() {
            let _ = side.send(&name, &encode_command(&["RESET"]));
        }
        for side in sides.iter_mut() {
            let mut o = Observed {
                replies: Vec::new(),
                end: End::Done,
            };
            let c = match side.conn(&name) {
                Ok(c) => c,
                Err(end) => {
                    obs.push(Observed::failed(end));
                    continue;
                }
            };
            loop {
                match c.try_read_raw_reply(deadline) {
                    Ok(r) if r == b"+RESET\r\n" => break,
                    Ok(r) => o.replies.push(r),
                    Err(e) => {
                        o.end = end_of(e);
                        break;
                    }
                }
            }
            obs.push(o);
        }
        outcome.compared += 1;
        let text = "(end of script: RESET, expecting no unread replies)";
        let (a, b) = (&obs[0], &obs[1]);
        if !a.replies.is_empty() || a.end != End::Done {
            outcome.problems.push(problem(
                ProblemKind::ScriptError,
                last_line,
                &name,
                text,
                escape_trunc(&a.render(Compare::Exact, &[]), SHOW_BYTES),
                "(check the @replies and @read counts)".into(),
            ));
        } else if a.render(Compare::Exact, &[]) != b.render(Compare::Exact, &[]) {
            outcome.problems.push(problem(
                ProblemKind::Mismatch,
                last_line,
                &name,
                text,
                escape_trunc(&a.render(Compare::Exact, &[]), SHOW_BYTES),
                escape_trunc(&b.render(Compare::Exact, &[]), SHOW_BYTES),
            ));
        }
    }
    for side in sides.iter_mut() {
        side.conns.clear();
        if !side.server.is_running() {
            let log = side.server.log();
            let tail: Vec<&str> = log.lines().rev().take(15).collect();
            let tail: Vec<&str> = tail.into_iter().rev().collect();
            outcome.problems.push(problem(
                ProblemKind::Mismatch,
                last_line,
                "-",
                "(the server exited during the script)",
                "keeps running".into(),
                format!(
                    "{} exited; stderr: {} log tail:\n{}",
                    side.name,
                    side.server.stderr(),
                    tail.join("\n")
                ),
            ));
            continue;
        }
        if let Err(e) = side.server.stop() {
            outcome.problems.push(problem(
                ProblemKind::Mismatch,
                last_line,
                "-",
                "(SIGTERM at the end)",
                "exits".into(),
                format!("{}: {e:#}", side.name),
            ));
        }
    }
    outcome
}

fn abort<F>(outcome: &mut Outcome, problem: &F, step: &Step, left: usize, conn: &str)
where
    F: Fn(ProblemKind, usize, &str, &str, String, String) -> Problem,
{
    outcome.problems.push(problem(
        ProblemKind::Aborted,
        step.line,
        conn,
        &step.text,
        String::new(),
        format!("stopped answering; {left} later lines of the script not run"),
    ));
}

/// Sends one step to both sides (oracle first), then reads both.
fn exchange(
    sides: &mut [Side; 2],
    conn: &str,
    step: &Step,
    timeout: Duration,
) -> (Observed, Observed) {
    let mut payload: Vec<Vec<u8>> = Vec::new();
    match &step.action {
        Action::Command(argv) => payload.push(encode_command(argv)),
        Action::Hello(p) => payload.push(encode_command(&["HELLO".to_string(), p.to_string()])),
        Action::Raw(bytes) => {
            payload.push(bytes.clone());
            payload.push(encode_command(&[b"PING".as_slice(), BARRIER]));
        }
        Action::RawClose(bytes) => payload.push(bytes.clone()),
        Action::Read => {}
        Action::Conn(_) | Action::Close | Action::Wait(_) => unreachable!("handled by the caller"),
    }
    let mut sent: [Result<(), End>; 2] = [Ok(()), Ok(())];
    for (i, side) in sides.iter_mut().enumerate() {
        for p in &payload {
            if let Err(e) = side.send(conn, p) {
                // After a close, a write can fail while the replies are still readable.
                if sent[i].is_ok() {
                    sent[i] = Err(e);
                }
            }
        }
    }
    let deadline = Instant::now() + timeout;
    let quit =
        matches!(&step.action, Action::Command(argv) if argv[0].eq_ignore_ascii_case(b"QUIT"));
    let mut out = Vec::with_capacity(2);
    for (i, side) in sides.iter_mut().enumerate() {
        let mut obs = match &step.action {
            Action::Raw(_) => side.read_to_barrier(conn, deadline),
            Action::RawClose(_) => side.read_to_close(conn, deadline),
            _ => side.read_n(conn, step.replies, deadline),
        };
        if quit && obs.end == End::Done {
            // QUIT must also close the connection.
            let rest = side.read_to_close(conn, deadline);
            obs.replies.extend(rest.replies);
            obs.end = rest.end;
        }
        if obs.end != End::Done && obs.replies.is_empty() {
            if let Err(e) = std::mem::replace(&mut sent[i], Ok(())) {
                if !obs.closed() {
                    obs.end = e;
                }
            }
        }
        out.push(obs);
    }
    let b = out.pop().expect("two sides");
    let a = out.pop().expect("two sides");
    (a, b)
}

/// Compares one exchange: `None` when it passes.
fn judge(
    step: &Step,
    a: &Observed,
    b: &Observed,
    mask: &[Vec<u8>],
) -> Option<(ProblemKind, String, String)> {
    let show = |o: &Observed| escape_trunc(&o.render(step.compare, mask), SHOW_BYTES);
    let expects_close = matches!(&step.action, Action::RawClose(_))
        || matches!(&step.action, Action::Command(argv) if argv[0].eq_ignore_ascii_case(b"QUIT"));
    let oracle_ok = match &a.end {
        End::Done => !expects_close,
        End::Closed(_) => expects_close,
        _ => false,
    };
    if !oracle_ok {
        let hint = match (&a.end, expects_close) {
            (End::Done, true) => "the oracle kept the connection open: use @raw, not @raw-close",
            (End::Closed(_), false) => "the oracle closed the connection: use @raw-close",
            (End::Timeout(_), _) => "the oracle sent fewer replies than expected: check @replies",
            _ => "the oracle misbehaved",
        };
        return Some((ProblemKind::ScriptError, show(a), hint.into()));
    }
    let (ra, rb) = (a.render(step.compare, mask), b.render(step.compare, mask));
    if ra != rb {
        return Some((ProblemKind::Mismatch, show(a), show(b)));
    }
    None
}
