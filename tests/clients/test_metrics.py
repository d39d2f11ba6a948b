"""The Prometheus endpoint (`--metrics-port`, a Redoubt addition) of a server and of a
Sentinel, scraped over HTTP and parsed with the real Prometheus parser
(`prometheus_client.parser.text_string_to_metric_families`), each value compared with the INFO
field read around the scrape: gauges that cannot move between the two reads exactly, counters
as monotone bounds. Every process runs on free loopback ports and is stopped by PID."""
import os
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request

import pytest
import redis
from prometheus_client.parser import text_string_to_metric_families

from conftest import _serve, free_port

MASTER = "mymaster"


def binary():
    path = os.environ.get("REDOUBT_SERVER_BIN", "target/debug/redoubt-server")
    if not os.path.exists(path):
        raise RuntimeError(f"redoubt-server binary not found at {path}: build it first")
    return path


def wait_until(what, timeout, cond):
    deadline = time.monotonic() + timeout
    pause = 0.005
    while time.monotonic() < deadline:
        if cond():
            return
        time.sleep(pause)
        pause = min(pause * 2, 0.1)
    pytest.fail(f"timed out after {timeout}s waiting for {what}")


def scrape(port):
    """GET /metrics; returns {family name: family} and {(sample name, labels): value}."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as resp:
        assert resp.status == 200
        assert resp.headers["Content-Type"] == "text/plain; version=0.0.4; charset=utf-8"
        text = resp.read().decode()
    families = {}
    samples = {}
    for fam in text_string_to_metric_families(text):
        assert fam.name not in families, f"family {fam.name} twice"
        families[fam.name] = fam
        for s in fam.samples:
            samples[(s.name, tuple(sorted(s.labels.items())))] = s.value
    check_conventions(families)
    return families, samples


def check_conventions(families):
    for name, fam in families.items():
        assert name.startswith("redoubt_"), name
        assert fam.type in ("counter", "gauge"), (name, fam.type)
        assert fam.documentation, f"{name} has no HELP"
        for s in fam.samples:
            if fam.type == "counter":
                # The parser strips `_total` from a counter family's name.
                assert s.name == name + "_total", (name, s.name)
            else:
                assert s.name == name, (name, s.name)
                assert not name.endswith("_total"), name


def val(samples, name, **labels):
    return samples[(name, tuple(sorted(labels.items())))]


@pytest.fixture(scope="module")
def metrics_server():
    mport = free_port()
    for port in _serve(binary(), ["--metrics-port", str(mport), "--save", ""]):
        yield port, mport


def test_server_scrape_matches_info(metrics_server):
    port, mport = metrics_server
    c = redis.Redis(port=port, socket_timeout=5)
    c.flushall()
    for i in range(5):
        c.set(f"k{i}", "v")
    c.expire("k0", 1000)
    r3 = redis.Redis(port=port, db=3, socket_timeout=5)
    r3.set("x", "1")
    c.get("k1")
    c.get("nope")

    r3.close()

    # Connections closed just before (the fixture's probe, r3) leave the count as the server
    # notices them: read until the client count holds still across the three reads.
    for _ in range(50):
        fam, before = scrape(mport)
        info = c.info("everything")
        _, after = scrape(mport)
        if val(before, "redoubt_connected_clients") == info["connected_clients"] == \
                val(after, "redoubt_connected_clients"):
            break
        time.sleep(0.02)

    assert fam["redoubt_commands_processed"].type == "counter"
    assert fam["redoubt_connected_clients"].type == "gauge"
    assert fam["redoubt_db_keys"].type == "gauge"

    # Keys per database: exact after the writes.
    assert val(before, "redoubt_db_keys", db="0") == 5 == info["db0"]["keys"]
    assert val(before, "redoubt_db_keys_expiring", db="0") == 1 == info["db0"]["expires"]
    assert val(before, "redoubt_db_keys", db="3") == 1 == info["db3"]["keys"]
    # Gauges nothing changes between the reads (scrapes are not clients).
    for metric, field in [
        ("redoubt_connected_clients", "connected_clients"),
        ("redoubt_blocked_clients", "blocked_clients"),
        ("redoubt_rdb_changes_since_last_save", "rdb_changes_since_last_save"),
        ("redoubt_rdb_last_save_timestamp_seconds", "rdb_last_save_time"),
        ("redoubt_rdb_bgsave_in_progress", "rdb_bgsave_in_progress"),
        ("redoubt_aof_enabled", "aof_enabled"),
        ("redoubt_connected_replicas", "connected_slaves"),
        ("redoubt_master_repl_offset_bytes", "master_repl_offset"),
        ("redoubt_max_clients", "maxclients"),
        ("redoubt_memory_max_bytes", "maxmemory"),
    ]:
        assert val(before, metric) == info[field] == val(after, metric), metric
    assert val(before, "redoubt_role", role="master") == 1
    assert val(before, "redoubt_role", role="slave") == 0
    assert val(before, "redoubt_aof_last_write_ok") == 1
    # Counters: monotone across the INFO read.
    for metric, field in [
        ("redoubt_commands_processed_total", "total_commands_processed"),
        ("redoubt_keyspace_hits_total", "keyspace_hits"),
        ("redoubt_keyspace_misses_total", "keyspace_misses"),
        ("redoubt_net_input_bytes_total", "total_net_input_bytes"),
        ("redoubt_net_output_bytes_total", "total_net_output_bytes"),
        ("redoubt_connections_received_total", "total_connections_received"),
        ("redoubt_expired_keys_total", "expired_keys"),
        ("redoubt_evicted_keys_total", "evicted_keys"),
    ]:
        assert val(before, metric) <= info[field] <= val(after, metric), metric
    assert val(before, "redoubt_keyspace_hits_total") == info["keyspace_hits"]
    assert val(before, "redoubt_commands_total", cmd="set") == info["cmdstat_set"]["calls"]
    # Memory: present and plausible (it moves between reads).
    for metric in ["redoubt_memory_used_bytes", "redoubt_memory_rss_bytes",
                   "redoubt_memory_peak_bytes"]:
        assert val(before, metric) > 0, metric
    assert val(before, "redoubt_memory_peak_bytes") >= val(before, "redoubt_memory_used_bytes")
    assert val(before, "redoubt_uptime_seconds") <= info["uptime_in_seconds"]
    build = [k for k in before if k[0] == "redoubt_build_info"]
    assert dict(build[0][1])["redis_version"] == info["redis_version"]


def test_bad_requests_do_not_hurt(metrics_server):
    port, mport = metrics_server
    for raw, status in [
        (b"garbage\r\n\r\n", b"400"),
        (b"GET /nope HTTP/1.1\r\n\r\n", b"404"),
        (b"DELETE /metrics HTTP/1.1\r\n\r\n", b"405"),
        (b"GET /metrics HTTP/1.1\r\n" + b"X-Long: " + b"a" * 20000 + b"\r\n\r\n", b"400"),
        (bytes(range(256)) + b"\r\n\r\n", b"400"),
    ]:
        s = socket.create_connection(("127.0.0.1", mport), timeout=10)
        try:
            s.sendall(raw)
        except OSError:
            pass  # the server may answer and close before reading it all
        reply = b""
        while True:
            try:
                chunk = s.recv(4096)
            except ConnectionResetError:
                break
            if not chunk:
                break
            reply += chunk
        s.close()
        assert reply.split(b"\r\n")[0] == b"HTTP/1.1 " + status + b" " + {
            b"400": b"Bad Request", b"404": b"Not Found", b"405": b"Method Not Allowed"}[status], raw[:40]
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(f"http://127.0.0.1:{mport}/", timeout=10)
    assert e.value.code == 404
    # Still serving metrics and clients.
    _, samples = scrape(mport)
    assert ("redoubt_uptime_seconds", ()) in samples
    assert redis.Redis(port=port, socket_timeout=5).ping()


class Proc:
    """A Redoubt process from a config file, in its own dir; killed by PID."""

    def __init__(self, conf_text, sentinel=False):
        self.dir = tempfile.mkdtemp(prefix="metrics-py-")
        self.conf = os.path.join(self.dir, "sentinel.conf" if sentinel else "redis.conf")
        self.proc = None
        for _ in range(5):
            self.port = free_port()
            self.mport = free_port()
            with open(self.conf, "w") as f:
                f.write(conf_text(self.port, self.mport))
            argv = [binary(), self.conf] + (["--sentinel"] if sentinel else [])
            self.proc = subprocess.Popen(argv, cwd=self.dir, stdin=subprocess.DEVNULL,
                                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline and self.proc.poll() is None:
                try:
                    redis.Redis(port=self.port, socket_timeout=1).ping()
                    return
                except redis.ConnectionError:
                    time.sleep(0.01)
            self.kill()
        raise RuntimeError(f"could not start {self.conf}")

    def kill(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
        if self.proc is not None:
            self.proc.wait()

    def cleanup(self):
        self.kill()
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture
def sentinel_setup():
    procs = []
    try:
        node = lambda master: lambda p, m: (
            f"port {p}\nbind 127.0.0.1\ndir .\nsave \"\"\nlogfile \"redis.log\"\n"
            f"redoubt-metrics-port {m}\n" + (f"replicaof 127.0.0.1 {master}\n" if master else ""))
        a = Proc(node(None))
        procs.append(a)
        b = Proc(node(a.port))
        procs.append(b)
        s = Proc(lambda p, m: (
            f"port {p}\nbind 127.0.0.1\ndir .\nlogfile \"sentinel.log\"\n"
            f"redoubt-metrics-port {m}\n"
            f"sentinel monitor {MASTER} 127.0.0.1 {a.port} 1\n"
            f"sentinel down-after-milliseconds {MASTER} 1000\n"
            f"sentinel failover-timeout {MASTER} 5000\n"), sentinel=True)
        procs.append(s)
        yield a, b, s
    finally:
        for p in reversed(procs):
            p.cleanup()


def sentinel_info(s):
    return redis.Redis(port=s.port, socket_timeout=5).info()


def test_sentinel_scrape_matches_info_and_counts_a_failover(sentinel_setup):
    a, b, s = sentinel_setup
    sc = redis.Redis(port=s.port, socket_timeout=5)
    wait_until("B linked to A", 20, lambda: redis.Redis(port=b.port).info("replication")
               .get("master_link_status") == "up")
    wait_until("the sentinel to find B", 20,
               lambda: sc.sentinel_master(MASTER)["num-slaves"] == 1)

    # The replica's own endpoint: role and link.
    _, rs = scrape(b.mport)
    assert val(rs, "redoubt_role", role="slave") == 1
    assert val(rs, "redoubt_master_link_up") == 1
    assert val(rs, "redoubt_master_info", master=f"127.0.0.1:{a.port}") == 1
    # The master's: its replica, by address.
    wait_until("A to list B online", 10, lambda: any(
        k[0] == "redoubt_connected_replica_offset_bytes" and ("state", "online") in k[1]
        for k in scrape(a.mport)[1]))

    fam, before = scrape(s.mport)
    info = sentinel_info(s)
    master = sc.sentinel_master(MASTER)
    _, after = scrape(s.mport)
    m0 = info["master0"]
    address = f"127.0.0.1:{a.port}"
    assert m0["address"] == address
    assert fam["redoubt_sentinel_master_status"].type == "gauge"
    assert fam["redoubt_sentinel_master_failovers"].type == "counter"
    assert val(before, "redoubt_sentinel_masters") == info["sentinel_masters"] == 1
    assert val(before, "redoubt_sentinel_tilt") == info["sentinel_tilt"] == 0
    assert val(before, "redoubt_sentinel_master_status", master=MASTER, address=address,
               status="ok") == 1
    for st in ("sdown", "odown"):
        assert val(before, "redoubt_sentinel_master_status", master=MASTER, address=address,
                   status=st) == 0
    assert val(before, "redoubt_sentinel_master_replicas", master=MASTER) == m0["slaves"] == 1
    assert val(before, "redoubt_sentinel_master_sentinels", master=MASTER) == m0["sentinels"] == 1
    assert val(before, "redoubt_sentinel_master_quorum", master=MASTER) == master["quorum"] == 1
    assert val(before, "redoubt_sentinel_master_failover_in_progress", master=MASTER) == 0
    assert val(before, "redoubt_sentinel_master_failovers_total", master=MASTER) == 0
    assert val(before, "redoubt_sentinel_master_config_epoch", master=MASTER) == \
        master["config-epoch"]
    assert val(before, "redoubt_sentinel_current_epoch") == 0
    assert val(before, "redoubt_sentinel_running_scripts") == info["sentinel_running_scripts"]
    # The Sentinel's own process counters, monotone across INFO.
    assert val(before, "redoubt_connections_received_total") <= \
        info["total_connections_received"] <= val(after, "redoubt_connections_received_total")
    assert val(before, "redoubt_sentinel_events_total", event="+monitor") == 1
    build = [k for k in before if k[0] == "redoubt_build_info"]
    assert dict(build[0][1])["mode"] == "sentinel"
    # A Sentinel has no keyspace or persistence.
    assert not any(k[0] == "redoubt_db_keys" for k in before)

    # A forced failover: counted once, the epoch moves, the status follows the new master.
    def failover_started():
        try:
            return sc.execute_command("SENTINEL", "FAILOVER", MASTER)
        except redis.ResponseError as e:
            # Until the Sentinel has B's INFO (link up, priority), B is not a candidate.
            assert "NOGOODSLAVE" in str(e), e
            return False
    wait_until("SENTINEL FAILOVER to be accepted", 20, failover_started)
    new_address = f"127.0.0.1:{b.port}"

    def switched():
        _, m = scrape(s.mport)
        return m.get(("redoubt_sentinel_master_failovers_total", (("master", MASTER),))) == 1 \
            and m.get(("redoubt_sentinel_master_status",
                       (("address", new_address), ("master", MASTER), ("status", "ok")))) == 1
    wait_until("the failover to be counted", 30, switched)
    _, done = scrape(s.mport)
    assert val(done, "redoubt_sentinel_current_epoch") == 1
    assert val(done, "redoubt_sentinel_events_total", event="+switch-master") == 1
    assert sentinel_info(s)["master0"]["address"] == new_address
