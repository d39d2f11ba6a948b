//! Command-line options, parsed as redis-cli 7.0's hand-written `parseOptions` does: options
//! come first, an option missing its value falls through to "Unrecognized option", and the
//! first word not starting with `-` begins the command. Numbers are read with C's lenient
//! `atoi`/`strtoll`/`atof` (garbage is 0), which a strict parser would not reproduce.

use crate::conn::Target;
use crate::render::Output;
use std::io::IsTerminal;

#[derive(Debug, Clone)]
pub struct Options {
    pub host: String,
    pub port: i64,
    pub socket: Option<String>,
    pub auth: Option<String>,
    pub user: Option<String>,
    pub askpass: bool,
    pub no_auth_warning: bool,
    pub repeat: i64,
    pub interval_us: u64,
    pub dbnum: i64,
    pub resp2: bool,
    pub resp3: bool,
    /// `-3` itself, as opposed to the RESP3 that `--json` implies.
    pub resp3_explicit: bool,
    pub stdin_lastarg: bool,
    pub stdin_tag: Option<String>,
    pub mb_delim: Vec<u8>,
    pub cmd_delim: Vec<u8>,
    pub set_errcode: bool,
    pub output: Output,
    pub quoted_input: bool,
    pub show_pushes: bool,
    pub latency: bool,
    pub latency_history: bool,
    pub stat: bool,
    pub scan: bool,
    pub pattern: Option<Vec<u8>>,
    pub rdb: Option<String>,
    pub pipe: bool,
    pub replica: bool,
    pub pipe_timeout: i64,
    pub bigkeys: bool,
    pub memkeys: bool,
    pub memkeys_samples: i64,
    pub eval: Option<String>,
    pub verbose: bool,
    /// The command and its arguments (empty: REPL).
    pub command: Vec<String>,
}

/// C's `atoi`/`strtoll`: optional spaces and sign, then digits; anything else ends the number.
pub fn atoi(s: &str) -> i64 {
    let t = s.trim_start();
    let (neg, digits) = match t.as_bytes().first() {
        Some(b'-') => (true, &t[1..]),
        Some(b'+') => (false, &t[1..]),
        _ => (false, t),
    };
    let mut n: i64 = 0;
    for c in digits.bytes() {
        if !c.is_ascii_digit() {
            break;
        }
        n = n.saturating_mul(10).saturating_add(i64::from(c - b'0'));
    }
    if neg {
        -n
    } else {
        n
    }
}

/// C's `atof`: the longest prefix that parses as a float, else 0.
pub fn atof(s: &str) -> f64 {
    let t = s.trim_start();
    (1..=t.len())
        .rev()
        .filter(|&i| t.is_char_boundary(i))
        .find_map(|i| t[..i].parse::<f64>().ok())
        .unwrap_or(0.0)
}

/// What the caller must do instead of running: print and exit.
pub enum Exit {
    /// Text for stdout, exit 0 (`--version`).
    Stdout(String),
    /// Text for stderr, exit 1.
    Stderr(String),
    /// The usage text on stdout, exit 0 (`--help`, a lone `-h`).
    Usage,
}

impl Options {
    pub fn target(&self) -> Target {
        match &self.socket {
            Some(p) => Target::Unix(p.clone()),
            // The port is not range-checked: like hiredis we use its low 16 bits, and name it as
            // given in errors.
            None => Target::Tcp(self.host.clone(), self.port),
        }
    }

    pub fn parse(argv: &[String]) -> Result<Options, Exit> {
        let mut o = Options {
            host: "127.0.0.1".into(),
            port: 6379,
            socket: None,
            auth: None,
            user: None,
            askpass: false,
            no_auth_warning: false,
            repeat: 1,
            interval_us: 0,
            dbnum: 0,
            resp2: false,
            resp3: false,
            resp3_explicit: false,
            stdin_lastarg: false,
            stdin_tag: None,
            mb_delim: b"\n".to_vec(),
            cmd_delim: b"\n".to_vec(),
            set_errcode: false,
            output: if std::io::stdout().is_terminal() {
                Output::Standard
            } else {
                Output::Raw
            },
            quoted_input: false,
            show_pushes: std::io::stdout().is_terminal(),
            latency: false,
            latency_history: false,
            stat: false,
            scan: false,
            pattern: None,
            rdb: None,
            pipe: false,
            replica: false,
            pipe_timeout: 30,
            bigkeys: false,
            memkeys: false,
            memkeys_samples: 0,
            eval: None,
            verbose: false,
            command: Vec::new(),
        };
        let mut i = 1;
        while i < argv.len() {
            let a = argv[i].as_str();
            let has_value = i + 1 < argv.len();
            let value = || argv.get(i + 1).cloned().unwrap_or_default();
            // Options taking a value consume it only when one follows.
            let takes = |name: &str| a == name && has_value;
            if a == "-h" && !has_value || a == "--help" {
                return Err(Exit::Usage);
            } else if takes("-h") {
                o.host = value();
                i += 1;
            } else if a == "-x" {
                o.stdin_lastarg = true;
            } else if takes("-X") {
                o.stdin_tag = Some(value());
                i += 1;
            } else if takes("-p") {
                o.port = atoi(&value());
                i += 1;
            } else if takes("-s") {
                o.socket = Some(value());
                i += 1;
            } else if takes("-r") {
                o.repeat = atoi(&value());
                i += 1;
            } else if takes("-i") {
                o.interval_us = (atof(&value()) * 1_000_000.0).max(0.0) as u64;
                i += 1;
            } else if takes("-n") {
                o.dbnum = atoi(&value());
                i += 1;
            } else if a == "--no-auth-warning" {
                o.no_auth_warning = true;
            } else if a == "--askpass" {
                o.askpass = true;
            } else if takes("-a") || takes("--pass") {
                o.auth = Some(value());
                i += 1;
            } else if takes("--user") {
                o.user = Some(value());
                i += 1;
            } else if takes("-u") {
                parse_uri(&value(), &mut o)?;
                i += 1;
            } else if a == "--raw" {
                o.output = Output::Raw;
            } else if a == "--no-raw" {
                o.output = Output::Standard;
            } else if a == "--quoted-input" {
                o.quoted_input = true;
            } else if a == "--csv" {
                o.output = Output::Csv;
            } else if a == "--json" || a == "--quoted-json" {
                // JSON maps need RESP3, unless -2 was asked for explicitly.
                if !o.resp2 {
                    o.resp3 = true;
                }
                o.output = if a == "--json" {
                    Output::Json
                } else {
                    Output::QuotedJson
                };
            } else if a == "--latency" {
                o.latency = true;
            } else if a == "--latency-history" {
                o.latency = true;
                o.latency_history = true;
            } else if a == "--stat" {
                o.stat = true;
            } else if a == "--scan" {
                o.scan = true;
            } else if takes("--pattern") {
                o.pattern = Some(value().into_bytes());
                i += 1;
            } else if takes("--quoted-pattern") {
                match unquote(&value()) {
                    Some(p) => o.pattern = Some(p),
                    None => {
                        return Err(Exit::Stderr(
                            "Invalid quoted string specified for --quoted-pattern.\n".into(),
                        ))
                    }
                }
                i += 1;
            } else if takes("--rdb") {
                o.rdb = Some(value());
                i += 1;
            } else if a == "--replica" || a == "--slave" {
                o.replica = true;
            } else if a == "--pipe" {
                o.pipe = true;
            } else if takes("--pipe-timeout") {
                o.pipe_timeout = atoi(&value());
                i += 1;
            } else if a == "--bigkeys" {
                o.bigkeys = true;
            } else if a == "--memkeys" {
                o.memkeys = true;
            } else if takes("--memkeys-samples") {
                o.memkeys = true;
                o.memkeys_samples = atoi(&value());
                i += 1;
            } else if takes("--eval") {
                o.eval = Some(value());
                i += 1;
            } else if a == "-2" {
                o.resp2 = true;
            } else if a == "-3" {
                o.resp3 = true;
                o.resp3_explicit = true;
            } else if takes("-d") {
                o.mb_delim = value().into_bytes();
                i += 1;
            } else if takes("-D") {
                o.cmd_delim = value().into_bytes();
                i += 1;
            } else if a == "-e" {
                o.set_errcode = true;
            } else if a == "--verbose" {
                o.verbose = true;
            } else if a == "-v" || a == "--version" {
                return Err(Exit::Stdout(format!("redis-cli {}\n", crate::VERSION)));
            } else if takes("--show-pushes") {
                let v = value();
                match v.bytes().next().map(|c| c.to_ascii_lowercase()) {
                    Some(b'n') => o.show_pushes = false,
                    Some(b'y') => o.show_pushes = true,
                    _ => eprint!("Unknown --show-pushes value '{v}' (valid: '[y]es', '[n]o')\n"),
                }
                i += 1;
            } else if a.starts_with('-') {
                return Err(Exit::Stderr(format!(
                    "Unrecognized option or bad number of args for: '{a}'\n"
                )));
            } else {
                break;
            }
            i += 1;
        }
        o.command = argv[i.min(argv.len())..].to_vec();
        if o.resp2 && o.resp3_explicit {
            return Err(Exit::Stderr(
                "Options -2 and -3 are mutually exclusive.\n".into(),
            ));
        }
        if o.resp2 {
            o.resp3 = false;
        }
        if !o.no_auth_warning && o.auth.is_some() {
            eprint!(
                "Warning: Using a password with '-a' or '-u' option on the command line \
                 interface may not be safe.\n"
            );
        }
        Ok(o)
    }
}

/// `parseRedisUri`: redis://[[user:]pass@]host[:port][/db].
fn parse_uri(uri: &str, o: &mut Options) -> Result<(), Exit> {
    let lower = uri.to_ascii_lowercase();
    if lower.starts_with("rediss://") {
        return Err(Exit::Stderr(
            "rediss:// is only supported when redis-cli is compiled with OpenSSL\n".into(),
        ));
    }
    if !lower.starts_with("redis://") {
        return Err(Exit::Stderr("Invalid URI scheme\n".into()));
    }
    let mut curr = &uri["redis://".len()..];
    if curr.is_empty() {
        return Ok(());
    }
    if let Some(at) = curr.find('@') {
        let userinfo = &curr[..at];
        match userinfo.find(':') {
            Some(c) => {
                o.user = Some(percent_decode(&userinfo[..c]));
                o.auth = Some(percent_decode(&userinfo[c + 1..]));
            }
            None => o.auth = Some(percent_decode(userinfo)),
        }
        curr = &curr[at + 1..];
    }
    if curr.is_empty() {
        return Ok(());
    }
    let slash = curr.find('/');
    if !curr.starts_with('/') {
        let hostport = &curr[..slash.unwrap_or(curr.len())];
        match hostport.find(':') {
            Some(c) => {
                o.port = atoi(&hostport[c + 1..]);
                o.host = hostport[..c].to_string();
            }
            None => o.host = hostport.to_string(),
        }
    }
    if let Some(s) = slash {
        let db = &curr[s + 1..];
        if !db.is_empty() {
            o.dbnum = atoi(db);
        }
    }
    Ok(())
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() && s.is_char_boundary(i + 3) {
            if let Ok(v) = u8::from_str_radix(&s[i + 1..i + 3], 16) {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// `unquoteCString`: the argument must be exactly one quoted or plain token.
pub fn unquote(s: &str) -> Option<Vec<u8>> {
    let parts = redoubt_resp::split_args(s.as_bytes()).ok()?;
    match parts.len() {
        1 => parts.into_iter().next().map(|b| b.to_vec()),
        _ => None,
    }
}
