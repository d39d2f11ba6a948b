"""redis-py against redoubt-server: pipelines, transactions, pub/sub and RESP3."""
import threading
import time

import redis


def test_basic_and_types(r):
    assert r.set("k", "v") is True
    assert r.get("k") == b"v"
    assert r.incr("n") == 1
    assert r.incrby("n", 41) == 42
    assert r.exists("k", "n", "missing") == 2
    assert r.delete("k", "missing") == 1
    assert r.get("k") is None


def test_pipeline_replies_in_order(r):
    p = r.pipeline(transaction=False)
    for i in range(1000):
        p.set(f"key:{i}", i)
    for i in range(1000):
        p.get(f"key:{i}")
    out = p.execute()
    assert out[:1000] == [True] * 1000
    assert out[1000:] == [str(i).encode() for i in range(1000)]


def test_transaction_and_watch(r):
    p = r.pipeline(transaction=True)
    p.set("a", 1).incr("a").get("a")
    assert p.execute() == [True, 2, b"2"]

    other = redis.Redis(port=r.connection_pool.connection_kwargs["port"])
    with r.pipeline() as p:
        p.watch("w")
        other.set("w", "changed")  # invalidates the WATCH
        p.multi()
        p.set("w", "mine")
        try:
            p.execute()
            raised = False
        except redis.WatchError:
            raised = True
    assert raised
    assert r.get("w") == b"changed"
    other.close()


def test_pubsub_messages_arrive(r):
    ps = r.pubsub()
    ps.subscribe("news")
    ps.psubscribe("n*")
    # Drain the two confirmations.
    got = []
    deadline = time.time() + 5
    while len(got) < 2 and time.time() < deadline:
        m = ps.get_message(timeout=0.5)
        if m:
            got.append(m["type"])
    assert got == ["subscribe", "psubscribe"]
    assert r.publish("news", "hello") == 2
    msgs = []
    while len(msgs) < 2 and time.time() < deadline:
        m = ps.get_message(timeout=0.5)
        if m:
            msgs.append((m["type"], m["data"]))
    assert sorted(msgs) == [("message", b"hello"), ("pmessage", b"hello")]
    ps.close()


def test_resp3_client(server):
    c = redis.Redis(port=server, protocol=3)
    assert c.ping() is True
    c.set("x", "1")
    assert c.get("x") == b"1"
    c.close()


def test_concurrent_clients_do_not_interfere(r, server):
    errors = []

    def worker(n):
        try:
            c = redis.Redis(port=server)
            for i in range(200):
                c.incr(f"ctr:{n}")
            c.close()
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert [int(r.get(f"ctr:{n}")) for n in range(8)] == [200] * 8
