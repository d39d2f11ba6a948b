"""redis-py's Sentinel support against a Sentinel deployment: the story's three data nodes
(A master, B replica with replica-priority 90, C with 100; requirepass/masterauth,
min-replicas-to-write 1, AOF) and three Sentinels (quorum 2, down-after 1500 ms: with 1000 Redis 7.0 sometimes fails over
the master it just promoted, see DEFAULT_DOWN_AFTER_MS in crates/harness), each a
process started here on a free loopback port with its own config file and stopped by PID.

Each role is real Redis 7.0 or Redoubt: the default ("env") takes them from
REDOUBT_SENTINEL_NODES and REDOUBT_SENTINEL_SENTINELS ("redis" when unset, so these tests
validate themselves against redis-server/redis-sentinel); the Redoubt pairings are listed and
skipped with the feature they wait for."""
import os
import shutil
import socket
import subprocess
import tempfile
import time

import pytest
import redis
from redis.sentinel import Sentinel

PASSWORD = "tutorial-pw"
MASTER = "mymaster"


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def wait_until(what, timeout, cond):
    """Polls cond() until true; fails the test naming `what` at the deadline."""
    deadline = time.monotonic() + timeout
    pause = 0.005
    last = None
    while time.monotonic() < deadline:
        try:
            if cond():
                return
        except (redis.RedisError, OSError) as e:
            last = e
        time.sleep(pause)
        pause = min(pause * 2, 0.1)
    pytest.fail(f"timed out after {timeout}s waiting for {what} (last error: {last!r})")


def binary(flavor, sentinel):
    if flavor == "redis":
        name = "redis-sentinel" if sentinel else "redis-server"
        path = os.environ.get("REDIS_SERVER_BIN") if not sentinel else None
        path = path or shutil.which(name)
        if not path:
            raise RuntimeError(f"{name} not found: it is the oracle, install it")
        return [path]
    path = os.environ.get("REDOUBT_SERVER_BIN", "target/debug/redoubt-server")
    if not os.path.exists(path):
        raise RuntimeError(f"redoubt-server binary not found at {path}: build it first")
    return [path]


class Proc:
    """One server process in its own dir, started from a config file that names its port."""

    def __init__(self, flavor, sentinel, conf_name, make_conf):
        self.dir = tempfile.mkdtemp(prefix="sentinel-py-")
        self.sentinel = sentinel
        self.conf = os.path.join(self.dir, conf_name)
        self.proc = None
        last = None
        for _ in range(5):
            self.port = free_port()
            with open(self.conf, "w") as f:
                f.write(make_conf(self.port))
            argv = binary(flavor, sentinel) + [self.conf]
            if sentinel and flavor == "redoubt":
                argv.append("--sentinel")
            self.proc = subprocess.Popen(argv, cwd=self.dir, stdin=subprocess.DEVNULL,
                                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            try:
                self._wait_ready()
                return
            except RuntimeError as e:
                last = e
                self.kill()
        raise RuntimeError(f"could not start {argv}: {last}")

    def _wait_ready(self):
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"exited with {self.proc.returncode}: {self.log()[-2000:]}")
            try:
                # -NOAUTH also means it is serving.
                redis.Redis(port=self.port, socket_timeout=1).ping()
                return
            except redis.AuthenticationError:
                return
            except redis.ResponseError as e:
                if "NOAUTH" in str(e):
                    return
            except redis.ConnectionError:
                pass
            time.sleep(0.01)
        raise RuntimeError("did not answer PING within 10 s")

    def log(self):
        name = "sentinel.log" if self.sentinel else "redis.log"
        try:
            with open(os.path.join(self.dir, name)) as f:
                return f.read()
        except OSError:
            return ""

    def kill(self):
        """SIGKILL by PID and reap."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
        if self.proc is not None:
            self.proc.wait()


def node_conf(port, priority, master_port):
    c = (f"port {port}\nbind 127.0.0.1\ndir .\nlogfile \"redis.log\"\ndaemonize no\n"
         f"save \"\"\nappendonly yes\nreplica-priority {priority}\n"
         f"min-replicas-to-write 1\nmin-replicas-max-lag 10\nrepl-diskless-sync-delay 0\n"
         f"requirepass \"{PASSWORD}\"\nmasterauth \"{PASSWORD}\"\n")
    if master_port:
        c += f"replicaof 127.0.0.1 {master_port}\n"
    return c


def sentinel_conf(port, master_port):
    return (f"port {port}\nbind 127.0.0.1\ndir .\nlogfile \"sentinel.log\"\ndaemonize no\n"
            f"sentinel monitor {MASTER} 127.0.0.1 {master_port} 2\n"
            f"sentinel auth-pass {MASTER} \"{PASSWORD}\"\n"
            f"sentinel down-after-milliseconds {MASTER} 1500\n"
            f"sentinel failover-timeout {MASTER} 5000\n"
            f"sentinel parallel-syncs {MASTER} 1\n")


class Deployment:
    def __init__(self, node_flavor, sentinel_flavor):
        self.procs = []
        self.nodes = {}
        self.sentinels = []
        try:
            a = self._start(node_flavor, False, "redis.conf", lambda p: node_conf(p, 100, None))
            self.nodes["A"] = a
            for name, prio in (("B", 90), ("C", 100)):
                self.nodes[name] = self._start(
                    node_flavor, False, "redis.conf", lambda p, prio=prio: node_conf(p, prio, a.port))
            for name in ("B", "C"):
                wait_until(f"{name} to sync", 20, lambda name=name: self.node_client(name)
                           .info("replication").get("master_link_status") == "up")
            for _ in range(3):
                self.sentinels.append(self._start(sentinel_flavor, True, "sentinel.conf",
                                                  lambda p: sentinel_conf(p, a.port)))
        except BaseException:
            self.stop()
            raise

    def _start(self, flavor, sentinel, conf_name, make_conf):
        p = Proc(flavor, sentinel, conf_name, make_conf)
        self.procs.append(p)
        return p

    def node_client(self, name):
        return redis.Redis(port=self.nodes[name].port, password=PASSWORD, socket_timeout=5)

    def sentinel_addrs(self):
        return [("127.0.0.1", s.port) for s in self.sentinels]

    def wait_discovered(self):
        def discovered():
            for s in self.sentinels:
                m = redis.Redis(port=s.port, socket_timeout=2).sentinel_master(MASTER)
                if m["num-slaves"] != 2 or m["num-other-sentinels"] != 2:
                    return False
            return True
        wait_until("the sentinels to find 2 replicas and each other", 20, discovered)

    def stop(self):
        for p in reversed(self.procs):
            p.kill()
        for p in self.procs:
            shutil.rmtree(p.dir, ignore_errors=True)

    def dump_logs(self):
        for name, n in self.nodes.items():
            print(f"--- node {name} (port {n.port}):\n{n.log()[-3000:]}")
        for i, s in enumerate(self.sentinels):
            print(f"--- sentinel S{i} (port {s.port}):\n{s.log()[-3000:]}")


def env_roles():
    return (os.environ.get("REDOUBT_SENTINEL_NODES", "redis"),
            os.environ.get("REDOUBT_SENTINEL_SENTINELS", "redis"))


ROLES = [
    pytest.param(env_roles(), id="env"),
    pytest.param(("redis", "redoubt"), id="redoubt-sentinels"),
    pytest.param(("redoubt", "redis"), id="redoubt-nodes"),
    pytest.param(("redoubt", "redoubt"), id="redoubt-everywhere"),
]


@pytest.fixture(params=ROLES)
def deployment(request):
    nodes, sentinels = request.param
    d = Deployment(nodes, sentinels)
    try:
        yield d
    finally:
        # pytest shows captured output only when the test failed.
        d.dump_logs()
        d.stop()


def test_sentinel_finds_master_and_replicas(deployment):
    d = deployment
    d.wait_discovered()
    sentinel = Sentinel(d.sentinel_addrs(), socket_timeout=2)
    assert sentinel.discover_master(MASTER) == ("127.0.0.1", d.nodes["A"].port)
    assert sorted(sentinel.discover_slaves(MASTER)) == sorted(
        [("127.0.0.1", d.nodes["B"].port), ("127.0.0.1", d.nodes["C"].port)])

    master = sentinel.master_for(MASTER, password=PASSWORD, socket_timeout=2)
    assert master.set("k", "v") is True
    assert master.wait(2, 5000) == 2
    replica = sentinel.slave_for(MASTER, password=PASSWORD, socket_timeout=2)
    assert replica.get("k") == b"v"
    assert replica.info("replication")["role"] == "slave"
    with pytest.raises(redis.ReadOnlyError):
        replica.set("k", "w")


def test_master_for_follows_a_failover_after_kill(deployment):
    d = deployment
    d.wait_discovered()
    sentinel = Sentinel(d.sentinel_addrs(), socket_timeout=2)
    master = sentinel.master_for(MASTER, password=PASSWORD, socket_timeout=2)
    assert master.set("before", "1") is True
    assert master.wait(2, 5000) == 2

    d.nodes["A"].kill()  # kill -9, by PID
    killed_at = time.monotonic()

    def write_succeeds():
        try:
            return master.set("after", "2") is True
        except (redis.ConnectionError, redis.TimeoutError, redis.ReadOnlyError):
            return False
        except redis.ResponseError as e:
            # The promoted replica may refuse until it has a replica of its own again.
            if str(e).startswith("NOREPLICAS"):
                return False
            raise
    wait_until("a write through master_for to succeed after the failover", 40, write_succeeds)
    took = time.monotonic() - killed_at
    print(f"first successful write through master_for {took:.2f}s after kill -9")

    # The Sentinels chose B (replica-priority 90), and the client writes there.
    assert sentinel.discover_master(MASTER) == ("127.0.0.1", d.nodes["B"].port)
    b = d.node_client("B")
    assert b.get("after") == b"2"
    assert b.get("before") == b"1"
    assert master.get("before") == b"1"

    # C is reconfigured to replicate from B, and slave_for reads from it.
    wait_until("C to replicate from B", 20, lambda: (
        lambda i: i.get("master_port") == d.nodes["B"].port and i.get("master_link_status") == "up"
    )(d.node_client("C").info("replication")))
    assert master.wait(1, 5000) >= 1
    replica = sentinel.slave_for(MASTER, password=PASSWORD, socket_timeout=2)
    wait_until("slave_for to read the write", 10, lambda: replica.get("after") == b"2")
    # A (dead) is listed by the Sentinels as B's replica, but once it is flagged down
    # redis-py no longer offers it.
    wait_until("discover_slaves to offer only C", 10, lambda: sentinel.discover_slaves(MASTER)
               == [("127.0.0.1", d.nodes["C"].port)])
