//! `redoubt up / status / watch / kill / start / down` end to end, as a user runs them: the
//! `redoubt` binary in a temp dir, the deployment's processes real and detached.
//!
//! The data nodes and Sentinels are `redoubt-server`, found as the harness finds it (next to
//! the test executable, or `$REDOUBT_SERVER_BIN`): `cargo test -p redoubt-ops` does not build
//! another package's binary, so build it first (`cargo build -p redoubt-server`;
//! `cargo test --workspace` and `./scripts/test` do). One test runs the same layout on real
//! redis-server/redis-sentinel (`--redis`), the reference.
//!
//! Every process started is killed by its recorded PID when a test ends, failing or not.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use redoubt_harness::{redoubt_binary, wait_for};
use redoubt_ops::procs;
use redoubt_ops::state::Deployment;

/// 1500 ms, not less: see `redoubt_harness::deployment::DEFAULT_DOWN_AFTER_MS` (with 1000,
/// real Sentinels now and then fail over the master they have just promoted).
const TOPOLOGY: &str = "down-after-milliseconds = 1500\nfailover-timeout = 5000\n";

fn redoubt(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_redoubt"))
        .args(args)
        .output()
        .expect("running redoubt")
}

#[track_caller]
fn must_succeed(args: &[&str]) -> String {
    let out = redoubt(args);
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "redoubt {args:?} failed: {}\nstdout:\n{stdout}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

/// Kills every recorded process of the deployment in `dir` when dropped.
struct Cleanup(PathBuf);

impl Drop for Cleanup {
    fn drop(&mut self) {
        if let Ok(d) = Deployment::load(&self.0) {
            for m in &d.members {
                if let Some(pid) = d.live_pid(m) {
                    let _ = procs::signal(pid, libc::SIGKILL);
                }
            }
        }
    }
}

/// `redoubt watch` in plain mode, its lines collected as they come.
struct Watcher {
    child: Child,
    lines: Arc<Mutex<Vec<String>>>,
}

impl Watcher {
    fn start(dir: &str) -> Watcher {
        let mut child = Command::new(env!("CARGO_BIN_EXE_redoubt"))
            .args(["watch", "--dir", dir, "--interval-ms", "100"])
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("starting redoubt watch");
        let out = child.stdout.take().expect("piped stdout");
        let lines = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&lines);
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                sink.lock().expect("lines").push(line);
            }
        });
        Watcher { child, lines }
    }

    fn has(&self, pred: impl Fn(&str) -> bool) -> bool {
        self.lines.lock().expect("lines").iter().any(|l| pred(l))
    }

    fn dump(&self) -> String {
        self.lines.lock().expect("lines").join("\n")
    }
}

impl Drop for Watcher {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn pids(d: &Deployment) -> Vec<(String, u32)> {
    d.members
        .iter()
        .map(|m| {
            let pid = d
                .pid(m)
                .unwrap_or_else(|| panic!("{} has no pid file", m.name));
            (m.name.clone(), pid)
        })
        .collect()
}

fn up(tmp: &Path, extra: &[&str]) -> (String, String) {
    let dir = tmp.join("ha");
    let topo = tmp.join("topology.conf");
    if !topo.exists() {
        std::fs::write(&topo, TOPOLOGY).expect("topology file");
    }
    let dir_s = dir.to_string_lossy().into_owned();
    let topo_s = topo.to_string_lossy().into_owned();
    let mut args = vec![
        "up",
        "--dir",
        &dir_s,
        "--topology",
        &topo_s,
        "--timeout",
        "60",
    ];
    args.extend_from_slice(extra);
    (dir_s.clone(), must_succeed(&args))
}

#[test]
fn up_status_watch_failover_start_down() {
    let server = redoubt_binary().expect("the redoubt-server binary");
    let tmp = tempfile::tempdir().expect("tempdir");
    let server_s = server.to_string_lossy().into_owned();
    let (dir, out) = up(tmp.path(), &["--server-bin", &server_s]);
    let _cleanup = Cleanup(PathBuf::from(&dir));
    let d = Deployment::load(Path::new(&dir)).expect("state file");
    assert!(out.contains("deployment \"mymaster\" is up"), "{out}");
    assert!(out.contains("redoubt-cli -p "), "{out}");
    assert_eq!(d.nodes().count(), 3);
    assert_eq!(d.sentinels().count(), 3);
    let port = |name: &str| d.member(name).expect("member").port;
    for m in &d.members {
        let conf = std::fs::read_to_string(d.member_dir(m).join(m.conf_name())).expect("conf");
        assert!(conf.contains(&format!("port {}\n", m.port)), "{conf}");
        assert!(
            d.member_dir(m).join(m.log_name()).is_file(),
            "{}: log",
            m.name
        );
    }
    let node2 = std::fs::read_to_string(
        d.member_dir(d.member("node2").expect("node2"))
            .join("redis.conf"),
    )
    .expect("conf");
    for line in [
        "replica-priority 90",
        "min-replicas-to-write 1",
        "min-replicas-max-lag 10",
        "appendonly yes",
        &format!("replicaof 127.0.0.1 {}", port("node1")),
        &format!("requirepass \"{}\"", d.password),
        &format!("masterauth \"{}\"", d.password),
    ] {
        assert!(
            node2.contains(line),
            "node2's redis.conf lacks {line:?}:\n{node2}"
        );
    }

    // The password is in these files: only their owner reads them.
    use std::os::unix::fs::PermissionsExt;
    for f in [
        Path::new(&dir).join("redoubt.state"),
        Path::new(&dir).join("node1/redis.conf"),
    ] {
        let mode = std::fs::metadata(&f)
            .expect("metadata")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "{}", f.display());
    }

    // A second `up` on a running deployment refuses instead of starting a second one.
    let again = redoubt(&["up", "--dir", &dir, "--server-bin", &server_s]);
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("already running"));

    // `up` returned only once healthy, so status shows it at once, as the Sentinels see it.
    let status = must_succeed(&["status", "--dir", &dir]);
    assert!(
        status.contains(&format!("master: node1 127.0.0.1:{}", port("node1"))),
        "{status}"
    );
    assert_eq!(
        status.matches("replica  of node1  link up").count(),
        2,
        "{status}"
    );
    assert_eq!(
        status
            .matches("flags master status ok replicas 2 sentinels 3 config-epoch 0")
            .count(),
        3,
        "{status}"
    );

    let watch = Watcher::start(&dir);
    // The first topology line comes after every Sentinel's PSUBSCRIBE was confirmed.
    wait_for(
        "watch's first topology line",
        Duration::from_secs(10),
        || watch.has(|l| l.contains(" topology: master node1 | node1 master (2 replicas online)")),
    );
    let master_pid = d.pid(d.member("node1").expect("node1")).expect("node1 pid");
    procs::signal(master_pid, libc::SIGKILL).expect("kill -9 the master");

    let (p1, p2) = (port("node1"), port("node2"));
    let want = [
        format!("+sdown master mymaster 127.0.0.1 {p1}"),
        format!("+odown master mymaster 127.0.0.1 {p1} #quorum"),
        "+vote-for-leader".to_string(),
        // node2 has the best (lowest) priority, so it is the one promoted.
        format!("+switch-master mymaster 127.0.0.1 {p1} 127.0.0.1 {p2}"),
    ];
    wait_for(
        "the failover in watch's output",
        Duration::from_secs(60),
        || {
            watch.has(|l| l.contains(" topology: master node2 | node1 down | node2 master"))
                && want.iter().all(|w| watch.has(|l| l.contains(w.as_str())))
        },
    );
    // Events are ordered as they happened, per Sentinel.
    let lines = watch.dump();
    let first = |w: &str| {
        lines
            .find(w)
            .unwrap_or_else(|| panic!("{w} missing:\n{lines}"))
    };
    assert!(first(&want[0]) < first(&want[1]), "{lines}");
    assert!(first(&want[1]) < first(&want[3]), "{lines}");
    drop(watch);

    // The old master comes back as a replica of the new one.
    let started = must_succeed(&["start", "node1", "--dir", &dir]);
    assert!(started.contains("node1 started"), "{started}");
    let mut last = String::new();
    let rejoined = redoubt_harness::try_wait_for(Duration::from_secs(40), || {
        last = must_succeed(&["status", "--dir", &dir]);
        last.matches("replica  of node2  link up").count() == 2
    });
    assert!(
        rejoined,
        "node1 did not rejoin as a replica of node2:\n{last}"
    );
    assert!(
        last.contains(&format!("connect: redoubt-cli -p {p2} -a {} ", d.password)),
        "{last}"
    );

    let all = pids(&Deployment::load(Path::new(&dir)).expect("state"));
    let down = must_succeed(&["down", "--dir", &dir]);
    for (name, pid) in &all {
        assert!(
            down.contains(&format!("{name:<10} pid {pid} stopped")),
            "{down}"
        );
        // Gone, or a zombie waiting for init to reap it: no longer running either way.
        assert!(
            !procs::alive(*pid),
            "{name} (pid {pid}) still runs after down"
        );
    }
    for m in &d.members {
        assert!(
            std::net::TcpStream::connect(("127.0.0.1", m.port)).is_err(),
            "{} still listens",
            m.name
        );
    }
    let after = must_succeed(&["status", "--dir", &dir]);
    assert_eq!(after.matches("DOWN").count(), 6, "{after}");
    let purge = must_succeed(&["down", "--dir", &dir, "--purge"]);
    assert!(purge.contains("removed"), "{purge}");
    assert!(!Path::new(&dir).exists());
}

#[test]
fn chained_topology_on_real_redis() {
    let tmp = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        tmp.path().join("topology.conf"),
        "# node3 replicates from node2\nreplicas = 2\nchain = 3:2\nsentinels = 1\nquorum = 1\n\
         password =\nappendonly = no\n",
    )
    .expect("topology");
    let (dir, out) = up(tmp.path(), &["--redis"]);
    let _cleanup = Cleanup(PathBuf::from(&dir));
    assert!(!out.contains(" -a "), "no password, no -a: {out}");
    let status = must_succeed(&["status", "--dir", &dir]);
    assert!(status.contains("replica  of node1  link up"), "{status}");
    assert!(status.contains("replica  of node2  link up"), "{status}");
    // The Sentinel finds replicas in the master's INFO only: node3 is not among them.
    assert!(
        status.contains("status ok replicas 1 sentinels 1"),
        "{status}"
    );
    let d = Deployment::load(Path::new(&dir)).expect("state");
    let all = pids(&d);
    for (name, pid) in &all {
        assert!(procs::alive(*pid), "{name}");
    }
    must_succeed(&["down", "--dir", &dir]);
    for (name, pid) in &all {
        assert!(
            !procs::alive(*pid),
            "{name} (pid {pid}) still runs after down"
        );
    }
}

#[test]
fn commands_without_a_deployment_explain() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("nothing").to_string_lossy().into_owned();
    for cmd in ["status", "down", "watch", "start node1", "kill master"] {
        let mut args: Vec<&str> = cmd.split(' ').collect();
        args.extend(["--dir", &dir]);
        let out = redoubt(&args);
        assert!(!out.status.success(), "{cmd}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("start one with `redoubt up --dir"),
            "{cmd}: {err}"
        );
    }
    // The server built into `redoubt` (what `up` runs when no redoubt-server is beside it).
    let version = must_succeed(&["server", "--version"]);
    assert!(version.starts_with("Redis server v=7.0.15 "), "{version}");
    // A server that cannot start: the error names it, and nothing is left running.
    let out = redoubt(&["up", "--dir", &dir, "--server-bin", "/bin/false"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains("node1 (/bin/false) failed to start") && err.contains("exited"),
        "{err}"
    );
    let d = Deployment::load(Path::new(&dir)).expect("state written before starting");
    assert!(d.members.iter().all(|m| d.live_pid(m).is_none()));
    let bad = tmp.path().join("bad.conf");
    std::fs::write(&bad, "quorum = 5\n").expect("write");
    let out = redoubt(&["up", "--dir", &dir, "--topology", &bad.to_string_lossy()]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("quorum 5 must be between 1 and"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
