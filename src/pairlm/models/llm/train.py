"""LoRA fine-tuning's side of the training loop: the QLoRA validation guard, data-parallel
helpers, and `train_adapter`, which runs `pairlm.models.training.train` (the loop every torch
family shares: schedules, resumable checkpoints, early stopping) with LoRA's settings.

Checkpoints are the loop's (`pairlm.models.training`: ``step-*/`` directories with the
trainable tensors, optimizer, scheduler and RNG states, and ``latest.json``); the names of
that module used here before it existed are re-exported.

Data-parallel
-------------
`dist_info()` reads the process group that ``torchrun`` / ``accelerate launch`` set up
(`pairlm.models.llm.distributed` initialises it). Gradients of the trainable parameters are
averaged across ranks after every backward pass (`all_reduce_grads`, one flat buffer: the
arithmetic DDP does), so every rank applies the same update and ends with the same adapter.
"""

from __future__ import annotations

import contextlib
import logging
import math
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from pairlm.models.training import (
    ADAPTER_FILE,
    BEST_FILE,
    LATEST_FILE,
    SCHEDULES,
    STATE_FILE,
    TRAINER_FILE,
    CheckpointManager,
    Collective,
    LoopSettings,
    StepCallback,
    Task,
    TrainerState,
    TrainRun,
    WarmupSchedule,
    lambda_scheduler,
    load_trainable_state,
    make_scheduler,
    restore_rng,
    train,
    trainable_state,
)

if TYPE_CHECKING:
    import torch

log = logging.getLogger(__name__)

__all__ = [
    "ADAPTER_FILE",
    "BEST_FILE",
    "LATEST_FILE",
    "SCHEDULES",
    "STATE_FILE",
    "TRAINER_FILE",
    "CheckpointManager",
    "LoopConfig",
    "StepCallback",
    "TrainRun",
    "TrainerState",
    "WarmupSchedule",
    "all_reduce_grads",
    "all_reduce_sum",
    "barrier",
    "broadcast_params",
    "dist_info",
    "load_trainable_state",
    "make_scheduler",
    "no_dropout_train_mode",
    "repacked_4bit",
    "restore_rng",
    "train_adapter",
    "trainable_state",
]


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

    The shared loop (`pairlm.models.training.train`) with LoRA's settings: AdamW (no weight
    decay on biases and norms) with warm-up and the `cfg.schedule` decay, gradient
    accumulation, length-sorted shuffled batches (the same order on a resumed run), gradient
    clipping, validation (`valid_loss`, lower is better) every `cfg.eval_steps` steps and at
    each epoch's end with early stopping after `cfg.patience` validations without
    improvement (the best trainable tensors are restored at the end), checkpoints in
    `ckpt_root` (resumed from when present) and data-parallel ranks (`dist_info`).
    `loss_fn(seqs, labels)` gives a micro-batch's mean loss; `step_callback` is called with
    the state after every optimizer step (and its checkpoint, if any).
    """
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
    scheduler = lambda_scheduler(
        optimizer, WarmupSchedule(cfg.schedule, round(cfg.warmup_ratio * total), total)
    )
    settings = LoopSettings(
        epochs=cfg.epochs,
        max_steps=total,
        grad_accum=cfg.grad_accum,
        max_grad_norm=cfg.max_grad_norm,
        eval_steps=cfg.eval_steps,
        stop_after=cfg.patience + 1,  # stop once `patience` validations did not improve
        checkpoint_steps=cfg.checkpoint_steps,
        desc="lora",
        bars="steps",
        progress=cfg.progress if rank == 0 else False,
        examples_per_step=cfg.batch_size * cfg.grad_accum * world,
    )
    task = Task(
        batches=epoch_batches,
        loss=lambda b: loss_fn([x_train[i] for i in b], y_train[b]),
        validate=valid_loss,
    )
    collective = Collective(
        reduce_grads=all_reduce_grads if world > 1 else None,
        reduce_loss=(lambda v: all_reduce_sum([v])[0] / world) if world > 1 else None,
        writes_checkpoints=rank == 0,
        barrier=barrier,
    )
    return train(
        model, params, optimizer, scheduler, task, settings, ckpt_root, step_callback, collective
    )


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
