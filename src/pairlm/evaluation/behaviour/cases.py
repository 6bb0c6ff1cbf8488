"""One probe of the behavioural suite (`Case`), shared by the generators and the suite."""

from __future__ import annotations

from dataclasses import dataclass

Pair = tuple[str, str]


@dataclass(frozen=True)
class Case:
    """One probe: `pair` is scored; for inv/dir tests, `base` is the pair it is compared with."""

    pair: Pair
    base: Pair | None = None
