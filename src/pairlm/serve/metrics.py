"""Prometheus text exposition (format 0.0.4) without a client library.

Request counts by route/method/status, a latency histogram by route, and gauges set by the app
(index size, readiness).
"""

from __future__ import annotations

import bisect
import threading
from collections import defaultdict

BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def _esc(v: str) -> str:
    return v.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


class Metrics:
    """Thread-safe counters, histogram and gauges rendered as Prometheus text."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._requests: dict[tuple[str, str, int], int] = defaultdict(int)
        self._hist: dict[str, list[int]] = {}
        self._sum: dict[str, float] = defaultdict(float)
        self._count: dict[str, int] = defaultdict(int)
        self._gauges: dict[str, tuple[str, float]] = {}

    def observe(self, route: str, method: str, status: int, seconds: float) -> None:
        with self._lock:
            self._requests[(route, method, status)] += 1
            h = self._hist.setdefault(route, [0] * (len(BUCKETS) + 1))
            h[bisect.bisect_left(BUCKETS, seconds)] += 1
            self._sum[route] += seconds
            self._count[route] += 1

    def set_gauge(self, name: str, value: float, help_text: str = "") -> None:
        with self._lock:
            self._gauges[name] = (help_text, float(value))

    def request_count(self, route: str | None = None) -> int:
        with self._lock:
            return sum(v for (r, _, _), v in self._requests.items() if route in (None, r))

    def render(self) -> str:
        with self._lock:
            lines = [
                "# HELP pairlm_http_requests_total HTTP requests by route, method and status.",
                "# TYPE pairlm_http_requests_total counter",
            ]
            for (route, method, status), v in sorted(self._requests.items()):
                lines.append(
                    f'pairlm_http_requests_total{{route="{_esc(route)}",method="{method}",'
                    f'status="{status}"}} {v}'
                )
            lines += [
                "# HELP pairlm_http_request_duration_seconds Request latency by route.",
                "# TYPE pairlm_http_request_duration_seconds histogram",
            ]
            for route, counts in sorted(self._hist.items()):
                r = _esc(route)
                cum = 0
                for le, c in zip(BUCKETS, counts):
                    cum += c
                    lines.append(
                        f'pairlm_http_request_duration_seconds_bucket{{route="{r}",le="{le}"}} {cum}'
                    )
                lines.append(
                    f'pairlm_http_request_duration_seconds_bucket{{route="{r}",le="+Inf"}} '
                    f"{self._count[route]}"
                )
                lines.append(
                    f'pairlm_http_request_duration_seconds_sum{{route="{r}"}} {self._sum[route]:.6f}'
                )
                lines.append(
                    f'pairlm_http_request_duration_seconds_count{{route="{r}"}} {self._count[route]}'
                )
            for name, (help_text, value) in sorted(self._gauges.items()):
                lines.append(f"# HELP {name} {help_text or name}")
                lines.append(f"# TYPE {name} gauge")
                lines.append(f"{name} {value:g}")
            return "\n".join(lines) + "\n"
