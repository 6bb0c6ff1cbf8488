"""A test-only family whose fit sleeps, so a test can kill a CV run between folds."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from typing import ClassVar

from pairlm.data.pairs import PairDataset
from pairlm.models.base import ModelConfig
from pairlm.models.lexical import LexicalClassifier, LexicalConfig


@dataclass
class SlowConfig(LexicalConfig):
    sleep: float = 0.0


class SlowLexical(LexicalClassifier):
    family: ClassVar[str] = "slow-lexical"
    config_cls: ClassVar[type[ModelConfig]] = SlowConfig

    def _fit(self, train: PairDataset, valid: PairDataset) -> None:
        time.sleep(float(os.environ.get("PAIRLM_TEST_SLEEP", "0")))
        super()._fit(train, valid)


class ResumedLexical(LexicalClassifier):
    """Trains as lexical, then reports 1,000 s of training by earlier processes, as a fit
    that resumed a checkpoint near its end does (`train_seconds_before_`)."""

    family: ClassVar[str] = "resumed-lexical"

    def _fit(self, train: PairDataset, valid: PairDataset) -> None:
        super()._fit(train, valid)
        self.train_seconds_before_ = 1000.0
