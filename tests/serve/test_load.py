"""Bounded load test against 127.0.0.1: a fixed number of requests from several concurrent
clients; reports throughput and p50/p99 latency; no request may fail."""

from __future__ import annotations

import json
import threading
import time

import httpx
import numpy as np

CLIENTS = 6
REQUESTS_PER_CLIENT = 25


def test_bounded_load(server):
    lat: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()
    queries = [
        "how do i learn python",
        "why is the sky blue",
        "how to make money fast",
        "where can i buy a cheap laptop",
    ]

    def client(n: int) -> None:
        with httpx.Client(base_url=server.url, timeout=30) as c:
            for i in range(REQUESTS_PER_CLIENT):
                q = queries[(n + i) % len(queries)]
                t0 = time.perf_counter()
                try:
                    r = c.post("/v1/search", json={"text": q, "top_k": 5})
                    ok = r.status_code == 200 and r.json()["results"][0]["hits"]
                except httpx.HTTPError as e:
                    ok, r = False, e  # type: ignore[assignment]
                dt = time.perf_counter() - t0
                with lock:
                    lat.append(dt)
                    if not ok:
                        errors.append(str(r))

    t0 = time.perf_counter()
    threads = [threading.Thread(target=client, args=(n,)) for n in range(CLIENTS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    wall = time.perf_counter() - t0
    assert not errors, errors[:3]
    assert len(lat) == CLIENTS * REQUESTS_PER_CLIENT
    a = np.array(lat) * 1000
    print(
        json.dumps(
            {
                "requests": len(lat),
                "clients": CLIENTS,
                "errors": len(errors),
                "throughput_rps": round(len(lat) / wall, 1),
                "p50_ms": round(float(np.percentile(a, 50)), 2),
                "p99_ms": round(float(np.percentile(a, 99)), 2),
            }
        )
    )
    assert httpx.get(server.url + "/health").status_code == 200
