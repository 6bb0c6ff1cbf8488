"""A cross-encoder training killed (SIGKILL) mid-run resumes from its last checkpoint
(`checkpoint_dir`, the shared loop of `models.training`) and ends with the numbers of an
uninterrupted run: the same weights, predictions, history, best epoch and threshold."""

from __future__ import annotations

import signal
from pathlib import Path

import numpy as np
import torch

from pairlm.models.crossencoder import CrossEncoderClassifier
from tests.conftest import make_toy_pairs, run_python_child
from tests.models.tiny_biencoder import make_tiny_bert

# Two epochs of 10 batches with dropout on (the RNG state must be restored) and validation at
# the first epoch's end (the early-stopping state and the best weights must survive the kill);
# killed in the second epoch, three steps after a checkpoint (every 4 steps and at each
# epoch's end: the resumed run must take up from step 12, not from the kill).
RUN = {
    "epochs": 2,
    "patience": 1,
    "batch_size": 8,
    "lr": 1e-3,
    "max_train_pairs": None,
    "max_length": 64,
    "num_threads": 1,
    "progress": False,
    "checkpoint_steps": 4,
}
KILL_AT = 15
CHECKPOINTED = 12

_CHILD = """
import os, signal, sys
from pathlib import Path
from pairlm.models.crossencoder import CrossEncoderClassifier
from tests.conftest import make_toy_pairs
from tests.models.test_crossencoder_resume import RUN, KILL_AT

m = CrossEncoderClassifier(encoder=sys.argv[1], checkpoint_dir=sys.argv[2], **RUN)

def kill(state):
    if state.step == KILL_AT:
        os.kill(os.getpid(), signal.SIGKILL)

m.step_callback = kill
m.fit(make_toy_pairs(80, seed=1), make_toy_pairs(40, seed=2))
"""


def data() -> tuple:
    return make_toy_pairs(80, seed=1), make_toy_pairs(40, seed=2), make_toy_pairs(30, seed=3)


def test_killed_crossencoder_training_resumes_to_identical_numbers(tmp_path: Path) -> None:
    bert = str(make_tiny_bert(tmp_path / "bert"))
    ckpt = tmp_path / "ckpt"
    child = run_python_child(_CHILD, bert, str(ckpt))
    assert child.returncode == -signal.SIGKILL, child.stderr[-2000:]
    left = list(ckpt.glob("*/training/latest.json"))
    assert left, "the killed run left no checkpoint"
    assert (left[0].parent / f"step-{CHECKPOINTED:08d}").is_dir()
    assert not list(ckpt.glob("*/crossencoder.json")), "the killed run looks finished"

    train, valid, test = data()
    steps: list[int] = []
    resumed = CrossEncoderClassifier(encoder=bert, checkpoint_dir=str(ckpt), **RUN)
    resumed.step_callback = lambda state: steps.append(state.step)
    resumed.fit(train, valid)
    assert resumed.resumed_step_ == CHECKPOINTED
    assert steps[0] == CHECKPOINTED + 1 and steps[-1] == 20
    straight = CrossEncoderClassifier(encoder=bert, **RUN).fit(train, valid)
    assert straight.resumed_step_ == 0

    a, b = resumed.model_.state_dict(), straight.model_.state_dict()
    assert a.keys() == b.keys()
    for k in a:
        torch.testing.assert_close(a[k], b[k], rtol=0, atol=0)
    np.testing.assert_array_equal(resumed.predict_proba(test), straight.predict_proba(test))
    assert resumed.history_ == straight.history_
    assert len(resumed.history_) == 2 and "valid_loss" in resumed.history_[0]
    assert resumed.best_epoch_ == straight.best_epoch_
    assert resumed.threshold_ == straight.threshold_
    assert resumed.train_seconds_before_ > 0
    # The finished training is kept in place of its mid-training checkpoints.
    assert list(ckpt.glob("*/crossencoder.json")) and not list(ckpt.glob("*/training"))
