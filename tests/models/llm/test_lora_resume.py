"""A LoRA training killed (SIGKILL) mid-run resumes from its last checkpoint and ends with the
same adapter as an uninterrupted run."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest
import torch

from pairlm.models.llm.train import trainable_state
from tests.conftest import make_toy_pairs, run_python_child
from tests.models.tiny_llm_lora import make_tiny

# Dropout on (the RNG state must be restored), validation every 2 steps (early-stopping state
# and the best adapter must survive the kill), 2 epochs of 8 batches, killed in the first.
RUN = {"epochs": 2, "lora_dropout": 0.1, "eval_steps": 3, "patience": 10, "batch_size": 8}
KILL_AT = 5

_CHILD = """
import os, signal, sys
from pathlib import Path
import pytest
import torch
torch.set_num_threads(int(sys.argv[3]))
from tests.conftest import make_toy_pairs
from tests.models.tiny_llm_lora import make_tiny
from tests.models.llm.test_lora_resume import RUN, KILL_AT

m = make_tiny(Path(sys.argv[1]), checkpoint_dir=sys.argv[2], checkpoint_steps=1, **RUN)

def kill(state):
    if state.step == KILL_AT:
        os.kill(os.getpid(), signal.SIGKILL)

m.step_callback = kill
m.fit(make_toy_pairs(60, seed=1), make_toy_pairs(30, seed=2))
"""


@pytest.mark.slow
def test_killed_training_resumes_to_the_same_adapter(tmp_path: Path) -> None:
    ckpt = tmp_path / "ckpt"
    child = run_python_child(_CHILD, str(tmp_path), str(ckpt), str(torch.get_num_threads()))
    assert child.returncode == -signal.SIGKILL, child.stderr[-2000:]
    assert list(ckpt.glob("*/latest.json")), "the killed run left no checkpoint"

    train, valid = make_toy_pairs(60, seed=1), make_toy_pairs(30, seed=2)
    resumed = make_tiny(tmp_path, checkpoint_dir=str(ckpt), checkpoint_steps=1, **RUN)
    resumed.fit(train, valid)
    assert resumed.resumed_step_ == KILL_AT
    straight = make_tiny(tmp_path, **RUN).fit(train, valid)
    assert straight.resumed_step_ == 0
    assert resumed.state_.step == straight.state_.step > KILL_AT
    assert resumed.state_.best_step == straight.state_.best_step
    a, b = trainable_state(resumed.model_), trainable_state(straight.model_)
    assert a.keys() == b.keys()
    for k in a:
        torch.testing.assert_close(a[k], b[k], rtol=0, atol=1e-6)
    assert [h["loss"] for h in resumed.state_.history] == [
        h["loss"] for h in straight.state_.history
    ]
    # A finished run found in the checkpoint folder is not trained again.
    again = make_tiny(tmp_path, checkpoint_dir=str(ckpt), checkpoint_steps=1, **RUN)
    again.fit(train, valid)
    assert again.resumed_step_ == straight.state_.step
    # ... and reports the training time of the processes that did the work.
    assert resumed.state_.train_seconds > 0
    # (the finished checkpoint holds the time up to its writing, a moment before the end)
    assert again.state_.train_seconds == pytest.approx(resumed.state_.train_seconds, abs=2.0)
    assert again.fit_seconds_ >= again.train_seconds_before_ > 0
    for k, v in trainable_state(again.model_).items():
        torch.testing.assert_close(v, b[k], rtol=0, atol=1e-6)
