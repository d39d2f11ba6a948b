"""ioredis (Node.js, pinned in tests/clients/node/package.json) follows a Sentinel failover:
the story's deployment from test_sentinel.py, ioredis connected through the Sentinels with
the password, the master killed by PID, and ioredis writing on until the new master
acknowledges; it must reach B (replica-priority 90), never be acknowledged by the dead A after
the kill, and every write B acknowledged must be in B's data. Real Redis in every role
validates the test; Redoubt in every role is the point. scripts/test installs the package
(`npm ci`)."""
import json
import os
import shutil
import subprocess

import pytest

from test_sentinel import MASTER, PASSWORD, Deployment

NODE_DIR = os.path.join(os.path.dirname(__file__), "node")


@pytest.fixture(params=[("redis", "redis"), ("redoubt", "redoubt")],
                ids=["redis-everywhere", "redoubt-everywhere"])
def deployment(request):
    if not shutil.which("node"):
        raise RuntimeError("node is not installed (scripts/test installs nodejs)")
    if not os.path.isdir(os.path.join(NODE_DIR, "node_modules", "ioredis")):
        raise RuntimeError("ioredis is not installed: run `npm ci` in tests/clients/node")
    d = Deployment(*request.param)
    try:
        yield d
    finally:
        d.dump_logs()
        d.stop()


def test_ioredis_follows_a_failover_after_kill(deployment):
    d = deployment
    d.wait_discovered()
    a, b = d.nodes["A"].port, d.nodes["B"].port
    argv = ["node", os.path.join(NODE_DIR, "follow.js"), MASTER, PASSWORD] + \
        [str(p) for _, p in d.sentinel_addrs()]
    proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        ready = json.loads(proc.stdout.readline() or "{}")
        assert ready.get("ready") == a, ready
        d.nodes["A"].kill()  # kill -9, by PID
        proc.stdin.write("go\n")
        proc.stdin.flush()
        out, _ = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    result = json.loads(out.strip().splitlines()[-1])
    assert "fatal" not in result, result
    acked = result["acked"]
    assert all(port != a for _, port in acked), "the killed master acknowledged a write"
    on_b = [i for i, port in acked if port == b]
    assert len(on_b) == 50, f"ioredis reached {sorted({p for _, p in acked})}, B is {b}: {result}"
    assert all(port == b for _, port in acked), result
    ids = [int(x) for x in d.node_client("B").lrange("ioredis:ids", 0, -1)]
    missing = [i for i in on_b if i not in ids]
    assert not missing, f"acknowledged by B but missing from it: {missing}"
    print(f"ioredis: {len(acked)} writes acknowledged by B, {result['errors']} errors on the way")
