"""A test-only family whose worker dies (os._exit) on its first fit, so a test can check that
the Ray backend retries the lost fold and still ends with the numbers of an uninterrupted run.

Every fit appends a line to `<crash_dir>/fits`; the first one also creates `<crash_dir>/crashed`
and kills its process before training."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from pairlm.data.pairs import PairDataset
from pairlm.models.base import ModelConfig
from pairlm.models.lexical import LexicalClassifier, LexicalConfig


@dataclass
class CrashConfig(LexicalConfig):
    crash_dir: str = ""


class CrashOnceLexical(LexicalClassifier):
    family: ClassVar[str] = "crash-once-lexical"
    config_cls: ClassVar[type[ModelConfig]] = CrashConfig

    def _fit(self, train: PairDataset, valid: PairDataset) -> None:
        d = Path(self.config.crash_dir)  # type: ignore[attr-defined]
        with open(d / "fits", "a", encoding="utf-8") as fh:
            fh.write(f"{os.getpid()}\n")
        marker = d / "crashed"
        try:
            fd = os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
        except FileExistsError:
            super()._fit(train, valid)
            return
        os.close(fd)
        os._exit(1)  # the worker dies mid-fold, as if killed
