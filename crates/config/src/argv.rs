//! The command line of `redis-server`, as Redis 7.0.15's `main()` turns it into configuration
//! text.
//!
//! `redis-server [file] [--name value ...] [-]`: a first argument not starting with `-` is the
//! configuration file. `-` as the first or last argument reads more configuration from stdin.
//! Every `--name` starts a new line `name `; the arguments after it are appended quoted
//! (`sdscatrepr`) and space-separated, so `--save ""` becomes `save ""` and `--port 7000`
//! becomes `port "7000"`. Since 7.0.1, an argument right after a bare `--name` is its value
//! even if it starts with `--` (`--port --5` is `port "--5"`); `--save` directly followed by
//! another `--option` or at the very end means `save ""`, and `--sentinel` takes no value.
//! The text is appended after the file and stdin, after a `\n`, so option lines are numbered
//! after the file's lines in FATAL reports.

/// What `redis-server`'s arguments ask for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Invocation {
    /// `-v` or `--version` as the first argument.
    Version,
    /// `-h` or `--help` as the first argument.
    Help,
    /// `--test-memory <megabytes>`; Redis prints usage and exits 1 without the size.
    TestMemory(Option<String>),
    /// `--check-system`.
    CheckSystem,
    Run(ServerArgs),
}

/// The configuration sources of a normal start.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ServerArgs {
    /// The file as given (Redis makes it absolute with `getAbsolutePath` before loading).
    pub config_file: Option<String>,
    pub config_from_stdin: bool,
    /// Configuration text built from the `--name value` arguments.
    pub options: Vec<u8>,
    /// Whether any configuration is loaded at all: Redis skips loading when started with
    /// no arguments.
    pub load: bool,
    /// Started as `redis-sentinel` or with `--sentinel` anywhere.
    pub sentinel_mode: bool,
}

/// Interprets `argv` (including `argv[0]`) as `redis-server`'s `main()` does.
pub fn parse_server_args<A: AsRef<[u8]>>(argv: &[A]) -> Invocation {
    let arg = |j: usize| argv[j].as_ref();
    let exec_name = argv.first().map(|a| a.as_ref()).unwrap_or_default();
    let sentinel_mode = contains(exec_name, b"redis-sentinel")
        || argv.iter().skip(1).any(|a| a.as_ref() == b"--sentinel");
    let mut args = ServerArgs {
        sentinel_mode,
        ..ServerArgs::default()
    };
    if argv.len() < 2 {
        return Invocation::Run(args);
    }
    args.load = true;
    match arg(1) {
        b"-v" | b"--version" => return Invocation::Version,
        b"--help" | b"-h" => return Invocation::Help,
        b"--test-memory" => {
            return Invocation::TestMemory(
                argv.get(2)
                    .map(|a| String::from_utf8_lossy(a.as_ref()).into_owned()),
            )
        }
        b"--check-system" => return Invocation::CheckSystem,
        _ => {}
    }
    let mut j = 1;
    if arg(1).first() != Some(&b'-') {
        args.config_file = Some(String::from_utf8_lossy(arg(1)).into_owned());
        j = 2;
    }
    let argc = argv.len();
    let options = &mut args.options;
    let mut handled_last_config_arg = true;
    while j < argc {
        let a = arg(j);
        let is_option = |a: &[u8]| a.len() >= 2 && a[0] == b'-' && a[1] == b'-';
        if a == b"-" && (j == 1 || j == argc - 1) {
            args.config_from_stdin = true;
        } else if handled_last_config_arg && is_option(a) {
            if !options.is_empty() {
                options.push(b'\n');
            }
            options.extend_from_slice(&a[2..]);
            options.push(b' ');
            // "--port" alone, or "--port 6380" as one argument?
            let words = redoubt_resp::split_args(a).map(|w| w.len()).unwrap_or(0);
            if words == 1 {
                handled_last_config_arg = false;
                let next_is_option = j + 1 < argc && is_option(arg(j + 1));
                let last = j == argc - 1;
                if a.eq_ignore_ascii_case(b"--save") && next_is_option {
                    options.extend_from_slice(b"\"\"");
                    handled_last_config_arg = true;
                } else if a.eq_ignore_ascii_case(b"--save") && last {
                    options.extend_from_slice(b"\"\"");
                } else if a.eq_ignore_ascii_case(b"--sentinel") && next_is_option {
                    handled_last_config_arg = true;
                }
            } else {
                handled_last_config_arg = true;
            }
        } else {
            crate::cnum::repr(options, a);
            options.push(b' ');
            handled_last_config_arg = true;
        }
        j += 1;
    }
    Invocation::Run(args)
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// The text `loadServerConfig` parses: the file's text, then stdin's, then a newline and the
/// options.
pub fn assemble_config_text(file: Option<&[u8]>, stdin: Option<&[u8]>, options: &[u8]) -> Vec<u8> {
    let mut text = Vec::new();
    text.extend_from_slice(file.unwrap_or_default());
    text.extend_from_slice(stdin.unwrap_or_default());
    text.push(b'\n');
    text.extend_from_slice(options);
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::parse_config_text;

    fn run(args: &[&str]) -> ServerArgs {
        let mut argv = vec!["redis-server"];
        argv.extend_from_slice(args);
        match parse_server_args(&argv) {
            Invocation::Run(a) => a,
            other => panic!("{other:?}"),
        }
    }

    fn options(args: &[&str]) -> String {
        String::from_utf8(run(args).options).expect("utf8")
    }

    /// The FATAL report for a start with no file and these arguments.
    fn fatal(args: &[&str]) -> String {
        let a = run(args);
        let text = assemble_config_text(None, None, &a.options);
        parse_config_text(&text, "(command line)")
            .expect_err("fails")
            .to_string()
    }

    fn report(line_no: usize, line: &str, msg: &str) -> String {
        format!(
            "\n*** FATAL CONFIG FILE ERROR (Redis 7.0.15) ***\n\
             Reading the configuration file, at line {line_no}\n>>> '{line}'\n{msg}\n"
        )
    }

    #[test]
    fn special_invocations() {
        assert_eq!(
            parse_server_args(&["redis-server", "-v"]),
            Invocation::Version
        );
        assert_eq!(
            parse_server_args(&["redis-server", "--version", "x"]),
            Invocation::Version
        );
        assert_eq!(parse_server_args(&["redis-server", "-h"]), Invocation::Help);
        assert_eq!(
            parse_server_args(&["redis-server", "--test-memory", "10"]),
            Invocation::TestMemory(Some("10".into()))
        );
        assert_eq!(
            parse_server_args(&["redis-server", "--check-system"]),
            Invocation::CheckSystem
        );
        let Invocation::Run(a) = parse_server_args(&["redis-server"]) else {
            panic!()
        };
        assert!(!a.load);
        let Invocation::Run(a) = parse_server_args(&["/usr/bin/redis-sentinel", "s.conf"]) else {
            panic!()
        };
        assert!(a.sentinel_mode);
        assert_eq!(a.config_file.as_deref(), Some("s.conf"));
    }

    #[test]
    fn options_text() {
        assert_eq!(
            options(&["--port", "7000", "--save", ""]),
            "port \"7000\" \nsave \"\" "
        );
        assert_eq!(
            options(&["--save", "--port", "1"]),
            "save \"\"\nport \"1\" "
        );
        assert_eq!(
            options(&["--port", "1", "--save"]),
            "port \"1\" \nsave \"\""
        );
        assert_eq!(
            options(&["--sentinel", "--port", "1"]),
            "sentinel \nport \"1\" "
        );
        assert_eq!(options(&["--bind", "1", "2"]), "bind \"1\" \"2\" ");
        assert_eq!(options(&["--port 7000", "--x"]), "port 7000 \nx ");
        let a = run(&["my.conf", "--loglevel", "verbose", "-"]);
        assert_eq!(a.config_file.as_deref(), Some("my.conf"));
        assert!(a.config_from_stdin);
        assert!(run(&["-", "--port", "1"]).config_from_stdin);
    }

    #[test]
    fn reports_match_redis() {
        // `redis-server <args>` with no file, each report as printed by redis 7.0.15.
        let bad = "Bad directive or wrong number of arguments";
        let nargs = "wrong number of arguments";
        let noint = "argument couldn't be parsed into an integer";
        let cases: &[(&[&str], String)] = &[
            (
                &["--port", "1", "--foo", "bar"],
                report(3, "foo \"bar\"", bad),
            ),
            (&["--foo"], report(2, "foo", bad)),
            (&["--port"], report(2, "port", nargs)),
            (&["--port", "1", "2"], report(2, "port \"1\" \"2\"", nargs)),
            (&["--port", "1 2"], report(2, "port \"1 2\"", noint)),
            (&["--port 1", "2"], report(2, "port 1 \"2\"", nargs)),
            (&["--save", "--port", "x"], report(3, "port \"x\"", noint)),
            (
                &["--save", "", "--port", "x"],
                report(3, "port \"x\"", noint),
            ),
            (
                &["--sentinel-x", "--port", "x"],
                report(2, "sentinel-x \"--port\" \"x\"", bad),
            ),
            (
                &["--port", "a\"b", "x"],
                report(2, "port \"a\\\"b\" \"x\"", nargs),
            ),
            (
                &["--port", "a\tb\x01", "x"],
                report(2, "port \"a\\tb\\x01\" \"x\"", nargs),
            ),
            (&["--port", "", "x"], report(2, "port \"\" \"x\"", nargs)),
            (&["--", "port"], report(2, "\"port\"", nargs)),
            (&["---port"], report(2, "-port", bad)),
            (
                &["--port", "-5", "x"],
                report(2, "port \"-5\" \"x\"", nargs),
            ),
            (&["--port", "--5"], report(2, "port \"--5\"", noint)),
            (
                &["--maxmemory", "-1", "-2", "--port", "x"],
                report(2, "maxmemory \"-1\" \"-2\"", nargs),
            ),
            (&["-", "--port", "x"], report(2, "port \"x\"", noint)),
        ];
        for (args, want) in cases {
            assert_eq!(&fatal(args), want, "{args:?}");
        }
        // With a file "port 6391\n", the option lines come after the file's lines.
        let a = run(&["f.conf", "--port", "1", "--foo", "bar"]);
        let text = assemble_config_text(Some(b"port 6391\n\n"), None, &a.options);
        let err = parse_config_text(&text, "f.conf").expect_err("fails");
        assert_eq!(err.to_string(), report(5, "foo \"bar\"", bad));
    }
}
