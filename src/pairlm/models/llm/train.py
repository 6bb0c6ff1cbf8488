"""Training-loop plumbing for LoRA fine-tuning: learning-rate schedules, resumable checkpoints,
the QLoRA validation guard, data-parallel helpers, and the loop itself (`train_adapter`).

Checkpoints
-----------
A checkpoint is a directory ``step-00000042`` under the run's checkpoint folder holding exactly
what resuming needs (nanoGPT's rule):

- ``adapter.safetensors``: every trainable tensor (LoRA A/B, a classification head);
- ``best_adapter.safetensors``: the trainable tensors of the best validation so far;
- ``training_state.pt``: optimizer and scheduler state dicts, torch (and CUDA) RNG states —
  written with `torch.save`, read back with ``torch.load(weights_only=True)`` (tensors and
  plain containers only; no arbitrary pickles);
- ``trainer_state.json``: step, epoch, position in the epoch, early-stopping state, history.

A checkpoint is written into a temporary directory and renamed into place; ``latest.json``
(replaced atomically) names the newest complete one, so a process killed while writing leaves
the previous checkpoint intact.

Data-parallel
-------------
`dist_info()` reads the process group that ``torchrun`` / ``accelerate launch`` set up
(`pairlm.models.llm.distributed` initialises it). Gradients of the trainable parameters are
averaged across ranks after every backward pass (`all_reduce_grads`, one flat buffer: the
arithmetic DDP does), so every rank applies the same update and ends with the same adapter.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

if TYPE_CHECKING:
    import torch

log = logging.getLogger(__name__)

ADAPTER_FILE = "adapter.safetensors"
BEST_FILE = "best_adapter.safetensors"
STATE_FILE = "training_state.pt"
TRAINER_FILE = "trainer_state.json"
LATEST_FILE = "latest.json"
SCHEDULES = ("linear", "cosine", "constant")


# ---------------------------------------------------------------------------- schedules
@dataclass(frozen=True)
class WarmupSchedule:
    """Multiplier of the base learning rate at optimizer step `s`: linear warm-up over
    `warmup` steps, then linear decay to 0 / cosine decay to 0 / constant until `total`.

    A callable object (not a lambda), so `LambdaLR.state_dict()` stays plain data."""

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


def make_scheduler(optimizer: Any, kind: str, warmup: int, total: int) -> Any:
    """A `LambdaLR` following `WarmupSchedule(kind, warmup, total)`."""
    from torch.optim.lr_scheduler import LambdaLR

    if kind not in SCHEDULES:
        raise ValueError(f"schedule must be one of {', '.join(SCHEDULES)}, got {kind!r}")
    return LambdaLR(optimizer, WarmupSchedule(kind, warmup, total))


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
        """Write a checkpoint for `state.step`, point `latest.json` at it, drop older ones."""
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
                "scheduler": scheduler.state_dict(),
                "torch_rng": torch.get_rng_state(),
            }
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


# ---------------------------------------------------------------------------- QLoRA guard


def repacked_4bit(model: Any) -> list[str]:
    """Names of 4-bit layers whose weights bitsandbytes repacked for CPU inference (after
    which LoRA layers above them get no gradient)."""
    out = []
    for name, m in model.named_modules():
        qs = getattr(getattr(m, "weight", None), "quant_state", None)
        if qs is not None and getattr(qs, "packing_format_for_cpu", False):
            out.append(name)
    return out


@contextlib.contextmanager
def no_dropout_train_mode(model: Any) -> Iterator[None]:
    """Evaluate without dropout while every module stays in train mode.

    bitsandbytes 0.50 on a CPU with AVX512-BF16 repacks a 4-bit layer's weights on the first
    forward pass made in eval mode without grad; afterwards no LoRA parameter receives a
    gradient and training silently stops learning. Validation during training therefore runs
    with `training=True` everywhere and every dropout's `p` set to 0 (restored on exit).
    """
    import torch

    dropouts = [m for m in model.modules() if isinstance(m, torch.nn.Dropout)]
    saved_p = [m.p for m in dropouts]
    was_training = model.training
    model.train()
    for m in dropouts:
        m.p = 0.0
    try:
        yield
    finally:
        for m, p in zip(dropouts, saved_p):
            m.p = p
        model.train(was_training)


# ---------------------------------------------------------------------------- distributed
def dist_info() -> tuple[int, int]:
    """(rank, world size) of the initialised process group, else (0, 1)."""
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def all_reduce_grads(params: list[torch.Tensor]) -> None:
    """Average the gradients of `params` over all ranks (one flat buffer)."""
    import torch
    import torch.distributed as dist

    grads = [p.grad if p.grad is not None else torch.zeros_like(p) for p in params]
    flat = torch.cat([g.reshape(-1).float() for g in grads])
    dist.all_reduce(flat, op=dist.ReduceOp.SUM)
    flat /= dist.get_world_size()
    offset = 0
    for p, g in zip(params, grads):
        n = g.numel()
        new = flat[offset : offset + n].view_as(g).to(g.dtype)
        if p.grad is None:
            p.grad = new
        else:
            p.grad.copy_(new)
        offset += n


def all_reduce_sum(values: list[float], device: Any = "cpu") -> list[float]:
    """Element-wise sum of `values` over ranks (identity without a process group)."""
    import torch

    _, world = dist_info()
    if world == 1:
        return list(values)
    import torch.distributed as dist

    t = torch.tensor(values, dtype=torch.float64, device=device)
    dist.all_reduce(t, op=dist.ReduceOp.SUM)
    return [float(x) for x in t.cpu()]


def broadcast_params(params: list[torch.Tensor], src: int = 0) -> None:
    """Make every rank start from rank `src`'s values of `params`."""
    import torch.distributed as dist

    for p in params:
        dist.broadcast(p.data, src=src)


def barrier() -> None:
    _, world = dist_info()
    if world > 1:
        import torch.distributed as dist

        dist.barrier()


StepCallback = Callable[[TrainerState], None]


# ---------------------------------------------------------------------------- the loop
class LoopConfig(Protocol):
    """The settings `train_adapter` reads (`LoRAConfig` has them all)."""

    seed: int
    lr: float
    weight_decay: float
    schedule: str
    warmup_ratio: float
    epochs: int
    batch_size: int
    grad_accum: int
    max_grad_norm: float | None
    max_steps: int | None
    eval_steps: int | None
    patience: int
    checkpoint_steps: int
    progress: bool | None


@dataclass
class TrainRun:
    """What `train_adapter` leaves: the final state, and where this process took over."""

    state: TrainerState
    resumed_step: int
    """The step this process resumed from (0: a fresh start)."""
    seconds_before: float
    """Training wall time spent by earlier processes on this run (0.0: a fresh start)."""


def train_adapter(
    model: Any,
    cfg: LoopConfig,
    x_train: list[list[int]],
    y_train: np.ndarray,
    loss_fn: Callable[[list[list[int]], np.ndarray], torch.Tensor],
    valid_loss: Callable[[], float],
    ckpt_root: Path,
    step_callback: StepCallback | None = None,
) -> TrainRun:
    """Train `model`'s trainable parameters on token sequences `x_train` / labels `y_train`.

    AdamW (no weight decay on biases and norms) with warm-up and the `cfg.schedule` decay,
    gradient accumulation, length-sorted shuffled batches (the same order on a resumed run),
    gradient clipping, validation (`valid_loss`, lower is better) every `cfg.eval_steps`
    steps and at each epoch's end with early stopping after `cfg.patience` validations
    without improvement (the best trainable tensors are restored at the end), checkpoints in
    `ckpt_root` (resumed from when present) and data-parallel ranks (`dist_info`).
    `loss_fn(seqs, labels)` gives a micro-batch's mean loss; `step_callback` is called with
    the state after every optimizer step (and its checkpoint, if any).
    """

    from pairlm.models.torch_utils import Heartbeat, progress
    from pairlm.progress import want_progress

    rank, world = dist_info()
    params = [p for p in model.parameters() if p.requires_grad]
    if world > 1:
        broadcast_params(params)
    lengths = [len(s) for s in x_train]

    def epoch_batches(epoch: int) -> list[np.ndarray]:
        return _rank_batches(lengths, cfg, epoch, rank, world)

    per_epoch = math.ceil(len(epoch_batches(0)) / cfg.grad_accum)
    total = per_epoch * cfg.epochs
    if cfg.max_steps is not None:
        total = min(total, cfg.max_steps)
    optimizer = _adamw(model, cfg)
    scheduler = make_scheduler(optimizer, cfg.schedule, round(cfg.warmup_ratio * total), total)
    ckpt = CheckpointManager(ckpt_root)
    state, best = _resume(ckpt, model, optimizer, scheduler, total)
    resumed_step = state.step
    seconds_before = state.train_seconds  # by earlier processes, when resumed

    def checkpoint() -> None:
        state.train_seconds = seconds_before + time.perf_counter() - t0
        if rank == 0:
            ckpt.save(model, optimizer, scheduler, state, best)
        barrier()

    model.train()
    t0 = time.perf_counter()
    # A bar on a terminal only: elsewhere the heartbeat's line (with the loss) is the progress.
    bar = progress(range(total), desc="lora", total=total, enabled=want_progress(cfg.progress))
    beat = Heartbeat("lora training", total, enabled=cfg.progress if rank == 0 else False)
    if getattr(bar, "update", None) is not None and state.step:
        bar.update(state.step)
    while not state.done and state.step < total:
        batches = epoch_batches(state.epoch)
        micro: list[np.ndarray] = []
        for bi in range(state.batch_in_epoch, len(batches)):
            micro.append(batches[bi])
            last_of_epoch = bi == len(batches) - 1
            if len(micro) < cfg.grad_accum and not last_of_epoch:
                continue
            loss_sum = _optimizer_step(
                micro, x_train, y_train, loss_fn, params, cfg, world, optimizer, scheduler
            )
            micro = []
            state.step += 1
            state.batch_in_epoch = bi + 1
            state.history.append({"step": float(state.step), "loss": loss_sum})
            per_s = (state.step - resumed_step) / max(time.perf_counter() - t0, 1e-9)
            _report_step(state, total, cfg.batch_size * cfg.grad_accum * world, per_s, bar, beat)
            stop = False
            end_of_epoch = last_of_epoch or state.step >= total
            if (cfg.eval_steps and state.step % cfg.eval_steps == 0) or end_of_epoch:
                improved = _validate(state, valid_loss())
                best = trainable_state(model) if improved else best
                stop = state.bad_evals > cfg.patience
            if end_of_epoch:
                state.epoch += 1
                state.batch_in_epoch = 0
            if stop or state.step >= total:
                state.stopped_early = stop
                state.done = True
            if state.done or end_of_epoch or state.step % cfg.checkpoint_steps == 0:
                checkpoint()
            if step_callback is not None:
                step_callback(state)
            if state.done or end_of_epoch:
                break
    if hasattr(bar, "close"):
        bar.close()
    if best is not None:
        load_trainable_state(model, best)
    state.train_seconds = seconds_before + time.perf_counter() - t0
    _log_done(state, time.perf_counter() - t0)
    return TrainRun(state, resumed_step, seconds_before)


def _resume(
    ckpt: CheckpointManager, model: Any, optimizer: Any, scheduler: Any, total: int
) -> tuple[TrainerState, dict[str, torch.Tensor] | None]:
    """The state (and best adapter) of the latest checkpoint, loaded into the model,
    optimizer, scheduler and random generators; a fresh state when there is none."""
    last = ckpt.latest()
    if last is None:
        return TrainerState(), None
    tensors, best, blob, state = CheckpointManager.load(last)
    load_trainable_state(model, tensors)
    optimizer.load_state_dict(blob["optimizer"])
    scheduler.load_state_dict(blob["scheduler"])
    restore_rng(blob)
    log.info("resumed from %s (step %d of %d)", last, state.step, total)
    return state, best


def _validate(state: TrainerState, score: float) -> bool:
    """Record a validation loss in `state`; True when it is the best so far."""
    state.history[-1]["valid_loss"] = score
    improved = state.best_score is None or score < state.best_score
    if improved:
        state.best_score, state.best_step, state.bad_evals = score, state.step, 0
    else:
        state.bad_evals += 1
    log.info("step %d: valid loss %.4f (best %.4f)", state.step, score, state.best_score)
    return improved


def _rank_batches(
    lengths: list[int], cfg: LoopConfig, epoch: int, rank: int, world: int
) -> list[np.ndarray]:
    """This rank's share of an epoch's length-sorted shuffled batches (the same on a
    resumed run: seeded by the epoch)."""
    from pairlm.models.torch_utils import length_sorted_batches

    batches = length_sorted_batches(
        lengths, cfg.batch_size, shuffle=True, seed=cfg.seed * 1000 + epoch
    )
    if len(batches) < world:  # fewer batches than ranks: reuse some
        batches = [batches[i % len(batches)] for i in range(world)]
    usable = len(batches) - len(batches) % world
    return batches[rank:usable:world]


def _adamw(model: Any, cfg: LoopConfig) -> Any:
    """AdamW over the trainable parameters, no weight decay on biases and norms."""
    import torch

    decay = [p for n, p in model.named_parameters() if p.requires_grad and p.dim() > 1]
    no_decay = [p for n, p in model.named_parameters() if p.requires_grad and p.dim() <= 1]
    return torch.optim.AdamW(
        [
            {"params": decay, "weight_decay": cfg.weight_decay},
            {"params": no_decay, "weight_decay": 0.0},
        ],
        lr=cfg.lr,
    )


def _optimizer_step(
    micro: list[np.ndarray],
    x_train: list[list[int]],
    y_train: np.ndarray,
    loss_fn: Callable[[list[list[int]], np.ndarray], torch.Tensor],
    params: list[Any],
    cfg: LoopConfig,
    world: int,
    optimizer: Any,
    scheduler: Any,
) -> float:
    """One optimizer step over the micro-batches `micro` (gradients accumulated, reduced
    across ranks, clipped); returns the step's mean loss."""
    import torch

    loss_sum = 0.0
    for b in micro:
        loss = loss_fn([x_train[i] for i in b], y_train[b]) / len(micro)
        loss.backward()
        loss_sum += float(loss.detach())
    if world > 1:
        all_reduce_grads(params)
        loss_sum = all_reduce_sum([loss_sum])[0] / world
    if cfg.max_grad_norm is not None:
        torch.nn.utils.clip_grad_norm_(params, cfg.max_grad_norm)
    optimizer.step()
    scheduler.step()
    optimizer.zero_grad(set_to_none=True)
    return loss_sum


def _report_step(
    state: TrainerState, total: int, examples: int, steps_per_s: float, bar: Any, beat: Any
) -> None:
    """Progress after an optimizer step of `examples` examples: the bar, the heartbeat
    (with the mean loss of the last 50 steps) and a log line every 25 steps."""
    if state.step % 25 == 0:
        recent = [h["loss"] for h in state.history[-25:]]
        log.info(
            "step %d/%d: train loss %.4f (mean of last %d), %.2f examples/s",
            state.step,
            total,
            sum(recent) / len(recent),
            len(recent),
            steps_per_s * examples,
        )
    if getattr(bar, "update", None) is not None:
        bar.update(1)
    recent = [h["loss"] for h in state.history[-50:]]
    beat.update(state.step, examples, loss=sum(recent) / len(recent))


def _log_done(state: TrainerState, seconds: float) -> None:
    losses = [h["loss"] for h in state.history]
    log.info(
        "trained %d steps in %.1f s (loss %.4f -> %.4f, best valid %.4f at step %d)",
        state.step,
        seconds,
        losses[0] if losses else float("nan"),
        losses[-1] if losses else float("nan"),
        state.best_score if state.best_score is not None else float("nan"),
        state.best_step,
    )
