"""redis-py's list, hash, set and sorted set APIs, unchanged, against redoubt-server and against
the real redis-server 7.0 side by side: every call runs on both and the results (or the
exceptions) must be equal. Random commands (SPOP, SRANDMEMBER, HRANDFIELD, ZRANDMEMBER) are
compared by their properties, scans as sets of what the iteration returned."""
import threading
import time

import pytest
import redis


class Both:
    """Calls a redis-py method on our server and on Redis; returns our result once they agree.

    `both.lpush("l", 1)` checks `ours.lpush("l", 1) == theirs.lpush("l", 1)`. An exception
    must be of the same class with the same message on both."""

    def __init__(self, ours, theirs):
        self.ours = ours
        self.theirs = theirs

    @staticmethod
    def _run(client, name, args, kwargs):
        try:
            return ("ok", getattr(client, name)(*args, **kwargs))
        except redis.RedisError as e:
            return ("error", f"{type(e).__name__}: {e}")

    def call(self, name, *args, **kwargs):
        ours = self._run(self.ours, name, args, kwargs)
        theirs = self._run(self.theirs, name, args, kwargs)
        assert ours == theirs, f"{name}{args}{kwargs}: redoubt {ours!r}, redis {theirs!r}"
        return ours[1]

    def __getattr__(self, name):
        return lambda *args, **kwargs: self.call(name, *args, **kwargs)

    def each(self, fn):
        """Runs fn(client) on both (for calls whose results may legitimately differ)."""
        return fn(self.ours), fn(self.theirs)


def _pair(server, redis_server, **kw):
    ours = redis.Redis(port=server, socket_timeout=10, **kw)
    theirs = redis.Redis(port=redis_server, socket_timeout=10, **kw)
    ours.flushall()
    theirs.flushall()
    return Both(ours, theirs)


@pytest.fixture
def both(server, redis_server):
    b = _pair(server, redis_server)
    yield b
    b.ours.close()
    b.theirs.close()


@pytest.fixture
def both3(server, redis_server):
    b = _pair(server, redis_server, protocol=3)
    yield b
    b.ours.close()
    b.theirs.close()


def test_lists(both):
    b = both
    b.rpush("l", "a", "b", "c", 1, 2, 3)
    b.lpush("l", "z", "a")
    b.lpushx("l", "x")
    b.rpushx("nolist", "x")
    b.linsert("l", "BEFORE", "b", "bb")
    b.linsert("l", "AFTER", "nope", "v")
    b.lset("l", 0, "first")
    b.lset("l", -1, "last")
    b.lset("l", 100, "x")
    b.lset("nolist", 0, "x")
    assert b.lrange("l", 0, -1)
    b.lrange("l", -3, 100)
    b.lrange("l", 5, 2)
    b.lindex("l", 3)
    b.lindex("l", -100)
    b.rpush("l", "a", "a", "b", "a")
    for args in [{}, {"rank": 2}, {"rank": -1}, {"count": 0}, {"count": 2, "rank": -2},
                 {"maxlen": 3}, {"rank": 0}, {"count": -1}]:
        b.lpos("l", "a", **args)
    b.lrem("l", 1, "a")
    b.lrem("l", -1, "a")
    b.lrem("l", 0, "b")
    b.ltrim("l", 1, -2)
    b.llen("l")
    b.lmove("l", "l2", "LEFT", "RIGHT")
    b.lmove("l", "l", "RIGHT", "LEFT")
    b.rpoplpush("l", "l2")
    b.lmpop(2, "none", "l", direction="LEFT", count=2)
    b.lmpop(2, "l2", "l", direction="RIGHT")
    b.lmpop(1, "none", direction="LEFT")
    b.lpop("l")
    b.rpop("l", 2)
    b.lpop("l", 0)
    b.lpop("none", 3)
    b.rpop("l2", 100)
    b.exists("l", "l2")
    b.set("s", "v")
    b.lpush("s", "x")
    b.lrange("s", 0, -1)
    # Long lists: many quicklist nodes, big values.
    b.rpush("big", *[f"item-{i}" * (1 + i % 7) for i in range(600)])
    b.ltrim("big", 50, -50)
    b.linsert("big", "AFTER", "item-300" * 6, "inserted")
    b.lrange("big", 295, 310)
    b.lpos("big", "inserted")
    b.object("encoding", "big")


def test_blocking_lists(both):
    b = both
    b.blpop(["none1", "none2"], timeout=0.05)
    b.brpop("none1", timeout=0.05)
    b.blmove("none1", "dst", 0.05, "LEFT", "RIGHT")
    b.brpoplpush("none1", "dst", 0.05)
    b.blmpop(0.05, 2, "none1", "none2", direction="LEFT", count=3)
    b.rpush("q", "a", "b", "c", "d", "e")
    b.blpop(["none", "q"], timeout=1)
    b.brpop(["q"], timeout=0)
    b.blmove("q", "dst", 0, "LEFT", "LEFT")
    b.brpoplpush("q", "dst", 0)
    b.blmpop(0, 2, "none", "q", direction="RIGHT", count=5)
    b.lrange("dst", 0, -1)

    # Served by another client's push while blocked, on each server in turn.
    def served_later(client):
        port = client.connection_pool.connection_kwargs["port"]
        result = {}

        def waiter():
            c = redis.Redis(port=port, socket_timeout=10)
            result["blpop"] = c.blpop(["w1", "w2"], timeout=5)
            result["blmpop"] = c.blmpop(5, 1, "w3", direction="LEFT", count=2)
            c.close()

        t = threading.Thread(target=waiter)
        t.start()
        for key, values in [("w2", ["x", "y"]), ("w3", ["p", "q", "r"])]:
            deadline = time.time() + 5
            while client.info("clients")["blocked_clients"] != 1:
                assert time.time() < deadline, "the waiter never blocked"
                time.sleep(0.005)
            client.rpush(key, *values)
        t.join(10)
        assert not t.is_alive()
        return result, client.lrange("w2", 0, -1), client.lrange("w3", 0, -1)

    ours, theirs = b.each(served_later)
    assert ours == theirs


def test_hashes(both):
    b = both
    b.hset("h", mapping={"f1": "v1", "f2": "v2", "n": 5})
    b.hset("h", "f3", "v3", items=["f4", "v4", "f1", "new"])
    b.hsetnx("h", "f1", "nope")
    b.hsetnx("h", "f9", "yes")
    b.hget("h", "f1")
    b.hget("h", "missing")
    b.hmget("h", ["f1", "missing", "f2"])
    with pytest.warns(DeprecationWarning):
        b.hmset("h", {"m1": "a", "m2": "b"})
    b.hlen("h")
    b.hstrlen("h", "f1")
    b.hexists("h", "f2")
    b.hexists("h", "zz")
    b.hincrby("h", "n", 10)
    b.hincrby("h", "n", -100)
    b.hincrby("h", "f1", 1)
    b.hincrbyfloat("h", "fl", 0.1)
    b.hincrbyfloat("h", "fl", 1.5e3)
    b.hincrbyfloat("h", "n", "2.5")
    b.hdel("h", "f1", "missing", "f2")
    # A small hash is a listpack: insertion order is visible and must match.
    b.hkeys("h")
    b.hvals("h")
    b.hgetall("h")
    b.object("encoding", "h")
    b.hgetall("missing")
    b.hset("big", mapping={f"field:{i}": "v" * (i % 90) for i in range(300)})
    assert b.object("encoding", "big") == b"hashtable"
    assert sorted(b.ours.hkeys("big")) == sorted(b.theirs.hkeys("big"))
    assert b.hgetall("big")
    b.set("str", "x")
    b.hget("str", "f")
    b.hset("h", "only-field")


def test_hrandfield(both):
    b = both
    for key, n in [("small", 5), ("large", 200)]:
        b.hset(key, mapping={f"f{i}": f"v{i}" for i in range(n)})
        fields = set(b.ours.hkeys(key))
        for client in (b.ours, b.theirs):
            assert client.hrandfield(key) in fields
            got = client.hrandfield(key, 3)
            assert len(got) == 3 and len(set(got)) == 3 and set(got) <= fields
            assert sorted(client.hrandfield(key, n + 10)) == sorted(fields)
            got = client.hrandfield(key, -(n + 10))
            assert len(got) == n + 10 and set(got) <= fields
            pairs = client.hrandfield(key, 4, withvalues=True)
            assert len(pairs) == 8
            for f, v in zip(pairs[::2], pairs[1::2]):
                assert client.hget(key, f) == v
            assert client.hrandfield(key, 0) == []
    b.hrandfield("missing")
    b.hrandfield("missing", 3)
    b.hrandfield("missing", -3, withvalues=True)


def test_sets(both):
    b = both
    b.sadd("s", 1, 2, 3, 4)
    b.object("encoding", "s")
    b.sadd("s", 2, 5)
    b.smembers("s")
    b.sadd("t", 3, 4, "x", "y")
    b.object("encoding", "t")
    b.sismember("s", 3)
    b.sismember("s", "x")
    b.smismember("t", ["x", 1, 3])
    b.scard("t")
    b.srem("t", "x", "zz")
    b.smove("s", "t", 1)
    b.smove("s", "t", "nope")
    b.sinter("s", "t")
    b.sunion("s", "t", "none")
    b.sdiff("s", "t")
    b.sinterstore("i", "s", "t")
    b.sunionstore("u", ["s", "t"])
    b.sdiffstore("d", "s", "t")
    b.sinterstore("empty", "s", "none")
    b.exists("empty")
    b.sintercard(2, ["s", "t"])
    b.sintercard(2, ["s", "t"], limit=1)
    for k in ["i", "u", "d"]:
        b.smembers(k)
        b.object("encoding", k)
    b.sadd("many", *range(600))
    b.object("encoding", "many")
    b.smembers("many")
    b.set("str", "x")
    b.sadd("str", "m")
    b.sinter("s", "str")


def test_random_set_members(both):
    b = both
    b.sadd("s", *range(20))
    members = b.smembers("s")
    for client in (b.ours, b.theirs):
        assert client.srandmember("s") in members
        got = client.srandmember("s", 5)
        assert len(got) == 5 and len(set(got)) == 5 and set(got) <= members
        got = client.srandmember("s", -30)
        assert len(got) == 30 and set(got) <= members
        assert set(client.srandmember("s", 100)) == members
        popped = client.spop("s", 3)
        assert len(set(popped)) == 3 and set(popped) <= members
        one = client.spop("s")
        assert one in members and one not in popped
        assert client.scard("s") == 16
    b.spop("missing")
    b.spop("missing", 2)
    b.srandmember("missing", 2)


def test_sorted_sets(both):
    b = both
    b.zadd("z", {"a": 1, "b": 2, "c": 3, "d": 0.1, "e": -1})
    b.zadd("z", {"a": 5}, nx=True)
    b.zadd("z", {"a": 5, "new": 1}, xx=True, ch=True)
    b.zadd("z", {"b": 10, "c": 1}, gt=True, ch=True)
    b.zadd("z", {"b": 1, "c": 10}, lt=True, ch=True)
    b.zadd("z", {"d": 0.2}, incr=True)
    b.zadd("z", {"zz": 3}, xx=True, incr=True)
    b.zadd("z", {"a": 1}, nx=True, xx=True)
    b.zadd("z", {"a": 1}, gt=True, lt=True)
    b.zadd("z", {"a": "nan"})
    b.zincrby("z", 2.5, "a")
    b.zincrby("z", "+inf", "inf")
    b.zscore("z", "d")
    b.zscore("z", "missing")
    b.zmscore("z", ["a", "missing", "inf"])
    b.zcard("z")
    b.zcount("z", "-inf", "(2")
    b.zrank("z", "c")
    b.zrevrank("z", "c")
    b.zrank("z", "missing")
    b.zrange("z", 0, -1, withscores=True)
    b.zrange("z", 0, 2, desc=True)
    b.zrange("z", "(0", 5, byscore=True, withscores=True)
    b.zrange("z", 5, "(0", byscore=True, desc=True, offset=1, num=2)
    b.zrangebyscore("z", "-inf", "+inf", start=1, num=3, withscores=True)
    b.zrevrangebyscore("z", 3, 1)
    b.zadd("lex", {m: 0 for m in "abcdefg"})
    b.zrange("lex", "[b", "(f", bylex=True)
    b.zrange("lex", "+", "-", bylex=True, desc=True, offset=0, num=3)
    b.zrangebylex("lex", "-", "[c")
    b.zrevrangebylex("lex", "[e", "(a", start=1, num=2)
    b.zlexcount("lex", "[b", "+")
    b.zrangestore("dst", "z", 0, 2)
    b.zrangestore("dst2", "z", 1, "+inf", byscore=True, desc=False, offset=0, num=2)
    b.zrangestore("dst3", "lex", "[c", "+", bylex=True)
    b.zrange("dst2", 0, -1, withscores=True)
    b.zrem("z", "a", "missing")
    b.zremrangebyrank("dst3", 0, 1)
    b.zremrangebyscore("z", "-inf", 0)
    b.zremrangebylex("lex", "[a", "[c")
    b.zpopmin("z")
    b.zpopmax("z", 2)
    b.zmpop(2, ["none", "lex"], min=True, count=2)
    b.zmpop(1, ["lex"], max=True)
    b.zrange("lex", 0, -1)
    b.zmpop(1, ["none"], min=True)
    # Scores print as Redis 7.0 prints them.
    b.zadd("f", {"x": 0.1, "y": 1e-17, "w": 123456789012345.0, "v": -0.0})
    b.zrange("f", 0, -1, withscores=True, score_cast_func=bytes)
    b.zincrby("f", 0.2, "x")
    b.zscore("f", "x")


def test_sorted_set_algebra(both):
    b = both
    b.zadd("a", {"x": 1, "y": 2, "z": 3})
    b.zadd("b", {"y": 10, "z": 20, "w": 30})
    b.sadd("s", "x", "w")
    b.zunion(["a", "b"], withscores=True)
    b.zunion({"a": 2, "b": 0.5}, aggregate="MAX", withscores=True)
    b.zinter(["a", "b"], aggregate="MIN", withscores=True)
    b.zinter(["a", "s"], withscores=True)
    b.zdiff(["a", "b"], withscores=True)
    b.zunionstore("u", {"a": 1, "b": -1})
    b.zinterstore("i", ["a", "b"], aggregate="SUM")
    b.zdiffstore("d", ["b", "a"])
    b.zunionstore("us", ["a", "s"])
    for k in ["u", "i", "d", "us"]:
        b.zrange(k, 0, -1, withscores=True)
    b.zintercard(2, ["a", "b"])
    b.zintercard(2, ["a", "b"], limit=1)
    b.zunionstore("weird", {"a": "inf", "b": 0})
    b.zrange("weird", 0, -1, withscores=True)
    b.zadd("big", {f"m{i}": i % 17 for i in range(300)})
    b.object("encoding", "big")
    b.zinterstore("bigi", ["big", "a"])
    b.zrange("big", 100, 120, withscores=True)
    b.zrandmember("missing")
    b.zrandmember("missing", 5, withscores=True)


def test_zrandmember(both):
    b = both
    b.zadd("z", {f"m{i}": i / 4 for i in range(20)})
    scores = dict(b.zrange("z", 0, -1, withscores=True))
    for client in (b.ours, b.theirs):
        assert client.zrandmember("z") in scores
        got = client.zrandmember("z", 5)
        assert len(set(got)) == 5 and set(got) <= set(scores)
        got = client.zrandmember("z", -40)
        assert len(got) == 40 and set(got) <= set(scores)
        pairs = client.zrandmember("z", 6, withscores=True)
        for m, s in zip(pairs[::2], pairs[1::2]):
            assert float(s) == scores[m]


def test_blocking_sorted_sets(both):
    b = both
    b.bzpopmin(["none"], timeout=0.05)
    b.bzpopmax("none", timeout=0.05)
    b.bzmpop(0.05, 1, ["none"], min=True)
    b.zadd("z", {"a": 1, "b": 2, "c": 3, "d": 4})
    b.bzpopmin(["none", "z"], timeout=0)
    b.bzpopmax(["z"], timeout=1)
    b.bzmpop(0, 2, ["none", "z"], max=True, count=5)
    b.exists("z")


def test_scan_iters(both):
    b = both
    for i in range(300):
        b.set(f"str:{i}", i)
    b.rpush("list:1", 1)
    b.hset("hash:small", mapping={"a": 1, "b": 2})
    b.hset("hash:big", mapping={f"f{i}": i for i in range(500)})
    b.sadd("set:int", *range(50))
    b.sadd("set:big", *[f"m{i}" for i in range(700)])
    b.zadd("zset:small", {"a": 1, "b": 2})
    b.zadd("zset:big", {f"m{i}": i for i in range(400)})
    ours, theirs = b.each(lambda c: sorted(c.scan_iter()))
    assert ours == theirs and len(ours) == 307
    for kw in [{"match": "str:1*"}, {"count": 7}, {"_type": "hash"}, {"_type": "zset"},
               {"match": "*:big", "_type": "set"}, {"match": "nothing*"}]:
        ours, theirs = b.each(lambda c: sorted(c.scan_iter(**kw)))
        assert ours == theirs, kw
    for key in ["hash:small", "hash:big"]:
        for kw in [{}, {"match": "f1*"}, {"count": 50}]:
            ours, theirs = b.each(lambda c: sorted(c.hscan_iter(key, **kw)))
            assert ours == theirs, (key, kw)
    for key in ["set:int", "set:big"]:
        for kw in [{}, {"match": "*7"}, {"count": 3}]:
            ours, theirs = b.each(lambda c: sorted(c.sscan_iter(key, **kw)))
            assert ours == theirs, (key, kw)
    for key in ["zset:small", "zset:big"]:
        for kw in [{}, {"match": "m1?"}, {"count": 100}]:
            ours, theirs = b.each(lambda c: sorted(c.zscan_iter(key, **kw)))
            assert ours == theirs, (key, kw)
    # Iterating while the collection is unchanged returns each element exactly once.
    assert len(list(b.ours.sscan_iter("set:big"))) == 700
    assert len(list(b.ours.hscan_iter("hash:big"))) == 500
    assert len(list(b.ours.zscan_iter("zset:big"))) == 400


def test_resp3_types(both3):
    b = both3
    b.hset("h", mapping={"f": "v", "g": "w"})
    b.hgetall("h")
    b.zadd("z", {"m": 2.5, "n": 0.1})
    b.zscore("z", "m")
    b.zmscore("z", ["m", "none"])
    b.zrange("z", 0, -1, withscores=True)
    b.zincrby("z", 1, "n")
    b.zpopmin("z")
    b.zunion(["z"], withscores=True)
    b.bzpopmax(["z"], timeout=1)
    b.bzpopmin(["z"], timeout=0.05)
    b.sadd("s", "x", "y")
    b.smembers("s")
    b.smismember("s", ["x", "q"])
    b.rpush("l", "a", "b")
    b.lmpop(1, "l", direction="LEFT", count=5)
    b.blmpop(0.05, 1, "l", direction="LEFT")
    b.zadd("z2", {"a": 1, "b": 2})
    b.zmpop(1, ["z2"], min=True, count=2)
    b.hincrbyfloat("h", "n", 1.5)
