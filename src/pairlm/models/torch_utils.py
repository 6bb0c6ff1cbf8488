"""Shared helpers for the torch model families: seeding, devices, threads, length-sorted
batching with dynamic padding, early stopping with an in-memory best checkpoint. (`progress`,
`Heartbeat` and `want_progress` are `pairlm.progress`'s, re-exported for the families.)

Kept free of any one family's details so every torch family (S-CNN, encoders, LLMs) can use it.
"""

from __future__ import annotations

import contextlib
import copy
import logging
import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np

from pairlm.progress import Heartbeat as Heartbeat
from pairlm.progress import progress as progress
from pairlm.progress import want_progress as want_progress

if TYPE_CHECKING:
    import torch

log = logging.getLogger(__name__)

T = TypeVar("T")


# ---------------------------------------------------------------------- seeding, device, threads
def seed_everything(seed: int, *, deterministic: bool = True) -> None:
    """Seed python, numpy and torch; ask torch for deterministic kernels where that is cheap.

    On CPU, torch kernels are deterministic for a fixed thread count; `deterministic=True`
    also turns on `torch.use_deterministic_algorithms(warn_only=True)` so a non-deterministic
    kernel warns rather than silently differing between runs.
    """
    import torch

    random.seed(seed)
    np.random.seed(seed % (2**32))
    torch.manual_seed(seed)
    if deterministic:
        torch.use_deterministic_algorithms(True, warn_only=True)
        if torch.backends.cudnn.is_available():
            torch.backends.cudnn.benchmark = False
            torch.backends.cudnn.deterministic = True


def resolve_device(device: str = "auto") -> torch.device:
    """`"auto"` → CUDA when available, else CPU; anything else is passed to `torch.device`."""
    import torch

    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        return torch.device(device)
    except RuntimeError as e:
        raise ValueError(f"invalid device {device!r}: {e}") from e


@contextlib.contextmanager
def torch_threads(n: int | None) -> Iterator[None]:
    """Temporarily set torch's intra-op thread count (None or 0: leave it as it is)."""
    import torch

    if not n:
        yield
        return
    old = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(old)


# ---------------------------------------------------------------------- batching
def length_sorted_batches(
    lengths: Sequence[int] | np.ndarray,
    batch_size: int,
    *,
    shuffle: bool = False,
    seed: int = 0,
    bucket_factor: int = 50,
) -> list[np.ndarray]:
    """Index batches of items of similar length, so dynamic padding pads little.

    Without `shuffle` (scoring): items sorted by length, cut into consecutive batches.
    With `shuffle` (training): items are shuffled, cut into buckets of
    `batch_size * bucket_factor` items, each bucket sorted by length and cut into batches,
    and the batch order is shuffled: batches stay length-homogeneous but differ every epoch.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    lens = np.asarray(lengths)
    n = len(lens)
    if n == 0:
        return []
    if not shuffle:
        order = np.argsort(lens, kind="stable")
        return [order[i : i + batch_size] for i in range(0, n, batch_size)]
    rng = np.random.default_rng(seed)
    perm = rng.permutation(n)
    bucket = max(batch_size, batch_size * bucket_factor)
    batches: list[np.ndarray] = []
    for start in range(0, n, bucket):
        chunk = perm[start : start + bucket]
        chunk = chunk[np.argsort(lens[chunk], kind="stable")]
        batches.extend(chunk[i : i + batch_size] for i in range(0, len(chunk), batch_size))
    order = rng.permutation(len(batches))
    return [batches[i] for i in order]


def pad_batch(
    sequences: Sequence[Sequence[int]],
    pad_id: int = 0,
    *,
    max_len: int | None = None,
    min_len: int = 1,
) -> tuple[np.ndarray, np.ndarray]:
    """Pad (and truncate to `max_len`) id sequences to the batch's longest one.

    Returns (ids, mask) as int64 arrays of shape (batch, length) with length >= `min_len`
    (convolutions need at least their width).
    """
    longest = max((len(s) for s in sequences), default=0)
    if max_len is not None:
        longest = min(longest, max_len)
    width = max(longest, min_len)
    ids = np.full((len(sequences), width), pad_id, dtype=np.int64)
    mask = np.zeros((len(sequences), width), dtype=np.int64)
    keep = width if max_len is None else min(width, max_len)
    for i, s in enumerate(sequences):
        s = s[:keep]
        ids[i, : len(s)] = s
        mask[i, : len(s)] = 1
    return ids, mask


# ---------------------------------------------------------------------- early stopping
@dataclass
class EarlyStopping:
    """Track a validation score per epoch; keep a copy of the best epoch's weights in memory.

    `mode="min"` for losses, `"max"` for F1/AUC. `step(score, model)` returns True when training
    should stop (no improvement larger than `min_delta` for `patience` epochs);
    `restore(model)` loads the best weights back.
    """

    patience: int = 2
    mode: str = "min"
    min_delta: float = 0.0
    best_score: float | None = None
    best_epoch: int = -1
    epochs_seen: int = 0
    history: list[float] = field(default_factory=list)
    _best_state: dict[str, Any] | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if self.mode not in ("min", "max"):
            raise ValueError(f"mode must be 'min' or 'max', got {self.mode!r}")
        if self.patience < 0:
            raise ValueError(f"patience must be >= 0, got {self.patience}")

    def improved(self, score: float) -> bool:
        if self.best_score is None:
            return True
        if self.mode == "min":
            return score < self.best_score - self.min_delta
        return score > self.best_score + self.min_delta

    def step(self, score: float, model: torch.nn.Module | None = None) -> bool:
        """Record one epoch's score; snapshot the model if it is the best so far."""
        self.history.append(float(score))
        epoch = self.epochs_seen
        self.epochs_seen += 1
        if self.improved(score):
            self.best_score = float(score)
            self.best_epoch = epoch
            if model is not None:
                self._best_state = {
                    k: v.detach().to("cpu", copy=True) for k, v in model.state_dict().items()
                }
            return False
        return epoch - self.best_epoch >= self.patience

    def restore(self, model: torch.nn.Module) -> None:
        """Load the best epoch's weights into `model` (no-op when none was kept)."""
        if self._best_state is not None:
            model.load_state_dict(copy.copy(self._best_state))


# ---------------------------------------------------------------------- misc
def sigmoid(x: np.ndarray) -> np.ndarray:
    """Numerically stable logistic function (float64)."""
    x = np.asarray(x, dtype=np.float64)
    out = np.empty_like(x)
    pos = x >= 0
    out[pos] = 1.0 / (1.0 + np.exp(-x[pos]))
    ex = np.exp(x[~pos])
    out[~pos] = ex / (1.0 + ex)
    return out


def cpu_has_bf16(cpuinfo: str | Path = "/proc/cpuinfo") -> bool:
    """True when the CPU has native bf16 arithmetic (AVX512-BF16 or AMX-BF16 in /proc/cpuinfo)."""
    try:
        text = Path(cpuinfo).read_text()
    except OSError:
        return False
    for line in text.splitlines():
        if line.startswith("flags"):
            flags = set(line.split(":", 1)[1].split())
            return bool(flags & {"avx512_bf16", "amx_bf16"})
    return False


def autocast_on(mode: str, device: Any) -> bool:
    """Whether `autocast` `mode` computes in bf16 on `device`: "bf16" always, "auto" on a GPU
    or a CPU with native bf16, "off" never."""
    import torch

    dev = torch.device(device)
    return mode == "bf16" or (mode == "auto" and (dev.type == "cuda" or cpu_has_bf16()))


def bf16_autocast(mode: str, device: Any) -> Any:
    """A bf16 autocast context for `mode` "bf16" (always) or "auto" (on a GPU, or a CPU with
    native bf16), else a null context. Weights and optimizer state stay float32."""
    import torch

    dev = torch.device(device)
    if not autocast_on(mode, dev):
        return contextlib.nullcontext()
    return torch.autocast(device_type=dev.type, dtype=torch.bfloat16)
