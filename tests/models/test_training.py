"""The shared training loop (`pairlm.models.training`): schedules, clipping, accumulation,
early stopping, checkpoints and resume; and the S-CNN and bi-encoder resuming through it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from pairlm.models.training import (
    CappedWarmupDecay,
    EpochDraws,
    LinearWarmupDecay,
    LoopSettings,
    Task,
    WarmupSchedule,
    lambda_scheduler,
    train,
    trainable_state,
)
from tests.conftest import make_toy_pairs


class Killed(Exception):
    """Raised by a step callback: the training process 'dies' there."""


def kill_at(step: int) -> Any:
    def callback(state: Any) -> None:
        if state.step == step:
            raise Killed(step)

    return callback


# ---------------------------------------------------------------------------- schedules
def test_schedules_keep_each_family_formula() -> None:
    ce = LinearWarmupDecay(warmup=2, total=10)
    assert [ce(s) for s in range(3)] == [1 / 3, 2 / 3, 1.0]
    assert ce(6) == 4 / 8 and ce(10) == 0.0 and ce(12) == 0.0
    be = CappedWarmupDecay(warmup=4, total=10)
    assert [be(s) for s in range(4)] == [0.25, 0.5, 0.75, 1.0]
    assert be(7) == 3 / 6 and be(10) == 0.0
    lora = WarmupSchedule("cosine", warmup=1, total=5)
    assert lora(0) == 0.5 and lora(1) == 1.0 and lora(5) == pytest.approx(0.0)
    assert WarmupSchedule("constant", 0, 5)(4) == 1.0


# ---------------------------------------------------------------------------- a toy task
def toy(seed: int = 0, dropout: float = 0.2) -> tuple[torch.nn.Module, Task]:
    """A small regression net (with dropout: the RNG state matters) on seeded batches."""
    torch.manual_seed(seed)
    net = torch.nn.Sequential(
        torch.nn.Linear(4, 8), torch.nn.Dropout(dropout), torch.nn.Linear(8, 1)
    )
    g = torch.Generator().manual_seed(1)
    x, y = torch.randn(40, 4, generator=g), torch.randn(40, 1, generator=g)
    xv, yv = torch.randn(10, 4, generator=g), torch.randn(10, 1, generator=g)

    def batches(epoch: int) -> list[np.ndarray]:
        perm = np.random.default_rng(epoch).permutation(40)
        return [perm[i : i + 8] for i in range(0, 40, 8)]

    def loss(b: np.ndarray) -> torch.Tensor:
        return torch.nn.functional.mse_loss(net(x[b]), y[b])

    def validate() -> float:
        net.eval()
        with torch.no_grad():
            out = float(torch.nn.functional.mse_loss(net(xv), yv))
        net.train()
        return out

    return net, Task(batches, loss, validate)


def run_toy(
    ckpt: Path | None = None, callback: Any = None, scores: list[float] | None = None, **kw: Any
) -> tuple[torch.nn.Module, Any]:
    net, task = toy()
    if scores is not None:  # scripted validation losses
        it = iter(scores)
        task.validate = lambda: next(it)
    params = list(net.parameters())
    opt = torch.optim.AdamW(params, lr=0.05)
    sched = lambda_scheduler(opt, LinearWarmupDecay(2, 15))
    settings = LoopSettings(**{"epochs": 3, "progress": False, **kw})
    return net, train(net, params, opt, sched, task, settings, ckpt, callback)


# ---------------------------------------------------------------------------- the loop
def test_clipping_bounds_the_update() -> None:
    lin = torch.nn.Linear(3, 1, bias=False)
    before = lin.weight.detach().clone()
    task = Task(lambda e: [np.arange(1)], lambda b: 1e4 * lin(torch.ones(1, 3)).sum())
    opt = torch.optim.SGD(lin.parameters(), lr=1.0)
    train(lin, [lin.weight], opt, None, task, LoopSettings(epochs=1, max_grad_norm=0.5))
    assert float((lin.weight.detach() - before).norm()) == pytest.approx(0.5, rel=1e-5)


def test_accumulation_averages_the_micro_batches() -> None:
    """Two micro-batches of 4 per step: the update of one batch of 8 (no dropout)."""

    def one(batch: int, accum: int) -> torch.Tensor:
        torch.manual_seed(0)
        lin = torch.nn.Linear(2, 1)
        g = torch.Generator().manual_seed(2)
        x, y = torch.randn(16, 2, generator=g), torch.randn(16, 1, generator=g)
        idx = np.arange(16)
        task = Task(
            lambda e: [idx[i : i + batch] for i in range(0, 16, batch)],
            lambda b: torch.nn.functional.mse_loss(lin(x[b]), y[b]),
        )
        opt = torch.optim.SGD(lin.parameters(), lr=0.1)
        run = train(lin, list(lin.parameters()), opt, None, task, LoopSettings(1, grad_accum=accum))
        assert run.state.step == 2
        return lin.weight.detach()

    torch.testing.assert_close(one(8, 1), one(4, 2))


def test_early_stopping_counts_validations_and_restores_the_best() -> None:
    best_net, _ = run_toy(epochs=1)  # the weights after epoch 1
    net, run = run_toy(epochs=5, scores=[1.0, 2.0, 3.0, 0.5, 0.1], stop_after=2)
    state = run.state
    assert state.stopped_early and state.epoch == 3 and state.best_epoch == 0
    assert [e["valid_loss"] for e in state.epoch_log] == [1.0, 2.0, 3.0]
    for k, v in trainable_state(net).items():
        torch.testing.assert_close(v, trainable_state(best_net)[k], rtol=0, atol=0)
    _, no_stop = run_toy(epochs=5, scores=[1.0, 2.0, 3.0, 0.5, 0.1])
    assert no_stop.state.epoch == 5 and no_stop.state.best_epoch == 4
    _, capped = run_toy(epochs=5, max_steps=7)
    assert capped.state.step == 7 and capped.state.done


def test_interrupted_training_resumes_to_identical_weights(tmp_path: Path) -> None:
    straight, ref = run_toy()
    ckpt = tmp_path / "ck"
    for kill in (3, 7, 12):  # mid-epoch, mid-epoch after a validation, the next one
        with pytest.raises(Killed):
            run_toy(ckpt, kill_at(kill), checkpoint_steps=2)
    net, run = run_toy(ckpt, checkpoint_steps=2)
    assert run.resumed_step == 12  # checkpointed (every 2 steps) before the callback killed it
    assert run.state.step == ref.state.step == 15
    assert run.state.history == ref.state.history
    assert run.state.epoch_log[0]["train_loss"] == ref.state.epoch_log[0]["train_loss"]
    assert run.state.best_step == ref.state.best_step
    for k, v in trainable_state(net).items():
        torch.testing.assert_close(v, trainable_state(straight)[k], rtol=0, atol=0)
    # A finished run resumed does no step and ends with the same (best) weights.
    again, done = run_toy(ckpt, kill_at(-1))
    assert done.resumed_step == 15 and done.state.step == 15
    for k, v in trainable_state(again).items():
        torch.testing.assert_close(v, trainable_state(straight)[k], rtol=0, atol=0)


def test_epoch_draws_are_the_same_for_any_epoch_asked_first() -> None:
    draws = EpochDraws(3, lambda g: g.random(4))
    seq = [draws.draw(e) for e in range(4)]
    late = EpochDraws(3, lambda g: g.random(4))
    np.testing.assert_array_equal(late.draw(2), seq[2])
    np.testing.assert_array_equal(late.draw(0), seq[0])


# ---------------------------------------------------------------------------- families
def test_siamese_cnn_resumes_to_identical_numbers(tmp_path: Path) -> None:
    from pairlm.models.siamese_cnn import SiameseCNNClassifier
    from tests.models.tiny_siamese_cnn import TINY

    train_, valid, test = make_toy_pairs(80, seed=1), make_toy_pairs(40, seed=2), make_toy_pairs(30)
    run = {**TINY, "checkpoint_steps": 3, "lr": 0.02}
    killed = SiameseCNNClassifier(**run, checkpoint_dir=str(tmp_path))
    killed.step_callback = kill_at(8)  # epoch 2 of 3 (5 batches an epoch)
    with pytest.raises(Killed):
        killed.fit(train_, valid)
    resumed = SiameseCNNClassifier(**run, checkpoint_dir=str(tmp_path)).fit(train_, valid)
    assert resumed.resumed_step_ == 6
    straight = SiameseCNNClassifier(**run).fit(train_, valid)
    np.testing.assert_array_equal(resumed.predict_proba(test), straight.predict_proba(test))
    assert resumed.history_ == straight.history_ and len(straight.history_) == 3
    assert resumed.best_epoch_ == straight.best_epoch_
    for k, v in resumed.network_.state_dict().items():
        torch.testing.assert_close(v, straight.network_.state_dict()[k], rtol=0, atol=0)


def test_biencoder_finetuning_resumes_to_identical_numbers(tmp_path: Path) -> None:
    from tests.models.tiny_biencoder import make_tiny

    train_, valid, test = make_toy_pairs(80, seed=1), make_toy_pairs(40, seed=2), make_toy_pairs(30)

    def model(**kw: Any) -> Any:
        base = make_tiny(tmp_path)
        return type(base)(
            base.config.replace(
                mode="finetune",
                loss="contrastive",
                finetune_epochs=2,
                finetune_batch_size=8,
                finetune_lr=1e-3,
                num_threads=1,
                **kw,
            )
        )

    ck = str(tmp_path / "ck")
    killed = model(checkpoint_dir=ck, checkpoint_steps=4)
    killed.step_callback = kill_at(14)  # epoch 2 of 2 (10 batches an epoch)
    with pytest.raises(Killed):
        killed.fit(train_, valid)
    resumed = model(checkpoint_dir=ck, checkpoint_steps=4).fit(train_, valid)
    assert resumed.resumed_step_ == 12
    straight = model().fit(train_, valid)
    np.testing.assert_array_equal(resumed.predict_proba(test), straight.predict_proba(test))
    a, b = resumed._encoder.state_dict(), straight._encoder.state_dict()
    for k in a:
        torch.testing.assert_close(a[k], b[k], rtol=0, atol=0)


def test_trainer_state_of_an_earlier_checkpoint_still_loads() -> None:
    """`trainer_state.json` of a LoRA checkpoint written before the shared loop (no epoch
    fields) loads, with the new fields at their defaults."""
    from pairlm.models.training import TrainerState

    old = (
        '{"step": 5, "epoch": 0, "batch_in_epoch": 5, "best_score": 0.69, "best_step": 3, '
        '"bad_evals": 0, "stopped_early": false, "done": false, '
        '"history": [{"step": 1.0, "loss": 0.7}], "train_seconds": 1.5}'
    )
    state = TrainerState.from_json(old)
    assert state.step == 5 and state.batch_in_epoch == 5 and state.best_step == 3
    assert state.epoch_log == [] and state.epoch_loss == 0.0 and state.best_epoch == -1
