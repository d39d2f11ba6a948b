"""redis-py's list, hash, set and sorted set APIs against redoubt-server, unchanged."""


def test_lists(r):
    assert r.rpush("l", "a", "b", "c") == 3
    assert r.lpush("l", "z") == 4
    assert r.lrange("l", 0, -1) == [b"z", b"a", b"b", b"c"]
    assert r.lpop("l") == b"z"
    assert r.rpop("l", 2) == [b"c", b"b"]
    assert r.llen("l") == 1
    assert r.lmove("l", "l2", "LEFT", "RIGHT") == b"a"
    assert r.exists("l") == 0


def test_hashes(r):
    assert r.hset("h", mapping={"f1": "v1", "f2": "v2"}) == 2
    assert r.hget("h", "f1") == b"v1"
    assert r.hgetall("h") == {b"f1": b"v1", b"f2": b"v2"}
    assert r.hincrby("h", "n", 5) == 5
    assert r.hincrbyfloat("h", "x", 0.1) == 0.1
    assert sorted(r.hkeys("h")) == [b"f1", b"f2", b"n", b"x"]
    assert r.hdel("h", "f1", "missing") == 1


def test_sets(r):
    assert r.sadd("s", 1, 2, 3) == 3
    assert r.object("encoding", "s") == b"intset"
    assert r.smembers("s") == {b"1", b"2", b"3"}
    assert r.sadd("t", 3, 4) == 2
    assert r.sinter("s", "t") == {b"3"}
    assert r.sunion("s", "t") == {b"1", b"2", b"3", b"4"}
    popped = r.spop("s")
    assert popped in {b"1", b"2", b"3"}
    assert r.scard("s") == 2


def test_sorted_sets(r):
    assert r.zadd("z", {"a": 1, "b": 2, "c": 3}) == 3
    assert r.zrange("z", 0, -1, withscores=True) == [(b"a", 1.0), (b"b", 2.0), (b"c", 3.0)]
    assert r.zincrby("z", 0.5, "a") == 1.5
    assert r.zrangebyscore("z", "(1.5", "+inf") == [b"b", b"c"]
    assert r.zrank("z", "c") == 2
    assert r.zpopmin("z") == [(b"a", 1.5)]
    assert r.zcard("z") == 2


def test_resp3_types(server):
    import redis

    c = redis.Redis(port=server, protocol=3)
    c.flushall()
    c.hset("h", "f", "v")
    assert c.hgetall("h") == {b"f": b"v"}
    c.zadd("z", {"m": 2.5})
    assert c.zscore("z", "m") == 2.5
    c.sadd("s", "x")
    assert c.smembers("s") == {b"x"}
    c.close()
