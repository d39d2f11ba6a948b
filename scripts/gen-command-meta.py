#!/usr/bin/env python3
"""Capture Redis 7.0.15's command metadata (COMMAND INFO and COMMAND DOCS, RESP3) into
crates/engine/src/commands/meta/. These are facts about Redis's interface, stored as data
(as Redis itself generates commands.def from JSON); Redoubt serves them for the commands it
implements, and its command table takes arity, flags and key positions from them.

A second set, sentinel-info.resp3 and sentinel-docs.resp3, is captured from a real
redis-sentinel: the restricted table a Sentinel serves (its own SENTINEL, INFO, ROLE, PUBLISH
and the few generic commands it keeps), so COMMAND answers in sentinel mode as redis-sentinel's.

Usage: scripts/gen-command-meta.py   (needs redis-server and redis-sentinel 7.0.15 on PATH)
"""
import os, socket, subprocess, sys, tempfile, time

def free_port():
    s = socket.socket(); s.bind(("127.0.0.1", 0)); p = s.getsockname()[1]; s.close(); return p

def read_reply(f):
    """Reads one RESP3 reply, returning its exact bytes."""
    line = f.readline()
    out = bytearray(line)
    t = line[:1]
    body = line[1:-2]
    if t in (b"$", b"=", b"!"):
        n = int(body)
        if n >= 0:
            out += f.read(n + 2)
    elif t in (b"*", b"~", b">", b"%", b"|"):
        n = int(body)
        if t in (b"%", b"|"):
            n *= 2
        for _ in range(max(n, 0)):
            out += read_reply(f)
    return bytes(out)

def capture(dest, prefix, sentinel):
    port = free_port()
    with tempfile.TemporaryDirectory() as d:
        if sentinel:
            conf = os.path.join(d, "sentinel.conf")
            with open(conf, "w") as c:
                c.write("port %d\nbind 127.0.0.1\n" % port)
            argv = ["redis-sentinel", conf]
        else:
            argv = ["redis-server", "--port", str(port), "--bind", "127.0.0.1",
                    "--save", "", "--dir", d]
        p = subprocess.Popen(argv, stdout=subprocess.DEVNULL, cwd=d)
        try:
            deadline = time.time() + 10
            while True:
                try:
                    s = socket.create_connection(("127.0.0.1", port)); break
                except OSError:
                    if time.time() > deadline: raise
                    time.sleep(0.05)
            f = s.makefile("rb")
            def cmd(*args):
                req = b"*%d\r\n" % len(args) + b"".join(
                    b"$%d\r\n%s\r\n" % (len(a), a) for a in (x.encode() for x in args))
                s.sendall(req)
                return read_reply(f)
            cmd("HELLO", "3")
            names = cmd("COMMAND", "LIST")
            lst = [l for l in names.split(b"\r\n")[1:] if l and not l.startswith(b"$")]
            with open(os.path.join(dest, prefix + "info.resp3"), "wb") as out:
                for n in sorted(lst):
                    out.write(cmd("COMMAND", "INFO", n.decode()))
            with open(os.path.join(dest, prefix + "docs.resp3"), "wb") as out:
                for n in sorted(lst):
                    out.write(cmd("COMMAND", "DOCS", n.decode()))
            print(f"{len(lst)} commands written to {dest} ({prefix or 'server'})")
        finally:
            p.terminate(); p.wait()

def main():
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    dest = os.path.join(root, "crates/engine/src/commands/meta")
    os.makedirs(dest, exist_ok=True)
    only_sentinel = "--sentinel-only" in sys.argv
    if not only_sentinel:
        capture(dest, "", False)
    capture(dest, "sentinel-", True)

if __name__ == "__main__":
    main()
