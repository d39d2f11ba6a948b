//! Hosts with their own addresses, and partitions between them, from Linux network
//! namespaces: the "three machines" of issue 7's deployment on one machine.
//!
//! [`Network::create`] makes, for one test, a hub namespace holding a bridge (`br0`,
//! 10.77.0.254/24: where the test's clients live) and one namespace per host, each joined to
//! the bridge by a veth pair and addressed 10.77.0.1, .2, .3... Everything is inside
//! namespaces the test created, so the machine's own network is never touched, concurrent
//! tests (each with its own hub and bridge) cannot see each other, and nothing has a route
//! out. Names carry the test process's PID; namespaces left behind by a test process that
//! was killed are removed by the next [`Network::create`].
//!
//! [`Network::partition`] adds nftables rules in the hosts on both sides that drop every
//! packet to or from the other side: no RST, no ICMP, a connect gets no answer, and open
//! connections hang exactly as in a real partition, while the hub still reaches every host (a
//! client that can talk to both sides). [`Network::heal`] removes them. (A `blackhole` route
//! would need no extra package, but the kernel fails a new connect through one at once with
//! EINVAL, which a partition never does.)
//!
//! Processes run in a host with `ip netns exec <ns> <binary> ...` (which `exec`s, so the
//! child's PID is the server's) and are killed by that PID on drop ([`NsProcess`]). The test
//! process itself stays in the machine's namespace; its connections are made by a short-lived
//! thread that enters the hub namespace first ([`Network::connect`]), and a socket stays in
//! the namespace it was made in.
//!
//! This needs root (namespaces, veth, nftables) and the `nft` tool (Debian: nftables); [`require_root`] fails with an explanation
//! instead of letting the test skip.

use std::fs::File;
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context};
use redoubt_resp::Value;
use tempfile::TempDir;

use crate::conn::RawConn;

/// Every namespace of ours starts with this, then the owning test process's PID.
const PREFIX: &str = "rdtnet";

/// Fails (panics) with an explanation unless the process runs as root: these tests must not
/// be skipped silently.
#[track_caller]
pub fn require_root() {
    // SAFETY: geteuid(2) takes no arguments, reads no memory of ours and cannot fail.
    #[allow(unsafe_code)]
    let euid = unsafe { libc::geteuid() };
    if euid != 0 {
        panic!(
            "this test needs root: it builds network namespaces, veth pairs and routes \
             (`ip netns`) to give each host its own address and to partition them. Run the \
             suite as root (CI does: see scripts/test); it is a failure, not a skip."
        );
    }
}

/// The address of host `i` (0-based) on the bridge.
pub fn host_ip(i: usize) -> Ipv4Addr {
    let last = u8::try_from(i + 1).expect("at most 253 hosts");
    assert!(last < 254, "at most 253 hosts");
    Ipv4Addr::new(10, 77, 0, last)
}

/// The hub's address: where the test's clients come from.
pub const HUB_IP: Ipv4Addr = Ipv4Addr::new(10, 77, 0, 254);

/// The namespaces of one test; dropping it deletes them all.
pub struct Network {
    hub: String,
    hosts: Vec<String>,
    /// Drops in place: (host whose rules have it, host whose packets it drops).
    cuts: Vec<(usize, usize)>,
}

fn ip(args: &[&str]) -> anyhow::Result<()> {
    let out = Command::new("ip")
        .args(args)
        .output()
        .with_context(|| format!("running ip {} (is iproute2 installed?)", args.join(" ")))?;
    if !out.status.success() {
        bail!(
            "ip {} failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(())
}

const TABLE: &str = "redoubt_partition";

/// The table a partitioned host drops the other side's packets with (the set `cut`).
const PARTITION_TABLE: &str = "table inet redoubt_partition {
    set cut { type ipv4_addr; }
    chain input { type filter hook input priority 0; ip saddr @cut drop; }
    chain output { type filter hook output priority 0; ip daddr @cut drop; }
}
";

/// Runs an nft script in namespace `ns`.
fn nft(ns: &str, script: &str) -> anyhow::Result<()> {
    let mut child = Command::new("ip")
        .args(["netns", "exec", ns, "nft", "-f", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .context("running nft (is the nftables package installed?)")?;
    if let Some(mut stdin) = child.stdin.take() {
        use std::io::Write as _;
        stdin
            .write_all(script.as_bytes())
            .context("writing the nft script")?;
    }
    let out = child.wait_with_output().context("waiting for nft")?;
    if !out.status.success() {
        bail!(
            "nft in {ns} failed ({}): {}{}\nscript:\n{script}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim(),
            if search_nft() {
                ""
            } else {
                " (nft is not installed: Debian package nftables)"
            }
        );
    }
    Ok(())
}

fn search_nft() -> bool {
    std::env::var_os("PATH")
        .is_some_and(|paths| std::env::split_paths(&paths).any(|d| d.join("nft").is_file()))
}

/// Deletes namespaces of ours whose test process is gone (it was killed before its drop).
fn remove_stale() {
    let Ok(out) = Command::new("ip").args(["netns", "list"]).output() else {
        return;
    };
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let Some(name) = line.split_whitespace().next() else {
            continue;
        };
        let Some(rest) = name.strip_prefix(PREFIX) else {
            continue;
        };
        let Some(pid) = rest.split('-').next().and_then(|p| p.parse::<u32>().ok()) else {
            continue;
        };
        if !Path::new(&format!("/proc/{pid}")).exists() {
            let _ = ip(&["netns", "del", name]);
        }
    }
}

impl Network {
    /// A hub and `hosts` host namespaces, all up and addressed.
    pub fn create(hosts: usize) -> anyhow::Result<Network> {
        require_root();
        remove_stale();
        static SEQ: AtomicUsize = AtomicUsize::new(0);
        let id = format!(
            "{PREFIX}{}-{}",
            std::process::id(),
            SEQ.fetch_add(1, Ordering::Relaxed)
        );
        let mut net = Network {
            hub: format!("{id}-hub"),
            hosts: Vec::new(),
            cuts: Vec::new(),
        };
        // From here on, drop removes whatever was made, should a step fail.
        ip(&["netns", "add", &net.hub])?;
        let hub = net.hub.clone();
        ip(&["-n", &hub, "link", "set", "lo", "up"])?;
        ip(&["-n", &hub, "link", "add", "br0", "type", "bridge"])?;
        ip(&[
            "-n",
            &hub,
            "addr",
            "add",
            &format!("{HUB_IP}/24"),
            "dev",
            "br0",
        ])?;
        ip(&["-n", &hub, "link", "set", "br0", "up"])?;
        for i in 0..hosts {
            let ns = format!("{id}-h{i}");
            ip(&["netns", "add", &ns])?;
            net.hosts.push(ns.clone());
            let port = format!("v{i}");
            ip(&[
                "-n", &hub, "link", "add", &port, "type", "veth", "peer", "name", "eth0", "netns",
                &ns,
            ])?;
            ip(&["-n", &hub, "link", "set", &port, "master", "br0"])?;
            ip(&["-n", &hub, "link", "set", &port, "up"])?;
            ip(&["-n", &ns, "link", "set", "lo", "up"])?;
            let addr = format!("{}/24", host_ip(i));
            ip(&["-n", &ns, "addr", "add", &addr, "dev", "eth0"])?;
            ip(&["-n", &ns, "link", "set", "eth0", "up"])?;
        }
        Ok(net)
    }

    /// The namespace of host `i`.
    pub fn host_ns(&self, i: usize) -> &str {
        &self.hosts[i]
    }

    pub fn hub_ns(&self) -> &str {
        &self.hub
    }

    /// Cuts every host in `a` off from every host in `b`, both ways: each host drops the
    /// other side's packets in and out.
    pub fn partition(&mut self, a: &[usize], b: &[usize]) -> anyhow::Result<()> {
        for &x in a {
            for &y in b {
                for (host, other) in [(x, y), (y, x)] {
                    if self.cuts.contains(&(host, other)) {
                        continue;
                    }
                    if !self.cuts.iter().any(|(h, _)| *h == host) {
                        nft(&self.hosts[host], PARTITION_TABLE)?;
                    }
                    let add = format!("add element inet {TABLE} cut {{ {} }}\n", host_ip(other));
                    nft(&self.hosts[host], &add)?;
                    self.cuts.push((host, other));
                }
            }
        }
        Ok(())
    }

    /// Removes every partition.
    pub fn heal(&mut self) -> anyhow::Result<()> {
        let mut hosts: Vec<usize> = self.cuts.iter().map(|(h, _)| *h).collect();
        hosts.sort_unstable();
        hosts.dedup();
        for h in hosts {
            nft(&self.hosts[h], &format!("delete table inet {TABLE}\n"))?;
            self.cuts.retain(|(host, _)| *host != h);
        }
        Ok(())
    }

    /// A TCP connection from the hub to `addr` (a host's address on the bridge).
    pub fn connect(&self, addr: SocketAddr, timeout: Duration) -> anyhow::Result<RawConn> {
        let stream = connect_in(&self.hub, addr, timeout)?;
        Ok(RawConn::from_stream(stream)?)
    }

    /// Starts `binary args...` in host `i`, in a new temp dir (its cwd), and waits until
    /// `ip:port` answers PING from the hub.
    pub fn spawn(
        &self,
        host: usize,
        binary: &Path,
        files: &[(&str, &str)],
        args: &[&str],
        port: u16,
        log_name: &str,
    ) -> anyhow::Result<NsProcess> {
        let dir = tempfile::Builder::new()
            .prefix("rdtnet-")
            .tempdir()
            .context("creating a temp dir")?;
        for (name, text) in files {
            std::fs::write(dir.path().join(name), text)
                .with_context(|| format!("writing {name}"))?;
        }
        let stdout = File::create(dir.path().join("stdout.log"))?;
        let stderr = File::create(dir.path().join("stderr.log"))?;
        let child = Command::new("ip")
            .args(["netns", "exec", &self.hosts[host]])
            .arg(binary)
            .args(args)
            .current_dir(dir.path())
            .stdin(Stdio::null())
            .stdout(stdout)
            .stderr(stderr)
            .spawn()
            .with_context(|| format!("spawning {} in {}", binary.display(), self.hosts[host]))?;
        let mut p = NsProcess {
            child: Some(child),
            addr: SocketAddr::from((host_ip(host), port)),
            log_path: dir.path().join(log_name),
            dir,
        };
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            if let Some(c) = p.child.as_mut() {
                if let Ok(Some(status)) = c.try_wait() {
                    p.child = None;
                    bail!(
                        "{} exited during startup ({status}); stderr:\n{}\nlog:\n{}",
                        binary.display(),
                        read_lossy(&p.dir.path().join("stderr.log")),
                        p.log()
                    );
                }
            }
            if self.answers_ping(p.addr) {
                return Ok(p);
            }
            if Instant::now() >= deadline {
                bail!(
                    "{} on {} did not answer PING within 15 s; log:\n{}",
                    binary.display(),
                    p.addr,
                    p.log()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn answers_ping(&self, addr: SocketAddr) -> bool {
        let Ok(mut c) = self.connect(addr, Duration::from_secs(1)) else {
            return false;
        };
        if c.send_cmd(&["PING"]).is_err() {
            return false;
        }
        match c.read_reply(Instant::now() + Duration::from_secs(1)) {
            Ok(Value::Error(e)) => !e.starts_with("LOADING"),
            Ok(_) => true,
            Err(_) => false,
        }
    }
}

impl Drop for Network {
    fn drop(&mut self) {
        // Deleting a namespace's name frees it once no process is left in it; the veth pairs
        // and the bridge go with their namespaces.
        for ns in self.hosts.iter().chain(std::iter::once(&self.hub)) {
            if let Err(e) = ip(&["netns", "del", ns]) {
                eprintln!("--- removing namespace {ns}: {e:#}");
            }
        }
    }
}

/// Makes a TCP connection from inside namespace `ns`: a thread enters it (`setns` changes
/// only the calling thread's namespace), connects, and ends; the socket stays in `ns`.
pub fn connect_in(ns: &str, addr: SocketAddr, timeout: Duration) -> anyhow::Result<TcpStream> {
    run_in(ns, move || {
        TcpStream::connect_timeout(&addr, timeout)
            .map_err(|e| anyhow!("connecting to {addr} from {}: {e}", addr.ip()))
    })
}

/// Runs `f` on a thread that has entered namespace `ns`; sockets it makes stay there.
fn run_in<T: Send + 'static>(
    ns: &str,
    f: impl FnOnce() -> anyhow::Result<T> + Send + 'static,
) -> anyhow::Result<T> {
    let path = PathBuf::from("/var/run/netns").join(ns);
    let handle = std::thread::Builder::new()
        .name("netns".into())
        .spawn(move || -> anyhow::Result<T> {
            let file = File::open(&path).with_context(|| format!("opening {}", path.display()))?;
            // SAFETY: setns(2) reads no memory of ours: it takes a descriptor we own (open
            // for the whole call) and a flag. It moves only this thread, which ends after
            // `f`, so no other code of the process runs in the other namespace.
            #[allow(unsafe_code)]
            let rc = unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) };
            if rc != 0 {
                return Err(anyhow!(
                    "setns({}): {}",
                    path.display(),
                    std::io::Error::last_os_error()
                ));
            }
            f()
        })
        .context("spawning a thread to enter the namespace")?;
    handle
        .join()
        .map_err(|_| anyhow!("the namespace thread panicked"))?
}

/// A process running in a host namespace, killed by PID on drop.
pub struct NsProcess {
    child: Option<Child>,
    addr: SocketAddr,
    log_path: PathBuf,
    dir: TempDir,
}

impl NsProcess {
    /// Where it listens, as seen from the hub.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    pub fn log(&self) -> String {
        read_lossy(&self.log_path)
    }

    /// A file in its dir (a rewritten config file).
    pub fn file(&self, name: &str) -> String {
        read_lossy(&self.dir.path().join(name))
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// SIGKILL and reap.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for NsProcess {
    fn drop(&mut self) {
        let running = self.child.is_some();
        self.kill();
        if running && std::thread::panicking() {
            let log = self.log();
            let lines: Vec<&str> = log.lines().collect();
            eprintln!(
                "--- process on {} (dir {}), log tail:\n{}",
                self.addr,
                self.dir.path().display(),
                lines[lines.len().saturating_sub(30)..].join("\n")
            );
        }
        if std::env::var_os("REDOUBT_HARNESS_KEEP_DIRS").is_some() {
            // Swap in an empty dir so the real one can be kept (never panic in a drop).
            if let Ok(empty) = tempfile::tempdir() {
                let d = std::mem::replace(&mut self.dir, empty);
                eprintln!("--- kept {}", d.keep().display());
            }
        }
    }
}

fn read_lossy(path: &Path) -> String {
    std::fs::read(path)
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn namespaces() -> String {
        let out = Command::new("ip").args(["netns", "list"]).output();
        out.map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
            .unwrap_or_default()
    }

    /// Hosts reach each other until partitioned, the hub reaches them throughout, and every
    /// namespace is gone after a drop, a panicking one included.
    #[test]
    fn partition_and_heal_between_namespaces() {
        let mut net = Network::create(2).expect("creating the network");
        let ns1 = net.host_ns(1).to_string();
        let listener = run_in(&ns1, || Ok(std::net::TcpListener::bind((host_ip(1), 0))?))
            .expect("a listener in host 1");
        let addr = listener.local_addr().expect("its address");
        let t = Duration::from_millis(700);
        let from_host0 = |net: &Network| connect_in(net.host_ns(0), addr, t).is_ok();
        assert!(from_host0(&net), "host 0 cannot reach host 1");
        net.partition(&[0], &[1]).expect("partition");
        let start = Instant::now();
        assert!(
            !from_host0(&net),
            "host 0 reaches host 1 across a partition"
        );
        // Silently: the connect waits for its timeout, no refusal comes back.
        assert!(
            start.elapsed() >= t,
            "refused at once: {:?}",
            start.elapsed()
        );
        assert!(net.connect(addr, t).is_ok(), "the hub lost host 1");
        net.heal().expect("heal");
        assert!(from_host0(&net), "host 0 cannot reach host 1 after healing");
        let names = [net.hub_ns().to_string(), net.host_ns(0).to_string(), ns1];
        drop(listener);
        drop(net);
        let left = namespaces();
        assert!(
            !names.iter().any(|n| left.contains(n.as_str())),
            "left behind: {left}"
        );

        let hub = std::panic::catch_unwind(|| {
            let net = Network::create(1).expect("creating the network");
            let hub = net.hub_ns().to_string();
            std::panic::panic_any(hub);
        });
        let hub = hub
            .err()
            .and_then(|p| p.downcast::<String>().ok())
            .expect("the panic carries the hub's name");
        assert!(
            !namespaces().contains(hub.as_str()),
            "a panicking test left {hub}"
        );
    }

    #[test]
    fn host_addresses() {
        assert_eq!(host_ip(0), Ipv4Addr::new(10, 77, 0, 1));
        assert_eq!(host_ip(2), Ipv4Addr::new(10, 77, 0, 3));
    }
}
