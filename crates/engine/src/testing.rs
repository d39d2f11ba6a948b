//! Test support: an engine and one client, driven without sockets.

use crate::{ClientId, ClientIo, ClientKind, Engine, RuntimeConf};
use bytes::Bytes;
use std::rc::Rc;

pub struct TestEngine {
    pub eng: Engine,
    pub id: ClientId,
    pub now_ms: i64,
}

impl Default for TestEngine {
    fn default() -> Self {
        Self::new()
    }
}

impl TestEngine {
    pub fn new() -> Self {
        Self::with_table(Rc::new(crate::table::Table::build()))
    }

    /// A test engine on a command table built once (fuzzers: building one dominates).
    pub fn with_table(table: Rc<crate::table::Table>) -> Self {
        // Tests use DEBUG DIGEST freely; production defaults refuse DEBUG as Redis 7.0 does.
        let conf = RuntimeConf {
            enable_debug_command: crate::Protected::Yes,
            ..RuntimeConf::default()
        };
        let mut eng = Engine::with_table(conf, 42, table);
        let id = eng.add_client(ClientKind::Normal, Rc::new(ClientIo::default()), 1_000_000);
        TestEngine {
            eng,
            id,
            now_ms: 1_700_000_000_000,
        }
    }

    /// Runs one command (split like redis-cli would) and returns the raw reply bytes.
    pub fn run(&mut self, line: &str) -> Vec<u8> {
        let args = redoubt_resp::split_args(line.as_bytes()).expect("balanced test command");
        self.run_args(args.into_iter().map(Bytes::from).collect())
    }

    pub fn run_args(&mut self, args: Vec<Bytes>) -> Vec<u8> {
        let mut c = self.eng.take_client(self.id).expect("test client exists");
        self.eng.execute(&mut c, args, self.now_ms);
        let out = c.out.buf.split().to_vec();
        self.eng.put_client(c);
        out
    }

    /// Connects a fresh client when the engine closed the test client (a command can end its
    /// own connection: PSYNC then FAILOVER turns it into a replica that the role change
    /// drops, as Redis drops its replicas). Returns whether it had to.
    pub fn reconnect_if_closed(&mut self) -> bool {
        match self.eng.take_client(self.id) {
            Some(c) => {
                self.eng.put_client(c);
                false
            }
            None => {
                self.id = self.eng.add_client(
                    ClientKind::Normal,
                    Rc::new(ClientIo::default()),
                    self.now_ms,
                );
                true
            }
        }
    }

    /// Connects another (normal) client.
    pub fn add_client(&mut self) -> ClientId {
        self.eng.add_client(
            ClientKind::Normal,
            Rc::new(ClientIo::default()),
            self.now_ms,
        )
    }

    /// What the client's reply buffer holds, taken out (as its connection would write it).
    pub fn take_out(&mut self, id: ClientId) -> Vec<u8> {
        let c = self.eng.clients.get_mut(&id).expect("client exists");
        c.out.buf.split().to_vec()
    }

    /// Runs one command on another client of this engine and returns its raw reply.
    pub fn run_on(&mut self, id: ClientId, line: &str) -> Vec<u8> {
        let args = redoubt_resp::split_args(line.as_bytes()).expect("balanced test command");
        let mut c = self.eng.take_client(id).expect("client exists");
        self.eng.execute(
            &mut c,
            args.into_iter().map(Bytes::from).collect(),
            self.now_ms,
        );
        let out = c.out.buf.split().to_vec();
        self.eng.put_client(c);
        out
    }

    /// Attaches `n` replica clients through a whole diskless full sync (handshake, PSYNC,
    /// the snapshot walked to its end, payload drained, first ACK): they come back online,
    /// with empty output buffers. Sets `repl-diskless-sync-delay 0` so the snapshot starts at
    /// the end of the batch.
    pub fn attach_replicas(&mut self, n: usize) -> Vec<ClientId> {
        self.run("CONFIG SET repl-diskless-sync-delay 0");
        let mut reps = Vec::new();
        for i in 0..n {
            let r = self.add_client();
            self.run_on(r, &format!("REPLCONF listening-port {}", 7000 + i));
            self.run_on(r, "REPLCONF capa eof capa psync2");
            assert!(
                self.run_on(r, "PSYNC ? -1").is_empty(),
                "nothing before the snapshot"
            );
            reps.push(r);
        }
        self.stream();
        for &r in &reps {
            let c = self.eng.clients.get_mut(&r).expect("replica");
            let out = c.out.buf.split().to_vec();
            assert!(
                out.starts_with(b"+FULLRESYNC"),
                "{:?}",
                String::from_utf8_lossy(&out)
            );
        }
        // Walk the snapshot to its end, draining the payload queues it fills (the slowest
        // replica paces it, so a full queue makes it wait).
        let now = self.now_ms;
        let mut rounds = 0;
        while self.eng.bgsave_work(now, 1) != crate::commands::bgsave::Work::Idle {
            for &r in &reps {
                let io = self.eng.clients.get(&r).expect("replica").io.clone();
                while io.bulk.borrow_mut().pop().is_some() {}
            }
            rounds += 1;
            assert!(rounds < 1_000_000, "the sync snapshot never ended");
        }
        for &r in &reps {
            let io = self.eng.clients.get(&r).expect("replica").io.clone();
            while io.bulk.borrow_mut().pop().is_some() {}
            self.run_on(r, "REPLCONF ACK 0");
            let c = self.eng.clients.get_mut(&r).expect("replica");
            c.out.buf.clear();
        }
        self.stream();
        for &r in &reps {
            self.eng
                .clients
                .get_mut(&r)
                .expect("replica")
                .out
                .buf
                .clear();
        }
        reps
    }

    /// Runs a command and returns the reply as text with CRLF shown as `|`.
    pub fn text(&mut self, line: &str) -> String {
        String::from_utf8_lossy(&self.run(line)).replace("\r\n", "|")
    }

    /// The replication stream produced since the last call.
    pub fn stream(&mut self) -> Vec<u8> {
        self.eng.end_batch().to_vec()
    }

    /// The stream since the last call as commands, one per line, arguments space-separated.
    pub fn stream_cmds(&mut self) -> String {
        stream_lines(&self.stream()).join("\n")
    }
}

/// The commands of a replication stream (or AOF), one string each, arguments
/// space-separated (lossy UTF-8): for comparing streams in tests.
pub fn stream_lines(bytes: &[u8]) -> Vec<String> {
    decode_stream(bytes)
        .iter()
        .map(|c| {
            c.iter()
                .map(|a| String::from_utf8_lossy(a).into_owned())
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect()
}

/// Splits replication stream bytes into commands.
pub fn decode_stream(bytes: &[u8]) -> Vec<Vec<Bytes>> {
    let mut buf = bytes::BytesMut::from(bytes);
    let mut dec = redoubt_resp::RequestDecoder::new();
    let mut out = Vec::new();
    while let Some(r) = dec
        .decode(&mut buf, &redoubt_resp::DecodeLimits::default())
        .expect("the stream is valid RESP")
    {
        out.push(r.args);
    }
    assert!(buf.is_empty(), "the stream ends on a command boundary");
    out
}

/// Server hooks whose BGSAVE writes its image into memory (each new image replaces the
/// last), for tests that take snapshots without a server.
pub struct MemHooks(pub std::rc::Rc<std::cell::RefCell<Vec<u8>>>);

impl crate::hooks::ServerHooks for MemHooks {
    fn chdir(&self, _dir: &str) -> Result<String, String> {
        Err("no".into())
    }
    fn rewrite_config(&self, _p: &str, _c: &redoubt_config::Config) -> Result<(), String> {
        Err("no".into())
    }
    fn rebind(&self, _c: &redoubt_config::Config) -> Result<(), String> {
        Err("no".into())
    }
    fn settings_changed(&self, _c: &redoubt_config::Config) {}
    fn rdb_sink(
        &self,
        _f: &str,
        checksum: bool,
    ) -> Result<Box<dyn crate::snapshot::SnapshotSink>, String> {
        self.0.borrow_mut().clear();
        Ok(Box::new(crate::snapshot::MemorySink::new(
            self.0.clone(),
            checksum,
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_builds_and_basic_commands_answer() {
        let mut t = TestEngine::new();
        assert_eq!(t.text("PING"), "+PONG|");
        assert_eq!(t.text("SET k v EX 10"), "+OK|");
        assert_eq!(t.text("GET k"), "$1|v|");
        assert_eq!(
            t.text("GET"),
            "-ERR wrong number of arguments for 'get' command|"
        );
        assert_eq!(
            t.text("NOPE a b"),
            "-ERR unknown command 'NOPE', with args beginning with: 'a' 'b' |"
        );
        let s = String::from_utf8_lossy(&t.stream()).replace("\r\n", "|");
        assert_eq!(
            s,
            "*2|$6|SELECT|$1|0|*5|$3|SET|$1|k|$1|v|$4|PXAT|$13|1700000010000|"
        );
    }

    #[test]
    fn every_table_entry_can_run() {
        // Table lint: a top-level entry without a handler must be a container whose
        // subcommands carry the handlers (else the command would be listed but unrunnable).
        let t = TestEngine::new();
        for cmd in t.eng.table.iter() {
            assert!(
                cmd.handler.is_some() || cmd.is_container(),
                "{} has no handler",
                cmd.name
            );
        }
    }
}
