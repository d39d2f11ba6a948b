"""Starts a redoubt-server for the real-client tests, on a free loopback port, and stops it
by PID afterwards. The binary comes from REDOUBT_SERVER_BIN (set by scripts/test). The
real redis-server 7.0 (the oracle) runs beside it for tests that compare the two."""
import os
import shutil
import socket
import subprocess
import tempfile
import time

import pytest
import redis


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def _serve(binary, extra):
    """Starts `binary` on a free loopback port in a temp dir; yields the port, then stops the
    process by PID. A port taken between probe and bind is retried with another."""
    last_error = None
    for _ in range(5):
        port = free_port()
        d = tempfile.mkdtemp(prefix="redoubt-py-")
        proc = subprocess.Popen(
            [binary, "--port", str(port), "--bind", "127.0.0.1", "--dir", d,
             "--logfile", os.path.join(d, "server.log"), *extra],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.time() + 10
        while time.time() < deadline and proc.poll() is None:
            try:
                if redis.Redis(port=port, socket_timeout=1).ping():
                    break
            except redis.ConnectionError as e:
                last_error = e
                time.sleep(0.02)
        if proc.poll() is None:
            try:
                yield port
            finally:
                proc.terminate()
                try:
                    proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
            return
    raise RuntimeError(f"{binary} did not start: {last_error}")


@pytest.fixture(scope="module")
def server():
    binary = os.environ.get("REDOUBT_SERVER_BIN", "target/debug/redoubt-server")
    if not os.path.exists(binary):
        raise RuntimeError(f"redoubt-server binary not found at {binary}: build it first")
    yield from _serve(binary, [])


@pytest.fixture(scope="module")
def redis_server():
    """The oracle: redis-server 7.0 from REDIS_SERVER_BIN or PATH. Missing is a failure."""
    binary = os.environ.get("REDIS_SERVER_BIN") or shutil.which("redis-server")
    if not binary:
        raise RuntimeError("redis-server (the Redis 7.0 oracle) is not installed")
    out = subprocess.run([binary, "--version"], capture_output=True, text=True).stdout
    if " v=7.0." not in out:
        raise RuntimeError(f"{binary} is not Redis 7.0: {out.strip()}")
    yield from _serve(binary, ["--save", "", "--appendonly", "no"])


@pytest.fixture
def r(server):
    c = redis.Redis(port=server, socket_timeout=5)
    c.flushall()
    yield c
    c.close()
