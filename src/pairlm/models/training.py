"""The one training loop of the torch families (cross-encoder, bi-encoder fine-tuning, S-CNN,
LoRA): `train`, with its learning-rate schedules, resumable checkpoints and state.

A family supplies a `Task` (its batches, re-created from the epoch number alone, so that a
resumed run takes up the same order at the same position; a batch's mean loss; optionally a
validation loss) and its optimizer and scheduler; `LoopSettings` carries the rest: epochs
and a step cap, gradient accumulation, gradient clipping, validation every `eval_steps`
steps and at each epoch's end, early stopping, checkpoint frequency, progress. Each family
keeps its own numbers: its schedule formula (`WarmupSchedule`, `LinearWarmupDecay`,
`CappedWarmupDecay`), its clipping and its weight decay are settings, not the loop's.

Checkpoints
-----------
With a checkpoint folder, a checkpoint is a directory ``step-00000042`` in it holding exactly
what resuming needs (nanoGPT's rule):

- ``adapter.safetensors``: every trainable tensor (a whole network, or LoRA A/B and a head);
- ``best_adapter.safetensors``: the trainable tensors of the best validation so far;
- ``training_state.pt``: optimizer and scheduler state dicts, torch (and CUDA) RNG states —
  written with `torch.save`, read back with ``torch.load(weights_only=True)`` (tensors and
  plain containers only; no arbitrary pickles);
- ``trainer_state.json``: step, epoch, position in the epoch, early-stopping state, history.

A checkpoint is written into a temporary directory and renamed into place; ``latest.json``
(replaced atomically) names the newest complete one, so a process killed while writing leaves
the previous checkpoint intact. A run finds its latest checkpoint and goes on from it: the
same weights, optimizer moments, learning rate, random state (dropout) and batch position,
so a killed and resumed training ends with the numbers of an uninterrupted one.
"""

from __future__ import annotations

import copy
import json
import logging
import math
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic, Literal, TypeVar

import numpy as np

from pairlm.progress import Heartbeat, progress, want_progress

if TYPE_CHECKING:
    import torch

log = logging.getLogger(__name__)

T = TypeVar("T")

ADAPTER_FILE = "adapter.safetensors"
BEST_FILE = "best_adapter.safetensors"
STATE_FILE = "training_state.pt"
TRAINER_FILE = "trainer_state.json"
LATEST_FILE = "latest.json"
SCHEDULES = ("linear", "cosine", "constant")


# ---------------------------------------------------------------------------- schedules
# Callable objects (not lambdas), so that `LambdaLR.state_dict()` stays plain data. Each is
# one family's formula, kept to the last bit: the same seeds give the same weights as before.
@dataclass(frozen=True)
class WarmupSchedule:
    """Multiplier of the base learning rate at optimizer step `s`: linear warm-up over
    `warmup` steps, then linear decay to 0 / cosine decay to 0 / constant until `total`
    (LoRA's `schedule`)."""

    kind: str
    warmup: int
    total: int

    def __call__(self, step: int) -> float:
        if self.warmup > 0 and step < self.warmup:
            return (step + 1) / (self.warmup + 1)
        if self.kind == "constant":
            return 1.0
        span = max(1, self.total - self.warmup)
        progress = min(1.0, (step - self.warmup) / span)
        if self.kind == "linear":
            return max(0.0, 1.0 - progress)
        return 0.5 * (1.0 + math.cos(math.pi * progress))


@dataclass(frozen=True)
class LinearWarmupDecay:
    """Linear warm-up over `warmup` steps, then linear decay to zero at `total` (the
    cross-encoder's formula)."""

    warmup: int
    total: int

    def __call__(self, s: int) -> float:
        if s < self.warmup:
            return (s + 1) / (self.warmup + 1)
        return max(0.0, (self.total - s) / max(1, self.total - self.warmup))


@dataclass(frozen=True)
class CappedWarmupDecay:
    """The smaller of a warm-up ramp (s + 1) / warmup and a linear decay to zero at `total`
    (the bi-encoder fine-tuning's formula)."""

    warmup: int
    total: int

    def __call__(self, s: int) -> float:
        return min(
            (s + 1) / self.warmup, max(0.0, (self.total - s) / max(1, self.total - self.warmup))
        )


def lambda_scheduler(optimizer: Any, schedule: Callable[[int], float]) -> Any:
    """A `LambdaLR` following `schedule` (one of the callable schedules above)."""
    from torch.optim.lr_scheduler import LambdaLR

    return LambdaLR(optimizer, schedule)


def make_scheduler(optimizer: Any, kind: str, warmup: int, total: int) -> Any:
    """A `LambdaLR` following `WarmupSchedule(kind, warmup, total)`."""
    if kind not in SCHEDULES:
        raise ValueError(f"schedule must be one of {', '.join(SCHEDULES)}, got {kind!r}")
    return lambda_scheduler(optimizer, WarmupSchedule(kind, warmup, total))


# ---------------------------------------------------------------------------- state
@dataclass
class TrainerState:
    """Where training stands; saved as JSON with every checkpoint."""

    step: int = 0
    """Optimizer steps done."""
    epoch: int = 0
    batch_in_epoch: int = 0
    """Micro-batches of `epoch` already consumed (by this rank)."""
    best_score: float | None = None
    best_step: int = -1
    bad_evals: int = 0
    stopped_early: bool = False
    done: bool = False
    history: list[dict[str, float]] = field(default_factory=list)
    """One entry per logged step: step, train loss (and valid loss when evaluated)."""
    train_seconds: float = 0.0
    """Wall time spent in the training loop, summed over every process that resumed it."""
    best_epoch: int = -1
    """Epoch (from 0) of the best validation."""
    epoch_loss: float = 0.0
    """Sum of batch loss × batch size over the batches of `epoch` done so far."""
    epoch_examples: int = 0
    """Examples in those batches."""
    epoch_seconds: float = 0.0
    """Time spent on those batches' steps (validation left out)."""
    epoch_log: list[dict[str, float]] = field(default_factory=list)
    """One entry per finished epoch: epoch (from 1), train loss (mean over its examples),
    valid loss (when validated at its end), seconds (its steps, validation left out)."""

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=1)

    @classmethod
    def from_json(cls, text: str) -> TrainerState:
        return cls(**json.loads(text))


def trainable_state(model: Any) -> dict[str, torch.Tensor]:
    """Copies (CPU, contiguous) of every trainable tensor, by parameter name."""
    return {
        n: p.detach().to("cpu", copy=True).contiguous()
        for n, p in model.named_parameters()
        if p.requires_grad
    }


def load_trainable_state(model: Any, state: dict[str, torch.Tensor]) -> None:
    """Copy `state` into the model's trainable parameters; every one must be present."""
    import torch

    params = {n: p for n, p in model.named_parameters() if p.requires_grad}
    missing = sorted(set(params) - set(state))
    unexpected = sorted(set(state) - set(params))
    if missing or unexpected:
        raise ValueError(
            f"adapter state does not fit the model: missing {missing[:3]}, "
            f"unexpected {unexpected[:3]}"
        )
    with torch.no_grad():
        for n, p in params.items():
            p.copy_(state[n].to(p.device, p.dtype))


class CheckpointManager:
    """Atomic, resumable checkpoints in `root` (see the module docstring); keeps the newest."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    def latest(self) -> Path | None:
        """The newest complete checkpoint, or None."""
        f = self.root / LATEST_FILE
        if not f.is_file():
            return None
        name = json.loads(f.read_text())["checkpoint"]
        path = self.root / name
        return path if (path / TRAINER_FILE).is_file() else None

    def save(
        self,
        model: Any,
        optimizer: Any,
        scheduler: Any,
        state: TrainerState,
        best: dict[str, torch.Tensor] | None,
    ) -> Path:
        """Write a checkpoint for `state.step`, point `latest.json` at it, drop older ones.
        `scheduler` may be None (a constant learning rate)."""
        import torch
        from safetensors.torch import save_file

        self.root.mkdir(parents=True, exist_ok=True)
        name = f"step-{state.step:08d}"
        tmp = Path(tempfile.mkdtemp(prefix=f".{name}.tmp-", dir=self.root))
        try:
            save_file(trainable_state(model), str(tmp / ADAPTER_FILE))
            if best is not None:
                save_file(best, str(tmp / BEST_FILE))
            blob: dict[str, Any] = {
                "optimizer": optimizer.state_dict(),
                "torch_rng": torch.get_rng_state(),
            }
            if scheduler is not None:
                blob["scheduler"] = scheduler.state_dict()
            if torch.cuda.is_available():
                blob["cuda_rng"] = torch.cuda.get_rng_state_all()
            torch.save(blob, tmp / STATE_FILE)
            (tmp / TRAINER_FILE).write_text(state.to_json())
            final = self.root / name
            if final.exists():
                shutil.rmtree(final)
            os.rename(tmp, final)
        finally:
            if tmp.exists():
                shutil.rmtree(tmp, ignore_errors=True)
        pointer = self.root / f".{LATEST_FILE}.tmp"
        pointer.write_text(json.dumps({"checkpoint": name, "step": state.step}))
        os.replace(pointer, self.root / LATEST_FILE)
        for old in self.root.glob("step-*"):
            if old.name != name:
                shutil.rmtree(old, ignore_errors=True)
        return final

    @staticmethod
    def load(
        path: Path,
    ) -> tuple[dict[str, Any], dict[str, Any] | None, dict[str, Any], TrainerState]:
        """(trainable tensors, best tensors or None, optimizer/scheduler/RNG blob, state)."""
        import torch
        from safetensors.torch import load_file

        tensors = load_file(str(path / ADAPTER_FILE))
        best = load_file(str(path / BEST_FILE)) if (path / BEST_FILE).is_file() else None
        blob = torch.load(path / STATE_FILE, map_location="cpu", weights_only=True)
        state = TrainerState.from_json((path / TRAINER_FILE).read_text())
        return tensors, best, blob, state


def restore_rng(blob: dict[str, Any]) -> None:
    import torch

    torch.set_rng_state(blob["torch_rng"])
    if "cuda_rng" in blob and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(blob["cuda_rng"])


# ---------------------------------------------------------------------------- batches
class EpochDraws(Generic[T]):
    """`draw(rng)` of epoch e, where one numpy generator (seeded with `seed`, or a copy of
    `start`) is drawn from once per epoch, in order: re-created for any epoch, so that a
    resumed run gets the draws of its epoch without the epochs before it."""

    def __init__(
        self,
        seed: int,
        draw: Callable[[np.random.Generator], T],
        start: np.random.Generator | None = None,
    ) -> None:
        self.seed, self.start, self._draw = seed, start, draw
        self._restart()

    def _restart(self) -> None:
        base = np.random.default_rng(self.seed) if self.start is None else self.start
        self.rng, self.next = copy.deepcopy(base), 0

    def draw(self, epoch: int) -> T:
        if epoch < self.next:
            self._restart()
        while True:
            out = self._draw(self.rng)
            self.next += 1
            if self.next > epoch:
                return out


# ---------------------------------------------------------------------------- the loop
StepCallback = Callable[[TrainerState], None]


@dataclass
class Task:
    """What a family trains: `batches(epoch)` (the same list for the same epoch, in any
    process), `loss(batch)` (a batch's mean loss, a tensor with a graph), `validate()` (a
    validation loss, lower is better; None: no validation) and `size(batch)` (its examples)."""

    batches: Callable[[int], Sequence[Any]]
    loss: Callable[[Any], torch.Tensor]
    validate: Callable[[], float] | None = None
    size: Callable[[Any], int] = len


@dataclass
class Collective:
    """Data-parallel hooks (identity for one process): `reduce_grads(params)` after the
    backward passes of a step, `reduce_loss(loss)` of the step's loss, checkpoints written
    by one process (`writes_checkpoints`) and everyone waiting for it (`barrier`)."""

    reduce_grads: Callable[[list[Any]], None] | None = None
    reduce_loss: Callable[[float], float] | None = None
    writes_checkpoints: bool = True
    barrier: Callable[[], None] | None = None


@dataclass
class LoopSettings:
    """How `train` runs; each family sets its own (its numbers stay what they were)."""

    epochs: int
    """Passes over the batches (unless `max_steps` or early stopping ends sooner)."""
    max_steps: int | None = None
    """Stop after this many optimizer steps (None: `epochs` full passes)."""
    grad_accum: int = 1
    """Micro-batches per optimizer step (an epoch's last step takes what is left)."""
    max_grad_norm: float | None = None
    """Clip the gradient norm of the parameters to this (None: no clipping)."""
    eval_steps: int | None = None
    """Validate every this many steps too (always at each epoch's end, with a `validate`)."""
    stop_after: int | None = None
    """Validations in a row without a lower loss that end training (None: never)."""
    checkpoint_steps: int = 100
    """With a checkpoint folder: a checkpoint every this many steps and at each epoch's end."""
    restore_best: bool = True
    """At the end, load the trainable tensors of the best validation (when there was one)."""
    desc: str = "training"
    """Name in progress bars and log lines."""
    bars: Literal["epoch", "steps"] = "epoch"
    """"epoch": a progress bar per epoch; "steps": one bar over every step (with a
    heartbeat line carrying the loss, and a log line every 25 steps)."""
    progress: bool | None = None
    """Progress: True, False or None (a bar on a terminal only), as `pairlm.progress`."""
    examples_per_step: int = 0
    """Examples of a step, for the examples/s of the "steps" reports."""


@dataclass
class TrainRun:
    """What `train` leaves: the final state, and where this process took over."""

    state: TrainerState
    resumed_step: int
    """The step this process resumed from (0: a fresh start)."""
    seconds_before: float
    """Training wall time spent by earlier processes on this run (0.0: a fresh start)."""


@dataclass
class _Loop:
    """One `train` call's moving parts."""

    model: Any
    params: list[Any]
    optimizer: Any
    scheduler: Any
    task: Task
    settings: LoopSettings
    ckpt: CheckpointManager | None
    collective: Collective
    state: TrainerState = field(default_factory=TrainerState)
    best: dict[str, Any] | None = None
    resumed_step: int = 0
    seconds_before: float = 0.0
    t0: float = 0.0


def train(
    model: Any,
    params: list[Any],
    optimizer: Any,
    scheduler: Any,
    task: Task,
    settings: LoopSettings,
    ckpt_root: Path | None = None,
    step_callback: StepCallback | None = None,
    collective: Collective | None = None,
) -> TrainRun:
    """Train `params` (of `model`) on `task` with `optimizer` (and `scheduler`, None for a
    constant learning rate; stepped after every optimizer step).

    Each step: the micro-batches' losses (divided by their number) back-propagated, the
    gradients reduced (`collective`) and clipped (`settings.max_grad_norm`), an optimizer and
    a scheduler step. Validation (`task.validate`) every `eval_steps` steps and at each
    epoch's end, early stopping after `stop_after` validations without improvement, the best
    trainable tensors restored at the end. With `ckpt_root`, checkpoints there every
    `checkpoint_steps` steps, at each epoch's end and at the end, and a run finding one
    resumes from it. `step_callback` is called with the state after every step (and its
    checkpoint, if any)."""
    loop = _Loop(
        model,
        params,
        optimizer,
        scheduler,
        task,
        settings,
        None if ckpt_root is None else CheckpointManager(ckpt_root),
        collective or Collective(),
    )
    _resume(loop)
    s, state = settings, loop.state
    model.train()
    loop.t0 = time.perf_counter()
    reporter = _Reporter(s, state.step)
    while not state.done and (s.max_steps is None or state.step < s.max_steps):
        batches = task.batches(state.epoch)
        reporter.start_epoch(state, len(batches))
        micro: list[Any] = []
        for bi in range(state.batch_in_epoch, len(batches)):
            micro.append(batches[bi])
            last_of_epoch = bi == len(batches) - 1
            if len(micro) < s.grad_accum and not last_of_epoch:
                continue
            t_step = time.perf_counter()
            loss = _optimizer_step(loop, micro)
            state.epoch_seconds += time.perf_counter() - t_step
            state.step += 1
            state.batch_in_epoch = bi + 1
            state.history.append({"step": float(state.step), "loss": loss})
            reporter.step(state, len(micro), time.perf_counter() - loop.t0)
            micro = []
            end_of_epoch = last_of_epoch or (s.max_steps is not None and state.step >= s.max_steps)
            _after_step(loop, end_of_epoch)
            if step_callback is not None:
                step_callback(state)
            if state.done or end_of_epoch:
                break
        reporter.end_epoch()
    reporter.close()
    if loop.best is not None and s.restore_best:
        load_trainable_state(model, loop.best)
    state.train_seconds = loop.seconds_before + time.perf_counter() - loop.t0
    _log_done(s.desc, state, time.perf_counter() - loop.t0)
    return TrainRun(state, loop.resumed_step, loop.seconds_before)


def _resume(loop: _Loop) -> None:
    """Load the latest checkpoint (if any) into the model, optimizer, scheduler, random
    generators and the loop's state."""
    last = None if loop.ckpt is None else loop.ckpt.latest()
    if last is None:
        return
    tensors, loop.best, blob, loop.state = CheckpointManager.load(last)
    load_trainable_state(loop.model, tensors)
    loop.optimizer.load_state_dict(blob["optimizer"])
    if loop.scheduler is not None:
        loop.scheduler.load_state_dict(blob["scheduler"])
    restore_rng(blob)
    loop.resumed_step = loop.state.step
    loop.seconds_before = loop.state.train_seconds
    log.info("%s: resumed from %s (step %d)", loop.settings.desc, last, loop.state.step)


def _optimizer_step(loop: _Loop, micro: list[Any]) -> float:
    """One optimizer step over the micro-batches `micro` (gradients accumulated, reduced,
    clipped); adds them to the epoch's loss; returns the step's mean loss."""
    import torch

    s, state, task = loop.settings, loop.state, loop.task
    step_loss = 0.0
    for b in micro:
        loss = task.loss(b)
        value = float(loss.detach())
        n = task.size(b)
        state.epoch_loss += value * n
        state.epoch_examples += n
        if len(micro) > 1:
            loss = loss / len(micro)
            value = float(loss.detach())
        loss.backward()
        step_loss += value
    c = loop.collective
    if c.reduce_grads is not None:
        c.reduce_grads(loop.params)
    if c.reduce_loss is not None:
        step_loss = c.reduce_loss(step_loss)
    if s.max_grad_norm is not None:
        torch.nn.utils.clip_grad_norm_(loop.params, s.max_grad_norm)
    loop.optimizer.step()
    if loop.scheduler is not None:
        loop.scheduler.step()
    loop.optimizer.zero_grad(set_to_none=True)
    return step_loss


def _after_step(loop: _Loop, end_of_epoch: bool) -> None:
    """Validation when due (and early stopping), the epoch's record at its end, the end of
    training, and a checkpoint when due."""
    s, state = loop.settings, loop.state
    stop = False
    due = end_of_epoch or (s.eval_steps is not None and state.step % s.eval_steps == 0)
    if loop.task.validate is not None and due:
        score = loop.task.validate()
        improved = _record_validation(state, score, s.desc)
        if improved:
            loop.best = trainable_state(loop.model)
        stop = not improved and s.stop_after is not None and state.bad_evals >= s.stop_after
    if end_of_epoch:
        _end_epoch(state, s.desc)
    if stop or (s.max_steps is not None and state.step >= s.max_steps) or state.epoch >= s.epochs:
        state.stopped_early = stop
        state.done = True
    if loop.ckpt is not None and (
        state.done or end_of_epoch or state.step % s.checkpoint_steps == 0
    ):
        state.train_seconds = loop.seconds_before + time.perf_counter() - loop.t0
        if loop.collective.writes_checkpoints:
            loop.ckpt.save(loop.model, loop.optimizer, loop.scheduler, state, loop.best)
        if loop.collective.barrier is not None:
            loop.collective.barrier()


def _record_validation(state: TrainerState, score: float, desc: str) -> bool:
    """Record a validation loss in `state`; True when it is the best so far."""
    state.history[-1]["valid_loss"] = score
    improved = state.best_score is None or score < state.best_score
    if improved:
        state.best_score, state.best_step, state.bad_evals = score, state.step, 0
        state.best_epoch = state.epoch
    else:
        state.bad_evals += 1
    log.info("%s step %d: valid loss %.4f (best %.4f)", desc, state.step, score, state.best_score)
    return improved


def _end_epoch(state: TrainerState, desc: str) -> None:
    """Close the epoch's record (mean train loss, the valid loss of its last step if any)."""
    entry: dict[str, float] = {
        "epoch": state.epoch + 1,
        "train_loss": state.epoch_loss / max(state.epoch_examples, 1),
    }
    if "valid_loss" in state.history[-1]:
        entry["valid_loss"] = state.history[-1]["valid_loss"]
    entry["seconds"] = state.epoch_seconds
    state.epoch_log.append(entry)
    log.info(
        "%s epoch %d: train loss %.4f%s",
        desc,
        state.epoch + 1,
        entry["train_loss"],
        f", valid loss {entry['valid_loss']:.4f}" if "valid_loss" in entry else "",
    )
    state.epoch += 1
    state.batch_in_epoch = 0
    state.epoch_loss, state.epoch_examples, state.epoch_seconds = 0.0, 0, 0.0


class _Reporter:
    """Progress: a bar per epoch, or one bar over every step with a heartbeat line."""

    def __init__(self, s: LoopSettings, start_step: int) -> None:
        self.s, self.start_step = s, start_step
        self.bar: Any = None
        self.total = s.max_steps or 0
        if s.bars == "steps":
            enabled = want_progress(s.progress)
            self.bar = progress(range(self.total), desc=s.desc, total=self.total, enabled=enabled)
            self.beat = Heartbeat(f"{s.desc} training", self.total, enabled=s.progress)
            if start_step and getattr(self.bar, "update", None) is not None:
                self.bar.update(start_step)

    def start_epoch(self, state: TrainerState, n_batches: int) -> None:
        if self.s.bars == "epoch":
            self.bar = progress(
                total=n_batches,
                initial=state.batch_in_epoch,
                desc=f"{self.s.desc} epoch {state.epoch + 1}/{self.s.epochs}",
                enabled=self.s.progress,
            )

    def step(self, state: TrainerState, n_micro: int, seconds: float) -> None:
        if self.s.bars == "epoch":
            self.bar.update(n_micro)
            return
        per_s = (state.step - self.start_step) / max(seconds, 1e-9)
        examples = self.s.examples_per_step
        if state.step % 25 == 0:
            recent = [h["loss"] for h in state.history[-25:]]
            log.info(
                "step %d/%d: train loss %.4f (mean of last %d), %.2f examples/s",
                state.step,
                self.total,
                sum(recent) / len(recent),
                len(recent),
                per_s * examples,
            )
        if getattr(self.bar, "update", None) is not None:
            self.bar.update(1)
        recent = [h["loss"] for h in state.history[-50:]]
        self.beat.update(state.step, examples, loss=sum(recent) / len(recent))

    def end_epoch(self) -> None:
        if self.s.bars == "epoch" and self.bar is not None:
            self.bar.close()

    def close(self) -> None:
        if self.s.bars == "steps" and hasattr(self.bar, "close"):
            self.bar.close()


def _log_done(desc: str, state: TrainerState, seconds: float) -> None:
    losses = [h["loss"] for h in state.history]
    log.info(
        "%s: trained %d steps in %.1f s (loss %.4f -> %.4f, best valid %.4f at step %d)",
        desc,
        state.step,
        seconds,
        losses[0] if losses else float("nan"),
        losses[-1] if losses else float("nan"),
        state.best_score if state.best_score is not None else float("nan"),
        state.best_step,
    )
