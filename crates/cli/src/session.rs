//! A session: the connection plus redis-cli's per-connection steps (AUTH, SELECT, HELLO 3 on
//! every connect) and `cliSendCommand`'s way of sending one command and printing its replies,
//! including the modes a command switches on (MONITOR, SUBSCRIBE).

use crate::conn::{Conn, ConnError};
use crate::opts::Options;
use crate::render::{self, Output};
use redoubt_resp::Value;
use std::io::Write;
use std::time::Duration;

pub struct Session {
    pub o: Options,
    pub conn: Option<Conn>,
    /// The database the prompt shows: the one a successful SELECT chose.
    pub dbnum: i64,
    pub interactive: bool,
    /// Inside MULTI: the prompt shows `(TX)`.
    pub in_multi: bool,
    /// The database before MULTI, restored when the transaction is discarded or fails.
    pre_multi_db: i64,
}

/// Why a command did not complete.
pub enum IssueError {
    /// The link failed: one-shot mode prints "Error: ..." and exits 1; the REPL reconnects.
    Conn(ConnError),
    /// Stop with this exit code; the message is already printed.
    Exit(u8),
}

impl Session {
    /// Connects as `cliConnect` does; on failure the error is printed and `None` returned.
    pub fn connect(o: &Options) -> Option<Session> {
        let mut s = Session::disconnected(o);
        if s.reconnect() {
            Some(s)
        } else {
            None
        }
    }

    /// A session whose link is down (the REPL starts even when the server does not answer).
    pub fn disconnected(o: &Options) -> Session {
        Session {
            o: o.clone(),
            conn: None,
            dbnum: 0,
            interactive: false,
            in_multi: false,
            pre_multi_db: 0,
        }
    }

    /// (Re)opens the link and runs the handshake; false (error printed) when it cannot.
    pub fn reconnect(&mut self) -> bool {
        let target = self.o.target();
        match Conn::open(&target) {
            Err(msg) => {
                eprint!(
                    "Could not connect to Redis at {}: {msg}\n",
                    target.describe()
                );
                self.conn = None;
                false
            }
            Ok(c) => {
                self.conn = Some(c);
                self.handshake();
                true
            }
        }
    }

    /// AUTH, SELECT and HELLO 3: a failure is reported and the session goes on, as in
    /// redis-cli (the command that follows then gets the server's own error).
    fn handshake(&mut self) {
        let Some(c) = self.conn.as_mut() else { return };
        if let Some(pass) = &self.o.auth {
            let r = match &self.o.user {
                Some(u) => c.call(&["AUTH", u.as_str(), pass.as_str()]),
                None => c.call(&["AUTH", pass.as_str()]),
            };
            match r {
                Ok(Value::Error(e)) => eprint!("AUTH failed: {e}\n"),
                Ok(_) => {}
                Err(_) => eprint!("\nI/O error\n"),
            }
        }
        if self.o.dbnum != 0 {
            let n = self.o.dbnum.to_string();
            match c.call(&["SELECT", n.as_str()]) {
                Ok(Value::Error(e)) => eprint!("SELECT {n} failed: {e}\n"),
                Ok(_) => self.dbnum = self.o.dbnum,
                Err(_) => {}
            }
        } else {
            self.dbnum = 0;
        }
        if self.o.resp3 {
            if let Ok(Value::Error(e)) = c.call(&["HELLO", "3"]) {
                eprint!("HELLO 3 failed: {e}\n");
            }
        }
    }

    pub fn conn(&mut self) -> Result<&mut Conn, IssueError> {
        self.conn
            .as_mut()
            .ok_or_else(|| IssueError::Conn(ConnError::Io("not connected".into())))
    }

    /// Reads the next reply, printing or dropping RESP3 pushes on the way (hiredis's push
    /// callback), unless `pushes_are_replies` (SUBSCRIBE mode reads them as messages).
    pub fn read(&mut self, pushes_are_replies: bool) -> Result<Value, IssueError> {
        loop {
            let v = self.conn()?.read_reply().map_err(IssueError::Conn)?;
            if matches!(v, Value::Push(_)) && !pushes_are_replies {
                if self.o.show_pushes {
                    match invalidate_line(&v) {
                        Some(line) if self.o.output == Output::Standard => {
                            let _ = std::io::stdout().lock().write_all(&line);
                        }
                        _ => self.print(&v, false)?,
                    }
                }
                continue;
            }
            return Ok(v);
        }
    }

    /// Prints one reply in the current mode; an unprintable type ends the program as in
    /// redis-cli.
    pub fn print(&self, v: &Value, verbatim: bool) -> Result<(), IssueError> {
        match render::format(
            v,
            self.o.output,
            verbatim,
            &self.o.mb_delim,
            &self.o.cmd_delim,
        ) {
            Ok(bytes) => {
                let mut out = std::io::stdout().lock();
                let _ = out.write_all(&bytes);
                Ok(())
            }
            Err(render::Unprintable(t)) => {
                let _ = std::io::stdout().flush();
                eprint!("Unknown reply type: {t}\n");
                Err(IssueError::Exit(1))
            }
        }
    }

    /// Reads and prints one reply as `cliReadReply` does; returns its value.
    fn read_and_print(&mut self, verbatim: bool, pubsub: bool) -> Result<Value, IssueError> {
        let v = self.read(pubsub)?;
        if let (true, Value::Error(e)) = (self.o.set_errcode, &v) {
            let _ = std::io::stdout().flush();
            eprint!("{e}\n");
            return Err(IssueError::Exit(1));
        }
        self.print(&v, verbatim)?;
        Ok(v)
    }

    /// `cliSendCommand`: sends `args` `repeat` times (forever when negative) and prints the
    /// replies; MONITOR and SUBSCRIBE never return but on error.
    pub fn send_command(&mut self, args: &[Vec<u8>], repeat: i64) -> Result<(), IssueError> {
        let Some(first) = args.first() else {
            return Ok(());
        };
        let cmd = String::from_utf8_lossy(first).to_ascii_lowercase();
        let sub = |i: usize| {
            args.get(i)
                .map(|a| String::from_utf8_lossy(a).to_ascii_lowercase())
                .unwrap_or_default()
        };
        let argc = args.len();
        // Commands whose text output is meant to be read as it is, even on a terminal.
        let verbatim = cmd == "info"
            || cmd == "lolwut"
            || (argc >= 2 && cmd == "debug" && (sub(1) == "htstats" || sub(1) == "htstats-key"))
            || (argc >= 2 && cmd == "memory" && (sub(1) == "malloc-stats" || sub(1) == "doctor"))
            || (argc == 2 && cmd == "cluster" && (sub(1) == "nodes" || sub(1) == "info"))
            || (argc >= 2 && cmd == "client" && (sub(1) == "list" || sub(1) == "info"))
            || (argc == 3 && cmd == "latency" && sub(1) == "graph")
            || (argc == 2 && cmd == "latency" && sub(1) == "doctor");
        let monitor = cmd == "monitor";
        let pubsub = cmd == "subscribe" || cmd == "psubscribe" || cmd == "ssubscribe";
        let mut left = repeat;
        // A negative count repeats forever, as in redis-cli.
        while left != 0 {
            if left > 0 {
                left -= 1;
            }
            self.conn()?.send(args).map_err(IssueError::Conn)?;
            if monitor {
                loop {
                    self.read_and_print(verbatim, false)?;
                    let _ = std::io::stdout().flush();
                }
            }
            if cmd == "sync" || cmd == "psync" {
                print!("Entering replica output mode...  (press Ctrl-C to quit)\n");
                let _ = std::io::stdout().flush();
                let c = self.conn()?;
                let code = crate::sync::replica(c, false);
                self.conn = None;
                return Err(IssueError::Exit(code));
            }
            if pubsub {
                if self.o.output != Output::Raw {
                    print!("Reading messages... (press Ctrl-C to quit)\n");
                }
                loop {
                    self.read_and_print(verbatim, true)?;
                    let _ = std::io::stdout().flush();
                }
            }
            let v = match self.read_and_print(verbatim, false) {
                // A SHUTDOWN that worked closes the link: that is its success.
                Err(IssueError::Conn(_)) if cmd == "shutdown" => {
                    self.conn = None;
                    return Ok(());
                }
                other => other?,
            };
            let failed = matches!(v, Value::Error(_));
            if cmd == "select" && argc == 2 && !failed {
                // Also the database a reconnection selects again.
                self.dbnum = crate::opts::atoi(&sub(1));
                self.o.dbnum = self.dbnum;
            } else if cmd == "multi" && argc == 1 && !failed {
                self.in_multi = true;
                self.pre_multi_db = self.dbnum;
            } else if cmd == "exec" && argc == 1 && self.in_multi {
                self.in_multi = false;
                if failed || v == Value::Nil {
                    self.dbnum = self.pre_multi_db;
                    self.o.dbnum = self.dbnum;
                }
            } else if cmd == "discard" && argc == 1 && !failed {
                self.in_multi = false;
                self.dbnum = self.pre_multi_db;
                self.o.dbnum = self.dbnum;
            }
            if self.o.interval_us > 0 {
                std::thread::sleep(Duration::from_micros(self.o.interval_us));
            }
            let _ = std::io::stdout().flush();
        }
        Ok(())
    }

    /// One-shot: send and print; the exit status on failure.
    pub fn issue(&mut self, args: &[Vec<u8>], repeat: i64) -> Result<(), u8> {
        match self.send_command(args, repeat) {
            Ok(()) => Ok(()),
            Err(IssueError::Exit(code)) => Err(code),
            Err(IssueError::Conn(e)) => {
                let _ = std::io::stdout().flush();
                eprint!("Error: {e}\n");
                Err(1)
            }
        }
    }
}

/// `cliFormatInvalidateTTY`: a client-tracking invalidation push, on a terminal, as
/// `-> invalidate: 'k1', 'k2'`.
fn invalidate_line(v: &Value) -> Option<Vec<u8>> {
    let Value::Push(items) = v else { return None };
    let [Value::Bulk(kind), Value::Array(keys)] = items.as_slice() else {
        return None;
    };
    if &kind[..] != b"invalidate" {
        return None;
    }
    let mut out = b"-> invalidate: ".to_vec();
    for (i, k) in keys.iter().enumerate() {
        let Value::Bulk(k) = k else { return None };
        out.push(b'\'');
        out.extend_from_slice(k);
        out.push(b'\'');
        if i + 1 < keys.len() {
            out.extend_from_slice(b", ");
        }
    }
    out.push(b'\n');
    Some(out)
}
