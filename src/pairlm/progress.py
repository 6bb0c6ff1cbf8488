"""Progress on long work, one helper for every layer.

`progress` gives a tqdm bar when stderr is a terminal; without one (nohup, CI, a scheduler, a
worker process) it writes a plain line to stderr at most once a minute, so a long fold shows
it is alive without flooding a log file:

    S-CNN epoch 3/30: 1200/2900 batches (41%), 21.4 batches/s, ETA 1 min

Work that ends within the minute prints nothing. ``enabled=True`` forces the bar, ``False``
silences both. `Heartbeat` is the same line for loops that count steps themselves (LoRA
training reports its loss in it). This module imports nothing of pairlm, so every layer may
use it.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterable, Iterator
from typing import Any, Generic, TypeVar

T = TypeVar("T")

EVERY_SECONDS = 60.0
"""How often a non-terminal progress line is written, at most."""


def want_progress(flag: bool | None = None) -> bool:
    """The bar is on when asked, else only when stderr is a terminal."""
    if flag is not None:
        return flag
    return sys.stderr.isatty()


def _eta(seconds: float) -> str:
    if seconds != seconds or seconds == float("inf"):
        return "ETA ?"
    if seconds < 90:
        return f"ETA {seconds:.0f} s"
    return f"ETA {seconds / 60:.0f} min"


class Heartbeat:
    """One line on stderr at most every `every` seconds — "desc: step 120/2400 (5%),
    7.9 examples/s, loss 0.41, ETA 47 min". Active when stderr is not a TTY and `enabled` is
    not False (a terminal gets the tqdm bar instead)."""

    def __init__(
        self, desc: str, total: int, *, every: float = EVERY_SECONDS, enabled: bool | None = None
    ) -> None:
        self.desc, self.total, self.every = desc, total, every
        self.active = enabled is not False and not sys.stderr.isatty()
        self._clock = time.monotonic
        self._t0 = self._last = self._clock()
        self._start_step: int | None = None

    def update(self, step: int, per_step: int = 1, **fields: float) -> str | None:
        """Report `step` (of `total`) if `every` seconds have passed; returns the line."""
        if not self.active:
            return None
        now = self._clock()
        if self._start_step is None:
            self._start_step = step - 1
        if now - self._last < self.every and step < self.total:
            return None
        self._last = now
        done = step - self._start_step
        rate = done / max(now - self._t0, 1e-9)
        eta = (self.total - step) / rate if rate > 0 else float("nan")
        parts = [f"{self.desc}: step {step}/{self.total} ({step / max(self.total, 1):.0%})"]
        parts.append(f"{rate * per_step:.2f} examples/s")
        parts += [f"{k} {v:.4f}" for k, v in fields.items()]
        parts.append(f"ETA {eta / 60:.0f} min" if eta == eta else "ETA ?")
        line = ", ".join(parts)
        print(line, file=sys.stderr, flush=True)
        return line


class LineProgress(Generic[T]):
    """The tqdm subset pairlm uses (iterate, `update`, `set_postfix`, `close`, `with`),
    written as a line at most every `every` seconds instead of a bar."""

    def __init__(
        self,
        iterable: Iterable[T] | None = None,
        *,
        desc: str = "",
        total: int | None = None,
        initial: int = 0,
        unit: str = "it",
        every: float = EVERY_SECONDS,
    ) -> None:
        if total is None and iterable is not None and hasattr(iterable, "__len__"):
            total = len(iterable)  # type: ignore[arg-type]
        self.iterable, self.desc, self.total, self.unit, self.every = (
            iterable,
            desc,
            total,
            unit,
            every,
        )
        self.n = self._start = initial
        self.postfix: dict[str, Any] = {}
        self.lines: list[str] = []
        self._clock = time.monotonic
        self._t0 = self._last = self._clock()

    def __iter__(self) -> Iterator[T]:
        if self.iterable is None:
            raise TypeError("LineProgress has no iterable to iterate over")
        for item in self.iterable:
            yield item
            self.update(1)

    def __enter__(self) -> LineProgress[T]:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def set_postfix(self, **fields: Any) -> None:
        self.postfix.update(fields)

    def update(self, n: int = 1) -> str | None:
        self.n += n
        now = self._clock()
        if now - self._last < self.every:
            return None
        self._last = now
        return self._write(now)

    def close(self) -> None:
        """Nothing to undo; a run that wrote lines ends with a last one when it finished."""
        if self.lines and self.total is not None and self.n >= self.total:
            self._write(self._clock())

    def _write(self, now: float) -> str:
        rate = (self.n - self._start) / max(now - self._t0, 1e-9)
        head = f"{self.desc}: {self.n}" if self.desc else str(self.n)
        if self.total:
            head += f"/{self.total} {self.unit} ({self.n / self.total:.0%})"
        else:
            head += f" {self.unit}"
        parts = [head, f"{rate:.2f} {self.unit}/s"]
        parts += [f"{k} {v}" for k, v in self.postfix.items()]
        if self.total:
            parts.append(_eta((self.total - self.n) / rate if rate > 0 else float("nan")))
        line = ", ".join(parts)
        print(line, file=sys.stderr, flush=True)
        self.lines.append(line)
        return line


class _Silent(LineProgress[T]):
    def update(self, n: int = 1) -> None:
        self.n += n

    def close(self) -> None:
        pass


def progress(
    iterable: Iterable[T] | None = None,
    *,
    desc: str = "",
    total: int | None = None,
    initial: int = 0,
    unit: str = "it",
    enabled: bool | None = None,
    leave: bool = False,
    every: float = EVERY_SECONDS,
) -> Any:
    """Progress over `iterable` (or a manual counter of `total` with ``update(n)``).

    ``enabled``: True, a tqdm bar; False, nothing; None (default), a bar on a terminal and a
    line at most every `every` seconds elsewhere. Iterate it, or call ``update`` /
    ``set_postfix`` / ``close`` as on a tqdm bar."""
    if enabled is False:
        return _Silent(iterable, desc=desc, total=total, initial=initial, unit=unit)
    if want_progress(enabled):
        from tqdm.auto import tqdm

        return tqdm(iterable, desc=desc, total=total, initial=initial, unit=unit, leave=leave)
    return LineProgress(iterable, desc=desc, total=total, initial=initial, unit=unit, every=every)
