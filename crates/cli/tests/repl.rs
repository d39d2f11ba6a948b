//! The REPL driven through a pseudo-terminal (util-linux `script` gives redoubt-cli a pty on
//! stdin and stdout; we type into script's stdin and read what the terminal shows). Checks the
//! prompt, a greyed hint from COMMAND DOCS, completion, the `[db]` and `(TX)` prompts, history
//! written (AUTH left out), CONNECT, and reconnection after a server restart, against a real
//! redis-server.

mod common;

use redoubt_harness::{wait_for, Flavor, ServerProcess};
use std::io::{Read, Write};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

const DEADLINE: Duration = Duration::from_secs(10);

struct Terminal {
    child: Child,
    input: ChildStdin,
    screen: Arc<Mutex<Vec<u8>>>,
    /// Bytes of `screen` already matched by `expect`.
    seen: usize,
}

impl Terminal {
    fn start(args: &str, histfile: &std::path::Path) -> Terminal {
        let line = format!("'{}' {args}", common::ours().to_string_lossy());
        let mut child = Command::new("script")
            .args(["-qfec", &line, "/dev/null"])
            .env("REDISCLI_HISTFILE", histfile)
            .env("REDISCLI_RCFILE", "/dev/null")
            .env("TERM", "xterm")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn script");
        let input = child.stdin.take().expect("stdin");
        let mut out = child.stdout.take().expect("stdout");
        let screen = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&screen);
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = out.read(&mut buf) {
                if n == 0 {
                    break;
                }
                sink.lock().expect("lock").extend_from_slice(&buf[..n]);
            }
        });
        Terminal {
            child,
            input,
            screen,
            seen: 0,
        }
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.screen.lock().expect("lock")).into_owned()
    }

    fn typed(&mut self, keys: &str) {
        self.input.write_all(keys.as_bytes()).expect("type");
        self.input.flush().expect("flush");
    }

    /// Waits until `what` appears after everything matched so far, and moves past it.
    fn expect(&mut self, what: &str) {
        let from = self.seen;
        wait_for(&format!("{what:?} on the terminal"), DEADLINE, || {
            self.screen.lock().expect("lock").len() > from
                && self.text().get(from..).is_some_and(|t| t.contains(what))
        });
        let t = self.text();
        let at = t[from..].find(what).unwrap_or(0);
        self.seen = from + at + what.len();
    }
}

impl Drop for Terminal {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn prompt_hints_history_and_reconnect() {
    let mut server = ServerProcess::start(Flavor::Redis, &[]).expect("start redis-server");
    let port = server.port();
    let dir = tempfile::tempdir().expect("tempdir");
    let hist = dir.path().join("history");
    let mut t = Terminal::start(&format!("-p {port}"), &hist);
    let prompt = format!("127.0.0.1:{port}> ");
    t.expect(&prompt);

    // A greyed hint, drawn as linenoise draws redis-cli's (colour 90), shrinking as we type.
    // `script` gives an 80-column terminal: the hint is cut where the line ends, exactly
    // where redis-cli's linenoise cuts it.
    t.typed("set k");
    let full = " value [NX|XX] [GET] [EX seconds|PX milliseconds|EXAT unix-time-seconds|PXAT";
    let room = 80 - prompt.len() - "set k".len();
    t.expect(&format!("\x1b[0;90;49m{}\x1b[0m", &full[..room]));
    t.typed(" v\r");
    t.expect("OK\r\n");

    // Tab completes the command name in upper case.
    t.typed("strl\t");
    t.expect("STRLEN");
    t.typed(" k\r");
    t.expect("(integer) 1\r\n");

    t.typed("select 2\r");
    t.expect(&format!("127.0.0.1:{port}[2]> "));
    t.typed("multi\r");
    t.expect(&format!("127.0.0.1:{port}[2](TX)> "));
    t.typed("discard\r");
    t.expect(&format!("127.0.0.1:{port}[2]> "));
    t.typed("auth secret\r");
    t.expect("(error) ERR AUTH");
    t.typed("3 ping\r");
    t.expect("PONG\r\nPONG\r\nPONG\r\n");

    // The server restarts: the command in flight reports the lost link, the next reconnects
    // (selecting db 2 again).
    server.stop().expect("stop");
    server.restart().expect("restart");
    t.typed("ping\r");
    t.expect("Error: Server closed the connection");
    t.typed("dbsize\r");
    t.expect("(integer) 0\r\n");
    t.expect(&format!("127.0.0.1:{port}[2]> "));

    // CONNECT to a dead port: the error and the disconnected prompt.
    let dead = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port();
    t.typed(&format!("connect 127.0.0.1 {dead}\r"));
    t.expect(&format!(
        "Could not connect to Redis at 127.0.0.1:{dead}: Connection refused"
    ));
    t.expect("not connected> ");
    t.typed(&format!("connect 127.0.0.1 {port}\r"));
    t.expect(&format!("127.0.0.1:{port}[2]> "));
    t.typed("quit\r");
    wait_for("the REPL to exit", DEADLINE, || {
        matches!(t.child.try_wait(), Ok(Some(_)))
    });

    let history = std::fs::read_to_string(&hist).expect("history file written");
    let lines: Vec<&str> = history.lines().collect();
    assert_eq!(
        lines,
        [
            "set k v",
            "STRLEN k",
            "select 2",
            "multi",
            "discard",
            "3 ping",
            "ping",
            "dbsize",
            &format!("connect 127.0.0.1 {dead}"),
            &format!("connect 127.0.0.1 {port}"),
            "quit",
        ],
        "AUTH must not be saved"
    );

    // History is loaded back: arrow-up recalls the last line.
    let mut t = Terminal::start(&format!("-p {port}"), &hist);
    t.expect(&prompt);
    t.typed("\x1b[A");
    t.expect("quit");
}

#[test]
fn starts_disconnected_when_the_server_is_down() {
    let dead = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port();
    let dir = tempfile::tempdir().expect("tempdir");
    let mut t = Terminal::start(&format!("-p {dead}"), &dir.path().join("h"));
    t.expect(&format!(
        "Could not connect to Redis at 127.0.0.1:{dead}: Connection refused"
    ));
    t.expect("not connected> ");
    t.typed("ping\r");
    t.expect(&format!(
        "Could not connect to Redis at 127.0.0.1:{dead}: Connection refused"
    ));
    t.typed("\x04");
    wait_for("the REPL to exit on EOF", DEADLINE, || {
        matches!(t.child.try_wait(), Ok(Some(_)))
    });
}

#[test]
fn askpass_masks_the_password() {
    let server = ServerProcess::start(Flavor::Redis, &[]).expect("start redis-server");
    let dir = tempfile::tempdir().expect("tempdir");
    let mut t = Terminal::start(
        &format!("-p {} --askpass PING", server.port()),
        &dir.path().join("h"),
    );
    t.expect("Please input password: ");
    t.typed("secret\r");
    t.expect("AUTH failed: ERR AUTH <password> called without any password configured");
    t.expect("PONG");
    let screen = t.text();
    assert!(
        screen.contains("Please input password: ******"),
        "{screen:?}"
    );
    assert!(
        !screen.contains("secret"),
        "the password was echoed: {screen:?}"
    );
}

/// RESP3 client-tracking pushes are shown on a terminal as redis-cli shows them.
#[test]
fn invalidation_pushes_on_a_terminal() {
    let server = ServerProcess::start(Flavor::Redis, &[]).expect("start redis-server");
    let dir = tempfile::tempdir().expect("tempdir");
    let mut t = Terminal::start(&format!("-p {} -3", server.port()), &dir.path().join("h"));
    t.expect("> ");
    t.typed("client tracking on\r");
    t.expect("OK\r\n");
    t.typed("get tk\r");
    t.expect("(nil)\r\n");
    server.connect().expect("connect").cmd(&["SET", "tk", "1"]);
    t.typed("ping\r");
    t.expect("-> invalidate: 'tk'\r\n");
    t.expect("PONG\r\n");
    t.typed("flushall\r");
    t.expect("OK\r\n");
    t.typed("ping\r");
    t.expect("1) \"invalidate\"\r\n2) (nil)\r\n");
}
