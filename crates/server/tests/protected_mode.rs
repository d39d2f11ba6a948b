//! protected-mode as Redis 7.0: with no password, only loopback and unix-socket clients are
//! served; others get the DENIED error and are closed. A non-loopback client needs another
//! host, so the test builds two network namespaces joined by a veth pair (addresses that exist
//! only inside them), runs each server in one and the client in the other, and compares
//! what real redis-server 7.0.15 and redoubt-server send. Needs root (CI runs as root).

use redoubt_harness::{redis_binary, redoubt_binary, wait_for};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

struct Netns {
    srv: String,
    cli: String,
}

fn ip(args: &[&str]) {
    let st = Command::new("ip")
        .args(args)
        .status()
        .expect("ip(8) must be installed (iproute2)");
    assert!(st.success(), "ip {args:?} failed (the test needs root)");
}

impl Netns {
    fn new(tag: u32) -> Netns {
        let n = Netns {
            srv: format!("rd-srv-{tag}"),
            cli: format!("rd-cli-{tag}"),
        };
        ip(&["netns", "add", &n.srv]);
        ip(&["netns", "add", &n.cli]);
        let (a, b) = (format!("rdv{tag}a"), format!("rdv{tag}b"));
        ip(&[
            "link", "add", &a, "netns", &n.srv, "type", "veth", "peer", "name", &b, "netns", &n.cli,
        ]);
        ip(&["-n", &n.srv, "addr", "add", "10.251.0.1/30", "dev", &a]);
        ip(&["-n", &n.cli, "addr", "add", "10.251.0.2/30", "dev", &b]);
        for (ns, dev) in [(&n.srv, &a), (&n.cli, &b)] {
            ip(&["-n", ns, "link", "set", dev, "up"]);
            ip(&["-n", ns, "link", "set", "lo", "up"]);
        }
        n
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        for ns in [&self.srv, &self.cli] {
            let _ = Command::new("ip").args(["netns", "del", ns]).status();
        }
    }
}

struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// What a client in the other namespace receives from `binary` started with `args`.
fn what_a_remote_client_gets(binary: PathBuf, args: &[&str], tag: u32) -> String {
    let ns = Netns::new(tag);
    let dir = tempfile::tempdir().expect("tempdir");
    let child = Command::new("ip")
        .args(["netns", "exec", &ns.srv])
        .arg(&binary)
        .args(["--port", "6379", "--save", "", "--dir"])
        .arg(dir.path())
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start server in its namespace");
    let _server = Proc(child);
    let cli = |host: &str| {
        Command::new("ip")
            .args([
                "netns",
                "exec",
                &ns.cli,
                "redis-cli",
                "-h",
                host,
                "-p",
                "6379",
                "PING",
            ])
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
            .unwrap_or_default()
    };
    let mut reply = String::new();
    wait_for(
        "the server to answer in its namespace",
        Duration::from_secs(10),
        || {
            reply = cli("10.251.0.1");
            !reply.trim().is_empty()
        },
    );
    reply
}

#[test]
fn protected_mode_denies_remote_clients_like_redis() {
    let base = std::process::id() % 10_000;
    for (i, (args, expect)) in [
        (
            &["--bind", "10.251.0.1", "127.0.0.1"][..],
            "DENIED Redis is running in protected mode",
        ),
        (&["--bind", "10.251.0.1", "--protected-mode", "no"], "PONG"),
        (&["--bind", "10.251.0.1", "--requirepass", "pw"], "NOAUTH"),
    ]
    .iter()
    .enumerate()
    {
        let tag = base * 10 + i as u32 * 2;
        let want = what_a_remote_client_gets(redis_binary().expect("redis-server"), args, tag);
        let got =
            what_a_remote_client_gets(redoubt_binary().expect("redoubt-server"), args, tag + 1);
        assert!(want.contains(expect), "redis answered {want:?} to {args:?}");
        assert_eq!(got, want, "{args:?}");
    }
}
