//! The interactive loop, as redis-cli 7.0's `repl()`: the `host:port[db](TX)> ` prompt,
//! `not connected> ` while the link is down (every command first tries to reconnect), the
//! history file (~/.rediscli_history or $REDISCLI_HISTFILE, plain lines as linenoise writes
//! them, AUTH never saved), greyed argument hints and command-name completion built from the
//! server's COMMAND DOCS, `help`, `:set hints|nohints`, `connect`, `clear`, `quit`/`exit`, and a
//! leading repeat count (`3 INCR x`).

use crate::opts::Options;
use crate::session::{IssueError, Session};
use redoubt_resp::Value;
use rustyline::completion::Completer;
use rustyline::error::ReadlineError;
use rustyline::highlight::Highlighter;
use rustyline::hint::Hinter;
use rustyline::history::DefaultHistory;
use rustyline::validate::Validator;
use rustyline::{CompletionType, Config, Context, Editor, Helper};
use std::borrow::Cow;
use std::io::{IsTerminal, Write};
use std::time::Instant;

/// linenoise's default history length.
const HISTORY_MAX: usize = 100;

/// One command's help: its full name ("SET", "CONFIG GET") and argument synopsis.
#[derive(Debug, Clone)]
pub struct HelpEntry {
    pub name: String,
    pub params: String,
    pub summary: String,
    pub since: String,
    pub group: String,
}

struct CliHelper {
    entries: Vec<HelpEntry>,
    hints: bool,
    /// Columns left after the prompt: linenoise cuts a hint to what fits on the line.
    room: Option<usize>,
}

/// `hintsCallback`: the synopsis of the longest matching command, minus one argument per
/// argument already typed (stopping at the first optional one).
pub fn hint_for(entries: &[HelpEntry], line: &str) -> Option<String> {
    let argv: Vec<String> = redoubt_resp::split_args(line.as_bytes())
        .ok()?
        .into_iter()
        .map(|a| String::from_utf8_lossy(&a).into_owned())
        .collect();
    if argv.is_empty() {
        return None;
    }
    let endspace = line.ends_with(|c: char| c.is_ascii_whitespace());
    let mut best: Option<(&HelpEntry, usize)> = None;
    for e in entries {
        let words: Vec<&str> = e.name.split(' ').collect();
        if words.len() <= argv.len()
            && words
                .iter()
                .zip(&argv)
                .all(|(w, a)| w.eq_ignore_ascii_case(a))
            && best.is_none_or(|(_, n)| words.len() > n)
        {
            best = Some((e, words.len()));
        }
    }
    let (entry, matched) = best?;
    let mut hint = entry.params.as_str();
    let mut toremove = argv.len() - matched;
    while toremove > 0 && !hint.is_empty() {
        if hint.starts_with('[') {
            break;
        }
        if hint.starts_with(' ') {
            toremove -= 1;
        }
        // By characters: a server may document its arguments in any script.
        hint = &hint[hint.chars().next().map_or(1, char::len_utf8)..];
    }
    Some(if endspace {
        hint.to_string()
    } else {
        format!(" {hint}")
    })
}

impl Hinter for CliHelper {
    type Hint = String;
    fn hint(&self, line: &str, pos: usize, _ctx: &Context<'_>) -> Option<String> {
        if !self.hints || pos < line.len() {
            return None;
        }
        let hint = hint_for(&self.entries, line)?;
        match self.room {
            Some(room) => {
                let fit = room.checked_sub(line.chars().count()).filter(|&n| n > 0)?;
                Some(hint.chars().take(fit).collect())
            }
            None => Some(hint),
        }
    }
}

impl Highlighter for CliHelper {
    /// linenoise's rendering of redis-cli's hint colour (90, not bold).
    fn highlight_hint<'h>(&self, hint: &'h str) -> Cow<'h, str> {
        Cow::Owned(format!("\x1b[0;90;49m{hint}\x1b[0m"))
    }
}

impl Completer for CliHelper {
    type Candidate = String;
    /// `completionCallback`: whole-line completion to upper-case command names.
    fn complete(
        &self,
        line: &str,
        _pos: usize,
        _ctx: &Context<'_>,
    ) -> rustyline::Result<(usize, Vec<String>)> {
        let (start, typed) = match line.get(..5) {
            Some(p) if p.eq_ignore_ascii_case("help ") => {
                let rest = &line[5..];
                (line.len() - rest.trim_start().len(), rest.trim_start())
            }
            _ => (0, line),
        };
        let out = self
            .entries
            .iter()
            .filter(|e| {
                e.name.len() >= typed.len()
                    && e.name.is_char_boundary(typed.len())
                    && e.name[..typed.len()].eq_ignore_ascii_case(typed)
            })
            .map(|e| format!("{}{}", &line[..start], e.name))
            .collect();
        Ok((0, out))
    }
}

impl Validator for CliHelper {}
impl Helper for CliHelper {}

fn pairs(v: &Value) -> Vec<(&Value, &Value)> {
    match v {
        Value::Map(p) => p.iter().map(|(k, v)| (k, v)).collect(),
        Value::Array(items) => items
            .chunks(2)
            .filter_map(|c| Some((c.first()?, c.get(1)?)))
            .collect(),
        _ => Vec::new(),
    }
}

fn text(v: &Value) -> String {
    match v {
        Value::Bulk(b) | Value::Verbatim(_, b) => String::from_utf8_lossy(b).into_owned(),
        Value::Simple(s) => s.clone(),
        Value::Int(i) => i.to_string(),
        _ => String::new(),
    }
}

fn field<'a>(doc: &'a Value, name: &str) -> Option<&'a Value> {
    pairs(doc)
        .into_iter()
        .find(|(k, _)| text(k) == name)
        .map(|(_, v)| v)
}

/// One argument's synopsis, as redis's `generate-command-help.rb` writes it.
fn argument(arg: &Value) -> String {
    let kind = field(arg, "type").map(text).unwrap_or_default();
    let flags: Vec<String> = match field(arg, "flags") {
        Some(Value::Array(f)) | Some(Value::Set(f)) => f.iter().map(text).collect(),
        _ => Vec::new(),
    };
    let children = || match field(arg, "arguments") {
        Some(Value::Array(a)) => a.iter().map(argument).collect::<Vec<_>>(),
        _ => Vec::new(),
    };
    // COMMAND DOCS shows MIGRATE's empty-key token as an empty string; redis-cli's table has
    // the quotes it was written with.
    let token = field(arg, "token")
        .map(text)
        .map(|t| if t.is_empty() { "\"\"".into() } else { t });
    let mut name = match kind.as_str() {
        "block" => Some(children().join(" ")),
        "oneof" => Some(children().join("|")),
        "pure-token" => None,
        _ => Some(field(arg, "name").map(text).unwrap_or_default()),
    };
    if flags.iter().any(|f| f == "multiple") {
        let n = name.clone().unwrap_or_default();
        name = Some(
            match (&token, flags.iter().any(|f| f == "multiple_token")) {
                (Some(t), true) => format!("{n} [{t} {n} ...]"),
                _ => format!("{n} [{n} ...]"),
            },
        );
    }
    let mut s = match (token, name) {
        (Some(t), Some(n)) => format!("{t} {n}"),
        (Some(t), None) => t,
        (None, Some(n)) => n,
        (None, None) => String::new(),
    };
    if flags.iter().any(|f| f == "optional") {
        s = format!("[{s}]");
    }
    s
}

fn entry(name: String, doc: &Value, out: &mut Vec<HelpEntry>) {
    let params = match field(doc, "arguments") {
        Some(Value::Array(a)) => a.iter().map(argument).collect::<Vec<_>>().join(" "),
        _ => String::new(),
    };
    let subs = field(doc, "subcommands").map(pairs).unwrap_or_default();
    for (k, v) in &subs {
        entry(text(k).replace('|', " ").to_uppercase(), v, out);
    }
    {
        out.push(HelpEntry {
            name,
            params,
            summary: field(doc, "summary").map(text).unwrap_or_default(),
            since: field(doc, "since").map(text).unwrap_or_default(),
            group: field(doc, "group").map(text).unwrap_or_default(),
        });
    }
}

/// Help entries from COMMAND DOCS, sorted as redis-cli's generated table is.
pub fn load_help(s: &mut Session) -> Vec<HelpEntry> {
    let Some(c) = s.conn.as_mut() else {
        return Vec::new();
    };
    let Ok(docs) = c.call(&["COMMAND", "DOCS"]) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for (k, v) in pairs(&docs) {
        entry(text(k).to_uppercase(), v, &mut out);
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    out
}

fn print_entry(e: &HelpEntry, group: bool) {
    print!(
        "\r\n  \x1b[1m{}\x1b[0m \x1b[90m{}\x1b[0m\r\n",
        e.name, e.params
    );
    print!("  \x1b[33msummary:\x1b[0m {}\r\n", e.summary);
    print!("  \x1b[33msince:\x1b[0m {}\r\n", e.since);
    if group {
        print!("  \x1b[33mgroup:\x1b[0m {}\r\n", e.group);
    }
}

/// `cliOutputHelp`.
pub fn help(entries: &[HelpEntry], args: &[String]) {
    if args.is_empty() {
        print!(
            "redis-cli {}\n\
             To get help about Redis commands type:\n      \
             \"help @<group>\" to get a list of commands in <group>\n      \
             \"help <command>\" for help on <command>\n      \
             \"help <tab>\" to get a list of possible help topics\n      \
             \"quit\" to exit\n\n\
             To set redis-cli preferences:\n      \
             \":set hints\" enable online hints\n      \
             \":set nohints\" disable online hints\n\
             Set your preferences in ~/.redisclirc\n",
            crate::VERSION
        );
        return;
    }
    if let Some(g) = args[0].strip_prefix('@') {
        for e in entries.iter().filter(|e| e.group.eq_ignore_ascii_case(g)) {
            print_entry(e, false);
        }
    } else {
        let want = args.join(" ");
        for e in entries
            .iter()
            .filter(|e| e.name.eq_ignore_ascii_case(&want))
        {
            print_entry(e, true);
        }
    }
    print!("\r\n");
}

/// `getDotfilePath`: the env override (where "/dev/null" disables), else $HOME/name.
fn dotfile(env: &str, name: &str) -> Option<String> {
    match std::env::var(env) {
        Ok(p) if !p.is_empty() => (p != "/dev/null").then_some(p),
        _ => std::env::var("HOME")
            .ok()
            .filter(|h| !h.is_empty())
            .map(|h| format!("{h}/{name}")),
    }
}

fn prompt(s: &Session) -> String {
    if s.conn.is_none() {
        return "not connected> ".into();
    }
    let mut p = match &s.o.socket {
        Some(path) => format!("redis {path}"),
        None if s.o.host.contains(':') => format!("[{}]:{}", s.o.host, s.o.port),
        None => format!("{}:{}", s.o.host, s.o.port),
    };
    if s.dbnum != 0 {
        p.push_str(&format!("[{}]", s.dbnum));
    }
    if s.in_multi {
        p.push_str("(TX)");
    }
    p.push_str("> ");
    p
}

/// `linenoiseHistoryAdd`: no two equal lines in a row, at most `HISTORY_MAX` kept.
fn remember(history: &mut Vec<String>, line: &str) {
    if history.last().is_some_and(|l| l == line) {
        return;
    }
    history.push(line.to_string());
    if history.len() > HISTORY_MAX {
        history.remove(0);
    }
}

fn save_history(path: &str, lines: &[String]) {
    let mut body = String::new();
    for l in lines {
        body.push_str(l);
        body.push('\n');
    }
    if std::fs::write(path, body).is_ok() {
        use std::os::unix::fs::PermissionsExt;
        let _ = std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600));
    }
}

pub fn run(o: Options) -> u8 {
    // Connection errors are printed and the REPL starts anyway: each command retries.
    let mut s = match Session::connect(&o) {
        Some(s) => s,
        None => Session::disconnected(&o),
    };
    s.interactive = true;
    let entries = load_help(&mut s);
    let config = Config::builder()
        .completion_type(CompletionType::Circular)
        .auto_add_history(false)
        .max_history_size(HISTORY_MAX)
        .unwrap_or_default()
        .build();
    let Ok(mut rl) = Editor::<CliHelper, DefaultHistory>::with_config(config) else {
        return 1;
    };
    rl.set_helper(Some(CliHelper {
        entries,
        hints: true,
        room: None,
    }));
    let tty = std::io::stdin().is_terminal();
    let histfile = if tty {
        dotfile("REDISCLI_HISTFILE", ".rediscli_history")
    } else {
        None
    };
    let mut history: Vec<String> = Vec::new();
    if let Some(path) = &histfile {
        if let Ok(body) = std::fs::read_to_string(path) {
            for l in body.lines() {
                remember(&mut history, l);
                let _ = rl.add_history_entry(l);
            }
        }
    }
    if tty {
        load_preferences(&mut rl);
    }
    loop {
        let p = prompt(&s);
        let cols = rl.dimensions().map(|(c, _)| c);
        if let Some(h) = rl.helper_mut() {
            h.room = cols.map(|c| c.saturating_sub(p.chars().count()));
        }
        let line = match rl.readline(&p) {
            Ok(l) => l,
            Err(ReadlineError::Interrupted) | Err(ReadlineError::Eof) => return 0,
            Err(_) => return 1,
        };
        if line.is_empty() {
            continue;
        }
        let argv = redoubt_resp::split_args(line.as_bytes()).ok();
        let mut repeat: i64 = 1;
        let mut skip = 0;
        if let Some(a) = argv.as_ref().filter(|a| a.len() > 1) {
            let first = String::from_utf8_lossy(&a[0]).into_owned();
            if !first.is_empty()
                && first
                    .trim_start_matches('-')
                    .bytes()
                    .all(|c| c.is_ascii_digit())
            {
                match first.parse::<i64>() {
                    Ok(n) if n > 0 => {
                        repeat = n;
                        skip = 1;
                    }
                    _ => {
                        print!("Invalid redis-cli repeat command option value.\n");
                        continue;
                    }
                }
            }
        }
        let is_auth = argv
            .as_ref()
            .and_then(|a| a.get(skip))
            .is_some_and(|c| c.eq_ignore_ascii_case(b"auth"));
        if !is_auth {
            let _ = rl.add_history_entry(line.as_str());
            remember(&mut history, &line);
            if let Some(path) = &histfile {
                save_history(path, &history);
            }
        }
        let Some(argv) = argv else {
            print!("Invalid argument(s)\n");
            continue;
        };
        if argv.is_empty() {
            continue;
        }
        let words: Vec<String> = argv
            .iter()
            .map(|a| String::from_utf8_lossy(a).into_owned())
            .collect();
        let cmd = words[0].to_ascii_lowercase();
        if cmd == "quit" || cmd == "exit" {
            return 0;
        } else if cmd.starts_with(':') {
            if let Some(h) = rl.helper_mut() {
                set_preference(h, &words, true);
            }
        } else if cmd == "restart" {
            print!("Use 'restart' only in Lua debugging mode.\n");
        } else if words.len() == 3 && cmd == "connect" {
            s.o.host = words[1].clone();
            s.o.port = crate::opts::atoi(&words[2]);
            s.in_multi = false;
            if s.reconnect() {
                let entries = load_help(&mut s);
                if let Some(h) = rl.helper_mut() {
                    h.entries = entries;
                }
            }
        } else if words.len() == 1 && cmd == "clear" {
            let _ = rl.clear_screen();
        } else if cmd == "help" || cmd == "?" {
            let entries = rl
                .helper_mut()
                .map(|h| h.entries.clone())
                .unwrap_or_default();
            help(&entries, &words[1..]);
        } else {
            let start = Instant::now();
            issue(&mut s, &argv[skip..], repeat);
            let elapsed = start.elapsed();
            if elapsed.as_millis() >= 500 && s.o.output == crate::render::Output::Standard {
                print!("({:.2}s)\n", elapsed.as_secs_f64());
            }
            if let Some(h) = rl.helper_mut() {
                if h.entries.is_empty() && s.conn.is_some() {
                    h.entries = load_help(&mut s);
                }
            }
        }
        let _ = std::io::stdout().flush();
    }
}

/// `issueCommandRepeat` in interactive mode: reconnect first when the link is down; a link
/// that fails during the command is reported and dropped, so the next command reconnects.
fn issue(s: &mut Session, args: &[Vec<u8>], repeat: i64) {
    if s.conn.is_none() && !s.reconnect() {
        return;
    }
    match s.send_command(args, repeat) {
        Ok(()) => {}
        Err(IssueError::Exit(code)) => std::process::exit(i32::from(code)),
        Err(IssueError::Conn(e)) => {
            let _ = std::io::stdout().flush();
            eprint!("Error: {e}\n");
            s.conn = None;
            s.in_multi = false;
        }
    }
}

/// `cliSetPreferences`.
fn set_preference(h: &mut CliHelper, argv: &[String], interactive: bool) {
    let origin = if interactive { "" } else { ".redisclirc: " };
    if argv[0].eq_ignore_ascii_case(":set") && argv.len() >= 2 {
        if argv[1].eq_ignore_ascii_case("hints") {
            h.hints = true;
        } else if argv[1].eq_ignore_ascii_case("nohints") {
            h.hints = false;
        } else {
            print!("{origin}unknown redis-cli preference '{}'\n", argv[1]);
        }
    } else {
        print!("{origin}unknown redis-cli internal command '{}'\n", argv[0]);
    }
}

/// ~/.redisclirc (or $REDISCLI_RCFILE): `:set` lines.
fn load_preferences(rl: &mut Editor<CliHelper, DefaultHistory>) {
    let Some(path) = dotfile("REDISCLI_RCFILE", ".redisclirc") else {
        return;
    };
    let Ok(body) = std::fs::read_to_string(path) else {
        return;
    };
    for l in body.lines() {
        let Ok(argv) = redoubt_resp::split_args(l.as_bytes()) else {
            continue;
        };
        let words: Vec<String> = argv
            .iter()
            .map(|a| String::from_utf8_lossy(a).into_owned())
            .collect();
        if !words.is_empty() {
            if let Some(h) = rl.helper_mut() {
                set_preference(h, &words, false);
            }
        }
    }
}

/// Shows every typed character as `*`, as linenoise's mask mode does for `--askpass`.
struct Masked;

impl Highlighter for Masked {
    fn highlight<'l>(&self, line: &'l str, _pos: usize) -> Cow<'l, str> {
        Cow::Owned("*".repeat(line.chars().count()))
    }
    fn highlight_char(&self, _line: &str, _pos: usize, _forced: bool) -> bool {
        true
    }
}
impl Hinter for Masked {
    type Hint = String;
}
impl Completer for Masked {
    type Candidate = String;
}
impl Validator for Masked {}
impl Helper for Masked {}

/// `--askpass`: the password from a line of stdin ("Please input password: " and masked
/// echo on a terminal).
pub fn ask_password() -> String {
    if std::io::stdin().is_terminal() {
        let config = Config::builder().auto_add_history(false).build();
        if let Ok(mut rl) = Editor::<Masked, DefaultHistory>::with_config(config) {
            rl.set_helper(Some(Masked));
            if let Ok(l) = rl.readline("Please input password: ") {
                return l;
            }
        }
        return String::new();
    }
    let mut line = String::new();
    let _ = std::io::stdin().read_line(&mut line);
    line.trim_end_matches(['\r', '\n']).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set() -> Vec<HelpEntry> {
        vec![HelpEntry {
            name: "SET".into(),
            params: "key value [NX|XX] [GET]".into(),
            summary: String::new(),
            since: String::new(),
            group: String::new(),
        }]
    }

    #[test]
    fn history_skips_repeats_and_keeps_the_last_hundred() {
        let mut h = Vec::new();
        for i in 0..150 {
            remember(&mut h, &format!("cmd {i}"));
            remember(&mut h, &format!("cmd {i}"));
        }
        assert_eq!(h.len(), HISTORY_MAX);
        assert_eq!(h[0], "cmd 50");
    }

    #[test]
    fn hints_drop_typed_arguments() {
        let e = set();
        assert_eq!(
            hint_for(&e, "set").as_deref(),
            Some(" key value [NX|XX] [GET]")
        );
        assert_eq!(
            hint_for(&e, "set ").as_deref(),
            Some("key value [NX|XX] [GET]")
        );
        assert_eq!(
            hint_for(&e, "SET k").as_deref(),
            Some(" value [NX|XX] [GET]")
        );
        assert_eq!(hint_for(&e, "set k v x").as_deref(), Some(" [NX|XX] [GET]"));
        assert_eq!(hint_for(&e, "get"), None);
        let wide = vec![HelpEntry {
            params: "clé valeur".into(),
            ..e[0].clone()
        }];
        assert_eq!(hint_for(&wide, "set x").as_deref(), Some(" valeur"));
    }
}
