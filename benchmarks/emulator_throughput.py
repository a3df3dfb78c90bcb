"""Emulator throughput: GET requests per second on loopback, and 50 concurrent writers.

    .venv/bin/python benchmarks/emulator_throughput.py [--seconds 5] [--clients 4]

The emulator runs as `pcc-env emulator` in its own process. GET load comes from client processes
holding keep-alive connections (http.client). Anchor, in the same run: a minimal ASGI app that
answers a constant JSON body under the same uvicorn, the ceiling for any app on this machine.
Writers: 50 threads each PUT their own key with a unique value to one set; every answer must be
202 or 409, and every accepted write must be what the store holds at the end (0 lost updates).
Target (issue 2, 2-core machine): >= 1,500 GET/s, 0 lost updates.
"""

from __future__ import annotations

import argparse
import http.client
import json
import multiprocessing as mp
import os
import socket
import sys
import threading
import time
from collections import Counter
from urllib.parse import urlsplit

sys.path.insert(0, os.path.dirname(__file__))
from _common import Emulator, emulator_process

TARGET_GET_PER_S = 1500


def _get_loop(host: str, port: int, path: str, token: str, seconds: float, out: mp.Queue) -> None:  # type: ignore[type-arg]
    conn = http.client.HTTPConnection(host, port)
    headers = {"Authorization": f"Bearer {token}"}
    n = 0
    errors = 0
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        conn.request("GET", path, headers=headers)
        resp = conn.getresponse()
        resp.read()
        if resp.status == 200:
            n += 1
        else:
            errors += 1
    out.put((n, errors))


def get_rate(
    api_host: str, path: str, token: str, seconds: float, clients: int
) -> tuple[float, int]:
    parts = urlsplit(api_host)
    out: mp.Queue = mp.Queue()  # type: ignore[type-arg]
    procs = [
        mp.Process(
            target=_get_loop,
            args=(parts.hostname, parts.port, path, token, seconds, out),
        )
        for _ in range(clients)
    ]
    start = time.perf_counter()
    for p in procs:
        p.start()
    results = [out.get() for _ in procs]
    for p in procs:
        p.join()
    elapsed = time.perf_counter() - start
    return sum(n for n, _ in results) / elapsed, sum(e for _, e in results)


async def _anchor_app(scope, receive, send):  # type: ignore[no-untyped-def]
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", b"application/json")],
        }
    )
    await send({"type": "http.response.body", "body": b'{"sets":[]}'})


def _serve_anchor(sock: socket.socket) -> None:
    import asyncio

    import uvicorn

    server = uvicorn.Server(uvicorn.Config(_anchor_app, log_level="warning", lifespan="off"))
    asyncio.run(server.serve(sockets=[sock]))


def anchor_rate(seconds: float, clients: int) -> float:
    sock = socket.socket()
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # as the emulator does
    sock.bind(("127.0.0.1", 0))
    sock.listen(1024)
    port = sock.getsockname()[1]
    proc = mp.Process(target=_serve_anchor, args=(sock,), daemon=True)
    proc.start()
    time.sleep(0.5)
    try:
        rate, _ = get_rate(f"http://127.0.0.1:{port}", "/", "x", seconds, clients)
    finally:
        proc.terminate()
        proc.join()
    return rate


def writers(emu: Emulator, n_writers: int, rounds: int) -> dict[str, int]:
    parts = urlsplit(emu.api_host)
    outcomes: dict[int, list[tuple[int, int]]] = {w: [] for w in range(n_writers)}
    barrier = threading.Barrier(n_writers)

    def run(w: int) -> None:
        conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
        barrier.wait()
        for i in range(rounds):
            body = {"secrets": [{"secretKey": f"W{w}", "secretValue": f"w{w}-r{i}"}]}
            conn.request(
                "PUT",
                "/v1/secrets/bench-shared",
                body=json.dumps(body),
                headers={
                    "Authorization": f"Bearer {emu.token}",
                    "Content-Type": "application/json",
                },
            )
            resp = conn.getresponse()
            resp.read()
            outcomes[w].append((i, resp.status))

    threads = [threading.Thread(target=run, args=(w,)) for w in range(n_writers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    codes = Counter(code for res in outcomes.values() for _, code in res)
    lost = 0
    for w, res in outcomes.items():
        accepted = [i for i, code in res if code == 202]
        if accepted:
            check = {"set": "bench-shared", "key": f"W{w}", "value": f"w{w}-r{accepted[-1]}"}
            if not emu.call("POST", "/_emulator/check-value", check)["matches"]:
                lost += 1
    applied = sum(1 for w in emu.stats()["writes"] if w["set"] == "bench-shared")
    lost += abs(applied - codes[202])  # every 202 applied exactly once
    return {
        "requests": sum(codes.values()),
        "202": codes[202],
        "409": codes[409],
        "other": sum(v for k, v in codes.items() if k not in (202, 409)),
        "lost": lost,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--writers", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=20)
    args = parser.parse_args()

    with emulator_process("--provision-delay", "0") as emu:
        emu.call(
            "PUT", "/v1/secrets/bench-set", {"secrets": [{"secretKey": "K", "secretValue": "v"}]}
        )
        get_set, get_errors = get_rate(
            emu.api_host, "/v1/secrets/bench-set", emu.token, args.seconds, args.clients
        )
        list_sets, _ = get_rate(emu.api_host, "/v1/secrets", emu.token, args.seconds, args.clients)
        write0 = writers(emu, args.writers, args.rounds)
    with emulator_process("--provision-delay", "0", "--latency-ms", "5") as emu:
        write5 = writers(emu, args.writers, args.rounds)
    anchor = anchor_rate(args.seconds, args.clients)

    print(f"GET /v1/secrets/{{setName}}: {get_set:,.0f} req/s ({get_errors} errors)")
    print(f"GET /v1/secrets:            {list_sets:,.0f} req/s")
    print(f"anchor (bare ASGI, same uvicorn): {anchor:,.0f} req/s")
    print(f"ratio emulator/anchor: {get_set / anchor:.2f}")
    verdict = "met" if get_set >= TARGET_GET_PER_S else "NOT met"
    print(
        f"target >= {TARGET_GET_PER_S:,} GET/s: {verdict}"
        f" (ratio to target {get_set / TARGET_GET_PER_S:.2f})"
    )
    for label, w in (("latency 0 ms", write0), ("latency 5 ms", write5)):
        print(
            f"{args.writers} writers x {args.rounds} PUTs, {label}: {w['202']} accepted (202), "
            f"{w['409']} conflicts (409), {w['other']} other, {w['lost']} lost updates"
        )
    ok = get_set >= TARGET_GET_PER_S and write0["lost"] == 0 and write5["lost"] == 0
    print("RESULT:", "target met" if ok else "target NOT met")


if __name__ == "__main__":
    main()
