"""Contract-suite factory for `llm-fewshot` (4 balanced demonstrations, tiny LLaMA)."""

from __future__ import annotations

import pathlib

from pairlm.models.llm.prompting import LLMFewShotClassifier
from tests.models.tiny_llm_zeroshot import make_tiny_llama


def make_tiny(tmp_path: pathlib.Path) -> LLMFewShotClassifier:
    """An unfitted 4-shot classifier (balanced demonstrations) on a tiny LLaMA folder."""
    folder = make_tiny_llama(pathlib.Path(tmp_path) / "tiny-llama")
    return LLMFewShotClassifier(
        backbone=str(folder),
        dtype="float32",
        device="cpu",
        batch_size=8,
        n_shots=4,
        demo_selection="balanced",
        progress=False,
    )
