//! Parsing differential scripts (the format is described in `diff/mod.rs`).

use std::time::Duration;

use redoubt_resp::split_args;

/// Longest `@wait` accepted: it exists for expiry tests only, which need a few milliseconds.
pub const MAX_WAIT: Duration = Duration::from_millis(200);

/// A parsed script file.
#[derive(Clone, Debug, Default)]
pub struct Script {
    /// The file name, for messages.
    pub name: String,
    /// Run only in the RESP2 pass (`@resp2-only`).
    pub resp2_only: bool,
    /// Run only in the RESP3 pass (`@resp3-only`).
    pub resp3_only: bool,
    /// Startup directives for both servers (`@config name value`).
    pub config: Vec<(String, String)>,
    pub steps: Vec<Step>,
}

impl Script {
    /// The protocol passes this script runs in.
    pub fn passes(&self) -> Vec<u8> {
        match (self.resp2_only, self.resp3_only) {
            (true, false) => vec![2],
            (false, true) => vec![3],
            _ => vec![2, 3],
        }
    }

    /// Steps that send something and compare replies (not `@conn`, `@close`, `@wait`).
    pub fn comparing_steps(&self) -> usize {
        self.steps
            .iter()
            .filter(|s| !matches!(s.action, Action::Conn(_) | Action::Close | Action::Wait(_)))
            .count()
    }
}

/// One line of a script.
#[derive(Clone, Debug, PartialEq)]
pub struct Step {
    /// 1-based line number.
    pub line: usize,
    /// The line as written, for messages.
    pub text: String,
    pub action: Action,
    pub compare: Compare,
    /// Number of replies to read (`@replies=N`, `@read N`); 1 by default.
    pub replies: usize,
    /// Field names whose values are masked before comparing (`@mask=a,b`).
    pub mask: Vec<Vec<u8>>,
    /// Run only when the connection speaks this protocol (`@if-resp2`, `@if-resp3`).
    pub only_proto: Option<u8>,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Action {
    /// Send the arguments as a multibulk.
    Command(Vec<Vec<u8>>),
    /// `@resp2`, `@resp3`: HELLO 2/3, compared with server, version and id masked.
    Hello(u8),
    /// `@conn NAME`: later lines use this connection.
    Conn(String),
    /// `@close`: close the current connection.
    Close,
    /// `@raw`: send bytes, then a PING barrier; compare everything up to the barrier's reply.
    Raw(Vec<u8>),
    /// `@raw-close`: send bytes; compare everything until the server closes the connection.
    RawClose(Vec<u8>),
    /// `@read N`: read N replies without sending anything.
    Read,
    /// `@wait MS`: a fixed pause, for expiry tests only.
    Wait(Duration),
}

/// How replies are compared.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Compare {
    /// Byte for byte.
    Exact,
    /// `~`: RESP types and aggregate lengths only.
    Shape,
    /// `@sorted`: byte for byte after sorting the elements of every array, set and map.
    Sorted,
}

/// Parses a script; errors name the line.
pub fn parse_script(name: &str, text: &str) -> Result<Script, String> {
    let mut script = Script {
        name: name.to_string(),
        ..Script::default()
    };
    for (i, raw_line) in text.lines().enumerate() {
        let line = i + 1;
        let err = |msg: String| format!("{name}:{line}: {msg}: {raw_line}");
        let trimmed = raw_line.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let mut args = split_args(trimmed.as_bytes())
            .map_err(|_| err("unbalanced quotes".into()))?
            .into_iter();
        let mut step = Step {
            line,
            text: trimmed.to_string(),
            action: Action::Close,
            compare: Compare::Exact,
            replies: 1,
            mask: Vec::new(),
            only_proto: None,
        };
        let mut has_modifier = false;
        let mut first = args.next().ok_or_else(|| err("no arguments".into()))?;
        // Leading modifiers.
        loop {
            if first == b"~" {
                step.compare = Compare::Shape;
            } else if first.len() > 1 && first[0] == b'~' {
                step.compare = Compare::Shape;
                first.remove(0);
                has_modifier = true;
                break;
            } else if first == b"@sorted" {
                step.compare = Compare::Sorted;
            } else if let Some(n) = first.strip_prefix(b"@replies=") {
                step.replies = std::str::from_utf8(n)
                    .ok()
                    .and_then(|n| n.parse().ok())
                    .ok_or_else(|| err("bad @replies count".into()))?;
            } else if let Some(fields) = first.strip_prefix(b"@mask=") {
                step.mask = fields.split(|&b| b == b',').map(<[u8]>::to_vec).collect();
            } else if first == b"@if-resp2" {
                step.only_proto = Some(2);
            } else if first == b"@if-resp3" {
                step.only_proto = Some(3);
            } else {
                break;
            }
            has_modifier = true;
            first = args
                .next()
                .ok_or_else(|| err("modifiers without a command".into()))?;
        }
        let rest: Vec<Vec<u8>> = args.collect();
        let one_arg = |rest: &[Vec<u8>]| -> Result<Vec<u8>, String> {
            match rest {
                [a] => Ok(a.clone()),
                _ => Err(err("expected exactly one argument".into())),
            }
        };
        let header = |script: &Script, has_modifier: bool| -> Result<(), String> {
            if has_modifier || !script.steps.is_empty() {
                return Err(err(
                    "headers come before the first step, without modifiers".into()
                ));
            }
            Ok(())
        };
        step.action = match first.as_slice() {
            b"@resp2-only" => {
                header(&script, has_modifier)?;
                script.resp2_only = true;
                continue;
            }
            b"@resp3-only" => {
                header(&script, has_modifier)?;
                script.resp3_only = true;
                continue;
            }
            b"@config" => {
                header(&script, has_modifier)?;
                match rest.as_slice() {
                    [n, v] => script.config.push((
                        String::from_utf8_lossy(n).into_owned(),
                        String::from_utf8_lossy(v).into_owned(),
                    )),
                    _ => return Err(err("@config takes a name and a value".into())),
                }
                continue;
            }
            b"@resp2" | b"@resp3" => {
                if !rest.is_empty() {
                    return Err(err("@resp2/@resp3 take no arguments".into()));
                }
                Action::Hello(if first == b"@resp2" { 2 } else { 3 })
            }
            b"@conn" => Action::Conn(String::from_utf8_lossy(&one_arg(&rest)?).into_owned()),
            b"@close" => Action::Close,
            b"@raw" => Action::Raw(one_arg(&rest)?),
            b"@raw-close" => Action::RawClose(one_arg(&rest)?),
            b"@read" => {
                step.replies = match rest.as_slice() {
                    [] => 1,
                    [n] => std::str::from_utf8(n)
                        .ok()
                        .and_then(|n| n.parse().ok())
                        .ok_or_else(|| err("bad @read count".into()))?,
                    _ => return Err(err("@read takes at most one count".into())),
                };
                Action::Read
            }
            b"@wait" => {
                let ms: u64 = std::str::from_utf8(&one_arg(&rest)?)
                    .ok()
                    .and_then(|n| n.parse().ok())
                    .ok_or_else(|| err("bad @wait milliseconds".into()))?;
                let d = Duration::from_millis(ms);
                if d > MAX_WAIT {
                    return Err(err(format!(
                        "@wait is limited to {MAX_WAIT:?} (expiry tests)"
                    )));
                }
                Action::Wait(d)
            }
            other if other.starts_with(b"@") => {
                return Err(err("unknown directive".into()));
            }
            _ => {
                let mut argv = vec![first];
                argv.extend(rest);
                Action::Command(argv)
            }
        };
        if matches!(
            step.action,
            Action::Conn(_) | Action::Close | Action::Wait(_)
        ) && has_modifier
            && step.only_proto.is_none()
        {
            return Err(err("this directive takes no modifiers".into()));
        }
        script.steps.push(step);
    }
    Ok(script)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_form() {
        let text = r#"
# comment
@resp2-only
@config maxmemory 10mb

SET k "a b\x00"
~TIME
~ CLIENT ID
@sorted KEYS *
@replies=3 SUBSCRIBE a b c
@if-resp3 @replies=2 PUBLISH a x
@mask=id,addr CLIENT INFO
@resp3
@conn other
@read 2
@raw "PING\r\n"
@raw-close "*1\r\n$-5\r\n"
@wait 20
@close
"#;
        let s = parse_script("t.txt", text).expect("valid");
        assert!(s.resp2_only && !s.resp3_only);
        assert_eq!(s.config, [("maxmemory".to_string(), "10mb".to_string())]);
        let a: Vec<&Action> = s.steps.iter().map(|s| &s.action).collect();
        assert_eq!(
            a[0],
            &Action::Command(vec![b"SET".to_vec(), b"k".to_vec(), b"a b\x00".to_vec()])
        );
        assert_eq!(s.steps[0].line, 6);
        assert_eq!(s.steps[1].compare, Compare::Shape);
        assert_eq!(a[1], &Action::Command(vec![b"TIME".to_vec()]));
        assert_eq!(s.steps[2].compare, Compare::Shape);
        assert_eq!(s.steps[3].compare, Compare::Sorted);
        assert_eq!(s.steps[4].replies, 3);
        assert_eq!(s.steps[5].only_proto, Some(3));
        assert_eq!(s.steps[5].replies, 2);
        assert_eq!(s.steps[6].mask, [b"id".to_vec(), b"addr".to_vec()]);
        assert_eq!(a[7], &Action::Hello(3));
        assert_eq!(a[8], &Action::Conn("other".into()));
        assert_eq!((a[9], s.steps[9].replies), (&Action::Read, 2));
        assert_eq!(a[10], &Action::Raw(b"PING\r\n".to_vec()));
        assert_eq!(a[11], &Action::RawClose(b"*1\r\n$-5\r\n".to_vec()));
        assert_eq!(a[12], &Action::Wait(Duration::from_millis(20)));
        assert_eq!(a[13], &Action::Close);
        assert_eq!(s.comparing_steps(), 11);
        assert_eq!(s.passes(), [2]);
    }

    #[test]
    fn rejects_mistakes() {
        for bad in [
            "SET \"a",
            "@nope",
            "@wait 5000",
            "@replies=x GET k",
            "GET k\n@resp2-only",
            "@raw",
            "@config a",
            "~",
            "@sorted @conn x",
        ] {
            assert!(parse_script("t", bad).is_err(), "{bad}");
        }
    }
}
