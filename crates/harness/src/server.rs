//! Starting and stopping `redis-server` and `redoubt-server` processes.
//!
//! Both take the same command line (`binary [config-file] [--directive value ...]`), so one
//! builder drives either. Every process runs in its own temp dir, listens on 127.0.0.1 only,
//! and is killed by PID when its [`ServerProcess`] is dropped, panicking or not.

use std::collections::HashSet;
use std::ffi::OsString;
use std::fs::File;
use std::io::{self, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context};
use tempfile::TempDir;

use crate::conn::RawConn;

/// Which server a [`ServerProcess`] runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Flavor {
    /// The real `redis-server` 7.0 from PATH: the oracle.
    Redis,
    /// Our `redoubt-server`.
    Redoubt,
}

impl Flavor {
    /// The binary's name, for messages.
    pub fn name(self) -> &'static str {
        match self {
            Flavor::Redis => "redis-server",
            Flavor::Redoubt => "redoubt-server",
        }
    }

    /// Where the binary is, or an error that explains how to provide it.
    pub fn binary(self) -> anyhow::Result<PathBuf> {
        match self {
            Flavor::Redis => redis_binary(),
            Flavor::Redoubt => redoubt_binary(),
        }
    }
}

/// How long [`ServerProcess::start`] waits for the first PING answer.
const START_TIMEOUT: Duration = Duration::from_secs(10);
/// How long [`ServerProcess::stop`] waits after SIGTERM before SIGKILL.
const STOP_TIMEOUT: Duration = Duration::from_secs(10);
/// Attempts with a fresh port when another process took ours between probe and bind.
const PORT_ATTEMPTS: usize = 5;

/// The oracle: `$REDIS_SERVER_BIN`, else `redis-server` from PATH; it must be Redis 7.0.
/// A missing or wrong oracle is an error, never a reason to skip.
pub fn redis_binary() -> anyhow::Result<PathBuf> {
    static FOUND: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    FOUND
        .get_or_init(|| find_redis().map_err(|e| format!("{e:#}")))
        .clone()
        .map_err(|e| anyhow!(e))
}

fn find_redis() -> anyhow::Result<PathBuf> {
    let path = match std::env::var_os("REDIS_SERVER_BIN") {
        Some(p) => {
            let p = PathBuf::from(p);
            if !p.is_file() {
                bail!("REDIS_SERVER_BIN={} is not a file", p.display());
            }
            p
        }
        None => search_path("redis-server").ok_or_else(|| {
            anyhow!(
                "redis-server is not installed (not found in PATH). It is the test oracle \
                 (Redis 7.0.15) and these tests cannot run without it: install it (Debian: \
                 apt-get install redis-server; the project's test command does this) or set \
                 REDIS_SERVER_BIN. A missing oracle is a failure, not a skip."
            )
        })?,
    };
    let out = Command::new(&path)
        .arg("--version")
        .output()
        .with_context(|| format!("running {} --version", path.display()))?;
    let version = String::from_utf8_lossy(&out.stdout).into_owned();
    if !version.contains(" v=7.0.") {
        bail!(
            "{} is not Redis 7.0 ({}); the oracle must be Redis 7.0 (7.0.15 expected), since \
             replies differ between versions",
            path.display(),
            version.trim()
        );
    }
    Ok(path)
}

pub(crate) fn search_path(name: &str) -> Option<PathBuf> {
    let paths = std::env::var_os("PATH")?;
    std::env::split_paths(&paths)
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
}

/// Our server: `$REDOUBT_SERVER_BIN`, else `redoubt-server` next to the test executable
/// (`target/<profile>/`, as ripgrep's tests find theirs); an error if it is not there.
pub fn redoubt_binary() -> anyhow::Result<PathBuf> {
    if let Some(p) = std::env::var_os("REDOUBT_SERVER_BIN") {
        let p = PathBuf::from(p);
        if !p.is_file() {
            bail!("REDOUBT_SERVER_BIN={} is not a file", p.display());
        }
        return Ok(p);
    }
    let exe = std::env::current_exe().context("locating the test executable")?;
    let mut dir = exe.parent().map(Path::to_path_buf).unwrap_or_default();
    // Test executables live in target/<profile>/deps, examples in target/<profile>/examples.
    if dir.ends_with("deps") || dir.ends_with("examples") {
        dir.pop();
    }
    let bin = dir.join("redoubt-server");
    if !bin.is_file() {
        bail!(
            "redoubt-server not found at {} (next to the test executable {}). Build it first \
             (`cargo build -p redoubt-server`; `cargo test -p redoubt-server` builds it) or set \
             REDOUBT_SERVER_BIN. A missing server binary is a failure, not a skip.",
            bin.display(),
            exe.display()
        );
    }
    Ok(bin)
}

/// Options for starting a server; [`ServerProcess::start`] is the short form.
#[derive(Clone, Debug)]
pub struct ServerBuilder {
    flavor: Flavor,
    binary: Option<PathBuf>,
    directives: Vec<(String, String)>,
    config: Option<String>,
    config_name: String,
    extra_args: Vec<String>,
    defaults: bool,
    log_name: Option<String>,
    start_timeout: Duration,
}

impl ServerBuilder {
    /// Uses this binary instead of the flavor's usual one.
    pub fn binary(mut self, path: impl Into<PathBuf>) -> Self {
        self.binary = Some(path.into());
        self
    }

    /// Adds `--name value` to the command line; it replaces the harness default of the same
    /// name (`port`, `bind`, `dir`, `save`, `appendonly`, `logfile`, `daemonize`).
    pub fn directive(mut self, name: &str, value: &str) -> Self {
        self.directives.push((name.to_string(), value.to_string()));
        self
    }

    pub fn directives(mut self, list: &[(&str, &str)]) -> Self {
        for (n, v) in list {
            self = self.directive(n, v);
        }
        self
    }

    /// Writes `text` to `<dir>/server.conf` and passes it as the config file. Directives named
    /// in it also replace the harness defaults (command-line options would override them).
    pub fn config_file(mut self, text: &str) -> Self {
        self.config = Some(text.to_string());
        self
    }

    /// The config file's name inside the server's dir (`server.conf` unless told).
    pub fn config_name(mut self, name: &str) -> Self {
        self.config_name = name.to_string();
        self
    }

    /// Adds an argument after the config file, as given (`--sentinel`).
    pub fn arg(mut self, arg: &str) -> Self {
        self.extra_args.push(arg.to_string());
        self
    }

    /// Adds none of the harness defaults to the command line: the config file says everything,
    /// so a process restarted with it (after a CONFIG REWRITE) runs from that file alone. The
    /// file must then name a port (a fixed port is never retried).
    pub fn no_defaults(mut self) -> Self {
        self.defaults = false;
        self
    }

    /// Where the config file sends the log, relative to the server's dir (the process's cwd),
    /// so that [`ServerProcess::log`] reads it.
    pub fn log_name(mut self, name: &str) -> Self {
        self.log_name = Some(name.to_string());
        self
    }

    pub fn start_timeout(mut self, timeout: Duration) -> Self {
        self.start_timeout = timeout;
        self
    }

    pub fn start(self) -> anyhow::Result<ServerProcess> {
        let binary = match &self.binary {
            Some(b) => b.clone(),
            None => self.flavor.binary()?,
        };
        let mut dir = tempfile::Builder::new()
            .prefix(&format!("{}-", self.flavor.name()))
            .tempdir()
            .context("creating the server's temp dir")?;
        let dir_path = dir.path().to_path_buf();

        let mut overridden: HashSet<String> = self
            .directives
            .iter()
            .map(|(n, _)| n.to_ascii_lowercase())
            .collect();
        let mut config_port = None;
        let config_path = match &self.config {
            Some(text) => {
                for line in text.lines() {
                    if let Ok(args) = redoubt_resp::split_args(line.as_bytes()) {
                        if let Some(name) = args.first() {
                            let name = String::from_utf8_lossy(name).to_ascii_lowercase();
                            if name == "port" {
                                config_port = args.get(1).map(|v| v.to_vec());
                            }
                            overridden.insert(name);
                        }
                    }
                }
                let p = dir_path.join(&self.config_name);
                std::fs::write(&p, text)
                    .with_context(|| format!("writing {}", self.config_name))?;
                Some(p)
            }
            None => None,
        };

        // A port chosen by the test (or its config file) is used as is; ours may be retried.
        let fixed_port = match self
            .directives
            .iter()
            .rev()
            .find(|(n, _)| n.eq_ignore_ascii_case("port"))
        {
            Some((_, v)) => Some(v.parse::<u16>().with_context(|| format!("port {v:?}"))?),
            None => match config_port {
                Some(v) => Some(
                    String::from_utf8_lossy(&v)
                        .parse::<u16>()
                        .context("port in the config file")?,
                ),
                None => None,
            },
        };
        let unixsocket = self
            .directives
            .iter()
            .rev()
            .find(|(n, _)| n.eq_ignore_ascii_case("unixsocket"))
            .map(|(_, v)| dir_path.join(v));
        if fixed_port == Some(0) && unixsocket.is_none() {
            bail!("port 0 disables TCP: give a unixsocket directive so readiness can be checked");
        }
        let log_path = match self
            .log_name
            .as_ref()
            .map(|n| (String::new(), n.clone()))
            .or_else(|| {
                self.directives
                    .iter()
                    .rev()
                    .find(|(n, _)| n.eq_ignore_ascii_case("logfile"))
                    .cloned()
            }) {
            Some((_, v)) if v.is_empty() => dir_path.join("stdout.log"),
            Some((_, v)) => dir_path.join(v),
            None if overridden.contains("logfile") => dir_path.join("stdout.log"),
            None => dir_path.join("server.log"),
        };

        let mut last_err = None;
        for _ in 0..PORT_ATTEMPTS {
            let port = match fixed_port {
                Some(p) => p,
                None => free_port()?,
            };
            let mut args: Vec<OsString> = Vec::new();
            if let Some(p) = &config_path {
                args.push(p.clone().into());
            }
            let defaults: [(&str, OsString); 7] = [
                ("port", port.to_string().into()),
                ("bind", "127.0.0.1".into()),
                ("dir", dir_path.clone().into()),
                ("save", "".into()),
                ("appendonly", "no".into()),
                ("logfile", dir_path.join("server.log").into()),
                ("daemonize", "no".into()),
            ];
            for a in &self.extra_args {
                args.push(a.into());
            }
            for (name, value) in defaults {
                if self.defaults && !overridden.contains(name) {
                    args.push(format!("--{name}").into());
                    args.push(value);
                }
            }
            for (name, value) in &self.directives {
                args.push(format!("--{name}").into());
                args.push(value.into());
            }
            let mut server = ServerProcess {
                flavor: self.flavor,
                binary: binary.clone(),
                dir: Some(dir),
                dir_path: dir_path.clone(),
                args,
                port,
                unixsocket: unixsocket.clone(),
                log_path: log_path.clone(),
                child: None,
                start_timeout: self.start_timeout,
            };
            match server.spawn_and_wait() {
                Ok(()) => return Ok(server),
                Err(e) => {
                    let port_taken = fixed_port.is_none()
                        && (server.log().contains("Address already in use")
                            || server.stderr().contains("Address already in use"));
                    // Take the dir back before `server` drops, so a retry reuses it.
                    dir = server.dir.take().expect("the dir is kept until drop");
                    if !port_taken {
                        return Err(e);
                    }
                    last_err = Some(e);
                }
            }
        }
        Err(last_err.unwrap_or_else(|| anyhow!("no attempt made")))
            .context(format!("no free port after {PORT_ATTEMPTS} attempts"))
    }
}

/// Asks the kernel for a free loopback port. Another process may take it before the server
/// binds it; [`ServerBuilder::start`] then retries with a new one. Never 0: in Redis,
/// `port 0` disables TCP.
fn free_port() -> anyhow::Result<u16> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").context("probing a free port")?;
    let port = listener.local_addr()?.port();
    assert_ne!(port, 0, "the kernel never assigns port 0");
    Ok(port)
}

/// A running server in its own temp dir, killed when dropped.
pub struct ServerProcess {
    flavor: Flavor,
    binary: PathBuf,
    /// `None` only while [`ServerBuilder::start`] takes it back for a retry, or once kept.
    dir: Option<TempDir>,
    dir_path: PathBuf,
    args: Vec<OsString>,
    port: u16,
    unixsocket: Option<PathBuf>,
    log_path: PathBuf,
    child: Option<Child>,
    start_timeout: Duration,
}

impl ServerProcess {
    /// Starts `flavor` with the harness defaults plus `directives` (which replace defaults
    /// of the same name) and waits until it answers PING.
    pub fn start(flavor: Flavor, directives: &[(&str, &str)]) -> anyhow::Result<Self> {
        Self::builder(flavor).directives(directives).start()
    }

    pub fn builder(flavor: Flavor) -> ServerBuilder {
        ServerBuilder {
            flavor,
            binary: None,
            directives: Vec::new(),
            config: None,
            config_name: "server.conf".to_string(),
            extra_args: Vec::new(),
            defaults: true,
            log_name: None,
            start_timeout: START_TIMEOUT,
        }
    }

    pub fn flavor(&self) -> Flavor {
        self.flavor
    }

    /// The TCP port (0 when TCP is disabled).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The PID of the running process; panics if it was stopped.
    #[track_caller]
    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("the server is not running").id()
    }

    /// The server's temp dir (its `dir`, where RDB and AOF files go).
    pub fn dir(&self) -> &Path {
        &self.dir_path
    }

    /// The command line after the binary, for messages and restarts.
    pub fn args(&self) -> &[OsString] {
        &self.args
    }

    /// The log file's contents so far (empty if there is none yet).
    pub fn log(&self) -> String {
        read_lossy(&self.log_path)
    }

    /// What the process wrote to stderr (a FATAL CONFIG error goes there, not to the log).
    pub fn stderr(&self) -> String {
        read_lossy(&self.dir_path.join("stderr.log"))
    }

    /// What the process wrote to stdout.
    pub fn stdout(&self) -> String {
        read_lossy(&self.dir_path.join("stdout.log"))
    }

    /// A new client connection.
    pub fn connect(&self) -> anyhow::Result<RawConn> {
        RawConn::connect(self.port)
            .with_context(|| format!("connecting to {} on port {}", self.flavor.name(), self.port))
    }

    /// Whether the process is still running (it is reaped if it has exited).
    pub fn is_running(&mut self) -> bool {
        match self.child.as_mut().map(|c| c.try_wait()) {
            Some(Ok(None)) => true,
            Some(Ok(Some(_))) | Some(Err(_)) | None => false,
        }
    }

    /// Sends a signal (SIGINT, SIGSTOP...) to the running process.
    pub fn signal(&mut self, sig: i32) -> anyhow::Result<()> {
        let child = self
            .child
            .as_mut()
            .ok_or_else(|| anyhow!("the server is not running"))?;
        if child.try_wait()?.is_some() {
            bail!("the server has already exited");
        }
        send_signal(child.id(), sig).context("kill(2)")
    }

    /// SIGTERM, then waits for the exit; SIGKILL if it takes longer than 10 s (which is
    /// itself reported as an error, with the log).
    pub fn stop(&mut self) -> anyhow::Result<ExitStatus> {
        let Some(mut child) = self.child.take() else {
            bail!("the server is not running");
        };
        if let Some(status) = child.try_wait()? {
            return Ok(status);
        }
        send_signal(child.id(), libc::SIGTERM).context("sending SIGTERM")?;
        let deadline = Instant::now() + STOP_TIMEOUT;
        let mut pause = Duration::from_millis(1);
        while Instant::now() < deadline {
            if let Some(status) = child.try_wait()? {
                return Ok(status);
            }
            std::thread::sleep(pause);
            pause = (pause * 2).min(Duration::from_millis(50));
        }
        let _ = child.kill();
        let _ = child.wait();
        bail!(
            "{} did not exit within {STOP_TIMEOUT:?} of SIGTERM and was killed; log tail:\n{}",
            self.flavor.name(),
            tail(&self.log(), 30)
        )
    }

    /// SIGKILL and reap: a crash, for recovery tests.
    pub fn kill9(&mut self) -> anyhow::Result<ExitStatus> {
        let mut child = self
            .child
            .take()
            .ok_or_else(|| anyhow!("the server is not running"))?;
        if let Some(status) = child.try_wait()? {
            return Ok(status);
        }
        child.kill().context("SIGKILL")?;
        Ok(child.wait()?)
    }

    /// Waits for the process to exit by itself (after SHUTDOWN, say) and reaps it; an error
    /// if it is still running at the deadline (it is left running).
    pub fn wait_exit(&mut self, timeout: Duration) -> anyhow::Result<ExitStatus> {
        let deadline = Instant::now() + timeout;
        let mut pause = Duration::from_millis(1);
        loop {
            let child = self
                .child
                .as_mut()
                .ok_or_else(|| anyhow!("the server is not running"))?;
            if let Some(status) = child.try_wait()? {
                self.child = None;
                return Ok(status);
            }
            if Instant::now() >= deadline {
                bail!("{} still running after {timeout:?}", self.flavor.name());
            }
            std::thread::sleep(pause);
            pause = (pause * 2).min(Duration::from_millis(50));
        }
    }

    /// Starts the process again, stopped or killed before, with the same command line, dir
    /// and port, and waits until it answers PING.
    pub fn restart(&mut self) -> anyhow::Result<()> {
        if self.is_running() {
            bail!("restart: the server is still running; stop() or kill9() it first");
        }
        self.child = None;
        self.spawn_and_wait()
    }

    /// Leaves the temp dir on disk when this value is dropped, and returns its path.
    pub fn keep_dir(&mut self) -> PathBuf {
        if let Some(d) = self.dir.take() {
            let _ = d.keep();
        }
        self.dir_path.clone()
    }

    fn spawn_and_wait(&mut self) -> anyhow::Result<()> {
        let stdout = File::create(self.dir_path.join("stdout.log"))?;
        let stderr = File::create(self.dir_path.join("stderr.log"))?;
        let child = Command::new(&self.binary)
            .args(&self.args)
            .current_dir(&self.dir_path)
            .stdin(Stdio::null())
            .stdout(stdout)
            .stderr(stderr)
            .spawn()
            .with_context(|| format!("spawning {}", self.binary.display()))?;
        self.child = Some(child);
        let deadline = Instant::now() + self.start_timeout;
        let mut pause = Duration::from_millis(1);
        loop {
            let child = self.child.as_mut().expect("just spawned");
            if let Some(status) = child.try_wait()? {
                self.child = None;
                bail!(
                    "{} exited during startup ({status}).\ncommand: {}\nstderr:\n{}\nlog tail:\n{}",
                    self.flavor.name(),
                    self.command_line(),
                    tail(&self.stderr(), 20),
                    tail(&self.log(), 30)
                );
            }
            if self.answers_ping() {
                return Ok(());
            }
            if Instant::now() >= deadline {
                if let Some(mut c) = self.child.take() {
                    let _ = c.kill();
                    let _ = c.wait();
                }
                bail!(
                    "{} did not answer PING within {:?}.\ncommand: {}\nstderr:\n{}\nlog tail:\n{}",
                    self.flavor.name(),
                    self.start_timeout,
                    self.command_line(),
                    tail(&self.stderr(), 20),
                    tail(&self.log(), 30)
                );
            }
            std::thread::sleep(pause);
            pause = (pause * 2).min(Duration::from_millis(50));
        }
    }

    /// Any reply but `-LOADING` means the server is serving (`-NOAUTH` included).
    ///
    /// The probe then QUITs and waits for the close, so the server has freed this client
    /// before the test's first connection: CLIENT LIST and CLIENT KILL counts stay exact.
    fn answers_ping(&self) -> bool {
        let ping = b"*1\r\n$4\r\nPING\r\n";
        let reply = if self.port != 0 {
            let Ok(mut conn) = RawConn::connect(self.port) else {
                return false;
            };
            if conn.send(ping).is_err() {
                return false;
            }
            let reply = match conn.try_read_raw_reply(Instant::now() + Duration::from_secs(1)) {
                Ok(raw) => raw,
                Err(_) => return false,
            };
            if conn.send(b"*1\r\n$4\r\nQUIT\r\n").is_ok() {
                conn.is_closed(Instant::now() + Duration::from_secs(1));
            }
            reply
        } else {
            let Some(path) = &self.unixsocket else {
                return false;
            };
            match unix_ping(path, ping) {
                Ok(raw) => raw,
                Err(_) => return false,
            }
        };
        !reply.starts_with(b"-LOADING")
    }

    fn command_line(&self) -> String {
        let mut s = self.binary.display().to_string();
        for a in &self.args {
            s.push(' ');
            s.push_str(&crate::reply::escape(a.to_string_lossy().as_bytes()));
        }
        s
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        if std::thread::panicking() {
            eprintln!(
                "--- {} on port {} (dir {}), log tail:\n{}",
                self.flavor.name(),
                self.port,
                self.dir_path.display(),
                tail(&self.log(), 30)
            );
        }
        if std::env::var_os("REDOUBT_HARNESS_KEEP_DIRS").is_some() {
            let kept = self.keep_dir();
            eprintln!("--- kept {}", kept.display());
        }
    }
}

fn unix_ping(path: &Path, ping: &[u8]) -> io::Result<Vec<u8>> {
    let mut s = UnixStream::connect(path)?;
    s.set_read_timeout(Some(Duration::from_secs(1)))?;
    s.write_all(ping)?;
    let mut buf = Vec::new();
    let mut chunk = [0u8; 256];
    while !buf.ends_with(b"\r\n") {
        let n = s.read(&mut chunk)?;
        if n == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    Ok(buf)
}

#[allow(unsafe_code)]
fn send_signal(pid: u32, sig: i32) -> io::Result<()> {
    let pid = libc::pid_t::try_from(pid).map_err(|_| io::Error::other("pid out of range"))?;
    // SAFETY: kill(2) reads no memory of ours; it takes two integers. The pid is our own child
    // and has not been reaped (callers check try_wait first), so it cannot name another
    // process that reused the number.
    let rc = unsafe { libc::kill(pid, sig) };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

fn read_lossy(path: &Path) -> String {
    std::fs::read(path)
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_default()
}

fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}
