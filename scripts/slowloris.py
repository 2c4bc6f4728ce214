#!/usr/bin/env python3
"""Measure how a running pairdesk server holds up under slow clients.

Opens N connections from one loopback address (127.0.0.2 by default) that
each send half a request head and then wait, then times a normal request from
127.0.0.1 and reads the server's open file descriptors from /proc. Prints
one JSON object. Used for the figures in BENCHMARKS.md; not part of the test
suite (tests/api_http.rs has the asserting version).

    scripts/slowloris.py --pid $(pgrep -f 'pairdesk serve') --port 3000
"""

import argparse
import json
import os
import socket
import time
import urllib.request


def fds(pid):
    try:
        return len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--pid", type=int, required=True)
    ap.add_argument("--port", type=int, default=3000)
    ap.add_argument("--connections", type=int, default=3000)
    ap.add_argument("--source", default="127.0.0.2")
    ap.add_argument("--hold", type=float, default=15.0, help="seconds to watch")
    a = ap.parse_args()

    before = fds(a.pid)
    held = []
    refused = 0
    t0 = time.time()
    for _ in range(a.connections):
        s = socket.socket()
        s.bind((a.source, 0))
        try:
            s.connect(("127.0.0.1", a.port))
            s.sendall(b"GET /api/v1/symbols HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow:")
            held.append(s)
        except OSError:
            refused += 1
            s.close()
    opened_s = time.time() - t0
    time.sleep(0.5)
    during = fds(a.pid)

    t1 = time.time()
    with urllib.request.urlopen(f"http://127.0.0.1:{a.port}/api/v1/symbols", timeout=10) as r:
        status = r.status
        r.read()
    normal_ms = (time.time() - t1) * 1000

    # When does the server close the held sockets?
    for s in held:
        s.setblocking(False)
    closed_at = []
    open_socks = set(range(len(held)))
    t2 = time.time()
    while open_socks and time.time() - t2 < a.hold:
        for i in list(open_socks):
            try:
                data = held[i].recv(4096)
                if data == b"" or data.startswith(b"HTTP/1.1 503"):
                    closed_at.append(time.time() - t2)
                    open_socks.discard(i)
            except BlockingIOError:
                pass
            except OSError:
                closed_at.append(time.time() - t2)
                open_socks.discard(i)
        time.sleep(0.05)
    after = fds(a.pid)
    for s in held:
        s.close()
    closed_at.sort()
    print(json.dumps({
        "connections": a.connections,
        "connect_errors": refused,
        "open_seconds": round(opened_s, 2),
        "server_fds_before": before,
        "server_fds_during": during,
        "server_fds_after": after,
        "normal_request_status": status,
        "normal_request_ms": round(normal_ms, 1),
        "closed_by_server": len(closed_at),
        "still_open_after_watch": len(open_socks),
        "last_close_s_after_normal_request": round(closed_at[-1], 2) if closed_at else None,
    }))


if __name__ == "__main__":
    main()
